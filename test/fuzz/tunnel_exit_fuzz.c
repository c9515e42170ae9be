/* tunnel_exit_fuzz.c — libFuzzer target for proto/tunnel_exit.c. The input
 * is fed whole to the control-message parser and, as text, to the open
 * target split. A DIAL that parses must encode back to the same bytes; a
 * destination that splits must format to text that parses to the same
 * destination and encode to a DIAL that parses back. Any broken invariant
 * aborts. */
#include "proto/tunnel_exit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

static void same_dest(const struct tunnel_exit_dest *a, const struct tunnel_exit_dest *b)
{
	REQUIRE(a->atyp == b->atyp && a->port == b->port && strcmp(a->host, b->host) == 0);
}

static void check_message(const uint8_t *data, size_t size)
{
	struct tunnel_exit_msg m, again;
	uint8_t out[TUNNEL_EXIT_MSG_MAX];
	if (tunnel_exit_parse(data, size, &m) < 0)
		return;
	REQUIRE(m.op >= REV_MSG_CONNECTION && m.op <= REV_MSG_FAILED);
	if (m.op == REV_MSG_DIAL) {
		REQUIRE(m.dest.port != 0 && m.dest.host[0] != '\0');
		size_t n = tunnel_exit_dial_msg(out, m.id, &m.dest);
		REQUIRE(n == size && memcmp(out, data, n) == 0);
		REQUIRE(tunnel_exit_parse(out, n, &again) == 0);
		same_dest(&m.dest, &again.dest);
	} else if (m.op == REV_MSG_FAILED) {
		uint8_t f[TUNNEL_EXIT_FAILED_LEN];
		tunnel_exit_failed_msg(f, m.id, m.err);
		REQUIRE(size == sizeof(f) && memcmp(f, data, size) == 0);
	} else {
		REQUIRE(size == TUNNEL_REV_MSG_LEN);
	}
}

static void check_target(const char *t, size_t n)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	char text[TUNNEL_MAX_TARGET + 1];
	struct tunnel_exit_dest d, again;
	struct tunnel_exit_msg m;
	uint8_t msg[TUNNEL_EXIT_MSG_MAX];
	if (tunnel_exit_target_split(t, n, name, pass, &d) < 0)
		return;
	REQUIRE(strlen(name) >= 1 && strlen(name) <= TUNNEL_CHANNEL_NAME_MAX);
	REQUIRE(strlen(pass) <= TUNNEL_CHANNEL_PASS_MAX && d.port != 0);
	size_t tn = tunnel_exit_dest_format(&d, text, sizeof(text));
	REQUIRE(tn > 0 && tunnel_exit_dest_parse(text, tn, &again) == 0);
	same_dest(&d, &again);
	size_t mn = tunnel_exit_dial_msg(msg, 1, &d);
	REQUIRE(mn > 0 && tunnel_exit_parse(msg, mn, &m) == 0);
	REQUIRE(m.dest.atyp == d.atyp && m.dest.port == d.port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_message(data, size);
	check_target((const char *)data, size);
	return 0;
}
