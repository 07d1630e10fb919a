/* util.c: overflow-checked allocation and atomic file helpers.
 *
 * Every file axon writes goes through ax__file_write_atomic: the data goes to a temporary
 * sibling that is renamed over the target. No fsync: rename already gives all-or-nothing
 * visibility when the process dies, the failure guarded against here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/core_int.h"

void *ax__malloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    return malloc(bytes ? bytes : 1);
}

void *ax__calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

void *ax__aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

void *ax__huge_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge) return ax__aligned_alloc(bytes);
    bytes = (bytes + huge - 1) & ~(huge - 1);
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: fine if the kernel says no */
#endif
    return p;
}

/* thread-local so that concurrent users (two networks on two threads) never share */
static _Thread_local struct {
    void *p;
    size_t n;
} scratch_tl[AX_SCRATCH_SLOTS];

void *ax__scratch(int slot, size_t bytes)
{
    AX_ASSERT(slot >= 0 && slot < AX_SCRATCH_SLOTS);
    if (scratch_tl[slot].n < bytes) {
        free(scratch_tl[slot].p);
        scratch_tl[slot].p = ax__huge_alloc(bytes);
        scratch_tl[slot].n = scratch_tl[slot].p ? bytes : 0;
    }
    return scratch_tl[slot].p;
}

void ax__scratch_release(void)
{
    for (int i = 0; i < AX_SCRATCH_SLOTS; i++) {
        free(scratch_tl[i].p);
        scratch_tl[i].p = NULL;
        scratch_tl[i].n = 0;
    }
}

char *ax__strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *ax__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

bool ax__mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    return !__builtin_mul_overflow(a, b, out);
}

int ax__file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) return AX_E_NOTFOUND;
        return ax__err(AX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ax__err(AX_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return ax__err(AX_E_RANGE, "%s: file is %lld bytes, more than the %zu allowed", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return ax__err(AX_E_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        free(buf);
        return ax__err(AX_E_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    *data = buf;
    *len = n;
    return AX_OK;
}

static atomic_uint tmp_counter;

int ax__file_write_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = ax__asprintf("%s.tmp-%d-%u", path, (int)getpid(),
                             atomic_fetch_add(&tmp_counter, 1));
    if (!tmp) return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ax__err(AX_E_IO, "%s: cannot create: %s", path, strerror(e));
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ax__err(AX_E_IO, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ax__err(AX_E_IO, "%s: close failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ax__err(AX_E_IO, "%s: rename failed: %s", path, strerror(e));
    }
    free(tmp);
    return AX_OK;
}

bool ax__path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool ax__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ax__mkdir_p(const char *path)
{
    char *p = ax__strdup(path);
    if (!p) return ax__err(AX_E_NOMEM, "%s: out of memory", path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == 0) {
            char c = p[i];
            p[i] = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                int rc = ax__err(AX_E_IO, "%s: cannot create directory: %s", p, strerror(e));
                free(p);
                return rc;
            }
            p[i] = c;
        }
    }
    free(p);
    if (!ax__is_dir(path)) return ax__err(AX_E_IO, "%s: exists and is not a directory", path);
    return AX_OK;
}

int ax__rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return AX_OK;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return ax__err(AX_E_IO, "%s: cannot list: %s", path, strerror(errno));
        struct dirent *e;
        int rc = AX_OK;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *sub = ax__path_join(path, e->d_name);
            if (!sub) {
                rc = AX_E_NOMEM;
                break;
            }
            int r = ax__rm_rf(sub);
            free(sub);
            if (r < 0) rc = r;
        }
        closedir(d);
        if (rmdir(path) != 0 && rc == AX_OK)
            rc = ax__err(AX_E_IO, "%s: cannot remove: %s", path, strerror(errno));
        return rc;
    }
    if (unlink(path) != 0) return ax__err(AX_E_IO, "%s: cannot remove: %s", path, strerror(errno));
    return AX_OK;
}

char *ax__path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la && a[la - 1] == '/') return ax__asprintf("%s%s", a, b);
    return ax__asprintf("%s/%s", a, b);
}

char *ax__temp_sibling(const char *path)
{
    char *p = ax__strdup(path);
    if (!p) return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0; /* "out.zarr/" -> "out.zarr" */
    char *slash = strrchr(p, '/');
    char *r;
    if (slash)
        r = ax__asprintf("%.*s/.%s.partial-%d-%u", (int)(slash - p), p, slash + 1,
                         (int)getpid(), atomic_fetch_add(&tmp_counter, 1));
    else
        r = ax__asprintf(".%s.partial-%d-%u", p, (int)getpid(),
                         atomic_fetch_add(&tmp_counter, 1));
    free(p);
    return r;
}

uint64_t ax_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

double ax_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
