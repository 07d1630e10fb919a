/* io_n5.c: N5 datasets (https://github.com/saalfeldlab/n5, format 2.0.0).
 *
 * attributes.json lists "dimensions" and "blockSize" fastest axis first (x, y, z, ...), the
 * reverse of axon's C order, "dataType" and "compression" ({"type": raw | gzip (gzip or
 * zlib framing, "useZlib") | zstd (a plain zstd frame, as n5-zstd) | blosc}, or the legacy
 * "compressionType" string). A block lives at dir/<i_x>/<i_y>/<i_z> and is
 *
 *   uint16 mode (0 default, 1 varlength: + uint32 element count; 2 object: unsupported)
 *   uint16 ndim, uint32 size[ndim] (x first), then the compressed big-endian elements,
 *
 * all big-endian. Edge blocks are stored truncated to the volume; blocks padded to the full
 * block size (what zarr's N5Store writes) are read too. Any other size is AX_E_CORRUPT.
 *
 * Voxel size and offset: "resolution" and "offset" (x first, funlib's convention), else
 * n5-viewer's "pixelResolution" {"dimensions": [...], "unit": "nm"}. axon writes
 * "resolution" and "offset". N5 has no fill value: missing blocks are 0.
 *
 * A standalone dataset gets {"n5": "2.0.0"} in its own attributes.json (it is the root);
 * one created inside a container ("root.n5:group/ds") marks the root and every group
 * between with it, so zarr's N5Store and n5-java both see groups.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "volume/volume_int.h"

#define N5_META_MAX (1u << 20)
#define N5_VERSION "2.0.0"

typedef struct n5_impl {
    char *dir;
    ax_compression comp;
    int level;
} n5_impl;

static int dtype_from_n5(const char *s, ax_dtype *t, const char *path)
{
    static const struct {
        const char *name;
        ax_dtype t;
    } tab[] = {{"uint8", AX_DTYPE_U8},   {"uint16", AX_DTYPE_U16}, {"uint32", AX_DTYPE_U32},
               {"uint64", AX_DTYPE_U64}, {"int32", AX_DTYPE_I32},  {"float32", AX_DTYPE_F32}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *t = tab[i].t;
            return AX_OK;
        }
    return ax__err(AX_E_DTYPE,
                   "%s: dataType \"%s\" is not supported (uint8/16/32/64, int32, float32)", path,
                   s);
}

static int parse_compression(const json_t *j, ax_compression *comp, int *level, const char *path)
{
    *level = -1;
    *comp = AX_COMPRESSION_RAW;
    const json_t *c = json_object_get(j, "compression");
    const char *type;
    if (c) {
        if (!json_is_object(c))
            return ax__err(AX_E_FORMAT, "%s: \"compression\" is not an object", path);
        type = json_string_value(json_object_get(c, "type"));
        if (!type) return ax__err(AX_E_FORMAT, "%s: \"compression\" has no \"type\"", path);
    } else {
        const json_t *legacy = json_object_get(j, "compressionType");
        if (!legacy) return AX_OK; /* N5 before 1.0: no compression named means raw */
        type = json_string_value(legacy);
        if (!type) return ax__err(AX_E_FORMAT, "%s: \"compressionType\" is not a string", path);
    }
    const char *level_key = "level";
    if (!strcmp(type, "raw")) {
        *comp = AX_COMPRESSION_RAW;
    } else if (!strcmp(type, "gzip")) {
        *comp = json_is_true(json_object_get(c, "useZlib")) ? AX_COMPRESSION_ZLIB
                                                            : AX_COMPRESSION_GZIP;
    } else if (!strcmp(type, "zstd")) {
        *comp = AX_COMPRESSION_ZSTD;
    } else if (!strcmp(type, "blosc")) {
        *comp = AX_COMPRESSION_BLOSC;
        level_key = "clevel";
    } else {
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: compression \"%s\" is not supported (raw, gzip, zstd, blosc)", path,
                       type);
    }
    const json_t *l = c ? json_object_get(c, level_key) : NULL;
    if (json_is_integer(l)) *level = (int)json_integer_value(l);
    return AX_OK;
}

static double unit_to_nm(const char *u)
{
    if (!u || !strcmp(u, "nm") || !strcmp(u, "nanometer")) return 1;
    if (!strcmp(u, "um") || !strcmp(u, "\xc2\xb5m") || !strcmp(u, "micrometer") ||
        !strcmp(u, "micron"))
        return 1e3;
    if (!strcmp(u, "mm") || !strcmp(u, "millimeter")) return 1e6;
    if (!strcmp(u, "pm") || !strcmp(u, "picometer")) return 1e-3;
    return 1; /* unknown unit: take the numbers as they are */
}

/* Voxel size and offset (advisory: malformed attributes are ignored, not fatal). */
static void read_spatial(ax_volume *v, const json_t *j, const char *path)
{
    double r[AX_MAX_DIMS], o[AX_MAX_DIMS], scale = 1;
    int n = 0;
    bool have = false;
    if (ax__json_num_array(j, "resolution", r, AX_MAX_DIMS, &n, true, path) == AX_OK && n >= 3) {
        have = true;
    } else {
        const json_t *pr = json_object_get(j, "pixelResolution");
        n = 0;
        if (json_is_object(pr)) {
            if (ax__json_num_array(pr, "dimensions", r, AX_MAX_DIMS, &n, true, path) == AX_OK &&
                n >= 3)
                have = true;
            scale = unit_to_nm(json_string_value(json_object_get(pr, "unit")));
        } else if (json_is_array(pr) &&
                   ax__json_num_array(j, "pixelResolution", r, AX_MAX_DIMS, &n, true, path) ==
                       AX_OK &&
                   n >= 3) {
            have = true;
        }
    }
    for (int k = 0; have && k < 3; k++)
        if (!(r[k] * scale > 0) || r[k] * scale > 1e12) have = false;
    if (have) {
        /* x, y, z first: axon's (z, y, x) is the reverse of the first three */
        for (int k = 0; k < 3; k++) v->info.voxel_size[k] = r[2 - k] * scale;
        v->info.has_voxel_size = true;
    }
    if (ax__json_num_array(j, "offset", o, AX_MAX_DIMS, &n, true, path) == AX_OK && n >= 3)
        for (int k = 0; k < 3; k++) v->info.offset[k] = o[2 - k];
    ax_errclear();
}

static int n5_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    (void)mode;
    char *dir = inner ? ax__path_join(path, inner) : ax__strdup(path);
    if (!dir) return ax__err(AX_E_NOMEM, "out of memory");
    char *meta = ax__path_join(dir, "attributes.json");
    json_t *j = NULL;
    int rc = meta ? ax__json_load(meta, N5_META_MAX, &j) : ax__err(AX_E_NOMEM, "out of memory");
    if (rc < 0) {
        if (rc == AX_E_NOTFOUND)
            rc = ax__err(AX_E_NOTFOUND, "%s: no attributes.json (not an N5 dataset)", dir);
        goto out;
    }
    if (!json_object_get(j, "dimensions") && !json_object_get(j, "dataType") &&
        !json_object_get(j, "blockSize")) {
        rc = ax__err(AX_E_NOTFOUND,
                     "%s: is an N5 group, not a dataset: name the dataset (%s:name)", meta, dir);
        goto out;
    }
    n5_impl *z = calloc(1, sizeof *z);
    if (!z) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto out;
    }
    v->impl = z;
    z->dir = dir;
    dir = NULL;

    int64_t dims[AX_MAX_DIMS], bs[AX_MAX_DIMS];
    int nd = 0, nb = 0;
    if ((rc = ax__json_int_array(j, "dimensions", dims, AX_MAX_DIMS, &nd, false, meta)) < 0 ||
        (rc = ax__json_int_array(j, "blockSize", bs, AX_MAX_DIMS, &nb, false, meta)) < 0)
        goto out;
    if (nd != nb) {
        rc = ax__err(AX_E_FORMAT, "%s: \"dimensions\" has %d entries but \"blockSize\" %d", meta,
                     nd, nb);
        goto out;
    }
    if (nd == 0) {
        rc = ax__err(AX_E_RANGE, "%s: zero-dimensional datasets are not volumes", meta);
        goto out;
    }
    v->info.ndim = nd;
    for (int d = 0; d < nd; d++) {
        v->info.shape[d] = dims[nd - 1 - d];
        v->info.chunks[d] = bs[nd - 1 - d];
    }
    const char *dt = json_string_value(json_object_get(j, "dataType"));
    if (!dt) {
        rc = ax__err(AX_E_FORMAT, "%s: \"dataType\" is missing or not a string", meta);
        goto out;
    }
    if ((rc = dtype_from_n5(dt, &v->info.dtype, meta)) < 0) goto out;
    if ((rc = ax__check_shape(nd, v->info.shape, ax_dtype_size(v->info.dtype), meta)) < 0)
        goto out;
    for (int d = 0; d < nd; d++)
        if (v->info.chunks[d] <= 0 || v->info.chunks[d] > UINT32_MAX) {
            rc = ax__err(AX_E_RANGE, "%s: blockSize %lld is not a block size", meta,
                         (long long)v->info.chunks[d]);
            goto out;
        }
    if ((rc = parse_compression(j, &z->comp, &z->level, meta)) < 0) goto out;
    v->info.compression = z->comp;
    v->info.compression_level = z->level;
    v->info.fill_value = 0;
    read_spatial(v, j, meta);
    rc = AX_OK;
out:
    free(dir);
    free(meta);
    json_decref(j);
    return rc;
}

/* dir/<i_x>/<i_y>/<i_z>: chunk indices fastest axis first */
static char *block_path(const ax_volume *v, const n5_impl *z, const int64_t *cidx)
{
    char key[AX_MAX_DIMS * 21 + 1];
    int w = 0;
    for (int d = v->info.ndim - 1; d >= 0; d--) {
        if (w) key[w++] = '/';
        w += snprintf(key + w, sizeof key - (size_t)w, "%lld", (long long)cidx[d]);
    }
    return ax__path_join(z->dir, key);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t x)
{
    p[0] = (uint8_t)(x >> 8);
    p[1] = (uint8_t)x;
}

static void put_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

static bool host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* big-endian on disk <-> native */
static void swap_to_native(size_t elem, void *buf, size_t n)
{
    if (host_big_endian()) return;
    switch (elem) {
    case 2: ax__kern()->bswap16(buf, n); break;
    case 4: ax__kern()->bswap32(buf, n); break;
    case 8: ax__kern()->bswap64(buf, n); break;
    default: break;
    }
}

static int n5_read_chunk(ax_volume *v, const int64_t *cidx, void *buf)
{
    n5_impl *z = v->impl;
    const int nd = v->info.ndim;
    const size_t elem = ax_dtype_size(v->info.dtype);
    char *p = block_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    uint8_t *data = NULL, *tmp = NULL;
    size_t len;
    /* header + a payload never much larger than the raw block */
    int rc = ax__file_read(p, v->chunk_bytes + v->chunk_bytes / 8 + 65536, &data, &len);
    if (rc < 0) goto out;

    size_t hlen = 4 + 4 * (size_t)nd;
    if (len < 4) {
        rc = ax__err(AX_E_CORRUPT, "%s: truncated block header (%zu bytes)", p, len);
        goto out;
    }
    unsigned mode = be16(data), bnd = be16(data + 2);
    if (mode == 2) {
        rc = ax__err(AX_E_UNSUPPORTED, "%s: object-mode N5 blocks are not supported", p);
        goto out;
    }
    if (mode > 2) {
        rc = ax__err(AX_E_CORRUPT, "%s: unknown block mode %u", p, mode);
        goto out;
    }
    if (bnd != (unsigned)nd) {
        rc = ax__err(AX_E_CORRUPT, "%s: block header has %u dimensions, the dataset %d", p, bnd,
                     nd);
        goto out;
    }
    if (mode == 1) hlen += 4;
    if (len < hlen) {
        rc = ax__err(AX_E_CORRUPT, "%s: truncated block header (%zu of %zu bytes)", p, len,
                     hlen);
        goto out;
    }
    int64_t ext[AX_MAX_DIMS], bsz[AX_MAX_DIMS];
    ax__chunk_extent(v, cidx, ext);
    bool full = true;
    size_t nelem = 1;
    for (int d = 0; d < nd; d++) {
        bsz[d] = be32(data + 4 + 4 * (size_t)(nd - 1 - d));
        /* truncated to the volume (the spec) or padded to the block size (zarr) */
        if (bsz[d] != ext[d] && bsz[d] != v->info.chunks[d]) {
            char want[AX_MAX_DIMS * 21 + 8], got[AX_MAX_DIMS * 21 + 8];
            int a = 0, b = 0;
            for (int k = nd - 1; k >= 0; k--) {
                a += snprintf(want + a, sizeof want - (size_t)a, "%s%lld", a ? "," : "",
                              (long long)ext[k]);
                b += snprintf(got + b, sizeof got - (size_t)b, "%s%lld", b ? "," : "",
                              (long long)be32(data + 4 + 4 * (size_t)(nd - 1 - k)));
            }
            rc = ax__err(AX_E_CORRUPT,
                         "%s: block header says size [%s], the dataset expects [%s] (x first)",
                         p, got, want);
            goto out;
        }
        if (bsz[d] != v->info.chunks[d]) full = false;
        nelem *= (size_t)bsz[d];
    }
    if (mode == 1) {
        uint32_t ne = be32(data + hlen - 4);
        if (ne != nelem) {
            rc = ax__err(AX_E_UNSUPPORTED,
                         "%s: varlength block holds %u elements for a block of %zu voxels", p,
                         ne, nelem);
            goto out;
        }
    }
    void *target = buf;
    if (!full) {
        tmp = ax__aligned_alloc(nelem * elem);
        if (!tmp) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
            goto out;
        }
        target = tmp;
    }
    rc = ax__decompress(z->comp, data + hlen, len - hlen, target, nelem * elem, p);
    if (rc < 0) goto out;
    swap_to_native(elem, target, nelem);
    if (!full) {
        int64_t zero[AX_MAX_DIMS] = {0};
        ax__copy_box(nd, elem, ext, tmp, bsz, zero, buf, v->info.chunks, zero);
    }
out:
    free(tmp);
    free(data);
    free(p);
    return rc;
}

static int n5_write_chunk(ax_volume *v, const int64_t *cidx, const void *buf)
{
    n5_impl *z = v->impl;
    const int nd = v->info.ndim;
    const size_t elem = ax_dtype_size(v->info.dtype);
    char *p = block_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    int64_t ext[AX_MAX_DIMS], zero[AX_MAX_DIMS] = {0};
    ax__chunk_extent(v, cidx, ext);
    size_t nelem = 1;
    for (int d = 0; d < nd; d++) nelem *= (size_t)ext[d];
    uint8_t *enc = NULL, *file = NULL;
    int rc;
    uint8_t *tmp = ax__aligned_alloc(nelem * elem);
    if (!tmp) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
        goto out;
    }
    /* crop to the volume, then to big-endian */
    ax__copy_box(nd, elem, ext, buf, v->info.chunks, zero, tmp, ext, zero);
    swap_to_native(elem, tmp, nelem);
    size_t n;
    rc = ax__compress(z->comp, z->level, elem, tmp, nelem * elem, &enc, &n);
    if (rc < 0) {
        ax__err_prefix(rc, "%s", p);
        goto out;
    }
    size_t hlen = 4 + 4 * (size_t)nd;
    file = malloc(hlen + n);
    if (!file) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
        goto out;
    }
    put_be16(file, 0);
    put_be16(file + 2, (uint16_t)nd);
    for (int d = 0; d < nd; d++) put_be32(file + 4 + 4 * (size_t)d, (uint32_t)ext[nd - 1 - d]);
    memcpy(file + hlen, enc, n);
    char *slash = strrchr(p, '/');
    *slash = 0;
    rc = ax__is_dir(p) ? AX_OK : ax__mkdir_p(p);
    *slash = '/';
    if (rc == AX_OK) rc = ax__file_write_atomic(p, file, hlen + n);
out:
    free(file);
    free(enc);
    free(tmp);
    free(p);
    return rc;
}

static json_t *json_i64_rev(const int64_t *a, int n)
{
    json_t *j = json_array();
    for (int i = n - 1; i >= 0; i--) json_array_append_new(j, json_integer(a[i]));
    return j;
}

static json_t *json_num(double x)
{
    if (x == floor(x) && fabs(x) < 9e15) return json_integer((json_int_t)x);
    return json_real(x);
}

static json_t *json_f64_rev(const double *a, int n)
{
    json_t *j = json_array();
    for (int i = n - 1; i >= 0; i--) json_array_append_new(j, json_num(a[i]));
    return j;
}

/* {"n5": "2.0.0"} in the container root and every group between it and the dataset. */
static int mark_groups(const ax_volume *v)
{
    if (!v->group_root) return AX_OK;
    size_t rl = strlen(v->group_root);
    char *dir = ax__strdup(v->final_path);
    if (!dir) return ax__err(AX_E_NOMEM, "out of memory");
    int rc = AX_OK;
    for (char *slash = strrchr(dir, '/'); slash && (size_t)(slash - dir) >= rl;
         slash = strrchr(dir, '/')) {
        *slash = 0;
        if ((rc = ax__mkdir_p(dir)) < 0) break;
        char *a = ax__path_join(dir, "attributes.json");
        if (!a) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            break;
        }
        if (!ax__path_exists(a)) {
            static const char grp[] = "{\n    \"n5\": \"" N5_VERSION "\"\n}\n";
            rc = ax__file_write_atomic(a, grp, sizeof grp - 1);
        }
        free(a);
        if (rc < 0 || (size_t)(slash - dir) == rl) break;
    }
    free(dir);
    return rc;
}

static int n5_create(ax_volume *v, const char *path, const char *inner,
                     const ax_volume_create_params *p)
{
    (void)inner;
    if (p->fill_value != 0)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: N5 has no fill value (missing blocks read as 0); fill value %g "
                       "cannot be stored",
                       v->path, p->fill_value);
    n5_impl *z = calloc(1, sizeof *z);
    if (!z) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = z;
    z->dir = ax__strdup(path);
    if (!z->dir) return ax__err(AX_E_NOMEM, "out of memory");
    /* gzip: every N5 implementation reads it (zstd and blosc need plugins in n5-java) */
    if (v->info.compression == AX_COMPRESSION_DEFAULT) v->info.compression = AX_COMPRESSION_GZIP;
    z->comp = v->info.compression;
    if (z->comp != AX_COMPRESSION_RAW && z->comp != AX_COMPRESSION_GZIP &&
        z->comp != AX_COMPRESSION_ZLIB && z->comp != AX_COMPRESSION_ZSTD &&
        z->comp != AX_COMPRESSION_BLOSC)
        return ax__err(AX_E_UNSUPPORTED, "%s: N5 cannot store %s compression", v->path,
                       ax_compression_name(z->comp));
    if (v->info.compression_level < 0) {
        v->info.compression_level = z->comp == AX_COMPRESSION_ZSTD    ? 3
                                    : z->comp == AX_COMPRESSION_BLOSC ? 5
                                    : z->comp == AX_COMPRESSION_RAW   ? -1
                                                                      : 6;
    }
    z->level = v->info.compression_level;
    for (int d = 0; d < v->info.ndim; d++)
        if (v->info.chunks[d] > UINT32_MAX)
            return ax__err(AX_E_RANGE, "%s: N5 block sizes are 32-bit", v->path);
    int rc = mark_groups(v);
    if (rc < 0) return rc;
    if ((rc = ax__mkdir_p(path)) < 0) return rc;

    json_t *j = json_object();
    if (!v->group_root) json_object_set_new(j, "n5", json_string(N5_VERSION));
    json_object_set_new(j, "dimensions", json_i64_rev(v->info.shape, v->info.ndim));
    json_object_set_new(j, "blockSize", json_i64_rev(v->info.chunks, v->info.ndim));
    json_object_set_new(j, "dataType", json_string(ax_dtype_name(v->info.dtype)));
    json_t *c;
    switch (z->comp) {
    case AX_COMPRESSION_GZIP:
    case AX_COMPRESSION_ZLIB:
        c = json_pack("{s:s,s:i,s:b}", "type", "gzip", "level", z->level, "useZlib",
                      z->comp == AX_COMPRESSION_ZLIB);
        break;
    case AX_COMPRESSION_ZSTD: c = json_pack("{s:s,s:i}", "type", "zstd", "level", z->level); break;
    case AX_COMPRESSION_BLOSC:
        /* what codec.c writes: lz4, byte shuffle, automatic block size */
        c = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i}", "type", "blosc", "cname", "lz4", "clevel",
                      z->level, "shuffle", 1, "blocksize", 0, "nthreads", 1);
        break;
    default: c = json_pack("{s:s}", "type", "raw"); break;
    }
    json_object_set_new(j, "compression", c);
    if (v->info.has_voxel_size || v->info.offset[0] || v->info.offset[1] || v->info.offset[2]) {
        json_object_set_new(j, "resolution", json_f64_rev(v->info.voxel_size, 3));
        json_object_set_new(j, "offset", json_f64_rev(v->info.offset, 3));
    }
    char *meta = ax__path_join(path, "attributes.json");
    rc = meta ? ax__json_save(meta, j) : ax__err(AX_E_NOMEM, "out of memory");
    free(meta);
    json_decref(j);
    return rc;
}

static int n5_close(ax_volume *v, bool commit)
{
    (void)commit;
    n5_impl *z = v->impl;
    if (z) free(z->dir);
    free(z);
    v->impl = NULL;
    return AX_OK;
}

const ax__backend ax__backend_n5 = {
    .name = "n5",
    .format = AX_FORMAT_N5,
    .open = n5_open,
    .create = n5_create,
    .read_chunk = n5_read_chunk,
    .write_chunk = n5_write_chunk,
    .close = n5_close,
};
