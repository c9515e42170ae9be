/* push_cmd.c — `wsferry server`'s push options (issue 13): the push path,
 * its API key (file or WSFERRY_PUSH_KEY: no default, no placeholder, never
 * the tunnel key; only its SHA-256 is kept), origins, limits, the log, and
 * the admin and demo pages. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "proto/auth.h"
#include "proto/conf.h"
#include "tun/push/bus.h"
#include "tun/push/push_db.h"
#include "tun/server/srv_config.h"

#define PUSH_KEY_MIN 16     /* shorter keys are guessable or placeholders */
#define PUSH_SECRET_MAX 512 /* bytes of a key or password file */

static int opt_path(const char *val, const char **out, const char **why)
{
	/* pages embed the push path: a safe alphabet keeps them simple */
	if (val[0] != '/' || strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "0123456789/._~-") != strlen(val) || strlen(val) > 200) {
		*why = "a path starting with /, of A-Z a-z 0-9 / . _ ~ - only";
		return -1;
	}
	*out = val;
	return 0;
}

int push_opt_push(void *ctx, const char *val, const char **why)
{
	return opt_path(val, &((struct server_config *)ctx)->push.path, why);
}

int push_opt_demo(void *ctx, const char *val, const char **why)
{
	return opt_path(val, &((struct server_config *)ctx)->push.demo_path, why);
}

int push_opt_admin(void *ctx, const char *val, const char **why)
{
	return opt_path(val, &((struct server_config *)ctx)->push.admin_path, why);
}

int push_opt_key_file(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct server_cmd *)ctx)->push_key_file = val;
	return 0;
}

int push_opt_admin_password_file(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct server_cmd *)ctx)->admin_password_file = val;
	return 0;
}

int push_opt_origin(void *ctx, const char *val, const char **why)
{
	struct push_config *p = &((struct server_config *)ctx)->push;
	if (p->norigins == SERVER_MAX_RULES)
		return *why = "too many --push-origin values", -1;
	if (strcmp(val, "*") != 0 && strncmp(val, "http://", 7) != 0 &&
	    strncmp(val, "https://", 8) != 0)
		return *why = "an origin such as https://app.example.com (scheme, host, port), or *", -1;
	if (strchr(val + 8, '/'))
		return *why = "an origin has no path: https://app.example.com", -1;
	p->origins[p->norigins++] = val;
	return 0;
}

int push_opt_max_message(void *ctx, const char *val, const char **why)
{
	uint64_t v;
	if (conf_parse_size(val, &v) < 0 || v < 16 || v > PUSH_MAX_BODY)
		return *why = "a size from 16 bytes to 32K, e.g. 4K", -1;
	((struct server_config *)ctx)->push.max_body = (size_t)v;
	return 0;
}

int push_opt_max_per_ip(void *ctx, const char *val, const char **why)
{
	uint64_t v;
	if (conf_parse_uint(val, 1, 1000000, &v) < 0)
		return *why = "a number from 1 to 1000000", -1;
	((struct server_config *)ctx)->push.max_per_ip = (unsigned)v;
	return 0;
}

int push_opt_db(void *ctx, const char *val, const char **why)
{
	if (!push_db_available)
		return *why = "this wsferry was built without SQLite (make WITH_SQLITE=1)", -1;
	if (!*val)
		return *why = "a file name", -1;
	((struct server_config *)ctx)->push.db = val;
	return 0;
}

int push_opt_bus(void *ctx, const char *val, const char **why)
{
	if (push_bus_check_url(val, why) < 0)
		return -1;
	((struct server_config *)ctx)->push.bus = val;
	return 0;
}

int push_opt_socketio(void *ctx, const char *val, const char **why)
{
	bool on;
	if (conf_parse_bool(val, &on) < 0)
		return *why = "on or off", -1;
	((struct server_config *)ctx)->push.sio = on;
	return 0;
}

int read_secret(const char *path, char *out, size_t cap, const char **why)
{
	static _Thread_local char msg[300];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		return *why = msg, -1;
	}
	ssize_t n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0 || (size_t)n >= cap - 1) {
		snprintf(msg, sizeof(msg), "%s: %s", path, n < 0 ? strerror(errno) : "too long");
		return *why = msg, -1;
	}
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		n--;
	out[n] = '\0';
	return 0;
}

/* Words people leave in sample configs. */
static bool placeholder(const char *k)
{
	static const char *const words[] = {
		"changeme", "change-me", "change_me", "your-", "your_", "placeholder", "example",
		"xxxxxxxx", "api-key-here",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(k, words[i]))
			return true;
	size_t same = 0;
	while (k[same] && k[same] == k[0])
		same++;
	return k[same] == '\0'; /* "aaaaaaaaaaaaaaaa" */
}

static bool same_as_tunnel_key(const char *k, const struct auth_keys *tunnel)
{
	uint8_t psk[AUTH_KEY_LEN];
	const char *why;
	struct auth_keys derived;
	if (!tunnel || auth_key_parse(k, strlen(k), psk, &why) < 0)
		return false;
	auth_derive(psk, &derived);
	bool same = auth_equal(derived.mac, tunnel->mac, sizeof(derived.mac));
	explicit_bzero(psk, sizeof(psk));
	explicit_bzero(&derived, sizeof(derived));
	return same;
}

static int push_key(struct server_cmd *sc)
{
	struct server_config *cfg = &sc->cfg;
	const char *push_key_file = sc->push_key_file;
	char key[PUSH_SECRET_MAX];
	const char *why = "";
	char *env = sc->lib ? NULL : getenv("WSFERRY_PUSH_KEY");
	const char *what = push_key_file ? "--push-key-file" : "WSFERRY_PUSH_KEY";
	int rc = 0;
	if (push_key_file) {
		rc = read_secret(push_key_file, key, sizeof(key), &why);
	} else if (env && strlen(env) < sizeof(key)) {
		memcpy(key, env, strlen(env) + 1);
	} else {
		why = "--push needs an API key: --push-key-file FILE or WSFERRY_PUSH_KEY "
		      "(there is no default; `wsferry keygen` makes one)";
		what = "--push";
		rc = -1;
	}
	if (env) { /* as WSFERRY_KEY: out of /proc/PID/environ and children */
		explicit_bzero(env, strlen(env));
		unsetenv("WSFERRY_PUSH_KEY");
	}
	if (rc == 0 && strlen(key) < PUSH_KEY_MIN)
		why = "the API key is shorter than 16 characters (`wsferry keygen` makes one)", rc = -1;
	else if (rc == 0 && placeholder(key))
		why = "the API key looks like a placeholder; make one with `wsferry keygen`", rc = -1;
	else if (rc == 0 && same_as_tunnel_key(key, cfg->keys))
		why = "the API key must not be the tunnel key (--key)", rc = -1;
	if (rc == 0)
		push_key_hash(key, strlen(key), cfg->push.key_hash);
	explicit_bzero(key, sizeof(key));
	return rc == 0 ? 0 : opts_usage_error(what, why);
}

static int admin_password(struct server_config *cfg, const char *admin_password_file)
{
	char pw[PUSH_SECRET_MAX];
	const char *why = "";
	if (!admin_password_file)
		return opts_usage_error("--admin", "needs --admin-password-file FILE (no default)");
	if (read_secret(admin_password_file, pw, sizeof(pw), &why) < 0)
		return opts_usage_error("--admin-password-file", why);
	int rc = 0;
	if (strlen(pw) < 8 || placeholder(pw))
		rc = opts_usage_error("--admin-password-file",
		                      "the password is shorter than 8 characters or a placeholder");
	else
		push_key_hash(pw, strlen(pw), cfg->push.admin_hash);
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

int push_check(struct server_cmd *sc)
{
	struct server_config *cfg = &sc->cfg;
	struct push_config *p = &cfg->push;
	bool any = p->norigins || p->db || p->demo_path || p->admin_path || sc->push_key_file ||
	           p->bus;
	if (!p->path) {
		if (!sc->lib && getenv("WSFERRY_PUSH_KEY")) {
			explicit_bzero(getenv("WSFERRY_PUSH_KEY"), strlen(getenv("WSFERRY_PUSH_KEY")));
			unsetenv("WSFERRY_PUSH_KEY");
		}
		return any ? opts_usage_error("--push-*", "the push options need --push PATH") : 0;
	}
	if (cfg->workers > 1 && !p->bus) /* with a bus, every worker hears every message */
		return opts_usage_error("--push", "needs --workers 1 (subscribers and POSTs must "
		                                  "meet in one process), or --push-bus");
	const char *paths[] = {p->demo_path, p->admin_path, p->sio ? PUSH_SIO_PATH : NULL,
	                       cfg->echo_path, cfg->ping_name ? "/ws" : NULL};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i] && strcmp(paths[i], p->path) == 0)
			return opts_usage_error("--push", "the same path as another endpoint");
	if (push_key(sc))
		return 2;
	if (p->db) { /* an unwritable log is a usage error, found before serving */
		char err[256];
		struct push_db *db = push_db_open(p->db, err, sizeof(err));
		if (!db)
			return opts_usage_error("--push-db", err);
		push_db_close(db);
	}
	return p->admin_path ? admin_password(cfg, sc->admin_password_file) : 0;
}
