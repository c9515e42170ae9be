/* replay.c — a linear-probing set of nonce tags with expiries. Dead entries
 * are deleted by backward shift (Knuth 6.4, Algorithm R) when the table
 * crowds, so memory follows the live window only and no probe chain is ever
 * cut: an entry stays reachable from its home slot at every step. */
#include "proto/replay.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

void replay_init(struct replay *r, struct replay_slot *slots, size_t cap)
{
	r->slots = slots;
	r->cap = cap;
	r->used = 0;
	r->swept_at = 0;
}

static uint64_t tag_of(const uint8_t nonce[16])
{
	uint64_t t;
	memcpy(&t, nonce, sizeof(t));
	return t ? t : 1;
}

static size_t home_of(const struct replay *r, uint64_t tag)
{
	return (size_t)(tag * 0x9E3779B97F4A7C15ull) & (r->cap - 1);
}

static bool slot_live(const struct replay_slot *s, uint64_t now)
{
	return s->tag && s->last >= now;
}

/* Keeps the compiler from reordering the stores below across this point: a
 * worker killed between two stores must leave the order we wrote. */
static void store_order(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

/* Empties slot hole, pulling later entries of its cluster back into it
 * when the hole lies on their probe path (between their home and them).
 * Each move copies first and clears only the last hole, so every entry is
 * reachable after every store (duplicates meanwhile are harmless). */
static void delete_at(struct replay *r, size_t hole)
{
	size_t mask = r->cap - 1;
	for (size_t j = (hole + 1) & mask; r->slots[j].tag; j = (j + 1) & mask) {
		size_t home = home_of(r, r->slots[j].tag);
		if (((j - home) & mask) < ((j - hole) & mask))
			continue; /* its home lies after the hole: it must stay */
		r->slots[hole].last = r->slots[j].last;
		store_order();
		r->slots[hole].tag = r->slots[j].tag;
		store_order();
		hole = j;
	}
	r->slots[hole].tag = 0;
	r->slots[hole].last = 0;
	r->used--;
}

static void sweep(struct replay *r, uint64_t now)
{
	for (size_t i = 0; i < r->cap; i++)
		while (r->slots[i].tag && !slot_live(&r->slots[i], now))
			delete_at(r, i); /* another entry may move into i: look again */
}

enum replay_rc replay_check(struct replay *r, const uint8_t nonce[16], uint64_t last,
                            uint64_t now)
{
	uint64_t tag = tag_of(nonce);
	if (r->used + 1 > r->cap - r->cap / 4 && r->swept_at != now) {
		sweep(r, now);
		r->swept_at = now;
	}
	size_t mask = r->cap - 1, i = home_of(r, tag);
	for (; r->slots[i].tag; i = (i + 1) & mask)
		if (r->slots[i].tag == tag && slot_live(&r->slots[i], now))
			return REPLAY_SEEN;
	if (r->used + 1 > r->cap - r->cap / 8)
		return REPLAY_FULL; /* refuse rather than forget a live nonce */
	r->slots[i].last = last;
	store_order();
	r->slots[i].tag = tag;
	r->used++;
	return REPLAY_FRESH;
}

void replay_recount(struct replay *r)
{
	size_t used = 0;
	for (size_t i = 0; i < r->cap; i++)
		used += r->slots[i].tag != 0;
	r->used = used;
}

int replay_crowded(const struct replay *r)
{
	return r->used > r->cap - r->cap / 4;
}

void replay_rehash(struct replay *to, const struct replay *from, uint64_t now)
{
	for (size_t i = 0; i < from->cap; i++) {
		struct replay_slot s = from->slots[i];
		if (!slot_live(&s, now))
			continue;
		size_t j = home_of(to, s.tag);
		while (to->slots[j].tag)
			j = (j + 1) & (to->cap - 1);
		to->slots[j] = s;
		to->used++;
	}
}
