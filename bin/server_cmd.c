/* server_cmd.c — `wsferry server`: options into a server_config, the
 * embedded default listener, the first lines a user sees, then tun/server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "core/dns.h"
#include "core/log.h"
#include "proto/conf.h"
#include "proto/tunnel.h"
#include "proto/url.h"
#include "tun/dial.h"
#include "tun/server/replay_store.h"
#include "tun/server/server.h"

#define DEFAULT_LISTEN "ws://127.0.0.1:8080"

static int opt_echo(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (val[0] != '/' || strpbrk(val, " ?#")) {
		*why = "must be a path starting with / (no spaces, query or fragment)";
		return -1;
	}
	cfg->echo_path = val;
	return 0;
}

static int opt_ping(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (val && (!*val || strlen(val) > 255)) {
		*why = "a server name of 1 to 255 characters (--ping=NAME)";
		return -1;
	}
	cfg->ping_name = val ? val : SERVER_PING_DEFAULT_NAME;
	return 0;
}

static int opt_max_message(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t v;
	if (conf_parse_size(val, &v) < 0 || v < 126 || v > (1ull << 31)) {
		*why = "a size from 126 bytes to 2G, e.g. 16M or 65536";
		return -1;
	}
	cfg->max_message = v;
	return 0;
}

static int opt_handshake_timeout(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms == 0 || ms > 600000) {
		*why = "a duration up to 10m, e.g. 10, 500ms, 1m";
		return -1;
	}
	cfg->handshake_ms = (unsigned)ms;
	return 0;
}

/* --keepalive: 0 turns pings off; --pong-timeout: never 0 (a ping would
 * end its connection on the spot). Both at most a week, as the client's. */
static int keepalive_duration(const char *val, unsigned *out, bool zero_ok, const char **why)
{
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms > 86400000ull * 7 || (!zero_ok && !ms)) {
		*why = zero_ok ? "a duration, e.g. 30 (seconds), 500ms, 5m; 0 turns it off"
		               : "a duration above 0, e.g. 15 (seconds), 500ms, 1m";
		return -1;
	}
	*out = (unsigned)ms;
	return 0;
}

static int opt_keepalive(void *ctx, const char *val, const char **why)
{
	return keepalive_duration(val, &((struct server_config *)ctx)->relay.keepalive_ms, true, why);
}

static int opt_pong_timeout(void *ctx, const char *val, const char **why)
{
	return keepalive_duration(val, &((struct server_config *)ctx)->relay.pong_timeout_ms, false,
	                          why);
}

static int opt_dns(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	/* Checked now so a typo stops startup instead of every dial. */
	if (!*val || dns_servers_check(val) < 0) {
		*why = "IP[:PORT] of a name server, e.g. 1.1.1.1 or [2606:4700::1111]:53";
		return -1;
	}
	cfg->dns = val;
	return 0;
}

static int add_listen(struct server_config *cfg, const char *s, const char **why)
{
	if (cfg->nlisten == SERVER_MAX_LISTEN) {
		*why = "too many listen URLs";
		return -1;
	}
	struct url *u = &cfg->listen[cfg->nlisten];
	if (url_parse(s, u, why) < 0)
		return -1;

	cfg->nlisten++;
	return 0;
}

/* --connect-timeout: how long a tunnel's dial may take (the client's option
 * of the same name bounds its own dials to the server). */
static int opt_connect_timeout(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms == 0 || ms > 600000)
		return *why = "a duration above 0 up to 10m, e.g. 10 or 500ms", -1;
	cfg->connect_timeout_ms = (unsigned)ms;
	return 0;
}

static int opt_drain_timeout(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms > 86400000)
		return *why = "a duration up to 24h, e.g. 30, 2m, or 0 to stop at once", -1;
	cfg->drain_ms = (unsigned)ms;
	return 0;
}

static int opt_metrics(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (opts_parse_metrics(val, &cfg->metrics_addr, why) < 0)
		return -1;
	cfg->metrics_on = true;
	return 0;
}

/* The metrics listener is never a public one: same port on the same, a
 * wildcard or a named address is refused before anything binds. */
static bool metrics_on_public_port(const struct server_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct url *u = &cfg->listen[i];
		struct net_addr a;
		if (u->port != net_addr_port(&cfg->metrics_addr))
			continue;
		if (net_addr_from_ip(u->host, u->port, &a) < 0 || net_addr_same_ip(&a, &cfg->metrics_addr))
			return true; /* a name may resolve to it */
		char ip[NET_ADDR_STRLEN];
		net_addr_ip_str(&cfg->metrics_addr, ip, sizeof(ip));
		if (!strcmp(u->host, "0.0.0.0") || !strcmp(u->host, "::") || !strcmp(ip, "0.0.0.0") ||
		    !strcmp(ip, "::"))
			return true;
	}
	return false;
}

static int opt_max_skew(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t ms;
	if (conf_parse_duration_ms(val, &ms) < 0 || ms < 1000 || ms > 3600000) {
		*why = "a duration from 1 s to 1 h, e.g. 120 or 5m";
		return -1;
	}
	cfg->skew_s = (unsigned)(ms / 1000);
	return 0;
}

static int opt_stealth(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (strcmp(val, "drop") == 0)
		cfg->stealth = STEALTH_DROP;
	else if (strcmp(val, "decoy") == 0)
		cfg->stealth = STEALTH_DECOY;
	else
		return *why = "drop or decoy (or use --fallback HOST:PORT)", -1;
	return 0;
}

static int opt_fallback(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	if (tunnel_target_split(val, strlen(val), host, sizeof(host), &port) < 0)
		return *why = "HOST:PORT of a real web server, e.g. 127.0.0.1:80", -1;
	cfg->stealth = STEALTH_FALLBACK;
	cfg->fallback = val;
	return 0;
}

static int opt_to(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	if (tunnel_target_split(val, strlen(val), host, sizeof(host), &port) < 0)
		return *why = "HOST:PORT every tunnel goes to, e.g. 127.0.0.1:8388 or [::1]:22", -1;
	cfg->to = val;
	return 0;
}

static int opt_fast_open(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	cfg->fast_open = true;
	(void)val;
	(void)why;
	return 0;
}

static int opt_encrypt(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct server_config *)ctx)->encrypt = true;
	return 0;
}

static int opt_max_conns_per_ip(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t v;
	if (conf_parse_uint(val, 1, 1000000, &v) < 0)
		return *why = "a number from 1 to 1000000", -1;
	cfg->max_conns_per_ip = (unsigned)v;
	return 0;
}

static int opt_restrict_to(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (cfg->nrestrict == SERVER_MAX_RULES)
		return *why = "too many --restrict-to rules", -1;
	if (dial_rule_check(val) < 0)
		return *why = "HOST:PORT, either part may be *", -1;
	cfg->restrict_to[cfg->nrestrict++] = val;
	return 0;
}

/* --permit-listen: [HOST:]PORT, HOST:*, any, none (ssh's PermitListen). */
static int opt_permit_listen(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (strcmp(val, "none") == 0) {
		cfg->listen_off = true;
		return 0;
	}
	if (cfg->npermit == SERVER_MAX_RULES)
		return *why = "too many --permit-listen rules", -1;
	if (server_listen_rule_parse(val, &cfg->permit_listen[cfg->npermit], why) < 0)
		return -1;
	cfg->npermit++;
	return 0;
}

static int opt_allow(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (cfg->nallow == SERVER_MAX_RULES)
		return *why = "too many --allow rules", -1;
	if (net_cidr_parse(val, &cfg->allow[cfg->nallow]) < 0)
		return *why = "an address block such as 192.0.2.0/24 or 2001:db8::/32", -1;
	cfg->nallow++;
	return 0;
}

/* --proxy-protocol and --trust-proxy: address blocks of our own balancers. */
static int add_cidr(struct net_cidr *list, size_t *n, const char *val, const char **why)
{
	if (*n == SERVER_MAX_RULES)
		return *why = "too many address blocks", -1;
	if (net_cidr_parse(val, &list[*n]) < 0)
		return *why = "an address or block such as 127.0.0.1, 10.0.0.0/8 or fd00::/8", -1;
	(*n)++;
	return 0;
}

static int opt_proxy_protocol(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	return add_cidr(cfg->proxy_protocol, &cfg->nproxy_protocol, val, why);
}

static int opt_trust_proxy(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	return add_cidr(cfg->trust_proxy, &cfg->ntrust_proxy, val, why);
}

static int opt_replay_store(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (replay_store_check_url(val, why) < 0)
		return -1;
	cfg->replay_store = val;
	return 0;
}

static int opt_replay_store_fail(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (strcmp(val, "closed") && strcmp(val, "local"))
		return *why = "closed (refuse new tunnels) or local (this node's own table)", -1;
	cfg->replay_store_local = strcmp(val, "local") == 0;
	return 0;
}

static int opt_cert(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct server_config *)ctx)->cert = val;
	return 0;
}

static int opt_cert_key(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct server_config *)ctx)->cert_key = val;
	return 0;
}

static int opt_name(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	if (cfg->nnames == SERVER_MAX_RULES || !*val || strlen(val) > 253)
		return *why = "a DNS name or IP address for the self-signed certificate", -1;
	cfg->names[cfg->nnames++] = val;
	return 0;
}

static int opt_accept_page(void *ctx, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct server_config *)ctx)->accept_page = true;
	return 0;
}

static int opt_workers(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	uint64_t v;
	if (strcmp(val, "auto") == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = n > 0 ? (unsigned)(n > 64 ? 64 : n) : 1;
		return 0;
	}
	if (conf_parse_uint(val, 1, 64, &v) < 0)
		return *why = "a number from 1 to 64, or auto (one per CPU)", -1;
	cfg->workers = (unsigned)v;
	return 0;
}

static int opt_key(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	return key_from_arg((char *)(uintptr_t)val, &cfg->keys, why);
}

static int opt_key_file(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	return key_from_file(val, &cfg->keys, why);
}

static int positional_listen(void *ctx, const char *val, const char **why)
{
	struct server_cmd *sc = ctx;
	if (sc->in_file)
		sc->file_listens++;
	else if (sc->file_listens) {
		sc->cfg.nlisten = 0; /* flags override the file */
		sc->file_listens = 0;
	}
	return add_listen(&sc->cfg, val, why);
}

static const struct opt server_opts[] = {
	{"listen", 0, true, false, positional_listen},
	{"echo", 0, true, false, opt_echo},
	{"ping", 0, true, true, opt_ping},
	{"max-message", 0, true, false, opt_max_message},
	{"handshake-timeout", 0, true, false, opt_handshake_timeout},
	{"connect-timeout", 0, true, false, opt_connect_timeout},
	{"keepalive", 0, true, false, opt_keepalive},
	{"pong-timeout", 0, true, false, opt_pong_timeout},
	{"dns", 0, true, false, opt_dns},
	{"key", 0, true, false, opt_key},
	{"key-file", 0, true, false, opt_key_file},
	{"max-skew", 0, true, false, opt_max_skew},
	{"stealth", 0, true, false, opt_stealth},
	{"workers", 0, true, false, opt_workers},
	{"cert", 0, true, false, opt_cert},
	{"cert-key", 0, true, false, opt_cert_key},
	{"name", 0, true, false, opt_name},
	{"accept-page", 0, false, false, opt_accept_page},
	{"restrict-to", 0, true, false, opt_restrict_to},
	{"to", 0, true, false, opt_to},
	{"encrypt", 0, false, false, opt_encrypt},
	{"fast-open", 0, false, false, opt_fast_open},
	{"allow", 0, true, false, opt_allow},
	{"permit-listen", 0, true, false, opt_permit_listen},
	{"max-conns-per-ip", 0, true, false, opt_max_conns_per_ip},
	{"fallback", 0, true, false, opt_fallback},
	{"proxy-protocol", 0, true, false, opt_proxy_protocol},
	{"trust-proxy", 0, true, false, opt_trust_proxy},
	{"drain-timeout", 0, true, false, opt_drain_timeout},
	{"metrics", 0, true, false, opt_metrics},
	{"replay-store", 0, true, false, opt_replay_store},
	{"replay-store-fail", 0, true, false, opt_replay_store_fail},
	{"push", 0, true, false, push_opt_push},
	{"push-key-file", 0, true, false, push_opt_key_file},
	{"push-origin", 0, true, false, push_opt_origin},
	{"push-max-message", 0, true, false, push_opt_max_message},
	{"push-max-per-ip", 0, true, false, push_opt_max_per_ip},
	{"push-db", 0, true, false, push_opt_db},
	{"push-bus", 0, true, false, push_opt_bus},
	{"controller", 0, true, false, controller_opt},
	{"controller-key-file", 0, true, false, controller_opt_key_file},
	{"push-demo", 0, true, false, push_opt_demo},
	{"push-socketio", 0, true, false, push_opt_socketio},
	{"admin", 0, true, false, push_opt_admin},
	{"admin-password-file", 0, true, false, push_opt_admin_password_file},
	COMMON_OPTS,
	{0},
};

/* SPEC: no URL means ws://127.0.0.1:8080, or 0.0.0.0:$PORT under Docker. */
static int default_listen(struct server_config *cfg, bool tls)
{
	const char *port = getenv("PORT");
	char url[64];
	const char *why = "";
	if (port && *port) {
		snprintf(url, sizeof(url), "%s://0.0.0.0:%s", tls ? "wss" : "ws", port);
		if (add_listen(cfg, url, &why) < 0)
			return opts_usage_error("PORT", "must be a number from 1 to 65535");
		return 0;
	}
	snprintf(url, sizeof(url), "%s", tls ? "wss://127.0.0.1:8080" : DEFAULT_LISTEN);
	return add_listen(cfg, url, &why) < 0 ? 1 : 0;
}

static bool readable_file(const char *path)
{
	return path && access(path, R_OK) == 0;
}

/* ming-mong's Docker variables, honoured when the flags are absent: TLS is on
 * with ENABLE_TLS=true or both TLS_* files named; with TLS asked for and no
 * files, a self-signed certificate (never a silent fall-back to ws://).
 * 0, 1 (TLS on) or 2 (usage error, printed). */
static int docker_env(struct server_config *cfg)
{
	const char *enable = getenv("ENABLE_TLS");
	const char *crt = getenv("TLS_CERT_FILE"), *key = getenv("TLS_KEY_FILE");
	bool on = crt && *crt && key && *key;
	if (enable && *enable && conf_parse_bool(enable, &on) < 0)
		return opts_usage_error("ENABLE_TLS", "use true, 1, yes, on or false, 0, no, off");
	if (!on || cfg->cert)
		return on ? 1 : 0;
	crt = crt && *crt ? crt : "./server.crt";
	key = key && *key ? key : "./server.key";
	if (readable_file(crt) && readable_file(key)) {
		cfg->cert = crt;
		cfg->cert_key = key;
	} else {
		log_info("TLS asked for, but %s / %s not found: generating a self-signed "
		         "certificate", crt, key);
	}
	return 1;
}

/* Raises the soft descriptor limit to the hard one, and keeps one address
 * from holding more than half of it (a tunnel costs two descriptors). */
static void fd_budget(struct server_config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	rlim_t cap = rl.rlim_cur > 64 ? (rl.rlim_cur - 32) / 2 : 16;
	if (cfg->max_conns_per_ip > cap) {
		log_info("--max-conns-per-ip lowered to %lu to fit %lu file descriptors",
		         (unsigned long)cap, (unsigned long)rl.rlim_cur);
		cfg->max_conns_per_ip = (unsigned)cap;
	}
}

/* SPEC: the first lines say how to connect (with the pin of a certificate
 * made at start, the only way to trust it). */
static void print_banner(const struct server_config *cfg, const char *fingerprint)
{
	if (log_level_now < LOG_LEVEL_WARN)
		return; /* -q */
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct url *u = &cfg->listen[i];
		const char *host = u->host;
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
			host = "SERVER_HOST"; /* the user knows the public name, we don't */
		char url[URL_MAX_HOST + URL_MAX_PATH + 32];
		snprintf(url, sizeof(url), strchr(host, ':') ? "%s://[%s]:%u%s" : "%s://%s:%u%s",
		         url_scheme_name(u->scheme), host, u->port, strcmp(u->path, "/") ? u->path : "");
		bool pin = u->scheme != URL_WS && fingerprint && !cfg->cert;
		fprintf(stderr, "wsferry: tunnel server at %s; connect with:\n", url);
		fprintf(stderr, "  wsferry client %s%s%s%s -D 127.0.0.1:1080\n", url,
		        pin ? " --pin " : "", pin ? fingerprint : "",
		        cfg->keys ? " --key-file YOUR_KEY_FILE" : "");
		if (cfg->echo_path)
			fprintf(stderr, "wsferry: echo endpoint at %s://%s:%u%s\n",
			        u->scheme == URL_WS ? "ws" : "wss", host, u->port, cfg->echo_path);
		if (cfg->push.path)
			fprintf(stderr, "wsferry: push subscribers at %s://%s:%u%s, POST messages to "
			                "%s://%s:%u%s with X-API-KEY\n",
			        u->scheme == URL_WS ? "ws" : "wss", host, u->port, cfg->push.path,
			        u->scheme == URL_WS ? "http" : "https", host, u->port, cfg->push.path);
	}
	if (!cfg->keys)
		fprintf(stderr, "wsferry: warning: no --key: this server is OPEN, anyone who can reach "
		                "it can tunnel through it (make one with `wsferry keygen`)\n");
}

int server_cmd_parse(struct server_cmd *sc, int argc, char **argv)
{
	struct server_config *cfg = &sc->cfg;
	server_config_init(cfg);
	const char *conf = opts_config_path(argc, argv);
	sc->in_file = true;
	if (conf && opts_parse_file(server_opts, conf, sc, &sc->conf_text) < 0)
		return 2;
	sc->in_file = false;
	if (opts_parse(server_opts, argc, argv, sc, positional_listen) < 0)
		return 2;
	const char *why = "";
	if (!sc->lib && key_from_env(&cfg->keys, &why) < 0)
		return opts_usage_error("WSFERRY_KEY", why);
	if (cfg->encrypt && !cfg->keys)
		return opts_usage_error("--encrypt", "needs --key or --key-file (the record keys "
		                                     "come from it)");
	if (!cfg->cert != !cfg->cert_key)
		return opts_usage_error("--cert", "needs --cert-key too (and the other way)");
	if (cfg->replay_store && !cfg->keys)
		return opts_usage_error("--replay-store", "needs --key (only keyed tokens carry nonces)");
	if (push_check(sc))
		return 2;
	int env_tls = sc->lib ? 0 : docker_env(cfg);
	if (env_tls == 2)
		return 2;
	if (cfg->nlisten == 0) {
		int rc = sc->lib ? (add_listen(cfg, DEFAULT_LISTEN, &why) < 0 ? 2 : 0)
		                 : default_listen(cfg, env_tls == 1);
		if (rc)
			return rc;
	}
	if (controller_check(cfg))
		return 2;
	if (cfg->metrics_on && metrics_on_public_port(cfg))
		return opts_usage_error("--metrics", "must not share a port with a listen URL (the "
		                                     "public port never answers /metrics or /health)");
	return 0;
}

int cmd_server(int argc, char **argv)
{
	struct server_cmd sc = {0};
	int rc = server_cmd_parse(&sc, argc, argv);
	if (rc == 0) {
		fd_budget(&sc.cfg);
		rc = server_main(&sc.cfg, print_banner);
	}
	free(sc.conf_text);
	return rc;
}
