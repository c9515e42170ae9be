/* resp_fuzz.c — libFuzzer target for proto/resp.c: replies read one after
 * another from what a Redis server (or anything on its port) sends. Every
 * reply lies inside the input, a prefix of a complete reply is NEED_MORE,
 * and a parsed bulk written back as a command reads back the same. */
#include "proto/resp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	memcpy(buf, data, size);
	size_t at = 0;
	for (int i = 0; i < 1000 && at < size; i++) {
		struct resp_reply r;
		size_t used = 0;
		int rc = resp_parse(buf + at, size - at, &used, &r);
		REQUIRE(resp_strerror(rc) != NULL);
		if (rc != RESP_REPLY) {
			REQUIRE(used == 0);
			break;
		}
		REQUIRE(used > 0 && used <= size - at);
		REQUIRE(r.text.len == 0 || (r.text.p >= buf + at && r.text.p + r.text.len <= buf + at + used));
		/* Every shorter prefix is incomplete. */
		size_t u2;
		struct resp_reply r2;
		REQUIRE(resp_parse(buf + at, used - 1, &u2, &r2) == RESP_NEED_MORE);
		if (r.type == RESP_BULK) {
			uint8_t cmd[RESP_MAX_BULK + 64];
			struct resp_slice a = {r.text.p, r.text.len};
			size_t n = resp_command(cmd, sizeof(cmd), &a, 1);
			REQUIRE(n > 4);
			REQUIRE(resp_parse(cmd + 4, n - 4, &u2, &r2) == RESP_REPLY && u2 == n - 4);
			REQUIRE(r2.type == RESP_BULK && r2.text.len == r.text.len);
			REQUIRE(r.text.len == 0 || memcmp(r2.text.p, r.text.p, r.text.len) == 0);
		}
		at += used;
	}
	free(buf);
	return 0;
}
