/* push_int.h — the push family's shared types (private to tun/push/): the
 * hub of one process, its subscribers and a request being answered. Types
 * only; each module's functions sit in its own header. */
#ifndef WSF_TUN_PUSH_PUSH_INT_H
#define WSF_TUN_PUSH_PUSH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/net.h"
#include "core/rx.h"
#include "proto/http.h"
#include "proto/push.h"
#include "tun/conn.h"
#include "tun/server/srv_config.h"
#include "tun/stream.h"
#include "tun/wsconn.h"

/* A subscriber's queue is its wsconn's out buffer, capped here: one slow
 * reader holds at most this much of ours, then it is closed. */
#define PUSH_QUEUE_MAX BUF_SIZE
/* The largest frame a broadcast builds: it must fit an empty queue. */
#define PUSH_FRAME_MAX (BUF_SIZE - 64)
#define PUSH_RECENT 50  /* messages the admin page shows */

enum push_kind {
	PUSH_KIND_WS = 0, /* plain WebSocket: one text frame per message */
	PUSH_KIND_SIO,    /* Socket.IO v5 over Engine.IO v4's websocket transport */
};

struct push_hub;

struct push_sub {
	struct wsconn c;                 /* first: the subscriber is its connection */
	struct push_sub *prev, *next;    /* the hub's list */
	struct push_hub *hub;
	struct conn_peer *ip;            /* the client's address (hub->peers): counted
	                                  * against --push-max-per-ip, named in logs */
	uint64_t ping_ms;                /* our ping went out then; 0: none awaited */
	uint8_t kind;                    /* enum push_kind */
	bool joined;                     /* in the list (Socket.IO: after "40") */
	char topic[PUSH_TOPIC_MAX + 1];  /* "" is the default channel */
	char sid[24];                    /* Socket.IO session id */
};

/* One message as the admin page lists it (the latest PUSH_RECENT). */
struct push_recent {
	char time[32];
	char ip[48];
	char topic[PUSH_TOPIC_MAX + 1];
	char *json;  /* the frame's JSON object (malloc), NULL when empty */
};

struct push_db;
struct push_bus;

struct push_hub {
	struct rx *rx;
	const struct push_config *cfg;
	struct push_sub *subs;           /* every joined subscriber */
	size_t nsubs;
	struct conn_list peers;          /* per-address subscriber counts only */
	/* The server's --keepalive and --pong-timeout: plain subscribers are
	 * pinged after keepalive_ms of silence and closed pong_timeout_ms after
	 * a ping with no byte back (0: no pings). Socket.IO announces and keeps
	 * sio_interval_ms / sio_timeout_ms (the same, or Socket.IO's defaults
	 * when keepalive is off: Engine.IO clients need the server's pings). */
	unsigned keepalive_ms, pong_timeout_ms;
	unsigned sio_interval_ms, sio_timeout_ms;
	uint64_t messages;               /* broadcast since start */
	uint64_t refused_ip, closed_slow;
	char *frame;                     /* scratch for one broadcast's frame */
	struct push_db *db;              /* NULL: no --push-db */
	struct push_bus *bus;            /* NULL: no --push-bus */
	uint64_t bus_logged_ms;          /* rate limit of "the bus is down" */
	uint64_t bus_ignored_ms;         /* ... of "a foreign message ignored" */
	struct push_recent recent[PUSH_RECENT];
	unsigned recent_next;
	uint64_t ip_logged_ms;           /* rate limit of the per-IP refusal log */
};

struct push_req;
typedef void (*push_req_fn)(struct push_hub *hub, struct push_req *r);

/* A plain HTTP request on a push path (POST, OPTIONS, the pages): the body
 * read, one answer, then our FIN and a short drain. */
struct push_req {
	struct conn_link link;
	struct push_hub *hub;
	struct rx *rx;
	struct conn_list *conns;
	struct rx_io io;
	struct rx_timer timer;
	struct stream s;
	struct net_addr addr;
	struct buf in, out;
	size_t head_len, body_len;
	struct http_request req;         /* slices into in (never compacted) */
	struct http_slice path;
	push_req_fn handler;
	uint32_t bus_ticket;             /* a publish awaiting Redis (bus.h): the
	                                  * answer waits for it */
	long delivered;                  /* subscribers of this process reached */
	bool bus_local;                  /* delivered here already (not from the bus) */
	bool answered, draining, eof;
	bool tls;                        /* over TLS (the admin page wants it) */
};

#endif
