/* proxyhdr_fuzz.c — libFuzzer target for proto/proxyhdr.c (PROXY protocol
 * v1 and v2). The first byte picks the chunk size (0 = all at once); the
 * rest is what a load balancer sends. Fed in chunks it must give what it
 * gives fed whole, never use a byte past the header, and errors stick. */
#include "proto/proxyhdr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

struct run {
	int rc;
	size_t used;
	struct proxyhdr_addr a;
};

static void run_in_chunks(const uint8_t *msg, size_t len, size_t step, struct run *r)
{
	struct proxyhdr p;
	size_t at = 0;
	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	do {
		size_t n = step == 0 || step > len - at ? len - at : step;
		uint8_t *exact = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
		memcpy(exact, msg + at, n);
		size_t used = (size_t)-1;
		r->rc = proxyhdr_feed(&p, exact, n, &used, &r->a);
		REQUIRE(used <= n);
		REQUIRE(r->rc >= PROXYHDR_ERR_ADDRESS && r->rc <= PROXYHDR_DONE);
		REQUIRE(proxyhdr_strerror(r->rc) != NULL);
		if (r->rc < 0) {
			REQUIRE(used == 0);
			REQUIRE(proxyhdr_feed(&p, exact, n, &used, &r->a) == r->rc && used == 0);
		} else {
			REQUIRE(r->rc == PROXYHDR_DONE || used == n);
			r->used += used;
		}
		free(exact);
		at += n;
		if (r->rc != PROXYHDR_NEED_MORE)
			break;
	} while (at < len);
	if (r->rc == PROXYHDR_DONE) {
		REQUIRE(r->a.kind <= PROXYHDR_TCP6 && (r->a.version == 1 || r->a.version == 2));
		REQUIRE(r->a.version != 1 || r->used <= PROXYHDR_V1_MAX);
		REQUIRE(r->a.version != 2 || r->used <= PROXYHDR_V2_FIXED + 65535u);
	} else {
		memset(&r->a, 0, sizeof(r->a));
		r->used = 0; /* what an error used before it does not matter */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct run whole, split;
	run_in_chunks(data + 1, size - 1, 0, &whole);
	run_in_chunks(data + 1, size - 1, data[0], &split);
	REQUIRE(whole.rc == split.rc && whole.used == split.used);
	REQUIRE(memcmp(&whole.a, &split.a, sizeof(whole.a)) == 0);
	return 0;
}
