/* conn.c — the server's list of live connections (intrusive, O(1) add and
 * remove). Owns no connection: each destroy function frees its own. */
#include "tun/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conn_list_init(struct conn_list *l)
{
	memset(l, 0, sizeof(*l));
	l->head.prev = l->head.next = &l->head;
	l->next_id = 1;
}

static void peer_key(const struct net_addr *a, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	*family = (uint8_t)a->ss.ss_family;
	if (a->ss.ss_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
	else
		memcpy(addr, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
}

static struct conn_peer **bucket(struct conn_list *l, uint8_t family, const uint8_t addr[16])
{
	uint32_t h = family;
	for (int i = 0; i < 16; i++)
		h = h * 31 + addr[i];
	return &l->peers[h % CONN_PEER_BUCKETS];
}

struct conn_peer *conn_peer_get(struct conn_list *l, const struct net_addr *a)
{
	uint8_t family, addr[16];
	peer_key(a, &family, addr);
	struct conn_peer **b = bucket(l, family, addr);
	for (struct conn_peer *p = *b; p; p = p->next)
		if (p->family == family && memcmp(p->addr, addr, 16) == 0)
			return p;
	struct conn_peer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->family = family;
	memcpy(p->addr, addr, 16);
	p->next = *b;
	*b = p;
	return p;
}

static void peer_release(struct conn_list *l, struct conn_peer *peer)
{
	if (--peer->count)
		return;
	for (struct conn_peer **p = bucket(l, peer->family, peer->addr); *p; p = &(*p)->next) {
		if (*p == peer) {
			*p = peer->next;
			free(peer);
			return;
		}
	}
}

const char *conn_peer_str(const struct conn_peer *peer, char *out, size_t cap)
{
	if (!inet_ntop(peer->family == AF_INET6 ? AF_INET6 : AF_INET, peer->addr, out,
	               (socklen_t)cap))
		snprintf(out, cap, "?");
	return out;
}

void conn_peer_put(struct conn_list *l, struct conn_peer *peer)
{
	peer_release(l, peer);
}

void conn_list_add_as(struct conn_list *l, struct conn_link *link, conn_destroy_fn destroy,
                      unsigned id, struct conn_peer *peer)
{
	conn_list_add(l, link, destroy);
	link->id = id;
	link->peer = peer;
	if (peer)
		peer->count++;
}

void conn_list_add(struct conn_list *l, struct conn_link *link, conn_destroy_fn destroy)
{
	link->destroy = destroy;
	link->id = l->next_id++;
	if (l->next_id == 0)
		l->next_id = 1;
	link->next = &l->head;
	link->prev = l->head.prev;
	l->head.prev->next = link;
	l->head.prev = link;
	l->count++;
}

void conn_list_remove(struct conn_list *l, struct conn_link *link)
{
	if (!link->next)
		return;
	link->prev->next = link->next;
	link->next->prev = link->prev;
	link->prev = link->next = NULL;
	l->count--;
	if (link->peer) {
		peer_release(l, link->peer);
		link->peer = NULL;
	}
}

/* A destroy may take other connections with it (a -R listener its pending
 * claims), so each pass starts again from the head: O(n^2), once per drain. */
static struct conn_link *first_where(struct conn_list *l, bool lingering, bool any_linger)
{
	for (struct conn_link *c = l->head.next; c != &l->head; c = c->next)
		if (!c->leaving && (any_linger || c->lingers == lingering))
			return c;
	return NULL;
}

void conn_list_shed(struct conn_list *l)
{
	for (struct conn_link *c; (c = first_where(l, false, false));)
		c->destroy(c);
}

void conn_list_going_away_all(struct conn_list *l)
{
	for (struct conn_link *c; (c = first_where(l, false, true));) {
		c->leaving = true;
		if (c->going_away)
			c->going_away(c);
		else
			c->destroy(c);
	}
}

void conn_list_destroy_all(struct conn_list *l)
{
	while (l->head.next != &l->head)
		l->head.next->destroy(l->head.next);
}
