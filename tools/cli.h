/* cli.h: what the axon subcommand files share: error and usage reporting, small parsers,
 * the quiet flag and the Ctrl-C flag. Each tools/cmd_*.c file implements a family of
 * subcommands; tools/axon.c dispatches. */
#ifndef AXON_TOOLS_CLI_H
#define AXON_TOOLS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/axon.h"

extern volatile sig_atomic_t g_interrupted;
extern bool g_quiet;

void on_signal(int sig);
/* Print "axon: error: <ax_errmsg()>" and return exit status 1. */
int fail(int rc);
/* Print "axon: <fmt % arg>" and a usage hint; return exit status 2. */
int usage_error(const char *fmt, const char *arg);
bool parse_i64(const char *s, int64_t *out);
bool parse_f64(const char *s, double *out);
/* "a,b,c" -> up to max integers; returns the count or -1. */
int parse_list(const char *s, int64_t *out, int max);
/* "a,b,c" -> up to max doubles; returns the count or -1. */
int parse_flist(const char *s, double *out, int max);
double mib(uint64_t b);
/* JSON string literal of s on stdout. */
void json_str(const char *s);

/* subcommands living outside axon.c */
int cmd_cc(int argc, char **argv);
int cmd_affinities_from_boundary(int argc, char **argv);
int cmd_affinities_from_labels(int argc, char **argv);
int cmd_watershed(int argc, char **argv);
int cmd_agglomerate(int argc, char **argv);
int cmd_mws(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval2d(int argc, char **argv);
int cmd_skeletonize(int argc, char **argv);
int cmd_mesh(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_erl(int argc, char **argv);
int cmd_export_precomputed(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_model_info(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_brain_compute(int argc, char **argv);

/* Block-wise inference (cmd_nn.c): raw_path through net into out_path, a (C, z, y, x)
 * float32 volume with C = min(max_channels, the net's outputs) (0: all), tiles of `block`
 * output voxels. With a resume_key (zarr/n5 only) the tiles go to DIR/.partial-NAME and
 * a log of finished tiles beside it; a run with the same key continues where a killed one
 * stopped, and the finished volume is renamed to out_path. tta: average the 8 flips of
 * each tile (affinity channels re-aligned to their offsets). Prints errors and the
 * summary; returns an exit status (0, 1, 130). */
typedef struct {
    int64_t block[3], overlap[3], chunks[3]; /* chunks 0: the tile */
    bool overwrite, tta;
    int max_channels;
    const char *resume_key;
} predict_opts;
typedef struct {
    double seconds, net_seconds, gflops;
    int64_t voxels, tiles;
} predict_stats;
int predict_volume(ax_net *net, const char *model, const char *raw_path, const char *out_path,
                   const predict_opts *po, predict_stats *st);
/* nearest-neighbour affinities (min mode) from a boundary map, 3-d or (1, z, y, x)
 * (cmd_mws.c); prints errors; returns an exit status */
int affinities_from_boundary_volume(const char *in, const char *out, bool overwrite);
/* One Neuroglancer precomputed dataset at out (cmd_export.c): raw as out/image, seg as
 * out/segmentation with its meshes and skeletons, each with a downsampling pyramid;
 * built under a temporary name. Prints errors; returns an exit status (0, 1, 130). */
typedef struct {
    int scales;
    int64_t max_edge;
    bool overwrite, meshes, skeletons;
} export_opts;
int export_dataset(const char *raw, const char *seg, const char *out, const export_opts *eo);
/* the *.swc files of a directory (sorted by name), or one file (cmd_export.c); prints
 * errors; returns an exit status */
int load_swc_dir(const char *path, ax_skeleton ***out, int64_t *n);
/* "size mtime" of a file (or "missing"), to tell a changed input from the same one */
void file_stamp(const char *path, char *buf, size_t n);

#endif
