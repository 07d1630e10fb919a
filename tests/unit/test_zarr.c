/* test_zarr.c: Zarr specifics and the generic volume layer: malformed metadata corpus,
 * corrupt chunks, big-endian and F-order arrays written by hand from the spec, chunks
 * touched per region, the cache bound, atomic create/abort/overwrite. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

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

static void make_array(const char *name, const char *zarray, char *path, size_t n)
{
    test_path(path, n, name);
    mkdir(path, 0755);
    char meta[1400];
    snprintf(meta, sizeof meta, "%s/.zarray", path);
    write_file(meta, zarray, strlen(zarray));
}

#define ZA(shape, chunks, dtype, comp, extra)                                                \
    "{\"zarr_format\": 2, \"shape\": " shape ", \"chunks\": " chunks ", \"dtype\": \"" dtype  \
    "\", \"compressor\": " comp ", \"fill_value\": 0, \"order\": \"C\", \"filters\": null" extra "}"

static void expect_open_error(const char *name, const char *zarray, int code, const char *needle)
{
    char path[1300];
    make_array(name, zarray, path, sizeof path);
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), code, needle);
    CHECK(strstr(ax_errmsg(), name) != NULL); /* the message names the file */
    CHECK(v == NULL);
    ax_volume_close(v);
}

static void test_malformed_metadata(void)
{
    expect_open_error("badjson.zarr", "{\"zarr_format\": 2, \"shape\": [1,", AX_E_FORMAT,
                      "bad JSON");
    expect_open_error("notobj.zarr", "[1, 2, 3]", AX_E_FORMAT, "not an object");
    expect_open_error("noshape.zarr",
                      "{\"zarr_format\": 2, \"chunks\": [1], \"dtype\": \"|u1\", "
                      "\"compressor\": null, \"fill_value\": 0, \"order\": \"C\"}",
                      AX_E_FORMAT, "\"shape\" is missing");
    expect_open_error("v3.zarr", "{\"zarr_format\": 3}", AX_E_UNSUPPORTED, "zarr_format");
    expect_open_error("zero.zarr", ZA("[0, 4, 4]", "[1, 4, 4]", "|u1", "null", ""), AX_E_RANGE,
                      "size 0");
    expect_open_error("neg.zarr", ZA("[-5, 4, 4]", "[1, 4, 4]", "|u1", "null", ""), AX_E_RANGE,
                      "size -5");
    expect_open_error("huge.zarr",
                      ZA("[4611686018427387904, 4611686018427387904, 4]", "[1, 4, 4]", "<u8",
                         "null", ""),
                      AX_E_RANGE, "overflows");
    expect_open_error("bigchunk.zarr", ZA("[4096, 4096, 4096]", "[4096, 4096, 4096]", "<u2",
                                          "null", ""),
                      AX_E_RANGE, "1 GiB");
    expect_open_error("zerochunk.zarr", ZA("[4, 4, 4]", "[0, 4, 4]", "|u1", "null", ""),
                      AX_E_RANGE, "chunk size 0");
    expect_open_error("mismatch.zarr", ZA("[4, 4, 4]", "[4, 4]", "|u1", "null", ""),
                      AX_E_FORMAT, "\"chunks\"");
    expect_open_error("dtype.zarr", ZA("[4, 4, 4]", "[4, 4, 4]", "<c16", "null", ""),
                      AX_E_DTYPE, "<c16");
    expect_open_error("dtype2.zarr", ZA("[4, 4, 4]", "[4, 4, 4]", "u1", "null", ""), AX_E_DTYPE,
                      "u1");
    expect_open_error("comp.zarr",
                      ZA("[4, 4, 4]", "[4, 4, 4]", "|u1", "{\"id\": \"lzma\"}", ""),
                      AX_E_UNSUPPORTED, "lzma");
    expect_open_error("filters.zarr",
                      "{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [4], \"dtype\": \"|u1\", "
                      "\"compressor\": null, \"fill_value\": 0, \"order\": \"C\", "
                      "\"filters\": [{\"id\": \"delta\"}]}",
                      AX_E_UNSUPPORTED, "delta");
    expect_open_error("order.zarr",
                      "{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [4], \"dtype\": \"|u1\", "
                      "\"compressor\": null, \"fill_value\": 0, \"order\": \"X\"}",
                      AX_E_FORMAT, "order");
    expect_open_error("sep.zarr", ZA("[4]", "[4]", "|u1", "null", ", \"dimension_separator\": \"-\""),
                      AX_E_FORMAT, "dimension_separator");
    expect_open_error("dims.zarr", ZA("[2,2,2,2,2,2]", "[1,1,1,1,1,1]", "|u1", "null", ""),
                      AX_E_FORMAT, "at most");
    /* not an array at all */
    char path[1300];
    test_path(path, sizeof path, "empty.zarr");
    mkdir(path, 0755);
    ax_volume *v;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_NOTFOUND, ".zarray");
}

static void test_corrupt_chunks(void)
{
    char path[1300], chunk[1400];
    make_array("corrupt.zarr",
               ZA("[4, 4, 4]", "[2, 4, 4]", "<u2", "{\"id\": \"zstd\", \"level\": 1}", ""), path,
               sizeof path);
    /* chunk 0.0.0: garbage; chunk 1.0.0: raw bytes of the wrong length */
    snprintf(chunk, sizeof chunk, "%s/0.0.0", path);
    write_file(chunk, "garbage!garbage!", 16);
    ax_volume *v;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    uint16_t buf[64];
    int64_t s[3] = {0, 0, 0}, z[3] = {4, 4, 4};
    CHECK_ERR(ax_volume_read_region(v, s, z, AX_DTYPE_U16, buf), AX_E_CORRUPT, "0.0.0");
    /* the other chunk is absent: fill value */
    int64_t s1[3] = {2, 0, 0}, z1[3] = {2, 4, 4};
    CHECK_OK(ax_volume_read_region(v, s1, z1, AX_DTYPE_U16, buf));
    CHECK(buf[0] == 0 && buf[31] == 0);
    /* region outside, wrong dtype */
    int64_t s2[3] = {3, 0, 0}, z2[3] = {2, 4, 4};
    CHECK_ERR(ax_volume_read_region(v, s2, z2, AX_DTYPE_U16, buf), AX_E_RANGE, "outside");
    CHECK_ERR(ax_volume_read_region(v, s1, z1, AX_DTYPE_U8, buf), AX_E_DTYPE, "uint16");
    int64_t s3[3] = {-1, 0, 0};
    CHECK_ERR(ax_volume_read_region(v, s3, z1, AX_DTYPE_U16, buf), AX_E_RANGE, "outside");
    CHECK_ERR(ax_volume_write_region(v, s1, z1, AX_DTYPE_U16, buf), AX_E_INVALID, "read-only");
    ax_volume_close(v);

    /* a raw chunk that is truncated */
    make_array("trunc.zarr", ZA("[2, 2]", "[2, 2]", "<u2", "null", ""), path, sizeof path);
    snprintf(chunk, sizeof chunk, "%s/0.0", path);
    write_file(chunk, "\1\0\2\0\3", 5);
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    int64_t t0[2] = {0, 0}, tz[2] = {2, 2};
    CHECK_ERR(ax_volume_read_region(v, t0, tz, AX_DTYPE_U16, buf), AX_E_CORRUPT, "0.0");
    ax_volume_close(v);
}

static void test_by_hand_layouts(void)
{
    /* big-endian uint16, F order, "/" separator, fill value 7: 2x3 array, one 2x2 chunk
     * (0/0) holding [[1,2],[3,4]] stored column-major, chunk 0/1 absent */
    char path[1300], chunk[1400];
    make_array("hand.zarr",
               "{\"zarr_format\": 2, \"shape\": [2, 3], \"chunks\": [2, 2], \"dtype\": \">u2\", "
               "\"compressor\": null, \"fill_value\": 7, \"order\": \"F\", \"filters\": null, "
               "\"dimension_separator\": \"/\"}",
               path, sizeof path);
    snprintf(chunk, sizeof chunk, "%s/0", path);
    mkdir(chunk, 0755);
    snprintf(chunk, sizeof chunk, "%s/0/0", path);
    const uint8_t data[] = {0, 1, 0, 3, 0, 2, 0, 4}; /* F order: (0,0) (1,0) (0,1) (1,1) */
    write_file(chunk, data, sizeof data);
    ax_volume *v;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    uint16_t buf[6];
    int64_t s[2] = {0, 0}, z[2] = {2, 3};
    CHECK_OK(ax_volume_read_region(v, s, z, AX_DTYPE_U16, buf));
    const uint16_t want[6] = {1, 2, 7, 3, 4, 7};
    CHECK(!memcmp(buf, want, sizeof want));
    ax_volume_close(v);
}

static void test_chunks_touched_and_cache(void)
{
    char path[1300];
    test_path(path, sizeof path, "touch.zarr");
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U8;
    p.ndim = 3;
    p.shape[0] = p.shape[1] = p.shape[2] = 40;
    p.chunks[0] = p.chunks[1] = p.chunks[2] = 10;
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &p, &v));
    uint8_t *buf = malloc(40 * 40 * 40);
    for (int i = 0; i < 40 * 40 * 40; i++) buf[i] = (uint8_t)(i * 31);
    int64_t s[3] = {0, 0, 0};
    CHECK_OK(ax_volume_write_region(v, s, p.shape, AX_DTYPE_U8, buf));
    uint64_t nr, nw;
    ax_volume_get_stats(v, &nr, &nw, NULL, NULL);
    CHECK(nw == 64); /* 4x4x4 chunks, each written once, none read (aligned writes) */
    CHECK(nr == 0);
    CHECK_OK(ax_volume_close(v));

    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    ax_volume_set_cache_bytes(v, 2 * 1000); /* room for two chunks */
    uint8_t small[8 * 8 * 8];
    int64_t a[3] = {11, 11, 11}, az[3] = {8, 8, 8};
    CHECK_OK(ax_volume_read_region(v, a, az, AX_DTYPE_U8, small));
    ax_volume_get_stats(v, &nr, NULL, NULL, NULL);
    CHECK(nr == 1); /* inside one chunk: one chunk decoded */
    CHECK(small[0] == (uint8_t)((11 * 1600 + 11 * 40 + 11) * 31));
    int64_t b[3] = {5, 5, 5}, bz[3] = {10, 10, 10};
    uint8_t mid[1000];
    CHECK_OK(ax_volume_read_region(v, b, bz, AX_DTYPE_U8, mid));
    ax_volume_get_stats(v, &nr, NULL, NULL, NULL);
    CHECK(nr == 1 + 8); /* straddles 2x2x2 chunks */
    CHECK_OK(ax_volume_read_region(v, s, p.shape, AX_DTYPE_U8, buf));
    uint64_t peak, hits;
    ax_volume_get_stats(v, &nr, NULL, &hits, &peak);
    CHECK(peak <= 2 * 1000);
    int ok = 1;
    for (int i = 0; i < 40 * 40 * 40; i++) ok &= buf[i] == (uint8_t)(i * 31);
    CHECK(ok);
    /* with a big cache, a second full read decodes nothing */
    ax_volume_set_cache_bytes(v, 1 << 20);
    CHECK_OK(ax_volume_read_region(v, s, p.shape, AX_DTYPE_U8, buf));
    uint64_t nr2;
    ax_volume_get_stats(v, &nr2, NULL, NULL, NULL);
    CHECK_OK(ax_volume_read_region(v, s, p.shape, AX_DTYPE_U8, buf));
    uint64_t nr3;
    ax_volume_get_stats(v, &nr3, NULL, NULL, NULL);
    CHECK(nr3 == nr2);
    ax_volume_close(v);
    free(buf);
}

static void test_atomic_create(void)
{
    char path[1300];
    test_path(path, sizeof path, "atomic.zarr");
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U16;
    p.ndim = 3;
    p.shape[0] = p.shape[1] = p.shape[2] = 8;
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &p, &v));
    /* nothing at the final name until close */
    CHECK(access(path, F_OK) != 0);
    ax_volume_abort(v);
    CHECK(access(path, F_OK) != 0);
    /* no leftovers next to it either */
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q partial", test_tmpdir());
    CHECK(system(cmd) != 0);

    CHECK_OK(ax_volume_create(path, &p, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK(access(path, F_OK) == 0);
    CHECK_ERR(ax_volume_create(path, &p, &v), AX_E_EXISTS, "already exists");
    p.overwrite = true;
    p.shape[0] = 3;
    CHECK_OK(ax_volume_create(path, &p, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    CHECK(ax_volume_get_info(v)->shape[0] == 3);
    ax_volume_close(v);
    /* bad params */
    ax_volume_create_params q = ax_volume_create_params_default();
    CHECK_ERR(ax_volume_create(path, &q, &v), AX_E_DTYPE, "data type");
    q.dtype = AX_DTYPE_U8;
    q.ndim = 3;
    q.shape[0] = 1;
    q.shape[1] = 0;
    q.shape[2] = 1;
    CHECK_ERR(ax_volume_create(path, &q, &v), AX_E_RANGE, "size 0");
    q.shape[1] = 1;
    CHECK_ERR(ax_volume_create("/tmp/noformat.xyz", &q, &v), AX_E_UNSUPPORTED, "format");
}

int main(void)
{
    RUN(test_malformed_metadata);
    RUN(test_corrupt_chunks);
    RUN(test_by_hand_layouts);
    RUN(test_chunks_touched_and_cache);
    RUN(test_atomic_create);
    return TEST_REPORT();
}
