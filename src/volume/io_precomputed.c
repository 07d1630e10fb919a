/* io_precomputed.c: Neuroglancer precomputed volumes, unsharded, first (finest) scale.
 * Written from neuroglancer's src/neuroglancer/datasource/precomputed/volume.md.
 *
 * The "info" JSON gives data_type, num_channels and per scale a key (the chunk directory),
 * size, resolution (nm) and voxel_offset, all [x, y, z], chunk_sizes [[x, y, z], ...] and
 * the encoding. axon reads scale 0 with its first chunk size. One channel is a 3-d volume
 * (z, y, x); more are 4-d (c, z, y, x) with every channel in one chunk (chunks[0] =
 * num_channels), so a 4-d volume created with one channel reopens as 3-d.
 *
 * Chunk files are <key>/<x0>-<x1>_<y0>-<y1>_<z0>-<z1> in voxel coordinates including
 * voxel_offset, end exclusive, truncated at the volume's upper edge. Encodings:
 *   raw                      little-endian [channel][z][y][x] (x fastest), no header
 *   compressed_segmentation  num_channels uint32 word offsets (from the file start), then
 *                            each channel as in cseg.c; uint32/uint64 only
 *   jpeg, sharding           AX_E_UNSUPPORTED
 * A chunk may be gzip-compressed on disk (magic 1f 8b, or a "<name>.gz" file as
 * cloud-volume writes locally); both are inflated on read. axon writes plain files.
 *
 * Precomputed has no fill value: missing chunks read as 0, and creating with another fill
 * value is AX_E_UNSUPPORTED.
 */
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "volume/volume_int.h"

#define PC_META_MAX (4u << 20)

typedef struct pc_impl {
    char *keydir;      /* <dir>/<key>: where chunks live */
    int64_t nch;       /* num_channels */
    int64_t voff[3];   /* voxel_offset, x y z */
    bool cseg;         /* compressed_segmentation, else raw */
    int64_t bs[3];     /* compressed_segmentation block size, x y z */
    atomic_bool keydir_ready;
} pc_impl;

static bool host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* little-endian on disk <-> native (a no-op on little-endian hosts) */
static void swap_le(size_t elem, void *buf, size_t n)
{
    if (!host_big_endian()) return;
    switch (elem) {
    case 2: ax__kern()->bswap16(buf, n); break;
    case 4: ax__kern()->bswap32(buf, n); break;
    case 8: ax__kern()->bswap64(buf, n); break;
    default: break;
    }
}

static int dtype_from_pc(const char *s, ax_dtype *t, const char *path)
{
    static const struct {
        const char *name;
        ax_dtype t;
    } tab[] = {{"uint8", AX_DTYPE_U8},   {"uint16", AX_DTYPE_U16}, {"uint32", AX_DTYPE_U32},
               {"uint64", AX_DTYPE_U64}, {"int32", AX_DTYPE_I32},  {"float32", AX_DTYPE_F32}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcasecmp(s, tab[i].name)) {
            *t = tab[i].t;
            return AX_OK;
        }
    return ax__err(AX_E_DTYPE,
                   "%s: data_type \"%s\" is not supported (uint8/16/32/64, int32, float32)",
                   path, s);
}

/* A 3-element [x, y, z] integer array, entries > 0 unless allow_any. */
static int xyz_ints(const json_t *obj, const char *key, int64_t out[3], bool optional,
                    bool allow_any, const char *path)
{
    int n = 0;
    int rc = ax__json_int_array(obj, key, out, 3, &n, optional, path);
    if (rc < 0) return rc;
    if (n == 0 && optional) return AX_OK;
    if (n != 3) return ax__err(AX_E_FORMAT, "%s: \"%s\" must have 3 entries [x, y, z]", path, key);
    if (!allow_any)
        for (int k = 0; k < 3; k++)
            if (out[k] <= 0)
                return ax__err(AX_E_RANGE, "%s: \"%s\" has %lld (must be > 0)", path, key,
                               (long long)out[k]);
    return AX_OK;
}

static int pc_open(ax_volume *v, const char *path, const char *inner, int mode)
{
    (void)mode;
    char *dir = inner ? ax__path_join(path, inner) : ax__strdup(path);
    if (!dir) return ax__err(AX_E_NOMEM, "out of memory");
    char *meta = ax__path_join(dir, "info");
    json_t *j = NULL;
    int rc = meta ? ax__json_load(meta, PC_META_MAX, &j) : ax__err(AX_E_NOMEM, "out of memory");
    if (rc < 0) goto out;
    pc_impl *z = calloc(1, sizeof *z);
    if (!z) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto out;
    }
    v->impl = z;
    atomic_init(&z->keydir_ready, false);

    const json_t *at = json_object_get(j, "@type");
    if (at && (!json_is_string(at) ||
               strcmp(json_string_value(at), "neuroglancer_multiscale_volume"))) {
        rc = ax__err(AX_E_UNSUPPORTED, "%s: \"@type\" is %s, not a neuroglancer_multiscale_volume",
                     meta, json_is_string(at) ? json_string_value(at) : "not a string");
        goto out;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) {
        rc = ax__err(AX_E_FORMAT, "%s: \"type\" is missing or not a string", meta);
        goto out;
    }
    if (strcmp(type, "image") && strcmp(type, "segmentation")) {
        rc = ax__err(AX_E_FORMAT, "%s: \"type\" is \"%s\" (image or segmentation)", meta, type);
        goto out;
    }
    v->info.is_labels = !strcmp(type, "segmentation");
    const char *dt = json_string_value(json_object_get(j, "data_type"));
    if (!dt) {
        rc = ax__err(AX_E_FORMAT, "%s: \"data_type\" is missing or not a string", meta);
        goto out;
    }
    if ((rc = dtype_from_pc(dt, &v->info.dtype, meta)) < 0) goto out;
    const json_t *nc = json_object_get(j, "num_channels");
    if (!json_is_integer(nc)) {
        rc = ax__err(AX_E_FORMAT, "%s: \"num_channels\" is missing or not an integer", meta);
        goto out;
    }
    z->nch = (int64_t)json_integer_value(nc);
    if (z->nch <= 0) {
        rc = ax__err(AX_E_RANGE, "%s: \"num_channels\" is %lld (must be > 0)", meta,
                     (long long)z->nch);
        goto out;
    }
    const json_t *scales = json_object_get(j, "scales");
    if (!json_is_array(scales) || json_array_size(scales) == 0) {
        rc = ax__err(AX_E_FORMAT, "%s: \"scales\" is missing or not a non-empty array", meta);
        goto out;
    }
    const json_t *s = json_array_get(scales, 0);
    if (!json_is_object(s)) {
        rc = ax__err(AX_E_FORMAT, "%s: \"scales\"[0] is not an object", meta);
        goto out;
    }
    const json_t *sh = json_object_get(s, "sharding");
    if (sh && !json_is_null(sh)) {
        rc = ax__err(AX_E_UNSUPPORTED,
                     "%s: sharded precomputed volumes are not supported (scale 0 has "
                     "\"sharding\")",
                     meta);
        goto out;
    }
    const char *key = json_string_value(json_object_get(s, "key"));
    if (!key || !*key || key[0] == '/') {
        rc = ax__err(AX_E_FORMAT, "%s: scale 0 \"key\" is missing, empty or absolute", meta);
        goto out;
    }
    if (!(z->keydir = ax__path_join(dir, key))) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto out;
    }
    int64_t size[3], cs[3];
    double res[3];
    int n = 0;
    if ((rc = xyz_ints(s, "size", size, false, true, meta)) < 0 ||
        (rc = xyz_ints(s, "voxel_offset", z->voff, true, true, meta)) < 0)
        goto out;
    for (int k = 0; k < 3; k++)
        if (z->voff[k] > ((int64_t)1 << 52) || z->voff[k] < -((int64_t)1 << 52)) {
            rc = ax__err(AX_E_RANGE, "%s: \"voxel_offset\" %lld is out of range", meta,
                         (long long)z->voff[k]);
            goto out;
        }
    if ((rc = ax__json_num_array(s, "resolution", res, 3, &n, false, meta)) < 0) goto out;
    if (n != 3) {
        rc = ax__err(AX_E_FORMAT, "%s: \"resolution\" must have 3 entries [x, y, z]", meta);
        goto out;
    }
    const json_t *css = json_object_get(s, "chunk_sizes");
    if (!json_is_array(css) || json_array_size(css) == 0 ||
        !json_is_array(json_array_get(css, 0))) {
        rc = ax__err(AX_E_FORMAT, "%s: \"chunk_sizes\" is missing or not [[x, y, z], ...]", meta);
        goto out;
    }
    json_t *wrap = json_pack("{s:O}", "chunk_sizes[0]", json_array_get(css, 0));
    rc = wrap ? xyz_ints(wrap, "chunk_sizes[0]", cs, false, false, meta)
              : ax__err(AX_E_NOMEM, "out of memory");
    json_decref(wrap);
    if (rc < 0) goto out;

    const char *enc = json_string_value(json_object_get(s, "encoding"));
    if (!enc) {
        rc = ax__err(AX_E_FORMAT, "%s: scale 0 \"encoding\" is missing or not a string", meta);
        goto out;
    }
    if (!strcasecmp(enc, "raw")) {
        v->info.compression = AX_COMPRESSION_RAW;
    } else if (!strcasecmp(enc, "compressed_segmentation")) {
        z->cseg = true;
        v->info.compression = AX_COMPRESSION_COMPRESSED_SEGMENTATION;
        if (v->info.dtype != AX_DTYPE_U32 && v->info.dtype != AX_DTYPE_U64) {
            rc = ax__err(AX_E_FORMAT, "%s: compressed_segmentation with data_type %s (uint32 or "
                                      "uint64 only)",
                         meta, dt);
            goto out;
        }
        if ((rc = xyz_ints(s, "compressed_segmentation_block_size", z->bs, false, false, meta)) <
            0)
            goto out;
    } else {
        rc = ax__err(AX_E_UNSUPPORTED, "%s: encoding \"%s\" is not supported (raw, "
                                       "compressed_segmentation)",
                     meta, enc);
        goto out;
    }

    int nd = z->nch > 1 ? 4 : 3, o = nd - 3;
    v->info.ndim = nd;
    if (nd == 4) {
        v->info.shape[0] = z->nch;
        v->info.chunks[0] = z->nch;
    }
    for (int k = 0; k < 3; k++) {
        v->info.shape[o + k] = size[2 - k];
        v->info.chunks[o + k] = cs[2 - k];
        v->info.voxel_size[k] = res[2 - k];
        v->info.offset[k] = (double)z->voff[2 - k] * res[2 - k];
    }
    v->info.has_voxel_size = true;
    v->info.compression_level = -1;
    v->info.fill_value = 0;
    rc = ax__check_shape(nd, v->info.shape, ax_dtype_size(v->info.dtype), meta);
out:
    free(dir);
    free(meta);
    json_decref(j);
    return rc;
}

/* Spatial box of chunk cidx: begin (x,y,z, without voxel_offset) and extent (x,y,z). */
static void chunk_box(const ax_volume *v, const int64_t *cidx, int64_t begin[3], int64_t ext[3])
{
    int o = v->info.ndim - 3;
    for (int k = 0; k < 3; k++) {
        int d = o + 2 - k;
        begin[k] = cidx[d] * v->info.chunks[d];
        int64_t e = begin[k] + v->info.chunks[d];
        if (e > v->info.shape[d]) e = v->info.shape[d];
        ext[k] = e - begin[k];
    }
}

static char *chunk_path(const ax_volume *v, const pc_impl *z, const int64_t *cidx)
{
    int64_t b[3], e[3];
    chunk_box(v, cidx, b, e);
    for (int k = 0; k < 3; k++) b[k] += z->voff[k];
    return ax__asprintf("%s/%lld-%lld_%lld-%lld_%lld-%lld", z->keydir, (long long)b[0],
                        (long long)(b[0] + e[0]), (long long)b[1], (long long)(b[1] + e[1]),
                        (long long)b[2], (long long)(b[2] + e[2]));
}

/* Inflate a gzip (or zlib) file of unknown decoded size, at most cap bytes. */
static int gunzip(const uint8_t *src, size_t n, size_t cap, uint8_t **out, size_t *out_len,
                  const char *what)
{
    *out = NULL;
    *out_len = 0;
    if (n > UINT32_MAX / 2) return ax__err(AX_E_RANGE, "%s: gzip chunk too large", what);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 15 + 32) != Z_OK) return ax__err(AX_E_NOMEM, "zlib: inflateInit failed");
    size_t size = n * 4 + 4096;
    if (size > cap) size = cap;
    uint8_t *buf = malloc(size ? size : 1);
    int rc = AX_OK;
    if (!buf) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", what);
        goto done;
    }
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)n;
    for (;;) {
        s.next_out = buf + s.total_out;
        s.avail_out = (uInt)(size - s.total_out);
        int zr = inflate(&s, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) break;
        if (zr == Z_BUF_ERROR && s.avail_in == 0) {
            rc = ax__err(AX_E_CORRUPT, "%s: truncated gzip stream", what);
            goto done;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = ax__err(AX_E_CORRUPT, "%s: corrupt gzip stream (%s)", what,
                         s.msg ? s.msg : "data error");
            goto done;
        }
        if (s.avail_out == 0) {
            if (size >= cap) {
                rc = ax__err(AX_E_CORRUPT, "%s: gzip chunk inflates to more than %zu bytes",
                             what, cap);
                goto done;
            }
            size_t ns = size * 2 > cap ? cap : size * 2;
            uint8_t *nb = realloc(buf, ns);
            if (!nb) {
                rc = ax__err(AX_E_NOMEM, "%s: out of memory", what);
                goto done;
            }
            buf = nb;
            size = ns;
        }
    }
    *out = buf;
    *out_len = (size_t)s.total_out;
    buf = NULL;
done:
    inflateEnd(&s);
    free(buf);
    return rc;
}

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32le(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)x;
    p[1] = (uint8_t)(x >> 8);
    p[2] = (uint8_t)(x >> 16);
    p[3] = (uint8_t)(x >> 24);
}

static int decode_cseg(ax_volume *v, const pc_impl *z, const uint8_t *data, size_t len,
                       const int64_t ext[3], void *buf, const char *p)
{
    const size_t elem = ax_dtype_size(v->info.dtype);
    const int o = v->info.ndim - 3;
    const int64_t shape[3] = {ext[2], ext[1], ext[0]}; /* z, y, x */
    const int64_t *cch = v->info.chunks + o;
    const size_t plane = (size_t)(cch[0] * cch[1] * cch[2]) * elem;
    const bool whole = shape[0] == cch[0] && shape[1] == cch[1] && shape[2] == cch[2];
    if ((uint64_t)len / 4 < (uint64_t)z->nch)
        return ax__err(AX_E_CORRUPT,
                       "%s: compressed_segmentation chunk of %zu bytes is shorter than its "
                       "%lld channel offsets",
                       p, len, (long long)z->nch);
    uint8_t *tmp = NULL;
    if (!whole && !(tmp = ax__aligned_alloc((size_t)(ext[0] * ext[1] * ext[2]) * elem)))
        return ax__err(AX_E_NOMEM, "%s: out of memory", p);
    int rc = AX_OK;
    for (int64_t c = 0; c < z->nch && rc == AX_OK; c++) {
        uint64_t off = (uint64_t)rd32le(data + 4 * c) * 4;
        if (off >= len) {
            rc = ax__err(AX_E_CORRUPT,
                         "%s: compressed_segmentation channel %lld starts at byte %llu, past "
                         "the end (%zu bytes)",
                         p, (long long)c, (unsigned long long)off, len);
            break;
        }
        uint8_t *dst = (uint8_t *)buf + (size_t)c * plane;
        rc = ax__cseg_decode(data + off, len - off, (int)elem, shape, z->bs, whole ? dst : tmp,
                             p);
        if (rc == AX_OK && !whole) {
            int64_t zero[3] = {0};
            ax__copy_box(3, elem, shape, tmp, shape, zero, dst, cch, zero);
        }
    }
    free(tmp);
    return rc;
}

static int pc_read_chunk(ax_volume *v, const int64_t *cidx, void *buf)
{
    pc_impl *z = v->impl;
    const size_t elem = ax_dtype_size(v->info.dtype);
    char *p = chunk_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    /* compressed_segmentation can exceed the raw size (tables + headers): a generous cap */
    size_t cap = v->chunk_bytes * 4 + ((size_t)1 << 20);
    uint8_t *data = NULL, *inflated = NULL;
    size_t len;
    int rc = ax__file_read(p, cap, &data, &len);
    if (rc == AX_E_NOTFOUND) {
        /* cloud-volume stores gzip-compressed chunks locally as <name>.gz */
        char *gz = ax__asprintf("%s.gz", p);
        if (!gz) {
            rc = ax__err(AX_E_NOMEM, "out of memory");
            goto out;
        }
        rc = ax__file_read(gz, cap, &data, &len);
        if (rc != AX_E_NOTFOUND) {
            free(p);
            p = gz;
        } else {
            free(gz);
        }
    }
    if (rc < 0) goto out;
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if ((rc = gunzip(data, len, cap, &inflated, &len, p)) < 0) goto out;
        free(data);
        data = inflated;
    }
    int64_t b[3], ext[3];
    chunk_box(v, cidx, b, ext);
    if (z->cseg) {
        rc = decode_cseg(v, z, data, len, ext, buf, p);
        goto out;
    }
    /* raw: [channel][z][y][x] of the truncated extent */
    int nd = v->info.ndim, o = nd - 3;
    int64_t box[4], zero[4] = {0};
    if (nd == 4) box[0] = z->nch;
    for (int k = 0; k < 3; k++) box[o + k] = ext[2 - k];
    size_t want = elem;
    for (int d = 0; d < nd; d++) want *= (size_t)box[d];
    if (len != want) {
        rc = ax__err(AX_E_CORRUPT, "%s: raw chunk is %zu bytes, %zu expected", p, len, want);
        goto out;
    }
    swap_le(elem, data, want / elem);
    ax__copy_box(nd, elem, box, data, box, zero, buf, v->info.chunks, zero);
out:
    free(data);
    free(p);
    return rc;
}

static int ensure_keydir(pc_impl *z)
{
    if (atomic_load(&z->keydir_ready)) return AX_OK;
    int rc = ax__mkdir_p(z->keydir);
    if (rc == AX_OK) atomic_store(&z->keydir_ready, true);
    return rc;
}

static int encode_cseg(ax_volume *v, const pc_impl *z, const void *buf, const int64_t ext[3],
                       uint8_t **out, size_t *out_len, const char *p)
{
    const size_t elem = ax_dtype_size(v->info.dtype);
    const int o = v->info.ndim - 3;
    const int64_t shape[3] = {ext[2], ext[1], ext[0]};
    const int64_t *cch = v->info.chunks + o;
    const size_t plane = (size_t)(cch[0] * cch[1] * cch[2]) * elem;
    const bool whole = shape[0] == cch[0] && shape[1] == cch[1] && shape[2] == cch[2];
    const size_t nch = (size_t)z->nch;
    uint8_t **enc = ax__calloc(nch, sizeof *enc);
    size_t *elen = ax__calloc(nch, sizeof *elen);
    uint8_t *tmp = whole ? NULL : ax__aligned_alloc((size_t)(ext[0] * ext[1] * ext[2]) * elem);
    uint8_t *file = NULL;
    int rc = AX_OK;
    if (!enc || !elen || (!whole && !tmp)) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
        goto out;
    }
    size_t total = 4 * nch;
    for (size_t c = 0; c < nch; c++) {
        const uint8_t *src = (const uint8_t *)buf + c * plane;
        if (!whole) {
            int64_t zero[3] = {0};
            ax__copy_box(3, elem, shape, src, cch, zero, tmp, shape, zero);
            src = tmp;
        }
        if ((rc = ax__cseg_encode(src, (int)elem, shape, z->bs, &enc[c], &elen[c])) < 0) {
            ax__err_prefix(rc, "%s", p);
            goto out;
        }
        total += elen[c];
    }
    if (total / 4 > UINT32_MAX) {
        rc = ax__err(AX_E_RANGE, "%s: compressed_segmentation chunk over 16 GiB", p);
        goto out;
    }
    if (!(file = malloc(total))) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
        goto out;
    }
    size_t at = 4 * nch;
    for (size_t c = 0; c < nch; c++) {
        wr32le(file + 4 * c, (uint32_t)(at / 4));
        memcpy(file + at, enc[c], elen[c]);
        at += elen[c];
    }
    *out = file;
    *out_len = total;
    file = NULL;
out:
    if (enc)
        for (size_t c = 0; c < nch; c++) free(enc[c]);
    free(enc);
    free(elen);
    free(tmp);
    free(file);
    return rc;
}

static int pc_write_chunk(ax_volume *v, const int64_t *cidx, const void *buf)
{
    pc_impl *z = v->impl;
    const size_t elem = ax_dtype_size(v->info.dtype);
    char *p = chunk_path(v, z, cidx);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    int64_t b[3], ext[3];
    chunk_box(v, cidx, b, ext);
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = ensure_keydir(z);
    if (rc < 0) goto done;
    if (z->cseg) {
        rc = encode_cseg(v, z, buf, ext, &out, &n, p);
    } else {
        int nd = v->info.ndim, o = nd - 3;
        int64_t box[4], zero[4] = {0};
        if (nd == 4) box[0] = z->nch;
        for (int k = 0; k < 3; k++) box[o + k] = ext[2 - k];
        n = elem;
        for (int d = 0; d < nd; d++) n *= (size_t)box[d];
        if (!(out = ax__aligned_alloc(n))) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", p);
            goto done;
        }
        ax__copy_box(nd, elem, box, buf, v->info.chunks, zero, out, box, zero);
        swap_le(elem, out, n / elem);
    }
    if (rc == AX_OK) rc = ax__file_write_atomic(p, out, n);
done:
    free(out);
    free(p);
    return rc;
}

static json_t *json_num(double x)
{
    if (x == floor(x) && fabs(x) < 9e15) return json_integer((json_int_t)x);
    return json_real(x);
}

static json_t *xyz_json(const int64_t a[3])
{
    return json_pack("[I,I,I]", (json_int_t)a[0], (json_int_t)a[1], (json_int_t)a[2]);
}

static int pc_create(ax_volume *v, const char *path, const char *inner,
                     const ax_volume_create_params *p)
{
    (void)inner;
    ax_volume_info *in = &v->info;
    if (in->ndim != 3 && in->ndim != 4)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: precomputed volumes are 3-d (z,y,x) or 4-d (c,z,y,x), not %d-d",
                       v->path, in->ndim);
    if (p->fill_value != 0)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: precomputed has no fill value (missing chunks read as 0); fill "
                       "value %g cannot be stored",
                       v->path, p->fill_value);
    if (in->compression == AX_COMPRESSION_DEFAULT) in->compression = AX_COMPRESSION_RAW;
    bool cseg = in->compression == AX_COMPRESSION_COMPRESSED_SEGMENTATION;
    if (in->compression != AX_COMPRESSION_RAW && !cseg)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: precomputed stores raw or compressed_segmentation chunks, not %s",
                       v->path, ax_compression_name(in->compression));
    if (cseg && in->dtype != AX_DTYPE_U32 && in->dtype != AX_DTYPE_U64)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: compressed_segmentation holds uint32 or uint64 labels, not %s",
                       v->path, ax_dtype_name(in->dtype));
    in->compression_level = -1;
    in->is_labels = p->is_labels || cseg;
    for (int k = 0; k < 3; k++)
        if (!(in->voxel_size[k] > 0) || in->voxel_size[k] > 1e12)
            return ax__err(AX_E_INVALID, "%s: voxel size %g is not a positive number", v->path,
                           in->voxel_size[k]);
    pc_impl *z = calloc(1, sizeof *z);
    if (!z) return ax__err(AX_E_NOMEM, "out of memory");
    v->impl = z;
    atomic_init(&z->keydir_ready, false);
    z->cseg = cseg;
    z->nch = in->ndim == 4 ? in->shape[0] : 1;
    if (in->ndim == 4) in->chunks[0] = in->shape[0]; /* all channels in every chunk */
    const int o = in->ndim - 3;
    int64_t size[3], cs[3];
    double res[3];
    for (int k = 0; k < 3; k++) {
        size[k] = in->shape[o + 2 - k];
        cs[k] = in->chunks[o + 2 - k];
        res[k] = in->voxel_size[2 - k];
        z->bs[k] = 8;
        double vo = in->offset[2 - k] / res[k];
        if (!(fabs(vo) < 9e15))
            return ax__err(AX_E_INVALID, "%s: offset %g is not a voxel offset", v->path,
                           in->offset[2 - k]);
        z->voff[k] = llround(vo);
        in->offset[2 - k] = (double)z->voff[k] * res[k];
    }
    in->has_voxel_size = true;
    char key[128];
    int w = 0;
    for (int k = 0; k < 3; k++) {
        if (res[k] == floor(res[k]))
            w += snprintf(key + w, sizeof key - (size_t)w, "%s%lld", k ? "_" : "",
                          (long long)res[k]);
        else
            w += snprintf(key + w, sizeof key - (size_t)w, "%s%g", k ? "_" : "", res[k]);
    }
    if (!(z->keydir = ax__path_join(path, key))) return ax__err(AX_E_NOMEM, "out of memory");
    int rc = ensure_keydir(z);
    if (rc < 0) return rc;

    json_t *scale = json_object();
    json_object_set_new(scale, "key", json_string(key));
    json_object_set_new(scale, "size", xyz_json(size));
    json_object_set_new(scale, "resolution",
                        json_pack("[o,o,o]", json_num(res[0]), json_num(res[1]), json_num(res[2])));
    json_object_set_new(scale, "voxel_offset", xyz_json(z->voff));
    json_object_set_new(scale, "chunk_sizes", json_pack("[o]", xyz_json(cs)));
    json_object_set_new(scale, "encoding", json_string(cseg ? "compressed_segmentation" : "raw"));
    if (cseg) json_object_set_new(scale, "compressed_segmentation_block_size", xyz_json(z->bs));
    json_t *j = json_object();
    json_object_set_new(j, "@type", json_string("neuroglancer_multiscale_volume"));
    json_object_set_new(j, "type", json_string(in->is_labels ? "segmentation" : "image"));
    json_object_set_new(j, "data_type", json_string(ax_dtype_name(in->dtype)));
    json_object_set_new(j, "num_channels", json_integer(z->nch));
    json_object_set_new(j, "scales", json_pack("[o]", scale));
    char *meta = ax__path_join(path, "info");
    rc = meta ? ax__json_save(meta, j) : ax__err(AX_E_NOMEM, "out of memory");
    free(meta);
    json_decref(j);
    return rc;
}

static int pc_close(ax_volume *v, bool commit)
{
    (void)commit;
    pc_impl *z = v->impl;
    if (z) free(z->keydir);
    free(z);
    v->impl = NULL;
    return AX_OK;
}

const ax__backend ax__backend_precomputed = {
    .name = "precomputed",
    .format = AX_FORMAT_PRECOMPUTED,
    .open = pc_open,
    .create = pc_create,
    .read_chunk = pc_read_chunk,
    .write_chunk = pc_write_chunk,
    .close = pc_close,
};
