/* axon.c: the command-line tool. A thin layer over the public libaxon API (axon/axon.h):
 * parse arguments, call the library, print results and errors, exit 0/1/2
 * (ok / failure / usage).
 *
 *   axon info VOL [--json]
 *   axon convert IN OUT [--chunks z,y,x] [--compression C] [--level N] [--region ...]
 *   axon slice VOL --z N [--overlay LABELS] [--channel C] [--labels] -o out.png
 *   axon diff A B
 *   axon version
 * Global options: --threads N (or AX_THREADS), --no-simd (or AX_SIMD=generic), --quiet.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "cli.h"

static void print_usage(FILE *f)
{
    fprintf(f,
            "axon %s: connectomics engine\n"
            "\n"
            "usage: axon [--threads N] [--no-simd] [--quiet] COMMAND ...\n"
            "\n"
            "commands:\n"
            "  info VOL [--json]            format, shape, dtype, chunks, voxel size\n"
            "  convert IN OUT [options]     copy a volume to another format, block by block\n"
            "      --chunks z,y,x           output chunk shape (c,z,y,x for 4-d; default 64^3)\n"
            "      --compression C          zstd | gzip | zlib | blosc | raw |\n"
            "                               compressed_segmentation (precomputed labels)\n"
            "      --level N                compression level\n"
            "      --region z0:z1,y0:y1,x0:x1   copy only this box (':' = whole axis)\n"
            "      --zarr-order C|F, --zarr-separator .|/   zarr layout options\n"
            "      --labels                 mark the output as a segmentation (precomputed)\n"
            "      --overwrite              replace OUT if it exists\n"
            "  slice VOL --z N -o out.png [--overlay LABELS] [--channel C] [--labels]\n"
            "                               picture of one section, labels in random colours\n"
            "  diff A B                     compare two volumes voxel by voxel (exit 0 same,\n"
            "                               1 different, 2 trouble)\n"
            "  bench read VOL --positions FILE [--size N]\n"
            "                               time reads of N^3 regions at the listed starts\n"
            "  serve DIR [--port N] [--host H] [--no-browser-page]\n"
            "                               Neuroglancer on a precomputed dataset over HTTP\n"
            "                               (127.0.0.1 by default; axon serve --help)\n"
            "  version                      version, SIMD kernels, threads\n"
            "\n"
            "segmentation (labels uint64, relabelled 1..n; affinities (3|C, z, y, x) float32,\n"
            "channel c links voxel p to p + offset_c, nearest offsets -z,-y,-x):\n"
            "  cc IN OUT [--connectivity 6|18|26] [--threshold T] [--block z,y,x]\n"
            "            [--chunks z,y,x] [--overwrite]\n"
            "                               connected components (per label, or of IN > T)\n"
            "  affinities-from-boundary IN OUT [--mode min|mean]\n"
            "                               boundary probability map -> 3-channel affinities\n"
            "  affinities-from-labels IN OUT [--offsets z,y,x;z,y,x;...]\n"
            "                               ground-truth affinities from a label volume\n"
            "  watershed AFFS OUT [--low T] [--high T] [--merge-low T]\n"
            "                     [--size-threshold S] [--dust D] [--block z,y,x]\n"
            "                               zwatershed: fragments from affinities\n"
            "  agglomerate AFFS FRAGMENTS OUT [--merge-function mean|max|quantile:Q]\n"
            "                     [--thresholds 0.1,0.3,0.5] [--block z,y,x]\n"
            "                               waterz-style merging; one output per threshold\n"
            "                               (OUT gets a _tN suffix when there are several)\n"
            "  mws AFFS OUT --offsets z,y,x;... [--attractive N] [--strides z,y,x]\n"
            "                               mutex watershed over long-range affinities\n"
            "                               (whole volume in memory; peak RSS reported)\n"
            "  eval --seg SEG --gt GT [--json] [--ignore-gt-label L | --no-ignore] [--worst N]\n"
            "                               VOI split/merge, adapted Rand error, CREMI score,\n"
            "                               worst split and merged objects\n"
            "  erl --seg SEG (--skeletons DIR | --gt-labels GT) [--json]\n"
            "                               expected run length along ground-truth skeletons\n"
            "  skeletonize SEG OUT [--anisotropy z,y,x] [--format swc|precomputed]\n"
            "                               TEASAR skeletons per object (SWC or Neuroglancer)\n"
            "  mesh SEG OUT [--reduction R] [--format precomputed|ply|obj]\n"
            "                               marching-cubes meshes per object, simplified\n"
            "  export-precomputed -o DATASET --raw RAW --seg SEG\n"
            "                               one Neuroglancer dataset: pyramids, meshes, skeletons\n"
            "  eval2d --pred BOUNDARY --gt GT [--gt-kind membrane0|mask|labels] [--z A:B]\n"
            "                               per-section ISBI 2012 scores of a boundary map:\n"
            "                               pixel error, foreground-restricted Rand and info\n"
            "  train --config unet.json --raw VOL --labels VOL --out M.safetensors [...]\n"
            "                               train a 3D U-Net (affinities or a mask; see\n"
            "                               axon train --help)\n"
            "  predict --model M.safetensors RAW OUT [--block z,y,x]\n"
            "                               block-wise inference into a (C, z, y, x) volume\n"
            "  model-info M.safetensors     a model's description and training record (JSON)\n"
            "  simulate CONFIG.json -o OUTDIR [--threads N] [--duration MS] [--export-network F.h5]\n"
            "                               run a spiking network: LIF, COBA, Izhikevich, HH, STG; connectomes;\n"
            "                               plasticity; compute per spike (docs/simulate.md)\n"
            "  brain-compute [--species human|mouse|fly] [--rates ...] [--flops-per-event ...]\n"
            "                               whole-brain FLOP/s and machines for real time\n"
            "  reconstruct RAW -o OUTDIR [--model M] [--gt GT] [--threshold T]\n"
            "                               the whole pipeline: affinities, fragments, segmentation,\n"
            "                               Neuroglancer copy, report.html, metrics.json (resumable)\n"
            "  tune RAW --gt GT -o run.json [--model M] [--thresholds ...]\n"
            "                               the agglomeration threshold with the best VOI\n"
            "\n"
            "volumes: x.h5:dataset  x.zarr[:array]  x.n5[:dataset]  x.tif  dir/ (TIFF slices)\n"
            "         x.precomputed (or precomputed://dir); prefixes zarr: n5: h5: tiff: tiffdir:\n"
            "         precomputed: force a format.\n"
            "environment: AX_THREADS, AX_SIMD=generic, AX_CACHE_MB, AX_PROGRESS=0|1\n",
            ax_version_string());
}

/* ---- small parsers ---------------------------------------------------------------- */

/* "z0:z1,y0:y1,x0:x1": each part "a:b", "a:", ":b" or ":". Fills start/size over the last
 * `n` axes of shape. Returns the number of parts or -1. */
static int parse_region(const char *s, int ndim, const int64_t *shape, int64_t *start,
                        int64_t *size)
{
    int64_t lo[AX_MAX_DIMS], hi[AX_MAX_DIMS];
    bool has_lo[AX_MAX_DIMS], has_hi[AX_MAX_DIMS];
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == AX_MAX_DIMS) return -1;
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char part[64];
        if (len >= sizeof part) return -1;
        memcpy(part, p, len);
        part[len] = 0;
        char *colon = strchr(part, ':');
        if (!colon) return -1;
        *colon = 0;
        has_lo[n] = part[0] != 0;
        has_hi[n] = colon[1] != 0;
        if (has_lo[n] && !parse_i64(part, &lo[n])) return -1;
        if (has_hi[n] && !parse_i64(colon + 1, &hi[n])) return -1;
        n++;
        p += len;
        if (*p == ',') p++;
    }
    if (n == 0 || n > ndim) return -1;
    int first = ndim - n;
    for (int d = 0; d < ndim; d++) {
        start[d] = 0;
        size[d] = shape[d];
    }
    for (int k = 0; k < n; k++) {
        int d = first + k;
        int64_t a = has_lo[k] ? lo[k] : 0, b = has_hi[k] ? hi[k] : shape[d];
        start[d] = a;
        size[d] = b - a;
    }
    return n;
}

static void fmt_shape(char *buf, size_t n, int nd, const int64_t *s)
{
    int w = 0;
    for (int d = 0; d < nd && (size_t)w < n; d++)
        w += snprintf(buf + w, n - (size_t)w, "%s%lld", d ? " x " : "", (long long)s[d]);
}

/* ---- info ------------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("info: unknown option %s", argv[i]);
        else if (!path) path = argv[i];
        else return usage_error("info: unexpected argument %s", argv[i]);
    }
    if (!path) return usage_error("info: %s", "which volume?");
    ax_volume *v;
    int rc = ax_volume_open(path, AX_OPEN_READ, &v);
    if (rc < 0) return fail(rc);
    const ax_volume_info *in = ax_volume_get_info(v);
    size_t elem = ax_dtype_size(in->dtype);
    uint64_t bytes = elem;
    for (int d = 0; d < in->ndim; d++) bytes *= (uint64_t)in->shape[d];
    if (json) {
        printf("{\"path\": ");
        json_str(path);
        printf(", \"format\": \"%s\", \"dtype\": \"%s\", \"shape\": [", ax_format_name(in->format),
               ax_dtype_name(in->dtype));
        for (int d = 0; d < in->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)in->shape[d]);
        printf("], \"chunks\": [");
        for (int d = 0; d < in->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)in->chunks[d]);
        printf("], \"axes\": \"%s\", \"voxel_size\": [%g, %g, %g], \"voxel_size_known\": %s, "
               "\"offset\": [%g, %g, %g], \"compression\": \"%s\", \"compression_level\": %d, "
               "\"fill_value\": %g, \"labels\": %s, \"bytes\": %llu}\n",
               in->ndim == 4 ? "czyx" : in->ndim == 3 ? "zyx" : "?", in->voxel_size[0],
               in->voxel_size[1], in->voxel_size[2], in->has_voxel_size ? "true" : "false",
               in->offset[0], in->offset[1], in->offset[2], ax_compression_name(in->compression),
               in->compression_level, in->fill_value != in->fill_value ? 0 : in->fill_value,
               in->is_labels ? "true" : "false", (unsigned long long)bytes);
    } else {
        char s[256], c[256];
        fmt_shape(s, sizeof s, in->ndim, in->shape);
        fmt_shape(c, sizeof c, in->ndim, in->chunks);
        printf("path:        %s\n", path);
        printf("format:      %s\n", ax_format_name(in->format));
        printf("shape:       %s (%s)\n", s, in->ndim == 4 ? "c, z, y, x" : in->ndim == 3 ? "z, y, x" : "C order");
        printf("dtype:       %s\n", ax_dtype_name(in->dtype));
        printf("chunks:      %s\n", c);
        printf("voxel size:  %g x %g x %g nm (z, y, x)%s\n", in->voxel_size[0], in->voxel_size[1],
               in->voxel_size[2], in->has_voxel_size ? "" : " (not recorded; assumed)");
        printf("offset:      %g, %g, %g nm\n", in->offset[0], in->offset[1], in->offset[2]);
        if (in->compression_level >= 0)
            printf("compression: %s (level %d)\n", ax_compression_name(in->compression),
                   in->compression_level);
        else
            printf("compression: %s\n", ax_compression_name(in->compression));
        printf("size:        %.1f MiB uncompressed%s\n", mib(bytes),
               in->is_labels ? ", labels" : "");
    }
    ax_volume_close(v);
    return 0;
}

/* ---- convert ---------------------------------------------------------------------- */

static int cmd_convert(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL, *chunks_s = NULL, *region_s = NULL;
    ax_volume_create_params p = ax_volume_create_params_default();
    bool labels = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--chunks") && more) chunks_s = argv[++i];
        else if (!strcmp(a, "--region") && more) region_s = argv[++i];
        else if (!strcmp(a, "--compression") && more) {
            const char *c = argv[++i];
            p.compression = ax_compression_from_name(c);
            if (p.compression == AX_COMPRESSION_DEFAULT)
                return usage_error("convert: unknown compression '%s' (zstd, gzip, zlib, blosc, "
                                   "raw, compressed_segmentation)", c);
        } else if (!strcmp(a, "--level") && more) {
            int64_t l;
            if (!parse_i64(argv[++i], &l) || l < 0 || l > 22)
                return usage_error("convert: bad --level '%s' (0..22)", argv[i]);
            p.compression_level = (int)l;
        } else if (!strcmp(a, "--zarr-order") && more) {
            const char *o = argv[++i];
            if (strcmp(o, "C") && strcmp(o, "F")) return usage_error("convert: --zarr-order %s: C or F", o);
            p.zarr_order = o[0];
        } else if (!strcmp(a, "--zarr-separator") && more) {
            const char *o = argv[++i];
            if (strcmp(o, ".") && strcmp(o, "/")) return usage_error("convert: --zarr-separator %s: . or /", o);
            p.zarr_separator = o[0];
        } else if (!strcmp(a, "--labels")) labels = true;
        else if (!strcmp(a, "--overwrite")) p.overwrite = true;
        else if (a[0] == '-' && a[1]) return usage_error("convert: unknown option or missing value: %s", a);
        else if (!in_path) in_path = a;
        else if (!out_path) out_path = a;
        else return usage_error("convert: unexpected argument %s", a);
    }
    if (!in_path || !out_path) return usage_error("convert: %s", "need IN and OUT");

    double t0 = ax_time_now(); /* opening and creating count too */
    ax_volume *in;
    int rc = ax_volume_open(in_path, AX_OPEN_READ, &in);
    if (rc < 0) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(in);
    int nd = ii->ndim;
    int64_t start[AX_MAX_DIMS] = {0}, size[AX_MAX_DIMS];
    memcpy(size, ii->shape, sizeof size);
    if (region_s) {
        if (parse_region(region_s, nd, ii->shape, start, size) < 0) {
            ax_volume_close(in);
            return usage_error("convert: bad --region '%s' (z0:z1,y0:y1,x0:x1)", region_s);
        }
        for (int d = 0; d < nd; d++)
            if (start[d] < 0 || size[d] <= 0 || start[d] + size[d] > ii->shape[d]) {
                char s[256];
                fmt_shape(s, sizeof s, nd, ii->shape);
                fprintf(stderr, "axon: error: --region %s is outside %s (shape %s)\n", region_s,
                        in_path, s);
                ax_volume_close(in);
                return 1;
            }
    }
    p.dtype = ii->dtype;
    p.ndim = nd;
    memcpy(p.shape, size, sizeof p.shape);
    if (chunks_s) {
        int64_t c[AX_MAX_DIMS];
        int n = parse_list(chunks_s, c, AX_MAX_DIMS);
        if (n <= 0 || n > nd || (n != nd && n != 3)) {
            ax_volume_close(in);
            return usage_error("convert: bad --chunks '%s' (z,y,x)", chunks_s);
        }
        for (int k = 0; k < n; k++) {
            if (c[k] <= 0) {
                ax_volume_close(in);
                return usage_error("convert: --chunks '%s' must be positive", chunks_s);
            }
            p.chunks[nd - n + k] = c[k];
        }
    }
    p.has_voxel_size = ii->has_voxel_size;
    int zax = nd >= 3 ? nd - 3 : 0;
    for (int k = 0; k < 3; k++) {
        p.voxel_size[k] = ii->voxel_size[k];
        p.offset[k] = ii->offset[k] + (nd >= 3 ? (double)start[zax + k] * ii->voxel_size[k] : 0);
    }
    p.fill_value = ii->fill_value;
    p.is_labels = labels || ii->is_labels ||
                  p.compression == AX_COMPRESSION_COMPRESSED_SEGMENTATION;

    ax_volume *out;
    rc = ax_volume_create(out_path, &p, &out);
    if (rc == AX_E_UNSUPPORTED && p.fill_value != 0) {
        /* N5 and precomputed have no fill value and refuse a non-zero one; convert writes
         * every chunk, so the fill value is only metadata here: fall back to 0 */
        p.fill_value = 0;
        rc = ax_volume_create(out_path, &p, &out);
    }
    if (rc < 0) {
        ax_volume_close(in);
        return fail(rc);
    }
    const ax_volume_info *oi = ax_volume_get_info(out);
    ax_volume_set_cache_bytes(out, 0); /* every output chunk is written once, whole */

    /* Blocks: whole output chunks, grown from one chunk until ~AX_CONVERT_MB (default 256
     * MiB) so memory stays bounded whatever the volume size. Aligned blocks mean every
     * output chunk is written once, whole. */
    size_t elem = ax_dtype_size(ii->dtype);
    uint64_t budget = 256ull << 20;
    const char *e = getenv("AX_CONVERT_MB");
    int64_t mb;
    if (e && parse_i64(e, &mb) && mb > 0) budget = (uint64_t)mb << 20;
    int64_t block[AX_MAX_DIMS];
    memcpy(block, oi->chunks, sizeof block);
    for (;;) { /* double the fastest-varying axis that is not yet whole, x first */
        bool grew = false;
        for (int d = nd - 1; d >= 0 && !grew; d--) {
            if (block[d] >= size[d]) continue;
            uint64_t b = elem;
            for (int k = 0; k < nd; k++) b *= (uint64_t)(k == d ? block[k] * 2 : block[k]);
            if (b > budget) continue;
            block[d] = block[d] * 2 > size[d] ? size[d] : block[d] * 2;
            grew = true;
        }
        if (!grew) break;
    }
    for (int d = 0; d < nd; d++)
        if (block[d] > size[d]) block[d] = size[d];
    uint64_t block_bytes = elem;
    for (int d = 0; d < nd; d++) block_bytes *= (uint64_t)block[d];
    void *buf = malloc(block_bytes);
    if (!buf) {
        fprintf(stderr, "axon: error: cannot allocate a %.1f MiB block\n", mib(block_bytes));
        ax_volume_abort(out);
        ax_volume_close(in);
        return 1;
    }
    int64_t nblk[AX_MAX_DIMS], total = 1;
    for (int d = 0; d < nd; d++) {
        nblk[d] = (size[d] + block[d] - 1) / block[d];
        total *= nblk[d];
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_progress *prog = ax_progress_new("convert", total);
    uint64_t done_bytes = 0;
    for (int64_t b = 0; b < total && rc == AX_OK; b++) {
        if (g_interrupted) {
            rc = AX_E_INTERRUPTED;
            break;
        }
        int64_t r = b, bs[AX_MAX_DIMS], bz[AX_MAX_DIMS], os[AX_MAX_DIMS];
        for (int d = nd - 1; d >= 0; d--) {
            int64_t k = r % nblk[d];
            r /= nblk[d];
            os[d] = k * block[d];
            bz[d] = os[d] + block[d] > size[d] ? size[d] - os[d] : block[d];
            bs[d] = start[d] + os[d];
        }
        rc = ax_volume_read_region(in, bs, bz, ii->dtype, buf);
        if (rc == AX_OK) rc = ax_volume_write_region(out, os, bz, ii->dtype, buf);
        uint64_t nb = elem;
        for (int d = 0; d < nd; d++) nb *= (uint64_t)bz[d];
        done_bytes += nb;
        ax_progress_add(prog, 1);
    }
    ax_progress_done(prog);
    free(buf);
    if (rc < 0) {
        if (rc != AX_E_INTERRUPTED) fail(rc);
        else fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        ax_volume_abort(out);
        ax_volume_close(in);
        return rc == AX_E_INTERRUPTED ? 130 : 1;
    }
    rc = ax_volume_close(out);
    ax_volume_close(in);
    if (rc < 0) return fail(rc);
    double t = ax_time_now() - t0;
    if (!g_quiet)
        fprintf(stderr, "axon: wrote %s: %.1f MiB in %.3f s (%.1f MiB/s), %d threads, peak memory %.0f MiB\n",
                out_path, mib(done_bytes), t, t > 0 ? mib(done_bytes) / t : 0, ax_threads_get(),
                mib(ax_peak_rss_bytes()));
    return 0;
}

/* ---- slice ------------------------------------------------------------------------ */

static int cmd_slice(int argc, char **argv)
{
    const char *path = NULL, *overlay = NULL, *out = NULL;
    int64_t z = -1, channel = 0;
    bool have_z = false, as_labels = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--z") && more) {
            if (!parse_i64(argv[++i], &z)) return usage_error("slice: bad --z '%s'", argv[i]);
            have_z = true;
        } else if (!strcmp(a, "--channel") && more) {
            if (!parse_i64(argv[++i], &channel)) return usage_error("slice: bad --channel '%s'", argv[i]);
        } else if (!strcmp(a, "--overlay") && more) overlay = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) out = argv[++i];
        else if (!strcmp(a, "--labels")) as_labels = true;
        else if (a[0] == '-' && a[1]) return usage_error("slice: unknown option or missing value: %s", a);
        else if (!path) path = a;
        else return usage_error("slice: unexpected argument %s", a);
    }
    if (!path || !out) return usage_error("slice: %s", "need VOL and -o out.png");
    ax_volume *v, *lab = NULL;
    int rc = ax_volume_open(path, AX_OPEN_READ, &v);
    if (rc < 0) return fail(rc);
    const ax_volume_info *in = ax_volume_get_info(v);
    if (!have_z) z = in->ndim >= 3 ? in->shape[in->ndim - 3] / 2 : 0;
    if (overlay && (rc = ax_volume_open(overlay, AX_OPEN_READ, &lab)) < 0) {
        ax_volume_close(v);
        return fail(rc);
    }
    if (in->is_labels) as_labels = true;
    uint8_t *rgb;
    int64_t h, w;
    rc = ax_render_section(v, z, channel, as_labels, lab, &rgb, &h, &w);
    if (rc == AX_OK) {
        rc = ax_png_write(out, rgb, h, w, 3);
        free(rgb);
    }
    ax_volume_close(lab);
    ax_volume_close(v);
    if (rc < 0) return fail(rc);
    if (!g_quiet) fprintf(stderr, "axon: wrote %s (%lld x %lld, section %lld)\n", out, (long long)w, (long long)h, (long long)z);
    return 0;
}

/* ---- diff ------------------------------------------------------------------------- */

/* Compare two volumes voxel by voxel, slab by slab (bounded memory). Exit status as cmp(1):
 * 0 identical, 1 different, 2 trouble. */
static int cmd_diff(int argc, char **argv)
{
    const char *a_path = NULL, *b_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) return usage_error("diff: unknown option %s", argv[i]);
        if (!a_path) a_path = argv[i];
        else if (!b_path) b_path = argv[i];
        else return usage_error("diff: unexpected argument %s", argv[i]);
    }
    if (!a_path || !b_path) return usage_error("diff: %s", "need two volumes");
    ax_volume *a, *b;
    int rc = ax_volume_open(a_path, AX_OPEN_READ, &a);
    if (rc < 0) return fail(rc) + 1;
    if ((rc = ax_volume_open(b_path, AX_OPEN_READ, &b)) < 0) {
        ax_volume_close(a);
        return fail(rc) + 1;
    }
    const ax_volume_info *ia = ax_volume_get_info(a), *ib = ax_volume_get_info(b);
    int status = 0;
    if (ia->dtype != ib->dtype || ia->ndim != ib->ndim ||
        memcmp(ia->shape, ib->shape, sizeof(int64_t) * (size_t)ia->ndim)) {
        char sa[256], sb[256];
        fmt_shape(sa, sizeof sa, ia->ndim, ia->shape);
        fmt_shape(sb, sizeof sb, ib->ndim, ib->shape);
        printf("differ: %s is %s %s, %s is %s %s\n", a_path, sa, ax_dtype_name(ia->dtype), b_path,
               sb, ax_dtype_name(ib->dtype));
        status = 1;
        goto out;
    }
    int nd = ia->ndim;
    size_t elem = ax_dtype_size(ia->dtype);
    /* slabs along axis 0 of at most ~64 MiB each */
    uint64_t plane = elem;
    for (int d = 1; d < nd; d++) plane *= (uint64_t)ia->shape[d];
    int64_t rows = (int64_t)((64ull << 20) / (plane ? plane : 1));
    if (rows < 1) rows = 1;
    if (rows > ia->shape[0]) rows = ia->shape[0];
    uint8_t *ba = malloc(plane * (uint64_t)rows), *bb = malloc(plane * (uint64_t)rows);
    if (!ba || !bb) {
        free(ba);
        free(bb);
        fprintf(stderr, "axon: error: out of memory\n");
        status = 2;
        goto out;
    }
    uint64_t ndiff = 0;
    int64_t first = -1;
    for (int64_t z = 0; z < ia->shape[0] && status == 0; z += rows) {
        int64_t st[AX_MAX_DIMS] = {0}, sz[AX_MAX_DIMS];
        memcpy(sz, ia->shape, sizeof sz);
        st[0] = z;
        sz[0] = z + rows > ia->shape[0] ? ia->shape[0] - z : rows;
        if ((rc = ax_volume_read_region(a, st, sz, ia->dtype, ba)) < 0 ||
            (rc = ax_volume_read_region(b, st, sz, ia->dtype, bb)) < 0) {
            fail(rc);
            status = 2;
            break;
        }
        size_t n = (size_t)(plane / elem) * (size_t)sz[0];
        if (!memcmp(ba, bb, n * elem)) continue;
        for (size_t i = 0; i < n; i++)
            if (memcmp(ba + i * elem, bb + i * elem, elem)) {
                if (first < 0) first = (int64_t)((size_t)z * (size_t)(plane / elem) + i);
                ndiff++;
            }
    }
    free(ba);
    free(bb);
    if (status == 0 && ndiff) {
        int64_t idx[AX_MAX_DIMS], r = first;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = r % ia->shape[d];
            r /= ia->shape[d];
        }
        printf("differ: %llu voxels, first at (", (unsigned long long)ndiff);
        for (int d = 0; d < nd; d++) printf("%s%lld", d ? ", " : "", (long long)idx[d]);
        printf(")\n");
        status = 1;
    } else if (status == 0 && !g_quiet) {
        printf("identical\n");
    }
out:
    ax_volume_close(a);
    ax_volume_close(b);
    return status;
}

/* ---- bench ------------------------------------------------------------------------ */

typedef struct bench_ctx {
    ax_volume *v;
    const int64_t *pos; /* n x ndim starts */
    int64_t size[AX_MAX_DIMS];
    uint8_t **bufs;     /* one region buffer per thread */
} bench_ctx;

static int bench_task(void *ctx, int64_t i, int thread)
{
    bench_ctx *b = ctx;
    const ax_volume_info *in = ax_volume_get_info(b->v);
    return ax_volume_read_region(b->v, b->pos + i * in->ndim, b->size, in->dtype, b->bufs[thread]);
}

/* axon bench read VOL --positions FILE --size N: read regions of N^3 (all channels) at the
 * starts listed in FILE (one "z y x" line each), spread over the thread pool; print JSON. */
static int cmd_bench(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "read")) return usage_error("bench: %s", "usage: axon bench read VOL --positions FILE [--size N]");
    const char *path = NULL, *pos_path = NULL;
    int64_t edge = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--positions") && i + 1 < argc) pos_path = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (!parse_i64(argv[++i], &edge) || edge <= 0) return usage_error("bench: bad --size %s", argv[i]);
        } else if (argv[i][0] == '-') return usage_error("bench: unknown option %s", argv[i]);
        else path = argv[i];
    }
    if (!path || !pos_path) return usage_error("bench: %s", "need VOL and --positions FILE");
    ax_volume *v;
    int rc = ax_volume_open(path, AX_OPEN_READ, &v);
    if (rc < 0) return fail(rc);
    const ax_volume_info *in = ax_volume_get_info(v);
    int nd = in->ndim, sp = nd >= 3 ? nd - 3 : 0;
    FILE *f = fopen(pos_path, "r");
    if (!f) {
        fprintf(stderr, "axon: error: %s: cannot open\n", pos_path);
        ax_volume_close(v);
        return 1;
    }
    int64_t cap = 1024, n = 0, *pos = malloc(sizeof(int64_t) * (size_t)(cap * nd));
    long long z, y, x;
    while (pos && fscanf(f, "%lld %lld %lld", &z, &y, &x) == 3) {
        if (n == cap) {
            cap *= 2;
            int64_t *np_ = realloc(pos, sizeof(int64_t) * (size_t)(cap * nd));
            if (!np_) break;
            pos = np_;
        }
        for (int d = 0; d < nd; d++) pos[n * nd + d] = 0;
        pos[n * nd + sp] = z;
        pos[n * nd + sp + 1] = y;
        pos[n * nd + sp + 2] = x;
        n++;
    }
    fclose(f);
    bench_ctx b = {.v = v, .pos = pos};
    uint64_t region_bytes = ax_dtype_size(in->dtype);
    for (int d = 0; d < nd; d++) {
        b.size[d] = d < sp ? in->shape[d] : edge;
        region_bytes *= (uint64_t)b.size[d];
    }
    int nt = ax_threads_get();
    b.bufs = calloc((size_t)nt, sizeof *b.bufs);
    for (int t = 0; b.bufs && t < nt; t++) b.bufs[t] = malloc(region_bytes);
    double t0 = ax_time_now();
    rc = pos && b.bufs ? ax_parallel_for(n, bench_task, &b) : AX_E_NOMEM;
    double t = ax_time_now() - t0;
    uint64_t nr, hits;
    ax_volume_get_stats(v, &nr, NULL, &hits, NULL);
    if (rc == AX_OK)
        printf("{\"regions\": %lld, \"region_bytes\": %llu, \"seconds\": %.6f, \"MBps\": %.2f, "
               "\"threads\": %d, \"chunks_decoded\": %llu, \"cache_hits\": %llu, "
               "\"peak_rss_MiB\": %.1f}\n",
               (long long)n, (unsigned long long)region_bytes, t,
               t > 0 ? (double)region_bytes * (double)n / t / 1e6 : 0, nt, (unsigned long long)nr,
               (unsigned long long)hits, mib(ax_peak_rss_bytes()));
    for (int k = 0; b.bufs && k < nt; k++) free(b.bufs[k]);
    free(b.bufs);
    free(pos);
    ax_volume_close(v);
    return rc < 0 ? fail(rc) : 0;
}

static int cmd_version(void)
{
    uint32_t f = ax_cpu_features();
    printf("axon %s\nsimd: %s (cpu:%s%s%s%s)\nthreads: %d\n", ax_version_string(), ax_simd_name(),
           f & AX_CPU_SSE42 ? " sse4.2" : "", f & AX_CPU_AVX2 ? " avx2" : "",
           f & AX_CPU_FMA ? " fma" : "", f & AX_CPU_AVX512F ? " avx512f" : "", ax_threads_get());
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--threads") && i + 1 < argc) {
            int64_t n;
            if (!parse_i64(argv[++i], &n) || n < 1 || n > 1024)
                return usage_error("--threads '%s': a number from 1 to 1024", argv[i]);
            if (ax_threads_set((int)n) < 0) return fail(AX_E_INVALID);
        } else if (!strcmp(a, "--no-simd")) {
            ax_simd_set("generic");
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            g_quiet = true;
            setenv("AX_PROGRESS", "0", 1);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            return cmd_version();
        } else {
            return usage_error("unknown option %s", a);
        }
    }
    if (i >= argc) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    int n = argc - i;
    char **rest = argv + i;
    if (!strcmp(cmd, "info")) return cmd_info(n, rest);
    if (!strcmp(cmd, "convert")) return cmd_convert(n, rest);
    if (!strcmp(cmd, "slice")) return cmd_slice(n, rest);
    if (!strcmp(cmd, "diff")) return cmd_diff(n, rest);
    if (!strcmp(cmd, "bench")) return cmd_bench(n, rest);
    if (!strcmp(cmd, "cc")) return cmd_cc(n, rest);
    if (!strcmp(cmd, "affinities-from-boundary")) return cmd_affinities_from_boundary(n, rest);
    if (!strcmp(cmd, "affinities-from-labels")) return cmd_affinities_from_labels(n, rest);
    if (!strcmp(cmd, "watershed")) return cmd_watershed(n, rest);
    if (!strcmp(cmd, "agglomerate")) return cmd_agglomerate(n, rest);
    if (!strcmp(cmd, "mws")) return cmd_mws(n, rest);
    if (!strcmp(cmd, "eval")) return cmd_eval(n, rest);
    if (!strcmp(cmd, "eval2d")) return cmd_eval2d(n, rest);
    if (!strcmp(cmd, "skeletonize")) return cmd_skeletonize(n, rest);
    if (!strcmp(cmd, "mesh")) return cmd_mesh(n, rest);
    if (!strcmp(cmd, "serve")) return cmd_serve(n, rest);
    if (!strcmp(cmd, "erl")) return cmd_erl(n, rest);
    if (!strcmp(cmd, "export-precomputed")) return cmd_export_precomputed(n, rest);
    if (!strcmp(cmd, "train")) return cmd_train(n, rest);
    if (!strcmp(cmd, "predict")) return cmd_predict(n, rest);
    if (!strcmp(cmd, "model-info")) return cmd_model_info(n, rest);
    if (!strcmp(cmd, "reconstruct")) return cmd_reconstruct(n, rest);
    if (!strcmp(cmd, "simulate")) return cmd_simulate(n, rest);
    if (!strcmp(cmd, "brain-compute")) return cmd_brain_compute(n, rest);
    if (!strcmp(cmd, "tune")) return cmd_tune(n, rest);
    if (!strcmp(cmd, "version")) return cmd_version();
    if (!strcmp(cmd, "help")) {
        print_usage(stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}
