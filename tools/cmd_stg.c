/* cmd_stg.c: `axon simulate CONFIG -o OUTDIR` for {"circuit": "stg_pyloric"}: the Prinz
 * 2004 pyloric network (include/axon/stg.h), its traces as CSV, HDF5 and PNG, its burst
 * statistics and its compute count. The config is described in cmd_stg.h. */
#include "cmd_stg.h"

#include <errno.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "axon/axon.h"
#include "axon/stg.h"
#include "cli.h"

static const char *const CELL_LABEL[AX_STG_NCELLS] = {"AB/PD", "LP", "PY"};
static const char *const CELL_KEY[AX_STG_NCELLS] = {"abpd", "lp", "py"};

/* at most this many samples in memory (3 floats each: 600 MB) */
#define MAX_SAMPLES 50000000.0

static int cfg_error(const char *cfg, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "axon: error: %s: ", cfg);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* ---- config ------------------------------------------------------------------------ */

typedef struct {
    ax_stg_circuit c;
    char panel;
    double sample_ms, plot_ms;
} stg_config;

/* a finite number at key into *out (absent: *out unchanged); 1 on a bad value */
static int get_num(const char *cfg, json_t *root, const char *key, double *out)
{
    json_t *v = json_object_get(root, key);
    if (!v) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return cfg_error(cfg, "%s: must be a number", key);
    *out = json_number_value(v);
    return 0;
}

static int parse_config(const char *cfg, json_t *root, stg_config *sc)
{
    static const char *const keys[] = {"circuit",   "panel",       "models",   "g_syn_nS",
                                       "duration_ms", "dt_ms",     "sample_ms", "noise_nA",
                                       "seed",      "v0_mV",       "stats_from_ms", "plot_ms"};
    if (!json_is_object(root)) return cfg_error(cfg, "the config must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(key, keys[k])) k++;
        if (k == sizeof keys / sizeof *keys)
            return cfg_error(cfg,
                             "unknown key '%s' (stg_pyloric takes circuit, panel, models, "
                             "g_syn_nS, duration_ms, dt_ms, sample_ms, noise_nA, seed, "
                             "v0_mV, stats_from_ms, plot_ms)",
                             key);
    }
    json_t *v = json_object_get(root, "circuit");
    if (!json_is_string(v) || strcmp(json_string_value(v), "stg_pyloric"))
        return cfg_error(cfg, "circuit: must be \"stg_pyloric\"");
    sc->panel = 'e';
    if ((v = json_object_get(root, "panel"))) {
        const char *p = json_is_string(v) ? json_string_value(v) : "";
        if (strlen(p) != 1 || ax_stg_panel(p[0], &sc->c) != AX_OK)
            return cfg_error(cfg, "panel: '%s' is not a panel of Prinz 2004 Fig. 3 (a-j)",
                             json_is_string(v) ? p : "(not a string)");
        sc->panel = (char)(p[0] | 0x20);
    }
    ax_stg_panel(sc->panel, &sc->c);
    if ((v = json_object_get(root, "models"))) {
        if (!json_is_object(v)) return cfg_error(cfg, "models: must be an object");
        json_object_foreach(v, key, val)
        {
            static const int max[AX_STG_NCELLS] = {AX_STG_MODELS_ABPD, AX_STG_MODELS_LP,
                                                   AX_STG_MODELS_PY};
            int c = 0;
            while (c < AX_STG_NCELLS && strcmp(key, CELL_KEY[c])) c++;
            if (c == AX_STG_NCELLS)
                return cfg_error(cfg, "models: unknown key '%s' (abpd, lp, py)", key);
            if (!json_is_integer(val) || json_integer_value(val) < 1 ||
                json_integer_value(val) > max[c])
                return cfg_error(cfg, "models.%s: must be an integer model number 1-%d", key,
                                 max[c]);
            int m = (int)json_integer_value(val);
            if (c == AX_STG_ABPD) sc->c.abpd = m;
            else if (c == AX_STG_LP) sc->c.lp = m;
            else sc->c.py = m;
        }
    }
    if ((v = json_object_get(root, "g_syn_nS"))) {
        if (!json_is_array(v) || json_array_size(v) != AX_STG_NSYN)
            return cfg_error(cfg, "g_syn_nS: must be an array of 7 conductances in nS "
                                  "(AB->LP, PD->LP, AB->PY, PD->PY, LP->AB/PD, LP->PY, PY->LP)");
        for (size_t k = 0; k < AX_STG_NSYN; k++) {
            json_t *x = json_array_get(v, k);
            double g = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(g) || g < 0)
                return cfg_error(cfg, "g_syn_nS[%zu]: must be a number >= 0", k);
            sc->c.g_syn_nS[k] = g;
        }
    }
    sc->sample_ms = 0.5;
    sc->plot_ms = 5000;
    if (get_num(cfg, root, "duration_ms", &sc->c.duration_ms) ||
        get_num(cfg, root, "dt_ms", &sc->c.dt_ms) ||
        get_num(cfg, root, "sample_ms", &sc->sample_ms) ||
        get_num(cfg, root, "noise_nA", &sc->c.noise_nA) ||
        get_num(cfg, root, "v0_mV", &sc->c.v0_mV) ||
        get_num(cfg, root, "stats_from_ms", &sc->c.stats_from_ms) ||
        get_num(cfg, root, "plot_ms", &sc->plot_ms))
        return 1;
    if (!(sc->c.dt_ms > 0) || sc->c.dt_ms > 1)
        return cfg_error(cfg, "dt_ms: must be > 0 and <= 1 ms (got %g)", sc->c.dt_ms);
    if (!(sc->c.duration_ms > 0))
        return cfg_error(cfg, "duration_ms: must be > 0 (got %g)", sc->c.duration_ms);
    if (sc->c.duration_ms / sc->c.dt_ms > 1e8)
        return cfg_error(cfg, "duration_ms: %g ms at dt_ms %g is over 1e8 steps",
                         sc->c.duration_ms, sc->c.dt_ms);
    if (sc->c.duration_ms < sc->c.dt_ms)
        return cfg_error(cfg, "duration_ms: %g is shorter than one step", sc->c.duration_ms);
    if (!(sc->sample_ms >= sc->c.dt_ms))
        return cfg_error(cfg, "sample_ms: must be >= dt_ms (got %g)", sc->sample_ms);
    if (sc->c.duration_ms / sc->sample_ms > MAX_SAMPLES)
        return cfg_error(cfg, "sample_ms: %g gives over %.0f samples; raise it",
                         sc->sample_ms, MAX_SAMPLES);
    if (sc->c.noise_nA < 0)
        return cfg_error(cfg, "noise_nA: must be >= 0 (got %g)", sc->c.noise_nA);
    if (fabs(sc->c.v0_mV) > 200)
        return cfg_error(cfg, "v0_mV: must be in [-200, 200] (got %g)", sc->c.v0_mV);
    if (json_object_get(root, "stats_from_ms") &&
        (sc->c.stats_from_ms < 0 || sc->c.stats_from_ms >= sc->c.duration_ms))
        return cfg_error(cfg, "stats_from_ms: must be in [0, duration_ms) (got %g)",
                         sc->c.stats_from_ms);
    if (!(sc->plot_ms > 0))
        return cfg_error(cfg, "plot_ms: must be > 0 (got %g)", sc->plot_ms);
    if ((v = json_object_get(root, "seed"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return cfg_error(cfg, "seed: must be an integer >= 0");
        sc->c.seed = (uint64_t)json_integer_value(v);
    }
    return 0;
}

/* ---- atomic outputs ---------------------------------------------------------------- */

/* "<dir>/.<name>.partial-<pid>" */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = strlen(path) + 48;
    char *t = malloc(n);
    if (t) snprintf(t, n, "%.*s.%s.partial-%ld", (int)dir, path, path + dir, (long)getpid());
    return t;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* finish a temp file: close, rename into place; 0 or 1 with a message */
static int commit_file(FILE *f, const char *tmp, const char *path)
{
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        fprintf(stderr, "axon: error: %s: %s\n", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        return 1;
    }
    return 0;
}

static int write_csv(const char *path, const float *v, size_t n, double sample_ms)
{
    char *tmp = temp_name(path);
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    if (!f) {
        fprintf(stderr, "axon: error: %s: %s\n", path, strerror(errno));
        free(tmp);
        return 1;
    }
    fputs("t_ms,AB/PD,LP,PY\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.4f,%.4f,%.4f,%.4f\n", (double)i * sample_ms, v[3 * i], v[3 * i + 1],
                v[3 * i + 2]);
    int rc = commit_file(f, tmp, path);
    free(tmp);
    return rc;
}

static int write_json(const char *path, json_t *j)
{
    char *tmp = temp_name(path);
    int rc = 1;
    if (tmp && j && json_dump_file(j, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 &&
        rename(tmp, path) == 0)
        rc = 0;
    else {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", path,
                errno ? strerror(errno) : "out of memory");
        if (tmp) unlink(tmp);
    }
    free(tmp);
    return rc;
}

static herr_t h5_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(value) + 1);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return e;
}

static herr_t h5_double_attr(hid_t obj, const char *name, double value)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return e;
}

/* /v float32 [n][3] (mV; columns AB/PD, LP, PY), /t_ms float64 [n] */
static int write_h5(const char *path, const float *v, size_t n, double sample_ms, double dt_ms)
{
    char *tmp = temp_name(path);
    double *t = malloc((n ? n : 1) * sizeof *t);
    int ok = 0;
    H5E_auto2_t efunc;
    void *edata;
    H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = tmp && t ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (f >= 0) {
        for (size_t i = 0; i < n; i++) t[i] = (double)i * sample_ms;
        hsize_t d2[2] = {n, 3}, d1[1] = {n};
        hid_t s2 = H5Screate_simple(2, d2, NULL), s1 = H5Screate_simple(1, d1, NULL);
        hid_t dv = H5Dcreate2(f, "v", H5T_IEEE_F32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t dtm = H5Dcreate2(f, "t_ms", H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT);
        ok = dv >= 0 && dtm >= 0 &&
             H5Dwrite(dv, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 &&
             H5Dwrite(dtm, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) >= 0 &&
             h5_string_attr(dv, "columns", "AB/PD,LP,PY") >= 0 &&
             h5_string_attr(dv, "units", "mV") >= 0 && h5_string_attr(dtm, "units", "ms") >= 0 &&
             h5_double_attr(f, "sample_ms", sample_ms) >= 0 &&
             h5_double_attr(f, "dt_ms", dt_ms) >= 0 &&
             h5_string_attr(f, "model", "Prinz, Bucher & Marder 2004 pyloric network") >= 0;
        if (dv >= 0) H5Dclose(dv);
        if (dtm >= 0) H5Dclose(dtm);
        H5Sclose(s1);
        H5Sclose(s2);
        ok &= H5Fclose(f) >= 0;
    }
    H5Eset_auto2(H5E_DEFAULT, efunc, edata);
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        fprintf(stderr, "axon: error: %s: cannot write the HDF5 file\n", path);
        if (tmp) unlink(tmp);
    }
    free(tmp);
    free(t);
    return ok ? 0 : 1;
}

/* ---- PNG: three stacked traces ----------------------------------------------------- */

/* 5x7 glyphs, rows top to bottom, bit 4 the leftmost column */
static const struct {
    char c;
    uint8_t row[7];
} GLYPHS[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'/', {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10}},
    {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
};

typedef struct {
    uint8_t *px;
    int h, w;
} canvas;

static void put(canvas *cv, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) return;
    memcpy(cv->px + 3 * ((size_t)y * (size_t)cv->w + (size_t)x), rgb, 3);
}

static void vline(canvas *cv, int x, int y0, int y1, const uint8_t rgb[3])
{
    if (y0 > y1) {
        int t = y0;
        y0 = y1;
        y1 = t;
    }
    for (int y = y0; y <= y1; y++) put(cv, x, y, rgb);
}

static void hline(canvas *cv, int x0, int x1, int y, const uint8_t rgb[3])
{
    for (int x = x0; x <= x1; x++) put(cv, x, y, rgb);
}

/* text with its top-left corner at (x, y), each font pixel scale x scale */
static void text(canvas *cv, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    for (; *s; s++, x += 6 * scale) {
        const uint8_t *rows = NULL;
        for (size_t g = 0; g < sizeof GLYPHS / sizeof *GLYPHS; g++)
            if (GLYPHS[g].c == *s) rows = GLYPHS[g].row;
        if (!rows) continue; /* space, or a character the font lacks */
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (rows[r] >> (4 - col) & 1)
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                            put(cv, x + col * scale + dx, y + r * scale + dy, rgb);
    }
}

#define PNG_W 1000
#define PNG_LEFT 80
#define PNG_RIGHT 20
#define PNG_TOP 10
#define PNG_PANEL 130
#define PNG_GAP 10
#define PNG_BOTTOM 50
#define PNG_VMIN (-80.0)
#define PNG_VMAX 40.0

/* row of v mV within a panel (clipped to PNG_VMIN..PNG_VMAX) */
static int vy(double v)
{
    v = fmax(fmin(v, PNG_VMAX), PNG_VMIN);
    return (int)lround((PNG_VMAX - v) / (PNG_VMAX - PNG_VMIN) * (PNG_PANEL - 1));
}

static int write_png(const char *path, const float *v, size_t n, double sample_ms,
                     double plot_ms)
{
    const int h = PNG_TOP + 3 * PNG_PANEL + 2 * PNG_GAP + PNG_BOTTOM, w = PNG_W;
    const int pw = PNG_W - PNG_LEFT - PNG_RIGHT;
    canvas cv = {malloc((size_t)h * (size_t)w * 3), h, w};
    if (!cv.px) {
        fprintf(stderr, "axon: error: %s: out of memory\n", path);
        return 1;
    }
    memset(cv.px, 255, (size_t)h * (size_t)w * 3);
    static const uint8_t black[3] = {0, 0, 0}, grey[3] = {200, 200, 200};
    static const uint8_t colour[3][3] = {{20, 60, 160}, {190, 30, 30}, {20, 130, 50}};
    /* the last plot_ms of the run */
    size_t span = (size_t)fmin((double)(n - 1), floor(plot_ms / sample_ms + 1e-9));
    size_t first = n - 1 - span;
    for (int c = 0; c < AX_STG_NCELLS; c++) {
        int top = PNG_TOP + c * (PNG_PANEL + PNG_GAP);
        /* -50 mV reference line, dotted */
        int y50 = top + vy(-50);
        for (int x = PNG_LEFT; x < PNG_LEFT + pw; x += 4) put(&cv, x, y50, grey);
        text(&cv, 8, top + PNG_PANEL / 2 - 7, CELL_LABEL[c], 2, colour[c]);
        /* per pixel column: min..max of its samples; neighbouring columns share their
         * boundary sample, so the line is continuous */
        for (int x = 0; x < pw; x++) {
            size_t a = first + (size_t)((double)x * (double)span / pw);
            size_t b = first + (size_t)((double)(x + 1) * (double)span / pw);
            if (b > n - 1) b = n - 1;
            double lo = 1e9, hi = -1e9;
            for (size_t i = a; i <= b; i++) {
                lo = fmin(lo, v[3 * i + (size_t)c]);
                hi = fmax(hi, v[3 * i + (size_t)c]);
            }
            vline(&cv, PNG_LEFT + x, top + vy(hi), top + vy(lo), colour[c]);
        }
    }
    /* scale bars: time (1, 2, 5 x 10^k ms near a fifth of the window), 50 mV */
    double shown = (double)span * sample_ms, bar = 1;
    while (bar * 10 <= shown / 5) bar *= 10;
    if (bar * 5 <= shown / 5) bar *= 5;
    else if (bar * 2 <= shown / 5) bar *= 2;
    int bar_px = shown > 0 ? (int)lround(bar / shown * (pw - 1)) : 0;
    int ybar = h - PNG_BOTTOM + 18;
    for (int t = 0; t < 3; t++) hline(&cv, PNG_LEFT, PNG_LEFT + bar_px, ybar + t, black);
    char label[32];
    if (bar >= 1000) snprintf(label, sizeof label, "%g s", bar / 1000);
    else snprintf(label, sizeof label, "%g ms", bar);
    text(&cv, PNG_LEFT + bar_px + 10, ybar - 6, label, 2, black);
    int mv_px = (int)lround(50.0 / (PNG_VMAX - PNG_VMIN) * (PNG_PANEL - 1));
    int ybot = PNG_TOP + 3 * PNG_PANEL + 2 * PNG_GAP - 1;
    for (int t = 0; t < 3; t++) vline(&cv, PNG_LEFT - 8 + t, ybot - mv_px, ybot, black);
    text(&cv, 8, ybar - 6, "50 mV", 2, black);
    int rc = ax_png_write(path, cv.px, h, w, 3);
    free(cv.px);
    if (rc) return fail(rc);
    return 0;
}

/* ---- stats and compute JSON -------------------------------------------------------- */

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *stats_json(const stg_config *sc, const ax_stg_stats *st)
{
    json_t *j = json_object(), *cells = json_object(), *g = json_array();
    const ax_stg_circuit *c = &sc->c;
    json_object_set_new(j, "circuit", json_string("stg_pyloric"));
    char p[2] = {sc->panel, 0};
    json_object_set_new(j, "panel", json_string(p));
    json_object_set_new(j, "models", json_pack("{s:i,s:i,s:i}", "abpd", c->abpd, "lp", c->lp,
                                               "py", c->py));
    for (int k = 0; k < AX_STG_NSYN; k++) json_array_append_new(g, json_real(c->g_syn_nS[k]));
    json_object_set_new(j, "g_syn_nS", g);
    json_object_set_new(j, "dt_ms", json_real(c->dt_ms));
    json_object_set_new(j, "duration_ms", json_real(c->duration_ms));
    json_object_set_new(j, "window_ms", json_pack("[f,f]", st->t0_ms, st->t1_ms));
    json_object_set_new(j, "period_ms", num_or_null(st->period_ms));
    json_object_set_new(j, "triphasic", json_boolean(st->triphasic));
    for (int k = 0; k < AX_STG_NCELLS; k++) {
        json_t *o = json_object();
        const char *state = st->bursting[k] ? "bursting" : st->tonic[k] ? "tonic" : "silent";
        json_object_set_new(o, "state", json_string(state));
        json_object_set_new(o, "n_spikes", json_integer(st->n_spikes[k]));
        json_object_set_new(o, "rate_hz", json_real(st->rate_hz[k]));
        json_object_set_new(o, "n_bursts", json_integer(st->n_bursts[k]));
        json_object_set_new(o, "burst_ms", num_or_null(st->burst_ms[k]));
        json_object_set_new(o, "duty", num_or_null(st->duty[k]));
        json_object_set_new(o, "onset_phase", num_or_null(st->onset_phase[k]));
        json_object_set_new(cells, CELL_LABEL[k], o);
    }
    json_object_set_new(j, "cells", cells);
    json_object_set_new(j, "definitions",
                        json_string("spike: upward crossing of -10 mV; bursts split at ISI >= "
                                    "150 ms, >= 2 spikes, wholly in the window; see "
                                    "include/axon/stg.h"));
    return j;
}

/* ---- the command ------------------------------------------------------------------- */

/* mkdir -p; 0 or -1 with errno */
static int mkdir_p(const char *path)
{
    char *p = malloc(strlen(path) + 1);
    if (!p) return -1;
    strcpy(p, path);
    int rc = 0;
    for (char *q = p + 1; rc == 0; q++) {
        if (*q != '/' && *q) continue;
        char c = *q;
        *q = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = -1;
        *q = c;
        if (!c) break;
    }
    struct stat sb;
    if (rc == 0 && stat(path, &sb) != 0) rc = -1;
    if (rc == 0 && !S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        rc = -1;
    }
    free(p);
    return rc;
}

int cmd_simulate_stg(const char *config_path, void *json_root, const char *outdir)
{
    const char *cfg = config_path ? config_path : "config";
    stg_config sc;
    memset(&sc, 0, sizeof sc);
    if (parse_config(cfg, (json_t *)json_root, &sc)) return 1;
    if (!outdir || !*outdir) return cfg_error(cfg, "no output directory");
    if (mkdir_p(outdir)) {
        fprintf(stderr, "axon: error: %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    size_t n = ax_stg_n_samples(&sc.c, sc.sample_ms);
    float *v = n ? malloc(n * 3 * sizeof(float)) : NULL;
    if (!v) {
        fprintf(stderr, "axon: error: out of memory for %zu samples\n", n);
        return 1;
    }
    ax_stg_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ax_stg_run(&sc.c, sc.sample_ms, v, n, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        free(v);
        if (rc == AX_E_INTERRUPTED) {
            fprintf(stderr, "axon: interrupted\n");
            return 130;
        }
        fprintf(stderr, "axon: error: %s: %s\n", cfg, ax_errmsg());
        return 1;
    }
    double wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double sim_s = (double)st.steps * sc.c.dt_ms * 1e-3;
    int64_t nupd = st.steps * AX_STG_NCELLS, supd = st.steps * AX_STG_NSYN;
    double fn = ax_stg_flops_per_step(), fs = ax_stg_flops_per_synapse_update();
    double total = (double)nupd * fn + (double)supd * fs;

    char *p_csv = join(outdir, "voltage.csv"), *p_h5 = join(outdir, "voltage.h5");
    char *p_png = join(outdir, "voltage.png"), *p_st = join(outdir, "stg_stats.json");
    char *p_cp = join(outdir, "compute.json");
    int bad = !p_csv || !p_h5 || !p_png || !p_st || !p_cp;
    if (bad) fprintf(stderr, "axon: error: out of memory\n");
    bad = bad || write_csv(p_csv, v, n, sc.sample_ms) ||
          write_h5(p_h5, v, n, sc.sample_ms, sc.c.dt_ms) ||
          write_png(p_png, v, n, sc.sample_ms, sc.plot_ms);
    if (!bad) {
        json_t *js = stats_json(&sc, &st);
        bad = write_json(p_st, js);
        json_decref(js);
    }
    if (!bad) {
        json_t *jc = json_object();
        json_object_set_new(jc, "neuron_updates", json_integer(nupd));
        json_object_set_new(jc, "flops_per_neuron_update", json_integer((json_int_t)fn));
        json_object_set_new(jc, "synaptic_updates", json_integer(supd));
        json_object_set_new(jc, "flops_per_synaptic_update", json_integer((json_int_t)fs));
        json_object_set_new(jc, "flops_per_transcendental",
                            json_integer(AX_STG_FLOPS_PER_TRANSCENDENTAL));
        json_object_set_new(jc, "total_flops", json_real(total));
        json_object_set_new(jc, "steps", json_integer(st.steps));
        json_object_set_new(jc, "simulated_s", json_real(sim_s));
        json_object_set_new(jc, "wall_s", json_real(wall));
        json_object_set_new(jc, "real_time_factor", json_real(wall > 0 ? sim_s / wall : 0));
        json_object_set_new(jc, "gflops_per_s", json_real(wall > 0 ? total / wall * 1e-9 : 0));
        bad = write_json(p_cp, jc);
        json_decref(jc);
    }
    if (!bad && !g_quiet) {
        const ax_stg_circuit *c = &sc.c;
        printf("stg_pyloric panel %c (AB/PD %d, LP %d, PY %d): %g ms at dt %g ms, stats over "
               "%g-%g ms\n",
               sc.panel, c->abpd, c->lp, c->py, c->duration_ms, c->dt_ms, st.t0_ms, st.t1_ms);
        for (int k = 0; k < AX_STG_NCELLS; k++) {
            const char *state = st.bursting[k] ? "bursting" : st.tonic[k] ? "tonic" : "silent";
            printf("  %-5s %-8s %6.2f Hz", CELL_LABEL[k], state, st.rate_hz[k]);
            if (st.bursting[k] && isfinite(st.duty[k]))
                printf("  %d bursts, duty %.3f, onset phase %.3f", st.n_bursts[k], st.duty[k],
                       st.onset_phase[k]);
            printf("\n");
        }
        if (isfinite(st.period_ms))
            printf("  period %.1f ms, %s\n", st.period_ms,
                   st.triphasic ? "triphasic (AB/PD, LP, PY)" : "not triphasic");
        else
            printf("  no AB/PD rhythm (period undefined)\n");
        printf("  compute: %.3g neuron updates x %.0f FLOPs + %.3g synapse updates x %.0f FLOPs "
               "= %.3g GFLOP in %.3f s (%.1fx real time, %.2f GFLOP/s)\n",
               (double)nupd, fn, (double)supd, fs, total * 1e-9, wall,
               wall > 0 ? sim_s / wall : 0, wall > 0 ? total / wall * 1e-9 : 0);
        printf("  wrote %s/{voltage.csv,voltage.h5,voltage.png,stg_stats.json,compute.json}\n",
               outdir);
    }
    free(p_csv);
    free(p_h5);
    free(p_png);
    free(p_st);
    free(p_cp);
    free(v);
    return bad ? 1 : 0;
}
