/* mux_fuzz.c — libFuzzer target for the proto/mux.c frame parser. Byte 0
 * picks a chunk size; the rest is fed in those chunks and, as a reference,
 * whole: both must give the same events and the same verdict; and a caller
 * that moves DATA payloads itself (mux_parser_skip, as the splicing client
 * does) must see the same control events and byte count as one that feeds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* A digest of the events (order-sensitive), DATA slices joined per frame. */
struct story {
	uint64_t h;
	size_t bytes;
	int rc;
};

static bool big; /* the parser takes big DATA (a client's): data[0]'s top bit */

static void mix(struct story *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->h = (s->h ^ b[i]) * 1099511628211ull;
}

static void run(const uint8_t *in, size_t n, size_t step, struct story *s)
{
	struct mux_parser p = {.big = big};
	memset(s, 0, sizeof(*s));
	s->h = 14695981039346656037ull;
	size_t off = 0;
	while (off < n) {
		size_t chunk = step < n - off ? step : n - off;
		size_t pos = 0;
		for (;;) {
			struct mux_event ev;
			size_t used;
			enum mux_rc rc = mux_parser_feed(&p, in + off + pos, chunk - pos, &used, &ev);
			must(used <= chunk - pos);
			pos += used;
			if (rc < 0) {
				s->rc = rc;
				return;
			}
			if (rc == MUX_NEED_MORE) {
				must(pos == chunk);
				break;
			}
			must(ev.type >= MUX_OPEN && ev.type <= MUX_TYPE_MAX);
			if (ev.type != MUX_DATA) {
				must(ev.len <= MUX_MAX_CTRL);
				must(ev.data == p.ctl);
			} else {
				must(ev.len == 0 || (ev.data >= in && ev.data + ev.len <= in + n));
			}
			if (ev.type != MUX_DATA || ev.first)
				mix(s, &ev.type, 1), mix(s, &ev.id, 4), mix(s, &ev.window, 4);
			mix(s, ev.data, ev.len);
			s->bytes += ev.len;
			if (pos == chunk && ev.type != MUX_DATA)
				break;
			if (pos == chunk && ev.type == MUX_DATA && (ev.last || ev.len == 0))
				break;
			if (pos == chunk)
				break;
		}
		off += chunk;
	}
}

/* The control events and the count of DATA bytes: what a caller that
 * splices DATA payloads (mux_parser_skip) must see the same as one that
 * feeds them. skip: move DATA payload bytes with mux_parser_skip. */
static void run_projected(const uint8_t *in, size_t n, size_t step, bool skip, struct story *s)
{
	struct mux_parser p = {.big = big};
	memset(s, 0, sizeof(*s));
	s->h = 14695981039346656037ull;
	size_t off = 0;
	for (size_t guard = 0; off < n && guard < 4 * n + 16; guard++) {
		uint32_t id = 0;
		uint32_t left = skip ? mux_parser_data_left(&p, &id) : 0;
		if (left) {
			size_t k = left < step ? left : step;
			if (k > n - off)
				k = n - off;
			mux_parser_skip(&p, (uint32_t)k);
			must(mux_parser_data_left(&p, &id) == left - k);
			s->bytes += k;
			off += k;
			continue;
		}
		size_t chunk = step < n - off ? step : n - off;
		struct mux_event ev;
		size_t used;
		enum mux_rc rc = mux_parser_feed(&p, in + off, chunk, &used, &ev);
		off += used;
		if (rc < 0) {
			s->rc = rc;
			return;
		}
		if (rc == MUX_EVENT && ev.type == MUX_DATA)
			s->bytes += ev.len;
		else if (rc == MUX_EVENT)
			mix(s, &ev.type, 1), mix(s, &ev.id, 4), mix(s, &ev.window, 4),
			    mix(s, ev.data, ev.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	big = data[0] & 0x80;
	uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	struct story whole, split;
	run(copy, size - 1, size, &whole);
	run(copy, size - 1, step, &split);
	must(whole.rc == split.rc);
	if (whole.rc == 0)
		must(whole.h == split.h && whole.bytes == split.bytes);
	struct story fed, skipped;
	run_projected(copy, size - 1, step, false, &fed);
	run_projected(copy, size - 1, step, true, &skipped);
	must(fed.rc == skipped.rc);
	if (fed.rc == 0)
		must(fed.h == skipped.h && fed.bytes == skipped.bytes);
	free(copy);
	return 0;
}
