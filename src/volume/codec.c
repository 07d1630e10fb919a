/* codec.c: chunk compressors, each a thin wrapper over its Debian library (zlib, zstd,
 * c-blosc) plus the small LZF decoder in lzf.c.
 *
 * Decompression always knows how many bytes a chunk must hold, so a stream that decodes
 * to more or fewer bytes is reported as corrupt instead of being silently padded. */
#include <blosc.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "volume/volume_int.h"

/* Chunks are capped at AX__CHUNK_MAX_BYTES (volume.c), so zlib's 32-bit counters suffice. */
static int deflate_buf(int level, bool gzip, const void *src, size_t n, uint8_t **dst,
                       size_t *dn)
{
    if (n > UINT32_MAX / 2) return ax__err(AX_E_RANGE, "zlib: chunk of %zu bytes too large", n);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (level < 0 || level > 9) level = 6;
    if (deflateInit2(&s, level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ax__err(AX_E_NOMEM, "zlib: deflateInit failed");
    size_t cap = deflateBound(&s, (uLong)n) + 32;
    uint8_t *out = malloc(cap);
    if (!out) {
        deflateEnd(&s);
        return ax__err(AX_E_NOMEM, "zlib: out of memory");
    }
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    size_t total = (size_t)s.total_out;
    deflateEnd(&s);
    if (rc != Z_STREAM_END) {
        free(out);
        return ax__err(AX_E_INTERNAL, "zlib: deflate failed (%d)", rc);
    }
    *dst = out;
    *dn = total;
    return AX_OK;
}

static int inflate_buf(const void *src, size_t n, void *dst, size_t expect, const char *what)
{
    if (n > UINT32_MAX / 2 || expect > UINT32_MAX / 2)
        return ax__err(AX_E_RANGE, "%s: zlib chunk too large", what);
    z_stream s;
    memset(&s, 0, sizeof s);
    /* 15+32: accept both zlib and gzip headers (N5 and numcodecs differ) */
    if (inflateInit2(&s, 15 + 32) != Z_OK) return ax__err(AX_E_NOMEM, "zlib: inflateInit failed");
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)n;
    s.next_out = dst;
    s.avail_out = (uInt)expect;
    int rc = inflate(&s, Z_FINISH);
    size_t got = (size_t)s.total_out;
    bool in_left = s.avail_in != 0;
    const char *zmsg = s.msg; /* zlib's messages are static strings */
    inflateEnd(&s);
    if (rc == Z_STREAM_END && got == expect) return AX_OK;
    if (rc == Z_STREAM_END)
        return ax__err(AX_E_CORRUPT, "%s: zlib/gzip stream holds %zu bytes, %zu expected", what,
                       got, expect);
    if (rc == Z_BUF_ERROR && got == expect && in_left)
        return ax__err(AX_E_CORRUPT, "%s: zlib/gzip stream holds more than the %zu bytes expected",
                       what, expect);
    if (rc == Z_BUF_ERROR)
        return ax__err(AX_E_CORRUPT, "%s: truncated zlib/gzip stream (%zu of %zu bytes decoded)",
                       what, got, expect);
    return ax__err(AX_E_CORRUPT, "%s: corrupt zlib/gzip stream (%s)", what,
                   zmsg ? zmsg : "data error");
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
        uint8_t *o = malloc(cap);
        if (!o) return ax__err(AX_E_NOMEM, "zstd: out of memory");
        size_t r = ZSTD_compress(o, cap, src, n, level < 0 ? 3 : level);
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
        size_t r = ZSTD_decompress(dst, expect, src, n);
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
