/* cmd_eval.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_eval(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "axon: not built yet\n"); return 1; }
