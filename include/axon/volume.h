/* axon/volume.h: chunked N-d volumes on disk (TIFF, HDF5, Zarr v2, N5, Neuroglancer
 * precomputed) behind one opaque handle.
 *
 * Axes are C order, slowest first: (z, y, x) for 3-d volumes and (c, z, y, x) for 4-d
 * volumes with channels. Voxel size and offset always describe the last three axes
 * (z, y, x) in nanometres; the offset is in world units (nm), as in funlib/daisy.
 *
 * Region reads and writes touch only the chunks the region overlaps. Decoded chunks are
 * kept in a bounded LRU cache per volume (AX_CACHE_MB, default 256 MiB). Missing chunks
 * read as the fill value.
 *
 * Writes: every file (chunk or metadata) is written to a temporary name and renamed into
 * place. A volume made by ax_volume_create() is built under a hidden temporary name next
 * to the target and renamed into place by ax_volume_close(), so an interrupted writer
 * never leaves something that looks complete. ax_volume_abort() discards it.
 *
 * Thread-safety: one handle may be read from many threads at once. Concurrent writes are
 * safe when they touch different chunks. Opening, closing and creating are not to be
 * raced on the same handle.
 */
#ifndef AXON_VOLUME_H
#define AXON_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_MAX_DIMS 5

typedef enum ax_dtype {
    AX_DTYPE_UNKNOWN = 0,
    AX_DTYPE_U8 = 1,
    AX_DTYPE_U16 = 2,
    AX_DTYPE_U32 = 3,
    AX_DTYPE_U64 = 4,
    AX_DTYPE_I32 = 5,
    AX_DTYPE_F32 = 6
} ax_dtype;

typedef enum ax_format {
    AX_FORMAT_AUTO = 0,
    AX_FORMAT_TIFF = 1,     /* one multi-page TIFF file, a page per z section */
    AX_FORMAT_TIFF_DIR = 2, /* a directory of single-page TIFF files, sorted by name */
    AX_FORMAT_HDF5 = 3,     /* file.h5:dataset/path */
    AX_FORMAT_ZARR = 4,     /* Zarr v2 array directory */
    AX_FORMAT_N5 = 5,       /* N5 dataset directory */
    AX_FORMAT_PRECOMPUTED = 6 /* Neuroglancer precomputed, first (finest) scale */
} ax_format;

typedef enum ax_compression {
    AX_COMPRESSION_DEFAULT = 0, /* the format's default: zstd (zarr), gzip (n5, hdf5), raw
                                   (precomputed, tiff) */
    AX_COMPRESSION_RAW = 1,
    AX_COMPRESSION_GZIP = 2,
    AX_COMPRESSION_ZLIB = 3,
    AX_COMPRESSION_ZSTD = 4,
    AX_COMPRESSION_BLOSC = 5,
    AX_COMPRESSION_LZF = 6,                     /* HDF5 filter 32000, read only */
    AX_COMPRESSION_COMPRESSED_SEGMENTATION = 7, /* Neuroglancer labels encoding */
    AX_COMPRESSION_JPEG = 8,
    AX_COMPRESSION_OTHER = 9 /* something the backend reads but axon cannot name */
} ax_compression;

typedef struct ax_volume ax_volume;

/* What a volume is. Filled by the backend; read it with ax_volume_get_info(). */
typedef struct ax_volume_info {
    ax_format format;
    ax_dtype dtype;
    int ndim;                      /* 3 or 4 (up to AX_MAX_DIMS) */
    int64_t shape[AX_MAX_DIMS];    /* C order, slowest first */
    int64_t chunks[AX_MAX_DIMS];   /* chunk (block) shape, same order */
    bool has_voxel_size;           /* false: voxel_size is 1,1,1 by default */
    double voxel_size[3];          /* nm, (z, y, x) */
    double offset[3];              /* nm, (z, y, x) */
    ax_compression compression;
    int compression_level; /* -1 when unknown / not applicable */
    double fill_value;     /* value of missing chunks */
    bool is_labels;        /* the format says this is a segmentation (precomputed type) */
} ax_volume_info;

/* How to create a volume. Start from ax_volume_create_params_default(). */
typedef struct ax_volume_create_params {
    ax_format format;      /* AX_FORMAT_AUTO: from the path (default) */
    ax_dtype dtype;        /* required */
    int ndim;              /* required: 3 or 4 */
    int64_t shape[AX_MAX_DIMS];  /* required, every entry > 0 */
    int64_t chunks[AX_MAX_DIMS]; /* 0 entries: a default (64^3 spatial, 1 channel) */
    ax_compression compression;  /* default: format's default */
    int compression_level;       /* -1: codec default */
    bool has_voxel_size;         /* default false */
    double voxel_size[3];        /* nm (z,y,x), default 1,1,1 */
    double offset[3];            /* nm (z,y,x), default 0 */
    double fill_value;           /* default 0 */
    bool is_labels;              /* precomputed: type "segmentation" (default false) */
    bool overwrite;              /* replace an existing volume at the path (default false) */
    char zarr_order;             /* 'C' (default) or 'F' */
    char zarr_separator;         /* '.' (default) or '/' */
} ax_volume_create_params;

enum ax_open_mode { AX_OPEN_READ = 0, AX_OPEN_RW = 1 };

/* Defaults documented field by field above. */
AX_API ax_volume_create_params ax_volume_create_params_default(void);

/* Open an existing volume. The format comes from the path:
 *   x.tif / x.tiff            multi-page TIFF        dir/ of *.tif           TIFF slices
 *   x.h5:path (also .hdf5, .hdf)  HDF5 dataset
 *   dir with .zarray          Zarr v2 array          x.zarr:path/in/group    array in a group
 *   dir with attributes.json  N5 dataset             x.n5:path/in/group
 *   dir with info             Neuroglancer precomputed (also precomputed://dir)
 * and can be forced with a prefix: tiff:, tiffdir:, h5:, zarr:, n5:, precomputed:.
 * On failure *out is NULL and ax_errmsg() names the file and the problem. */
AX_API int ax_volume_open(const char *path, int mode, ax_volume **out);

/* Create a new volume (see the prefixes above; a trailing '/' or tiffdir: makes a TIFF
 * slice directory). Fails with AX_E_EXISTS if something is at path and !p->overwrite. */
AX_API int ax_volume_create(const char *path, const ax_volume_create_params *p,
                            ax_volume **out);

/* Flush, commit (rename a created volume into place) and free. Returns the first error
 * met while committing; the handle is freed either way. NULL is a no-op. */
AX_API int ax_volume_close(ax_volume *v);

/* Free without committing: a created volume's temporary files are removed. NULL: no-op. */
AX_API void ax_volume_abort(ax_volume *v);

/* Delete what is stored at path (a zarr/n5/precomputed directory tree or a file; a
 * format prefix is ignored). Nothing there is not an error. */
AX_API int ax_volume_remove(const char *path);

/* Borrowed pointer, valid until close. */
AX_API const ax_volume_info *ax_volume_get_info(const ax_volume *v);
/* The path the volume was opened or created with. */
AX_API const char *ax_volume_path(const ax_volume *v);

/* Read the box [start, start+size) into buf (C order, contiguous, size[0]*...*size[n-1]
 * elements of `dtype`). dtype must equal the volume's (AX_E_DTYPE otherwise); a box
 * outside the volume is AX_E_RANGE. Chunks are decoded on the thread pool. */
AX_API int ax_volume_read_region(ax_volume *v, const int64_t *start, const int64_t *size,
                                 ax_dtype dtype, void *buf);

/* As ax_volume_read_region, converting to `dtype` by value: integers of any width to any
 * other when the value fits, integers to float32, and float32 to an integer type only
 * when every value is finite, whole and in range (AX_E_RANGE otherwise, naming the file).
 * Float maps stored as uint8 are read as 0..255: scaling is the caller's choice. */
AX_API int ax_volume_read_region_as(ax_volume *v, const int64_t *start, const int64_t *size,
                                    ax_dtype dtype, void *buf);
/* Write the box [start, start+size) from buf (layout as for read). Chunks only partly
 * covered are read, merged and rewritten. */
AX_API int ax_volume_write_region(ax_volume *v, const int64_t *start, const int64_t *size,
                                  ax_dtype dtype, const void *buf);

/* One pyramid level: out (3-d, shape ceil(in / factor), factors 1..8 per axis) from in.
 * Images: the mean of each factor box (same dtype, rounded for integers). labels: the
 * most frequent non-zero label of the box (ties: smaller id; 0 only for an all-0 box),
 * written as uint64. Streams slabs of out's chunk depth; deterministic. */
AX_API int ax_volume_downsample(ax_volume *in, ax_volume *out, const int64_t factor[3], bool labels);

/* Bound the decoded-chunk cache of this volume (0 disables caching). */
AX_API void ax_volume_set_cache_bytes(ax_volume *v, size_t bytes);

/* Counters since open: chunks decoded from storage, chunks written, cache hits, and the
 * most bytes the cache ever held. Any pointer may be NULL. */
AX_API void ax_volume_get_stats(const ax_volume *v, uint64_t *chunks_read,
                                uint64_t *chunks_written, uint64_t *cache_hits,
                                uint64_t *cache_peak_bytes);

/* ---- small helpers ---------------------------------------------------------------- */

AX_API size_t ax_dtype_size(ax_dtype t);        /* 0 for unknown */
AX_API const char *ax_dtype_name(ax_dtype t);   /* "uint8", ..., "float32" */
AX_API ax_dtype ax_dtype_from_name(const char *name); /* AX_DTYPE_UNKNOWN if unknown */
AX_API const char *ax_format_name(ax_format f);
AX_API const char *ax_compression_name(ax_compression c);
/* Parse "zstd", "gzip", "zlib", "blosc", "raw"/"none", "compressed_segmentation". */
AX_API ax_compression ax_compression_from_name(const char *name);

/* ---- pictures --------------------------------------------------------------------- */

/* Render section z of a volume (channel `channel` of a 4-d one) to 8-bit RGB, h*w*3 bytes
 * allocated into *rgb (free with free()). Images are stretched from their min..max (u8 is
 * shown as is); label volumes (as_labels) get a random colour per id, 0 black. If `labels`
 * is not NULL its ids are blended on top (alpha 0.45, 0 transparent); its y,x shape must
 * match. */
AX_API int ax_render_section(ax_volume *image, int64_t z, int64_t channel, bool as_labels,
                             ax_volume *labels, uint8_t **rgb, int64_t *h, int64_t *w);

/* Write an 8-bit RGB (channels=3) or grey (channels=1) PNG, atomically (temp + rename). */
AX_API int ax_png_write(const char *path, const uint8_t *pixels, int64_t h, int64_t w,
                        int channels);

#ifdef __cplusplus
}
#endif
#endif /* AXON_VOLUME_H */
