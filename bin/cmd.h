/* cmd.h — the subcommands of bin/main.c and the options every one shares. */
#ifndef WSF_BIN_CMD_H
#define WSF_BIN_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "bin/opts.h"

int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_cert(int argc, char **argv);

/* SIP003: started by ss-local/ss-server as a plugin, i.e. an SS_* variable
 * is set and argv holds no subcommand (at most -V and --fast-open). */
bool sip003_invoked(int argc, char **argv);
/* Runs the plugin: `wsferry client` or `wsferry server` from SS_*. Exit code. */
int cmd_sip003(int argc, char **argv);

struct auth_keys;
/* --key VALUE (wiped from argv), --key-file PATH, WSFERRY_KEY (0 when unset;
 * used only when *out is still NULL, wiped from the environment always):
 * 0, or -1 with *why. */
int key_from_arg(char *val, const struct auth_keys **out, const char **why);
int key_from_file(const char *path, const struct auth_keys **out, const char **why);
int key_from_env(const struct auth_keys **out, const char **why);
/* Copies a secret given on the command line (or in a config file's text)
 * into out (cap bytes, NUL-terminated) and overwrites the original with
 * 'x', so ps(1) and /proc/PID/cmdline no longer show it. 0, or -1 when it
 * does not fit. */
int secret_take(const char *val, char *out, size_t cap);
/* Overwrites n bytes at val (argv text) with 'x'. */
void secret_wipe(const char *val, size_t n);

/* --log-level, --log-file, -q, -v (--verbose: debug, ssh's habit): applied
 * to core/log at once. */
int common_log_level(void *ctx, const char *val, const char **why);
int common_log_file(void *ctx, const char *val, const char **why);
int common_quiet(void *ctx, const char *val, const char **why);
int common_verbose(void *ctx, const char *val, const char **why);

/* -c FILE is read before the other flags (opts_config_path); in argv it is
 * skipped like any option. */
int common_config(void *ctx, const char *val, const char **why);

/* The push options (push_cmd.c), and their checks once all are read:
 * 0, or 2 after printing the usage error. */
struct server_config;
int push_opt_push(void *ctx, const char *val, const char **why);
int push_opt_key_file(void *ctx, const char *val, const char **why);
int push_opt_origin(void *ctx, const char *val, const char **why);
int push_opt_max_message(void *ctx, const char *val, const char **why);
int push_opt_max_per_ip(void *ctx, const char *val, const char **why);
int push_opt_db(void *ctx, const char *val, const char **why);
int push_opt_demo(void *ctx, const char *val, const char **why);
int push_opt_admin(void *ctx, const char *val, const char **why);
int push_opt_admin_password_file(void *ctx, const char *val, const char **why);
int push_opt_bus(void *ctx, const char *val, const char **why);
int push_opt_socketio(void *ctx, const char *val, const char **why);
int push_check(struct server_config *cfg);
/* A secret from a file: trailing newline and blanks dropped. 0 or -1 with
 * *why (a static sentence naming the file). */
int read_secret(const char *path, char *out, size_t cap, const char **why);
/* --controller, --controller-key-file (controller_cmd.c). */
int controller_opt(void *ctx, const char *val, const char **why);
int controller_opt_key_file(void *ctx, const char *val, const char **why);
/* After the listen URLs are known: the controller's address is not a
 * public listener's, its key is read. 0, or 2 after a usage error. */
int controller_check(struct server_config *cfg);

#define COMMON_OPTS                                                          \
	{"config", 'c', true, false, common_config},                             \
	{"log-level", 0, true, false, common_log_level},                         \
	{"log-file", 0, true, false, common_log_file},                           \
	{"quiet", 'q', false, false, common_quiet},                              \
	{"verbose", 'v', false, false, common_verbose}

#endif
