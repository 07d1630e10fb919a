/* test_precomputed.c: Neuroglancer precomputed and compressed_segmentation.
 *
 * cseg: encodings worked out by hand from the format description (words written out
 * below), random round trips over shapes, block sizes and label counts (every bit width),
 * and malicious headers, offsets and indices rejected with AX_E_CORRUPT.
 * precomputed: a bad-input corpus (info JSON, missing keys, bad sizes, sharding, unknown
 * encodings and data types), chunks written by hand (raw with voxel_offset, gzip on disk,
 * <name>.gz files, multi-channel compressed_segmentation), truncated and malicious chunks,
 * and the files axon writes. */
#include <math.h>
#include <sys/stat.h>
#include <zlib.h>

#include "test.h"
#include "volume/volume_int.h"

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, n, f);
    fclose(f);
}

static void mkdirs(const char *path)
{
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void words_le(const uint32_t *w, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        out[4 * i] = (uint8_t)w[i];
        out[4 * i + 1] = (uint8_t)(w[i] >> 8);
        out[4 * i + 2] = (uint8_t)(w[i] >> 16);
        out[4 * i + 3] = (uint8_t)(w[i] >> 24);
    }
}

static bool same_words(const uint8_t *got, size_t got_len, const uint32_t *want, size_t n)
{
    uint8_t buf[256];
    if (got_len != n * 4 || n * 4 > sizeof buf) return false;
    words_le(want, n, buf);
    return !memcmp(got, buf, got_len);
}

/* ---- compressed_segmentation --------------------------------------------------------- */

static void test_cseg_hand(void)
{
    uint8_t *enc;
    size_t len;

    /* uint32, shape (z,y,x) = (1,2,3), blocks (x,y,z) = (2,2,1): grid 2 x 1 x 1.
     *   y=0: 5 7 7
     *   y=1: 5 5 9
     * block 0 (x 0-1): table [5,7], 1 bit; indices at bits x + 2y: (1,0)=7 -> bit 1 -> 0x2
     * block 1 (x 2, padded to 2-3): table [7,9], 1 bit; (0,1)=9 -> bit 2 -> 0x4
     * layout: headers 0-3 | values b0 @4 | table b0 @5-6 | values b1 @7 | table b1 @8-9 */
    const uint32_t l32[] = {5, 7, 7, 5, 5, 9};
    const int64_t sh1[3] = {1, 2, 3}, bs1[3] = {2, 2, 1};
    const uint32_t want1[] = {0x01000005, 4, 0x01000008, 7, 0x2, 5, 7, 0x4, 7, 9};
    CHECK_OK(ax__cseg_encode(l32, 4, sh1, bs1, &enc, &len));
    CHECK(same_words(enc, len, want1, 10));
    uint32_t back32[6] = {0};
    CHECK_OK(ax__cseg_decode(enc, len, 4, sh1, bs1, back32, "hand1"));
    CHECK(!memcmp(back32, l32, sizeof l32));
    free(enc);

    /* uint64, shape (1,1,4), blocks (2,1,1): both blocks hold {1, 2^40}: the second block
     * reuses the first table. uint64 table entries: low word, then high word. */
    const uint64_t l64[] = {1, (uint64_t)1 << 40, 1, (uint64_t)1 << 40};
    const int64_t sh2[3] = {1, 1, 4}, bs2[3] = {2, 1, 1};
    const uint32_t want2[] = {0x01000005, 4, 0x01000005, 9, 0x2, 1, 0, 0, 256, 0x2};
    CHECK_OK(ax__cseg_encode(l64, 8, sh2, bs2, &enc, &len));
    CHECK(same_words(enc, len, want2, 10));
    uint64_t back64[4] = {0};
    CHECK_OK(ax__cseg_decode(enc, len, 8, sh2, bs2, back64, "hand2"));
    CHECK(!memcmp(back64, l64, sizeof l64));
    free(enc);

    /* one distinct value: 0 bits, no value words; the table right after the header */
    const uint32_t l3[] = {3, 3};
    const int64_t sh3[3] = {1, 1, 2}, bs3[3] = {2, 1, 1};
    const uint32_t want3[] = {2, 2, 3};
    CHECK_OK(ax__cseg_encode(l3, 4, sh3, bs3, &enc, &len));
    CHECK(same_words(enc, len, want3, 3));
    free(enc);

    /* 3 distinct values: 2 bits; 1x1x5 in one 8x1x1 block: 4 0 4 8 0 -> table [0,4,8],
     * indices 1 0 1 2 0 at bits 0,2,4,6,8 -> 0b00_10_01_00_01 = 0x91 */
    const uint32_t l4[] = {4, 0, 4, 8, 0};
    const int64_t sh4[3] = {1, 1, 5}, bs4[3] = {8, 1, 1};
    const uint32_t want4[] = {0x02000003, 2, 0x91, 0, 4, 8};
    CHECK_OK(ax__cseg_encode(l4, 4, sh4, bs4, &enc, &len));
    CHECK(same_words(enc, len, want4, 6));
    free(enc);

    /* decoding hand-made words that the encoder would lay out differently: the table before
     * the values, and a block pointing at another block's table */
    const uint32_t alt[] = {0x01000004, 6, 0x01000004, 7, 7, 9, 0x2, 0x1};
    uint8_t altb[32];
    words_le(alt, 8, altb);
    uint32_t out[4];
    const int64_t sh5[3] = {1, 1, 4};
    CHECK_OK(ax__cseg_decode(altb, sizeof altb, 4, sh5, bs2, out, "alt"));
    CHECK(out[0] == 7 && out[1] == 9 && out[2] == 9 && out[3] == 7);
}

static void test_cseg_malicious(void)
{
    const int64_t sh[3] = {1, 2, 3}, bs[3] = {2, 2, 1};
    uint32_t out[6];
    uint8_t b[64];
    const uint32_t good[] = {0x01000005, 4, 0x01000008, 7, 0x2, 5, 7, 0x4, 7, 9};
    words_le(good, 10, b);
    CHECK_OK(ax__cseg_decode(b, 40, 4, sh, bs, out, "good"));
    /* truncations anywhere */
    for (size_t n = 0; n < 40; n++) {
        int rc = ax__cseg_decode(b, n, 4, sh, bs, out, "trunc.cseg");
        CHECK(rc == AX_E_CORRUPT && strstr(ax_errmsg(), "trunc.cseg"));
    }
    const struct {
        int word;
        uint32_t value;
        const char *needle;
    } bad[] = {
        {0, 0x03000005, "3 bits"},            /* bit width not allowed */
        {0, 0xFF000005, "255 bits"},          /* ditto */
        {0, 0x01FFFFFF, "lookup table"},      /* table offset past the end */
        {0, 0x0100000A, "lookup table"},      /* table offset == length */
        {1, 0xFFFFFFFF, "run past the end"},  /* values offset huge (overflow) */
        {1, 10, "run past the end"},          /* values offset at the end */
        {0, 0x20000009, "past its lookup"},   /* 32 bits: index 2 into a 1-entry table */
        {2, 0x01000009, "past its lookup"},   /* block 1 table [9]: index 1 is past it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t w[10];
        memcpy(w, good, sizeof w);
        w[bad[i].word] = bad[i].value;
        words_le(w, 10, b);
        CHECK_ERR(ax__cseg_decode(b, 40, 4, sh, bs, out, "evil.cseg"), AX_E_CORRUPT,
                  bad[i].needle);
        CHECK(strstr(ax_errmsg(), "evil.cseg") != NULL);
    }
    /* uint64 table with an odd number of words left */
    const int64_t sh2[3] = {1, 1, 2}, bs2[3] = {2, 1, 1};
    const uint32_t w64[] = {2, 2, 3};
    words_le(w64, 3, b);
    uint64_t o64[2];
    CHECK_ERR(ax__cseg_decode(b, 12, 8, sh2, bs2, o64, "odd64"), AX_E_CORRUPT, "lookup table");
    CHECK_OK(ax__cseg_decode(b, 12, 4, sh2, bs2, out, "ok32"));
    /* bad arguments */
    const int64_t zero[3] = {0, 1, 1};
    CHECK_ERR(ax__cseg_decode(b, 12, 4, zero, bs2, out, "args"), AX_E_INVALID, "args");
    CHECK_ERR(ax__cseg_decode(b, 12, 2, sh2, bs2, out, "args"), AX_E_DTYPE, "uint32");
}

static void test_cseg_random(void)
{
    unsigned long long seed = 7;
    for (int iter = 0; iter < 160; iter++) {
        int elem = iter % 2 ? 8 : 4;
        int64_t sh[3], bs[3];
        for (int k = 0; k < 3; k++) {
            sh[k] = 1 + (int64_t)(test_rand(&seed) % 19);
            bs[k] = 1 + (int64_t)(test_rand(&seed) % 9);
        }
        /* number of distinct labels: 1 .. lots, so every bit width shows up */
        unsigned long long ndist = 1ull << (test_rand(&seed) % 20);
        bool all_wild = false;
        if (iter % 40 == 39) { /* one block with > 65536 distinct labels: 32 bits */
            sh[0] = 20, sh[1] = 64, sh[2] = 64;
            bs[0] = 64, bs[1] = 64, bs[2] = 20;
            ndist = 1ull << 40;
            all_wild = true;
        } else if (iter % 40 == 19) { /* blocks with 257 .. 65536 labels: 16 bits */
            sh[0] = 8, sh[1] = 32, sh[2] = 33;
            bs[0] = 32, bs[1] = 32, bs[2] = 8;
            ndist = 1ull << 12;
            all_wild = true;
        }
        size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
        void *lab = malloc(n * (size_t)elem), *back = malloc(n * (size_t)elem);
        for (size_t i = 0; i < n; i++) {
            unsigned long long r = test_rand(&seed);
            bool wild = i % 7 == 0 || all_wild;
            unsigned long long v = wild ? r % ndist : (r >> 8) % (ndist < 3 ? ndist : 3);
            if (elem == 8) ((uint64_t *)lab)[i] = v * 0x100000001ull;
            else ((uint32_t *)lab)[i] = (uint32_t)v;
        }
        uint8_t *enc;
        size_t len;
        int rc = ax__cseg_encode(lab, elem, sh, bs, &enc, &len);
        CHECK_OK(rc);
        if (rc == AX_OK) {
            memset(back, 0xAB, n * (size_t)elem);
            CHECK_OK(ax__cseg_decode(enc, len, elem, sh, bs, back, "random"));
            bool same = !memcmp(back, lab, n * (size_t)elem);
            CHECK(same);
            if (!same)
                fprintf(stderr, "    iter %d: shape %lld,%lld,%lld bs %lld,%lld,%lld elem %d\n",
                        iter, (long long)sh[0], (long long)sh[1], (long long)sh[2],
                        (long long)bs[0], (long long)bs[1], (long long)bs[2], elem);
            /* random corruption never crashes: decode returns OK or CORRUPT */
            for (int t = 0; t < 20 && len; t++) {
                size_t at = (size_t)(test_rand(&seed) % len);
                uint8_t old = enc[at];
                enc[at] ^= (uint8_t)(1u << (test_rand(&seed) % 8));
                rc = ax__cseg_decode(enc, len, elem, sh, bs, back, "flip");
                CHECK(rc == AX_OK || rc == AX_E_CORRUPT);
                enc[at] = old;
            }
            free(enc);
        }
        free(lab);
        free(back);
    }
}

/* ---- precomputed ----------------------------------------------------------------------- */

static void make_vol(const char *name, const char *info, char *path, size_t n)
{
    test_path(path, n, name);
    mkdirs(path);
    char meta[1400];
    snprintf(meta, sizeof meta, "%s/info", path);
    write_file(meta, info, strlen(info));
}

#define INFO(dt, nch, scale)                                                                   \
    "{\"@type\": \"neuroglancer_multiscale_volume\", \"type\": \"image\", \"data_type\": \"" dt \
    "\", \"num_channels\": " nch ", \"scales\": [" scale "]}"
#define SCALE(size, chunks, enc)                                                               \
    "{\"key\": \"4_4_40\", \"size\": " size ", \"resolution\": [4, 4, 40], \"voxel_offset\": " \
    "[0, 0, 0], \"chunk_sizes\": [" chunks "], \"encoding\": \"" enc "\"}"

static void expect_open_error(const char *name, const char *info, int code, const char *needle)
{
    char path[1300];
    make_vol(name, info, path, sizeof path);
    ax_volume *v = NULL;
    char pre[1400];
    snprintf(pre, sizeof pre, "precomputed://%s", path);
    CHECK_ERR(ax_volume_open(pre, AX_OPEN_READ, &v), code, needle);
    CHECK(strstr(ax_errmsg(), name) != NULL);
    CHECK(v == NULL);
}

static void test_pc_malformed(void)
{
    expect_open_error("p_badjson", "{\"type\": ", AX_E_FORMAT, "bad JSON");
    expect_open_error("p_array", "[]", AX_E_FORMAT, "not an object");
    expect_open_error("p_mesh", "{\"@type\": \"neuroglancer_legacy_mesh\"}", AX_E_UNSUPPORTED,
                      "neuroglancer_legacy_mesh");
    expect_open_error("p_notype",
                      "{\"data_type\": \"uint8\", \"num_channels\": 1, \"scales\": []}",
                      AX_E_FORMAT, "\"type\" is missing");
    expect_open_error("p_badtype",
                      "{\"type\": \"mesh\", \"data_type\": \"uint8\", \"num_channels\": 1}",
                      AX_E_FORMAT, "image or segmentation");
    expect_open_error("p_nodt", "{\"type\": \"image\", \"num_channels\": 1}", AX_E_FORMAT,
                      "\"data_type\" is missing");
    expect_open_error("p_int8", INFO("int8", "1", SCALE("[4, 4, 4]", "[2, 2, 2]", "raw")),
                      AX_E_DTYPE, "int8");
    expect_open_error("p_nonch", "{\"type\": \"image\", \"data_type\": \"uint8\"}", AX_E_FORMAT,
                      "num_channels");
    expect_open_error("p_zeroch", INFO("uint8", "0", SCALE("[4, 4, 4]", "[2, 2, 2]", "raw")),
                      AX_E_RANGE, "num_channels");
    expect_open_error("p_noscales",
                      "{\"type\": \"image\", \"data_type\": \"uint8\", \"num_channels\": 1}",
                      AX_E_FORMAT, "\"scales\"");
    expect_open_error("p_emptyscales", INFO("uint8", "1", ""), AX_E_FORMAT, "\"scales\"");
    expect_open_error("p_nokey",
                      INFO("uint8", "1",
                           "{\"size\": [4, 4, 4], \"resolution\": [1, 1, 1], \"chunk_sizes\": "
                           "[[2, 2, 2]], \"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "\"key\"");
    expect_open_error("p_abskey",
                      INFO("uint8", "1",
                           "{\"key\": \"/etc\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"chunk_sizes\": [[2, 2, 2]], \"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "absolute");
    expect_open_error("p_nosize",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"resolution\": [1, 1, 1], \"chunk_sizes\": [[2, 2, "
                           "2]], \"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "\"size\" is missing");
    expect_open_error("p_nores",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"chunk_sizes\": [[2, 2, 2]], "
                           "\"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "\"resolution\" is missing");
    expect_open_error("p_size2", INFO("uint8", "1", SCALE("[4, 4]", "[2, 2, 2]", "raw")),
                      AX_E_FORMAT, "3 entries");
    expect_open_error("p_zero", INFO("uint8", "1", SCALE("[4, 0, 4]", "[2, 2, 2]", "raw")),
                      AX_E_RANGE, "size 0");
    expect_open_error("p_neg", INFO("uint8", "1", SCALE("[4, 4, -2]", "[2, 2, 2]", "raw")),
                      AX_E_RANGE, "size -2");
    expect_open_error("p_huge",
                      INFO("uint64", "1",
                           SCALE("[4611686018427387904, 4611686018427387904, 4]", "[2, 2, 2]",
                                 "raw")),
                      AX_E_RANGE, "overflows");
    expect_open_error("p_hugech",
                      INFO("uint64", "4611686018427387904", SCALE("[4, 4, 4]", "[2, 2, 2]", "raw")),
                      AX_E_RANGE, "overflows");
    expect_open_error("p_voff",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"voxel_offset\": [0, 9223372036854775807, 0], \"chunk_sizes\": "
                           "[[2, 2, 2]], \"encoding\": \"raw\"}"),
                      AX_E_RANGE, "voxel_offset");
    expect_open_error("p_chunk0", INFO("uint8", "1", SCALE("[4, 4, 4]", "[2, 0, 2]", "raw")),
                      AX_E_RANGE, "chunk_sizes");
    expect_open_error("p_chunkflat",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"chunk_sizes\": [2, 2, 2], \"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "chunk_sizes");
    expect_open_error("p_res0",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [0, 1, 1], "
                           "\"chunk_sizes\": [[2, 2, 2]], \"encoding\": \"raw\"}"),
                      AX_E_FORMAT, "voxel size");
    expect_open_error("p_jpeg", INFO("uint8", "1", SCALE("[4, 4, 4]", "[2, 2, 2]", "jpeg")),
                      AX_E_UNSUPPORTED, "jpeg");
    expect_open_error("p_png", INFO("uint8", "1", SCALE("[4, 4, 4]", "[2, 2, 2]", "png")),
                      AX_E_UNSUPPORTED, "png");
    expect_open_error("p_noenc",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"chunk_sizes\": [[2, 2, 2]]}"),
                      AX_E_FORMAT, "encoding");
    expect_open_error("p_cseg8",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"chunk_sizes\": [[2, 2, 2]], \"encoding\": "
                           "\"compressed_segmentation\", \"compressed_segmentation_block_size\": "
                           "[8, 8, 8]}"),
                      AX_E_FORMAT, "uint32 or uint64");
    expect_open_error("p_csegnobs",
                      INFO("uint32", "1",
                           SCALE("[4, 4, 4]", "[2, 2, 2]", "compressed_segmentation")),
                      AX_E_FORMAT, "compressed_segmentation_block_size");
    expect_open_error("p_sharded",
                      INFO("uint8", "1",
                           "{\"key\": \"k\", \"size\": [4, 4, 4], \"resolution\": [1, 1, 1], "
                           "\"chunk_sizes\": [[2, 2, 2]], \"encoding\": \"raw\", \"sharding\": "
                           "{\"@type\": \"neuroglancer_uint64_sharded_v1\"}}"),
                      AX_E_UNSUPPORTED, "sharded");
    char path[1300];
    test_path(path, sizeof path, "p_noinfo");
    mkdirs(path);
    char pre[1400];
    snprintf(pre, sizeof pre, "precomputed:%s", path);
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(pre, AX_OPEN_READ, &v), AX_E_NOTFOUND, "p_noinfo/info");
}

static void put_chunk(const char *vol, const char *name, const void *data, size_t n)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", vol, name);
    char *slash = strrchr(p, '/');
    *slash = 0;
    mkdirs(p);
    *slash = '/';
    write_file(p, data, n);
}

static size_t gzip_buf(uint8_t *out, size_t cap, const void *in, size_t n)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    deflate(&s, Z_FINISH);
    size_t r = s.total_out;
    deflateEnd(&s);
    return r;
}

/* value at world voxel (x,y,z) */
static uint16_t val16(int x, int y, int z) { return (uint16_t)(1000 * z + 30 * y + x); }

/* raw uint16 chunk of box [x0,x1) x [y0,y1) x [z0,z1), x fastest, little-endian */
static size_t raw_chunk(uint8_t *out, int x0, int x1, int y0, int y1, int z0, int z1)
{
    size_t n = 0;
    for (int z = z0; z < z1; z++)
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                uint16_t v = val16(x, y, z);
                out[n++] = (uint8_t)v;
                out[n++] = (uint8_t)(v >> 8);
            }
    return n;
}

static void test_pc_hand_raw(void)
{
    /* size (x,y,z) = (5,4,3), chunks (3,3,2), voxel_offset (10,-2,7): chunk names carry the
     * offset; chunk (0,0,0) plain, (1,0,0) gzip in place, (0,1,0) as <name>.gz, the rest
     * missing (read as 0). */
    char vol[1300];
    make_vol("hand_raw",
             "{\"@type\": \"neuroglancer_multiscale_volume\", \"type\": \"image\", "
             "\"data_type\": \"uint16\", \"num_channels\": 1, \"scales\": [{\"key\": "
             "\"8_6_30\", \"size\": [5, 4, 3], \"resolution\": [8, 6, 30], \"voxel_offset\": [10, "
             "-2, 7], \"chunk_sizes\": [[3, 3, 2], [5, 5, 5]], \"encoding\": \"raw\"}, {\"key\": "
             "\"16_12_30\", \"size\": [3, 2, 3], \"resolution\": [16, 12, 30], \"chunk_sizes\": "
             "[[3, 3, 2]], \"encoding\": \"raw\"}]}",
             vol, sizeof vol);
    uint8_t c[512], gz[1024];
    size_t n = raw_chunk(c, 0, 3, 0, 3, 0, 2);
    put_chunk(vol, "8_6_30/10-13_-2-1_7-9", c, n);
    n = raw_chunk(c, 3, 5, 0, 3, 0, 2);
    put_chunk(vol, "8_6_30/13-15_-2-1_7-9", gz, gzip_buf(gz, sizeof gz, c, n));
    n = raw_chunk(c, 0, 3, 3, 4, 0, 2);
    put_chunk(vol, "8_6_30/10-13_1-2_7-9.gz", gz, gzip_buf(gz, sizeof gz, c, n));
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
    if (!v) return;
    const ax_volume_info *in = ax_volume_get_info(v);
    CHECK(in->format == AX_FORMAT_PRECOMPUTED && in->ndim == 3 && !in->is_labels);
    CHECK(in->shape[0] == 3 && in->shape[1] == 4 && in->shape[2] == 5);
    CHECK(in->chunks[0] == 2 && in->chunks[1] == 3 && in->chunks[2] == 3);
    CHECK(in->has_voxel_size && in->voxel_size[0] == 30 && in->voxel_size[1] == 6 &&
          in->voxel_size[2] == 8);
    CHECK(in->offset[0] == 210 && in->offset[1] == -12 && in->offset[2] == 80);
    CHECK(in->compression == AX_COMPRESSION_RAW);
    uint16_t out[60];
    int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
    CHECK_OK(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, out));
    int bad = 0;
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++) {
                bool present = z < 2 && (y < 3 || x < 3);
                uint16_t want = present ? val16(x, y, z) : 0;
                bad += out[(z * 4 + y) * 5 + x] != want;
            }
    CHECK(bad == 0);
    ax_volume_close(v);

    /* truncated and oversized chunks, corrupt gzip: AX_E_CORRUPT naming the file */
    const struct {
        const char *name;
        int len_delta;
        bool gzip_garbage;
        const char *needle;
    } bad_cases[] = {{"pc_short", -1, false, "raw chunk is 3 bytes"},
                     {"pc_long", 2, false, "raw chunk is 6 bytes"},
                     {"pc_gzbad", 0, true, "gzip"}};
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char info[1024];
        snprintf(info, sizeof info, "%s",
                 INFO("uint16", "1", SCALE("[5, 4, 3]", "[3, 3, 2]", "raw")));
        make_vol(bad_cases[i].name, info, vol, sizeof vol);
        n = raw_chunk(c, 3, 5, 3, 4, 2, 3); /* the corner chunk: 2 x 1 x 1 */
        if (bad_cases[i].gzip_garbage) {
            size_t g = gzip_buf(gz, sizeof gz, c, n);
            gz[g / 2] ^= 0x55;
            put_chunk(vol, "4_4_40/3-5_3-4_2-3", gz, g - 3);
        } else {
            put_chunk(vol, "4_4_40/3-5_3-4_2-3", c, (size_t)((int)n + bad_cases[i].len_delta));
        }
        CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
        if (!v) continue;
        CHECK_ERR(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, out), AX_E_CORRUPT,
                  bad_cases[i].needle);
        CHECK(strstr(ax_errmsg(), "4_4_40/3-5_3-4_2-3") != NULL);
        ax_volume_close(v);
    }
}

/* multi-channel compressed_segmentation chunks written by hand: 2 channels, size (x,y,z)
 * (3,1,1) in one chunk, block size (2,1,1). */
static void test_pc_hand_cseg(void)
{
    char vol[1300];
    make_vol("hand_cseg",
             "{\"type\": \"segmentation\", \"data_type\": \"uint32\", \"num_channels\": 2, "
             "\"scales\": [{\"key\": \"s0\", \"size\": [3, 1, 1], \"resolution\": [1, 1, 1], "
             "\"chunk_sizes\": [[4, 4, 4]], \"encoding\": \"compressed_segmentation\", "
             "\"compressed_segmentation_block_size\": [2, 1, 1]}]}",
             vol, sizeof vol);
    /* channel 0: 5 6 6 -> block 0 table [5,6] idx 0,1 (0x2); block 1 table [6] 0 bits
     * channel 1: 9 9 9 -> block 0 table [9] 0 bits; block 1 reuses it
     * file: [2, 10] | ch0 @2: hdr 0x01000005,4, 0x00000007,7 | 0x2 | 5,6 | 6
     *              | ch1 @10: hdr 4,4, 4,4 | 9 */
    const uint32_t w[] = {2,          10, 0x01000005, 4, 0x00000007, 7, 0x2, 5, 6, 6,
                          0x00000004, 4,  4,          4, 9};
    const size_t nw = sizeof w / sizeof w[0];
    uint8_t b[128];
    words_le(w, nw, b);
    put_chunk(vol, "s0/0-3_0-1_0-1", b, nw * 4);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
    if (!v) return;
    const ax_volume_info *in = ax_volume_get_info(v);
    CHECK(in->ndim == 4 && in->shape[0] == 2 && in->chunks[0] == 2 && in->is_labels);
    CHECK(in->compression == AX_COMPRESSION_COMPRESSED_SEGMENTATION);
    uint32_t out[6];
    int64_t s0[4] = {0, 0, 0, 0}, sz[4] = {2, 1, 1, 3};
    CHECK_OK(ax_volume_read_region(v, s0, sz, AX_DTYPE_U32, out));
    const uint32_t want[6] = {5, 6, 6, 9, 9, 9};
    CHECK(!memcmp(out, want, sizeof want));
    ax_volume_close(v);

    /* malicious: channel offset past the end, a short header, a bad block offset */
    const struct {
        int word;
        uint32_t value;
        size_t len;
        const char *needle;
    } evil[] = {{1, 1000, 0, "channel 1 starts"},
                {0, 0, 4, "shorter than its 2 channel offsets"},
                {3, 2000, 0, "values at word 2000"},
                {2, 0x010000FF, 0, "lookup table offset"}};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        uint32_t e[15];
        memcpy(e, w, sizeof e);
        e[evil[i].word] = evil[i].value;
        words_le(e, nw, b);
        put_chunk(vol, "s0/0-3_0-1_0-1", b, evil[i].len ? evil[i].len : nw * 4);
        CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
        if (!v) continue;
        CHECK_ERR(ax_volume_read_region(v, s0, sz, AX_DTYPE_U32, out), AX_E_CORRUPT,
                  evil[i].needle);
        CHECK(strstr(ax_errmsg(), "s0/0-3_0-1_0-1") != NULL);
        ax_volume_close(v);
    }
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[65536];
    *n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*n] = 0;
    return buf;
}

static void test_pc_create(void)
{
    char vol[1300], p[1400];
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U16;
    cp.ndim = 3;
    cp.shape[0] = 3, cp.shape[1] = 4, cp.shape[2] = 5;
    cp.chunks[0] = 2, cp.chunks[1] = 3, cp.chunks[2] = 3;
    cp.has_voxel_size = true;
    cp.voxel_size[0] = 30, cp.voxel_size[1] = 6, cp.voxel_size[2] = 8;
    cp.offset[0] = 210, cp.offset[1] = -12, cp.offset[2] = 81; /* 81/8 rounds to 10 */
    test_path(vol, sizeof vol, "created.precomputed");
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(vol, &cp, &v));
    if (!v) return;
    CHECK(ax_volume_get_info(v)->offset[2] == 80);
    uint16_t data[60];
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++) data[(z * 4 + y) * 5 + x] = val16(x, y, z);
    int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
    CHECK_OK(ax_volume_write_region(v, s0, sz, AX_DTYPE_U16, data));
    CHECK_OK(ax_volume_close(v));
    size_t n;
    snprintf(p, sizeof p, "%s/info", vol);
    const char *info = slurp(p, &n);
    CHECK(info && strstr(info, "\"key\": \"8_6_30\"") && strstr(info, "\"type\": \"image\""));
    CHECK(info && strstr(info, "\"encoding\": \"raw\""));
    /* the corner chunk, truncated, named with voxel_offset (10,-2,7) */
    snprintf(p, sizeof p, "%s/8_6_30/13-15_1-2_9-10", vol);
    const char *c = slurp(p, &n);
    CHECK(c && n == 4);
    if (c && n == 4) {
        uint8_t want[4];
        raw_chunk(want, 3, 5, 3, 4, 2, 3);
        CHECK(!memcmp(c, want, 4));
    }
    snprintf(p, sizeof p, "%s/8_6_30/10-13_-2-1_7-9", vol);
    c = slurp(p, &n);
    CHECK(c && n == 3 * 3 * 2 * 2);
    CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
    if (v) {
        uint16_t back[60];
        CHECK_OK(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, back));
        CHECK(!memcmp(back, data, sizeof data));
        CHECK(ax_volume_get_info(v)->offset[2] == 80);
        ax_volume_close(v);
    }

    /* compressed_segmentation: uint64 labels, type segmentation, block size in the info */
    cp.dtype = AX_DTYPE_U64;
    cp.compression = AX_COMPRESSION_COMPRESSED_SEGMENTATION;
    cp.offset[2] = 80;
    test_path(vol, sizeof vol, "created_cseg.precomputed");
    CHECK_OK(ax_volume_create(vol, &cp, &v));
    if (v) {
        CHECK(ax_volume_get_info(v)->is_labels);
        uint64_t lab[60];
        for (int i = 0; i < 60; i++) lab[i] = (uint64_t)(i / 7) << 33;
        CHECK_OK(ax_volume_write_region(v, s0, sz, AX_DTYPE_U64, lab));
        CHECK_OK(ax_volume_close(v));
        snprintf(p, sizeof p, "%s/info", vol);
        info = slurp(p, &n);
        CHECK(info && strstr(info, "\"type\": \"segmentation\""));
        CHECK(info && strstr(info, "\"encoding\": \"compressed_segmentation\""));
        CHECK(info && strstr(info, "\"compressed_segmentation_block_size\""));
        /* the corner chunk decodes with cseg directly: header [1], then the channel */
        snprintf(p, sizeof p, "%s/8_6_30/13-15_1-2_9-10", vol);
        c = slurp(p, &n);
        CHECK(c && n > 4 && c[0] == 1 && c[1] == 0 && c[2] == 0 && c[3] == 0);
        if (c && n > 4) {
            uint64_t got[2];
            const int64_t shp[3] = {1, 1, 2}, bs[3] = {8, 8, 8};
            CHECK_OK(ax__cseg_decode((const uint8_t *)c + 4, n - 4, 8, shp, bs, got, p));
            CHECK(got[0] == lab[(2 * 4 + 3) * 5 + 3] && got[1] == lab[(2 * 4 + 3) * 5 + 4]);
        }
        CHECK_OK(ax_volume_open(vol, AX_OPEN_READ, &v));
        if (v) {
            uint64_t back[60];
            CHECK_OK(ax_volume_read_region(v, s0, sz, AX_DTYPE_U64, back));
            CHECK(!memcmp(back, lab, sizeof lab));
            ax_volume_close(v);
        }
    }

    /* refused: cseg of uint16, gzip, a fill value, 2-d */
    test_path(vol, sizeof vol, "refused.precomputed");
    cp.dtype = AX_DTYPE_U16;
    CHECK_ERR(ax_volume_create(vol, &cp, &v), AX_E_UNSUPPORTED, "uint32 or uint64");
    cp.compression = AX_COMPRESSION_GZIP;
    CHECK_ERR(ax_volume_create(vol, &cp, &v), AX_E_UNSUPPORTED, "raw or compressed_segmentation");
    cp.compression = AX_COMPRESSION_DEFAULT;
    cp.fill_value = 1;
    CHECK_ERR(ax_volume_create(vol, &cp, &v), AX_E_UNSUPPORTED, "fill value");
    cp.fill_value = 0;
    cp.ndim = 2;
    CHECK_ERR(ax_volume_create(vol, &cp, &v), AX_E_UNSUPPORTED, "2-d");
    struct stat st;
    CHECK(stat(vol, &st) != 0);
}

int main(void)
{
    RUN(test_cseg_hand);
    RUN(test_cseg_malicious);
    RUN(test_cseg_random);
    RUN(test_pc_malformed);
    RUN(test_pc_hand_raw);
    RUN(test_pc_hand_cseg);
    RUN(test_pc_create);
    return TEST_REPORT();
}
