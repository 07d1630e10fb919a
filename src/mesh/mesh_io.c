/* mesh_io.c: mesh files. Neuroglancer precomputed legacy meshes (the layout is in
 * include/axon/mesh.h and docs/meshes.md), binary PLY and OBJ. Every file is assembled in
 * memory and written with ax__file_write_atomic (temp name + rename), so a reader never
 * sees half a file. Byte order is little-endian whatever the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_int.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(p, v);
}

static int check_mesh(const ax_mesh *m, const char *path)
{
    if (!m) return ax__err(AX_E_INVALID, "%s: NULL mesh", path);
    if (m->n_vertices < 0 || m->n_triangles < 0 || (m->n_vertices && !m->vertices) ||
        (m->n_triangles && !m->triangles))
        return ax__err(AX_E_INVALID, "%s: mesh %llu has bad counts or NULL arrays", path,
                       (unsigned long long)m->id);
    if (m->n_vertices > (int64_t)UINT32_MAX || m->n_triangles > (int64_t)(SIZE_MAX / 16))
        return ax__err(AX_E_RANGE, "%s: mesh %llu: too many vertices for 32-bit indices", path,
                       (unsigned long long)m->id);
    for (int64_t i = 0; i < 3 * m->n_triangles; i++)
        if (m->triangles[i] >= (uint64_t)m->n_vertices)
            return ax__err(AX_E_INVALID, "%s: mesh %llu: triangle index %u >= %lld vertices", path,
                           (unsigned long long)m->id, m->triangles[i], (long long)m->n_vertices);
    return AX_OK;
}

/* fragment bytes: uint32 nv, float32 xyz * nv, uint32 indices */
static int fragment_bytes(const ax_mesh *m, uint8_t **out, size_t *len)
{
    size_t n = 4 + 12 * (size_t)m->n_vertices + 12 * (size_t)m->n_triangles;
    uint8_t *b = malloc(n), *p = b;
    if (!b) return ax__err(AX_E_NOMEM, "mesh %llu: out of memory", (unsigned long long)m->id);
    put_u32(p, (uint32_t)m->n_vertices);
    p += 4;
    for (int64_t i = 0; i < 3 * m->n_vertices; i++, p += 4) put_f32(p, m->vertices[i]);
    for (int64_t i = 0; i < 3 * m->n_triangles; i++, p += 4) put_u32(p, m->triangles[i]);
    *out = b;
    *len = n;
    return AX_OK;
}

typedef struct pc_job {
    const char *dir;
    ax_mesh *const *m;
} pc_job;

static int write_one(void *vctx, int64_t i, int thread)
{
    (void)thread;
    pc_job *c = vctx;
    const ax_mesh *m = c->m[i];
    char name[64], json[128];
    snprintf(name, sizeof name, "%llu:0:0", (unsigned long long)m->id);
    char *path = ax__path_join(c->dir, name);
    if (!path) return ax__err(AX_E_NOMEM, "%s: out of memory", c->dir);
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = fragment_bytes(m, &b, &n);
    if (rc == AX_OK) {
        rc = ax__file_write_atomic(path, b, n);
        free(b);
    }
    free(path);
    if (rc < 0) return rc;
    /* manifest last: a manifest never names a fragment that is not there yet */
    snprintf(name, sizeof name, "%llu:0", (unsigned long long)m->id);
    int len = snprintf(json, sizeof json, "{\"fragments\": [\"%llu:0:0\"]}\n",
                       (unsigned long long)m->id);
    path = ax__path_join(c->dir, name);
    if (!path) return ax__err(AX_E_NOMEM, "%s: out of memory", c->dir);
    rc = ax__file_write_atomic(path, json, (size_t)len);
    free(path);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int ax_meshes_write_precomputed(const char *dir, ax_mesh *const *m, int64_t n)
{
    if (!dir || !*dir) return ax__err(AX_E_INVALID, "mesh: no output directory");
    if (n < 0 || (n > 0 && !m)) return ax__err(AX_E_INVALID, "%s: bad mesh list", dir);
    uint64_t *ids = ax__malloc_array(n ? (size_t)n : 1, sizeof *ids);
    if (!ids) return ax__err(AX_E_NOMEM, "%s: out of memory", dir);
    int rc = AX_OK;
    for (int64_t i = 0; i < n && rc == AX_OK; i++) {
        rc = check_mesh(m[i], dir);
        if (rc == AX_OK) ids[i] = m[i]->id;
    }
    if (rc == AX_OK) { /* one manifest per id: two meshes of one id would overwrite */
        qsort(ids, (size_t)n, sizeof *ids, cmp_u64);
        for (int64_t i = 1; i < n; i++)
            if (ids[i] == ids[i - 1]) {
                rc = ax__err(AX_E_INVALID, "%s: two meshes for id %llu", dir,
                             (unsigned long long)ids[i]);
                break;
            }
    }
    free(ids);
    if (rc < 0) return rc;
    if ((rc = ax__mkdir_p(dir)) < 0) return rc;
    pc_job c = {dir, m};
    if ((rc = ax_parallel_for(n, write_one, &c)) < 0) return rc;
    char *info = ax__path_join(dir, "info");
    if (!info) return ax__err(AX_E_NOMEM, "%s: out of memory", dir);
    static const char js[] = "{\"@type\": \"neuroglancer_legacy_mesh\"}\n";
    rc = ax__file_write_atomic(info, js, sizeof js - 1);
    free(info);
    return rc;
}

int ax_mesh_write_ply(const char *path, const ax_mesh *m)
{
    if (!path) return ax__err(AX_E_INVALID, "mesh: NULL path");
    int rc = check_mesh(m, path);
    if (rc < 0) return rc;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "ply\nformat binary_little_endian 1.0\n"
                      "comment axon mesh of object %llu, nm\n"
                      "element vertex %lld\nproperty float x\nproperty float y\nproperty float z\n"
                      "element face %lld\nproperty list uchar uint vertex_indices\nend_header\n",
                      (unsigned long long)m->id, (long long)m->n_vertices,
                      (long long)m->n_triangles);
    size_t n = (size_t)hl + 12 * (size_t)m->n_vertices + 13 * (size_t)m->n_triangles;
    uint8_t *b = malloc(n), *p = b;
    if (!b) return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    memcpy(p, head, (size_t)hl);
    p += hl;
    for (int64_t i = 0; i < 3 * m->n_vertices; i++, p += 4) put_f32(p, m->vertices[i]);
    for (int64_t t = 0; t < m->n_triangles; t++) {
        *p++ = 3;
        for (int k = 0; k < 3; k++, p += 4) put_u32(p, m->triangles[3 * t + k]);
    }
    rc = ax__file_write_atomic(path, b, n);
    free(b);
    return rc;
}

int ax_mesh_write_obj(const char *path, const ax_mesh *m)
{
    if (!path) return ax__err(AX_E_INVALID, "mesh: NULL path");
    int rc = check_mesh(m, path);
    if (rc < 0) return rc;
    /* "v " + 3 * (up to 16 chars + space) per vertex, "f " + 3 * 11 per triangle */
    size_t cap = 64 + 56 * (size_t)m->n_vertices + 40 * (size_t)m->n_triangles, n = 0;
    char *b = malloc(cap);
    if (!b) return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    n += (size_t)snprintf(b, cap, "# axon mesh of object %llu, nm\n", (unsigned long long)m->id);
    for (int64_t i = 0; i < m->n_vertices; i++)
        n += (size_t)snprintf(b + n, cap - n, "v %.9g %.9g %.9g\n", m->vertices[3 * i],
                              m->vertices[3 * i + 1], m->vertices[3 * i + 2]);
    for (int64_t t = 0; t < m->n_triangles; t++)
        n += (size_t)snprintf(b + n, cap - n, "f %u %u %u\n", m->triangles[3 * t] + 1,
                              m->triangles[3 * t + 1] + 1, m->triangles[3 * t + 2] + 1);
    rc = ax__file_write_atomic(path, b, n);
    free(b);
    return rc;
}
