/* cmd_gen.c - zimt gen (not yet available). */
#include "cli.h"

int zt_cmd_gen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return zt_cli_fail("gen: not available in this build");
}
