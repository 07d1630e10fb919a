/* seg_util.c: hash map, block grid and checks shared by watershed and agglomeration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seg/seg_int.h"


int ax__u64map_init(ax__u64map *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2 && cap < ((size_t)1 << 62)) cap <<= 1;
    m->keys = ax__malloc_array(cap, sizeof *m->keys);
    m->vals = ax__malloc_array(cap, sizeof *m->vals);
    m->cap = cap;
    m->size = 0;
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = m->vals = NULL;
        return AX_E_NOMEM;
    }
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    return AX_OK;
}

void ax__u64map_free(ax__u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static int grow(ax__u64map *m)
{
    ax__u64map n;
    if (ax__u64map_init(&n, m->cap) < 0) return AX_E_NOMEM; /* doubles: cap >= 2*expected */
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = m->keys[i];
        if (k == AX__EMPTY) continue;
        size_t j = ax__mix64(k) & (n.cap - 1);
        while (n.keys[j] != AX__EMPTY) j = (j + 1) & (n.cap - 1);
        n.keys[j] = k;
        n.vals[j] = m->vals[i];
    }
    n.size = m->size;
    ax__u64map_free(m);
    *m = n;
    return AX_OK;
}

uint64_t *ax__u64map_upsert(ax__u64map *m, uint64_t key, uint64_t init, bool *found)
{
    size_t mask = m->cap - 1, j = ax__mix64(key) & mask;
    while (m->keys[j] != AX__EMPTY) {
        if (m->keys[j] == key) { /* found: nothing moves, earlier pointers stay valid */
            if (found) *found = true;
            return &m->vals[j];
        }
        j = (j + 1) & mask;
    }
    if ((m->size + 1) * 4 > m->cap * 3) { /* grow only to insert */
        if (grow(m) < 0) return NULL;
        mask = m->cap - 1;
        j = ax__mix64(key) & mask;
        while (m->keys[j] != AX__EMPTY) j = (j + 1) & mask;
    }
    m->keys[j] = key;
    m->vals[j] = init;
    m->size++;
    if (found) *found = false;
    return &m->vals[j];
}

uint64_t *ax__u64map_get(const ax__u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1, j = ax__mix64(key) & mask;
    while (m->keys[j] != AX__EMPTY) {
        if (m->keys[j] == key) return &m->vals[j];
        j = (j + 1) & mask;
    }
    return NULL;
}

bool ax__u64map_del(ax__u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1, j = ax__mix64(key) & mask;
    while (m->keys[j] != AX__EMPTY && m->keys[j] != key) j = (j + 1) & mask;
    if (m->keys[j] == AX__EMPTY) return false;
    /* backward-shift: pull later entries of the probe run into the hole */
    size_t hole = j;
    for (;;) {
        j = (j + 1) & mask;
        uint64_t k = m->keys[j];
        if (k == AX__EMPTY) break;
        size_t home = ax__mix64(k) & mask;
        /* k may move to the hole if its home is not cyclically in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        m->keys[hole] = k;
        m->vals[hole] = m->vals[j];
        hole = j;
    }
    m->keys[hole] = AX__EMPTY;
    m->size--;
    return true;
}

int ax__grid_init(ax__grid *g, const int64_t shape[3], const int64_t block[3])
{
    g->count = 1;
    for (int d = 0; d < 3; d++) {
        if (shape[d] <= 0 || block[d] <= 0)
            return ax__err(AX_E_INVALID, "block grid: shape and block must be positive");
        g->shape[d] = shape[d];
        g->block[d] = block[d] < shape[d] ? block[d] : shape[d];
        g->nb[d] = (shape[d] + g->block[d] - 1) / g->block[d];
        g->count *= g->nb[d];
    }
    if (g->block[0] * g->block[1] * g->block[2] >= ((int64_t)1 << 31))
        return ax__err(AX_E_RANGE, "block of %lld x %lld x %lld voxels: at most 2^31 per block",
                       (long long)g->block[0], (long long)g->block[1], (long long)g->block[2]);
    return AX_OK;
}

void ax__grid_box(const ax__grid *g, int64_t i, int64_t start[3], int64_t size[3])
{
    int64_t c[3];
    c[2] = i % g->nb[2];
    c[1] = (i / g->nb[2]) % g->nb[1];
    c[0] = i / (g->nb[2] * g->nb[1]);
    for (int d = 0; d < 3; d++) {
        start[d] = c[d] * g->block[d];
        int64_t e = start[d] + g->block[d];
        size[d] = (e > g->shape[d] ? g->shape[d] : e) - start[d];
    }
}

int ax__check_affs(const float *a, int nch, const int64_t start[3], const int64_t size[3],
                   const char *what)
{
    int64_t n = size[0] * size[1] * size[2];
    for (int c = 0; c < nch; c++) {
        const float *p = a + (size_t)c * (size_t)n;
        for (int64_t i = 0; i < n; i++) {
            float v = p[i];
            if (v >= 0.0f && v <= 1.0f) continue;
            int64_t x = i % size[2], y = (i / size[2]) % size[1], z = i / (size[2] * size[1]);
            return ax__err(AX_E_INVALID,
                           "%s: affinity %g at channel %d, voxel (z=%lld, y=%lld, x=%lld) is "
                           "%s; affinities must lie in [0, 1]",
                           what, (double)v, c, (long long)(start[0] + z),
                           (long long)(start[1] + y), (long long)(start[2] + x),
                           isnan(v) ? "NaN" : "outside [0, 1]");
        }
    }
    return AX_OK;
}

/* ---- block I/O ---------------------------------------------------------------------- */
#include <pthread.h>

static pthread_mutex_t g_io_lock = PTHREAD_MUTEX_INITIALIZER;

void ax__io_lock(const ax__io *io)
{
    if (io->locked_writes) pthread_mutex_lock(&g_io_lock);
}

void ax__io_unlock(const ax__io *io)
{
    if (io->locked_writes) pthread_mutex_unlock(&g_io_lock);
}

static void copy_box(const void *src, const int64_t shape[3], const int64_t start[3],
                     const int64_t size[3], void *dst, size_t esz)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    size_t row = (size_t)size[2] * esz;
    for (int64_t z = 0; z < size[0]; z++)
        for (int64_t y = 0; y < size[1]; y++) {
            size_t si = (size_t)(((start[0] + z) * shape[1] + start[1] + y) * shape[2] + start[2]);
            memcpy(d, s + si * esz, row);
            d += row;
        }
}

static void paste_box(void *dst, const int64_t shape[3], const int64_t start[3],
                      const int64_t size[3], const void *src, size_t esz)
{
    const uint8_t *s = src;
    uint8_t *d = dst;
    size_t row = (size_t)size[2] * esz;
    for (int64_t z = 0; z < size[0]; z++)
        for (int64_t y = 0; y < size[1]; y++) {
            size_t di = (size_t)(((start[0] + z) * shape[1] + start[1] + y) * shape[2] + start[2]);
            memcpy(d + di * esz, s, row);
            s += row;
        }
}

int ax__io_read_affs(const ax__io *io, const int64_t start[3], const int64_t size[3], float *buf)
{
    size_t n = (size_t)(size[0] * size[1] * size[2]);
    if (io->aff) {
        size_t plane = (size_t)(io->shape[0] * io->shape[1] * io->shape[2]);
        for (int c = 0; c < 3; c++)
            copy_box(io->aff + c * plane, io->shape, start, size, buf + c * n, sizeof(float));
    } else {
        int64_t s4[4] = {0, start[0], start[1], start[2]}, z4[4] = {3, size[0], size[1], size[2]};
        int rc = ax_volume_read_region_as(io->vol, s4, z4, AX_DTYPE_F32, buf);
        if (rc < 0) return rc;
        if (ax_volume_get_info(io->vol)->dtype == AX_DTYPE_U8)
            for (size_t i = 0; i < 3 * n; i++) buf[i] *= (1.0f / 255.0f);
    }
    return ax__check_affs(buf, 3, start, size, io->name);
}

int ax__io_read_labels(const ax__io *io, const int64_t start[3], const int64_t size[3],
                       uint64_t *buf)
{
    if (io->labels) {
        copy_box(io->labels, io->shape, start, size, buf, sizeof(uint64_t));
        return AX_OK;
    }
    if (io->out) {
        copy_box(io->out, io->shape, start, size, buf, sizeof(uint64_t));
        return AX_OK;
    }
    return ax_volume_read_region_as(io->vol, start, size, AX_DTYPE_U64, buf);
}

int ax__io_write_labels(const ax__io *io, const int64_t start[3], const int64_t size[3],
                        const uint64_t *buf)
{
    if (io->out) {
        paste_box(io->out, io->shape, start, size, buf, sizeof(uint64_t));
        return AX_OK;
    }
    return ax_volume_write_region(io->vol, start, size, AX_DTYPE_U64, buf);
}

int ax__io_from_volume(ax__io *io, ax_volume *v, int nch)
{
    memset(io, 0, sizeof *io);
    const ax_volume_info *in = ax_volume_get_info(v);
    io->vol = v;
    io->name = ax_volume_path(v);
    if (nch == 0) {
        if (in->ndim != 3)
            return ax__err(AX_E_RANGE, "%s: expected a 3-d (z, y, x) label volume, not %d-d",
                           io->name, in->ndim);
        for (int d = 0; d < 3; d++) io->shape[d] = in->shape[d];
        return AX_OK;
    }
    if (in->ndim != 4 || in->shape[0] != nch)
        return ax__err(AX_E_RANGE,
                       "%s: expected affinities of shape (%d, z, y, x) (channel c links voxel p "
                       "to p - e_c), got %d-d with %lld channels",
                       io->name, nch, in->ndim, in->ndim == 4 ? (long long)in->shape[0] : 0LL);
    if (in->dtype != AX_DTYPE_F32 && in->dtype != AX_DTYPE_U8)
        return ax__err(AX_E_DTYPE, "%s: affinities must be float32 (or uint8 read as /255), "
                       "not %s", io->name, ax_dtype_name(in->dtype));
    for (int d = 0; d < 3; d++) io->shape[d] = in->shape[d + 1];
    return AX_OK;
}

void ax__pick_block(const int64_t want[3], const ax_volume *chunks_from, const int64_t shape[3],
                    int64_t block[3])
{
    const ax_volume_info *in = chunks_from ? ax_volume_get_info(chunks_from) : NULL;
    for (int d = 0; d < 3; d++) {
        if (want && want[d] > 0) {
            block[d] = want[d];
        } else {
            int64_t c = in ? in->chunks[in->ndim - 3 + d] : 64;
            if (c <= 0) c = 64;
            int64_t b = c;
            while (b < 64) b += c;
            block[d] = b;
        }
        if (block[d] > shape[d]) block[d] = shape[d];
    }
}

bool ax__block_aligned(const ax_volume *v, const int64_t block[3], const int64_t shape[3])
{
    const ax_volume_info *in = ax_volume_get_info(v);
    for (int d = 0; d < 3; d++) {
        int64_t c = in->chunks[in->ndim - 3 + d];
        if (block[d] % c && block[d] != shape[d]) return false;
    }
    return true;
}
