/* error.c: status strings and the per-thread last-error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define AX_ERRMSG_MAX 1024

static _Thread_local char tls_msg[AX_ERRMSG_MAX];

const char *ax_strerror(int status)
{
    switch (status) {
    case AX_OK: return "success";
    case AX_E_NOMEM: return "out of memory";
    case AX_E_IO: return "input/output error";
    case AX_E_NOTFOUND: return "not found";
    case AX_E_FORMAT: return "malformed metadata";
    case AX_E_UNSUPPORTED: return "unsupported";
    case AX_E_INVALID: return "invalid argument";
    case AX_E_RANGE: return "out of range";
    case AX_E_DTYPE: return "data type mismatch";
    case AX_E_CORRUPT: return "corrupt data";
    case AX_E_EXISTS: return "already exists";
    case AX_E_INTERNAL: return "internal error";
    case AX_E_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

const char *ax_errmsg(void) { return tls_msg; }

void ax_errclear(void) { tls_msg[0] = 0; }

int ax__err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
    va_end(ap);
    return code;
}

int ax__err_prefix(int code, const char *fmt, ...)
{
    char old[AX_ERRMSG_MAX], pre[AX_ERRMSG_MAX];
    memcpy(old, tls_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (old[0])
        snprintf(tls_msg, sizeof tls_msg, "%.500s: %.500s", pre, old);
    else
        snprintf(tls_msg, sizeof tls_msg, "%.500s: %s", pre, ax_strerror(code));
    return code;
}

void ax__err_copy(char *dst, size_t n)
{
    if (n == 0) return;
    snprintf(dst, n, "%s", tls_msg);
}

void ax__err_set_raw(const char *msg) { snprintf(tls_msg, sizeof tls_msg, "%s", msg); }

void ax__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "axon: internal error: assertion '%s' failed at %s:%d\n", expr, file,
            line);
    abort();
}

int ax_version_number(void) { return AX_VERSION_NUMBER; }
const char *ax_version_string(void) { return AX_VERSION_STRING; }
