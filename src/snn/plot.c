/* plot.c: raster, line, stacked and histogram plots rendered into an RGB canvas and written
 * as PNG (see plot.h). Everything here is plain pixel pushing: a 5x7 bitmap font, axis
 * layout with 1-2-5 ticks, anti-aliased lines through a per-series coverage mask, and a
 * spike raster that accumulates counts per pixel before it colours them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snn/plot.h"

/* ---- font ------------------------------------------------------------------------- */
/* Glyphs 32..126, 9 rows each, bit 4 = leftmost of 5 columns; rows 7-8 are descenders. */
static const uint8_t font[95][AX_PLOT_GLYPH_H] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ! */
    {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00, 0x00}, /* # */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00, 0x00}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00}, /* % */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* & */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* quote */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00}, /* ) */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00}, /* / */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00}, /* 9 */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00}, /* : */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x04, 0x08, 0x00}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00}, /* < */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00}, /* > */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ? */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00, 0x00}, /* @ */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* C */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00}, /* X */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00}, /* Z */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00}, /* backslash */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00}, /* ] */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* _ */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* b */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* c */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* d */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}, /* e */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00}, /* f */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* h */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}, /* k */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* l */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* n */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* o */
    {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00}, /* r */
    {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}, /* s */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* w */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00, 0x00}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00, 0x00}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00}, /* ~ */
};

const uint8_t *ax__plot_glyph(int ch) { return ch >= 32 && ch <= 126 ? font[ch - 32] : NULL; }

/* characters drawn for s: UTF-8 continuation bytes take no room, other bytes one cell */
static int text_chars(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; s && *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return n;
}

int ax__plot_text_width(const char *s, int scale)
{
    int n = text_chars(s);
    return n ? (n * AX_PLOT_CELL_W - 1) * scale : 0;
}

/* ---- colours ---------------------------------------------------------------------- */
static const uint8_t C_INK[3] = {34, 34, 34};      /* text */
static const uint8_t C_FRAME[3] = {90, 90, 90};    /* axes frame and ticks */
static const uint8_t C_GRID[3] = {234, 234, 234};  /* grid lines */
static const uint8_t C_SEP[3] = {190, 190, 190};   /* raster population boundaries */
static const uint8_t C_MUTED[3] = {150, 150, 150}; /* "no data" */
static const uint8_t C_DOT[3] = {25, 25, 25};      /* raster without populations */

static const uint8_t palette[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

void ax__plot_palette(int i, uint8_t rgb[3])
{
    int k = i % 10;
    if (k < 0) k += 10;
    memcpy(rgb, palette[k], 3);
}

/* ---- canvas ----------------------------------------------------------------------- */
static const char *pname(const char *path) { return path ? path : "(plot)"; }

int ax__plot_canvas_init(ax__plot_canvas *c, const char *path, int width, int height)
{
    memset(c, 0, sizeof *c);
    if (width < AX_PLOT_MIN_SIZE || width > AX_PLOT_MAX_SIZE || height < AX_PLOT_MIN_SIZE ||
        height > AX_PLOT_MAX_SIZE)
        return ax__err(AX_E_INVALID, "%s: plot size %dx%d outside %d..%d pixels", pname(path),
                       width, height, AX_PLOT_MIN_SIZE, AX_PLOT_MAX_SIZE);
    c->px = ax__malloc_array((size_t)width * (size_t)height, 3);
    if (!c->px) return ax__err(AX_E_NOMEM, "%s: out of memory for a %dx%d plot", pname(path), width, height);
    memset(c->px, 255, (size_t)width * (size_t)height * 3);
    c->w = width;
    c->h = height;
    c->scale = width >= 600 && height >= 300 ? 2 : 1;
    c->stride = 1;
    return AX_OK;
}

void ax__plot_canvas_free(ax__plot_canvas *c)
{
    if (!c) return;
    free(c->px);
    free(c->axes);
    memset(c, 0, sizeof *c);
}

int ax__plot_canvas_write(const ax__plot_canvas *c, const char *path)
{
    if (!path) return ax__err(AX_E_INVALID, "plot: no output path");
    if (!c || !c->px) return ax__err(AX_E_INVALID, "%s: nothing drawn", path);
    return ax_png_write(path, c->px, c->h, c->w, 3);
}

static int set_axes(ax__plot_canvas *c, const char *path, int n)
{
    free(c->axes);
    c->axes = ax__calloc((size_t)n, sizeof *c->axes);
    c->n_axes = c->axes ? n : 0;
    return c->axes ? AX_OK : ax__err(AX_E_NOMEM, "%s: out of memory", pname(path));
}

double ax__plot_map_x(const ax__plot_axes *a, double x)
{
    return a->x0 + (x - a->xmin) / (a->xmax - a->xmin) * (a->x1 - a->x0);
}

double ax__plot_map_y(const ax__plot_axes *a, double y)
{
    return a->y1 - (y - a->ymin) / (a->ymax - a->ymin) * (a->y1 - a->y0);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* pixel to pixel-index, safe for huge or non-finite values */
static inline int pix(double v)
{
    if (!(v > -1e8)) return -100000000;
    if (v > 1e8) return 100000000;
    return (int)floor(v);
}

static void fill_rect(ax__plot_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    x0 = clampi(x0, 0, c->w);
    x1 = clampi(x1, 0, c->w);
    y0 = clampi(y0, 0, c->h);
    y1 = clampi(y1, 0, c->h);
    for (int y = y0; y < y1; y++) {
        uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x0) * 3;
        for (int x = x0; x < x1; x++, p += 3) memcpy(p, rgb, 3);
    }
}

/* blend rgb over the pixel with opacity a in 0..255 */
static inline void blend(uint8_t *p, const uint8_t rgb[3], unsigned a)
{
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)((p[k] * (255 - a) + rgb[k] * a + 127) / 255);
}

/* ---- text ------------------------------------------------------------------------- */
/* Draw s with its top-left at (x, y); vertical: rotated a quarter turn anticlockwise (reads
 * bottom to top), (x, y) the top-left of its box, which is glyph-height wide. */
static void text_draw(ax__plot_canvas *c, int x, int y, const char *s, int sc, const uint8_t rgb[3],
                      bool vertical)
{
    if (!s) return;
    int tw = ax__plot_text_width(s, sc), pen = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue;
        const uint8_t *g = ax__plot_glyph(*p);
        if (!g) g = ax__plot_glyph('?');
        for (int r = 0; r < AX_PLOT_GLYPH_H; r++)
            for (int col = 0; col < AX_PLOT_GLYPH_W; col++) {
                if (!(g[r] & (0x10 >> col))) continue;
                int u = pen + col * sc, v = r * sc;
                if (!vertical)
                    fill_rect(c, x + u, y + v, x + u + sc, y + v + sc, rgb);
                else
                    fill_rect(c, x + v, y + tw - u - sc, x + v + sc, y + tw - u, rgb);
            }
        pen += AX_PLOT_CELL_W * sc;
    }
}

void ax__plot_text(ax__plot_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    text_draw(c, x, y, s, scale < 1 ? 1 : scale, rgb, false);
}

/* ---- ticks ------------------------------------------------------------------------ */
double ax__plot_nice_step(double range, int target)
{
    if (!(range > 0) || !isfinite(range)) return 1;
    if (target < 1) target = 1;
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double nf = f < 1.4142 ? 1 : f < 3.1623 ? 2 : f < 7.0711 ? 5 : 10;
    return nf * mag;
}

#define MAX_TICKS 64
typedef struct ticks {
    int n;
    double step;
    double v[MAX_TICKS];
} ticks;

static void tick_label(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e7 || step < 1e-5) {
        snprintf(buf, n, "%.4g", v);
    } else {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, n, "%.*f", dec, v);
    }
}

/* ticks over lo..hi with about `target` intervals; whole numbers only when integer */
static void make_ticks(ticks *t, double lo, double hi, int target, bool integer)
{
    double step = ax__plot_nice_step(hi - lo, target);
    if (integer && step < 1) step = 1;
    for (;;) {
        double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
        if (k1 - k0 + 1 <= MAX_TICKS) {
            t->n = 0;
            for (double k = k0; k <= k1 && t->n < MAX_TICKS; k++) t->v[t->n++] = k * step;
            t->step = step;
            /* at least two labelled ticks when a finer step gives them */
            if (t->n < 2 && target < 16 && !(integer && step <= 1)) {
                make_ticks(t, lo, hi, target * 2, integer);
                if (t->n < 2) make_ticks(t, lo, hi, target * 4, integer);
            }
            return;
        }
        step = ax__plot_nice_step(step * 2.5, 1);
    }
}

static int ticks_max_width(const ticks *t, int sc)
{
    int mw = 0;
    char buf[64];
    for (int i = 0; i < t->n; i++) {
        tick_label(buf, sizeof buf, t->v[i], t->step);
        int w = ax__plot_text_width(buf, sc);
        if (w > mw) mw = w;
    }
    return mw;
}

/* x ticks over the plot width px: start from one per 90*s pixels and widen until labels
 * leave room between them */
static void make_xticks(ticks *t, double lo, double hi, int px, int sc)
{
    int target = clampi(px / (60 * sc), 1, 12);
    for (;; target--) {
        make_ticks(t, lo, hi, target, false);
        double step_px = t->step / (hi - lo) * px;
        if (target <= 1 || ticks_max_width(t, sc) + 10 * sc <= step_px) return;
    }
}

static void make_yticks(ticks *t, double lo, double hi, int px, int sc, bool integer)
{
    make_ticks(t, lo, hi, clampi(px / (32 * sc), 1, 10), integer);
}

/* ---- legend ----------------------------------------------------------------------- */
enum { LEG_LINE, LEG_BOX };

typedef struct legend {
    int n, kind;
    const char **names;
    const uint8_t (*rgb)[3];
} legend;

/* Names for n series: names[i], or "<fallback> <i>" (fallback NULL: "<i+1>"). The strings
 * live in *store (free it). */
static const char **series_names(const char *const *names, int n, const char *fallback, char **store)
{
    const char **out = ax__calloc((size_t)n, sizeof *out);
    char *buf = ax__calloc((size_t)n, 32);
    *store = buf;
    if (!out || !buf) {
        free(out);
        free(buf);
        *store = NULL;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (names && names[i]) {
            out[i] = names[i];
        } else {
            char *b = buf + (size_t)i * 32;
            if (fallback)
                snprintf(b, 32, "%s %d", fallback, i);
            else
                snprintf(b, 32, "%d", i + 1);
            out[i] = b;
        }
    }
    return out;
}

static int legend_swatch_w(const legend *L, int sc) { return (L->kind == LEG_LINE ? 16 : 7) * sc; }

static int legend_entry_w(const legend *L, int i, int sc)
{
    return legend_swatch_w(L, sc) + 4 * sc + ax__plot_text_width(L->names[i], sc);
}

/* Lay the legend out in centred rows of at most `avail` pixels from row y; draws it when
 * draw is set (and records its box). Returns its height. */
static int legend_place(ax__plot_canvas *c, const legend *L, int y, int avail, bool draw)
{
    if (!L || L->n <= 0) return 0;
    int sc = c->scale, gap = 14 * sc, row_h = 12 * sc, rows = 0;
    int bx0 = c->w, bx1 = 0;
    for (int i = 0; i < L->n;) {
        /* entries i..j-1 on this row */
        int j = i, rw = 0;
        while (j < L->n) {
            int ew = legend_entry_w(L, j, sc) + (j > i ? gap : 0);
            if (j > i && rw + ew > avail) break;
            rw += ew;
            j++;
        }
        if (draw) {
            int x = (c->w - rw) / 2, ty = y + rows * row_h;
            if (x < 0) x = 0;
            if (x < bx0) bx0 = x;
            if (x + rw > bx1) bx1 = x + rw;
            for (int k = i; k < j; k++) {
                int sw = legend_swatch_w(L, sc);
                if (L->kind == LEG_LINE)
                    fill_rect(c, x, ty + 3 * sc, x + sw, ty + 3 * sc + (sc == 1 ? 2 : 3), L->rgb[k]);
                else
                    fill_rect(c, x, ty, x + sw, ty + 7 * sc, L->rgb[k]);
                text_draw(c, x + sw + 4 * sc, ty, L->names[k], sc, C_INK, false);
                x += legend_entry_w(L, k, sc) + gap;
            }
        }
        rows++;
        i = j;
    }
    int hgt = rows * row_h - 3 * sc;
    if (draw) {
        c->legend[0] = bx0;
        c->legend[1] = y;
        c->legend[2] = bx1;
        c->legend[3] = y + hgt;
    }
    return hgt;
}

/* ---- single-axes layout ----------------------------------------------------------- */
typedef struct spec {
    const char *title, *xlabel, *ylabel;
    const legend *leg;
    double xmin, xmax, ymin, ymax;
    bool yint;      /* y ticks on whole numbers only */
} spec;

/* what the layout kept: on small canvases axis titles, then the title and legend, then
 * tick labels give way to the data */
typedef struct deco {
    bool title, xlabel, ylabel, legend, ticklabels;
    int ts;          /* title scale */
    int title_y, legend_y;
    ticks xt, yt;
} deco;

static int title_scale(const ax__plot_canvas *c) { return c->scale == 1 && c->w >= 360 ? 2 : c->scale; }

static void layout_single(ax__plot_canvas *c, const spec *f, deco *d)
{
    int sc = c->scale, pad = 6 * sc, gap = 3 * sc, tick = 4 * sc, lh = AX_PLOT_GLYPH_H * sc;
    ax__plot_axes *a = &c->axes[0];
    a->xmin = f->xmin;
    a->xmax = f->xmax;
    a->ymin = f->ymin;
    a->ymax = f->ymax;
    d->ts = title_scale(c);
    for (int level = 0; level < 5; level++) {
        d->title = f->title && f->title[0] && level < 2;
        d->legend = f->leg && f->leg->n > 0 && level < 2;
        d->xlabel = f->xlabel && f->xlabel[0] && level < 1;
        d->ylabel = f->ylabel && f->ylabel[0] && level < 1;
        d->ticklabels = level < 3;
        int top = pad;
        if (d->title) {
            d->title_y = top;
            top += 7 * d->ts + 3 * gap;
        }
        if (d->legend) {
            d->legend_y = top;
            top += legend_place(c, f->leg, top, c->w - 2 * pad, false) + 3 * gap;
        }
        top += d->ticklabels ? 4 * sc : 0; /* half of the top y label sticks out */
        int bottom = pad + (d->ticklabels ? tick + gap + lh : tick) + (d->xlabel ? gap + lh : 0);
        if (level == 4) top = bottom = 2;
        a->y0 = top;
        a->y1 = c->h - bottom;
        int ph = a->y1 - a->y0;
        make_yticks(&d->yt, a->ymin, a->ymax, ph, sc, f->yint);
        int left = pad + (d->ylabel ? lh + 2 * gap : 0) +
                   (d->ticklabels ? ticks_max_width(&d->yt, sc) + gap + tick : tick);
        /* right: room for half the last x label */
        int right = pad;
        if (d->ticklabels) {
            ticks xt;
            make_xticks(&xt, a->xmin, a->xmax, c->w - left - pad, sc);
            right += ticks_max_width(&xt, sc) / 2;
        }
        if (level == 4) left = right = 2;
        a->x0 = left;
        a->x1 = c->w - right;
        if ((a->x1 - a->x0 >= 32 && ph >= 32) || level == 4) break;
    }
    make_xticks(&d->xt, a->xmin, a->xmax, a->x1 - a->x0, sc);
    make_yticks(&d->yt, a->ymin, a->ymax, a->y1 - a->y0, sc, f->yint);
}

static int tick_col(const ax__plot_axes *a, double v) { return clampi(pix(ax__plot_map_x(a, v)), a->x0 - 1, a->x1); }
static int tick_row(const ax__plot_axes *a, double v) { return clampi(pix(ax__plot_map_y(a, v)), a->y0 - 1, a->y1); }

static void draw_grid(ax__plot_canvas *c, const ax__plot_axes *a, const ticks *xt, const ticks *yt)
{
    for (int i = 0; xt && i < xt->n; i++) {
        int x = tick_col(a, xt->v[i]);
        if (x > a->x0 && x < a->x1 - 1) fill_rect(c, x, a->y0, x + 1, a->y1, C_GRID);
    }
    for (int i = 0; yt && i < yt->n; i++) {
        int y = tick_row(a, yt->v[i]);
        if (y > a->y0 && y < a->y1 - 1) fill_rect(c, a->x0, y, a->x1, y + 1, C_GRID);
    }
}

/* frame around a, y ticks with labels, x ticks (labels when xlabels) */
static void draw_frame(ax__plot_canvas *c, const ax__plot_axes *a, const ticks *xt, const ticks *yt,
                       bool xlabels, bool ylabels)
{
    int sc = c->scale, tick = 4 * sc, gap = 3 * sc;
    char buf[64];
    fill_rect(c, a->x0 - 1, a->y0 - 1, a->x1 + 1, a->y0, C_FRAME);
    fill_rect(c, a->x0 - 1, a->y1, a->x1 + 1, a->y1 + 1, C_FRAME);
    fill_rect(c, a->x0 - 1, a->y0 - 1, a->x0, a->y1 + 1, C_FRAME);
    fill_rect(c, a->x1, a->y0 - 1, a->x1 + 1, a->y1 + 1, C_FRAME);
    /* a label that would touch the one before it is left out (its tick stays) */
    int last = INT32_MIN;
    for (int i = 0; xt && i < xt->n; i++) {
        int x = tick_col(a, xt->v[i]);
        fill_rect(c, x, a->y1 + 1, x + 1, a->y1 + 1 + tick, C_FRAME);
        if (!xlabels) continue;
        tick_label(buf, sizeof buf, xt->v[i], xt->step);
        int tw = ax__plot_text_width(buf, sc), lx = x - tw / 2;
        if (lx < last + 4 * sc) continue;
        text_draw(c, lx, a->y1 + 1 + tick + gap, buf, sc, C_INK, false);
        last = lx + tw;
    }
    last = INT32_MAX;
    for (int i = 0; yt && i < yt->n; i++) {
        int y = tick_row(a, yt->v[i]);
        fill_rect(c, a->x0 - 1 - tick, y, a->x0 - 1, y + 1, C_FRAME);
        if (!ylabels) continue;
        tick_label(buf, sizeof buf, yt->v[i], yt->step);
        int tw = ax__plot_text_width(buf, sc), ly = y - (7 * sc) / 2;
        if (ly + 7 * sc + 2 * sc > last) continue;
        text_draw(c, a->x0 - 1 - tick - gap - tw, ly, buf, sc, C_INK, false);
        last = ly;
    }
}

static void draw_title(ax__plot_canvas *c, const char *title, int ts, int y, int cx0, int cx1)
{
    int tw = ax__plot_text_width(title, ts), x = (cx0 + cx1 - tw) / 2;
    if (x + tw > c->w - 4) x = (c->w - tw) / 2;
    if (x < 4) x = 4;
    text_draw(c, x, y, title, ts, C_INK, false);
    if (c->scale > 1) text_draw(c, x + 1, y, title, ts, C_INK, false); /* bold */
}

static void draw_xlabel(ax__plot_canvas *c, const ax__plot_axes *a, const char *s)
{
    int sc = c->scale, lh = AX_PLOT_GLYPH_H * sc, y = a->y1 + 1 + 4 * sc + 3 * sc + lh + 3 * sc;
    text_draw(c, (a->x0 + a->x1 - ax__plot_text_width(s, sc)) / 2, y, s, sc, C_INK, false);
}

static void draw_ylabel(ax__plot_canvas *c, int y0, int y1, const char *s)
{
    int sc = c->scale, tw = ax__plot_text_width(s, sc);
    text_draw(c, 6 * sc, (y0 + y1 - tw) / 2, s, sc, C_INK, true);
}

static void draw_decor(ax__plot_canvas *c, const spec *f, const deco *d)
{
    const ax__plot_axes *a = &c->axes[0];
    draw_frame(c, a, &d->xt, &d->yt, d->ticklabels, d->ticklabels);
    if (d->xlabel) draw_xlabel(c, a, f->xlabel);
    if (d->ylabel) draw_ylabel(c, a->y0, a->y1, f->ylabel);
    if (d->title) draw_title(c, f->title, d->ts, d->title_y, a->x0, a->x1);
    if (d->legend) legend_place(c, f->leg, d->legend_y, c->w - 12 * c->scale, true);
}

static void draw_no_data(ax__plot_canvas *c, const ax__plot_axes *a)
{
    int sc = c->scale;
    const char *s = "no data";
    text_draw(c, (a->x0 + a->x1 - ax__plot_text_width(s, sc)) / 2, (a->y0 + a->y1 - 7 * sc) / 2, s, sc,
              C_MUTED, false);
}

/* ---- anti-aliased lines ----------------------------------------------------------- */
/* A coverage mask over one axes' plot area: a series is drawn into it with max(), then
 * composited once, so joints between segments do not darken. */
typedef struct mask {
    int w, h;
    uint8_t *m;
} mask;

static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy, t = 0;
    if (l2 > 0) {
        t = ((px - ax) * dx + (py - ay) * dy) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    double ex = ax + t * dx - px, ey = ay + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

static inline void mask_px(mask *k, int i, int j, double cov)
{
    if (cov <= 0) return;
    unsigned v = cov >= 1 ? 255 : (unsigned)(cov * 255 + 0.5);
    uint8_t *p = k->m + (size_t)j * (size_t)k->w + (size_t)i;
    if (v > *p) *p = (uint8_t)v;
}

/* segment (ax,ay)-(bx,by) in mask pixel coordinates, half width hw, round caps */
static void mask_segment(mask *k, double ax, double ay, double bx, double by, double hw)
{
    double r = hw + 1;
    bool steep = fabs(by - ay) > fabs(bx - ax);
    /* walk the major axis (u) and cover the few pixels across it (v) */
    double au = steep ? ay : ax, av = steep ? ax : ay, bu = steep ? by : bx, bv = steep ? bx : by;
    int nu = steep ? k->h : k->w, nv = steep ? k->w : k->h;
    double lo = fmin(au, bu) - r, hi = fmax(au, bu) + r;
    if (hi < 0 || lo >= nu) return;
    int u0 = clampi(pix(lo), 0, nu - 1), u1 = clampi(pix(hi), 0, nu - 1);
    for (int u = u0; u <= u1; u++) {
        double cu = u + 0.5, t = bu != au ? (cu - au) / (bu - au) : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double cv = av + t * (bv - av);
        int v0 = clampi(pix(cv - 1.5 * r), 0, nv - 1), v1 = clampi(pix(cv + 1.5 * r), 0, nv - 1);
        if (cv + 1.5 * r < 0 || cv - 1.5 * r >= nv) continue;
        for (int v = v0; v <= v1; v++) {
            double d = steep ? seg_dist(v + 0.5, cu, ax, ay, bx, by) : seg_dist(cu, v + 0.5, ax, ay, bx, by);
            if (steep)
                mask_px(k, v, u, hw + 0.5 - d);
            else
                mask_px(k, u, v, hw + 0.5 - d);
        }
    }
}

/* the polyline (x[i], y[i]) of axes a into the mask; non-finite points break it and a lone
 * point between breaks becomes a dot */
static void mask_series(mask *k, const ax__plot_axes *a, size_t n, const double *x, const double *y, double hw)
{
    memset(k->m, 0, (size_t)k->w * (size_t)k->h);
    bool have_prev = false;
    double pxp = 0, pyp = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            have_prev = false;
            continue;
        }
        double px = ax__plot_map_x(a, x[i]) - a->x0, py = ax__plot_map_y(a, y[i]) - a->y0;
        bool next_ok = i + 1 < n && isfinite(x[i + 1]) && isfinite(y[i + 1]);
        if (have_prev)
            mask_segment(k, pxp, pyp, px, py, hw);
        else if (!next_ok)
            mask_segment(k, px, py, px, py, hw + 0.75); /* a lone point: a dot a bit wider than the line */
        pxp = px;
        pyp = py;
        have_prev = true;
    }
}

static void mask_composite(ax__plot_canvas *c, const ax__plot_axes *a, const mask *k, const uint8_t rgb[3])
{
    for (int j = 0; j < k->h; j++) {
        const uint8_t *m = k->m + (size_t)j * (size_t)k->w;
        uint8_t *p = c->px + ((size_t)(a->y0 + j) * (size_t)c->w + (size_t)a->x0) * 3;
        for (int i = 0; i < k->w; i++, p += 3)
            if (m[i]) blend(p, rgb, m[i]);
    }
}

static double line_hw(const ax__plot_canvas *c) { return c->scale == 1 ? 0.75 : 1.25; }

/* finite range of y over the points whose x is finite too; false when there is none */
static bool series_range(size_t n, const double *x, const double *y, double *xlo, double *xhi, double *ylo,
                         double *yhi)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        if (!any || x[i] < *xlo) *xlo = x[i];
        if (!any || x[i] > *xhi) *xhi = x[i];
        if (!any || y[i] < *ylo) *ylo = y[i];
        if (!any || y[i] > *yhi) *yhi = y[i];
        any = true;
    }
    return any;
}

/* data range to axis range: x as is, y padded 5% (from 0 for mostly positive data) */
static void pad_ranges(bool any, double *xlo, double *xhi, double *ylo, double *yhi)
{
    if (!any) {
        *xlo = *ylo = 0;
        *xhi = *yhi = 1;
        return;
    }
    if (*xhi - *xlo <= fabs(*xlo) * 1e-12) {
        double dx = *xlo != 0 ? fabs(*xlo) * 0.05 : 0.5;
        *xlo -= dx;
        *xhi += dx;
    }
    double lo = *ylo, hi = *yhi;
    if (hi - lo <= fmax(fabs(lo), fabs(hi)) * 1e-12) {
        if (lo == 0) {
            *ylo = 0;
            *yhi = 1;
        } else {
            double dy = fabs(lo) * 0.1;
            *ylo = lo - dy;
            *yhi = hi + dy;
        }
        return;
    }
    double span = hi - lo;
    *ylo = lo >= 0 && lo < 0.5 * hi ? 0 : lo - 0.05 * span;
    *yhi = hi + 0.05 * span;
}

static int check_series(const char *path, const char *what, int n_series, size_t n_points, const double *x,
                        const double *const *y)
{
    const char *P = pname(path);
    if (n_series < 1) return ax__err(AX_E_INVALID, "%s: %s: %d series; need at least 1", P, what, n_series);
    if (n_points > 0 && !x) return ax__err(AX_E_INVALID, "%s: %s: %zu points but no x values", P, what, n_points);
    if (!y) return ax__err(AX_E_INVALID, "%s: %s: no y values", P, what);
    for (int s = 0; s < n_series; s++)
        if (n_points > 0 && !y[s]) return ax__err(AX_E_INVALID, "%s: %s: series %d has no y values", P, what, s);
    return AX_OK;
}

/* ---- line plot -------------------------------------------------------------------- */
int ax__plot_lines_canvas(ax__plot_canvas *c, const char *path, const char *title, const char *xlabel,
                          const char *ylabel, int n_series, const char *const *names, size_t n_points,
                          const double *x, const double *const *y, int width, int height)
{
    memset(c, 0, sizeof *c);
    int rc = check_series(path, "line plot", n_series, n_points, x, y);
    if (rc < 0) return rc;
    if ((rc = ax__plot_canvas_init(c, path, width, height)) < 0) return rc;
    if ((rc = set_axes(c, path, 1)) < 0) goto fail;

    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    bool any = false;
    for (int s = 0; s < n_series; s++) {
        double a = 0, b = 0, p = 0, q = 0;
        if (!n_points || !series_range(n_points, x, y[s], &a, &b, &p, &q)) continue;
        xlo = any ? fmin(xlo, a) : a;
        xhi = any ? fmax(xhi, b) : b;
        ylo = any ? fmin(ylo, p) : p;
        yhi = any ? fmax(yhi, q) : q;
        any = true;
    }
    pad_ranges(any, &xlo, &xhi, &ylo, &yhi);

    char *store = NULL;
    uint8_t(*rgb)[3] = ax__calloc((size_t)n_series, 3);
    const char **nm = names ? series_names(names, n_series, NULL, &store) : NULL;
    if (!rgb || (names && !nm)) {
        free(rgb);
        free(store);
        free(nm);
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", pname(path));
        goto fail;
    }
    for (int s = 0; s < n_series; s++) ax__plot_palette(s, rgb[s]);
    legend L = {.n = names ? n_series : 0, .kind = LEG_LINE, .names = nm, .rgb = (const uint8_t(*)[3])rgb};
    spec f = {.title = title, .xlabel = xlabel, .ylabel = ylabel, .leg = &L, .xmin = xlo, .xmax = xhi,
              .ymin = ylo, .ymax = yhi};
    deco d;
    layout_single(c, &f, &d);
    const ax__plot_axes *a = &c->axes[0];
    draw_grid(c, a, &d.xt, &d.yt);
    mask k = {a->x1 - a->x0, a->y1 - a->y0, NULL};
    k.m = any ? ax__malloc_array((size_t)k.w, (size_t)k.h) : NULL;
    if (any && !k.m) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", pname(path));
    } else if (any) {
        for (int s = 0; s < n_series; s++) {
            mask_series(&k, a, n_points, x, y[s], line_hw(c));
            mask_composite(c, a, &k, rgb[s]);
        }
    } else {
        draw_no_data(c, a);
    }
    if (rc == AX_OK) draw_decor(c, &f, &d);
    free(k.m);
    free(rgb);
    free(store);
    free(nm);
    if (rc == AX_OK) return AX_OK;
fail:
    ax__plot_canvas_free(c);
    return rc;
}

int ax__plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel, int n_series,
                   const char *const *names, size_t n_points, const double *x, const double *const *y, int width,
                   int height)
{
    if (!path) return ax__err(AX_E_INVALID, "plot: no output path");
    ax__plot_canvas c;
    int rc = ax__plot_lines_canvas(&c, path, title, xlabel, ylabel, n_series, names, n_points, x, y, width, height);
    if (rc < 0) return rc;
    rc = ax__plot_canvas_write(&c, path);
    ax__plot_canvas_free(&c);
    return rc;
}

/* ---- stacked traces --------------------------------------------------------------- */
#define STACK_MIN_PANEL 24

int ax__plot_stacked_canvas(ax__plot_canvas *c, const char *path, const char *title, int n_series,
                            const char *const *names, size_t n_points, const double *x, const double *const *y,
                            const char *xlabel, const char *ylabel, int width, int height)
{
    memset(c, 0, sizeof *c);
    int rc = check_series(path, "stacked plot", n_series, n_points, x, y);
    if (rc < 0) return rc;
    if ((rc = ax__plot_canvas_init(c, path, width, height)) < 0) return rc;
    if ((rc = set_axes(c, path, n_series)) < 0) goto fail;

    int sc = c->scale, pad = 6 * sc, gap = 3 * sc, tick = 4 * sc, lh = AX_PLOT_GLYPH_H * sc;
    int ts = title_scale(c);
    bool has_title = title && title[0], has_x = xlabel && xlabel[0], has_y = ylabel && ylabel[0];
    int top = pad + (has_title ? 7 * ts + 3 * gap : 0);
    int bottom = pad + tick + gap + lh + (has_x ? gap + lh : 0);
    int name_h = lh + gap, between = 2 * gap;
    int panel_h = (height - top - bottom - n_series * name_h - (n_series - 1) * between) / n_series;
    if (panel_h < STACK_MIN_PANEL) {
        rc = ax__err(AX_E_INVALID, "%s: stacked plot: %d series do not fit in %d pixel rows (%d per panel, need %d)",
                     pname(path), n_series, height, panel_h, STACK_MIN_PANEL);
        goto fail;
    }

    /* shared x range, one y range per panel */
    double xlo = 0, xhi = 0;
    bool any_x = false;
    bool *any = ax__calloc((size_t)n_series, sizeof *any);
    ticks *yt = ax__calloc((size_t)n_series, sizeof *yt);
    char *store = NULL;
    const char **nm = series_names(names, n_series, NULL, &store);
    mask k = {0, 0, NULL};
    if (!any || !yt || !nm) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", pname(path));
        goto out;
    }
    for (int s = 0; s < n_series; s++) {
        ax__plot_axes *a = &c->axes[s];
        double p = 0, q = 0, r = 0, t = 0;
        any[s] = n_points > 0 && series_range(n_points, x, y[s], &p, &q, &r, &t);
        if (any[s]) {
            xlo = any_x ? fmin(xlo, p) : p;
            xhi = any_x ? fmax(xhi, q) : q;
            any_x = true;
        }
        pad_ranges(any[s], &p, &q, &r, &t);
        a->ymin = r;
        a->ymax = t;
        a->y0 = top + s * (name_h + panel_h + between) + name_h;
        a->y1 = a->y0 + panel_h;
        make_ticks(&yt[s], r, t, clampi(panel_h / (24 * sc), 2, 5), false);
    }
    double ylo_unused = 0, yhi_unused = 1;
    pad_ranges(any_x, &xlo, &xhi, &ylo_unused, &yhi_unused);
    int ylw = 0;
    for (int s = 0; s < n_series; s++) {
        int w = ticks_max_width(&yt[s], sc);
        if (w > ylw) ylw = w;
    }
    int left = pad + (has_y ? lh + 2 * gap : 0) + ylw + gap + tick;
    ticks xt;
    make_xticks(&xt, xlo, xhi, width - left - pad, sc);
    int right = pad + ticks_max_width(&xt, sc) / 2;
    if (width - left - right < 32) {
        rc = ax__err(AX_E_INVALID, "%s: stacked plot: %d pixels are too narrow for the labels", pname(path), width);
        goto out;
    }
    for (int s = 0; s < n_series; s++) {
        c->axes[s].x0 = left;
        c->axes[s].x1 = width - right;
        c->axes[s].xmin = xlo;
        c->axes[s].xmax = xhi;
    }
    make_xticks(&xt, xlo, xhi, width - left - right, sc);

    k.w = c->axes[0].x1 - c->axes[0].x0;
    k.h = panel_h;
    k.m = ax__malloc_array((size_t)k.w, (size_t)k.h);
    if (!k.m) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", pname(path));
        goto out;
    }
    for (int s = 0; s < n_series; s++) {
        const ax__plot_axes *a = &c->axes[s];
        uint8_t rgb[3];
        ax__plot_palette(s, rgb);
        draw_grid(c, a, &xt, &yt[s]);
        if (any[s]) {
            mask_series(&k, a, n_points, x, y[s], line_hw(c));
            mask_composite(c, a, &k, rgb);
        } else {
            draw_no_data(c, a);
        }
        draw_frame(c, a, &xt, &yt[s], s == n_series - 1, true);
        /* the panel's name above it, in its colour, with a swatch */
        int ny = a->y0 - 1 - gap - 7 * sc;
        fill_rect(c, a->x0, ny + 3 * sc, a->x0 + 10 * sc, ny + 3 * sc + (sc == 1 ? 2 : 3), rgb);
        text_draw(c, a->x0 + 14 * sc, ny, nm[s], sc, C_INK, false);
    }
    const ax__plot_axes *last = &c->axes[n_series - 1];
    if (has_x) draw_xlabel(c, last, xlabel);
    if (has_y) draw_ylabel(c, c->axes[0].y0, last->y1, ylabel);
    if (has_title) draw_title(c, title, ts, pad, c->axes[0].x0, c->axes[0].x1);
out:
    free(k.m);
    free(any);
    free(yt);
    free(nm);
    free(store);
    if (rc == AX_OK) return AX_OK;
fail:
    ax__plot_canvas_free(c);
    return rc;
}

int ax__plot_stacked(const char *path, const char *title, int n_series, const char *const *names, size_t n_points,
                     const double *x, const double *const *y, const char *xlabel, const char *ylabel, int width,
                     int height)
{
    if (!path) return ax__err(AX_E_INVALID, "plot: no output path");
    ax__plot_canvas c;
    int rc =
        ax__plot_stacked_canvas(&c, path, title, n_series, names, n_points, x, y, xlabel, ylabel, width, height);
    if (rc < 0) return rc;
    rc = ax__plot_canvas_write(&c, path);
    ax__plot_canvas_free(&c);
    return rc;
}

/* ---- raster ----------------------------------------------------------------------- */
static const char *ordinal(uint32_t k)
{
    if (k % 100 >= 11 && k % 100 <= 13) return "th";
    return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

static int check_raster(const char *P, size_t n, const double *t_ms, const uint32_t *neuron, double t0_ms,
                        double t1_ms, uint32_t n_neurons, int n_groups, const uint32_t *group_start)
{
    if (n > 0 && (!t_ms || !neuron))
        return ax__err(AX_E_INVALID, "%s: raster: %zu spikes but no %s", P, n, !t_ms ? "times" : "neuron ids");
    if (!isfinite(t0_ms) || !isfinite(t1_ms) || !(t1_ms > t0_ms))
        return ax__err(AX_E_INVALID, "%s: raster: time range %g..%g ms is not a finite, non-empty range", P, t0_ms,
                       t1_ms);
    if (n_neurons == 0) return ax__err(AX_E_INVALID, "%s: raster: no neurons", P);
    if (n_groups < 0 || (n_groups > 0 && !group_start))
        return ax__err(AX_E_INVALID, "%s: raster: %d groups but no group starts", P, n_groups);
    if (n_groups > 0 && group_start[0] != 0)
        return ax__err(AX_E_INVALID, "%s: raster: the first group starts at neuron %u, not 0", P, group_start[0]);
    for (int g = 1; g < n_groups; g++)
        if (group_start[g] < group_start[g - 1] || group_start[g] > n_neurons)
            return ax__err(AX_E_INVALID, "%s: raster: group %d starts at neuron %u (group %d at %u, %u neurons)", P,
                           g, group_start[g], g - 1, group_start[g - 1], n_neurons);
    for (size_t i = 0; i < n; i++) {
        if (neuron[i] >= n_neurons)
            return ax__err(AX_E_INVALID, "%s: raster: spike %zu is of neuron %u, outside 0..%u", P, i, neuron[i],
                           n_neurons - 1);
        if (!isfinite(t_ms[i])) return ax__err(AX_E_INVALID, "%s: raster: spike %zu has time %g", P, i, t_ms[i]);
    }
    return AX_OK;
}

/* group of neuron k (groups sorted by start; k >= start[0] = 0) */
static int group_of(uint32_t k, int n_groups, const uint32_t *start)
{
    int lo = 0, hi = n_groups - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (start[mid] <= k)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

#define RASTER_HIST 4096

int ax__plot_raster_canvas(ax__plot_canvas *c, const char *path, const char *title, size_t n, const double *t_ms,
                           const uint32_t *neuron, double t0_ms, double t1_ms, uint32_t n_neurons, int n_groups,
                           const uint32_t *group_start, const char *const *group_names, int width, int height)
{
    memset(c, 0, sizeof *c);
    const char *P = pname(path);
    int rc = check_raster(P, n, t_ms, neuron, t0_ms, t1_ms, n_neurons, n_groups, group_start);
    if (rc < 0) return rc;
    if ((rc = ax__plot_canvas_init(c, path, width, height)) < 0) return rc;
    if ((rc = set_axes(c, path, 1)) < 0) goto fail;

    char *store = NULL, *full_title = NULL;
    const char **nm = NULL;
    uint8_t(*rgb)[3] = NULL;
    uint32_t *cnt = NULL;
    uint8_t *grp = NULL;
    if (n_groups > 0) {
        nm = series_names(group_names, n_groups, "group", &store);
        rgb = ax__calloc((size_t)n_groups, 3);
        if (!nm || !rgb) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", P);
            goto out;
        }
        for (int g = 0; g < n_groups; g++) ax__plot_palette(g, rgb[g]);
    }
    legend L = {.n = n_groups, .kind = LEG_BOX, .names = nm, .rgb = (const uint8_t(*)[3])rgb};
    spec f = {.title = title, .xlabel = "time (ms)", .ylabel = "neuron", .leg = &L, .xmin = t0_ms,
              .xmax = t1_ms, .ymin = 0, .ymax = n_neurons, .yint = true};
    deco d;
    /* more than 4 neurons a pixel row: draw every stride-th neuron, about one a row, and
     * say so in the title (which may need the room of a title line) */
    uint32_t stride = 1;
    for (int pass = 0; pass < 3; pass++) {
        layout_single(c, &f, &d);
        int ph = c->axes[0].y1 - c->axes[0].y0;
        stride = n_neurons > 4 * (uint64_t)ph ? (uint32_t)((n_neurons + (uint64_t)ph - 1) / (uint64_t)ph) : 1;
        if (stride == c->stride) break;
        c->stride = stride;
        free(full_title);
        full_title = title && title[0] ? ax__asprintf("%s (every %u%s neuron)", title, stride, ordinal(stride))
                                       : ax__asprintf("every %u%s neuron", stride, ordinal(stride));
        if (!full_title) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", P);
            goto out;
        }
        f.title = full_title;
    }
    c->stride = stride;
    const ax__plot_axes *a = &c->axes[0];
    int pw = a->x1 - a->x0, ph = a->y1 - a->y0;
    /* 2x2 dots while every neuron has two pixel rows or more */
    int dot = stride == 1 && (uint64_t)ph >= 2 * (uint64_t)n_neurons ? 2 : 1;

    cnt = ax__calloc((size_t)pw * (size_t)ph, sizeof *cnt);
    grp = ax__calloc((size_t)pw * (size_t)ph, 1);
    if (!cnt || !grp) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory for a %dx%d raster", P, pw, ph);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        double t = t_ms[i];
        uint32_t k = neuron[i];
        if (t < t0_ms || t > t1_ms || k % stride) continue;
        int col = clampi(pix(ax__plot_map_x(a, t) - a->x0 - (dot - 1) * 0.5), 0, pw - dot);
        int row = clampi(pix(ax__plot_map_y(a, k + 0.5) - a->y0 - (dot - 1) * 0.5), 0, ph - dot);
        uint8_t g = n_groups > 0 ? (uint8_t)(group_of(k, n_groups, group_start) % 10) : 255;
        for (int dy = 0; dy < dot; dy++)
            for (int dx = 0; dx < dot; dx++) {
                size_t o = (size_t)(row + dy) * (size_t)pw + (size_t)(col + dx);
                if (cnt[o] < UINT32_MAX) cnt[o]++;
                grp[o] = g;
            }
    }
    /* opacity on a log scale of the count, full at the 99th percentile of busy pixels */
    size_t *hist = ax__calloc(RASTER_HIST + 1, sizeof *hist), busy = 0;
    if (!hist) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", P);
        goto out;
    }
    for (size_t o = 0; o < (size_t)pw * (size_t)ph; o++)
        if (cnt[o]) {
            hist[cnt[o] < RASTER_HIST ? cnt[o] : RASTER_HIST]++;
            busy++;
        }
    uint32_t ref = 1;
    for (size_t acc = 0, v = 1; v <= RASTER_HIST; v++) {
        acc += hist[v];
        if (acc * 100 >= busy * 99) {
            ref = (uint32_t)v;
            break;
        }
    }
    free(hist);
    unsigned alpha[64];
    for (uint32_t v = 0; v < 64; v++) {
        double av = v == 0 ? 0 : v >= ref ? 1 : log1p(v) / log1p(ref);
        if (v > 0 && av < 0.12) av = 0.12;
        alpha[v] = (unsigned)(av * 255 + 0.5);
    }

    /* population boundaries under the spikes */
    for (int g = 1; g < n_groups; g++)
        if (group_start[g] > 0 && group_start[g] < n_neurons) {
            int y = clampi(pix(ax__plot_map_y(a, group_start[g])), a->y0, a->y1 - 1);
            fill_rect(c, a->x0, y, a->x1, y + 1, C_SEP);
        }
    for (int j = 0; j < ph; j++) {
        uint8_t *p = c->px + ((size_t)(a->y0 + j) * (size_t)c->w + (size_t)a->x0) * 3;
        for (int i = 0; i < pw; i++, p += 3) {
            size_t o = (size_t)j * (size_t)pw + (size_t)i;
            uint32_t v = cnt[o];
            if (!v) continue;
            unsigned al = v < 64 ? alpha[v] : v >= ref ? 255 : (unsigned)(log1p(v) / log1p(ref) * 255 + 0.5);
            blend(p, grp[o] == 255 ? C_DOT : palette[grp[o]], al);
        }
    }
    draw_decor(c, &f, &d);
out:
    free(cnt);
    free(grp);
    free(rgb);
    free(nm);
    free(store);
    free(full_title);
    if (rc == AX_OK) return AX_OK;
fail:
    ax__plot_canvas_free(c);
    return rc;
}

int ax__plot_raster(const char *path, const char *title, size_t n, const double *t_ms, const uint32_t *neuron,
                    double t0_ms, double t1_ms, uint32_t n_neurons, int n_groups, const uint32_t *group_start,
                    const char *const *group_names, int width, int height)
{
    if (!path) return ax__err(AX_E_INVALID, "plot: no output path");
    ax__plot_canvas c;
    int rc = ax__plot_raster_canvas(&c, path, title, n, t_ms, neuron, t0_ms, t1_ms, n_neurons, n_groups,
                                    group_start, group_names, width, height);
    if (rc < 0) return rc;
    rc = ax__plot_canvas_write(&c, path);
    ax__plot_canvas_free(&c);
    return rc;
}

/* ---- histogram -------------------------------------------------------------------- */
int ax__plot_histogram_canvas(ax__plot_canvas *c, const char *path, const char *title, const char *xlabel,
                              const char *ylabel, size_t n_bins, const double *edges, const double *counts,
                              int width, int height)
{
    memset(c, 0, sizeof *c);
    const char *P = pname(path);
    if (n_bins < 1 || !edges || !counts)
        return ax__err(AX_E_INVALID, "%s: histogram: %zu bins, edges %s, counts %s", P, n_bins,
                       edges ? "given" : "missing", counts ? "given" : "missing");
    double cmax = 0;
    for (size_t b = 0; b <= n_bins; b++) {
        if (!isfinite(edges[b]))
            return ax__err(AX_E_INVALID, "%s: histogram: bin edge %zu is %g", P, b, edges[b]);
        if (b > 0 && !(edges[b] > edges[b - 1]))
            return ax__err(AX_E_INVALID, "%s: histogram: bin edges %zu..%zu (%g, %g) do not increase", P, b - 1, b,
                           edges[b - 1], edges[b]);
        if (b < n_bins) {
            if (!isfinite(counts[b]) || counts[b] < 0)
                return ax__err(AX_E_INVALID, "%s: histogram: bin %zu has count %g", P, b, counts[b]);
            if (counts[b] > cmax) cmax = counts[b];
        }
    }
    int rc = ax__plot_canvas_init(c, path, width, height);
    if (rc < 0) return rc;
    if ((rc = set_axes(c, path, 1)) < 0) {
        ax__plot_canvas_free(c);
        return rc;
    }
    spec f = {.title = title, .xlabel = xlabel, .ylabel = ylabel, .xmin = edges[0], .xmax = edges[n_bins],
              .ymin = 0, .ymax = cmax > 0 ? cmax * 1.05 : 1};
    deco d;
    layout_single(c, &f, &d);
    const ax__plot_axes *a = &c->axes[0];
    draw_grid(c, a, NULL, &d.yt);
    uint8_t fill[3], edge[3];
    ax__plot_palette(0, edge);
    for (int k = 0; k < 3; k++) fill[k] = (uint8_t)(edge[k] + (255 - edge[k]) * 0.25);
    for (size_t b = 0; b < n_bins; b++) {
        if (counts[b] <= 0) continue;
        int xa = clampi((int)lround(ax__plot_map_x(a, edges[b])), a->x0, a->x1);
        int xb = clampi((int)lround(ax__plot_map_x(a, edges[b + 1])), a->x0, a->x1);
        int yt = clampi((int)lround(ax__plot_map_y(a, counts[b])), a->y0, a->y1 - 1);
        if (xb <= xa) xb = xa + 1;
        /* a white gap between wide bars, a darker top */
        int xe = xb - xa >= 4 ? xb - 1 : xb;
        fill_rect(c, xa, yt, xe, a->y1, fill);
        fill_rect(c, xa, yt, xe, yt + 1, edge);
    }
    draw_decor(c, &f, &d);
    return AX_OK;
}

int ax__plot_histogram(const char *path, const char *title, const char *xlabel, const char *ylabel, size_t n_bins,
                       const double *edges, const double *counts, int width, int height)
{
    if (!path) return ax__err(AX_E_INVALID, "plot: no output path");
    ax__plot_canvas c;
    int rc = ax__plot_histogram_canvas(&c, path, title, xlabel, ylabel, n_bins, edges, counts, width, height);
    if (rc < 0) return rc;
    rc = ax__plot_canvas_write(&c, path);
    ax__plot_canvas_free(&c);
    return rc;
}

int ax__plot_bin(size_t n, const double *values, size_t n_bins, double lo, double hi, double *edges,
                 double *counts)
{
    if (n_bins < 1 || !edges || !counts || (n > 0 && !values))
        return ax__err(AX_E_INVALID, "plot: binning: %zu bins, %zu values (missing arrays?)", n_bins, n);
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo)) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(values[i])) continue;
            if (!any || values[i] < lo) lo = values[i];
            if (!any || values[i] > hi) hi = values[i];
            any = true;
        }
        if (!any) {
            lo = 0;
            hi = 1;
        } else if (!(hi > lo)) {
            lo -= 0.5;
            hi += 0.5;
        }
    }
    double wbin = (hi - lo) / (double)n_bins;
    for (size_t b = 0; b <= n_bins; b++) edges[b] = b == n_bins ? hi : lo + wbin * (double)b;
    memset(counts, 0, n_bins * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v) || v < lo || v > hi) continue;
        size_t b = (size_t)((v - lo) / wbin);
        if (b >= n_bins) b = n_bins - 1;
        counts[b] += 1;
    }
    return AX_OK;
}
