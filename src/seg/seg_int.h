/* seg_int.h: internals shared by the watershed and agglomeration code (not installed). */
#ifndef AX_SEG_INT_H
#define AX_SEG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"

/* ---- u64 -> u64 hash map (open addressing, linear probing, backward-shift delete) --
 * UINT64_MAX is reserved as the empty key. Not thread-safe; one per thread. */
typedef struct ax__u64map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap;  /* power of two */
    size_t size;
} ax__u64map;

AX_HIDDEN int ax__u64map_init(ax__u64map *m, size_t expected);
AX_HIDDEN void ax__u64map_free(ax__u64map *m);
/* Pointer to the value of key, inserting it with value `init` if absent (*found says
 * which). NULL on OOM. Pointers stay valid until a key is inserted or deleted (finding
 * an existing key never moves anything). */
AX_HIDDEN uint64_t *ax__u64map_upsert(ax__u64map *m, uint64_t key, uint64_t init, bool *found);
/* Pointer to the value or NULL. */
AX_HIDDEN uint64_t *ax__u64map_get(const ax__u64map *m, uint64_t key);
AX_HIDDEN bool ax__u64map_del(ax__u64map *m, uint64_t key);

/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->keys[i] != AX__EMPTY) ... */
#define AX__EMPTY UINT64_MAX

/* key of an unordered pair of ids below 2^32 */
static inline uint64_t ax__pair_key(uint64_t a, uint64_t b)
{
    return a < b ? (a << 32) | b : (b << 32) | a;
}

/* ---- union-find (path halving; callers pick the union rule) ----------------------- */
static inline uint32_t ax__uf_find32(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static inline uint64_t ax__uf_find64(uint64_t *parent, uint64_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* ---- block grid over a 3-d volume -------------------------------------------------- */
typedef struct ax__grid {
    int64_t shape[3], block[3], nb[3];
    int64_t count;
} ax__grid;

AX_HIDDEN int ax__grid_init(ax__grid *g, const int64_t shape[3], const int64_t block[3]);
/* start and size of block i */
AX_HIDDEN void ax__grid_box(const ax__grid *g, int64_t i, int64_t start[3], int64_t size[3]);

/* ---- affinity validation ------------------------------------------------------------ */
/* Check n affinities are in [0,1] (NaN fails); on failure set a message naming `what`,
 * the channel and voxel (box-relative index -> global coords via start/size). */
AX_HIDDEN int ax__check_affs(const float *a, int nch, const int64_t start[3],
                             const int64_t size[3], const char *what);

/* ---- where blocks come from and go to: an in-memory array or a volume on disk ------- */
typedef struct ax__io {
    const float *aff;       /* in-memory 3-channel affinities, or NULL */
    const uint64_t *labels; /* in-memory labels (read side), or NULL */
    uint64_t *out;          /* in-memory labels (write side), or NULL */
    ax_volume *vol;         /* otherwise a volume: 4-d (3,z,y,x) affinities or 3-d labels */
    int64_t shape[3];
    const char *name;       /* for messages: the volume path or "affinities" */
    bool locked_writes;     /* blocks not aligned with the volume's chunks: serialise I/O */
} ax__io;

/* Read 3 affinity channels of the box (start, size) into buf (3 * box voxels, channel
 * major), checking values (uint8 volumes are read as value/255). */
AX_HIDDEN int ax__io_read_affs(const ax__io *io, const int64_t start[3], const int64_t size[3],
                               float *buf);
AX_HIDDEN int ax__io_read_labels(const ax__io *io, const int64_t start[3],
                                 const int64_t size[3], uint64_t *buf);
AX_HIDDEN int ax__io_write_labels(const ax__io *io, const int64_t start[3],
                                  const int64_t size[3], const uint64_t *buf);
/* Serialise a read-modify-write of a block when io->locked_writes. */
AX_HIDDEN void ax__io_lock(const ax__io *io);
AX_HIDDEN void ax__io_unlock(const ax__io *io);
/* Fill io from a volume: 3-d labels (nch = 0) or 4-d affinities with 3 channels. */
AX_HIDDEN int ax__io_from_volume(ax__io *io, ax_volume *v, int nch);
/* Block shape: the caller's, else the volume's chunks grown to >= 64 per axis. Sets
 * io->locked_writes for `out` when the blocks are not unions of its chunks. */
AX_HIDDEN void ax__pick_block(const int64_t want[3], const ax_volume *chunks_from,
                              const int64_t shape[3], int64_t block[3]);
AX_HIDDEN bool ax__block_aligned(const ax_volume *v, const int64_t block[3],
                                 const int64_t shape[3]);

#endif
