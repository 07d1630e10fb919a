/* cmd_mesh.c: `axon mesh SEG OUT`: a closed surface mesh per object of a label volume
 * (ax_mesh_volume), written as a Neuroglancer precomputed legacy mesh directory (default)
 * or a directory of PLY / OBJ files, one per object.
 *
 *   axon mesh SEG OUT [--reduction R] [--max-error E] [--dust N] [--ids a,b,...]
 *                     [--smooth N] [--voxel-size z,y,x] [--format precomputed|ply|obj]
 *                     [--overwrite]
 *
 * OUT is built under a hidden temporary name beside it and renamed into place when every
 * file is written, so an interrupted or failed run leaves nothing at OUT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/axon.h"
#include "cli.h"

static const char usage[] =
    "usage: axon mesh SEG OUT [options]\n"
    "  a closed, simplified surface mesh per non-zero label of SEG (3-d, integer labels),\n"
    "  vertices in nm (SEG's voxel size and offset); OUT a Neuroglancer precomputed legacy\n"
    "  mesh directory (OUT/info, OUT/<id>:0 manifests, OUT/<id>:0:0 fragments)\n"
    "  --reduction R       fraction of the marching-cubes triangles to keep, (0, 1]\n"
    "                      (default 0.15; 1 = no simplification)\n"
    "  --max-error E       also stop simplifying at a quadric error of E nm^2 (default off)\n"
    "  --dust N            skip objects of fewer than N voxels (default 0)\n"
    "  --ids a,b,...       mesh only these labels\n"
    "  --smooth N          N Taubin smoothing passes before simplification (default 0)\n"
    "  --voxel-size z,y,x  nm, instead of SEG's\n"
    "  --format F          precomputed (default), ply or obj (OUT/<id>.ply|obj)\n"
    "  --overwrite         replace OUT if it exists\n";

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "a,b,c" of positive integers -> malloc'd array; NULL if it is not that */
static uint64_t *parse_ids(const char *s, int64_t *n)
{
    int64_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int64_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return NULL;
    int k = parse_list(s, v, (int)cap);
    if (k <= 0) {
        free(v);
        return NULL;
    }
    for (int i = 0; i < k; i++)
        if (v[i] <= 0) {
            free(v);
            return NULL;
        }
    qsort(v, (size_t)k, sizeof *v, cmp_i64); /* sorted, each once */
    int u = 0;
    for (int i = 0; i < k; i++)
        if (!u || v[i] != v[u - 1]) v[u++] = v[i];
    *n = u;
    return (uint64_t *)v; /* positive int64 values read the same as uint64 */
}

/* write every mesh into dir (made here) in `format`; 130 on interrupt, 1 on error */
static int write_all(const char *dir, const char *format, ax_mesh **m, int64_t n)
{
    int rc;
    if (!strcmp(format, "precomputed")) {
        rc = ax_meshes_write_precomputed(dir, m, n);
        if (g_interrupted) return 130;
        return rc < 0 ? fail(rc) : 0;
    }
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "axon: error: %s: cannot create directory\n", dir);
        return 1;
    }
    size_t len = strlen(dir) + 40;
    char *path = malloc(len);
    if (!path) return fail(AX_E_NOMEM);
    rc = AX_OK;
    for (int64_t i = 0; i < n && rc == AX_OK && !g_interrupted; i++) {
        snprintf(path, len, "%s/%llu.%s", dir, (unsigned long long)m[i]->id, format);
        rc = !strcmp(format, "ply") ? ax_mesh_write_ply(path, m[i]) : ax_mesh_write_obj(path, m[i]);
    }
    free(path);
    if (g_interrupted) return 130;
    return rc < 0 ? fail(rc) : 0;
}

int cmd_mesh(int argc, char **argv)
{
    const char *seg_path = NULL, *out_path = NULL, *format = "precomputed";
    ax_mesh_params p = ax_mesh_params_default();
    uint64_t *ids = NULL;
    bool overwrite = false;
    int status = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        int64_t k;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            free(ids);
            return 0;
        } else if (!strcmp(a, "--reduction") && more) {
            if (!parse_f64(argv[++i], &p.reduction) || !(p.reduction > 0 && p.reduction <= 1)) {
                free(ids);
                return usage_error("mesh: --reduction '%s': a fraction in (0, 1]", argv[i]);
            }
        } else if (!strcmp(a, "--max-error") && more) {
            if (!parse_f64(argv[++i], &p.max_error) || p.max_error < 0) {
                free(ids);
                return usage_error("mesh: --max-error '%s': nm^2, >= 0", argv[i]);
            }
        } else if (!strcmp(a, "--dust") && more) {
            if (!parse_i64(argv[++i], &p.dust) || p.dust < 0) {
                free(ids);
                return usage_error("mesh: --dust '%s': a voxel count >= 0", argv[i]);
            }
        } else if (!strcmp(a, "--smooth") && more) {
            if (!parse_i64(argv[++i], &k) || k < 0 || k > 10000) {
                free(ids);
                return usage_error("mesh: --smooth '%s': 0..10000 passes", argv[i]);
            }
            p.smooth_iterations = (int)k;
        } else if (!strcmp(a, "--ids") && more) {
            free(ids);
            ids = parse_ids(argv[++i], &p.n_ids);
            if (!ids) return usage_error("mesh: --ids '%s': positive labels a,b,...", argv[i]);
            p.ids = ids;
        } else if (!strcmp(a, "--voxel-size") && more) {
            if (parse_flist(argv[++i], p.voxel_size, 3) != 3 || !(p.voxel_size[0] > 0) ||
                !(p.voxel_size[1] > 0) || !(p.voxel_size[2] > 0)) {
                free(ids);
                return usage_error("mesh: --voxel-size '%s': z,y,x nm, all positive", argv[i]);
            }
        } else if (!strcmp(a, "--format") && more) {
            format = argv[++i];
            if (strcmp(format, "precomputed") && strcmp(format, "ply") && strcmp(format, "obj")) {
                free(ids);
                return usage_error("mesh: --format '%s': precomputed, ply or obj", format);
            }
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if (a[0] == '-' && a[1]) {
            free(ids);
            return usage_error("mesh: unknown option or missing value: %s", a);
        } else if (!seg_path) {
            seg_path = a;
        } else if (!out_path) {
            out_path = a;
        } else {
            free(ids);
            return usage_error("mesh: unexpected argument %s", a);
        }
    }
    if (!seg_path || !out_path) {
        free(ids);
        return usage_error("mesh: %s", "need SEG and OUT");
    }
    char *out_copy = strdup(out_path); /* "out/" -> "out": the temporary name goes beside it */
    if (!out_copy) {
        free(ids);
        return fail(AX_E_NOMEM);
    }
    for (size_t l = strlen(out_copy); l > 1 && out_copy[l - 1] == '/'; l--) out_copy[l - 1] = 0;
    out_path = out_copy;
    if (!overwrite && access(out_path, F_OK) == 0) {
        fprintf(stderr, "axon: error: %s exists (--overwrite to replace it)\n", out_path);
        free(ids);
        free(out_copy);
        return 1;
    }

    double t0 = ax_time_now();
    ax_volume *seg;
    int rc = ax_volume_open(seg_path, AX_OPEN_READ, &seg);
    if (rc < 0) {
        free(ids);
        free(out_copy);
        return fail(rc);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_mesh **m = NULL;
    int64_t n = 0;
    double t1 = ax_time_now();
    rc = ax_mesh_volume(seg, &p, &m, &n);
    double t_mesh = ax_time_now() - t1;
    ax_volume_close(seg);
    char *tmp = NULL, *old = NULL;
    if (g_interrupted || rc < 0) {
        if (!g_interrupted) fail(rc);
        status = g_interrupted ? 130 : 1;
        goto out;
    }
    /* build OUT under a hidden sibling name, then rename it into place */
    size_t len = strlen(out_path) + 64;
    tmp = malloc(len);
    old = malloc(len);
    if (!tmp || !old) {
        status = fail(AX_E_NOMEM);
        goto out;
    }
    const char *slash = strrchr(out_path, '/');
    int dl = slash ? (int)(slash - out_path) + 1 : 0;
    snprintf(tmp, len, "%.*s.%s.partial-%d", dl, out_path, out_path + dl, (int)getpid());
    snprintf(old, len, "%.*s.%s.old-%d", dl, out_path, out_path + dl, (int)getpid());
    ax_volume_remove(tmp);
    status = write_all(tmp, format, m, n);
    if (status == 0 && access(out_path, F_OK) == 0) { /* --overwrite: move the old one away */
        if (rename(out_path, old) != 0) {
            fprintf(stderr, "axon: error: %s: cannot replace it\n", out_path);
            status = 1;
        }
    }
    if (status == 0 && rename(tmp, out_path) != 0) {
        fprintf(stderr, "axon: error: %s: cannot rename the finished meshes into place\n",
                out_path);
        rename(old, out_path);
        status = 1;
    }
    if (status == 0) ax_volume_remove(old);
out:
    if (status != 0 && tmp) ax_volume_remove(tmp);
    if (status == 130) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
    if (status == 0 && p.n_ids > n && !g_quiet)
        fprintf(stderr, "axon: note: %lld of the %lld --ids got no mesh (not in SEG%s)\n",
                (long long)(p.n_ids - n), (long long)p.n_ids, p.dust ? ", or under --dust" : "");
    if (status == 0 && !g_quiet) {
        int64_t tri_mc = 0, tri = 0;
        for (int64_t i = 0; i < n; i++) {
            tri_mc += m[i]->n_triangles_mc;
            tri += m[i]->n_triangles;
        }
        double t = ax_time_now() - t0;
        fprintf(stderr,
                "axon: wrote %s (%s): %lld objects, %lld -> %lld triangles (%.1f%% kept), "
                "mesh %.3f s (%.1f objects/s, %.2f M triangles/s), total %.3f s, %d threads, "
                "peak memory %.0f MiB\n",
                out_path, format, (long long)n, (long long)tri_mc, (long long)tri,
                tri_mc ? 100.0 * (double)tri / (double)tri_mc : 0.0, t_mesh,
                t_mesh > 0 ? (double)n / t_mesh : 0.0,
                t_mesh > 0 ? (double)tri_mc / t_mesh / 1e6 : 0.0, t, ax_threads_get(),
                mib(ax_peak_rss_bytes()));
    }
    ax_meshes_free(m, n);
    free(tmp);
    free(old);
    free(ids);
    free(out_copy);
    return status;
}
