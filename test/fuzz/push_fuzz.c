/* push_fuzz.c — libFuzzer target for proto/push.c. First byte: flags (bit
 * 0: JSON body, bit 1: a topic) and the output buffer's size; the rest is a
 * POST body, also read as a request target. A checked message always frames
 * into valid JSON-ish bounds; refusals are one of the codes; topics decode
 * to the allowed alphabet only; the body read as a Socket.IO packet has a
 * known kind and a namespace inside it. A broken invariant aborts. */
#include "proto/json.h"
#include "proto/push.h"
#include "proto/sio.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

static void check_frame(const struct push_msg *m, const char *topic, size_t cap)
{
	static char out[1 << 17];
	size_t need = m->message_len + PUSH_FRAME_EXTRA + 6 * PUSH_SENDER_MAX + 6 * m->message_len;
	size_t n = push_frame_text(out, cap < sizeof(out) ? cap : sizeof(out), m, topic,
	                           "2024-01-15T10:30:45.123Z", "42[\"message\",", "]");
	if (need <= cap && need <= sizeof(out))
		REQUIRE(n > 0);
	if (n == 0)
		return;
	/* the wrapped object is one JSON text */
	enum json_type top;
	REQUIRE(n > 14 && out[n - 1] == ']');
	REQUIRE(json_check(out + 13, n - 14, &top) == JSON_OK && top == JSON_OBJECT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool json = data[0] & 1;
	size_t cap = (size_t)(data[0] >> 2) * 1024 + 64;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct push_msg m;
	enum push_rc rc = push_msg_parse(body, len, json, &m);
	REQUIRE(rc <= PUSH_OK && rc >= PUSH_ERR_TOPIC && push_strerror(rc));
	char topic[PUSH_TOPIC_MAX + 1];
	int t = push_topic(body, len, topic);
	REQUIRE(t == PUSH_ERR_TOPIC || (t >= 0 && t <= PUSH_TOPIC_MAX && strlen(topic) == (size_t)t));
	for (int i = 0; i < t; i++)
		REQUIRE(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-",
		               topic[i]) && topic[i]);
	if (rc == PUSH_OK) {
		REQUIRE(m.message >= body && m.message + m.message_len <= body + len);
		check_frame(&m, t > 0 && (data[0] & 2) ? topic : "", cap);
	}
	const char *ns;
	size_t ns_len;
	enum sio_kind k = sio_parse(body, len, &ns, &ns_len);
	REQUIRE(k >= SIO_INVALID && k <= SIO_UPGRADE_PROBE);
	REQUIRE(!ns || (k == SIO_CONNECT && ns >= body && ns + ns_len <= body + len));
	if (ns) {
		char out[300];
		REQUIRE(sio_connect_error(out, sizeof(out), ns, ns_len < 200 ? ns_len : 200) > 0);
	}
	uint8_t h[PUSH_KEY_HASH_LEN];
	push_key_hash(body, len / 2, h);
	REQUIRE(push_key_match(h, body, len / 2));
	return 0;
}
