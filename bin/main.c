/* main.c — the wsferry command: dispatch to subcommands, --help, --version.
 * Owns exit codes: 0 success, 1 runtime failure, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "bin/cmd.h"

#ifndef WSF_VERSION
#define WSF_VERSION "unknown"
#endif

static const char usage[] =
	"usage: wsferry server [OPTIONS] [LISTEN_URL...]\n"
	"       wsferry client [OPTIONS] SERVER_URL [-D [BIND:]PORT] [-L|-R [BIND:]PORT:HOST:HOSTPORT]\n"
	"       wsferry keygen\n"
	"       wsferry cert [--name NAME]... [--days N] [--out-cert F] [--out-key F]\n"
	"       wsferry ping ws://HOST:PORT/ws [--name NAME]\n"
	"       wsferry --help | --version\n"
	"\n"
	"  server   tunnel server (default ws://127.0.0.1:8080); --key-file, --echo PATH, --ping\n"
	"  client   SOCKS5/4 + HTTP proxy (-D, default 127.0.0.1:1080) and forwards (-L, -R)\n"
	"  keygen   print a fresh pre-shared key for --key / --key-file\n"
	"  -c FILE  read the same settings from a file (wsferry.conf(5))\n"
	"\n"
	"Every option, with examples: man wsferry\n";

int main(int argc, char **argv)
{
	if (sip003_invoked(argc, argv))
		return cmd_sip003(argc, argv);
	if (argc < 2)
		return fputs(usage, stderr), 2;
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
		return fputs(usage, stdout), 0;
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
		return printf("wsferry %s\n", WSF_VERSION), 0;
	if (strcmp(cmd, "server") == 0)
		return cmd_server(argc - 2, argv + 2);
	if (strcmp(cmd, "client") == 0)
		return cmd_client(argc - 2, argv + 2);
	if (strcmp(cmd, "cert") == 0)
		return cmd_cert(argc - 2, argv + 2);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 2, argv + 2);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(argc - 2, argv + 2);
	return opts_usage_error(cmd, "unknown command (server, client, --help, --version)");
}
