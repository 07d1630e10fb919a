/* safetensors.c: the safetensors container (https://github.com/huggingface/safetensors):
 * u64 little-endian header size N, N bytes of JSON, then the tensors' bytes. The reader
 * trusts nothing: header size bounded by the file, offsets inside the data area, byte
 * counts equal to the shape's, no overlaps needed for correctness (each tensor is read on
 * its own). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define MAX_HEADER (100u << 20) /* the reference implementation's own limit */

int ax__st_write(const char *path, const char *const *mk, const char *const *mv, int nm,
                 const ax__st_tensor *t, int n)
{
    json_t *h = json_object(), *meta = json_object();
    size_t off = 0;
    for (int i = 0; i < nm; i++) json_object_set_new(meta, mk[i], json_string(mv[i]));
    if (nm) json_object_set_new(h, "__metadata__", meta);
    else json_decref(meta);
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array();
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            json_array_append_new(shape, json_integer(t[i].shape[d]));
            numel *= (size_t)t[i].shape[d];
        }
        json_object_set_new(h, t[i].name,
                            json_pack("{s:s, s:o, s:[II]}", "dtype", "F32", "shape", shape,
                                      "data_offsets", (json_int_t)off, (json_int_t)(off + 4 * numel)));
        off += 4 * numel;
    }
    char *js = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!js) return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    size_t hl = strlen(js), padded = (hl + 7) & ~(size_t)7; /* data 8-byte aligned */
    size_t total = 8 + padded + off;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(js);
        return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    }
    uint64_t hl64 = padded;
    memcpy(buf, &hl64, 8);
    memcpy(buf + 8, js, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(js);
    off = 8 + padded;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        memcpy(buf + off, t[i].data, 4 * numel);
        off += 4 * numel;
    }
    int rc = ax__file_write_atomic(path, buf, total);
    free(buf);
    return rc;
}

struct ax__st_file {
    char *path;
    uint8_t *bytes;
    size_t len, data_start;
    json_t *header;
    const char **names;
    int n;
};

void ax__st_close(ax__st_file *f)
{
    if (!f) return;
    json_decref(f->header);
    free(f->names);
    free(f->bytes);
    free(f->path);
    free(f);
}

static int dtype_size(const char *dt)
{
    if (!strcmp(dt, "F32")) return 4;
    if (!strcmp(dt, "F64")) return 8;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    return 0;
}

int ax__st_open(const char *path, ax__st_file **out)
{
    *out = NULL;
    ax__st_file *f = ax__calloc(1, sizeof *f);
    if (!f || !(f->path = ax__strdup(path))) {
        free(f);
        return AX_E_NOMEM;
    }
    int rc = ax__file_read(path, (size_t)8 << 30, &f->bytes, &f->len);
    if (rc == AX_E_NOTFOUND) rc = ax__err(rc, "%s: no such file", path);
    if (rc) goto fail;
    uint64_t hl;
    if (f->len < 8) {
        rc = ax__err(AX_E_FORMAT, "%s: not a safetensors file (%zu bytes, no header)", path, f->len);
        goto fail;
    }
    memcpy(&hl, f->bytes, 8);
    if (hl > MAX_HEADER || hl > f->len - 8) {
        rc = ax__err(AX_E_FORMAT, "%s: not a safetensors file (header size %llu, file %zu bytes)", path,
                     (unsigned long long)hl, f->len);
        goto fail;
    }
    f->data_start = 8 + (size_t)hl;
    json_error_t e;
    f->header = json_loadb((const char *)f->bytes + 8, (size_t)hl, 0, &e);
    if (!json_is_object(f->header)) {
        rc = ax__err(AX_E_FORMAT, "%s: safetensors header is not a JSON object (%s)", path, e.text);
        goto fail;
    }
    f->names = ax__calloc(json_object_size(f->header) + 1, sizeof *f->names);
    if (!f->names) {
        rc = AX_E_NOMEM;
        goto fail;
    }
    const char *key;
    json_t *v;
    size_t data_len = f->len - f->data_start;
    json_object_foreach(f->header, key, v) {
        if (!strcmp(key, "__metadata__")) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                rc = ax__err(AX_E_FORMAT, "%s: __metadata__ is not an object", path);
                goto fail;
            }
            json_object_foreach(v, mk, mv) if (!json_is_string(mv)) {
                rc = ax__err(AX_E_FORMAT, "%s: __metadata__[\"%s\"] is not a string", path, mk);
                goto fail;
            }
            continue;
        }
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
               *of = json_object_get(v, "data_offsets");
        if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of) || json_array_size(of) != 2 ||
            json_array_size(sh) > 8) {
            rc = ax__err(AX_E_FORMAT, "%s: tensor \"%s\": needs dtype, shape and data_offsets", path, key);
            goto fail;
        }
        int es = dtype_size(json_string_value(dt));
        if (!es) {
            rc = ax__err(AX_E_UNSUPPORTED, "%s: tensor \"%s\": dtype %s (F32, F64, F16, BF16 are read)", path,
                         key, json_string_value(dt));
            goto fail;
        }
        uint64_t numel = 1;
        for (size_t d = 0; d < json_array_size(sh); d++) {
            json_t *s = json_array_get(sh, d);
            if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > (1ll << 40) ||
                (numel *= (uint64_t)json_integer_value(s)) > (1ull << 40)) {
                rc = ax__err(AX_E_FORMAT, "%s: tensor \"%s\": bad shape", path, key);
                goto fail;
            }
        }
        json_t *b = json_array_get(of, 0), *en = json_array_get(of, 1);
        if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 ||
            json_integer_value(en) < json_integer_value(b) || (uint64_t)json_integer_value(en) > data_len ||
            (uint64_t)(json_integer_value(en) - json_integer_value(b)) != numel * (uint64_t)es) {
            rc = ax__err(AX_E_FORMAT, "%s: tensor \"%s\": data_offsets outside the file or not %llu bytes",
                         path, key, (unsigned long long)(numel * (uint64_t)es));
            goto fail;
        }
        f->names[f->n++] = key;
    }
    *out = f;
    return AX_OK;
fail:
    ax__st_close(f);
    return rc;
}

const char *ax__st_meta(const ax__st_file *f, const char *key)
{
    json_t *m = json_object_get(f->header, "__metadata__");
    return json_string_value(json_object_get(m, key));
}

json_t *ax__st_meta_copy(const ax__st_file *f)
{
    json_t *m = json_object_get(f->header, "__metadata__");
    return m ? json_deep_copy(m) : json_object();
}

int ax__st_count(const ax__st_file *f) { return f->n; }
const char *ax__st_name(const ax__st_file *f, int i) { return i >= 0 && i < f->n ? f->names[i] : NULL; }
bool ax__st_has(const ax__st_file *f, const char *name) { return json_object_get(f->header, name) != NULL; }

static float half_to_float(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

int ax__st_read(const ax__st_file *f, const char *name, int ndim, const int64_t *shape, float *dst)
{
    json_t *v = json_object_get(f->header, name);
    if (!v || !strcmp(name, "__metadata__"))
        return ax__err(AX_E_FORMAT, "%s: tensor \"%s\" is missing", f->path, name);
    json_t *sh = json_object_get(v, "shape");
    bool same = (int)json_array_size(sh) == ndim;
    for (int d = 0; same && d < ndim; d++) same = json_integer_value(json_array_get(sh, d)) == shape[d];
    if (!same) {
        char want[160] = "", got[160] = "";
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "x" : "", (long long)shape[d]);
        for (size_t d = 0; d < json_array_size(sh); d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "",
                     (long long)json_integer_value(json_array_get(sh, d)));
        return ax__err(AX_E_FORMAT, "%s: tensor \"%s\" has shape [%s], the network needs [%s]", f->path,
                       name, got, want);
    }
    const char *dt = json_string_value(json_object_get(v, "dtype"));
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    const uint8_t *src = f->bytes + f->data_start + (size_t)json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0));
    for (size_t i = 0; i < n; i++) {
        float x;
        if (!strcmp(dt, "F32")) memcpy(&x, src + 4 * i, 4);
        else if (!strcmp(dt, "F64")) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            x = (float)d;
        } else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            if (!strcmp(dt, "BF16")) {
                uint32_t u = (uint32_t)h << 16;
                memcpy(&x, &u, 4);
            } else {
                x = half_to_float(h);
            }
        }
        if (!isfinite(x))
            return ax__err(AX_E_FORMAT, "%s: tensor \"%s\" holds a non-finite value at %zu", f->path, name, i);
        dst[i] = x;
    }
    return AX_OK;
}
