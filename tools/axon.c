/* axon.c: placeholder CLI (being written). */
#include <stdio.h>
#include "axon/axon.h"
int main(int argc, char **argv) { (void)argc; (void)argv; printf("axon %s\n", ax_version_string()); return 0; }
