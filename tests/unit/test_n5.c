/* test_n5.c: N5 specifics: a bad-input corpus (malformed attributes.json, missing keys,
 * bad dimensions, unknown compression, truncated and mislabelled blocks), blocks written by
 * hand from the spec (big-endian, truncated edge blocks, zarr-style padded edge blocks,
 * varlength mode, gzip and zlib framing), voxel size conventions and container groups. */
#include <math.h>
#include <sys/stat.h>
#include <zlib.h>

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

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* A dataset directory name under the scratch dir with the given attributes.json. */
static void make_ds(const char *name, const char *attrs, char *path, size_t n)
{
    test_path(path, n, name);
    mkdirs(path);
    char meta[1400];
    snprintf(meta, sizeof meta, "%s/attributes.json", path);
    write_file(meta, attrs, strlen(attrs));
}

/* block file at ds/<rel> */
static void put_block(const char *ds, const char *rel, const void *data, size_t n)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", ds, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    mkdirs(p);
    *slash = '/';
    write_file(p, data, n);
}

#define ATTRS(dims, bs, dt, comp)                                                              \
    "{\"dimensions\": " dims ", \"blockSize\": " bs ", \"dataType\": \"" dt                    \
    "\", \"compression\": " comp "}"

static void expect_open_error(const char *name, const char *attrs, int code, const char *needle)
{
    char path[1300];
    make_ds(name, attrs, path, sizeof path);
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), code, needle);
    CHECK(strstr(ax_errmsg(), name) != NULL); /* the message names the file */
    CHECK(v == NULL);
}

static void test_malformed_attributes(void)
{
    expect_open_error("badjson.n5", "{\"dimensions\": [1,", AX_E_FORMAT, "bad JSON");
    expect_open_error("notobj.n5", "[1, 2]", AX_E_FORMAT, "not an object");
    expect_open_error("group.n5", "{\"n5\": \"2.0.0\"}", AX_E_NOTFOUND, "group");
    expect_open_error("nodims.n5",
                      "{\"blockSize\": [2, 2, 2], \"dataType\": \"uint8\", "
                      "\"compression\": {\"type\": \"raw\"}}",
                      AX_E_FORMAT, "\"dimensions\" is missing");
    expect_open_error("nobs.n5",
                      "{\"dimensions\": [2, 2, 2], \"dataType\": \"uint8\", "
                      "\"compression\": {\"type\": \"raw\"}}",
                      AX_E_FORMAT, "\"blockSize\" is missing");
    expect_open_error("nodt.n5",
                      "{\"dimensions\": [2, 2, 2], \"blockSize\": [2, 2, 2], "
                      "\"compression\": {\"type\": \"raw\"}}",
                      AX_E_FORMAT, "\"dataType\" is missing");
    expect_open_error("dimsstr.n5",
                      ATTRS("[\"4\", 4, 4]", "[2, 2, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_FORMAT, "not an integer");
    expect_open_error("mismatch.n5", ATTRS("[4, 4, 4]", "[2, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_FORMAT, "\"blockSize\" 2");
    expect_open_error("empty.n5", ATTRS("[]", "[]", "uint8", "{\"type\": \"raw\"}"), AX_E_RANGE,
                      "zero-dimensional");
    expect_open_error("zero.n5", ATTRS("[4, 0, 4]", "[2, 2, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "size 0");
    expect_open_error("neg.n5", ATTRS("[4, 4, -3]", "[2, 2, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "size -3");
    expect_open_error("huge.n5",
                      ATTRS("[4611686018427387904, 4611686018427387904, 4]", "[2, 2, 2]",
                            "uint64", "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "overflows");
    expect_open_error("toomany.n5",
                      ATTRS("[2, 2, 2, 2, 2, 2]", "[1, 1, 1, 1, 1, 1]", "uint8",
                            "{\"type\": \"raw\"}"),
                      AX_E_FORMAT, "at most 5");
    expect_open_error("bszero.n5", ATTRS("[4, 4, 4]", "[2, 0, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "blockSize 0");
    expect_open_error("bshuge.n5",
                      ATTRS("[4, 4, 4]", "[2, 8589934592, 2]", "uint8", "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "blockSize");
    expect_open_error("bigblock.n5",
                      ATTRS("[100000, 100000, 100000]", "[4096, 4096, 4096]", "uint8",
                            "{\"type\": \"raw\"}"),
                      AX_E_RANGE, "1 GiB");
    expect_open_error("int8.n5", ATTRS("[4, 4, 4]", "[2, 2, 2]", "int8", "{\"type\": \"raw\"}"),
                      AX_E_DTYPE, "int8");
    expect_open_error("f64.n5", ATTRS("[4, 4, 4]", "[2, 2, 2]", "float64", "{\"type\": \"raw\"}"),
                      AX_E_DTYPE, "float64");
    expect_open_error("bzip2.n5",
                      ATTRS("[4, 4, 4]", "[2, 2, 2]", "uint8",
                            "{\"type\": \"bzip2\", \"blockSize\": 9}"),
                      AX_E_UNSUPPORTED, "bzip2");
    expect_open_error("lz4.n5", ATTRS("[4, 4, 4]", "[2, 2, 2]", "uint8", "{\"type\": \"lz4\"}"),
                      AX_E_UNSUPPORTED, "lz4");
    expect_open_error("compnum.n5", ATTRS("[4, 4, 4]", "[2, 2, 2]", "uint8", "5"), AX_E_FORMAT,
                      "not an object");
    expect_open_error("notype.n5", ATTRS("[4, 4, 4]", "[2, 2, 2]", "uint8", "{\"level\": 3}"),
                      AX_E_FORMAT, "no \"type\"");
    expect_open_error("legacyxz.n5",
                      "{\"dimensions\": [4, 4, 4], \"blockSize\": [2, 2, 2], \"dataType\": "
                      "\"uint8\", \"compressionType\": \"xz\"}",
                      AX_E_UNSUPPORTED, "xz");
    expect_open_error("legacynum.n5",
                      "{\"dimensions\": [4, 4, 4], \"blockSize\": [2, 2, 2], \"dataType\": "
                      "\"uint8\", \"compressionType\": 1}",
                      AX_E_FORMAT, "compressionType");

    char path[1300];
    test_path(path, sizeof path, "noattrs.n5");
    mkdirs(path);
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_NOTFOUND, "attributes.json");
    CHECK_ERR(ax_volume_open("n5:/nonexistent/x.n5", AX_OPEN_READ, &v), AX_E_NOTFOUND,
              "/nonexistent/x.n5");
}

/* header: mode, ndim, sizes (x first), [num elements] */
static size_t header(uint8_t *h, unsigned mode, unsigned nd, const unsigned *size_xyz,
                     unsigned nelem)
{
    size_t n = 0;
    h[n++] = (uint8_t)(mode >> 8);
    h[n++] = (uint8_t)mode;
    h[n++] = (uint8_t)(nd >> 8);
    h[n++] = (uint8_t)nd;
    for (unsigned d = 0; d < nd; d++) {
        h[n++] = (uint8_t)(size_xyz[d] >> 24);
        h[n++] = (uint8_t)(size_xyz[d] >> 16);
        h[n++] = (uint8_t)(size_xyz[d] >> 8);
        h[n++] = (uint8_t)size_xyz[d];
    }
    if (mode == 1) {
        h[n++] = (uint8_t)(nelem >> 24);
        h[n++] = (uint8_t)(nelem >> 16);
        h[n++] = (uint8_t)(nelem >> 8);
        h[n++] = (uint8_t)nelem;
    }
    return n;
}

/* big-endian uint16 payload of value(x,y,z) = 100*z + 10*y + x over a box, x fastest */
static size_t payload_u16(uint8_t *p, const unsigned *org, const unsigned *size)
{
    size_t n = 0;
    for (unsigned z = 0; z < size[2]; z++)
        for (unsigned y = 0; y < size[1]; y++)
            for (unsigned x = 0; x < size[0]; x++) {
                unsigned v = 100 * (org[2] + z) + 10 * (org[1] + y) + (org[0] + x);
                p[n++] = (uint8_t)(v >> 8);
                p[n++] = (uint8_t)v;
            }
    return n;
}

static size_t deflate_to(uint8_t *out, size_t cap, const uint8_t *in, size_t n, bool gzip)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, 6, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    deflate(&s, Z_FINISH);
    size_t r = s.total_out;
    deflateEnd(&s);
    return r;
}

/* Volume (z,y,x) = (3,4,5), blocks (x,y,z) = (3,3,2): grid x 2, y 2, z 2. Write every block
 * by hand; edge blocks truncated except block (1,1,1) which is padded zarr-style. */
static void write_hand_blocks(const char *ds, ax_compression comp)
{
    uint8_t buf[4096], payload[2048], packed[4096];
    for (unsigned bz = 0; bz < 2; bz++)
        for (unsigned by = 0; by < 2; by++)
            for (unsigned bx = 0; bx < 2; bx++) {
                unsigned org[3] = {bx * 3, by * 3, bz * 2};
                unsigned size[3] = {bx ? 2 : 3, by ? 1 : 3, bz ? 1 : 2};
                bool padded = bx && by && bz;
                if (padded) size[0] = 3, size[1] = 3, size[2] = 2;
                bool varlen = !bx && by && !bz;
                size_t h = header(buf, varlen, 3, size, size[0] * size[1] * size[2]);
                size_t n = payload_u16(payload, org, size);
                if (comp == AX_COMPRESSION_RAW) {
                    memcpy(buf + h, payload, n);
                } else {
                    n = deflate_to(packed, sizeof packed, payload, n, comp == AX_COMPRESSION_GZIP);
                    memcpy(buf + h, packed, n);
                }
                char rel[64];
                snprintf(rel, sizeof rel, "%u/%u/%u", bx, by, bz);
                put_block(ds, rel, buf, h + n);
            }
}

static void check_hand_volume(const char *ds)
{
    ax_volume *v = NULL;
    int rc = ax_volume_open(ds, AX_OPEN_READ, &v);
    CHECK_OK(rc);
    if (rc) return;
    const ax_volume_info *in = ax_volume_get_info(v);
    CHECK(in->format == AX_FORMAT_N5);
    CHECK(in->ndim == 3 && in->shape[0] == 3 && in->shape[1] == 4 && in->shape[2] == 5);
    CHECK(in->chunks[0] == 2 && in->chunks[1] == 3 && in->chunks[2] == 3);
    uint16_t out[3 * 4 * 5];
    int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
    CHECK_OK(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, out));
    int bad = 0;
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++)
                bad += out[(z * 4 + y) * 5 + x] != 100 * z + 10 * y + x;
    CHECK(bad == 0);
    ax_volume_close(v);
}

static void test_hand_blocks(void)
{
    const struct {
        const char *name, *comp;
        ax_compression c;
    } cases[] = {{"hand_raw.n5", "{\"type\": \"raw\"}", AX_COMPRESSION_RAW},
                 {"hand_gzip.n5", "{\"type\": \"gzip\", \"level\": -1}", AX_COMPRESSION_GZIP},
                 {"hand_zlib.n5", "{\"type\": \"gzip\", \"useZlib\": true}", AX_COMPRESSION_ZLIB}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ds[1300], attrs[512];
        snprintf(attrs, sizeof attrs,
                 "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": "
                 "\"uint16\", \"compression\": %s}",
                 cases[i].comp);
        make_ds(cases[i].name, attrs, ds, sizeof ds);
        write_hand_blocks(ds, cases[i].c);
        check_hand_volume(ds);
    }
    /* legacy "compressionType": "gzip" */
    char ds[1300];
    make_ds("hand_legacy.n5",
            "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": \"uint16\", "
            "\"compressionType\": \"gzip\"}",
            ds, sizeof ds);
    write_hand_blocks(ds, AX_COMPRESSION_GZIP);
    check_hand_volume(ds);
}

static void expect_read_error(const char *name, const uint8_t *block, size_t n, int code,
                              const char *needle)
{
    char ds[1300];
    make_ds(name, ATTRS("[5, 4, 3]", "[3, 3, 2]", "uint16", "{\"type\": \"raw\"}"), ds,
            sizeof ds);
    put_block(ds, "1/1/1", block, n); /* the corner: extent (x,y,z) = (2,1,1) */
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (!v) return;
    uint16_t out[60];
    int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
    CHECK_ERR(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, out), code, needle);
    CHECK(strstr(ax_errmsg(), "1/1/1") != NULL); /* names the block file */
    ax_volume_close(v);
}

static void test_bad_blocks(void)
{
    uint8_t b[256] = {0};
    unsigned ok[3] = {2, 1, 1}, org[3] = {3, 3, 2};
    size_t h, n;
    expect_read_error("blk_empty.n5", b, 0, AX_E_CORRUPT, "truncated block header");
    h = header(b, 0, 3, ok, 0);
    expect_read_error("blk_shorthdr.n5", b, 9, AX_E_CORRUPT, "truncated block header");
    n = payload_u16(b + h, org, ok);
    expect_read_error("blk_shortdata.n5", b, h + n - 1, AX_E_CORRUPT, "raw chunk");
    expect_read_error("blk_longdata.n5", b, h + n + 2, AX_E_CORRUPT, "raw chunk");
    unsigned wrong[3] = {2, 2, 1};
    h = header(b, 0, 3, wrong, 0);
    expect_read_error("blk_size.n5", b, h + 8, AX_E_CORRUPT, "block header says size [2,2,1]");
    unsigned two[2] = {2, 1};
    h = header(b, 0, 2, two, 0);
    expect_read_error("blk_ndim.n5", b, h + 4, AX_E_CORRUPT, "2 dimensions");
    h = header(b, 2, 3, ok, 0);
    expect_read_error("blk_object.n5", b, h + 4, AX_E_UNSUPPORTED, "object");
    h = header(b, 7, 3, ok, 0);
    expect_read_error("blk_mode.n5", b, h + 4, AX_E_CORRUPT, "mode 7");
    h = header(b, 1, 3, ok, 3);
    expect_read_error("blk_varlen.n5", b, h + 6, AX_E_UNSUPPORTED, "varlength");
    h = header(b, 1, 3, ok, 2);
    expect_read_error("blk_varlen_short.n5", b, h - 2, AX_E_CORRUPT, "truncated block header");
    /* gzip dataset with a raw payload */
    char ds[1300];
    make_ds("blk_notgzip.n5", ATTRS("[5, 4, 3]", "[3, 3, 2]", "uint16", "{\"type\": \"gzip\"}"),
            ds, sizeof ds);
    h = header(b, 0, 3, ok, 0);
    n = payload_u16(b + h, org, ok);
    put_block(ds, "0/0/0", b, h + n);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (v) {
        uint16_t out[60];
        int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
        CHECK_ERR(ax_volume_read_region(v, s0, sz, AX_DTYPE_U16, out), AX_E_CORRUPT, "0/0/0");
        ax_volume_close(v);
    }
}

static void test_voxel_size(void)
{
    char ds[1300];
    /* funlib: resolution/offset x first */
    make_ds("res.n5",
            "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": \"uint8\", "
            "\"compression\": {\"type\": \"raw\"}, \"resolution\": [4, 5, 40], \"offset\": [8, "
            "10, 400]}",
            ds, sizeof ds);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (v) {
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(in->has_voxel_size);
        CHECK(in->voxel_size[0] == 40 && in->voxel_size[1] == 5 && in->voxel_size[2] == 4);
        CHECK(in->offset[0] == 400 && in->offset[1] == 10 && in->offset[2] == 8);
        CHECK(in->compression == AX_COMPRESSION_RAW);
        ax_volume_close(v);
    }
    /* n5-viewer: pixelResolution in micrometres */
    make_ds("pixres.n5",
            "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": \"uint8\", "
            "\"compression\": {\"type\": \"zstd\", \"level\": 7}, \"pixelResolution\": "
            "{\"dimensions\": [0.004, 0.004, 0.04], \"unit\": \"um\"}}",
            ds, sizeof ds);
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (v) {
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(in->has_voxel_size);
        CHECK(fabs(in->voxel_size[0] - 40) < 1e-9 && fabs(in->voxel_size[2] - 4) < 1e-9);
        CHECK(in->compression == AX_COMPRESSION_ZSTD && in->compression_level == 7);
        ax_volume_close(v);
    }
    /* a resolution of 0 is ignored like any malformed attribute */
    make_ds("res0.n5",
            "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": \"uint8\", "
            "\"resolution\": [4, 0, 40]}",
            ds, sizeof ds);
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (v) {
        CHECK(!ax_volume_get_info(v)->has_voxel_size);
        ax_volume_close(v);
    }
    /* no compression at all: raw (N5 before 1.0); a malformed resolution is ignored */
    make_ds("nocomp.n5",
            "{\"dimensions\": [5, 4, 3], \"blockSize\": [3, 3, 2], \"dataType\": \"float32\", "
            "\"resolution\": \"big\"}",
            ds, sizeof ds);
    CHECK_OK(ax_volume_open(ds, AX_OPEN_READ, &v));
    if (v) {
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(!in->has_voxel_size && in->voxel_size[0] == 1);
        CHECK(in->compression == AX_COMPRESSION_RAW && in->dtype == AX_DTYPE_F32);
        ax_volume_close(v);
    }
}

static void test_create(void)
{
    char ds[1300], p[1400];
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U16;
    cp.ndim = 3;
    cp.shape[0] = 3, cp.shape[1] = 4, cp.shape[2] = 5;
    cp.chunks[0] = 2, cp.chunks[1] = 3, cp.chunks[2] = 3;
    cp.has_voxel_size = true;
    cp.voxel_size[0] = 40, cp.voxel_size[1] = 5, cp.voxel_size[2] = 4;
    cp.offset[0] = 400;

    /* default compression gzip; files laid out as the spec says */
    test_path(ds, sizeof ds, "created.n5");
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(ds, &cp, &v));
    if (!v) return;
    CHECK(ax_volume_get_info(v)->compression == AX_COMPRESSION_GZIP);
    uint16_t data[60];
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++)
                data[(z * 4 + y) * 5 + x] = (uint16_t)(100 * z + 10 * y + x);
    int64_t s0[3] = {0, 0, 0}, sz[3] = {3, 4, 5};
    CHECK_OK(ax_volume_write_region(v, s0, sz, AX_DTYPE_U16, data));
    CHECK_OK(ax_volume_close(v));
    snprintf(p, sizeof p, "%s/attributes.json", ds);
    const char *a = read_text(p);
    CHECK(a && strstr(a, "\"n5\": \"2.0.0\""));
    CHECK(a && strstr(a, "\"dimensions\": [\n        5,\n        4,\n        3\n    ]"));
    CHECK(a && strstr(a, "\"type\": \"gzip\""));
    CHECK(a && strstr(a, "\"resolution\": [\n        4,\n        5,\n        40\n    ]"));
    /* the corner block (1,1,1) is truncated to x=2, y=1, z=1 */
    snprintf(p, sizeof p, "%s/1/1/1", ds);
    FILE *f = fopen(p, "rb");
    CHECK(f != NULL);
    if (f) {
        uint8_t h[16];
        CHECK(fread(h, 1, 16, f) == 16);
        fclose(f);
        const uint8_t want[16] = {0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1};
        CHECK(!memcmp(h, want, 16));
    }
    check_hand_volume(ds);

    /* raw: payload bytes are big-endian */
    test_path(ds, sizeof ds, "created_raw.n5");
    cp.compression = AX_COMPRESSION_RAW;
    CHECK_OK(ax_volume_create(ds, &cp, &v));
    if (v) {
        CHECK_OK(ax_volume_write_region(v, s0, sz, AX_DTYPE_U16, data));
        CHECK_OK(ax_volume_close(v));
        snprintf(p, sizeof p, "%s/1/0/0", ds); /* x 3..4, y 0..2, z 0..1 */
        f = fopen(p, "rb");
        CHECK(f != NULL);
        if (f) {
            uint8_t blk[64];
            size_t n = fread(blk, 1, sizeof blk, f);
            fclose(f);
            CHECK(n == 16 + 2 * 3 * 2 * 2);
            CHECK(blk[16] == 0 && blk[17] == 3 && blk[18] == 0 && blk[19] == 4); /* 3, 4 */
            CHECK(blk[n - 2] == 0 && blk[n - 1] == 124);                          /* z1 y2 x4 */
        }
    }

    /* inside a container: root and intermediate groups are marked */
    char root[1300], full[1400];
    test_path(root, sizeof root, "container.n5");
    snprintf(full, sizeof full, "%s:a/b/ds", root);
    cp.compression = AX_COMPRESSION_ZSTD;
    CHECK_OK(ax_volume_create(full, &cp, &v));
    if (v) {
        CHECK_OK(ax_volume_write_region(v, s0, sz, AX_DTYPE_U16, data));
        CHECK_OK(ax_volume_close(v));
    }
    const char *groups[] = {"", "/a", "/a/b"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s/attributes.json", root, groups[i]);
        a = read_text(p);
        CHECK(a && strstr(a, "\"n5\": \"2.0.0\"") && !strstr(a, "dimensions"));
    }
    snprintf(p, sizeof p, "%s/a/b/ds/attributes.json", root);
    a = read_text(p);
    CHECK(a && !strstr(a, "\"n5\"") && strstr(a, "\"zstd\""));
    check_hand_volume(full);
    /* the group itself is not a dataset */
    snprintf(full, sizeof full, "%s:a", root);
    CHECK_ERR(ax_volume_open(full, AX_OPEN_READ, &v), AX_E_NOTFOUND, "group");

    /* no fill value in N5; lzf cannot be written */
    cp.fill_value = 3;
    test_path(ds, sizeof ds, "fill.n5");
    CHECK_ERR(ax_volume_create(ds, &cp, &v), AX_E_UNSUPPORTED, "fill value");
    cp.fill_value = 0;
    cp.compression = AX_COMPRESSION_LZF;
    CHECK_ERR(ax_volume_create(ds, &cp, &v), AX_E_UNSUPPORTED, "lzf");
    struct stat st;
    CHECK(stat(ds, &st) != 0); /* nothing left behind */
}

int main(void)
{
    RUN(test_malformed_attributes);
    RUN(test_hand_blocks);
    RUN(test_bad_blocks);
    RUN(test_voxel_size);
    RUN(test_create);
    return TEST_REPORT();
}
