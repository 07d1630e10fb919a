/* axon/axon.h: umbrella header for libaxon, the connectomics engine.
 *
 * Include this one header. Conventions: functions return AX_OK (0) or a negative AX_E_*
 * code (see error.h); objects are opaque handles made by ax_x_open/new/create and freed
 * by ax_x_close/free, which accept NULL.
 */
#ifndef AXON_AXON_H
#define AXON_AXON_H

#define AX_VERSION_MAJOR 0
#define AX_VERSION_MINOR 1
#define AX_VERSION_PATCH 0
#define AX_VERSION_NUMBER (AX_VERSION_MAJOR * 10000 + AX_VERSION_MINOR * 100 + AX_VERSION_PATCH)
#define AX_VERSION_STRING "0.1.0"

#include "core.h"
#include "error.h"
#include "volume.h"
#include "seg.h"
#include "eval.h"
#include "nn.h"
#include "skel.h"
#include "mesh.h"
#include "snn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library linked in; compare with AX_VERSION_NUMBER. */
AX_API int ax_version_number(void);
AX_API const char *ax_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* AXON_AXON_H */
