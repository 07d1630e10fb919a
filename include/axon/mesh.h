/* axon/mesh.h: surface meshes of segmented objects (marching cubes on each object's
 * binary mask, quadric edge-collapse simplification) and the files to view them in
 * (Neuroglancer precomputed legacy meshes, PLY, OBJ).
 *
 * Geometry is physical: vertices are (x, y, z) in nanometres, as Neuroglancer wants them,
 * while volumes and label arrays index (z, y, x). Voxel (z, y, x) covers
 * [offset + i * voxel_size, offset + (i + 1) * voxel_size) on each axis, so its centre is
 * at offset + (i + 0.5) * voxel_size and the mesh of a lone voxel has its vertices on the
 * voxel's faces.
 *
 * Every mesh made here is a closed, oriented 2-manifold: each undirected edge is shared
 * by exactly two triangles, each directed edge appears once, and triangles wind
 * counter-clockwise seen from outside the object, so the enclosed volume (signed
 * divergence sum) is positive. Objects are face-connected (6-connectivity): voxels that
 * touch only along an edge or at a corner get separate surface sheets. See docs/meshes.md.
 *
 * Functions return AX_OK or an AX_E_* code with ax_errmsg() set. The meshing functions run
 * on the thread pool, one object per task, and give identical meshes for any thread count.
 */
#ifndef AXON_MESH_H
#define AXON_MESH_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "error.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One object's surface. Made by the functions below; free with ax_mesh_free(). */
typedef struct ax_mesh {
    uint64_t id;          /* the object's label */
    int64_t n_vertices;
    float *vertices;      /* n_vertices * 3: x, y, z in nm */
    int64_t n_triangles;
    uint32_t *triangles;  /* n_triangles * 3 vertex indices, outward-facing (counter-clockwise
                             seen from outside) */
    int64_t n_triangles_mc; /* triangles marching cubes made, before simplification */
} ax_mesh;

/* Free a mesh and its arrays. NULL is a no-op. */
AX_API void ax_mesh_free(ax_mesh *m);
/* Free an array of n meshes as returned by ax_mesh_labels/ax_mesh_volume (NULL: no-op). */
AX_API void ax_meshes_free(ax_mesh **m, int64_t n);

/* How to mesh. Start from ax_mesh_params_default(). */
typedef struct ax_mesh_params {
    double voxel_size[3]; /* nm (z, y, x); 0 entries: the volume's (ax_mesh_volume) or 1
                             (ax_mesh_labels). Default 0, 0, 0 */
    double offset[3];     /* nm (z, y, x) added to every vertex; ax_mesh_volume adds it to
                             the volume's own offset. Default 0 */
    double reduction;     /* fraction of the marching-cubes triangles to keep, in (0, 1];
                             1 = no simplification. Default 0.15 */
    double max_error;     /* > 0: also stop simplifying an object before a collapse whose
                             quadric error (sum of squared distances to the original
                             triangles' planes, nm^2) would exceed this. Default 0 (off) */
    int64_t dust;         /* objects with fewer voxels get no mesh. Default 0 */
    int smooth_iterations; /* Taubin lambda|mu smoothing passes before simplification
                              (takes the voxel staircase off with little shrinkage;
                              0 = off). Default 0 */
    const uint64_t *ids;  /* mesh only these labels (n_ids of them; ids absent from the
                             volume are skipped); NULL: every non-zero label. Default NULL */
    int64_t n_ids;
} ax_mesh_params;

/* Defaults documented field by field above. */
AX_API ax_mesh_params ax_mesh_params_default(void);

/* One closed mesh per non-zero label of an in-memory (z, y, x) uint64 label array, sorted
 * by id. *out receives an array of *n_out meshes (free with ax_meshes_free; NULL with 0
 * meshes). p may be NULL (defaults). Each object is meshed in its bounding box padded with
 * one voxel of background, so memory is about one byte per box voxel per thread plus the
 * meshes. Shape entries <= 0 or bad parameters are AX_E_INVALID; an object with more than
 * 2^31 vertices is AX_E_RANGE. */
AX_API int ax_mesh_labels(const uint64_t *labels, const int64_t shape[3],
                          const ax_mesh_params *p, ax_mesh ***out, int64_t *n_out);

/* As ax_mesh_labels for a 3-d label volume on disk (any integer dtype; float32 is
 * AX_E_DTYPE). A streaming pass over blocks finds each object's bounding box and voxel
 * count, then each object's box is read (ax_volume_read_region_as, uint64) and meshed.
 * Memory: about 9 bytes per voxel of the largest bounding box per thread, ~64 bytes per
 * object, plus the meshes. Vertices are in nm including the volume's offset. Stops with
 * AX_E_INTERRUPTED after ax_interrupt(). Shows ax_progress. */
AX_API int ax_mesh_volume(ax_volume *seg, const ax_mesh_params *p, ax_mesh ***out,
                          int64_t *n_out);

/* Marching cubes of one binary mask (z, y, x), non-zero = inside, with voxel size and
 * offset (nm, z, y, x; NULL: 1 and 0) and no simplification: the raw, watertight surface
 * of the mask's face-connected parts (voxels on the array's border are closed off as if
 * the outside were background). *out is NULL when the mask is empty. */
AX_API int ax_mesh_mask(const uint8_t *mask, const int64_t shape[3], const double voxel_size[3],
                        const double offset[3], ax_mesh **out);

/* Simplify in place by quadric-error edge collapse (Garland-Heckbert) to about
 * reduction * n_triangles triangles (fewer collapses when max_error > 0 stops them first, or
 * when no legal collapse is left). Each collapse puts its vertex at the quadric's best point
 * among those that keep the enclosed volume (Lindstrom-Turk), so the volume does not drift.
 * The mesh must be a closed, oriented 2-manifold (as made here): anything else is
 * AX_E_INVALID, mesh untouched. Collapses that would break the link condition (and so the
 * manifold), turn a triangle's normal by more than ~75 degrees, or could not keep the volume
 * are refused, so the result stays closed, oriented and of the same topology.
 * Deterministic; single-threaded; O(T log T) time, ~140 bytes per vertex of memory. */
AX_API int ax_mesh_simplify(ax_mesh *m, double reduction, double max_error);

/* Write meshes as a Neuroglancer precomputed *legacy* mesh directory (made if missing):
 *   dir/info        {"@type": "neuroglancer_legacy_mesh"}
 *   dir/<id>:0      manifest {"fragments": ["<id>:0:0"]}
 *   dir/<id>:0:0    fragment: uint32le num_vertices, float32le x, y, z * num_vertices (nm),
 *                   then uint32le vertex indices, 3 per triangle, to the end of the file.
 * Each file is written atomically (temp + rename), on the thread pool. Meshes with more
 * than 2^32 - 1 vertices are AX_E_RANGE. */
AX_API int ax_meshes_write_precomputed(const char *dir, ax_mesh *const *m, int64_t n);

/* One mesh as binary little-endian PLY (float x, y, z; uchar-counted uint triangles) or
 * as Wavefront OBJ (text, 1-based), atomically. */
AX_API int ax_mesh_write_ply(const char *path, const ax_mesh *m);
AX_API int ax_mesh_write_obj(const char *path, const ax_mesh *m);

/* ---- measures (tests, reports) ------------------------------------------------------ */

/* Enclosed volume (nm^3; signed: positive for outward-facing triangles) and surface area
 * (nm^2). Either pointer may be NULL. */
AX_API void ax_mesh_measure(const ax_mesh *m, double *volume, double *area);

/* True when m is a closed, oriented 2-manifold surface: every directed edge appears exactly
 * once and its reverse too, every vertex's triangles form a single fan, no triangle repeats
 * a vertex, indices are in range (unused vertices are allowed). With
 * euler non-NULL, *euler = V - E + F (2 per sphere-like component, 0 for a torus); with
 * why non-NULL, a static string saying what is wrong. */
AX_API bool ax_mesh_is_closed_manifold(const ax_mesh *m, int64_t *euler, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* AXON_MESH_H */
