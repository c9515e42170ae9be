/* conn.h — what every connection of a server shares: its id, its place in
 * the server's list (so a stop can reach it), and one teardown function.
 * Private to tun/. */
#ifndef WSF_TUN_CONN_H
#define WSF_TUN_CONN_H

#include <stddef.h>

struct conn_link;
typedef void (*conn_destroy_fn)(struct conn_link *link);

struct conn_link {
	struct conn_link *prev, *next;
	conn_destroy_fn destroy;
	unsigned id;
};

struct conn_list {
	struct conn_link head; /* sentinel */
	size_t count;
	unsigned next_id;
};

void conn_list_init(struct conn_list *l);
/* Adds link (assigning its id) with the teardown to run at stop. */
void conn_list_add(struct conn_list *l, struct conn_link *link, conn_destroy_fn destroy);
void conn_list_remove(struct conn_list *l, struct conn_link *link);
/* Runs every destroy (each removes itself). */
void conn_list_destroy_all(struct conn_list *l);

#endif
