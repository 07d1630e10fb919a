/* render.c: pictures of one section (axon slice, reports): grey images stretched to 8 bits,
 * labels as random colours, and a PNG writer (libpng) that writes atomically.
 *
 * Label colours come from a hash of the id, so one neuron has the same colour in every
 * picture and in every tool that uses this function. */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volume/volume_int.h"

static void label_colour(uint64_t id, uint8_t rgb[3])
{
    uint64_t z = id * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 31;
    /* keep colours bright enough to read on a grey background */
    rgb[0] = (uint8_t)(64 + (z & 0xbf));
    rgb[1] = (uint8_t)(64 + ((z >> 8) & 0xbf));
    rgb[2] = (uint8_t)(64 + ((z >> 16) & 0xbf));
}

static uint64_t label_at(const void *buf, ax_dtype t, size_t i)
{
    switch (t) {
    case AX_DTYPE_U8: return ((const uint8_t *)buf)[i];
    case AX_DTYPE_U16: return ((const uint16_t *)buf)[i];
    case AX_DTYPE_U32: return ((const uint32_t *)buf)[i];
    case AX_DTYPE_U64: return ((const uint64_t *)buf)[i];
    case AX_DTYPE_I32: return (uint64_t)(int64_t)((const int32_t *)buf)[i];
    case AX_DTYPE_F32: return (uint64_t)((const float *)buf)[i];
    default: return 0;
    }
}

static double value_at(const void *buf, ax_dtype t, size_t i)
{
    switch (t) {
    case AX_DTYPE_U8: return ((const uint8_t *)buf)[i];
    case AX_DTYPE_U16: return ((const uint16_t *)buf)[i];
    case AX_DTYPE_U32: return ((const uint32_t *)buf)[i];
    case AX_DTYPE_U64: return (double)((const uint64_t *)buf)[i];
    case AX_DTYPE_I32: return ((const int32_t *)buf)[i];
    case AX_DTYPE_F32: return ((const float *)buf)[i];
    default: return 0;
    }
}

/* Read section z (channel c) into a new buffer of h*w elements. */
static int read_section(ax_volume *v, int64_t z, int64_t c, void **out, int64_t *h, int64_t *w)
{
    const ax_volume_info *in = &v->info;
    if (in->ndim != 3 && in->ndim != 4)
        return ax__err(AX_E_UNSUPPORTED, "%s: pictures need a 3-d or 4-d volume (this one is %d-d)",
                       v->path, in->ndim);
    int zax = in->ndim - 3;
    if (z < 0 || z >= in->shape[zax])
        return ax__err(AX_E_RANGE, "%s: section %lld is outside 0..%lld", v->path, (long long)z,
                       (long long)in->shape[zax] - 1);
    if (in->ndim == 4 && (c < 0 || c >= in->shape[0]))
        return ax__err(AX_E_RANGE, "%s: channel %lld is outside 0..%lld", v->path, (long long)c,
                       (long long)in->shape[0] - 1);
    int64_t start[4] = {0}, size[4] = {0};
    if (in->ndim == 4) {
        start[0] = c;
        size[0] = 1;
    }
    start[zax] = z;
    size[zax] = 1;
    size[zax + 1] = in->shape[zax + 1];
    size[zax + 2] = in->shape[zax + 2];
    *h = size[zax + 1];
    *w = size[zax + 2];
    void *buf = ax__malloc_array((size_t)(*h * *w), ax_dtype_size(in->dtype));
    if (!buf) return ax__err(AX_E_NOMEM, "%s: cannot allocate a section", v->path);
    int rc = ax_volume_read_region(v, start, size, in->dtype, buf);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return AX_OK;
}

int ax_render_section(ax_volume *image, int64_t z, int64_t channel, bool as_labels,
                      ax_volume *labels, uint8_t **rgb, int64_t *h, int64_t *w)
{
    if (!image || !rgb || !h || !w) return ax__err(AX_E_INVALID, "render: NULL argument");
    *rgb = NULL;
    void *sec = NULL;
    int rc = read_section(image, z, channel, &sec, h, w);
    if (rc < 0) return rc;
    size_t n = (size_t)(*h * *w);
    uint8_t *out = ax__malloc_array(n, 3);
    if (!out) {
        free(sec);
        return ax__err(AX_E_NOMEM, "render: out of memory");
    }
    ax_dtype t = image->info.dtype;
    if (as_labels) {
        for (size_t i = 0; i < n; i++) {
            uint64_t id = label_at(sec, t, i);
            if (id) label_colour(id, out + 3 * i);
            else out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
        }
    } else {
        double lo, hi;
        if (t == AX_DTYPE_U8) {
            lo = 0;
            hi = 255;
        } else if (t == AX_DTYPE_F32) {
            float mn, mx;
            size_t nans;
            ax__kern()->minmax_f32(sec, n, &mn, &mx, &nans);
            lo = mn;
            hi = mx;
        } else {
            lo = hi = value_at(sec, t, 0);
            for (size_t i = 1; i < n; i++) {
                double x = value_at(sec, t, i);
                if (x < lo) lo = x;
                if (x > hi) hi = x;
            }
        }
        double scale = hi > lo ? 255.0 / (hi - lo) : 0;
        for (size_t i = 0; i < n; i++) {
            double x = value_at(sec, t, i);
            uint8_t g = x != x ? 0 : (uint8_t)((x - lo) * scale + 0.5);
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g;
        }
    }
    free(sec);
    if (labels) {
        void *lab = NULL;
        int64_t lh, lw;
        int zax = labels->info.ndim - 3;
        (void)zax;
        rc = read_section(labels, z, 0, &lab, &lh, &lw);
        if (rc == AX_OK && (lh != *h || lw != *w)) {
            rc = ax__err(AX_E_RANGE, "%s: section is %lldx%lld but the image's is %lldx%lld",
                         labels->path, (long long)lh, (long long)lw, (long long)*h, (long long)*w);
        }
        if (rc < 0) {
            free(lab);
            free(out);
            return rc;
        }
        const double a = 0.45;
        for (size_t i = 0; i < n; i++) {
            uint64_t id = label_at(lab, labels->info.dtype, i);
            if (!id) continue;
            uint8_t c[3];
            label_colour(id, c);
            for (int k = 0; k < 3; k++)
                out[3 * i + k] = (uint8_t)((1 - a) * out[3 * i + k] + a * c[k] + 0.5);
        }
        free(lab);
    }
    *rgb = out;
    return AX_OK;
}

/* libpng's errors come back through our message (with the system's reason, e.g. a full
 * disk) instead of its own line on stderr */
static _Thread_local char png_msg[128];
static _Thread_local int png_errno;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_errno = errno;
    snprintf(png_msg, sizeof png_msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

int ax_png_write(const char *path, const uint8_t *pixels, int64_t h, int64_t w, int channels)
{
    if (!path || !pixels || h <= 0 || w <= 0 || h > 1 << 24 || w > 1 << 24 ||
        (channels != 1 && channels != 3))
        return ax__err(AX_E_INVALID, "%s: bad PNG size or channel count", path ? path : "(null)");
    char *tmp = ax__asprintf("%s.tmp-%d", path, (int)getpid());
    if (!tmp) return ax__err(AX_E_NOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = ax__err(AX_E_IO, "%s: cannot create", path);
        free(tmp);
        return rc;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = AX_OK;
    png_errno = 0;
    if (!png || !info) {
        rc = ax__err(AX_E_NOMEM, "%s: libpng: out of memory", path);
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = ax__err(AX_E_IO, "%s: libpng failed while writing: %s%s%s", path, png_msg, png_errno ? ": " : "",
                     png_errno ? strerror(png_errno) : "");
        goto out;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    for (int64_t y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)w * (size_t)channels));
    png_write_end(png, NULL);
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(f) != 0 && rc == AX_OK) rc = ax__err(AX_E_IO, "%s: write failed: %s", path, strerror(errno));
    if (rc == AX_OK && rename(tmp, path) != 0) rc = ax__err(AX_E_IO, "%s: rename failed", path);
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc;
}
