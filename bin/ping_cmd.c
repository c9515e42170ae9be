/* ping_cmd.c — `wsferry ping URL` (placeholder until the client lands). */
#include "bin/cmd.h"

int cmd_ping(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return opts_usage_error("ping", "not available in this build yet");
}
