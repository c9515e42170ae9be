/* client.c — `wsferry client`: local listeners, tunnel setup towards the
 * server (upgrade request with the target in its cookie, 0-RTT data behind
 * it), and -L forwards. The -D front end lives in front.c. */
#include "tun/client_int.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/splice.h"
#include "core/rand.h"
#include "proto/ws.h"
#include "tun/httpfilter.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define EMFILE_LOG_EVERY_MS 10000
#define UPGRADE_MAX 2048

void client_config_init(struct client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->relay.max_message = 16u << 20;
	cfg->relay.keepalive_ms = 30000;
	cfg->relay.pong_timeout_ms = 15000;
	cfg->connect_timeout_ms = 10000;
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

int client_parse_fwd(enum fwd_kind kind, const char *spec, struct fwd *f, const char **why)
{
	const char *part[4];
	size_t len[4];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	snprintf(f->spec, sizeof(f->spec), "%s", spec);
	int n = split_colons(spec, part, len);
	int need = kind == FWD_DYNAMIC ? 1 : 3;
	if (n != need && n != need + 1)
		return fail(why, kind == FWD_DYNAMIC ? "expected [BIND:]PORT"
		                                     : "expected [BIND:]PORT:HOST:HOSTPORT");
	int i = 0;
	strcpy(f->bind_host, "127.0.0.1"); /* loopback unless a host is given */
	if (n == need + 1 && copy_host(part[i++], len[0], f->bind_host, sizeof(f->bind_host)) < 0)
		return fail(why, "invalid bind address");
	if (url_parse_port(part[i], len[i], &f->bind_port) < 0)
		return fail(why, "port must be a number from 1 to 65535");
	i++;
	if (kind == FWD_DYNAMIC)
		return 0;
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

/* ---- tunnels ---- */

size_t client_upgrade(struct client *c, enum tunnel_kind kind, const char *target, char *out,
                      size_t cap, struct tunnel_expect *expect)
{
	struct tunnel_req req = {.kind = (uint8_t)kind, .timestamp = (uint64_t)time(NULL)};
	uint8_t nonce[16];
	char cookie[TUNNEL_COOKIE_MAX + 16], extra[TUNNEL_COOKIE_MAX + 32];
	const struct auth_keys *keys = c->cfg->keys;
	req.target_len = strlen(target);
	if (req.target_len > TUNNEL_MAX_TARGET)
		return 0;
	memcpy(req.target, target, req.target_len);
	if (rand_bytes(req.nonce, sizeof(req.nonce)) < 0 || rand_bytes(nonce, sizeof(nonce)) < 0)
		return 0;
	ws_make_key(nonce, expect->key);
	expect->keys = keys;
	memcpy(expect->nonce, req.nonce, sizeof(expect->nonce));
	if (tunnel_req_encode(&req, keys, cookie, sizeof(cookie)) == 0)
		return 0;
	snprintf(extra, sizeof(extra), "Cookie: %s\r\n", cookie);
	return ws_client_request(out, cap, c->host_header, c->cfg->server.path, expect->key, extra);
}

/* What a tunnel needs while its connection to the server is being made. */
struct tunnel_start {
	struct conn_link link;
	struct client *client;
	int local_fd;
	enum tunnel_kind kind;
	relay_open_fn on_open;
	void *owner;
	struct buf early;
	struct http_filter *filter;
	char target[TUNNEL_MAX_TARGET + 1];
};

static void tunnel_start_free(struct tunnel_start *ts)
{
	http_filter_free(ts->filter);
	if (ts->local_fd >= 0)
		close(ts->local_fd);
	buf_free(&ts->early);
	conn_list_remove(&ts->client->conns, &ts->link);
	free(ts);
}

static void tunnel_start_destroy(struct conn_link *link)
{
	tunnel_start_free((struct tunnel_start *)link);
}

static void tunnel_begin(void *arg, int ws_fd, enum tunnel_err err)
{
	struct tunnel_start *ts = arg;
	struct client *c = ts->client;
	char req[UPGRADE_MAX];
	struct tunnel_expect expect;
	size_t n = ws_fd >= 0 ? client_upgrade(c, ts->kind, ts->target, req, sizeof(req), &expect) : 0;
	if (n == 0) {
		if (ws_fd >= 0)
			close(ws_fd);
		ts->on_open(ts->owner, ts->local_fd, err == TUNNEL_OK ? TUNNEL_ERR_GENERAL : err);
		tunnel_start_free(ts);
		return;
	}
	net_set_nodelay(ws_fd);
	log_debug("c%u tunnel to %s", ts->link.id, ts->target);
	struct stream ws;
	if (client_stream(c, ws_fd, &ws) < 0) {
		ts->on_open(ts->owner, ts->local_fd, TUNNEL_ERR_GENERAL);
		tunnel_start_free(ts);
		return;
	}
	int local_fd = ts->local_fd;
	ts->local_fd = -1;
	struct relay_args a = {.id = ts->link.id, .tcp_fd = local_fd,
	                       .role = WS_ROLE_CLIENT, .tcp_in = &ts->early, .preamble = req,
	                       .preamble_len = n, .expect = &expect, .on_open = ts->on_open,
	                       .owner = ts->owner, .filter = ts->filter};
	ts->filter = NULL;
	a.ws = ws;
	a.raw = c->cfg->server.scheme == URL_TLS;
	a.hold_early = c->hold_early;
	relay_start(&c->rx, &c->conns, &c->cfg->relay, &a);
	tunnel_start_free(ts);
}

int client_stream(struct client *c, int fd, struct stream *out)
{
	if (!c->use_tls) {
		stream_plain(out, fd);
		return 0;
	}
	const char *sni = c->cfg->sni ? c->cfg->sni : c->cfg->server.host;
	if (stream_tls_client(out, fd, &c->tls, sni) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

void client_connect_server(struct client *c, upstream_fn done, void *owner)
{
	if (c->cfg->proxy_host) {
		upstream_open(c, done, owner);
		return;
	}
	int fd = net_connect(&c->server[0]);
	done(owner, fd, fd >= 0 ? TUNNEL_OK : TUNNEL_ERR_SERVER_DOWN);
}

void client_open_tunnel(struct client *c, int local_fd, unsigned id, enum tunnel_kind kind,
                        const char *target, struct buf *early, relay_open_fn on_open,
                        void *owner, struct http_filter *filter)
{
	struct tunnel_start *ts = calloc(1, sizeof(*ts));
	if (!ts || strlen(target) > TUNNEL_MAX_TARGET) {
		free(ts);
		http_filter_free(filter);
		on_open(owner, local_fd, TUNNEL_ERR_GENERAL);
		close(local_fd);
		if (early)
			buf_free(early);
		return;
	}
	ts->client = c;
	ts->local_fd = local_fd;
	ts->kind = kind;
	ts->on_open = on_open;
	ts->owner = owner;
	ts->filter = filter;
	strcpy(ts->target, target);
	if (early) {
		ts->early = *early;
		*early = (struct buf){0};
	}
	conn_list_add(&c->conns, &ts->link, tunnel_start_destroy);
	ts->link.id = id;
	client_connect_server(c, tunnel_begin, ts);
}

/* -L: nothing to answer locally; a refused tunnel just closes. */
static void local_on_open(void *owner, int tcp_fd, enum tunnel_err err)
{
	const struct fwd *f = owner;
	(void)tcp_fd;
	if (err != TUNNEL_OK)
		log_info("-L %s: %s", f->spec, tunnel_err_text(err));
}

/* ---- listeners ---- */

static void client_take(struct client_listener *l, int fd, const struct net_addr *peer)
{
	struct client *c = l->client;
	net_set_nodelay(fd);
	if (l->fwd->kind == FWD_DYNAMIC) {
		front_accept(c, fd, peer);
		return;
	}
	unsigned id = c->conns.next_id++;
	client_open_tunnel(c, fd, id, TUNNEL_CONNECT, l->fwd->target, NULL, local_on_open,
	                   (void *)(uintptr_t)l->fwd, NULL);
}

static void listener_resume(struct rx *rx, struct rx_timer *t)
{
	struct client_listener *l =
		(struct client_listener *)((char *)t - offsetof(struct client_listener, pause));
	rx_io_want(rx, &l->io, RX_READ);
}

static void listener_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct client_listener *l = (struct client_listener *)io;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct net_addr peer;
		int fd = net_accept(l->fd, &peer);
		if (fd >= 0) {
			client_take(l, fd, &peer);
			continue;
		}
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			uint64_t now = rx_now(rx);
			struct client *c = l->client;
			if (!c->emfile_logged_ms || now - c->emfile_logged_ms >= EMFILE_LOG_EVERY_MS) {
				log_warn("%s: accept: %s; pausing accepts", l->fwd->spec, strerror(-fd));
				c->emfile_logged_ms = now;
			}
			rx_io_want(rx, &l->io, 0);
			rx_timer_arm(rx, &l->pause, now + ACCEPT_PAUSE_MS, listener_resume);
		}
		return;
	}
}

static int resolve_blocking(const char *host, uint16_t port, struct net_addr *out, size_t max)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return 0;
	size_t n = 0;
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	return (int)n;
}

static int client_listen(struct client *c, const struct fwd *f)
{
	struct client_listener *l = &c->listeners[c->nlisteners];
	struct net_addr a;
	if (resolve_blocking(f->bind_host, f->bind_port, &a, 1) != 1) {
		log_error("%s: cannot resolve bind address %s", f->spec, f->bind_host);
		return -1;
	}
	int fd = net_listen(&a, 1024, false);
	if (fd < 0) {
		char name[NET_ADDR_STRLEN];
		log_error("%s: cannot listen on %s: %s", f->spec, net_addr_str(&a, name, sizeof(name)),
		          strerror(-fd));
		return -1;
	}
	l->client = c;
	l->fwd = f;
	l->fd = fd;
	rx_io_add(&c->rx, &l->io, fd, listener_on_io);
	rx_io_want(&c->rx, &l->io, RX_READ);
	c->nlisteners++;
	if (f->kind == FWD_DYNAMIC && !net_addr_is_loopback(&a) && !c->cfg->proxy_user)
		log_warn("-D %s listens beyond loopback without --proxy-user: anyone who can "
		         "reach it can use your tunnel", f->spec);
	return 0;
}

static void client_close_listeners(struct client *c)
{
	for (size_t i = 0; i < c->nlisteners; i++) {
		rx_timer_cancel(&c->rx, &c->listeners[i].pause);
		rx_io_del(&c->rx, &c->listeners[i].io);
		close(c->listeners[i].fd);
	}
	c->nlisteners = 0;
}

static void client_on_signal(struct rx *rx, int signo, void *arg)
{
	struct client *c = arg;
	log_info("%s: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
	client_close_listeners(c);
	conn_list_destroy_all(&c->conns);
	rx_stop(rx);
}

/* wss://: verify the chain and name by default; --pin or --insecure instead. */
static int client_tls_setup(struct client *c)
{
	const struct client_config *cfg = c->cfg;
	char err[TLS_ERRLEN];
	int rc = 0;
	if (cfg->server.scheme == URL_WS)
		return 0;
	if (cfg->insecure) {
		tls_client_cfg_init_insecure(&c->tls);
		log_warn("--insecure: the server's certificate is NOT verified; anyone on the path "
		         "can impersonate it");
	} else if (cfg->pin) {
		rc = tls_client_cfg_init_pin(&c->tls, cfg->pin, err, sizeof(err));
	} else {
		rc = tls_client_cfg_init_ca(&c->tls, cfg->ca_file ? cfg->ca_file : TLS_SYSTEM_CA, err,
		                            sizeof(err));
	}
	if (rc < 0) {
		log_error("TLS: %s", err);
		return -1;
	}
	c->use_tls = true;
	return 0;
}

static int client_setup(struct client *c)
{
	const struct url *u = &c->cfg->server;
	const char *fmt = u->host_is_v6 ? "[%s]:%u" : "%s:%u";
	if (c->cfg->host_header)
		snprintf(c->host_header, sizeof(c->host_header), "%s", c->cfg->host_header);
	else if (u->port == url_default_port(u->scheme))
		snprintf(c->host_header, sizeof(c->host_header), u->host_is_v6 ? "[%s]" : "%s", u->host);
	else
		snprintf(c->host_header, sizeof(c->host_header), fmt, u->host, u->port);
	if (client_tls_setup(c) < 0)
		return -1;
	/* 0-RTT only where the server is already authenticated: over a verified
	 * TLS leg the bytes reach the certificate's holder; over ws:// (or
	 * --insecure) they wait for the 101's proof of the key. Without a key
	 * nothing can be proven, so nothing is gained by waiting. */
	c->hold_early = c->cfg->keys && (!c->use_tls || c->cfg->insecure);
	/* Resolved once before serving (blocking is fine here). */
	int n = resolve_blocking(u->host, u->port, c->server, CLIENT_MAX_SERVER_ADDRS);
	if (n <= 0) {
		log_error("cannot resolve server host %s", u->host);
		return -1;
	}
	c->nserver = (size_t)n;
	if (c->cfg->proxy_host) {
		if (resolve_blocking(c->cfg->proxy_host, c->cfg->proxy_port, &c->proxy_addr, 1) != 1) {
			log_error("cannot resolve --proxy host %s", c->cfg->proxy_host);
			return -1;
		}
		if (c->cfg->proxy_cred)
			base64_encode((const uint8_t *)c->cfg->proxy_cred, strlen(c->cfg->proxy_cred),
			              c->proxy_auth);
	}
	for (size_t i = 0; i < c->cfg->nfwds; i++) {
		const struct fwd *f = &c->cfg->fwds[i];
		if (f->kind == FWD_REMOTE)
			cli_reverse_start(c, f);
		else if (client_listen(c, f) < 0)
			return -1;
	}
	return 0;
}

int client_main(const struct client_config *cfg)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c || rx_init(&c->rx) < 0) {
		log_error("cannot start the event loop");
		free(c);
		return 1;
	}
	c->cfg = cfg;
	conn_list_init(&c->conns);
	struct dns_config dcfg = {.servers = cfg->dns};
	if (dns_init(&c->dns, &c->rx, &dcfg) < 0) {
		log_error("cannot set up the resolver");
		rx_free(&c->rx);
		free(c);
		return 1;
	}
	int rc = client_setup(c);
	if (rc == 0) {
		signal(SIGPIPE, SIG_IGN);
		rx_signal(&c->rx, SIGTERM, client_on_signal, c);
		rx_signal(&c->rx, SIGINT, client_on_signal, c);
		if (rx_run(&c->rx) < 0)
			rc = -1;
	}
	client_close_listeners(c);
	conn_list_destroy_all(&c->conns);
	if (c->use_tls)
		tls_client_cfg_free(&c->tls);
	dns_free(&c->dns);
	rx_free(&c->rx);
	free(c);
	buf_pool_drain();
	splice_pool_drain();
	return rc == 0 ? 0 : 1;
}
