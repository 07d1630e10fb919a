/* io_hdf5.c: placeholder until the backend lands. */
#include "volume/volume_int.h"
static int no_open(ax_volume *v, const char *p, const char *i, int m) { (void)v; (void)i; (void)m; return ax__err(AX_E_UNSUPPORTED, "%s: backend not built yet", p); }
static int no_create(ax_volume *v, const char *p, const char *i, const ax_volume_create_params *q) { (void)v; (void)i; (void)q; return ax__err(AX_E_UNSUPPORTED, "%s: backend not built yet", p); }
static int no_rw(ax_volume *v, const int64_t *c, void *b) { (void)v; (void)c; (void)b; return AX_E_UNSUPPORTED; }
static int no_w(ax_volume *v, const int64_t *c, const void *b) { (void)v; (void)c; (void)b; return AX_E_UNSUPPORTED; }
static int no_close(ax_volume *v, bool c) { (void)v; (void)c; return AX_OK; }
const ax__backend ax__backend_hdf5 = {"stub", AX_FORMAT_AUTO, no_open, no_create, no_rw, no_w, no_close};
