/* cli.c: helpers shared by the axon subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

volatile sig_atomic_t g_interrupted;
bool g_quiet;

void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
    ax_interrupt(); /* running library work stops between blocks */
}

int fail(int rc)
{
    const char *m = ax_errmsg();
    fprintf(stderr, "axon: error: %s\n", m[0] ? m : ax_strerror(rc));
    return 1;
}

int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "axon: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run 'axon help' for usage)\n");
    return 2;
}

bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool parse_f64(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

int parse_list(const char *s, int64_t *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p) return -1;
        out[n++] = v;
        if (*end == ',') p = end + 1;
        else if (*end == 0) p = end;
        else return -1;
    }
    return n;
}

int parse_flist(const char *s, double *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return -1;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v)) return -1;
        out[n++] = v;
        if (*end == ',') p = end + 1;
        else if (*end == 0) p = end;
        else return -1;
    }
    return n;
}

double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

void file_stamp(const char *path, char *buf, size_t n)
{
    struct stat sb;
    if (stat(path, &sb)) snprintf(buf, n, "missing");
    else snprintf(buf, n, "%lld bytes, mtime %lld.%09ld", (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                  (long)sb.st_mtim.tv_nsec);
}
