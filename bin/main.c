/* main.c — the wsferry command: dispatch to subcommands, --help, --version.
 * Owns exit codes: 0 success, 1 runtime failure, 2 usage error. */
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include "bin/cmd.h"
#include "core/log.h"

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

int common_log_level(void *ctx, const char *val, const char **why)
{
	enum log_level level;
	(void)ctx;
	if (log_level_parse(val, &level) < 0) {
		*why = "use error, warn, info, debug or trace";
		return -1;
	}
	log_set_level(level);
	return 0;
}

int common_log_file(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	if (log_open_file(val) < 0) {
		*why = strerror(errno);
		return -1;
	}
	return 0;
}

int common_config(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	return 0; /* already applied, before argv */
}

int common_quiet(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int common_verbose(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	(void)val;
	(void)why;
	log_set_level(LOG_LEVEL_DEBUG);
	return 0;
}

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
