/* test_plot.c: the spiking-network plots (src/snn/plot.h): font, axis mapping, where spikes
 * and lines land in the decoded PNG, density shading, legends, and bad input. */
#include <math.h>
#include <png.h>
#include <unistd.h>

#include "snn/plot.h"
#include "test.h"

/* ---- helpers ---------------------------------------------------------------------- */
typedef struct img {
    int w, h;
    uint8_t *px;
} img;

/* decode an RGB PNG with libpng; false when it does not read */
static bool read_png(const char *path, img *im)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    im->px = NULL;
    if (!png_image_begin_read_from_file(&pi, path)) return false;
    pi.format = PNG_FORMAT_RGB;
    im->w = (int)pi.width;
    im->h = (int)pi.height;
    im->px = malloc(PNG_IMAGE_SIZE(pi));
    if (!im->px || !png_image_finish_read(&pi, NULL, im->px, 0, NULL)) {
        png_image_free(&pi);
        free(im->px);
        im->px = NULL;
        return false;
    }
    return true;
}

static const uint8_t *at(const img *im, int x, int y) { return im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3; }

static bool is_rgb(const uint8_t *p, const uint8_t rgb[3]) { return p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2]; }

static bool is_white(const uint8_t *p) { return p[0] == 255 && p[1] == 255 && p[2] == 255; }

/* How much of colour rgb the pixel holds over white (0: white, 1: rgb), or -1 when the
 * pixel is not a blend of white and rgb. */
static double coverage(const uint8_t *p, const uint8_t rgb[3])
{
    int k = 0;
    for (int i = 1; i < 3; i++)
        if (255 - rgb[i] > 255 - rgb[k]) k = i;
    double f = (255.0 - p[k]) / (255.0 - rgb[k]);
    for (int i = 0; i < 3; i++)
        if (fabs(p[i] - (255 + (rgb[i] - 255) * f)) > 3) return -1;
    return f;
}

static int px_col(const ax__plot_axes *a, double x) { return (int)floor(ax__plot_map_x(a, x)); }
static int px_row(const ax__plot_axes *a, double y) { return (int)floor(ax__plot_map_y(a, y)); }

/* the PNG at path holds exactly the canvas' pixels */
static void check_png_is_canvas(const char *path, const ax__plot_canvas *c)
{
    img im;
    CHECK(read_png(path, &im));
    if (!im.px) return;
    CHECK(im.w == c->w && im.h == c->h);
    if (im.w == c->w && im.h == c->h) CHECK(memcmp(im.px, c->px, (size_t)c->w * (size_t)c->h * 3) == 0);
    free(im.px);
}

/* a dark (text) pixel and a pixel of each colour inside the legend box */
static void check_legend(const img *im, const int box[4], int n, const uint8_t (*rgb)[3])
{
    CHECK(box[2] > box[0] && box[3] > box[1]);
    int ink = 0;
    int found[16] = {0};
    for (int y = box[1]; y < box[3]; y++)
        for (int x = box[0]; x < box[2]; x++) {
            const uint8_t *p = at(im, x, y);
            if (p[0] < 80 && p[1] < 80 && p[2] < 80) ink++;
            for (int i = 0; i < n && i < 16; i++)
                if (is_rgb(p, rgb[i])) found[i]++;
        }
    CHECK(ink > 20);
    for (int i = 0; i < n && i < 16; i++) CHECK(found[i] > 0);
}

/* ---- font ------------------------------------------------------------------------- */
static void test_font(void)
{
    CHECK(ax__plot_glyph(31) == NULL && ax__plot_glyph(127) == NULL && ax__plot_glyph(-1) == NULL);
    const uint8_t *sp = ax__plot_glyph(' ');
    CHECK(sp != NULL);
    int blank = 1;
    for (int r = 0; r < AX_PLOT_GLYPH_H; r++) blank &= sp[r] == 0;
    CHECK(blank);
    for (int ch = 33; ch <= 126; ch++) {
        const uint8_t *g = ax__plot_glyph(ch);
        int set = 0, outside = 0;
        for (int r = 0; r < AX_PLOT_GLYPH_H; r++) {
            set += g[r] != 0;
            outside |= g[r] & ~0x1F;
        }
        if (!set || outside) fprintf(stderr, "  glyph '%c': %d rows set, bits outside 5 columns %x\n", ch, set, outside);
        CHECK(set > 0 && !outside);
        for (int o = 32; o < ch; o++) {
            bool same = memcmp(g, ax__plot_glyph(o), AX_PLOT_GLYPH_H) == 0;
            if (same) fprintf(stderr, "  glyphs '%c' and '%c' are the same\n", o, ch);
            CHECK(!same);
        }
    }
    /* capitals stand 7 rows on the baseline; descenders reach below it */
    CHECK(ax__plot_glyph('H')[0] && ax__plot_glyph('H')[6] && !ax__plot_glyph('H')[7]);
    CHECK(ax__plot_glyph('g')[8] && ax__plot_glyph('y')[8] && ax__plot_glyph('p')[8]);
    CHECK(ax__plot_text_width("", 1) == 0 && ax__plot_text_width(NULL, 1) == 0);
    CHECK(ax__plot_text_width("ab", 1) == 11 && ax__plot_text_width("ab", 2) == 22);
    CHECK(ax__plot_text_width("\xc2\xb5s", 1) == 11); /* "µs": two cells */

    /* drawn text matches the glyph bitmap, scaled */
    ax__plot_canvas c;
    CHECK_OK(ax__plot_canvas_init(&c, "font", 64, 64));
    const uint8_t ink[3] = {0, 0, 0};
    ax__plot_text(&c, 3, 4, "A", 2, ink);
    const uint8_t *g = ax__plot_glyph('A');
    int bad = 0;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            int gx = (x - 3) / 2, gy = (y - 4) / 2;
            bool want = x >= 3 && y >= 4 && gx < AX_PLOT_GLYPH_W && gy < AX_PLOT_GLYPH_H && (g[gy] & (0x10 >> gx));
            const uint8_t *p = c.px + ((size_t)y * 64 + (size_t)x) * 3;
            bad += want != (p[0] == 0);
        }
    CHECK(bad == 0);
    /* clipped at the edges, no crash */
    ax__plot_text(&c, -5, 60, "clipped text", 2, ink);
    ax__plot_canvas_free(&c);
}

static void test_ticks(void)
{
    CHECK(ax__plot_nice_step(10, 5) == 2);
    CHECK(ax__plot_nice_step(1000, 4) == 200);
    CHECK(ax__plot_nice_step(7, 1) == 5);
    CHECK(fabs(ax__plot_nice_step(0.9, 9) - 0.1) < 1e-12);
    CHECK(ax__plot_nice_step(0, 5) == 1 && ax__plot_nice_step(NAN, 5) == 1);
    for (double r = 1e-3; r < 1e6; r *= 1.37) {
        double s = ax__plot_nice_step(r, 5), m = s / pow(10, floor(log10(s) + 1e-9));
        CHECK(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9);
        CHECK(r / s >= 2 && r / s <= 12);
    }
    uint8_t a[3], b[3];
    ax__plot_palette(0, a);
    ax__plot_palette(10, b);
    CHECK(memcmp(a, b, 3) == 0);
    ax__plot_palette(1, b);
    CHECK(memcmp(a, b, 3) != 0);
}

/* ---- raster ----------------------------------------------------------------------- */
static void test_raster_pixels(void)
{
    char path[600];
    test_path(path, sizeof path, "raster.png");
    double t[2] = {250, 700};
    uint32_t k[2] = {25, 75}, gs[2] = {0, 50};
    const char *names[2] = {"excitatory", "inhibitory"};
    CHECK_OK(ax__plot_raster(path, "two spikes", 2, t, k, 0, 1000, 100, 2, gs, names, 400, 300));
    ax__plot_canvas c;
    CHECK_OK(ax__plot_raster_canvas(&c, path, "two spikes", 2, t, k, 0, 1000, 100, 2, gs, names, 400, 300));
    if (!c.px) return;
    check_png_is_canvas(path, &c);
    img im;
    CHECK(read_png(path, &im));
    if (!im.px) {
        ax__plot_canvas_free(&c);
        return;
    }
    const ax__plot_axes *a = &c.axes[0];
    CHECK(c.stride == 1 && a->xmin == 0 && a->xmax == 1000 && a->ymin == 0 && a->ymax == 100);
    CHECK(a->x0 > 20 && a->x1 < 400 && a->y0 > 20 && a->y1 < 300 && a->x1 - a->x0 > 200);
    uint8_t rgb[2][3];
    ax__plot_palette(0, rgb[0]);
    ax__plot_palette(1, rgb[1]);
    /* each spike at its mapped pixel, in its population's colour */
    int sx[2], sy[2];
    for (int i = 0; i < 2; i++) {
        sx[i] = px_col(a, t[i]);
        sy[i] = px_row(a, k[i] + 0.5);
        CHECK(is_rgb(at(&im, sx[i], sy[i]), rgb[i]));
    }
    /* neuron 0 at the bottom: the lower id lies lower in the picture */
    CHECK(sy[0] > sy[1]);
    /* background everywhere else in the plot area but the population boundary */
    int sep = px_row(a, 50), stray = 0;
    for (int y = a->y0; y < a->y1; y++)
        for (int x = a->x0; x < a->x1; x++) {
            const uint8_t *p = at(&im, x, y);
            bool near = false;
            for (int i = 0; i < 2; i++) near |= abs(x - sx[i]) <= 1 && abs(y - sy[i]) <= 1;
            if (near) continue;
            if (y == sep) {
                stray += !(p[0] == p[1] && p[1] == p[2] && p[0] > 150); /* light grey line */
                continue;
            }
            stray += !is_white(p);
        }
    CHECK(stray == 0);
    CHECK(is_white(at(&im, px_col(a, 500), sy[0])));
    /* the frame is drawn around the area */
    CHECK(!is_white(at(&im, a->x0 - 1, (a->y0 + a->y1) / 2)) && !is_white(at(&im, (a->x0 + a->x1) / 2, a->y1)));
    /* legend with both names and colours, above the plot */
    check_legend(&im, c.legend, 2, (const uint8_t(*)[3])rgb);
    CHECK(c.legend[3] <= a->y0);
    free(im.px);
    ax__plot_canvas_free(&c);

    /* no populations: one dark colour, no legend; spikes outside the window left out */
    double t2[3] = {-5, 500, 1200};
    uint32_t k2[3] = {1, 3, 5};
    CHECK_OK(ax__plot_raster_canvas(&c, NULL, NULL, 3, t2, k2, 0, 1000, 10, 0, NULL, NULL, 300, 200));
    a = &c.axes[0];
    CHECK(c.legend[2] == c.legend[0]);
    const uint8_t *p = c.px + ((size_t)px_row(a, 3.5) * (size_t)c.w + (size_t)px_col(a, 500)) * 3;
    CHECK(p[0] < 60 && p[0] == p[1] && p[1] == p[2]);
    int dark = 0;
    for (int y = a->y0; y < a->y1; y++)
        for (int x = a->x0; x < a->x1; x++) dark += c.px[((size_t)y * (size_t)c.w + (size_t)x) * 3] < 200;
    CHECK(dark >= 1 && dark <= 4); /* one dot */
    ax__plot_canvas_free(&c);
}

/* many spikes on one pixel darken it more than one spike, without swallowing the one */
static void test_raster_density(void)
{
    size_t n = 0, cap = 4000;
    double *t = malloc(cap * sizeof *t);
    uint32_t *k = malloc(cap * sizeof *k);
    /* 50 busy spots of 20 spikes each, then 5 lone spikes */
    for (int s = 0; s < 50; s++)
        for (int r = 0; r < 20; r++) {
            t[n] = 10 + s * 15;
            k[n++] = 100;
        }
    for (int s = 0; s < 5; s++) {
        t[n] = 10 + s * 15;
        k[n++] = 250;
    }
    ax__plot_canvas c;
    CHECK_OK(ax__plot_raster_canvas(&c, "density", NULL, n, t, k, 0, 1000, 300, 0, NULL, NULL, 500, 300));
    if (c.px) {
        const ax__plot_axes *a = &c.axes[0];
        CHECK(c.stride == 1 && a->y1 - a->y0 < 600); /* every neuron, 1 px dots */
        const uint8_t *busy = c.px + ((size_t)px_row(a, 100.5) * (size_t)c.w + (size_t)px_col(a, 10)) * 3;
        const uint8_t *lone = c.px + ((size_t)px_row(a, 250.5) * (size_t)c.w + (size_t)px_col(a, 10)) * 3;
        CHECK(busy[0] < 60);                   /* full colour */
        CHECK(lone[0] > busy[0] + 60 && lone[0] < 240); /* lighter, but there */
    }
    ax__plot_canvas_free(&c);
    free(t);
    free(k);
}

/* more than 4 neurons a pixel row: every stride-th neuron alone, said in the title */
static void test_raster_subsample(void)
{
    char path[600];
    test_path(path, sizeof path, "raster-big.png");
    double t[3] = {200, 600, 800};
    uint32_t k[3] = {0, 1, 0}, gs[2] = {0, 3000};
    ax__plot_canvas c;
    CHECK_OK(ax__plot_raster_canvas(&c, path, NULL, 3, t, k, 0, 1000, 4000, 2, gs, NULL, 400, 300));
    if (!c.px) return;
    const ax__plot_axes *a = &c.axes[0];
    int ph = a->y1 - a->y0;
    CHECK(c.stride > 1 && c.stride == (4000 + (uint32_t)ph - 1) / (uint32_t)ph);
    uint32_t third = 3 * c.stride;
    ax__plot_canvas_free(&c);
    k[2] = third;
    CHECK_OK(ax__plot_raster(path, NULL, 3, t, k, 0, 1000, 4000, 2, gs, NULL, 400, 300));
    CHECK_OK(ax__plot_raster_canvas(&c, path, NULL, 3, t, k, 0, 1000, 4000, 2, gs, NULL, 400, 300));
    img im;
    CHECK(read_png(path, &im));
    if (im.px && c.px) {
        a = &c.axes[0];
        uint8_t blue[3];
        ax__plot_palette(0, blue);
        CHECK(is_rgb(at(&im, px_col(a, 200), px_row(a, 0.5)), blue));
        CHECK(is_white(at(&im, px_col(a, 600), px_row(a, 1.5)))); /* neuron 1 not drawn */
        CHECK(is_rgb(at(&im, px_col(a, 800), px_row(a, third + 0.5)), blue));
        /* the title line ("every Nth neuron") has ink above the legend */
        int ink = 0;
        for (int y = 0; y < c.legend[1]; y++)
            for (int x = 0; x < im.w; x++) ink += at(&im, x, y)[0] < 80;
        CHECK(ink > 50);
        /* default names "group 0", "group 1" in the legend */
        uint8_t rgb[2][3];
        ax__plot_palette(0, rgb[0]);
        ax__plot_palette(1, rgb[1]);
        check_legend(&im, c.legend, 2, (const uint8_t(*)[3])rgb);
    }
    free(im.px);
    ax__plot_canvas_free(&c);
}

/* ---- lines ------------------------------------------------------------------------ */
static void test_lines(void)
{
    char path[600];
    test_path(path, sizeof path, "lines.png");
    enum { N = 101 };
    double x[N], flat[N], diag[N];
    for (int i = 0; i < N; i++) {
        x[i] = i * 0.1;
        flat[i] = 5;
        diag[i] = x[i];
    }
    for (int i = 70; i < 75; i++) flat[i] = NAN; /* a gap from x = 6.9 to 7.5 */
    const double *ys[2] = {flat, diag};
    const char *names[2] = {"flat", "diagonal"};
    CHECK_OK(ax__plot_lines(path, "lines", "time (ms)", "rate (Hz)", 2, names, N, x, ys, 640, 400));
    ax__plot_canvas c;
    CHECK_OK(ax__plot_lines_canvas(&c, path, "lines", "time (ms)", "rate (Hz)", 2, names, N, x, ys, 640, 400));
    if (!c.px) return;
    check_png_is_canvas(path, &c);
    img im;
    CHECK(read_png(path, &im));
    const ax__plot_axes *a = &c.axes[0];
    /* x as given, y from 0 (positive data) to the top plus 5% */
    CHECK(a->xmin == 0 && fabs(a->xmax - 10) < 1e-9 && a->ymin == 0 && fabs(a->ymax - 10.5) < 1e-9);
    uint8_t rgb[2][3];
    ax__plot_palette(0, rgb[0]);
    ax__plot_palette(1, rgb[1]);
    int row5 = px_row(a, 5), hits = 0, cols = 0;
    for (double v = 0.3; v < 9.8; v += 0.1) {
        if (fabs(v - 5) < 0.6 || (v > 6.7 && v < 7.7)) continue; /* the crossing, the gap */
        int col = px_col(a, v);
        cols++;
        hits += coverage(at(&im, col, row5), rgb[0]) >= 0.74;
        /* the diagonal passes through (v, v) */
        CHECK(coverage(at(&im, col, px_row(a, v)), rgb[1]) >= 0.5);
    }
    CHECK(cols > 50 && hits == cols);
    /* the flat line is broken where its values are NaN */
    CHECK(is_white(at(&im, px_col(a, 7.2), row5)) || coverage(at(&im, px_col(a, 7.2), row5), rgb[0]) < 0);
    CHECK(coverage(at(&im, px_col(a, 7.2), row5), rgb[0]) < 0.1);
    /* and nowhere else: the row well above the flat line holds no blue */
    int stray = 0;
    for (int xx = a->x0; xx < a->x1; xx++) stray += coverage(at(&im, xx, px_row(a, 8.5)), rgb[0]) > 0.2;
    CHECK(stray == 0);
    check_legend(&im, c.legend, 2, (const uint8_t(*)[3])rgb);
    free(im.px);
    ax__plot_canvas_free(&c);

    /* negative data: padded both ways; no names: no legend */
    double neg[N];
    for (int i = 0; i < N; i++) neg[i] = -70 + i * 0.2;
    const double *yn[1] = {neg};
    CHECK_OK(ax__plot_lines_canvas(&c, NULL, NULL, NULL, NULL, 1, NULL, N, x, yn, 300, 200));
    CHECK(c.legend[2] == c.legend[0]);
    CHECK(fabs(c.axes[0].ymin - (-70 - 1)) < 1e-9 && fabs(c.axes[0].ymax - (-50 + 1)) < 1e-9);
    ax__plot_canvas_free(&c);

    /* nothing finite: empty axes, still a picture */
    double nan3[3] = {NAN, NAN, NAN};
    const double *yq[1] = {nan3};
    CHECK_OK(ax__plot_lines(path, "empty", "x", "y", 1, NULL, 3, x, yq, 200, 150));
    CHECK_OK(ax__plot_lines(path, "empty", "x", "y", 1, NULL, 0, NULL, yq, 200, 150));
    /* a lone finite point between NaNs is a dot */
    double lone[3] = {NAN, 2, NAN}, xl[3] = {0, 1, 2};
    const double *yl[1] = {lone};
    CHECK_OK(ax__plot_lines_canvas(&c, NULL, NULL, NULL, NULL, 1, NULL, 3, xl, yl, 200, 150));
    if (c.px) {
        const uint8_t *p = c.px + ((size_t)px_row(&c.axes[0], 2) * (size_t)c.w + (size_t)px_col(&c.axes[0], 1)) * 3;
        CHECK(coverage(p, rgb[0]) > 0.7);
    }
    ax__plot_canvas_free(&c);
}

/* ---- stacked ---------------------------------------------------------------------- */
static void test_stacked(void)
{
    char path[600];
    test_path(path, sizeof path, "stacked.png");
    enum { N = 200 };
    double x[N], y[3][N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[0][i] = -65 + 10 * (i % 50 == 0); /* spiky */
        y[1][i] = 0.001 * i;
        y[2][i] = 1000;
    }
    const double *ys[3] = {y[0], y[1], y[2]};
    const char *names[3] = {"neuron 0", "neuron 1", "neuron 2"};
    CHECK_OK(ax__plot_stacked(path, "traces", 3, names, N, x, ys, "time (ms)", "V (mV)", 500, 400));
    ax__plot_canvas c;
    CHECK_OK(ax__plot_stacked_canvas(&c, path, "traces", 3, names, N, x, ys, "time (ms)", "V (mV)", 500, 400));
    if (!c.px) return;
    check_png_is_canvas(path, &c);
    img im;
    CHECK(read_png(path, &im));
    CHECK(c.n_axes == 3);
    for (int s = 0; s < 3 && im.px; s++) {
        const ax__plot_axes *a = &c.axes[s];
        uint8_t rgb[3];
        ax__plot_palette(s, rgb);
        /* own y range around its data, shared x */
        CHECK(a->xmin == 0 && a->xmax == N - 1 && a->x0 == c.axes[0].x0 && a->x1 == c.axes[0].x1);
        CHECK(a->y1 - a->y0 >= 24);
        if (s > 0) CHECK(a->y0 > c.axes[s - 1].y1 + 10); /* below the one above, name between */
        double v = s == 2 ? 1000 : s == 1 ? 0.1 : -65;
        double xv = s == 0 ? 25 : 100;
        CHECK(v > a->ymin && v < a->ymax);
        CHECK(coverage(at(&im, px_col(a, xv), px_row(a, s == 1 ? 0.001 * xv : v)), rgb) >= 0.5);
        /* its name: ink in the strip above the panel */
        int ink = 0;
        for (int yy = a->y0 - 14; yy < a->y0 - 1; yy++)
            for (int xx = a->x0; xx < a->x0 + 80; xx++) ink += at(&im, xx, yy)[0] < 80;
        CHECK(ink > 10);
    }
    free(im.px);
    ax__plot_canvas_free(&c);
    /* too many panels for the height */
    const double *many[20];
    for (int s = 0; s < 20; s++) many[s] = y[1];
    CHECK_ERR(ax__plot_stacked(path, NULL, 20, NULL, N, x, many, NULL, NULL, 300, 200), AX_E_INVALID, "do not fit");
}

/* ---- histogram -------------------------------------------------------------------- */
static void test_histogram(void)
{
    char path[600];
    test_path(path, sizeof path, "hist.png");
    double e[5] = {0, 1, 2, 3, 4}, cnt[4] = {1, 3, 0, 2};
    CHECK_OK(ax__plot_histogram(path, "rates", "rate (Hz)", "neurons", 4, e, cnt, 400, 300));
    ax__plot_canvas c;
    CHECK_OK(ax__plot_histogram_canvas(&c, path, "rates", "rate (Hz)", "neurons", 4, e, cnt, 400, 300));
    if (!c.px) return;
    check_png_is_canvas(path, &c);
    const ax__plot_axes *a = &c.axes[0];
    CHECK(a->xmin == 0 && a->xmax == 4 && a->ymin == 0 && a->ymax > 3 && a->ymax < 3.5);
    uint8_t blue[3];
    ax__plot_palette(0, blue);
    img im;
    CHECK(read_png(path, &im));
    if (im.px) {
        int mid1 = px_col(a, 1.5), mid2 = px_col(a, 2.5), low = px_row(a, 0.5);
        double f = coverage(at(&im, mid1, low), blue);
        CHECK(f > 0.5 && f < 1); /* bar fill: a lighter blue */
        CHECK(coverage(at(&im, mid1, px_row(a, 2.9)), blue) > 0.5);
        CHECK(coverage(at(&im, mid1, px_row(a, 3.1)), blue) < 0.1); /* above the bar */
        CHECK(coverage(at(&im, mid2, low), blue) < 0.1);            /* empty bin */
        CHECK(coverage(at(&im, px_col(a, 3.5), px_row(a, 1.9)), blue) > 0.5);
        CHECK(coverage(at(&im, px_col(a, 3.5), px_row(a, 2.1)), blue) < 0.1);
    }
    free(im.px);
    ax__plot_canvas_free(&c);

    /* binning */
    double v[6] = {0, 0.5, 1, NAN, 2, 7}, edges[3], counts[2];
    CHECK_OK(ax__plot_bin(6, v, 2, 0, 2, edges, counts));
    CHECK(edges[0] == 0 && edges[1] == 1 && edges[2] == 2 && counts[0] == 2 && counts[1] == 2);
    CHECK_OK(ax__plot_bin(6, v, 2, NAN, NAN, edges, counts)); /* range from the data: 0..7 */
    CHECK(edges[0] == 0 && edges[2] == 7 && counts[0] == 4 && counts[1] == 1);
    double same[2] = {3, 3};
    CHECK_OK(ax__plot_bin(2, same, 1, 0, 0, edges, counts));
    CHECK(edges[0] == 2.5 && edges[1] == 3.5 && counts[0] == 2);
    CHECK_ERR(ax__plot_bin(2, same, 0, 0, 1, edges, counts), AX_E_INVALID, "bins");
}

/* ---- sizes and errors ------------------------------------------------------------- */
static void test_small_and_large(void)
{
    char path[600];
    test_path(path, sizeof path, "tiny.png");
    double x[3] = {0, 1, 2}, y[3] = {1, 3, 2}, t[1] = {5};
    uint32_t k[1] = {0}, gs[1] = {0};
    const double *ys[1] = {y};
    const char *nm[1] = {"a long series name that does not fit"};
    /* the smallest canvas still draws the data (the labels give way) */
    CHECK_OK(ax__plot_lines(path, "a title far too long for sixty-four pixels", "x", "y", 1, nm, 3, x, ys, 64, 64));
    ax__plot_canvas c;
    CHECK_OK(ax__plot_lines_canvas(&c, path, "a title", "x", "y", 1, nm, 3, x, ys, 64, 64));
    CHECK(c.axes && c.axes[0].x1 - c.axes[0].x0 >= 32 && c.axes[0].y1 - c.axes[0].y0 >= 32);
    ax__plot_canvas_free(&c);
    CHECK_OK(ax__plot_raster(path, "raster", 1, t, k, 0, 10, 1, 1, gs, NULL, 64, 64));
    CHECK_OK(ax__plot_stacked(path, NULL, 1, NULL, 3, x, ys, NULL, NULL, 64, 64));
    CHECK_OK(ax__plot_histogram(path, "h", "x", "n", 2, x, y, 64, 64));
    /* wide: scale-2 labels */
    CHECK_OK(ax__plot_lines_canvas(&c, path, "wide", "x", "y", 1, nm, 3, x, ys, 2000, 1000));
    CHECK(c.scale == 2);
    ax__plot_canvas_free(&c);
}

static void test_errors(void)
{
    char path[600], bad[600];
    test_path(path, sizeof path, "err.png");
    test_path(bad, sizeof bad, "no-such-dir/err.png");
    double t[2] = {1, 2}, x[3] = {0, 1, 2}, y[3] = {0, 1, 2};
    uint32_t k[2] = {0, 1}, gs[2] = {0, 5}, gdown[2] = {0, 5};
    const double *ys[1] = {y}, *ynull[1] = {NULL};
    /* raster */
    CHECK_ERR(ax__plot_raster(NULL, NULL, 2, t, k, 0, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "no output path");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, 0, NULL, NULL, 63, 200), AX_E_INVALID, "err.png");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, 0, NULL, NULL, 200, 8193), AX_E_INVALID, "64..8192");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, NULL, k, 0, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "no times");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, NULL, 0, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "neuron ids");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 10, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "time range");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, INFINITY, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID,
              "err.png: raster: time range");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, NAN, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "time range");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 0, 0, NULL, NULL, 200, 200), AX_E_INVALID, "no neurons");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 1, 0, NULL, NULL, 200, 200), AX_E_INVALID, "neuron 1");
    double tn[2] = {1, NAN};
    CHECK_ERR(ax__plot_raster(path, NULL, 2, tn, k, 0, 10, 10, 0, NULL, NULL, 200, 200), AX_E_INVALID, "spike 1");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, 2, NULL, NULL, 200, 200), AX_E_INVALID, "group");
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, -1, gs, NULL, 200, 200), AX_E_INVALID, "group");
    gs[0] = 1;
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, 2, gs, NULL, 200, 200), AX_E_INVALID, "first group");
    gdown[1] = 11;
    CHECK_ERR(ax__plot_raster(path, NULL, 2, t, k, 0, 10, 10, 2, gdown, NULL, 200, 200), AX_E_INVALID, "group 1");
    /* lines and stacked */
    CHECK_ERR(ax__plot_lines(path, NULL, NULL, NULL, 0, NULL, 3, x, ys, 200, 200), AX_E_INVALID, "series");
    CHECK_ERR(ax__plot_lines(path, NULL, NULL, NULL, 1, NULL, 3, NULL, ys, 200, 200), AX_E_INVALID, "no x");
    CHECK_ERR(ax__plot_lines(path, NULL, NULL, NULL, 1, NULL, 3, x, NULL, 200, 200), AX_E_INVALID, "no y");
    CHECK_ERR(ax__plot_lines(path, NULL, NULL, NULL, 1, NULL, 3, x, ynull, 200, 200), AX_E_INVALID, "series 0");
    CHECK_ERR(ax__plot_lines(path, NULL, NULL, NULL, 1, NULL, 3, x, ys, 200, 9000), AX_E_INVALID, "err.png");
    CHECK_ERR(ax__plot_lines(NULL, NULL, NULL, NULL, 1, NULL, 3, x, ys, 200, 200), AX_E_INVALID, "no output path");
    CHECK_ERR(ax__plot_stacked(path, NULL, 1, NULL, 3, x, ynull, NULL, NULL, 200, 200), AX_E_INVALID, "stacked");
    CHECK_ERR(ax__plot_stacked(path, NULL, 0, NULL, 3, x, ys, NULL, NULL, 200, 200), AX_E_INVALID, "series");
    /* histogram */
    double e_bad[3] = {0, 2, 1}, e_nan[3] = {0, NAN, 2}, c_ok[2] = {1, 2}, c_neg[2] = {1, -1}, c_nan[2] = {NAN, 1};
    double e_ok[3] = {0, 1, 2};
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 2, e_bad, c_ok, 200, 200), AX_E_INVALID, "do not increase");
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 2, e_nan, c_ok, 200, 200), AX_E_INVALID, "edge 1");
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 2, e_ok, c_neg, 200, 200), AX_E_INVALID, "bin 1");
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 2, e_ok, c_nan, 200, 200), AX_E_INVALID, "bin 0");
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 0, e_ok, c_ok, 200, 200), AX_E_INVALID, "err.png");
    CHECK_ERR(ax__plot_histogram(path, NULL, NULL, NULL, 2, NULL, c_ok, 200, 200), AX_E_INVALID, "edges missing");
    /* nothing was written for any of them; an unwritable path fails on write */
    CHECK(access(path, F_OK) != 0);
    CHECK_ERR(ax__plot_histogram(bad, NULL, NULL, NULL, 2, e_ok, c_ok, 200, 200), AX_E_IO, "no-such-dir");
}

int main(void)
{
    RUN(test_font);
    RUN(test_ticks);
    RUN(test_raster_pixels);
    RUN(test_raster_density);
    RUN(test_raster_subsample);
    RUN(test_lines);
    RUN(test_stacked);
    RUN(test_histogram);
    RUN(test_small_and_large);
    RUN(test_errors);
    ax__rm_rf(test_tmpdir());
    return TEST_REPORT();
}
