/* cmd_cc.c: `axon cc IN OUT`: connected components of a volume on disk, block by block
 * (ax_cc_volume), into a new uint64 label volume.
 *
 *   axon cc IN OUT [--connectivity 6|18|26] [--threshold T] [--block z,y,x]
 *                  [--chunks z,y,x] [--overwrite]
 *
 * Without --threshold every distinct non-zero value of IN is its own label (IN is read as
 * uint64, so it must hold whole non-negative numbers); with it the foreground is IN > T.
 * OUT keeps IN's voxel size and offset and, unless --chunks says otherwise, its chunks.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "axon/axon.h"
#include "cli.h"

/* "z,y,x" of positive integers into v; false if it is not that */
static bool parse_zyx(const char *s, int64_t v[3])
{
    if (parse_list(s, v, 3) != 3) return false;
    return v[0] > 0 && v[1] > 0 && v[2] > 0;
}

int cmd_cc(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    ax_cc_params p = ax_cc_params_default();
    int64_t chunks[3] = {0, 0, 0};
    bool overwrite = false, have_chunks = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--connectivity") && more) {
            int64_t c;
            if (!parse_i64(argv[++i], &c) || (c != 6 && c != 18 && c != 26))
                return usage_error("cc: --connectivity '%s': 6, 18 or 26", argv[i]);
            p.connectivity = (int)c;
        } else if (!strcmp(a, "--threshold") && more) {
            if (!parse_f64(argv[++i], &p.threshold))
                return usage_error("cc: bad --threshold '%s' (a number)", argv[i]);
            p.use_threshold = true;
        } else if (!strcmp(a, "--block") && more) {
            if (!parse_zyx(argv[++i], p.block))
                return usage_error("cc: bad --block '%s' (z,y,x, all positive)", argv[i]);
        } else if (!strcmp(a, "--chunks") && more) {
            if (!parse_zyx(argv[++i], chunks))
                return usage_error("cc: bad --chunks '%s' (z,y,x, all positive)", argv[i]);
            have_chunks = true;
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("cc: unknown option or missing value: %s", a);
        } else if (!in_path) {
            in_path = a;
        } else if (!out_path) {
            out_path = a;
        } else {
            return usage_error("cc: unexpected argument %s", a);
        }
    }
    if (!in_path || !out_path) return usage_error("cc: %s", "need IN and OUT");

    double t0 = ax_time_now(); /* opening and creating count too */
    ax_volume *in, *out;
    int rc = ax_volume_open(in_path, AX_OPEN_READ, &in);
    if (rc < 0) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(in);
    if (ii->ndim != 3) { /* say so before creating anything */
        fprintf(stderr, "axon: error: %s: cc needs a 3-d (z, y, x) volume; this one is %d-d\n",
                in_path, ii->ndim);
        ax_volume_close(in);
        return 1;
    }
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U64;
    cp.ndim = 3;
    memcpy(cp.shape, ii->shape, 3 * sizeof *cp.shape);
    memcpy(cp.chunks, have_chunks ? chunks : ii->chunks, 3 * sizeof *cp.chunks);
    for (int d = 0; d < 3; d++)
        if (cp.chunks[d] > cp.shape[d]) cp.chunks[d] = cp.shape[d];
    cp.has_voxel_size = ii->has_voxel_size;
    memcpy(cp.voxel_size, ii->voxel_size, sizeof cp.voxel_size);
    memcpy(cp.offset, ii->offset, sizeof cp.offset);
    cp.is_labels = true;
    cp.overwrite = overwrite;
    if ((rc = ax_volume_create(out_path, &cp, &out)) < 0) {
        ax_volume_close(in);
        return fail(rc);
    }
    ax_volume_set_cache_bytes(out, 0); /* blocks are written once, whole */

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t n = 0;
    double t1 = ax_time_now();
    rc = ax_cc_volume(in, out, &p, &n);
    double t_cc = ax_time_now() - t1;
    /* the library has no abort hook: an interrupt takes effect when the call returns, and
     * nothing is committed */
    if (g_interrupted || rc < 0) {
        if (g_interrupted) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        else fail(rc);
        ax_volume_abort(out);
        ax_volume_close(in);
        return g_interrupted ? 130 : 1;
    }
    rc = ax_volume_close(out);
    ax_volume_close(in);
    if (rc < 0) return fail(rc);
    double t = ax_time_now() - t0;
    if (!g_quiet)
        fprintf(stderr,
                "axon: wrote %s: %llu components (%d-connected%s), cc %.3f s, total %.3f s, "
                "%d threads, peak memory %.0f MiB\n",
                out_path, (unsigned long long)n, p.connectivity,
                p.use_threshold ? ", foreground > threshold" : "", t_cc, t, ax_threads_get(),
                mib(ax_peak_rss_bytes()));
    return 0;
}
