/* srv_config.h — the server's settings as bin/ fills them (SPEC.md "Server
 * behaviour"): types and defaults only, read by the server and every
 * endpoint family, written by nobody after start. */
#ifndef WSF_TUN_SERVER_SRV_CONFIG_H
#define WSF_TUN_SERVER_SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "proto/push.h"
#include "proto/url.h"
#include "proto/tunnel.h"
#include "tun/handoff.h"
#include "tun/relay.h"

#define SERVER_MAX_LISTEN 8
#define SERVER_MAX_RULES 32 /* --restrict-to / --allow entries */
#define SERVER_PING_PATH "/ws"          /* ming-mong's fixed endpoint */
#define SERVER_PING_DEFAULT_NAME "ming-mong-server"
#define SERVER_DEFAULT_MAX_MESSAGE (16u << 20)   /* 16 MiB per WebSocket message */
#define SERVER_DEFAULT_HANDSHAKE_MS 10000        /* whole request head within 10 s */
#define SERVER_DEFAULT_SKEW_S 120
#define SERVER_DEFAULT_DRAIN_MS 30000 /* SIGTERM: tunnels may finish for 30 s */
#define SERVER_REPLAY_MIN 4096      /* nonce slots at start (64 KiB) */
#define SERVER_REPLAY_MAX (1u << 20) /* at most 16 MiB of nonces */
#define SERVER_REPLAY_SHARED (1u << 18) /* --workers: fixed, 4 MiB mapped, touched as used */

enum stealth_mode {
	STEALTH_DROP = 0, /* close without a byte */
	STEALTH_DECOY,    /* answer like a plain static web server */
	STEALTH_FALLBACK, /* hand the connection to --fallback */
};

enum listen_rule_host {
	LISTEN_HOST_IP = 0,   /* exactly addr */
	LISTEN_HOST_LOOPBACK, /* "localhost": any of 127.0.0.0/8, ::1 */
	LISTEN_HOST_ANY,      /* "*" */
};

/* One --permit-listen HOST:PORT rule. */
struct listen_rule {
	struct net_addr addr; /* LISTEN_HOST_IP */
	uint8_t host;         /* enum listen_rule_host */
	uint16_t port;        /* 0: any port */
};

#define PUSH_DEFAULT_MAX_BODY (16u << 10)  /* bytes of a POST body */
#define PUSH_MAX_BODY (32u << 10)          /* --push-max-message at most */
#define PUSH_DEFAULT_MAX_PER_IP 2000       /* subscribers per source address */
#define PUSH_SIO_PATH "/socket.io/"        /* Engine.IO's default path */

/* --push and its options (issue 13): no path, no push endpoint. */
struct push_config {
	const char *path;          /* subscribers and POST; NULL: off */
	uint8_t key_hash[PUSH_KEY_HASH_LEN]; /* SHA-256 of the API key (never the key) */
	const char *origins[SERVER_MAX_RULES]; /* --push-origin: CORS; "*" any */
	size_t norigins;
	size_t max_body;           /* --push-max-message */
	unsigned max_per_ip;       /* --push-max-per-ip */
	const char *db;            /* --push-db FILE; NULL: no log */
	const char *bus;           /* --push-bus redis://... or unix:...; NULL: none */
	const char *demo_path;     /* --push-demo PATH; NULL: none */
	const char *admin_path;    /* --admin PATH; NULL: none */
	uint8_t admin_hash[PUSH_KEY_HASH_LEN]; /* SHA-256 of the admin password */
	bool sio;                  /* Socket.IO at PUSH_SIO_PATH (with --push) */
};

/* "[HOST:]PORT", "HOST:*", "any" into r (PORT alone means localhost:PORT);
 * 0, or -1 with *why. "none" is the caller's. */
int server_listen_rule_parse(const char *spec, struct listen_rule *r, const char **why);

struct server_config {
	struct url listen[SERVER_MAX_LISTEN];
	size_t nlisten;
	const char *echo_path;     /* NULL: no echo endpoint */
	const char *ping_name;     /* --ping[=NAME]: server name, NULL: no ping endpoint */
	enum stealth_mode stealth;
	uint64_t max_message;      /* bytes per WebSocket message */
	unsigned handshake_ms;     /* deadline for a whole request head */
	unsigned connect_timeout_ms; /* dialing a tunnel's destination */
	struct relay_opts relay;   /* keepalive, idle timeout, message size */
	const char *dns;           /* --dns servers, NULL: /etc/resolv.conf */
	const struct auth_keys *keys; /* --key: NULL runs open (and says so) */
	const char *cert, *cert_key;  /* PEM files for wss:// (NULL: self-signed) */
	const char *names[SERVER_MAX_RULES]; /* --name: SANs of a self-signed cert */
	size_t nnames;
	bool accept_page;          /* GET / over TLS shows "certificate accepted" */
	const char *fallback;      /* --fallback HOST:PORT (with STEALTH_FALLBACK) */
	unsigned skew_s;           /* accepted clock difference, either way */
	unsigned max_conns_per_ip; /* per source address, every phase counted */
	unsigned workers;          /* processes sharing the port (SO_REUSEPORT) */
	unsigned drain_ms;         /* --drain-timeout: 0 stops at once on SIGTERM */
	const char *to;            /* --to HOST:PORT: every connect tunnel goes here */
	bool encrypt;              /* --encrypt: ws:// tunnels must seal their payload */
	bool fast_open;            /* --fast-open: TCP Fast Open on the listeners */
	const char *restrict_to[SERVER_MAX_RULES]; /* HOST:PORT ('*' either part) */
	size_t nrestrict;
	struct net_cidr allow[SERVER_MAX_RULES];   /* dialled addresses must match one */
	size_t nallow;
	/* -R (the server listens for a client): --permit-listen rules. None
	 * given: any loopback address, any port (ssh's GatewayPorts no). */
	struct listen_rule permit_listen[SERVER_MAX_RULES];
	size_t npermit;
	bool listen_off;           /* --permit-listen none: every -R refused */
	struct push_config push;
	/* Behind load balancers (issue 16): where the real client address may
	 * come from. Connections from these sources are counted per IP under
	 * the client's address, once known, never under the proxy's. */
	struct net_cidr proxy_protocol[SERVER_MAX_RULES]; /* PROXY v1/v2 required */
	size_t nproxy_protocol;
	struct net_cidr trust_proxy[SERVER_MAX_RULES];    /* X-Forwarded-For, X-Real-IP */
	size_t ntrust_proxy;
	const char *replay_store;  /* --replay-store URL; NULL: this node's table only */
	bool replay_store_local;   /* --replay-store-fail local (default closed) */
	/* --controller ADDR:PORT (multi-user server, issue 12): NULL none. */
	const char *controller;
	struct net_addr controller_addr;
	uint8_t controller_key_hash[32]; /* SHA-256 of --controller-key-file's key */
	bool metrics_on;           /* --metrics: /metrics and /health on metrics_addr */
	struct net_addr metrics_addr;
};

/* Fills the defaults of SPEC.md (no listener yet). */
void server_config_init(struct server_config *cfg);

/* --encrypt agreement for a request that carries data (connect, UDP, -R
 * and channel accepts, channel opens): TUNNEL_OK, or TUNNEL_ERR_ENCRYPT
 * when it seals without a key or over tls://, or a ws:// listener of a
 * --encrypt server gets a plain one (logged). */
enum tunnel_err server_seal_check(const struct server_config *cfg, const struct handoff *h,
                                  const struct tunnel_req *req);
/* The sealing arguments of a relay for req (NULLs when it does not seal). */
void server_seal_args(const struct server_config *cfg, const struct tunnel_req *req,
                      struct relay_args *a);

#endif
