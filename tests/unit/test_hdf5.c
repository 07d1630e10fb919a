/* test_hdf5.c: the HDF5 backend: the real FlyEM medulla and gala files (gzip+shuffle and
 * h5py's LZF), files crafted with libhdf5 (big-endian, fletcher32, contiguous, partial
 * edge chunks left unfiltered, fill values, element_size_um), axon's own chunk decoding
 * against libhdf5's (AX_HDF5_NO_DIRECT=1), bad input, adding/replacing/aborting datasets
 * in an existing file.
 *
 * The shared data directory is $AX_DATA (default ../shared/data, tests run from the repo
 * root); tests that need it are skipped with a message when it is absent. */
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char data_dir[512];

static bool have_data(const char *rel, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", data_dir, rel);
    if (access(path, R_OK) == 0) return true;
    fprintf(stderr, "  skip: %s not found (set AX_DATA)\n", path);
    return false;
}

static size_t nelem(const ax_volume_info *in)
{
    size_t n = 1;
    for (int d = 0; d < in->ndim; d++) n *= (size_t)in->shape[d];
    return n;
}

/* Whole volume into a malloc'd buffer (NULL on failure, with a recorded check failure). */
static void *read_all(const char *path, ax_volume_info *info)
{
    ax_volume *v = NULL;
    int rc = ax_volume_open(path, AX_OPEN_READ, &v);
    CHECK_OK(rc);
    if (rc) return NULL;
    const ax_volume_info *in = ax_volume_get_info(v);
    if (info) *info = *in;
    size_t bytes = nelem(in) * ax_dtype_size(in->dtype);
    void *buf = malloc(bytes);
    int64_t start[AX_MAX_DIMS] = {0};
    rc = ax_volume_read_region(v, start, in->shape, in->dtype, buf);
    CHECK_OK(rc);
    CHECK_OK(ax_volume_close(v));
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Read twice, with axon's chunk decoding and with libhdf5's, and compare. */
static void *read_both_ways(const char *path, ax_volume_info *info)
{
    unsetenv("AX_HDF5_NO_DIRECT");
    void *a = read_all(path, info);
    setenv("AX_HDF5_NO_DIRECT", "1", 1);
    void *b = read_all(path, NULL);
    unsetenv("AX_HDF5_NO_DIRECT");
    if (a && b) {
        bool same = !memcmp(a, b, nelem(info) * ax_dtype_size(info->dtype));
        CHECK(same);
        if (!same) fprintf(stderr, "    (%s: axon and libhdf5 decode differently)\n", path);
    }
    free(b);
    return a;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t count_unique_u64(const uint64_t *p, size_t n)
{
    uint64_t *s = malloc(n * sizeof *s);
    memcpy(s, p, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    size_t u = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) u += s[i] != s[i - 1];
    free(s);
    return u;
}

/* ---- the real data ------------------------------------------------------------------ */

static void test_medulla(void)
{
    char file[600], path[700];
    if (!have_data("flyem_medulla/medulla_z0-149.h5", file, sizeof file)) return;
    snprintf(path, sizeof path, "%s:raw", file);
    ax_volume_info in;
    uint8_t *raw = read_both_ways(path, &in);
    if (raw) {
        CHECK(in.format == AX_FORMAT_HDF5);
        CHECK(in.dtype == AX_DTYPE_U8 && in.ndim == 3);
        CHECK(in.shape[0] == 150 && in.shape[1] == 250 && in.shape[2] == 250);
        CHECK(in.chunks[0] == 50 && in.chunks[1] == 125 && in.chunks[2] == 125);
        CHECK(in.has_voxel_size);
        CHECK(in.voxel_size[0] == 10 && in.voxel_size[1] == 10 && in.voxel_size[2] == 10);
        CHECK(in.offset[0] == 0 && in.offset[1] == 0 && in.offset[2] == 0);
        CHECK(in.compression == AX_COMPRESSION_GZIP && in.compression_level == 6);
        /* reference figures from h5py */
        uint64_t sum = 0;
        for (size_t i = 0; i < nelem(&in); i++) sum += raw[i];
        CHECK(sum == 1214289977ull);
        CHECK(raw[0] == 89 && raw[nelem(&in) - 1] == 93);
    }
    free(raw);

    snprintf(path, sizeof path, "%s:/gt_bodies", file);
    uint64_t *gt = read_both_ways(path, &in);
    if (gt) {
        CHECK(in.dtype == AX_DTYPE_U64);
        CHECK(in.chunks[0] == 50 && in.chunks[1] == 125 && in.chunks[2] == 125);
        CHECK(in.has_voxel_size && in.voxel_size[2] == 10);
        CHECK(count_unique_u64(gt, nelem(&in)) == 368);
        CHECK(gt[(size_t)75 * 250 * 250 + 125 * 250 + 125] == 2150);
    }
    free(gt);

    /* a region straddling chunks equals the same box of the whole volume */
    snprintf(path, sizeof path, "%s:gt_supervoxels", file);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (v) {
        CHECK(ax_volume_get_info(v)->dtype == AX_DTYPE_U32);
        int64_t st[3] = {40, 100, 120}, sz[3] = {20, 50, 30};
        uint32_t *box = malloc(20 * 50 * 30 * sizeof *box);
        CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U32, box));
        CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U64, box), AX_E_DTYPE, "uint32");
        ax_volume_info full;
        uint32_t *all = read_all(path, &full);
        bool same = all != NULL;
        for (int z = 0; all && z < 20; z++)
            for (int y = 0; y < 50; y++)
                for (int x = 0; x < 30; x++)
                    if (box[(z * 50 + y) * 30 + x] !=
                        all[((size_t)(z + 40) * 250 + (size_t)(y + 100)) * 250 + (size_t)(x + 120)])
                        same = false;
        CHECK(same);
        free(all);
        free(box);
        ax_volume_close(v);
    }

    /* no dataset named: the message lists them */
    v = NULL;
    CHECK_ERR(ax_volume_open(file, AX_OPEN_READ, &v), AX_E_INVALID, "name a dataset");
    CHECK(strstr(ax_errmsg(), "medulla_z0-149.h5:raw") != NULL);
    CHECK(strstr(ax_errmsg(), "medulla_z0-149.h5:gt_bodies") != NULL);
    CHECK(v == NULL);
}

static void test_gala_lzf(void)
{
    char file[600], path[700];
    ax_volume_info in;
    if (!have_data("gala/train-gt.lzf.h5", file, sizeof file)) return;
    snprintf(path, sizeof path, "%s:stack", file);
    int32_t *gt = read_both_ways(path, &in);
    if (gt) {
        CHECK(in.dtype == AX_DTYPE_I32 && in.ndim == 3);
        CHECK(in.shape[0] == 50 && in.shape[1] == 100 && in.shape[2] == 200);
        CHECK(in.chunks[0] == 7 && in.chunks[1] == 25 && in.chunks[2] == 50);
        CHECK(in.compression == AX_COMPRESSION_LZF);
        CHECK(!in.has_voxel_size);
        int64_t sum = 0;
        for (size_t i = 0; i < nelem(&in); i++) sum += gt[i];
        CHECK(sum == 25251679);
    }
    free(gt);
    /* the only dataset in the file is found without naming it */
    float *p1 = have_data("gala/train-p1.lzf.h5", file, sizeof file) ? read_both_ways(file, &in)
                                                                      : NULL;
    if (p1) {
        CHECK(in.dtype == AX_DTYPE_F32);
        double sum = 0;
        for (size_t i = 0; i < nelem(&in); i++) sum += p1[i];
        CHECK(fabs(sum - 345170.29056034796) < 1e-2);
    }
    free(p1);
    if (have_data("gala/train-ws.lzf.h5", file, sizeof file)) free(read_both_ways(file, &in));
}

static void test_contiguous_real(void)
{
    char file[600], path[700];
    if (!have_data("gala/train-image.h5", file, sizeof file)) return;
    snprintf(path, sizeof path, "%s:stack", file);
    ax_volume_info in;
    uint8_t *img = read_both_ways(path, &in);
    if (img) {
        CHECK(in.dtype == AX_DTYPE_U8 && in.shape[0] == 50);
        CHECK(in.compression == AX_COMPRESSION_RAW);
        /* a synthetic chunk keeps the fastest axes whole */
        CHECK(in.chunks[1] == 100 && in.chunks[2] == 200 && in.chunks[0] >= 1);
        uint64_t sum = 0;
        for (size_t i = 0; i < nelem(&in); i++) sum += img[i];
        CHECK(sum == 148221759ull);
    }
    free(img);
}

/* ---- files made with libhdf5 -------------------------------------------------------- */

/* F_FLETCHER: checksum last (h5py's order); F_FLETCHER_FIRST: before the others */
enum { F_SHUFFLE = 1, F_DEFLATE = 2, F_FLETCHER = 4, F_PARTIAL_RAW = 8, F_CONTIG = 16,
       F_FLETCHER_FIRST = 32 };

/* Write a dataset with libhdf5 itself. file_type: its stored type; mem_type: data's. */
static int make_h5(const char *file, const char *name, hid_t file_type, hid_t mem_type, int nd,
                   const hsize_t *dims, const hsize_t *chunks, int flags, const void *fill,
                   const void *data)
{
    hid_t f = access(file, F_OK) == 0 ? H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT)
                                      : H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), s = H5Screate_simple(nd, dims, NULL);
    if (!(flags & F_CONTIG)) {
        H5Pset_chunk(dcpl, nd, chunks);
        if (flags & F_FLETCHER_FIRST) H5Pset_fletcher32(dcpl);
        if (flags & F_SHUFFLE) H5Pset_shuffle(dcpl);
        if (flags & F_DEFLATE) H5Pset_deflate(dcpl, 4);
        if (flags & F_FLETCHER) H5Pset_fletcher32(dcpl);
        if (flags & F_PARTIAL_RAW) H5Pset_chunk_opts(dcpl, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS);
    }
    if (fill) H5Pset_fill_value(dcpl, mem_type, fill);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, name, file_type, s, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    herr_t r = d >= 0 && data ? H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(dcpl);
    H5Fclose(f);
    return d < 0 || r < 0 ? -1 : 0;
}

static void test_crafted_pipelines(void)
{
    char file[600], path[700];
    hsize_t dims[3] = {9, 14, 23}, ch[3] = {4, 5, 7};
    size_t n = 9 * 14 * 23;
    uint16_t *u16 = malloc(n * sizeof *u16);
    int32_t *i32 = malloc(n * sizeof *i32);
    float *f32 = malloc(n * sizeof *f32);
    unsigned long long seed = 7;
    for (size_t i = 0; i < n; i++) {
        unsigned long long r = test_rand(&seed);
        u16[i] = (uint16_t)(i % 11 ? r % 50 : r);
        i32[i] = (int32_t)(r >> 33) - (1 << 29);
        f32[i] = (float)(r % 1000) / 7.0f - 60;
    }
    static const struct {
        const char *name;
        int flags;
    } cases[] = {
        {"gzip_shuffle", F_SHUFFLE | F_DEFLATE},
        {"gzip_shuffle_fletcher", F_SHUFFLE | F_DEFLATE | F_FLETCHER},
        {"fletcher_gzip_shuffle", F_FLETCHER_FIRST | F_SHUFFLE | F_DEFLATE},
        {"fletcher_only", F_FLETCHER},
        {"shuffle_only", F_SHUFFLE},
        {"plain", 0},
        {"partial_raw", F_SHUFFLE | F_DEFLATE | F_PARTIAL_RAW},
        {"contiguous", F_CONTIG},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char fname[128];
        snprintf(fname, sizeof fname, "crafted_%s.h5", cases[c].name);
        test_path(file, sizeof file, fname);
        int fl = cases[c].flags;
        CHECK(make_h5(file, "be_u16", H5T_STD_U16BE, H5T_NATIVE_UINT16, 3, dims, ch, fl, NULL,
                      u16) == 0);
        CHECK(make_h5(file, "g/be_i32", H5T_STD_I32BE, H5T_NATIVE_INT32, 3, dims, ch, fl, NULL,
                      i32) == 0);
        CHECK(make_h5(file, "g/le_f32", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, ch, fl, NULL,
                      f32) == 0);
        CHECK(make_h5(file, "be_f32", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, 3, dims, ch, fl, NULL,
                      f32) == 0);
        static const char *names[] = {"be_u16", "g/be_i32", "g/le_f32", "be_f32"};
        const void *want[] = {u16, i32, f32, f32};
        size_t esz[] = {2, 4, 4, 4};
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%s:%s", file, names[k]);
            ax_volume_info in;
            void *got = read_both_ways(path, &in);
            if (!got) continue;
            CHECK(in.shape[0] == 9 && in.shape[1] == 14 && in.shape[2] == 23);
            if (fl & F_CONTIG) CHECK(in.chunks[2] == 23 && in.chunks[1] == 14);
            else CHECK(in.chunks[0] == 4 && in.chunks[1] == 5 && in.chunks[2] == 7);
            bool same = !memcmp(got, want[k], n * esz[k]);
            CHECK(same);
            if (!same) fprintf(stderr, "    (%s %s differs)\n", cases[c].name, names[k]);
            free(got);
        }
    }

    /* written via axon into such files (RW open): the pipeline is kept, libhdf5 reads it */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char fname[128];
        snprintf(fname, sizeof fname, "crafted_%s.h5", cases[c].name);
        test_path(file, sizeof file, fname);
        snprintf(path, sizeof path, "%s:g/be_i32", file);
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_RW, &v));
        if (!v) continue;
        int64_t st[3] = {3, 4, 5}, sz[3] = {6, 10, 18};
        int32_t *box = malloc(6 * 10 * 18 * sizeof *box);
        for (int i = 0; i < 6 * 10 * 18; i++) box[i] = -i * 1000;
        CHECK_OK(ax_volume_write_region(v, st, sz, AX_DTYPE_I32, box));
        CHECK_OK(ax_volume_close(v));
        for (int z = 0; z < 6; z++)
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 18; x++)
                    i32[((size_t)(z + 3) * 14 + (size_t)(y + 4)) * 23 + (size_t)(x + 5)] =
                        box[(z * 10 + y) * 18 + x];
        hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, "g/be_i32", H5P_DEFAULT);
        int32_t *back = malloc(n * sizeof *back);
        CHECK(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
        bool same = !memcmp(back, i32, n * sizeof *back);
        CHECK(same);
        if (!same) fprintf(stderr, "    (%s: written region differs)\n", cases[c].name);
        H5Dclose(d);
        H5Fclose(f);
        free(back);
        free(box);
        /* restore the reference for the next file */
        seed = 7;
        for (size_t i = 0; i < n; i++) {
            unsigned long long r = test_rand(&seed);
            i32[i] = (int32_t)(r >> 33) - (1 << 29);
        }
    }
    free(u16);
    free(i32);
    free(f32);
}

/* LZF chunks made by hand: one stored raw because the optional filter was skipped (filter
 * mask bit set, what h5py does when LZF does not help), one as an LZF stream of literal
 * runs and back references, one truncated stream. Creating the dataset needs filter 32000
 * registered, which axon did when an earlier test opened an HDF5 file. */
static void test_lzf_crafted(void)
{
    char file[600], path[700];
    test_path(file, sizeof file, "lzf_crafted.h5");
    hsize_t dims[2] = {15, 10}, ch[2] = {5, 10};
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), s = H5Screate_simple(2, dims, NULL);
    unsigned cd[3] = {4, 261, 100};
    H5Pset_chunk(dcpl, 2, ch);
    CHECK(H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 3, cd) >= 0);
    hid_t d = H5Dcreate2(f, "lzf", H5T_STD_U16LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    uint16_t want[150];
    for (int i = 0; i < 150; i++) want[i] = (uint16_t)(i < 50 ? i * 3 : i < 100 ? 7 : i);
    hsize_t off0[2] = {0, 0}, off1[2] = {5, 0}, off2[2] = {10, 0};
    /* chunk 0: LZF skipped, the 100 bytes as they are */
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 1, off0, 100, want) >= 0);
    /* chunk 1: 50 x uint16 7 = "07 00" repeated: 2 literals, then back references */
    uint8_t z[16];
    size_t n = 0;
    z[n++] = 1; /* 2 literals */
    z[n++] = 7;
    z[n++] = 0;
    /* copy 98 bytes from 2 back: len 98 = 7 + 89 + 2 -> ctrl 0xE0, extra 89, offset 1 */
    z[n++] = 0xE0;
    z[n++] = 89;
    z[n++] = 1;
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off1, n, z) >= 0);
    /* chunk 2: a stream cut short */
    uint8_t cut[3] = {31, 1, 2};
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off2, sizeof cut, cut) >= 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(dcpl);
    H5Fclose(f);

    snprintf(path, sizeof path, "%s:lzf", file);
    for (int mode = 0; mode < 2; mode++) {
        if (mode) setenv("AX_HDF5_NO_DIRECT", "1", 1);
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (v) {
            CHECK(ax_volume_get_info(v)->compression == AX_COMPRESSION_LZF);
            uint16_t got[100];
            int64_t st[2] = {0, 0}, sz[2] = {10, 10};
            CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, got));
            CHECK(!memcmp(got, want, sizeof got));
            int64_t st2[2] = {12, 3}, sz2[2] = {1, 1};
            CHECK_ERR(ax_volume_read_region(v, st2, sz2, AX_DTYPE_U16, got), AX_E_CORRUPT,
                      "lzf_crafted.h5:lzf chunk (2,0)");
        }
        ax_volume_close(v);
        unsetenv("AX_HDF5_NO_DIRECT");
    }
    /* writing into an LZF dataset: libhdf5 runs the pipeline, axon's LZF has no encoder,
     * so the optional filter is skipped and the chunk stored raw */
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_RW, &v));
    if (v) {
        int64_t st[2] = {10, 0}, sz[2] = {5, 10};
        CHECK_OK(ax_volume_write_region(v, st, sz, AX_DTYPE_U16, want + 100));
        CHECK_OK(ax_volume_close(v));
    }
    for (int mode = 0; mode < 2; mode++) {
        if (mode) setenv("AX_HDF5_NO_DIRECT", "1", 1);
        ax_volume_info in;
        uint16_t *got = read_all(path, &in);
        CHECK(got && !memcmp(got, want, sizeof want));
        free(got);
        unsetenv("AX_HDF5_NO_DIRECT");
    }
}

static void test_fill_and_attrs(void)
{
    char file[600], path[700];
    test_path(file, sizeof file, "fill.h5");
    hsize_t dims[3] = {10, 10, 10}, ch[3] = {5, 5, 5};
    uint32_t fill = 77;
    CHECK(make_h5(file, "sparse", H5T_STD_U32LE, H5T_NATIVE_UINT32, 3, dims, ch,
                  F_SHUFFLE | F_DEFLATE, &fill, NULL) == 0);
    /* write one chunk only, through libhdf5 */
    hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "sparse", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t off[3] = {5, 0, 5}, cnt[3] = {5, 5, 5};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(3, cnt, NULL);
    uint32_t block[125];
    for (int i = 0; i < 125; i++) block[i] = (uint32_t)i;
    H5Dwrite(d, H5T_NATIVE_UINT32, ms, fs, H5P_DEFAULT, block);
    /* CREMI/ilastik voxel size in micrometres */
    double um[3] = {0.04, 0.004, 0.004};
    hsize_t three = 3;
    hid_t as = H5Screate_simple(1, &three, NULL);
    hid_t a = H5Acreate2(d, "element_size_um", H5T_IEEE_F32LE, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, um);
    H5Aclose(a);
    H5Sclose(as);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);

    snprintf(path, sizeof path, "%s:sparse", file);
    ax_volume_info in;
    uint32_t *got = read_both_ways(path, &in);
    if (got) {
        CHECK(in.fill_value == 77);
        CHECK(in.has_voxel_size);
        CHECK(fabs(in.voxel_size[0] - 40) < 1e-3 && fabs(in.voxel_size[2] - 4) < 1e-3);
        CHECK(got[0] == 77 && got[999] == 77);
        CHECK(got[(5 * 10 + 0) * 10 + 5] == 0 && got[(9 * 10 + 4) * 10 + 9] == 124);
    }
    free(got);
}

static void test_odd_dims(void)
{
    char file[600], path[700];
    test_path(file, sizeof file, "dims.h5");
    hsize_t d1[1] = {1000}, c1[1] = {64};
    uint8_t line[1000];
    for (int i = 0; i < 1000; i++) line[i] = (uint8_t)(i * 7);
    CHECK(make_h5(file, "line", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, d1, c1, F_DEFLATE, NULL,
                  line) == 0);
    hsize_t d5[5] = {2, 3, 4, 5, 6}, c5[5] = {1, 2, 3, 4, 5};
    uint64_t big[720];
    for (int i = 0; i < 720; i++) big[i] = (uint64_t)i << 40 | (uint64_t)i;
    CHECK(make_h5(file, "five", H5T_STD_U64LE, H5T_NATIVE_UINT64, 5, d5, c5,
                  F_SHUFFLE | F_DEFLATE, NULL, big) == 0);
    hsize_t d6[6] = {1, 1, 1, 1, 1, 2};
    CHECK(make_h5(file, "six", H5T_STD_U8LE, H5T_NATIVE_UINT8, 6, d6, d6, 0, NULL, line) == 0);

    ax_volume_info in;
    snprintf(path, sizeof path, "%s:line", file);
    uint8_t *l = read_both_ways(path, &in);
    CHECK(l && in.ndim == 1 && in.shape[0] == 1000 && !memcmp(l, line, 1000));
    free(l);
    snprintf(path, sizeof path, "%s:five", file);
    uint64_t *b = read_both_ways(path, &in);
    CHECK(b && in.ndim == 5 && !memcmp(b, big, sizeof big));
    free(b);
    snprintf(path, sizeof path, "%s:six", file);
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_RANGE, "6 dimensions");
    CHECK(strstr(ax_errmsg(), "dims.h5:six") != NULL);
}

/* ---- bad input ---------------------------------------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(p, 1, n, f);
    fclose(f);
}

static void expect_open_err(const char *path, int code, const char *needle, const char *name)
{
    ax_volume *v = NULL;
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), code, needle);
    CHECK(strstr(ax_errmsg(), name) != NULL);
    CHECK(v == NULL);
    ax_volume_close(v);
}

static void test_bad_input(void)
{
    char file[600], path[700];
    /* a real file made by axon, then truncated to half its size */
    test_path(file, sizeof file, "whole.h5");
    snprintf(path, sizeof path, "%s:data", file);
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U16;
    p.ndim = 3;
    p.shape[0] = 20;
    p.shape[1] = 64;
    p.shape[2] = 64;
    p.chunks[0] = 10;
    p.chunks[1] = 32;
    p.chunks[2] = 32;
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(path, &p, &v));
    uint16_t *vox = malloc(20 * 64 * 64 * sizeof *vox);
    unsigned long long seed = 1;
    for (int i = 0; i < 20 * 64 * 64; i++) vox[i] = (uint16_t)test_rand(&seed);
    int64_t zero[3] = {0};
    if (v) CHECK_OK(ax_volume_write_region(v, zero, p.shape, AX_DTYPE_U16, vox));
    CHECK_OK(ax_volume_close(v));
    FILE *f = fopen(file, "rb");
    uint8_t *bytes = malloc(1 << 20);
    size_t len = f ? fread(bytes, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK(len > 10000);
    char trunc[600];
    test_path(trunc, sizeof trunc, "truncated.h5");
    write_bytes(trunc, bytes, len / 2);
    snprintf(path, sizeof path, "%s:data", trunc);
    expect_open_err(path, AX_E_CORRUPT, "truncated", "truncated.h5");

    /* the header only (the superblock survives, nothing else) */
    test_path(trunc, sizeof trunc, "header_only.h5");
    write_bytes(trunc, bytes, 100);
    snprintf(path, sizeof path, "%s:data", trunc);
    expect_open_err(path, AX_E_CORRUPT, "header_only.h5", "header_only.h5");
    free(bytes);

    char text[600];
    test_path(text, sizeof text, "text.h5");
    static const char words[] = "this is not an HDF5 file, just some text\n";
    write_bytes(text, words, sizeof words - 1);
    snprintf(path, sizeof path, "%s:data", text);
    expect_open_err(path, AX_E_FORMAT, "not an HDF5 file", "text.h5");
    char empty[600];
    test_path(empty, sizeof empty, "empty.h5");
    write_bytes(empty, "", 0);
    expect_open_err(empty, AX_E_FORMAT, "not an HDF5 file", "empty.h5");

    snprintf(path, sizeof path, "%s:nope", file);
    expect_open_err(path, AX_E_NOTFOUND, "no dataset \"nope\"", "whole.h5");
    CHECK(strstr(ax_errmsg(), "whole.h5:data") != NULL); /* lists what is there */
    snprintf(path, sizeof path, "%s:data/deeper", file);
    expect_open_err(path, AX_E_NOTFOUND, "no dataset", "whole.h5");
    char missing[600];
    test_path(missing, sizeof missing, "missing.h5");
    snprintf(path, sizeof path, "%s:data", missing);
    expect_open_err(path, AX_E_NOTFOUND, "missing.h5", "missing.h5");

    /* types axon does not handle, scalar datasets, groups */
    char types[600];
    test_path(types, sizeof types, "types.h5");
    hsize_t dims[3] = {4, 4, 4};
    int16_t s16[64] = {0};
    double f64[64] = {0};
    CHECK(make_h5(types, "i16", H5T_STD_I16LE, H5T_NATIVE_INT16, 3, dims, dims, 0, NULL, s16) == 0);
    CHECK(make_h5(types, "grp/f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dims, dims, 0, NULL,
                  f64) == 0);
    hid_t h = H5Fopen(types, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t sc = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(h, "scalar", H5T_STD_U8LE, sc, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sc);
    H5Fclose(h);
    snprintf(path, sizeof path, "%s:i16", types);
    expect_open_err(path, AX_E_DTYPE, "int16", "types.h5:i16");
    snprintf(path, sizeof path, "%s:grp/f64", types);
    expect_open_err(path, AX_E_DTYPE, "float64", "types.h5:grp/f64");
    snprintf(path, sizeof path, "%s:scalar", types);
    expect_open_err(path, AX_E_RANGE, "scalar", "types.h5:scalar");
    snprintf(path, sizeof path, "%s:grp", types);
    expect_open_err(path, AX_E_NOTFOUND, "is a group", "types.h5:grp/f64");
    expect_open_err(types, AX_E_INVALID, "name a dataset", "types.h5:i16");

    /* corrupt chunks: garbage where a deflate stream should be, a wrong checksum */
    snprintf(path, sizeof path, "%s:data", file);
    h = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(h, "data", H5P_DEFAULT);
    hsize_t off[3] = {0, 0, 0};
    uint8_t junk[300];
    for (int i = 0; i < 300; i++) junk[i] = (uint8_t)(i * 31 + 7);
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, sizeof junk, junk) >= 0);
    H5Dclose(d);
    H5Fclose(h);
    for (int mode = 0; mode < 2; mode++) {
        if (mode) setenv("AX_HDF5_NO_DIRECT", "1", 1);
        v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (v) {
            int64_t st[3] = {0, 0, 0}, sz[3] = {2, 2, 2};
            CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, vox), AX_E_CORRUPT,
                      "whole.h5:data");
            CHECK(strstr(ax_errmsg(), "chunk (0,0,0)") != NULL);
            /* other chunks are fine */
            int64_t st2[3] = {19, 63, 63}, sz2[3] = {1, 1, 1};
            CHECK_OK(ax_volume_read_region(v, st2, sz2, AX_DTYPE_U16, vox));
        }
        ax_volume_close(v);
        unsetenv("AX_HDF5_NO_DIRECT");
    }

    char fl[600];
    test_path(fl, sizeof fl, "fletcher_bad.h5");
    hsize_t fd[1] = {100}, fc[1] = {50};
    uint8_t line[100] = {1, 2, 3};
    CHECK(make_h5(fl, "x", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, fd, fc, F_FLETCHER, NULL, line) ==
          0);
    h = H5Fopen(fl, H5F_ACC_RDWR, H5P_DEFAULT);
    d = H5Dopen2(h, "x", H5P_DEFAULT);
    uint8_t stored[54] = {9};
    hsize_t off1[1] = {50};
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off1, sizeof stored, stored) >= 0);
    H5Dclose(d);
    H5Fclose(h);
    snprintf(path, sizeof path, "%s:x", fl);
    v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (v) {
        int64_t st[1] = {60}, sz[1] = {5};
        CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U8, line), AX_E_CORRUPT, "Fletcher32");
        int64_t st0[1] = {0};
        CHECK_OK(ax_volume_read_region(v, st0, sz, AX_DTYPE_U8, line));
        CHECK(line[0] == 1 && line[2] == 3);
    }
    ax_volume_close(v);
    free(vox);
}

/* ---- creating datasets -------------------------------------------------------------- */

static bool file_has_partial_links(const char *file)
{
    hid_t h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h < 0) return true;
    char name[256];
    bool found = false;
    /* only the groups the tests use */
    static const char *groups[] = {"/", "/grp", "/grp/sub"};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        if (g && H5Lexists(h, groups[g], H5P_DEFAULT) <= 0) continue;
        hid_t gid = H5Gopen2(h, groups[g], H5P_DEFAULT);
        H5G_info_t gi;
        H5Gget_info(gid, &gi);
        for (hsize_t i = 0; i < gi.nlinks; i++) {
            H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT);
            if (strstr(name, ".partial-")) found = true;
        }
        H5Gclose(gid);
    }
    H5Fclose(h);
    return found;
}

static ax_volume_create_params small_params(ax_dtype t)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = 3;
    p.shape[0] = 6;
    p.shape[1] = 7;
    p.shape[2] = 9;
    p.chunks[0] = 4;
    p.chunks[1] = 4;
    p.chunks[2] = 4;
    return p;
}

static int write_const(const char *path, const ax_volume_create_params *p, uint8_t value,
                       bool commit)
{
    ax_volume *v = NULL;
    int rc = ax_volume_create(path, p, &v);
    if (rc) return rc;
    uint8_t buf[6 * 7 * 9];
    memset(buf, value, sizeof buf);
    int64_t zero[3] = {0};
    rc = ax_volume_write_region(v, zero, p->shape, AX_DTYPE_U8, buf);
    if (!commit) {
        ax_volume_abort(v);
        return rc;
    }
    int rc2 = ax_volume_close(v);
    return rc ? rc : rc2;
}

static int read_first(const char *path, uint8_t *value)
{
    ax_volume *v = NULL;
    int rc = ax_volume_open(path, AX_OPEN_READ, &v);
    if (rc) return rc;
    int64_t zero[3] = {0}, one[3] = {1, 1, 1};
    rc = ax_volume_read_region(v, zero, one, AX_DTYPE_U8, value);
    ax_volume_close(v);
    return rc;
}

static void test_add_datasets(void)
{
    char file[600], a[700], b[700], c[700];
    test_path(file, sizeof file, "multi.h5");
    snprintf(a, sizeof a, "%s:raw", file);
    snprintf(b, sizeof b, "%s:grp/sub/labels", file);
    snprintf(c, sizeof c, "%s:grp/aborted", file);
    ax_volume_create_params p = small_params(AX_DTYPE_U8);
    uint8_t x = 0;

    CHECK_OK(write_const(a, &p, 11, true));
    CHECK_OK(write_const(b, &p, 22, true)); /* into the existing file, new groups */
    CHECK_OK(read_first(a, &x));
    CHECK(x == 11);
    CHECK_OK(read_first(b, &x));
    CHECK(x == 22);
    char slash[720];
    snprintf(slash, sizeof slash, "%s/", b); /* a trailing '/' names the same dataset */
    CHECK_OK(read_first(slash, &x));
    CHECK(x == 22);

    /* abort: nothing is left behind, and the others are untouched */
    CHECK_OK(write_const(c, &p, 33, false));
    CHECK_ERR(read_first(c, &x), AX_E_NOTFOUND, "no dataset");
    CHECK(!file_has_partial_links(file));
    CHECK_OK(read_first(a, &x));
    CHECK(x == 11);

    /* an existing dataset: refused, then replaced on request */
    CHECK_ERR(write_const(a, &p, 44, true), AX_E_EXISTS, "multi.h5:raw");
    CHECK_OK(read_first(a, &x));
    CHECK(x == 11);
    p.overwrite = true;
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(a, &p, &v));
    if (v) {
        uint8_t buf[6 * 7 * 9];
        memset(buf, 55, sizeof buf);
        int64_t zero[3] = {0};
        CHECK_OK(ax_volume_write_region(v, zero, p.shape, AX_DTYPE_U8, buf));
        /* before commit the old dataset is what readers see */
        CHECK_OK(read_first(a, &x));
        CHECK(x == 11);
        CHECK_OK(ax_volume_close(v));
    }
    CHECK_OK(read_first(a, &x));
    CHECK(x == 55);
    CHECK(!file_has_partial_links(file));
    /* an aborted overwrite keeps the old one */
    CHECK_OK(write_const(a, &p, 66, false));
    CHECK_OK(read_first(a, &x));
    CHECK(x == 55);
    /* a group is not replaced by a dataset */
    char g[700];
    snprintf(g, sizeof g, "%s:grp", file);
    CHECK_ERR(write_const(g, &p, 1, true), AX_E_EXISTS, "group");
    CHECK_OK(read_first(b, &x));
    CHECK(x == 22);
    CHECK(!file_has_partial_links(file));

    /* only gzip and raw; zlib means gzip; the default is gzip level 6 */
    p.overwrite = false;
    char z[700];
    snprintf(z, sizeof z, "%s:zstd", file);
    p.compression = AX_COMPRESSION_ZSTD;
    CHECK_ERR(write_const(z, &p, 1, true), AX_E_UNSUPPORTED, "HDF5 output supports gzip or raw");
    CHECK(strstr(ax_errmsg(), "multi.h5") != NULL);
    p.compression = AX_COMPRESSION_BLOSC;
    CHECK_ERR(write_const(z, &p, 1, true), AX_E_UNSUPPORTED, "gzip or raw");
    CHECK(!file_has_partial_links(file));
    p.compression = AX_COMPRESSION_DEFAULT;
    snprintf(z, sizeof z, "%s:deflt", file);
    CHECK_OK(write_const(z, &p, 1, true));
    v = NULL;
    CHECK_OK(ax_volume_open(z, AX_OPEN_READ, &v));
    if (v) {
        CHECK(ax_volume_get_info(v)->compression == AX_COMPRESSION_GZIP);
        CHECK(ax_volume_get_info(v)->compression_level == 6);
        CHECK(!ax_volume_get_info(v)->has_voxel_size);
    }
    ax_volume_close(v);
    p.compression = AX_COMPRESSION_ZLIB;
    p.compression_level = 1;
    snprintf(z, sizeof z, "%s:zl", file);
    CHECK_OK(write_const(z, &p, 1, true));
    v = NULL;
    CHECK_OK(ax_volume_open(z, AX_OPEN_READ, &v));
    if (v) {
        CHECK(ax_volume_get_info(v)->compression == AX_COMPRESSION_GZIP);
        CHECK(ax_volume_get_info(v)->compression_level == 1);
    }
    ax_volume_close(v);

    /* no dataset name, or a file that is not HDF5 */
    char bare[700];
    test_path(bare, sizeof bare, "bare.h5");
    CHECK_ERR(write_const(bare, &p, 1, true), AX_E_INVALID, "name the HDF5 dataset");
    char text[600];
    test_path(text, sizeof text, "text_target.h5");
    write_bytes(text, "hello", 5);
    snprintf(bare, sizeof bare, "%s:data", text);
    CHECK_ERR(write_const(bare, &p, 1, true), AX_E_FORMAT, "text_target.h5");

    /* a brand-new file aborted: no file at all */
    char fresh[600];
    test_path(fresh, sizeof fresh, "fresh.h5");
    snprintf(bare, sizeof bare, "%s:data", fresh);
    CHECK_OK(write_const(bare, &p, 1, false));
    CHECK(access(fresh, F_OK) != 0);
}

/* Writes through axon are read identically by libhdf5 (gzip+shuffle, raw), fill value
 * and attributes included. */
static void test_written_by_axon(void)
{
    char file[600], path[700];
    test_path(file, sizeof file, "axon_written.h5");
    static const ax_compression comps[] = {AX_COMPRESSION_GZIP, AX_COMPRESSION_RAW};
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s:%s/f32", file, c ? "raw" : "gzip");
        ax_volume_create_params p = ax_volume_create_params_default();
        p.dtype = AX_DTYPE_F32;
        p.ndim = 3;
        p.shape[0] = 11;
        p.shape[1] = 13;
        p.shape[2] = 17;
        p.chunks[0] = 4;
        p.chunks[1] = 6;
        p.chunks[2] = 5;
        p.compression = comps[c];
        p.fill_value = -1.5;
        p.has_voxel_size = true;
        p.voxel_size[0] = 30;
        p.voxel_size[1] = 8;
        p.voxel_size[2] = 8;
        p.offset[0] = 300;
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_create(path, &p, &v));
        if (!v) continue;
        float box[5 * 5 * 5];
        for (int i = 0; i < 125; i++) box[i] = (float)i * 0.25f;
        int64_t st[3] = {5, 7, 11}, sz[3] = {5, 5, 5};
        CHECK_OK(ax_volume_write_region(v, st, sz, AX_DTYPE_F32, box));
        CHECK_OK(ax_volume_close(v));

        hid_t h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(h, c ? "raw/f32" : "gzip/f32", H5P_DEFAULT);
        float *all = malloc(11 * 13 * 17 * sizeof *all);
        CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0);
        bool ok = true;
        for (int z = 0; z < 11; z++)
            for (int y = 0; y < 13; y++)
                for (int x = 0; x < 17; x++) {
                    bool in = z >= 5 && z < 10 && y >= 7 && y < 12 && x >= 11 && x < 16;
                    float want = in ? box[((z - 5) * 5 + (y - 7)) * 5 + (x - 11)] : -1.5f;
                    if (all[(z * 13 + y) * 17 + x] != want) ok = false;
                }
        CHECK(ok);
        hid_t dcpl = H5Dget_create_plist(d);
        CHECK(H5Pget_nfilters(dcpl) == (c ? 0 : 2));
        double fv = 0;
        H5Pget_fill_value(dcpl, H5T_NATIVE_DOUBLE, &fv);
        CHECK(fv == -1.5);
        H5Pclose(dcpl);
        hid_t a = H5Aopen(d, "resolution", H5P_DEFAULT);
        double r[3] = {0};
        CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, r) >= 0);
        CHECK(r[0] == 30 && r[1] == 8 && r[2] == 8);
        H5Aclose(a);
        a = H5Aopen(d, "offset", H5P_DEFAULT);
        CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, r) >= 0);
        CHECK(r[0] == 300 && r[1] == 0 && r[2] == 0);
        H5Aclose(a);
        free(all);
        H5Dclose(d);
        H5Fclose(h);
    }
}

/* Several threads, each with its own handles on the same files, read at once. */
typedef struct thread_arg {
    const char *path;
    const uint8_t *want;
    size_t n;
    int ok;
} thread_arg;

static void *reader(void *p)
{
    thread_arg *t = p;
    t->ok = 1;
    for (int rep = 0; rep < 3; rep++) {
        ax_volume *v = NULL;
        if (ax_volume_open(t->path, AX_OPEN_READ, &v)) {
            t->ok = 0;
            return NULL;
        }
        ax_volume_set_cache_bytes(v, 0);
        const ax_volume_info *in = ax_volume_get_info(v);
        uint8_t *buf = malloc(t->n);
        int64_t zero[AX_MAX_DIMS] = {0};
        if (ax_volume_read_region(v, zero, in->shape, in->dtype, buf) || memcmp(buf, t->want, t->n))
            t->ok = 0;
        free(buf);
        ax_volume_close(v);
    }
    return NULL;
}

static void test_threads(void)
{
    char file[600], path[700];
    if (!have_data("flyem_medulla/medulla_z0-149.h5", file, sizeof file)) return;
    snprintf(path, sizeof path, "%s:raw", file);
    ax_volume_info in;
    uint8_t *want = read_all(path, &in);
    if (!want) return;
    thread_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){path, want, nelem(&in), 0};
        pthread_create(&th[i], NULL, reader, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].ok);
    }
    free(want);
}

int main(void)
{
    const char *d = getenv("AX_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d && *d ? d : "../shared/data");
    RUN(test_medulla);
    RUN(test_gala_lzf);
    RUN(test_contiguous_real);
    RUN(test_crafted_pipelines);
    RUN(test_lzf_crafted);
    RUN(test_fill_and_attrs);
    RUN(test_odd_dims);
    RUN(test_bad_input);
    RUN(test_add_datasets);
    RUN(test_written_by_axon);
    RUN(test_threads);
    return TEST_REPORT();
}
