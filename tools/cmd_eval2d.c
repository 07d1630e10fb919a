/* cmd_eval2d.c: axon eval2d: a boundary map scored section by section against 2-d ground
 * truth, the ISBI 2012 way (pixel error, foreground-restricted Rand and information
 * errors), over a sweep of thresholds. See ax_eval_section in include/axon/eval.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char USAGE[] =
    "usage: axon eval2d --pred BOUNDARY --gt GT [--gt-kind membrane0|mask|labels]\n"
    "                   [--thresholds 0.1,0.2,...] [--z A:B] [--json]\n"
    "  BOUNDARY  membrane probability (1 = membrane), 3-d or (1, z, y, x); float32, or uint8\n"
    "            read as value/255\n"
    "  GT        2-d ground truth per section, the same z, y, x shape:\n"
    "            membrane0  0 = membrane, anything else = cell (ISBI 2012 labels; default)\n"
    "            mask       non-zero = membrane (a membrane mask)\n"
    "            labels     cell ids per section, 0 = membrane or unlabelled\n"
    "  Per section and threshold t: pixel error of (BOUNDARY > t); the cells of BOUNDARY <= t\n"
    "  (4-connected) grown over the borders, scored on GT's cell pixels: Rand error\n"
    "  1 - V_rand, information error 1 - V_info, VOI split/merge. Means over sections are\n"
    "  printed per threshold; the row with the least Rand error is marked (the ISBI\n"
    "  leaderboard took the best threshold; pick t on other data to avoid that optimism).\n"
    "  --z A:B     sections A..B-1 only (default all)\n"
    "  --thresholds default 0.1,0.2,...,0.9\n";

enum { KIND_MEMBRANE0, KIND_MASK, KIND_LABELS };

typedef struct {
    double pixel_error, rand_error, info_error, voi_split, voi_merge;
} means;

int cmd_eval2d(int argc, char **argv)
{
    const char *pred_path = NULL, *gt_path = NULL;
    int kind = KIND_MEMBRANE0;
    bool json = false;
    double th[64] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    int nth = 9;
    int64_t z0 = 0, z1 = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) { json = true; continue; }
        if (a[0] != '-') return usage_error("eval2d: unexpected argument '%s'", a);
        if (!v) return usage_error("eval2d: %s needs a value", a);
        i++;
        if (!strcmp(a, "--pred")) pred_path = v;
        else if (!strcmp(a, "--gt")) gt_path = v;
        else if (!strcmp(a, "--gt-kind")) {
            if (!strcmp(v, "membrane0")) kind = KIND_MEMBRANE0;
            else if (!strcmp(v, "mask")) kind = KIND_MASK;
            else if (!strcmp(v, "labels")) kind = KIND_LABELS;
            else return usage_error("eval2d: --gt-kind '%s': membrane0, mask or labels", v);
        } else if (!strcmp(a, "--thresholds")) {
            if ((nth = parse_flist(v, th, 64)) < 1) return usage_error("eval2d: bad --thresholds '%s'", v);
            for (int k = 0; k < nth; k++)
                if (!(th[k] >= 0 && th[k] <= 1)) return usage_error("eval2d: --thresholds '%s' must lie in [0, 1]", v);
        } else if (!strcmp(a, "--z")) {
            char *end;
            z0 = strtoll(v, &end, 10);
            if (*end != ':' || z0 < 0) return usage_error("eval2d: bad --z '%s' (A:B)", v);
            z1 = strtoll(end + 1, &end, 10);
            if (*end || z1 <= z0) return usage_error("eval2d: bad --z '%s' (A:B)", v);
        } else return usage_error("eval2d: unknown option '%s'", a);
    }
    if (!pred_path || !gt_path) return usage_error("%s", "eval2d: needs --pred and --gt (axon eval2d --help)");

    ax_volume *pv = NULL, *gv = NULL;
    int rc = ax_volume_open(pred_path, AX_OPEN_READ, &pv);
    if (rc) return fail(rc);
    if ((rc = ax_volume_open(gt_path, AX_OPEN_READ, &gv))) {
        ax_volume_close(pv);
        return fail(rc);
    }
    const ax_volume_info *pi = ax_volume_get_info(pv), *gi = ax_volume_get_info(gv);
    int ret = 1, sp = pi->ndim == 4 ? 1 : 0;
    float *b = NULL;
    uint64_t *g = NULL, *cells = NULL;
    uint8_t *mask = NULL;
    means *m = NULL;
    ax_section_scores *all = NULL;
    if (pi->ndim != 3 && !(pi->ndim == 4 && pi->shape[0] == 1)) {
        fprintf(stderr, "axon: error: %s: a boundary map is 3-d or (1, z, y, x); this one has %d axes%s\n", pred_path,
                pi->ndim, pi->ndim == 4 ? " and several channels" : "");
        goto out;
    }
    if (pi->dtype != AX_DTYPE_F32 && pi->dtype != AX_DTYPE_U8) {
        fprintf(stderr, "axon: error: %s: a boundary map is float32 or uint8, not %s\n", pred_path,
                ax_dtype_name(pi->dtype));
        goto out;
    }
    if (gi->ndim != 3 || gi->shape[0] != pi->shape[sp] || gi->shape[1] != pi->shape[sp + 1] ||
        gi->shape[2] != pi->shape[sp + 2]) {
        fprintf(stderr, "axon: error: %s is %d-d %lldx%lldx%lld but the prediction %s is %lldx%lldx%lld\n", gt_path,
                gi->ndim, (long long)gi->shape[0], (long long)gi->shape[1], (long long)gi->shape[2], pred_path,
                (long long)pi->shape[sp], (long long)pi->shape[sp + 1], (long long)pi->shape[sp + 2]);
        goto out;
    }
    int64_t nz = gi->shape[0], h = gi->shape[1], w = gi->shape[2];
    if (z1 < 0) z1 = nz;
    if (z1 > nz) {
        fprintf(stderr, "axon: error: --z %lld:%lld reaches past the %lld sections of %s\n", (long long)z0,
                (long long)z1, (long long)nz, gt_path);
        goto out;
    }
    int64_t ns = z1 - z0;
    size_t n = (size_t)(h * w);
    b = malloc(n * sizeof *b);
    g = malloc(n * sizeof *g);
    cells = malloc(n * sizeof *cells);
    mask = malloc(n);
    m = calloc((size_t)nth, sizeof *m);
    all = calloc((size_t)(nth * ns), sizeof *all);
    if (!b || !g || !cells || !mask || !m || !all) {
        fprintf(stderr, "axon: error: out of memory for %lld x %lld sections\n", (long long)h, (long long)w);
        goto out;
    }
    double t0 = ax_time_now();
    ax_progress *prog = ax_progress_new("eval2d", ns);
    for (int64_t z = z0; z < z1; z++) {
        int64_t s3[3] = {z, 0, 0}, n3[3] = {1, h, w}, s4[4] = {0, z, 0, 0}, n4[4] = {1, 1, h, w};
        rc = sp ? ax_volume_read_region_as(pv, s4, n4, AX_DTYPE_F32, b) : ax_volume_read_region_as(pv, s3, n3, AX_DTYPE_F32, b);
        if (!rc) rc = ax_volume_read_region_as(gv, s3, n3, AX_DTYPE_U64, g);
        if (rc) {
            ax_progress_done(prog);
            fail(rc);
            goto out;
        }
        if (pi->dtype == AX_DTYPE_U8)
            for (size_t p = 0; p < n; p++) b[p] /= 255.0f;
        if (kind == KIND_LABELS) memcpy(cells, g, n * sizeof *g);
        else {
            for (size_t p = 0; p < n; p++) mask[p] = kind == KIND_MEMBRANE0 ? g[p] != 0 : g[p] == 0;
            if ((rc = (int)ax_section_cells(mask, h, w, cells)) < 0) {
                ax_progress_done(prog);
                fail(rc);
                goto out;
            }
        }
        for (int k = 0; k < nth; k++) {
            ax_section_scores *s = &all[k * ns + (z - z0)];
            if ((rc = ax_eval_section(b, cells, h, w, (float)th[k], s))) {
                ax_progress_done(prog);
                fprintf(stderr, "axon: error: %s, section z=%lld: %s\n", pred_path, (long long)z, ax_errmsg());
                goto out;
            }
            m[k].pixel_error += s->pixel_error / (double)ns;
            m[k].rand_error += s->rand_error / (double)ns;
            m[k].info_error += s->info_error / (double)ns;
            m[k].voi_split += s->voi_split / (double)ns;
            m[k].voi_merge += s->voi_merge / (double)ns;
        }
        ax_progress_add(prog, 1);
    }
    ax_progress_done(prog);
    int best = 0;
    for (int k = 1; k < nth; k++)
        if (m[k].rand_error < m[best].rand_error) best = k;
    if (json) {
        printf("{\"pred\": ");
        json_str(pred_path);
        printf(", \"gt\": ");
        json_str(gt_path);
        printf(", \"gt_kind\": \"%s\", \"z\": [%lld, %lld], \"best_threshold\": %g,\n \"thresholds\": [",
               kind == KIND_MEMBRANE0 ? "membrane0" : kind == KIND_MASK ? "mask" : "labels", (long long)z0,
               (long long)z1, th[best]);
        for (int k = 0; k < nth; k++) {
            printf("%s\n  {\"threshold\": %g, \"pixel_error\": %.6g, \"rand_error\": %.6g, \"info_error\": %.6g, "
                   "\"voi_split\": %.6g, \"voi_merge\": %.6g, \"sections\": [",
                   k ? "," : "", th[k], m[k].pixel_error, m[k].rand_error, m[k].info_error, m[k].voi_split,
                   m[k].voi_merge);
            for (int64_t i = 0; i < ns; i++) {
                const ax_section_scores *s = &all[k * ns + i];
                printf("%s{\"z\": %lld, \"pixel_error\": %.6g, \"rand_error\": %.6g, \"info_error\": %.6g, "
                       "\"cells\": %llu}",
                       i ? ", " : "", (long long)(z0 + i), s->pixel_error, s->rand_error, s->info_error,
                       (unsigned long long)s->cells);
            }
            printf("]}");
        }
        printf("\n]}\n");
    } else {
        printf("pred: %s\ngt:   %s (%s), sections z%lld-%lld (%lld of %lld x %lld)\n\n", pred_path, gt_path,
               kind == KIND_MEMBRANE0 ? "0 = membrane" : kind == KIND_MASK ? "membrane mask" : "cell labels",
               (long long)z0, (long long)(z1 - 1), (long long)ns, (long long)h, (long long)w);
        printf("threshold  pixel error  Rand error  info error  VOI split  VOI merge   (means over sections)\n");
        for (int k = 0; k < nth; k++)
            printf("%9g %12.4f %11.4f %11.4f %10.4f %10.4f%s\n", th[k], m[k].pixel_error, m[k].rand_error,
                   m[k].info_error, m[k].voi_split, m[k].voi_merge, k == best ? "   <- least Rand error" : "");
        fflush(stdout);
        if (!g_quiet)
            fprintf(stderr, "axon: eval2d: %lld sections x %d thresholds in %.2f s, peak memory %.0f MiB\n",
                    (long long)ns, nth, ax_time_now() - t0, mib(ax_peak_rss_bytes()));
    }
    ret = 0;
out:
    free(b);
    free(g);
    free(cells);
    free(mask);
    free(m);
    free(all);
    ax_volume_close(pv);
    ax_volume_close(gv);
    return ret;
}
