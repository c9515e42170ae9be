/* conn.h — what every connection of a server shares: its id, its place in
 * the server's list (so a stop can reach it), and one teardown function.
 * Private to tun/. */
#ifndef WSF_TUN_CONN_H
#define WSF_TUN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "tun/stats.h"

struct conn_link;

/* One remote address and how many connections it holds now (for
 * --max-conns-per-ip). Freed when its last connection goes. */
struct conn_peer {
	struct conn_peer *next;
	unsigned count;
	uint8_t family;
	uint8_t addr[16];
};

#define CONN_PEER_BUCKETS 256
typedef void (*conn_destroy_fn)(struct conn_link *link);

struct conn_link {
	struct conn_link *prev, *next;
	conn_destroy_fn destroy;
	struct conn_peer *peer; /* NULL when not counted */
	/* A server's drain (SIGTERM): lingers lets the connection finish until
	 * the drain timeout (tunnels); then going_away, when set, ends it soon
	 * (a WebSocket close 1001) and it frees itself; NULL means destroy. */
	conn_destroy_fn going_away;
	unsigned id;
	bool lingers;
	bool leaving; /* going_away called */
};

/* What an embedding program hears of each tunnel (bin/lib.c): tell(open)
 * once its bytes may flow (the client's 101 arrived; the server answered
 * 101), tell(!open) once after that, when its byte counts are final
 * (relay.h's accessors read it). Called from inside the loop; MUST NOT
 * free the list. */
struct relay;
struct conn_events {
	void (*tell)(void *arg, const struct relay *r, bool open);
	void *arg;
};

struct conn_list {
	struct conn_link head; /* sentinel */
	size_t count;
	unsigned next_id;
	struct tun_stats *stats; /* --metrics: this reactor's counters, else NULL */
	const struct conn_events *events; /* NULL: nobody listens */
	struct conn_peer *peers[CONN_PEER_BUCKETS];
};

void conn_list_init(struct conn_list *l);
/* Adds link (assigning its id) with the teardown to run at stop. */
void conn_list_add(struct conn_list *l, struct conn_link *link, conn_destroy_fn destroy);
/* Adds a connection that continues an earlier one: same id, same peer. */
void conn_list_add_as(struct conn_list *l, struct conn_link *link, conn_destroy_fn destroy,
                      unsigned id, struct conn_peer *peer);
void conn_list_remove(struct conn_list *l, struct conn_link *link);
/* The peer entry for a's address (created with count 0), or NULL when out
 * of memory. It lives while a connection holds it. */
struct conn_peer *conn_peer_get(struct conn_list *l, const struct net_addr *a);
/* The address as every per-address log line names it: "192.0.2.1",
 * "2001:db8::1" (no port, no brackets). Returns out (cap >= 46). */
const char *conn_peer_str(const struct conn_peer *peer, char *out, size_t cap);
/* Drops a count taken by hand (peer->count++) across a handover. */
void conn_peer_put(struct conn_list *l, struct conn_peer *peer);
/* Drain start: destroys every connection that does not linger. */
void conn_list_shed(struct conn_list *l);
/* Drain timeout: going_away (or destroy) for every connection, once each;
 * those still closing stay listed until they free themselves. */
void conn_list_going_away_all(struct conn_list *l);
/* Runs every destroy (each removes itself). */
void conn_list_destroy_all(struct conn_list *l);

#endif
