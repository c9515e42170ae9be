/* resp_fuzz.c — libFuzzer target for proto/resp.c: replies read one after
 * another from what a Redis server (or anything on its port) sends, pub/sub
 * pushes (flat arrays) mixed in as the push bus reads them. Every reply and
 * element lies inside the input, a prefix of a complete reply or array is
 * NEED_MORE, a parsed bulk written back as a command reads back the same;
 * the input read as a redis:// URL either parses or says why. */
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
		if (buf[at] == '*') {
			struct resp_reply el[RESP_MAX_ELEMS];
			size_t n = 99, u2, n2;
			int rc = resp_parse_array(buf + at, size - at, &used, el, RESP_MAX_ELEMS, &n);
			REQUIRE(resp_strerror(rc) != NULL);
			if (rc != RESP_REPLY) {
				REQUIRE(used == 0);
				break;
			}
			REQUIRE(used > 0 && used <= size - at && n <= RESP_MAX_ELEMS);
			for (size_t k = 0; k < n; k++)
				REQUIRE(el[k].text.len == 0 || (el[k].text.p >= buf + at &&
				                                 el[k].text.p + el[k].text.len <= buf + at + used));
			REQUIRE(resp_parse_array(buf + at, used - 1, &u2, el, RESP_MAX_ELEMS, &n2) ==
			        RESP_NEED_MORE);
			at += used;
			continue;
		}
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
	char url[600];
	size_t ul = size < sizeof(url) - 1 ? size : sizeof(url) - 1;
	memcpy(url, data, ul);
	url[ul] = '\0';
	struct resp_url u;
	const char *why = NULL;
	if (resp_url_parse(url, &u, &why) == 0)
		REQUIRE(u.is_unix ? u.path[0] == '/' : (u.host[0] && u.port > 0));
	else
		REQUIRE(why != NULL);
	return 0;
}
