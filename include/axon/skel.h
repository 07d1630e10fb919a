/* axon/skel.h: skeletons of segmented objects (TEASAR, as in kimimaro), the distance
 * transform they rest on, and two file formats: SWC and Neuroglancer precomputed skeletons.
 *
 * Coordinates: skeleton geometry is physical, (x, y, z) in nanometres like SWC and
 * Neuroglancer; volumes index (z, y, x). The vertex of voxel (z, y, x) sits at the voxel's
 * centre: x_nm = offset_x + (x + 0.5) * voxel_x (same for y, z), where offset is the
 * world position of voxel (0,0,0)'s corner (ax_volume_info.offset). So
 * floor((x_nm - offset_x) / voxel_x) gives the voxel back, free of rounding trouble, and
 * Neuroglancer draws the vertex in the middle of its voxel.
 *
 * Thread-safety: every function is reentrant; the skeletonizers spread objects over the
 * library's thread pool and give identical results for any thread count.
 */
#ifndef AXON_SKEL_H
#define AXON_SKEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One object's skeleton: a forest of vertices joined by edges. Geometry is physical,
 * (x, y, z) in nm like SWC and Neuroglancer (volumes index (z, y, x)).
 * Skeletons made by axon are forests with one tree per connected piece of the object;
 * every edge is (parent, child) and a parent's index is below its child's, so vertex 0
 * is the root of the first tree. */
typedef struct ax_skeleton {
    uint64_t id;          /* the object's label */
    int64_t n_vertices;
    float *vertices;      /* n_vertices * 3: x, y, z in nm */
    float *radii;         /* n_vertices: distance to the object's boundary in nm, or NULL */
    int64_t n_edges;
    uint32_t *edges;      /* n_edges * 2 vertex indices */
} ax_skeleton;

/* Free the arrays and the struct (all malloc'ed). NULL is a no-op. */
AX_API void ax_skeleton_free(ax_skeleton *s);
/* Free n skeletons and the array holding them (as returned by the skeletonizers). */
AX_API void ax_skeletons_free(ax_skeleton **s, int64_t n);
/* Sum of edge lengths in nm; 0 for NULL. */
AX_API double ax_skeleton_length(const ax_skeleton *s);

/* ---- skeletonization -------------------------------------------------------------- */

/* TEASAR parameters. Start from ax_skel_params_default(); lengths are in nm. */
typedef struct ax_skel_params {
    double anisotropy[3]; /* voxel size in nm (z, y, x). 0 entries (default): the volume's
                             voxel size (ax_skeletonize_volume) or 1 (ax_skeletonize_labels) */
    double offset[3];     /* ax_skeletonize_labels only: world position in nm (z, y, x) of
                             voxel (0,0,0)'s corner (default 0). ax_skeletonize_volume
                             uses the volume's offset. */
    double scale;         /* invalidation ball radius = scale * DBF + const_nm, where DBF is
                             a path vertex's distance to the boundary (default 1.5) */
    double const_nm;      /* (default 300 nm, kimimaro's) */
    double pdrf_scale;    /* penalty field: pdrf_scale * (1 - DBF / (1.01 max DBF))^exponent
                             (default 100000) */
    double pdrf_exponent; /* (default 4) */
    int64_t dust;         /* objects of fewer voxels get no skeleton (default 1000) */
    const uint64_t *object_ids; /* only these labels (borrowed, any order), or NULL: all */
    int64_t n_object_ids;
} ax_skel_params;

AX_API ax_skel_params ax_skel_params_default(void);

/* Skeletonize every non-zero label of an in-memory (z, y, x) uint64 array of `shape`:
 * *out gets one skeleton per kept label (size >= dust, in object_ids if given), sorted by
 * id, *n_out their number (0 and NULL when none). Free with ax_skeletons_free().
 *
 * ALGORITHM (per object, on its bounding box plus a 1-voxel border): exact anisotropic
 * Euclidean distance to the boundary (DBF; the array's edges are not a boundary, so an
 * object cut by them is treated as going on); for each 26-connected piece: the root is the
 * voxel farthest (geodesic distance) from the piece's first voxel; Dijkstra from the root
 * over step length * (1 + penalty(DBF)) gives every voxel a path to the root; the
 * farthest (geodesic) voxel not yet invalidated becomes a target, its path is traced back
 * to the tree, and every voxel within scale * DBF + const_nm of a path vertex (reached
 * through the object) is invalidated; repeat until nothing is left. Radii are the DBF.
 * p NULL: the defaults. Deterministic: the same output for any thread count.
 * MEMORY, per thread: about 5 bytes per voxel of the object's box (9 while its distance
 * transform is made) and ~100 bytes per object voxel (docs/skeletons.md).
 * Errors: AX_E_INVALID (NULL, empty shape, bad parameters), AX_E_NOMEM, AX_E_RANGE (an
 * object of 2^31 voxels or more), AX_E_INTERRUPTED (ax_interrupt). */
AX_API int ax_skeletonize_labels(const uint64_t *labels, const int64_t shape[3],
                                 const ax_skel_params *p, ax_skeleton ***out, int64_t *n_out);

/* The same for a label volume on disk (integer dtype; 3-d, or 4-d with one channel),
 * with memory bounded by the largest object's box, not the volume: a streaming pass over
 * the volume's chunks finds every object's bounding box and size, then each object is read
 * as its box plus a 1-voxel border (ax_volume_read_region_as) and skeletonized. Vertices
 * are in nm and include the volume's offset; anisotropy 0 takes the volume's voxel size.
 * Results equal ax_skeletonize_labels() on the same data with the same voxel size and
 * offset. AX_E_DTYPE for a float volume, AX_E_RANGE for a multi-channel one. */
AX_API int ax_skeletonize_volume(ax_volume *seg, const ax_skel_params *p, ax_skeleton ***out,
                                 int64_t *n_out);

/* Exact Euclidean distance transform (Felzenszwalb-Huttenlocher, separable): for every
 * non-zero voxel of mask, of `shape` (z, y, x), its distance in nm to the centre of the
 * nearest zero voxel, voxel size `anisotropy` (z, y, x, nm; NULL: 1,1,1); 0 at zero
 * voxels. black_border: the outside of the array counts as zero; otherwise it is ignored
 * (like scipy.ndimage.distance_transform_edt), and a mask without zeros gives +inf. */
AX_API int ax_distance_transform(const uint8_t *mask, const int64_t shape[3],
                                 const double anisotropy[3], bool black_border, float *out);

/* ---- files ------------------------------------------------------------------------ */

/* Write an SWC file (columns: id type x y z radius parent; type 0, ids from 1, parents
 * before children, radius 0 when s->radii is NULL), atomically (temp + rename).
 * AX_E_UNSUPPORTED if the edges are not a forest (SWC cannot hold a cycle). */
AX_API int ax_swc_write(const char *path, const ax_skeleton *s);
/* Read an SWC file into a new skeleton (free with ax_skeleton_free): vertices in file
 * order, one (parent, child) edge per node with a parent, radii always set. The id comes
 * from the file name's leading digits ("123.swc", "123_axon.swc") if any, else 0.
 * AX_E_FORMAT (naming the line) for a malformed line or an unknown parent. */
AX_API int ax_swc_read(const char *path, ax_skeleton **out);

/* Write Neuroglancer precomputed skeletons (unsharded): dir/info
 * {"@type": "neuroglancer_skeletons", identity "transform", "vertex_attributes": [radius
 * float32], "spatial_index": null} and one file dir/<id> per skeleton: uint32le
 * num_vertices, uint32le num_edges, float32le positions (x, y, z in nm), uint32le edges,
 * float32le radii (0 where NULL). The directory is created if needed; files are written
 * atomically. Point a segmentation's info "skeletons" key at the directory to view them. */
AX_API int ax_skeletons_write_precomputed(const char *dir, ax_skeleton *const *s, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* AXON_SKEL_H */
