/* test_core.c: errors, the thread pool (every task once, error propagation, nesting, 1
 * vs N threads), SIMD kernels against the generic reference on odd lengths, progress. */
#include <math.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"
#include "core/core_int.h" /* the kernel tables, to test each against generic */

static void test_errors(void)
{
    CHECK(!strcmp(ax_strerror(AX_OK), "success"));
    CHECK(strlen(ax_strerror(AX_E_CORRUPT)) > 0);
    CHECK(!strcmp(ax_strerror(12345), "unknown error"));
    ax_volume *v = (ax_volume *)1;
    CHECK_ERR(ax_volume_open("/no/such/place.zarr", AX_OPEN_READ, &v), AX_E_NOTFOUND,
              "/no/such/place.zarr");
    CHECK(v == NULL);
    ax_errclear();
    CHECK(ax_errmsg()[0] == 0);
    CHECK(ax_version_number() == AX_VERSION_NUMBER);
}

typedef struct {
    atomic_int *hits;
    int64_t fail_at;
    atomic_int ran;
    atomic_int max_slot;
} pool_ctx;

static int count_task(void *ctx, int64_t i, int thread)
{
    pool_ctx *c = ctx;
    atomic_fetch_add(&c->hits[i], 1);
    atomic_fetch_add(&c->ran, 1);
    int m = atomic_load(&c->max_slot);
    while (thread > m && !atomic_compare_exchange_weak(&c->max_slot, &m, thread)) {
    }
    if (i == c->fail_at) {
        char msg[64];
        snprintf(msg, sizeof msg, "task %lld failed on purpose", (long long)i);
        /* set through a failing library call so the message is the library's own */
        ax_volume *v;
        ax_volume_open("/definitely/missing/task.zarr", AX_OPEN_READ, &v);
        return AX_E_CORRUPT;
    }
    return AX_OK;
}

static int nested_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    (void)i;
    pool_ctx inner = {.hits = ((pool_ctx *)ctx)->hits + 0, .fail_at = -1};
    atomic_int local[16];
    for (int k = 0; k < 16; k++) atomic_init(&local[k], 0);
    inner.hits = local;
    int rc = ax_parallel_for(16, count_task, &inner);
    if (rc) return rc;
    for (int k = 0; k < 16; k++)
        if (atomic_load(&local[k]) != 1) return AX_E_INTERNAL;
    return AX_OK;
}

static void test_pool(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        CHECK_OK(ax_threads_set(threads));
        CHECK(ax_threads_get() == threads);
        enum { N = 10007 };
        static atomic_int hits[N];
        for (int i = 0; i < N; i++) atomic_init(&hits[i], 0);
        pool_ctx c = {.hits = hits, .fail_at = -1};
        atomic_init(&c.ran, 0);
        atomic_init(&c.max_slot, 0);
        CHECK_OK(ax_parallel_for(N, count_task, &c));
        int once = 1;
        for (int i = 0; i < N; i++) once &= atomic_load(&hits[i]) == 1;
        CHECK(once);
        CHECK(atomic_load(&c.max_slot) < threads);
        /* an error stops the job and its message reaches this thread */
        for (int i = 0; i < N; i++) atomic_init(&hits[i], 0);
        c.fail_at = 77;
        ax_errclear();
        CHECK_ERR(ax_parallel_for(N, count_task, &c), AX_E_CORRUPT, "task.zarr");
        /* nesting runs serially inside a task instead of deadlocking */
        CHECK_OK(ax_parallel_for(8, nested_task, &c));
    }
    CHECK(ax_threads_set(-1) == AX_E_INVALID);
    CHECK_OK(ax_threads_set(0));
    CHECK(ax_threads_get() >= 1);
}

/* the kernel table is internal: reach it through what uses it. bswap is exercised via
 * big-endian zarr/N5 reads; here minmax through rendering and the dispatch switch itself */
static void test_simd_dispatch(void)
{
    const char *first = ax_simd_name();
    CHECK(!strcmp(first, "generic") || !strcmp(first, "avx2"));
    CHECK_OK(ax_simd_set("generic"));
    CHECK(!strcmp(ax_simd_name(), "generic"));
    CHECK(ax_simd_set("sse9") == AX_E_INVALID);
    if ((ax_cpu_features() & (AX_CPU_AVX2 | AX_CPU_FMA)) == (AX_CPU_AVX2 | AX_CPU_FMA)) {
        CHECK_OK(ax_simd_set("avx2"));
        CHECK(!strcmp(ax_simd_name(), "avx2"));
    } else {
        CHECK(ax_simd_set("avx2") == AX_E_UNSUPPORTED);
    }
    CHECK_OK(ax_simd_set("auto"));
}

static void check_kernels(const ax__kernels *k)
{
    const ax__kernels *g = &ax__kernels_generic;
    unsigned long long seed = 7;
    for (size_t n = 0; n < 300; n += (n < 40 ? 1 : 37)) {
        uint8_t a[300 * 8], b[300 * 8];
        for (size_t i = 0; i < sizeof a; i++) a[i] = b[i] = (uint8_t)test_rand(&seed);
        k->bswap16(a, n);
        g->bswap16(b, n);
        CHECK(!memcmp(a, b, sizeof a));
        k->bswap32(a, n);
        g->bswap32(b, n);
        CHECK(!memcmp(a, b, sizeof a));
        k->bswap64(a, n);
        g->bswap64(b, n);
        CHECK(!memcmp(a, b, sizeof a));
        float f[300];
        for (size_t i = 0; i < n; i++) f[i] = (float)((double)(test_rand(&seed) % 20001) - 10000) / 7.f;
        if (n > 5) f[n / 2] = NAN, f[n - 1] = NAN, f[1] = INFINITY;
        float mn1, mx1, mn2, mx2;
        size_t nan1, nan2;
        k->minmax_f32(f, n, &mn1, &mx1, &nan1);
        g->minmax_f32(f, n, &mn2, &mx2, &nan2);
        CHECK(mn1 == mn2 && mx1 == mx2 && nan1 == nan2);
        if (n > 5) CHECK(nan1 == 2 && mx1 == INFINITY);
    }
    /* shuffle: against generic for every element size, and unshuffle inverts it */
    for (size_t esz = 1; esz <= 9; esz++)
        for (size_t n = 0; n < 700; n += (n < 70 ? 1 : 61)) {
            uint8_t src[700], a1[700], a2[700], b1[700];
            for (size_t i = 0; i < n; i++) src[i] = (uint8_t)test_rand(&seed);
            k->shuffle(src, a1, n, esz);
            g->shuffle(src, a2, n, esz);
            CHECK(!memcmp(a1, a2, n));
            k->unshuffle(a1, b1, n, esz);
            CHECK(!memcmp(b1, src, n));
        }
    {   /* hand-computed: two uint16 elements 0x0201, 0x0403 -> planes {01 03} {02 04} */
        const uint8_t in[4] = {1, 2, 3, 4}, want[4] = {1, 3, 2, 4};
        uint8_t o[4];
        k->shuffle(in, o, 4, 2);
        CHECK(!memcmp(o, want, 4));
    }
    /* hand-computed: 0x0102 -> 0x0201 */
    uint16_t x = 0x0102;
    k->bswap16(&x, 1);
    CHECK(x == 0x0201);
    uint64_t y = 0x0102030405060708ull;
    k->bswap64(&y, 1);
    CHECK(y == 0x0807060504030201ull);
}

static void test_kernels(void)
{
    check_kernels(&ax__kernels_generic);
#ifdef AX_HAVE_AVX2
    if ((ax_cpu_features() & (AX_CPU_AVX2 | AX_CPU_FMA)) == (AX_CPU_AVX2 | AX_CPU_FMA))
        check_kernels(&ax__kernels_avx2);
    else
        fprintf(stderr, "  (no AVX2 on this CPU: avx2 kernels not run)\n");
#endif
}

static void test_progress(void)
{
    /* NULL-safe, and counts from several threads */
    ax_progress_add(NULL, 5);
    ax_progress_done(NULL);
    setenv("AX_PROGRESS", "0", 1);
    ax_progress *p = ax_progress_new("test", 100);
    CHECK(p != NULL);
    for (int i = 0; i < 100; i++) ax_progress_add(p, 1);
    ax_progress_done(p);
    CHECK(ax_peak_rss_bytes() > 0);
    double t0 = ax_time_now();
    CHECK(ax_time_now() >= t0);
}

int main(void)
{
    RUN(test_errors);
    RUN(test_pool);
    RUN(test_simd_dispatch);
    RUN(test_kernels);
    RUN(test_progress);
    return TEST_REPORT();
}
