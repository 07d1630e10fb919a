/* cc.c: connected components of label volumes, in memory (ax_cc_label) and block by block
 * from a volume on disk (ax_cc_volume).
 *
 * ALGORITHM: run-based two-pass labelling. Every row (z, y) is cut into runs: maximal
 * stretches of one non-zero value (of foreground, for a thresholded input). A run joins the
 * runs it touches in the earlier neighbouring rows: (z, y-1) and (z-1, y) (overlap in x,
 * widened by one voxel for 18/26), and for 18/26 also (z-1, y-1) and (z-1, y+1) (exact
 * overlap for 18, widened for 26). The union-find over runs always hangs the larger root
 * under the smaller one, so a parent index is always below its child's and a root is the
 * first run of its component in raster order: one forward pass then numbers components
 * 1..n in the raster order of their first voxel, in place.
 *
 * In memory the rows are cut into slabs labelled in parallel; the rows that start a slab
 * are then joined to the rows before it, over the slabs' local labels (numbered slab after
 * slab, so again the smallest is the raster-first), and a parallel pass writes the ids.
 *
 * Block-wise (the seam rule): pass 1 labels every block on its own and keeps its number of
 * local components, each one's first voxel (global raster index) and value, and the local
 * labels of its six faces, run-length coded. The seam pass then joins each block's lower
 * face on every axis to the facing plane of the blocks before it on that axis: the face
 * neighbour for 6-connectivity, plus the edge-sharing ones for 18 and the corner-sharing
 * ones for 26; a voxel on the face meets the voxels of the facing plane at in-plane offsets
 * (0,0) (6), plus (+-1,0), (0,+-1) (18), plus the four diagonals (26). Every pair of
 * touching voxels in different blocks differs in the block index on some axis and is met
 * there. This union-find over all local components runs on all threads at once (lock-free,
 * compare-and-swap on roots). Components are then ordered by their global first voxel
 * (radix sort) and numbered 1..n, so the ids equal ax_cc_label's exactly. Pass 2 labels each
 * block again (the same local labels: labelling is deterministic), maps them to the final
 * ids and writes the block.
 *
 * MEMORY: in memory, 20 bytes per run (a blob-like volume has few runs per row). Block-wise,
 * per thread one block of input and one of output plus its runs; overall 32 bytes per local
 * component (first voxel, value, union-find, final id) and the run-length coded faces.
 *
 * PERFORMANCE: rows are scanned for runs with AVX2 where the CPU has it (AX_SIMD=generic
 * turns it off); union-find work is per run, not per voxel.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "seg/seg_int.h"

#if defined(AX_HAVE_AVX2) && defined(__GNUC__)
#include <immintrin.h>
#define CC_AVX2 1
#endif

/* runs are indexed with uint32: boxes (slabs, blocks) hold at most this many voxels */
#define CC_BOX_MAX_VOXELS ((int64_t)1 << 31)

typedef struct cc_run {
    int32_t x0, x1; /* [x0, x1) */
} cc_run;
_Static_assert(sizeof(cc_run) == 2 * sizeof(int32_t), "runs_u8_avx2 writes runs as int32 pairs");

/* ---- row sources: where runs come from ---------------------------------------------- */

enum { CC_CMP = 0, CC_ALL = 1, CC_NONE = 2 };

typedef struct cc_src {
    const void *data; /* rows of nx elements, C order */
    ax_dtype dtype;   /* AX_DTYPE_U64 for labels */
    bool binary;      /* foreground = value > threshold, all of one value */
    int mode;         /* binary: CC_CMP, or every / no voxel is foreground */
    uint64_t ucut;    /* unsigned: value > ucut */
    int64_t icut;     /* int32: value > icut */
    double fcut;      /* float32: value > fcut */
    int64_t nx;
} cc_src;

/* value > t for an integer value of [lo, hi]: value > floor(t), clamped to the range */
static void src_set_threshold(cc_src *s, double t)
{
    s->binary = true;
    s->mode = CC_CMP;
    double f = floor(t);
    double lo = 0, hi = 0;
    switch (s->dtype) {
    case AX_DTYPE_U8: hi = 255; break;
    case AX_DTYPE_U16: hi = 65535; break;
    case AX_DTYPE_U32: hi = 4294967295.0; break;
    case AX_DTYPE_U64: hi = 18446744073709551615.0; break; /* rounds to 2^64 */
    case AX_DTYPE_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    default: s->fcut = t; return; /* float32: compared as double */
    }
    if (f < lo) s->mode = CC_ALL;
    else if (f >= hi) s->mode = CC_NONE;
    else if (s->dtype == AX_DTYPE_I32) s->icut = (int64_t)f;
    else s->ucut = (uint64_t)f;
}

static int64_t src_max_runs(const cc_src *s)
{
    return s->binary ? (s->nx + 1) / 2 : s->nx;
}

/* Runs of equal non-zero values of a uint64 row. */
static uint32_t runs_u64_generic(const uint64_t *row, int64_t nx, cc_run *out, uint64_t *vals)
{
    uint32_t n = 0;
    int64_t x = 0;
    while (x < nx) {
        uint64_t v = row[x];
        if (!v) {
            x++;
            continue;
        }
        int64_t s = x++;
        while (x < nx && row[x] == v) x++;
        out[n].x0 = (int32_t)s;
        out[n].x1 = (int32_t)x;
        vals[n++] = v;
    }
    return n;
}

/* Foreground runs of a row, one function per dtype: the predicate is inlined in the scan. */
#define CC_RUNS_BINARY(NAME, T, FG)                                                        \
    static uint32_t NAME(const T *row, int64_t nx, const cc_src *s, cc_run *out)           \
    {                                                                                      \
        (void)s;                                                                           \
        uint32_t n = 0;                                                                    \
        int64_t x = 0;                                                                     \
        for (;;) {                                                                         \
            while (x < nx && !(FG)) x++;                                                   \
            if (x >= nx) break;                                                            \
            int64_t b = x;                                                                 \
            while (x < nx && (FG)) x++;                                                    \
            out[n].x0 = (int32_t)b;                                                        \
            out[n].x1 = (int32_t)x;                                                        \
            n++;                                                                           \
        }                                                                                  \
        return n;                                                                          \
    }

CC_RUNS_BINARY(runs_u8_generic, uint8_t, row[x] > (uint8_t)s->ucut)
CC_RUNS_BINARY(runs_u16, uint16_t, row[x] > (uint16_t)s->ucut)
CC_RUNS_BINARY(runs_u32, uint32_t, row[x] > (uint32_t)s->ucut)
CC_RUNS_BINARY(runs_u64b, uint64_t, row[x] > s->ucut)
CC_RUNS_BINARY(runs_i32, int32_t, (int64_t)row[x] > s->icut)
CC_RUNS_BINARY(runs_f32, float, (double)row[x] > s->fcut)

#ifdef CC_AVX2
/* AVX2 scans: find the next x where the row changes, 4 (uint64) or 32 (uint8) voxels at
 * a time. Compiled for AVX2 here and only called when the CPU has it. */
__attribute__((target("avx2"))) static uint32_t runs_u64_avx2(const uint64_t *row, int64_t nx,
                                                               cc_run *out, uint64_t *vals)
{
    uint32_t n = 0;
    int64_t x = 0;
    const __m256i zero = _mm256_setzero_si256();
    while (x < nx) {
        /* skip zeros */
        while (x + 4 <= nx) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(row + x));
            int m = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(v, zero)));
            if (m != 0xF) {
                x += __builtin_ctz((unsigned)~m & 0xF);
                goto nonzero;
            }
            x += 4;
        }
        while (x < nx && !row[x]) x++;
        if (x >= nx) break;
    nonzero:;
        uint64_t v = row[x];
        int64_t s = x++;
        __m256i vv = _mm256_set1_epi64x((long long)v);
        while (x + 4 <= nx) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(row + x));
            int m = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(w, vv)));
            if (m != 0xF) {
                x += __builtin_ctz((unsigned)~m & 0xF);
                goto ended;
            }
            x += 4;
        }
        while (x < nx && row[x] == v) x++;
    ended:
        out[n].x0 = (int32_t)s;
        out[n].x1 = (int32_t)x;
        vals[n++] = v;
    }
    return n;
}

/* uint8 > cut, 32 voxels at a time: the foreground bits' edges (fg xor fg shifted by one)
 * are the run starts and ends, which alternate, so their positions written one after
 * another are the runs' (x0, x1) pairs. Needs room for nx + 1 positions. */
__attribute__((target("avx2"))) static uint32_t runs_u8_avx2(const uint8_t *row, int64_t nx,
                                                              const cc_src *s, cc_run *out)
{
    int32_t *e = (int32_t *)out; /* cc_run is two int32: x0, x1 */
    uint32_t ne = 0, prev = 0;
    uint8_t c1 = (uint8_t)(s->ucut + 1); /* mode CC_CMP: ucut < 255 */
    const __m256i cut = _mm256_set1_epi8((char)c1);
    for (int64_t x = 0; x < nx; x += 32) {
        uint32_t fg;
        if (x + 32 <= nx) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(row + x));
            fg = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(v, cut), v));
        } else {
            fg = 0;
            for (int64_t t = x; t < nx; t++) fg |= (uint32_t)(row[t] >= c1) << (t - x);
        }
        uint32_t edges = fg ^ ((fg << 1) | prev);
        prev = fg >> 31;
        while (edges) {
            e[ne++] = (int32_t)(x + __builtin_ctz(edges));
            edges &= edges - 1;
        }
    }
    if (ne & 1) e[ne++] = (int32_t)nx;
    return ne / 2;
}
#endif /* CC_AVX2 */

static bool cc_use_avx2(void)
{
#ifdef CC_AVX2
    return !strcmp(ax_simd_name(), "avx2");
#else
    return false;
#endif
}

/* Runs of row r of the source; vals receives each run's value (labels only). */
static uint32_t src_runs(const cc_src *s, bool avx2, int64_t r, cc_run *out, uint64_t *vals)
{
    int64_t nx = s->nx;
    if (!s->binary) {
        const uint64_t *row = (const uint64_t *)s->data + r * nx;
#ifdef CC_AVX2
        if (avx2) return runs_u64_avx2(row, nx, out, vals);
#endif
        (void)avx2;
        return runs_u64_generic(row, nx, out, vals);
    }
    if (s->mode == CC_NONE) return 0;
    if (s->mode == CC_ALL) {
        out[0].x0 = 0;
        out[0].x1 = (int32_t)nx;
        return 1;
    }
    switch (s->dtype) {
    case AX_DTYPE_U8:
#ifdef CC_AVX2
        if (avx2) return runs_u8_avx2((const uint8_t *)s->data + r * nx, nx, s, out);
#endif
        return runs_u8_generic((const uint8_t *)s->data + r * nx, nx, s, out);
    case AX_DTYPE_U16: return runs_u16((const uint16_t *)s->data + r * nx, nx, s, out);
    case AX_DTYPE_U32: return runs_u32((const uint32_t *)s->data + r * nx, nx, s, out);
    case AX_DTYPE_U64: return runs_u64b((const uint64_t *)s->data + r * nx, nx, s, out);
    case AX_DTYPE_I32: return runs_i32((const int32_t *)s->data + r * nx, nx, s, out);
    default: return runs_f32((const float *)s->data + r * nx, nx, s, out);
    }
}

/* ---- labelling a box of rows ---------------------------------------------------------- */

/* Growable buffers for labelling one box (a slab or a block); one per thread. */
typedef struct cc_rows {
    cc_run *runs;
    uint64_t *vals;    /* value of each run (labels input only) */
    uint32_t *lab;     /* union-find parent while labelling, then the local label */
    uint32_t *row_off; /* first run of each row, nrows + 1 entries */
    size_t cap_runs, cap_rows;
    uint32_t nruns;
    int64_t nrows;
} cc_rows;

static void rows_free(cc_rows *L)
{
    free(L->runs);
    free(L->vals);
    free(L->lab);
    free(L->row_off);
    memset(L, 0, sizeof *L);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return AX_OK;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return ax__err(AX_E_NOMEM, "connected components: out of memory (%zu MiB of runs)",
                           (n * elem) >> 20);
    *p = q;
    *cap = n;
    return AX_OK;
}

static int rows_reserve_runs(cc_rows *L, size_t need, bool with_vals)
{
    if (need <= L->cap_runs) return AX_OK;
    size_t cap = L->cap_runs, c2 = cap, c3 = cap;
    int rc = grow((void **)&L->runs, &cap, need, sizeof *L->runs);
    if (rc == AX_OK) rc = grow((void **)&L->lab, &c2, need, sizeof *L->lab);
    if (rc == AX_OK && with_vals) rc = grow((void **)&L->vals, &c3, need, sizeof *L->vals);
    if (rc == AX_OK) L->cap_runs = cap;
    return rc;
}


/* the smaller root becomes the parent: roots stay raster-first */
static inline void uf_union(uint32_t *p, uint32_t a, uint32_t b)
{
    a = ax__uf_find32(p, a);
    b = ax__uf_find32(p, b);
    if (a < b) p[b] = a;
    else if (b < a) p[a] = b;
}

/* Join runs a (row just read, indices abase..) to the runs b of an earlier row that they
 * touch: [a0, a1) and [b0, b1) touch when a0 < b1 + e and b0 < a1 + e (e = 1: diagonal
 * neighbours count). With labels, only runs of equal value join. */
static void join_rows(uint32_t *p, const uint64_t *vals, const cc_run *a, uint32_t abase,
                      uint32_t na, const cc_run *b, uint32_t bbase, uint32_t nb, int e)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < na; i++) {
        int32_t lo = a[i].x0 - e, hi = a[i].x1 + e;
        while (j < nb && b[j].x1 <= lo) j++;
        for (uint32_t k = j; k < nb && b[k].x0 < hi; k++)
            if (!vals || vals[abase + i] == vals[bbase + k]) uf_union(p, abase + i, bbase + k);
    }
}

/* The earlier rows that row (z, y) meets, as offsets back from it, and their x widening. */
typedef struct cc_nbrs {
    int n;
    int64_t back[4]; /* r - back */
    int e[4];
    int dy[4]; /* the neighbour row's y - this row's y */
    int dz[4];
} cc_nbrs;

static cc_nbrs nbrs_for(int conn, int64_t ny)
{
    cc_nbrs nb = {0};
    int ef = conn == 6 ? 0 : 1, ed = conn == 26 ? 1 : 0;
    nb.back[nb.n] = 1, nb.e[nb.n] = ef, nb.dy[nb.n] = -1, nb.dz[nb.n++] = 0;
    nb.back[nb.n] = ny, nb.e[nb.n] = ef, nb.dy[nb.n] = 0, nb.dz[nb.n++] = -1;
    if (conn != 6) {
        nb.back[nb.n] = ny + 1, nb.e[nb.n] = ed, nb.dy[nb.n] = -1, nb.dz[nb.n++] = -1;
        nb.back[nb.n] = ny - 1, nb.e[nb.n] = ed, nb.dy[nb.n] = 1, nb.dz[nb.n++] = -1;
    }
    return nb;
}

/* Label rows [row0, row0 + nrows) of a source whose planes hold ny rows, joining each row
 * only to rows of the same range. Afterwards L->lab[i] is run i's local label, 1..*nlab in
 * raster order of first voxels. */
static int label_rows(cc_rows *L, const cc_src *S, bool avx2, int64_t row0, int64_t nrows,
                      int64_t ny, int conn, uint32_t *nlab)
{
    int rc = grow((void **)&L->row_off, &L->cap_rows, (size_t)nrows + 1, sizeof *L->row_off);
    if (rc < 0) return rc;
    L->nrows = nrows;
    L->nruns = 0;
    size_t maxr = (size_t)src_max_runs(S);
    bool with_vals = !S->binary;
    cc_nbrs nb = nbrs_for(conn, ny);
    for (int64_t k = 0; k < nrows; k++) {
        int64_t r = row0 + k, y = r % ny;
        if ((rc = rows_reserve_runs(L, (size_t)L->nruns + maxr, with_vals)) < 0) return rc;
        uint32_t base = L->nruns;
        uint32_t n = src_runs(S, avx2, r, L->runs + base, with_vals ? L->vals + base : NULL);
        L->row_off[k] = base;
        L->nruns = base + n;
        if (!n) continue;
        for (uint32_t i = 0; i < n; i++) L->lab[base + i] = base + i;
        for (int t = 0; t < nb.n; t++) {
            int64_t yy = y + nb.dy[t], q = k - nb.back[t];
            if (q < 0 || yy < 0 || yy >= ny) continue;
            uint32_t b0 = L->row_off[q], b1 = L->row_off[q + 1];
            if (b0 == b1) continue;
            join_rows(L->lab, with_vals ? L->vals : NULL, L->runs + base, base, n,
                      L->runs + b0, b0, b1 - b0, nb.e[t]);
        }
    }
    L->row_off[nrows] = L->nruns;
    /* parents point to smaller indices, so labels number forward in place */
    uint32_t nl = 0, *lab = L->lab;
    for (uint32_t i = 0; i < L->nruns; i++) lab[i] = lab[i] == i ? ++nl : lab[lab[i]];
    *nlab = nl;
    return AX_OK;
}

/* ---- argument checks ------------------------------------------------------------------ */

static int check_conn(const char *fn, int conn)
{
    if (conn != 6 && conn != 18 && conn != 26)
        return ax__err(AX_E_INVALID, "%s: connectivity %d is not 6, 18 or 26", fn, conn);
    return AX_OK;
}

/* shape entries > 0, product and byte size representable, rows indexable by int32 */
static int check_shape(const char *fn, const char *what, const int64_t s[3], int64_t *nvox)
{
    for (int d = 0; d < 3; d++)
        if (s[d] <= 0)
            return ax__err(AX_E_INVALID, "%s: %s shape %lld x %lld x %lld has an entry <= 0", fn,
                           what, (long long)s[0], (long long)s[1], (long long)s[2]);
    int64_t n;
    if (!ax__mul_ok(s[0], s[1], &n) || !ax__mul_ok(n, s[2], &n) || n > INT64_MAX / 8)
        return ax__err(AX_E_RANGE, "%s: %s shape %lld x %lld x %lld overflows", fn, what,
                       (long long)s[0], (long long)s[1], (long long)s[2]);
    if (s[2] >= CC_BOX_MAX_VOXELS)
        return ax__err(AX_E_RANGE, "%s: rows of %lld voxels are longer than supported (2^31 - 1)",
                       fn, (long long)s[2]);
    *nvox = n;
    return AX_OK;
}

/* ---- in memory ------------------------------------------------------------------------ */

typedef struct cc_slab {
    int64_t row0, nrows;
    cc_rows L;
    uint32_t nlab;
    int64_t base; /* global node of local label 1 */
} cc_slab;

typedef struct cc_mem {
    cc_src src;
    bool avx2;
    int64_t ny, nx;
    int conn;
    cc_slab *slabs;
    int64_t nslab;
    int64_t *node; /* union-find over all slabs' labels, then final ids */
    uint64_t *out;
} cc_mem;

static int mem_label_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    cc_mem *m = ctx;
    cc_slab *s = &m->slabs[i];
    return label_rows(&s->L, &m->src, m->avx2, s->row0, s->nrows, m->ny, m->conn, &s->nlab);
}

static int64_t slab_of_row(const cc_mem *m, int64_t r)
{
    int64_t lo = 0, hi = m->nslab - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (m->slabs[mid].row0 <= r) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static inline int64_t guf_find_serial(int64_t *p, int64_t x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

/* join the first rows of each slab to the rows before it, in other slabs */
static void mem_join_slabs(cc_mem *m)
{
    cc_nbrs nb = nbrs_for(m->conn, m->ny);
    int64_t *p = m->node;
    for (int64_t si = 1; si < m->nslab; si++) {
        cc_slab *s = &m->slabs[si];
        int64_t lim = s->nrows < m->ny + 1 ? s->nrows : m->ny + 1;
        for (int64_t k = 0; k < lim; k++) {
            int64_t r = s->row0 + k, y = r % m->ny;
            uint32_t a0 = s->L.row_off[k], a1 = s->L.row_off[k + 1];
            if (a0 == a1) continue;
            for (int t = 0; t < nb.n; t++) {
                int64_t yy = y + nb.dy[t], nr = r - nb.back[t];
                if (nr < 0 || nr >= s->row0 || yy < 0 || yy >= m->ny) continue;
                const cc_slab *o = &m->slabs[slab_of_row(m, nr)];
                int64_t q = nr - o->row0;
                uint32_t b0 = o->L.row_off[q], b1 = o->L.row_off[q + 1];
                int e = nb.e[t];
                uint32_t j = b0;
                for (uint32_t i = a0; i < a1; i++) {
                    int32_t lo = s->L.runs[i].x0 - e, hi = s->L.runs[i].x1 + e;
                    while (j < b1 && o->L.runs[j].x1 <= lo) j++;
                    for (uint32_t kk = j; kk < b1 && o->L.runs[kk].x0 < hi; kk++) {
                        if (!m->src.binary && s->L.vals[i] != o->L.vals[kk]) continue;
                        int64_t u = guf_find_serial(p, s->base + s->L.lab[i] - 1);
                        int64_t v = guf_find_serial(p, o->base + o->L.lab[kk] - 1);
                        if (u < v) p[v] = u;
                        else if (v < u) p[u] = v;
                    }
                }
            }
        }
    }
}

/* fill a row of ids from its runs */
static void fill_row(uint64_t *row, const cc_run *runs, const uint32_t *lab, uint32_t n,
                     const int64_t *id, int64_t nx)
{
    int64_t x = 0;
    for (uint32_t j = 0; j < n; j++) {
        const cc_run *u = &runs[j];
        if (u->x0 > x) memset(row + x, 0, sizeof *row * (size_t)(u->x0 - x));
        uint64_t v = (uint64_t)id[lab[j]];
        for (int64_t t = u->x0; t < u->x1; t++) row[t] = v;
        x = u->x1;
    }
    if (x < nx) memset(row + x, 0, sizeof *row * (size_t)(nx - x));
}

#ifdef CC_AVX2
/* Copy a row built in cache to the output with non-temporal stores: a whole volume of ids
 * does not fit in cache, and streaming skips reading every line before writing it. */
__attribute__((target("avx2"))) static void stream_row(uint64_t *dst, const uint64_t *src,
                                                       int64_t n)
{
    int64_t i = 0;
    while (i < n && ((uintptr_t)(dst + i) & 31)) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 4 <= n; i += 4)
        _mm256_stream_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
    for (; i < n; i++) dst[i] = src[i];
}
#endif

static int mem_write_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    cc_mem *m = ctx;
    cc_slab *s = &m->slabs[i];
    const int64_t *id = m->node + s->base - 1;
    uint64_t *tmp = NULL;
#ifdef CC_AVX2
    if (m->avx2 && m->nx >= 64) tmp = malloc(sizeof *tmp * (size_t)m->nx);
#endif
    for (int64_t k = 0; k < s->nrows; k++) {
        uint64_t *row = m->out + (s->row0 + k) * m->nx;
        uint32_t j0 = s->L.row_off[k], n = s->L.row_off[k + 1] - j0;
#ifdef CC_AVX2
        if (tmp) {
            fill_row(tmp, s->L.runs + j0, s->L.lab + j0, n, id, m->nx);
            stream_row(row, tmp, m->nx);
            continue;
        }
#endif
        fill_row(row, s->L.runs + j0, s->L.lab + j0, n, id, m->nx);
    }
#ifdef CC_AVX2
    if (tmp) _mm_sfence();
#endif
    free(tmp);
    return AX_OK;
}

int ax_cc_label(const uint64_t *in, const int64_t shape[3], int connectivity, uint64_t *out,
                uint64_t *n_components)
{
    static const char *fn = "ax_cc_label";
    if (!in || !shape || !out)
        return ax__err(AX_E_INVALID, "%s: %s is NULL", fn, !in ? "in" : !shape ? "shape" : "out");
    int rc = check_conn(fn, connectivity);
    int64_t nvox;
    if (rc == AX_OK) rc = check_shape(fn, "volume", shape, &nvox);
    if (rc < 0) return rc;

    cc_mem m = {.ny = shape[1], .nx = shape[2], .conn = connectivity, .out = out};
    m.src.data = in;
    m.src.dtype = AX_DTYPE_U64;
    m.src.nx = shape[2];
    m.avx2 = cc_use_avx2();
    /* a few slabs per thread for balance; each small enough for uint32 run indices */
    int64_t nrows = shape[0] * shape[1];
    int64_t want = ax_threads_get() > 1 ? 4 * (int64_t)ax_threads_get() : 1;
    int64_t rows_max = (CC_BOX_MAX_VOXELS / 2) / shape[2];
    if (want < (nrows + rows_max - 1) / rows_max) want = (nrows + rows_max - 1) / rows_max;
    if (want > nrows) want = nrows;
    m.nslab = want;
    m.slabs = calloc((size_t)m.nslab, sizeof *m.slabs);
    if (!m.slabs) return ax__err(AX_E_NOMEM, "%s: out of memory", fn);
    for (int64_t s = 0; s < m.nslab; s++) {
        m.slabs[s].row0 = nrows * s / m.nslab;
        m.slabs[s].nrows = nrows * (s + 1) / m.nslab - m.slabs[s].row0;
    }
    rc = ax_parallel_for(m.nslab, mem_label_task, &m);
    int64_t total = 0;
    if (rc == AX_OK) {
        for (int64_t s = 0; s < m.nslab; s++) {
            m.slabs[s].base = total;
            total += m.slabs[s].nlab;
        }
        m.node = ax__malloc_array((size_t)(total ? total : 1), sizeof *m.node);
        if (!m.node) rc = ax__err(AX_E_NOMEM, "%s: out of memory (%lld components)", fn,
                                  (long long)total);
    }
    uint64_t n = 0;
    if (rc == AX_OK) {
        for (int64_t i = 0; i < total; i++) m.node[i] = i;
        mem_join_slabs(&m);
        /* roots are raster-first: number forward in place (parents are smaller) */
        for (int64_t i = 0; i < total; i++)
            m.node[i] = m.node[i] == i ? (int64_t)++n : m.node[m.node[i]];
        rc = ax_parallel_for(m.nslab, mem_write_task, &m);
    }
    for (int64_t s = 0; s < m.nslab; s++) rows_free(&m.slabs[s].L);
    free(m.slabs);
    free(m.node);
    if (rc == AX_OK && n_components) *n_components = n;
    return rc;
}

/* ---- block-wise ----------------------------------------------------------------------- */

ax_cc_params ax_cc_params_default(void)
{
    ax_cc_params p;
    memset(&p, 0, sizeof p);
    p.connectivity = 6;
    return p;
}

/* Faces of a block: F(axis, side) = 2 * axis + side (side 0: lower, 1: upper), stored as
 * (label, count) pairs over the face in raster order of the two other axes. */
typedef struct cc_rle {
    uint32_t *p;
    size_t n, cap; /* uint32 entries (two per pair) */
    size_t start;  /* where the current face began: pairs never merge across faces */
} cc_rle;

static int rle_put(cc_rle *r, uint32_t id, uint32_t len)
{
    if (r->n > r->start && r->p[r->n - 2] == id) {
        r->p[r->n - 1] += len;
        return AX_OK;
    }
    int rc = grow((void **)&r->p, &r->cap, r->n + 2, sizeof *r->p);
    if (rc < 0) return rc;
    r->p[r->n++] = id;
    r->p[r->n++] = len;
    return AX_OK;
}

/* one whole row of local labels */
static int rle_row(cc_rle *r, const cc_rows *L, int64_t k, int64_t nx)
{
    int64_t x = 0;
    int rc = AX_OK;
    for (uint32_t j = L->row_off[k]; j < L->row_off[k + 1] && rc == AX_OK; j++) {
        const cc_run *u = &L->runs[j];
        if (u->x0 > x) rc = rle_put(r, 0, (uint32_t)(u->x0 - x));
        if (rc == AX_OK) rc = rle_put(r, L->lab[j], (uint32_t)(u->x1 - u->x0));
        x = u->x1;
    }
    if (rc == AX_OK && x < nx) rc = rle_put(r, 0, (uint32_t)(nx - x));
    return rc;
}

typedef struct cc_block {
    uint32_t n;       /* local components */
    int64_t base;     /* global node of local label 1 */
    int64_t *first;   /* global raster index of each local component's first voxel */
    uint64_t *val;    /* value of each local component (labels input only) */
    uint32_t *face;   /* the six faces' pairs, one after another */
    size_t face_off[7];
} cc_block;

typedef struct cc_scratch {
    void *buf;        /* the block as read */
    size_t buf_cap;
    uint64_t *obuf;   /* the block as written */
    size_t obuf_cap;
    cc_rows L;
    cc_rle rle;
    int64_t *tile;    /* seam pass: facing plane, nodes (-1: none) */
    uint64_t *tval;   /* and their values */
    uint32_t *self;   /* the block's own face */
    size_t tile_cap, tval_cap, self_cap;
} cc_scratch;

typedef struct cc_vol {
    ax_volume *in, *out;
    const char *in_name, *out_name;
    ax_dtype read_dtype;
    size_t elem;
    cc_src src; /* data and nx set per block */
    bool avx2;
    int conn;
    int64_t shape[3], block[3], nb[3], nblocks;
    cc_block *blocks;
    cc_scratch *scr;
    int nscr;
    int64_t *node; /* union-find over every block's local components, then final ids */
    bool lock_writes;
    pthread_mutex_t wlock;
    ax_progress *prog;
} cc_vol;

static void block_box(const cc_vol *c, int64_t b, int64_t k[3], int64_t st[3], int64_t sz[3])
{
    int64_t r = b;
    for (int d = 2; d >= 0; d--) {
        k[d] = r % c->nb[d];
        r /= c->nb[d];
        st[d] = k[d] * c->block[d];
        sz[d] = c->shape[d] - st[d] < c->block[d] ? c->shape[d] - st[d] : c->block[d];
    }
}

static int64_t block_index(const cc_vol *c, const int64_t k[3])
{
    return (k[0] * c->nb[1] + k[1]) * c->nb[2] + k[2];
}

/* read block b and label it into s->L */
static int read_and_label(cc_vol *c, cc_scratch *s, const int64_t st[3], const int64_t sz[3],
                          uint32_t *nlab)
{
    size_t nv = (size_t)(sz[0] * sz[1] * sz[2]);
    int rc = grow(&s->buf, &s->buf_cap, nv * c->elem, 1);
    if (rc < 0) return rc;
    if (c->src.binary) rc = ax_volume_read_region(c->in, st, sz, c->read_dtype, s->buf);
    else rc = ax_volume_read_region_as(c->in, st, sz, AX_DTYPE_U64, s->buf);
    if (rc < 0) return rc;
    cc_src src = c->src;
    src.data = s->buf;
    src.nx = sz[2];
    return label_rows(&s->L, &src, c->avx2, 0, sz[0] * sz[1], sz[1], c->conn, nlab);
}

static int pass1_task(void *ctx, int64_t b, int thread)
{
    cc_vol *c = ctx;
    cc_scratch *s = &c->scr[thread];
    cc_block *B = &c->blocks[b];
    int64_t k[3], st[3], sz[3];
    block_box(c, b, k, st, sz);
    uint32_t nl;
    int rc = read_and_label(c, s, st, sz, &nl);
    if (rc < 0) return rc;
    const cc_rows *L = &s->L;
    B->n = nl;
    if (nl) {
        B->first = ax__malloc_array(nl, sizeof *B->first);
        if (!c->src.binary) B->val = ax__malloc_array(nl, sizeof *B->val);
        if (!B->first || (!c->src.binary && !B->val))
            return ax__err(AX_E_NOMEM, "connected components: out of memory");
        /* labels first appear in increasing order: the first run of label l is its root */
        uint32_t next = 1;
        for (int64_t q = 0; q < L->nrows && next <= nl; q++) {
            int64_t z = q / sz[1], y = q % sz[1];
            for (uint32_t j = L->row_off[q]; j < L->row_off[q + 1]; j++) {
                if (L->lab[j] != next) continue;
                B->first[next - 1] =
                    ((st[0] + z) * c->shape[1] + st[1] + y) * c->shape[2] + st[2] + L->runs[j].x0;
                if (B->val) B->val[next - 1] = L->vals[j];
                next++;
            }
        }
    }
    /* faces that a seam will need: lower ones past the first block, upper ones before the
     * last */
    cc_rle *r = &s->rle;
    r->n = 0;
    int64_t ny = sz[1], nx = sz[2];
    for (int f = 0; f < 6 && rc == AX_OK; f++) {
        int a = f / 2, side = f % 2;
        B->face_off[f] = r->start = r->n;
        if (side == 0 ? k[a] == 0 : k[a] == c->nb[a] - 1) continue;
        if (a == 0) { /* plane z = 0 or nz - 1 */
            int64_t z = side ? sz[0] - 1 : 0;
            for (int64_t y = 0; y < ny && rc == AX_OK; y++) rc = rle_row(r, L, z * ny + y, nx);
        } else if (a == 1) { /* rows y = 0 or ny - 1 of every plane */
            int64_t y = side ? ny - 1 : 0;
            for (int64_t z = 0; z < sz[0] && rc == AX_OK; z++) rc = rle_row(r, L, z * ny + y, nx);
        } else { /* x = 0 or nx - 1 of every row */
            for (int64_t q = 0; q < L->nrows && rc == AX_OK; q++) {
                uint32_t j0 = L->row_off[q], j1 = L->row_off[q + 1], id = 0;
                if (j0 < j1) {
                    if (!side && L->runs[j0].x0 == 0) id = L->lab[j0];
                    if (side && L->runs[j1 - 1].x1 == nx) id = L->lab[j1 - 1];
                }
                rc = rle_put(r, id, 1);
            }
        }
    }
    B->face_off[6] = r->n;
    if (rc < 0) return rc;
    if (r->n) {
        B->face = ax__malloc_array(r->n, sizeof *B->face);
        if (!B->face) return ax__err(AX_E_NOMEM, "connected components: out of memory");
        memcpy(B->face, r->p, r->n * sizeof *B->face);
    }
    ax_progress_add(c->prog, 1);
    return AX_OK;
}

/* ---- the seam pass ---- */

static inline int64_t guf_find(int64_t *p, int64_t x)
{
    for (;;) {
        int64_t px = __atomic_load_n(&p[x], __ATOMIC_RELAXED);
        if (px == x) return x;
        int64_t gx = __atomic_load_n(&p[px], __ATOMIC_RELAXED);
        if (gx != px) __atomic_store_n(&p[x], gx, __ATOMIC_RELAXED); /* still an ancestor */
        x = gx;
    }
}

/* lock-free union: a root is only ever linked by a compare-and-swap that finds it still a
 * root, always under a smaller root */
static void guf_union(int64_t *p, int64_t a, int64_t b)
{
    for (;;) {
        a = guf_find(p, a);
        b = guf_find(p, b);
        if (a == b) return;
        if (a < b) {
            int64_t t = a;
            a = b;
            b = t;
        }
        int64_t expect = a;
        if (__atomic_compare_exchange_n(&p[a], &expect, b, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return;
    }
}

/* Decode the window [u0, u1) x [w0, w1) of a face (rows of fw) into dst (row stride ds),
 * as global nodes base + label - 1 (labels 0 stay as they are in dst) and their values. */
static void rle_window(const uint32_t *pairs, size_t np, int64_t fw, int64_t u0, int64_t u1,
                       int64_t w0, int64_t w1, int64_t base, const uint64_t *val, int64_t *dst,
                       uint64_t *dval, int64_t ds)
{
    int64_t pos = 0, lo = u0 * fw, hi = u1 * fw;
    for (size_t i = 0; i < np && pos < hi; i += 2) {
        int64_t id = pairs[i], s = pos, e = pos + pairs[i + 1];
        pos = e;
        if (e <= lo || !id) continue;
        int64_t node = base + id - 1;
        uint64_t v = val ? val[id - 1] : 1;
        int64_t ua = s / fw > u0 ? s / fw : u0, ub = (e - 1) / fw < u1 - 1 ? (e - 1) / fw : u1 - 1;
        for (int64_t u = ua; u <= ub; u++) {
            int64_t c0 = (s > u * fw ? s - u * fw : 0), c1 = (e < (u + 1) * fw ? e - u * fw : fw);
            if (c0 < w0) c0 = w0;
            if (c1 > w1) c1 = w1;
            for (int64_t w = c0; w < c1; w++) {
                dst[(u - u0) * ds + (w - w0)] = node;
                dval[(u - u0) * ds + (w - w0)] = v;
            }
        }
    }
}

static int seam_task(void *ctx, int64_t b, int thread)
{
    cc_vol *c = ctx;
    cc_scratch *s = &c->scr[thread];
    const cc_block *B = &c->blocks[b];
    int64_t k[3], st[3], sz[3];
    block_box(c, b, k, st, sz);
    int64_t *p = c->node;
    bool labels = !c->src.binary;
    for (int a = 0; a < 3; a++) {
        if (k[a] == 0) continue;
        int u = a == 0 ? 1 : 0, w = a == 2 ? 1 : 2; /* the face's axes, slower first */
        int64_t su = sz[u], sw = sz[w], tw = sw + 2;
        size_t tn = (size_t)((su + 2) * tw);
        size_t fcount = (size_t)(su * sw);
        int rc = grow((void **)&s->tile, &s->tile_cap, tn, sizeof *s->tile);
        if (rc == AX_OK) rc = grow((void **)&s->tval, &s->tval_cap, tn, sizeof *s->tval);
        if (rc == AX_OK) rc = grow((void **)&s->self, &s->self_cap, fcount, sizeof *s->self);
        if (rc < 0) return rc;
        int64_t *tile = s->tile;
        uint64_t *tval = s->tval;
        for (size_t i = 0; i < tn; i++) tile[i] = -1;
        /* the facing plane (coordinate st[a] - 1 on axis a) around this face */
        int64_t kk[3];
        kk[a] = k[a] - 1;
        for (int du = -1; du <= 1; du++)
            for (int dw = -1; dw <= 1; dw++) {
                int off = (du != 0) + (dw != 0);
                if (c->conn == 6 && off > 0) continue;
                if (c->conn == 18 && off > 1) continue;
                kk[u] = k[u] + du;
                kk[w] = k[w] + dw;
                if (kk[u] < 0 || kk[u] >= c->nb[u] || kk[w] < 0 || kk[w] >= c->nb[w]) continue;
                const cc_block *N = &c->blocks[block_index(c, kk)];
                int64_t nu0 = kk[u] * c->block[u], nw0 = kk[w] * c->block[w];
                int64_t nsu = c->shape[u] - nu0 < c->block[u] ? c->shape[u] - nu0 : c->block[u];
                int64_t nsw = c->shape[w] - nw0 < c->block[w] ? c->shape[w] - nw0 : c->block[w];
                /* the tile covers [st[u]-1, st[u]+su+1) x [st[w]-1, st[w]+sw+1) */
                int64_t gu0 = nu0 > st[u] - 1 ? nu0 : st[u] - 1;
                int64_t gu1 = nu0 + nsu < st[u] + su + 1 ? nu0 + nsu : st[u] + su + 1;
                int64_t gw0 = nw0 > st[w] - 1 ? nw0 : st[w] - 1;
                int64_t gw1 = nw0 + nsw < st[w] + sw + 1 ? nw0 + nsw : st[w] + sw + 1;
                if (gu0 >= gu1 || gw0 >= gw1) continue;
                size_t f0 = N->face_off[2 * a + 1], f1 = N->face_off[2 * a + 2];
                int64_t *d = tile + (gu0 - (st[u] - 1)) * tw + (gw0 - (st[w] - 1));
                uint64_t *dv = tval + (gu0 - (st[u] - 1)) * tw + (gw0 - (st[w] - 1));
                rle_window(N->face + f0, f1 - f0, nsw, gu0 - nu0, gu1 - nu0, gw0 - nw0,
                           gw1 - nw0, N->base, N->val, d, dv, tw);
            }
        /* this block's own lower face */
        uint32_t *self = s->self;
        {
            const uint32_t *pr = B->face + B->face_off[2 * a];
            size_t np = B->face_off[2 * a + 1] - B->face_off[2 * a], pos = 0;
            for (size_t i = 0; i < np; i += 2) {
                for (uint32_t t = 0; t < pr[i + 1]; t++) self[pos + t] = pr[i];
                pos += pr[i + 1];
            }
        }
        /* in-plane offsets of the facing voxels */
        int off[9][2], no = 0;
        for (int du = -1; du <= 1; du++)
            for (int dw = -1; dw <= 1; dw++) {
                int o = (du != 0) + (dw != 0);
                if ((c->conn == 6 && o > 0) || (c->conn == 18 && o > 1)) continue;
                off[no][0] = du;
                off[no++][1] = dw;
            }
        int64_t last_a[9], last_b[9];
        for (int t = 0; t < no; t++) last_a[t] = last_b[t] = -1;
        for (int64_t i = 0; i < su; i++)
            for (int64_t j = 0; j < sw; j++) {
                uint32_t id = self[i * sw + j];
                if (!id) continue;
                int64_t na = B->base + id - 1;
                uint64_t va = labels ? B->val[id - 1] : 1;
                for (int t = 0; t < no; t++) {
                    int64_t ti = (i + 1 + off[t][0]) * tw + (j + 1 + off[t][1]);
                    int64_t nbn = tile[ti];
                    if (nbn < 0 || (labels && tval[ti] != va)) continue;
                    if (na == last_a[t] && nbn == last_b[t]) continue;
                    last_a[t] = na;
                    last_b[t] = nbn;
                    guf_union(p, na, nbn);
                }
            }
    }
    ax_progress_add(c->prog, 1);
    return AX_OK;
}

/* ---- final ids: components in raster order of their first voxel ---- */

/* Sort (key, idx) by key, keys below 2^bits: least significant digit first, 11 bits each. */
static int radix_sort(uint64_t *key, int64_t *idx, size_t n, int bits)
{
    uint64_t *k2 = ax__malloc_array(n ? n : 1, sizeof *k2);
    int64_t *i2 = ax__malloc_array(n ? n : 1, sizeof *i2);
    size_t *cnt = malloc(2048 * sizeof *cnt);
    if (!k2 || !i2 || !cnt) {
        free(k2);
        free(i2);
        free(cnt);
        return ax__err(AX_E_NOMEM, "connected components: out of memory (%zu components)", n);
    }
    uint64_t *ka = key, *kb = k2;
    int64_t *ia = idx, *ib = i2;
    for (int sh = 0; sh < bits; sh += 11) {
        memset(cnt, 0, 2048 * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[(ka[i] >> sh) & 2047]++;
        size_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            size_t t = cnt[d];
            cnt[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = cnt[(ka[i] >> sh) & 2047]++;
            kb[at] = ka[i];
            ib[at] = ia[i];
        }
        uint64_t *tk = ka;
        ka = kb;
        kb = tk;
        int64_t *ti = ia;
        ia = ib;
        ib = ti;
    }
    if (ka != key) {
        memcpy(key, ka, n * sizeof *key);
        memcpy(idx, ia, n * sizeof *idx);
    }
    free(k2);
    free(i2);
    free(cnt);
    return AX_OK;
}

/* c->node: union-find after the seams -> final id of every global node */
static int final_ids(cc_vol *c, int64_t total, uint64_t *n_out)
{
    int64_t *p = c->node;
    uint64_t *first = ax__malloc_array((size_t)(total ? total : 1), sizeof *first);
    if (!first) return ax__err(AX_E_NOMEM, "connected components: out of memory");
    for (int64_t i = 0; i < total; i++) first[i] = UINT64_MAX;
    for (int64_t b = 0; b < c->nblocks; b++) {
        const cc_block *B = &c->blocks[b];
        for (uint32_t l = 0; l < B->n; l++) {
            int64_t r = guf_find_serial(p, B->base + l);
            if ((uint64_t)B->first[l] < first[r]) first[r] = (uint64_t)B->first[l];
        }
    }
    size_t nroots = 0;
    for (int64_t i = 0; i < total; i++) nroots += p[i] == i;
    uint64_t *key = ax__malloc_array(nroots ? nroots : 1, sizeof *key);
    int64_t *idx = ax__malloc_array(nroots ? nroots : 1, sizeof *idx);
    int rc = key && idx ? AX_OK : ax__err(AX_E_NOMEM, "connected components: out of memory");
    if (rc == AX_OK) {
        size_t k = 0;
        for (int64_t i = 0; i < total; i++)
            if (p[i] == i) {
                key[k] = first[i];
                idx[k++] = i;
            }
        int64_t nvox = c->shape[0] * c->shape[1] * c->shape[2];
        int bits = 1;
        while (bits < 63 && ((uint64_t)1 << bits) < (uint64_t)nvox) bits++;
        rc = radix_sort(key, idx, nroots, bits);
    }
    if (rc == AX_OK) {
        for (size_t k = 0; k < nroots; k++) first[idx[k]] = k + 1; /* final id of each root */
        for (int64_t i = 0; i < total; i++) p[i] = p[i] == i ? (int64_t)first[i] : p[p[i]];
        *n_out = nroots;
    }
    free(key);
    free(idx);
    free(first);
    return rc;
}

/* ---- pass 2: label again, write final ids ---- */

static int pass2_task(void *ctx, int64_t b, int thread)
{
    cc_vol *c = ctx;
    cc_scratch *s = &c->scr[thread];
    const cc_block *B = &c->blocks[b];
    int64_t k[3], st[3], sz[3];
    block_box(c, b, k, st, sz);
    uint32_t nl;
    int rc = read_and_label(c, s, st, sz, &nl);
    if (rc < 0) return rc;
    if (nl != B->n)
        return ax__err(AX_E_CORRUPT, "%s: block at (%lld, %lld, %lld) read differently the second "
                       "time (was the volume changed meanwhile?)", c->in_name, (long long)st[0],
                       (long long)st[1], (long long)st[2]);
    size_t nv = (size_t)(sz[0] * sz[1] * sz[2]);
    uint64_t *o;
    if (c->elem == sizeof(uint64_t)) { /* the runs hold all we need: write over the input */
        o = s->buf;
    } else {
        if ((rc = grow((void **)&s->obuf, &s->obuf_cap, nv, sizeof *s->obuf)) < 0) return rc;
        o = s->obuf;
    }
    const cc_rows *L = &s->L;
    const int64_t *id = c->node + B->base - 1;
    for (int64_t q = 0; q < L->nrows; q++) {
        uint32_t j0 = L->row_off[q];
        fill_row(o + q * sz[2], L->runs + j0, L->lab + j0, L->row_off[q + 1] - j0, id, sz[2]);
    }
    if (c->lock_writes) pthread_mutex_lock(&c->wlock);
    rc = ax_volume_write_region(c->out, st, sz, AX_DTYPE_U64, o);
    if (c->lock_writes) pthread_mutex_unlock(&c->wlock);
    if (rc < 0) return rc;
    ax_progress_add(c->prog, 1);
    return AX_OK;
}

/* ---- driver ---- */

#define CC_BLOCK_MIN_EDGE 64
#define CC_BLOCK_MAX_VOXELS ((int64_t)1 << 22)

/* Entries of p->block left 0: the input's chunk, split while the block holds more than
 * 2^22 voxels and grown (doubling) along axes thinner than 64 voxels. */
static void default_block(const ax_volume_info *ii, const int64_t want[3], int64_t blk[3])
{
    bool free_[3];
    for (int d = 0; d < 3; d++) {
        free_[d] = want[d] == 0;
        blk[d] = want[d] ? want[d] : ii->chunks[d] > 0 ? ii->chunks[d] : CC_BLOCK_MIN_EDGE;
        if (blk[d] > ii->shape[d]) blk[d] = ii->shape[d];
    }
    for (;;) {
        int big = -1;
        for (int d = 0; d < 3; d++)
            if (free_[d] && blk[d] > 1 && (big < 0 || blk[d] > blk[big])) big = d;
        if (big < 0 || blk[0] * blk[1] * blk[2] <= CC_BLOCK_MAX_VOXELS) break;
        blk[big] = (blk[big] + 1) / 2;
    }
    for (int d = 0; d < 3; d++)
        while (free_[d] && blk[d] < CC_BLOCK_MIN_EDGE && blk[d] < ii->shape[d] &&
               blk[0] * blk[1] * blk[2] * 2 <= CC_BLOCK_MAX_VOXELS)
            blk[d] = blk[d] * 2 < ii->shape[d] ? blk[d] * 2 : ii->shape[d];
}

int ax_cc_volume(ax_volume *in, ax_volume *out, const ax_cc_params *params,
                 uint64_t *n_components)
{
    static const char *fn = "ax_cc_volume";
    if (!in || !out) return ax__err(AX_E_INVALID, "%s: %s is NULL", fn, !in ? "in" : "out");
    if (in == out)
        return ax__err(AX_E_INVALID, "%s: in and out are the same volume (%s)", fn,
                       ax_volume_path(in));
    ax_cc_params p = params ? *params : ax_cc_params_default();
    int rc = check_conn(fn, p.connectivity);
    if (rc < 0) return rc;
    if (p.use_threshold && isnan(p.threshold))
        return ax__err(AX_E_INVALID, "%s: threshold is NaN", fn);
    const ax_volume_info *ii = ax_volume_get_info(in), *oi = ax_volume_get_info(out);
    const char *iname = ax_volume_path(in), *oname = ax_volume_path(out);
    if (ii->ndim != 3)
        return ax__err(AX_E_RANGE, "%s: connected components need a 3-d (z, y, x) volume; this "
                       "one is %d-d", iname, ii->ndim);
    if (oi->ndim != 3 || memcmp(oi->shape, ii->shape, 3 * sizeof *ii->shape))
        return ax__err(AX_E_RANGE, "%s: shape differs from the input %s (%lld x %lld x %lld)",
                       oname, iname, (long long)ii->shape[0], (long long)ii->shape[1],
                       (long long)ii->shape[2]);
    if (oi->dtype != AX_DTYPE_U64)
        return ax__err(AX_E_DTYPE, "%s: connected components are written as uint64, not %s",
                       oname, ax_dtype_name(oi->dtype));
    if (ax_dtype_size(ii->dtype) == 0)
        return ax__err(AX_E_DTYPE, "%s: unknown dtype", iname);
    for (int d = 0; d < 3; d++)
        if (p.block[d] < 0)
            return ax__err(AX_E_INVALID, "%s: block %lld x %lld x %lld has a negative entry", fn,
                           (long long)p.block[0], (long long)p.block[1], (long long)p.block[2]);
    int64_t nvox;
    if ((rc = check_shape(fn, iname, ii->shape, &nvox)) < 0) return rc;

    cc_vol c;
    memset(&c, 0, sizeof c);
    c.in = in;
    c.out = out;
    c.in_name = iname;
    c.out_name = oname;
    c.conn = p.connectivity;
    c.avx2 = cc_use_avx2();
    memcpy(c.shape, ii->shape, sizeof c.shape);
    default_block(ii, p.block, c.block);
    if (c.block[0] * c.block[1] > CC_BOX_MAX_VOXELS / c.block[2])
        return ax__err(AX_E_RANGE, "%s: block %lld x %lld x %lld holds more than 2^31 voxels", fn,
                       (long long)c.block[0], (long long)c.block[1], (long long)c.block[2]);
    c.nblocks = 1;
    for (int d = 0; d < 3; d++) {
        c.nb[d] = (c.shape[d] + c.block[d] - 1) / c.block[d];
        c.nblocks *= c.nb[d];
        /* blocks that share an output chunk must not write it at the same time */
        if (c.block[d] < c.shape[d] && oi->chunks[d] > 0 && c.block[d] % oi->chunks[d])
            c.lock_writes = true;
    }
    if (p.use_threshold) {
        c.src.dtype = ii->dtype;
        c.read_dtype = ii->dtype;
        src_set_threshold(&c.src, p.threshold);
    } else {
        c.src.dtype = AX_DTYPE_U64;
        c.read_dtype = AX_DTYPE_U64;
    }
    c.elem = ax_dtype_size(c.read_dtype);
    c.nscr = ax_threads_get();
    c.blocks = calloc((size_t)c.nblocks, sizeof *c.blocks);
    c.scr = calloc((size_t)c.nscr, sizeof *c.scr);
    if (!c.blocks || !c.scr) {
        free(c.blocks);
        free(c.scr);
        return ax__err(AX_E_NOMEM, "%s: out of memory (%lld blocks)", fn, (long long)c.nblocks);
    }
    pthread_mutex_init(&c.wlock, NULL);
    c.prog = ax_progress_new("cc", 3 * c.nblocks);

    rc = ax_parallel_for(c.nblocks, pass1_task, &c);
    int64_t total = 0;
    if (rc == AX_OK) {
        for (int64_t b = 0; b < c.nblocks; b++) {
            c.blocks[b].base = total;
            total += c.blocks[b].n;
        }
        c.node = ax__malloc_array((size_t)(total ? total : 1), sizeof *c.node);
        if (!c.node) rc = ax__err(AX_E_NOMEM, "%s: out of memory (%lld local components)", fn,
                                  (long long)total);
    }
    if (rc == AX_OK) {
        for (int64_t i = 0; i < total; i++) c.node[i] = i;
        rc = ax_parallel_for(c.nblocks, seam_task, &c);
    }
    uint64_t n = 0;
    if (rc == AX_OK) rc = final_ids(&c, total, &n);
    /* faces and first voxels are done with: free them before the second pass */
    for (int64_t b = 0; b < c.nblocks; b++) {
        free(c.blocks[b].face);
        free(c.blocks[b].first);
        free(c.blocks[b].val);
        c.blocks[b].face = NULL;
        c.blocks[b].first = NULL;
        c.blocks[b].val = NULL;
    }
    if (rc == AX_OK) rc = ax_parallel_for(c.nblocks, pass2_task, &c);
    ax_progress_done(c.prog);
    for (int t = 0; t < c.nscr; t++) {
        cc_scratch *s = &c.scr[t];
        free(s->buf);
        free(s->obuf);
        rows_free(&s->L);
        free(s->rle.p);
        free(s->tile);
        free(s->tval);
        free(s->self);
    }
    pthread_mutex_destroy(&c.wlock);
    free(c.scr);
    free(c.blocks);
    free(c.node);
    if (rc == AX_OK && n_components) *n_components = n;
    return rc;
}
