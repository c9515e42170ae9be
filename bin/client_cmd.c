/* client_cmd.c — `wsferry client`: options and tunnel flags into a
 * client_config, the default -D, then tun/client. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bin/cmd.h"
#include "core/dns.h"
#include "core/log.h"
#include "proto/conf.h"
#include "proto/mux.h"
#include "tls/tls.h"
#include "tun/client/client.h"
#include "tun/dial.h"

static int add_fwd(struct client_cmd *c, enum fwd_kind kind, const char *val, const char **why)
{
	if (c->cfg.nfwds == CLIENT_MAX_FWDS) {
		*why = "too many tunnels";
		return -1;
	}
	if (client_parse_fwd_any(kind, val, &c->cfg.fwds[c->cfg.nfwds], c->lib, why) < 0)
		return -1;
	c->cfg.nfwds++;
	return 0;
}

static int opt_dynamic(void *ctx, const char *val, const char **why)
{
	return add_fwd(ctx, FWD_DYNAMIC, val, why);
}

static int opt_local(void *ctx, const char *val, const char **why)
{
	return add_fwd(ctx, FWD_LOCAL, val, why);
}

static int opt_remote(void *ctx, const char *val, const char **why)
{
	return add_fwd(ctx, FWD_REMOTE, val, why);
}

static int opt_redirect(void *ctx, const char *val, const char **why)
{
	return add_fwd(ctx, FWD_REDIRECT, val, why);
}

static int opt_tproxy(void *ctx, const char *val, const char **why)
{
	return add_fwd(ctx, FWD_TPROXY, val, why);
}

static int opt_host(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (!*val || strpbrk(val, " \t\r\n/")) {
		*why = "a host name for the Host: header, e.g. cdn.example.com";
		return -1;
	}
	c->cfg.host_header = val;
	return 0;
}

static int opt_proxy_user(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (!*val || strlen(val) > 255 || strchr(val, ':')) {
		*why = "1 to 255 characters, no ':'";
		return -1;
	}
	c->cfg.proxy_user = val;
	return 0;
}

static int opt_proxy_pass(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (!*val || secret_take(val, c->proxy_pass, sizeof(c->proxy_pass)) < 0) {
		*why = "1 to 255 characters";
		return -1;
	}
	c->cfg.proxy_pass = c->proxy_pass;
	return 0;
}

static int duration(const char *val, unsigned *out, const char **why)
{
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms > 86400000ull * 7) {
		*why = "a duration, e.g. 30 (seconds), 500ms, 5m, 1h; 0 turns it off";
		return -1;
	}
	*out = (unsigned)ms;
	return 0;
}

static int opt_keepalive(void *ctx, const char *val, const char **why)
{
	return duration(val, &((struct client_cmd *)ctx)->cfg.relay.keepalive_ms, why);
}

static int opt_pong_timeout(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (duration(val, &c->cfg.relay.pong_timeout_ms, why) < 0 || !c->cfg.relay.pong_timeout_ms) {
		*why = "a duration above 0, e.g. 15 (seconds), 500ms, 1m";
		return -1;
	}
	return 0;
}

static int opt_idle_timeout(void *ctx, const char *val, const char **why)
{
	return duration(val, &((struct client_cmd *)ctx)->cfg.relay.idle_ms, why);
}

static int opt_connect_timeout(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (duration(val, &c->cfg.connect_timeout_ms, why) < 0 || c->cfg.connect_timeout_ms == 0)
		return *why = "a duration above 0, e.g. 10 or 500ms", -1;
	return 0;
}

/* --restrict-to and --allow: for a tunnel:// exit, as on the server. */
static int opt_restrict_to(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (c->cfg.nrestrict == CLIENT_MAX_RULES)
		return *why = "too many --restrict-to rules", -1;
	if (dial_rule_check(val) < 0)
		return *why = "HOST:PORT, either part may be *", -1;
	c->cfg.restrict_to[c->cfg.nrestrict++] = val;
	return 0;
}

static int opt_allow(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (c->cfg.nallow == CLIENT_MAX_RULES)
		return *why = "too many --allow rules", -1;
	if (net_cidr_parse(val, &c->cfg.allow[c->cfg.nallow]) < 0)
		return *why = "an address block such as 192.0.2.0/24 or 2001:db8::/32", -1;
	c->cfg.nallow++;
	return 0;
}

static int opt_dns(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	/* Checked now so a typo stops startup instead of every dial. */
	if (!*val || dns_servers_check(val) < 0) {
		*why = "IP[:PORT] of a name server, e.g. 1.1.1.1 or [2606:4700::1111]:53";
		return -1;
	}
	c->cfg.dns = val;
	return 0;
}

/* RFC 3986 §2.1: userinfo may carry %XX escapes (a ':' or '@' in a password). */
/* One hex digit isxdigit() accepted (not strtoul: that brings musl's scanf
 * number engine into the static binary). */
static int hex_digit(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int percent_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			char hex[3] = {0};
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			c = (char)(hex_digit(hex[0]) << 4 | hex_digit(hex[1]));
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* --proxy http://[user:pass@]HOST[:PORT] (port 80 by default). */
static int opt_proxy(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	char *host = c->proxy_host, *cred = c->proxy_cred;
	*why = "expected http://[USER:PASS@]HOST:PORT";
	if (strncmp(val, "http://", 7) != 0)
		return -1;
	const char *p = val + 7, *at = strrchr(p, '@');
	if (at) {
		if ((size_t)(at - p) >= sizeof(c->proxy_cred) || !memchr(p, ':', (size_t)(at - p)))
			return -1;
		if (percent_decode(p, (size_t)(at - p), cred, sizeof(c->proxy_cred)) < 0)
			return *why = "bad %-escape in the --proxy credentials", -1;
		const char *pw = (const char *)memchr(p, ':', (size_t)(at - p)) + 1;
		secret_wipe(pw, (size_t)(at - pw)); /* the password, out of ps(1) */
		c->cfg.proxy_cred = cred;
		p = at + 1;
	}
	size_t n = strlen(p);
	if (n && p[n - 1] == '/')
		n--;
	uint16_t port = 80;
	if (tunnel_target_split(p, n, host, sizeof(c->proxy_host), &port) < 0) {
		if (n == 0 || n >= sizeof(c->proxy_host) || memchr(p, ':', n) || memchr(p, '/', n))
			return -1;
		memcpy(host, p, n);
		host[n] = '\0';
	}
	c->cfg.proxy_host = host;
	c->cfg.proxy_port = port;
	return 0;
}

static int opt_key(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	return key_from_arg((char *)(uintptr_t)val, &c->cfg.keys, why);
}

static int opt_key_file(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	return key_from_file(val, &c->cfg.keys, why);
}

static int opt_insecure(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct client_cmd *)ctx)->cfg.insecure = true;
	return 0;
}

static int opt_sni(void *ctx, const char *val, const char **why)
{
	if (!*val || strlen(val) > 253 || strpbrk(val, " /:"))
		return *why = "a host name, e.g. www.example.com", -1;
	((struct client_cmd *)ctx)->cfg.sni = val;
	return 0;
}

static int opt_pin(void *ctx, const char *val, const char **why)
{
	uint8_t pin[32];
	if (tls_pin_parse(val, pin) < 0)
		return *why = "the SHA-256 fingerprint the server prints: 64 hex digits "
		              "(colons allowed)", -1;
	((struct client_cmd *)ctx)->cfg.pin = val;
	return 0;
}

static int opt_ca(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct client_cmd *)ctx)->cfg.ca_file = val;
	return 0;
}

static int opt_metrics(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (opts_parse_metrics(val, &c->cfg.metrics_addr, why) < 0)
		return -1;
	c->cfg.metrics_on = true;
	return 0;
}

static int opt_fast_open(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	c->cfg.fast_open = true;
	(void)val;
	(void)why;
	return 0;
}

static int opt_encrypt(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct client_cmd *)ctx)->cfg.encrypt = true;
	return 0;
}

static int opt_pool(void *ctx, const char *val, const char **why)
{
	uint64_t v;
	if (conf_parse_uint(val, 0, CLIENT_POOL_MAX, &v) < 0)
		return *why = "a number of idle connections from 0 to 64 (0: no pool)", -1;
	((struct client_cmd *)ctx)->cfg.pool = (unsigned)v;
	return 0;
}

static int opt_pool_idle(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (duration(val, &c->cfg.pool_idle_ms, why) < 0 || c->cfg.pool_idle_ms < 1000 ||
	    c->cfg.pool_idle_ms > CLIENT_POOL_IDLE_MAX_MS)
		return *why = "a duration from 1s to 50s (the server closes an unused pooled "
		              "connection after 60 s)", -1;
	return 0;
}

static int opt_mux(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct client_cmd *)ctx)->mux = true;
	return 0;
}

/* Checked after parsing, so that the order of --mux and this one is free. */
static int opt_mux_streams(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct client_cmd *)ctx)->mux_streams = val;
	return 0;
}

/* --mux [--mux-max-streams N]: N from 1 to MUX_MAX_STREAMS, default 4. */
static int mux_settle(struct client_cmd *c)
{
	uint64_t v = MUX_DEFAULT_STREAMS;
	if (c->mux_streams && !c->mux)
		return opts_usage_error("--mux-max-streams", "only with --mux");
	if (c->mux_streams && conf_parse_uint(c->mux_streams, 1, MUX_MAX_STREAMS, &v) < 0)
		return opts_usage_error("--mux-max-streams", "a number from 1 to 16");
	if (c->mux && c->cfg.pool)
		return opts_usage_error("--pool", "not with --mux (a carrier already keeps its "
		                                  "connection open for the streams to come)");
	c->cfg.mux_streams = c->mux ? (unsigned)v : 0;
	return 0;
}

static int positional_server(void *ctx, const char *val, const char **why)
{
	struct client_cmd *c = ctx;
	if (c->have_server && c->server_from_file && !c->in_file)
		c->have_server = c->server_from_file = false;
	if (c->have_server) {
		*why = "only one SERVER_URL (tunnels take -D, -L, -R)";
		return -1;
	}
	if (url_parse(val, &c->cfg.server, why) < 0)
		return -1;

	c->have_server = true;
	c->server_from_file = c->in_file;
	return 0;
}

static const struct opt client_opts[] = {
	{"server", 0, true, false, positional_server},
	{"dynamic", 'D', true, false, opt_dynamic},
	{"local", 'L', true, false, opt_local},
	{"remote", 'R', true, false, opt_remote},
	{"redirect", 0, true, false, opt_redirect},
	{"tproxy", 0, true, false, opt_tproxy},
	{"host", 0, true, false, opt_host},
	{"proxy-user", 0, true, false, opt_proxy_user},
	{"proxy-pass", 0, true, false, opt_proxy_pass},
	{"keepalive", 0, true, false, opt_keepalive},
	{"pong-timeout", 0, true, false, opt_pong_timeout},
	{"idle-timeout", 0, true, false, opt_idle_timeout},
	{"connect-timeout", 0, true, false, opt_connect_timeout},
	{"dns", 0, true, false, opt_dns},
	{"restrict-to", 0, true, false, opt_restrict_to},
	{"allow", 0, true, false, opt_allow},
	{"key", 0, true, false, opt_key},
	{"key-file", 0, true, false, opt_key_file},
	{"proxy", 0, true, false, opt_proxy},
	{"insecure", 0, false, false, opt_insecure},
	{"sni", 0, true, false, opt_sni},
	{"pin", 0, true, false, opt_pin},
	{"ca", 0, true, false, opt_ca},
	{"encrypt", 0, false, false, opt_encrypt},
	{"fast-open", 0, false, false, opt_fast_open},
	{"pool", 0, true, false, opt_pool},
	{"pool-idle", 0, true, false, opt_pool_idle},
	{"mux", 0, false, false, opt_mux},
	{"mux-max-streams", 0, true, false, opt_mux_streams},
	{"metrics", 0, true, false, opt_metrics},
	COMMON_OPTS,
	{0},
};

static void print_banner(const struct client_config *cfg)
{
	for (size_t i = 0; i < cfg->nfwds; i++) {
		const struct fwd *f = &cfg->fwds[i];
		const char *b = strchr(f->bind_host, ':') ? "[%s]:%u" : "%s:%u";
		char bind[URL_MAX_HOST + 16];
		snprintf(bind, sizeof(bind), b, f->bind_host, f->bind_port);
		if (f->kind == FWD_DYNAMIC && f->chan[0])
			log_info("-D %s: SOCKS5, SOCKS4 and HTTP proxy, every connection leaving "
			         "through the exit %.*s", bind, (int)strcspn(f->chan, ":"), f->chan);
		else if (f->kind == FWD_DYNAMIC)
			log_info("-D %s: SOCKS5, SOCKS4 and HTTP proxy (e.g. curl --socks5-hostname %s "
			         "or curl -x http://%s)", bind, bind, bind);
		else if (f->kind == FWD_LOCAL && f->chan[0])
			log_info("-L %s -> channel %s through the server", bind, f->spec);
		else if (f->kind == FWD_REMOTE && f->route[0])
			log_info("-R %s: publishes %s on the server's web port", f->spec, f->target);
		else if (f->kind == FWD_REMOTE && f->exit)
			log_info("-R %s: an exit: entries' connections leave from here%s", f->spec,
			         cfg->nrestrict || cfg->nallow ? " (within --restrict-to/--allow)" : "");
		else if (f->kind == FWD_REMOTE && f->chan[0])
			log_info("-R %s: a channel to %s from here", f->spec, f->target);
		else if (f->kind == FWD_LOCAL)
			log_info("-L %s -> %s through the server", bind,
			         f->target[0] ? f->target : "the server's --to destination");
		else if (f->kind == FWD_REDIRECT)
			log_info("--redirect %s: transparent proxy, each connection to its original "
			         "destination", bind);
		else if (f->kind == FWD_TPROXY)
			log_info("--tproxy %s: transparent proxy, each TCP connection and UDP flow to its "
			         "original destination", bind);
		else
			log_info("-R server's %s -> %s from here", bind, f->target);
	}
}

int client_cmd_add_fwd(struct client_cmd *c, const char *flag, const char *spec,
                       const char **why)
{
	for (const struct opt *o = client_opts; o->name; o++) {
		bool is_fwd = o->apply == opt_dynamic || o->apply == opt_local ||
		              o->apply == opt_remote || o->apply == opt_redirect ||
		              o->apply == opt_tproxy;
		if (is_fwd && ((flag[0] == '-' && flag[1] == o->short_name && o->short_name &&
		                !flag[2]) ||
		               (flag[0] == '-' && flag[1] == '-' && strcmp(flag + 2, o->name) == 0)))
			return o->apply(c, spec, why);
	}
	return -1; /* *why untouched: the caller's words */
}

void client_cmd_free(struct client_cmd *c)
{
	free(c->conf_text);
	c->conf_text = NULL;
}

int client_cmd_parse(struct client_cmd *c, int argc, char **argv)
{
	const char *why = "";
	client_config_init(&c->cfg);
	const char *conf = opts_config_path(argc, argv);
	c->in_file = true;
	if (conf && opts_parse_file(client_opts, conf, c, &c->conf_text) < 0)
		return 2;
	c->in_file = false;
	if (opts_parse(client_opts, argc, argv, c, positional_server) < 0)
		return 2;
	if (!c->have_server)
		return opts_usage_error(NULL, "client needs a SERVER_URL, e.g. ws://host:8080");
	if (!c->lib && key_from_env(&c->cfg.keys, &why) < 0)
		return opts_usage_error("WSFERRY_KEY", why);
	if ((c->cfg.insecure || c->cfg.pin || c->cfg.ca_file || c->cfg.sni) &&
	    c->cfg.server.scheme == URL_WS)
		return opts_usage_error("--insecure/--pin/--ca/--sni", "only mean something with wss://");
	if (c->cfg.encrypt && !c->cfg.keys)
		return opts_usage_error("--encrypt", "needs --key or --key-file (the record keys "
		                                     "come from it)");
	if (c->cfg.encrypt && c->cfg.server.scheme != URL_WS)
		return opts_usage_error("--encrypt", "only for ws:// (TLS already encrypts wss:// and "
		                                     "tls://)");
	if (mux_settle(c) != 0)
		return 2;
	if (c->cfg.insecure + !!c->cfg.pin + !!c->cfg.ca_file > 1)
		return opts_usage_error("--insecure/--pin/--ca", "choose one way to trust the server");
	if (!c->cfg.proxy_user != !c->cfg.proxy_pass)
		return opts_usage_error("--proxy-user", "needs --proxy-pass too (and the other way)");
	if (c->cfg.nfwds == 0 && !c->lib)
		add_fwd(c, FWD_DYNAMIC, "127.0.0.1:1080", &why);
	bool exit = false;
	for (size_t i = 0; i < c->cfg.nfwds; i++)
		exit |= c->cfg.fwds[i].exit;
	if ((c->cfg.nrestrict || c->cfg.nallow) && !exit)
		return opts_usage_error("--restrict-to/--allow", "on a client they limit a -R "
		                                                 "tunnel://NAME@ exit, and there is none");
	print_banner(&c->cfg);
	return 0;
}

int cmd_client(int argc, char **argv)
{
	static struct client_cmd c; /* static: the config outlives nothing but main */
	int rc = client_cmd_parse(&c, argc, argv);
	return rc ? rc : client_main(&c.cfg);
}
