/* decoy_fuzz.c — libFuzzer target for proto/decoy.c. The first byte picks
 * the chunk size; the rest is a request stream, answered request after
 * request as a kept-alive connection would be. Invariants: the same verdict
 * whole and in chunks, every answer fits DECOY_ANSWER_MAX and states its
 * body length, bodies are skipped without reading past the input. */
#include "proto/decoy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

/* Feeds msg in chunks of `step` (0: whole); returns the bytes used. */
static enum decoy_rc feed(struct decoy *d, const uint8_t *msg, size_t len, size_t step, size_t *used)
{
	size_t off = 0, u;
	enum decoy_rc rc = DECOY_NEED_MORE;
	while (rc == DECOY_NEED_MORE && off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		rc = decoy_feed(d, msg + off, n, &u);
		REQUIRE(u <= n);
		REQUIRE(rc == DECOY_DONE || u == n);
		off += u;
	}
	*used = off;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17;
	const uint8_t *msg = data + 1;
	size_t len = size - 1, off = 0;
	struct decoy a = {0}, b = {0};
	char out[DECOY_ANSWER_MAX + 1];
	for (int r = 0; r < 32 && off < len; r++) {
		size_t ua, ub;
		enum decoy_rc ra = feed(&a, msg + off, len - off, 0, &ua);
		enum decoy_rc rb = feed(&b, msg + off, len - off, step, &ub);
		REQUIRE(ra == rb && ua == ub);
		if (ra != DECOY_DONE)
			break;
		REQUIRE(a.status == b.status && a.keepalive == b.keepalive && a.http09 == b.http09 &&
		        a.head_only == b.head_only && a.padding == b.padding && a.chunked == b.chunked &&
		        a.body_len == b.body_len && a.whole_head == b.whole_head);
		size_t n = decoy_answer(&a, a.keepalive, "Thu, 01 Jan 1970 00:00:00 GMT", out);
		REQUIRE(n > 0 && n <= DECOY_ANSWER_MAX);
		off += ua;
		if (!a.keepalive)
			break;
		if (a.chunked) {
			size_t u;
			if (decoy_chunked_feed(&a, msg + off, len - off, &u) != 1)
				break;
			REQUIRE(u <= len - off);
			off += u;
		} else {
			if (a.body_len > len - off)
				break;
			off += (size_t)a.body_len;
		}
		bool pipelined = off < len;
		decoy_next(&a, pipelined);
		decoy_next(&b, pipelined);
	}
	return 0;
}
