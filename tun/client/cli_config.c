/* cli_config.c — the client's defaults and the -D/-L/-R spec parser
 * (ssh's forms: [BIND:]PORT[:HOST:HOSTPORT], IPv6 in brackets). */
#include "tun/client/cli_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/net.h"
#include "proto/conf.h"
#include "tun/dgram.h"

void client_config_init(struct client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->relay.max_message = 16u << 20;
	cfg->relay.keepalive_ms = 30000;
	cfg->relay.pong_timeout_ms = 15000;
	cfg->connect_timeout_ms = 10000;
	cfg->pool_idle_ms = CLIENT_POOL_IDLE_DEFAULT_MS;
}

/* Splits spec at ':' outside brackets into at most 4 parts. */
static int split_colons(const char *spec, const char *part[4], size_t len[4])
{
	int n = 0;
	const char *start = spec;
	int depth = 0;
	for (const char *p = spec;; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		if ((*p == ':' && depth == 0) || *p == '\0') {
			if (n == 4)
				return -1;
			part[n] = start;
			len[n] = (size_t)(p - start);
			n++;
			start = p + 1;
			if (*p == '\0')
				return n;
		}
	}
}

static int copy_host(const char *p, size_t n, char *out, size_t cap)
{
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= cap || memchr(p, '[', n) || memchr(p, ']', n) || memchr(p, '/', n))
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

/* "udp://" or "tcp://" in front (-L, -R): *spec moves past it. */
static int parse_scheme(enum fwd_kind kind, const char **spec, struct fwd *f, const char **why)
{
	if (strncmp(*spec, "udp://", 6) == 0 || strncmp(*spec, "tcp://", 6) == 0) {
		if (kind == FWD_DYNAMIC)
			return fail(why, "-D takes no scheme: it serves TCP and SOCKS5 UDP on one port");
		if (kind == FWD_REDIRECT || kind == FWD_TPROXY)
			return fail(why, kind == FWD_TPROXY ? "takes no scheme: [BIND:]PORT carries TCP and UDP"
			                                      : "takes no scheme: [BIND:]PORT (TCP)");
		f->udp = (*spec)[0] == 'u';
		*spec += 6;
	} else if (strstr(*spec, "://")) {
		return fail(why, "the scheme must be tcp:// or udp://");
	}
	return 0;
}

/* "?timeout=DURATION" at the end: cut off (into rest) and parsed. */
static int parse_query(const char *spec, char *rest, size_t cap, struct fwd *f, const char **why)
{
	const char *q = strchr(spec, '?');
	uint64_t ms = DGRAM_DEFAULT_IDLE_MS;
	size_t n = q ? (size_t)(q - spec) : strlen(spec);
	if (n >= cap)
		return fail(why, "too long");
	memcpy(rest, spec, n);
	rest[n] = '\0';
	f->udp_idle_ms = DGRAM_DEFAULT_IDLE_MS;
	if (!q)
		return 0;
	if (f->kind != FWD_DYNAMIC && f->kind != FWD_TPROXY && !f->udp)
		return fail(why, "?timeout= is for udp:// forwards (and the UDP flows of -D and "
		                 "--tproxy)");
	if (strncmp(q, "?timeout=", 9) != 0)
		return fail(why, "the only option is ?timeout=DURATION");
	if (conf_parse_duration_ms(q + 9, &ms) < 0 || ms > 86400000ull * 7)
		return fail(why, "?timeout= takes a duration, e.g. 60, 30s, 5m; 0 never expires");
	f->udp_idle_ms = (unsigned)ms;
	return 0;
}

/* "NAME[:PASSWORD]@REST" (channels, exits): f->chan filled, the password
 * masked in f->spec (which starts with scheme), rest copied out. */
static int parse_channel(const char *scheme, const char *at, const char *spec, char *rest,
                         size_t cap, struct fwd *f, const char **why)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	bool entry = f->kind == FWD_DYNAMIC && strcmp(scheme, "tcp://") != 0;
	if (!entry && ((f->kind != FWD_LOCAL && f->kind != FWD_REMOTE) || f->udp))
		return fail(why, "channels (NAME[:PASSWORD]@) are -R/-L tcp:// only; an exit is "
		                 "reached with -D socks5://NAME[:PASSWORD]@[BIND:]PORT");
	if (tunnel_channel_split(spec, (size_t)(at - spec), name, pass) < 0)
		return fail(why, "a channel name is 1 to 64 of A-Z a-z 0-9 . _ - and its password "
		                 "at most 128 printable characters without spaces");
	if (strlen(at + 1) >= cap)
		return fail(why, "too long");
	strcpy(rest, at + 1);
	snprintf(f->chan, sizeof(f->chan), "%s:%s", name, pass);
	int n = snprintf(f->spec, sizeof(f->spec), "%s%s%s@%s", scheme, name, pass[0] ? ":***" : "",
	                 rest);
	if (n < 0 || (size_t)n >= sizeof(f->spec))
		return fail(why, "too long");
	return 0;
}

/* The value of key in "a=1&b=2" (no decoding), or -1. */
static int query_get(const char *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) != 0 || p[kl] != '=')
			continue;
		const char *v = p + kl + 1;
		size_t n = strcspn(v, "&");
		if (n == 0 || n >= cap)
			return -1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

/* -R http://HOST:PORT[/BASE]?mode=path|domain&value=V, and
 * -R tcp://HOST:PORT?mode=path&value=PREFIX (TCP as WebSocket). */
static int parse_route(const char *whole, struct fwd *f, const char **why)
{
	bool tls = strncmp(whole, "https://", 8) == 0;
	bool http = tls || strncmp(whole, "http://", 7) == 0;
	const char *hp = whole + (tls ? 8 : http ? 7 : 6);
	const char *q = strchr(hp, '?');
	char mode[16], value[ROUTE_MAX_VALUE + 1], host[URL_MAX_HOST + 1], wire[sizeof(f->route)];
	const char *base = NULL;
	if (f->kind != FWD_REMOTE)
		return fail(why, "?mode= publishes a service: it is for -R");
	if (!q || query_get(q + 1, "mode", mode, sizeof(mode)) < 0 ||
	    query_get(q + 1, "value", value, sizeof(value)) < 0)
		return fail(why, "expected ?mode=path&value=PREFIX or ?mode=domain&value=NAME");
	if (strcmp(mode, "path") != 0 && (strcmp(mode, "domain") != 0 || !http))
		return fail(why, http ? "mode is path or domain" : "tcp:// routes take mode=path");
	if (strchr(value, ' ') || memchr(hp, ' ', (size_t)(q - hp)))
		return fail(why, "no spaces in a route");
	/* https:// services: verified against the system CAs and the host name
	 * by default (as the client verifies its server), ?ca=FILE instead, or
	 * not at all with ?insecure. */
	f->backend_tls = tls;
	for (const char *o = q + 1; o; o = strchr(o, '&'), o = o ? o + 1 : NULL) {
		size_t n = strcspn(o, "&");
		if ((n == 8 && strncmp(o, "insecure", 8) == 0) ||
		    (n == 10 && strncmp(o, "insecure=1", 10) == 0))
			f->backend_insecure = true;
		else if (strncmp(o, "ca=", 3) == 0 && query_get(o, "ca", f->backend_ca,
		                                                  sizeof(f->backend_ca)) == 0)
			;
		else if (strncmp(o, "mode=", 5) != 0 && strncmp(o, "value=", 6) != 0)
			return fail(why, "route options are mode=, value=, and for https:// insecure "
			                 "and ca=FILE");
	}
	if (!tls && (f->backend_insecure || f->backend_ca[0]))
		return fail(why, "insecure and ca= are for https:// services");
	const char *slash = memchr(hp, '/', (size_t)(q - hp));
	const char *hend = slash ? slash : q;
	if (slash) {
		if (!http)
			return fail(why, "a tcp:// route takes no /BASE");
		base = slash;
	}
	const char *part[4];
	size_t len[4];
	char hostport[URL_MAX_HOST + 8];
	uint16_t port;
	if ((size_t)(hend - hp) >= sizeof(hostport))
		return fail(why, "too long");
	memcpy(hostport, hp, (size_t)(hend - hp));
	hostport[hend - hp] = '\0';
	if (split_colons(hostport, part, len) != 2 ||
	    copy_host(part[0], len[0], host, sizeof(host)) < 0 ||
	    url_parse_port(part[1], len[1], &port) < 0)
		return fail(why, "expected HOST:PORT after the scheme");
	snprintf(f->target, sizeof(f->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	int bl = base ? (int)(q - base) : 0;
	int n = snprintf(wire, sizeof(wire), "%s %s%s%.*s", http ? mode : "ws", value,
	                 base ? " " : "", bl, base ? base : "");
	struct route_rule rule;
	if (n < 0 || (size_t)n >= sizeof(wire) || route_rule_parse(wire, (size_t)n, &rule) < 0 ||
	    route_rule_format(&rule, f->route, sizeof(f->route)) == 0)
		return fail(why, "invalid route: a path prefix or BASE of printable characters "
		                 "(no spaces, ?, # or ..), or a host name");
	return 0;
}

/* -R tunnel://NAME[:PASSWORD]@ registers this client as the exit NAME (VPN
 * mode): it dials whatever each entry asks for, so nothing follows the @. */
static int parse_exit(const char *whole, struct fwd *f, const char **why)
{
	const char *spec = whole + 9;
	const char *at = strrchr(spec, '@');
	char rest[sizeof(f->spec)];
	if (f->kind != FWD_REMOTE)
		return fail(why, "tunnel://NAME@ registers an exit: it is for -R");
	if (!at || at[1] != '\0')
		return fail(why, "expected tunnel://NAME[:PASSWORD]@ (the exit dials what each "
		                 "entry asks for: nothing follows the @)");
	if (parse_channel("tunnel://", at, spec, rest, sizeof(rest), f, why) < 0)
		return -1;
	f->exit = true;
	return 0;
}

/* -D socks5:// or http://: "NAME[:PASSWORD]@" must follow (an entry to the
 * exit NAME); *scheme is set and *whole moves past it. A plain -D takes no
 * scheme (*scheme NULL). 0, or -1 with *why. */
static int entry_scheme(enum fwd_kind kind, const char **whole, const char **scheme,
                        const char **why)
{
	*scheme = strncmp(*whole, "socks5://", 9) == 0 ? "socks5://"
	          : strncmp(*whole, "http://", 7) == 0 ? "http://"
	                                               : NULL;
	if (kind != FWD_DYNAMIC || !*scheme) {
		*scheme = NULL;
		return 0;
	}
	*whole += strlen(*scheme);
	if (!strchr(*whole, '@') || strchr(*whole, '?'))
		return fail(why, "expected -D socks5://NAME[:PASSWORD]@[BIND:]PORT (or http://): a "
		                 "proxy through the exit NAME, TCP only (a plain proxy takes no scheme)");
	return 0;
}

int client_parse_fwd(enum fwd_kind kind, const char *whole, struct fwd *f, const char **why)
{
	return client_parse_fwd_any(kind, whole, f, false, why);
}

int client_parse_fwd_any(enum fwd_kind kind, const char *whole, struct fwd *f, bool any_port,
                         const char **why)
{
	const char *part[4];
	size_t len[4];
	char spec[sizeof(f->spec)];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	snprintf(f->spec, sizeof(f->spec), "%s", whole);
	if (strncmp(whole, "tunnel://", 9) == 0)
		return parse_exit(whole, f, why);
	const char *scheme;
	if (entry_scheme(kind, &whole, &scheme, why) < 0)
		return -1;
	if (!scheme && (strncmp(whole, "http://", 7) == 0 || strncmp(whole, "https://", 8) == 0 ||
	                (strncmp(whole, "tcp://", 6) == 0 && strstr(whole, "?mode="))))
		return parse_route(whole, f, why);
	if ((!scheme && parse_scheme(kind, &whole, f, why) < 0) ||
	    parse_query(whole, spec, sizeof(spec), f, why) < 0)
		return -1;
	const char *at = strrchr(spec, '@');
	if (at) {
		char rest[sizeof(spec)];
		if (parse_channel(scheme ? scheme : "tcp://", at, spec, rest, sizeof(rest), f, why) < 0)
			return -1;
		strcpy(spec, rest);
	}
	int n = split_colons(spec, part, len);
	bool port_only = kind == FWD_DYNAMIC || kind == FWD_REDIRECT || kind == FWD_TPROXY ||
	                 (at && kind == FWD_LOCAL);
	int need = port_only ? 1 : 3;
	if (at && kind == FWD_REMOTE) {
		/* the channel's destination, dialled here: HOST:PORT */
		char host[URL_MAX_HOST + 1];
		uint16_t port;
		if (n != 2 || copy_host(part[0], len[0], host, sizeof(host)) < 0 ||
		    url_parse_port(part[1], len[1], &port) < 0)
			return fail(why, "expected tcp://NAME[:PASSWORD]@HOST:PORT");
		snprintf(f->target, sizeof(f->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		         port);
		return 0;
	}
	/* -L [BIND:]PORT:* — no destination: the server's --to (TCP only). */
	bool fixed = kind == FWD_LOCAL && !f->udp && !at && (n == 2 || n == 3) &&
	             len[n - 1] == 1 && part[n - 1][0] == '*';
	if (fixed)
		need = 2;
	if (n != need && n != need + 1)
		return fail(why, scheme      ? "expected socks5://NAME[:PASSWORD]@[BIND:]PORT"
		                 : at        ? "expected tcp://NAME[:PASSWORD]@[BIND:]PORT"
		                 : port_only ? "expected [BIND:]PORT"
		                 : kind == FWD_LOCAL ? "expected [BIND:]PORT:HOST:HOSTPORT "
		                                       "(or [BIND:]PORT:* for the server's --to)"
		                             : "expected [BIND:]PORT:HOST:HOSTPORT");
	int i = 0;
	strcpy(f->bind_host, "127.0.0.1"); /* loopback unless a host is given */
	if (n == need + 1 && copy_host(part[i++], len[0], f->bind_host, sizeof(f->bind_host)) < 0)
		return fail(why, "invalid bind address");
	bool port0 = any_port && kind != FWD_REMOTE && len[i] == 1 && part[i][0] == '0';
	if (!port0 && url_parse_port(part[i], len[i], &f->bind_port) < 0)
		return fail(why, "port must be a number from 1 to 65535");
	i++;
	if (port_only || fixed)
		return 0; /* -L PORT:*: target "" */
	struct net_addr probe;
	if (kind == FWD_REMOTE && strcmp(f->bind_host, "localhost") != 0 &&
	    net_addr_from_ip(f->bind_host, 1, &probe) < 0)
		return fail(why, "the server-side bind address must be an IP address "
		                 "(e.g. 0.0.0.0 or 127.0.0.1)");
	char host[URL_MAX_HOST + 1];
	uint16_t port;
	if (copy_host(part[i], len[i], host, sizeof(host)) < 0)
		return fail(why, "invalid destination host");
	if (url_parse_port(part[i + 1], len[i + 1], &port) < 0)
		return fail(why, "destination port must be a number from 1 to 65535");
	snprintf(f->target, sizeof(f->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	return 0;
}
