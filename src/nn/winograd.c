/* winograd.c: prototype Winograd F(2x2, 3x3) conv3d forward (valid, stride 1, kd x 3 x 3),
 * the driver and the portable kernels; the AVX2 + FMA kernels are in winograd_avx2.c.
 *
 * DESIGN. The output plane (y, x) is cut into 2x2 tiles (ceil(oh/2) x ceil(ow/2)), each
 * reading a 4x4 input patch at stride 2. For the kd taps in z the transform is not used:
 * every (ci, a) pair is one row k = ci * kd + a of a K = ci * kd "channel" dimension, so
 *   M[e][co][tile] = sum_k U[e][co][k] V[e][k][tile]        (16 GEMMs, e = 4i + j)
 *   U = G g G^T (g = w[co][ci][a], 3x3), V = B^T d B (d = in[ci][z + a] 4x4 patch)
 *   out[co][z][2ty + r][2tx + c] = bias + (A^T M A)[r][c]
 * U is computed once per call (packed [e][co / 4][k][4], co zero padded to 4). A task is
 * (block of NT consecutive tiles of the plane in row-major tile order, up to 8 consecutive
 * output planes z); it transforms the input of its block into V[16][K][NTP], each input
 * plane once per task (V's row ci * kd + plane % kd: output plane z + 1 reuses kd - 1 of
 * the planes of z, the GEMM reading the rows through an offset table by z % kd) (runs of tiles along a tile row, in vectors of
 * 8 tiles), runs the 16 GEMMs into M[16][co4][NTP] (register tile 4 co x 24 tiles), then
 * the output transform writes the 2x2 outputs (only the valid ones: partial tiles at the
 * right and bottom are computed on zero-padded input). NT is chosen so V stays within
 * ~400 KiB (L2) for small K. Each output is written by one task, and its sums (over k in
 * order, then the fixed transforms) depend on the shape only: the same bits for any thread
 * count. Buffers are per thread slot, allocated (zeroed) on first use in the call.
 *
 * Input reads past the edges (partial tiles, and the tail lanes of the last vector of a
 * run) go through a zero-padded copy of the 4 input rows, so no bounds tests are needed in
 * the kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/winograd.h"

/* ---- portable kernels (natural tile order within a vector) -------------------------- */

static void gen_itrans(const float *r, ptrdiff_t rs, int64_t n, float *V, ptrdiff_t es)
{
    for (int64_t t = 0; t < n; t++) {
        float d[4][4], u[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) d[i][j] = r[i * rs + 2 * t + j];
        for (int j = 0; j < 4; j++) { /* B^T d */
            u[0][j] = d[0][j] - d[2][j];
            u[1][j] = d[1][j] + d[2][j];
            u[2][j] = d[2][j] - d[1][j];
            u[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) { /* (B^T d) B */
            V[(4 * i + 0) * es + t] = u[i][0] - u[i][2];
            V[(4 * i + 1) * es + t] = u[i][1] + u[i][2];
            V[(4 * i + 2) * es + t] = u[i][2] - u[i][1];
            V[(4 * i + 3) * es + t] = u[i][1] - u[i][3];
        }
    }
}

static void gen_gemm(int64_t K, const float *U, const float *V, const ptrdiff_t *voff,
                     float *M, ptrdiff_t ms, int nv)
{
    float acc[4][24];
    int n = 8 * nv;
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < K; k++, U += 4)
        for (int c = 0; c < 4; c++)
            for (int x = 0; x < n; x++) acc[c][x] += U[c] * V[voff[k] + x];
    for (int c = 0; c < 4; c++) memcpy(M + c * ms, acc[c], (size_t)n * sizeof(float));
}

static void gen_otrans(const float *M, ptrdiff_t es, int64_t n, float bias, float *o0,
                       float *o1, int64_t ncols)
{
    for (int64_t t = 0; t < n && 2 * t < ncols; t++) {
        float m[4][4], p[4][2];
        for (int e = 0; e < 16; e++) m[e / 4][e % 4] = M[e * es + t];
        for (int i = 0; i < 4; i++) { /* M A */
            p[i][0] = m[i][0] + m[i][1] + m[i][2];
            p[i][1] = m[i][1] - m[i][2] - m[i][3];
        }
        for (int c = 0; c < 2 && 2 * t + c < ncols; c++) { /* A^T (M A) */
            o0[2 * t + c] = bias + (p[0][c] + p[1][c] + p[2][c]);
            if (o1) o1[2 * t + c] = bias + (p[1][c] - p[2][c] - p[3][c]);
        }
    }
}

static const ax__wino_kernels gen_kernels = {gen_itrans, gen_gemm, gen_otrans};

/* ---- the driver --------------------------------------------------------------------- */

typedef struct {
    float *V, *M, *rows; /* V[16][K][NTP], M[16][co4][NTP], rows[4][RW] */
    struct run *runs;    /* nt + 2 */
} wino_buf;

typedef struct {
    const ax__conv3d_shape *s;
    const ax__wino_kernels *kern;
    const float *in, *bias, *U;
    const ptrdiff_t *voff;  /* [kd][K]: V's row offsets of the taps, by z % kd */
    float *out;
    int64_t K, co4;
    int64_t th, tw, ntiles; /* tile rows, tiles per row, tiles per plane */
    int64_t nt, nblk;       /* tiles per block, blocks per plane */
    int64_t zchunk, nzc;    /* output planes per task, chunks per block */
    int64_t ntp;            /* V / M row stride: nt + 16 (the spill of a run, and off 64 B) */
    int64_t rw;             /* floats per row of `rows` */
    wino_buf *buf;          /* one per thread slot */
    int nbuf;
} wino_job;

/* U[e][co / 4][k][co % 4] = (G g G^T)[e] of g = w[co][ci][a] (k = ci * kd + a) */
static void transform_weights(const ax__conv3d_shape *s, const float *w, int64_t co4,
                              float *U)
{
    int64_t K = s->ci * s->kd;
    memset(U, 0, (size_t)(16 * co4 * K) * sizeof *U);
    for (int64_t o = 0; o < s->co; o++)
        for (int64_t k = 0; k < K; k++) {
            const float *g = w + (o * K + k) * 9; /* [co][ci][kd][3][3]: (o, ci, a) = o*K+k */
            float t[4][3], u[4][4];
            for (int c = 0; c < 3; c++) { /* G g */
                t[0][c] = g[c];
                t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                t[3][c] = g[6 + c];
            }
            for (int i = 0; i < 4; i++) { /* (G g) G^T */
                u[i][0] = t[i][0];
                u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[i][3] = t[i][2];
            }
            for (int e = 0; e < 16; e++)
                U[((e * (co4 / 4) + o / 4) * K + k) * 4 + o % 4] = u[e / 4][e % 4];
        }
}

/* a run: n tiles of tile row ty from tx0, at column col0 of the block */
typedef struct run {
    int64_t ty, tx0, n, col0;
} run;

/* the runs of tiles [t0, t1) of a plane (at most t1 - t0) */
static int64_t block_runs(const wino_job *j, int64_t t0, int64_t t1, run *r)
{
    int64_t nr = 0;
    for (int64_t t = t0; t < t1;) {
        int64_t ty = t / j->tw, tx = t % j->tw;
        int64_t n = j->tw - tx < t1 - t ? j->tw - tx : t1 - t;
        r[nr++] = (run){ty, tx, n, t - t0};
        t += n;
    }
    return nr;
}

static int wino_task(void *ctx, int64_t task, int thread)
{
    wino_job *j = ctx;
    const ax__conv3d_shape *s = j->s;
    AX_ASSERT(thread >= 0 && thread < j->nbuf);
    wino_buf *b = &j->buf[thread];
    int64_t K = j->K, ntp = j->ntp;
    if (!b->V) {
        b->V = ax__aligned_alloc((size_t)(16 * K * ntp) * sizeof(float));
        b->M = ax__aligned_alloc((size_t)(16 * j->co4 * ntp) * sizeof(float));
        b->rows = ax__aligned_alloc((size_t)(4 * j->rw) * sizeof(float));
        b->runs = ax__malloc_array((size_t)j->nt + 2, sizeof *b->runs);
        if (!b->V || !b->M || !b->rows || !b->runs)
            return ax__err(AX_E_NOMEM, "winograd: out of memory");
        /* columns past the last run of a block are computed but never stored: keep them
         * finite (no NaN or denormal slow paths) */
        memset(b->V, 0, (size_t)(16 * K * ntp) * sizeof(float));
        memset(b->M, 0, (size_t)(16 * j->co4 * ntp) * sizeof(float));
    }
    int64_t blk = task / j->nzc, z0 = task % j->nzc * j->zchunk;
    int64_t z1 = z0 + j->zchunk < s->od ? z0 + j->zchunk : s->od;
    int64_t t0 = blk * j->nt, t1 = t0 + j->nt < j->ntiles ? t0 + j->nt : j->ntiles;
    run *runs = b->runs;
    int64_t nr = block_runs(j, t0, t1, runs);
    int64_t ncol = t1 - t0, ncolv = (ncol + 7) / 8; /* vectors of 8 tiles */
    const ax__wino_kernels *kn = j->kern;
    ptrdiff_t ves = K * ntp, mes = j->co4 * ntp; /* V's and M's strides between e */
    int64_t ncob = j->co4 / 4, kd = s->kd;

    for (int64_t z = z0; z < z1; z++) {
        /* input transform of the planes not yet in V (all kd at z0, then one), run by run
         * (a run's last vector spills into the next run's columns, which that run then
         * overwrites): plane p of channel ci goes to row k = ci * kd + p % kd */
        int64_t p0 = z == z0 ? z : z + kd - 1;
        for (int64_t ri = 0; ri < nr; ri++) {
            const run *r = &runs[ri];
            int64_t nv = (r->n + 7) / 8;
            int64_t y0 = 2 * r->ty, x0 = 2 * r->tx0, need = 16 * nv + 2;
            bool inside = y0 + 4 <= s->ih && x0 + need <= s->iw;
            for (int64_t pl = p0; pl < z + kd; pl++)
                for (int64_t ci = 0; ci < s->ci; ci++) {
                    const float *p = j->in + ((ci * s->id + pl) * s->ih + y0) * s->iw + x0;
                    ptrdiff_t rs = s->iw;
                    if (!inside) { /* zero-padded copy of the 4 rows */
                        int64_t nx = s->iw - x0 < need ? s->iw - x0 : need;
                        for (int i = 0; i < 4; i++) {
                            float *d = b->rows + i * j->rw;
                            if (y0 + i < s->ih) {
                                memcpy(d, p + i * s->iw, (size_t)nx * sizeof *d);
                                memset(d + nx, 0, (size_t)(need - nx) * sizeof *d);
                            } else {
                                memset(d, 0, (size_t)need * sizeof *d);
                            }
                        }
                        p = b->rows, rs = j->rw;
                    }
                    kn->itrans(p, rs, r->n, b->V + (ci * kd + pl % kd) * ntp + r->col0, ves);
                }
        }

        /* the 16 GEMMs: M[e] (co4 x ncol) = U[e] (co4 x K) V[e] (K x ncol), V's rows in
         * the order of U's (taps (ci, a)) through the offsets for z % kd */
        const ptrdiff_t *voff = j->voff + z % kd * K;
        for (int e = 0; e < 16; e++) {
            const float *Ue = j->U + e * ncob * K * 4;
            const float *Ve = b->V + e * ves;
            float *Me = b->M + e * mes;
            for (int64_t cv = 0; cv < ncolv; cv += 3) {
                int nv = (int)(ncolv - cv < 3 ? ncolv - cv : 3);
                for (int64_t cb = 0; cb < ncob; cb++)
                    kn->gemm(K, Ue + cb * K * 4, Ve + 8 * cv, voff, Me + cb * 4 * ntp + 8 * cv,
                             ntp, nv);
            }
        }

        /* output transform */
        for (int64_t o = 0; o < s->co; o++) {
            float bias = j->bias ? j->bias[o] : 0.0f;
            for (int64_t ri = 0; ri < nr; ri++) {
                const run *r = &runs[ri];
                int64_t y = 2 * r->ty, x0 = 2 * r->tx0;
                int64_t xend = 2 * (r->tx0 + r->n) < s->ow ? 2 * (r->tx0 + r->n) : s->ow;
                float *o0 = j->out + ((o * s->od + z) * s->oh + y) * s->ow + x0;
                kn->otrans(b->M + o * ntp + r->col0, mes, r->n, bias, o0,
                           y + 1 < s->oh ? o0 + s->ow : NULL, xend - x0);
            }
        }
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

int ax__conv3d_forward_winograd(const ax__conv3d_shape *s, const float *in, const float *w,
                                const float *bias, float *out)
{
    if (!s) return ax__err(AX_E_INVALID, "winograd: no shape");
    ax__conv3d_shape t = *s;
    int rc = ax__conv3d_shape_init(&t);
    if (rc) return rc;
    if (t.od != s->od || t.oh != s->oh || t.ow != s->ow)
        return ax__err(AX_E_INVALID, "winograd: output shape does not match the input");
    if (s->kh != 3 || s->kw != 3 || s->pd || s->ph || s->pw)
        return ax__err(AX_E_UNSUPPORTED,
                       "winograd: only valid (unpadded) kd x 3 x 3 convolutions, not "
                       "%lldx%lldx%lld with padding %lld,%lld,%lld", (long long)s->kd,
                       (long long)s->kh, (long long)s->kw, (long long)s->pd,
                       (long long)s->ph, (long long)s->pw);
    if (!in || !w || !out) return ax__err(AX_E_INVALID, "winograd: missing tensor");
    int64_t n;
    if (!ax__mul_ok(s->ci, s->id * s->ih, &n) || !ax__mul_ok(n, s->iw, &n) ||
        !ax__mul_ok(s->co + 3, s->od * s->oh, &n) || !ax__mul_ok(n, s->ow, &n) ||
        !ax__mul_ok(s->ci * s->kd, s->co + 3, &n) || n > INT64_MAX / 64 / s->kd)
        return ax__err(AX_E_INVALID, "winograd: tensors too large");

    wino_job j = {.s = s, .kern = use_avx2() ? NULL : &gen_kernels, .in = in, .bias = bias,
                  .out = out};
#ifdef AX_HAVE_AVX2
    if (!j.kern) j.kern = &ax__wino_kernels_avx2;
#endif
    j.K = s->ci * s->kd;
    j.co4 = (s->co + 3) / 4 * 4;
    j.th = (s->oh + 1) / 2, j.tw = (s->ow + 1) / 2, j.ntiles = j.th * j.tw;
    /* tiles per block: V (16 K NT floats) about 384 KiB, 48 .. 240 tiles, in multiples of
     * 24 (the GEMM's register tile); then balanced over the plane's blocks */
    int64_t nt = 6144 / j.K / 24 * 24;
    if (nt < 48) nt = 48;
    if (nt > 240) nt = 240;
    j.nblk = (j.ntiles + nt - 1) / nt;
    j.nt = (j.ntiles + j.nblk - 1) / j.nblk;
    j.nt = (j.nt + 7) / 8 * 8;
    j.nblk = (j.ntiles + j.nt - 1) / j.nt;
    j.ntp = j.nt + 8 + 8; /* spill of a run's last vector, and off a multiple of 64 B */
    j.rw = 16 * ((j.nt + 7) / 8 + 1) + 16;

    /* output planes per task: each input plane's V serves kd of them, the first kd - 1
     * planes of a task are transformed again by the task before; >= 16 tasks */
    j.zchunk = s->od < 8 ? s->od : 8;
    while (j.zchunk > 1 && j.nblk * ((s->od + j.zchunk - 1) / j.zchunk) < 16) j.zchunk--;
    j.nzc = (s->od + j.zchunk - 1) / j.zchunk;

    float *U = ax__aligned_alloc((size_t)(16 * j.co4 * j.K) * sizeof *U);
    /* V's row of tap k = (ci, a) for output plane z: ci * kd + (z + a) % kd, by z % kd */
    ptrdiff_t *voff = ax__malloc_array((size_t)(s->kd * j.K), sizeof *voff);
    j.nbuf = ax_threads_get();
    j.buf = ax__calloc((size_t)j.nbuf, sizeof *j.buf);
    if (!U || !voff || !j.buf) {
        free(U), free(voff), free(j.buf);
        return ax__err(AX_E_NOMEM, "winograd: out of memory");
    }
    transform_weights(s, w, j.co4, U);
    j.U = U;
    for (int64_t ph = 0; ph < s->kd; ph++)
        for (int64_t k = 0; k < j.K; k++)
            voff[ph * j.K + k] = (k / s->kd * s->kd + (k % s->kd + ph) % s->kd) * j.ntp;
    j.voff = voff;
    rc = ax_parallel_for(j.nblk * j.nzc, wino_task, &j);
    for (int i = 0; i < j.nbuf; i++) free(j.buf[i].V), free(j.buf[i].M), free(j.buf[i].rows),
                                          free(j.buf[i].runs);
    free(j.buf), free(U), free(voff);
    return rc;
}
