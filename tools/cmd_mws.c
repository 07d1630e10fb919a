/* cmd_mws.c: `axon affinities-from-boundary`, `axon affinities-from-labels`, `axon mws`.
 *
 * Affinity maps are 4-d float32 volumes (C, z, y, x): channel c links voxel p to
 * p + offset_c, nearest offsets (-1,0,0), (0,-1,0), (0,0,-1) by default, and edges that
 * leave the volume are stored as 0 (see axon/seg.h).
 *
 * The two affinity commands stream block by block: each block of the output is computed
 * by the library's in-memory function on the input block plus the halo its edges reach
 * (one voxel on the low side for boundaries; max(-o, 0) below and max(o, 0) above for
 * label offsets), clipped to the volume, and cropped back. Every value therefore equals
 * the whole-volume result, and memory stays bounded by a block (~64 MiB of output by
 * default, --block to choose). `axon mws` holds the whole volume in memory (about
 * 12 * C + 17 bytes per voxel with C channels plus the mutex sets, see src/seg/mws.c) and
 * reports its peak RSS.
 *
 * Outputs are built under a temporary name and renamed into place when complete; Ctrl-C
 * discards them and exits 130.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_OFFSETS 64

/* "z,y,x;z,y,x;..." -> offsets; returns the count or -1 */
static int parse_offsets(const char *s, int64_t (*off)[3], int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return -1;
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        char part[128];
        if (len == 0 || len >= sizeof part) return -1;
        memcpy(part, p, len);
        part[len] = 0;
        if (parse_list(part, off[n], 3) != 3) return -1;
        n++;
        p += len;
        if (*p == ';') {
            p++;
            if (!*p) return -1;
        }
    }
    return n;
}

static bool parse_pos3(const char *s, int64_t out[3])
{
    int64_t v[3];
    if (parse_list(s, v, 3) != 3) return false;
    for (int d = 0; d < 3; d++) {
        if (v[d] <= 0) return false;
        out[d] = v[d];
    }
    return true;
}

/* "c,z,y,x" or "z,y,x" -> spatial chunks (+ channel chunk, 0 = all channels) */
static bool parse_chunks4(const char *s, int64_t *cch, int64_t sp[3])
{
    int64_t v[4];
    int n = parse_list(s, v, 4);
    if (n != 3 && n != 4) return false;
    for (int k = 0; k < n; k++)
        if (v[k] <= 0) return false;
    *cch = n == 4 ? v[0] : 0;
    for (int d = 0; d < 3; d++) sp[d] = v[n - 3 + d];
    return true;
}

/* Spatial chunks for an output from the input's: used when every entry is positive and a
 * chunk of `bytes_per_voxel` stays within 64 MiB; else 64^3. Clipped to the shape. */
static void default_chunks(const ax_volume_info *in, int64_t bytes_per_voxel, int64_t out[3])
{
    int off = in->ndim - 3;
    uint64_t b = (uint64_t)bytes_per_voxel;
    bool ok = true;
    for (int d = 0; d < 3; d++) {
        int64_t c = in->chunks[off + d];
        if (c <= 0) ok = false;
        else b *= (uint64_t)c;
        if (b > (64ull << 20)) ok = false;
    }
    for (int d = 0; d < 3; d++) {
        out[d] = ok ? in->chunks[off + d] : 64;
        if (out[d] > in->shape[off + d]) out[d] = in->shape[off + d];
    }
}

static void fmt_offsets(char *buf, size_t n, const int64_t (*off)[3], int k)
{
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < k && w < n; i++)
        w += (size_t)snprintf(buf + w, n - w, "%s%lld,%lld,%lld", i ? ";" : "",
                              (long long)off[i][0], (long long)off[i][1], (long long)off[i][2]);
}

/* ---- streaming affinities ----------------------------------------------------------- */

typedef struct aff_job {
    const char *cmd; /* "affinities-from-boundary" / "affinities-from-labels" */
    bool labels;
    ax_aff_mode mode;
    const int64_t (*off)[3];
    int n_off;
} aff_job;

/* Check the block's own voxels (box start/size inside buffer region rs/rz) of a boundary
 * map, naming the first bad one in global coordinates. */
static int check_boundary(const float *b, const int64_t rs[3], const int64_t rz[3],
                          const int64_t bs[3], const int64_t bz[3], const char *path)
{
    for (int64_t z = bs[0]; z < bs[0] + bz[0]; z++)
        for (int64_t y = bs[1]; y < bs[1] + bz[1]; y++) {
            const float *r = b + ((z - rs[0]) * rz[1] + (y - rs[1])) * rz[2];
            for (int64_t x = bs[2]; x < bs[2] + bz[2]; x++) {
                float v = r[x - rs[2]];
                if (v >= 0.0f && v <= 1.0f) continue;
                fprintf(stderr,
                        "axon: error: %s: boundary value %g at voxel (z=%lld, y=%lld, x=%lld) "
                        "is %s; boundary probabilities must lie in [0, 1]\n",
                        path, (double)v, (long long)z, (long long)y, (long long)x,
                        v != v ? "NaN" : "outside [0, 1]");
                return AX_E_INVALID;
            }
        }
    return AX_OK;
}

static int run_affinities(const aff_job *job, const char *in_path, const char *out_path,
                          const char *chunks_s, const char *block_s, bool overwrite)
{
    double t0 = ax_time_now();
    int64_t cch = 0, sp_chunks[3] = {0, 0, 0}, block[3] = {0, 0, 0};
    if (chunks_s && !parse_chunks4(chunks_s, &cch, sp_chunks))
        return usage_error("bad --chunks '%s' (c,z,y,x or z,y,x, positive)", chunks_s);
    if (block_s && !parse_pos3(block_s, block))
        return usage_error("bad --block '%s' (z,y,x, positive)", block_s);

    ax_volume *in;
    int rc = ax_volume_open(in_path, AX_OPEN_READ, &in);
    if (rc < 0) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(in);
    /* a one-channel (1, z, y, x) map (what axon predict writes) reads as its 3-d volume */
    int sp = ii->ndim == 4 && ii->shape[0] == 1 && !job->labels ? 1 : 0;
    if (ii->ndim != 3 + sp) {
        fprintf(stderr, "axon: error: %s: %s needs a 3-d volume%s (this one has %d axes)\n",
                in_path, job->cmd, job->labels ? "" : " or a 1-channel 4-d one", ii->ndim);
        ax_volume_close(in);
        return 1;
    }
    bool u8 = ii->dtype == AX_DTYPE_U8;
    if (!job->labels && ii->dtype != AX_DTYPE_F32 && !u8) {
        fprintf(stderr, "axon: error: %s: a boundary map must be float32 (or uint8, read as "
                "value/255), not %s\n", in_path, ax_dtype_name(ii->dtype));
        ax_volume_close(in);
        return 1;
    }
    int64_t shape[3] = {ii->shape[sp], ii->shape[sp + 1], ii->shape[sp + 2]}; /* outlives `in` */
    int C = job->n_off;

    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_F32;
    p.ndim = 4;
    p.shape[0] = C;
    int64_t dch[3];
    default_chunks(ii, 4 * (int64_t)C, dch);
    p.chunks[0] = cch > 0 ? (cch < C ? cch : C) : C;
    for (int d = 0; d < 3; d++) {
        p.shape[d + 1] = shape[d];
        int64_t c = sp_chunks[d] > 0 ? sp_chunks[d] : dch[d];
        p.chunks[d + 1] = c < shape[d] ? c : shape[d];
        p.voxel_size[d] = ii->voxel_size[d];
        p.offset[d] = ii->offset[d];
    }
    p.has_voxel_size = ii->has_voxel_size;
    p.overwrite = overwrite;
    ax_volume *out;
    rc = ax_volume_create(out_path, &p, &out);
    if (rc < 0) {
        ax_volume_close(in);
        return fail(rc);
    }
    const ax_volume_info *oi = ax_volume_get_info(out);
    ax_volume_set_cache_bytes(out, 0); /* aligned blocks write every chunk once, whole */

    /* halo each block needs: lo[d] below, hi[d] above (clipped to the volume later) */
    int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int d = 0; d < 3; d++) {
        if (!job->labels) {
            lo[d] = 1;
            continue;
        }
        for (int c = 0; c < C; c++) {
            int64_t o = job->off[c][d];
            if (o < 0 && -o > lo[d]) lo[d] = -o < shape[d] ? -o : shape[d];
            if (o > 0 && o > hi[d]) hi[d] = o < shape[d] ? o : shape[d];
        }
    }

    /* blocks: whole output chunks, grown (x, then y, then z) to ~64 MiB of output */
    if (!block_s) {
        for (int d = 0; d < 3; d++) block[d] = oi->chunks[d + 1];
        uint64_t budget = 64ull << 20;
        for (;;) {
            bool grew = false;
            for (int d = 2; d >= 0 && !grew; d--) {
                if (block[d] >= shape[d]) continue;
                uint64_t b = 4ull * (uint64_t)C;
                for (int k = 0; k < 3; k++) b *= (uint64_t)(k == d ? block[k] * 2 : block[k]);
                if (b > budget) continue;
                block[d] *= 2;
                grew = true;
            }
            if (!grew) break;
        }
    }
    int64_t nb[3], total = 1, bmax[3], rmax = 1, cmax = 1;
    for (int d = 0; d < 3; d++) {
        if (block[d] > shape[d]) block[d] = shape[d];
        nb[d] = (shape[d] + block[d] - 1) / block[d];
        total *= nb[d];
        bmax[d] = block[d];
        int64_t r = block[d] + lo[d] + hi[d];
        rmax *= r < shape[d] ? r : shape[d];
        cmax *= bmax[d];
    }
    size_t in_elem = job->labels ? sizeof(uint64_t) : sizeof(float);
    void *inbuf = malloc((size_t)rmax * in_elem);
    float *tmp = malloc((size_t)rmax * (size_t)C * sizeof(float));
    float *obuf = malloc((size_t)cmax * (size_t)C * sizeof(float));
    if (!inbuf || !tmp || !obuf) {
        fprintf(stderr, "axon: error: cannot allocate the block buffers (%.1f MiB)\n",
                mib((uint64_t)rmax * (in_elem + 4ull * (uint64_t)C) + 4ull * (uint64_t)C *
                    (uint64_t)cmax));
        free(inbuf);
        free(tmp);
        free(obuf);
        ax_volume_abort(out);
        ax_volume_close(in);
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_progress *prog = ax_progress_new(job->cmd, total);
    bool reported = false;
    for (int64_t b = 0; b < total && rc == AX_OK; b++) {
        if (g_interrupted) {
            rc = AX_E_INTERRUPTED;
            break;
        }
        int64_t bs[3], bz[3], rs[3], rz[3], r = b;
        for (int d = 2; d >= 0; d--) {
            int64_t k = r % nb[d];
            r /= nb[d];
            bs[d] = k * block[d];
            bz[d] = bs[d] + block[d] > shape[d] ? shape[d] - bs[d] : block[d];
            rs[d] = bs[d] - lo[d] > 0 ? bs[d] - lo[d] : 0;
            int64_t re = bs[d] + bz[d] + hi[d] < shape[d] ? bs[d] + bz[d] + hi[d] : shape[d];
            rz[d] = re - rs[d];
        }
        int64_t rn = rz[0] * rz[1] * rz[2];
        if (job->labels) {
            rc = ax_volume_read_region_as(in, rs, rz, AX_DTYPE_U64, inbuf);
            if (rc == AX_OK)
                rc = ax_affinities_from_labels(inbuf, rz, job->off, C, tmp);
        } else {
            int64_t rs4[4] = {0, rs[0], rs[1], rs[2]}, rz4[4] = {1, rz[0], rz[1], rz[2]};
            rc = sp ? ax_volume_read_region_as(in, rs4, rz4, AX_DTYPE_F32, inbuf)
                    : ax_volume_read_region_as(in, rs, rz, AX_DTYPE_F32, inbuf);
            float *f = inbuf;
            if (rc == AX_OK && u8)
                for (int64_t i = 0; i < rn; i++) f[i] = f[i] / 255.0f;
            /* the halo lies in earlier blocks (low side), already checked */
            if (rc == AX_OK && (rc = check_boundary(f, rs, rz, bs, bz, in_path)) < 0)
                reported = true;
            if (rc == AX_OK) rc = ax_affinities_from_boundary(f, rz, job->mode, tmp);
        }
        if (rc < 0) break;
        /* crop the halo off: tmp is (C, rz), obuf (C, bz) */
        for (int c = 0; c < C; c++)
            for (int64_t z = 0; z < bz[0]; z++)
                for (int64_t y = 0; y < bz[1]; y++) {
                    const float *src = tmp + (size_t)c * (size_t)rn +
                                       (size_t)(((z + bs[0] - rs[0]) * rz[1] + (y + bs[1] - rs[1])) *
                                                    rz[2] +
                                                (bs[2] - rs[2]));
                    float *dst = obuf + (((size_t)c * (size_t)bz[0] + (size_t)z) * (size_t)bz[1] +
                                         (size_t)y) *
                                            (size_t)bz[2];
                    memcpy(dst, src, (size_t)bz[2] * sizeof *dst);
                }
        int64_t os[4] = {0, bs[0], bs[1], bs[2]}, oz[4] = {C, bz[0], bz[1], bz[2]};
        rc = ax_volume_write_region(out, os, oz, AX_DTYPE_F32, obuf);
        ax_progress_add(prog, 1);
    }
    ax_progress_done(prog);
    free(inbuf);
    free(tmp);
    free(obuf);
    if (rc < 0) {
        if (rc == AX_E_INTERRUPTED)
            fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        else if (!reported)
            fail(rc);
        ax_volume_abort(out);
        ax_volume_close(in);
        return rc == AX_E_INTERRUPTED ? 130 : 1;
    }
    rc = ax_volume_close(out);
    ax_volume_close(in);
    if (rc < 0) return fail(rc);
    if (!g_quiet) {
        char os[64 * 40];
        fmt_offsets(os, sizeof os, job->off, C);
        fprintf(stderr,
                "axon: wrote %s: %d x %lld x %lld x %lld float32 affinities (offsets %s) in "
                "%.3f s, %lld blocks, %d threads, peak memory %.0f MiB\n",
                out_path, C, (long long)shape[0], (long long)shape[1], (long long)shape[2], os,
                ax_time_now() - t0, (long long)total, ax_threads_get(), mib(ax_peak_rss_bytes()));
    }
    return 0;
}

static const int64_t NEAREST[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

static const char HELP_AFFINITIES[] =
    "usage: axon affinities-from-boundary IN OUT [--mode min|mean] [--chunks c,z,y,x]\n"
    "                                     [--block z,y,x] [--overwrite]\n"
    "       axon affinities-from-labels IN OUT [--offsets z,y,x;z,y,x;...] [--chunks c,z,y,x]\n"
    "                                   [--block z,y,x] [--overwrite]\n"
    "\n"
    "Affinity maps: OUT is a 4-d (C, z, y, x) float32 volume; channel c at voxel p is the\n"
    "affinity of the edge from p to p + offset_c (1 = same object, 0 = boundary); edges\n"
    "leaving the volume are stored as 0. Voxel size and offset are copied from IN.\n"
    "\n"
    "affinities-from-boundary: IN is a 3-d boundary probability map in [0, 1] (1 = membrane)\n"
    "  or a 1-channel 4-d one (axon predict's output), float32, or uint8 read as value/255. Three channels, offsets -1,0,0;0,-1,0;0,0,-1.\n"
    "  --mode min: aff = 1 - max(b_p, b_q) (default); mean: aff = 1 - (b_p + b_q) / 2.\n"
    "  NaN or values outside [0, 1] fail, naming the voxel.\n"
    "affinities-from-labels: IN is a 3-d label volume (any integer type, 0 = background);\n"
    "  aff = 1 when both voxels are inside, carry the same label and it is not 0.\n"
    "  --offsets: one z,y,x per channel, ';' between (default -1,0,0;0,-1,0;0,0,-1; long-range\n"
    "  and positive offsets are fine, at most 64).\n"
    "\n"
    "Both stream block by block (a halo covers the edges that cross a block face), so memory\n"
    "stays bounded and the result equals the whole-volume computation exactly.\n"
    "  --chunks  output chunks (default: C, IN's chunk shape, or 64^3 when IN's are huge)\n"
    "  --block   processing block (default: whole output chunks up to ~64 MiB)\n"
    "Ctrl-C discards OUT and exits 130.\n";

static const char HELP_MWS[] =
    "usage: axon mws AFFS OUT [--offsets z,y,x;z,y,x;...] [--attractive N] [--strides z,y,x]\n"
    "                [--chunks z,y,x] [--overwrite]\n"
    "\n"
    "Mutex watershed (Wolf et al. 2018, affogato semantics). AFFS is a 4-d (C, z, y, x)\n"
    "float32 affinity volume (uint8 is read as value/255), one channel per offset; OUT a\n"
    "uint64 3-d segmentation, labels 1..n in raster order of first voxel.\n"
    "  --offsets     the offset of each channel (required unless C = 3: then the nearest\n"
    "                -1,0,0;0,-1,0;0,0,-1)\n"
    "  --attractive  the first N channels are attractive, weight aff (default 3); the rest\n"
    "                are repulsive, weight 1 - aff\n"
    "  --strides     keep repulsive edges only at voxels whose z, y, x are multiples of these\n"
    "Edges are taken heaviest first (ties: channel, then voxel order); an attractive edge\n"
    "joins two clusters unless a repulsive edge taken earlier separates them.\n"
    "In memory: the whole volume is loaded; about 12 * C + 17 bytes per voxel plus the\n"
    "mutex sets (9 offsets, 64 x 256 x 256 voxels: ~0.6 GiB). Peak memory is reported.\n";

int cmd_affinities_from_boundary(int argc, char **argv)
{
    if (wants_help(argc, argv)) return fputs(HELP_AFFINITIES, stdout), 0;
    const char *in = NULL, *out = NULL, *chunks = NULL, *block = NULL;
    bool overwrite = false;
    ax_aff_mode mode = AX_AFF_MIN;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--mode") && more) {
            const char *m = argv[++i];
            if (!strcmp(m, "min")) mode = AX_AFF_MIN;
            else if (!strcmp(m, "mean")) mode = AX_AFF_MEAN;
            else return usage_error("affinities-from-boundary: --mode %s: min or mean", m);
        } else if (!strcmp(a, "--chunks") && more) chunks = argv[++i];
        else if (!strcmp(a, "--block") && more) block = argv[++i];
        else if (!strcmp(a, "--overwrite")) overwrite = true;
        else if (a[0] == '-' && a[1])
            return usage_error("affinities-from-boundary: unknown option or missing value: %s", a);
        else if (!in) in = a;
        else if (!out) out = a;
        else return usage_error("affinities-from-boundary: unexpected argument %s", a);
    }
    if (!in || !out) return usage_error("affinities-from-boundary: %s", "need IN and OUT");
    aff_job job = {"affinities-from-boundary", false, mode, NEAREST, 3};
    return run_affinities(&job, in, out, chunks, block, overwrite);
}

int affinities_from_boundary_volume(const char *in, const char *out, bool overwrite)
{
    aff_job job = {"affinities-from-boundary", false, AX_AFF_MIN, NEAREST, 3};
    return run_affinities(&job, in, out, NULL, NULL, overwrite);
}

int cmd_affinities_from_labels(int argc, char **argv)
{
    if (wants_help(argc, argv)) return fputs(HELP_AFFINITIES, stdout), 0;
    const char *in = NULL, *out = NULL, *chunks = NULL, *block = NULL, *offs = NULL;
    bool overwrite = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--offsets") && more) offs = argv[++i];
        else if (!strcmp(a, "--chunks") && more) chunks = argv[++i];
        else if (!strcmp(a, "--block") && more) block = argv[++i];
        else if (!strcmp(a, "--overwrite")) overwrite = true;
        else if (a[0] == '-' && a[1])
            return usage_error("affinities-from-labels: unknown option or missing value: %s", a);
        else if (!in) in = a;
        else if (!out) out = a;
        else return usage_error("affinities-from-labels: unexpected argument %s", a);
    }
    if (!in || !out) return usage_error("affinities-from-labels: %s", "need IN and OUT");
    int64_t off[MAX_OFFSETS][3];
    int n = 3;
    memcpy(off, NEAREST, sizeof NEAREST);
    if (offs && (n = parse_offsets(offs, off, MAX_OFFSETS)) <= 0)
        return usage_error("affinities-from-labels: bad --offsets '%s' (z,y,x;z,y,x;... at most "
                           "64)", offs);
    aff_job job = {"affinities-from-labels", true, AX_AFF_MIN, (const int64_t(*)[3])off, n};
    return run_affinities(&job, in, out, chunks, block, overwrite);
}

/* ---- mutex watershed ----------------------------------------------------------------- */

int cmd_mws(int argc, char **argv)
{
    if (wants_help(argc, argv)) return fputs(HELP_MWS, stdout), 0;
    const char *in_path = NULL, *out_path = NULL, *offs = NULL, *strides_s = NULL,
               *chunks_s = NULL;
    int64_t n_att = -1;
    bool overwrite = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--offsets") && more) offs = argv[++i];
        else if (!strcmp(a, "--attractive") && more) {
            if (!parse_i64(argv[++i], &n_att) || n_att < 1 || n_att > MAX_OFFSETS)
                return usage_error("mws: bad --attractive '%s' (1..number of offsets)", argv[i]);
        } else if (!strcmp(a, "--strides") && more) strides_s = argv[++i];
        else if (!strcmp(a, "--chunks") && more) chunks_s = argv[++i];
        else if (!strcmp(a, "--overwrite")) overwrite = true;
        else if (a[0] == '-' && a[1]) return usage_error("mws: unknown option or missing value: %s", a);
        else if (!in_path) in_path = a;
        else if (!out_path) out_path = a;
        else return usage_error("mws: unexpected argument %s", a);
    }
    if (!in_path || !out_path) return usage_error("mws: %s", "need AFFS and OUT");
    int64_t off[MAX_OFFSETS][3], strides[3] = {1, 1, 1}, chunks[3] = {0, 0, 0};
    int n_off = 0;
    if (offs && (n_off = parse_offsets(offs, off, MAX_OFFSETS)) <= 0)
        return usage_error("mws: bad --offsets '%s' (z,y,x;z,y,x;... at most 64)", offs);
    if (strides_s && !parse_pos3(strides_s, strides))
        return usage_error("mws: bad --strides '%s' (z,y,x, positive)", strides_s);
    if (chunks_s && !parse_pos3(chunks_s, chunks))
        return usage_error("mws: bad --chunks '%s' (z,y,x, positive)", chunks_s);

    double t0 = ax_time_now();
    ax_volume *in;
    int rc = ax_volume_open(in_path, AX_OPEN_READ, &in);
    if (rc < 0) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(in);
    if (ii->ndim != 4 || (ii->dtype != AX_DTYPE_F32 && ii->dtype != AX_DTYPE_U8)) {
        fprintf(stderr, "axon: error: %s: mws needs a 4-d (C, z, y, x) float32 affinity volume "
                "(or uint8, read as value/255); this is %d-d %s\n",
                in_path, ii->ndim, ax_dtype_name(ii->dtype));
        ax_volume_close(in);
        return 1;
    }
    int64_t C = ii->shape[0];
    if (!offs) {
        if (C != 3) {
            fprintf(stderr, "axon: error: %s has %lld channels: say which offsets they hold "
                    "with --offsets z,y,x;z,y,x;...\n", in_path, (long long)C);
            ax_volume_close(in);
            return 1;
        }
        n_off = 3;
        memcpy(off, NEAREST, sizeof NEAREST);
    }
    if (C != n_off) {
        fprintf(stderr, "axon: error: %s has %lld channels but --offsets lists %d offsets; "
                "there must be one channel per offset\n", in_path, (long long)C, n_off);
        ax_volume_close(in);
        return 1;
    }
    if (n_att < 0) n_att = n_off < 3 ? n_off : 3;
    if (n_att > n_off) {
        ax_volume_close(in);
        fprintf(stderr, "axon: mws: --attractive %lld is more than the %d offsets\n"
                "(run 'axon help' for usage)\n", (long long)n_att, n_off);
        return 2;
    }
    int64_t shape[3] = {ii->shape[1], ii->shape[2], ii->shape[3]}; /* outlives `in` */
    int64_t n = shape[0] * shape[1] * shape[2];
    float *aff = malloc((size_t)(n * C) * sizeof *aff);
    uint64_t *seg = malloc((size_t)n * sizeof *seg);
    if (!aff || !seg) {
        fprintf(stderr, "axon: error: cannot hold %s in memory (%.0f MiB of affinities and "
                "labels)\n", in_path, mib((uint64_t)n * (4ull * (uint64_t)C + 8)));
        free(aff);
        free(seg);
        ax_volume_close(in);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t s4[4] = {0, 0, 0, 0};
    ax_volume_set_cache_bytes(in, 0); /* read once, whole: a cache would only cost memory */
    rc = ax_volume_read_region_as(in, s4, ii->shape, AX_DTYPE_F32, aff);
    if (rc == AX_OK && ii->dtype == AX_DTYPE_U8)
        for (int64_t i = 0; i < n * C; i++) aff[i] = aff[i] / 255.0f;
    double t1 = ax_time_now();
    uint64_t nseg = 0;
    if (rc == AX_OK && !g_interrupted)
        rc = ax_mutex_watershed(aff, shape, (const int64_t(*)[3])off, n_off, (int)n_att, strides,
                                seg, &nseg);
    double t2 = ax_time_now();
    free(aff);
    if (rc < 0) {
        free(seg);
        ax_volume_close(in);
        return fail(rc);
    }
    if (g_interrupted) {
        free(seg);
        ax_volume_close(in);
        fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        return 130;
    }

    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U64;
    p.ndim = 3;
    int64_t dch[3];
    default_chunks(ii, 8, dch);
    for (int d = 0; d < 3; d++) {
        p.shape[d] = shape[d];
        p.chunks[d] = chunks[d] > 0 ? (chunks[d] < shape[d] ? chunks[d] : shape[d]) : dch[d];
        p.voxel_size[d] = ii->voxel_size[d];
        p.offset[d] = ii->offset[d];
    }
    p.has_voxel_size = ii->has_voxel_size;
    p.is_labels = true;
    p.overwrite = overwrite;
    ax_volume *out;
    rc = ax_volume_create(out_path, &p, &out);
    if (rc < 0) {
        free(seg);
        ax_volume_close(in);
        return fail(rc);
    }
    int64_t s3[3] = {0, 0, 0};
    rc = ax_volume_write_region(out, s3, shape, AX_DTYPE_U64, seg);
    free(seg);
    ax_volume_close(in);
    if (rc == AX_OK && g_interrupted) {
        ax_volume_abort(out);
        fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        return 130;
    }
    if (rc < 0) {
        fail(rc);
        ax_volume_abort(out);
        return 1;
    }
    rc = ax_volume_close(out);
    if (rc < 0) return fail(rc);
    if (!g_quiet)
        fprintf(stderr,
                "axon: wrote %s: %llu segments from %lld x %lld x %lld voxels, %d offsets "
                "(%d attractive), strides %lld,%lld,%lld; mutex watershed %.3f s, total %.3f s, "
                "%d threads, peak memory %.0f MiB\n",
                out_path, (unsigned long long)nseg, (long long)shape[0], (long long)shape[1],
                (long long)shape[2], n_off, (int)n_att, (long long)strides[0],
                (long long)strides[1], (long long)strides[2], t2 - t1, ax_time_now() - t0,
                ax_threads_get(), mib(ax_peak_rss_bytes()));
    return 0;
}
