/* mesh_int.h: internals shared by the meshing files (not installed). */
#ifndef AX_MESH_INT_H
#define AX_MESH_INT_H

#include <stdint.h>

#include "core/core_int.h"

/* A growing mesh under construction: vertices in padded-mask voxel coordinates (x, y, z)
 * until ax__mc_to_nm() turns them physical. */
typedef struct ax__mc_out {
    float *v;        /* 3 per vertex */
    uint32_t *t;     /* 3 per triangle */
    int64_t nv, nt, cap_v, cap_t;
} ax__mc_out;

/* Reusable per-thread scratch for marching cubes (edge-vertex index planes). */
typedef struct ax__mc_scratch {
    int32_t *plane; /* 2 planes * 2 axes (x, y edges) + 1 plane of z edges, ny*nx each */
    size_t cap;
} ax__mc_scratch;

/* Marching cubes over a 0/1 mask of shape (nz, ny, nx) whose outermost voxels are all 0
 * (so every surface closes). Appends to out (out->nv/nt may start at 0; the arrays grow).
 * Vertex coordinates are in mask index units, x fastest: vertex (x, y, z). */
AX_HIDDEN int ax__mc_run(const uint8_t *mask, const int64_t shape[3], ax__mc_scratch *s,
                         ax__mc_out *out);
AX_HIDDEN void ax__mc_scratch_free(ax__mc_scratch *s);
AX_HIDDEN void ax__mc_out_free(ax__mc_out *o);

/* Quadric simplification of a closed manifold (no validation): positions are doubles,
 * triangles rewritten in place; counts updated. target_tris >= 4. */
AX_HIDDEN int ax__simplify(double *pos, int64_t *nv, uint32_t *tri, int64_t *nt,
                           int64_t target_tris, double max_error);

/* Taubin lambda|mu smoothing, `iters` passes of a uniform Laplacian over the 1-ring. */
AX_HIDDEN int ax__smooth(double *pos, int64_t nv, const uint32_t *tri, int64_t nt, int iters);

#endif
