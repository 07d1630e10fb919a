/* cmd_reconstruct.c: `axon reconstruct`, the main job: raw EM in, neurons out.
 *
 * Stages, each block-wise and out of core, each writing one volume in OUTDIR under a
 * temporary name that is renamed when complete:
 *   1 predict      affinities.zarr     the U-Net (3 nearest-neighbour channels kept)
 *   2 watershed    fragments.zarr      zwatershed
 *   3 agglomerate  segmentation.zarr   waterz-style merging at one threshold
 *   4 export       precomputed/        Neuroglancer dataset: raw and segmentation pyramids,
 *                                      meshes and skeletons (axon export-precomputed)
 *   5 report       metrics.json, report.html, PNGs in img/ (+ scores against --gt)
 * OUTDIR/state.json records each finished stage with its parameters: a re-run (after a
 * kill, or with a later stage's parameters changed) skips the stages that are done with the
 * same parameters, and every stage is deterministic, so the result is the same.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    const char *raw, *out, *model, *gt;
    double threshold;
    ax_merge_function merge;
    double quantile;
    int64_t block[3];
    bool overwrite, tta;
} recon_opts;

typedef struct {
    const char *name;
    double seconds;
    uint64_t peak_rss;
    bool skipped;
} stage_record;

static int64_t vox3(const int64_t s[3]) { return s[0] * s[1] * s[2]; }

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- state.json: which stages are done, with which parameters ------------------------- */

static json_t *state_load(const char *out)
{
    char *p = join(out, "state.json");
    json_t *s = json_load_file(p, 0, NULL);
    free(p);
    if (!json_is_object(s)) {
        json_decref(s);
        s = json_object();
    }
    return s;
}

static int state_save(const char *out, json_t *s)
{
    char *p = join(out, "state.json"), *tmp = join(out, ".state.json.partial");
    int rc = json_dump_file(s, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) || rename(tmp, p) ? 1 : 0;
    if (rc) {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", p, strerror(errno));
        unlink(tmp);
    }
    free(p);
    free(tmp);
    return rc;
}

/* done when recorded with the same parameter string and its output still exists */
static bool stage_done(json_t *state, const char *stage, const char *params, const char *output)
{
    json_t *st = json_object_get(state, stage);
    const char *pp = json_string_value(json_object_get(st, "params"));
    struct stat sb;
    return pp && !strcmp(pp, params) && (!output || stat(output, &sb) == 0);
}

static void stage_mark(json_t *state, const char *stage, const char *params, double seconds)
{
    json_object_set_new(state, stage, json_pack("{s:s, s:f, s:f}", "params", params, "seconds", seconds,
                                                "peak_rss_mib", mib(ax_peak_rss_bytes())));
}

/* a later stage redone: the ones after it are stale */
static void state_drop_from(json_t *state, const char *const *stages, int n, int from)
{
    for (int i = from; i < n; i++) json_object_del(state, stages[i]);
}

/* ---- stages ---------------------------------------------------------------------------------- */

static int open_checked(const char *path, ax_volume **v)
{
    int rc = ax_volume_open(path, AX_OPEN_READ, v);
    return rc ? fail(rc) : 0;
}

static int create_labels_like(const char *path, const ax_volume_info *like, ax_volume **out)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U64;
    p.ndim = 3;
    int off = like->ndim - 3;
    for (int d = 0; d < 3; d++) {
        p.shape[d] = like->shape[off + d];
        p.chunks[d] = like->chunks[off + d] > 0 ? like->chunks[off + d] : 64;
        if (p.chunks[d] > p.shape[d]) p.chunks[d] = p.shape[d];
        p.voxel_size[d] = like->voxel_size[d];
        p.offset[d] = like->offset[d];
    }
    p.has_voxel_size = like->has_voxel_size;
    p.is_labels = true;
    p.overwrite = true;
    int rc = ax_volume_create(path, &p, out);
    if (!rc) ax_volume_set_cache_bytes(*out, 0);
    return rc;
}

static int run_watershed(const char *aff_path, const char *frag_path, uint64_t *nseg)
{
    ax_volume *aff, *out;
    if (open_checked(aff_path, &aff)) return 1;
    int rc = create_labels_like(frag_path, ax_volume_get_info(aff), &out);
    if (rc) {
        ax_volume_close(aff);
        return fail(rc);
    }
    ax_watershed_params p = ax_watershed_params_default();
    rc = ax_watershed_volume(aff, out, &p, nseg);
    ax_volume_close(aff);
    if (rc) {
        ax_volume_abort(out);
        return rc == AX_E_INTERRUPTED ? 130 : fail(rc);
    }
    return (rc = ax_volume_close(out)) ? fail(rc) : 0;
}

static int run_agglomerate(const recon_opts *o, const char *aff_path, const char *frag_path,
                           const char *seg_path)
{
    ax_volume *aff, *frag, *out;
    if (open_checked(aff_path, &aff)) return 1;
    if (open_checked(frag_path, &frag)) {
        ax_volume_close(aff);
        return 1;
    }
    int rc = create_labels_like(seg_path, ax_volume_get_info(frag), &out);
    if (!rc) {
        ax_agglomerate_params p = ax_agglomerate_params_default();
        p.merge_function = o->merge;
        p.quantile = o->quantile;
        p.thresholds = &o->threshold;
        p.n_thresholds = 1;
        rc = ax_agglomerate_volume(aff, frag, &out, &p);
        if (rc) ax_volume_abort(out);
        else rc = ax_volume_close(out);
    }
    ax_volume_close(aff);
    ax_volume_close(frag);
    return rc == AX_E_INTERRUPTED ? 130 : rc ? fail(rc) : 0;
}

/* ---- pictures and the report ------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* the file as a data: URI in the report, so report.html stands alone */
static void write_png_inline(FILE *f, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) return;
    fputs("data:image/png;base64,", f);
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        fputc(B64[v >> 18 & 63], f);
        fputc(B64[v >> 12 & 63], f);
        fputc(n > 1 ? B64[v >> 6 & 63] : '=', f);
        fputc(n > 2 ? B64[v & 63] : '=', f);
    }
    fclose(in);
}

/* section z of `image` (channel c), with `labels` over it when not NULL, as a PNG */
static int picture(const char *image_path, int64_t z, int64_t c, const char *labels_path,
                   const char *png)
{
    ax_volume *im, *lab = NULL;
    if (open_checked(image_path, &im)) return 1;
    if (labels_path && open_checked(labels_path, &lab)) {
        ax_volume_close(im);
        return 1;
    }
    uint8_t *rgb = NULL;
    int64_t h, w;
    int rc = ax_render_section(im, z, c, false, lab, &rgb, &h, &w);
    if (!rc) rc = ax_png_write(png, rgb, h, w, 3);
    free(rgb);
    ax_volume_close(im);
    ax_volume_close(lab);
    return rc ? fail(rc) : 0;
}

/* the section where label `id` of `labels` has the most voxels (-1 if absent) */
static int64_t best_section(const char *labels_path, uint64_t id)
{
    ax_volume *v;
    if (ax_volume_open(labels_path, AX_OPEN_READ, &v)) return -1;
    const ax_volume_info *vi = ax_volume_get_info(v);
    int64_t size[3] = {1, vi->shape[1], vi->shape[2]}, best = -1, bestn = 0;
    uint64_t *buf = malloc((size_t)(size[1] * size[2]) * sizeof *buf);
    for (int64_t z = 0; buf && z < vi->shape[0]; z++) {
        int64_t start[3] = {z, 0, 0}, n = 0;
        if (ax_volume_read_region(v, start, size, AX_DTYPE_U64, buf)) break;
        for (int64_t i = 0; i < size[1] * size[2]; i++) n += buf[i] == id;
        if (n > bestn) bestn = n, best = z;
    }
    free(buf);
    ax_volume_close(v);
    return best;
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

typedef struct {
    bool have, have_erl;
    ax_eval_result r;
    ax_erl_result erl; /* along the ground truth's own skeletons */
} scores;

static int write_metrics(const recon_opts *o, const char *path, const stage_record *st, int nst,
                         const scores *sc, uint64_t nfrag, int64_t voxels, double total)
{
    json_t *m = json_pack("{s:s, s:s, s:s?, s:f, s:I, s:f, s:f}", "raw", o->raw, "model", o->model,
                          "gt", o->gt, "threshold", o->threshold, "voxels", (json_int_t)voxels,
                          "seconds", total, "voxels_per_s", (double)voxels / fmax(total, 1e-9));
    json_object_set_new(m, "tta", json_boolean(o->tta));
    json_t *stages = json_array();
    for (int i = 0; i < nst; i++)
        json_array_append_new(stages, json_pack("{s:s, s:f, s:f, s:b}", "stage", st[i].name, "seconds",
                                                st[i].seconds, "peak_rss_mib", mib(st[i].peak_rss),
                                                "resumed", st[i].skipped));
    json_object_set_new(m, "stages", stages);
    json_object_set_new(m, "fragments", json_integer((json_int_t)nfrag));
    if (sc->have) {
        const ax_eval_result *r = &sc->r;
        json_t *e = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "voi_split", r->voi_split, "voi_merge",
                              r->voi_merge, "voi_sum", r->voi_split + r->voi_merge, "arand", r->arand,
                              "cremi_score", r->cremi_score, "gt_labels", (json_int_t)r->gt_labels,
                              "seg_labels", (json_int_t)r->seg_labels);
        json_t *ws = json_array(), *wm = json_array();
        for (int i = 0; i < r->n_worst_split; i++)
            json_array_append_new(ws, json_pack("{s:I, s:f, s:I, s:I}", "gt_id", (json_int_t)r->worst_split[i].id,
                                                "bits", r->worst_split[i].bits, "pieces",
                                                (json_int_t)r->worst_split[i].pieces, "voxels",
                                                (json_int_t)r->worst_split[i].size));
        for (int i = 0; i < r->n_worst_merge; i++)
            json_array_append_new(wm, json_pack("{s:I, s:f, s:I, s:I}", "seg_id", (json_int_t)r->worst_merge[i].id,
                                                "bits", r->worst_merge[i].bits, "gt_objects",
                                                (json_int_t)r->worst_merge[i].pieces, "voxels",
                                                (json_int_t)r->worst_merge[i].size));
        if (sc->have_erl)
            json_object_set_new(e, "erl", json_pack("{s:f, s:f, s:f, s:I, s:I, s:I}", "erl_nm", sc->erl.erl, "max_erl_nm",
                                                    sc->erl.max_erl, "total_length_nm", sc->erl.total_length, "skeletons",
                                                    (json_int_t)sc->erl.skeletons, "merges", (json_int_t)sc->erl.merges,
                                                    "splits", (json_int_t)sc->erl.splits));
        json_object_set_new(e, "worst_split", ws);
        json_object_set_new(e, "worst_merge", wm);
        json_object_set_new(m, "scores", e);
    }
    char *tmp = malloc(strlen(path) + 10);
    sprintf(tmp, "%s.partial", path);
    int rc = json_dump_file(m, tmp, JSON_INDENT(1)) || rename(tmp, path);
    json_decref(m);
    if (rc) {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc ? 1 : 0;
}

static int write_report(const recon_opts *o, const char *dir, const stage_record *st, int nst,
                        const scores *sc, uint64_t nfrag, int64_t shape[3], double total)
{
    char *aff = join(dir, "affinities.zarr"), *seg = join(dir, "segmentation.zarr"), *img = join(dir, "img");
    mkdir(img, 0777);
    /* pictures of an earlier run (other thresholds, other worst objects) would linger */
    DIR *dd = opendir(img);
    for (struct dirent *e; dd && (e = readdir(dd));) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".png")) {
            char *f = join(img, e->d_name);
            unlink(f);
            free(f);
        }
    }
    if (dd) closedir(dd);
    int64_t zs[3] = {shape[0] / 4, shape[0] / 2, 3 * shape[0] / 4};
    char png[3][3][PATH_MAX];
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        snprintf(png[k][0], PATH_MAX, "%s/raw_z%lld.png", img, (long long)zs[k]);
        snprintf(png[k][1], PATH_MAX, "%s/affinity_z%lld.png", img, (long long)zs[k]);
        snprintf(png[k][2], PATH_MAX, "%s/segmentation_z%lld.png", img, (long long)zs[k]);
        rc = picture(o->raw, zs[k], 0, NULL, png[k][0]) || picture(aff, zs[k], 1, NULL, png[k][1]) ||
             picture(o->raw, zs[k], 0, seg, png[k][2]);
    }
    /* where the worst errors are */
    char wpng[2][3][PATH_MAX];
    int64_t wz[2][3];
    int nw[2] = {0, 0};
    for (int kind = 0; sc->have && kind < 2 && !rc; kind++) {
        const ax_eval_object *obj = kind ? sc->r.worst_merge : sc->r.worst_split;
        int n = kind ? sc->r.n_worst_merge : sc->r.n_worst_split;
        for (int i = 0; i < n && i < 3 && !rc; i++) {
            /* a split gt object shown under the segmentation, a merged segment under the gt */
            wz[kind][i] = best_section(kind ? seg : o->gt, obj[i].id);
            if (wz[kind][i] < 0) continue;
            snprintf(wpng[kind][i], PATH_MAX, "%s/worst_%s_%d_z%lld.png", img, kind ? "merge" : "split", i,
                     (long long)wz[kind][i]);
            rc = picture(o->raw, wz[kind][i], 0, kind ? o->gt : seg, wpng[kind][i]);
            nw[kind] = i + 1;
        }
    }
    char *path = join(dir, "report.html"), *tmp = join(dir, ".report.html.partial");
    FILE *f = rc ? NULL : fopen(tmp, "w");
    if (!rc && !f) {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", tmp, strerror(errno));
        rc = 1;
    }
    if (f) {
        fprintf(f, "<!doctype html><html><head><meta charset=\"utf-8\"><title>axon reconstruct: ");
        html_escape(f, o->raw);
        fprintf(f, "</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
                   "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                   "th{background:#eee}img{margin:2px;border:1px solid #999}figure{display:inline-block;margin:4px}"
                   "figcaption{font-size:small;color:#555}</style></head><body>\n");
        fprintf(f, "<h1>axon reconstruct</h1>\n<h2>Inputs and parameters</h2>\n<table>\n");
        const char *rows[][2] = {{"raw", o->raw}, {"model", o->model}, {"ground truth", o->gt ? o->gt : "(none)"}};
        for (int i = 0; i < 3; i++) {
            fprintf(f, "<tr><th>%s</th><td style=\"text-align:left\">", rows[i][0]);
            html_escape(f, rows[i][1]);
            fprintf(f, "</td></tr>\n");
        }
        fprintf(f, "<tr><th>shape (z, y, x)</th><td style=\"text-align:left\">%lld x %lld x %lld</td></tr>\n",
                (long long)shape[0], (long long)shape[1], (long long)shape[2]);
        fprintf(f, "<tr><th>prediction</th><td style=\"text-align:left\">%s</td></tr>\n",
                o->tta ? "test-time augmentation: mean of the 8 flips" : "one pass (no test-time augmentation)");
        fprintf(f, "<tr><th>agglomeration</th><td style=\"text-align:left\">%s, threshold %g</td></tr>\n",
                o->merge == AX_MERGE_MEAN ? "mean affinity" : o->merge == AX_MERGE_MAX ? "max affinity" : "quantile",
                o->threshold);
        fprintf(f, "<tr><th>fragments</th><td style=\"text-align:left\">%llu</td></tr></table>\n",
                (unsigned long long)nfrag);
        fprintf(f, "<h2>Stages</h2>\n<table><tr><th>stage</th><th>seconds</th><th>peak memory so far (MiB)</th><th></th></tr>\n");
        for (int i = 0; i < nst; i++)
            fprintf(f, "<tr><td style=\"text-align:left\">%s</td><td>%.2f</td><td>%.0f</td><td>%s</td></tr>\n",
                    st[i].name, st[i].seconds, mib(st[i].peak_rss), st[i].skipped ? "from an earlier run" : "");
        fprintf(f, "<tr><th>total</th><td>%.2f</td><td colspan=2 style=\"text-align:left\">%.3g voxels/s</td></tr></table>\n",
                total, (double)(shape[0] * shape[1] * shape[2]) / fmax(total, 1e-9));
        if (sc->have) {
            const ax_eval_result *r = &sc->r;
            fprintf(f, "<h2>Scores against the ground truth</h2>\n<table><tr><th>VOI split</th><th>VOI merge</th>"
                       "<th>VOI sum</th><th>adapted Rand error</th><th>CREMI score</th><th>gt objects</th><th>segments</th></tr>\n");
            fprintf(f, "<tr><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%llu</td><td>%llu</td></tr></table>\n",
                    r->voi_split, r->voi_merge, r->voi_split + r->voi_merge, r->arand, r->cremi_score,
                    (unsigned long long)r->gt_labels, (unsigned long long)r->seg_labels);
            fprintf(f, "<p>VOI in bits: split = H(segmentation | truth), merge = H(truth | segmentation).</p>\n");
            if (sc->have_erl) {
                const ax_erl_result *e = &sc->erl;
                fprintf(f, "<h3>Expected run length</h3>\n<table><tr><th>ERL</th><th>perfect</th><th>share</th>"
                           "<th>skeletons</th><th>merges</th><th>splits</th></tr>\n<tr><td>%.3f &micro;m</td>"
                           "<td>%.3f &micro;m</td><td>%.1f%%</td><td>%lld</td><td>%lld</td><td>%lld</td></tr></table>\n"
                           "<p>Along TEASAR skeletons of the ground truth (%.1f &micro;m in all), funlib's definition: a "
                           "skeleton edge counts for the segment both its ends lie in; segments under two or more "
                           "skeletons count zero.</p>\n",
                        e->erl / 1000, e->max_erl / 1000, e->max_erl > 0 ? 100 * e->erl / e->max_erl : 0,
                        (long long)e->skeletons, (long long)e->merges, (long long)e->splits, e->total_length / 1000);
            }
            for (int kind = 0; kind < 2; kind++) {
                const ax_eval_object *obj = kind ? r->worst_merge : r->worst_split;
                fprintf(f, "<h3>Worst %s</h3>\n<table><tr><th>%s id</th><th>bits</th><th>%s</th><th>voxels</th></tr>\n",
                        kind ? "merges" : "splits", kind ? "segment" : "gt object", kind ? "gt objects" : "pieces");
                int n = kind ? r->n_worst_merge : r->n_worst_split;
                for (int i = 0; i < n && i < 10; i++)
                    fprintf(f, "<tr><td>%llu</td><td>%.4f</td><td>%llu</td><td>%llu</td></tr>\n",
                            (unsigned long long)obj[i].id, obj[i].bits, (unsigned long long)obj[i].pieces,
                            (unsigned long long)obj[i].size);
                fprintf(f, "</table>\n");
                for (int i = 0; i < nw[kind]; i++) {
                    if (wz[kind][i] < 0) continue;
                    fprintf(f, "<figure><img width=320 src=\"");
                    write_png_inline(f, wpng[kind][i]);
                    fprintf(f, "\"><figcaption>%s %llu, section z%lld, %s over the raw</figcaption></figure>\n",
                            kind ? "segment" : "gt object", (unsigned long long)obj[i].id, (long long)wz[kind][i],
                            kind ? "ground truth" : "segmentation");
                }
            }
        }
        fprintf(f, "<h2>Sections</h2>\n");
        for (int k = 0; k < 3; k++) {
            const char *cap[3] = {"raw", "y-affinity (dark = boundary)", "segmentation"};
            for (int c = 0; c < 3; c++) {
                fprintf(f, "<figure><img width=320 src=\"");
                write_png_inline(f, png[k][c]);
                fprintf(f, "\"><figcaption>z%lld: %s</figcaption></figure>\n", (long long)zs[k], cap[c]);
            }
            fprintf(f, "<br>\n");
        }
        fprintf(f, "<p>Outputs: affinities.zarr, fragments.zarr, segmentation.zarr, metrics.json, and precomputed/ "
                   "(Neuroglancer: raw and segmentation with meshes and skeletons; <code>axon serve precomputed</code> "
                   "in this directory opens it). Made by axon %s.</p></body></html>\n", ax_version_string());
        if (fclose(f) || rename(tmp, path)) {
            fprintf(stderr, "axon: error: %s: cannot write (%s)\n", path, strerror(errno));
            unlink(tmp);
            rc = 1;
        }
    }
    free(aff);
    free(seg);
    free(img);
    free(path);
    free(tmp);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------------- */

static const char USAGE[] =
    "usage: axon reconstruct RAW -o OUTDIR [--model M.safetensors] [--gt GT]\n"
    "                        [--threshold T] [--merge-function mean|max|quantile:Q]\n"
    "                        [--block z,y,x] [--config run.json] [--overwrite]\n"
    "  raw EM -> affinities -> watershed fragments -> agglomerated segmentation, with a\n"
    "  Neuroglancer dataset (OUTDIR/precomputed: raw, segmentation, meshes, skeletons; open it\n"
    "  with axon serve), OUTDIR/report.html and OUTDIR/metrics.json (scores with --gt).\n"
    "  --model      default: models/medulla_affinities.safetensors beside the axon binary\n"
    "               (or $AX_MODELS/medulla_affinities.safetensors); an affinity model (3+\n"
    "               outputs, the first 3 the nearest -z,-y,-x) or a boundary model (1 output,\n"
    "               turned into affinities as in axon affinities-from-boundary)\n"
    "  --threshold  agglomeration threshold (default 0.6, tuned on medulla z120-149)\n"
    "  --no-tta     one network pass per tile instead of the mean of its 8 flips (the\n"
    "               default, --tta: 8x the prediction time, about 0.1 bit less VOI)\n"
    "  --config run.json  settings from `axon tune` (model, merge function, threshold);\n"
    "               options given on the command line win\n"
    "  A re-run continues: stages finished with the same parameters are kept.\n";

static char *default_model(void)
{
    const char *env = getenv("AX_MODELS");
    char exe[PATH_MAX];
    if (env) return join(env, "medulla_affinities.safetensors");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return strdup("models/medulla_affinities.safetensors");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    return join(exe, "../models/medulla_affinities.safetensors");
}

int cmd_reconstruct(int argc, char **argv)
{
    recon_opts o = {.threshold = 0.6, .merge = AX_MERGE_MEAN, .quantile = 0.5, .block = {32, 128, 128}, .tta = true};
    char *model_owned = NULL;
    json_t *cfg = NULL;
    /* a run config first, so that the command line overrides it */
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            json_error_t e;
            cfg = json_load_file(argv[i + 1], 0, &e);
            if (!json_is_object(cfg)) {
                fprintf(stderr, "axon: error: %s: not a run config (%s)\n", argv[i + 1], e.text);
                json_decref(cfg);
                return 1;
            }
            json_t *v;
            if ((v = json_object_get(cfg, "threshold")) && json_is_number(v)) o.threshold = json_number_value(v);
            if ((v = json_object_get(cfg, "tta")) && json_is_boolean(v)) o.tta = json_is_true(v);
            if ((v = json_object_get(cfg, "model")) && json_is_string(v)) o.model = json_string_value(v);
            if ((v = json_object_get(cfg, "merge_function")) && json_is_string(v)) {
                const char *m = json_string_value(v);
                o.merge = !strcmp(m, "max") ? AX_MERGE_MAX : !strncmp(m, "quantile:", 9) ? AX_MERGE_QUANTILE : AX_MERGE_MEAN;
                if (o.merge == AX_MERGE_QUANTILE) o.quantile = atof(m + 9);
            }
        }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--overwrite")) { o.overwrite = true; continue; }
        if (!strcmp(a, "--tta")) { o.tta = true; continue; }
        if (!strcmp(a, "--no-tta")) { o.tta = false; continue; }
        if (a[0] == '-' && a[1]) {
            if (!v) return usage_error("reconstruct: %s needs a value", a);
            i++;
            if (!strcmp(a, "-o") || !strcmp(a, "--out")) o.out = v;
            else if (!strcmp(a, "--model")) o.model = v;
            else if (!strcmp(a, "--gt")) o.gt = v;
            else if (!strcmp(a, "--config")) continue; /* read above */
            else if (!strcmp(a, "--threshold")) { if (!parse_f64(v, &o.threshold) || o.threshold < 0 || o.threshold > 1) return usage_error("reconstruct: bad --threshold '%s' (0..1)", v); }
            else if (!strcmp(a, "--block")) { if (parse_list(v, o.block, 3) != 3 || o.block[0] < 1 || o.block[1] < 1 || o.block[2] < 1) return usage_error("reconstruct: bad --block '%s'", v); }
            else if (!strcmp(a, "--merge-function")) {
                if (!strcmp(v, "mean")) o.merge = AX_MERGE_MEAN;
                else if (!strcmp(v, "max")) o.merge = AX_MERGE_MAX;
                else if (!strncmp(v, "quantile:", 9) && parse_f64(v + 9, &o.quantile) && o.quantile >= 0 && o.quantile <= 1) o.merge = AX_MERGE_QUANTILE;
                else return usage_error("reconstruct: bad --merge-function '%s' (mean, max, quantile:Q)", v);
            } else return usage_error("reconstruct: unknown option '%s'", a);
            continue;
        }
        if (o.raw) return usage_error("reconstruct: unexpected argument '%s'", a);
        o.raw = a;
    }
    if (!o.raw || !o.out) return usage_error("%s", "reconstruct: needs RAW and -o OUTDIR (axon reconstruct --help)");
    if (!o.model) o.model = model_owned = default_model();

    /* everything that can be checked before heavy work */
    ax_net *net = NULL;
    ax_volume *v = NULL;
    int64_t shape[3];
    int ret = 1, rc;
    char *aff = join(o.out, "affinities.zarr"), *bnd = join(o.out, "boundary.zarr"), *frag = join(o.out, "fragments.zarr"),
         *seg = join(o.out, "segmentation.zarr"), *ng = join(o.out, "precomputed"),
         *metrics = join(o.out, "metrics.json");
    json_t *state = NULL;
    scores sc = {0};
    if ((rc = ax_net_load(o.model, &net))) {
        fail(rc);
        goto done;
    }
    if (ax_net_in_channels(net) != 1 || ax_net_out_channels(net) == 2) {
        fprintf(stderr, "axon: error: %s: reconstruct needs a model from one raw channel to nearest-neighbour "
                "affinities (3 or more output channels) or to a boundary map (1 channel); this one maps %d -> %d "
                "channels\n", o.model, ax_net_in_channels(net), ax_net_out_channels(net));
        goto done;
    }
    bool boundary_model = ax_net_out_channels(net) == 1;
    if (open_checked(o.raw, &v)) goto done;
    {
        const ax_volume_info *ri = ax_volume_get_info(v);
        if (ri->ndim != 3) {
            fprintf(stderr, "axon: error: %s: expected a 3-d raw volume (this one has %d axes)\n", o.raw, ri->ndim);
            goto done;
        }
        if (ri->dtype != AX_DTYPE_U8 && ri->dtype != AX_DTYPE_U16 && ri->dtype != AX_DTYPE_F32) {
            fprintf(stderr, "axon: error: %s: raw EM must be uint8, uint16 or float32, not %s\n", o.raw,
                    ax_dtype_name(ri->dtype));
            goto done;
        }
        for (int d = 0; d < 3; d++) shape[d] = ri->shape[d];
    }
    ax_volume_close(v);
    v = NULL;
    if (o.gt) {
        if (open_checked(o.gt, &v)) goto done;
        const ax_volume_info *gi = ax_volume_get_info(v);
        if (gi->ndim != 3 || gi->shape[0] != shape[0] || gi->shape[1] != shape[1] || gi->shape[2] != shape[2]) {
            fprintf(stderr, "axon: error: %s is %d-d %lldx%lldx%lld but the raw %s is %lldx%lldx%lld\n", o.gt,
                    gi->ndim, (long long)gi->shape[0], (long long)gi->shape[1], (long long)gi->shape[2], o.raw,
                    (long long)shape[0], (long long)shape[1], (long long)shape[2]);
            goto done;
        }
        ax_volume_close(v);
        v = NULL;
    }
    if (mkdir(o.out, 0777) && errno != EEXIST) {
        fprintf(stderr, "axon: error: %s: cannot create the output directory (%s)\n", o.out, strerror(errno));
        goto done;
    }
    if (access(o.out, W_OK)) {
        fprintf(stderr, "axon: error: %s: the output directory is not writable (%s)\n", o.out, strerror(errno));
        goto done;
    }
    state = o.overwrite ? json_object() : state_load(o.out);

    static const char *const STAGES[] = {"predict", "watershed", "agglomerate", "export"};
    stage_record st[5];
    int nst = 0;
    char params[1024];
    double t_all = ax_time_now();
    uint64_t nfrag = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* one progress line for the whole job; weights: the stages' shares of a typical run */
    static const double WEIGHTS[5] = {80, 6, 8, 3, 3};
    ax_progress_pipeline_begin("reconstruct", 5, WEIGHTS);
    for (int s = 0; s < 4; s++) {
        const char *outp = s == 0 ? aff : s == 1 ? frag : s == 2 ? seg : ng;
        if (s == 0) {
            char rs[64], ms[64];
            file_stamp(o.raw, rs, sizeof rs);
            file_stamp(o.model, ms, sizeof ms);
            snprintf(params, sizeof params, "raw=%s (%s) model=%s (%s) block=%lld,%lld,%lld tta=%d", o.raw, rs, o.model,
                     ms, (long long)o.block[0], (long long)o.block[1], (long long)o.block[2], (int)o.tta);
        }
        else if (s == 1)
            snprintf(params, sizeof params, "watershed defaults");
        else if (s == 2)
            snprintf(params, sizeof params, "merge=%d quantile=%g threshold=%g", (int)o.merge, o.quantile, o.threshold);
        else
            snprintf(params, sizeof params, "precomputed dataset v2 (image, segmentation, meshes, skeletons)");
        st[nst] = (stage_record){STAGES[s], 0, 0, false};
        if (stage_done(state, STAGES[s], params, outp)) {
            json_t *rec = json_object_get(state, STAGES[s]);
            st[nst].seconds = json_real_value(json_object_get(rec, "seconds"));
            st[nst].peak_rss = (uint64_t)(json_real_value(json_object_get(rec, "peak_rss_mib")) * 1048576.0);
            st[nst].skipped = true;
            if (s == 1) nfrag = (uint64_t)json_integer_value(json_object_get(rec, "fragments"));
            ax_progress_pipeline_stage(s, STAGES[s]);
            if (!g_quiet) fprintf(stderr, "axon reconstruct: [%d/5] %s: done in an earlier run\n", s + 1, STAGES[s]);
            nst++;
            continue;
        }
        state_drop_from(state, STAGES, 4, s);
        ax_progress_pipeline_stage(s, STAGES[s]);
        if (!g_quiet) fprintf(stderr, "axon reconstruct: [%d/5] %s -> %s\n", s + 1, STAGES[s], outp);
        ax_progress_pipeline_redraw();
        double t0 = ax_time_now();
        predict_opts po = {.overwrite = true, .tta = o.tta, .max_channels = boundary_model ? 1 : 3, .resume_key = params};
        memcpy(po.block, o.block, sizeof po.block);
        if (s == 0 && boundary_model) {
            /* a boundary model: its map, then affinities from it (min of the two voxels) */
            rc = predict_volume(net, o.model, o.raw, bnd, &po, NULL);
            if (!rc) rc = affinities_from_boundary_volume(bnd, aff, true);
        } else if (s == 0) rc = predict_volume(net, o.model, o.raw, aff, &po, NULL);
        else if (s == 1) rc = run_watershed(aff, frag, &nfrag);
        else if (s == 2) rc = run_agglomerate(&o, aff, frag, seg);
        else rc = export_dataset(o.raw, seg, ng, &(export_opts){6, 128, true, true, true});
        if (rc || g_interrupted) {
            if (rc == 130 || g_interrupted) {
                fprintf(stderr, "\naxon reconstruct: interrupted in %s; run the same command again to continue\n", STAGES[s]);
                ret = 130;
            }
            goto done;
        }
        st[nst].seconds = ax_time_now() - t0;
        st[nst].peak_rss = ax_peak_rss_bytes();
        stage_mark(state, STAGES[s], params, st[nst].seconds);
        if (s == 1) json_object_set_new(json_object_get(state, STAGES[s]), "fragments", json_integer((json_int_t)nfrag));
        if (state_save(o.out, state)) goto done;
        nst++;
    }

    /* scores, pictures, report */
    ax_progress_pipeline_stage(4, o.gt ? "report and scores" : "report");
    if (!g_quiet) fprintf(stderr, "axon reconstruct: [5/5] report -> %s/report.html\n", o.out);
    ax_progress_pipeline_redraw();
    double t0 = ax_time_now();
    if (o.gt) {
        ax_volume *sv, *gv;
        if (open_checked(seg, &sv)) goto done;
        if (open_checked(o.gt, &gv)) {
            ax_volume_close(sv);
            goto done;
        }
        ax_eval_params ep = ax_eval_params_default();
        ep.worst = 10;
        rc = ax_eval_volumes(sv, gv, &ep, &sc.r);
        ax_volume_close(sv);
        ax_volume_close(gv);
        if (rc) {
            fail(rc);
            goto done;
        }
        sc.have = true;
        /* ERL along the ground truth's skeletons (made here, TEASAR defaults) */
        ax_skeleton **sk = NULL;
        int64_t nsk = 0;
        ax_skel_params skp = ax_skel_params_default();
        if (open_checked(o.gt, &gv)) goto done;
        rc = ax_skeletonize_volume(gv, &skp, &sk, &nsk);
        ax_volume_close(gv);
        if (!rc && !(rc = open_checked(seg, &sv) ? AX_E_IO : 0)) {
            rc = ax_erl_volume(sk, nsk, sv, &sc.erl);
            ax_volume_close(sv);
        }
        ax_skeletons_free(sk, nsk);
        if (rc) {
            fail(rc);
            goto done;
        }
        sc.have_erl = true;
    }
    double total = 0;
    for (int i = 0; i < nst; i++) total += st[i].seconds;
    st[nst] = (stage_record){"report", 0, 0, false};
    if (write_report(&o, o.out, st, nst, &sc, nfrag, shape, total)) goto done;
    st[nst].seconds = ax_time_now() - t0;
    st[nst].peak_rss = ax_peak_rss_bytes();
    total += st[nst].seconds;
    nst++;
    if (write_metrics(&o, metrics, st, nst, &sc, nfrag, vox3(shape), total)) goto done;
    ax_progress_pipeline_end(true);
    if (!g_quiet) {
        fprintf(stderr, "axon reconstruct: %s: %llu fragments -> segmentation.zarr in %.1f s (%.3g voxels/s",
                o.out, (unsigned long long)nfrag, ax_time_now() - t_all,
                (double)vox3(shape) / fmax(ax_time_now() - t_all, 1e-9));
        if (sc.have)
            fprintf(stderr, "); VOI split %.3f merge %.3f, adapted Rand %.4f", sc.r.voi_split, sc.r.voi_merge, sc.r.arand);
        else
            fprintf(stderr, ")");
        fprintf(stderr, "; peak memory %.0f MiB\naxon reconstruct: open %s/report.html; to look at it in Neuroglancer: "
                        "axon serve %s/precomputed\n", mib(ax_peak_rss_bytes()), o.out, o.out);
    }
    ret = 0;
done:
    ax_progress_pipeline_end(false); /* (nothing left to do after a completed end) */
    if (ret == 1 && g_interrupted) { /* Ctrl-C in the report stage: what is done stays done */
        fprintf(stderr, "\naxon reconstruct: interrupted; run the same command again to continue\n");
        ret = 130;
    }
    if (sc.have) ax_eval_result_clear(&sc.r);
    json_decref(state);
    ax_volume_close(v);
    ax_net_free(net);
    free(aff);
    free(bnd);
    free(frag);
    free(seg);
    free(ng);
    free(metrics);
    free(model_owned);
    json_decref(cfg);
    return ret;
}

/* ---- axon tune: the agglomeration threshold with the best VOI on a validation volume ------- */

static const char TUNE_USAGE[] =
    "usage: axon tune RAW --gt GT -o run.json [--model M] [--thresholds 0.1,0.2,...]\n"
    "                 [--merge-function mean|max|quantile:Q] [--work DIR] [--no-tta]\n"
    "  predicts and over-segments RAW once, agglomerates at every threshold in one pass, scores\n"
    "  each against GT and writes the one with the smallest VOI split + merge into run.json\n"
    "  (for axon reconstruct --config). DIR (default run.json.work) keeps the affinities,\n"
    "  fragments and one segmentation per threshold, so a re-tune reuses them.\n";

int cmd_tune(int argc, char **argv)
{
    const char *raw = NULL, *gt = NULL, *out = NULL, *work = NULL, *merge_s = "mean";
    char *model = NULL;
    double th[64] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
    int nth = 11;
    recon_opts o = {.merge = AX_MERGE_MEAN, .quantile = 0.5, .block = {32, 128, 128}, .tta = true};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(TUNE_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--no-tta")) { o.tta = false; continue; }
        if (!strcmp(a, "--tta")) { o.tta = true; continue; }
        if (a[0] == '-' && a[1]) {
            if (!v) return usage_error("tune: %s needs a value", a);
            i++;
            if (!strcmp(a, "--gt")) gt = v;
            else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
            else if (!strcmp(a, "--model")) model = strdup(v);
            else if (!strcmp(a, "--work")) work = v;
            else if (!strcmp(a, "--thresholds")) {
                if ((nth = parse_flist(v, th, 64)) < 1) return usage_error("tune: bad --thresholds '%s'", v);
                for (int k = 0; k < nth; k++)
                    if (th[k] < 0 || th[k] > 1 || (k && th[k] <= th[k - 1]))
                        return usage_error("tune: --thresholds '%s' must rise within [0, 1]", v);
            } else if (!strcmp(a, "--merge-function")) {
                merge_s = v;
                if (!strcmp(v, "mean")) o.merge = AX_MERGE_MEAN;
                else if (!strcmp(v, "max")) o.merge = AX_MERGE_MAX;
                else if (!strncmp(v, "quantile:", 9) && parse_f64(v + 9, &o.quantile)) o.merge = AX_MERGE_QUANTILE;
                else return usage_error("tune: bad --merge-function '%s'", v);
            } else return usage_error("tune: unknown option '%s'", a);
            continue;
        }
        if (raw) return usage_error("tune: unexpected argument '%s'", a);
        raw = a;
    }
    if (!raw || !gt || !out) return usage_error("%s", "tune: needs RAW, --gt and -o run.json (axon tune --help)");
    if (!model) model = default_model();
    char *workdir = work ? strdup(work) : malloc(strlen(out) + 6);
    if (!work) sprintf(workdir, "%s.work", out);
    /* the first two stages through reconstruct itself (kept, so a re-tune is quick) */
    char *args[] = {(char *)raw, "-o", workdir, "--model", model, "--threshold", "0.5", o.tta ? "--tta" : "--no-tta", NULL};
    int ret = cmd_reconstruct(8, args);
    char *aff = join(workdir, "affinities.zarr"), *frag = join(workdir, "fragments.zarr");
    ax_volume *av = NULL, *fv = NULL, *outs[64] = {0};
    char *paths[64] = {0};
    json_t *table = json_array();
    int best = -1, rc = 0;
    double best_voi = INFINITY;
    ax_eval_result res[64];
    memset(res, 0, sizeof res);
    if (ret) goto done;
    ret = 1;
    if (open_checked(aff, &av) || open_checked(frag, &fv)) goto done;
    for (int k = 0; k < nth; k++) {
        char name[64];
        snprintf(name, sizeof name, "tune_t%g.zarr", th[k]);
        paths[k] = join(workdir, name);
        if ((rc = create_labels_like(paths[k], ax_volume_get_info(fv), &outs[k]))) {
            fail(rc);
            goto done;
        }
    }
    ax_agglomerate_params ap = ax_agglomerate_params_default();
    ap.merge_function = o.merge;
    ap.quantile = o.quantile;
    ap.thresholds = th;
    ap.n_thresholds = nth;
    if ((rc = ax_agglomerate_volume(av, fv, outs, &ap))) {
        fail(rc);
        goto done;
    }
    for (int k = 0; k < nth; k++) {
        rc = ax_volume_close(outs[k]);
        outs[k] = NULL;
        if (rc) {
            fail(rc);
            goto done;
        }
    }
    printf("threshold   VOI split  VOI merge    VOI sum   adapted Rand\n");
    for (int k = 0; k < nth; k++) {
        ax_volume *sv, *gv;
        if (open_checked(paths[k], &sv)) goto done;
        if (open_checked(gt, &gv)) {
            ax_volume_close(sv);
            goto done;
        }
        ax_eval_params ep = ax_eval_params_default();
        ep.worst = 0;
        rc = ax_eval_volumes(sv, gv, &ep, &res[k]);
        ax_volume_close(sv);
        ax_volume_close(gv);
        if (rc) {
            fail(rc);
            goto done;
        }
        double voi = res[k].voi_split + res[k].voi_merge;
        printf("%9g %10.4f %10.4f %10.4f %14.4f\n", th[k], res[k].voi_split, res[k].voi_merge, voi, res[k].arand);
        json_array_append_new(table, json_pack("{s:f, s:f, s:f, s:f}", "threshold", th[k], "voi_split",
                                               res[k].voi_split, "voi_merge", res[k].voi_merge, "arand", res[k].arand));
        if (voi < best_voi) best_voi = voi, best = k;
    }
    {
        json_t *run = json_pack("{s:s, s:s, s:f, s:b, s:{s:s, s:s, s:f, s:f, s:f, s:o}}", "model", model, "merge_function",
                                merge_s, "threshold", th[best], "tta", (int)o.tta, "tuned_on", "raw", raw, "gt", gt, "voi_split",
                                res[best].voi_split, "voi_merge", res[best].voi_merge, "arand", res[best].arand,
                                "table", table);
        table = NULL;
        char *tmp = malloc(strlen(out) + 10);
        sprintf(tmp, "%s.partial", out);
        int bad = json_dump_file(run, tmp, JSON_INDENT(1)) || rename(tmp, out);
        json_decref(run);
        free(tmp);
        if (bad) {
            fprintf(stderr, "axon: error: %s: cannot write (%s)\n", out, strerror(errno));
            goto done;
        }
    }
    if (!g_quiet)
        fprintf(stderr, "axon tune: best threshold %g (VOI %.4f = split %.4f + merge %.4f), written to %s\n", th[best],
                best_voi, res[best].voi_split, res[best].voi_merge, out);
    ret = 0;
done:
    for (int k = 0; k < nth; k++) {
        if (outs[k]) ax_volume_abort(outs[k]);
        free(paths[k]);
    }
    json_decref(table);
    ax_volume_close(av);
    ax_volume_close(fv);
    free(aff);
    free(frag);
    free(workdir);
    free(model);
    return ret;
}
