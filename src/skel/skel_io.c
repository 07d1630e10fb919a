/* skel_io.c: skeleton files. SWC (ax_swc_write, ax_swc_read) and Neuroglancer precomputed
 * skeletons, unsharded (ax_skeletons_write_precomputed).
 *
 * SWC: one node a line, "id type x y z radius parent", parent -1 for a root. Written with
 * %.9g, which gives every float back exactly, and ids 1..n in an order where a parent
 * comes before its children: the skeleton's own order when it already is such (axon's
 * skeletons are), else breadth-first from each tree's lowest vertex.
 * Precomputed: the layout of neuroglancer/src/datasource/precomputed/skeletons.md, little
 * endian whatever the host. Every file goes through ax__file_write_atomic.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "seg/seg_int.h"
#include "skel/skel_int.h"

/* SWC files larger than this are refused (about 10 M nodes) */
#define SWC_MAX_BYTES ((size_t)1 << 30)

/* ---- a growable text buffer ----------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) AX_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if (b->p && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)w + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

/* ---- SWC writing -------------------------------------------------------------------------- */

/* parent of every vertex (-1 for roots) by breadth-first search from each unvisited
 * vertex in index order, and that visiting order; AX_E_UNSUPPORTED unless a forest */
static int forest(const ax_skeleton *s, const char *path, int64_t *parent, int64_t *order)
{
    int64_t n = s->n_vertices, m = s->n_edges;
    int64_t *deg = ax__calloc((size_t)n + 1, sizeof *deg);
    int64_t *adj = ax__malloc_array((size_t)(2 * m + 1), sizeof *adj);
    if (!deg || !adj) {
        free(deg);
        free(adj);
        return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    }
    for (int64_t e = 0; e < m; e++) {
        deg[s->edges[2 * e] + 1]++;
        deg[s->edges[2 * e + 1] + 1]++;
    }
    for (int64_t v = 0; v < n; v++) deg[v + 1] += deg[v];
    int64_t *fill = parent; /* as scratch: next free slot of each vertex */
    for (int64_t v = 0; v < n; v++) fill[v] = deg[v];
    for (int64_t e = 0; e < m; e++) {
        uint32_t a = s->edges[2 * e], b = s->edges[2 * e + 1];
        adj[fill[a]++] = b;
        adj[fill[b]++] = a;
    }
    for (int64_t v = 0; v < n; v++) parent[v] = -2; /* unvisited */
    int64_t head = 0, tail = 0, comps = 0;
    for (int64_t r = 0; r < n; r++) {
        if (parent[r] != -2) continue;
        comps++;
        parent[r] = -1;
        order[tail++] = r;
        while (head < tail) {
            int64_t v = order[head++];
            for (int64_t k = deg[v]; k < deg[v + 1]; k++) {
                int64_t w = adj[k];
                if (parent[w] == -2) {
                    parent[w] = v;
                    order[tail++] = w;
                }
            }
        }
    }
    free(deg);
    free(adj);
    if (m != n - comps)
        return ax__err(AX_E_UNSUPPORTED,
                       "%s: skeleton %" PRIu64 " is not a forest (%lld edges, %lld vertices in "
                       "%lld trees): SWC cannot hold a cycle",
                       path, s->id, (long long)m, (long long)n, (long long)comps);
    return AX_OK;
}

int ax_swc_write(const char *path, const ax_skeleton *s)
{
    if (!path || !s) return ax__err(AX_E_INVALID, "ax_swc_write: NULL argument");
    int64_t n = s->n_vertices, m = s->n_edges;
    if (n < 0 || m < 0 || (n > 0 && !s->vertices) || (m > 0 && !s->edges))
        return ax__err(AX_E_INVALID, "%s: skeleton %" PRIu64 " has bad counts or NULL arrays",
                       path, s->id);
    for (int64_t e = 0; e < 2 * m; e++)
        if ((int64_t)s->edges[e] >= n)
            return ax__err(AX_E_INVALID, "%s: skeleton %" PRIu64 ": edge %lld names vertex %u of "
                           "%lld", path, s->id, (long long)(e / 2), s->edges[e], (long long)n);
    int64_t *parent = ax__malloc_array((size_t)n + 1, sizeof *parent);
    int64_t *order = ax__malloc_array((size_t)n + 1, sizeof *order);
    int64_t *rank = ax__malloc_array((size_t)n + 1, sizeof *rank);
    if (!parent || !order || !rank) {
        free(parent);
        free(order);
        free(rank);
        return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    }
    int rc = forest(s, path, parent, order);
    if (rc == AX_OK) {
        bool keep = true; /* the skeleton's order already has parents first */
        for (int64_t v = 0; v < n && keep; v++) keep = parent[v] < v;
        for (int64_t k = 0; k < n; k++) {
            if (keep) order[k] = k;
            rank[order[k]] = k;
        }
        sbuf b = {0};
        sb_printf(&b, "# skeleton of object %" PRIu64 " by axon %s (TEASAR); x y z radius in nm\n"
                  "# id type x y z radius parent\n", s->id, ax_version_string());
        for (int64_t k = 0; k < n && !b.oom; k++) {
            int64_t v = order[k];
            const float *x = s->vertices + 3 * v;
            sb_printf(&b, "%lld 0 %.9g %.9g %.9g %.9g %lld\n", (long long)k + 1, (double)x[0],
                      (double)x[1], (double)x[2], s->radii ? (double)s->radii[v] : 0.0,
                      parent[v] < 0 ? -1LL : (long long)rank[parent[v]] + 1);
        }
        if (b.oom) rc = ax__err(AX_E_NOMEM, "%s: out of memory", path);
        else rc = ax__file_write_atomic(path, b.p, b.n);
        free(b.p);
    }
    free(parent);
    free(order);
    free(rank);
    return rc;
}

/* ---- SWC reading --------------------------------------------------------------------------- */

/* the leading digits of the file name, else 0 */
static uint64_t id_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!isdigit((unsigned char)base[0])) return 0;
    errno = 0;
    unsigned long long v = strtoull(base, NULL, 10);
    return errno ? 0 : (uint64_t)v;
}

typedef struct swc_node {
    int64_t parent;
    int64_t line;
} swc_node;

int ax_swc_read(const char *path, ax_skeleton **out)
{
    if (!out) return ax__err(AX_E_INVALID, "ax_swc_read: NULL output");
    *out = NULL;
    if (!path) return ax__err(AX_E_INVALID, "ax_swc_read: NULL path");
    uint8_t *data;
    size_t len;
    int rc = ax__file_read(path, SWC_MAX_BYTES, &data, &len);
    if (rc == AX_E_NOTFOUND) return ax__err(rc, "%s: no such file", path);
    if (rc < 0) return rc;
    ax_skeleton *s = calloc(1, sizeof *s);
    swc_node *nodes = NULL;
    ax__u64map ids = {0};
    int64_t n = 0, cap = 0;
    if (!s || ax__u64map_init(&ids, 256) < 0) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", path);
        goto out_free;
    }
    s->id = id_from_name(path);
    char *p = (char *)data, *end = p + len;
    for (int64_t line = 1; p < end; line++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if (eol < end) *eol = 0;
        char *q = p;
        p = eol < end ? eol + 1 : end;
        while (isspace((unsigned char)*q)) q++;
        if (!*q || *q == '#') continue;
        double f[7];
        char *e = q;
        int k;
        for (k = 0; k < 7; k++) {
            char *start = e;
            errno = 0;
            f[k] = strtod(start, &e);
            if (e == start || errno == ERANGE) break;
        }
        while (k == 7 && isspace((unsigned char)*e)) e++;
        if (k < 7 || (*e && *e != '#')) {
            rc = ax__err(AX_E_FORMAT, "%s:%lld: not an SWC line (id type x y z radius parent)",
                         path, (long long)line);
            goto out_free;
        }
        if (!(f[0] >= 0 && f[0] < 9e18 && f[0] == floor(f[0])) ||
            !(f[6] > -9e18 && f[6] < 9e18 && f[6] == floor(f[6]))) {
            rc = ax__err(AX_E_FORMAT, "%s:%lld: node ids must be whole numbers >= 0", path,
                         (long long)line);
            goto out_free;
        }
        if (n == cap) {
            int64_t nc = cap ? 2 * cap : 1024;
            float *nv = realloc(s->vertices, (size_t)nc * 3 * sizeof *nv);
            if (nv) s->vertices = nv;
            float *nr = realloc(s->radii, (size_t)nc * sizeof *nr);
            if (nr) s->radii = nr;
            swc_node *nn = realloc(nodes, (size_t)nc * sizeof *nn);
            if (nn) nodes = nn;
            if (!nv || !nr || !nn) {
                rc = ax__err(AX_E_NOMEM, "%s: out of memory", path);
                goto out_free;
            }
            cap = nc;
        }
        bool found;
        uint64_t *slot = ax__u64map_upsert(&ids, (uint64_t)f[0], (uint64_t)n, &found);
        if (!slot) {
            rc = ax__err(AX_E_NOMEM, "%s: out of memory", path);
            goto out_free;
        }
        if (found) {
            rc = ax__err(AX_E_FORMAT, "%s:%lld: node %lld defined twice", path, (long long)line,
                         (long long)f[0]);
            goto out_free;
        }
        for (int d = 0; d < 3; d++) s->vertices[3 * n + d] = (float)f[2 + d];
        s->radii[n] = (float)f[5];
        nodes[n] = (swc_node){(int64_t)f[6], line};
        n++;
    }
    if (n > UINT32_MAX) {
        rc = ax__err(AX_E_RANGE, "%s: %lld nodes (2^32 at most)", path, (long long)n);
        goto out_free;
    }
    s->n_vertices = n;
    s->edges = ax__malloc_array((size_t)(n ? n : 1) * 2, sizeof *s->edges);
    if (!s->edges) {
        rc = ax__err(AX_E_NOMEM, "%s: out of memory", path);
        goto out_free;
    }
    for (int64_t v = 0; v < n; v++) {
        if (nodes[v].parent < 0) continue;
        uint64_t *pi = ax__u64map_get(&ids, (uint64_t)nodes[v].parent);
        if (!pi) {
            rc = ax__err(AX_E_FORMAT, "%s:%lld: parent %lld is not a node of the file", path,
                         (long long)nodes[v].line, (long long)nodes[v].parent);
            goto out_free;
        }
        s->edges[2 * s->n_edges] = (uint32_t)*pi;
        s->edges[2 * s->n_edges + 1] = (uint32_t)v;
        s->n_edges++;
    }
    *out = s;
    s = NULL;
out_free:
    ax_skeleton_free(s);
    free(nodes);
    ax__u64map_free(&ids);
    free(data);
    return rc;
}

/* ---- Neuroglancer precomputed ------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)v;
    o[1] = (uint8_t)(v >> 8);
    o[2] = (uint8_t)(v >> 16);
    o[3] = (uint8_t)(v >> 24);
    return o + 4;
}

static uint8_t *put_f32(uint8_t *o, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    return put_u32(o, v);
}

static const char precomputed_info[] =
    "{\"@type\": \"neuroglancer_skeletons\", "
    "\"transform\": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], "
    "\"vertex_attributes\": [{\"id\": \"radius\", \"data_type\": \"float32\", "
    "\"num_components\": 1}], "
    "\"spatial_index\": null}\n";

int ax_skeletons_write_precomputed(const char *dir, ax_skeleton *const *s, int64_t n)
{
    if (!dir || (n > 0 && !s) || n < 0)
        return ax__err(AX_E_INVALID, "ax_skeletons_write_precomputed: NULL or bad argument");
    int rc = ax__mkdir_p(dir);
    if (rc < 0) return rc;
    for (int64_t i = 0; i < n && rc == AX_OK; i++) {
        const ax_skeleton *k = s[i];
        if (!k) return ax__err(AX_E_INVALID, "%s: skeleton %lld is NULL", dir, (long long)i);
        if (k->n_vertices < 0 || k->n_vertices > UINT32_MAX || k->n_edges < 0 ||
            k->n_edges > UINT32_MAX || (k->n_vertices && !k->vertices) ||
            (k->n_edges && !k->edges))
            return ax__err(AX_E_INVALID, "%s: skeleton %" PRIu64 " has bad counts or NULL arrays",
                           dir, k->id);
        for (int64_t e = 0; e < 2 * k->n_edges; e++)
            if ((int64_t)k->edges[e] >= k->n_vertices)
                return ax__err(AX_E_INVALID, "%s: skeleton %" PRIu64 ": edge names vertex %u of "
                               "%lld", dir, k->id, k->edges[e], (long long)k->n_vertices);
        size_t bytes = 8 + (size_t)k->n_vertices * 16 + (size_t)k->n_edges * 8;
        uint8_t *buf = malloc(bytes), *o = buf;
        if (!buf) return ax__err(AX_E_NOMEM, "%s: out of memory", dir);
        o = put_u32(o, (uint32_t)k->n_vertices);
        o = put_u32(o, (uint32_t)k->n_edges);
        for (int64_t v = 0; v < 3 * k->n_vertices; v++) o = put_f32(o, k->vertices[v]);
        for (int64_t e = 0; e < 2 * k->n_edges; e++) o = put_u32(o, k->edges[e]);
        for (int64_t v = 0; v < k->n_vertices; v++) o = put_f32(o, k->radii ? k->radii[v] : 0.0f);
        char name[32];
        snprintf(name, sizeof name, "%" PRIu64, k->id);
        char *path = ax__path_join(dir, name);
        rc = path ? ax__file_write_atomic(path, buf, bytes)
                  : ax__err(AX_E_NOMEM, "%s: out of memory", dir);
        free(path);
        free(buf);
    }
    if (rc < 0) return rc;
    char *info = ax__path_join(dir, "info");
    if (!info) return ax__err(AX_E_NOMEM, "%s: out of memory", dir);
    rc = ax__file_write_atomic(info, precomputed_info, sizeof precomputed_info - 1);
    free(info);
    return rc;
}
