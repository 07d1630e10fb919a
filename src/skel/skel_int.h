/* skel_int.h: internals shared by the skeleton code (not installed). */
#ifndef AX_SKEL_INT_H
#define AX_SKEL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"

/* ax_distance_transform without the argument checks (aniso: voxel size z, y, x) */
AX_HIDDEN int ax__edt(const uint8_t *mask, const int64_t shape[3], const double aniso[3],
                      bool black, float *out);

/* TEASAR on one object: mask (non-zero = object) is the object's box of `shape`, whose
 * faces are either the volume's edges (not a boundary) or hold only non-object voxels.
 * origin: world position in nm (z, y, x) of the box's voxel (0,0,0) corner; aniso: voxel
 * size (z, y, x). *out gets a new skeleton with the given id (vertices at voxel centres). */
AX_HIDDEN int ax__teasar(const uint8_t *mask, const int64_t shape[3], const double aniso[3],
                         const double origin[3], const ax_skel_params *p, uint64_t id,
                         ax_skeleton **out);

#endif /* AX_SKEL_INT_H */
