/* sip003.c — wsferry as a shadowsocks SIP003 plugin: started by ss-local or
 * ss-server with no subcommand, configured by SS_REMOTE_HOST/PORT,
 * SS_LOCAL_HOST/PORT and SS_PLUGIN_OPTIONS. Turns them into the argv of
 * `wsferry client` (-L SS_LOCAL:* to the server at SS_REMOTE) or `wsferry
 * server` (listening at SS_REMOTE, --to SS_LOCAL) and runs that, so every
 * value is checked exactly as on the command line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "core/log.h"
#include "core/proc.h"
#include "proto/conf.h"
#include "proto/sip003.h"
#include "proto/url.h"

#define PLUGIN_MAX_OPTS 32
#define PLUGIN_MAX_ARGS (2 * PLUGIN_MAX_OPTS + 8)
#define ENV_OPTS "SS_PLUGIN_OPTIONS"

static const char *const ss_vars[] = {"SS_REMOTE_HOST", "SS_REMOTE_PORT", "SS_LOCAL_HOST",
                                      "SS_LOCAL_PORT"};

/* Where an option applies and what it becomes on the command line. */
enum plugin_side { SIDE_BOTH = 0, SIDE_CLIENT, SIDE_SERVER };

struct plugin_key {
	const char *name;
	bool value;          /* key=value (else a bare flag) */
	enum plugin_side side;
	const char *flag;    /* the wsferry option it becomes, NULL: handled here */
};

static const struct plugin_key plugin_keys[] = {
	{.name = "server", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "ws", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "wss", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "tls", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "path", .value = true, .side = SIDE_BOTH, .flag = NULL},
	{.name = "host", .value = true, .side = SIDE_BOTH, .flag = NULL}, /* client --host, server --name */
	{.name = "sni", .value = true, .side = SIDE_CLIENT, .flag = "--sni"},
	{.name = "ca", .value = true, .side = SIDE_CLIENT, .flag = "--ca"},
	{.name = "pin", .value = true, .side = SIDE_CLIENT, .flag = "--pin"},
	{.name = "insecure", .value = false, .side = SIDE_CLIENT, .flag = "--insecure"},
	{.name = "cert", .value = true, .side = SIDE_SERVER, .flag = "--cert"},
	{.name = "cert-key", .value = true, .side = SIDE_SERVER, .flag = "--cert-key"},
	{.name = "key-file", .value = true, .side = SIDE_BOTH, .flag = "--key-file"},
	{.name = "mux", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "mux-max-streams", .value = true, .side = SIDE_BOTH, .flag = NULL},
	{.name = "fast-open", .value = false, .side = SIDE_BOTH, .flag = NULL},
	{.name = "loglevel", .value = true, .side = SIDE_BOTH, .flag = "--log-level"},
	{0},
};

struct plugin {
	struct sip003_opt opts[PLUGIN_MAX_OPTS];
	const struct plugin_key *keys[PLUGIN_MAX_OPTS];
	size_t nopts;
	bool server, mux, fast_open;
	const char *mux_streams; /* mux-max-streams= */
	const char *scheme; /* "ws", "wss" or "tls" */
	const char *path;
	const char *host;
	char *argv[PLUGIN_MAX_ARGS];
	int argc;
	char url[URL_MAX_HOST + URL_MAX_PATH + 32];
	char local[URL_MAX_HOST + 16];
};

static bool plugin_arg(const char *a)
{
	/* ss-local/ss-server may pass these (fast open; Android's VPN mode). */
	return strcmp(a, "-V") == 0 || strcmp(a, "--fast-open") == 0;
}

bool sip003_invoked(int argc, char **argv)
{
	bool any = getenv(ENV_OPTS) != NULL;
	for (size_t i = 0; i < sizeof(ss_vars) / sizeof(ss_vars[0]); i++)
		any |= getenv(ss_vars[i]) != NULL;
	for (int i = 1; any && i < argc; i++)
		if (!plugin_arg(argv[i]))
			return false;
	return any;
}

static const struct plugin_key *plugin_key_find(const char *name)
{
	for (const struct plugin_key *k = plugin_keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static int opt_error(const char *key, const char *why)
{
	char what[sizeof(ENV_OPTS) + SIP003_MAX_KEY + 8];
	snprintf(what, sizeof(what), "%s %s", ENV_OPTS, key);
	return opts_usage_error(what, why);
}

/* One option: known, with or without a value as it should be. 0 or 2. */
static int plugin_take(struct plugin *p, const struct sip003_opt *o)
{
	const struct plugin_key *k = plugin_key_find(o->key);
	if (!k)
		return opt_error(o->key, "unknown option (known: server, ws, wss, tls, path=, host=, "
		                         "sni=, ca=, pin=, insecure, cert=, cert-key=, key-file=, mux, "
		                         "mux-max-streams=, fast-open, loglevel=)");
	if (k->value && !o->has_value)
		return opt_error(o->key, "needs a value (KEY=VALUE)");
	if (!k->value && o->has_value)
		return opt_error(o->key, "takes no value");
	if (p->nopts == PLUGIN_MAX_OPTS)
		return opt_error(o->key, "too many options");
	p->keys[p->nopts] = k;
	p->opts[p->nopts++] = *o;
	return 0;
}

static int plugin_parse(struct plugin *p, const char *text)
{
	size_t pos = 0, len = strlen(text);
	struct sip003_opt o;
	for (;;) {
		enum sip003_rc rc = sip003_next(text, len, &pos, &o);
		if (rc == SIP003_END)
			return 0;
		if (rc != SIP003_OPT)
			return opts_usage_error(ENV_OPTS, sip003_strerror(rc));
		if (plugin_take(p, &o))
			return 2;
	}
}

/* The options handled here rather than passed on. 0 or 2. */
static int plugin_settle(struct plugin *p)
{
	uint64_t v;
	for (size_t i = 0; i < p->nopts; i++) {
		const char *name = p->keys[i]->name, *val = p->opts[i].value;
		if (strcmp(name, "server") == 0)
			p->server = true;
		else if (!strcmp(name, "ws") || !strcmp(name, "wss") || !strcmp(name, "tls")) {
			if (p->scheme && strcmp(p->scheme, name) != 0)
				return opt_error(name, "choose one of ws, wss and tls");
			p->scheme = name;
		} else if (strcmp(name, "path") == 0)
			p->path = val;
		else if (strcmp(name, "host") == 0)
			p->host = val;
		else if (strcmp(name, "mux") == 0)
			p->mux = true;
		else if (strcmp(name, "mux-max-streams") == 0 && conf_parse_uint(val, 1, 16, &v) < 0)
			return opt_error(name, "a number from 1 to 16");
		else if (strcmp(name, "mux-max-streams") == 0)
			p->mux_streams = val;
		else if (strcmp(name, "fast-open") == 0)
			p->fast_open = true;
	}
	for (size_t i = 0; i < p->nopts; i++) {
		enum plugin_side side = p->keys[i]->side;
		if (side == SIDE_CLIENT && p->server)
			return opt_error(p->keys[i]->name, "only for the client side (no \"server\")");
		if (side == SIDE_SERVER && !p->server)
			return opt_error(p->keys[i]->name, "only for the server side (with \"server\")");
	}
	if (!p->scheme)
		p->scheme = "ws";
	if (p->path && strcmp(p->scheme, "tls") == 0)
		return opt_error("path", "tls (raw TLS) carries no URL path: use ws or wss");
	return 0;
}

/* SS_* variables: all four, ports valid. 0 or 2. */
static int plugin_env(const char *v[4])
{
	for (size_t i = 0; i < 4; i++) {
		v[i] = getenv(ss_vars[i]);
		if (!v[i] || !*v[i])
			return opts_usage_error(ss_vars[i], "missing: a shadowsocks plugin is started with "
			                                    "SS_REMOTE_HOST, SS_REMOTE_PORT, SS_LOCAL_HOST "
			                                    "and SS_LOCAL_PORT");
		uint16_t port;
		if (i % 2 == 1 && url_parse_port(v[i], strlen(v[i]), &port) < 0)
			return opts_usage_error(ss_vars[i], "must be a port number from 1 to 65535");
	}
	return 0;
}

static void add(struct plugin *p, const char *a)
{
	if (p->argc < PLUGIN_MAX_ARGS - 1)
		p->argv[p->argc++] = (char *)(uintptr_t)a;
}

/* "host:port", IPv6 in brackets (SS_* hosts come without them). */
static void host_port(char *out, size_t cap, const char *host, const char *port)
{
	bool v6 = strchr(host, ':') && host[0] != '[';
	snprintf(out, cap, v6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* The argv of `wsferry client` or `wsferry server`. */
static void plugin_build(struct plugin *p, const char *env[4])
{
	char remote[URL_MAX_HOST + 16];
	host_port(remote, sizeof(remote), env[0], env[1]);
	const char *path = p->path ? p->path : "";
	snprintf(p->url, sizeof(p->url), "%s://%s%s%s", p->scheme, remote,
	         path[0] == '/' || !path[0] ? "" : "/", path);
	host_port(p->local, sizeof(p->local), env[2], env[3]);
	add(p, p->url);
	if (p->server) {
		add(p, "--to");
		add(p, p->local); /* ss-server's own port */
	} else {
		strncat(p->local, ":*", sizeof(p->local) - strlen(p->local) - 1);
		add(p, "-L");
		add(p, p->local); /* where ss-local connects, to the server's --to */
	}
	if (p->host) {
		add(p, p->server ? "--name" : "--host");
		add(p, p->host);
	}
	for (size_t i = 0; i < p->nopts; i++) {
		const struct plugin_key *k = p->keys[i];
		if (!k->flag)
			continue;
		add(p, k->flag);
		if (k->value)
			add(p, strcmp(p->opts[i].value, "none") == 0 && !strcmp(k->name, "loglevel")
			               ? "error"
			               : p->opts[i].value);
	}
	if (p->fast_open)
		add(p, "--fast-open");
	if ((p->mux || p->mux_streams) && !p->server) /* servers serve mux unasked */
		add(p, "--mux");
	if (p->mux_streams && !p->server) {
		add(p, "--mux-max-streams");
		add(p, p->mux_streams);
	}
	p->argv[p->argc] = NULL;
}

int cmd_sip003(int argc, char **argv)
{
	static struct plugin p; /* static: its strings are the command's argv */
	const char *env[4];
	/* ss-local must not leave us behind when it dies (SIP003). */
	proc_end_with_parent(getppid(), SIGTERM);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--fast-open") == 0)
			p.fast_open = true;
	const char *opts = getenv(ENV_OPTS);
	int rc = plugin_env(env);
	if (rc == 0 && opts)
		rc = plugin_parse(&p, opts);
	if (rc == 0)
		rc = plugin_settle(&p);
	if (rc)
		return rc;
	plugin_build(&p, env);
	log_debug("SIP003 plugin: wsferry %s %s", p.server ? "server" : "client", p.url);
	return p.server ? cmd_server(p.argc, p.argv) : cmd_client(p.argc, p.argv);
}
