/* core_int.h: internals shared across libaxon (not installed). */
#ifndef AX_CORE_INT_H
#define AX_CORE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/axon.h"

#define AX_HIDDEN __attribute__((visibility("hidden")))

#if defined(__GNUC__)
#define AX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AX_PRINTF(a, b)
#endif

/* Always-on invariant check: a failure is a bug in axon, never bad input. */
#define AX_ASSERT(x)                                                                    \
    do {                                                                                \
        if (!(x)) ax__assert_fail(#x, __FILE__, __LINE__);                              \
    } while (0)
AX_HIDDEN _Noreturn void ax__assert_fail(const char *expr, const char *file, int line);

/* Set this thread's error message (printf style) and return `code` so callers can write
 * `return ax__err(AX_E_FORMAT, "%s: bad JSON", path);`. */
AX_HIDDEN int ax__err(int code, const char *fmt, ...) AX_PRINTF(2, 3);
/* Prefix the current message: "<prefix>: <old message>". Returns code. */
AX_HIDDEN int ax__err_prefix(int code, const char *fmt, ...) AX_PRINTF(2, 3);
/* Copy of this thread's message into dst (for carrying it across threads). */
AX_HIDDEN void ax__err_copy(char *dst, size_t n);
AX_HIDDEN void ax__err_set_raw(const char *msg);

/* 64-bit finaliser of MurmurHash3: spreads keys for the open-addressing hash tables */
static inline uint64_t ax__mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ---- allocation with overflow checks ---------------------------------------------- */
/* n*size overflow => NULL. */
AX_HIDDEN void *ax__malloc_array(size_t n, size_t size);
AX_HIDDEN void *ax__calloc(size_t n, size_t size);
/* 64-byte aligned, free with free(). */
AX_HIDDEN void *ax__aligned_alloc(size_t bytes);
/* For big working buffers swept by kernels (activations, padded copies): 2 MiB aligned and
 * marked for transparent huge pages (4 KiB pages cost TLB misses and page faults that
 * showed up as 10-30% of a conv layer's time). Free with free(). */
AX_HIDDEN void *ax__huge_alloc(size_t bytes);
/* A grow-only buffer of at least `bytes` owned by the calling thread and kept across calls
 * (huge-page backed): kernels' big per-call scratch without a fresh mmap, and the kernel
 * zeroing its pages, on every call (that was 11% of a training step). Each slot is one
 * buffer; the contents are undefined; NULL on OOM. Never free the result. */
#define AX_SCRATCH_SLOTS 4
enum { AX_SCRATCH_CONV_PAD = 0, AX_SCRATCH_WGRAD_PART = 1, AX_SCRATCH_WGRAD_THREADS = 2 };
AX_HIDDEN void *ax__scratch(int slot, size_t bytes);
/* Free this thread's scratch buffers (ax_net_free calls it). */
AX_HIDDEN void ax__scratch_release(void);
AX_HIDDEN char *ax__strdup(const char *s);
AX_HIDDEN char *ax__asprintf(const char *fmt, ...) AX_PRINTF(1, 2);
/* a*b into *out; false on overflow or negative input. */
AX_HIDDEN bool ax__mul_ok(int64_t a, int64_t b, int64_t *out);

/* ---- files (all writes atomic: temp name + rename) -------------------------------- */
/* Read a whole file. max_bytes bounds it (AX_E_RANGE beyond). Missing => AX_E_NOTFOUND
 * without setting a message (callers decide whether missing is an error). */
AX_HIDDEN int ax__file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *len);
AX_HIDDEN int ax__file_write_atomic(const char *path, const void *data, size_t len);
AX_HIDDEN bool ax__path_exists(const char *path);
AX_HIDDEN bool ax__is_dir(const char *path);
AX_HIDDEN int ax__mkdir_p(const char *path);
AX_HIDDEN int ax__rm_rf(const char *path);
/* "a" + "/" + "b" */
AX_HIDDEN char *ax__path_join(const char *a, const char *b);
/* Hidden sibling temp name for building `path`: "<dir>/.<base>.partial-<pid>-<n>" */
AX_HIDDEN char *ax__temp_sibling(const char *path);

/* ---- SIMD kernel table ------------------------------------------------------------ */
typedef struct ax__kernels {
    const char *name;
    /* In-place byte swap of n elements (N5 is big-endian on disk). */
    void (*bswap16)(void *p, size_t n);
    void (*bswap32)(void *p, size_t n);
    void (*bswap64)(void *p, size_t n);
    /* min and max over finite values, count of NaNs (slice rendering, checks). */
    void (*minmax_f32)(const float *p, size_t n, float *mn, float *mx, size_t *nan_count);
    /* HDF5/blosc byte shuffle of n bytes of esz-byte elements: byte k of every element
     * into plane k (a tail shorter than an element is copied). unshuffle inverts it. */
    void (*shuffle)(const uint8_t *in, uint8_t *out, size_t n, size_t esz);
    void (*unshuffle)(const uint8_t *in, uint8_t *out, size_t n, size_t esz);
} ax__kernels;

AX_HIDDEN const ax__kernels *ax__kern(void);
/* generic shuffle/unshuffle, also the SIMD variants' fallback for other element sizes */
AX_HIDDEN void ax__shuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t esz);
AX_HIDDEN void ax__unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t esz);
AX_HIDDEN extern const ax__kernels ax__kernels_generic;
#ifdef AX_HAVE_AVX2
AX_HIDDEN extern const ax__kernels ax__kernels_avx2;
#endif

/* ---- thread pool internals -------------------------------------------------------- */
/* True on a pool worker (or the caller while it runs a parallel_for). */
AX_HIDDEN bool ax__in_parallel(void);

#endif /* AX_CORE_INT_H */
