/* cmd_mws.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_mws(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
int cmd_affinities_from_boundary(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
int cmd_affinities_from_labels(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
