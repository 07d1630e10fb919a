/* cmd_seg.c: `axon watershed` and `axon agglomerate`.
 *
 * Both run block by block over volumes on disk (the library's *_volume functions), so
 * memory is bounded by a few blocks plus the region graph. Outputs are uint64 label
 * volumes built under a temporary name and renamed into place when complete; an
 * interrupted run leaves nothing that looks finished.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A uint64 label volume shaped like the spatial axes of `like`. */
static int create_labels(const char *path, const ax_volume_info *like, const int64_t *chunks,
                         bool overwrite, ax_volume **out)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U64;
    p.ndim = 3;
    int off = like->ndim - 3;
    for (int d = 0; d < 3; d++) {
        p.shape[d] = like->shape[off + d];
        p.chunks[d] = chunks && chunks[d] > 0 ? chunks[d] : 64;
        if (p.chunks[d] > p.shape[d]) p.chunks[d] = p.shape[d];
        p.voxel_size[d] = like->voxel_size[d];
        p.offset[d] = like->offset[d];
    }
    p.has_voxel_size = like->has_voxel_size;
    p.is_labels = true;
    p.overwrite = overwrite;
    return ax_volume_create(path, &p, out);
}

static bool parse_block(const char *s, int64_t out[3])
{
    int64_t v[3];
    if (parse_list(s, v, 3) != 3) return false;
    for (int d = 0; d < 3; d++) {
        if (v[d] <= 0) return false;
        out[d] = v[d];
    }
    return true;
}

static bool parse_unit(const char *s, float *out)
{
    double v;
    if (!parse_f64(s, &v) || v < 0 || v > 1) return false;
    *out = (float)v;
    return true;
}

int cmd_watershed(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    ax_watershed_params p = ax_watershed_params_default();
    int64_t chunks[3] = {0, 0, 0};
    bool overwrite = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        int64_t n;
        if (!strcmp(a, "--low") && more) {
            if (!parse_unit(argv[++i], &p.low)) return usage_error("watershed: --low '%s': a number in [0, 1]", argv[i]);
        } else if (!strcmp(a, "--high") && more) {
            if (!parse_unit(argv[++i], &p.high)) return usage_error("watershed: --high '%s': a number in [0, 1]", argv[i]);
        } else if (!strcmp(a, "--merge-low") && more) {
            if (!parse_unit(argv[++i], &p.merge_low))
                return usage_error("watershed: --merge-low '%s': a number in [0, 1]", argv[i]);
        } else if (!strcmp(a, "--size-threshold") && more) {
            if (!parse_i64(argv[++i], &n) || n < 0)
                return usage_error("watershed: --size-threshold '%s': voxels, >= 0", argv[i]);
            p.size_threshold = n;
        } else if (!strcmp(a, "--dust") && more) {
            if (!parse_i64(argv[++i], &n) || n < 0) return usage_error("watershed: --dust '%s': voxels, >= 0", argv[i]);
            p.dust = n;
        } else if (!strcmp(a, "--block") && more) {
            if (!parse_block(argv[++i], p.block)) return usage_error("watershed: --block '%s': z,y,x", argv[i]);
        } else if (!strcmp(a, "--chunks") && more) {
            if (!parse_block(argv[++i], chunks)) return usage_error("watershed: --chunks '%s': z,y,x", argv[i]);
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("watershed: unknown option or missing value: %s", a);
        } else if (!in_path) in_path = a;
        else if (!out_path) out_path = a;
        else return usage_error("watershed: unexpected argument %s", a);
    }
    if (!in_path || !out_path) return usage_error("watershed: %s", "need AFFS and OUT");
    if (p.low > p.high) return usage_error("watershed: --low must not exceed --high%s", "");
    double t0 = ax_time_now();
    ax_volume *in, *out;
    int rc = ax_volume_open(in_path, AX_OPEN_READ, &in);
    if (rc < 0) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(in);
    if (ii->ndim != 4 || ii->shape[0] != 3) {
        fprintf(stderr, "axon: error: %s: affinities must be 4-d (3, z, y, x), channel c linking "
                        "voxel p to p - e_c (c = z, y, x); this volume is %d-d%s\n",
                in_path, ii->ndim, ii->ndim == 4 ? " with a different channel count" : "");
        ax_volume_close(in);
        return 1;
    }
    if ((rc = create_labels(out_path, ii, chunks, overwrite, &out)) < 0) {
        ax_volume_close(in);
        return fail(rc);
    }
    /* each output block is written, read back once and rewritten: a cache only costs
     * memory */
    if (!getenv("AX_CACHE_MB")) ax_volume_set_cache_bytes(out, 0);
    uint64_t nseg = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = ax_watershed_volume(in, out, &p, &nseg);
    ax_volume_close(in);
    if (rc < 0 || g_interrupted) {
        ax_volume_abort(out);
        if (rc != AX_E_INTERRUPTED && !g_interrupted) return fail(rc);
        fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        return 130;
    }
    if ((rc = ax_volume_close(out)) < 0) return fail(rc);
    if (!g_quiet)
        printf("%s: %llu segments (low %g, high %g, merge_low %g, size threshold %lld, dust "
               "%lld) in %.2f s, peak RSS %.0f MiB\n",
               out_path, (unsigned long long)nseg, (double)p.low, (double)p.high, (double)p.merge_low,
               (long long)p.size_threshold, (long long)p.dust, ax_time_now() - t0,
               mib(ax_peak_rss_bytes()));
    return 0;
}

/* OUT for threshold t when there are several: "{t}" in the path is replaced, else
 * "_t<t>" goes before the extension of the last path part (or after an HDF5 dataset). */
static char *threshold_path(const char *path, double t, int n)
{
    char ts[32];
    snprintf(ts, sizeof ts, "%g", t);
    size_t len = strlen(path) + 40;
    char *r = malloc(len);
    if (!r) return NULL;
    const char *brace = strstr(path, "{t}");
    if (brace) {
        snprintf(r, len, "%.*s%s%s", (int)(brace - path), path, ts, brace + 3);
        return r;
    }
    if (n == 1) {
        snprintf(r, len, "%s", path);
        return r;
    }
    const char *h5 = strstr(path, ".h5:");
    if (!h5) h5 = strstr(path, ".hdf5:");
    if (h5) {
        snprintf(r, len, "%s_t%s", path, ts);
        return r;
    }
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/') pl--; /* a trailing slash */
    const char *base = path;
    for (size_t i = 0; i < pl; i++)
        if (path[i] == '/') base = path + i + 1;
    const char *dot = NULL;
    for (const char *q = base; q < path + pl; q++)
        if (*q == '.') dot = q;
    if (!dot || dot == base) dot = path + pl;
    snprintf(r, len, "%.*s_t%s%s", (int)(dot - path), path, ts, dot);
    return r;
}

int cmd_agglomerate(int argc, char **argv)
{
    const char *aff_path = NULL, *frag_path = NULL, *out_path = NULL;
    ax_agglomerate_params p = ax_agglomerate_params_default();
    double th[64] = {0.1, 0.3, 0.5};
    int nth = 3;
    int64_t chunks[3] = {0, 0, 0};
    bool overwrite = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--merge-function") && more) {
            const char *m = argv[++i];
            if (!strcmp(m, "mean")) p.merge_function = AX_MERGE_MEAN;
            else if (!strcmp(m, "max")) p.merge_function = AX_MERGE_MAX;
            else if (!strncmp(m, "quantile:", 9)) {
                p.merge_function = AX_MERGE_QUANTILE;
                if (!parse_f64(m + 9, &p.quantile) || p.quantile < 0 || p.quantile > 1)
                    return usage_error("agglomerate: quantile in '%s' must be in [0, 1]", m);
            } else {
                return usage_error("agglomerate: --merge-function '%s': mean, max or quantile:Q", m);
            }
        } else if (!strcmp(a, "--thresholds") && more) {
            nth = parse_flist(argv[++i], th, 64);
            if (nth < 1) return usage_error("agglomerate: --thresholds '%s': up to 64 numbers, a,b,c", argv[i]);
        } else if (!strcmp(a, "--block") && more) {
            if (!parse_block(argv[++i], p.block)) return usage_error("agglomerate: --block '%s': z,y,x", argv[i]);
        } else if (!strcmp(a, "--chunks") && more) {
            if (!parse_block(argv[++i], chunks)) return usage_error("agglomerate: --chunks '%s': z,y,x", argv[i]);
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("agglomerate: unknown option or missing value: %s", a);
        } else if (!aff_path) aff_path = a;
        else if (!frag_path) frag_path = a;
        else if (!out_path) out_path = a;
        else return usage_error("agglomerate: unexpected argument %s", a);
    }
    if (!out_path) return usage_error("agglomerate: %s", "need AFFS, FRAGMENTS and OUT");
    p.thresholds = th;
    p.n_thresholds = nth;
    double t0 = ax_time_now();
    ax_volume *aff = NULL, *frag = NULL, *outs[64] = {0};
    char *paths[64] = {0};
    int rc = ax_volume_open(aff_path, AX_OPEN_READ, &aff);
    if (rc == AX_OK) rc = ax_volume_open(frag_path, AX_OPEN_READ, &frag);
    if (rc < 0) goto fail;
    const ax_volume_info *fi = ax_volume_get_info(frag);
    int64_t ch[3];
    for (int d = 0; d < 3; d++) ch[d] = chunks[d] ? chunks[d] : fi->chunks[fi->ndim - 3 + d];
    for (int i = 0; i < nth; i++) {
        if (!(paths[i] = threshold_path(out_path, th[i], nth))) {
            rc = AX_E_NOMEM;
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(paths[i], paths[j])) {
                fprintf(stderr, "axon: error: thresholds %g and %g give the same output %s\n",
                        th[j], th[i], paths[i]);
                rc = AX_E_INVALID;
                goto fail_quiet;
            }
        if ((rc = create_labels(paths[i], fi, ch, overwrite, &outs[i])) < 0) goto fail;
        if (!getenv("AX_CACHE_MB")) ax_volume_set_cache_bytes(outs[i], 0); /* written once */
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = ax_agglomerate_volume(aff, frag, outs, &p);
    if (rc == AX_E_INTERRUPTED || g_interrupted) {
        fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        for (int i = 0; i < nth; i++) {
            ax_volume_abort(outs[i]);
            free(paths[i]);
        }
        ax_volume_close(aff);
        ax_volume_close(frag);
        return 130;
    }
    if (rc < 0) goto fail;
    for (int i = 0; i < nth; i++) {
        int r2 = ax_volume_close(outs[i]);
        outs[i] = NULL;
        if (r2 < 0 && rc == AX_OK) rc = r2;
    }
    if (rc < 0) goto fail;
    ax_volume_close(aff);
    ax_volume_close(frag);
    if (!g_quiet) {
        for (int i = 0; i < nth; i++) printf("threshold %g -> %s\n", th[i], paths[i]);
        printf("agglomerated in %.2f s, peak RSS %.0f MiB\n", ax_time_now() - t0,
               mib(ax_peak_rss_bytes()));
    }
    for (int i = 0; i < nth; i++) free(paths[i]);
    return 0;
fail:
    fail(rc);
fail_quiet:
    for (int i = 0; i < nth; i++) {
        ax_volume_abort(outs[i]);
        free(paths[i]);
    }
    ax_volume_close(aff);
    ax_volume_close(frag);
    return 1;
}
