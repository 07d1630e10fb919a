/* net.c: a U-Net as a fixed list of nodes over planned tensors, its forward and backward
 * passes, parameters and optimisers.
 *
 * The JSON description (docs/cnn.md) is parsed once into nodes. For each input shape the
 * tensors' shapes are planned and their memory allocated once (inference: tensors whose
 * last reader has run are recycled, like ggml's graph allocator); the passes then run
 * without allocating except the conv kernels' small scratch. Each node's output keeps its
 * activation applied (every activation's derivative is a function of its output), so
 * backward needs no extra copies. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define MAX_LEVELS 8
#define MAX_CONVS 4

typedef enum { N_CONV, N_NORM, N_POOL, N_UPCONV, N_UPNEAR, N_CROPCAT } node_kind;
static const char *const KIND_NAME[] = {"conv", "norm", "pool", "upconv", "upnearest", "cropcat"};

/* AX_NN_PROFILE=1: every node's time on stderr, forward and backward */
static bool profiling(void)
{
    const char *e = getenv("AX_NN_PROFILE");
    return e && *e == '1';
}

typedef struct {
    node_kind kind;
    int src, src2, dst;    /* tensor indices (src2: second input of cropcat) */
    ax__act act;           /* applied to dst in place */
    int pw, pb;            /* parameter indices (-1: none) */
    int64_t k[3], pad[3];  /* conv kernel and padding */
    int64_t f[3];          /* pool / upsampling factors */
    int64_t cout;          /* output channels */
    int groups;            /* norm */
    double *stats;         /* norm: per-group mean, 1/std */
} node;

typedef struct {
    char *name;
    int64_t shape[5];
    int ndim;
    int64_t numel;
    float *data, *grad, *m, *v; /* m, v: Adam moments / SGD momentum (m) */
} param;

struct ax_net {
    char *config;          /* normalised JSON */
    int in_ch, out_ch;
    ax__act out_act;
    node nodes[64];
    int n_nodes;
    int n_tensors;         /* tensor 0 is the input */
    param params[128];
    int n_params;
    int64_t adam_t, sgd_t;
    int64_t steps_before;  /* steps recorded in a loaded model without optimiser state */
    json_t *meta;          /* metadata of a loaded file (NULL otherwise) */

    /* plan for the current input shape */
    int64_t plan_shape[3];
    int plan_train;
    ax__tensor *t;         /* n_tensors */
    float *arena;          /* activations */
    float *garena;         /* gradients (training) */
    float *scratch;        /* backward scratch: the largest tensor */
    float *outbuf;         /* output after out_act (training: for the loss) */
    size_t arena_floats, garena_floats, scratch_floats;
};

/* ---- parsing the description ------------------------------------------------------------ */

static int act_parse(const char *s, ax__act *a, bool allow_sigmoid_none)
{
    static const struct { const char *name; ax__act act; } tab[] = {
        {"relu", AX_ACT_RELU}, {"leaky_relu", AX_ACT_LEAKY_RELU}, {"elu", AX_ACT_ELU},
        {"tanh", AX_ACT_TANH}, {"sigmoid", AX_ACT_SIGMOID}, {"none", AX_ACT_NONE}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *a = tab[i].act;
            return AX_OK;
        }
    return ax__err(AX_E_INVALID, "unknown activation \"%s\" (relu, leaky_relu, elu, tanh, sigmoid%s)",
                   s, allow_sigmoid_none ? ", none" : "");
}

static const char *act_name(ax__act a)
{
    static const char *n[] = {"none", "relu", "leaky_relu", "elu", "tanh", "sigmoid"};
    return n[a];
}

static int get_int(json_t *cfg, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(cfg, key);
    if (!v) {
        *out = def;
        return AX_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ax__err(AX_E_INVALID, "\"%s\" must be an integer in [%lld, %lld]", key,
                       (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return AX_OK;
}

static const char *get_str(json_t *cfg, const char *key, const char *def)
{
    json_t *v = json_object_get(cfg, key);
    return json_is_string(v) ? json_string_value(v) : (v ? NULL : def);
}

/* one [a,b,c] triple of integers in [lo, hi] */
static int triple(json_t *v, const char *key, int64_t lo, int64_t hi, int64_t out[3])
{
    if (!json_is_array(v) || json_array_size(v) != 3)
        return ax__err(AX_E_INVALID, "\"%s\": expected [d, h, w]", key);
    for (int i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi)
            return ax__err(AX_E_INVALID, "\"%s\": entries must be integers in [%lld, %lld]", key,
                           (long long)lo, (long long)hi);
        out[i] = json_integer_value(e);
    }
    return AX_OK;
}

static param *param_add(ax_net *net, const char *name, int ndim, const int64_t *shape)
{
    param *p = &net->params[net->n_params];
    AX_ASSERT(net->n_params < (int)(sizeof net->params / sizeof net->params[0]));
    p->name = ax__strdup(name);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= shape[i];
    }
    p->data = ax__calloc((size_t)p->numel, sizeof(float));
    p->grad = ax__calloc((size_t)p->numel, sizeof(float));
    if (!p->name || !p->data || !p->grad) return NULL;
    net->n_params++;
    return p;
}

static int add_node(ax_net *net, node nd)
{
    AX_ASSERT(net->n_nodes < (int)(sizeof net->nodes / sizeof net->nodes[0]));
    nd.dst = net->n_tensors++;
    net->nodes[net->n_nodes++] = nd;
    return nd.dst;
}

/* conv (+ norm) + activation; returns the output tensor */
static int add_conv(ax_net *net, const char *prefix, int k, int src, int64_t cin, int64_t cout,
                    const int64_t kern[3], bool same, ax__act act, int norm_groups)
{
    char name[64];
    int64_t wshape[5] = {cout, cin, kern[0], kern[1], kern[2]};
    node c = {.kind = N_CONV, .src = src, .src2 = -1, .cout = cout, .act = norm_groups ? AX_ACT_NONE : act};
    for (int i = 0; i < 3; i++) {
        c.k[i] = kern[i];
        c.pad[i] = same ? kern[i] / 2 : 0;
    }
    snprintf(name, sizeof name, "%s.conv%d.weight", prefix, k);
    c.pw = net->n_params;
    if (!param_add(net, name, 5, wshape)) return AX_E_NOMEM;
    snprintf(name, sizeof name, "%s.conv%d.bias", prefix, k);
    c.pb = net->n_params;
    if (!param_add(net, name, 1, &cout)) return AX_E_NOMEM;
    int t = add_node(net, c);
    if (!norm_groups) return t;
    node n = {.kind = N_NORM, .src = t, .src2 = -1, .cout = cout, .act = act, .groups = norm_groups};
    snprintf(name, sizeof name, "%s.norm%d.weight", prefix, k);
    n.pw = net->n_params;
    if (!param_add(net, name, 1, &cout)) return AX_E_NOMEM;
    snprintf(name, sizeof name, "%s.norm%d.bias", prefix, k);
    n.pb = net->n_params;
    if (!param_add(net, name, 1, &cout)) return AX_E_NOMEM;
    for (int64_t i = 0; i < cout; i++) net->params[n.pw].data[i] = 1.0f;
    n.stats = ax__calloc((size_t)norm_groups * 2, sizeof(double));
    if (!n.stats) return AX_E_NOMEM;
    return add_node(net, n);
}

static int build(ax_net *net, json_t *cfg)
{
    int64_t in_ch, out_ch, levels, base, mult, convs, groups;
    int rc;
    const char *type = get_str(cfg, "type", "unet");
    if (!type || strcmp(type, "unet"))
        return ax__err(AX_E_INVALID, "\"type\" must be \"unet\"");
    if ((rc = get_int(cfg, "in_channels", 1, 1, 64, &in_ch)) ||
        (rc = get_int(cfg, "levels", 3, 1, MAX_LEVELS, &levels)) ||
        (rc = get_int(cfg, "base_fmaps", 12, 1, 4096, &base)) ||
        (rc = get_int(cfg, "fmap_mult", 3, 1, 16, &mult)) ||
        (rc = get_int(cfg, "convs_per_level", 2, 1, MAX_CONVS, &convs)) ||
        (rc = get_int(cfg, "norm_groups", 4, 1, 4096, &groups)))
        return rc;
    if (!json_object_get(cfg, "out_channels"))
        return ax__err(AX_E_INVALID, "\"out_channels\" is required");
    if ((rc = get_int(cfg, "out_channels", 1, 1, 4096, &out_ch))) return rc;

    int64_t f[MAX_LEVELS] = {0}, down[MAX_LEVELS][3], kern[MAX_LEVELS][3];
    for (int l = 0; l < levels; l++) {
        f[l] = l ? f[l - 1] * mult : base;
        if (f[l] > 4096) return ax__err(AX_E_INVALID, "level %d would have %lld feature maps", l, (long long)f[l]);
    }
    json_t *dj = json_object_get(cfg, "downsample");
    for (int l = 0; l < levels - 1; l++) {
        if (!dj) {
            down[l][0] = 1, down[l][1] = 2, down[l][2] = 2;
        } else {
            if (!json_is_array(dj) || (int64_t)json_array_size(dj) != levels - 1)
                return ax__err(AX_E_INVALID, "\"downsample\": expected %lld [d, h, w] factors (levels - 1)",
                               (long long)(levels - 1));
            if ((rc = triple(json_array_get(dj, l), "downsample", 1, 16, down[l]))) return rc;
        }
    }
    json_t *kj = json_object_get(cfg, "kernel");
    bool per_level = json_is_array(kj) && json_array_size(kj) > 0 && json_is_array(json_array_get(kj, 0));
    if (per_level && (int64_t)json_array_size(kj) != levels)
        return ax__err(AX_E_INVALID, "\"kernel\": expected one [d, h, w] or %lld of them", (long long)levels);
    for (int l = 0; l < levels; l++) {
        if (!kj) kern[l][0] = kern[l][1] = kern[l][2] = 3;
        else if ((rc = triple(per_level ? json_array_get(kj, l) : kj, "kernel", 1, 15, kern[l])))
            return rc;
    }
    const char *pad = get_str(cfg, "padding", "valid"), *up = get_str(cfg, "upsample", "transposed");
    const char *act_s = get_str(cfg, "activation", "relu"), *norm = get_str(cfg, "norm", "none");
    const char *oact_s = get_str(cfg, "out_activation", "sigmoid");
    if (!pad || (strcmp(pad, "valid") && strcmp(pad, "same")))
        return ax__err(AX_E_INVALID, "\"padding\" must be \"valid\" or \"same\"");
    bool same = !strcmp(pad, "same");
    if (same)
        for (int l = 0; l < levels; l++)
            for (int i = 0; i < 3; i++)
                if (kern[l][i] % 2 == 0) return ax__err(AX_E_INVALID, "\"padding\": \"same\" needs odd kernels");
    if (!up || (strcmp(up, "transposed") && strcmp(up, "nearest")))
        return ax__err(AX_E_INVALID, "\"upsample\" must be \"transposed\" or \"nearest\"");
    if (!norm || (strcmp(norm, "none") && strcmp(norm, "group") && strcmp(norm, "instance")))
        return ax__err(AX_E_INVALID, "\"norm\" must be \"none\", \"group\" or \"instance\"");
    ax__act act, oact;
    if (!act_s) return ax__err(AX_E_INVALID, "\"activation\" must be a string");
    if ((rc = act_parse(act_s, &act, false))) return rc;
    if (act == AX_ACT_NONE) return ax__err(AX_E_INVALID, "\"activation\" cannot be none");
    if (!oact_s || (rc = act_parse(oact_s, &oact, true)))
        return rc ? rc : ax__err(AX_E_INVALID, "\"out_activation\" must be a string");
    if (oact != AX_ACT_NONE && oact != AX_ACT_SIGMOID && oact != AX_ACT_TANH)
        return ax__err(AX_E_INVALID, "\"out_activation\" must be sigmoid, tanh or none");
    if (!strcmp(norm, "group"))
        for (int l = 0; l < levels; l++)
            if (f[l] % groups)
                return ax__err(AX_E_INVALID, "\"norm_groups\" %lld does not divide %lld feature maps",
                               (long long)groups, (long long)f[l]);

    net->in_ch = (int)in_ch;
    net->out_ch = (int)out_ch;
    net->out_act = oact;
    net->n_tensors = 1;
    int x = 0, skip[MAX_LEVELS];
    int64_t cx = in_ch;
    char prefix[32];
    for (int l = 0; l < levels; l++) {
        int ng = !strcmp(norm, "none") ? 0 : !strcmp(norm, "group") ? (int)groups : (int)f[l];
        snprintf(prefix, sizeof prefix, "down%d", l);
        for (int k = 0; k < convs; k++) {
            if ((x = add_conv(net, prefix, k, x, cx, f[l], kern[l], same, act, ng)) < 0) return x;
            cx = f[l];
        }
        skip[l] = x;
        if (l < levels - 1) {
            node p = {.kind = N_POOL, .src = x, .src2 = -1, .cout = cx, .pw = -1, .pb = -1};
            memcpy(p.f, down[l], sizeof p.f);
            x = add_node(net, p);
        }
    }
    for (int l = (int)levels - 2; l >= 0; l--) {
        int ng = !strcmp(norm, "none") ? 0 : !strcmp(norm, "group") ? (int)groups : (int)f[l];
        snprintf(prefix, sizeof prefix, "up%d", l);
        node u = {.src = x, .src2 = -1, .pw = -1, .pb = -1};
        memcpy(u.f, down[l], sizeof u.f);
        if (!strcmp(up, "transposed")) {
            char name[64];
            int64_t ws[5] = {cx, f[l], down[l][0], down[l][1], down[l][2]};
            u.kind = N_UPCONV;
            u.cout = f[l];
            snprintf(name, sizeof name, "%s.upconv.weight", prefix);
            u.pw = net->n_params;
            if (!param_add(net, name, 5, ws)) return AX_E_NOMEM;
            snprintf(name, sizeof name, "%s.upconv.bias", prefix);
            u.pb = net->n_params;
            if (!param_add(net, name, 1, &f[l])) return AX_E_NOMEM;
            cx = f[l];
        } else {
            u.kind = N_UPNEAR;
            u.cout = cx;
        }
        x = add_node(net, u);
        node c = {.kind = N_CROPCAT, .src = skip[l], .src2 = x, .cout = f[l] + cx, .pw = -1, .pb = -1};
        x = add_node(net, c);
        cx = f[l] + cx;
        for (int k = 0; k < convs; k++) {
            if ((x = add_conv(net, prefix, k, x, cx, f[l], kern[l], same, act, ng)) < 0) return x;
            cx = f[l];
        }
    }
    /* the 1x1x1 output conv keeps its logits; out_act is applied on the way out */
    {
        char name[32];
        int64_t ws[5] = {out_ch, cx, 1, 1, 1};
        node o = {.kind = N_CONV, .src = x, .src2 = -1, .cout = out_ch, .act = AX_ACT_NONE,
                  .k = {1, 1, 1}};
        snprintf(name, sizeof name, "out.weight");
        o.pw = net->n_params;
        if (!param_add(net, name, 5, ws)) return AX_E_NOMEM;
        snprintf(name, sizeof name, "out.bias");
        o.pb = net->n_params;
        if (!param_add(net, name, 1, &out_ch)) return AX_E_NOMEM;
        add_node(net, o);
    }

    /* normalised description: every default spelled out, other keys kept */
    json_t *n = json_deep_copy(cfg);
    json_t *dl = json_array(), *kl = json_array();
    for (int l = 0; l < levels - 1; l++)
        json_array_append_new(dl, json_pack("[III]", down[l][0], down[l][1], down[l][2]));
    for (int l = 0; l < levels; l++)
        json_array_append_new(kl, json_pack("[III]", kern[l][0], kern[l][1], kern[l][2]));
    json_object_set_new(n, "type", json_string("unet"));
    json_object_set_new(n, "in_channels", json_integer(in_ch));
    json_object_set_new(n, "out_channels", json_integer(out_ch));
    json_object_set_new(n, "levels", json_integer(levels));
    json_object_set_new(n, "base_fmaps", json_integer(base));
    json_object_set_new(n, "fmap_mult", json_integer(mult));
    json_object_set_new(n, "downsample", dl);
    json_object_set_new(n, "kernel", kl);
    json_object_set_new(n, "convs_per_level", json_integer(convs));
    json_object_set_new(n, "padding", json_string(pad));
    json_object_set_new(n, "upsample", json_string(up));
    json_object_set_new(n, "activation", json_string(act_name(act)));
    json_object_set_new(n, "norm", json_string(norm));
    json_object_set_new(n, "norm_groups", json_integer(groups));
    json_object_set_new(n, "out_activation", json_string(act_name(oact)));
    net->config = json_dumps(n, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(n);
    return net->config ? AX_OK : AX_E_NOMEM;
}

/* ---- parameters ------------------------------------------------------------------------ */

/* splitmix64 -> uniform in [-b, b) */
static float uniform(uint64_t *s, double b)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0) * b);
}

/* He (Kaiming) uniform weights, bound sqrt(6 / fan_in), and zero biases: the variance of
 * ReLU activations then holds from layer to layer. (PyTorch's default, bound
 * 1/sqrt(fan_in), shrinks it threefold per layer: a 3-level U-Net starts with outputs
 * that barely depend on the input, and small ones can die before they learn.) fan_in is
 * weight dim 1 times the kernel volume, as PyTorch computes it (for ConvTranspose3d
 * that is its output channels). */
static void init_params(ax_net *net, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < net->n_params; i++) {
        param *p = &net->params[i];
        if (p->ndim != 5) continue; /* biases 0, norm gamma 1 and beta 0 */
        double fan_in = (double)(p->shape[1] * p->shape[2] * p->shape[3] * p->shape[4]);
        for (int64_t k = 0; k < p->numel; k++) p->data[k] = uniform(&s, sqrt(6.0 / fan_in));
    }
}

static void free_plan(ax_net *net)
{
    free(net->t);
    free(net->arena);
    free(net->garena);
    free(net->scratch);
    free(net->outbuf);
    net->t = NULL;
    net->arena = net->garena = net->scratch = net->outbuf = NULL;
    net->plan_shape[0] = 0;
}

void ax_net_free(ax_net *net)
{
    if (!net) return;
    free_plan(net);
    for (int i = 0; i < net->n_params; i++) {
        free(net->params[i].name);
        free(net->params[i].data);
        free(net->params[i].grad);
        free(net->params[i].m);
        free(net->params[i].v);
    }
    for (int i = 0; i < net->n_nodes; i++) free(net->nodes[i].stats);
    free(net->config);
    json_decref(net->meta);
    free(net);
    ax__scratch_release(); /* the conv kernels' kept scratch on this thread */
}

static int create_from_json(json_t *cfg, ax_net **out)
{
    ax_net *net = ax__calloc(1, sizeof *net);
    if (!net) return AX_E_NOMEM;
    int rc = build(net, cfg);
    if (rc) {
        ax_net_free(net);
        return rc;
    }
    *out = net;
    return AX_OK;
}

int ax_net_create(const char *config_json, uint64_t seed, ax_net **out)
{
    *out = NULL;
    json_error_t e;
    json_t *cfg = json_loads(config_json, 0, &e);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        return ax__err(AX_E_INVALID, "network description: not a JSON object (line %d: %s)", e.line, e.text);
    }
    int rc = create_from_json(cfg, out);
    json_decref(cfg);
    if (rc) return ax__err_prefix(rc, "network description");
    init_params(*out, seed);
    return AX_OK;
}

const char *ax_net_config(const ax_net *net) { return net->config; }
int ax_net_in_channels(const ax_net *net) { return net->in_ch; }
int ax_net_out_channels(const ax_net *net) { return net->out_ch; }
int ax_net_param_count(const ax_net *net) { return net->n_params; }

const char *ax_net_param_name(const ax_net *net, int i)
{
    return i >= 0 && i < net->n_params ? net->params[i].name : NULL;
}

float *ax_net_param_data(ax_net *net, int i, int64_t *numel)
{
    if (i < 0 || i >= net->n_params) return NULL;
    if (numel) *numel = net->params[i].numel;
    return net->params[i].data;
}

float *ax_net_param_grad(ax_net *net, int i, int64_t *numel)
{
    if (i < 0 || i >= net->n_params) return NULL;
    if (numel) *numel = net->params[i].numel;
    return net->params[i].grad;
}

/* ---- shapes and memory ------------------------------------------------------------------ */

/* shapes of every tensor for input `in`; t[] gets c,d,h,w */
static int infer_shapes(const ax_net *net, const int64_t in[3], ax__tensor *t)
{
    t[0] = (ax__tensor){net->in_ch, in[0], in[1], in[2], NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (in[i] < 1 || in[i] > (1 << 20)) return ax__err(AX_E_INVALID, "input shape: %lld out of range", (long long)in[i]);
    for (int i = 0; i < net->n_nodes; i++) {
        const node *nd = &net->nodes[i];
        const ax__tensor *s = &t[nd->src];
        ax__tensor *d = &t[nd->dst];
        *d = (ax__tensor){nd->cout, s->d, s->h, s->w, NULL, NULL};
        int64_t *dim[3] = {&d->d, &d->h, &d->w};
        for (int a = 0; a < 3; a++) {
            switch (nd->kind) {
            case N_CONV: *dim[a] += 2 * nd->pad[a] - nd->k[a] + 1; break;
            case N_POOL:
                if (*dim[a] % nd->f[a])
                    return ax__err(AX_E_INVALID,
                                   "input shape %lldx%lldx%lld does not fit the network: a size of %lld "
                                   "reaches a %lldx pooling (use ax_net_input_for_output)",
                                   (long long)in[0], (long long)in[1], (long long)in[2],
                                   (long long)*dim[a], (long long)nd->f[a]);
                *dim[a] /= nd->f[a];
                break;
            case N_UPCONV:
            case N_UPNEAR: *dim[a] *= nd->f[a]; break;
            case N_CROPCAT: {
                const ax__tensor *b = &t[nd->src2];
                int64_t bs = a == 0 ? b->d : a == 1 ? b->h : b->w;
                if (bs > *dim[a])
                    return ax__err(AX_E_INVALID, "input shape %lldx%lldx%lld does not fit the network "
                                   "(the skip connection is smaller than the upsampled path)",
                                   (long long)in[0], (long long)in[1], (long long)in[2]);
                *dim[a] = bs;
                break;
            }
            case N_NORM: break;
            }
            if (*dim[a] < 1)
                return ax__err(AX_E_INVALID, "input shape %lldx%lldx%lld is too small for the network",
                               (long long)in[0], (long long)in[1], (long long)in[2]);
        }
    }
    return AX_OK;
}

int ax_net_output_shape(const ax_net *net, const int64_t in[3], int64_t out[3])
{
    ax__tensor *t = ax__calloc((size_t)net->n_tensors, sizeof *t);
    if (!t) return AX_E_NOMEM;
    int rc = infer_shapes(net, in, t);
    if (!rc) {
        const ax__tensor *o = &t[net->n_tensors - 1];
        out[0] = o->d, out[1] = o->h, out[2] = o->w;
    }
    free(t);
    return rc;
}

/* output size along axis a for input size s on that axis (the axes are independent);
 * -1 when s does not fit */
static int64_t axis_out(const ax_net *net, int a, int64_t s)
{
    int64_t sz[80];
    AX_ASSERT(net->n_tensors <= 80);
    sz[0] = s;
    for (int i = 0; i < net->n_nodes; i++) {
        const node *nd = &net->nodes[i];
        int64_t v = sz[nd->src];
        switch (nd->kind) {
        case N_CONV: v += 2 * nd->pad[a] - nd->k[a] + 1; break;
        case N_POOL:
            if (v % nd->f[a]) return -1;
            v /= nd->f[a];
            break;
        case N_UPCONV:
        case N_UPNEAR: v *= nd->f[a]; break;
        case N_CROPCAT:
            if (sz[nd->src2] > v) return -1;
            v = sz[nd->src2];
            break;
        case N_NORM: break;
        }
        if (v < 1) return -1;
        sz[nd->dst] = v;
    }
    return sz[net->n_tensors - 1];
}

int ax_net_input_for_output(const ax_net *net, const int64_t out_min[3], int64_t in[3],
                            int64_t out[3])
{
    for (int a = 0; a < 3; a++) {
        int64_t s = 1, o;
        while ((o = axis_out(net, a, s)) < out_min[a] || o < 1)
            if (++s > (1 << 16))
                return ax__err(AX_E_INVALID, "no input size gives an output of %lld on axis %d",
                               (long long)out_min[a], a);
        in[a] = s;
        out[a] = o;
    }
    return AX_OK;
}

double ax_net_forward_flops(const ax_net *net, const int64_t in[3])
{
    ax__tensor *t = ax__calloc((size_t)net->n_tensors, sizeof *t);
    if (!t) return 0.0;
    double fl = 0.0;
    if (!infer_shapes(net, in, t))
        for (int i = 0; i < net->n_nodes; i++) {
            const node *nd = &net->nodes[i];
            const ax__tensor *s = &t[nd->src], *d = &t[nd->dst];
            if (nd->kind == N_CONV)
                fl += 2.0 * s->c * d->c * nd->k[0] * nd->k[1] * nd->k[2] * (double)(d->d * d->h * d->w);
            else if (nd->kind == N_UPCONV)
                fl += 2.0 * s->c * d->c * (double)(d->d * d->h * d->w);
        }
    free(t);
    return fl;
}

/* ---- planning memory for an input shape ------------------------------------------------- */

static int64_t numel_of(const ax__tensor *t) { return t->c * t->d * t->h * t->w; }

/* Offsets for the activations. Training keeps every tensor for the backward pass; inference
 * places each tensor in the arena when its node runs and releases it after its last
 * reader, first-fit (ggml's graph allocator does the same). Offsets are in floats,
 * rounded up to 16 (64 bytes). */
static size_t place_tensors(const ax_net *net, const ax__tensor *t, bool train, size_t *off)
{
    int last[80];
    AX_ASSERT(net->n_tensors <= 80);
    for (int i = 0; i < net->n_tensors; i++) last[i] = net->n_nodes; /* the output lives on */
    for (int i = 0; i < net->n_nodes; i++) {
        last[net->nodes[i].dst] = i;
    }
    for (int i = 0; i < net->n_nodes; i++) {
        last[net->nodes[i].src] = i;
        if (net->nodes[i].src2 >= 0) last[net->nodes[i].src2] = i;
    }
    last[net->n_tensors - 1] = net->n_nodes;
    size_t top = 0;
    if (train) {
        for (int i = 1; i < net->n_tensors; i++) {
            off[i] = top;
            top += ((size_t)numel_of(&t[i]) + 15) & ~(size_t)15;
        }
        return top;
    }
    /* live blocks as (offset, size) of tensors not yet released */
    bool live[80] = {false};
    for (int i = 0; i < net->n_nodes; i++) {
        int d = net->nodes[i].dst;
        size_t need = ((size_t)numel_of(&t[d]) + 15) & ~(size_t)15, at = 0;
        /* first gap between live blocks (sorted by offset) that fits */
        for (;;) {
            bool moved = false;
            for (int j = 1; j < net->n_tensors; j++)
                if (live[j] && off[j] < at + need && at < off[j] + (((size_t)numel_of(&t[j]) + 15) & ~(size_t)15)) {
                    at = off[j] + (((size_t)numel_of(&t[j]) + 15) & ~(size_t)15);
                    moved = true;
                }
            if (!moved) break;
        }
        off[d] = at;
        live[d] = true;
        if (at + need > top) top = at + need;
        for (int j = 1; j < net->n_tensors; j++)
            if (live[j] && last[j] == i) live[j] = false;
    }
    return top;
}

static int plan(ax_net *net, const int64_t in[3], int train)
{
    if (net->t && net->plan_shape[0] == in[0] && net->plan_shape[1] == in[1] &&
        net->plan_shape[2] == in[2] && net->plan_train == !!train)
        return AX_OK;
    free_plan(net);
    net->t = ax__calloc((size_t)net->n_tensors, sizeof *net->t);
    if (!net->t) return AX_E_NOMEM;
    int rc = infer_shapes(net, in, net->t);
    if (rc) {
        free_plan(net);
        return rc;
    }
    size_t off[80] = {0}, biggest = 0;
    net->arena_floats = place_tensors(net, net->t, train, off);
    for (int i = 0; i < net->n_tensors; i++)
        if ((size_t)numel_of(&net->t[i]) > biggest) biggest = (size_t)numel_of(&net->t[i]);
    /* scratch: the upconv's 1x1x1 view and, in training, gradients that must be added */
    bool upconv = false;
    for (int i = 0; i < net->n_nodes; i++) upconv |= net->nodes[i].kind == N_UPCONV;
    net->scratch_floats = upconv || train ? biggest : 0;
    size_t out_n = (size_t)numel_of(&net->t[net->n_tensors - 1]);
    net->arena = ax__huge_alloc(net->arena_floats * sizeof(float));
    net->scratch = net->scratch_floats ? ax__huge_alloc(2 * net->scratch_floats * sizeof(float)) : NULL;
    net->outbuf = ax__aligned_alloc(out_n * sizeof(float));
    if (train) {
        net->garena_floats = place_tensors(net, net->t, true, off);
        net->garena = ax__huge_alloc(net->garena_floats * sizeof(float));
    }
    if (!net->arena || (net->scratch_floats && !net->scratch) || !net->outbuf || (train && !net->garena)) {
        free_plan(net);
        return ax__err(AX_E_NOMEM, "network: out of memory planning a %lldx%lldx%lld input",
                       (long long)in[0], (long long)in[1], (long long)in[2]);
    }
    for (int i = 1; i < net->n_tensors; i++) {
        net->t[i].data = net->arena + off[i];
        net->t[i].grad = train ? net->garena + off[i] : NULL;
    }
    memcpy(net->plan_shape, in, sizeof net->plan_shape);
    net->plan_train = !!train;
    return AX_OK;
}

/* Peak bytes a forward pass needs for this input (activations + scratch). */
static size_t plan_bytes(const ax_net *net, const int64_t in[3], int train)
{
    ax__tensor *t = ax__calloc((size_t)net->n_tensors, sizeof *t);
    size_t off[80], n = 0;
    if (t && !infer_shapes(net, in, t)) n = place_tensors(net, t, train, off) * (train ? 2 : 1);
    free(t);
    return n * sizeof(float);
}

/* ---- forward ------------------------------------------------------------------------------ */

static ax__conv3d_shape conv_shape(const node *nd, const ax__tensor *s)
{
    ax__conv3d_shape cs = {.ci = s->c, .co = nd->cout, .kd = nd->k[0], .kh = nd->k[1], .kw = nd->k[2],
                           .pd = nd->pad[0], .ph = nd->pad[1], .pw = nd->pad[2],
                           .id = s->d, .ih = s->h, .iw = s->w};
    (void)ax__conv3d_shape_init(&cs);
    return cs;
}

/* the transposed conv with kernel = stride is a 1x1x1 conv to co*F channels followed by a
 * pixel shuffle; this is its 1x1x1 view (ci -> co*F) */
static ax__conv3d_shape upconv_shape(const node *nd, const ax__tensor *s)
{
    ax__conv3d_shape cs = {.ci = s->c, .co = nd->cout * nd->f[0] * nd->f[1] * nd->f[2],
                           .kd = 1, .kh = 1, .kw = 1, .id = s->d, .ih = s->h, .iw = s->w};
    (void)ax__conv3d_shape_init(&cs);
    return cs;
}

/* w[ci][co][F] (ConvTranspose3d) -> w1[co*F][ci] (the 1x1x1 conv), or back (+=) */
static void upconv_weights(const param *w, float *w1, bool back_add, const float *g1)
{
    const int64_t ci = w->shape[0], cof = w->shape[1] * w->shape[2] * w->shape[3] * w->shape[4];
    for (int64_t i = 0; i < ci; i++)
        for (int64_t j = 0; j < cof; j++) {
            if (back_add) w1[i * cof + j] += g1[j * ci + i];
            else w1[j * ci + i] = w->data[i * cof + j];
        }
}

typedef struct {
    const node *nd;
    const ax__tensor *dst;
    float *y;        /* [co*F][d][h][w] */
    const float *bias;
    bool back;       /* gather the gradient instead of scattering values */
    float *dbias;
} shuffle_job;

/* task = output channel: scatter y[(co,a,b,c)][z][y][x] to dst[co][z*fd+a][y*fh+b][x*fw+c]
 * (+ bias), or gather the gradient the other way and sum it for the bias */
static int shuffle_task(void *ctx, int64_t co, int thread)
{
    shuffle_job *j = ctx;
    const int64_t fd = j->nd->f[0], fh = j->nd->f[1], fw = j->nd->f[2];
    const ax__tensor *o = j->dst;
    const int64_t d = o->d / fd, h = o->h / fh, w = o->w / fw;
    double bsum = 0.0;
    for (int64_t a = 0; a < fd; a++)
        for (int64_t b = 0; b < fh; b++)
            for (int64_t c = 0; c < fw; c++) {
                float *ych = j->y + ((((co * fd + a) * fh + b) * fw + c) * d * h * w);
                for (int64_t z = 0; z < d; z++)
                    for (int64_t yy = 0; yy < h; yy++) {
                        float *orow = o->data + ((co * o->d + z * fd + a) * o->h + yy * fh + b) * o->w + c;
                        float *grow = j->back ? o->grad + (orow - o->data) : NULL;
                        float *yrow = ych + (z * h + yy) * w;
                        if (j->back)
                            for (int64_t x = 0; x < w; x++) {
                                yrow[x] = grow[x * fw];
                                bsum += yrow[x];
                            }
                        else
                            for (int64_t x = 0; x < w; x++) orow[x * fw] = yrow[x] + j->bias[co];
                    }
            }
    if (j->back) j->dbias[co] += (float)bsum;
    return AX_OK;
}

static int run_node(ax_net *net, const node *nd)
{
    ax__tensor *s = &net->t[nd->src], *d = &net->t[nd->dst];
    const param *pw = nd->pw >= 0 ? &net->params[nd->pw] : NULL, *pb = nd->pb >= 0 ? &net->params[nd->pb] : NULL;
    int rc = AX_OK;
    switch (nd->kind) {
    case N_CONV: {
        ax__conv3d_shape cs = conv_shape(nd, s);
        rc = ax__conv3d_forward_act(&cs, s->data, pw->data, pb->data, d->data, nd->act);
        if (rc) return rc;
        return ax_interrupt_requested() ? ax__err(AX_E_INTERRUPTED, "interrupted") : AX_OK;
    }
    case N_NORM: ax__groupnorm_forward(s, nd->groups, pw->data, pb->data, d, nd->stats); break;
    case N_POOL: ax__maxpool_forward(s, nd->f, d); break;
    case N_UPNEAR: ax__upnearest_forward(s, nd->f, d); break;
    case N_CROPCAT: ax__cropcat_forward(s, &net->t[nd->src2], d); break;
    case N_UPCONV: {
        ax__conv3d_shape cs = upconv_shape(nd, s);
        float *w1 = net->scratch + net->scratch_floats; /* second scratch half: small weights */
        upconv_weights(pw, w1, false, NULL);
        /* y goes to the first half; the weights are tiny next to it */
        AX_ASSERT((size_t)pw->numel <= net->scratch_floats);
        rc = ax__conv3d_forward(&cs, s->data, w1, NULL, net->scratch);
        if (rc) break;
        shuffle_job j = {nd, d, net->scratch, pb->data, false, NULL};
        rc = ax_parallel_for(nd->cout, shuffle_task, &j);
        break;
    }
    }
    if (rc) return rc;
    ax__act_forward(nd->act, d->data, numel_of(d));
    return ax_interrupt_requested() ? ax__err(AX_E_INTERRUPTED, "interrupted") : AX_OK;
}

int ax_net_forward(ax_net *net, const float *in, const int64_t in_shape[3], float *out, int train)
{
    int rc = plan(net, in_shape, train);
    if (rc) return rc;
    net->t[0].data = (float *)in; /* read only */
    bool prof = profiling();
    for (int i = 0; i < net->n_nodes; i++) {
        double t0 = prof ? ax_time_now() : 0;
        if ((rc = run_node(net, &net->nodes[i]))) return rc;
        if (prof) {
            const node *nd = &net->nodes[i];
            const ax__tensor *d = &net->t[nd->dst], *s = &net->t[nd->src];
            double ms = 1e3 * (ax_time_now() - t0), fl = 0;
            if (nd->kind == N_CONV) fl = 2.0 * s->c * d->c * nd->k[0] * nd->k[1] * nd->k[2] * (double)(d->d * d->h * d->w);
            fprintf(stderr, "node %2d %-9s %3lld -> %3lld x %lldx%lldx%lld  %8.2f ms  %6.1f GFLOP/s\n", i,
                    KIND_NAME[nd->kind], (long long)s->c, (long long)d->c, (long long)d->d, (long long)d->h,
                    (long long)d->w, ms, fl / ms / 1e6);
        }
    }
    const ax__tensor *o = &net->t[net->n_tensors - 1];
    int64_t n = numel_of(o);
    memcpy(net->outbuf, o->data, (size_t)n * sizeof(float));
    ax__act_forward(net->out_act, net->outbuf, n);
    if (out) memcpy(out, net->outbuf, (size_t)n * sizeof(float));
    return AX_OK;
}

/* ---- backward ----------------------------------------------------------------------------- */

/* the gradient buffer of tensor i ready to be written: `fresh` says whether this write is
 * the first (overwrite) or must be added (the tensor has several readers) */
static float *grad_target(ax_net *net, bool *init, int i, bool *fresh)
{
    *fresh = !init[i];
    init[i] = true;
    return *fresh ? net->t[i].grad : net->scratch;
}

static void grad_commit(ax_net *net, int i, bool fresh)
{
    if (!fresh) ax__add_inplace(net->t[i].grad, net->scratch, numel_of(&net->t[i]));
}

static int backprop(ax_net *net)
{
    bool init[80] = {false};
    init[net->n_tensors - 1] = true;
    int rc = AX_OK;
    bool prof = profiling();
    for (int i = net->n_nodes - 1; i >= 0 && !rc; i--) {
        double t0 = prof ? ax_time_now() : 0;
        const node *nd = &net->nodes[i];
        ax__tensor *s = &net->t[nd->src], *d = &net->t[nd->dst];
        param *pw = nd->pw >= 0 ? &net->params[nd->pw] : NULL, *pb = nd->pb >= 0 ? &net->params[nd->pb] : NULL;
        AX_ASSERT(init[nd->dst]);
        ax__act_backward(nd->act, d->data, d->grad, numel_of(d));
        bool need_src = nd->src != 0, fresh;
        switch (nd->kind) {
        case N_CONV: {
            ax__conv3d_shape cs = conv_shape(nd, s);
            rc = ax__conv3d_backward_weight(&cs, s->data, d->grad, pw->grad, pb->grad);
            if (!rc && need_src) {
                float *g = grad_target(net, init, nd->src, &fresh);
                rc = ax__conv3d_backward_data(&cs, d->grad, pw->data, g);
                grad_commit(net, nd->src, fresh);
            }
            break;
        }
        case N_NORM: {
            float *g = grad_target(net, init, nd->src, &fresh);
            ax__groupnorm_backward(s, nd->groups, pw->data, nd->stats, d->grad, g, pw->grad, pb->grad);
            grad_commit(net, nd->src, fresh);
            break;
        }
        case N_POOL:
        case N_UPNEAR:
        case N_CROPCAT: {
            int srcs[2] = {nd->src, nd->src2};
            for (int k = 0; k < 2; k++)
                if (srcs[k] > 0 && !init[srcs[k]]) {
                    memset(net->t[srcs[k]].grad, 0, (size_t)numel_of(&net->t[srcs[k]]) * sizeof(float));
                    init[srcs[k]] = true;
                }
            if (nd->kind == N_POOL) ax__maxpool_backward(s, nd->f, d, d->grad, s->grad);
            else if (nd->kind == N_UPNEAR) ax__upnearest_backward(s, nd->f, d->grad, s->grad);
            else ax__cropcat_backward(s, &net->t[nd->src2], d->grad, nd->src ? s->grad : NULL,
                                      net->t[nd->src2].grad);
            break;
        }
        case N_UPCONV: {
            ax__conv3d_shape cs = upconv_shape(nd, s);
            float *gy = net->scratch, *w1 = net->scratch + net->scratch_floats;
            shuffle_job j = {nd, d, gy, NULL, true, pb->grad};
            rc = ax_parallel_for(nd->cout, shuffle_task, &j);
            if (rc) break;
            /* weight gradient of the 1x1x1 view, then folded back into ConvTranspose layout */
            float *g1 = w1 + pw->numel;
            memset(g1, 0, (size_t)pw->numel * sizeof(float));
            rc = ax__conv3d_backward_weight(&cs, s->data, gy, g1, NULL);
            if (rc) break;
            upconv_weights(pw, pw->grad, true, g1);
            if (need_src) {
                upconv_weights(pw, w1, false, NULL);
                AX_ASSERT(!init[nd->src]); /* an upconv's input has no other reader */
                init[nd->src] = true;
                rc = ax__conv3d_backward_data(&cs, gy, w1, s->grad);
            }
            break;
        }
        }
        if (!rc && ax_interrupt_requested()) rc = ax__err(AX_E_INTERRUPTED, "interrupted");
        if (prof)
            fprintf(stderr, "backward node %2d %-9s %3lld -> %3lld  %8.2f ms\n", i, KIND_NAME[nd->kind],
                    (long long)s->c, (long long)d->c, 1e3 * (ax_time_now() - t0));
    }
    return rc;
}

int ax_net_backward(ax_net *net, ax_loss loss, const float *target, const float *weight,
                    double *loss_out)
{
    if (!net->t || !net->plan_train)
        return ax__err(AX_E_INVALID, "ax_net_backward: no training forward pass to differentiate");
    ax__tensor *o = &net->t[net->n_tensors - 1];
    int64_t n = numel_of(o);
    double l;
    if (loss == AX_LOSS_BCE) {
        if (net->out_act != AX_ACT_SIGMOID)
            return ax__err(AX_E_INVALID, "BCE loss needs a sigmoid output activation");
        l = ax__bce_logits(o->data, target, weight, n, o->grad);
    } else if (loss == AX_LOSS_MSE) {
        l = ax__mse(net->outbuf, target, weight, n, o->grad);
        ax__act_backward(net->out_act, net->outbuf, o->grad, n);
    } else {
        return ax__err(AX_E_INVALID, "unknown loss %d", (int)loss);
    }
    if (!isfinite(l)) return ax__err(AX_E_RANGE, "loss is not finite (%g): check the targets and the learning rate", l);
    if (loss_out) *loss_out = l;
    return backprop(net);
}

void ax_net_zero_grad(ax_net *net)
{
    for (int i = 0; i < net->n_params; i++)
        memset(net->params[i].grad, 0, (size_t)net->params[i].numel * sizeof(float));
}

/* ---- optimisers: torch.optim semantics, float32 state -------------------------------------- */

ax_optim_params ax_optim_params_default(void)
{
    return (ax_optim_params){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

static int ensure_state(param *p, bool need_v)
{
    if (!p->m && !(p->m = ax__calloc((size_t)p->numel, sizeof(float)))) return AX_E_NOMEM;
    if (need_v && !p->v && !(p->v = ax__calloc((size_t)p->numel, sizeof(float)))) return AX_E_NOMEM;
    return AX_OK;
}

int ax_net_adam_step(ax_net *net, const ax_optim_params *o)
{
    net->adam_t++;
    const double bc1 = 1.0 - pow(o->beta1, (double)net->adam_t);
    const double bc2 = 1.0 - pow(o->beta2, (double)net->adam_t);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps,
                wd = (float)o->weight_decay, step = (float)(o->lr / bc1), sbc2 = (float)sqrt(bc2);
    for (int i = 0; i < net->n_params; i++) {
        param *p = &net->params[i];
        if (ensure_state(p, true)) return AX_E_NOMEM;
        for (int64_t k = 0; k < p->numel; k++) {
            float g = p->grad[k] + wd * p->data[k];
            p->m[k] = p->m[k] * b1 + g * (1.0f - b1);
            p->v[k] = p->v[k] * b2 + g * g * (1.0f - b2);
            float denom = sqrtf(p->v[k]) / sbc2 + eps;
            p->data[k] -= step * (p->m[k] / denom);
        }
    }
    return AX_OK;
}

int ax_net_sgd_step(ax_net *net, const ax_optim_params *o)
{
    const float lr = (float)o->lr, mom = (float)o->momentum, wd = (float)o->weight_decay;
    net->sgd_t++;
    for (int i = 0; i < net->n_params; i++) {
        param *p = &net->params[i];
        if (mom != 0.0f && ensure_state(p, false)) return AX_E_NOMEM;
        for (int64_t k = 0; k < p->numel; k++) {
            float g = p->grad[k] + wd * p->data[k];
            if (mom != 0.0f) {
                p->m[k] = net->sgd_t == 1 ? g : p->m[k] * mom + g;
                g = p->m[k];
            }
            p->data[k] -= lr * g;
        }
    }
    return AX_OK;
}

uint64_t ax_net_memory_bytes(const ax_net *net, const int64_t in[3], int train)
{
    return plan_bytes(net, in, train);
}

int64_t ax_net_steps(const ax_net *net) { return net->steps_before + net->adam_t + net->sgd_t; }

const char *ax_net_meta(const ax_net *net, const char *key)
{
    return net->meta ? json_string_value(json_object_get(net->meta, key)) : NULL;
}

/* ---- safetensors ------------------------------------------------------------------------- */

static int save(const ax_net *net, const char *path, const char *const *mk, const char *const *mv,
                int nm, bool optim)
{
    int np = net->n_params, nt = optim && net->adam_t ? 3 * np : np, nmeta = nm + 3, rc;
    ax__st_tensor *t = ax__calloc((size_t)nt, sizeof *t);
    const char **keys = ax__calloc((size_t)nmeta, sizeof *keys), **vals = ax__calloc((size_t)nmeta, sizeof *vals);
    char **names = ax__calloc((size_t)nt, sizeof *names), step[32];
    if (!t || !keys || !vals || !names) {
        rc = AX_E_NOMEM;
        goto done;
    }
    keys[0] = "axon.config", vals[0] = net->config;
    keys[1] = "format", vals[1] = "pt"; /* what the PyTorch loaders of safetensors expect */
    snprintf(step, sizeof step, "%lld", (long long)ax_net_steps(net));
    keys[2] = "axon.steps", vals[2] = step;
    for (int i = 0; i < nm; i++) keys[3 + i] = mk[i], vals[3 + i] = mv[i];
    for (int k = 0; k < nt; k++) {
        const param *p = &net->params[k % np];
        const char *pre = k < np ? "" : k < 2 * np ? "optim.adam.m." : "optim.adam.v.";
        if (!(names[k] = ax__asprintf("%s%s", pre, p->name))) {
            rc = AX_E_NOMEM;
            goto done;
        }
        t[k] = (ax__st_tensor){names[k], p->ndim, {0}, k < np ? p->data : k < 2 * np ? p->m : p->v};
        memcpy(t[k].shape, p->shape, sizeof p->shape);
    }
    rc = ax__st_write(path, keys, vals, nmeta, t, nt);
done:
    for (int k = 0; names && k < nt; k++) free(names[k]);
    free(names);
    free(t);
    free(keys);
    free(vals);
    return rc;
}

int ax_net_save(const ax_net *net, const char *path, const char *const *mk,
                const char *const *mv, int nm)
{
    return save(net, path, mk, mv, nm, false);
}

int ax_net_save_checkpoint(const ax_net *net, const char *path, const char *const *mk,
                           const char *const *mv, int nm)
{
    return save(net, path, mk, mv, nm, true);
}

int ax_net_load(const char *path, ax_net **out)
{
    *out = NULL;
    ax__st_file *f;
    int rc = ax__st_open(path, &f);
    if (rc) return rc;
    const char *cfg_s = ax__st_meta(f, "axon.config");
    json_error_t e;
    json_t *cfg = cfg_s ? json_loads(cfg_s, 0, &e) : NULL;
    ax_net *net = NULL;
    if (!json_is_object(cfg)) {
        rc = ax__err(AX_E_FORMAT, "%s: no network description (__metadata__[\"axon.config\"])", path);
        goto done;
    }
    if ((rc = create_from_json(cfg, &net))) {
        rc = ax__err_prefix(rc, "%s: axon.config", path);
        goto done;
    }
    int np = net->n_params, known = 0;
    for (int i = 0; i < np && !rc; i++) {
        param *p = &net->params[i];
        rc = ax__st_read(f, p->name, p->ndim, p->shape, p->data);
        known++;
    }
    /* optimiser state, all or nothing */
    char name[96];
    snprintf(name, sizeof name, "optim.adam.m.%s", net->params[0].name);
    if (!rc && ax__st_has(f, name)) {
        for (int i = 0; i < np && !rc; i++) {
            param *p = &net->params[i];
            if ((rc = ensure_state(p, true))) break;
            snprintf(name, sizeof name, "optim.adam.m.%s", p->name);
            if (!(rc = ax__st_read(f, name, p->ndim, p->shape, p->m))) {
                snprintf(name, sizeof name, "optim.adam.v.%s", p->name);
                rc = ax__st_read(f, name, p->ndim, p->shape, p->v);
            }
            known += 2;
        }
        const char *st = ax__st_meta(f, "axon.steps");
        net->adam_t = st ? strtoll(st, NULL, 10) : 0; /* Adam's bias correction resumes */
    } else if (!rc && ax__st_meta(f, "axon.steps")) {
        net->steps_before = strtoll(ax__st_meta(f, "axon.steps"), NULL, 10);
    }
    if (!rc && known != ax__st_count(f)) {
        for (int i = 0; i < ax__st_count(f); i++) {
            const char *n = ax__st_name(f, i);
            bool ok = false;
            for (int k = 0; k < np && !ok; k++)
                ok = !strcmp(n, net->params[k].name) ||
                     (!strncmp(n, "optim.adam.", 11) && strlen(n) > 13 && !strcmp(n + 13, net->params[k].name));
            if (!ok) {
                rc = ax__err(AX_E_FORMAT, "%s: tensor \"%s\" is not a parameter of this network", path, n);
                break;
            }
        }
    }
    if (!rc) net->meta = ax__st_meta_copy(f); /* every metadata string, for ax_net_meta() */
done:
    json_decref(cfg);
    ax__st_close(f);
    if (rc) {
        ax_net_free(net);
        return rc;
    }
    *out = net;
    return AX_OK;
}
