/* conv3d_wgrad.c: conv3d weight gradient, dw[o][i][a][b][c] += sum over output positions q
 * of dout[o][q] * in[i][q + (a,b,c) - pad], and dbias[o] += sum_q dout[o][q].
 *
 * DESIGN. The output rows (z, y) are cut into blocks of nb rows of one z-plane, sized so
 * that a block's positions fit L1 as a few rows. Per block, dout and the input rows it
 * reads are packed into scratch with one row width wp = iw + 2 pw: the input zero-padded,
 * dout with zeros in its columns ow..wp-1. A position p = y * wp + x then reads input
 * p + b * wp + c for tap (b, c), so every (ci, a, b, c) tap becomes one flat stream and
 * the weight gradient of a block is a set of long dot products (dout row x shifted input
 * stream) with no row edges: the zeros in dout cancel the wrapped-around positions. The
 * dot products are done in tiles of 4 output channels x 3 taps (ax__conv3d_wgrad_tile_*),
 * output channels outermost so the 4 dout rows stay in L1 while the taps stream by.
 * Without y/x padding the input already has that layout and is read in place; the next
 * block's rows are prefetched during the current one's tiles.
 *
 * Caveat: a wrapped-around position multiplies a real input value by a zero dout, so an
 * Inf/NaN input can turn dw entries NaN that the reference leaves finite (the reference
 * is then Inf/NaN elsewhere anyway).
 *
 * Determinism: the blocks are grouped into a number of chunks that depends only on the
 * shape; each chunk is one task with its own partial sums, and the partials are added in
 * chunk order at the end, so dw has the same bits for any thread count.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"
#include "nn/winograd_wgrad.h"

typedef void (*tile_fn)(int nco, int ntap, const float *const *d, const float *const *x,
                        int64_t n, float *sums);

enum {
    TILE_CO = 4,      /* output channels per tile */
    TILE_TAP = 3,     /* input streams per tile */
    BLOCK_POS = 1536, /* target positions per block: 4 dout rows of it + input fit L1 */
    /* Chunks: up to MAX_CHUNKS for load balance on many threads, but each chunk's partial
     * dw costs a pass over nw floats (zero, add), so a chunk keeps >= CHUNK_POS output
     * positions (>= CHUNK_POS FMAs per dw entry: the pass is a few %) and all partials
     * together stay under PART_BYTES. */
    MAX_CHUNKS = 32,
    CHUNK_POS = 512,
    PART_BYTES = 16 << 20,
    SUM_SPAN = 16384 /* dw entries per task of the final sum */
};

/* ---- portable tile ------------------------------------------------------------------ */

/* 4-float vectors (GNU vector extension: SSE2 on x86-64, NEON on arm64), the same register
 * blocking as the AVX2 tile: 12 accumulators + 3 inputs + 1 dout fill 16 registers. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define ROW(i)                                                                             \
    do {                                                                                   \
        v4f dv = load4(d##i + p);                                                          \
        a##i##0 += dv * x0;                                                                \
        if (NT > 1) a##i##1 += dv * x1;                                                    \
        if (NT > 2) a##i##2 += dv * x2;                                                    \
    } while (0)

static inline __attribute__((always_inline)) void tile_c(const int NC, const int NT,
                                                          const float *const *d,
                                                          const float *const *x, int64_t n,
                                                          float *sums)
{
    const float *d0 = d[0], *d1 = d[NC > 1], *d2 = d[NC > 2 ? 2 : 0], *d3 = d[NC > 3 ? 3 : 0];
    const float *x0p = x[0], *x1p = x[NT > 1], *x2p = x[NT > 2 ? 2 : 0];
    const v4f z = {0, 0, 0, 0};
    v4f a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z;
    v4f a20 = z, a21 = z, a22 = z, a30 = z, a31 = z, a32 = z;
    for (int64_t p = 0; p < n; p += 4) {
        v4f x0 = load4(x0p + p), x1 = NT > 1 ? load4(x1p + p) : z;
        v4f x2 = NT > 2 ? load4(x2p + p) : z;
        ROW(0);
        if (NC > 1) ROW(1);
        if (NC > 2) ROW(2);
        if (NC > 3) ROW(3);
    }
    const v4f all[12] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32};
    for (int i = 0; i < NC; i++)
        for (int j = 0; j < NT; j++) {
            v4f v = all[i * 3 + j];
            sums[i * NT + j] = (v[0] + v[1]) + (v[2] + v[3]);
        }
}
#undef ROW

static void tile_generic(int nco, int ntap, const float *const *d, const float *const *x,
                         int64_t n, float *sums)
{
    switch (nco * 4 + ntap) {
#define T(NC, NT)                                                                          \
    case NC * 4 + NT: tile_c(NC, NT, d, x, n, sums); break;
        T(1, 1) T(1, 2) T(1, 3) T(2, 1) T(2, 2) T(2, 3)
        T(3, 1) T(3, 2) T(3, 3) T(4, 1) T(4, 2) T(4, 3)
#undef T
    default: AX_ASSERT(!"conv3d wgrad tile shape");
    }
}

/* ---- blocks, chunks, tasks ---------------------------------------------------------- */

typedef struct {
    const ax__conv3d_shape *s;
    const float *in, *dout;
    tile_fn tile;
    int64_t wp;        /* packed row width: iw + 2 pw */
    int64_t nb, bpz;   /* output rows per block, blocks per z-plane */
    int64_t nblocks, nchunks;
    int64_t ntaps;     /* ci * kd * kh * kw: dw row length per output channel */
    int64_t nw;        /* co * ntaps */
    int64_t dstride;   /* floats between two channels' packed dout */
    int64_t xstride;   /* floats between two packed (ci, a) input slabs */
    size_t scratch_bytes;
    float *part;       /* nchunks x nw partial dw */
    double *bpart;     /* nchunks x co partial dbias (NULL when dbias is) */
    void *scratch_base; /* scratch_bytes per thread slot, the caller's kept scratch */
} wg_job;

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Pack block (z, y0, rows): dout rows into dbuf, the (ci, a) input slabs into xbuf (unless
 * xbuf is NULL: the input is read in place); zero padding everywhere the kernel may read.
 * Adds the block's dout sums to bsum. */
static void pack_block(const wg_job *j, int64_t z, int64_t y0, int64_t rows, float *dbuf,
                       float *xbuf, double *bsum)
{
    const ax__conv3d_shape *s = j->s;
    int64_t wp = j->wp, len = rows * wp, len8 = round_up(len, 8);
    for (int64_t o = 0; o < s->co; o++) {
        float *dst = dbuf + o * j->dstride;
        const float *src = j->dout + ((o * s->od + z) * s->oh + y0) * s->ow;
        v4f s0 = {0, 0, 0, 0}, s1 = s0;
        for (int64_t r = 0; r < rows; r++, src += s->ow, dst += wp) {
            int64_t x = 0;
            if (bsum) /* copy and sum in one pass over the row */
                for (; x + 8 <= s->ow; x += 8) {
                    v4f v0 = load4(src + x), v1 = load4(src + x + 4);
                    memcpy(dst + x, &v0, sizeof v0);
                    memcpy(dst + x + 4, &v1, sizeof v1);
                    s0 += v0;
                    s1 += v1;
                }
            memcpy(dst + x, src + x, (size_t)(s->ow - x) * sizeof *dst);
            for (; bsum && x < s->ow; x++) s0[x & 3] += src[x];
            memset(dst + s->ow, 0, (size_t)(wp - s->ow) * sizeof *dst);
        }
        memset(dst, 0, (size_t)(len8 - len) * sizeof *dst);
        if (bsum) {
            v4f t = s0 + s1;
            bsum[o] += ((double)t[0] + t[1]) + ((double)t[2] + t[3]);
        }
    }
    if (!xbuf) return;
    int64_t xrows = rows + s->kh - 1;
    for (int64_t i = 0; i < s->ci; i++)
        for (int64_t a = 0; a < s->kd; a++) {
            int64_t zz = z + a - s->pd;
            if (zz < 0 || zz >= s->id) continue; /* its taps are skipped */
            float *dst = xbuf + (i * s->kd + a) * j->xstride;
            const float *plane = j->in + (i * s->id + zz) * s->ih * s->iw;
            for (int64_t r = 0; r < xrows; r++, dst += wp) {
                int64_t yy = y0 + r - s->ph;
                if (yy < 0 || yy >= s->ih) {
                    memset(dst, 0, (size_t)wp * sizeof *dst);
                    continue;
                }
                memset(dst, 0, (size_t)s->pw * sizeof *dst);
                memcpy(dst + s->pw, plane + yy * s->iw, (size_t)s->iw * sizeof *dst);
                memset(dst + s->pw + s->iw, 0, (size_t)s->pw * sizeof *dst);
            }
            /* slack read by the last vector's wider taps */
            memset(dst, 0, (size_t)(j->xstride - xrows * wp) * sizeof *dst);
        }
}

/* Software prefetch of the next block's source rows, spread over the tile calls of the
 * current block: packing then reads L2 instead of waiting on DRAM, which matters for the
 * layers with few channels (little compute per byte). */
typedef struct {
    const wg_job *j;
    int64_t z, y0, rows; /* the block to fetch */
    int64_t range;       /* source range: the co dout rows, then the (ci, a) input rows */
    int64_t line;        /* next cache line within it */
    int64_t per_step;    /* lines per pf_step() */
} prefetcher;

/* Source range r of the block: *p and *lines; false when empty (plane outside). */
static bool pf_range(const prefetcher *pf, int64_t r, const char **p, int64_t *lines)
{
    const wg_job *j = pf->j;
    const ax__conv3d_shape *s = j->s;
    int64_t off, len;
    const float *base;
    if (r < s->co) {
        base = j->dout;
        off = ((r * s->od + pf->z) * s->oh + pf->y0) * s->ow;
        len = pf->rows * s->ow;
    } else {
        int64_t i = (r - s->co) / s->kd, zz = pf->z + (r - s->co) % s->kd - s->pd;
        int64_t y0 = pf->y0 - s->ph, y1 = pf->y0 + pf->rows + s->kh - 1 - s->ph;
        if (y0 < 0) y0 = 0;
        if (y1 > s->ih) y1 = s->ih;
        if (zz < 0 || zz >= s->id || y1 <= y0) return false;
        base = j->in;
        off = ((i * s->id + zz) * s->ih + y0) * s->iw;
        len = (y1 - y0) * s->iw;
    }
    *p = (const char *)(base + off);
    *lines = (len * (int64_t)sizeof(float) + 63) / 64;
    return true;
}

static void pf_init(prefetcher *pf, const wg_job *j, int64_t blk, int64_t steps)
{
    const ax__conv3d_shape *s = j->s;
    *pf = (prefetcher){.j = j, .z = blk / j->bpz, .y0 = blk % j->bpz * j->nb};
    pf->rows = s->oh - pf->y0 < j->nb ? s->oh - pf->y0 : j->nb;
    int64_t total = 0, lines;
    const char *p;
    for (int64_t r = 0; r < s->co + s->ci * s->kd; r++)
        if (pf_range(pf, r, &p, &lines)) total += lines;
    pf->per_step = total / (steps > 0 ? steps : 1) + 1;
}

static void pf_step(prefetcher *pf)
{
    const ax__conv3d_shape *s = pf->j->s;
    int64_t left = pf->per_step, lines;
    const char *p;
    while (left > 0 && pf->range < s->co + s->ci * s->kd) {
        if (!pf_range(pf, pf->range, &p, &lines) || pf->line >= lines) {
            pf->range++;
            pf->line = 0;
            continue;
        }
        for (; left > 0 && pf->line < lines; left--, pf->line++)
            __builtin_prefetch(p + pf->line * 64, 0, 2);
    }
}

/* One chunk: its blocks in order, sums into its own partials. */
static int chunk_task(void *ctx, int64_t c, int thread)
{
    wg_job *j = ctx;
    const ax__conv3d_shape *s = j->s;
    float *dbuf = (float *)((char *)j->scratch_base + (size_t)thread * j->scratch_bytes);
    float *xbuf = dbuf + s->co * j->dstride;
    const float **tp = (const float **)(xbuf + s->ci * s->kd * j->xstride);
    int64_t *ti = (int64_t *)(tp + j->ntaps);

    float *part = j->part + c * j->nw;
    double *bpart = j->bpart ? j->bpart + c * s->co : NULL;
    memset(part, 0, (size_t)j->nw * sizeof *part);
    if (bpart) memset(bpart, 0, (size_t)s->co * sizeof *bpart);

    int64_t b0 = c * j->nblocks / j->nchunks, b1 = (c + 1) * j->nblocks / j->nchunks;
    for (int64_t blk = b0; blk < b1; blk++) {
        int64_t z = blk / j->bpz, y0 = blk % j->bpz * j->nb;
        int64_t rows = s->oh - y0 < j->nb ? s->oh - y0 : j->nb;
        int64_t n = round_up(rows * j->wp, 8);
        /* Without y/x padding the input rows already have the packed layout: read them in
         * place (no copy) unless the last vector would run past the plane. */
        bool direct = s->ph == 0 && s->pw == 0 &&
                      y0 * s->iw + n + (s->kh - 1) * s->iw + s->kw - 1 <= s->ih * s->iw;
        pack_block(j, z, y0, rows, dbuf, direct ? NULL : xbuf, bpart);

        /* the taps whose input plane exists, in dw order */
        int64_t nt = 0;
        for (int64_t i = 0; i < s->ci; i++)
            for (int64_t a = 0; a < s->kd; a++) {
                int64_t zz = z + a - s->pd;
                if (zz < 0 || zz >= s->id) continue;
                const float *slab = direct ? j->in + ((i * s->id + zz) * s->ih + y0) * s->iw
                                           : xbuf + (i * s->kd + a) * j->xstride;
                int64_t t0 = (i * s->kd + a) * s->kh * s->kw;
                for (int64_t b = 0; b < s->kh; b++)
                    for (int64_t cc = 0; cc < s->kw; cc++) {
                        tp[nt] = slab + b * j->wp + cc;
                        ti[nt++] = t0 + b * s->kw + cc;
                    }
            }

        prefetcher pf = {.j = j, .range = INT64_MAX}; /* nothing to fetch */
        int64_t ncalls = (s->co + TILE_CO - 1) / TILE_CO * ((nt + TILE_TAP - 1) / TILE_TAP);
        if (blk + 1 < b1) pf_init(&pf, j, blk + 1, ncalls);
        for (int64_t o = 0; o < s->co; o += TILE_CO) {
            int nco = s->co - o < TILE_CO ? (int)(s->co - o) : TILE_CO;
            const float *dp[TILE_CO];
            for (int k = 0; k < nco; k++) dp[k] = dbuf + (o + k) * j->dstride;
            for (int64_t t = 0; t < nt; t += TILE_TAP) {
                int ntap = nt - t < TILE_TAP ? (int)(nt - t) : TILE_TAP;
                float sums[TILE_CO * TILE_TAP];
                pf_step(&pf);
                j->tile(nco, ntap, dp, tp + t, n, sums);
                for (int k = 0; k < nco; k++)
                    for (int m = 0; m < ntap; m++)
                        part[(o + k) * j->ntaps + ti[t + m]] += sums[k * ntap + m];
            }
        }
    }
    return AX_OK;
}

/* part[0][range] = part[0] + part[1] + ... in chunk order (the same bits for any thread
 * count) */
static int sum_task(void *ctx, int64_t r, int thread)
{
    const wg_job *j = ctx;
    int64_t e0 = r * SUM_SPAN, e1 = e0 + SUM_SPAN < j->nw ? e0 + SUM_SPAN : j->nw;
    for (int64_t c = 1; c < j->nchunks; c++) {
        const float *pc = j->part + c * j->nw;
        for (int64_t e = e0; e < e1; e++) j->part[e] += pc[e];
    }
    return AX_OK;
}

int ax__conv3d_backward_weight(const ax__conv3d_shape *s, const float *in, const float *dout,
                               float *dw, float *dbias)
{
    /* Winograd F(3x3, 2x2) for kd x 3 x 3 layers on the AVX2 path: 1.3-2x faster than the
     * direct kernel from 12 x 24 channels up (bench/cnn/winograd_layers.c --pass w); at
     * 12 -> 12 its transformed input (~16x the input) makes it bandwidth-bound, a tie */
    if (ax__conv3d_winograd && !strcmp(ax_simd_name(), "avx2") && s->kh == 3 && s->kw == 3 &&
        s->ci * s->co >= 256) {
        int rc = ax__conv3d_backward_weight_winograd(s, in, dout, dw, dbias);
        if (rc != AX_E_UNSUPPORTED) return rc;
    }
    wg_job j = {.s = s, .in = in, .dout = dout, .tile = tile_generic};
#ifdef AX_HAVE_AVX2
    if (!strcmp(ax_simd_name(), "avx2")) j.tile = ax__conv3d_wgrad_tile_avx2;
#endif
    j.wp = s->iw + 2 * s->pw;
    int64_t nb = BLOCK_POS / j.wp > 1 ? BLOCK_POS / j.wp : 1;
    j.bpz = (s->oh + nb - 1) / nb;
    j.nb = (s->oh + j.bpz - 1) / j.bpz; /* even blocks */
    j.nblocks = s->od * j.bpz;
    int64_t npos = s->od * s->oh * s->ow;
    j.ntaps = s->ci * s->kd * s->kh * s->kw;
    j.nw = s->co * j.ntaps;
    j.nchunks = npos / CHUNK_POS;
    if (j.nchunks > MAX_CHUNKS) j.nchunks = MAX_CHUNKS;
    if (j.nchunks > j.nblocks) j.nchunks = j.nblocks;
    if (j.nchunks > PART_BYTES / (j.nw * (int64_t)sizeof(float)))
        j.nchunks = PART_BYTES / (j.nw * (int64_t)sizeof(float));
    if (j.nchunks < 1) j.nchunks = 1;
    /* +16: channel rows one cache line apart from a power-of-two stride (L1 set aliasing) */
    j.dstride = round_up(j.nb * j.wp, 16) + 16;
    j.xstride = round_up((j.nb + s->kh - 1) * j.wp + s->kw + 8, 16);
    j.scratch_bytes = (size_t)(s->co * j.dstride + s->ci * s->kd * j.xstride) * sizeof(float) +
                      (size_t)j.ntaps * (sizeof(const float *) + sizeof(int64_t));

    int nthreads = ax_threads_get();
    j.scratch_bytes = (j.scratch_bytes + 63) & ~(size_t)63; /* each slot 64-byte aligned */
    j.part = ax__scratch(AX_SCRATCH_WGRAD_PART, (size_t)(j.nchunks * j.nw) * sizeof *j.part);
    j.bpart = dbias ? ax__malloc_array((size_t)(j.nchunks * s->co), sizeof *j.bpart) : NULL;
    j.scratch_base = ax__scratch(AX_SCRATCH_WGRAD_THREADS, (size_t)nthreads * j.scratch_bytes);
    int rc = AX_OK;
    if (!j.part || (dbias && !j.bpart) || !j.scratch_base)
        rc = ax__err(AX_E_NOMEM, "conv3d backward weight: out of memory");
    if (rc == AX_OK) rc = ax_parallel_for(j.nchunks, chunk_task, &j);
    if (rc == AX_OK && j.nchunks > 1)
        rc = ax_parallel_for((j.nw + SUM_SPAN - 1) / SUM_SPAN, sum_task, &j);
    if (rc == AX_OK) {
        /* dw is touched only here, after every task succeeded: an interrupted or failed
         * call leaves dw and dbias as they were */
        for (int64_t e = 0; e < j.nw; e++) dw[e] += j.part[e];
        if (dbias)
            for (int64_t o = 0; o < s->co; o++) {
                double acc = 0;
                for (int64_t c = 0; c < j.nchunks; c++) acc += j.bpart[c * s->co + o];
                dbias[o] += (float)acc;
            }
    }
    free(j.bpart); /* part and the thread scratch are the caller's kept scratch */
    return rc;
}
