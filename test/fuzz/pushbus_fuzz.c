/* pushbus_fuzz.c — libFuzzer target for proto/pushbus.c: the input is a
 * message heard on the push bus (anyone who can PUBLISH to Redis writes
 * it). A parsed message has its fields in their alphabets and its body
 * inside the input; writing its header again and reading it back gives the
 * same fields (the round trip is exact); the body is then checked as a POST
 * would be. A broken invariant aborts. */
#include "proto/pushbus.h"

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
	char *in = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	memcpy(in, data, size);
	struct pushbus_msg m, again;
	if (pushbus_parse(in, size, &m) == PUSH_OK) {
		REQUIRE(m.body >= in && m.body + m.body_len == in + size);
		REQUIRE(m.tag[0] && m.time[0] && m.ip[0]);
		char head[PUSHBUS_HEAD_MAX + 64];
		size_t n = pushbus_head(head, sizeof(head), &m);
		REQUIRE(n > 0 && n == (size_t)(m.body - in) && memcmp(head, in, n) == 0);
		REQUIRE(pushbus_parse(head, n, &again) == PUSH_OK && again.body_len == 0);
		REQUIRE(strcmp(again.tag, m.tag) == 0 && strcmp(again.topic, m.topic) == 0 &&
		        again.local == m.local && again.json == m.json);
		struct push_msg pm;
		enum push_rc rc = push_msg_parse(m.body, m.body_len, m.json, &pm);
		REQUIRE(rc <= PUSH_OK && rc >= PUSH_ERR_BUS);
	}
	free(in);
	return 0;
}
