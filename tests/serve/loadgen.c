/* loadgen.c: a small HTTP/1.1 load generator for `axon serve` tests (loopback only).
 *
 *   loadgen [-c CONNS] [-n TOTAL] [-t SECONDS] [--close] [--gzip] URL_BASE PATH...
 *   e.g. loadgen -c 64 -n 1000 http://127.0.0.1:8080 /data/image.precomputed/info ...
 *
 * CONNS threads (default 64) each hold one connection (keep-alive, or a new connection per
 * request with --close) and take requests from a shared counter until TOTAL (default 1000)
 * have been sent, cycling through the PATHs. Every answer must be "200" with a body of
 * exactly Content-Length bytes. The whole run is bounded by SECONDS (default 60): past it
 * the process exits 3. Prints one line:
 *   loadgen: N requests, OK ok, F failed, C connections (keep-alive|close), T s, R req/s, M MiB/s
 * and exits 0 when every request was answered 200, 1 otherwise, 2 on usage errors.
 * Refuses any address that is not loopback (127.0.0.0/8).
 *
 * Build: cc -O2 -pthread -o loadgen tests/serve/loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in g_addr;
static char g_host[64];
static char **g_paths;
static int g_npaths;
static int g_total;
static bool g_close, g_gzip;
static atomic_int g_next, g_ok, g_failed;
static atomic_ullong g_bytes;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "loadgen: overall timeout\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(3);
}

static int connect_one(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* One request on fd. Returns 1: 200 with the whole body, 0: another answer, -1: the
 * connection failed (retry on a new one). *keep: the server keeps the connection. */
static int one_request(int fd, const char *path, bool *keep)
{
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: axon-loadgen\r\n%s%s\r\n", path,
                     g_host, g_gzip ? "Accept-Encoding: gzip\r\n" : "",
                     g_close ? "Connection: close\r\n" : "");
    if (n <= 0 || (size_t)n >= sizeof req || !send_all(fd, req, (size_t)n)) return -1;
    char head[16384];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got == sizeof head - 1) return -1;
        ssize_t r = recv(fd, head + got, sizeof head - 1 - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
        head[got] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) return -1;
    long long clen = -1;
    *keep = !g_close;
    for (char *line = strstr(head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (!strncasecmp(h, "Content-Length:", 15)) clen = atoll(h + 15);
        if (!strncasecmp(h, "Connection:", 11)) {
            char *eol = strstr(h, "\r\n"), *cl = strcasestr(h, "close");
            if (cl && cl < eol) *keep = false;
        }
    }
    if (clen < 0) return -1; /* the server always sends Content-Length */
    size_t body = got - (size_t)(end + 4 - head);
    char buf[65536];
    while ((long long)body < clen) {
        size_t want = (size_t)(clen - (long long)body) < sizeof buf ? (size_t)(clen - (long long)body) : sizeof buf;
        ssize_t r = recv(fd, buf, want, 0);
        if (r <= 0) return -1;
        body += (size_t)r;
    }
    if ((long long)body != clen) return -1;
    atomic_fetch_add(&g_bytes, (unsigned long long)body);
    return status == 200 ? 1 : 0;
}

static void *worker(void *arg)
{
    (void)arg;
    int fd = -1;
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (i >= g_total) break;
        const char *path = g_paths[i % g_npaths];
        int rc = -1;
        for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
            /* a kept connection the server closed meanwhile: one retry on a new one */
            if (fd < 0 && (fd = connect_one()) < 0) break;
            bool keep = false;
            rc = one_request(fd, path, &keep);
            if (rc < 0 || !keep) {
                close(fd);
                fd = -1;
            }
        }
        if (rc == 1) atomic_fetch_add(&g_ok, 1);
        else {
            if (atomic_fetch_add(&g_failed, 1) < 5)
                fprintf(stderr, "loadgen: %s: %s\n", path, rc == 0 ? "not 200" : "connection failed");
        }
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int conns = 64, timeout = 60;
    g_total = 1000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) conns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) g_total = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) timeout = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--close")) g_close = true;
        else if (!strcmp(argv[i], "--gzip")) g_gzip = true;
        else {
            fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2 || conns < 1 || conns > 1024 || g_total < 1 || timeout < 1) {
        fprintf(stderr, "usage: loadgen [-c CONNS] [-n TOTAL] [-t SECONDS] [--close] [--gzip] "
                        "http://127.0.0.1:PORT PATH...\n");
        return 2;
    }
    char ip[32];
    int port;
    if (sscanf(argv[i], "http://%31[0-9.]:%d", ip, &port) != 2 || port < 1 || port > 65535) {
        fprintf(stderr, "loadgen: %s: want http://127.x.y.z:PORT\n", argv[i]);
        return 2;
    }
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &g_addr.sin_addr) != 1 || (ntohl(g_addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "loadgen: %s: loopback addresses only\n", ip);
        return 2;
    }
    snprintf(g_host, sizeof g_host, "%s:%d", ip, port);
    g_paths = argv + i + 1;
    g_npaths = argc - i - 1;
    signal(SIGALRM, on_alarm);
    alarm((unsigned)timeout);

    pthread_t *th = calloc((size_t)conns, sizeof *th);
    if (!th) return 1;
    double t0 = now();
    int started = 0;
    for (int k = 0; k < conns; k++) {
        if (pthread_create(&th[k], NULL, worker, NULL) != 0) break;
        started++;
    }
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    double dt = now() - t0;
    free(th);
    int ok = atomic_load(&g_ok), failed = atomic_load(&g_failed);
    printf("loadgen: %d requests, %d ok, %d failed, %d connections (%s), %.3f s, %.0f req/s, "
           "%.1f MiB/s\n",
           g_total, ok, failed, started, g_close ? "close" : "keep-alive", dt, ok / dt,
           (double)atomic_load(&g_bytes) / dt / (1 << 20));
    return ok == g_total ? 0 : 1;
}
