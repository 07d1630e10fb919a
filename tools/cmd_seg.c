/* cmd_seg.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_watershed(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
int cmd_agglomerate(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
