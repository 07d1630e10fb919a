/* plot.h: dependency-free plots for the spiking-network simulator (internal to libaxon).
 *
 * Every plot is drawn into an RGB canvas (white background) and written as a PNG with
 * ax_png_write (atomic: temp + rename). No font files, no plotting library: text uses the
 * built-in 5x7 bitmap font below, scaled 1x or 2x with the picture's size.
 *
 *   ax__plot_raster     spikes as dots at (time, neuron), one colour per population
 *   ax__plot_lines      line plot of a few series (population rates), auto y range
 *   ax__plot_stacked    one small panel per series, stacked (membrane voltage traces)
 *   ax__plot_histogram  bars over given bin edges (rate and ISI-CV distributions)
 *
 * Each ax__plot_X(path, ...) is ax__plot_X_canvas(&c, path, ...) + ax__plot_canvas_write +
 * ax__plot_canvas_free; the _canvas forms keep the picture and its layout in memory (tests
 * read the axis mapping from it). `path` names the picture in error messages.
 *
 * Sizes: width and height in AX_PLOT_MIN_SIZE..AX_PLOT_MAX_SIZE pixels; labels are drawn
 * at scale 2 from 600x300 up, at scale 1 below. docs/plots.md describes the pictures.
 */
#ifndef AX_SNN_PLOT_H
#define AX_SNN_PLOT_H

#include "core/core_int.h"

#define AX_PLOT_MIN_SIZE 64
#define AX_PLOT_MAX_SIZE 8192

/* ---- bitmap font ------------------------------------------------------------------ */
/* Printable ASCII 32..126: 5 columns x 9 rows per glyph, rows 0..6 above the baseline
 * (capitals are 7 rows tall), rows 7..8 for descenders (g j p q y , ; _). Row bytes hold
 * the columns in bits 4 (leftmost) .. 0. Text advances AX_PLOT_CELL_W columns per
 * character (one blank column between glyphs), times the scale. */
#define AX_PLOT_GLYPH_W 5
#define AX_PLOT_GLYPH_H 9
#define AX_PLOT_CELL_W 6
/* The 9 rows of glyph `ch`; NULL outside 32..126. */
AX_HIDDEN const uint8_t *ax__plot_glyph(int ch);
/* Width in pixels of `s` drawn at `scale` (bytes outside ASCII 32..126 draw as '?', UTF-8
 * continuation bytes take no room). */
AX_HIDDEN int ax__plot_text_width(const char *s, int scale);

/* ---- canvas ----------------------------------------------------------------------- */
/* One set of axes: the plot area covers pixel columns x0..x1-1 and rows y0..y1-1 (the frame
 * lies just outside it), and spans data xmin..xmax left to right, ymin..ymax bottom to
 * top. */
typedef struct ax__plot_axes {
    int x0, y0, x1, y1;
    double xmin, xmax, ymin, ymax;
} ax__plot_axes;

typedef struct ax__plot_canvas {
    int w, h;
    uint8_t *px;     /* h*w*3 RGB, row-major, top row first */
    int scale;       /* text scale: 1 or 2 */
    int n_axes;      /* 1, or one per panel of a stacked plot, top to bottom */
    ax__plot_axes *axes;
    int legend[4];   /* legend box x0, y0, x1, y1 (exclusive ends); x1 == x0 when none */
    uint32_t stride; /* raster: every stride-th neuron is drawn (1: all) */
} ax__plot_canvas;

/* A white width x height canvas; sizes outside AX_PLOT_MIN_SIZE..AX_PLOT_MAX_SIZE are
 * AX_E_INVALID naming `path`. */
AX_HIDDEN int ax__plot_canvas_init(ax__plot_canvas *c, const char *path, int width, int height);
AX_HIDDEN void ax__plot_canvas_free(ax__plot_canvas *c);
AX_HIDDEN int ax__plot_canvas_write(const ax__plot_canvas *c, const char *path);

/* Data coordinate to pixel coordinate, continuous: pixel column i covers [i, i+1), so the
 * pixel holding x is floor(ax__plot_map_x(a, x)) (xmax maps to x1, the column after the
 * area). y grows upwards in data, downwards in pixels. */
AX_HIDDEN double ax__plot_map_x(const ax__plot_axes *a, double x);
AX_HIDDEN double ax__plot_map_y(const ax__plot_axes *a, double y);

/* Series / population colour i (Tableau 10, repeating). */
AX_HIDDEN void ax__plot_palette(int i, uint8_t rgb[3]);
/* A "nice" tick step (1, 2 or 5 x 10^k) giving about `target` intervals over `range`. */
AX_HIDDEN double ax__plot_nice_step(double range, int target);
/* Draw `s` with its top-left corner at (x, y), clipped to the canvas. */
AX_HIDDEN void ax__plot_text(ax__plot_canvas *c, int x, int y, const char *s, int scale,
                             const uint8_t rgb[3]);

/* ---- plots ------------------------------------------------------------------------ */
/* Spike raster: spike i at time t_ms[i] of neuron neuron[i], shown over t0_ms..t1_ms
 * (spikes outside are left out) for neurons 0..n_neurons-1, neuron 0 at the bottom.
 * Populations: group g holds neurons group_start[g] .. group_start[g+1]-1 (the last one up
 * to n_neurons-1); group_start[0] must be 0 and the starts non-decreasing. n_groups may be
 * 0 (group_start NULL): one colour, no legend. group_names (or any entry) may be NULL:
 * "group <g>". Several spikes on one pixel darken it on a log scale of the count (the 99th
 * percentile of the busy pixels is full colour), so dense rasters show density instead of
 * a solid block. With more than 4 neurons per pixel row every k-th neuron alone is drawn,
 * one per row, and the title says so ("every 10th neuron"). */
AX_HIDDEN int ax__plot_raster(const char *path, const char *title, size_t n, const double *t_ms,
                              const uint32_t *neuron, double t0_ms, double t1_ms,
                              uint32_t n_neurons, int n_groups, const uint32_t *group_start,
                              const char *const *group_names, int width, int height);
AX_HIDDEN int ax__plot_raster_canvas(ax__plot_canvas *c, const char *path, const char *title,
                                     size_t n, const double *t_ms, const uint32_t *neuron,
                                     double t0_ms, double t1_ms, uint32_t n_neurons,
                                     int n_groups, const uint32_t *group_start,
                                     const char *const *group_names, int width, int height);

/* Line plot: series s is y[s][0..n_points-1] over x[0..n_points-1]. The x range is that of
 * the finite x, the y range that of the finite y plus 5% (from 0 when every value is >= 0
 * and the smallest is under half the largest). Points with a non-finite x or y are left out
 * and break the line. names (NULL: no legend) label the series in a legend above the plot.
 * With no finite point at all the axes are drawn empty with "no data". */
AX_HIDDEN int ax__plot_lines(const char *path, const char *title, const char *xlabel,
                             const char *ylabel, int n_series, const char *const *names,
                             size_t n_points, const double *x, const double *const *y,
                             int width, int height);
AX_HIDDEN int ax__plot_lines_canvas(ax__plot_canvas *c, const char *path, const char *title,
                                    const char *xlabel, const char *ylabel, int n_series,
                                    const char *const *names, size_t n_points, const double *x,
                                    const double *const *y, int width, int height);

/* Stacked traces: one panel per series, top to bottom, sharing the x axis (ticks and xlabel
 * under the last panel), each with its own y range and its name above it; ylabel runs
 * down the left side. names may be NULL ("1", "2", ...). Each panel needs at least 24
 * pixel rows (AX_E_INVALID otherwise). */
AX_HIDDEN int ax__plot_stacked(const char *path, const char *title, int n_series,
                               const char *const *names, size_t n_points, const double *x,
                               const double *const *y, const char *xlabel, const char *ylabel,
                               int width, int height);
AX_HIDDEN int ax__plot_stacked_canvas(ax__plot_canvas *c, const char *path, const char *title,
                                      int n_series, const char *const *names, size_t n_points,
                                      const double *x, const double *const *y,
                                      const char *xlabel, const char *ylabel, int width,
                                      int height);

/* Histogram: bar b spans edges[b]..edges[b+1] (strictly increasing, finite) with height
 * counts[b] (finite, >= 0); y from 0. */
AX_HIDDEN int ax__plot_histogram(const char *path, const char *title, const char *xlabel,
                                 const char *ylabel, size_t n_bins, const double *edges,
                                 const double *counts, int width, int height);
AX_HIDDEN int ax__plot_histogram_canvas(ax__plot_canvas *c, const char *path, const char *title,
                                        const char *xlabel, const char *ylabel, size_t n_bins,
                                        const double *edges, const double *counts, int width,
                                        int height);

/* Bin values into n_bins equal bins over lo..hi (hi falls in the last bin), filling
 * edges[0..n_bins] and counts[0..n_bins-1]. Non-finite values, and values outside lo..hi,
 * are not counted. When lo..hi is not a finite, non-empty range it is taken from the
 * finite values (widened by 0.5 each way when they are all equal; 0..1 without any). */
AX_HIDDEN int ax__plot_bin(size_t n, const double *values, size_t n_bins, double lo, double hi,
                           double *edges, double *counts);

#endif /* AX_SNN_PLOT_H */
