/* server_int.h — what the server shares with its endpoints (private to tun/).
 * An endpoint takes over an accepted connection whose request head is parsed:
 * the fd, the bytes read so far (head + anything pipelined) and the request. */
#ifndef WSF_TUN_SERVER_INT_H
#define WSF_TUN_SERVER_INT_H

#include "core/buf.h"
#include "core/dns.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/http.h"
#include "proto/replay.h"
#include "tun/conn.h"
#include "tun/stream.h"
#include "tun/server.h"

struct listener {
	struct rx_io io;
	const struct url *url;  /* its path is the tunnel's prefix */
	bool tls;               /* wss:// (TLS, then HTTP) */
	struct rx_timer pause; /* accept paused after EMFILE/ENFILE */
	struct server *srv;
	int fd;
	char name[NET_ADDR_STRLEN + 8];
};

struct server {
	struct rx rx;
	const struct server_config *cfg;
	struct conn_list conns;
	struct dns dns;
	struct listener listeners[SERVER_MAX_LISTEN];
	size_t nlisteners;
	uint64_t emfile_logged_ms; /* rate limit for "out of descriptors" */
	uint64_t perip_logged_ms;  /* rate limit for --max-conns-per-ip */
	struct replay replay;      /* nonces inside the freshness window */
	struct replay_shm *replay_shm; /* --workers: the one table all share */
	struct net_addr fallback;  /* resolved --fallback */
	struct tls_server_cfg *tls; /* certificate and key for wss:// listeners */
	bool stopping;
};

/* A request whose head is complete, handed from the server to an endpoint. */
struct handoff {
	struct stream s;          /* the client's connection (plain or TLS) */
	unsigned id;
	struct net_addr addr;
	struct buf in;        /* head at the front, then pipelined bytes */
	size_t head_len;
	const struct http_request *req;
	struct conn_peer *peer;   /* counted per source address */
	bool raw;                 /* tls:// listener: no WebSocket frames after the 101 */
};

/* Endpoints own h->s from the call on (closing it themselves on failure) and
 * may take h->in (leaving it empty). 0, or -1 when the connection was closed. */
int echo_accept(struct server *srv, struct handoff *h);
/* --ping: the ming-mong ping endpoint at /ws (tun/ping.c). */
int ping_accept(struct server *srv, struct handoff *h);

struct tunnel_req;
/* --workers: fork, supervise, restart (tun/workers.c); each worker runs
 * server_run. */
struct server_shared;
int server_supervise(const struct server_config *cfg, const struct server_shared *sh);
int server_worker_run(const struct server_config *cfg, const struct server_shared *sh);

/* The nonce table in shared memory (tun/replay_shm.c). */
struct replay_shm;
struct replay_shm *replay_shm_new(size_t cap);
void replay_shm_free(struct replay_shm *r, size_t cap);
enum replay_rc replay_shm_check(struct replay_shm *r, const uint8_t nonce[16], uint64_t last,
                                uint64_t now);

/* The 101 for a tunnel request (with the key proof when keyed): its length,
 * or 0 when out is too small. */
size_t server_101(const struct server *srv, const struct tunnel_req *req, const char *key,
                  size_t key_len, char *out, size_t cap);
/* A valid tunnel upgrade (key: its Sec-WebSocket-Key). */
int srv_tunnel_accept(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len);
/* -R: a control channel asking the server to listen (srv_reverse.c). */
int srv_reverse_listen(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                       const char *key, size_t key_len);
/* -R: a data tunnel claiming an announced connection by id. */
int srv_reverse_claim(struct server *srv, struct handoff *h, const struct tunnel_req *req,
                      const char *key, size_t key_len);

#endif
