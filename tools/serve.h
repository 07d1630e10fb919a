/* serve.h: what the files of `axon serve` share (tools/cmd_serve.c: options, daemon and
 * signals; tools/serve_http.c: answering requests; tools/serve_layers.c: the dataset's
 * layers and the start page). Not part of libaxon. */
#ifndef AXON_TOOLS_SERVE_H
#define AXON_TOOLS_SERVE_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MHD 0.9.71 made the handlers return enum MHD_Result; older ones return int */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result serve_result;
#else
typedef int serve_result;
#endif

#define SERVE_URL_MAX 2048          /* longer request paths: 414 */
#define SERVE_INFLATE_MAX (64u << 20) /* gzip-stored files inflated for clients without gzip */
#define SERVE_GZIP_MIN 1024u          /* --gzip: compress responses of this size ... */
#define SERVE_GZIP_MAX (16u << 20)    /* ... up to this size on the fly */

/* One server. Read-only once the daemon runs, apart from the counters. */
typedef struct serve_ctx {
    char *data_root; /* realpath of DIR: served under /data/ */
    char *web_root;  /* realpath of the Neuroglancer bundle (index.html, main.bundle.js):
                        served under /neuroglancer/; NULL when not installed */
    char *page;      /* the start page at / (HTML); NULL: --no-browser-page */
    size_t page_len;
    bool log;        /* one line per request on stderr */
    bool gzip;       /* --gzip: compress uncompressed responses on the fly */
    atomic_bool running; /* the daemon is up */
    _Atomic uint64_t requests, bytes_sent, refused;
} serve_ctx;

/* MHD access handler (cls: the serve_ctx). GET and HEAD of files under the two roots and
 * of /; OPTIONS preflight; 405 for anything else. */
serve_result serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls);

/* MHD_OPTION_UNESCAPE_CALLBACK: %HH decoding in place that turns an encoded NUL or '/'
 * into byte 0x01, which the path check refuses (a decoded "%2f" must not split a path
 * segment, and "%00" must not cut the path short). */
size_t serve_unescape(void *cls, struct MHD_Connection *c, char *s);

/* Resolve request path `rel` (below a root; no leading '/') to an open regular file under
 * root (a realpath). Returns the fd (>= 0) or -403 (refused: "..", ".", empty or hidden
 * segments, backslashes, control bytes, or a symlink leading outside root) or -404.
 * *size gets the file's size. */
int serve_open_under(const char *root, const char *rel, uint64_t *size);

/* Content-Type for a path served from /data/ (data: true) or the viewer. */
const char *serve_mime_type(const char *path, bool data);

/* Parse a Range header against a representation of `size` bytes.
 * Returns 0: no usable range (serve it all), 1: one satisfiable range [*a, *b] (inclusive),
 * -1: unsatisfiable (416). */
int serve_parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b);

/* Does an Accept-Encoding header accept gzip (present, q not 0)? */
bool serve_accepts_gzip(const char *h);

/* ---- serve_layers.c ---------------------------------------------------------------- */

/* The start page for the dataset in data_root: web/index.html's template (template_html)
 * with its "{{AXON_CONFIG}}" replaced by a JSON object {viewer, layers, dimensions,
 * position, crossSectionScale, projectionScale, layout} from which the page's script builds
 * the Neuroglancer state. viewer: whether /neuroglancer/ is installed. max_segments: how
 * many of the largest segment ids to select in segmentation layers that have meshes or
 * skeletons (0: none). Returns a malloc'd string (length in *len) or NULL with a message
 * in err. *n_layers gets the number of layers found. */
char *serve_page_build(const char *data_root, const char *template_html, bool viewer,
                       int max_segments, size_t *len, int *n_layers, char *err, size_t errn);

#endif
