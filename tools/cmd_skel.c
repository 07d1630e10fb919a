/* cmd_skel.c: `axon skeletonize SEG OUT`: TEASAR skeletons of every object of a label
 * volume (ax_skeletonize_volume), as SWC files OUT/<id>.swc or a Neuroglancer precomputed
 * skeleton directory OUT (info + one file per id).
 *
 *   axon skeletonize SEG OUT [--anisotropy z,y,x] [--scale S] [--const C] [--dust N]
 *                    [--ids a,b,c] [--format swc|precomputed] [--pdrf-scale S]
 *                    [--pdrf-exponent E] [--overwrite]
 *
 * OUT is built as OUT.partial-<pid> and renamed into place when complete, so Ctrl-C or a
 * failure never leaves a half-written OUT (the partial directory is removed).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/axon.h"
#include "cli.h"

static const char skel_usage[] =
    "usage: axon skeletonize SEG OUT [options]\n"
    "  TEASAR skeletons (as kimimaro) of every object of the label volume SEG.\n"
    "  --format swc|precomputed  OUT/<id>.swc files (default) or a Neuroglancer\n"
    "                            precomputed skeleton directory (info + <id> files)\n"
    "  --anisotropy z,y,x        voxel size in nm (default: SEG's voxel size)\n"
    "  --scale S                 invalidation radius = S * boundary distance + C (1.5)\n"
    "  --const C                 ... in nm (300)\n"
    "  --dust N                  skip objects of fewer than N voxels (1000)\n"
    "  --ids a,b,c               only these objects\n"
    "  --pdrf-scale S, --pdrf-exponent E   centring penalty (100000, 4)\n"
    "  --overwrite               replace OUT if it exists\n";

/* "a,b,c" of non-negative integers into a new array; false if it is not that */
static bool parse_ids(const char *s, uint64_t **out, int64_t *n)
{
    int64_t cap = 1;
    for (const char *c = s; *c; c++) cap += *c == ',';
    uint64_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return false;
    int64_t k = 0;
    const char *p = s;
    for (;;) {
        char *e;
        errno = 0;
        if (*p < '0' || *p > '9') break;
        unsigned long long x = strtoull(p, &e, 10);
        if (errno || e == p) break;
        v[k++] = x;
        if (*e == 0) {
            *out = v;
            *n = k;
            return true;
        }
        if (*e != ',') break;
        p = e + 1;
    }
    free(v);
    return false;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* write the skeletons into dir (already made); stops early on Ctrl-C */
static int write_all(const char *dir, bool swc, ax_skeleton **s, int64_t n)
{
    if (!swc) return ax_skeletons_write_precomputed(dir, s, n);
    for (int64_t i = 0; i < n && !g_interrupted; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%llu.swc", dir, (unsigned long long)s[i]->id);
        int rc = ax_swc_write(path, s[i]);
        if (rc < 0) return rc;
    }
    return AX_OK;
}

int cmd_skeletonize(int argc, char **argv)
{
    const char *seg_path = NULL, *out_arg = NULL;
    ax_skel_params p = ax_skel_params_default();
    uint64_t *ids = NULL;
    int64_t n_ids = 0;
    bool swc = true, overwrite = false;
    int status = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(skel_usage, stdout);
            free(ids);
            return 0;
        } else if (!strcmp(a, "--anisotropy") && more) {
            double v[3];
            if (parse_flist(argv[++i], v, 3) != 3 || !(v[0] > 0 && v[1] > 0 && v[2] > 0)) {
                status = usage_error("skeletonize: bad --anisotropy '%s' (z,y,x in nm, all "
                                     "positive)", argv[i]);
                goto out;
            }
            memcpy(p.anisotropy, v, sizeof v);
        } else if (!strcmp(a, "--scale") && more) {
            if (!parse_f64(argv[++i], &p.scale) || !(p.scale >= 0)) {
                status = usage_error("skeletonize: bad --scale '%s' (a number >= 0)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--const") && more) {
            if (!parse_f64(argv[++i], &p.const_nm) || !(p.const_nm >= 0)) {
                status = usage_error("skeletonize: bad --const '%s' (nm, >= 0)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--pdrf-scale") && more) {
            if (!parse_f64(argv[++i], &p.pdrf_scale) || !(p.pdrf_scale >= 0)) {
                status = usage_error("skeletonize: bad --pdrf-scale '%s' (>= 0)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--pdrf-exponent") && more) {
            if (!parse_f64(argv[++i], &p.pdrf_exponent) || !(p.pdrf_exponent >= 0)) {
                status = usage_error("skeletonize: bad --pdrf-exponent '%s' (>= 0)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--dust") && more) {
            if (!parse_i64(argv[++i], &p.dust) || p.dust < 0) {
                status = usage_error("skeletonize: bad --dust '%s' (voxels, >= 0)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--ids") && more) {
            free(ids);
            ids = NULL;
            if (!parse_ids(argv[++i], &ids, &n_ids)) {
                status = usage_error("skeletonize: bad --ids '%s' (a,b,c: object ids)", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--format") && more) {
            const char *f = argv[++i];
            if (!strcmp(f, "swc")) swc = true;
            else if (!strcmp(f, "precomputed")) swc = false;
            else {
                status = usage_error("skeletonize: --format '%s': swc or precomputed", f);
                goto out;
            }
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if (a[0] == '-' && a[1]) {
            status = usage_error("skeletonize: unknown option or missing value: %s", a);
            goto out;
        } else if (!seg_path) {
            seg_path = a;
        } else if (!out_arg) {
            out_arg = a;
        } else {
            status = usage_error("skeletonize: unexpected argument %s", a);
            goto out;
        }
    }
    if (!seg_path || !out_arg) {
        status = usage_error("skeletonize: %s", "need SEG and OUT");
        goto out;
    }
    p.object_ids = ids;
    p.n_object_ids = n_ids;

    /* OUT without trailing slashes, so OUT.partial-PID is its sibling */
    char out_path[4096], tmp[4200], old[4200];
    snprintf(out_path, sizeof out_path, "%s", out_arg);
    for (size_t l = strlen(out_path); l > 1 && out_path[l - 1] == '/';) out_path[--l] = 0;
    if (exists(out_path) && !overwrite) {
        fprintf(stderr, "axon: error: %s exists (--overwrite replaces it)\n", out_path);
        status = 1;
        goto out;
    }

    double t0 = ax_time_now();
    ax_volume *seg;
    int rc = ax_volume_open(seg_path, AX_OPEN_READ, &seg);
    if (rc < 0) {
        status = fail(rc);
        goto out;
    }
    const ax_volume_info *in = ax_volume_get_info(seg);
    int64_t nvox = 1;
    for (int d = 0; d < in->ndim; d++) nvox *= in->shape[d];
    double vs[3];
    for (int d = 0; d < 3; d++) vs[d] = p.anisotropy[d] > 0 ? p.anisotropy[d] : in->voxel_size[d];

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_skeleton **s = NULL;
    int64_t n = 0;
    rc = ax_skeletonize_volume(seg, &p, &s, &n);
    ax_volume_close(seg);
    if (g_interrupted || rc < 0) {
        if (g_interrupted) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        else fail(rc);
        ax_skeletons_free(s, n);
        status = g_interrupted ? 130 : 1;
        goto out;
    }
    double t_skel = ax_time_now() - t0;

    snprintf(tmp, sizeof tmp, "%s.partial-%d", out_path, (int)getpid());
    snprintf(old, sizeof old, "%s.old-%d", out_path, (int)getpid());
    ax_volume_remove(tmp);
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, "axon: error: %s: cannot create directory: %s\n", tmp, strerror(errno));
        ax_skeletons_free(s, n);
        status = 1;
        goto out;
    }
    rc = write_all(tmp, swc, s, n);
    if (rc == AX_OK && !g_interrupted) {
        /* move an old OUT aside first, so OUT is never missing nor mixed */
        bool had = exists(out_path);
        if (had && rename(out_path, old) != 0) {
            fprintf(stderr, "axon: error: %s: cannot move aside: %s\n", out_path, strerror(errno));
            rc = AX_E_IO;
        } else if (rename(tmp, out_path) != 0) {
            fprintf(stderr, "axon: error: %s: cannot rename to %s: %s\n", tmp, out_path,
                    strerror(errno));
            if (had) rename(old, out_path);
            rc = AX_E_IO;
        } else if (had) {
            ax_volume_remove(old);
        }
    } else if (rc < 0 && !g_interrupted) {
        fail(rc);
    }
    if (rc < 0 || g_interrupted) {
        ax_volume_remove(tmp);
        if (g_interrupted) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        ax_skeletons_free(s, n);
        status = g_interrupted ? 130 : 1;
        goto out;
    }

    int64_t nv = 0, ne = 0;
    double cable = 0;
    for (int64_t i = 0; i < n; i++) {
        nv += s[i]->n_vertices;
        ne += s[i]->n_edges;
        cable += ax_skeleton_length(s[i]);
    }
    ax_skeletons_free(s, n);
    double t = ax_time_now() - t0;
    if (!g_quiet)
        fprintf(stderr,
                "axon: wrote %s: %lld skeletons (%s), %lld vertices, %lld edges, %.1f um of "
                "cable; voxel %g x %g x %g nm, scale %g, const %g nm, dust %lld; "
                "skeletonize %.2f s, total %.2f s (%.1f objects/s, %.2f Mvoxels/s), "
                "%d threads, peak memory %.0f MiB\n",
                out_path, (long long)n, swc ? "swc" : "precomputed", (long long)nv,
                (long long)ne, cable / 1000.0, vs[0], vs[1], vs[2], p.scale, p.const_nm,
                (long long)p.dust, t_skel, t, t > 0 ? (double)n / t : 0.0,
                t > 0 ? (double)nvox / t / 1e6 : 0.0, ax_threads_get(),
                mib(ax_peak_rss_bytes()));
out:
    free(ids);
    return status;
}
