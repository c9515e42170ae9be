/* replay.c — a linear-probing set of nonce tags with expiries. Dead entries
 * are swept when the table crowds, so memory follows the live window only. */
#include "proto/replay.h"

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

/* Re-inserts every live entry so probe chains stay short. */
static void sweep(struct replay *r, uint64_t now)
{
	size_t live = 0;
	for (size_t i = 0; i < r->cap; i++) {
		struct replay_slot s = r->slots[i];
		if (!s.tag)
			continue;
		r->slots[i].tag = 0;
		if (s.expiry <= now)
			continue;
		size_t j = (size_t)(s.tag * 0x9E3779B97F4A7C15ull) & (r->cap - 1);
		while (r->slots[j].tag)
			j = (j + 1) & (r->cap - 1);
		r->slots[j] = s;
		live++;
	}
	r->used = live;
}

enum replay_rc replay_check(struct replay *r, const uint8_t nonce[16], uint64_t expiry,
                            uint64_t now)
{
	uint64_t tag = tag_of(nonce);
	if (r->used + 1 > r->cap - r->cap / 4 && r->swept_at != now) {
		sweep(r, now);
		r->swept_at = now;
	}
	if (r->used + 1 > r->cap - r->cap / 8)
		return REPLAY_FULL;
	size_t i = (size_t)(tag * 0x9E3779B97F4A7C15ull) & (r->cap - 1);
	for (; r->slots[i].tag; i = (i + 1) & (r->cap - 1))
		if (r->slots[i].tag == tag && r->slots[i].expiry > now)
			return REPLAY_SEEN;
	r->slots[i].tag = tag;
	r->slots[i].expiry = expiry;
	r->used++;
	return REPLAY_FRESH;
}

int replay_crowded(const struct replay *r)
{
	return r->used > r->cap - r->cap / 4;
}

void replay_rehash(struct replay *to, const struct replay *from, uint64_t now)
{
	for (size_t i = 0; i < from->cap; i++) {
		struct replay_slot s = from->slots[i];
		if (!s.tag || s.expiry <= now)
			continue;
		size_t j = (size_t)(s.tag * 0x9E3779B97F4A7C15ull) & (to->cap - 1);
		while (to->slots[j].tag)
			j = (j + 1) & (to->cap - 1);
		to->slots[j] = s;
		to->used++;
	}
}
