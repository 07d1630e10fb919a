/* test_erl.c: expected run length on hand-worked cases (include/axon/eval.h) */
#include <math.h>
#include <unistd.h>

#include "test.h"

static bool near(double a, double b, double tol) { return fabs(a - b) <= tol; }

/* a polyline of n vertices along x, spaced `step` nm, starting at x0 (y = y0) */
static ax_skeleton *line(uint64_t id, int n, float x0, float y0, float step)
{
    ax_skeleton *s = calloc(1, sizeof *s);
    s->id = id;
    s->n_vertices = n;
    s->vertices = calloc((size_t)n * 3, sizeof(float));
    s->n_edges = n - 1;
    s->edges = calloc((size_t)(n - 1) * 2, sizeof(uint32_t));
    for (int i = 0; i < n; i++) {
        s->vertices[3 * i] = x0 + step * (float)i;
        s->vertices[3 * i + 1] = y0;
        s->vertices[3 * i + 2] = 5; /* z */
    }
    for (int i = 0; i + 1 < n; i++) {
        s->edges[2 * i] = (uint32_t)i;
        s->edges[2 * i + 1] = (uint32_t)(i + 1);
    }
    return s;
}

static void test_hand_cases(void)
{
    /* A: 3 vertices, 20 nm; B: 2 vertices, 5 nm. L = 25. */
    ax_skeleton *sk[2] = {line(1, 3, 0, 0, 10), line(2, 2, 0, 50, 5)};
    ax_erl_result r;
    /* perfect: (20^2 + 5^2) / 25 = 17 */
    uint64_t a1[3] = {1, 1, 1}, b1[2] = {2, 2};
    const uint64_t *l1[2] = {a1, b1};
    CHECK_OK(ax_erl_lut(sk, 2, l1, &r));
    CHECK(near(r.erl, 17, 1e-9) && near(r.max_erl, 17, 1e-9) && near(r.total_length, 25, 1e-9));
    CHECK(r.merges == 0 && r.splits == 0 && r.split_edges == 0 && r.skeletons == 2);
    /* one merge: B in segment 1 too, so every edge counts zero */
    uint64_t b2[2] = {1, 1};
    const uint64_t *l2[2] = {a1, b2};
    CHECK_OK(ax_erl_lut(sk, 2, l2, &r));
    CHECK(r.erl == 0 && r.merges == 1 && r.merged_edges == 3 && near(r.max_erl, 17, 1e-9));
    /* one split: A's last vertex in segment 3: (10^2 + 5^2) / 25 = 5 */
    uint64_t a3[3] = {1, 1, 3};
    const uint64_t *l3[2] = {a3, b1};
    CHECK_OK(ax_erl_lut(sk, 2, l3, &r));
    CHECK(near(r.erl, 5, 1e-9) && r.splits == 1 && r.split_edges == 1 && r.merges == 0);
    /* A's middle vertex unsegmented: both its edges omitted: 5^2 / 25 = 1 */
    uint64_t a4[3] = {1, 0, 1};
    const uint64_t *l4[2] = {a4, b1};
    CHECK_OK(ax_erl_lut(sk, 2, l4, &r));
    CHECK(near(r.erl, 1, 1e-9) && r.omitted_edges == 2 && r.splits == 0);
    /* funlib sums a skeleton's edges per segment whether or not they are connected:
     * A2 = 5 vertices 10 nm apart in segments 1 1 2 1 1: l(1) = 20, l(2) = 0, L = 40 + 5 */
    ax_skeleton *sk2[2] = {line(1, 5, 0, 0, 10), sk[1]};
    uint64_t a5[5] = {1, 1, 2, 1, 1}, b5[2] = {4, 4};
    const uint64_t *l5[2] = {a5, b5};
    CHECK_OK(ax_erl_lut(sk2, 2, l5, &r));
    CHECK(near(r.erl, (20.0 * 20 + 25) / 45, 1e-9) && r.split_edges == 2 && r.splits == 1);
    /* and B in A's stray segment 2 makes 2 a merge: B counts zero, A keeps its 20 */
    const uint64_t *l6[2] = {a5, b1};
    CHECK_OK(ax_erl_lut(sk2, 2, l6, &r));
    CHECK(near(r.erl, 20.0 * 20 / 45, 1e-9) && r.merges == 1 && r.merged_edges == 1);
    /* a malformed edge is refused, naming the skeleton */
    sk[0]->edges[1] = 7;
    CHECK_ERR(ax_erl_lut(sk, 2, l1, &r), AX_E_INVALID, "names vertex 7");
    sk[0]->edges[1] = 1;
    ax_skeleton_free(sk2[0]);
    ax_skeleton_free(sk[0]);
    ax_skeleton_free(sk[1]);
}

/* the same case through a label volume: vertices looked up at floor((p - offset) / voxel) */
static void test_volume_lookup(void)
{
    char dir[] = "/tmp/axon-test-erl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/seg.zarr", dir);
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_U64;
    p.ndim = 3;
    int64_t shape[3] = {2, 12, 12};
    for (int d = 0; d < 3; d++) p.shape[d] = p.chunks[d] = shape[d];
    p.has_voxel_size = true;
    p.voxel_size[0] = 8, p.voxel_size[1] = 5, p.voxel_size[2] = 5; /* z, y, x nm */
    uint64_t lab[2 * 12 * 12] = {0};
    for (int z = 0; z < 2; z++)
        for (int x = 0; x < 12; x++) {
            lab[(z * 12 + 0) * 12 + x] = 1;  /* A at y = 0 nm: row 0 */
            lab[(z * 12 + 10) * 12 + x] = 2; /* B at y = 50 nm: row 10 */
        }
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &p, &v));
    int64_t s0[3] = {0, 0, 0};
    CHECK_OK(ax_volume_write_region(v, s0, shape, AX_DTYPE_U64, lab));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    ax_skeleton *sk[2] = {line(1, 3, 0, 0, 10), line(2, 2, 0, 50, 5)};
    ax_erl_result r;
    CHECK_OK(ax_erl_volume(sk, 2, v, &r));
    CHECK(near(r.erl, 17, 1e-9) && r.merges == 0);
    /* a vertex outside the volume is in segment 0 */
    sk[0]->vertices[6] = 1000;
    CHECK_OK(ax_erl_volume(sk, 2, v, &r));
    CHECK(near(r.erl, (10.0 * 10 + 25) / (10 + 990 + 5), 1e-6) && r.omitted_edges == 1);
    ax_volume_close(v);
    ax_skeleton_free(sk[0]);
    ax_skeleton_free(sk[1]);
    ax_volume_remove(dir);
}

int main(void)
{
    RUN(test_hand_cases);
    RUN(test_volume_lookup);
    return TEST_REPORT();
}
