/* io_hdf5.c: HDF5 datasets ("file.h5:group/dataset") through libhdf5 (1.10 API).
 *
 * Reads uint8/16/32/64, int32 and float32 datasets of 1 to 5 dimensions in either byte
 * order, chunked or not; writes chunked little-endian datasets compressed with gzip
 * (deflate + shuffle, what h5py calls compression="gzip") or raw. Voxel size and offset
 * come from the dataset attributes "resolution" and "offset" (z,y,x nm, the funlib/daisy
 * convention) or else "element_size_um" (CREMI/ilastik, micrometres); axon writes
 * "resolution" and "offset" as float64[3].
 *
 * DESIGN: libhdf5 is not reentrant (a serial build is not thread-safe at all; a
 * thread-safe build such as Debian's serialises every call behind one global lock), so
 * axon calls it only under one process-wide mutex (h5_lock), with automatic error
 * printing switched off while it holds it (and restored after). To keep decoding
 * parallel, chunks of a dataset whose filter pipeline axon knows (deflate, shuffle,
 * fletcher32, LZF, none) are fetched raw with H5Dread_chunk under the lock and decoded
 * OUTSIDE it on the calling pool thread, honouring each chunk's filter mask (an optional
 * filter such as LZF is skipped on chunks it did not shrink). Writes run the other way: shuffle,
 * deflate and fletcher32 outside the lock, then H5Dwrite_chunk. Any other pipeline, and
 * contiguous, compact or virtual layouts, go through H5Dread/H5Dwrite of the chunk's
 * hyperslab under the lock. Non-chunked datasets get a synthetic chunk grid of about
 * 2 MiB slabs that keep the fastest axes whole (each block is one contiguous file range).
 * Unallocated chunks are AX_E_NOTFOUND (volume.c fills them with the fill value).
 *
 * LZF: h5py's filter 32000 is not part of libhdf5. axon decodes LZF with its own decoder
 * (src/volume/lzf.c, written from the format; not a vendored copy of liblzf or of h5py's
 * filter). It also registers that decoder with H5Zregister as filter 32000 when no LZF
 * filter is registered yet (h5py registers its own on import), so plain H5Dread works on
 * LZF datasets too. It has no encoder: writes into an LZF dataset store chunks unfiltered,
 * as libhdf5 does for an optional filter that fails (h5py marks LZF optional).
 *
 * ATOMICITY: a new file is built under a temporary name that volume.c renames. A dataset
 * added to an existing file is built under a hidden link ".<name>.partial-<pid>-<n>" in
 * the same group and moved to its name (H5Lmove) on commit, replacing the old dataset
 * when overwrite was asked; abort deletes the link. HDF5 does not give back the space of
 * deleted datasets, so an aborted or replaced dataset leaves the file larger (h5repack
 * reclaims it).
 *
 * AX_HDF5_NO_DIRECT=1 in the environment (read at open/create) sends every chunk through
 * H5Dread/H5Dwrite: for tests, and to rule out axon's own filter code.
 */
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volume/volume_int.h"

#define H5_FILTER_LZF 32000
#define H5_MAX_CD 8                    /* client data values kept per filter */
#define H5_SYNTH_CHUNK_BYTES (2 << 20) /* synthetic chunks of contiguous datasets */
#define H5_LIST_MAX 16                 /* dataset names shown in a message */
#define SZ_UNKNOWN SIZE_MAX

typedef struct h5_filter {
    H5Z_filter_t id;
    unsigned flags;
    size_t ncd;
    unsigned cd[H5_MAX_CD];
} h5_filter;

typedef struct h5_impl {
    char *file;     /* the file, as named in messages (the final path while creating) */
    char *name;     /* dataset path inside the file */
    char *tmp_name; /* hidden link the dataset is built under (adding to an existing file) */
    char *what;     /* "file:name" for messages */
    hid_t fid, did;
    hid_t mem_type; /* native type of v->info.dtype (predefined: never closed) */
    bool writable;
    bool chunked;
    bool swap;         /* stored byte order differs from ours */
    bool direct_read;  /* axon undoes the whole pipeline itself */
    bool direct_write; /* axon applies the whole pipeline itself */
    bool partial_raw;  /* H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS: edge chunks unfiltered */
    bool replace;      /* overwrite: the dataset at `name` is replaced on commit */
    int nfilt;
    h5_filter filt[H5Z_MAX_NFILTERS];
} h5_impl;

/* ---- the library lock --------------------------------------------------------------- */

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static bool h5_ready;
static atomic_uint h5_tmp_counter;

/* Automatic error printing is off while axon holds the lock and restored afterwards, so
 * a host program that prints HDF5 errors keeps doing so. */
typedef struct h5_guard {
    H5E_auto2_t func;
    void *data;
} h5_guard;

static void h5_lock(h5_guard *g)
{
    pthread_mutex_lock(&h5_mutex);
    g->func = NULL;
    g->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &g->func, &g->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_unlock(h5_guard *g)
{
    H5Eset_auto2(H5E_DEFAULT, g->func, g->data);
    pthread_mutex_unlock(&h5_mutex);
}

/* What libhdf5 said about the last failure on this thread (read under the lock, before
 * the next HDF5 call clears the stack). */
typedef struct h5_err {
    char desc[256]; /* the innermost message */
    bool corrupt;   /* the file is damaged rather than unreadable */
    bool pipeline;  /* a filter failed */
} h5_err;

static herr_t h5_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    h5_err *r = data;
    if (e->desc && e->desc[0]) snprintf(r->desc, sizeof r->desc, "%s", e->desc);
    hid_t m = e->min_num;
    if (m == H5E_TRUNCATED || m == H5E_OVERFLOW || m == H5E_CANTDECODE || m == H5E_BADMESG ||
        m == H5E_CANTLOAD || m == H5E_NOTHDF5 || m == H5E_BADVALUE || m == H5E_SEEKERROR ||
        m == H5E_BADFILE)
        r->corrupt = true;
    if (e->maj_num == H5E_PLINE) r->pipeline = true;
    return 0;
}

static void h5_errget(h5_err *r)
{
    memset(r, 0, sizeof *r);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, h5_walk_cb, r);
    if (!r->desc[0]) snprintf(r->desc, sizeof r->desc, "libhdf5 gave no reason");
}

/* ---- LZF as an HDF5 filter (decode only) --------------------------------------------- */

/* Encoding always "fails": libhdf5 then stores the chunk unfiltered with the filter's
 * mask bit set when LZF is optional (as h5py sets it), which every reader handles, and
 * reports an error when it is not. Claiming an encoder keeps H5Dcreate working for such
 * datasets, as it does when no LZF filter is registered at all. */
static size_t lzf_h5_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                            size_t nbytes, size_t *buf_size, void **buf)
{
    if (!(flags & H5Z_FLAG_REVERSE)) return 0;
    bool known = cd_nelmts >= 3 && cd_values[2] != 0; /* h5py stores the chunk size */
    size_t cap = known ? cd_values[2] : (nbytes < 4096 ? 16384 : nbytes * 4);
    for (;;) {
        uint8_t *out = malloc(cap);
        if (!out) return 0;
        long r = ax__lzf_decompress(*buf, nbytes, out, cap);
        if (r > 0) {
            free(*buf);
            *buf = out;
            *buf_size = cap;
            return (size_t)r;
        }
        free(out);
        /* -1 is "corrupt" or "output larger than cap": grow only when the size is unknown */
        if (known || cap >= ((size_t)1 << 30)) return 0;
        cap *= 2;
    }
}

static const H5Z_class2_t lzf_h5_class = {
    H5Z_CLASS_T_VERS, H5_FILTER_LZF, 1, 1, "lzf (axon decoder)", NULL, NULL, lzf_h5_filter,
};

static void h5_init_once(void)
{
    h5_guard g;
    h5_lock(&g);
    if (H5open() >= 0) {
        h5_ready = true;
        /* h5py registers its own LZF filter (with an encoder) on import: keep that one */
        if (H5Zfilter_avail(H5_FILTER_LZF) <= 0) H5Zregister(&lzf_h5_class);
    }
    h5_unlock(&g);
}

static int h5_init(const char *what)
{
    pthread_once(&h5_once, h5_init_once);
    if (!h5_ready) return ax__err(AX_E_INTERNAL, "%s: libhdf5 failed to initialise", what);
    return AX_OK;
}

/* ---- filters done by axon ------------------------------------------------------------ */

/* HDF5's Fletcher32: 16-bit big-endian words, sums folded every 360 words. */
static uint32_t fletcher32(const uint8_t *p, size_t n)
{
    uint32_t s1 = 0, s2 = 0;
    size_t words = n / 2;
    while (words) {
        size_t k = words > 360 ? 360 : words;
        words -= k;
        for (; k; k--, p += 2) {
            s1 += (uint32_t)p[0] << 8 | p[1];
            s2 += s1;
        }
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (n % 2) {
        s1 += (uint32_t)p[0] << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return s2 << 16 | s1;
}

/* p holds n data bytes followed by the little-endian checksum. Files from HDF5 < 1.6.3
 * stored the checksum with the bytes of each half swapped; HDF5 accepts both. */
static bool fletcher32_ok(const uint8_t *p, size_t n)
{
    uint32_t want = (uint32_t)p[n] | (uint32_t)p[n + 1] << 8 | (uint32_t)p[n + 2] << 16 |
                    (uint32_t)p[n + 3] << 24;
    uint32_t got = fletcher32(p, n);
    uint32_t old = (got & 0x00ff00ffu) << 8 | (got >> 8 & 0x00ff00ffu);
    return want == got || want == old;
}

static void swap_bytes(const ax_volume *v, void *buf)
{
    switch (ax_dtype_size(v->info.dtype)) {
    case 2: ax__kern()->bswap16(buf, v->chunk_elems); break;
    case 4: ax__kern()->bswap32(buf, v->chunk_elems); break;
    case 8: ax__kern()->bswap64(buf, v->chunk_elems); break;
    default: break;
    }
}

static bool filter_on(unsigned mask, int i) { return !(mask & (1u << i)); }

/* Undo the pipeline on one stored chunk (n bytes at raw, filter mask `mask`) into out
 * (v->chunk_bytes). Returns 1 when a stage's size cannot be known (a compressor after
 * fletcher32 or after another compressor): the caller then lets libhdf5 do it. */
static int decode_pipeline(const ax_volume *v, const uint8_t *raw, size_t n, unsigned mask,
                           void *out, const char *what)
{
    const h5_impl *h = v->impl;
    size_t sz[H5Z_MAX_NFILTERS + 1]; /* sz[i]: bytes going into filter i when writing */
    int first = -1;                  /* lowest filter applied to this chunk */
    sz[0] = v->chunk_bytes;
    for (int i = 0; i < h->nfilt; i++) {
        size_t s = sz[i];
        if (filter_on(mask, i)) {
            if (first < 0) first = i;
            H5Z_filter_t id = h->filt[i].id;
            if (id == H5Z_FILTER_DEFLATE || id == H5_FILTER_LZF) s = SZ_UNKNOWN;
            else if (id == H5Z_FILTER_FLETCHER32 && s != SZ_UNKNOWN) s += 4;
        }
        sz[i + 1] = s;
    }
    const uint8_t *cur = raw;
    size_t len = n;
    uint8_t *owned = NULL; /* the scratch buffer cur points into, if any */
    int rc = AX_OK;
    for (int i = h->nfilt - 1; i >= 0; i--) {
        if (!filter_on(mask, i)) continue;
        const h5_filter *f = &h->filt[i];
        if (sz[i + 1] != SZ_UNKNOWN && len != sz[i + 1]) {
            rc = ax__err(AX_E_CORRUPT, "%s: %zu bytes to undo filter %d on, %zu expected",
                         what, len, (int)f->id, sz[i + 1]);
            break;
        }
        if (f->id == H5Z_FILTER_FLETCHER32) {
            if (len < 4 || !fletcher32_ok(cur, len - 4)) {
                rc = ax__err(AX_E_CORRUPT, "%s: Fletcher32 checksum mismatch", what);
                break;
            }
            len -= 4;
            continue;
        }
        if (sz[i] == SZ_UNKNOWN) {
            rc = 1;
            break;
        }
        uint8_t *dst = i == first ? out : malloc(sz[i] ? sz[i] : 1);
        if (!dst) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", what);
            break;
        }
        if (f->id == H5Z_FILTER_SHUFFLE) ax__kern()->unshuffle(cur, dst, len, f->cd[0]);
        else if (f->id == H5Z_FILTER_DEFLATE)
            rc = ax__decompress(AX_COMPRESSION_ZLIB, cur, len, dst, sz[i], what);
        else rc = ax__decompress(AX_COMPRESSION_LZF, cur, len, dst, sz[i], what);
        free(owned);
        owned = dst == out ? NULL : dst;
        cur = dst;
        len = sz[i];
        if (rc < 0) break;
    }
    if (rc == AX_OK && cur != out) {
        if (len != v->chunk_bytes)
            rc = ax__err(AX_E_CORRUPT, "%s: chunk holds %zu bytes, %zu expected", what, len,
                         v->chunk_bytes);
        else memcpy(out, cur, len);
    }
    free(owned);
    return rc;
}

/* Apply the pipeline (all filters) to one chunk. *enc is malloc'd, or NULL when the
 * chunk can be stored as it is (no filters, no byte swap). */
static int encode_pipeline(const ax_volume *v, const void *src, uint8_t **enc, size_t *enc_len,
                           const char *what)
{
    const h5_impl *h = v->impl;
    const uint8_t *cur = src;
    size_t len = v->chunk_bytes;
    uint8_t *owned = NULL;
    *enc = NULL;
    *enc_len = len;
    if (h->swap) {
        if (!(owned = malloc(len))) return ax__err(AX_E_NOMEM, "%s: out of memory", what);
        memcpy(owned, src, len);
        swap_bytes(v, owned);
        cur = owned;
    }
    for (int i = 0; i < h->nfilt; i++) {
        const h5_filter *f = &h->filt[i];
        uint8_t *dst = NULL;
        size_t dn = len;
        int rc = AX_OK;
        if (f->id == H5Z_FILTER_SHUFFLE) {
            if ((dst = malloc(len))) ax__kern()->shuffle(cur, dst, len, f->cd[0]);
        } else if (f->id == H5Z_FILTER_DEFLATE) {
            int level = f->ncd ? (int)f->cd[0] : 6;
            rc = ax__compress(AX_COMPRESSION_ZLIB, level, 1, cur, len, &dst, &dn);
            if (rc < 0) {
                free(owned);
                return ax__err_prefix(rc, "%s", what);
            }
        } else { /* fletcher32 */
            if ((dst = malloc(len + 4))) {
                memcpy(dst, cur, len);
                uint32_t c = fletcher32(cur, len);
                for (int k = 0; k < 4; k++) dst[len + (size_t)k] = (uint8_t)(c >> (8 * k));
                dn = len + 4;
            }
        }
        if (!dst) {
            free(owned);
            return ax__err(AX_E_NOMEM, "%s: out of memory", what);
        }
        free(owned);
        owned = dst;
        cur = dst;
        len = dn;
    }
    *enc = owned;
    *enc_len = len;
    return AX_OK;
}

/* ---- types, attributes, pipeline ---------------------------------------------------- */

static hid_t native_type(ax_dtype t)
{
    switch (t) {
    case AX_DTYPE_U8: return H5T_NATIVE_UINT8;
    case AX_DTYPE_U16: return H5T_NATIVE_UINT16;
    case AX_DTYPE_U32: return H5T_NATIVE_UINT32;
    case AX_DTYPE_U64: return H5T_NATIVE_UINT64;
    case AX_DTYPE_I32: return H5T_NATIVE_INT32;
    case AX_DTYPE_F32: return H5T_NATIVE_FLOAT;
    default: return H5I_INVALID_HID;
    }
}

static hid_t file_type(ax_dtype t)
{
    switch (t) {
    case AX_DTYPE_U8: return H5T_STD_U8LE;
    case AX_DTYPE_U16: return H5T_STD_U16LE;
    case AX_DTYPE_U32: return H5T_STD_U32LE;
    case AX_DTYPE_U64: return H5T_STD_U64LE;
    case AX_DTYPE_I32: return H5T_STD_I32LE;
    case AX_DTYPE_F32: return H5T_IEEE_F32LE;
    default: return H5I_INVALID_HID;
    }
}

static void type_desc(hid_t tid, char *buf, size_t n)
{
    H5T_class_t c = H5Tget_class(tid);
    size_t size = H5Tget_size(tid);
    switch (c) {
    case H5T_INTEGER:
        snprintf(buf, n, "%sint%zu", H5Tget_sign(tid) == H5T_SGN_NONE ? "u" : "", size * 8);
        break;
    case H5T_FLOAT: snprintf(buf, n, "float%zu", size * 8); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    case H5T_ENUM: snprintf(buf, n, "enum (e.g. numpy bool)"); break;
    case H5T_ARRAY: snprintf(buf, n, "array"); break;
    case H5T_VLEN: snprintf(buf, n, "variable-length"); break;
    case H5T_OPAQUE: snprintf(buf, n, "opaque"); break;
    case H5T_BITFIELD: snprintf(buf, n, "bitfield"); break;
    case H5T_REFERENCE: snprintf(buf, n, "reference"); break;
    default: snprintf(buf, n, "class %d", (int)c); break;
    }
}

static int map_type(h5_impl *h, hid_t tid, ax_dtype *t)
{
    H5T_class_t c = H5Tget_class(tid);
    size_t size = H5Tget_size(tid);
    H5T_order_t native = H5Tget_order(H5T_NATIVE_INT);
    *t = AX_DTYPE_UNKNOWN;
    if (c == H5T_INTEGER && H5Tget_precision(tid) == size * 8 && H5Tget_offset(tid) == 0) {
        bool sign = H5Tget_sign(tid) != H5T_SGN_NONE;
        if (!sign && size == 1) *t = AX_DTYPE_U8;
        else if (!sign && size == 2) *t = AX_DTYPE_U16;
        else if (!sign && size == 4) *t = AX_DTYPE_U32;
        else if (!sign && size == 8) *t = AX_DTYPE_U64;
        else if (sign && size == 4) *t = AX_DTYPE_I32;
        H5T_order_t o = H5Tget_order(tid);
        h->swap = size > 1 && (o == H5T_ORDER_LE || o == H5T_ORDER_BE) && o != native;
    } else if (c == H5T_FLOAT && size == 4) {
        if (H5Tequal(tid, H5T_IEEE_F32LE) > 0) {
            *t = AX_DTYPE_F32;
            h->swap = native != H5T_ORDER_LE;
        } else if (H5Tequal(tid, H5T_IEEE_F32BE) > 0) {
            *t = AX_DTYPE_F32;
            h->swap = native != H5T_ORDER_BE;
        }
    }
    if (*t != AX_DTYPE_UNKNOWN) return AX_OK;
    char d[64];
    type_desc(tid, d, sizeof d);
    return ax__err(AX_E_DTYPE,
                   "%s: data type %s is not supported (uint8/16/32/64, int32, float32)", h->what,
                   d);
}

/* A numeric attribute as doubles: the number of values (at most max), 0 if absent. */
static int attr_f64(hid_t obj, const char *name, double *out, int max)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    int n = 0;
    if ((c == H5T_INTEGER || c == H5T_FLOAT) && np >= 1 && np <= max &&
        H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0)
        n = (int)np;
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return n;
}

/* n values for the last axes (z,y,x): n <= 3 fills the last n, n == ndim > 3 drops the
 * channel axes. false if they do not fit. */
static bool spatial3(const double *a, int n, int ndim, double *out3)
{
    if (n > 3 && n == ndim) {
        a += n - 3;
        n = 3;
    }
    if (n < 1 || n > 3) return false;
    for (int k = 0; k < n; k++) out3[3 - n + k] = a[k];
    return true;
}

/* Attributes are advisory: a malformed one is ignored, never fatal. */
static void read_voxel_attrs(ax_volume *v, hid_t did)
{
    double a[8], r[3] = {1, 1, 1}, o[3] = {0, 0, 0};
    double scale = 1;
    int n = attr_f64(did, "resolution", a, 8);
    if (!n) {
        n = attr_f64(did, "element_size_um", a, 8);
        scale = 1000;
    }
    if (n && spatial3(a, n, v->info.ndim, r)) {
        bool ok = true;
        for (int k = 0; k < 3; k++) {
            r[k] *= scale;
            if (!(r[k] > 0) || !isfinite(r[k])) ok = false;
        }
        if (ok) {
            memcpy(v->info.voxel_size, r, sizeof r);
            v->info.has_voxel_size = true;
        }
    }
    n = attr_f64(did, "offset", a, 8);
    if (n && spatial3(a, n, v->info.ndim, o) && isfinite(o[0]) && isfinite(o[1]) &&
        isfinite(o[2]))
        memcpy(v->info.offset, o, sizeof o);
}

static int write_attr_f64(hid_t did, const char *name, const double *val, int n)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    hid_t a = s >= 0 ? H5Acreate2(did, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    herr_t r = a >= 0 ? H5Awrite(a, H5T_NATIVE_DOUBLE, val) : -1;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return r < 0 ? -1 : 0;
}

/* Learn the filter pipeline of dcpl: which filters, whether axon can run it itself, and
 * what to report as the compression. */
static int read_pipeline(ax_volume *v, h5_impl *h, hid_t dcpl)
{
    int n = H5Pget_nfilters(dcpl);
    if (n < 0 || n > H5Z_MAX_NFILTERS)
        return ax__err(AX_E_CORRUPT, "%s: unreadable filter pipeline", h->what);
    ax_compression comp = AX_COMPRESSION_RAW;
    int level = -1;
    bool dr = true, dw = true;
    h->nfilt = 0;
    for (int i = 0; i < n; i++) {
        h5_filter *f = &h->filt[i];
        char fname[64] = "";
        unsigned config = 0;
        f->ncd = H5_MAX_CD;
        f->id = H5Pget_filter2(dcpl, (unsigned)i, &f->flags, &f->ncd, f->cd, sizeof fname, fname,
                               &config);
        if (f->id < 0) return ax__err(AX_E_CORRUPT, "%s: unreadable filter %d", h->what, i);
        if (f->ncd > H5_MAX_CD) f->ncd = H5_MAX_CD;
        switch (f->id) {
        case H5Z_FILTER_DEFLATE:
            if (comp == AX_COMPRESSION_RAW) {
                comp = AX_COMPRESSION_GZIP;
                level = f->ncd ? (int)f->cd[0] : -1;
            }
            break;
        case H5Z_FILTER_SHUFFLE:
            if (f->ncd < 1 || f->cd[0] == 0) dr = dw = false;
            break;
        case H5Z_FILTER_FLETCHER32: break;
        case H5_FILTER_LZF:
            if (comp == AX_COMPRESSION_RAW) comp = AX_COMPRESSION_LZF;
            dw = false;
            break;
        default:
            dr = dw = false;
            if (comp == AX_COMPRESSION_RAW) comp = AX_COMPRESSION_OTHER;
            if (H5Zfilter_avail(f->id) <= 0)
                return ax__err(AX_E_UNSUPPORTED,
                               "%s: HDF5 filter %d (%s) is not available: axon decodes deflate, "
                               "shuffle, fletcher32 and lzf itself, other filters need their "
                               "HDF5 plugin (HDF5_PLUGIN_PATH)",
                               h->what, (int)f->id, fname[0] ? fname : "unnamed");
            break;
        }
        h->nfilt++;
    }
    const char *e = getenv("AX_HDF5_NO_DIRECT");
    if (e && *e && strcmp(e, "0")) dr = dw = false;
    h->direct_read = dr;
    h->direct_write = dw;
    v->info.compression = comp;
    v->info.compression_level = level;
    return AX_OK;
}

/* Non-chunked datasets: slabs of about H5_SYNTH_CHUNK_BYTES keeping the fastest axes
 * whole, so each block is one contiguous run in the file. */
static void synthetic_chunks(int nd, const int64_t *shape, size_t elem, int64_t *chunks)
{
    int64_t inner = (int64_t)elem;
    for (int d = nd - 1; d >= 0; d--) {
        int64_t c = H5_SYNTH_CHUNK_BYTES / inner;
        if (c < 1) c = 1;
        if (c > shape[d]) c = shape[d];
        chunks[d] = c;
        inner *= c;
    }
}

static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* keep HDF5's file locking, but work on file systems without locks */
    if (fapl >= 0) H5Pset_file_locking(fapl, true, true);
    return fapl;
}

static hid_t make_dapl(void)
{
    /* volume.c caches decoded chunks: libhdf5's chunk cache would only hold copies, and
     * without it H5Dwrite reaches the file at once (H5Dread_chunk sees it) */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0) H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, 1.0);
    return dapl;
}

/* 1 dataset, 2 group, 3 something else, 0 missing. */
static int obj_kind(hid_t fid, const char *name)
{
    char *p = ax__strdup(name);
    if (!p) return 0;
    for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        htri_t e = *p ? H5Lexists(fid, p, H5P_DEFAULT) : 1;
        *s = '/';
        if (e <= 0) {
            free(p);
            return 0;
        }
    }
    htri_t e = H5Lexists(fid, p, H5P_DEFAULT);
    free(p);
    if (e <= 0) return 0;
    hid_t o = H5Oopen(fid, name, H5P_DEFAULT);
    if (o < 0) return 0; /* a dangling soft or external link */
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t == H5I_DATASET ? 1 : t == H5I_GROUP ? 2 : 3;
}

typedef struct ds_list {
    char *names[H5_LIST_MAX];
    int n;
} ds_list;

static herr_t list_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj;
    ds_list *l = data;
    if (info->type == H5O_TYPE_DATASET) {
        if (l->n < H5_LIST_MAX) l->names[l->n] = ax__strdup(name);
        l->n++;
    }
    return 0;
}

/* Datasets below group `group` (NULL: the whole file). */
static void list_datasets(hid_t fid, const char *group, ds_list *l)
{
    memset(l, 0, sizeof *l);
    hid_t g = group ? H5Oopen(fid, group, H5P_DEFAULT) : fid;
    if (g < 0) return;
    H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_INC, list_cb, l, H5O_INFO_BASIC);
    if (group) H5Oclose(g);
}

static void list_free(ds_list *l)
{
    for (int i = 0; i < l->n && i < H5_LIST_MAX; i++) free(l->names[i]);
}

/* "f:a, f:b, ..." */
static void list_format(const ds_list *l, const char *file, const char *group, char *buf,
                        size_t n)
{
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < l->n && i < H5_LIST_MAX && w + 1 < n; i++) {
        int k = snprintf(buf + w, n - w, "%s%s:%s%s%s", i ? ", " : "", file, group ? group : "",
                         group ? "/" : "", l->names[i] ? l->names[i] : "?");
        if (k < 0) break;
        w += (size_t)k;
    }
    if (l->n > H5_LIST_MAX && w + 1 < n) snprintf(buf + w, n - w, ", ... (%d in all)", l->n);
}

/* The dataset to open: `inner`, or the only dataset in the file. Lock held. */
static int pick_dataset(h5_impl *h, const char *path, const char *inner, char **name)
{
    *name = NULL;
    char msg[1024];
    ds_list l;
    int rc;
    if (!inner) {
        list_datasets(h->fid, NULL, &l);
        if (l.n == 1 && l.names[0]) {
            *name = l.names[0];
            l.names[0] = NULL;
            rc = AX_OK;
        } else if (l.n == 0) {
            rc = ax__err(AX_E_NOTFOUND, "%s: the file holds no datasets", path);
        } else {
            list_format(&l, path, NULL, msg, sizeof msg);
            rc = ax__err(AX_E_INVALID, "%s: name a dataset (%s)", path, msg);
        }
        list_free(&l);
        return rc;
    }
    int k = obj_kind(h->fid, inner);
    if (k == 1) {
        *name = ax__strdup(inner);
        return *name ? AX_OK : ax__err(AX_E_NOMEM, "out of memory");
    }
    if (k == 2) {
        list_datasets(h->fid, inner, &l);
        list_format(&l, path, inner, msg, sizeof msg);
        rc = l.n ? ax__err(AX_E_NOTFOUND, "%s:%s is a group, not a dataset: name one (%s)",
                           path, inner, msg)
                 : ax__err(AX_E_NOTFOUND, "%s:%s is a group with no datasets", path, inner);
        list_free(&l);
        return rc;
    }
    if (k == 3)
        return ax__err(AX_E_NOTFOUND, "%s:%s is not a dataset (a named data type?)", path, inner);
    list_datasets(h->fid, NULL, &l);
    list_format(&l, path, NULL, msg, sizeof msg);
    rc = l.n ? ax__err(AX_E_NOTFOUND, "%s: no dataset \"%s\" (the file holds %s)", path, inner,
                       msg)
             : ax__err(AX_E_NOTFOUND, "%s: no dataset \"%s\" (the file holds no datasets)",
                       path, inner);
    list_free(&l);
    return rc;
}

/* ---- open / create / close ---------------------------------------------------------- */

static h5_impl *impl_new(const char *file)
{
    h5_impl *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fid = h->did = H5I_INVALID_HID;
    h->mem_type = H5I_INVALID_HID;
    if (!(h->file = ax__strdup(file))) {
        free(h);
        return NULL;
    }
    return h;
}

/* A dataset path without leading or trailing '/' (a malloc'd copy; may be empty). */
static char *clean_name(const char *s)
{
    while (*s == '/') s++;
    char *c = ax__strdup(s);
    size_t n = c ? strlen(c) : 0;
    while (n && c[n - 1] == '/') c[--n] = 0;
    return c;
}

static int set_names(h5_impl *h, const char *name)
{
    free(h->name);
    free(h->what);
    h->name = ax__strdup(name);
    h->what = ax__asprintf("%s:%s", h->file, name);
    return h->name && h->what ? AX_OK : ax__err(AX_E_NOMEM, "out of memory");
}

/* Open an existing file. Lock held. */
static int open_file(h5_impl *h, const char *path, bool rw)
{
    if (!ax__path_exists(path)) return ax__err(AX_E_NOTFOUND, "%s: no such file", path);
    h5_err e;
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) return ax__err(AX_E_FORMAT, "%s: not an HDF5 file", path);
    if (is < 0) {
        h5_errget(&e);
        return ax__err(AX_E_IO, "%s: cannot read the file (%s)", path, e.desc);
    }
    hid_t fapl = make_fapl();
    h->fid = H5Fopen(path, rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (h->fid < 0) h5_errget(&e);
    if (fapl >= 0) H5Pclose(fapl);
    if (h->fid < 0)
        return e.corrupt ? ax__err(AX_E_CORRUPT, "%s: truncated or corrupt HDF5 file (%s)", path,
                                   e.desc)
                         : ax__err(AX_E_IO, "%s: cannot open the HDF5 file (%s)", path, e.desc);
    h->writable = rw;
    return AX_OK;
}

/* Fill v->info from the open dataset h->did. Lock held. */
static int describe(ax_volume *v, h5_impl *h)
{
    int rc = AX_OK;
    hid_t tid = H5Dget_type(h->did);
    hid_t sid = H5Dget_space(h->did);
    hid_t dcpl = H5Dget_create_plist(h->did);
    if (tid < 0 || sid < 0 || dcpl < 0) {
        h5_err e;
        h5_errget(&e);
        rc = ax__err(AX_E_CORRUPT, "%s: unreadable dataset header (%s)", h->what, e.desc);
        goto out;
    }
    if ((rc = map_type(h, tid, &v->info.dtype)) < 0) goto out;
    h->mem_type = native_type(v->info.dtype);
    H5S_class_t sc = H5Sget_simple_extent_type(sid);
    if (sc != H5S_SIMPLE) {
        rc = ax__err(AX_E_RANGE, "%s: a %s dataset, not a volume", h->what,
                     sc == H5S_SCALAR ? "scalar" : "empty");
        goto out;
    }
    int nd = H5Sget_simple_extent_ndims(sid);
    if (nd < 1 || nd > AX_MAX_DIMS) {
        rc = ax__err(AX_E_RANGE, "%s: %d dimensions (axon handles 1 to %d)", h->what, nd,
                     AX_MAX_DIMS);
        goto out;
    }
    hsize_t dims[AX_MAX_DIMS], cdims[AX_MAX_DIMS];
    H5Sget_simple_extent_dims(sid, dims, NULL);
    v->info.ndim = nd;
    for (int d = 0; d < nd; d++) {
        if (dims[d] > (hsize_t)INT64_MAX / 2) {
            rc = ax__err(AX_E_RANGE, "%s: dimension %d is too large", h->what, d);
            goto out;
        }
        v->info.shape[d] = (int64_t)dims[d];
    }
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        if (H5Pget_chunk(dcpl, nd, cdims) != nd) {
            rc = ax__err(AX_E_CORRUPT, "%s: unreadable chunk shape", h->what);
            goto out;
        }
        for (int d = 0; d < nd; d++) v->info.chunks[d] = (int64_t)cdims[d];
        unsigned opts = 0;
        if (H5Pget_chunk_opts(dcpl, &opts) >= 0)
            h->partial_raw = (opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) != 0;
        h->chunked = true;
    } else {
        synthetic_chunks(nd, v->info.shape, ax_dtype_size(v->info.dtype), v->info.chunks);
    }
    if ((rc = read_pipeline(v, h, dcpl)) < 0) goto out;
    H5D_fill_value_t st;
    double fv = 0;
    if (H5Pfill_value_defined(dcpl, &st) >= 0 && st != H5D_FILL_VALUE_UNDEFINED &&
        H5Pget_fill_value(dcpl, H5T_NATIVE_DOUBLE, &fv) >= 0 &&
        (isfinite(fv) || v->info.dtype == AX_DTYPE_F32))
        v->info.fill_value = fv;
    read_voxel_attrs(v, h->did);
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sid >= 0) H5Sclose(sid);
    if (tid >= 0) H5Tclose(tid);
    return rc;
}

static int h5_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    int rc = h5_init(path);
    if (rc < 0) return rc;
    h5_impl *h = impl_new(path);
    if (!h) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = h;
    char *name = NULL, *want = inner ? clean_name(inner) : NULL;
    if (inner && !want) return ax__err(AX_E_NOMEM, "out of memory");
    h5_guard g;
    h5_lock(&g);
    if ((rc = open_file(h, path, mode == AX_OPEN_RW)) < 0) goto out;
    if ((rc = pick_dataset(h, path, want && *want ? want : NULL, &name)) < 0) goto out;
    if ((rc = set_names(h, name)) < 0) goto out;
    hid_t dapl = make_dapl();
    h->did = H5Dopen2(h->fid, name, dapl);
    if (dapl >= 0) H5Pclose(dapl);
    if (h->did < 0) {
        h5_err e;
        h5_errget(&e);
        rc = ax__err(e.corrupt ? AX_E_CORRUPT : AX_E_IO, "%s: cannot open the dataset (%s)",
                     h->what, e.desc);
        goto out;
    }
    rc = describe(v, h);
out:
    h5_unlock(&g);
    free(name);
    free(want);
    return rc;
}

/* "group/.data.partial-<pid>-<n>" for "group/data" */
static char *tmp_link_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    int plen = slash ? (int)(slash - name + 1) : 0;
    return ax__asprintf("%.*s.%s.partial-%ld-%u", plen, name, base, (long)getpid(),
                        atomic_fetch_add(&h5_tmp_counter, 1));
}

static int h5_create(ax_volume *v, const char *path, const char *inner,
                     const ax_volume_create_params *p)
{
    ax_compression c = v->info.compression;
    if (c == AX_COMPRESSION_DEFAULT || c == AX_COMPRESSION_ZLIB) c = AX_COMPRESSION_GZIP;
    if (c != AX_COMPRESSION_GZIP && c != AX_COMPRESSION_RAW)
        return ax__err(AX_E_UNSUPPORTED, "%s: HDF5 output supports gzip or raw (not %s)",
                       v->path, ax_compression_name(c));
    int level = v->info.compression_level;
    if (c == AX_COMPRESSION_GZIP) {
        if (level < 0) level = 6;
        if (level > 9)
            return ax__err(AX_E_INVALID, "%s: gzip level %d (HDF5 takes 0 to 9)", v->path,
                           level);
    } else {
        level = -1;
    }
    v->info.compression = c;
    v->info.compression_level = level;
    int rc = h5_init(v->path);
    if (rc < 0) return rc;
    h5_impl *h = impl_new(v->final_path);
    if (!h) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = h;
    char *name = clean_name(inner ? inner : "");
    if (!name) return ax__err(AX_E_NOMEM, "out of memory");
    rc = set_names(h, name);
    free(name);
    if (rc < 0) return rc;
    if (!h->name[0])
        return ax__err(AX_E_INVALID, "%s: name the HDF5 dataset to create", v->path);
    inner = h->name;

    int nd = v->info.ndim;
    size_t elem = ax_dtype_size(v->info.dtype);
    bool new_file = strcmp(v->build_path, v->final_path) != 0;
    hid_t fapl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t dapl = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl2 = H5I_INVALID_HID;
    h5_err e;
    h5_guard g;
    h5_lock(&g);
    h->mem_type = native_type(v->info.dtype);
    if (new_file) {
        fapl = make_fapl();
        h->fid = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
        if (h->fid < 0) {
            h5_errget(&e);
            rc = ax__err(AX_E_IO, "%s: cannot create the HDF5 file %s (%s)", h->file, path,
                         e.desc);
            goto out;
        }
        h->writable = true;
    } else {
        if ((rc = open_file(h, path, true)) < 0) {
            if (rc == AX_E_FORMAT)
                rc = ax__err(AX_E_FORMAT, "%s: exists and is not an HDF5 file", path);
            goto out;
        }
        int k = obj_kind(h->fid, inner);
        if (k && !p->overwrite) {
            rc = ax__err(AX_E_EXISTS, "%s: %s already exists (ask to overwrite)", h->what,
                         k == 1 ? "the dataset" : "an object of that name");
            goto out;
        }
        if (k > 1) {
            rc = ax__err(AX_E_EXISTS, "%s: is a %s, not a dataset; axon does not replace it",
                         h->what, k == 2 ? "group" : "named object");
            goto out;
        }
        h->replace = k == 1;
        if (!(h->tmp_name = tmp_link_name(inner))) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            goto out;
        }
    }

    hsize_t dims[AX_MAX_DIMS], cdims[AX_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        dims[d] = (hsize_t)v->info.shape[d];
        cdims[d] = (hsize_t)v->info.chunks[d];
    }
    uint8_t fill[8] = {0};
    ax__fill(fill, v->info.dtype, 1, v->info.fill_value);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    dapl = make_dapl();
    space = H5Screate_simple(nd, dims, NULL);
    bool ok = lcpl >= 0 && dcpl >= 0 && dapl >= 0 && space >= 0 &&
              H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
              H5Pset_chunk(dcpl, nd, cdims) >= 0 &&
              H5Pset_fill_value(dcpl, h->mem_type, fill) >= 0;
    if (ok && c == AX_COMPRESSION_GZIP)
        ok = (elem == 1 || H5Pset_shuffle(dcpl) >= 0) && H5Pset_deflate(dcpl, (unsigned)level) >= 0;
    if (!ok) {
        h5_errget(&e);
        rc = ax__err(AX_E_INTERNAL, "%s: cannot set up the dataset (%s)", h->what, e.desc);
        goto out;
    }
    h->did = H5Dcreate2(h->fid, h->tmp_name ? h->tmp_name : inner, file_type(v->info.dtype),
                        space, lcpl, dcpl, dapl);
    if (h->did < 0) {
        h5_errget(&e);
        rc = ax__err(AX_E_IO, "%s: cannot create the dataset (%s)", h->what, e.desc);
        goto out;
    }
    h->chunked = true;
    h->swap = H5Tget_order(H5T_NATIVE_INT) != H5T_ORDER_LE && elem > 1;
    const double *o = v->info.offset;
    if (v->info.has_voxel_size || o[0] != 0 || o[1] != 0 || o[2] != 0) {
        if (write_attr_f64(h->did, "resolution", v->info.voxel_size, 3) < 0 ||
            write_attr_f64(h->did, "offset", o, 3) < 0) {
            h5_errget(&e);
            rc = ax__err(AX_E_IO, "%s: cannot write the resolution/offset attributes (%s)",
                         h->what, e.desc);
            goto out;
        }
    }
    /* the pipeline as stored (set_local filled in shuffle's element size) */
    if ((dcpl2 = H5Dget_create_plist(h->did)) < 0) {
        h5_errget(&e);
        rc = ax__err(AX_E_INTERNAL, "%s: cannot read back the dataset (%s)", h->what, e.desc);
        goto out;
    }
    rc = read_pipeline(v, h, dcpl2);
    v->info.compression_level = level;
out:
    if (dcpl2 >= 0) H5Pclose(dcpl2);
    if (space >= 0) H5Sclose(space);
    if (dapl >= 0) H5Pclose(dapl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (fapl >= 0) H5Pclose(fapl);
    h5_unlock(&g);
    return rc;
}

static int h5_close(ax_volume *v, bool commit)
{
    h5_impl *h = v->impl;
    if (!h) return AX_OK;
    int rc = AX_OK;
    h5_err e;
    h5_guard g;
    h5_lock(&g);
    if (h->did >= 0 && H5Dclose(h->did) < 0 && commit) {
        h5_errget(&e);
        rc = ax__err(AX_E_IO, "%s: closing the dataset failed (%s)", h->what, e.desc);
    }
    h->did = H5I_INVALID_HID;
    if (h->fid >= 0 && h->tmp_name) {
        if (commit && rc == AX_OK) {
            if (h->replace && obj_kind(h->fid, h->name) &&
                H5Ldelete(h->fid, h->name, H5P_DEFAULT) < 0) {
                h5_errget(&e);
                rc = ax__err(AX_E_IO, "%s: cannot remove the old dataset (%s)", h->what, e.desc);
            }
            if (rc == AX_OK &&
                H5Lmove(h->fid, h->tmp_name, h->fid, h->name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
                h5_errget(&e);
                rc = ax__err(AX_E_IO, "%s: cannot move %s into place (%s)", h->what, h->tmp_name,
                             e.desc);
            }
        }
        if (!commit || rc < 0) H5Ldelete(h->fid, h->tmp_name, H5P_DEFAULT); /* may not exist */
    }
    if (h->fid >= 0) {
        if (commit && rc == AX_OK && h->writable && H5Fflush(h->fid, H5F_SCOPE_LOCAL) < 0) {
            h5_errget(&e);
            rc = ax__err(AX_E_IO, "%s: flushing the file failed (%s)", h->file, e.desc);
        }
        if (H5Fclose(h->fid) < 0 && commit && rc == AX_OK) {
            h5_errget(&e);
            rc = ax__err(AX_E_IO, "%s: closing the file failed (%s)", h->file, e.desc);
        }
    }
    h5_unlock(&g);
    free(h->file);
    free(h->name);
    free(h->tmp_name);
    free(h->what);
    free(h);
    v->impl = NULL;
    return rc;
}

/* ---- chunks ------------------------------------------------------------------------- */

static void chunk_what(const ax_volume *v, const int64_t *cidx, char *buf, size_t n)
{
    const h5_impl *h = v->impl;
    int w = snprintf(buf, n, "%s chunk (", h->what);
    for (int d = 0; d < v->info.ndim && w > 0 && (size_t)w < n; d++)
        w += snprintf(buf + w, n - (size_t)w, "%s%lld", d ? "," : "", (long long)cidx[d]);
    if (w > 0 && (size_t)w < n) snprintf(buf + w, n - (size_t)w, ")");
}

static bool is_edge(const ax_volume *v, const int64_t *cidx)
{
    for (int d = 0; d < v->info.ndim; d++)
        if ((cidx[d] + 1) * v->info.chunks[d] > v->info.shape[d]) return true;
    return false;
}

/* Move the part of chunk cidx inside the volume between the file and a buffer shaped like
 * a whole chunk with H5Dread (into rbuf) or H5Dwrite (from wbuf, when rbuf is NULL),
 * libhdf5 converting type and running the filters. Lock held. */
static int slab_io(ax_volume *v, const int64_t *cidx, void *rbuf, const void *wbuf,
                   const char *what)
{
    bool write = rbuf == NULL;
    h5_impl *h = v->impl;
    int nd = v->info.ndim;
    int64_t ext[AX_MAX_DIMS];
    hsize_t foff[AX_MAX_DIMS], cnt[AX_MAX_DIMS], mdims[AX_MAX_DIMS], zero[AX_MAX_DIMS];
    ax__chunk_extent(v, cidx, ext);
    for (int d = 0; d < nd; d++) {
        foff[d] = (hsize_t)(cidx[d] * v->info.chunks[d]);
        cnt[d] = (hsize_t)ext[d];
        mdims[d] = (hsize_t)v->info.chunks[d];
        zero[d] = 0;
    }
    hid_t fs = H5Dget_space(h->did), ms = H5Screate_simple(nd, mdims, NULL);
    herr_t r = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, foff, NULL, cnt, NULL) >= 0 &&
        H5Sselect_hyperslab(ms, H5S_SELECT_SET, zero, NULL, cnt, NULL) >= 0)
        r = write ? H5Dwrite(h->did, h->mem_type, ms, fs, H5P_DEFAULT, wbuf)
                  : H5Dread(h->did, h->mem_type, ms, fs, H5P_DEFAULT, rbuf);
    h5_err e;
    if (r < 0) h5_errget(&e);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (r >= 0) return AX_OK;
    if (write) return ax__err(AX_E_IO, "%s: write failed (%s)", what, e.desc);
    return ax__err(e.corrupt || e.pipeline ? AX_E_CORRUPT : AX_E_IO, "%s: read failed (%s)", what,
                   e.desc);
}

static void chunk_offset(const ax_volume *v, const int64_t *cidx, hsize_t *off)
{
    for (int d = 0; d < v->info.ndim; d++) off[d] = (hsize_t)(cidx[d] * v->info.chunks[d]);
}

static int h5_read_chunk(ax_volume *v, const int64_t *cidx, void *buf)
{
    h5_impl *h = v->impl;
    char what[512];
    chunk_what(v, cidx, what, sizeof what);
    int rc;
    h5_guard g;
    h5_err e;
    if (!h->chunked) {
        h5_lock(&g);
        rc = slab_io(v, cidx, buf, NULL, what);
        h5_unlock(&g);
        return rc;
    }
    hsize_t off[AX_MAX_DIMS];
    chunk_offset(v, cidx, off);
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    h5_lock(&g);
    if (H5Dget_chunk_info_by_coord(h->did, off, &mask, &addr, &size) < 0) {
        h5_errget(&e);
        h5_unlock(&g);
        return ax__err(e.corrupt ? AX_E_CORRUPT : AX_E_IO, "%s: cannot look up the chunk (%s)",
                       what, e.desc);
    }
    if (addr == HADDR_UNDEF || size == 0) {
        h5_unlock(&g);
        return AX_E_NOTFOUND;
    }
    if (!h->direct_read || (h->partial_raw && is_edge(v, cidx))) {
        rc = slab_io(v, cidx, buf, NULL, what);
        h5_unlock(&g);
        return rc;
    }
    /* a stored chunk is never much larger than the raw one (deflate adds 0.03%, LZF is
     * skipped when it does not help) */
    size_t cap = v->chunk_bytes + v->chunk_bytes / 8 + 65536 + 4 * (size_t)h->nfilt;
    if (size > cap) {
        h5_unlock(&g);
        return ax__err(AX_E_CORRUPT, "%s: stored as %llu bytes, more than a %zu-byte chunk needs",
                       what, (unsigned long long)size, v->chunk_bytes);
    }
    bool plain = size == v->chunk_bytes;
    for (int i = 0; i < h->nfilt; i++)
        if (filter_on(mask, i)) plain = false;
    uint8_t *raw = plain ? buf : malloc((size_t)size);
    if (!raw) {
        h5_unlock(&g);
        return ax__err(AX_E_NOMEM, "%s: out of memory", what);
    }
    uint32_t fmask = 0;
    herr_t r = H5Dread_chunk(h->did, H5P_DEFAULT, off, &fmask, raw);
    if (r < 0) h5_errget(&e);
    h5_unlock(&g);
    if (r < 0) {
        if (raw != buf) free(raw);
        return ax__err(e.corrupt ? AX_E_CORRUPT : AX_E_IO, "%s: cannot read the chunk (%s)",
                       what, e.desc);
    }
    rc = AX_OK;
    if (!plain) {
        rc = decode_pipeline(v, raw, (size_t)size, fmask, buf, what);
        free(raw);
        if (rc == 1) {
            h5_lock(&g);
            rc = slab_io(v, cidx, buf, NULL, what);
            h5_unlock(&g);
            return rc;
        }
    }
    if (rc == AX_OK && h->swap) swap_bytes(v, buf);
    return rc;
}

static int h5_write_chunk(ax_volume *v, const int64_t *cidx, const void *buf)
{
    h5_impl *h = v->impl;
    char what[512];
    chunk_what(v, cidx, what, sizeof what);
    int rc;
    h5_guard g;
    if (!h->chunked || !h->direct_write || (h->partial_raw && is_edge(v, cidx))) {
        h5_lock(&g);
        rc = slab_io(v, cidx, NULL, buf, what);
        h5_unlock(&g);
        return rc;
    }
    uint8_t *enc;
    size_t n;
    if ((rc = encode_pipeline(v, buf, &enc, &n, what)) < 0) return rc;
    hsize_t off[AX_MAX_DIMS];
    chunk_offset(v, cidx, off);
    h5_err e;
    h5_lock(&g);
    herr_t r = H5Dwrite_chunk(h->did, H5P_DEFAULT, 0, off, n, enc ? enc : buf);
    if (r < 0) h5_errget(&e);
    h5_unlock(&g);
    free(enc);
    if (r < 0) return ax__err(AX_E_IO, "%s: write failed (%s)", what, e.desc);
    return AX_OK;
}

const ax__backend ax__backend_hdf5 = {
    .name = "hdf5",
    .format = AX_FORMAT_HDF5,
    .open = h5_open,
    .create = h5_create,
    .read_chunk = h5_read_chunk,
    .write_chunk = h5_write_chunk,
    .close = h5_close,
};
