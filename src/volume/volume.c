/* volume.c: the format-independent half of ax_volume: path parsing and format detection,
 * region reads and writes over the chunk grid, the decoded-chunk LRU cache, and the
 * build-under-a-temporary-name-then-rename commit of new volumes.
 *
 * ALGORITHM: a region maps to the box of chunks it overlaps; each chunk is one task on the
 * thread pool (decode or merge+encode), copying only the intersection. Reads take chunks
 * through the cache; writes go straight to the backend (write-through) and replace the
 * cached copy, so the cache never holds unsaved data and a crash loses nothing that a
 * caller was told is written.
 *
 * MEMORY: the cache is bounded (AX_CACHE_MB, default 256 MiB, per volume); entries in use
 * by a reader are pinned by a reference count and evicted once released, so the bound
 * holds whenever it has room for one chunk per thread. Each write task
 * holds one chunk buffer. Chunks are capped at AX__CHUNK_MAX_BYTES so a malicious header
 * cannot ask for an absurd allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volume/volume_int.h"

#define AX__CHUNK_MAX_BYTES ((size_t)1 << 30)

struct ax__cache_entry {
    int64_t key;
    uint8_t *data;
    int refs;
    bool in_table;
    ax__cache_entry *hnext, *prev, *next;
};

/* ---- names ---------------------------------------------------------------------- */

size_t ax_dtype_size(ax_dtype t)
{
    switch (t) {
    case AX_DTYPE_U8: return 1;
    case AX_DTYPE_U16: return 2;
    case AX_DTYPE_U32:
    case AX_DTYPE_I32:
    case AX_DTYPE_F32: return 4;
    case AX_DTYPE_U64: return 8;
    default: return 0;
    }
}

const char *ax_dtype_name(ax_dtype t)
{
    switch (t) {
    case AX_DTYPE_U8: return "uint8";
    case AX_DTYPE_U16: return "uint16";
    case AX_DTYPE_U32: return "uint32";
    case AX_DTYPE_U64: return "uint64";
    case AX_DTYPE_I32: return "int32";
    case AX_DTYPE_F32: return "float32";
    default: return "unknown";
    }
}

ax_dtype ax_dtype_from_name(const char *s)
{
    if (!s) return AX_DTYPE_UNKNOWN;
    static const struct {
        const char *name;
        ax_dtype t;
    } tab[] = {{"uint8", AX_DTYPE_U8},   {"u8", AX_DTYPE_U8},     {"uint16", AX_DTYPE_U16},
               {"u16", AX_DTYPE_U16},    {"uint32", AX_DTYPE_U32}, {"u32", AX_DTYPE_U32},
               {"uint64", AX_DTYPE_U64}, {"u64", AX_DTYPE_U64},   {"int32", AX_DTYPE_I32},
               {"i32", AX_DTYPE_I32},    {"float32", AX_DTYPE_F32}, {"f32", AX_DTYPE_F32}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) return tab[i].t;
    return AX_DTYPE_UNKNOWN;
}

const char *ax_format_name(ax_format f)
{
    switch (f) {
    case AX_FORMAT_TIFF: return "tiff";
    case AX_FORMAT_TIFF_DIR: return "tiffdir";
    case AX_FORMAT_HDF5: return "hdf5";
    case AX_FORMAT_ZARR: return "zarr";
    case AX_FORMAT_N5: return "n5";
    case AX_FORMAT_PRECOMPUTED: return "precomputed";
    default: return "auto";
    }
}

const char *ax_compression_name(ax_compression c)
{
    switch (c) {
    case AX_COMPRESSION_RAW: return "raw";
    case AX_COMPRESSION_GZIP: return "gzip";
    case AX_COMPRESSION_ZLIB: return "zlib";
    case AX_COMPRESSION_ZSTD: return "zstd";
    case AX_COMPRESSION_BLOSC: return "blosc";
    case AX_COMPRESSION_LZF: return "lzf";
    case AX_COMPRESSION_COMPRESSED_SEGMENTATION: return "compressed_segmentation";
    case AX_COMPRESSION_JPEG: return "jpeg";
    case AX_COMPRESSION_OTHER: return "other";
    default: return "default";
    }
}

ax_compression ax_compression_from_name(const char *s)
{
    if (!s) return AX_COMPRESSION_DEFAULT;
    if (!strcmp(s, "raw") || !strcmp(s, "none")) return AX_COMPRESSION_RAW;
    if (!strcmp(s, "gzip")) return AX_COMPRESSION_GZIP;
    if (!strcmp(s, "zlib")) return AX_COMPRESSION_ZLIB;
    if (!strcmp(s, "zstd")) return AX_COMPRESSION_ZSTD;
    if (!strcmp(s, "blosc")) return AX_COMPRESSION_BLOSC;
    if (!strcmp(s, "lzf")) return AX_COMPRESSION_LZF;
    if (!strcmp(s, "compressed_segmentation") || !strcmp(s, "cseg"))
        return AX_COMPRESSION_COMPRESSED_SEGMENTATION;
    if (!strcmp(s, "jpeg")) return AX_COMPRESSION_JPEG;
    return AX_COMPRESSION_DEFAULT;
}

/* ---- small helpers shared with backends -------------------------------------------- */

void ax__fill(void *buf, ax_dtype t, size_t n, double value)
{
    if (value == 0) {
        memset(buf, 0, n * ax_dtype_size(t));
        return;
    }
    switch (t) {
    case AX_DTYPE_U8: memset(buf, (uint8_t)value, n); break;
    case AX_DTYPE_U16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)buf)[i] = (uint16_t)value;
        break;
    case AX_DTYPE_U32:
        for (size_t i = 0; i < n; i++) ((uint32_t *)buf)[i] = (uint32_t)value;
        break;
    case AX_DTYPE_U64:
        for (size_t i = 0; i < n; i++) ((uint64_t *)buf)[i] = (uint64_t)value;
        break;
    case AX_DTYPE_I32:
        for (size_t i = 0; i < n; i++) ((int32_t *)buf)[i] = (int32_t)value;
        break;
    case AX_DTYPE_F32:
        for (size_t i = 0; i < n; i++) ((float *)buf)[i] = (float)value;
        break;
    default: break;
    }
}

void ax__chunk_extent(const ax_volume *v, const int64_t *cidx, int64_t *ext)
{
    for (int d = 0; d < v->info.ndim; d++) {
        int64_t s = cidx[d] * v->info.chunks[d];
        int64_t e = s + v->info.chunks[d];
        if (e > v->info.shape[d]) e = v->info.shape[d];
        ext[d] = e - s;
    }
}

void ax__copy_box(int ndim, size_t elem, const int64_t *size, const void *src,
                  const int64_t *src_shape, const int64_t *src_start, void *dst,
                  const int64_t *dst_shape, const int64_t *dst_start)
{
    /* merge trailing axes that are whole in both arrays into one longer row */
    int last = ndim - 1;
    size_t row = (size_t)size[last] * elem;
    int64_t sstr[AX_MAX_DIMS], dstr[AX_MAX_DIMS]; /* element strides */
    sstr[last] = dstr[last] = 1;
    for (int d = last - 1; d >= 0; d--) {
        sstr[d] = sstr[d + 1] * src_shape[d + 1];
        dstr[d] = dstr[d + 1] * dst_shape[d + 1];
    }
    while (last > 0 && size[last] == src_shape[last] && size[last] == dst_shape[last] &&
           src_start[last] == 0 && dst_start[last] == 0) {
        last--;
        row *= (size_t)size[last];
    }
    int64_t soff = 0, doff = 0;
    for (int d = 0; d < ndim; d++) {
        soff += src_start[d] * sstr[d];
        doff += dst_start[d] * dstr[d];
    }
    const uint8_t *s = (const uint8_t *)src + (size_t)soff * elem;
    uint8_t *o = (uint8_t *)dst + (size_t)doff * elem;
    int64_t idx[AX_MAX_DIMS] = {0};
    for (;;) {
        memcpy(o, s, row);
        int d = last - 1;
        for (; d >= 0; d--) {
            idx[d]++;
            s += (size_t)sstr[d] * elem;
            o += (size_t)dstr[d] * elem;
            if (idx[d] < size[d]) break;
            s -= (size_t)(sstr[d] * size[d]) * elem;
            o -= (size_t)(dstr[d] * size[d]) * elem;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

int ax__check_shape(int ndim, const int64_t *shape, size_t elem, const char *what)
{
    if (ndim < 1 || ndim > AX_MAX_DIMS)
        return ax__err(AX_E_RANGE, "%s: %d dimensions (axon handles 1 to %d)", what, ndim,
                       AX_MAX_DIMS);
    int64_t n = (int64_t)elem;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0)
            return ax__err(AX_E_RANGE, "%s: dimension %d has size %lld (must be > 0)", what, d,
                           (long long)shape[d]);
        if (!ax__mul_ok(n, shape[d], &n) || n > ((int64_t)1 << 62))
            return ax__err(AX_E_RANGE, "%s: shape overflows (more than 2^62 bytes)", what);
    }
    return AX_OK;
}

void ax__default_chunks(const ax_volume_create_params *p, int64_t *chunks)
{
    for (int d = 0; d < p->ndim; d++) {
        int64_t c = p->chunks[d];
        if (c <= 0) {
            bool channel_axis = p->ndim == 4 && d == 0;
            c = channel_axis ? (p->shape[0] <= 16 ? p->shape[0] : 1) : 64;
        }
        if (c > p->shape[d]) c = p->shape[d];
        chunks[d] = c;
    }
}

/* ---- cache ---------------------------------------------------------------------- */

static size_t env_cache_bytes(void)
{
    const char *e = getenv("AX_CACHE_MB");
    if (e && *e) {
        char *end;
        long long mb = strtoll(e, &end, 10);
        if (*end == 0 && mb >= 0) return (size_t)mb << 20;
    }
    return (size_t)256 << 20;
}

static int64_t chunk_key(const ax_volume *v, const int64_t *cidx)
{
    int64_t k = 0;
    for (int d = 0; d < v->info.ndim; d++) k = k * v->grid[d] + cidx[d];
    return k;
}

static void lru_unlink(ax_volume *v, ax__cache_entry *e)
{
    if (e->prev) e->prev->next = e->next;
    else v->lru_head = e->next;
    if (e->next) e->next->prev = e->prev;
    else v->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(ax_volume *v, ax__cache_entry *e)
{
    e->prev = NULL;
    e->next = v->lru_head;
    if (v->lru_head) v->lru_head->prev = e;
    v->lru_head = e;
    if (!v->lru_tail) v->lru_tail = e;
}

static void entry_free(ax__cache_entry *e)
{
    free(e->data);
    free(e);
}

/* Remove from the hash table and LRU (lock held). Freed now if unused, else on release. */
static void table_remove(ax_volume *v, ax__cache_entry *e)
{
    size_t b = (size_t)e->key & (v->nbuckets - 1);
    for (ax__cache_entry **pp = &v->buckets[b]; *pp; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    lru_unlink(v, e);
    e->in_table = false;
    v->cache_bytes -= v->chunk_bytes;
    if (e->refs == 0) entry_free(e);
}

/* Drop least recently used, unpinned entries until `extra` more bytes fit under the cap. */
static void evict_for(ax_volume *v, size_t extra)
{
    ax__cache_entry *e = v->lru_tail;
    while (v->cache_bytes + extra > v->cache_cap && e) {
        ax__cache_entry *prev = e->prev;
        if (e->refs == 0) table_remove(v, e);
        e = prev;
    }
}

static void evict(ax_volume *v) { evict_for(v, 0); }

static ax__cache_entry *table_find(ax_volume *v, int64_t key)
{
    if (!v->nbuckets) return NULL;
    for (ax__cache_entry *e = v->buckets[(size_t)key & (v->nbuckets - 1)]; e; e = e->hnext)
        if (e->key == key) return e;
    return NULL;
}

static void table_insert(ax_volume *v, ax__cache_entry *e)
{
    if (!v->nbuckets) return;
    evict_for(v, v->chunk_bytes); /* make room first, so the bound holds at every moment */
    size_t b = (size_t)e->key & (v->nbuckets - 1);
    e->hnext = v->buckets[b];
    v->buckets[b] = e;
    e->in_table = true;
    lru_push_front(v, e);
    v->cache_bytes += v->chunk_bytes;
    if (v->cache_bytes > v->cache_peak) v->cache_peak = v->cache_bytes;
}

static void chunk_release(ax_volume *v, ax__cache_entry *e)
{
    pthread_mutex_lock(&v->lock);
    e->refs--;
    if (!e->in_table && e->refs == 0) entry_free(e);
    else if (e->in_table && v->cache_bytes > v->cache_cap) evict(v);
    pthread_mutex_unlock(&v->lock);
}

static int cidx_name(const ax_volume *v, const int64_t *cidx, char *buf, size_t n)
{
    int w = snprintf(buf, n, "(");
    for (int d = 0; d < v->info.ndim; d++)
        w += snprintf(buf + w, n - (size_t)w, "%s%lld", d ? "," : "", (long long)cidx[d]);
    snprintf(buf + w, n - (size_t)w, ")");
    return AX_OK;
}

/* Decode chunk cidx into buf (full chunk shape), fill value for absent chunks. */
static int load_chunk(ax_volume *v, const int64_t *cidx, uint8_t *buf)
{
    int rc = v->be->read_chunk(v, cidx, buf);
    atomic_fetch_add(&v->n_read, 1);
    if (rc == AX_E_NOTFOUND) {
        ax__fill(buf, v->info.dtype, v->chunk_elems, v->info.fill_value);
        return AX_OK;
    }
    if (rc < 0) {
        char c[96];
        cidx_name(v, cidx, c, sizeof c);
        if (!ax_errmsg()[0]) ax__err(rc, "%s: chunk %s: %s", v->path, c, ax_strerror(rc));
    }
    return rc;
}

/* Get a pinned, read-only decoded chunk. Decoding runs outside the lock; if two threads
 * race on one chunk both decode and the second copy is dropped. */
static int chunk_get(ax_volume *v, const int64_t *cidx, ax__cache_entry **out)
{
    int64_t key = chunk_key(v, cidx);
    pthread_mutex_lock(&v->lock);
    ax__cache_entry *e = table_find(v, key);
    if (e) {
        e->refs++;
        lru_unlink(v, e);
        lru_push_front(v, e);
        pthread_mutex_unlock(&v->lock);
        atomic_fetch_add(&v->n_hits, 1);
        *out = e;
        return AX_OK;
    }
    pthread_mutex_unlock(&v->lock);

    e = calloc(1, sizeof *e);
    uint8_t *data = e ? ax__aligned_alloc(v->chunk_bytes) : NULL;
    if (!data) {
        free(e);
        return ax__err(AX_E_NOMEM, "%s: cannot allocate a %zu-byte chunk", v->path, v->chunk_bytes);
    }
    e->key = key;
    e->data = data;
    int rc = load_chunk(v, cidx, data);
    if (rc < 0) {
        entry_free(e);
        return rc;
    }
    pthread_mutex_lock(&v->lock);
    ax__cache_entry *other = table_find(v, key);
    if (other) {
        other->refs++;
        pthread_mutex_unlock(&v->lock);
        entry_free(e);
        *out = other;
        return AX_OK;
    }
    e->refs = 1;
    if (v->cache_cap >= v->chunk_bytes) table_insert(v, e);
    pthread_mutex_unlock(&v->lock);
    *out = e;
    return AX_OK;
}

/* After a write: the cache gets the new contents (buf is taken over) or drops the chunk. */
static void cache_replace(ax_volume *v, const int64_t *cidx, uint8_t *buf)
{
    int64_t key = chunk_key(v, cidx);
    pthread_mutex_lock(&v->lock);
    ax__cache_entry *old = table_find(v, key);
    if (old) table_remove(v, old);
    ax__cache_entry *e = NULL;
    if (v->cache_cap >= v->chunk_bytes && (e = calloc(1, sizeof *e))) {
        e->key = key;
        e->data = buf;
        buf = NULL;
        table_insert(v, e);
    }
    pthread_mutex_unlock(&v->lock);
    free(buf);
}

void ax_volume_set_cache_bytes(ax_volume *v, size_t bytes)
{
    if (!v) return;
    pthread_mutex_lock(&v->lock);
    v->cache_cap = bytes;
    evict(v);
    pthread_mutex_unlock(&v->lock);
}

void ax_volume_get_stats(const ax_volume *v, uint64_t *chunks_read, uint64_t *chunks_written,
                         uint64_t *cache_hits, uint64_t *cache_peak_bytes)
{
    if (chunks_read) *chunks_read = v ? atomic_load(&v->n_read) : 0;
    if (chunks_written) *chunks_written = v ? atomic_load(&v->n_written) : 0;
    if (cache_hits) *cache_hits = v ? atomic_load(&v->n_hits) : 0;
    if (cache_peak_bytes) *cache_peak_bytes = v ? v->cache_peak : 0;
}

/* ---- regions -------------------------------------------------------------------- */

typedef struct region_job {
    ax_volume *v;
    const int64_t *start, *size;
    int64_t c0[AX_MAX_DIMS], cn[AX_MAX_DIMS]; /* first chunk, chunk count per axis */
    uint8_t *dst;       /* read */
    const uint8_t *src; /* write */
} region_job;

static void job_chunk(const region_job *j, int64_t i, int64_t *cidx)
{
    int nd = j->v->info.ndim;
    for (int d = nd - 1; d >= 0; d--) {
        cidx[d] = j->c0[d] + i % j->cn[d];
        i /= j->cn[d];
    }
}

/* Intersection of the region with chunk cidx: start inside the chunk, start inside the
 * region buffer, and size. */
static void job_box(const region_job *j, const int64_t *cidx, int64_t *in_chunk,
                    int64_t *in_region, int64_t *box)
{
    const ax_volume *v = j->v;
    for (int d = 0; d < v->info.ndim; d++) {
        int64_t cs = cidx[d] * v->info.chunks[d], ce = cs + v->info.chunks[d];
        if (ce > v->info.shape[d]) ce = v->info.shape[d];
        int64_t rs = j->start[d], re = rs + j->size[d];
        int64_t s = cs > rs ? cs : rs, e = ce < re ? ce : re;
        in_chunk[d] = s - cs;
        in_region[d] = s - rs;
        box[d] = e - s;
    }
}

static int read_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    const region_job *j = ctx;
    ax_volume *v = j->v;
    int64_t cidx[AX_MAX_DIMS] = {0}, ic[AX_MAX_DIMS] = {0}, ir[AX_MAX_DIMS] = {0},
            box[AX_MAX_DIMS] = {0};
    job_chunk(j, i, cidx);
    job_box(j, cidx, ic, ir, box);
    ax__cache_entry *e;
    int rc = chunk_get(v, cidx, &e);
    if (rc < 0) return rc;
    ax__copy_box(v->info.ndim, ax_dtype_size(v->info.dtype), box, e->data, v->info.chunks, ic,
                 j->dst, j->size, ir);
    chunk_release(v, e);
    return AX_OK;
}

static int write_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    const region_job *j = ctx;
    ax_volume *v = j->v;
    int nd = v->info.ndim;
    int64_t cidx[AX_MAX_DIMS] = {0}, ic[AX_MAX_DIMS] = {0}, ir[AX_MAX_DIMS] = {0},
            box[AX_MAX_DIMS] = {0}, ext[AX_MAX_DIMS] = {0};
    job_chunk(j, i, cidx);
    job_box(j, cidx, ic, ir, box);
    ax__chunk_extent(v, cidx, ext);
    bool whole = true;
    for (int d = 0; d < nd; d++)
        if (ic[d] != 0 || box[d] != ext[d]) whole = false;

    uint8_t *buf = ax__aligned_alloc(v->chunk_bytes);
    if (!buf) return ax__err(AX_E_NOMEM, "%s: cannot allocate a chunk", v->path);
    int rc;
    if (whole) {
        /* padding beyond the volume edge: fill value, so files are deterministic */
        bool edge = false;
        for (int d = 0; d < nd; d++)
            if (ext[d] != v->info.chunks[d]) edge = true;
        if (edge) ax__fill(buf, v->info.dtype, v->chunk_elems, v->info.fill_value);
    } else {
        ax__cache_entry *e;
        rc = chunk_get(v, cidx, &e);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        memcpy(buf, e->data, v->chunk_bytes);
        chunk_release(v, e);
    }
    ax__copy_box(nd, ax_dtype_size(v->info.dtype), box, j->src, j->size, ir, buf,
                 v->info.chunks, ic);
    rc = v->be->write_chunk(v, cidx, buf);
    if (rc < 0) {
        free(buf);
        if (!ax_errmsg()[0]) ax__err(rc, "%s: writing a chunk failed", v->path);
        return rc;
    }
    atomic_fetch_add(&v->n_written, 1);
    cache_replace(v, cidx, buf);
    return AX_OK;
}

static int region_setup(ax_volume *v, const int64_t *start, const int64_t *size, ax_dtype dtype,
                        const void *buf, region_job *j)
{
    if (!v || !start || !size || !buf) return ax__err(AX_E_INVALID, "volume region: NULL argument");
    if (dtype != v->info.dtype)
        return ax__err(AX_E_DTYPE, "%s: volume holds %s, caller asked for %s", v->path,
                       ax_dtype_name(v->info.dtype), ax_dtype_name(dtype));
    memset(j, 0, sizeof *j);
    j->v = v;
    j->start = start;
    j->size = size;
    for (int d = 0; d < v->info.ndim; d++) {
        if (size[d] <= 0 || start[d] < 0 || start[d] > v->info.shape[d] - size[d]) {
            char shape[128];
            int w = 0;
            for (int k = 0; k < v->info.ndim; k++)
                w += snprintf(shape + w, sizeof shape - (size_t)w, "%s%lld", k ? "," : "",
                              (long long)v->info.shape[k]);
            return ax__err(AX_E_RANGE,
                           "%s: region [%lld:%lld) on axis %d is outside the volume (shape %s)",
                           v->path, (long long)start[d], (long long)(start[d] + size[d]), d,
                           shape);
        }
        j->c0[d] = start[d] / v->info.chunks[d];
        j->cn[d] = (start[d] + size[d] - 1) / v->info.chunks[d] - j->c0[d] + 1;
    }
    return AX_OK;
}

static int64_t job_count(const region_job *j)
{
    int64_t n = 1;
    for (int d = 0; d < j->v->info.ndim; d++) n *= j->cn[d];
    return n;
}

int ax_volume_read_region(ax_volume *v, const int64_t *start, const int64_t *size,
                          ax_dtype dtype, void *buf)
{
    region_job j;
    int rc = region_setup(v, start, size, dtype, buf, &j);
    if (rc < 0) return rc;
    j.dst = buf;
    ax_errclear();
    return ax_parallel_for(job_count(&j), read_task, &j);
}

/* Value conversion for ax_volume_read_region_as: integers widen or narrow by value,
 * floats to integers must be finite, whole and in range (a fractional or NaN label is
 * a wrong input, not something to round silently). */
static double elem_get(const void *p, ax_dtype t, size_t i)
{
    switch (t) {
    case AX_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AX_DTYPE_U16: return ((const uint16_t *)p)[i];
    case AX_DTYPE_U32: return ((const uint32_t *)p)[i];
    case AX_DTYPE_I32: return ((const int32_t *)p)[i];
    case AX_DTYPE_F32: return ((const float *)p)[i];
    default: return 0;
    }
}

static int convert_elems(const ax_volume *v, const void *src, ax_dtype st, void *dst,
                         ax_dtype dt, size_t n)
{
    if (dt == AX_DTYPE_F32) {
        float *d = dst;
        if (st == AX_DTYPE_U64)
            for (size_t i = 0; i < n; i++) d[i] = (float)((const uint64_t *)src)[i];
        else
            for (size_t i = 0; i < n; i++) d[i] = (float)elem_get(src, st, i);
        return AX_OK;
    }
    if (st == AX_DTYPE_U64) {
        const uint64_t *s = src;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = s[i];
            switch (dt) {
            case AX_DTYPE_U64: ((uint64_t *)dst)[i] = x; break;
            case AX_DTYPE_U8: if (x > UINT8_MAX) goto range; ((uint8_t *)dst)[i] = (uint8_t)x; break;
            case AX_DTYPE_U16: if (x > UINT16_MAX) goto range; ((uint16_t *)dst)[i] = (uint16_t)x; break;
            case AX_DTYPE_U32: if (x > UINT32_MAX) goto range; ((uint32_t *)dst)[i] = (uint32_t)x; break;
            case AX_DTYPE_I32: if (x > INT32_MAX) goto range; ((int32_t *)dst)[i] = (int32_t)x; break;
            default: return ax__err(AX_E_DTYPE, "%s: unknown dtype", v->path);
            }
            continue;
        range:
            return ax__err(AX_E_RANGE, "%s: value %llu does not fit in %s", v->path,
                           (unsigned long long)x, ax_dtype_name(dt));
        }
        return AX_OK;
    }
    double lo = 0, hi = 0;
    switch (dt) {
    case AX_DTYPE_U8: hi = UINT8_MAX; break;
    case AX_DTYPE_U16: hi = UINT16_MAX; break;
    case AX_DTYPE_U32: hi = UINT32_MAX; break;
    case AX_DTYPE_U64: hi = 18446744073709551615.0; break;
    case AX_DTYPE_I32: lo = INT32_MIN; hi = INT32_MAX; break;
    default: return ax__err(AX_E_DTYPE, "%s: unknown dtype", v->path);
    }
    for (size_t i = 0; i < n; i++) {
        double x = elem_get(src, st, i);
        /* hi of u64 is 2^64 as a double: exclude it; floor() avoids the int64 cast's UB */
        if (!(x >= lo && (dt == AX_DTYPE_U64 ? x < hi : x <= hi)) || x != floor(x))
            return ax__err(AX_E_RANGE, "%s: value %g cannot be read as %s (NaN, fractional "
                           "or out of range)", v->path, x, ax_dtype_name(dt));
        switch (dt) {
        case AX_DTYPE_U8: ((uint8_t *)dst)[i] = (uint8_t)x; break;
        case AX_DTYPE_U16: ((uint16_t *)dst)[i] = (uint16_t)x; break;
        case AX_DTYPE_U32: ((uint32_t *)dst)[i] = (uint32_t)x; break;
        case AX_DTYPE_U64: ((uint64_t *)dst)[i] = (uint64_t)x; break;
        default: ((int32_t *)dst)[i] = (int32_t)x; break;
        }
    }
    return AX_OK;
}

int ax_volume_read_region_as(ax_volume *v, const int64_t *start, const int64_t *size,
                             ax_dtype dtype, void *buf)
{
    ax_dtype st = v->info.dtype;
    if (st == dtype) return ax_volume_read_region(v, start, size, dtype, buf);
    if (!ax_dtype_size(dtype)) return ax__err(AX_E_DTYPE, "%s: unknown target dtype", v->path);
    int64_t n = 1;
    for (int d = 0; d < v->info.ndim; d++) {
        if (size[d] < 0 || !ax__mul_ok(n, size[d], &n) || n > (int64_t)(SIZE_MAX / 8))
            return ax__err(AX_E_RANGE, "%s: region too large", v->path);
    }
    size_t es = ax_dtype_size(st);
    void *tmp = NULL;
    if (n && !(tmp = malloc((size_t)n * es)))
        return ax__err(AX_E_NOMEM, "%s: out of memory reading a region", v->path);
    int rc = ax_volume_read_region(v, start, size, st, tmp);
    if (rc == AX_OK) rc = convert_elems(v, tmp, st, buf, dtype, (size_t)n);
    free(tmp);
    return rc;
}

int ax_volume_write_region(ax_volume *v, const int64_t *start, const int64_t *size,
                           ax_dtype dtype, const void *buf)
{
    region_job j;
    int rc = region_setup(v, start, size, dtype, buf, &j);
    if (rc < 0) return rc;
    if (v->mode != AX_OPEN_RW) return ax__err(AX_E_INVALID, "%s: opened read-only", v->path);
    j.src = buf;
    ax_errclear();
    return ax_parallel_for(job_count(&j), write_task, &j);
}

/* ---- paths and formats ---------------------------------------------------------- */

typedef struct parsed_path {
    ax_format format;  /* from a prefix, or AUTO */
    char *container;   /* file or directory */
    char *inner;       /* dataset path inside, or NULL */
} parsed_path;

static void parsed_free(parsed_path *pp)
{
    free(pp->container);
    free(pp->inner);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    if (a < b) return false;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suf[i]) return false;
    return true;
}

static int parse_path(const char *path, parsed_path *pp)
{
    memset(pp, 0, sizeof *pp);
    static const struct {
        const char *prefix;
        ax_format f;
    } pre[] = {{"precomputed://", AX_FORMAT_PRECOMPUTED},
               {"precomputed:", AX_FORMAT_PRECOMPUTED},
               {"tiffdir:", AX_FORMAT_TIFF_DIR},
               {"tiff:", AX_FORMAT_TIFF},
               {"hdf5:", AX_FORMAT_HDF5},
               {"h5:", AX_FORMAT_HDF5},
               {"zarr:", AX_FORMAT_ZARR},
               {"n5:", AX_FORMAT_N5}};
    const char *p = path;
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        size_t n = strlen(pre[i].prefix);
        if (!strncmp(p, pre[i].prefix, n)) {
            pp->format = pre[i].f;
            p += n;
            break;
        }
    }
    if (!strncmp(p, "file://", 7)) p += 7;
    if (!*p) return ax__err(AX_E_INVALID, "'%s': empty path", path);
    /* split "container.ext:inner" for container formats */
    static const char *exts[] = {".h5:", ".hdf5:", ".hdf:", ".zarr:", ".n5:"};
    const char *split = NULL;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        const char *s = strstr(p, exts[i]);
        if (s) {
            split = s + strlen(exts[i]) - 1;
            break;
        }
    }
    if (!split && (pp->format == AX_FORMAT_HDF5 || pp->format == AX_FORMAT_ZARR ||
                   pp->format == AX_FORMAT_N5))
        split = strrchr(p, ':');
    if (split) {
        pp->container = ax__asprintf("%.*s", (int)(split - p), p);
        const char *in = split + 1;
        while (*in == '/') in++;
        pp->inner = *in ? ax__strdup(in) : NULL;
    } else {
        pp->container = ax__strdup(p);
    }
    if (!pp->container) return ax__err(AX_E_NOMEM, "out of memory");
    return AX_OK;
}

static bool dir_has(const char *dir, const char *name)
{
    char *f = ax__path_join(dir, name);
    bool r = f && ax__path_exists(f);
    free(f);
    return r;
}

static ax_format detect_existing(const char *path)
{
    if (ax__is_dir(path)) {
        if (dir_has(path, ".zarray")) return AX_FORMAT_ZARR;
        if (dir_has(path, "attributes.json")) return AX_FORMAT_N5;
        if (dir_has(path, "info")) return AX_FORMAT_PRECOMPUTED;
        if (ends_with(path, ".zarr") || ends_with(path, ".zarr/")) return AX_FORMAT_ZARR;
        if (ends_with(path, ".n5") || ends_with(path, ".n5/")) return AX_FORMAT_N5;
        return AX_FORMAT_TIFF_DIR;
    }
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5") || ends_with(path, ".hdf"))
        return AX_FORMAT_HDF5;
    if (ends_with(path, ".tif") || ends_with(path, ".tiff")) return AX_FORMAT_TIFF;
    FILE *f = fopen(path, "rb");
    if (f) {
        uint8_t m[8] = {0};
        size_t n = fread(m, 1, sizeof m, f);
        fclose(f);
        if (n >= 8 && !memcmp(m, "\x89HDF\r\n\x1a\n", 8)) return AX_FORMAT_HDF5;
        if (n >= 4 && (!memcmp(m, "II*\0", 4) || !memcmp(m, "MM\0*", 4) ||
                       !memcmp(m, "II+\0", 4) || !memcmp(m, "MM\0+", 4)))
            return AX_FORMAT_TIFF;
    }
    return AX_FORMAT_AUTO;
}

static ax_format detect_new(const char *path)
{
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5") || ends_with(path, ".hdf"))
        return AX_FORMAT_HDF5;
    if (ends_with(path, ".tif") || ends_with(path, ".tiff")) return AX_FORMAT_TIFF;
    if (ends_with(path, ".zarr") || ends_with(path, ".zarr/")) return AX_FORMAT_ZARR;
    if (ends_with(path, ".n5") || ends_with(path, ".n5/")) return AX_FORMAT_N5;
    if (ends_with(path, ".precomputed") || ends_with(path, ".precomputed/"))
        return AX_FORMAT_PRECOMPUTED;
    if (ends_with(path, "/")) return AX_FORMAT_TIFF_DIR;
    return AX_FORMAT_AUTO;
}

static const ax__backend *backend_for(ax_format f)
{
    switch (f) {
    case AX_FORMAT_TIFF: return &ax__backend_tiff;
    case AX_FORMAT_TIFF_DIR: return &ax__backend_tiff_dir;
    case AX_FORMAT_HDF5: return &ax__backend_hdf5;
    case AX_FORMAT_ZARR: return &ax__backend_zarr;
    case AX_FORMAT_N5: return &ax__backend_n5;
    case AX_FORMAT_PRECOMPUTED: return &ax__backend_precomputed;
    default: return NULL;
    }
}

static ax_volume *volume_alloc(const char *path)
{
    ax_volume *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->path = ax__strdup(path);
    pthread_mutex_init(&v->lock, NULL);
    v->cache_cap = env_cache_bytes();
    v->nbuckets = 1024;
    v->buckets = calloc(v->nbuckets, sizeof *v->buckets);
    atomic_init(&v->n_read, 0);
    atomic_init(&v->n_written, 0);
    atomic_init(&v->n_hits, 0);
    if (!v->path || !v->buckets) {
        free(v->path);
        free(v->buckets);
        free(v);
        return NULL;
    }
    return v;
}

static void volume_free(ax_volume *v)
{
    for (ax__cache_entry *e = v->lru_head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    free(v->buckets);
    pthread_mutex_destroy(&v->lock);
    free(v->path);
    free(v->final_path);
    free(v->build_path);
    free(v->group_root);
    free(v);
}

/* Check what a backend reported and derive the chunk grid. */
static int finish_info(ax_volume *v)
{
    ax_volume_info *in = &v->info;
    size_t elem = ax_dtype_size(in->dtype);
    if (!elem) return ax__err(AX_E_DTYPE, "%s: unsupported data type", v->path);
    int rc = ax__check_shape(in->ndim, in->shape, elem, v->path);
    if (rc < 0) return rc;
    int64_t cb = (int64_t)elem;
    for (int d = 0; d < in->ndim; d++) {
        if (in->chunks[d] <= 0)
            return ax__err(AX_E_RANGE, "%s: chunk size %lld on axis %d (must be > 0)", v->path,
                           (long long)in->chunks[d], d);
        if (!ax__mul_ok(cb, in->chunks[d], &cb) || (size_t)cb > AX__CHUNK_MAX_BYTES)
            return ax__err(AX_E_RANGE, "%s: chunks are larger than axon's 1 GiB limit", v->path);
        v->grid[d] = (in->shape[d] + in->chunks[d] - 1) / in->chunks[d];
    }
    v->chunk_bytes = (size_t)cb;
    v->chunk_elems = (size_t)cb / elem;
    for (int k = 0; k < 3; k++) {
        if (!(in->voxel_size[k] > 0) || in->voxel_size[k] > 1e12) {
            if (in->has_voxel_size)
                return ax__err(AX_E_FORMAT, "%s: voxel size %g is not a positive number",
                               v->path, in->voxel_size[k]);
            in->voxel_size[k] = 1;
        }
        if (in->offset[k] != in->offset[k])
            return ax__err(AX_E_FORMAT, "%s: offset is NaN", v->path);
    }
    return AX_OK;
}

int ax_volume_open(const char *path, int mode, ax_volume **out)
{
    if (!out) return ax__err(AX_E_INVALID, "ax_volume_open: out is NULL");
    *out = NULL;
    if (!path) return ax__err(AX_E_INVALID, "ax_volume_open: path is NULL");
    if (mode != AX_OPEN_READ && mode != AX_OPEN_RW)
        return ax__err(AX_E_INVALID, "%s: bad open mode %d", path, mode);
    ax_errclear();
    parsed_path pp;
    int rc = parse_path(path, &pp);
    if (rc < 0) return rc;
    ax_format f = pp.format;
    char *target = pp.container;
    char *joined = NULL;
    if ((f == AX_FORMAT_AUTO || f == AX_FORMAT_ZARR || f == AX_FORMAT_N5) && pp.inner &&
        ax__is_dir(pp.container)) {
        joined = ax__path_join(pp.container, pp.inner);
        if (!joined) {
            parsed_free(&pp);
            return ax__err(AX_E_NOMEM, "out of memory");
        }
        target = joined;
    }
    if (!ax__path_exists(target)) {
        rc = ax__err(AX_E_NOTFOUND, "%s: no such file or directory", target);
        goto fail_path;
    }
    if (f == AX_FORMAT_AUTO) f = detect_existing(target);
    const ax__backend *be = backend_for(f);
    if (!be) {
        rc = ax__err(AX_E_UNSUPPORTED,
                     "%s: cannot tell the volume format (use a prefix: zarr:, n5:, h5:, tiff:, "
                     "tiffdir:, precomputed:)",
                     path);
        goto fail_path;
    }
    ax_volume *v = volume_alloc(path);
    if (!v) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto fail_path;
    }
    v->be = be;
    v->mode = mode;
    v->info.format = f;
    v->info.compression_level = -1;
    v->info.voxel_size[0] = v->info.voxel_size[1] = v->info.voxel_size[2] = 1;
    bool joined_inner = joined != NULL;
    v->final_path = ax__strdup(target);
    v->build_path = ax__strdup(target);
    rc = be->open(v, target, joined_inner ? NULL : pp.inner, mode);
    if (rc == AX_OK) rc = finish_info(v);
    if (rc < 0) {
        if (!ax_errmsg()[0]) ax__err(rc, "%s: %s", path, ax_strerror(rc));
        if (v->impl) be->close(v, false);
        volume_free(v);
        goto fail_path;
    }
    free(joined);
    parsed_free(&pp);
    *out = v;
    return AX_OK;
fail_path:
    free(joined);
    parsed_free(&pp);
    return rc;
}

ax_volume_create_params ax_volume_create_params_default(void)
{
    ax_volume_create_params p;
    memset(&p, 0, sizeof p);
    p.format = AX_FORMAT_AUTO;
    p.compression = AX_COMPRESSION_DEFAULT;
    p.compression_level = -1;
    p.voxel_size[0] = p.voxel_size[1] = p.voxel_size[2] = 1;
    p.zarr_order = 'C';
    p.zarr_separator = '.';
    return p;
}

int ax_volume_create(const char *path, const ax_volume_create_params *p, ax_volume **out)
{
    if (!out) return ax__err(AX_E_INVALID, "ax_volume_create: out is NULL");
    *out = NULL;
    if (!path || !p) return ax__err(AX_E_INVALID, "ax_volume_create: NULL argument");
    ax_errclear();
    size_t elem = ax_dtype_size(p->dtype);
    if (!elem) return ax__err(AX_E_DTYPE, "%s: unknown data type", path);
    int rc = ax__check_shape(p->ndim, p->shape, elem, path);
    if (rc < 0) return rc;
    if (p->zarr_order != 'C' && p->zarr_order != 'F')
        return ax__err(AX_E_INVALID, "%s: zarr order must be 'C' or 'F'", path);
    if (p->zarr_separator != '.' && p->zarr_separator != '/')
        return ax__err(AX_E_INVALID, "%s: zarr dimension separator must be '.' or '/'", path);

    parsed_path pp;
    rc = parse_path(path, &pp);
    if (rc < 0) return rc;
    ax_format f = p->format != AX_FORMAT_AUTO ? p->format : pp.format;
    if (f == AX_FORMAT_AUTO) f = detect_new(pp.container);
    const ax__backend *be = backend_for(f);
    char *target = NULL;
    ax_volume *v = NULL;
    if (!be) {
        rc = ax__err(AX_E_UNSUPPORTED,
                     "%s: cannot tell the format from the name (end it in .zarr, .n5, .h5:dataset, "
                     ".tif, .precomputed or / for TIFF slices, or use a prefix zarr:, n5:, h5:, "
                     "tiff:, tiffdir:, precomputed:)",
                     path);
        goto fail;
    }
    bool hdf5 = f == AX_FORMAT_HDF5;
    if (hdf5 && !pp.inner) {
        rc = ax__err(AX_E_INVALID, "%s: name the HDF5 dataset to create: %s:dataset", path,
                     pp.container);
        goto fail;
    }
    if (!hdf5 && pp.inner)
        target = ax__path_join(pp.container, pp.inner);
    else
        target = ax__strdup(pp.container);
    if (!target) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto fail;
    }
    size_t tl = strlen(target);
    while (tl > 1 && target[tl - 1] == '/') target[--tl] = 0;
    v = volume_alloc(path);
    if (!v) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto fail;
    }
    v->be = be;
    v->mode = AX_OPEN_RW;
    v->created = true;
    v->overwrite = p->overwrite;
    v->final_path = target;
    target = NULL;
    if (!hdf5 && pp.inner && !(v->group_root = ax__strdup(pp.container))) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto fail;
    }
    bool exists = ax__path_exists(v->final_path);
    if (hdf5 && exists) {
        /* a new dataset in an existing file: the backend makes it atomic inside the file */
        v->build_path = ax__strdup(v->final_path);
    } else {
        if (exists && !p->overwrite) {
            rc = ax__err(AX_E_EXISTS, "%s: already exists (ask to overwrite)", v->final_path);
            goto fail;
        }
        v->build_path = ax__temp_sibling(v->final_path);
        char *parent = ax__strdup(v->final_path);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash && slash != parent) {
            *slash = 0;
            rc = ax__mkdir_p(parent);
            if (rc < 0) {
                free(parent);
                goto fail;
            }
        }
        free(parent);
    }
    if (!v->build_path) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto fail;
    }

    ax_volume_info *in = &v->info;
    in->format = f;
    in->dtype = p->dtype;
    in->ndim = p->ndim;
    memcpy(in->shape, p->shape, sizeof in->shape);
    ax__default_chunks(p, in->chunks);
    in->has_voxel_size = p->has_voxel_size;
    memcpy(in->voxel_size, p->voxel_size, sizeof in->voxel_size);
    memcpy(in->offset, p->offset, sizeof in->offset);
    in->compression = p->compression;
    in->compression_level = p->compression_level;
    in->fill_value = p->fill_value;
    in->is_labels = p->is_labels;

    rc = be->create(v, v->build_path, hdf5 ? pp.inner : NULL, p);
    if (rc == AX_OK) rc = finish_info(v);
    if (rc < 0) {
        if (!ax_errmsg()[0]) ax__err(rc, "%s: %s", path, ax_strerror(rc));
        goto fail;
    }
    parsed_free(&pp);
    *out = v;
    return AX_OK;
fail:
    if (v) {
        char saved[1024];
        ax__err_copy(saved, sizeof saved);
        if (v->impl) be->close(v, false);
        if (v->build_path && v->final_path && strcmp(v->build_path, v->final_path))
            ax__rm_rf(v->build_path);
        ax__err_set_raw(saved);
        volume_free(v);
    }
    free(target);
    parsed_free(&pp);
    return rc;
}

int ax_volume_close(ax_volume *v)
{
    if (!v) return AX_OK;
    int rc = v->be->close(v, true);
    if (v->created && strcmp(v->build_path, v->final_path) != 0) {
        if (rc == AX_OK) {
            /* replace an old volume (overwrite): move it aside first so the new one appears
             * in a single rename, then delete the old one */
            char *trash = NULL;
            if (ax__path_exists(v->final_path) && !v->overwrite) {
                /* something appeared there while we built (e.g. two writers creating the
                 * same new file): never replace it silently */
                rc = ax__err(AX_E_EXISTS, "%s: appeared while this volume was being written; "
                             "not replaced", v->final_path);
            } else if (ax__path_exists(v->final_path)) {
                trash = ax__temp_sibling(v->final_path);
                if (!trash || rename(v->final_path, trash) != 0)
                    rc = ax__err(AX_E_IO, "%s: cannot move the old volume aside: %s",
                                 v->final_path, strerror(errno));
            }
            if (rc == AX_OK && rename(v->build_path, v->final_path) != 0)
                rc = ax__err(AX_E_IO, "%s: cannot rename %s into place: %s", v->final_path,
                             v->build_path, strerror(errno));
            if (trash) ax__rm_rf(trash);
            free(trash);
        }
        if (rc < 0) {
            char saved[1024];
            ax__err_copy(saved, sizeof saved);
            ax__rm_rf(v->build_path);
            ax__err_set_raw(saved);
        }
    }
    volume_free(v);
    return rc;
}

void ax_volume_abort(ax_volume *v)
{
    if (!v) return;
    char saved[1024];
    ax__err_copy(saved, sizeof saved);
    v->be->close(v, false);
    if (v->created && strcmp(v->build_path, v->final_path) != 0) ax__rm_rf(v->build_path);
    ax__err_set_raw(saved);
    volume_free(v);
}

int ax_volume_remove(const char *path)
{
    if (!path) return ax__err(AX_E_INVALID, "ax_volume_remove: no path");
    static const char *const prefixes[] = {"zarr:", "n5:", "h5:", "tiff:", "tiffdir:", "precomputed:",
                                           "precomputed://"};
    for (size_t i = sizeof prefixes / sizeof *prefixes; i-- > 0;)
        if (!strncmp(path, prefixes[i], strlen(prefixes[i]))) {
            path += strlen(prefixes[i]);
            break;
        }
    return ax__rm_rf(path);
}

const ax_volume_info *ax_volume_get_info(const ax_volume *v) { return v ? &v->info : NULL; }

const char *ax_volume_path(const ax_volume *v) { return v ? v->path : NULL; }
