/* axon/error.h: status codes and the last-error message.
 *
 * Every public function that can fail returns an int: AX_OK (0) on success or one of the
 * negative AX_E_* codes below. The codes are stable and append-only.
 *
 * A human-readable message that names the file and the problem is kept per thread:
 * ax_errmsg() returns the message of the last failure on the calling thread. Work that
 * the library spreads over its thread pool carries the first worker's message back to
 * the calling thread, so ax_errmsg() after a failed call is always the right one.
 */
#ifndef AXON_ERROR_H
#define AXON_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef AX_API
#define AX_API __attribute__((visibility("default")))
#endif

enum ax_status {
    AX_OK = 0,
    AX_E_NOMEM = -1,       /* allocation failed */
    AX_E_IO = -2,          /* read/write/rename failed at the OS level */
    AX_E_NOTFOUND = -3,    /* file, dataset or metadata missing */
    AX_E_FORMAT = -4,      /* malformed metadata (JSON, HDF5 attributes, TIFF tags) */
    AX_E_UNSUPPORTED = -5, /* valid input that axon does not handle (yet) */
    AX_E_INVALID = -6,     /* bad argument from the caller */
    AX_E_RANGE = -7,       /* region outside the volume, shape overflow, bad dimension */
    AX_E_DTYPE = -8,       /* dtype mismatch or unknown dtype */
    AX_E_CORRUPT = -9,     /* chunk data that does not decode or has the wrong size */
    AX_E_EXISTS = -10,     /* output exists and overwrite was not asked for */
    AX_E_INTERNAL = -11,   /* invariant broken inside axon: a bug */
    AX_E_INTERRUPTED = -12 /* stopped by the user or an abort callback */
};

/* Short, static description of a status code ("corrupt data"). Never NULL. */
AX_API const char *ax_strerror(int status);

/* Message of the last failure on this thread, e.g.
 * "medulla.zarr/0.1.2: zstd: corrupt block (chunk (0,1,2))". Never NULL; empty when none.
 * The pointer stays valid until the next failing axon call on this thread. */
AX_API const char *ax_errmsg(void);

/* Clear this thread's last-error message. */
AX_API void ax_errclear(void);

#ifdef __cplusplus
}
#endif
#endif /* AXON_ERROR_H */
