/* serve_layers.c: the layers of the dataset `axon serve` serves, and its start page.
 *
 * Layout: DIR/<name>/info for each precomputed volume (DIR itself may be one volume, with
 * DIR/info). Every volume becomes a Neuroglancer layer: "type": "segmentation" in its info
 * makes a segmentation layer, anything else an image layer. A segmentation whose info names
 * "mesh" or "skeletons" brings those along (Neuroglancer's precomputed source adds them as
 * subsources), and then a handful of its largest segment ids are selected so that the 3-d
 * view shows something (only when the volume is small enough to count in a moment:
 * SEG_COUNT_MAX voxels). Without meshes nothing is selected, since a selection hides the
 * other segments in the 2-d views.
 *
 * The page: web/index.html is a template whose "{{AXON_CONFIG}}" becomes a JSON object
 * (see serve.h); its script builds the Neuroglancer state with the page's own origin in the
 * source URLs (precomputed://http://HOST:PORT/data/<name>), so the same page works whatever
 * name or address the browser used, and redirects to /neuroglancer/index.html#!<state>.
 */
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axon/axon.h"

#define SEG_COUNT_MAX (64ll << 20) /* voxels: count segment sizes only below this */
#define INFO_MAX (4 << 20)

typedef struct {
    char dir[256];   /* directory name under DIR ("" for DIR itself) */
    char name[256];  /* layer name */
    bool seg, mesh, skeletons;
    double res[3];   /* nm, x y z */
    double size[3], offset[3]; /* voxels, x y z */
} layer;

/* A precomputed info in dir? Fills l from its first scale. */
static bool read_info(const char *dir, layer *l)
{
    char path[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/info", dir) >= sizeof path) return false;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > INFO_MAX) return false;
    json_t *info = json_load_file(path, 0, NULL);
    if (!json_is_object(info)) {
        json_decref(info);
        return false;
    }
    bool ok = false;
    json_t *scales = json_object_get(info, "scales");
    json_t *s0 = json_array_get(scales, 0);
    json_t *res = json_object_get(s0, "resolution"), *size = json_object_get(s0, "size");
    json_t *off = json_object_get(s0, "voxel_offset");
    if (json_is_array(res) && json_array_size(res) == 3 && json_is_array(size) &&
        json_array_size(size) == 3) {
        ok = true;
        for (int d = 0; d < 3; d++) {
            l->res[d] = json_number_value(json_array_get(res, (size_t)d));
            l->size[d] = json_number_value(json_array_get(size, (size_t)d));
            l->offset[d] = json_number_value(json_array_get(off, (size_t)d)); /* 0 if absent */
            if (!(l->res[d] > 0) || !(l->size[d] > 0)) ok = false;
        }
        const char *type = json_string_value(json_object_get(info, "type"));
        l->seg = type && !strcmp(type, "segmentation");
        l->mesh = json_is_string(json_object_get(info, "mesh"));
        l->skeletons = json_is_string(json_object_get(info, "skeletons"));
    }
    json_decref(info);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* percent-encode a path segment (all but unreserved characters) */
static void url_encode(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && w + 4 < n; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            out[w++] = (char)*p;
        } else {
            out[w++] = '%';
            out[w++] = hex[*p >> 4];
            out[w++] = hex[*p & 15];
        }
    }
    out[w] = 0;
}

/* ---- the largest segments ------------------------------------------------------------- */

typedef struct {
    uint64_t id, n;
} seg_count;

static int cmp_count_desc(const void *a, const void *b)
{
    const seg_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The max_n most frequent non-zero ids of the volume at path, into ids; returns how many
 * (0 on any trouble: this is a nicety). */
static int largest_segments(const char *path, int max_n, uint64_t *ids)
{
    char spec[PATH_MAX + 16];
    snprintf(spec, sizeof spec, "precomputed:%s", path);
    ax_volume *v;
    if (ax_volume_open(spec, AX_OPEN_READ, &v) < 0) return 0;
    const ax_volume_info *in = ax_volume_get_info(v);
    int nd = in->ndim, found = 0;
    int64_t vox = 1;
    for (int d = 0; d < nd; d++) vox *= in->shape[d];
    if (nd != 3 || vox > SEG_COUNT_MAX) goto out_close;
    int64_t plane = in->shape[1] * in->shape[2];
    int64_t rows = in->chunks[0] > 0 ? in->chunks[0] : 1;
    if (rows > in->shape[0]) rows = in->shape[0];
    uint64_t *buf = malloc((size_t)(plane * rows) * sizeof *buf);
    size_t cap = 1 << 12, used = 0;
    seg_count *tab = calloc(cap, sizeof *tab);
    if (!buf || !tab) goto out_free;
    for (int64_t z = 0; z < in->shape[0]; z += rows) {
        int64_t st[3] = {z, 0, 0}, sz[3] = {z + rows > in->shape[0] ? in->shape[0] - z : rows,
                                              in->shape[1], in->shape[2]};
        if (ax_volume_read_region_as(v, st, sz, AX_DTYPE_U64, buf) < 0) goto out_free;
        for (int64_t i = 0; i < sz[0] * plane; i++) {
            uint64_t id = buf[i];
            if (!id) continue;
            size_t h = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (tab[h].id && tab[h].id != id) h = (h + 1) & (cap - 1);
            if (!tab[h].id) {
                tab[h].id = id;
                if (++used * 2 > cap) { /* grow and rehash */
                    seg_count *nt = calloc(cap * 2, sizeof *nt);
                    if (!nt) goto out_free;
                    tab[h].n++;
                    for (size_t k = 0; k < cap; k++) {
                        if (!tab[k].id) continue;
                        size_t g = (size_t)((tab[k].id * 0x9E3779B97F4A7C15ull) >> 20) & (cap * 2 - 1);
                        while (nt[g].id) g = (g + 1) & (cap * 2 - 1);
                        nt[g] = tab[k];
                    }
                    free(tab);
                    tab = nt;
                    cap *= 2;
                    continue;
                }
            }
            tab[h].n++;
        }
    }
    qsort(tab, cap, sizeof *tab, cmp_count_desc);
    for (size_t k = 0; k < cap && found < max_n && tab[k].n; k++) ids[found++] = tab[k].id;
out_free:
    free(buf);
    free(tab);
out_close:
    ax_volume_close(v);
    return found;
}

/* ---- the page -------------------------------------------------------------------------- */

static json_t *vec3(const double *v)
{
    return json_pack("[f, f, f]", v[0], v[1], v[2]);
}

char *serve_page_build(const char *data_root, const char *template_html, bool viewer,
                       int max_segments, size_t *len, int *n_layers, char *err, size_t errn)
{
    layer *ls = NULL;
    int nl = 0;
    char *page = NULL;
    json_t *cfg = NULL;
    layer one;
    memset(&one, 0, sizeof one);
    if (read_info(data_root, &one)) {
        /* DIR is one volume */
        const char *base = strrchr(data_root, '/');
        snprintf(one.name, sizeof one.name, "%s", base && base[1] ? base + 1 : "volume");
        if (!(ls = malloc(sizeof *ls))) goto out_nomem;
        ls[nl++] = one;
    } else {
        DIR *d = opendir(data_root);
        if (!d) {
            snprintf(err, errn, "%s: %s", data_root, strerror(errno));
            return NULL;
        }
        char **names = NULL;
        size_t nn = 0, cn = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof one.dir) continue;
            if (nn == cn) {
                cn = cn ? cn * 2 : 16;
                char **nb = realloc(names, cn * sizeof *nb);
                if (!nb) break;
                names = nb;
            }
            if ((names[nn] = strdup(e->d_name))) nn++;
        }
        closedir(d);
        if (nn) qsort(names, nn, sizeof *names, cmp_str);
        ls = calloc(nn ? nn : 1, sizeof *ls);
        for (size_t i = 0; i < nn; i++) {
            char sub[PATH_MAX], real[PATH_MAX];
            layer l;
            memset(&l, 0, sizeof l);
            size_t rl = strlen(data_root);
            /* only what the server will serve: under DIR after resolving symlinks */
            if (ls && (size_t)snprintf(sub, sizeof sub, "%s/%s", data_root, names[i]) < sizeof sub &&
                realpath(sub, real) && !strncmp(real, data_root, rl) && real[rl] == '/' &&
                read_info(sub, &l)) {
                snprintf(l.dir, sizeof l.dir, "%s", names[i]);
                ls[nl++] = l;
            }
            free(names[i]);
        }
        free(names);
        if (!ls) goto out_nomem;
    }
    /* layer names: the directory without ".precomputed", unless that clashes */
    for (int i = 0; i < nl; i++) {
        if (!ls[i].name[0]) snprintf(ls[i].name, sizeof ls[i].name, "%s", ls[i].dir);
        size_t n = strlen(ls[i].name);
        if (n > 12 && !strcmp(ls[i].name + n - 12, ".precomputed")) {
            ls[i].name[n - 12] = 0;
            for (int j = 0; j < nl; j++)
                if (j != i && !strcmp(ls[j].dir, ls[i].name)) {
                    snprintf(ls[i].name, sizeof ls[i].name, "%s", ls[i].dir);
                    break;
                }
        }
    }

    cfg = json_object();
    json_t *layers = json_array();
    if (!cfg || !layers) goto out_nomem;
    json_object_set_new(cfg, "layers", layers);
    json_object_set_new(cfg, "viewer", json_boolean(viewer));
    bool any_3d = false;
    const layer *ref = NULL;
    for (int pass = 0; pass < 2; pass++) /* images first, segmentations on top */
        for (int i = 0; i < nl; i++) {
            const layer *l = &ls[i];
            if (l->seg != (pass == 1)) continue;
            if (!ref || (!l->seg && ref->seg)) ref = l;
            char enc[3 * sizeof l->dir + 8], src[sizeof enc + 8];
            url_encode(l->dir, enc, sizeof enc);
            snprintf(src, sizeof src, "/data%s%s", enc[0] ? "/" : "", enc);
            json_t *o = json_pack("{s:s, s:s, s:s}", "name", l->name, "type",
                                  l->seg ? "segmentation" : "image", "source", src);
            if (!o) goto out_nomem;
            if (l->seg) {
                json_object_set_new(o, "mesh", json_boolean(l->mesh));
                json_object_set_new(o, "skeletons", json_boolean(l->skeletons));
                json_t *segs = json_array();
                if ((l->mesh || l->skeletons) && max_segments > 0) {
                    uint64_t ids[64];
                    char path[PATH_MAX], num[32];
                    snprintf(path, sizeof path, "%s%s%s", data_root, l->dir[0] ? "/" : "", l->dir);
                    int n = largest_segments(path, max_segments < 64 ? max_segments : 64, ids);
                    for (int k = 0; k < n; k++) {
                        snprintf(num, sizeof num, "%llu", (unsigned long long)ids[k]);
                        json_array_append_new(segs, json_string(num));
                    }
                    any_3d = true;
                }
                json_object_set_new(o, "segments", segs);
            }
            json_array_append_new(layers, o);
        }
    if (ref) {
        double m[3], pos[3];
        for (int d = 0; d < 3; d++) {
            m[d] = ref->res[d] * 1e-9;
            pos[d] = ref->offset[d] + ref->size[d] / 2;
        }
        json_object_set_new(cfg, "dimensions",
                            json_pack("{s:[f, s], s:[f, s], s:[f, s]}", "x", m[0], "m", "y",
                                      m[1], "m", "z", m[2], "m"));
        json_object_set_new(cfg, "position", vec3(pos));
        /* about 400 screen pixels across the volume, never coarser than 1 voxel/pixel */
        double ext = fmax(ref->size[0], ref->size[1]);
        json_object_set_new(cfg, "crossSectionScale", json_real(fmax(0.05, fmin(1.0, ext / 400))));
        json_object_set_new(cfg, "projectionScale",
                            json_real(1.5 * fmax(ext, ref->size[2] * ref->res[2] / ref->res[0])));
    }
    json_object_set_new(cfg, "layout", json_string(any_3d ? "4panel" : "xy"));

    /* into the template, with '<', '>' and '&' escaped so that no name can end the script */
    char *js = json_dumps(cfg, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!js) goto out_nomem;
    const char *mark = "{{AXON_CONFIG}}";
    const char *at = strstr(template_html, mark);
    if (!at) {
        free(js);
        snprintf(err, errn, "the page template has no %s", mark);
        goto out;
    }
    size_t extra = 0;
    for (const char *p = js; *p; p++) extra += (*p == '<' || *p == '>' || *p == '&') ? 5 : 0;
    size_t tl = strlen(template_html), jl = strlen(js), ml = strlen(mark);
    page = malloc(tl - ml + jl + extra + 1);
    if (!page) {
        free(js);
        goto out_nomem;
    }
    size_t w = (size_t)(at - template_html);
    memcpy(page, template_html, w);
    for (const char *p = js; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&') w += (size_t)sprintf(page + w, "\\u%04x", *p);
        else page[w++] = *p;
    }
    strcpy(page + w, at + ml);
    *len = w + strlen(at + ml);
    *n_layers = nl;
    free(js);
    goto out;
out_nomem:
    snprintf(err, errn, "out of memory");
out:
    json_decref(cfg);
    free(ls);
    return page;
}
