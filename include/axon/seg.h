/* axon/seg.h: from boundary or affinity maps to 3-d segmentations.
 *
 * Arrays are 3-d, C order (z, y, x), x fastest; shape[3] = {nz, ny, nx}. Labels are
 * uint64, 0 = background; outputs are relabelled consecutively 1..n in the raster order
 * of each segment's first voxel, so equal partitions give equal arrays.
 *
 * Affinity convention (waterz / zwatershed / affogato): aff[c][z][y][x], float32, one
 * channel per offset o_c; channel c links voxel p to voxel p + o_c, 1 = same object,
 * 0 = boundary. The nearest-neighbour channels are o = (-1,0,0), (0,-1,0), (0,0,-1), so
 * aff[0][z][y][x] links (z,y,x) to (z-1,y,x). Edges that would leave the volume are
 * ignored (by convention their stored value is 0).
 *
 * Functions return AX_OK or an AX_E_* code with ax_errmsg() set. All of them run on the
 * thread pool (ax_threads_set) and give the same result for any thread count.
 *
 * Block-wise (the *_volume functions): volumes on disk are processed block by block with
 * bounded memory, and the result does not depend on the block shape (see
 * docs/segmentation.md for the seam rules).
 */
#ifndef AXON_SEG_H
#define AXON_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- connected components --------------------------------------------------------- */

/* Connected components of a label volume: voxels with the same non-zero value that touch
 * (connectivity 6: faces, 18: faces + edges, 26: faces + edges + corners) are one
 * component; a binary mask is the special case of one value. out may equal in.
 * *n_components (may be NULL) receives the number of components. A connectivity other than
 * 6/18/26 or a shape entry <= 0 is AX_E_INVALID; a size that overflows, or rows of 2^31
 * voxels or more, AX_E_RANGE. */
AX_API int ax_cc_label(const uint64_t *in, const int64_t shape[3], int connectivity,
                       uint64_t *out, uint64_t *n_components);

typedef struct ax_cc_params {
    int connectivity;      /* 6 (default), 18 or 26 */
    bool use_threshold;    /* foreground = value > threshold (a binary input) */
    double threshold;      /* otherwise every distinct non-zero value is its own label */
    int64_t block[3];      /* block shape; 0 entries (default): the input's chunk shape,
                              doubled along axes thinner than 64 voxels and halved while a
                              block holds more than 2^22 voxels */
} ax_cc_params;

AX_API ax_cc_params ax_cc_params_default(void);

/* Block-wise connected components of a 3-d volume of any dtype into `out` (uint64, same
 * shape, created by the caller, opened for writing). Result equals ax_cc_label on the whole
 * volume exactly, for any block shape. Without use_threshold the input is read as uint64
 * (ax_volume_read_region_as: float values must be whole numbers). p may be NULL (defaults).
 * Memory: one block in and out per thread, ~32 bytes per block-local component, and the
 * blocks' faces run-length coded. Blocks not aligned with out's chunks write in turn. */
AX_API int ax_cc_volume(ax_volume *in, ax_volume *out, const ax_cc_params *p,
                        uint64_t *n_components);

/* ---- affinities ------------------------------------------------------------------- */

typedef enum ax_aff_mode {
    AX_AFF_MIN = 0, /* aff = min(1 - b_p, 1 - b_q): the weaker voxel decides */
    AX_AFF_MEAN = 1 /* aff = 1 - (b_p + b_q) / 2 */
} ax_aff_mode;

/* Nearest-neighbour affinities (3 channels, offsets (-1,0,0), (0,-1,0), (0,0,-1)) from a
 * boundary probability map b in [0,1] (1 = membrane), in float32 arithmetic: aff[c][p] =
 * f(b_p, b_{p+o_c}) with f from `mode`; the first plane of channel 0, row of channel 1
 * and column of channel 2 are 0. aff holds 3 * nz*ny*nx floats (caller-allocated). NaN
 * or values outside [0,1] are AX_E_INVALID, the message naming the first bad voxel in
 * raster order. A box of the volume plus one voxel below it on each axis gives the
 * box's values exactly (block-wise use). */
AX_API int ax_affinities_from_boundary(const float *boundary, const int64_t shape[3],
                                       ax_aff_mode mode, float *aff);

/* Ground-truth affinities for any offsets (n_offsets >= 1; long-range, positive and
 * longer-than-the-volume offsets are all fine): aff[c][p] = 1 when p and p + o_c are
 * inside the volume, have the same label and that label is not 0; else 0. aff holds
 * n_offsets * nz*ny*nx floats (caller-allocated). */
AX_API int ax_affinities_from_labels(const uint64_t *labels, const int64_t shape[3],
                                     const int64_t (*offsets)[3], int n_offsets, float *aff);

/* ---- watershed (zwatershed) ------------------------------------------------------- */

typedef struct ax_watershed_params {
    float low;              /* edges <= low never join voxels (default 0.0001) */
    float high;             /* edges >= high always join voxels (default 0.9999) */
    float merge_low;        /* size merging only uses edges >= merge_low (default 0.3) */
    int64_t size_threshold; /* merge a region smaller than this into its best neighbour
                               (default 250) */
    int64_t dust;           /* regions still smaller than this become 0 (default 50) */
    int64_t block[3];       /* block shape for ax_watershed_volume; 0: input chunks */
} ax_watershed_params;

AX_API ax_watershed_params ax_watershed_params_default(void);

/* Watershed of a 3-channel nearest-neighbour affinity map into seg (nz*ny*nx labels). */
AX_API int ax_watershed(const float *aff, const int64_t shape[3], const ax_watershed_params *p,
                        uint64_t *seg, uint64_t *n_segments);

/* Block-wise watershed: affs is a 4-d (3, z, y, x) volume (float32, or uint8 read as
 * value/255), out a uint64 3-d volume of shape (z, y, x). Equals ax_watershed exactly. */
AX_API int ax_watershed_volume(ax_volume *affs, ax_volume *out, const ax_watershed_params *p,
                               uint64_t *n_segments);

/* ---- agglomeration (waterz) ------------------------------------------------------- */

typedef enum ax_merge_function {
    AX_MERGE_MEAN = 0,     /* mean affinity over the boundary's voxel edges */
    AX_MERGE_QUANTILE = 1, /* quantile q of it, from a 256-bin histogram */
    AX_MERGE_MAX = 2       /* largest affinity on the boundary */
} ax_merge_function;

typedef struct ax_agglomerate_params {
    ax_merge_function merge_function;
    double quantile;           /* for AX_MERGE_QUANTILE, in [0,1] (default 0.5) */
    const double *thresholds;  /* merge while score = 1 - statistic < threshold */
    int n_thresholds;          /* one output per threshold, ascending */
    int64_t block[3];          /* block shape for ax_agglomerate_volume; 0: input chunks */
} ax_agglomerate_params;

AX_API ax_agglomerate_params ax_agglomerate_params_default(void);

/* Agglomerate `fragments` (0 = never merged) over the 3-channel affinities. segs[i]
 * (caller-allocated, nz*ny*nx each) receives the segmentation at thresholds[i]. */
AX_API int ax_agglomerate(const float *aff, const uint64_t *fragments, const int64_t shape[3],
                          const ax_agglomerate_params *p, uint64_t **segs);

/* Block-wise agglomeration of volumes on disk into outs[i] (uint64, created by the caller).
 * Equals ax_agglomerate exactly. */
AX_API int ax_agglomerate_volume(ax_volume *affs, ax_volume *fragments, ax_volume **outs,
                                 const ax_agglomerate_params *p);

/* ---- mutex watershed (affogato) --------------------------------------------------- */

/* Mutex watershed: the first n_attractive channels are attractive edges of weight aff,
 * the rest repulsive with weight 1 - aff; edges are taken heaviest first (Kruskal), an
 * attractive edge joins two clusters unless a mutex separates them, a repulsive edge puts
 * a mutex between two clusters. strides (NULL = 1,1,1) keep only the repulsive edges
 * whose voxel coordinates are multiples of the strides.
 * aff holds n_offsets * nz*ny*nx floats as above; edges leaving the volume are skipped
 * whatever their stored value. Equal weights are taken in edge-index order (channel,
 * then voxel raster order; so attractive before repulsive), which makes the result
 * deterministic. 1 <= n_attractive <= n_offsets <= 64, strides >= 1, at most 2^32 - 2
 * voxels; a NaN in an in-volume edge is AX_E_INVALID (other values, infinities included,
 * are weights). seg (nz*ny*nx, caller-allocated) gets labels 1..n, *n_segments (may be
 * NULL) = n. Memory: 8 bytes per edge plus 9 per voxel plus the mutex sets. */
AX_API int ax_mutex_watershed(const float *aff, const int64_t shape[3],
                              const int64_t (*offsets)[3], int n_offsets, int n_attractive,
                              const int64_t strides[3], uint64_t *seg, uint64_t *n_segments);

#ifdef __cplusplus
}
#endif
#endif /* AXON_SEG_H */
