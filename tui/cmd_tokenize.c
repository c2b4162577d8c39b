/* cmd_tokenize.c - zimt tokenize (not yet available). */
#include "cli.h"

int zt_cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return zt_cli_fail("tokenize: not available in this build");
}
