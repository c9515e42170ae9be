/* cli_config.h — the client's settings as bin/ fills them: types, defaults
 * and the parsing of -D/-L/-R specs. Read by every client module, written by
 * nobody after start. */
#ifndef WSF_TUN_CLIENT_CLI_CONFIG_H
#define WSF_TUN_CLIENT_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "proto/route.h"
#include "proto/tunnel.h"
#include "proto/url.h"
#include "tun/relay.h"

#define CLIENT_MAX_FWDS 32
#define CLIENT_MAX_RULES 32 /* --restrict-to / --allow entries (a tunnel:// exit's) */
#define CLIENT_POOL_MAX 64                /* --pool N: 0..64 */
#define CLIENT_POOL_IDLE_DEFAULT_MS 30000 /* --pool-idle */
#define CLIENT_POOL_IDLE_MAX_MS 50000     /* below the server's 60 s hold (srv_pool.h) */

enum fwd_kind {
	FWD_DYNAMIC = 0, /* -D: SOCKS5 + HTTP proxy on one port */
	FWD_LOCAL,       /* -L: fixed destination through the server */
	FWD_REMOTE,      /* -R: the server listens, we dial */
	FWD_REDIRECT,    /* --redirect: NAT REDIRECT, SO_ORIGINAL_DST */
	FWD_TPROXY,      /* --tproxy: TPROXY, IP_TRANSPARENT listener */
};

struct fwd {
	enum fwd_kind kind;
	bool udp;                 /* -L/-R udp://: datagrams, one message each */
	unsigned udp_idle_ms;     /* ?timeout= of each UDP flow (-D: of UDP
	                           * ASSOCIATE flows); 0 never */
	uint16_t bind_port;
	char bind_host[URL_MAX_HOST + 1];      /* without brackets */
	char target[TUNNEL_MAX_TARGET + 1];    /* HOST:PORT ([v6]:PORT); "" for -L
	                                        * PORT:*: the server's --to */
	char spec[URL_MAX_HOST + TUNNEL_MAX_TARGET + 16]; /* as the user wrote it,
	                                                   * a channel's password masked */
	char chan[TUNNEL_CHANNEL_NAME_MAX + TUNNEL_CHANNEL_PASS_MAX + 2]; /* channels
	                          * (-R/-L tcp://NAME[:PASSWORD]@...): "NAME:PASSWORD"; else "" */
	char route[ROUTE_MAX_VALUE + ROUTE_MAX_BASE + 16]; /* published routes (-R
	                          * http://...?mode=, tcp://...?mode=path): the
	                          * rule's wire form (proto/route.h); else "" */
	bool exit;                /* -R tunnel://NAME@: this client is the exit
	                           * NAME (VPN mode); -D socks5://NAME@ and
	                           * http://NAME@ have chan set instead */
	bool backend_tls;         /* -R https://: TLS to the published service */
	bool backend_insecure;    /* ?insecure: its certificate is not verified */
	char backend_ca[256];     /* ?ca=FILE: its trust anchors ("" system CAs) */
};

struct client_config {
	struct url server;
	const char *host_header;   /* Host: override (CDN virtual hosts) */
	struct fwd fwds[CLIENT_MAX_FWDS];
	size_t nfwds;
	const char *proxy_user, *proxy_pass; /* -D credentials (RFC 1929, Basic) */
	struct relay_opts relay;
	unsigned connect_timeout_ms;
	const char *dns;           /* --dns for -R destinations */
	const struct auth_keys *keys; /* --key: NULL runs without authentication */
	const char *proxy_host;    /* --proxy http://[user:pass@]HOST:PORT */
	uint16_t proxy_port;
	const char *proxy_cred;    /* "user:pass" or NULL */
	const char *sni;           /* --sni: name sent and verified (wss) */
	const char *ca_file;       /* --ca: trust anchors instead of the system's */
	const char *pin;           /* --pin: the server certificate's SHA-256 */
	bool insecure;             /* --insecure: no verification at all */
	bool encrypt;              /* --encrypt: payload in sealed records (ws:// + key) */
	bool fast_open;            /* --fast-open: TCP Fast Open on dials to the server */
	/* Where a tunnel:// exit may dial, as the server's options of the same
	 * names (tun/dial.h): HOST:PORT rules, and address blocks checked on
	 * the resolved addresses. */
	const char *restrict_to[CLIENT_MAX_RULES];
	size_t nrestrict;
	struct net_cidr allow[CLIENT_MAX_RULES];
	size_t nallow;
	unsigned pool;             /* --pool: idle connections kept ready (0: none) */
	unsigned pool_idle_ms;     /* --pool-idle: each replaced at this age */
	unsigned mux_streams;      /* --mux: streams per carrier, 1..16 (0: no mux) */
	bool metrics_on;           /* --metrics: /metrics and /health on metrics_addr */
	struct net_addr metrics_addr;
};

void client_config_init(struct client_config *cfg);

/* Parses "[BIND:]PORT" (-D) or "[BIND:]PORT:HOST:HOSTPORT" (-L/-R) into
 * *f; "tcp://" or "udp://" may lead (-L/-R), "?timeout=DURATION" may follow
 * (UDP flows' idle timeout, default 60 s, 0 never). Channels:
 * "tcp://NAME[:PASSWORD]@HOST:PORT" (-R registers NAME, HOST:PORT dialled
 * here) and "tcp://NAME[:PASSWORD]@[BIND:]PORT" (-L opens it). Routes
 * (-R): "http[s]://HOST:PORT[/BASE]?mode=path|domain&value=V[&insecure]
 * [&ca=FILE]" and
 * "tcp://HOST:PORT?mode=path&value=PREFIX" (TCP as WebSocket). -L
 * "[BIND:]PORT:*" (TCP) names no destination: target "", the server's
 * --to. VPN mode: -R "tunnel://NAME[:PASSWORD]@" registers this client as
 * an exit; -D "socks5://NAME[:PASSWORD]@[BIND:]PORT" (or http://) is a
 * proxy whose connections leave through it. 0, or -1 with *why. */
int client_parse_fwd(enum fwd_kind kind, const char *spec, struct fwd *f, const char **why);
/* The same; any_port also takes bind port 0 for a local listener (the
 * kernel picks one: the library's way to learn a free port). */
int client_parse_fwd_any(enum fwd_kind kind, const char *spec, struct fwd *f, bool any_port,
                         const char **why);

#endif
