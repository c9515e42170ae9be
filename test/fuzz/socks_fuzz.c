/* socks_fuzz.c — libFuzzer target for proto/socks.c (SOCKS5, SOCKS4 and
 * SOCKS4a, sniffed by the parser from the first byte). The first byte picks
 * the chunk size (low 7 bits, 0 = all at once) and whether credentials are
 * configured (high bit); the rest is what a client sends. A handshake fed in
 * chunks must give what it gives fed whole; any broken invariant aborts. */
#include "proto/socks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) \
	do {                  \
		if (!(cond))      \
			abort();      \
	} while (0)

/* What a run produced, folded into a hash: events, replies, consumption. */
struct run {
	uint64_t hash;
	size_t consumed;
	int rc;
};

static void mix(struct run *r, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		r->hash = (r->hash ^ b[i]) * 0x100000001b3u; /* FNV-1a */
}

static bool within(struct socks_slice s, const uint8_t *buf, size_t len)
{
	return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static void check_request(const struct socks_event *ev, const uint8_t *buf, size_t len)
{
	char text[SOCKS_HOST_TEXT_MAX];

	REQUIRE(within(ev->host, buf, len));
	REQUIRE(ev->cmd == SOCKS_CMD_CONNECT ||
	        (ev->cmd == SOCKS_CMD_UDP_ASSOCIATE && ev->version == SOCKS_VERSION));
	REQUIRE(ev->port != 0 || ev->cmd == SOCKS_CMD_UDP_ASSOCIATE);
	REQUIRE(ev->version == SOCKS_VERSION || ev->version == SOCKS4_VERSION);
	if (ev->version == SOCKS4_VERSION) {
		/* No IPv6 in SOCKS4; the user id is bounded and holds no NUL. */
		REQUIRE(ev->atyp != SOCKS_ATYP_IPV6);
		REQUIRE(within(ev->user, buf, len) && ev->user.len <= SOCKS4_MAX_FIELD);
		REQUIRE(memchr(ev->user.p, 0, ev->user.len) == NULL);
	}
	if (ev->atyp == SOCKS_ATYP_IPV4)
		REQUIRE(ev->host.len == 4);
	else if (ev->atyp == SOCKS_ATYP_IPV6)
		REQUIRE(ev->host.len == 16);
	else
		REQUIRE(ev->atyp == SOCKS_ATYP_DOMAIN && ev->host.len >= 1 && ev->host.len <= 255);
	size_t n = socks_host_text(ev, text, sizeof text);
	REQUIRE(n > 0 && n == strlen(text));
	if (ev->atyp == SOCKS_ATYP_DOMAIN)
		for (size_t i = 0; i < n; i++)
			REQUIRE((uint8_t)text[i] > 0x20 && (uint8_t)text[i] != 0x7f);
}

/* Answers an event as tun/ would; true when the handshake is over. */
static bool answer(struct socks_parser *p, const struct socks_event *ev, bool creds,
                   const uint8_t *buf, size_t len, struct run *r)
{
	uint8_t out[SOCKS_MAX_REPLY];
	size_t n;

	mix(r, &ev->type, sizeof ev->type);
	if (ev->type == SOCKS_EV_GREETING) {
		uint8_t m = socks_pick_method(ev->methods, creds);
		REQUIRE(m == SOCKS_METHOD_NO_AUTH || m == SOCKS_METHOD_USERPASS ||
		        m == SOCKS_METHOD_NONE_ACCEPTABLE);
		REQUIRE(m == SOCKS_METHOD_NONE_ACCEPTABLE || (ev->methods & SOCKS_METHOD_BIT(m)));
		n = socks_choose_method(p, m, out);
		REQUIRE(n == SOCKS_METHOD_REPLY_LEN);
		mix(r, &ev->methods, sizeof ev->methods);
	} else if (ev->type == SOCKS_EV_AUTH) {
		REQUIRE(within(ev->user, buf, len) && within(ev->pass, buf, len));
		bool ok = !creds || socks_auth_match(ev->user, ev->pass, "user", "pass");
		n = socks_auth_verdict(p, ok, out);
		REQUIRE(n == SOCKS_AUTH_REPLY_LEN);
		mix(r, ev->user.p, ev->user.len);
		mix(r, ev->pass.p, ev->pass.len);
	} else {
		REQUIRE(ev->type == SOCKS_EV_REQUEST);
		check_request(ev, buf, len);
		mix(r, ev->host.p, ev->host.len);
		mix(r, &ev->port, sizeof ev->port);
		mix(r, &ev->version, sizeof ev->version);
		/* As front.c: SOCKS4 cannot pass a password check. */
		if (ev->version == SOCKS4_VERSION)
			mix(r, out, socks4_reply(out, creds ? SOCKS4_REP_REJECTED : SOCKS4_REP_GRANTED));
		return true;
	}
	mix(r, out, n);
	return false;
}

static void check_error(struct socks_parser *p, int rc)
{
	uint8_t out[SOCKS_MAX_REPLY] = { 0 };
	struct socks_event ev;
	size_t used = 1;

	REQUIRE(rc >= SOCKS_ERR_V4_BAD_DOMAIN && rc <= SOCKS_ERR_VERSION);
	REQUIRE(socks_parser_feed(p, out, sizeof out, &used, &ev) == rc && used == 0);
	REQUIRE(socks_error_reply((enum socks_rc)rc, out) <= SOCKS_MAX_REPLY);
	REQUIRE(socks_strerror((enum socks_rc)rc) != NULL);
}

/* Feeds what is buffered until the parser wants more; false when done. */
static bool pump(struct socks_parser *p, uint8_t *buf, size_t *have, bool creds, struct run *r)
{
	for (;;) {
		struct socks_event ev;
		size_t used = 12345;
		int rc = socks_parser_feed(p, buf, *have, &used, &ev);
		REQUIRE(used <= *have && (rc == SOCKS_EVENT || used == 0));
		REQUIRE(rc != SOCKS_NEED_MORE || *have < SOCKS_MAX_MESSAGE);
		r->rc = rc;
		if (rc == SOCKS_NEED_MORE)
			return true;
		if (rc < 0) {
			check_error(p, rc);
			return false;
		}
		bool done = answer(p, &ev, creds, buf, *have, r);
		memmove(buf, buf + used, *have - used);
		*have -= used;
		r->consumed += used;
		if (done)
			return false;
	}
}

static void run_in_chunks(const uint8_t *msg, size_t len, size_t step, bool creds, struct run *r)
{
	/* Heap copy per chunk so ASan sees reads past what was given. */
	uint8_t *buf = malloc(len ? len : 1);
	struct socks_parser p;
	size_t have = 0, at = 0;
	bool going = true;

	memset(&p, 0, sizeof p);
	memset(r, 0, sizeof *r);
	r->hash = 0xcbf29ce484222325u;
	while (going && at < len) {
		size_t n = step == 0 || step > len - at ? len - at : step;
		uint8_t *exact = malloc(have + n);
		memcpy(buf + have, msg + at, n);
		have += n;
		at += n;
		memcpy(exact, buf, have);
		going = pump(&p, exact, &have, creds, r);
		memcpy(buf, exact, have);
		free(exact);
	}
	free(buf);
}

/* The same bytes as one SOCKS5 UDP datagram (RFC 1928 §7). */
static void check_udp(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees over-reads */
	struct socks_udp_hdr h;
	memcpy(copy, data, size);
	int rc = socks_udp_parse(copy, size, &h);
	if (rc == SOCKS_EVENT) {
		REQUIRE(h.len <= size && h.port != 0 && copy[2] == 0);
		REQUIRE(within(h.host, copy, h.len));
		REQUIRE(h.host.len == (h.atyp == SOCKS_ATYP_IPV4 ? 4u : h.atyp == SOCKS_ATYP_IPV6 ? 16u
		                                                                                : h.host.len));
	} else {
		REQUIRE(rc < 0 && socks_strerror((enum socks_rc)rc) != NULL);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check_udp(data + 1, size - 1);
	bool creds = data[0] & 0x80;
	size_t step = data[0] & 0x7f;
	struct run whole, split;

	run_in_chunks(data + 1, size - 1, 0, creds, &whole);
	run_in_chunks(data + 1, size - 1, step, creds, &split);
	REQUIRE(whole.hash == split.hash && whole.consumed == split.consumed && whole.rc == split.rc);
	return 0;
}
