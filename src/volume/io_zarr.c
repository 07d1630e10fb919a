/* io_zarr.c: Zarr v2 arrays (https://zarr.readthedocs.io/en/stable/spec/v2.html).
 *
 * Reads and writes .zarray (C and F order, dimension_separator "." and "/", fill_value
 * incl. "NaN", compressors null/gzip/zlib/zstd/blosc, no filters) and the funlib/daisy
 * .zattrs convention {"resolution": [z,y,x] nm, "offset": [z,y,x] nm}. Chunks are always
 * stored whole (edge chunks padded), as the spec says. Big-endian dtypes are read (swapped
 * on decode); axon writes little-endian.
 *
 * Arrays created inside a container ("root.zarr:group/array") get .zgroup files in the
 * root and every intermediate group, so zarr.open(root)["group/array"] works.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "volume/volume_int.h"

#define ZARR_META_MAX (1u << 20)

typedef struct zarr_impl {
    char *dir;         /* where chunks live (build path while creating) */
    char sep;          /* '.' or '/' */
    char order;        /* 'C' or 'F' */
    bool big_endian;   /* stored byte order differs from ours */
    ax_compression comp;
    int level;
} zarr_impl;

static int dtype_from_zarr(const char *s, ax_dtype *t, bool *big, const char *path)
{
    if (strlen(s) < 3)
        return ax__err(AX_E_DTYPE, "%s: dtype \"%s\" is not a numpy type string", path, s);
    char bo = s[0];
    const char *k = s + 1;
    if (bo != '<' && bo != '>' && bo != '|')
        return ax__err(AX_E_DTYPE, "%s: dtype \"%s\" has no byte order", path, s);
    *big = bo == '>';
    if (!strcmp(k, "u1")) *t = AX_DTYPE_U8;
    else if (!strcmp(k, "u2")) *t = AX_DTYPE_U16;
    else if (!strcmp(k, "u4")) *t = AX_DTYPE_U32;
    else if (!strcmp(k, "u8")) *t = AX_DTYPE_U64;
    else if (!strcmp(k, "i4")) *t = AX_DTYPE_I32;
    else if (!strcmp(k, "f4")) *t = AX_DTYPE_F32;
    else
        return ax__err(AX_E_DTYPE,
                       "%s: dtype \"%s\" is not supported (uint8/16/32/64, int32, float32)",
                       path, s);
    if (*t == AX_DTYPE_U8) *big = false;
    return AX_OK;
}

static const char *dtype_to_zarr(ax_dtype t)
{
    switch (t) {
    case AX_DTYPE_U8: return "|u1";
    case AX_DTYPE_U16: return "<u2";
    case AX_DTYPE_U32: return "<u4";
    case AX_DTYPE_U64: return "<u8";
    case AX_DTYPE_I32: return "<i4";
    case AX_DTYPE_F32: return "<f4";
    default: return NULL;
    }
}

static int parse_compressor(const json_t *c, ax_compression *comp, int *level, const char *path)
{
    *level = -1;
    if (!c || json_is_null(c)) {
        *comp = AX_COMPRESSION_RAW;
        return AX_OK;
    }
    if (!json_is_object(c)) return ax__err(AX_E_FORMAT, "%s: \"compressor\" is not an object", path);
    const char *id = json_string_value(json_object_get(c, "id"));
    if (!id) return ax__err(AX_E_FORMAT, "%s: compressor has no \"id\"", path);
    if (!strcmp(id, "zstd")) *comp = AX_COMPRESSION_ZSTD;
    else if (!strcmp(id, "gzip")) *comp = AX_COMPRESSION_GZIP;
    else if (!strcmp(id, "zlib")) *comp = AX_COMPRESSION_ZLIB;
    else if (!strcmp(id, "blosc")) *comp = AX_COMPRESSION_BLOSC;
    else
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: compressor \"%s\" is not supported (zstd, gzip, zlib, blosc, null)",
                       path, id);
    const json_t *l = json_object_get(c, *comp == AX_COMPRESSION_BLOSC ? "clevel" : "level");
    if (json_is_integer(l)) *level = (int)json_integer_value(l);
    return AX_OK;
}

static int parse_fill(const json_t *f, double *out, const char *path)
{
    *out = 0;
    if (!f || json_is_null(f)) return AX_OK;
    if (json_is_number(f)) {
        *out = json_number_value(f);
        return AX_OK;
    }
    const char *s = json_string_value(f);
    if (s && !strcmp(s, "NaN")) *out = NAN;
    else if (s && !strcmp(s, "Infinity")) *out = INFINITY;
    else if (s && !strcmp(s, "-Infinity")) *out = -INFINITY;
    else return ax__err(AX_E_FORMAT, "%s: \"fill_value\" is not a number", path);
    return AX_OK;
}

static void read_zattrs(ax_volume *v, const char *dir)
{
    char *p = ax__path_join(dir, ".zattrs");
    json_t *j = NULL;
    if (!p) return;
    if (ax__path_exists(p) && ax__json_load(p, ZARR_META_MAX, &j) == AX_OK) {
        double r[3], o[3];
        int n = 0;
        /* attributes are advisory: a malformed one is ignored, not fatal */
        if (ax__json_num_array(j, "resolution", r, 3, &n, true, p) == AX_OK && n == 3) {
            memcpy(v->info.voxel_size, r, sizeof r);
            v->info.has_voxel_size = true;
        }
        if (ax__json_num_array(j, "offset", o, 3, &n, true, p) == AX_OK && n == 3)
            memcpy(v->info.offset, o, sizeof o);
    }
    json_decref(j);
    free(p);
    ax_errclear();
}

static int zarr_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    (void)mode;
    char *dir = inner ? ax__path_join(path, inner) : ax__strdup(path);
    if (!dir) return ax__err(AX_E_NOMEM, "out of memory");
    char *meta = ax__path_join(dir, ".zarray");
    json_t *j = NULL;
    int rc = meta ? ax__json_load(meta, ZARR_META_MAX, &j) : ax__err(AX_E_NOMEM, "out of memory");
    if (rc == AX_E_NOTFOUND && ax__path_exists(dir)) {
        char *g = ax__path_join(dir, ".zgroup");
        bool group = g && ax__path_exists(g);
        free(g);
        rc = ax__err(AX_E_NOTFOUND,
                     group ? "%s: is a zarr group, not an array: name the array (%s:name)"
                           : "%s: no .zarray (not a zarr array)",
                     dir, dir);
    }
    if (rc < 0) goto out;
    zarr_impl *z = calloc(1, sizeof *z);
    if (!z) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto out;
    }
    v->impl = z;
    z->dir = dir;
    dir = NULL;

    const json_t *fmt = json_object_get(j, "zarr_format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != 2) {
        rc = ax__err(AX_E_UNSUPPORTED, "%s: zarr_format is not 2", meta);
        goto out;
    }
    int nd = 0, nc = 0;
    if ((rc = ax__json_int_array(j, "shape", v->info.shape, AX_MAX_DIMS, &nd, false, meta)) < 0 ||
        (rc = ax__json_int_array(j, "chunks", v->info.chunks, AX_MAX_DIMS, &nc, false, meta)) < 0)
        goto out;
    if (nd != nc) {
        rc = ax__err(AX_E_FORMAT, "%s: \"shape\" has %d entries but \"chunks\" %d", meta, nd, nc);
        goto out;
    }
    if (nd == 0) {
        rc = ax__err(AX_E_RANGE, "%s: zero-dimensional arrays are not volumes", meta);
        goto out;
    }
    v->info.ndim = nd;
    const char *dt = json_string_value(json_object_get(j, "dtype"));
    if (!dt) {
        rc = ax__err(AX_E_FORMAT, "%s: \"dtype\" is missing or not a string", meta);
        goto out;
    }
    if ((rc = dtype_from_zarr(dt, &v->info.dtype, &z->big_endian, meta)) < 0) goto out;
    if ((rc = parse_compressor(json_object_get(j, "compressor"), &z->comp, &z->level, meta)) < 0)
        goto out;
    v->info.compression = z->comp;
    v->info.compression_level = z->level;
    if ((rc = parse_fill(json_object_get(j, "fill_value"), &v->info.fill_value, meta)) < 0)
        goto out;
    const char *order = json_string_value(json_object_get(j, "order"));
    if (!order || (strcmp(order, "C") && strcmp(order, "F"))) {
        rc = ax__err(AX_E_FORMAT, "%s: \"order\" must be \"C\" or \"F\"", meta);
        goto out;
    }
    z->order = order[0];
    const json_t *filters = json_object_get(j, "filters");
    if (filters && !json_is_null(filters) &&
        !(json_is_array(filters) && json_array_size(filters) == 0)) {
        const char *fid = json_is_array(filters)
                              ? json_string_value(json_object_get(json_array_get(filters, 0), "id"))
                              : NULL;
        rc = ax__err(AX_E_UNSUPPORTED, "%s: filters are not supported (found \"%s\")", meta,
                     fid ? fid : "?");
        goto out;
    }
    const json_t *sep = json_object_get(j, "dimension_separator");
    z->sep = '.';
    if (sep) {
        const char *s = json_string_value(sep);
        if (!s || (strcmp(s, ".") && strcmp(s, "/"))) {
            rc = ax__err(AX_E_FORMAT, "%s: \"dimension_separator\" must be \".\" or \"/\"", meta);
            goto out;
        }
        z->sep = s[0];
    }
    if (v->info.fill_value != v->info.fill_value && v->info.dtype != AX_DTYPE_F32) {
        rc = ax__err(AX_E_FORMAT, "%s: fill_value NaN for an integer dtype", meta);
        goto out;
    }
    read_zattrs(v, z->dir);
    rc = AX_OK;
out:
    free(dir);
    free(meta);
    json_decref(j);
    return rc;
}

static char *chunk_path(const ax_volume *v, const zarr_impl *z, const int64_t *cidx)
{
    char key[AX_MAX_DIMS * 21 + 1];
    int w = 0;
    for (int d = 0; d < v->info.ndim; d++) {
        if (d) key[w++] = z->sep;
        w += snprintf(key + w, sizeof key - (size_t)w, "%lld", (long long)cidx[d]);
    }
    return ax__path_join(z->dir, key);
}

/* Reorder a whole chunk between C order and F order. to_c: F-ordered src -> C-ordered dst. */
static void reorder(const ax_volume *v, const uint8_t *src, uint8_t *dst, bool to_c)
{
    int nd = v->info.ndim;
    size_t elem = ax_dtype_size(v->info.dtype);
    const int64_t *sh = v->info.chunks;
    int64_t cstr[AX_MAX_DIMS], fstr[AX_MAX_DIMS], idx[AX_MAX_DIMS] = {0};
    cstr[nd - 1] = 1;
    for (int d = nd - 2; d >= 0; d--) cstr[d] = cstr[d + 1] * sh[d + 1];
    fstr[0] = 1;
    for (int d = 1; d < nd; d++) fstr[d] = fstr[d - 1] * sh[d - 1];
    for (size_t i = 0; i < v->chunk_elems; i++) {
        int64_t f = 0;
        for (int d = 0; d < nd; d++) f += idx[d] * fstr[d];
        if (to_c) memcpy(dst + i * elem, src + (size_t)f * elem, elem);
        else memcpy(dst + (size_t)f * elem, src + i * elem, elem);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < sh[d]) break;
            idx[d] = 0;
        }
    }
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

static int zarr_read_chunk(ax_volume *v, const int64_t *cidx, void *buf)
{
    zarr_impl *z = v->impl;
    char *p = chunk_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    uint8_t *data;
    size_t len;
    /* a compressed chunk is never much larger than the raw one */
    int rc = ax__file_read(p, v->chunk_bytes + v->chunk_bytes / 8 + 65536, &data, &len);
    if (rc < 0) {
        free(p);
        return rc;
    }
    uint8_t *tmp = NULL;
    void *target = buf;
    if (z->order == 'F') {
        tmp = ax__aligned_alloc(v->chunk_bytes);
        if (!tmp) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
            free(data);
            free(p);
            return rc;
        }
        target = tmp;
    }
    rc = ax__decompress(z->comp, data, len, target, v->chunk_bytes, p);
    free(data);
    if (rc == AX_OK) {
        if (z->big_endian) swap_bytes(v, target);
        if (tmp) reorder(v, tmp, buf, true);
    }
    free(tmp);
    free(p);
    return rc;
}

static int zarr_write_chunk(ax_volume *v, const int64_t *cidx, const void *buf)
{
    zarr_impl *z = v->impl;
    char *p = chunk_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    const void *src = buf;
    uint8_t *tmp = NULL;
    int rc;
    if (z->order == 'F' || z->big_endian) {
        tmp = ax__aligned_alloc(v->chunk_bytes);
        if (!tmp) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
            free(p);
            return rc;
        }
        if (z->order == 'F') reorder(v, buf, tmp, false);
        else memcpy(tmp, buf, v->chunk_bytes);
        if (z->big_endian) swap_bytes(v, tmp);
        src = tmp;
    }
    if (z->sep == '/') {
        char *slash = strrchr(p, '/');
        *slash = 0;
        rc = ax__mkdir_p(p);
        *slash = '/';
        if (rc < 0) goto out;
    }
    uint8_t *enc;
    size_t n;
    rc = ax__compress(z->comp, z->level, ax_dtype_size(v->info.dtype), src, v->chunk_bytes, &enc, &n);
    if (rc < 0) {
        ax__err_prefix(rc, "%s", p);
        goto out;
    }
    rc = ax__file_write_atomic(p, enc, n);
    free(enc);
out:
    free(tmp);
    free(p);
    return rc;
}

static json_t *json_i64_array(const int64_t *a, int n)
{
    json_t *j = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(j, json_integer(a[i]));
    return j;
}

static json_t *json_f64_array(const double *a, int n)
{
    json_t *j = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(j, json_real(a[i]));
    return j;
}

/* Mark every directory from the container root down to (excluding) the array as a group. */
static int mark_groups(const ax_volume *v)
{
    if (!v->group_root) return AX_OK;
    size_t rl = strlen(v->group_root);
    char *dir = ax__strdup(v->final_path);
    if (!dir) return ax__err(AX_E_NOMEM, "out of memory");
    int rc = AX_OK;
    /* walk up from the array's parent to the root */
    for (char *slash = strrchr(dir, '/'); slash && (size_t)(slash - dir) >= rl;
         slash = strrchr(dir, '/')) {
        *slash = 0;
        if ((rc = ax__mkdir_p(dir)) < 0) break;
        char *g = ax__path_join(dir, ".zgroup");
        if (!g) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            break;
        }
        if (!ax__path_exists(g)) {
            static const char grp[] = "{\n    \"zarr_format\": 2\n}\n";
            rc = ax__file_write_atomic(g, grp, sizeof grp - 1);
        }
        free(g);
        if (rc < 0 || (size_t)(slash - dir) == rl) break;
    }
    free(dir);
    return rc;
}

static int zarr_create(ax_volume *v, const char *path, const char *inner,
                       const ax_volume_create_params *p)
{
    (void)inner;
    zarr_impl *z = calloc(1, sizeof *z);
    if (!z) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = z;
    z->dir = ax__strdup(path);
    if (!z->dir) return ax__err(AX_E_NOMEM, "out of memory");
    z->sep = p->zarr_separator;
    z->order = p->zarr_order;
    if (v->info.compression == AX_COMPRESSION_DEFAULT) v->info.compression = AX_COMPRESSION_ZSTD;
    z->comp = v->info.compression;
    if (z->comp != AX_COMPRESSION_RAW && z->comp != AX_COMPRESSION_GZIP &&
        z->comp != AX_COMPRESSION_ZLIB && z->comp != AX_COMPRESSION_ZSTD &&
        z->comp != AX_COMPRESSION_BLOSC)
        return ax__err(AX_E_UNSUPPORTED, "%s: zarr cannot store %s compression", v->path,
                       ax_compression_name(z->comp));
    if (v->info.compression_level < 0) {
        v->info.compression_level = z->comp == AX_COMPRESSION_ZSTD    ? 3
                                    : z->comp == AX_COMPRESSION_BLOSC ? 5
                                    : z->comp == AX_COMPRESSION_RAW   ? -1
                                                                      : 6;
    }
    z->level = v->info.compression_level;
    int rc = mark_groups(v);
    if (rc < 0) return rc;
    if ((rc = ax__mkdir_p(path)) < 0) return rc;

    json_t *j = json_object();
    json_object_set_new(j, "zarr_format", json_integer(2));
    json_object_set_new(j, "shape", json_i64_array(v->info.shape, v->info.ndim));
    json_object_set_new(j, "chunks", json_i64_array(v->info.chunks, v->info.ndim));
    json_object_set_new(j, "dtype", json_string(dtype_to_zarr(v->info.dtype)));
    json_t *c = json_null();
    switch (z->comp) {
    case AX_COMPRESSION_ZSTD:
        c = json_pack("{s:s,s:i}", "id", "zstd", "level", z->level);
        break;
    case AX_COMPRESSION_GZIP:
        c = json_pack("{s:s,s:i}", "id", "gzip", "level", z->level);
        break;
    case AX_COMPRESSION_ZLIB:
        c = json_pack("{s:s,s:i}", "id", "zlib", "level", z->level);
        break;
    case AX_COMPRESSION_BLOSC:
        /* what c-blosc writes: lz4, byte shuffle, automatic block size (numcodecs' default) */
        c = json_pack("{s:s,s:s,s:i,s:i,s:i}", "id", "blosc", "cname", "lz4", "clevel", z->level,
                      "shuffle", 1, "blocksize", 0);
        break;
    default: break;
    }
    json_object_set_new(j, "compressor", c);
    double fv = v->info.fill_value;
    if (fv != fv) json_object_set_new(j, "fill_value", json_string("NaN"));
    else if (v->info.dtype == AX_DTYPE_F32) json_object_set_new(j, "fill_value", json_real(fv));
    else json_object_set_new(j, "fill_value", json_integer((json_int_t)fv));
    json_object_set_new(j, "order", json_string(z->order == 'F' ? "F" : "C"));
    json_object_set_new(j, "filters", json_null());
    json_object_set_new(j, "dimension_separator", json_string(z->sep == '/' ? "/" : "."));
    char *meta = ax__path_join(path, ".zarray");
    rc = meta ? ax__json_save(meta, j) : ax__err(AX_E_NOMEM, "out of memory");
    free(meta);
    json_decref(j);
    if (rc < 0) return rc;

    if (v->info.has_voxel_size || v->info.offset[0] || v->info.offset[1] || v->info.offset[2]) {
        json_t *a = json_object();
        json_object_set_new(a, "resolution", json_f64_array(v->info.voxel_size, 3));
        json_object_set_new(a, "offset", json_f64_array(v->info.offset, 3));
        char *ap = ax__path_join(path, ".zattrs");
        rc = ap ? ax__json_save(ap, a) : ax__err(AX_E_NOMEM, "out of memory");
        free(ap);
        json_decref(a);
    }
    return rc;
}

static int zarr_close(ax_volume *v, bool commit)
{
    (void)commit;
    zarr_impl *z = v->impl;
    if (z) free(z->dir);
    free(z);
    v->impl = NULL;
    return AX_OK;
}

const ax__backend ax__backend_zarr = {
    .name = "zarr",
    .format = AX_FORMAT_ZARR,
    .open = zarr_open,
    .create = zarr_create,
    .read_chunk = zarr_read_chunk,
    .write_chunk = zarr_write_chunk,
    .close = zarr_close,
};
