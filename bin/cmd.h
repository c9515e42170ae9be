/* cmd.h — the subcommands of bin/main.c and the options every one shares. */
#ifndef WSF_BIN_CMD_H
#define WSF_BIN_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "bin/opts.h"
#include "tun/client/cli_config.h"
#include "tun/server/srv_config.h"

int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_cert(int argc, char **argv);

/* What `wsferry client` reads into, and what the strings of its settings
 * point into: one per command, or one per library instance (bin/lib.c). */
struct client_cmd {
	struct client_config cfg;
	bool have_server;
	bool in_file;          /* applying -c FILE */
	bool server_from_file; /* argv's SERVER_URL replaces the file's */
	bool lib;              /* inside the library: no environment, port 0 binds any */
	bool mux;              /* --mux */
	const char *mux_streams; /* --mux-max-streams, checked once all is read */
	char *conf_text;       /* -c FILE's text (values point into it) */
	char proxy_pass[256];
	char proxy_host[URL_MAX_HOST + 1], proxy_cred[512];
};

/* Options, config file and checks into c (zeroed by the caller, lib set
 * as wanted): 0, or 2 after printing the usage error. Adds the default
 * -D when no tunnel is named and logs the banner. */
int client_cmd_parse(struct client_cmd *c, int argc, char **argv);
/* One more tunnel from its flag (-D, -L, -R, --redirect, --tproxy or the
 * long names) and spec, appended to c->cfg.fwds: 0, or -1 with *why (left
 * as it was when flag is no tunnel flag). */
int client_cmd_add_fwd(struct client_cmd *c, const char *flag, const char *spec,
                       const char **why);
/* Frees what parsing allocated (the config file's text). */
void client_cmd_free(struct client_cmd *c);

/* What `wsferry server` reads into (cfg first: the option functions take
 * a pointer to either). */
struct server_cmd {
	struct server_config cfg;
	bool in_file;          /* applying -c FILE */
	size_t file_listens;   /* listen URLs from the file, replaced by argv's */
	bool lib;              /* inside the library: no environment, one process */
	char *conf_text;
	const char *push_key_file, *admin_password_file; /* read by push_check */
};

/* Options, config file, environment (not with lib) and checks into s
 * (zeroed by the caller): 0, or 2 after printing the usage error. */
int server_cmd_parse(struct server_cmd *s, int argc, char **argv);

/* SIP003: started by ss-local/ss-server as a plugin, i.e. an SS_* variable
 * is set and argv holds no subcommand (at most -V and --fast-open). */
bool sip003_invoked(int argc, char **argv);
/* Runs the plugin: `wsferry client` or `wsferry server` from SS_*. Exit code. */
int cmd_sip003(int argc, char **argv);

struct auth_keys;
/* --key VALUE (wiped from argv), --key-file PATH, WSFERRY_KEY (0 when unset;
 * used only when *out is still NULL, wiped from the environment always):
 * 0, or -1 with *why. *out is the calling thread's one slot, which the next
 * key parsed on this thread overwrites (bin/lib.c copies it out). */
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
 * at once to the calling thread's log sink (bin/common.c). */
int common_log_level(void *ctx, const char *val, const char **why);
int common_log_file(void *ctx, const char *val, const char **why);
int common_quiet(void *ctx, const char *val, const char **why);
int common_verbose(void *ctx, const char *val, const char **why);

/* -c FILE is read before the other flags (opts_config_path); in argv it is
 * skipped like any option. */
int common_config(void *ctx, const char *val, const char **why);

/* The push options (push_cmd.c; ctx is a struct server_cmd), and their
 * checks once all are read: 0, or 2 after printing the usage error. */
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
int push_check(struct server_cmd *sc);
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
