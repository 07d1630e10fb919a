/* serve_http.c: how `axon serve` answers one HTTP request (libmicrohttpd access handler).
 *
 * Routes:  /                 the start page (Neuroglancer with the dataset's layers)
 *          /data/PATH        files under DIR (the precomputed dataset)
 *          /neuroglancer/PATH  files of the Neuroglancer bundle (--web)
 * Everything else is 404. GET and HEAD only (OPTIONS answers CORS preflights); other
 * methods are 405, request bodies 413, request paths over SERVE_URL_MAX bytes 414.
 *
 * SECURITY: a request path is checked segment by segment before it touches the file
 * system: no empty, "." or ".." segment, no hidden (dot) names, no backslash, no control
 * byte. Percent escapes are decoded once, by serve_unescape(), which turns "%00" and
 * "%2f" into a control byte so that they are refused too ("%2e%2e" decodes to ".." and is
 * refused as such). The joined path is then resolved with realpath(3) and must still lie
 * under the root's realpath (a symlink in DIR may point elsewhere in DIR, never outside);
 * the resolved file is opened with O_NOFOLLOW and must be a regular file. Directories are
 * never listed. The check and the open are two steps: someone who can write into DIR
 * between them could swap a path component, which DIR's owner can do anyway.
 *
 * Responses: files go out with sendfile (MHD fd responses) and need no buffer. Range:
 * one range (bytes=a-b, a-, -n) gives 206 + Content-Range, an unsatisfiable one 416,
 * several ranges the whole file. A data file stored gzip-compressed (magic 1f 8b, as
 * precomputed writers may store chunks; also "NAME.gz" beside a missing NAME, the way
 * cloud-volume stores them locally) goes out as is with Content-Encoding: gzip when the
 * client accepts gzip, else inflated in memory (at most SERVE_INFLATE_MAX bytes). With
 * --gzip, other whole responses of SERVE_GZIP_MIN..SERVE_GZIP_MAX bytes (data, and the
 * viewer's text) are compressed on the fly (zlib level 1) for clients that accept gzip,
 * when that saves at least 10%.
 * Every response carries Access-Control-Allow-Origin: *.
 *
 * Threads: called on MHD's worker threads; touches only the request and the read-only
 * serve_ctx (plus its atomic counters).
 */
#include "serve.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CORS_EXPOSE "Content-Length, Content-Range, Content-Encoding, Accept-Ranges"

/* ---- small pure helpers ------------------------------------------------------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

size_t serve_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    const char *r = s;
    while (*r) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval((unsigned char)r[1])) >= 0 &&
            (lo = hexval((unsigned char)r[2])) >= 0) {
            int v = hi * 16 + lo;
            if (v == 0 || v == '/') v = 0x01; /* refused later as a control byte */
            *w++ = (char)v;
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* Is rel ("a/b/c", no leading '/') a path we may look up? */
static bool rel_path_ok(const char *rel)
{
    const char *p = rel;
    for (;;) {
        const char *seg = p;
        while (*p && *p != '/') {
            unsigned char ch = (unsigned char)*p;
            if (ch < 0x20 || ch == 0x7f || ch == '\\') return false;
            p++;
        }
        if (p == seg || seg[0] == '.') return false; /* "", ".", "..", hidden names */
        if (!*p) return true;
        p++;
    }
}

int serve_open_under(const char *root, const char *rel, uint64_t *size)
{
    if (!*rel) return -404; /* the root itself: no listings */
    if (!rel_path_ok(rel)) return -403;
    char path[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path) return -404;
    if (!realpath(path, real)) return errno == EACCES ? -403 : -404;
    size_t rl = strlen(root);
    if (rl == 1) rl = 0; /* root "/" */
    if (strncmp(real, root, rl) != 0 || real[rl] != '/') return -403;
    /* the resolved name must not be hidden either (a symlink to DIR/.secret) */
    if (!rel_path_ok(real + rl + 1)) return -403;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == EACCES ? -403 : -404;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -404;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static bool is_manifest_name(const char *name)
{
    /* legacy precomputed mesh manifests: "<segment id>:<lod>" */
    const char *p = name;
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != ':' || !isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p)) p++;
    return *p == 0;
}

const char *serve_mime_type(const char *path, bool data)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"}, {"json", "application/json"},
        {"map", "application/json"}, {"wasm", "application/wasm"}, {"png", "image/png"},
        {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"svg", "image/svg+xml"},
        {"ico", "image/x-icon"}, {"txt", "text/plain; charset=utf-8"},
        {"md", "text/plain; charset=utf-8"}, {"gz", "application/gzip"},
    };
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    if (data && (!strcmp(name, "info") || !strcmp(name, "info.gz") || is_manifest_name(name)))
        return "application/json";
    const char *dot = strrchr(name, '.');
    if (dot && dot != name) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext)) {
                /* precomputed chunks stored as NAME.gz are still chunks */
                if (data && !strcmp(types[i].ext, "gz")) break;
                return types[i].type;
            }
    }
    return "application/octet-stream";
}

/* digits -> value; false on no digits or overflow (then *v is UINT64_MAX) */
static bool parse_u64(const char **pp, uint64_t *v)
{
    const char *p = *pp;
    uint64_t x = 0;
    bool over = false;
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p++ - '0');
        if (x > (UINT64_MAX - d) / 10) over = true;
        else x = x * 10 + d;
    }
    *pp = p;
    *v = over ? UINT64_MAX : x;
    return true;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

int serve_parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    if (!h) return 0;
    const char *p = skip_ws(h);
    if (strncasecmp(p, "bytes", 5)) return 0;
    p = skip_ws(p + 5);
    if (*p++ != '=') return 0;
    p = skip_ws(p);
    if (strchr(p, ',')) return 0; /* several ranges: send the whole representation */
    uint64_t first, last;
    if (*p == '-') {
        p++;
        if (!parse_u64(&p, &last) || *skip_ws(p)) return 0;
        if (last == 0 || size == 0) return -1;
        *a = last >= size ? 0 : size - last;
        *b = size - 1;
        return 1;
    }
    if (!parse_u64(&p, &first)) return 0;
    p = skip_ws(p);
    if (*p++ != '-') return 0;
    p = skip_ws(p);
    bool open_end = !isdigit((unsigned char)*p);
    if (!open_end && !parse_u64(&p, &last)) return 0;
    if (*skip_ws(p)) return 0;
    if (!open_end && last < first) return 0; /* invalid: ignored */
    if (first >= size) return -1;
    *a = first;
    *b = open_end || last >= size ? size - 1 : last;
    return 1;
}

bool serve_accepts_gzip(const char *h)
{
    if (!h) return false;
    const char *p = h;
    while (*p) {
        p = skip_ws(p);
        const char *name = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - name);
        bool match = (n == 4 && !strncasecmp(name, "gzip", 4)) ||
                     (n == 6 && !strncasecmp(name, "x-gzip", 6)) || (n == 1 && *name == '*');
        double q = 1;
        while (*p && *p != ',') {
            p = skip_ws(p);
            if (*p == ';') {
                p = skip_ws(p + 1);
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                    char *end;
                    q = strtod(p + 2, &end);
                    p = end;
                    continue;
                }
            }
            if (*p && *p != ',') p++;
        }
        if (match && q > 0) return true;
        if (*p == ',') p++;
    }
    return false;
}

/* ---- responses ------------------------------------------------------------------------- */

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static void log_request(serve_ctx *ctx, const char *method, const char *url, unsigned status,
                        uint64_t bytes)
{
    if (status >= 400) atomic_fetch_add(&ctx->refused, 1);
    atomic_fetch_add(&ctx->bytes_sent, bytes);
    if (!ctx->log) return;
    /* the path may hold control bytes: print them escaped */
    char clean[256];
    size_t n = 0;
    for (const char *p = url; *p && n + 5 < sizeof clean; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch >= 0x7f) n += (size_t)snprintf(clean + n, sizeof clean - n, "\\x%02x", ch);
        else clean[n++] = (char)ch;
    }
    clean[n] = 0;
    fprintf(stderr, "axon serve: %s %s%s %u %llu\n", method, clean, *url && n + 5 >= sizeof clean ? "..." : "",
            status, (unsigned long long)bytes);
}

static serve_result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (!r) return MHD_NO; /* out of memory: MHD closes the connection */
    serve_result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static serve_result reply_text(serve_ctx *ctx, struct MHD_Connection *c, const char *method,
                               const char *url, unsigned status, const char *msg)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
    log_request(ctx, method, url, status, strlen(msg));
    return queue(c, status, r);
}

static serve_result reply_status(serve_ctx *ctx, struct MHD_Connection *c, const char *method,
                                 const char *url, int code)
{
    switch (code) {
    case 403: return reply_text(ctx, c, method, url, 403, "403 forbidden\n");
    case 404: return reply_text(ctx, c, method, url, 404, "404 not found\n");
    case 405: return reply_text(ctx, c, method, url, 405, "405 method not allowed\n");
    case 413: return reply_text(ctx, c, method, url, 413, "413 request body not accepted\n");
    case 414: return reply_text(ctx, c, method, url, 414, "414 request path too long\n");
    default: return reply_text(ctx, c, method, url, 500, "500 internal error\n");
    }
}

static serve_result reply_preflight(serve_ctx *ctx, struct MHD_Connection *c, const char *url)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Range, Content-Type, Accept-Encoding");
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
    log_request(ctx, "OPTIONS", url, 204, 0);
    return queue(c, MHD_HTTP_NO_CONTENT, r);
}

static serve_result reply_page(serve_ctx *ctx, struct MHD_Connection *c, const char *method,
                               const char *url)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(ctx->page_len, ctx->page, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    log_request(ctx, method, url, 200, ctx->page_len);
    return queue(c, MHD_HTTP_OK, r);
}

/* Read all of fd (size bytes) and inflate the gzip stream into a new buffer. */
static int inflate_file(int fd, uint64_t size, uint8_t **out, size_t *out_len)
{
    if (size > SERVE_INFLATE_MAX) return -1;
    uint8_t *in = malloc(size ? (size_t)size : 1), *buf = NULL;
    if (!in) return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, in + got, (size_t)size - got, (off_t)got);
        if (n <= 0) {
            free(in);
            return -1;
        }
        got += (size_t)n;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(in);
        return -1;
    }
    size_t cap = size * 4 > (1u << 16) ? (size_t)size * 4 : (1u << 16), len = 0;
    int zr = Z_OK;
    zs.next_in = in;
    zs.avail_in = (uInt)size;
    while (zr != Z_STREAM_END) {
        if (!buf || len == cap) {
            if (buf) cap *= 2;
            if (cap > SERVE_INFLATE_MAX) cap = SERVE_INFLATE_MAX;
            if (buf && len == cap) break; /* too large */
            uint8_t *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        zs.next_out = buf + len;
        zs.avail_out = (uInt)(cap - len);
        zr = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END) break;
        if (zr == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break; /* truncated */
    }
    inflateEnd(&zs);
    free(in);
    if (zr != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Worth compressing on the fly? Data files (chunks, info, meshes) and the viewer's text. */
static bool compressible(const char *type, bool data)
{
    if (data) return strcmp(type, "image/png") && strcmp(type, "image/jpeg");
    return !strncmp(type, "text/", 5) || !strcmp(type, "application/json") ||
           !strcmp(type, "application/wasm") || !strcmp(type, "image/svg+xml");
}

/* Read all of fd (size bytes) and gzip it (level 1: fast) into a new buffer. */
static int deflate_file(int fd, uint64_t size, uint8_t **out, size_t *out_len)
{
    uint8_t *in = malloc((size_t)size), *buf = NULL;
    if (!in) return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, in + got, (size_t)size - got, (off_t)got);
        if (n <= 0) goto fail;
        got += (size_t)n;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) goto fail;
    size_t cap = deflateBound(&zs, (uLong)size);
    if (!(buf = malloc(cap))) {
        deflateEnd(&zs);
        goto fail;
    }
    zs.next_in = in;
    zs.avail_in = (uInt)size;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) goto fail;
    free(in);
    *out = buf;
    return 0;
fail:
    free(in);
    free(buf);
    return -1;
}

static serve_result serve_file(serve_ctx *ctx, struct MHD_Connection *c, const char *method,
                               const char *url, const char *root, const char *rel, bool data)
{
    uint64_t size = 0;
    int fd = serve_open_under(root, rel, &size);
    if (fd == -404 && data) {
        /* cloud-volume keeps gzip-compressed chunks locally as NAME.gz */
        char gz[SERVE_URL_MAX + 8];
        if ((size_t)snprintf(gz, sizeof gz, "%s.gz", rel) < sizeof gz) {
            int fd2 = serve_open_under(root, gz, &size);
            if (fd2 >= 0) fd = fd2;
        }
    }
    if (fd < 0) return reply_status(ctx, c, method, url, -fd);

    bool stored_gz = false;
    if (data && size >= 2) {
        unsigned char magic[2];
        stored_gz = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
    const char *type = serve_mime_type(rel, data);
    bool send_gz = false;
    uint8_t *mem = NULL; /* the representation in memory: inflated, or compressed (--gzip) */
    size_t mem_len = 0;
    if (stored_gz) {
        send_gz = serve_accepts_gzip(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
        if (!send_gz) {
            int rc = inflate_file(fd, size, &mem, &mem_len);
            close(fd);
            fd = -1;
            if (rc < 0) return reply_text(ctx, c, method, url, 500, "500 cannot inflate a gzip-stored file\n");
            size = mem_len;
        }
    }

    const char *range_h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    bool vary = stored_gz;
    if (ctx->gzip && !stored_gz && size >= SERVE_GZIP_MIN && size <= SERVE_GZIP_MAX &&
        compressible(type, data)) {
        /* --gzip: compress on the fly (whole responses only; a Range gets identity bytes) */
        vary = true;
        uint8_t *z;
        size_t zn;
        if (!range_h &&
            serve_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_ACCEPT_ENCODING)) &&
            deflate_file(fd, size, &z, &zn) == 0) {
            if (zn < size - size / 10) {
                close(fd);
                fd = -1;
                mem = z;
                size = mem_len = zn;
                send_gz = true;
            } else {
                free(z); /* not worth it */
            }
        }
    }

    uint64_t a = 0, b = size ? size - 1 : 0;
    int range = serve_parse_range(range_h, size, &a, &b);
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    char cr[96];
    if (range < 0) {
        if (fd >= 0) close(fd);
        free(mem);
        r = MHD_create_response_from_buffer(strlen("416 range not satisfiable\n"),
                                            (void *)"416 range not satisfiable\n",
                                            MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        add_common_headers(r);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        log_request(ctx, method, url, 416, 0);
        return queue(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
    }
    uint64_t len = size ? b - a + 1 : 0;
    if (range > 0) status = MHD_HTTP_PARTIAL_CONTENT;
    if (mem) {
        if (range > 0 && len != mem_len) {
            uint8_t *part = malloc(len ? (size_t)len : 1);
            if (!part) {
                free(mem);
                return MHD_NO;
            }
            memcpy(part, mem + a, (size_t)len);
            free(mem);
            mem = part;
        }
        r = MHD_create_response_from_buffer((size_t)len, mem, MHD_RESPMEM_MUST_FREE);
        if (!r) free(mem);
    } else if (len == 0) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)a); /* owns fd */
        if (!r) close(fd);
    }
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (vary) MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (send_gz) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (!data) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=3600");
    if (range > 0) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a,
                 (unsigned long long)b, (unsigned long long)size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    log_request(ctx, method, url, status, strcmp(method, "HEAD") ? len : 0);
    return queue(c, status, r);
}

/* ---- the handler ---------------------------------------------------------------------- */

static serve_result serve_route(serve_ctx *ctx, struct MHD_Connection *c, const char *url,
                                const char *method);

serve_result serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    serve_ctx *ctx = cls;
    static int seen;
    if (*con_cls == &seen) {
        /* the second call, the request complete: answer it */
        if (*upload_data_size) {
            *upload_data_size = 0; /* cannot happen: bodies were refused on the first call */
            return MHD_YES;
        }
        return serve_route(ctx, c, url, method);
    }
    /* The first call, headers in: refuse what we will not serve right away (MHD then
     * closes the connection without reading any body); keep the rest for the second call,
     * since a reply queued on the first call also closes the connection (no keep-alive). */
    *con_cls = &seen;
    atomic_fetch_add(&ctx->requests, 1);
    if (strlen(url) > SERVE_URL_MAX) return reply_status(ctx, c, method, "(long path)", 414);
    if (!strcmp(method, MHD_HTTP_METHOD_OPTIONS)) return MHD_YES;
    if (strcmp(method, MHD_HTTP_METHOD_HEAD) && strcmp(method, MHD_HTTP_METHOD_GET))
        return reply_status(ctx, c, method, url, 405);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if ((cl && strcmp(cl, "0")) ||
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return reply_status(ctx, c, method, url, 413);
    return MHD_YES;
}

static serve_result serve_route(serve_ctx *ctx, struct MHD_Connection *c, const char *url,
                                const char *method)
{
    if (!strcmp(method, MHD_HTTP_METHOD_OPTIONS)) return reply_preflight(ctx, c, url);
    if (!strcmp(url, "/")) {
        if (ctx->page) return reply_page(ctx, c, method, url);
        return reply_status(ctx, c, method, url, 404);
    }
    if (!strncmp(url, "/data/", 6)) return serve_file(ctx, c, method, url, ctx->data_root, url + 6, true);
    if (!strncmp(url, "/neuroglancer/", 14) && ctx->web_root && ctx->page) {
        const char *rel = url[14] ? url + 14 : "index.html";
        return serve_file(ctx, c, method, url, ctx->web_root, rel, false);
    }
    return reply_status(ctx, c, method, url, 404);
}
