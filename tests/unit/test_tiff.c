/* test_tiff.c: the TIFF backends beyond the generic round trips of test_volume.c: the ISBI
 * 2012 stack (real data), files made directly with libtiff (tiled, other page orders,
 * ImageJ metadata, natural slice order), bad input (truncated, not a TIFF, empty
 * directory, pages that differ, RGB), and the multi-page writer's page order machinery:
 * pages out of order, held in memory or spooled, rewritten in place or compacted, read
 * while the file is being written, abort. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "test.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* A page for make_tiff: w x h, samples per pixel, bits, SampleFormat, value = f(z,y,x). */
typedef struct tpage {
    uint32_t w, h;
    int spp, bps, sf;
} tpage;

static uint8_t pix8(int z, uint32_t y, uint32_t x) { return (uint8_t)(z * 31 + y * 7 + x * 3); }

/* Write a TIFF with libtiff itself: n pages, uint8 data pix8 unless bps/spp say otherwise
 * (then zeros), optional tiling and description on page 0. */
static void make_tiff_c(const char *path, int n, const tpage *pages, uint32_t tile,
                        const char *desc, int comp, int predictor)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    for (int z = 0; z < n; z++) {
        const tpage *p = &pages[z];
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, p->w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, p->h);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, p->spp);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, p->bps);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, p->sf);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
                     p->spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
        if (predictor) TIFFSetField(t, TIFFTAG_PREDICTOR, predictor);
        if (z == 0 && desc) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
        size_t row = (size_t)p->w * (size_t)p->spp * (size_t)p->bps / 8;
        uint8_t *img = calloc((size_t)p->h, row);
        if (p->spp == 1 && p->bps == 8)
            for (uint32_t y = 0; y < p->h; y++)
                for (uint32_t x = 0; x < p->w; x++) img[y * row + x] = pix8(z, y, x);
        if (tile) {
            TIFFSetField(t, TIFFTAG_TILEWIDTH, tile);
            TIFFSetField(t, TIFFTAG_TILELENGTH, tile);
            uint8_t *tb = calloc(tile, tile);
            for (uint32_t ty = 0; ty < p->h; ty += tile)
                for (uint32_t tx = 0; tx < p->w; tx += tile) {
                    memset(tb, 0, (size_t)tile * tile);
                    for (uint32_t y = ty; y < ty + tile && y < p->h; y++)
                        for (uint32_t x = tx; x < tx + tile && x < p->w; x++)
                            tb[(y - ty) * tile + (x - tx)] = img[y * row + x];
                    TIFFWriteTile(t, tb, tx, ty, 0, 0);
                }
            free(tb);
        } else {
            TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
            for (uint32_t y = 0; y < p->h; y++) TIFFWriteScanline(t, img + y * row, y, 0);
        }
        free(img);
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
}

static void make_tiff(const char *path, int n, const tpage *pages, uint32_t tile,
                      const char *desc)
{
    make_tiff_c(path, n, pages, tile, desc, COMPRESSION_ADOBE_DEFLATE, 0);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) exit(2);
    fclose(f);
}

/* A one-page uint8 TIFF laid out as tifffile does (header, directory, then the pixels,
 * value = index mod 256), keeping only `keep` of the w*h pixel bytes. */
static void make_ifd_first(const char *path, uint16_t w, uint16_t h, size_t keep)
{
    uint8_t b[256 + 65536] = {0};
    size_t n = 0;
    memcpy(b, "II*\0\x08\0\0\0", 8);
    n = 8;
    const uint16_t tags[][2] = {{256, 0}, {257, 0}, {258, 8}, {259, 1}, {262, 1},
                                {273, 0}, {277, 1}, {278, 0}, {279, 0}};
    const int nt = 9;
    uint32_t data = 8 + 2 + nt * 12 + 4;
    b[n++] = nt;
    b[n++] = 0;
    for (int i = 0; i < nt; i++) {
        uint16_t tag = tags[i][0];
        uint32_t val = tags[i][1];
        uint16_t type = 3; /* SHORT */
        if (tag == 256) val = w;
        if (tag == 257 || tag == 278) val = h;
        if (tag == 273 || tag == 279) {
            type = 4; /* LONG */
            val = tag == 273 ? data : (uint32_t)w * h;
        }
        uint32_t count = 1;
        memcpy(b + n, &tag, 2);
        memcpy(b + n + 2, &type, 2);
        memcpy(b + n + 4, &count, 4);
        memcpy(b + n + 8, &val, 4);
        n += 12;
    }
    n += 4; /* next directory: none */
    for (size_t i = 0; i < (size_t)w * h; i++) b[data + i] = (uint8_t)i;
    write_bytes(path, b, data + keep);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Number of entries in dir whose name contains `needle` (hidden ones included). */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, needle)) n++;
    if (d) closedir(d);
    return n;
}

static ax_volume_create_params params3(ax_dtype t, int64_t z, int64_t y, int64_t x)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = 3;
    p.shape[0] = z;
    p.shape[1] = y;
    p.shape[2] = x;
    return p;
}

static uint16_t val16(int64_t z, int64_t y, int64_t x)
{
    return (uint16_t)(z * 1000 + y * 37 + x * 11 + ((x * y) % 13));
}

/* Write section z of a uint16 volume, whole or only rows [y0, y1). */
static int put_rows(ax_volume *v, int64_t z, int64_t y0, int64_t y1, int64_t w, int salt)
{
    int64_t st[3] = {z, y0, 0}, sz[3] = {1, y1 - y0, w};
    uint16_t *b = malloc((size_t)(y1 - y0) * (size_t)w * 2);
    for (int64_t y = y0; y < y1; y++)
        for (int64_t x = 0; x < w; x++) b[(y - y0) * w + x] = (uint16_t)(val16(z, y, x) + salt);
    int rc = ax_volume_write_region(v, st, sz, AX_DTYPE_U16, b);
    free(b);
    return rc;
}

/* Section z must read as val16 + salt (rows < split) and val16 + salt2 (rows >= split). */
static bool section_is(ax_volume *v, int64_t z, int64_t h, int64_t w, int salt, int64_t split,
                       int salt2)
{
    int64_t st[3] = {z, 0, 0}, sz[3] = {1, h, w};
    uint16_t *b = malloc((size_t)(h * w) * 2);
    bool ok = ax_volume_read_region(v, st, sz, AX_DTYPE_U16, b) == AX_OK;
    for (int64_t y = 0; ok && y < h; y++)
        for (int64_t x = 0; ok && x < w; x++)
            ok = b[y * w + x] == (uint16_t)(val16(z, y, x) + (y < split ? salt : salt2));
    free(b);
    return ok;
}

static bool section_const(ax_volume *v, int64_t z, int64_t h, int64_t w, uint16_t c)
{
    int64_t st[3] = {z, 0, 0}, sz[3] = {1, h, w};
    uint16_t *b = malloc((size_t)(h * w) * 2);
    bool ok = ax_volume_read_region(v, st, sz, AX_DTYPE_U16, b) == AX_OK;
    for (int64_t i = 0; ok && i < h * w; i++) ok = b[i] == c;
    free(b);
    return ok;
}

/* ---- real data -------------------------------------------------------------------- */

static void test_isbi(void)
{
    const char *data = getenv("AX_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/isbi2012/train-volume.tif",
             data && *data ? data : "../shared/data");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "  skip: %s not found (set AX_DATA)\n", path);
        return;
    }
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (!v) return;
    const ax_volume_info *in = ax_volume_get_info(v);
    CHECK(in->format == AX_FORMAT_TIFF && in->dtype == AX_DTYPE_U8 && in->ndim == 3);
    CHECK(in->shape[0] == 30 && in->shape[1] == 512 && in->shape[2] == 512);
    CHECK(in->chunks[0] == 1 && in->chunks[1] == 512 && in->chunks[2] == 512);
    CHECK(in->compression == AX_COMPRESSION_RAW);
    CHECK(!in->has_voxel_size); /* the file's description is {"shape": [30, 512, 512]} only */
    uint8_t *a = malloc(30 * 512 * 512);
    int64_t st[3] = {0, 0, 0}, sz[3] = {30, 512, 512};
    ax_volume_set_cache_bytes(v, 0);
    CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U8, a));
    /* Reference values from tifffile 2023.2.3 (Debian python3-tifffile), obtained with
     *   a = tifffile.imread('isbi2012/train-volume.tif')
     *   a[0,0,0], a[0,100,200], a[29,511,511], a[15,256,300], a[7,3,500], a[29,0,0]
     *   int(a[0].sum()), int(a.sum()) */
#define AT(z, y, x) a[((size_t)(z) * 512 + (y)) * 512 + (x)]
    CHECK(AT(0, 0, 0) == 126);
    CHECK(AT(0, 100, 200) == 188);
    CHECK(AT(29, 511, 511) == 201);
    CHECK(AT(15, 256, 300) == 202);
    CHECK(AT(7, 3, 500) == 117);
    CHECK(AT(29, 0, 0) == 74);
#undef AT
    unsigned long long s0 = 0, all = 0;
    for (size_t i = 0; i < 30 * 512 * 512; i++) {
        all += a[i];
        if (i < 512 * 512) s0 += a[i];
    }
    CHECK(s0 == 35971420ull);
    CHECK(all == 992187925ull);
    /* the same box read again in pieces, from several threads (pooled handles) */
    uint8_t *b = malloc(30 * 512 * 512);
    int64_t st2[3] = {3, 17, 250}, sz2[3] = {25, 400, 262};
    CHECK_OK(ax_volume_read_region(v, st2, sz2, AX_DTYPE_U8, b));
    bool same = true;
    for (int64_t z = 0; z < sz2[0] && same; z++)
        for (int64_t y = 0; y < sz2[1] && same; y++)
            same = !memcmp(b + ((size_t)z * sz2[1] + (size_t)y) * (size_t)sz2[2],
                           a + (((size_t)(z + 3) * 512) + (size_t)(y + 17)) * 512 + 250,
                           (size_t)sz2[2]);
    CHECK(same);
    free(b);
    free(a);
    CHECK_OK(ax_volume_close(v));
}

/* ---- files made by libtiff -------------------------------------------------------- */

static void check_pix8(ax_volume *v, int n, uint32_t h, uint32_t w)
{
    uint8_t *a = malloc((size_t)n * h * w);
    int64_t st[3] = {0, 0, 0}, sz[3] = {n, h, w};
    CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U8, a));
    bool ok = true;
    for (int z = 0; z < n; z++)
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                if (a[((size_t)z * h + y) * w + x] != pix8(z, y, x)) ok = false;
    CHECK(ok);
    free(a);
}

static void test_libtiff_files(void)
{
    char path[600];
    ax_volume *v0 = NULL;
    tpage pg[4];
    for (int i = 0; i < 4; i++) pg[i] = (tpage){45, 37, 1, 8, SAMPLEFORMAT_UINT};
    /* stripped (3 rows per strip, deflate) and tiled (16x16, edges cut) */
    for (int tiled = 0; tiled < 2; tiled++) {
        test_path(path, sizeof path, tiled ? "lt_tiled.tif" : "lt_strips.tif");
        make_tiff(path, 4, pg, tiled ? 16 : 0, NULL);
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (!v) continue;
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(in->shape[0] == 4 && in->shape[1] == 37 && in->shape[2] == 45);
        CHECK(in->compression == AX_COMPRESSION_ZLIB);
        check_pix8(v, 4, 37, 45);
        /* writing a multi-page file that exists is refused, with the reason */
        uint8_t one = 1;
        int64_t st[3] = {0, 0, 0}, sz[3] = {1, 1, 1};
        CHECK(ax_volume_write_region(v, st, sz, AX_DTYPE_U8, &one) != AX_OK);
        CHECK_OK(ax_volume_close(v));
        v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_RW, &v));
        CHECK_ERR(ax_volume_write_region(v, st, sz, AX_DTYPE_U8, &one), AX_E_UNSUPPORTED,
                  "cannot be changed in place");
        ax_volume_close(v);
    }

    /* other codecs libtiff has: LZW with a predictor (Fiji, ImageMagick), PackBits */
    static const struct {
        const char *name;
        int comp, pred, tile;
    } codecs[] = {{"lt_lzw_pred.tif", COMPRESSION_LZW, PREDICTOR_HORIZONTAL, 0},
                  {"lt_packbits.tif", COMPRESSION_PACKBITS, 0, 0},
                  {"lt_deflate_pred_tiled.tif", COMPRESSION_ADOBE_DEFLATE, PREDICTOR_HORIZONTAL,
                   16},
                  {"lt_none.tif", COMPRESSION_NONE, 0, 0}};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        test_path(path, sizeof path, codecs[i].name);
        make_tiff_c(path, 4, pg, (uint32_t)codecs[i].tile, NULL, codecs[i].comp, codecs[i].pred);
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (!v) continue;
        CHECK(ax_volume_get_info(v)->compression ==
              (codecs[i].comp == COMPRESSION_NONE            ? AX_COMPRESSION_RAW
               : codecs[i].comp == COMPRESSION_ADOBE_DEFLATE ? AX_COMPRESSION_ZLIB
                                                             : AX_COMPRESSION_OTHER));
        check_pix8(v, 4, 37, 45);
        ax_volume_close(v);
    }

    /* stacks of several dimensions are refused, not read as one long z */
    test_path(path, sizeof path, "lt_czyx.tif");
    make_tiff(path, 4, pg, 0, "{\"shape\": [2, 2, 37, 45]}");
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v0), AX_E_UNSUPPORTED, "shape 2, 2, 37, 45");
    test_path(path, sizeof path, "lt_ij_hyper.tif");
    make_tiff(path, 4, pg, 0, "ImageJ=1.53t\nimages=4\nchannels=2\nslices=2\nhyperstack=true\n");
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v0), AX_E_UNSUPPORTED, "channels=2");
    test_path(path, sizeof path, "lt_1zyx.tif");
    make_tiff(path, 4, pg, 0, "{\"shape\": [1, 4, 37, 45]}");
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v0));
    ax_volume_close(v0);

    /* ImageJ metadata: spacing (z) and unit, XResolution/YResolution in pixels per unit */
    test_path(path, sizeof path, "lt_imagej.tif");
    {
        TIFF *t = TIFFOpen(path, "w");
        for (int z = 0; z < 2; z++) {
            TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 8);
            TIFFSetField(t, TIFFTAG_IMAGELENGTH, 4);
            TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
            TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
            TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
            TIFFSetField(t, TIFFTAG_XRESOLUTION, 250.0); /* 4 nm pixels in micron */
            TIFFSetField(t, TIFFTAG_YRESOLUTION, 200.0); /* 5 nm */
            TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
            if (z == 0)
                TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION,
                             "ImageJ=1.53t\nimages=2\nslices=2\nunit=micron\nspacing=0.05\n");
            uint16_t row[8] = {0};
            for (uint32_t y = 0; y < 4; y++) TIFFWriteScanline(t, row, y, 0);
            TIFFWriteDirectory(t);
        }
        TIFFClose(t);
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (v) {
            const ax_volume_info *in = ax_volume_get_info(v);
            CHECK(in->dtype == AX_DTYPE_U16 && in->shape[0] == 2);
            CHECK(in->has_voxel_size);
            CHECK(fabs(in->voxel_size[0] - 50) < 1e-6);
            CHECK(fabs(in->voxel_size[1] - 5) < 1e-6 && fabs(in->voxel_size[2] - 4) < 1e-6);
            ax_volume_close(v);
        }
    }

    /* a slice directory in natural order; hidden files, other files and folders ignored */
    char dir[600], f[700];
    test_path(dir, sizeof dir, "lt_slices");
    mkdir(dir, 0755);
    static const char *names[] = {"s10.tif", "s2.tif", "s1.TIFF", "s0003.tiff"};
    static const int order[] = {3, 1, 0, 2}; /* place in natural order: s1, s2, s0003, s10 */
    for (int i = 0; i < 4; i++) {
        tpage one = {6, 5, 1, 8, SAMPLEFORMAT_UINT};
        snprintf(f, sizeof f, "%s/%s", dir, names[i]);
        /* a one-page file whose pixels are pix8(z, ...) with z its place in name order */
        TIFF *t = TIFFOpen(f, "w");
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, one.w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, one.h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        uint8_t row[6];
        for (uint32_t y = 0; y < one.h; y++) {
            for (uint32_t x = 0; x < one.w; x++) row[x] = pix8(order[i], y, x);
            TIFFWriteScanline(t, row, y, 0);
        }
        TIFFClose(t);
    }
    snprintf(f, sizeof f, "%s/.hidden.tif", dir);
    write_bytes(f, "junk", 4);
    snprintf(f, sizeof f, "%s/notes.txt", dir);
    write_bytes(f, "notes", 5);
    snprintf(f, sizeof f, "%s/sub.tif", dir);
    mkdir(f, 0755);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(dir, AX_OPEN_READ, &v));
    if (v) {
        const ax_volume_info *in = ax_volume_get_info(v);
        CHECK(in->format == AX_FORMAT_TIFF_DIR && in->shape[0] == 4);
        check_pix8(v, 4, 5, 6);
        ax_volume_close(v);
    }
}

/* ---- bad input -------------------------------------------------------------------- */

static void test_bad_input(void)
{
    char path[600], f[700];
    ax_volume *v = NULL;

    /* not a TIFF, though named .tif; an empty .tif; a TIFF header and nothing else */
    test_path(path, sizeof path, "bad_text.tif");
    write_bytes(path, "hello, this is not an image\n", 28);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_FORMAT, "bad_text.tif");
    CHECK(v == NULL);
    test_path(path, sizeof path, "bad_empty.tif");
    write_bytes(path, "", 0);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_FORMAT, "bad_empty.tif");
    test_path(path, sizeof path, "bad_header.tif");
    write_bytes(path, "II*\0\x08\0\0\0\x40\0", 10);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_CORRUPT, "bad_header.tif");
    test_path(path, sizeof path, "bad_missing.tif");
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_NOTFOUND, "bad_missing.tif");

    /* truncated: an axon file (each page's data, then its directory) cut in half loses its
     * later directories, caught at open */
    test_path(path, sizeof path, "bad_trunc.tif");
    ax_volume_create_params p = params3(AX_DTYPE_U16, 6, 40, 50);
    CHECK_OK(ax_volume_create(path, &p, &v));
    if (v) {
        for (int z = 0; z < 6; z++) put_rows(v, z, 0, 40, 50, 0);
        CHECK_OK(ax_volume_close(v));
        v = NULL;
    }
    CHECK(truncate(path, file_size(path) / 2) == 0);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_CORRUPT, "bad_trunc.tif");
    CHECK(v == NULL);
    /* a tifffile-style layout (directory first, data after it) cut inside the data: the
     * directory reads fine, the strip runs past the end of the file */
    test_path(path, sizeof path, "bad_trunc2.tif");
    make_ifd_first(path, 64, 50, 64 * 50 / 2);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_CORRUPT, "bad_trunc2.tif");
    CHECK(strstr(ax_errmsg(), "truncated") != NULL);
    test_path(path, sizeof path, "good_ifd_first.tif");
    make_ifd_first(path, 64, 50, 64 * 50);
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (v) {
        uint8_t px[2];
        int64_t st[3] = {0, 49, 62}, sz[3] = {1, 1, 2};
        CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U8, px));
        CHECK(px[0] == (uint8_t)(49 * 64 + 62) && px[1] == (uint8_t)(49 * 64 + 63));
        ax_volume_close(v);
        v = NULL;
    }

    /* damaged compressed data: opens, the page fails to decode, the others read */
    test_path(path, sizeof path, "bad_zlib.tif");
    p = params3(AX_DTYPE_U16, 3, 40, 50);
    p.compression = AX_COMPRESSION_ZLIB;
    CHECK_OK(ax_volume_create(path, &p, &v));
    if (v) {
        for (int z = 0; z < 3; z++) put_rows(v, z, 0, 40, 50, 0);
        CHECK_OK(ax_volume_close(v));
        v = NULL;
    }
    {
        TIFF *t = TIFFOpen(path, "r");
        TIFFSetDirectory(t, 1);
        uint64_t off = TIFFGetStrileOffset(t, 0);
        TIFFClose(t);
        FILE *fh = fopen(path, "r+b");
        fseek(fh, (long)off, SEEK_SET);
        static const uint8_t junk[4] = {0xde, 0xad, 0xbe, 0xef}; /* not a zlib header */
        fwrite(junk, 1, sizeof junk, fh);
        fclose(fh);
    }
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (v) {
        uint16_t buf[40 * 50];
        int64_t st[3] = {1, 0, 0}, sz[3] = {1, 40, 50};
        CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, buf), AX_E_CORRUPT,
                  "bad_zlib.tif: page 1");
        CHECK(section_is(v, 2, 40, 50, 0, 40, 0));
        ax_volume_close(v);
        v = NULL;
    }

    /* pages of different sizes; RGB; 16-bit signed; 64-bit float */
    tpage mix[3] = {{20, 10, 1, 8, SAMPLEFORMAT_UINT},
                    {20, 10, 1, 8, SAMPLEFORMAT_UINT},
                    {21, 10, 1, 8, SAMPLEFORMAT_UINT}};
    test_path(path, sizeof path, "bad_sizes.tif");
    make_tiff(path, 3, mix, 0, NULL);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_FORMAT, "bad_sizes.tif: page 2");
    tpage rgb = {8, 8, 3, 8, SAMPLEFORMAT_UINT};
    test_path(path, sizeof path, "bad_rgb.tif");
    make_tiff(path, 1, &rgb, 0, NULL);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_UNSUPPORTED, "bad_rgb.tif");
    CHECK(strstr(ax_errmsg(), "samples per pixel") != NULL);
    tpage i16 = {8, 8, 1, 16, SAMPLEFORMAT_INT};
    test_path(path, sizeof path, "bad_int16.tif");
    make_tiff(path, 1, &i16, 0, NULL);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_UNSUPPORTED, "16-bit signed");
    tpage f64 = {8, 8, 1, 64, SAMPLEFORMAT_IEEEFP};
    test_path(path, sizeof path, "bad_f64.tif");
    make_tiff(path, 1, &f64, 0, NULL);
    CHECK_ERR(ax_volume_open(path, AX_OPEN_READ, &v), AX_E_UNSUPPORTED, "bad_f64.tif");

    /* directories: none of the files are TIFF; a slice that differs from the first; a
     * slice that is not a TIFF */
    char dir[600];
    test_path(dir, sizeof dir, "bad_dir_empty");
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/readme.txt", dir);
    write_bytes(f, "x", 1);
    CHECK_ERR(ax_volume_open(dir, AX_OPEN_READ, &v), AX_E_NOTFOUND, "bad_dir_empty");
    CHECK_ERR(ax_volume_open("tiffdir:/nonexistent/axon/dir", AX_OPEN_READ, &v), AX_E_NOTFOUND,
              "/nonexistent/axon/dir");
    test_path(dir, sizeof dir, "bad_dir_sizes");
    snprintf(f, sizeof f, "tiffdir:%s", dir);
    p = params3(AX_DTYPE_U16, 3, 10, 12);
    CHECK_OK(ax_volume_create(f, &p, &v));
    if (v) {
        for (int z = 0; z < 3; z++) put_rows(v, z, 0, 10, 12, 0);
        CHECK_OK(ax_volume_close(v));
        v = NULL;
    }
    snprintf(f, sizeof f, "%s/z00001.tif", dir);
    tpage small = {11, 10, 1, 8, SAMPLEFORMAT_UINT};
    make_tiff(f, 1, &small, 0, NULL);
    CHECK_OK(ax_volume_open(dir, AX_OPEN_READ, &v));
    if (v) {
        uint16_t buf[3 * 10 * 12];
        int64_t st[3] = {0, 0, 0}, sz[3] = {3, 10, 12};
        CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, buf), AX_E_FORMAT,
                  "z00001.tif");
        int64_t st0[3] = {2, 0, 0}, sz0[3] = {1, 10, 12};
        CHECK_OK(ax_volume_read_region(v, st0, sz0, AX_DTYPE_U16, buf));
        ax_volume_close(v);
        v = NULL;
    }
    write_bytes(f, "not a tiff", 10);
    CHECK_OK(ax_volume_open(dir, AX_OPEN_READ, &v));
    if (v) {
        uint16_t buf[10 * 12];
        int64_t st[3] = {1, 0, 0}, sz[3] = {1, 10, 12};
        CHECK_ERR(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, buf), AX_E_FORMAT,
                  "z00001.tif");
        ax_volume_close(v);
        v = NULL;
    }

    /* what TIFF cannot store */
    p = params3(AX_DTYPE_U8, 2, 3, 4);
    p.ndim = 4;
    p.shape[3] = 5;
    test_path(path, sizeof path, "bad_4d.tif");
    CHECK_ERR(ax_volume_create(path, &p, &v), AX_E_UNSUPPORTED, "3-d");
    CHECK(file_size(path) < 0 && count_entries(test_tmpdir(), "bad_4d") == 0);
    snprintf(f, sizeof f, "tiffdir:%s/bad_4d_dir", test_tmpdir());
    CHECK_ERR(ax_volume_create(f, &p, &v), AX_E_UNSUPPORTED, "3-d");
    CHECK(count_entries(test_tmpdir(), "bad_4d_dir") == 0);
    p = params3(AX_DTYPE_U8, 2, 3, 4);
    p.compression = AX_COMPRESSION_BLOSC;
    CHECK_ERR(ax_volume_create(path, &p, &v), AX_E_UNSUPPORTED, "blosc");
}

/* ---- the multi-page writer -------------------------------------------------------- */

/* Sections written in reverse order (all held until the last write frees them all), one
 * section never written (fill), reads during writing from held pages, written pages and
 * unwritten ones; then rewrites of written pages (in place when raw, compaction when
 * compressed). hold_mb "0" forces every held page into the spool file. */
static void writer_case(const char *name, ax_compression comp, const char *hold_mb)
{
    const int64_t Z = 7, H = 45, W = 33;
    char path[600];
    test_path(path, sizeof path, name);
    if (hold_mb) setenv("AX_TIFF_HOLD_MB", hold_mb, 1);
    ax_volume_create_params p = params3(AX_DTYPE_U16, Z, H, W);
    p.compression = comp;
    p.fill_value = 9;
    p.has_voxel_size = true;
    p.voxel_size[0] = 30;
    p.voxel_size[1] = p.voxel_size[2] = 5;
    ax_volume *v = NULL;
    int rc = ax_volume_create(path, &p, &v);
    CHECK_OK(rc);
    if (hold_mb) unsetenv("AX_TIFF_HOLD_MB");
    if (rc) return;
    ax_volume_set_cache_bytes(v, 0); /* every read goes to the backend */
    /* z = 6..1 first (held), z = 3 is left out */
    for (int64_t z = Z - 1; z >= 1; z--)
        if (z != 3) CHECK_OK(put_rows(v, z, 0, H, W, 0));
    CHECK(section_is(v, 5, H, W, 0, H, 0));     /* held */
    CHECK(section_const(v, 3, H, W, 9));         /* not written: fill */
    CHECK(section_const(v, 0, H, W, 9));
    CHECK_OK(put_rows(v, 0, 0, H, W, 0));        /* writes 0, 1, 2 */
    CHECK(section_is(v, 1, H, W, 0, H, 0));      /* in the file now */
    CHECK(section_is(v, 4, H, W, 0, H, 0));      /* still held */
    /* rewrite the top rows of sections already in the file, and of a held one */
    CHECK_OK(put_rows(v, 1, 0, 20, W, 100));
    CHECK_OK(put_rows(v, 5, 0, 20, W, 200));
    CHECK(section_is(v, 1, H, W, 100, 20, 0));
    CHECK(section_is(v, 5, H, W, 200, 20, 0));
    CHECK_OK(put_rows(v, 1, 10, 30, W, 300)); /* twice */
    CHECK_OK(ax_volume_close(v));
    CHECK(count_entries(test_tmpdir(), ".spool") == 0);
    CHECK(count_entries(test_tmpdir(), ".compact") == 0);

    v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (!v) return;
    const ax_volume_info *in = ax_volume_get_info(v);
    CHECK(in->shape[0] == Z && in->shape[1] == H && in->shape[2] == W);
    CHECK(in->compression == (comp == AX_COMPRESSION_DEFAULT ? AX_COMPRESSION_RAW
                              : comp == AX_COMPRESSION_GZIP  ? AX_COMPRESSION_ZLIB
                                                             : comp));
    CHECK(in->fill_value == 9);
    CHECK(in->has_voxel_size && in->voxel_size[0] == 30 && in->voxel_size[2] == 5);
    CHECK(section_is(v, 0, H, W, 0, H, 0));
    /* section 1: rows 0-9 salt 100, 10-29 salt 300, 30- salt 0 */
    int64_t st[3] = {1, 0, 0}, sz[3] = {1, H, W};
    uint16_t *b = malloc((size_t)(H * W) * 2);
    CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, b));
    bool ok = true;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            int salt = y < 10 ? 100 : y < 30 ? 300 : 0;
            if (b[y * W + x] != (uint16_t)(val16(1, y, x) + salt)) ok = false;
        }
    CHECK(ok);
    free(b);
    CHECK(section_is(v, 2, H, W, 0, H, 0));
    CHECK(section_const(v, 3, H, W, 9));
    CHECK(section_is(v, 4, H, W, 0, H, 0));
    CHECK(section_is(v, 5, H, W, 200, 20, 0));
    CHECK(section_is(v, 6, H, W, 0, H, 0));
    CHECK_OK(ax_volume_close(v));
}

static void test_writer(void)
{
    writer_case("w_raw.tif", AX_COMPRESSION_DEFAULT, NULL);
    writer_case("w_zlib.tif", AX_COMPRESSION_ZLIB, NULL);
    writer_case("w_gzip_spool.tif", AX_COMPRESSION_GZIP, "0");
    writer_case("w_raw_spool.tif", AX_COMPRESSION_RAW, "0");
    if (TIFFIsCODECConfigured(COMPRESSION_ZSTD))
        writer_case("w_zstd.tif", AX_COMPRESSION_ZSTD, NULL);

    /* a volume whose sections are written in many pieces from many threads (the pool
     * splits a region by chunk; pieces of one section come in the order of the calls) */
    char path[600];
    test_path(path, sizeof path, "w_pieces.tif");
    ax_volume_create_params p = params3(AX_DTYPE_U16, 12, 64, 40);
    p.compression = AX_COMPRESSION_ZLIB;
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(path, &p, &v));
    if (v) {
        for (int64_t y = 0; y < 64; y += 16)
            for (int64_t z = 11; z >= 0; z -= 1) CHECK_OK(put_rows(v, z, y, y + 16, 40, 0));
        CHECK_OK(ax_volume_close(v));
        v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        for (int64_t z = 0; v && z < 12; z++) CHECK(section_is(v, z, 64, 40, 0, 64, 0));
        ax_volume_close(v);
    }
}

/* one region over many sections from many threads: pages reach the writer in whatever
 * order the pool finishes them; then parallel reads of the result */
static void test_parallel(void)
{
    int old = ax_threads_get();
    ax_threads_set(8);
    const int64_t Z = 40, H = 70, W = 50;
    uint16_t *all = malloc((size_t)(Z * H * W) * 2), *back = malloc((size_t)(Z * H * W) * 2);
    for (int64_t z = 0; z < Z; z++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) all[(z * H + y) * W + x] = val16(z, y, x);
    const char *names[] = {"par_raw.tif", "par_zlib.tif", "par_dir"};
    for (int i = 0; i < 3; i++) {
        char path[700];
        if (i < 2) test_path(path, sizeof path, names[i]);
        else snprintf(path, sizeof path, "tiffdir:%s/%s", test_tmpdir(), names[i]);
        ax_volume_create_params p = params3(AX_DTYPE_U16, Z, H, W);
        p.compression = i == 1 ? AX_COMPRESSION_ZLIB : AX_COMPRESSION_RAW;
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_create(path, &p, &v));
        if (!v) continue;
        int64_t st[3] = {0, 0, 0}, sz[3] = {Z, H, W};
        CHECK_OK(ax_volume_write_region(v, st, sz, AX_DTYPE_U16, all));
        ax_volume_set_cache_bytes(v, 0);
        memset(back, 0, (size_t)(Z * H * W) * 2);
        CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, back));
        CHECK(!memcmp(back, all, (size_t)(Z * H * W) * 2));
        CHECK_OK(ax_volume_close(v));
        v = NULL;
        CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
        if (!v) continue;
        ax_volume_set_cache_bytes(v, 0);
        for (int rep = 0; rep < 3; rep++) {
            memset(back, 0, (size_t)(Z * H * W) * 2);
            CHECK_OK(ax_volume_read_region(v, st, sz, AX_DTYPE_U16, back));
            CHECK(!memcmp(back, all, (size_t)(Z * H * W) * 2));
        }
        ax_volume_close(v);
    }
    free(all);
    free(back);
    ax_threads_set(old);
}

/* abort leaves nothing; a failed create leaves nothing */
static void test_abort(void)
{
    char path[600];
    const char *names[] = {"ab_multi.tif", "tiffdir:ab_slices"};
    for (int i = 0; i < 2; i++) {
        if (i == 0) test_path(path, sizeof path, names[i]);
        else snprintf(path, sizeof path, "tiffdir:%s/ab_slices", test_tmpdir());
        ax_volume_create_params p = params3(AX_DTYPE_U16, 5, 20, 20);
        p.compression = AX_COMPRESSION_ZLIB;
        setenv("AX_TIFF_HOLD_MB", "0", 1); /* so a spool file exists too */
        ax_volume *v = NULL;
        CHECK_OK(ax_volume_create(path, &p, &v));
        unsetenv("AX_TIFF_HOLD_MB");
        if (!v) continue;
        CHECK_OK(put_rows(v, 0, 0, 20, 20, 0));
        CHECK_OK(put_rows(v, 3, 0, 20, 20, 0));
        CHECK_OK(put_rows(v, 0, 0, 5, 20, 0));
        ax_volume_abort(v);
        CHECK(count_entries(test_tmpdir(), "ab_") == 0);
    }
}

/* slice directory: names, fill for sections never written, rewriting an opened one */
static void test_slices(void)
{
    char path[700], dir[600], f[700];
    test_path(dir, sizeof dir, "sl_out");
    snprintf(path, sizeof path, "%s/", dir); /* trailing '/' makes a slice directory */
    ax_volume_create_params p = params3(AX_DTYPE_U16, 4, 9, 7);
    p.fill_value = 3;
    p.compression = AX_COMPRESSION_ZLIB;
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_create(path, &p, &v));
    if (!v) return;
    CHECK(ax_volume_get_info(v)->format == AX_FORMAT_TIFF_DIR);
    ax_volume_set_cache_bytes(v, 0);
    CHECK_OK(put_rows(v, 2, 0, 9, 7, 0));
    CHECK(section_is(v, 2, 9, 7, 0, 9, 0));
    CHECK(section_const(v, 1, 9, 7, 3));
    CHECK_OK(ax_volume_close(v));
    for (int z = 0; z < 4; z++) {
        snprintf(f, sizeof f, "%s/z%05d.tif", dir, z);
        CHECK(file_size(f) > 0);
    }
    CHECK(count_entries(dir, ".tmp") == 0);
    v = NULL;
    CHECK_OK(ax_volume_open(dir, AX_OPEN_RW, &v));
    if (!v) return;
    CHECK(ax_volume_get_info(v)->shape[0] == 4 && ax_volume_get_info(v)->fill_value == 3);
    CHECK(section_const(v, 0, 9, 7, 3));
    CHECK_OK(put_rows(v, 0, 0, 9, 7, 5));
    CHECK_OK(ax_volume_close(v));
    v = NULL;
    CHECK_OK(ax_volume_open(dir, AX_OPEN_READ, &v));
    if (v) {
        CHECK(section_is(v, 0, 9, 7, 5, 9, 5));
        CHECK(section_is(v, 2, 9, 7, 0, 9, 0));
        CHECK(section_const(v, 3, 9, 7, 3));
        ax_volume_close(v);
    }
}

int main(void)
{
    RUN(test_isbi);
    RUN(test_libtiff_files);
    RUN(test_bad_input);
    RUN(test_writer);
    RUN(test_parallel);
    RUN(test_abort);
    RUN(test_slices);
    return TEST_REPORT();
}
