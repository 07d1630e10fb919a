/* winograd_wgrad.c: conv3d weight gradient by Winograd F(3x3, 2x2) in the (y, x) plane, the
 * kd taps direct (math: winograd_wgrad.h). Driver and portable kernels; the AVX2 + FMA
 * kernels are in winograd_wgrad_avx2.c.
 *
 * DESIGN. The dout plane is cut into 2x2 tiles (th x tw = ceil(oh/2) x ceil(ow/2); missing
 * dout is zero), each reading a 4x4 patch of the zero-padded input at stride 2. With the
 * kd taps folded into the columns, k = a * ci + i, the whole gradient is 16 GEMMs
 *   M[e][co][k] = sum over (z, tile) of Q_z[e][tile][co] * W_z[e][tile][k],
 *   W_z[e][tile][a * ci + i] = V[e] of input channel i, plane z + a - pd,
 * reduction over the tiles (and planes). The transforms work channel-last (8 channels per
 * vector): the rows a tile row needs are first copied to [x][c] buffers (zero padded in
 * x, y and c), so one tile's transform is a handful of vector adds for 8 channels, and its
 * results are stored straight into GEMM rows (each transformed input plane into the kd
 * W_z it serves, at column offset a * ci).
 *
 * A unit of work is (nrb tile rows, nz output planes): its Q and W (16 x nz * nrb * tw rows)
 * stay about 1 MiB, so one e's slice is L2-sized during its GEMM, and the GEMM's reduction
 * runs over all nz * nrb * tw rows before touching M. Units are grouped into chunks by
 * the shape only; each chunk (one task) sums into its own partial M (and dbias), the
 * partials are added in chunk order, then the output transform adds G'^T M G' into dw:
 * the same bits for any thread count, and dw/dbias are written only after every task
 * succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/winograd_wgrad.h"

#ifndef WWG_UNIT_BYTES
#define WWG_UNIT_BYTES (1 << 20)
#endif
enum {
    UNIT_BYTES = WWG_UNIT_BYTES, /* Q + W of a unit */
    MAX_CHUNKS = 16,
    PART_BYTES = 32 << 20, /* all partial M together */
    SUM_SPAN = 16384
};

/* ---- portable kernels ------------------------------------------------------------- */

static void gen_gemm(int64_t nc, int64_t kc, int64_t n, const float *Q, ptrdiff_t qs,
                     const float *W, ptrdiff_t ws, float *M, ptrdiff_t ms)
{
    for (int64_t c0 = 0; c0 < nc; c0 += 4) {
        int m = nc - c0 < 4 ? (int)(nc - c0) : 4;
        for (int64_t k0 = 0; k0 < kc; k0 += 16) {
            int kk = kc - k0 < 16 ? (int)(kc - k0) : 16;
            float acc[4][16] = {{0}};
            for (int64_t r = 0; r < n; r++) {
                const float *q = Q + r * qs + c0, *w = W + r * ws + k0;
                for (int c = 0; c < m; c++)
                    for (int k = 0; k < kk; k++) acc[c][k] += q[c] * w[k];
            }
            for (int c = 0; c < m; c++)
                for (int k = 0; k < kk; k++) M[(c0 + c) * ms + k0 + k] += acc[c][k];
        }
    }
}

static void gen_itrans(const float *X, ptrdiff_t xrs, int64_t ntx, int64_t c8,
                       float *const *dst, int nd, ptrdiff_t es, ptrdiff_t ts)
{
    ax__wwg_itrans_row(X, xrs, ntx, c8, dst, nd, es, ts);
}

static void gen_dtrans(const float *D, ptrdiff_t drs, int64_t ntx, int64_t c8, float *dst,
                       ptrdiff_t es, ptrdiff_t ts)
{
    ax__wwg_dtrans_row(D, drs, ntx, c8, dst, es, ts);
}

static void gen_pack(const float *src, ptrdiff_t cs, int64_t nc, int64_t nx, float *dst,
                     int64_t c8)
{
    for (int64_t c = 0; c < nc; c++)
        for (int64_t x = 0; x < nx; x++) dst[x * c8 + c] = src[c * cs + x];
}

/* ---- the driver --------------------------------------------------------------------- */

typedef struct {
    const ax__conv3d_shape *s;
    const float *in, *dout;
    ax__wwg_gemm_fn gemm;
    void (*itrans)(const float *, ptrdiff_t, int64_t, int64_t, float *const *, int, ptrdiff_t,
                   ptrdiff_t);
    void (*dtrans)(const float *, ptrdiff_t, int64_t, int64_t, float *, ptrdiff_t, ptrdiff_t);
    void (*pack)(const float *, ptrdiff_t, int64_t, int64_t, float *, int64_t);
    int64_t th, tw;           /* tile rows, tiles per row */
    int64_t nrb, nz;          /* tile rows and output planes per unit */
    int64_t nrblk, nzg, nunits, nchunks;
    int64_t ci8, co8;         /* channels rounded up to 8 */
    int64_t K, kc, kp;        /* kd * ci; its round-up to 8 (GEMM columns); W row stride */
    int64_t xw, xrs, drs;     /* X columns (2 tw + 2), X and D row strides (floats) */
    int64_t maxrows;          /* nz * nrb * tw: GEMM rows of a unit at most */
    int64_t qes, wes;         /* Q's and W's strides between e */
    int64_t msize;            /* floats of one partial M: 16 * co * kc */
    size_t xoff, doff, qoff, woff, slot_floats;
    float *scratch;           /* per thread slot */
    float *part;              /* nchunks x msize */
    double *bpart;            /* nchunks x co, NULL without dbias */
} wwg_job;

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* X[r][xp][c] = input channel c, real plane zz, padded row pr0 + r, padded column xp (zero
 * outside the input and for c >= ci) */
static void pack_input(const wwg_job *j, int64_t zz, int64_t pr0, int64_t nrows, float *X)
{
    const ax__conv3d_shape *s = j->s;
    memset(X, 0, (size_t)(nrows * j->xrs) * sizeof *X);
    if (zz < 0 || zz >= s->id) return;
    int64_t c8 = j->ci8;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t y = pr0 + r - s->ph;
        if (y < 0 || y >= s->ih) continue;
        int64_t x0 = s->pw, nx = s->iw;
        if (x0 + nx > j->xw) nx = j->xw - x0;
        j->pack(j->in + (zz * s->ih + y) * s->iw, s->id * s->ih * s->iw, s->ci, nx,
                X + r * j->xrs + x0 * c8, c8);
    }
}

/* D[r][x][c] = dout channel c, plane z, row y0 + r, column x (zero past the edges); adds
 * the rows' sums to bsum */
static void pack_dout(const wwg_job *j, int64_t z, int64_t y0, int64_t nrows, float *D,
                      double *bsum)
{
    const ax__conv3d_shape *s = j->s;
    memset(D, 0, (size_t)(nrows * j->drs) * sizeof *D);
    int64_t c8 = j->co8;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t y = y0 + r;
        if (y >= s->oh) break;
        const float *src0 = j->dout + (z * s->oh + y) * s->ow;
        j->pack(src0, s->od * s->oh * s->ow, s->co, s->ow, D + r * j->drs, c8);
        for (int64_t c = 0; bsum && c < s->co; c++) {
            const float *src = src0 + c * s->od * s->oh * s->ow;
            float acc[8] = {0};
            int64_t x = 0;
            for (; x + 8 <= s->ow; x += 8)
                for (int k = 0; k < 8; k++) acc[k] += src[x + k];
            for (; x < s->ow; x++) acc[x & 7] += src[x];
            bsum[c] += (((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3])) +
                       (((double)acc[4] + acc[5]) + ((double)acc[6] + acc[7]));
        }
    }
}

static int chunk_task(void *ctx, int64_t ch, int thread)
{
    const wwg_job *j = ctx;
    const ax__conv3d_shape *s = j->s;
    float *base = j->scratch + (size_t)thread * j->slot_floats;
    float *X = base + j->xoff, *D = base + j->doff, *Q = base + j->qoff, *W = base + j->woff;
    float *M = j->part + ch * j->msize;
    double *bsum = j->bpart ? j->bpart + ch * s->co : NULL;
    memset(M, 0, (size_t)j->msize * sizeof *M);
    if (bsum) memset(bsum, 0, (size_t)s->co * sizeof *bsum);
    /* columns no transform writes (past the last a-block's vectors) stay zero */
    memset(W, 0, (size_t)(16 * j->wes) * sizeof *W);

    int64_t u0 = ch * j->nunits / j->nchunks, u1 = (ch + 1) * j->nunits / j->nchunks;
    float *dst[64];
    for (int64_t u = u0; u < u1; u++) {
        int64_t rb = u / j->nzg, zg = u % j->nzg;
        int64_t ty0 = rb * j->nrb, nr = j->th - ty0 < j->nrb ? j->th - ty0 : j->nrb;
        int64_t z0 = zg * j->nz, nzu = s->od - z0 < j->nz ? s->od - z0 : j->nz;
        int64_t nt = nr * j->tw; /* GEMM rows per plane */

        for (int64_t zi = 0; zi < nzu; zi++) {
            pack_dout(j, z0 + zi, 2 * ty0, 2 * nr, D, bsum);
            for (int64_t r = 0; r < nr; r++)
                j->dtrans(D + 2 * r * j->drs, j->drs, j->tw, j->co8,
                          Q + (zi * nt + r * j->tw) * j->co8, j->qes, j->co8);
        }
        /* padded input planes p = z + a serve W_z at column a * ci */
        for (int64_t p = z0; p < z0 + nzu + s->kd - 1; p++) {
            pack_input(j, p - s->pd, 2 * ty0, 2 * nr + 2, X);
            for (int64_t r = 0; r < nr; r++) {
                for (int64_t a = 0; a < s->kd; a++) {
                    int64_t z = p - a;
                    dst[a] = z >= z0 && z < z0 + nzu
                                 ? W + ((z - z0) * nt + r * j->tw) * j->kp + a * s->ci
                                 : NULL;
                }
                j->itrans(X + 2 * r * j->xrs, j->xrs, j->tw, j->ci8, dst, (int)s->kd, j->wes,
                          j->kp);
            }
        }
        for (int e = 0; e < 16; e++)
            j->gemm(s->co, j->kc, nzu * nt, Q + e * j->qes, j->co8, W + e * j->wes, j->kp,
                    M + e * s->co * j->kc, j->kc);
    }
    return AX_OK;
}

static int sum_task(void *ctx, int64_t r, int thread)
{
    const wwg_job *j = ctx;
    int64_t e0 = r * SUM_SPAN, e1 = e0 + SUM_SPAN < j->msize ? e0 + SUM_SPAN : j->msize;
    for (int64_t c = 1; c < j->nchunks; c++) {
        const float *pc = j->part + c * j->msize;
        for (int64_t e = e0; e < e1; e++) j->part[e] += pc[e];
    }
    return AX_OK;
}

static bool use_avx2(void)
{
#ifdef AX_HAVE_AVX2
    return !strcmp(ax_simd_name(), "avx2");
#else
    return false;
#endif
}

int ax__conv3d_backward_weight_winograd(const ax__conv3d_shape *s, const float *in,
                                        const float *dout, float *dw, float *dbias)
{
    if (!s) return ax__err(AX_E_INVALID, "winograd wgrad: no shape");
    ax__conv3d_shape t = *s;
    int rc = ax__conv3d_shape_init(&t);
    if (rc) return rc;
    if (t.od != s->od || t.oh != s->oh || t.ow != s->ow)
        return ax__err(AX_E_INVALID, "winograd wgrad: output shape does not match the input");
    if (s->kh != 3 || s->kw != 3)
        return ax__err(AX_E_UNSUPPORTED,
                       "winograd wgrad: only kd x 3 x 3 kernels, not %lldx%lldx%lld",
                       (long long)s->kd, (long long)s->kh, (long long)s->kw);
    if (s->kd > 64)
        return ax__err(AX_E_UNSUPPORTED, "winograd wgrad: kd %lld > 64", (long long)s->kd);
    if (!in || !dout || !dw) return ax__err(AX_E_INVALID, "winograd wgrad: missing tensor");
    int64_t n;
    if (!ax__mul_ok(s->ci + 8, s->id * (s->ih + 4), &n) || !ax__mul_ok(n, s->iw + 4, &n) ||
        !ax__mul_ok(s->co + 8, s->od * (s->oh + 2), &n) || !ax__mul_ok(n, s->ow + 2, &n) ||
        !ax__mul_ok(s->kd * (s->ci + 8), (s->co + 8) * 64, &n) ||
        !ax__mul_ok((s->ci + s->co + 16) * s->kd, (s->ow + 4) * 512, &n))
        return ax__err(AX_E_INVALID, "winograd wgrad: tensors too large");

    wwg_job j = {.s = s, .in = in, .dout = dout, .gemm = gen_gemm, .itrans = gen_itrans,
                 .dtrans = gen_dtrans, .pack = gen_pack};
    if (use_avx2()) {
#ifdef AX_HAVE_AVX2
        j.gemm = ax__wwg_gemm_avx2, j.itrans = ax__wwg_itrans_avx2;
        j.dtrans = ax__wwg_dtrans_avx2, j.pack = ax__wwg_pack_avx2;
#endif
    }
    j.th = (s->oh + 1) / 2, j.tw = (s->ow + 1) / 2;
    j.ci8 = round_up(s->ci, 8), j.co8 = round_up(s->co, 8);
    j.K = s->kd * s->ci;
    j.kc = round_up(j.K, 8);
    j.kp = (s->kd - 1) * s->ci + j.ci8; /* the last a-block's vectors */
    if (j.kp < j.kc) j.kp = j.kc;
    j.kp = round_up(j.kp, 8);
    /* unit: GEMM rows (tile, plane) within UNIT_BYTES of Q + W; planes first (each unit
     * transforms kd - 1 input planes again), up to 8, then tile rows */
    int64_t row_bytes = 16 * (j.kp + j.co8) * (int64_t)sizeof(float);
    int64_t rows = UNIT_BYTES / row_bytes;
    j.nz = rows / j.tw;
    if (j.nz > 8) j.nz = 8;
    if (j.nz > s->od) j.nz = s->od;
    if (j.nz < 1) j.nz = 1;
    j.nrb = rows / (j.tw * j.nz);
    if (j.nrb > j.th) j.nrb = j.th;
    if (j.nrb < 1) j.nrb = 1;
    j.nrblk = (j.th + j.nrb - 1) / j.nrb;
    j.nrb = (j.th + j.nrblk - 1) / j.nrblk; /* even blocks */
    j.nzg = (s->od + j.nz - 1) / j.nz;
    j.nz = (s->od + j.nzg - 1) / j.nzg;
    j.nunits = j.nrblk * j.nzg;
    j.msize = 16 * s->co * j.kc;
    j.nchunks = j.nunits < MAX_CHUNKS ? j.nunits : MAX_CHUNKS;
    if (j.nchunks > PART_BYTES / (j.msize * (int64_t)sizeof(float)))
        j.nchunks = PART_BYTES / (j.msize * (int64_t)sizeof(float));
    if (j.nchunks < 1) j.nchunks = 1;

    j.xw = 2 * j.tw + 2;
    j.xrs = j.xw * j.ci8;
    j.drs = 2 * j.tw * j.co8;
    j.maxrows = j.nz * j.nrb * j.tw;
    j.qes = round_up(j.maxrows * j.co8, 16) + 8; /* off a multiple of 64 B */
    j.wes = round_up(j.maxrows * j.kp, 16) + 8;
    j.xoff = 0;
    j.doff = (size_t)round_up((2 * j.nrb + 2) * j.xrs, 16);
    j.qoff = j.doff + (size_t)round_up(2 * j.nrb * j.drs, 16);
    j.woff = j.qoff + (size_t)round_up(16 * j.qes, 16);
    j.slot_floats = j.woff + (size_t)round_up(16 * j.wes, 16);

    int nthreads = ax_threads_get();
    j.part = ax__scratch(AX_SCRATCH_WGRAD_PART, (size_t)(j.nchunks * j.msize) * sizeof(float));
    j.scratch = ax__scratch(AX_SCRATCH_WGRAD_THREADS,
                            (size_t)nthreads * j.slot_floats * sizeof(float));
    j.bpart = dbias ? ax__malloc_array((size_t)(j.nchunks * s->co), sizeof *j.bpart) : NULL;
    if (!j.part || !j.scratch || (dbias && !j.bpart))
        rc = ax__err(AX_E_NOMEM, "winograd wgrad: out of memory");
    if (rc == AX_OK) rc = ax_parallel_for(j.nchunks, chunk_task, &j);
    if (rc == AX_OK && j.nchunks > 1)
        rc = ax_parallel_for((j.msize + SUM_SPAN - 1) / SUM_SPAN, sum_task, &j);
    if (rc == AX_OK) {
        /* output transform dw[co][i][a] += G'^T M G', only now that every task succeeded */
        const float *M = j.part;
        int64_t es = s->co * j.kc;
        for (int64_t o = 0; o < s->co; o++)
            for (int64_t k = 0; k < j.K; k++) {
                int64_t a = k / s->ci, i = k % s->ci;
                float m[4][4], p[4][3];
                for (int e = 0; e < 16; e++) m[e / 4][e % 4] = M[e * es + o * j.kc + k];
                for (int r = 0; r < 4; r++) {
                    p[r][0] = m[r][0] + m[r][1] + m[r][2];
                    p[r][1] = m[r][1] - m[r][2];
                    p[r][2] = m[r][1] + m[r][2] + m[r][3];
                }
                float *g = dw + ((o * s->ci + i) * s->kd + a) * 9;
                for (int c = 0; c < 3; c++) {
                    g[0 + c] += p[0][c] + p[1][c] + p[2][c];
                    g[3 + c] += p[1][c] - p[2][c];
                    g[6 + c] += p[1][c] + p[2][c] + p[3][c];
                }
            }
        if (dbias)
            for (int64_t o = 0; o < s->co; o++) {
                double acc = 0;
                for (int64_t c = 0; c < j.nchunks; c++) acc += j.bpart[c * s->co + o];
                dbias[o] += (float)acc;
            }
    }
    free(j.bpart);
    return rc;
}
