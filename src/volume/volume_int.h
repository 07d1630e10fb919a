/* volume_int.h: the backend interface behind ax_volume, and shared codec/JSON helpers.
 *
 * A backend knows one on-disk format. It describes the volume (fills v->info) and moves
 * whole chunks: read_chunk decodes chunk `cidx` into a buffer shaped like a full chunk
 * (v->info.chunks, C order, native endianness, dtype v->info.dtype) and write_chunk takes
 * the same. For edge chunks only the part inside the volume matters: a backend whose
 * format stores truncated edge blocks (N5, precomputed, TIFF) crops on write and leaves
 * the rest of the buffer untouched on read; one that stores full chunks (Zarr, HDF5)
 * stores what it is given. Everything else (regions, cache, threads) is volume.c's.
 *
 * Backend contract:
 *  - read_chunk returns AX_E_NOTFOUND, with no message, for a chunk that is absent;
 *    volume.c fills it with the fill value.
 *  - read_chunk/write_chunk may be called from several threads at once for different
 *    chunks; a backend whose library is not reentrant serialises internally.
 *  - Every failure sets a message naming the file (ax__err) and the problem.
 *  - create() builds at v->build_path (a hidden temp sibling of the target, or the
 *    target itself when v->build_path == v->final_path), and close(v, commit) finalises
 *    metadata; volume.c then renames build_path to final_path when they differ.
 */
#ifndef AX_VOLUME_INT_H
#define AX_VOLUME_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/core_int.h"

typedef struct ax__backend {
    const char *name;
    ax_format format;
    /* Fill v->info and v->impl from an existing volume at `path` (already stripped of any
     * "fmt:" prefix). `inner` is the part after "file.h5:" / "x.zarr:" (may be NULL). */
    int (*open)(ax_volume *v, const char *path, const char *inner, int mode);
    /* Create an empty volume at v->build_path (+ inner). v->info is already filled from
     * the params (dtype, shape, chunks defaulted, compression defaulted by the backend). */
    int (*create)(ax_volume *v, const char *path, const char *inner,
                  const ax_volume_create_params *p);
    int (*read_chunk)(ax_volume *v, const int64_t *cidx, void *buf);
    int (*write_chunk)(ax_volume *v, const int64_t *cidx, const void *buf);
    /* Flush and free v->impl. commit=false: the caller will delete build files. */
    int (*close)(ax_volume *v, bool commit);
} ax__backend;

typedef struct ax__cache_entry ax__cache_entry;

struct ax_volume {
    const ax__backend *be;
    void *impl;
    ax_volume_info info;
    int mode;
    char *path;        /* as given by the user */
    char *final_path;  /* file/dir the volume lives at when committed */
    char *build_path;  /* where create() writes; == final_path when opened */
    bool created;      /* made by ax_volume_create (commit renames build->final) */
    bool overwrite;    /* created with overwrite: commit may replace what is at final_path */
    char *group_root;  /* zarr/n5 created as "root.zarr:inner": the container root, whose
                          groups the backend marks (.zgroup / attributes.json); else NULL */
    size_t chunk_elems;
    size_t chunk_bytes;
    int64_t grid[AX_MAX_DIMS]; /* chunks per axis */

    /* decoded-chunk cache (LRU) */
    pthread_mutex_t lock;
    ax__cache_entry **buckets;
    size_t nbuckets;
    ax__cache_entry *lru_head, *lru_tail; /* head = most recent */
    size_t cache_bytes, cache_cap, cache_peak;
    atomic_uint_least64_t n_read, n_written, n_hits;
};

/* Defaults a backend may use for create(). */
AX_HIDDEN void ax__default_chunks(const ax_volume_create_params *p, int64_t *chunks);

/* ---- backends --------------------------------------------------------------------- */
AX_HIDDEN extern const ax__backend ax__backend_zarr;
AX_HIDDEN extern const ax__backend ax__backend_n5;
AX_HIDDEN extern const ax__backend ax__backend_hdf5;
AX_HIDDEN extern const ax__backend ax__backend_tiff;     /* multi-page */
AX_HIDDEN extern const ax__backend ax__backend_tiff_dir; /* slice directory */
AX_HIDDEN extern const ax__backend ax__backend_precomputed;

/* ---- codecs (codec.c) ------------------------------------------------------------- */
/* Compress src into a new malloc'd buffer. typesize feeds blosc's shuffle. */
AX_HIDDEN int ax__compress(ax_compression c, int level, size_t typesize, const void *src,
                           size_t n, uint8_t **dst, size_t *dn);
/* Decompress into dst which must receive exactly `expect` bytes (AX_E_CORRUPT if the
 * stream is bad or its size differs). The message names `what` (a file path). */
AX_HIDDEN int ax__decompress(ax_compression c, const void *src, size_t n, void *dst,
                             size_t expect, const char *what);
/* LZF decoder (liblzf format, HDF5 filter 32000). Returns bytes written or -1. */
AX_HIDDEN long ax__lzf_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* Neuroglancer compressed_segmentation (cseg.c), one channel of a block of size
 * (z,y,x) = shape, uint32 or uint64 labels (elem = 4 or 8), block grid `bs` (x,y,z order
 * as in the info file: bs[0]=x). Output/input: the channel's encoded words. */
AX_HIDDEN int ax__cseg_encode(const void *labels, int elem, const int64_t shape[3],
                              const int64_t bs[3], uint8_t **out, size_t *out_len);
AX_HIDDEN int ax__cseg_decode(const uint8_t *in, size_t in_len, int elem,
                              const int64_t shape[3], const int64_t bs[3], void *labels,
                              const char *what);

/* ---- helpers for backends (volume.c) ---------------------------------------------- */
/* Fill n elements of dtype with value. */
AX_HIDDEN void ax__fill(void *buf, ax_dtype t, size_t n, double value);
/* Extent of chunk cidx clipped to the volume: per-axis number of valid elements. */
AX_HIDDEN void ax__chunk_extent(const ax_volume *v, const int64_t *cidx, int64_t *ext);
/* Copy an N-d box between two C-order arrays: box `size` from src at src_start (src
 * shape src_shape) to dst at dst_start (dst shape dst_shape). elem = bytes per element. */
AX_HIDDEN void ax__copy_box(int ndim, size_t elem, const int64_t *size, const void *src,
                            const int64_t *src_shape, const int64_t *src_start, void *dst,
                            const int64_t *dst_shape, const int64_t *dst_start);
/* Check a shape: ndim in 1..AX_MAX_DIMS, all > 0, product * elem fits in int64 and below
 * 2^62 bytes. Message names `what`. */
AX_HIDDEN int ax__check_shape(int ndim, const int64_t *shape, size_t elem, const char *what);

/* ---- JSON (json_util.c, over jansson) --------------------------------------------- */
typedef struct json_t json_t;
/* Parse a JSON file (at most max_bytes). Missing file: AX_E_NOTFOUND with a message;
 * a syntax error: AX_E_FORMAT "path: line L, column C: what". */
AX_HIDDEN int ax__json_load(const char *path, size_t max_bytes, json_t **out);
/* Serialise (indent 4, keys in insertion order) and write atomically. Steals nothing. */
AX_HIDDEN int ax__json_save(const char *path, const json_t *j);
/* obj[key] as an array of up to `max` integers. Missing key: AX_E_FORMAT unless
 * optional (then *n = 0 and AX_OK). Non-integers or too many entries: AX_E_FORMAT. */
AX_HIDDEN int ax__json_int_array(const json_t *obj, const char *key, int64_t *out, int max,
                                 int *n, bool optional, const char *path);
/* Same for numbers (integers or reals). */
AX_HIDDEN int ax__json_num_array(const json_t *obj, const char *key, double *out, int max,
                                 int *n, bool optional, const char *path);

#endif /* AX_VOLUME_INT_H */
