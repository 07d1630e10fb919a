/* test_codec.c: codecs: hand-written LZF streams, round trips of every codec on odd
 * sizes, and corrupt/truncated/oversized streams rejected with AX_E_CORRUPT. */
#include "test.h"
#include "volume/volume_int.h"

static void test_lzf_hand(void)
{
    /* literal run "abc" (ctrl 2), then copy 6 bytes from 3 back (ctrl 4<<5, offset byte 2) */
    const uint8_t s1[] = {2, 'a', 'b', 'c', 0x80, 2};
    uint8_t out[64];
    CHECK(ax__lzf_decompress(s1, sizeof s1, out, sizeof out) == 9);
    CHECK(!memcmp(out, "abcabcabc", 9));
    /* run-length via overlap: "x" then copy 20 from 1 back: len field 7 + extra 11 -> 20 */
    const uint8_t s2[] = {0, 'x', 0xE0, 11, 0};
    CHECK(ax__lzf_decompress(s2, sizeof s2, out, sizeof out) == 21);
    int all_x = 1;
    for (int i = 0; i < 21; i++) all_x &= out[i] == 'x';
    CHECK(all_x);
    /* malformed: back reference before the start, literal past the end, short output */
    const uint8_t bad1[] = {0x80, 5};
    CHECK(ax__lzf_decompress(bad1, sizeof bad1, out, sizeof out) == -1);
    const uint8_t bad2[] = {9, 'a', 'b'};
    CHECK(ax__lzf_decompress(bad2, sizeof bad2, out, sizeof out) == -1);
    CHECK(ax__lzf_decompress(s1, sizeof s1, out, 8) == -1);
    const uint8_t bad3[] = {0, 'x', 0xE0};
    CHECK(ax__lzf_decompress(bad3, sizeof bad3, out, sizeof out) == -1);
    uint8_t dst[9];
    CHECK_OK(ax__decompress(AX_COMPRESSION_LZF, s1, sizeof s1, dst, 9, "lzf"));
    CHECK_ERR(ax__decompress(AX_COMPRESSION_LZF, s1, sizeof s1, dst, 8, "chunkname"),
              AX_E_CORRUPT, "chunkname");
}

static void test_roundtrip_all(void)
{
    const ax_compression cs[] = {AX_COMPRESSION_RAW, AX_COMPRESSION_GZIP, AX_COMPRESSION_ZLIB,
                                 AX_COMPRESSION_ZSTD, AX_COMPRESSION_BLOSC};
    unsigned long long seed = 1;
    for (size_t n = 0; n < 70000; n = n * 3 + 1) {
        uint8_t *src = malloc(n + 1), *back = malloc(n + 1);
        for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(test_rand(&seed) % 5); /* compressible */
        for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
            uint8_t *enc;
            size_t en;
            CHECK_OK(ax__compress(cs[c], -1, 2, src, n, &enc, &en));
            CHECK_OK(ax__decompress(cs[c], enc, en, back, n, "rt"));
            CHECK(n == 0 || !memcmp(src, back, n));
            if (n > 100) {
                /* truncated stream, and a stream decoded into the wrong size */
                CHECK(ax__decompress(cs[c], enc, en / 2, back, n, "trunc") == AX_E_CORRUPT);
                if (n > 1)
                    CHECK(ax__decompress(cs[c], enc, en, back, n - 1, "size") == AX_E_CORRUPT);
                /* garbage */
                uint8_t junk[64];
                for (int i = 0; i < 64; i++) junk[i] = (uint8_t)test_rand(&seed);
                CHECK(ax__decompress(cs[c], junk, sizeof junk, back, n, "junk") == AX_E_CORRUPT);
            }
            free(enc);
        }
        free(src);
        free(back);
    }
    uint8_t *enc;
    size_t en;
    CHECK(ax__compress(AX_COMPRESSION_LZF, -1, 1, "x", 1, &enc, &en) == AX_E_UNSUPPORTED);
}

int main(void)
{
    RUN(test_lzf_hand);
    RUN(test_roundtrip_all);
    return TEST_REPORT();
}
