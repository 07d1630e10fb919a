/* cmd_serve.c: `axon serve DIR`: a small HTTP server (libmicrohttpd) for a Neuroglancer
 * precomputed dataset, with the Neuroglancer viewer and a start page preloaded with the
 * dataset's layers.
 *
 * DESIGN: libmicrohttpd with its own listening thread and a pool of worker threads (epoll
 * on Linux); each request is answered on its first callback by serve_handle()
 * (serve_http.c), files going out with sendfile. The main thread blocks SIGINT and SIGTERM
 * before the workers start (they inherit the mask), then waits for one of them with
 * sigwait() and stops the daemon, which closes every connection: a clean exit 0.
 *
 * LIMITS (so that a client cannot exhaust it): at most SERVE_CONNECTIONS connections
 * (SERVE_PER_IP from one address), idle connections closed after SERVE_TIMEOUT_S seconds,
 * SERVE_CONN_MEMORY bytes per connection for the request line and headers (more: MHD
 * answers 414 or 431 and closes), request paths over SERVE_URL_MAX bytes 414, bodies 413.
 * Binds 127.0.0.1 unless told otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

#define SERVE_CONNECTIONS 512u
#define SERVE_PER_IP 256u
#define SERVE_TIMEOUT_S 30u
#define SERVE_CONN_MEMORY ((size_t)32 << 10)
#define SERVE_TEMPLATE_MAX (1 << 20)
#define SERVE_DEFAULT_PORT 8080

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: axon serve DIR [--port N] [--host H] [--web DIR] [--no-browser-page]\n"
            "                      [--workers N] [--segments N] [--timeout S] [--gzip] [--log]\n"
            "\n"
            "Serve the Neuroglancer precomputed dataset in DIR over HTTP, with the Neuroglancer\n"
            "viewer and a start page that opens it with every volume of DIR as a layer.\n"
            "\n"
            "  DIR                  DIR/<name>/info for each volume (or DIR/info: DIR is one volume);\n"
            "                       \"type\": \"segmentation\" makes a segmentation layer, with the\n"
            "                       meshes and skeletons its info names\n"
            "  --port N             TCP port (default %d; 0: any free port)\n"
            "  --host H             address to listen on (default 127.0.0.1: this machine only).\n"
            "                       0.0.0.0 or :: open it to the network: anyone who can reach the\n"
            "                       port can read every file under DIR\n"
            "  --web DIR            where the viewer files are: DIR/neuroglancer/ (the Neuroglancer\n"
            "                       bundle, index.html + main.bundle.js) and DIR/index.html (the\n"
            "                       start page template). Default: web/ beside the axon binary\n"
            "                       (build/web/, which scripts/neuroglancer.sh fills); the template\n"
            "                       falls back to the source tree's web/index.html (../web/ from\n"
            "                       the binary). Without a bundle, / links to the public Neuroglancer.\n"
            "  --no-browser-page    serve /data/ only: no start page, no viewer\n"
            "  --workers N          worker threads (default 4)\n"
            "  --segments N         select the N largest segments of segmentations that have meshes\n"
            "                       or skeletons (default 8; 0: none)\n"
            "  --timeout S          close connections idle for S seconds (default %u)\n"
            "  --gzip               compress responses on the fly for clients that accept gzip\n"
            "                       (worth it over a slow network, not on this machine)\n"
            "  --log                one line per request (and libmicrohttpd's complaints) on stderr\n"
            "\n"
            "URLs: /  the start page (opens Neuroglancer), /neuroglancer/  the viewer,\n"
            "      /data/<name>/...  the files of DIR (GET, HEAD, Range, CORS; gzip-stored chunks\n"
            "      are sent with Content-Encoding: gzip).\n"
            "Refused: paths with '..', '.', hidden names, backslashes, encoded '/' or NUL, symlinks\n"
            "out of DIR (403); methods other than GET, HEAD, OPTIONS (405); request bodies (413);\n"
            "paths over %d bytes (414); request headers over %zu KiB (431). At most %u connections,\n"
            "%u from one address.\n"
            "Prints \"axon serve: http://HOST:PORT/\" once listening; Ctrl-C or SIGTERM stop it\n"
            "(exit 0).\n",
            SERVE_DEFAULT_PORT, SERVE_TIMEOUT_S, SERVE_URL_MAX, SERVE_CONN_MEMORY >> 10,
            SERVE_CONNECTIONS, SERVE_PER_IP);
}

/* libmicrohttpd's messages: at start-up (why it cannot listen), later only with --log (a
 * client sending garbage must not fill the terminal) */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const serve_ctx *ctx = cls;
    if (g_quiet || (atomic_load(&ctx->running) && !ctx->log)) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
    fprintf(stderr, "axon serve: httpd: %s\n", msg);
}

/* The directory of the running binary (for the default --web). */
static bool exe_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) return false;
    buf[len] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return false;
    *slash = 0;
    return true;
}

static char *read_text(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

/* the start page without a template: enough to find the data */
static const char fallback_template[] =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>axon serve</title></head><body>\n"
    "<p>axon serve: the start page template (web/index.html) was not found; see axon serve "
    "--help (--web). The dataset is served under /data/. Its layers:</p>\n"
    "<pre id=\"c\"></pre><script>const AXON = {{AXON_CONFIG}};\n"
    "document.getElementById('c').textContent = JSON.stringify(AXON, null, 1);</script>\n"
    "</body></html>\n";

int cmd_serve(int argc, char **argv)
{
    const char *dir = NULL, *host = "127.0.0.1", *web = NULL;
    int64_t port = SERVE_DEFAULT_PORT, workers = 4, segments = 8, timeout = SERVE_TIMEOUT_S;
    bool page = true, log = false, gzip = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--port") && more) {
            if (!parse_i64(argv[++i], &port) || port < 0 || port > 65535)
                return usage_error("serve: --port '%s': a number from 0 to 65535", argv[i]);
        } else if (!strcmp(a, "--host") && more) {
            host = argv[++i];
        } else if (!strcmp(a, "--web") && more) {
            web = argv[++i];
        } else if (!strcmp(a, "--workers") && more) {
            if (!parse_i64(argv[++i], &workers) || workers < 1 || workers > 64)
                return usage_error("serve: --workers '%s': a number from 1 to 64", argv[i]);
        } else if (!strcmp(a, "--segments") && more) {
            if (!parse_i64(argv[++i], &segments) || segments < 0 || segments > 64)
                return usage_error("serve: --segments '%s': a number from 0 to 64", argv[i]);
        } else if (!strcmp(a, "--timeout") && more) {
            if (!parse_i64(argv[++i], &timeout) || timeout < 1 || timeout > 3600)
                return usage_error("serve: --timeout '%s': seconds from 1 to 3600", argv[i]);
        } else if (!strcmp(a, "--no-browser-page")) {
            page = false;
        } else if (!strcmp(a, "--log")) {
            log = true;
        } else if (!strcmp(a, "--gzip")) {
            gzip = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("serve: unknown option or missing value: %s", a);
        } else if (!dir) {
            dir = a;
        } else {
            return usage_error("serve: unexpected argument %s", a);
        }
    }
    if (!dir) return usage_error("%s", "serve: which directory? (axon serve --help)");

    int status = 1;
    serve_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.log = log;
    ctx.gzip = gzip;
    struct addrinfo *ai = NULL;
    char *template_html = NULL;
    struct MHD_Daemon *d = NULL;

    struct stat st;
    if (!(ctx.data_root = realpath(dir, NULL)) || stat(ctx.data_root, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "axon: error: %s: %s\n", dir, ctx.data_root ? "not a directory" : strerror(errno));
        goto out;
    }

    /* the address */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai || !ai) {
        fprintf(stderr, "axon: error: --host %s: %s\n", host, gai_strerror(gai));
        goto out;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    bool v6 = addr.ss_family == AF_INET6;
    if (v6) ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)port);
    else ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)port);
    if (!is_loopback((struct sockaddr *)&addr))
        fprintf(stderr, "axon serve: warning: listening on %s, not on loopback: anyone who can "
                        "reach this port can read every file under %s\n", host, ctx.data_root);

    /* the viewer and the page */
    if (page) {
        char exe[PATH_MAX], webdir[PATH_MAX + 16], path[PATH_MAX + 64];
        bool have_exe = exe_dir(exe, sizeof exe);
        if (web) snprintf(webdir, sizeof webdir, "%s", web);
        else if (have_exe) snprintf(webdir, sizeof webdir, "%s/web", exe);
        else webdir[0] = 0;
        snprintf(path, sizeof path, "%s/neuroglancer/index.html", webdir);
        if (webdir[0] && !access(path, R_OK)) {
            snprintf(path, sizeof path, "%s/neuroglancer", webdir);
            ctx.web_root = realpath(path, NULL);
        }
        if (!ctx.web_root && !g_quiet)
            fprintf(stderr, "axon serve: no Neuroglancer bundle in %s/neuroglancer (scripts/"
                            "neuroglancer.sh installs it); the start page links to the public "
                            "Neuroglancer instead\n", webdir[0] ? webdir : "(unknown)");
        snprintf(path, sizeof path, "%s/index.html", webdir);
        template_html = webdir[0] ? read_text(path, SERVE_TEMPLATE_MAX) : NULL;
        if (!template_html && !web && have_exe) {
            snprintf(path, sizeof path, "%s/../web/index.html", exe);
            template_html = read_text(path, SERVE_TEMPLATE_MAX);
        }
        char err[512] = "";
        int n_layers = 0;
        ctx.page = serve_page_build(ctx.data_root, template_html ? template_html : fallback_template,
                                    ctx.web_root != NULL, (int)segments, &ctx.page_len, &n_layers,
                                    err, sizeof err);
        if (!ctx.page) {
            fprintf(stderr, "axon: error: start page: %s\n", err);
            goto out;
        }
        if (!g_quiet) {
            if (!template_html)
                fprintf(stderr, "axon serve: no start page template (web/index.html) found; "
                                "serving a bare page\n");
            fprintf(stderr, "axon serve: %d layer%s from %s\n", n_layers, n_layers == 1 ? "" : "s",
                    ctx.data_root);
        }
    }

    /* signals: blocked here and in every worker (inherited), taken by sigwait below */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (v6) flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, serve_handle, &ctx,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &ctx,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)workers,
                         MHD_OPTION_CONNECTION_LIMIT, SERVE_CONNECTIONS,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, SERVE_PER_IP,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVE_CONN_MEMORY,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u,
                         MHD_OPTION_UNESCAPE_CALLBACK, serve_unescape, NULL,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "axon: error: cannot listen on %s port %lld (%s)\n", host, (long long)port,
                errno ? strerror(errno) : "libmicrohttpd refused");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        goto out;
    }
    atomic_store(&ctx.running, true);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di && di->port ? di->port : (unsigned)port;
    printf("axon serve: http://%s%s%s:%u/\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stdout);
    if (!g_quiet)
        fprintf(stderr, "axon serve: %s/data/ is %s; Ctrl-C stops\n",
                page ? "/ opens Neuroglancer, " : "", ctx.data_root);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    MHD_stop_daemon(d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!g_quiet)
        fprintf(stderr, "axon serve: stopped (%s): %llu requests, %llu refused, %.1f MiB sent\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)atomic_load(&ctx.requests),
                (unsigned long long)atomic_load(&ctx.refused), mib(atomic_load(&ctx.bytes_sent)));
    status = 0;
out:
    if (ai) freeaddrinfo(ai);
    free(template_html);
    free(ctx.page);
    free(ctx.web_root);
    free(ctx.data_root);
    return status;
}
