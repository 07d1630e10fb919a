/* json_util.c: the few JSON chores every metadata format needs (zarr .zarray, N5
 * attributes.json, precomputed info), on top of jansson, with errors naming the file. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "volume/volume_int.h"

int ax__json_load(const char *path, size_t max_bytes, json_t **out)
{
    *out = NULL;
    uint8_t *data;
    size_t len;
    int rc = ax__file_read(path, max_bytes, &data, &len);
    if (rc == AX_E_NOTFOUND) return ax__err(AX_E_NOTFOUND, "%s: no such file", path);
    if (rc < 0) return rc;
    json_error_t err;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    free(data);
    if (!j)
        return ax__err(AX_E_FORMAT, "%s: bad JSON at line %d, column %d: %s", path, err.line,
                       err.column, err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return ax__err(AX_E_FORMAT, "%s: JSON metadata is not an object", path);
    }
    *out = j;
    return AX_OK;
}

int ax__json_save(const char *path, const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    if (!s) return ax__err(AX_E_NOMEM, "%s: cannot serialise JSON", path);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    }
    t[n] = '\n';
    t[n + 1] = 0;
    int rc = ax__file_write_atomic(path, t, n + 1);
    free(t);
    return rc;
}

static int array_of(const json_t *obj, const char *key, int max, int *n, bool optional,
                    const char *path, const json_t **arr)
{
    *n = 0;
    *arr = json_object_get(obj, key);
    if (!*arr) {
        if (optional) return AX_OK;
        return ax__err(AX_E_FORMAT, "%s: \"%s\" is missing", path, key);
    }
    if (!json_is_array(*arr))
        return ax__err(AX_E_FORMAT, "%s: \"%s\" is not an array", path, key);
    size_t len = json_array_size(*arr);
    if (len > (size_t)max)
        return ax__err(AX_E_FORMAT, "%s: \"%s\" has %zu entries (at most %d)", path, key, len,
                       max);
    *n = (int)len;
    return AX_OK;
}

int ax__json_int_array(const json_t *obj, const char *key, int64_t *out, int max, int *n,
                       bool optional, const char *path)
{
    const json_t *a;
    int rc = array_of(obj, key, max, n, optional, path, &a);
    if (rc < 0 || !a) return rc;
    for (int i = 0; i < *n; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_integer(x))
            return ax__err(AX_E_FORMAT, "%s: \"%s\"[%d] is not an integer", path, key, i);
        out[i] = (int64_t)json_integer_value(x);
    }
    return AX_OK;
}

int ax__json_num_array(const json_t *obj, const char *key, double *out, int max, int *n,
                       bool optional, const char *path)
{
    const json_t *a;
    int rc = array_of(obj, key, max, n, optional, path, &a);
    if (rc < 0 || !a) return rc;
    for (int i = 0; i < *n; i++) {
        const json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x))
            return ax__err(AX_E_FORMAT, "%s: \"%s\"[%d] is not a number", path, key, i);
        out[i] = json_number_value(x);
    }
    return AX_OK;
}
