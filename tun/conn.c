/* conn.c — the server's list of live connections (intrusive, O(1) add and
 * remove). Owns no connection: each destroy function frees its own. */
#include "tun/conn.h"

void conn_list_init(struct conn_list *l)
{
	l->head.prev = l->head.next = &l->head;
	l->count = 0;
	l->next_id = 1;
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
}

void conn_list_destroy_all(struct conn_list *l)
{
	while (l->head.next != &l->head)
		l->head.next->destroy(l->head.next);
}
