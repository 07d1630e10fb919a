/* io_tiff.c: TIFF volumes over libtiff. AX_FORMAT_TIFF is one multi-page file with a page
 * per z section; AX_FORMAT_TIFF_DIR is a directory of single-page files, one per section,
 * in natural name order ("z2.tif" before "z10.tif"), *.tif and *.tiff only, dot files
 * skipped.
 *
 * Both are 3-d (z, y, x) with one chunk per section: chunks = {1, height, width}. Pages are
 * single-channel (SamplesPerPixel 1) uint8/16/32/64, int32 or float32, stripped or tiled, in
 * any compression this libtiff decodes, and must all match the first page in size and type.
 * A multi-page file is checked page by page at open; a slice file when it is read. Reduced-
 * resolution pages (thumbnails) are skipped; a file whose description says it holds
 * several stacks (channels and z: tifffile "shape" or ImageJ channels/slices/frames) is
 * refused rather than read as one long z.
 *
 * METADATA: page 0 (every slice file) gets a tifffile "shaped" ImageDescription plus ours,
 *   {"shape": [z, y, x], "axes": "ZYX", "axon": {"resolution": [z,y,x], "offset": [z,y,x]}}
 * ("shape": [y, x] in slice files; "fill_value" and "labels" too when they are not the
 * defaults) and XResolution/YResolution in pixels per centimetre. On read the "axon" block
 * wins; otherwise ImageJ's "spacing=" and "unit=" give z and the resolution tags y and x
 * (centimetre, inch, or ImageJ's unit), used only when all three are known: a y/x size
 * without z would make the volume look isotropic when it is not.
 *
 * READING: the multi-page file is indexed at open (every IFD is read, checked, and its
 * offset kept, so a read jumps straight to its page; strips that run past the end of the
 * file are reported then, not halfway through a job). libtiff handles are not thread-safe,
 * so a read borrows a handle from a pool and opens another when all are busy (at most
 * TIFF_POOL_MAX stay open). Slice files are opened per read, so reads run in parallel.
 *
 * WRITING: axon compresses the strips itself (zlib streams for ADOBE_DEFLATE, zstd frames
 * for ZSTD, no predictor) outside any lock, so sections compress in parallel, and hands
 * them to libtiff with TIFFWriteRawStrip. Slice files are independent: each is written to
 * a hidden temporary name in the directory and renamed into place, fully in parallel.
 * A multi-page file is written in page order under one lock: write_chunk(z) writes page z
 * when it is the next page due, then the held pages that follow it. A page written again
 * after it went to the file is overwritten in place when uncompressed; a compressed one is
 * held and, at close, the file is copied once into a compact new file (strips are copied
 * raw, nothing is re-encoded). At close(commit) the pages never written get the fill value.
 * BigTIFF is used when the raw data exceed 3.9 GB. Reads of a volume being written come
 * from the held copies or, with pread, from the strips already in the file.
 *
 * MEMORY: pages written before their turn, and rewritten compressed pages, are held encoded
 * (compressed): in memory up to AX_TIFF_HOLD_MB (default 512 MiB), in a spool file next to
 * the build file beyond that (removed at close; the space of a spooled page that is
 * replaced is not reused). Whole sections written in z order, the usual case, hold about
 * one page per thread; the worst case (sections written in reverse order) holds the whole
 * volume, compressed. Per written page axon keeps 8 (raw) or 12 bytes per strip (strips
 * are about 1 MiB raw) and 56 bytes per page.
 *
 * ERRORS: libtiff's messages are caught by per-handle handlers (TIFFOpenExt, libtiff >=
 * 4.5; older versions get process-wide handlers) into a thread-local buffer that the
 * ax__err messages quote; nothing is printed. Warnings are dropped.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "volume/volume_int.h"

#define TIFF_POOL_MAX 32                    /* idle read handles kept per file */
#define TIFF_STRIP_BYTES ((size_t)1 << 20)  /* raw bytes per strip we write, about */
#define TIFF_BIG_BYTES 3900000000ull        /* raw data above this: BigTIFF */
#define TIFF_HOLD_MB_DEFAULT 512            /* held pages kept in memory, MiB */
#define TIFF_PAGE_MAX_BYTES ((size_t)1 << 30) /* volume.c's chunk limit */
#define TIFF_MAX_PAGES ((int64_t)1 << 20)   /* libtiff's default TIFF_MAX_DIR_COUNT */
#define TIFF_MAX_ALLOC ((tmsize_t)1 << 31)  /* libtiff's largest single allocation */

#define TIFF_HAVE_OPEN_EXT (TIFFLIB_VERSION >= 20221213)

/* ---- libtiff messages ------------------------------------------------------------- */

static _Thread_local char tls_msg[512];

static void tmsg_clear(void) { tls_msg[0] = 0; }

static const char *tmsg(void) { return tls_msg[0] ? tls_msg : "libtiff gave no reason"; }

/* Keep the first error since tmsg_clear(): later ones tend to be consequences. The module
 * is a function name or the file name; only the former is worth quoting. */
static void keep_msg(const char *module, const char *fmt, va_list ap)
{
    if (tls_msg[0]) return;
    int n = 0;
    if (module && *module && !strchr(module, '/') && !strchr(module, '.'))
        n = snprintf(tls_msg, sizeof tls_msg, "%s: ", module);
    if (n < 0 || (size_t)n >= sizeof tls_msg) n = 0;
    char m[448];
    vsnprintf(m, sizeof m, fmt, ap);
    /* libtiff often starts with the file name, which our own message already gives */
    const char *text = m, *colon = strstr(m, ": ");
    if (colon && memchr(m, '/', (size_t)(colon - m))) text = colon + 2;
    snprintf(tls_msg + n, sizeof tls_msg - (size_t)n, "%s", text);
}

#if TIFF_HAVE_OPEN_EXT
static int on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)ud;
    keep_msg(module, fmt, ap);
    return 1; /* handled: libtiff's global handler (stderr) is not called */
}

static int on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)ud;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static TIFFOpenOptions *open_options(void)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, NULL);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, TIFF_MAX_ALLOC);
    return o;
}
#else
static void on_error_global(const char *module, const char *fmt, va_list ap)
{
    keep_msg(module, fmt, ap);
}

static void on_warning_global(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    (void)fmt;
    (void)ap;
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static void install_handlers(void)
{
    TIFFSetErrorHandler(on_error_global);
    TIFFSetWarningHandler(on_warning_global);
}
#endif

/* TIFFFdOpen with our handlers. On failure the caller still owns fd. */
static TIFF *fd_open(int fd, const char *name, const char *mode)
{
#if TIFF_HAVE_OPEN_EXT
    TIFFOpenOptions *o = open_options();
    if (!o) return NULL;
    TIFF *t = TIFFFdOpenExt(fd, name, mode, o);
    TIFFOpenOptionsFree(o);
    return t;
#else
    pthread_once(&handlers_once, install_handlers);
    return TIFFFdOpen(fd, name, mode);
#endif
}

/* ---- pages ------------------------------------------------------------------------ */

/* What one page holds. */
typedef struct page_fmt {
    uint32_t w, h;
    ax_dtype dtype;
    uint16_t comp; /* Compression tag */
} page_fmt;

static bool fmt_same(const page_fmt *a, const page_fmt *b)
{
    return a->w == b->w && a->h == b->h && a->dtype == b->dtype;
}

static ax_compression comp_from_tiff(uint16_t c)
{
    switch (c) {
    case COMPRESSION_NONE: return AX_COMPRESSION_RAW;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: return AX_COMPRESSION_ZLIB;
    case COMPRESSION_ZSTD: return AX_COMPRESSION_ZSTD;
    case COMPRESSION_JPEG:
    case COMPRESSION_OJPEG: return AX_COMPRESSION_JPEG;
    default: return AX_COMPRESSION_OTHER;
    }
}

static const char *sample_kind(uint16_t sf)
{
    switch (sf) {
    case SAMPLEFORMAT_UINT: return "unsigned";
    case SAMPLEFORMAT_INT: return "signed";
    case SAMPLEFORMAT_IEEEFP: return "floating-point";
    case SAMPLEFORMAT_VOID: return "untyped";
    default: return "complex or unknown";
    }
}

/* Read the current directory's layout; `page` names it in messages. */
static int describe(TIFF *tif, const char *file, int64_t page, page_fmt *f)
{
    uint32_t w = 0, h = 0, depth = 1;
    uint16_t spp = 1, bps = 1, sf = SAMPLEFORMAT_UINT, comp = COMPRESSION_NONE;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        return ax__err(AX_E_FORMAT, "%s: page %lld has no ImageWidth/ImageLength", file,
                       (long long)page);
    if (!w || !h)
        return ax__err(AX_E_FORMAT, "%s: page %lld is %ux%u pixels", file, (long long)page, w, h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sf);
    TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &depth);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (spp != 1)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: page %lld has %u samples per pixel (RGB or multi-channel); axon reads "
                       "single-channel (grey) TIFF only",
                       file, (long long)page, spp);
    if (depth > 1)
        return ax__err(AX_E_UNSUPPORTED, "%s: page %lld is volumetric (ImageDepth %u)", file,
                       (long long)page, depth);
    ax_dtype t = AX_DTYPE_UNKNOWN;
    if (sf == SAMPLEFORMAT_UINT) {
        t = bps == 8 ? AX_DTYPE_U8 : bps == 16 ? AX_DTYPE_U16 : bps == 32 ? AX_DTYPE_U32
            : bps == 64 ? AX_DTYPE_U64 : AX_DTYPE_UNKNOWN;
    } else if (sf == SAMPLEFORMAT_INT && bps == 32) {
        t = AX_DTYPE_I32;
    } else if (sf == SAMPLEFORMAT_IEEEFP && bps == 32) {
        t = AX_DTYPE_F32;
    }
    if (t == AX_DTYPE_UNKNOWN)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: page %lld has %u-bit %s samples (axon reads uint8/16/32/64, int32, "
                       "float32)",
                       file, (long long)page, bps, sample_kind(sf));
    if (!TIFFIsCODECConfigured(comp))
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: page %lld uses TIFF compression %u, which this libtiff cannot decode",
                       file, (long long)page, comp);
    f->w = w;
    f->h = h;
    f->dtype = t;
    f->comp = comp;
    return AX_OK;
}

static int mismatch(const char *file, int64_t page, const page_fmt *f, const char *first,
                    const page_fmt *f0)
{
    return ax__err(AX_E_FORMAT,
                   "%s: page %lld is %ux%u %s but %s is %ux%u %s (all sections must match)", file,
                   (long long)page, f->w, f->h, ax_dtype_name(f->dtype), first, f0->w, f0->h,
                   ax_dtype_name(f0->dtype));
}

/* Every strip or tile of the current directory must lie inside the file. */
static int check_extent(TIFF *tif, const char *file, int64_t page, uint64_t fsize)
{
    uint32_t n = TIFFIsTiled(tif) ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = TIFFGetStrileOffset(tif, i), cnt = TIFFGetStrileByteCount(tif, i);
        if (cnt && (off > fsize || cnt > fsize - off))
            return ax__err(AX_E_CORRUPT,
                           "%s: page %lld: %s %u ends at byte %llu but the file has %llu bytes "
                           "(truncated?)",
                           file, (long long)page, TIFFIsTiled(tif) ? "tile" : "strip", i,
                           (unsigned long long)(off + cnt), (unsigned long long)fsize);
    }
    return AX_OK;
}

/* Decode the current directory (layout f) into buf, h*w elements. */
static int read_page(TIFF *tif, const char *file, int64_t page, const page_fmt *f, uint8_t *buf)
{
    size_t elem = ax_dtype_size(f->dtype), row = (size_t)f->w * elem;
    tmsg_clear();
    if (TIFFScanlineSize64(tif) != row)
        return ax__err(AX_E_FORMAT, "%s: page %lld: rows are %llu bytes, %zu expected", file,
                       (long long)page, (unsigned long long)TIFFScanlineSize64(tif), row);
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        tmsize_t ts = TIFFTileSize(tif);
        if (!tw || !th || ts <= 0 || (uint64_t)ts != (uint64_t)tw * th * elem ||
            (size_t)ts > TIFF_PAGE_MAX_BYTES)
            return ax__err(AX_E_FORMAT, "%s: page %lld: bad tile size %ux%u", file,
                           (long long)page, tw, th);
        uint8_t *tb = malloc((size_t)ts);
        if (!tb) return ax__err(AX_E_NOMEM, "%s: out of memory for a tile", file);
        for (uint64_t y = 0; y < f->h; y += th) {
            for (uint64_t x = 0; x < f->w; x += tw) {
                uint32_t ti = TIFFComputeTile(tif, (uint32_t)x, (uint32_t)y, 0, 0);
                if (TIFFReadEncodedTile(tif, ti, tb, ts) != ts) {
                    free(tb);
                    return ax__err(AX_E_CORRUPT, "%s: page %lld: tile %u: %s", file,
                                   (long long)page, ti, tmsg());
                }
                uint64_t rows = f->h - y < th ? f->h - y : th;
                uint64_t cols = f->w - x < tw ? f->w - x : tw;
                for (uint64_t r = 0; r < rows; r++)
                    memcpy(buf + ((y + r) * f->w + x) * elem, tb + r * tw * elem, cols * elem);
            }
        }
        free(tb);
        return AX_OK;
    }
    uint32_t rps = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > f->h) rps = f->h;
    uint64_t want = ((uint64_t)f->h + rps - 1) / rps;
    if (TIFFNumberOfStrips(tif) < want)
        return ax__err(AX_E_FORMAT, "%s: page %lld has %u strips, %llu expected", file,
                       (long long)page, TIFFNumberOfStrips(tif), (unsigned long long)want);
    for (uint64_t s = 0; s < want; s++) {
        uint64_t y = s * rps, rows = f->h - y < rps ? f->h - y : rps;
        tmsize_t size = (tmsize_t)(rows * row);
        if (TIFFReadEncodedStrip(tif, (uint32_t)s, buf + y * row, size) != size)
            return ax__err(AX_E_CORRUPT, "%s: page %lld: strip %llu: %s", file, (long long)page,
                           (unsigned long long)s, tmsg());
    }
    return AX_OK;
}

/* Open for reading. Missing: AX_E_NOTFOUND; not a TIFF: AX_E_FORMAT; a TIFF header whose
 * first directory cannot be read: AX_E_CORRUPT. *size: the file's size. */
static int open_read(const char *path, TIFF **out, uint64_t *size)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return ax__err(AX_E_NOTFOUND, "%s: no such file", path);
        return ax__err(AX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    uint8_t m[4] = {0};
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return ax__err(AX_E_FORMAT, "%s: is a directory, not a TIFF file (tiffdir: reads slices)",
                       path);
    }
    if (pread(fd, m, 4, 0) != 4 ||
        (memcmp(m, "II*\0", 4) && memcmp(m, "MM\0*", 4) && memcmp(m, "II+\0", 4) &&
         memcmp(m, "MM\0+", 4))) {
        close(fd);
        return ax__err(AX_E_FORMAT, "%s: not a TIFF file (no TIFF header)", path);
    }
    tmsg_clear();
    TIFF *t = fd_open(fd, path, "rm");
    if (!t) {
        close(fd);
        return ax__err(AX_E_CORRUPT, "%s: damaged or truncated TIFF file: %s", path, tmsg());
    }
    if (size) *size = (uint64_t)st.st_size;
    *out = t;
    return AX_OK;
}

static int open_write(const char *path, bool big, TIFF **out)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ax__err(AX_E_IO, "%s: cannot create: %s", path, strerror(errno));
    tmsg_clear();
    TIFF *t = fd_open(fd, path, big ? "w8" : "w");
    if (!t) {
        close(fd);
        return ax__err(AX_E_IO, "%s: cannot start a TIFF file: %s", path, tmsg());
    }
    *out = t;
    return AX_OK;
}

/* Close a handle we wrote; TIFFClose reports nothing, so flush first. */
static int close_write(TIFF *tif, const char *file, bool check)
{
    int rc = AX_OK;
    tmsg_clear();
    if (check && !TIFFFlush(tif))
        rc = ax__err(AX_E_IO, "%s: cannot finish the TIFF file: %s", file, tmsg());
    TIFFClose(tif);
    return rc;
}

/* ---- metadata --------------------------------------------------------------------- */

static double unit_nm(const char *u, size_t n)
{
    static const struct {
        const char *name;
        double nm;
    } tab[] = {{"nm", 1},          {"nanometer", 1},   {"nanometers", 1}, {"nanometre", 1},
               {"um", 1e3},        {"micron", 1e3},    {"microns", 1e3},  {"micrometer", 1e3},
               {"\xc2\xb5m", 1e3}, {"\\u00B5m", 1e3},  {"\\u00b5m", 1e3}, {"mm", 1e6},
               {"cm", 1e7},        {"m", 1e9},         {"angstrom", 0.1}, {"\xc3\x85", 0.1}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].name) == n && !strncmp(u, tab[i].name, n)) return tab[i].nm;
    return 0;
}

/* A multi-page file that says its pages are more than one stack (channels and z, time and
 * z) is refused rather than read as one long z: tifffile's shaped "shape" with more than
 * one axis > 1 before y, x, or ImageJ's channels/slices/frames with more than one > 1. */
static int check_stack(TIFF *tif, const char *file)
{
    const char *desc = NULL;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc) return AX_OK;
    int big = 0;
    char what[160] = "";
    if (desc[0] == '{') {
        json_t *j = json_loads(desc, 0, NULL);
        const json_t *sh = json_object_get(j, "shape");
        size_t n = json_array_size(sh);
        int w = 0;
        for (size_t i = 0; i < n && w >= 0 && (size_t)w < sizeof what; i++) {
            json_int_t e = json_integer_value(json_array_get(sh, i));
            if (i + 2 < n && e > 1) big++;
            w += snprintf(what + w, sizeof what - (size_t)w, "%s%lld", i ? ", " : "shape ",
                          (long long)e);
        }
        json_decref(j);
    } else if (!strncmp(desc, "ImageJ=", 7)) {
        static const char *keys[] = {"channels=", "slices=", "frames="};
        int w = 0;
        for (int k = 0; k < 3; k++) {
            const char *at = strstr(desc, keys[k]);
            long e = at ? strtol(at + strlen(keys[k]), NULL, 10) : 1;
            if (e > 1) {
                big++;
                w += snprintf(what + w, sizeof what - (size_t)w, "%s%s%ld", w ? ", " : "",
                              keys[k], e);
            }
        }
    }
    if (big > 1)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: holds a multi-dimensional stack (%s); axon reads a TIFF as one "
                       "(z, y, x) stack",
                       file, what);
    return AX_OK;
}

/* ImageJ description lines "key=value": spacing (z) and unit. */
static void imagej_spacing(const char *d, double *z_nm, double *unit)
{
    double spacing = 0;
    for (const char *line = d; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 8 && !strncmp(line, "spacing=", 8)) spacing = strtod(line + 8, NULL);
        if (n > 5 && !strncmp(line, "unit=", 5)) *unit = unit_nm(line + 5, n - 5);
        line = end ? end + 1 : NULL;
    }
    if (spacing > 0 && *unit > 0) *z_nm = spacing * *unit;
}

/* Voxel size, offset, fill value and label flag from the current (first) page. Everything
 * here is advisory: what does not parse is ignored. */
static void read_meta(ax_volume *v, TIFF *tif, const char *file)
{
    ax_volume_info *in = &v->info;
    const char *desc = NULL;
    double z_nm = 0, ij_unit = 0;
    if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc) {
        if (desc[0] == '{') {
            json_t *j = json_loads(desc, 0, NULL);
            const json_t *a = json_object_get(j, "axon");
            if (json_is_object(a)) {
                double r[3], o[3];
                int n = 0;
                if (ax__json_num_array(a, "resolution", r, 3, &n, true, file) == AX_OK &&
                    n == 3) {
                    memcpy(in->voxel_size, r, sizeof r);
                    in->has_voxel_size = true;
                }
                if (ax__json_num_array(a, "offset", o, 3, &n, true, file) == AX_OK && n == 3)
                    memcpy(in->offset, o, sizeof o);
                const json_t *fv = json_object_get(a, "fill_value");
                if (json_is_number(fv)) in->fill_value = json_number_value(fv);
                else if (json_is_string(fv) && !strcmp(json_string_value(fv), "NaN"))
                    in->fill_value = in->dtype == AX_DTYPE_F32 ? NAN : 0;
                in->is_labels = json_is_true(json_object_get(a, "labels"));
            }
            json_decref(j);
        } else if (!strncmp(desc, "ImageJ=", 7)) {
            imagej_spacing(desc, &z_nm, &ij_unit);
        }
    }
    ax_errclear();
    if (in->has_voxel_size || !(z_nm > 0)) return;
    float xr = 0, yr = 0;
    uint16_t ru = RESUNIT_INCH;
    if (!TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr) ||
        !TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr) || !(xr > 0) || !(yr > 0))
        return;
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &ru);
    double unit = ru == RESUNIT_CENTIMETER ? 1e7 : ru == RESUNIT_INCH ? 2.54e7 : ij_unit;
    if (!(unit > 0)) return;
    in->voxel_size[0] = z_nm;
    in->voxel_size[1] = unit / yr;
    in->voxel_size[2] = unit / xr;
    in->has_voxel_size = true;
}

static json_t *f64_array(const double *a, int n)
{
    json_t *j = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(j, json_real(a[i]));
    return j;
}

/* The ImageDescription we write: whole-volume shape, or one section's for a slice file. */
static char *make_desc(const ax_volume *v, bool whole)
{
    const ax_volume_info *in = &v->info;
    json_t *j = json_object(), *shape = json_array(), *a = json_object();
    for (int d = whole ? 0 : 1; d < 3; d++)
        json_array_append_new(shape, json_integer(in->shape[d]));
    json_object_set_new(j, "shape", shape);
    json_object_set_new(j, "axes", json_string(whole ? "ZYX" : "YX"));
    if (in->has_voxel_size) json_object_set_new(a, "resolution", f64_array(in->voxel_size, 3));
    if (in->offset[0] != 0 || in->offset[1] != 0 || in->offset[2] != 0)
        json_object_set_new(a, "offset", f64_array(in->offset, 3));
    double fv = in->fill_value;
    if (fv != fv) json_object_set_new(a, "fill_value", json_string("NaN"));
    else if (fv != 0) json_object_set_new(a, "fill_value", json_real(fv));
    if (in->is_labels) json_object_set_new(a, "labels", json_true());
    if (json_object_size(a)) json_object_set(j, "axon", a);
    json_decref(a);
    char *s = json_dumps(j, JSON_REAL_PRECISION(15));
    json_decref(j);
    return s;
}

/* ---- writing pages ---------------------------------------------------------------- */

/* How axon writes a page. */
typedef struct wspec {
    uint32_t w, h, rps, nstrips;
    size_t elem, row, page_bytes;
    ax_dtype dtype;
    ax_compression comp; /* RAW, ZLIB or ZSTD */
    int level;
    uint16_t tcomp;      /* Compression tag */
    bool res;            /* write XResolution/YResolution */
    double xres, yres;   /* pixels per cm */
    bool big;            /* BigTIFF */
    uint32_t *raw_lens;  /* strip sizes of an uncompressed page */
} wspec;

/* Check the volume fits TIFF and fill s. comp is the compression asked for. */
static int wspec_init(const ax_volume *v, ax_compression comp, int level, wspec *s,
                      const char *what)
{
    const ax_volume_info *in = &v->info;
    memset(s, 0, sizeof *s);
    if (in->ndim != 3)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: TIFF holds 3-d volumes (z, y, x), this one has %d dimensions (use "
                       "zarr, n5 or hdf5 for channels)",
                       what, in->ndim);
    if (in->shape[1] > UINT32_MAX || in->shape[2] > UINT32_MAX)
        return ax__err(AX_E_RANGE, "%s: sections of %lldx%lld are too large for TIFF", what,
                       (long long)in->shape[1], (long long)in->shape[2]);
    if (in->shape[0] > TIFF_MAX_PAGES)
        return ax__err(AX_E_RANGE, "%s: %lld sections (axon's TIFF limit is %lld)", what,
                       (long long)in->shape[0], (long long)TIFF_MAX_PAGES);
    s->dtype = in->dtype;
    s->elem = ax_dtype_size(in->dtype);
    s->w = (uint32_t)in->shape[2];
    s->h = (uint32_t)in->shape[1];
    s->row = (size_t)s->w * s->elem;
    if ((uint64_t)s->row * s->h > TIFF_PAGE_MAX_BYTES)
        return ax__err(AX_E_RANGE, "%s: a %ux%u %s section is over axon's 1 GiB chunk limit",
                       what, s->h, s->w, ax_dtype_name(in->dtype));
    s->page_bytes = s->row * s->h;
    size_t rps = TIFF_STRIP_BYTES / s->row;
    s->rps = rps < 1 ? 1 : rps > s->h ? s->h : (uint32_t)rps;
    s->nstrips = (s->h + s->rps - 1) / s->rps;
    switch (comp) {
    case AX_COMPRESSION_DEFAULT:
    case AX_COMPRESSION_RAW:
        s->comp = AX_COMPRESSION_RAW;
        s->tcomp = COMPRESSION_NONE;
        break;
    case AX_COMPRESSION_GZIP:
    case AX_COMPRESSION_ZLIB:
        s->comp = AX_COMPRESSION_ZLIB;
        s->tcomp = COMPRESSION_ADOBE_DEFLATE;
        break;
    case AX_COMPRESSION_ZSTD:
        s->comp = AX_COMPRESSION_ZSTD;
        s->tcomp = COMPRESSION_ZSTD;
        if (!TIFFIsCODECConfigured(COMPRESSION_ZSTD))
            return ax__err(AX_E_UNSUPPORTED, "%s: this libtiff is built without zstd", what);
        break;
    default:
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: TIFF cannot be written with %s compression (raw, zlib/gzip, zstd)",
                       what, ax_compression_name(comp));
    }
    s->level = s->comp == AX_COMPRESSION_RAW ? -1
               : level >= 0                 ? level
               : s->comp == AX_COMPRESSION_ZSTD ? 3
                                                : 6;
    if (in->has_voxel_size && in->voxel_size[1] > 0 && in->voxel_size[2] > 0) {
        s->res = true;
        s->yres = 1e7 / in->voxel_size[1];
        s->xres = 1e7 / in->voxel_size[2];
    }
    s->big = (uint64_t)in->shape[0] * s->page_bytes > TIFF_BIG_BYTES;
    s->raw_lens = malloc(s->nstrips * sizeof *s->raw_lens);
    if (!s->raw_lens) return ax__err(AX_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < s->nstrips; i++) {
        uint32_t y = i * s->rps, rows = s->h - y < s->rps ? s->h - y : s->rps;
        s->raw_lens[i] = (uint32_t)(rows * s->row);
    }
    return AX_OK;
}

static size_t strip_rows(const wspec *s, uint32_t i)
{
    uint32_t y = i * s->rps;
    return s->h - y < s->rps ? s->h - y : s->rps;
}

/* An encoded page: the strips back to back, in memory or in the spool file. */
typedef struct blob {
    uint8_t *mem;      /* NULL when spooled */
    int64_t spool_off;
    size_t len;
    uint32_t *lens;    /* per strip; NULL: uncompressed (wspec.raw_lens) */
} blob;

static void blob_free(blob *b)
{
    free(b->mem);
    free(b->lens);
    memset(b, 0, sizeof *b);
    b->spool_off = -1;
}

/* Compress a page (copy it when uncompressed) into b. */
static int encode_page(const wspec *s, const uint8_t *src, blob *b, const char *what)
{
    memset(b, 0, sizeof *b);
    b->spool_off = -1;
    if (s->comp == AX_COMPRESSION_RAW) {
        b->mem = malloc(s->page_bytes);
        if (!b->mem) return ax__err(AX_E_NOMEM, "%s: out of memory", what);
        memcpy(b->mem, src, s->page_bytes);
        b->len = s->page_bytes;
        return AX_OK;
    }
    size_t cap = s->page_bytes / 2 + 4096;
    b->lens = malloc(s->nstrips * sizeof *b->lens);
    b->mem = malloc(cap);
    if (!b->lens || !b->mem) {
        blob_free(b);
        return ax__err(AX_E_NOMEM, "%s: out of memory", what);
    }
    for (uint32_t i = 0; i < s->nstrips; i++) {
        uint8_t *o = NULL;
        size_t on = 0;
        int rc = ax__compress(s->comp, s->level, s->elem, src + (size_t)i * s->rps * s->row,
                              strip_rows(s, i) * s->row, &o, &on);
        if (rc < 0) {
            blob_free(b);
            return ax__err_prefix(rc, "%s", what);
        }
        if (on > UINT32_MAX) {
            free(o);
            blob_free(b);
            return ax__err(AX_E_RANGE, "%s: a compressed strip is over 4 GiB", what);
        }
        if (b->len + on > cap) {
            while (b->len + on > cap) cap *= 2;
            uint8_t *m = realloc(b->mem, cap);
            if (!m) {
                free(o);
                blob_free(b);
                return ax__err(AX_E_NOMEM, "%s: out of memory", what);
            }
            b->mem = m;
        }
        memcpy(b->mem + b->len, o, on);
        b->len += on;
        b->lens[i] = (uint32_t)on;
        free(o);
    }
    return AX_OK;
}

/* Undo encode_page: strips `src` (sizes lens, NULL = raw) into a page. */
static int decode_strips(const wspec *s, const uint8_t *src, const uint32_t *lens, uint8_t *dst,
                         const char *what)
{
    if (!lens) {
        memcpy(dst, src, s->page_bytes);
        return AX_OK;
    }
    for (uint32_t i = 0; i < s->nstrips; i++) {
        int rc = ax__decompress(s->comp, src, lens[i], dst + (size_t)i * s->rps * s->row,
                                strip_rows(s, i) * s->row, what);
        if (rc < 0) return rc;
        src += lens[i];
    }
    return AX_OK;
}

/* Write one page (strips `data`, sizes lens or NULL for raw) and close its directory.
 * offs, if not NULL, receives where the strips went. */
static int put_page(TIFF *tif, const wspec *s, const uint8_t *data, const uint32_t *lens,
                    const char *desc, const char *file, int64_t page, uint64_t *offs)
{
    if (!lens) lens = s->raw_lens;
    uint16_t sf = s->dtype == AX_DTYPE_F32   ? SAMPLEFORMAT_IEEEFP
                  : s->dtype == AX_DTYPE_I32 ? SAMPLEFORMAT_INT
                                             : SAMPLEFORMAT_UINT;
    tmsg_clear();
    int ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, (uint32_t)0) &&
             TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, s->w) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, s->h) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (int)(s->elem * 8)) &&
             TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (int)sf) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, s->rps) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, (int)s->tcomp) &&
             TIFFSetField(tif, TIFFTAG_SOFTWARE, "axon");
    if (ok && desc) ok = TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, desc);
    if (ok && s->res)
        ok = TIFFSetField(tif, TIFFTAG_XRESOLUTION, s->xres) &&
             TIFFSetField(tif, TIFFTAG_YRESOLUTION, s->yres) &&
             TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    if (!ok)
        return ax__err(AX_E_INTERNAL, "%s: page %lld: cannot set the TIFF tags: %s", file,
                       (long long)page, tmsg());
    for (uint32_t i = 0; i < s->nstrips; i++) {
        if (TIFFWriteRawStrip(tif, i, (void *)data, (tmsize_t)lens[i]) != (tmsize_t)lens[i])
            return ax__err(AX_E_IO, "%s: page %lld: writing strip %u failed: %s", file,
                           (long long)page, i, tmsg());
        data += lens[i];
    }
    if (offs) {
        const uint64_t *o = NULL;
        if (!TIFFGetField(tif, TIFFTAG_STRIPOFFSETS, &o) || !o)
            return ax__err(AX_E_INTERNAL, "%s: page %lld: libtiff lost the strip offsets", file,
                           (long long)page);
        memcpy(offs, o, s->nstrips * sizeof *offs);
    }
    if (!TIFFWriteDirectory(tif))
        return ax__err(AX_E_IO, "%s: page %lld: writing the directory failed: %s", file,
                       (long long)page, tmsg());
    return AX_OK;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off, const char *file)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ax__err(AX_E_IO, "%s: read at byte %llu failed: %s", file,
                           (unsigned long long)off, r < 0 ? strerror(errno) : "end of file");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return AX_OK;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off, const char *file)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ax__err(AX_E_IO, "%s: write at byte %llu failed: %s", file,
                           (unsigned long long)off, r < 0 ? strerror(errno) : "nothing written");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return AX_OK;
}

/* ---- multi-page writer ------------------------------------------------------------ */

enum { PG_NONE = 0, PG_HELD, PG_FILE, PG_DIRTY };

typedef struct wpage {
    uint8_t state;
    blob held;       /* PG_HELD, PG_DIRTY: the newest contents */
    uint64_t *offs;  /* PG_FILE, PG_DIRTY: its strips in the file... */
    uint32_t *lens;  /* ...and their sizes (NULL: uncompressed) */
} wpage;

typedef struct tiff_writer {
    pthread_mutex_t lock;
    bool lock_ok;
    TIFF *tif;
    int fd;            /* tif's descriptor: pread of written pages, in-place rewrites */
    wspec s;
    char *file;        /* the build path */
    char *desc;        /* page 0's description */
    double fill;       /* value of pages never written */
    int64_t npages, next;
    wpage *pages;
    bool any_dirty;
    int failed;        /* an error that left the file unusable */
    size_t held_mem, hold_cap;
    char *spool_path;
    int spool_fd;
    int64_t spool_end;
} tiff_writer;

static const uint8_t *held_data(tiff_writer *w, const blob *b, uint8_t **tmp, int *rc)
{
    *tmp = NULL;
    *rc = AX_OK;
    if (b->mem) return b->mem;
    *tmp = malloc(b->len ? b->len : 1);
    if (!*tmp) {
        *rc = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
        return NULL;
    }
    *rc = pread_all(w->spool_fd, *tmp, b->len, (uint64_t)b->spool_off, w->spool_path);
    return *rc < 0 ? NULL : *tmp;
}

/* Keep b (taken over) as page pg's pending contents: in memory or in the spool. */
static int hold(tiff_writer *w, wpage *pg, blob *b)
{
    if (pg->held.mem) w->held_mem -= pg->held.len;
    blob_free(&pg->held);
    if (w->held_mem + b->len > w->hold_cap) {
        if (w->spool_fd < 0) {
            w->spool_path = ax__asprintf("%s.spool", w->file);
            if (!w->spool_path) return ax__err(AX_E_NOMEM, "out of memory");
            w->spool_fd = open(w->spool_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (w->spool_fd < 0)
                return ax__err(AX_E_IO, "%s: cannot create: %s", w->spool_path, strerror(errno));
        }
        int rc = pwrite_all(w->spool_fd, b->mem, b->len, (uint64_t)w->spool_end, w->spool_path);
        if (rc < 0) return rc;
        free(b->mem);
        b->mem = NULL;
        b->spool_off = w->spool_end;
        w->spool_end += (int64_t)b->len;
    } else {
        w->held_mem += b->len;
    }
    pg->held = *b;
    memset(b, 0, sizeof *b);
    b->spool_off = -1;
    return AX_OK;
}

/* Write page z (== w->next) from data; lens (NULL: raw) is taken over. */
static int flush_page(tiff_writer *w, int64_t z, const uint8_t *data, uint32_t *lens)
{
    wpage *pg = &w->pages[z];
    uint64_t *offs = malloc(w->s.nstrips * sizeof *offs);
    if (!offs) {
        free(lens);
        return w->failed = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
    }
    int rc = put_page(w->tif, &w->s, data, lens, z == 0 ? w->desc : NULL, w->file, z, offs);
    if (rc < 0) {
        free(offs);
        free(lens);
        return w->failed = rc;
    }
    pg->state = PG_FILE;
    pg->offs = offs;
    pg->lens = lens;
    w->next++;
    return AX_OK;
}

/* Write the held pages that are now due. */
static int drain(tiff_writer *w)
{
    while (w->next < w->npages && w->pages[w->next].state == PG_HELD) {
        wpage *pg = &w->pages[w->next];
        uint8_t *tmp;
        int rc;
        const uint8_t *data = held_data(w, &pg->held, &tmp, &rc);
        if (!data) return w->failed = rc;
        uint32_t *lens = pg->held.lens;
        pg->held.lens = NULL;
        if (pg->held.mem) w->held_mem -= pg->held.len;
        rc = flush_page(w, w->next, data, lens);
        free(tmp);
        blob_free(&pg->held);
        if (rc < 0) return rc;
    }
    return AX_OK;
}

static int writer_put(tiff_writer *w, int64_t z, const uint8_t *buf)
{
    blob b = {.spool_off = -1};
    bool raw = w->s.comp == AX_COMPRESSION_RAW;
    int rc = raw ? AX_OK : encode_page(&w->s, buf, &b, w->file);
    if (rc < 0) return rc;
    pthread_mutex_lock(&w->lock);
    wpage *pg = &w->pages[z];
    if (w->failed) {
        rc = ax__err(w->failed, "%s: an earlier write failed, the file is unusable", w->file);
    } else if (pg->state == PG_FILE && raw) {
        /* same size: overwrite the strips where they are */
        for (uint32_t i = 0; i < w->s.nstrips && rc == AX_OK; i++)
            rc = pwrite_all(w->fd, buf + (size_t)i * w->s.rps * w->s.row, w->s.raw_lens[i],
                            pg->offs[i], w->file);
        if (rc < 0) w->failed = rc;
    } else if (z == w->next) {
        uint32_t *lens = b.lens;
        b.lens = NULL;
        rc = flush_page(w, z, raw ? buf : b.mem, lens);
        if (rc == AX_OK) rc = drain(w);
    } else {
        if (raw) rc = encode_page(&w->s, buf, &b, w->file);
        if (rc == AX_OK) {
            bool rewrite = pg->state == PG_FILE || pg->state == PG_DIRTY;
            rc = hold(w, pg, &b);
            if (rc == AX_OK) {
                pg->state = rewrite ? PG_DIRTY : PG_HELD;
                if (rewrite) w->any_dirty = true;
            }
        }
    }
    pthread_mutex_unlock(&w->lock);
    blob_free(&b);
    return rc;
}

static int writer_get(tiff_writer *w, int64_t z, uint8_t *buf)
{
    pthread_mutex_lock(&w->lock);
    wpage *pg = &w->pages[z];
    int rc = AX_OK;
    uint8_t *tmp = NULL;
    if (pg->state == PG_NONE) {
        rc = AX_E_NOTFOUND;
    } else if (pg->state == PG_HELD || pg->state == PG_DIRTY) {
        const uint8_t *data = held_data(w, &pg->held, &tmp, &rc);
        if (data) rc = decode_strips(&w->s, data, pg->held.lens, buf, w->file);
    } else if (!pg->lens) {
        for (uint32_t i = 0; i < w->s.nstrips && rc == AX_OK; i++)
            rc = pread_all(w->fd, buf + (size_t)i * w->s.rps * w->s.row, w->s.raw_lens[i],
                           pg->offs[i], w->file);
    } else {
        size_t total = 0;
        for (uint32_t i = 0; i < w->s.nstrips; i++) total += pg->lens[i];
        tmp = malloc(total);
        if (!tmp) rc = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
        size_t at = 0;
        for (uint32_t i = 0; i < w->s.nstrips && rc == AX_OK; at += pg->lens[i++])
            rc = pread_all(w->fd, tmp + at, pg->lens[i], pg->offs[i], w->file);
        if (rc == AX_OK) rc = decode_strips(&w->s, tmp, pg->lens, buf, w->file);
    }
    pthread_mutex_unlock(&w->lock);
    free(tmp);
    return rc;
}

/* Copy the file into a new one, taking rewritten pages from where they are held. */
static int compact(tiff_writer *w)
{
    char *out_path = ax__asprintf("%s.compact", w->file);
    if (!out_path) return ax__err(AX_E_NOMEM, "out of memory");
    TIFF *out = NULL;
    int fd = open(w->file, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? ax__err(AX_E_IO, "%s: cannot reopen: %s", w->file, strerror(errno))
                    : open_write(out_path, w->s.big, &out);
    for (int64_t z = 0; z < w->npages && rc == AX_OK; z++) {
        wpage *pg = &w->pages[z];
        uint8_t *tmp = NULL;
        const uint8_t *data;
        const uint32_t *lens;
        if (pg->state == PG_DIRTY) {
            data = held_data(w, &pg->held, &tmp, &rc);
            lens = pg->held.lens;
        } else {
            lens = pg->lens ? pg->lens : w->s.raw_lens;
            size_t total = 0;
            for (uint32_t i = 0; i < w->s.nstrips; i++) total += lens[i];
            data = tmp = malloc(total);
            if (!tmp) rc = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
            size_t at = 0;
            for (uint32_t i = 0; i < w->s.nstrips && rc == AX_OK; at += lens[i++])
                rc = pread_all(fd, tmp + at, lens[i], pg->offs[i], w->file);
            lens = pg->lens;
        }
        if (rc == AX_OK)
            rc = put_page(out, &w->s, data, lens, z == 0 ? w->desc : NULL, out_path, z, NULL);
        free(tmp);
    }
    if (out) {
        int crc = close_write(out, out_path, rc == AX_OK);
        if (rc == AX_OK) rc = crc;
    }
    if (fd >= 0) close(fd);
    if (rc == AX_OK && rename(out_path, w->file) != 0)
        rc = ax__err(AX_E_IO, "%s: cannot rename %s into place: %s", w->file, out_path,
                     strerror(errno));
    if (rc < 0) unlink(out_path);
    free(out_path);
    return rc;
}

static int writer_finish(tiff_writer *w, bool commit)
{
    int rc = commit ? w->failed : AX_OK;
    if (commit && rc < 0)
        ax__err(rc, "%s: an earlier write failed, the file is unusable", w->file);
    if (commit && rc == AX_OK && w->tif) {
        blob fill = {.spool_off = -1};
        while (rc == AX_OK && w->next < w->npages) {
            if (w->pages[w->next].state == PG_HELD) {
                rc = drain(w);
                continue;
            }
            if (!fill.mem) {
                uint8_t *page = ax__aligned_alloc(w->s.page_bytes);
                if (!page) {
                    rc = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
                    break;
                }
                ax__fill(page, w->s.dtype, w->s.page_bytes / w->s.elem, w->fill);
                rc = encode_page(&w->s, page, &fill, w->file);
                free(page);
                if (rc < 0) break;
            }
            uint32_t *lens = NULL;
            if (fill.lens) {
                lens = malloc(w->s.nstrips * sizeof *lens);
                if (!lens) {
                    rc = ax__err(AX_E_NOMEM, "%s: out of memory", w->file);
                    break;
                }
                memcpy(lens, fill.lens, w->s.nstrips * sizeof *lens);
            }
            rc = flush_page(w, w->next, fill.mem, lens);
        }
        blob_free(&fill);
    }
    if (w->tif) {
        int crc = close_write(w->tif, w->file, commit && rc == AX_OK);
        if (rc == AX_OK) rc = crc;
        w->tif = NULL;
    }
    if (commit && rc == AX_OK && w->any_dirty) rc = compact(w);
    return rc;
}

static void writer_free(tiff_writer *w)
{
    if (!w) return;
    if (w->pages) {
        for (int64_t z = 0; z < w->npages; z++) {
            blob_free(&w->pages[z].held);
            free(w->pages[z].offs);
            free(w->pages[z].lens);
        }
        free(w->pages);
    }
    if (w->spool_fd >= 0) close(w->spool_fd);
    if (w->spool_path) unlink(w->spool_path);
    free(w->spool_path);
    if (w->lock_ok) pthread_mutex_destroy(&w->lock);
    free(w->s.raw_lens);
    free(w->desc);
    free(w->file);
    free(w);
}

static size_t hold_cap_bytes(void)
{
    const char *e = getenv("AX_TIFF_HOLD_MB");
    if (e && *e) {
        char *end;
        long long mb = strtoll(e, &end, 10);
        if (*end == 0 && mb >= 0) return (size_t)mb << 20;
    }
    return (size_t)TIFF_HOLD_MB_DEFAULT << 20;
}

/* ---- multi-page backend ----------------------------------------------------------- */

typedef struct tiff_impl {
    char *file;
    page_fmt fmt;
    int64_t npages;
    uint64_t *diroff;          /* IFD offset of each page */
    pthread_mutex_t pool_lock;
    bool pool_lock_ok;
    TIFF *idle[TIFF_POOL_MAX]; /* read handles not in use */
    int nidle;
    tiff_writer *w;            /* created volumes */
} tiff_impl;

static void set_info(ax_volume *v, const page_fmt *f, int64_t n)
{
    ax_volume_info *in = &v->info;
    in->dtype = f->dtype;
    in->ndim = 3;
    in->shape[0] = n;
    in->shape[1] = f->h;
    in->shape[2] = f->w;
    in->chunks[0] = 1;
    in->chunks[1] = f->h;
    in->chunks[2] = f->w;
    in->compression = comp_from_tiff(f->comp);
    in->compression_level = -1;
}

static int mp_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    (void)inner;
    (void)mode;
    tiff_impl *t = calloc(1, sizeof *t);
    if (!t) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = t;
    t->file = ax__strdup(path);
    if (!t->file || pthread_mutex_init(&t->pool_lock, NULL) != 0)
        return ax__err(AX_E_NOMEM, "out of memory");
    t->pool_lock_ok = true;
    TIFF *tif;
    uint64_t fsize = 0;
    int rc = open_read(path, &tif, &fsize);
    if (rc < 0) return rc;
    t->idle[t->nidle++] = tif; /* freed by close from here on */
    if ((rc = describe(tif, path, 0, &t->fmt)) < 0 || (rc = check_stack(tif, path)) < 0)
        return rc;
    read_meta(v, tif, path);
    size_t cap = 64;
    t->diroff = malloc(cap * sizeof *t->diroff);
    if (!t->diroff) return ax__err(AX_E_NOMEM, "out of memory");
    for (int64_t ifd = 0;; ifd++) {
        uint32_t sft = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &sft);
        /* reduced-resolution copies (thumbnails, pyramids) are not sections */
        if (ifd == 0 || !(sft & FILETYPE_REDUCEDIMAGE)) {
            page_fmt f;
            if (ifd > 0) {
                if ((rc = describe(tif, path, ifd, &f)) < 0) return rc;
                if (!fmt_same(&f, &t->fmt)) return mismatch(path, ifd, &f, "page 0", &t->fmt);
            }
            if ((rc = check_extent(tif, path, ifd, fsize)) < 0) return rc;
            if ((size_t)t->npages == cap) {
                uint64_t *d = realloc(t->diroff, 2 * cap * sizeof *d);
                if (!d) return ax__err(AX_E_NOMEM, "out of memory");
                t->diroff = d;
                cap *= 2;
            }
            t->diroff[t->npages++] = TIFFCurrentDirOffset(tif);
        }
        if (TIFFLastDirectory(tif)) break;
        tmsg_clear();
        if (!TIFFReadDirectory(tif))
            return ax__err(AX_E_CORRUPT,
                           "%s: page %lld: cannot read its directory (truncated or damaged "
                           "file): %s",
                           path, (long long)(ifd + 1), tmsg());
    }
    set_info(v, &t->fmt, t->npages);
    return AX_OK;
}

static int mp_read(ax_volume *v, const int64_t *cidx, void *buf)
{
    tiff_impl *t = v->impl;
    if (t->w) return writer_get(t->w, cidx[0], buf);
    int64_t z = cidx[0];
    TIFF *tif = NULL;
    pthread_mutex_lock(&t->pool_lock);
    if (t->nidle) tif = t->idle[--t->nidle];
    pthread_mutex_unlock(&t->pool_lock);
    int rc = AX_OK;
    if (!tif && (rc = open_read(t->file, &tif, NULL)) < 0) return rc;
    tmsg_clear();
    page_fmt f;
    if (!TIFFSetSubDirectory(tif, t->diroff[z]))
        rc = ax__err(AX_E_CORRUPT, "%s: page %lld: cannot read its directory: %s", t->file,
                     (long long)z, tmsg());
    else if ((rc = describe(tif, t->file, z, &f)) == AX_OK) {
        if (!fmt_same(&f, &t->fmt)) rc = mismatch(t->file, z, &f, "page 0", &t->fmt);
        else rc = read_page(tif, t->file, z, &f, buf);
    }
    if (rc < 0) { /* a handle that failed may be in a bad state */
        TIFFClose(tif);
        return rc;
    }
    pthread_mutex_lock(&t->pool_lock);
    if (t->nidle < TIFF_POOL_MAX) {
        t->idle[t->nidle++] = tif;
        tif = NULL;
    }
    pthread_mutex_unlock(&t->pool_lock);
    if (tif) TIFFClose(tif);
    return AX_OK;
}

static int mp_write(ax_volume *v, const int64_t *cidx, const void *buf)
{
    tiff_impl *t = v->impl;
    if (!t->w)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: a multi-page TIFF cannot be changed in place; create a new one (or "
                       "use a slice directory, tiffdir:)",
                       t->file);
    return writer_put(t->w, cidx[0], buf);
}

static int mp_create(ax_volume *v, const char *path, const char *inner,
                     const ax_volume_create_params *p)
{
    (void)inner;
    (void)p;
    tiff_impl *t = calloc(1, sizeof *t);
    if (!t) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = t;
    tiff_writer *w = calloc(1, sizeof *w);
    t->file = ax__strdup(path);
    if (!w || !t->file) {
        free(w);
        return ax__err(AX_E_NOMEM, "out of memory");
    }
    t->w = w;
    w->fd = w->spool_fd = -1;
    int rc = wspec_init(v, v->info.compression, v->info.compression_level, &w->s, v->path);
    if (rc < 0) return rc;
    v->info.chunks[0] = 1;
    v->info.chunks[1] = w->s.h;
    v->info.chunks[2] = w->s.w;
    v->info.compression = w->s.comp;
    v->info.compression_level = w->s.level;
    w->npages = v->info.shape[0];
    w->pages = calloc((size_t)w->npages, sizeof *w->pages);
    w->file = ax__strdup(path);
    w->desc = make_desc(v, true);
    if (!w->pages || !w->file || !w->desc) return ax__err(AX_E_NOMEM, "out of memory");
    for (int64_t z = 0; z < w->npages; z++) w->pages[z].held.spool_off = -1;
    w->hold_cap = hold_cap_bytes();
    w->fill = v->info.fill_value;
    if (pthread_mutex_init(&w->lock, NULL) != 0) return ax__err(AX_E_NOMEM, "out of memory");
    w->lock_ok = true;
    if ((rc = open_write(path, w->s.big, &w->tif)) < 0) return rc;
    w->fd = TIFFFileno(w->tif);
    return AX_OK;
}

static int mp_close(ax_volume *v, bool commit)
{
    tiff_impl *t = v->impl;
    int rc = AX_OK;
    if (!t) return rc;
    if (t->w) rc = writer_finish(t->w, commit);
    writer_free(t->w);
    for (int i = 0; i < t->nidle; i++) TIFFClose(t->idle[i]);
    if (t->pool_lock_ok) pthread_mutex_destroy(&t->pool_lock);
    free(t->diroff);
    free(t->file);
    free(t);
    v->impl = NULL;
    return rc;
}

const ax__backend ax__backend_tiff = {
    .name = "tiff",
    .format = AX_FORMAT_TIFF,
    .open = mp_open,
    .create = mp_create,
    .read_chunk = mp_read,
    .write_chunk = mp_write,
    .close = mp_close,
};

/* ---- slice directory backend ------------------------------------------------------ */

typedef struct tdir_impl {
    char *dir;
    char **names;     /* opened: the slice files in order */
    int64_t n;
    page_fmt fmt;
    bool created;
    int digits;       /* created: z%0*lld.tif */
    bool can_write;
    wspec s;
    char *desc;
    atomic_uchar *written; /* created: slice z is in place */
} tdir_impl;

/* Natural order: digit runs compare as numbers ("z2" < "z10"), ties by plain strcmp. */
static int natcmp(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la])) la++;
            while (isdigit((unsigned char)b[lb])) lb++;
            if (la != lb) return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c) return c;
            a += la;
            b += lb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    if (*a || *b) return *a ? 1 : -1;
    return strcmp(a0, b0);
}

static int natcmp_ptr(const void *x, const void *y)
{
    return natcmp(*(char *const *)x, *(char *const *)y);
}

static bool tiff_name(const char *s)
{
    size_t n = strlen(s);
    if (s[0] == '.') return false;
    return (n > 4 && !strcasecmp(s + n - 4, ".tif")) || (n > 5 && !strcasecmp(s + n - 5, ".tiff"));
}

static int list_slices(tdir_impl *d)
{
    DIR *dh = opendir(d->dir);
    if (!dh) {
        if (errno == ENOENT) return ax__err(AX_E_NOTFOUND, "%s: no such directory", d->dir);
        return ax__err(AX_E_IO, "%s: cannot list: %s", d->dir, strerror(errno));
    }
    size_t cap = 0;
    int rc = AX_OK;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!tiff_name(e->d_name)) continue;
        char *full = ax__path_join(d->dir, e->d_name);
        if (!full) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            break;
        }
        bool dir = ax__is_dir(full);
        free(full);
        if (dir) continue;
        if ((size_t)d->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(d->names, cap * sizeof *nn);
            if (!nn) {
                rc = ax__err(AX_E_NOMEM, "out of memory");
                break;
            }
            d->names = nn;
        }
        if (!(d->names[d->n] = ax__strdup(e->d_name))) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            break;
        }
        d->n++;
    }
    closedir(dh);
    if (rc < 0) return rc;
    if (d->n == 0)
        return ax__err(AX_E_NOTFOUND, "%s: no *.tif or *.tiff files in this directory", d->dir);
    if (d->n > TIFF_MAX_PAGES)
        return ax__err(AX_E_RANGE, "%s: %lld slice files (axon's limit is %lld)", d->dir,
                       (long long)d->n, (long long)TIFF_MAX_PAGES);
    qsort(d->names, (size_t)d->n, sizeof *d->names, natcmp_ptr);
    return AX_OK;
}

static char *slice_path(const tdir_impl *d, int64_t z)
{
    if (d->created) return ax__asprintf("%s/z%0*lld.tif", d->dir, d->digits, (long long)z);
    return ax__path_join(d->dir, d->names[z]);
}

static int dir_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    (void)inner;
    tdir_impl *d = calloc(1, sizeof *d);
    if (!d) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = d;
    if (!(d->dir = ax__strdup(path))) return ax__err(AX_E_NOMEM, "out of memory");
    size_t l = strlen(d->dir);
    while (l > 1 && d->dir[l - 1] == '/') d->dir[--l] = 0;
    int rc = list_slices(d);
    if (rc < 0) return rc;
    char *first = ax__path_join(d->dir, d->names[0]);
    if (!first) return ax__err(AX_E_NOMEM, "out of memory");
    TIFF *tif;
    rc = open_read(first, &tif, NULL);
    if (rc == AX_OK) {
        rc = describe(tif, first, 0, &d->fmt);
        if (rc == AX_OK) read_meta(v, tif, first);
        TIFFClose(tif);
    }
    free(first);
    if (rc < 0) return rc;
    set_info(v, &d->fmt, d->n);
    if (mode == AX_OPEN_RW) {
        /* rewritten slices keep the first file's compression when axon can write it */
        ax_compression c = v->info.compression;
        if (c != AX_COMPRESSION_ZLIB && c != AX_COMPRESSION_ZSTD) c = AX_COMPRESSION_RAW;
        if (c == AX_COMPRESSION_ZSTD && !TIFFIsCODECConfigured(COMPRESSION_ZSTD))
            c = AX_COMPRESSION_RAW;
        if ((rc = wspec_init(v, c, -1, &d->s, d->dir)) < 0) return rc;
        if (!(d->desc = make_desc(v, false))) return ax__err(AX_E_NOMEM, "out of memory");
        d->can_write = true;
    }
    return AX_OK;
}

static int dir_read(ax_volume *v, const int64_t *cidx, void *buf)
{
    tdir_impl *d = v->impl;
    int64_t z = cidx[0];
    if (d->created && !atomic_load(&d->written[z])) return AX_E_NOTFOUND;
    char *p = slice_path(d, z);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    TIFF *tif;
    int rc = open_read(p, &tif, NULL);
    if (rc == AX_E_NOTFOUND)
        rc = ax__err(AX_E_IO, "%s: slice file is gone (it was there when %s was opened)", p,
                     d->dir);
    if (rc == AX_OK) {
        page_fmt f;
        rc = describe(tif, p, 0, &f);
        if (rc == AX_OK && !fmt_same(&f, &d->fmt)) {
            char *first = slice_path(d, 0);
            rc = ax__err(AX_E_FORMAT,
                         "%s: section %lld is %ux%u %s but the first slice %s is %ux%u %s (all "
                         "slices must match)",
                         p, (long long)z, f.w, f.h, ax_dtype_name(f.dtype),
                         first ? first : "?", d->fmt.w, d->fmt.h, ax_dtype_name(d->fmt.dtype));
            free(first);
        }
        if (rc == AX_OK) rc = read_page(tif, p, z, &f, buf);
        TIFFClose(tif);
    }
    free(p);
    return rc;
}

/* Write slice z from data (strips, lens NULL = raw) to a temporary name, then rename. */
static int put_slice(tdir_impl *d, int64_t z, const uint8_t *data, const uint32_t *lens)
{
    static atomic_uint counter;
    char *p = slice_path(d, z);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    char *tmp = ax__asprintf("%s/.%s.tmp-%d-%u", d->dir, base, (int)getpid(),
                             atomic_fetch_add(&counter, 1));
    TIFF *tif = NULL;
    int rc = tmp ? open_write(tmp, false, &tif) : ax__err(AX_E_NOMEM, "out of memory");
    if (rc == AX_OK) {
        rc = put_page(tif, &d->s, data, lens, d->desc, p, z, NULL);
        int crc = close_write(tif, p, rc == AX_OK);
        if (rc == AX_OK) rc = crc;
        if (rc == AX_OK && rename(tmp, p) != 0)
            rc = ax__err(AX_E_IO, "%s: cannot rename %s into place: %s", p, tmp, strerror(errno));
        if (rc < 0) unlink(tmp);
    }
    if (rc == AX_OK && d->created) atomic_store(&d->written[z], 1);
    free(tmp);
    free(p);
    return rc;
}

static int dir_write(ax_volume *v, const int64_t *cidx, const void *buf)
{
    tdir_impl *d = v->impl;
    if (!d->can_write) return ax__err(AX_E_INVALID, "%s: opened read-only", d->dir);
    if (d->s.comp == AX_COMPRESSION_RAW) return put_slice(d, cidx[0], buf, NULL);
    blob b;
    int rc = encode_page(&d->s, buf, &b, d->dir);
    if (rc < 0) return rc;
    rc = put_slice(d, cidx[0], b.mem, b.lens);
    blob_free(&b);
    return rc;
}

static int dir_create(ax_volume *v, const char *path, const char *inner,
                      const ax_volume_create_params *p)
{
    (void)inner;
    (void)p;
    tdir_impl *d = calloc(1, sizeof *d);
    if (!d) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = d;
    d->created = true;
    if (!(d->dir = ax__strdup(path))) return ax__err(AX_E_NOMEM, "out of memory");
    int rc = wspec_init(v, v->info.compression, v->info.compression_level, &d->s, v->path);
    if (rc < 0) return rc;
    d->s.big = false; /* one page each: never near 4 GB */
    d->fmt = (page_fmt){d->s.w, d->s.h, d->s.dtype, d->s.tcomp};
    v->info.chunks[0] = 1;
    v->info.chunks[1] = d->s.h;
    v->info.chunks[2] = d->s.w;
    v->info.compression = d->s.comp;
    v->info.compression_level = d->s.level;
    d->n = v->info.shape[0];
    d->digits = 5;
    for (int64_t m = 100000; m <= d->n - 1 && d->digits < 19; m *= 10) d->digits++;
    d->written = calloc((size_t)d->n, sizeof *d->written);
    d->desc = make_desc(v, false);
    if (!d->written || !d->desc) return ax__err(AX_E_NOMEM, "out of memory");
    if ((rc = ax__mkdir_p(path)) < 0) return rc;
    d->can_write = true;
    return AX_OK;
}

static int dir_close(ax_volume *v, bool commit)
{
    tdir_impl *d = v->impl;
    int rc = AX_OK;
    if (!d) return rc;
    if (commit && d->created && d->can_write) {
        /* every section must exist: the file count is the depth */
        uint8_t *page = NULL;
        blob fill = {.spool_off = -1};
        for (int64_t z = 0; z < d->n && rc == AX_OK; z++) {
            if (atomic_load(&d->written[z])) continue;
            if (!page) {
                page = ax__aligned_alloc(d->s.page_bytes);
                if (!page) {
                    rc = ax__err(AX_E_NOMEM, "%s: out of memory", d->dir);
                    break;
                }
                ax__fill(page, d->s.dtype, d->s.page_bytes / d->s.elem, v->info.fill_value);
                if (d->s.comp != AX_COMPRESSION_RAW &&
                    (rc = encode_page(&d->s, page, &fill, d->dir)) < 0)
                    break;
            }
            rc = fill.mem ? put_slice(d, z, fill.mem, fill.lens) : put_slice(d, z, page, NULL);
        }
        blob_free(&fill);
        free(page);
    }
    if (d->names)
        for (int64_t i = 0; i < d->n; i++) free(d->names[i]);
    free(d->names);
    free(d->written);
    free(d->s.raw_lens);
    free(d->desc);
    free(d->dir);
    free(d);
    v->impl = NULL;
    return rc;
}

const ax__backend ax__backend_tiff_dir = {
    .name = "tiffdir",
    .format = AX_FORMAT_TIFF_DIR,
    .open = dir_open,
    .create = dir_create,
    .read_chunk = dir_read,
    .write_chunk = dir_write,
    .close = dir_close,
};
