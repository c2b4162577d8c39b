/* cmd_info.c - zimt info (not yet available). */
#include "cli.h"

int zt_cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return zt_cli_fail("info: not available in this build");
}
