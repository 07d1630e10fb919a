/* cmd_export.c: axon export-precomputed (raw + segmentation + meshes + skeletons as one
 * Neuroglancer precomputed dataset with downsampling pyramids) and axon erl (expected
 * run length along ground-truth skeletons).
 *
 * Dataset layout, built under DATASET.partial-PID and renamed when complete:
 *   image/         the raw volume, scales 1, 2, 4, ... (mean)       type "image"
 *   segmentation/  the labels, same scales (most frequent non-zero)  type "segmentation"
 *     mesh/        legacy meshes, one per object (info "mesh": "mesh")
 *     skeletons/   TEASAR skeletons (info "skeletons": "skeletons")
 * Each scale is written as its own precomputed volume and then moved in: its chunk
 * directory (named by resolution) beside scale 0's and its entry appended to "scales".
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *path2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* the factor of the next level: 2 in y and x; 2 in z too while z is not coarser than
 * twice y (so anisotropic ssTEM keeps its z until x, y catch up) */
static void next_factor(const double res[3], int64_t f[3])
{
    f[1] = f[2] = 2;
    f[0] = res[0] < 2 * res[1] ? 2 : 1;
}

/* slab-by-slab copy of a 3-d volume into a new one */
static int copy_volume(ax_volume *in, ax_volume *out, ax_dtype t)
{
    const ax_volume_info *ii = ax_volume_get_info(in), *oi = ax_volume_get_info(out);
    int64_t slab = oi->chunks[0] > 0 ? oi->chunks[0] : 64;
    size_t plane = (size_t)(ii->shape[1] * ii->shape[2]), es = ax_dtype_size(t);
    void *buf = malloc((size_t)slab * plane * es);
    if (!buf) return AX_E_NOMEM;
    int rc = 0;
    for (int64_t z = 0; z < ii->shape[0] && !rc; z += slab) {
        if (g_interrupted) {
            rc = AX_E_INTERRUPTED;
            break;
        }
        int64_t s[3] = {z, 0, 0}, n[3] = {z + slab < ii->shape[0] ? slab : ii->shape[0] - z, ii->shape[1], ii->shape[2]};
        if (!(rc = ax_volume_read_region_as(in, s, n, t, buf))) rc = ax_volume_write_region(out, s, n, t, buf);
    }
    free(buf);
    return rc;
}

static int create_pc(const char *path, const ax_volume_info *like, ax_dtype t, const double res[3], const int64_t shape[3],
                     bool labels, ax_volume **out)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.format = AX_FORMAT_PRECOMPUTED;
    p.dtype = t;
    p.ndim = 3;
    for (int d = 0; d < 3; d++) {
        p.shape[d] = shape[d];
        p.chunks[d] = shape[d] < 64 ? shape[d] : 64;
        p.voxel_size[d] = res[d];
        p.offset[d] = like->offset[d];
    }
    p.has_voxel_size = true;
    p.is_labels = labels;
    p.overwrite = true;
    if (labels) p.compression = AX_COMPRESSION_COMPRESSED_SEGMENTATION;
    int rc = ax_volume_create(path, &p, out);
    if (!rc) ax_volume_set_cache_bytes(*out, 0);
    return rc;
}

/* move scale volume `src` (one scale) into dataset volume `dst`: its chunk directory and
 * its "scales" entry */
static int merge_scale(const char *dst, const char *src)
{
    char *si = path2(src, "info"), *di = path2(dst, "info");
    json_t *sj = json_load_file(si, 0, NULL), *dj = json_load_file(di, 0, NULL);
    json_t *scale = json_array_get(json_object_get(sj, "scales"), 0);
    const char *key = json_string_value(json_object_get(scale, "key"));
    int rc = 1;
    if (!scale || !key || !json_is_array(json_object_get(dj, "scales"))) {
        fprintf(stderr, "axon: error: %s or %s: not a precomputed volume\n", si, di);
        goto out;
    }
    char *from = path2(src, key), *to = path2(dst, key);
    int bad = rename(from, to);
    if (bad) fprintf(stderr, "axon: error: cannot move %s to %s (%s)\n", from, to, strerror(errno));
    free(from);
    free(to);
    if (bad) goto out;
    json_array_append(json_object_get(dj, "scales"), scale);
    char *tmp = path2(dst, ".info.partial");
    bad = json_dump_file(dj, tmp, JSON_INDENT(1)) || rename(tmp, di);
    if (bad) fprintf(stderr, "axon: error: %s: cannot write (%s)\n", di, strerror(errno));
    free(tmp);
    if (bad) goto out;
    ax_volume_remove(src);
    rc = 0;
out:
    json_decref(sj);
    json_decref(dj);
    free(si);
    free(di);
    return rc;
}

/* scale 0 copied from `src`, then levels down to `max_edge` voxels; returns the levels */
static int write_pyramid(const char *src_path, const char *dir, const char *name, bool labels, int max_levels,
                         int64_t max_edge, int *levels)
{
    ax_volume *src, *cur;
    int rc = ax_volume_open(src_path, AX_OPEN_READ, &src);
    if (rc) return fail(rc);
    const ax_volume_info *si = ax_volume_get_info(src);
    if (si->ndim != 3) {
        fprintf(stderr, "axon: error: %s: export needs a 3-d volume (this one has %d axes)\n", src_path, si->ndim);
        ax_volume_close(src);
        return 1;
    }
    if (labels && si->dtype == AX_DTYPE_F32) {
        fprintf(stderr, "axon: error: %s: a segmentation must have an integer dtype, not float32\n", src_path);
        ax_volume_close(src);
        return 1;
    }
    ax_volume_info like = *si;
    ax_dtype t = labels ? AX_DTYPE_U64 : si->dtype;
    double res[3];
    int64_t shape[3];
    for (int d = 0; d < 3; d++) {
        res[d] = si->has_voxel_size && si->voxel_size[d] > 0 ? si->voxel_size[d] : 1;
        shape[d] = si->shape[d];
    }
    char *path = path2(dir, name);
    if (!g_quiet) fprintf(stderr, "axon export: %s <- %s\n", path, src_path);
    if ((rc = create_pc(path, &like, t, res, shape, labels, &cur)) || (rc = copy_volume(src, cur, t))) {
        if (rc != AX_E_INTERRUPTED) fail(rc);
        ax_volume_abort(cur);
        ax_volume_close(src);
        free(path);
        return rc == AX_E_INTERRUPTED ? 130 : 1;
    }
    ax_volume_close(src);
    if ((rc = ax_volume_close(cur))) {
        free(path);
        return fail(rc);
    }
    /* every level as a volume of its own, read by the next; then all moved in */
    *levels = 1;
    char *lpaths[16] = {0};
    int nl = 0;
    const char *prev_path = path;
    for (int k = 1; k < max_levels && k < 16 && !rc; k++) {
        int64_t big = shape[0] > shape[1] ? shape[0] : shape[1];
        if (shape[2] > big) big = shape[2];
        if (big <= max_edge) break;
        int64_t f[3];
        next_factor(res, f);
        for (int d = 0; d < 3; d++) {
            shape[d] = (shape[d] + f[d] - 1) / f[d];
            res[d] *= (double)f[d];
        }
        char lname[64];
        snprintf(lname, sizeof lname, ".%s_scale%d", name, k);
        lpaths[nl] = path2(dir, lname);
        ax_volume *prev, *next;
        if ((rc = ax_volume_open(prev_path, AX_OPEN_READ, &prev))) break;
        if (!(rc = create_pc(lpaths[nl], &like, t, res, shape, labels, &next))) {
            rc = ax_volume_downsample(prev, next, f, labels);
            if (rc) ax_volume_abort(next);
            else rc = ax_volume_close(next);
        }
        ax_volume_close(prev);
        if (rc) break;
        prev_path = lpaths[nl++];
    }
    int bad = 0;
    for (int k = 0; k < nl && !rc && !bad; k++)
        if (!(bad = merge_scale(path, lpaths[k]))) ++*levels;
    for (int k = 0; k < 16; k++) {
        if (lpaths[k]) ax_volume_remove(lpaths[k]);
        free(lpaths[k]);
    }
    free(path);
    if (rc == AX_E_INTERRUPTED || g_interrupted) return 130;
    return rc ? fail(rc) : bad;
}

/* meshes and skeletons of the exported segmentation, in its directory, named in its info */
static int write_geometry(const char *seg_path, const char *segdir, bool meshes, bool skeletons, int64_t *nm,
                          int64_t *ns)
{
    ax_volume *v;
    int rc = ax_volume_open(seg_path, AX_OPEN_READ, &v);
    if (rc) return fail(rc);
    char *info = path2(segdir, "info");
    json_t *j = json_load_file(info, 0, NULL);
    if (meshes && !rc) {
        ax_mesh_params mp = ax_mesh_params_default();
        ax_mesh **m = NULL;
        char *dir = path2(segdir, "mesh");
        if (!g_quiet) fprintf(stderr, "axon export: %s (marching cubes, %.0f%% of the triangles kept)\n", dir,
                              100 * mp.reduction);
        if (!(rc = ax_mesh_volume(v, &mp, &m, nm)) && !(rc = ax_meshes_write_precomputed(dir, m, *nm)))
            json_object_set_new(j, "mesh", json_string("mesh"));
        ax_meshes_free(m, *nm);
        free(dir);
    }
    if (skeletons && !rc) {
        ax_skel_params sp = ax_skel_params_default();
        ax_skeleton **sk = NULL;
        char *dir = path2(segdir, "skeletons");
        if (!g_quiet) fprintf(stderr, "axon export: %s (TEASAR)\n", dir);
        if (!(rc = ax_skeletonize_volume(v, &sp, &sk, ns)) && !(rc = ax_skeletons_write_precomputed(dir, sk, *ns)))
            json_object_set_new(j, "skeletons", json_string("skeletons"));
        ax_skeletons_free(sk, *ns);
        free(dir);
    }
    ax_volume_close(v);
    if (!rc) {
        char *tmp = path2(segdir, ".info.partial");
        if (json_dump_file(j, tmp, JSON_INDENT(1)) || rename(tmp, info)) {
            fprintf(stderr, "axon: error: %s: cannot write (%s)\n", info, strerror(errno));
            rc = 1;
        }
        free(tmp);
    } else if (rc != AX_E_INTERRUPTED) rc = fail(rc);
    json_decref(j);
    free(info);
    return rc == AX_E_INTERRUPTED ? 130 : rc ? 1 : 0;
}

int export_dataset(const char *raw, const char *seg, const char *out, const export_opts *eo)
{
    int64_t scales = eo->scales, max_edge = eo->max_edge;
    bool overwrite = eo->overwrite, meshes = eo->meshes, skeletons = eo->skeletons;
    struct stat sb;
    if (!overwrite && stat(out, &sb) == 0) {
        fprintf(stderr, "axon: error: %s: already exists (ask to overwrite)\n", out);
        return 1;
    }
    double t0 = ax_time_now();
    size_t n = strlen(out) + 32;
    char *tmp = malloc(n);
    snprintf(tmp, n, "%s.partial-%d", out, (int)getpid());
    ax_volume_remove(tmp);
    if (mkdir(tmp, 0777)) {
        fprintf(stderr, "axon: error: %s: cannot create (%s)\n", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int ret = 0, li = 0, ls = 0;
    if (raw) ret = write_pyramid(raw, tmp, "image", false, (int)scales, max_edge, &li);
    int64_t nmesh = 0, nskel = 0;
    if (!ret && seg) ret = write_pyramid(seg, tmp, "segmentation", true, (int)scales, max_edge, &ls);
    if (!ret && seg && (meshes || skeletons)) {
        char *segdir = path2(tmp, "segmentation");
        ret = write_geometry(seg, segdir, meshes, skeletons, &nmesh, &nskel);
        free(segdir);
    }
    if (!ret) {
        char *trash = NULL;
        if (stat(out, &sb) == 0) {
            size_t tn = strlen(out) + 32;
            trash = malloc(tn);
            snprintf(trash, tn, "%s.old-%d", out, (int)getpid());
            if (rename(out, trash)) {
                fprintf(stderr, "axon: error: %s: cannot move the old dataset aside (%s)\n", out, strerror(errno));
                ret = 1;
            }
        }
        if (!ret && rename(tmp, out)) {
            fprintf(stderr, "axon: error: %s: cannot rename %s into place (%s)\n", out, tmp, strerror(errno));
            ret = 1;
        }
        if (trash) ax_volume_remove(trash);
        free(trash);
    }
    if (ret) ax_volume_remove(tmp);
    else if (!g_quiet)
        fprintf(stderr, "axon: wrote %s: image %d scales, segmentation %d scales, %lld meshes, %lld skeletons in "
                        "%.2f s, peak memory %.0f MiB\n"
                        "axon: open it with: axon serve %s\n",
                out, li, ls, (long long)nmesh, (long long)nskel, ax_time_now() - t0, mib(ax_peak_rss_bytes()), out);
    free(tmp);
    if (ret == 130) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out);
    return ret;
}


static const char EXPORT_USAGE[] =
    "usage: axon export-precomputed -o DATASET [--raw RAW] [--seg SEG] [--scales N]\n"
    "                               [--max-edge V] [--no-meshes] [--no-skeletons] [--overwrite]\n"
    "  one Neuroglancer precomputed dataset: DATASET/image (RAW, mean downsampling) and\n"
    "  DATASET/segmentation (SEG, most frequent non-zero label), each with scales halving\n"
    "  y and x (and z while z is no coarser than twice y) until the largest edge is at most\n"
    "  V voxels (default 128) or N scales (default 6); with SEG also a mesh per object\n"
    "  (DATASET/segmentation/mesh, as axon mesh) and a skeleton per object\n"
    "  (DATASET/segmentation/skeletons, as axon skeletonize). Built under a temporary name;\n"
    "  open it with `axon serve DATASET`.\n";

int cmd_export_precomputed(int argc, char **argv)
{
    const char *raw = NULL, *seg = NULL, *out = NULL;
    int64_t scales = 6, max_edge = 128;
    bool overwrite = false, meshes = true, skeletons = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(EXPORT_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--overwrite")) { overwrite = true; continue; }
        if (!strcmp(a, "--no-meshes")) { meshes = false; continue; }
        if (!strcmp(a, "--no-skeletons")) { skeletons = false; continue; }
        if (a[0] != '-') return usage_error("export-precomputed: unexpected argument '%s'", a);
        if (!v) return usage_error("export-precomputed: %s needs a value", a);
        i++;
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--raw")) raw = v;
        else if (!strcmp(a, "--seg")) seg = v;
        else if (!strcmp(a, "--scales")) { if (!parse_i64(v, &scales) || scales < 1 || scales > 16) return usage_error("export-precomputed: bad --scales '%s' (1..16)", v); }
        else if (!strcmp(a, "--max-edge")) { if (!parse_i64(v, &max_edge) || max_edge < 1) return usage_error("export-precomputed: bad --max-edge '%s'", v); }
        else return usage_error("export-precomputed: unknown option '%s'", a);
    }
    if (!out || (!raw && !seg)) return usage_error("%s", "export-precomputed: needs -o DATASET and --raw and/or --seg");
    return export_dataset(raw, seg, out, &(export_opts){(int)scales, max_edge, overwrite, meshes, skeletons});
}

/* ---- axon erl ----------------------------------------------------------------------------- */

/* *.swc files of a directory (or one file), sorted by name */
int load_swc_dir(const char *path, ax_skeleton ***out, int64_t *n)
{
    struct stat sb;
    *out = NULL;
    *n = 0;
    if (stat(path, &sb)) {
        fprintf(stderr, "axon: error: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char **names = NULL;
    int64_t nn = 0, cap = 0;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".swc")) continue;
            if (nn == cap) names = realloc(names, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *names);
            names[nn++] = path2(path, e->d_name);
        }
        if (d) closedir(d);
        if (nn) qsort(names, (size_t)nn, sizeof *names, cmp_str);
    } else {
        names = malloc(sizeof *names);
        names[nn++] = strdup(path);
    }
    if (!nn) {
        fprintf(stderr, "axon: error: %s: no .swc files\n", path);
        free(names);
        return 1;
    }
    ax_skeleton **sk = calloc((size_t)nn, sizeof *sk);
    int rc = 0;
    for (int64_t i = 0; i < nn && !rc; i++)
        if ((rc = ax_swc_read(names[i], &sk[i]))) fail(rc);
    for (int64_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    if (rc) {
        for (int64_t i = 0; i < nn; i++) ax_skeleton_free(sk[i]);
        free(sk);
        return 1;
    }
    *out = sk;
    *n = nn;
    return 0;
}

static const char ERL_USAGE[] =
    "usage: axon erl --seg SEG (--skeletons DIR|FILE.swc | --gt-labels GT) [--json]\n"
    "  expected run length (funlib / FFN) of segmentation SEG along ground-truth skeletons:\n"
    "  SWC files (a directory of *.swc, coordinates x y z in nm) or the skeletons of a label\n"
    "  volume GT made here with axon skeletonize's defaults. Each skeleton edge counts for\n"
    "  the segment both its ends lie in; segments under two or more skeletons are merges and\n"
    "  count zero, as do edges in segment 0 and edges across segments (splits).\n"
    "  ERL = sum over (skeleton, segment) of length^2 / total skeleton length, in nm.\n";

int cmd_erl(int argc, char **argv)
{
    const char *seg_path = NULL, *skel_path = NULL, *gt_path = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(ERL_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) { json = true; continue; }
        if (a[0] != '-') return usage_error("erl: unexpected argument '%s'", a);
        if (!v) return usage_error("erl: %s needs a value", a);
        i++;
        if (!strcmp(a, "--seg")) seg_path = v;
        else if (!strcmp(a, "--skeletons")) skel_path = v;
        else if (!strcmp(a, "--gt-labels")) gt_path = v;
        else return usage_error("erl: unknown option '%s'", a);
    }
    if (!seg_path || (!skel_path == !gt_path))
        return usage_error("%s", "erl: needs --seg and one of --skeletons, --gt-labels (axon erl --help)");
    double t0 = ax_time_now();
    ax_skeleton **sk = NULL;
    int64_t n = 0;
    int rc;
    if (skel_path) {
        if (load_swc_dir(skel_path, &sk, &n)) return 1;
    } else {
        ax_volume *gv;
        if ((rc = ax_volume_open(gt_path, AX_OPEN_READ, &gv))) return fail(rc);
        ax_skel_params sp = ax_skel_params_default();
        rc = ax_skeletonize_volume(gv, &sp, &sk, &n);
        ax_volume_close(gv);
        if (rc) return fail(rc);
    }
    ax_volume *sv;
    ax_erl_result r;
    if (!(rc = ax_volume_open(seg_path, AX_OPEN_READ, &sv))) {
        rc = ax_erl_volume(sk, n, sv, &r);
        ax_volume_close(sv);
    }
    for (int64_t i = 0; i < n; i++) ax_skeleton_free(sk[i]);
    free(sk);
    if (rc) return fail(rc);
    if (json) {
        printf("{\"seg\": ");
        json_str(seg_path);
        printf(", \"skeletons\": ");
        json_str(skel_path ? skel_path : gt_path);
        printf(", \"erl_nm\": %.6g, \"max_erl_nm\": %.6g, \"total_length_nm\": %.6g, \"skeletons_count\": %lld, "
               "\"merges\": %lld, \"splits\": %lld, \"split_edges\": %lld, \"omitted_edges\": %lld, "
               "\"merged_edges\": %lld}\n",
               r.erl, r.max_erl, r.total_length, (long long)r.skeletons, (long long)r.merges, (long long)r.splits,
               (long long)r.split_edges, (long long)r.omitted_edges, (long long)r.merged_edges);
    } else {
        printf("seg:       %s\nskeletons: %s (%lld, %.4g um in all)\n", seg_path, skel_path ? skel_path : gt_path,
               (long long)r.skeletons, r.total_length / 1000);
        printf("ERL        %.4g um  (%.1f%% of the %.4g um a perfect segmentation gets)\n", r.erl / 1000,
               r.max_erl > 0 ? 100 * r.erl / r.max_erl : 0, r.max_erl / 1000);
        printf("merges     %lld segments under two or more skeletons (%lld edges)\n", (long long)r.merges,
               (long long)r.merged_edges);
        printf("splits     %lld (%lld edges across segments, %lld edges in segment 0)\n", (long long)r.splits,
               (long long)r.split_edges, (long long)r.omitted_edges);
        fflush(stdout);
        if (!g_quiet) fprintf(stderr, "axon: erl took %.2f s, peak memory %.0f MiB\n", ax_time_now() - t0, mib(ax_peak_rss_bytes()));
    }
    return 0;
}
