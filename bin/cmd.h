/* cmd.h — the subcommands of bin/main.c and the options every one shares. */
#ifndef WSF_BIN_CMD_H
#define WSF_BIN_CMD_H

#include "bin/opts.h"

int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_cert(int argc, char **argv);

struct auth_keys;
/* --key VALUE (wiped from argv), --key-file PATH, WSFERRY_KEY (0 when unset):
 * 0, or -1 with *why. */
int key_from_arg(char *val, const struct auth_keys **out, const char **why);
int key_from_file(const char *path, const struct auth_keys **out, const char **why);
int key_from_env(const struct auth_keys **out, const char **why);

/* --log-level, --log-file, -q: applied to core/log at once. */
int common_log_level(void *ctx, const char *val, const char **why);
int common_log_file(void *ctx, const char *val, const char **why);
int common_quiet(void *ctx, const char *val, const char **why);

/* -c FILE is read before the other flags (opts_config_path); in argv it is
 * skipped like any option. */
int common_config(void *ctx, const char *val, const char **why);

#define COMMON_OPTS                                                          \
	{"config", 'c', true, false, common_config},                             \
	{"log-level", 0, true, false, common_log_level},                         \
	{"log-file", 0, true, false, common_log_file},                           \
	{"quiet", 'q', false, false, common_quiet}

#endif
