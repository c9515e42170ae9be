/* route_fuzz.c — libFuzzer target for proto/route.c (and the channel name
 * split of proto/tunnel.c). The first byte splits the input: a rule's wire
 * form, then a request head. A parsed rule must format back to something
 * that parses to the same rule; a matching request's forwarded head must fit
 * its bound and parse again as a request. Any broken invariant aborts. */
#include "proto/http.h"
#include "proto/route.h"
#include "proto/tunnel.h"

#include <stdint.h>
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
	if (size < 1)
		return 0;
	size_t cut = data[0] < size - 1 ? data[0] : size - 1;
	const char *rule_text = (const char *)data + 1;
	const char *head = rule_text + cut;
	size_t head_len = size - 1 - cut;

	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	if (tunnel_channel_split(rule_text, cut, name, pass) == 0)
		REQUIRE(strlen(name) >= 1 && strlen(name) <= TUNNEL_CHANNEL_NAME_MAX &&
		        strlen(pass) <= TUNNEL_CHANNEL_PASS_MAX);

	struct route_rule r, again;
	if (route_rule_parse(rule_text, cut, &r) < 0)
		return 0;
	char wire[ROUTE_MAX_VALUE + ROUTE_MAX_BASE + 16];
	size_t wn = route_rule_format(&r, wire, sizeof(wire));
	REQUIRE(wn > 0 && wn == strlen(wire));
	REQUIRE(route_rule_parse(wire, wn, &again) == 0);
	REQUIRE(again.mode == r.mode && again.ws == r.ws && strcmp(again.value, r.value) == 0 &&
	        strcmp(again.base, r.base) == 0);

	struct http_request req;
	size_t scanned = 0;
	int end = http_head_end(head, head_len, &scanned);
	if (end <= 0 || http_parse_request(head, (size_t)end, &req) < 0)
		return 0;
	const char *q = memchr(req.target.p, '?', req.target.len);
	struct http_slice path = {req.target.p, q ? (size_t)(q - req.target.p) : req.target.len};
	if (!route_matches(&r, &req, path))
		return 0;
	static char out[HTTP_MAX_HEAD * 2];
	size_t n = route_forward_head(out, sizeof(out), &r, &req, "192.0.2.1", true);
	if (n == 0)
		return 0;
	REQUIRE(n <= sizeof(out) && n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
	/* Three X-Forwarded-* fields are added: past our own parser's field
	 * limit the head is still well formed, just longer than we accept. */
	struct http_request fwd;
	if (n <= HTTP_MAX_HEAD && req.nheaders + 3 <= HTTP_MAX_HEADERS)
		REQUIRE(http_parse_request(out, n, &fwd) == (int)n);
	return 0;
}
