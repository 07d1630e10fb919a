/* codec.c: chunk compressors, each a thin wrapper over its Debian library (libdeflate for
 * zlib/gzip streams, zstd, c-blosc) plus the small LZF decoder in lzf.c.
 *
 * Decompression always knows how many bytes a chunk must hold, so a stream that decodes
 * to more or fewer bytes is reported as corrupt instead of being silently padded. */
#include <blosc.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "volume/volume_int.h"

/* Per-thread codec contexts, made on first use and freed when the thread exits: creating
 * a zstd or libdeflate context per chunk costs as much as decoding a small chunk. */
typedef struct codec_ctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    struct libdeflate_decompressor *dd;
    struct libdeflate_compressor *dc;
    int dc_level;
} codec_ctx;

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p)
{
    codec_ctx *c = p;
    if (!c) return;
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    libdeflate_free_decompressor(c->dd);
    libdeflate_free_compressor(c->dc);
    free(c);
}

static void ctx_key_make(void) { pthread_key_create(&ctx_key, ctx_free); }

static codec_ctx *ctx_get(void)
{
    pthread_once(&ctx_once, ctx_key_make);
    codec_ctx *c = pthread_getspecific(ctx_key);
    if (!c && (c = calloc(1, sizeof *c))) pthread_setspecific(ctx_key, c);
    return c;
}

/* zlib and gzip streams go through libdeflate: whole-buffer (de)compression of a chunk of
 * known size is exactly its case, and it decodes 2-3x faster than zlib (measured in
 * bench/volume_io, HDF5 gzip chunks). The streams are standard deflate. */
static int deflate_buf(int level, bool gzip, const void *src, size_t n, uint8_t **dst,
                       size_t *dn)
{
    if (level < 0 || level > 12) level = 6;
    codec_ctx *c = ctx_get();
    if (!c) return ax__err(AX_E_NOMEM, "deflate: out of memory");
    if (!c->dc || c->dc_level != level) {
        libdeflate_free_compressor(c->dc);
        c->dc = libdeflate_alloc_compressor(level);
        c->dc_level = level;
        if (!c->dc) return ax__err(AX_E_NOMEM, "deflate: out of memory");
    }
    size_t cap = gzip ? libdeflate_gzip_compress_bound(c->dc, n)
                      : libdeflate_zlib_compress_bound(c->dc, n);
    uint8_t *out = malloc(cap);
    if (!out) return ax__err(AX_E_NOMEM, "deflate: out of memory");
    size_t r = gzip ? libdeflate_gzip_compress(c->dc, src, n, out, cap)
                    : libdeflate_zlib_compress(c->dc, src, n, out, cap);
    if (r == 0) {
        free(out);
        return ax__err(AX_E_INTERNAL, "deflate: compression failed");
    }
    *dst = out;
    *dn = r;
    return AX_OK;
}

static int inflate_buf(const void *src, size_t n, void *dst, size_t expect, const char *what)
{
    codec_ctx *c = ctx_get();
    if (!c || (!c->dd && !(c->dd = libdeflate_alloc_decompressor())))
        return ax__err(AX_E_NOMEM, "inflate: out of memory");
    const uint8_t *p = src;
    bool gzip = n >= 2 && p[0] == 0x1f && p[1] == 0x8b; /* else zlib (N5 and numcodecs differ) */
    size_t got = 0, used = 0;
    enum libdeflate_result r =
        gzip ? libdeflate_gzip_decompress_ex(c->dd, src, n, dst, expect, &used, &got)
             : libdeflate_zlib_decompress_ex(c->dd, src, n, dst, expect, &used, &got);
    switch (r) {
    case LIBDEFLATE_SUCCESS:
        if (got != expect)
            return ax__err(AX_E_CORRUPT, "%s: %s stream holds %zu bytes, %zu expected", what,
                           gzip ? "gzip" : "zlib", got, expect);
        return AX_OK;
    case LIBDEFLATE_INSUFFICIENT_SPACE:
        return ax__err(AX_E_CORRUPT, "%s: %s stream holds more than the %zu bytes expected",
                       what, gzip ? "gzip" : "zlib", expect);
    default:
        return ax__err(AX_E_CORRUPT, "%s: truncated or corrupt %s stream", what,
                       gzip ? "gzip" : "zlib");
    }
}

int ax__compress(ax_compression c, int level, size_t typesize, const void *src, size_t n,
                 uint8_t **dst, size_t *dn)
{
    *dst = NULL;
    *dn = 0;
    switch (c) {
    case AX_COMPRESSION_RAW: {
        uint8_t *o = malloc(n ? n : 1);
        if (!o) return ax__err(AX_E_NOMEM, "out of memory");
        memcpy(o, src, n);
        *dst = o;
        *dn = n;
        return AX_OK;
    }
    case AX_COMPRESSION_GZIP: return deflate_buf(level, true, src, n, dst, dn);
    case AX_COMPRESSION_ZLIB: return deflate_buf(level, false, src, n, dst, dn);
    case AX_COMPRESSION_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        codec_ctx *cx = ctx_get();
        if (cx && !cx->zc) cx->zc = ZSTD_createCCtx();
        uint8_t *o = malloc(cap);
        if (!o || !cx || !cx->zc) {
            free(o);
            return ax__err(AX_E_NOMEM, "zstd: out of memory");
        }
        size_t r = ZSTD_compressCCtx(cx->zc, o, cap, src, n, level < 0 ? 3 : level);
        if (ZSTD_isError(r)) {
            free(o);
            return ax__err(AX_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
        }
        *dst = o;
        *dn = r;
        return AX_OK;
    }
    case AX_COMPRESSION_BLOSC: {
        if (n > (size_t)BLOSC_MAX_BUFFERSIZE)
            return ax__err(AX_E_RANGE, "blosc: chunk of %zu bytes is over blosc's 2 GiB limit", n);
        size_t cap = n + BLOSC_MAX_OVERHEAD;
        uint8_t *o = malloc(cap);
        if (!o) return ax__err(AX_E_NOMEM, "blosc: out of memory");
        int r = blosc_compress_ctx(level < 0 ? 5 : level, BLOSC_SHUFFLE, typesize ? typesize : 1,
                                   n, src, o, cap, "lz4", 0, 1);
        if (r <= 0) {
            free(o);
            return ax__err(AX_E_INTERNAL, "blosc: compression failed (%d)", r);
        }
        *dst = o;
        *dn = (size_t)r;
        return AX_OK;
    }
    default:
        return ax__err(AX_E_UNSUPPORTED, "cannot write %s compression", ax_compression_name(c));
    }
}

int ax__decompress(ax_compression c, const void *src, size_t n, void *dst, size_t expect,
                   const char *what)
{
    switch (c) {
    case AX_COMPRESSION_RAW:
        if (n != expect)
            return ax__err(AX_E_CORRUPT, "%s: raw chunk is %zu bytes, %zu expected", what, n,
                           expect);
        memcpy(dst, src, n);
        return AX_OK;
    case AX_COMPRESSION_GZIP:
    case AX_COMPRESSION_ZLIB: return inflate_buf(src, n, dst, expect, what);
    case AX_COMPRESSION_ZSTD: {
        unsigned long long fs = ZSTD_getFrameContentSize(src, n);
        if (fs == ZSTD_CONTENTSIZE_ERROR)
            return ax__err(AX_E_CORRUPT, "%s: not a zstd frame", what);
        if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != expect)
            return ax__err(AX_E_CORRUPT, "%s: zstd frame holds %llu bytes, %zu expected", what,
                           fs, expect);
        codec_ctx *cx = ctx_get();
        if (cx && !cx->zd) cx->zd = ZSTD_createDCtx();
        if (!cx || !cx->zd) return ax__err(AX_E_NOMEM, "zstd: out of memory");
        size_t r = ZSTD_decompressDCtx(cx->zd, dst, expect, src, n);
        if (ZSTD_isError(r))
            return ax__err(AX_E_CORRUPT, "%s: corrupt or truncated zstd data (%s)", what,
                           ZSTD_getErrorName(r));
        if (r != expect)
            return ax__err(AX_E_CORRUPT, "%s: zstd data holds %zu bytes, %zu expected", what, r,
                           expect);
        return AX_OK;
    }
    case AX_COMPRESSION_BLOSC: {
        size_t nbytes = 0, cbytes = 0, blocksize = 0;
        if (n < BLOSC_MIN_HEADER_LENGTH)
            return ax__err(AX_E_CORRUPT, "%s: blosc chunk of %zu bytes is shorter than its header",
                           what, n);
        blosc_cbuffer_sizes(src, &nbytes, &cbytes, &blocksize);
        if (cbytes > n)
            return ax__err(AX_E_CORRUPT, "%s: truncated blosc chunk (%zu of %zu bytes)", what, n,
                           cbytes);
        if (nbytes != expect)
            return ax__err(AX_E_CORRUPT, "%s: blosc chunk holds %zu bytes, %zu expected", what,
                           nbytes, expect);
        if (blosc_cbuffer_validate(src, n, &nbytes) != 0)
            return ax__err(AX_E_CORRUPT, "%s: invalid blosc header", what);
        int r = blosc_decompress_ctx(src, dst, expect, 1);
        if (r < 0 || (size_t)r != expect)
            return ax__err(AX_E_CORRUPT, "%s: corrupt blosc chunk (%d)", what, r);
        return AX_OK;
    }
    case AX_COMPRESSION_LZF: {
        long r = ax__lzf_decompress(src, n, dst, expect);
        if (r < 0) return ax__err(AX_E_CORRUPT, "%s: corrupt LZF stream", what);
        if ((size_t)r != expect)
            return ax__err(AX_E_CORRUPT, "%s: LZF data holds %ld bytes, %zu expected", what, r,
                           expect);
        return AX_OK;
    }
    default:
        return ax__err(AX_E_UNSUPPORTED, "%s: cannot decode %s compression", what,
                       ax_compression_name(c));
    }
}
