/* socks_test.c — unit test of proto/socks.c: whole handshakes driven as a
 * caller would, at every split point and chunk size, with the same events,
 * replies and leftover bytes each time; every error and its reply; RFC 1929;
 * reply builders; the size limits; every prefix against a guard page. */
#include "proto/socks.h"

#include "test/check.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a caller, recorded ---- */

/* What one run of a handshake produced: events in words, bytes sent back,
 * bytes left in the caller's buffer, and the final result. */
struct transcript {
	char text[512];
	size_t tlen;
	uint8_t sent[64];
	size_t nsent;
	uint8_t rest[600];
	size_t nrest;
	int rc;
};

static void note(struct transcript *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct transcript *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(t->text + t->tlen, sizeof t->text - t->tlen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof t->text - t->tlen)
		t->tlen += (size_t)n;
}

static void send_bytes(struct transcript *t, const uint8_t *b, size_t n)
{
	if (n <= sizeof t->sent - t->nsent) {
		memcpy(t->sent + t->nsent, b, n);
		t->nsent += n;
	}
}

/* The configured credentials of a run: user NULL means none. */
struct creds {
	const char *user;
	const char *pass;
};

/* Answers one event as tun/ will; returns true when the handshake is over. */
static bool answer(struct socks_parser *p, const struct socks_event *ev, const struct creds *c,
                   struct transcript *t)
{
	uint8_t out[SOCKS_MAX_REPLY];
	char host[SOCKS_HOST_TEXT_MAX];

	switch (ev->type) {
	case SOCKS_EV_GREETING:
		note(t, "G%x ", (unsigned)ev->methods);
		send_bytes(t, out, socks_choose_method(p, socks_pick_method(ev->methods, c->user != NULL), out));
		return false;
	case SOCKS_EV_AUTH: {
		note(t, "A%.*s:%.*s ", (int)ev->user.len, (const char *)ev->user.p, (int)ev->pass.len,
		     (const char *)ev->pass.p);
		bool ok = !c->user || socks_auth_match(ev->user, ev->pass, c->user, c->pass);
		send_bytes(t, out, socks_auth_verdict(p, ok, out));
		return false;
	}
	case SOCKS_EV_REQUEST:
		CHECK(socks_host_text(ev, host, sizeof host) > 0);
		if (ev->version == SOCKS4_VERSION) {
			note(t, "R4.%u %s %u u%.*s ", ev->atyp, host, ev->port, (int)ev->user.len,
			     (const char *)ev->user.p);
			send_bytes(t, out, socks4_reply(out, SOCKS4_REP_GRANTED));
			return true;
		}
		note(t, "R%u %s %u ", ev->atyp, host, ev->port);
		send_bytes(t, out, socks_reply(out, SOCKS_REP_SUCCEEDED, SOCKS_ATYP_IPV4, NULL, 0));
		return true;
	}
	return true;
}

/* Feeds what the caller holds until the parser wants more; consumed bytes
 * leave the buffer, the rest stays for the next round. */
static bool pump(struct socks_parser *p, uint8_t *buf, size_t *have, const struct creds *c,
                 struct transcript *t)
{
	for (;;) {
		struct socks_event ev;
		size_t used = 99;
		int rc = socks_parser_feed(p, buf, *have, &used, &ev);
		CHECK(used <= *have);
		CHECK(rc == SOCKS_EVENT || used == 0);
		t->rc = rc;
		if (rc == SOCKS_NEED_MORE)
			return false;
		if (rc < 0) {
			uint8_t out[SOCKS_MAX_REPLY];
			note(t, "E%d ", rc);
			send_bytes(t, out, socks_error_reply((enum socks_rc)rc, out));
			return true;
		}
		/* The event's slices point into buf: answer before moving it. */
		bool done = answer(p, &ev, c, t);
		memmove(buf, buf + used, *have - used);
		*have -= used;
		if (done)
			return true;
	}
}

/* Delivers msg as a first piece of `first` bytes, then pieces of `step`
 * (0: all the rest at once), pumping after each piece as a reactor would. */
static void drive(const uint8_t *msg, size_t len, size_t first, size_t step, const struct creds *c,
                  struct transcript *t)
{
	static uint8_t buf[2048];
	struct socks_parser p;
	size_t have = 0, at = 0;
	bool done = false;

	memset(&p, 0, sizeof p);
	memset(t, 0, sizeof *t);
	while (at < len) {
		size_t n = at == 0 ? first : (step ? step : len - at);
		n = n < len - at ? n : len - at;
		memcpy(buf + have, msg + at, n);
		have += n;
		at += n;
		if (!done)
			done = pump(&p, buf, &have, c, t);
	}
	if (len == 0)
		pump(&p, buf, &have, c, t);
	memcpy(t->rest, buf, have < sizeof t->rest ? have : sizeof t->rest);
	t->nrest = have;
}

static bool transcripts_same(const struct transcript *a, const struct transcript *b)
{
	return a->tlen == b->tlen && memcmp(a->text, b->text, a->tlen) == 0 &&
	       a->nsent == b->nsent && memcmp(a->sent, b->sent, a->nsent) == 0 &&
	       a->nrest == b->nrest && memcmp(a->rest, b->rest, a->nrest) == 0 && a->rc == b->rc;
}

/* Every two-piece split and every chunk size give the whole-message run. */
static void check_every_split(const uint8_t *msg, size_t len, const struct creds *c,
                              const struct transcript *whole)
{
	static struct transcript t;
	bool all_same = true;

	for (size_t first = 1; first <= len; first++) {
		drive(msg, len, first, 0, c, &t);
		all_same &= transcripts_same(whole, &t);
		drive(msg, len, first, first, c, &t);
		all_same &= transcripts_same(whole, &t);
	}
	CHECK(all_same);
}

/* One scripted handshake: its bytes, the caller's credentials, and the
 * events, replies and leftover it must give however it is split. */
struct script {
	const char *name;
	const char *msg;
	size_t len;
	struct creds creds;
	const char *text;
	const char *sent;
	size_t nsent;
	size_t nrest;
};

#define BYTES(s) s, sizeof(s) - 1

static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01";
#define REQ_V4_80 "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"
#define REQ_DOMAIN_443 "\x05\x01\x00\x03\x0b" "example.com" "\x01\xbb"
#define OK_REPLY "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
#define FAIL_REPLY(rep) "\x05" rep "\x00\x01\x00\x00\x00\x00\x00\x00"
#define V4_OK "\x00\x5a\x00\x00\x00\x00\x00\x00"
#define V4_FAIL "\x00\x5b\x00\x00\x00\x00\x00\x00"

static const struct script scripts[] = {
	{ "no auth, IPv4, ClientHello pipelined",
	  BYTES("\x05\x01\x00" REQ_V4_80 "\x16\x03\x01\x02\x00\x01"), { NULL, NULL },
	  "G1 R1 127.0.0.1 80 ", BYTES("\x05\x00" OK_REPLY), 6 },
	{ "no auth, domain", BYTES("\x05\x02\x00\x02" REQ_DOMAIN_443), { NULL, NULL },
	  "G5 R3 example.com 443 ", BYTES("\x05\x00" OK_REPLY), 0 },
	{ "no auth, IPv6",
	  BYTES("\x05\x01\x00\x05\x01\x00\x04" "\x20\x01\x0d\xb8\x00\x00\x00\x00"
	        "\x00\x00\x00\x00\x00\x00\x00\x01" "\x1f\x90"),
	  { NULL, NULL }, "G1 R4 2001:db8::1 8080 ", BYTES("\x05\x00" OK_REPLY), 0 },
	{ "RFC 1929 accepted, request pipelined behind it",
	  BYTES("\x05\x02\x00\x02" "\x01\x04user\x04pass" REQ_DOMAIN_443 "GET / HTTP/1.1\r\n"),
	  { "user", "pass" }, "G5 Auser:pass R3 example.com 443 ",
	  BYTES("\x05\x02" "\x01\x00" OK_REPLY), 16 },
	{ "RFC 1929 refused", BYTES("\x05\x02\x00\x02" "\x01\x04user\x05wrong" REQ_V4_80),
	  { "user", "pass" }, "G5 Auser:wrong E-5 ", BYTES("\x05\x02" "\x01\x01"), 10 },
	{ "RFC 1929 user wrong, password right", BYTES("\x05\x01\x02" "\x01\x04USER\x04pass"),
	  { "user", "pass" }, "G4 AUSER:pass E-5 ", BYTES("\x05\x02" "\x01\x01"), 0 },
	{ "RFC 1929 empty fields", BYTES("\x05\x01\x02" "\x01\x00\x00"), { "user", "pass" },
	  "G4 A: E-5 ", BYTES("\x05\x02" "\x01\x01"), 0 },
	{ "only user/pass offered, none configured",
	  BYTES("\x05\x01\x02" "\x01\x01u\x01p" REQ_V4_80), { NULL, NULL }, "G4 Au:p R1 127.0.0.1 80 ",
	  BYTES("\x05\x02" "\x01\x00" OK_REPLY), 0 },
	{ "credentials configured, client offers none",
	  BYTES("\x05\x01\x00" REQ_V4_80), { "user", "pass" }, "G1 E-3 ", BYTES("\x05\xff"), 10 },
	{ "SOCKS4 CONNECT, empty user id", BYTES("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"),
	  { NULL, NULL }, "R4.1 127.0.0.1 80 u ", BYTES(V4_OK), 0 },
	{ "SOCKS4 CONNECT, user id, TLS pipelined",
	  BYTES("\x04\x01\x01\xbb\xc0\x00\x02\x07" "bob\x00" "\x16\x03\x01\x02\x00\x01"),
	  { NULL, NULL }, "R4.1 192.0.2.7 443 ubob ", BYTES(V4_OK), 6 },
	{ "SOCKS4a CONNECT by name",
	  BYTES("\x04\x01\x00\x50\x00\x00\x00\x01" "u\x00" "example.com\x00"), { NULL, NULL },
	  "R4.3 example.com 80 uu ", BYTES(V4_OK), 0 },
	{ "SOCKS4a, credentials configured (the caller refuses, not the parser)",
	  BYTES("\x04\x01\x00\x50\x00\x00\x00\xff" "\x00" "localhost\x00"), { "u", "p" },
	  "R4.3 localhost 80 u ", BYTES(V4_OK), 0 },
	{ "SOCKS4 BIND", BYTES("\x04\x02\x00\x50\x7f\x00\x00\x01\x00"), { NULL, NULL }, "E-14 ",
	  BYTES(V4_FAIL), 9 },
	{ "SOCKS4 unknown command", BYTES("\x04\x09"), { NULL, NULL }, "E-14 ", BYTES(V4_FAIL), 2 },
	{ "SOCKS4 port 0", BYTES("\x04\x01\x00\x00\x7f\x00\x00\x01\x00"), { NULL, NULL },
	  "E-15 ", BYTES(V4_FAIL), 9 },
	{ "SOCKS4a empty name", BYTES("\x04\x01\x00\x50\x00\x00\x00\x01" "\x00\x00"),
	  { NULL, NULL }, "E-17 ", BYTES(V4_FAIL), 10 },
	{ "SOCKS4a space in name", BYTES("\x04\x01\x00\x50\x00\x00\x00\x01" "\x00" "a b\x00"),
	  { NULL, NULL }, "E-17 ", BYTES(V4_FAIL), 13 },
	{ "SOCKS5 greeting with VER 6", BYTES("\x06\x01\x00"), { NULL, NULL }, "E-1 ", "", 0, 3 },
	{ "TLS ClientHello instead of SOCKS", BYTES("\x16\x03\x01\x02\x00\x01"), { NULL, NULL },
	  "E-1 ", "", 0, 6 },
	{ "HTTP instead of SOCKS", BYTES("GET / HTTP/1.1\r\n\r\n"), { NULL, NULL }, "E-1 ", "", 0, 18 },
	{ "no methods", BYTES("\x05\x00"), { NULL, NULL }, "E-2 ", BYTES("\x05\xff"), 2 },
	{ "RFC 1929 version", BYTES("\x05\x01\x02" "\x05\x01u\x01p"), { "u", "p" }, "G4 E-4 ",
	  BYTES("\x05\x02" "\x01\x01"), 5 },
	{ "request version", BYTES("\x05\x01\x00" "\x04\x01\x00\x01\x7f\x00\x00\x01\x00\x50"),
	  { NULL, NULL }, "G1 E-6 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 10 },
	{ "BIND", BYTES("\x05\x01\x00" "\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50"), { NULL, NULL },
	  "G1 E-7 ", BYTES("\x05\x00" FAIL_REPLY("\x07")), 10 },
	{ "UDP ASSOCIATE, address unknown (zeros)",
	  BYTES("\x05\x01\x00" "\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00"),
	  { NULL, NULL }, "G1 R1 0.0.0.0 0 ", BYTES("\x05\x00" OK_REPLY), 0 },
	{ "UDP ASSOCIATE from a known port",
	  BYTES("\x05\x01\x00" "\x05\x03\x00\x01\x7f\x00\x00\x01\x30\x39"),
	  { NULL, NULL }, "G1 R1 127.0.0.1 12345 ", BYTES("\x05\x00" OK_REPLY), 0 },
	{ "unknown command", BYTES("\x05\x01\x00" "\x05\x09\x00\x01"), { NULL, NULL }, "G1 E-7 ",
	  BYTES("\x05\x00" FAIL_REPLY("\x07")), 4 },
	{ "RSV not zero", BYTES("\x05\x01\x00" "\x05\x01\x01\x01\x7f\x00\x00\x01\x00\x50"),
	  { NULL, NULL }, "G1 E-8 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 10 },
	{ "ATYP 2", BYTES("\x05\x01\x00" "\x05\x01\x00\x02\x7f\x00\x00\x01\x00\x50"), { NULL, NULL },
	  "G1 E-9 ", BYTES("\x05\x00" FAIL_REPLY("\x08")), 10 },
	{ "ATYP 0", BYTES("\x05\x01\x00" "\x05\x01\x00\x00"), { NULL, NULL }, "G1 E-9 ",
	  BYTES("\x05\x00" FAIL_REPLY("\x08")), 4 },
	{ "empty domain", BYTES("\x05\x01\x00" "\x05\x01\x00\x03\x00\x00\x50"), { NULL, NULL },
	  "G1 E-10 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 7 },
	{ "space in domain", BYTES("\x05\x01\x00" "\x05\x01\x00\x03\x04" "a b." "\x00\x50"),
	  { NULL, NULL }, "G1 E-11 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 11 },
	{ "NUL in domain", BYTES("\x05\x01\x00" "\x05\x01\x00\x03\x04" "ab\x00." "\x00\x50"),
	  { NULL, NULL }, "G1 E-11 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 11 },
	{ "DEL in domain", BYTES("\x05\x01\x00" "\x05\x01\x00\x03\x01" "\x7f" "\x00\x50"),
	  { NULL, NULL }, "G1 E-11 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 8 },
	{ "port 0", BYTES("\x05\x01\x00" "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x00"), { NULL, NULL },
	  "G1 E-12 ", BYTES("\x05\x00" FAIL_REPLY("\x01")), 10 },
};

static void test_scripts(void)
{
	static struct transcript whole;

	for (size_t i = 0; i < COUNT(scripts); i++) {
		const struct script *s = &scripts[i];
		const uint8_t *msg = (const uint8_t *)s->msg;
		drive(msg, s->len, s->len, 0, &s->creds, &whole);
		bool ok = whole.tlen == strlen(s->text) && memcmp(whole.text, s->text, whole.tlen) == 0 &&
		          whole.nsent == s->nsent && memcmp(whole.sent, s->sent, s->nsent) == 0 &&
		          whole.nrest == s->nrest &&
		          memcmp(whole.rest, msg + s->len - s->nrest, s->nrest) == 0;
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  script \"%s\": got \"%.*s\", %zu sent, %zu left\n", s->name,
			        (int)whole.tlen, whole.text, whole.nsent, whole.nrest);
		check_every_split(msg, s->len, &s->creds, &whole);
	}
}

/* The ClientHello a client sends before our reply stays, byte for byte. */
static void test_pipelined_bytes_kept(void)
{
	static struct transcript t;
	const struct script *s = &scripts[0];

	for (size_t first = 1; first <= s->len; first++) {
		drive((const uint8_t *)s->msg, s->len, first, 1, &s->creds, &t);
		CHECK_EQ_INT(t.nrest, sizeof tls_hello - 1);
		CHECK_MEM(t.rest, tls_hello, sizeof tls_hello - 1);
	}
}

/* ---- the parser directly ---- */

static int feed(struct socks_parser *p, const char *in, size_t len, size_t *used,
                struct socks_event *ev)
{
	return socks_parser_feed(p, (const uint8_t *)in, len, used, ev);
}

/* A parser that has had a greeting and the given method chosen. */
static void parser_after_greeting(struct socks_parser *p, uint8_t method)
{
	struct socks_event ev;
	uint8_t out[2];
	size_t used;

	memset(p, 0, sizeof *p);
	CHECK_EQ_INT(feed(p, "\x05\x01\x00", 3, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(socks_choose_method(p, method, out), 2);
}

static void test_greeting_methods(void)
{
	static uint8_t msg[SOCKS_MAX_GREETING];
	struct socks_parser p = { 0 };
	struct socks_event ev;
	size_t used;

	msg[0] = 5;
	msg[1] = 255;
	for (int i = 0; i < 255; i++)
		msg[2 + i] = (uint8_t)(254 - i); /* 254 .. 0: high ones are not recorded */
	for (size_t n = 0; n < sizeof msg; n++)
		CHECK_EQ_INT(socks_parser_feed(&p, msg, n, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, sizeof msg, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(used, SOCKS_MAX_GREETING);
	CHECK_EQ_INT(ev.type, SOCKS_EV_GREETING);
	CHECK(ev.methods == UINT32_MAX);

	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(feed(&p, "\x05\x03\xff\x80\x02", 5, &used, &ev), SOCKS_EVENT);
	CHECK(ev.methods == SOCKS_METHOD_BIT(SOCKS_METHOD_USERPASS));
	CHECK_EQ_INT(used, 5);
}

static void test_pick_method(void)
{
	uint32_t none = SOCKS_METHOD_BIT(SOCKS_METHOD_NO_AUTH);
	uint32_t userpass = SOCKS_METHOD_BIT(SOCKS_METHOD_USERPASS);
	uint32_t gssapi = SOCKS_METHOD_BIT(SOCKS_METHOD_GSSAPI);

	CHECK_EQ_INT(socks_pick_method(none, false), SOCKS_METHOD_NO_AUTH);
	CHECK_EQ_INT(socks_pick_method(none | userpass, false), SOCKS_METHOD_NO_AUTH);
	CHECK_EQ_INT(socks_pick_method(userpass, false), SOCKS_METHOD_USERPASS);
	CHECK_EQ_INT(socks_pick_method(gssapi, false), SOCKS_METHOD_NONE_ACCEPTABLE);
	CHECK_EQ_INT(socks_pick_method(0, false), SOCKS_METHOD_NONE_ACCEPTABLE);
	CHECK_EQ_INT(socks_pick_method(none | userpass, true), SOCKS_METHOD_USERPASS);
	CHECK_EQ_INT(socks_pick_method(userpass, true), SOCKS_METHOD_USERPASS);
	CHECK_EQ_INT(socks_pick_method(none | gssapi, true), SOCKS_METHOD_NONE_ACCEPTABLE);
}

static void test_choose_method(void)
{
	struct socks_parser p;
	struct socks_event ev;
	uint8_t out[2] = { 0, 0 };
	size_t used;

	/* GSSAPI is not spoken: choosing it is refusing. */
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(feed(&p, "\x05\x01\x01", 3, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(socks_choose_method(&p, SOCKS_METHOD_GSSAPI, out), 2);
	CHECK(out[0] == 5 && out[1] == 0xff);
	CHECK_EQ_INT(feed(&p, "", 0, &used, &ev), SOCKS_ERR_NO_ACCEPTABLE);

	/* Out of turn: no greeting yet, or twice. */
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(socks_choose_method(&p, SOCKS_METHOD_NO_AUTH, out), 0);
	CHECK_EQ_INT(feed(&p, "\x05\x01\x00", 3, &used, &ev), SOCKS_ERR_STATE);
	parser_after_greeting(&p, SOCKS_METHOD_NO_AUTH);
	CHECK_EQ_INT(socks_choose_method(&p, SOCKS_METHOD_NO_AUTH, out), 0);
	CHECK_EQ_INT(p.err, SOCKS_ERR_STATE);
	parser_after_greeting(&p, SOCKS_METHOD_NO_AUTH);
	CHECK_EQ_INT(socks_auth_verdict(&p, true, out), 0);
	CHECK_EQ_INT(p.err, SOCKS_ERR_STATE);

	/* Fed again before answering the greeting. */
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(feed(&p, "\x05\x01\x00" REQ_V4_80, 13, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(feed(&p, REQ_V4_80, 10, &used, &ev), SOCKS_ERR_STATE);
	CHECK_EQ_INT(used, 0);
}

static void test_auth_limits(void)
{
	static uint8_t msg[SOCKS_MAX_AUTH];
	struct socks_parser p;
	struct socks_event ev;
	uint8_t out[2];
	size_t used;

	msg[0] = 1;
	msg[1] = 255;
	memset(msg + 2, 'u', 255);
	msg[257] = 255;
	memset(msg + 258, 'p', 255);
	parser_after_greeting(&p, SOCKS_METHOD_USERPASS);
	for (size_t n = 0; n < sizeof msg; n++)
		CHECK_EQ_INT(socks_parser_feed(&p, msg, n, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, sizeof msg, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(used, SOCKS_MAX_AUTH);
	CHECK_EQ_INT(ev.type, SOCKS_EV_AUTH);
	CHECK(ev.user.p == msg + 2 && ev.user.len == 255);
	CHECK(ev.pass.p == msg + 258 && ev.pass.len == 255);
	CHECK_EQ_INT(socks_auth_verdict(&p, true, out), 2);
	CHECK(out[0] == 1 && out[1] == 0);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, 0, &used, &ev), SOCKS_NEED_MORE);
}

static void test_request_limits(void)
{
	static uint8_t msg[SOCKS_MAX_REQUEST + 3];
	struct socks_parser p;
	struct socks_event ev;
	size_t used;

	memcpy(msg, "\x05\x01\x00\x03\xff", 5);
	memset(msg + 5, 'a', 255);
	msg[260] = 0x01;
	msg[261] = 0x00;
	memcpy(msg + SOCKS_MAX_REQUEST, "xyz", 3);
	parser_after_greeting(&p, SOCKS_METHOD_NO_AUTH);
	for (size_t n = 0; n < SOCKS_MAX_REQUEST; n++)
		CHECK_EQ_INT(socks_parser_feed(&p, msg, n, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, sizeof msg, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(used, SOCKS_MAX_REQUEST);
	CHECK_EQ_INT(ev.type, SOCKS_EV_REQUEST);
	CHECK_EQ_INT(ev.cmd, SOCKS_CMD_CONNECT);
	CHECK_EQ_INT(ev.atyp, SOCKS_ATYP_DOMAIN);
	CHECK(ev.host.p == msg + 5 && ev.host.len == SOCKS_MAX_DOMAIN);
	CHECK_EQ_INT(ev.port, 256);

	char text[SOCKS_HOST_TEXT_MAX];
	CHECK_EQ_INT(socks_host_text(&ev, text, sizeof text), 255);
	CHECK_EQ_INT(strlen(text), 255);
	CHECK_EQ_INT(socks_host_text(&ev, text, 255), 0);

	/* The handshake is over: the rest is payload, not for the parser. */
	CHECK_EQ_INT(socks_parser_feed(&p, msg + used, 3, &used, &ev), SOCKS_ERR_STATE);
	CHECK_EQ_INT(used, 0);
}

/* SOCKS4 fields carry no length: 255 bytes each is the bound, the 256th
 * non-NUL byte the error, and the longest request never needs more. */
static void test_v4_limits(void)
{
	static uint8_t msg[SOCKS4_MAX_REQUEST + 2];
	struct socks_parser p;
	struct socks_event ev;
	size_t used;

	memcpy(msg, "\x04\x01\x01\x00\x00\x00\x00\x07", 8);
	memset(msg + 8, 'u', 255);
	msg[263] = 0;
	memset(msg + 264, 'h', 255);
	msg[519] = 0;
	memcpy(msg + SOCKS4_MAX_REQUEST, "xy", 2);
	memset(&p, 0, sizeof p);
	for (size_t n = 0; n < SOCKS4_MAX_REQUEST; n++)
		CHECK_EQ_INT(socks_parser_feed(&p, msg, n, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, sizeof msg, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(used, SOCKS4_MAX_REQUEST);
	CHECK_EQ_INT(ev.version, 4);
	CHECK_EQ_INT(ev.atyp, SOCKS_ATYP_DOMAIN);
	CHECK(ev.user.p == msg + 8 && ev.user.len == 255);
	CHECK(ev.host.p == msg + 264 && ev.host.len == 255);
	CHECK_EQ_INT(ev.port, 256);
	CHECK_EQ_INT(socks_parser_feed(&p, msg + used, 2, &used, &ev), SOCKS_ERR_STATE);

	/* One more byte of user id, or of name: refused once it has arrived. */
	msg[263] = 'u';
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, 263, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, 264, &used, &ev), SOCKS_ERR_V4_TOO_LONG);
	msg[263] = 0;
	msg[519] = 'h';
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, 519, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(socks_parser_feed(&p, msg, 520, &used, &ev), SOCKS_ERR_V4_TOO_LONG);

	/* DSTIP 0.0.0.0 is not SOCKS4a: an address (that no dial reaches). */
	memset(&p, 0, sizeof p);
	CHECK_EQ_INT(feed(&p, "\x04\x01\x00\x50\x00\x00\x00\x00\x00", 9, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(ev.atyp, SOCKS_ATYP_IPV4);
	CHECK_EQ_INT(used, 9);
}

/* RFC 1928 §7 datagram headers: whole datagrams, no feeding. */
static void test_udp_header(void)
{
	struct socks_udp_hdr h;
	static const char v4[] = "\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x35" "query";
	static const char name[] = "\x00\x00\x00\x03\x0b" "example.com" "\x01\xbb";
	static const char v6[] = "\x00\x00\x00\x04" "0123456789abcdef" "\x00\x35";

	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)v4, sizeof v4 - 1, &h), SOCKS_EVENT);
	CHECK(h.atyp == SOCKS_ATYP_IPV4 && h.port == 53 && h.len == 10 && h.host.len == 4);
	CHECK(h.host.p == (const uint8_t *)v4 + 4);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)v4, 10, &h), SOCKS_EVENT); /* empty payload */
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)name, sizeof name - 1, &h), SOCKS_EVENT);
	CHECK(h.atyp == SOCKS_ATYP_DOMAIN && h.port == 443 && h.len == sizeof name - 1);
	CHECK(h.host.len == 11 && memcmp(h.host.p, "example.com", 11) == 0);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)v6, sizeof v6 - 1, &h), SOCKS_EVENT);
	CHECK(h.atyp == SOCKS_ATYP_IPV6 && h.len == 22);

	/* Every truncation is too short; the errors in wire order. */
	for (size_t n = 0; n < 10; n++)
		CHECK_EQ_INT(socks_udp_parse((const uint8_t *)v4, n, &h), SOCKS_ERR_UDP_SHORT);
	for (size_t n = 5; n < sizeof name - 1; n++)
		CHECK_EQ_INT(socks_udp_parse((const uint8_t *)name, n, &h), SOCKS_ERR_UDP_SHORT);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)"\x00\x00\x01\x01\x7f\x00\x00\x01\x00\x35", 10, &h),
	             SOCKS_ERR_UDP_FRAG);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)"\x00\x00\x00\x02\x7f\x00\x00\x01\x00\x35", 10, &h),
	             SOCKS_ERR_ATYP_UNSUPPORTED);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)"\x00\x00\x00\x03\x00\x00\x35", 7, &h),
	             SOCKS_ERR_EMPTY_DOMAIN);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)"\x00\x00\x00\x03\x02" "a " "\x00\x35", 9, &h),
	             SOCKS_ERR_BAD_DOMAIN);
	CHECK_EQ_INT(socks_udp_parse((const uint8_t *)"\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10, &h),
	             SOCKS_ERR_PORT_ZERO);
}

static void test_errors_sticky(void)
{
	struct socks_parser p = { 0 };
	struct socks_event ev;
	size_t used = 7;

	CHECK_EQ_INT(feed(&p, "", 0, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(feed(&p, "\x05", 1, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(feed(&p, "\x05\x01", 2, &used, &ev), SOCKS_NEED_MORE);
	CHECK_EQ_INT(feed(&p, "\x06", 1, &used, &ev), SOCKS_ERR_VERSION);
	CHECK_EQ_INT(feed(&p, "\x05\x01\x00", 3, &used, &ev), SOCKS_ERR_VERSION);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(feed(&p, "", 0, &used, &ev), SOCKS_ERR_VERSION);

	uint8_t out[2];
	CHECK_EQ_INT(socks_choose_method(&p, SOCKS_METHOD_NO_AUTH, out), 0);
	CHECK_EQ_INT(p.err, SOCKS_ERR_VERSION); /* the first error stays */

	/* Refused credentials: the parser stays failed. */
	parser_after_greeting(&p, SOCKS_METHOD_USERPASS);
	CHECK_EQ_INT(feed(&p, "\x01\x01u\x01p", 5, &used, &ev), SOCKS_EVENT);
	CHECK_EQ_INT(socks_auth_verdict(&p, false, out), 2);
	CHECK(out[0] == 1 && out[1] == 1);
	CHECK_EQ_INT(feed(&p, REQ_V4_80, 10, &used, &ev), SOCKS_ERR_AUTH_FAILED);
	CHECK_EQ_INT(socks_auth_verdict(&p, true, out), 0);
}

static void test_reply_bytes(void)
{
	uint8_t out[SOCKS_MAX_REPLY];
	static const uint8_t v4[4] = { 192, 0, 2, 7 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	CHECK_EQ_INT(socks_reply(out, SOCKS_REP_SUCCEEDED, SOCKS_ATYP_IPV4, v4, 0x1234), 10);
	CHECK_MEM(out, "\x05\x00\x00\x01\xc0\x00\x02\x07\x12\x34", 10);
	CHECK_EQ_INT(socks_reply(out, SOCKS_REP_CONN_REFUSED, SOCKS_ATYP_IPV6, v6, 443), 22);
	CHECK_MEM(out, "\x05\x05\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb", 22);
	CHECK_EQ_INT(socks_reply(out, SOCKS_REP_TTL_EXPIRED, SOCKS_ATYP_IPV6, NULL, 443), 10);
	CHECK_MEM(out, FAIL_REPLY("\x06"), 10);
	CHECK_EQ_INT(socks_reply(out, SOCKS_REP_SUCCEEDED, SOCKS_ATYP_DOMAIN, v4, 80), 0);

	CHECK_EQ_INT(SOCKS_REP_NOT_ALLOWED, 0x02);
	CHECK_EQ_INT(SOCKS_REP_HOST_UNREACHABLE, 0x04);
	CHECK_EQ_INT(SOCKS_REP_CONN_REFUSED, 0x05);
	CHECK_EQ_INT(SOCKS_REP_TTL_EXPIRED, 0x06);
	CHECK_EQ_INT(SOCKS_REP_CMD_UNSUPPORTED, 0x07);
	CHECK_EQ_INT(SOCKS_REP_ATYP_UNSUPPORTED, 0x08);
}

static void test_error_replies(void)
{
	static const struct {
		enum socks_rc rc;
		const char *bytes;
		size_t len;
	} cases[] = {
		{ SOCKS_ERR_VERSION, "", 0 },
		{ SOCKS_ERR_NO_METHODS, BYTES("\x05\xff") },
		{ SOCKS_ERR_NO_ACCEPTABLE, "", 0 },
		{ SOCKS_ERR_AUTH_VERSION, BYTES("\x01\x01") },
		{ SOCKS_ERR_AUTH_FAILED, "", 0 },
		{ SOCKS_ERR_REQUEST_VERSION, BYTES(FAIL_REPLY("\x01")) },
		{ SOCKS_ERR_CMD_UNSUPPORTED, BYTES(FAIL_REPLY("\x07")) },
		{ SOCKS_ERR_BAD_RSV, BYTES(FAIL_REPLY("\x01")) },
		{ SOCKS_ERR_ATYP_UNSUPPORTED, BYTES(FAIL_REPLY("\x08")) },
		{ SOCKS_ERR_EMPTY_DOMAIN, BYTES(FAIL_REPLY("\x01")) },
		{ SOCKS_ERR_BAD_DOMAIN, BYTES(FAIL_REPLY("\x01")) },
		{ SOCKS_ERR_PORT_ZERO, BYTES(FAIL_REPLY("\x01")) },
		{ SOCKS_ERR_STATE, "", 0 },
		{ SOCKS_ERR_V4_CMD, BYTES(V4_FAIL) },
		{ SOCKS_ERR_V4_PORT_ZERO, BYTES(V4_FAIL) },
		{ SOCKS_ERR_V4_TOO_LONG, BYTES(V4_FAIL) },
		{ SOCKS_ERR_V4_BAD_DOMAIN, BYTES(V4_FAIL) },
	};
	uint8_t out[SOCKS_MAX_REPLY];

	for (size_t i = 0; i < COUNT(cases); i++) {
		CHECK_EQ_INT(socks_error_reply(cases[i].rc, out), cases[i].len);
		CHECK_MEM(out, cases[i].bytes, cases[i].len);
	}
}

static void test_host_text(void)
{
	struct socks_event ev = { .type = SOCKS_EV_REQUEST, .atyp = SOCKS_ATYP_IPV4 };
	static const uint8_t v4[4] = { 10, 0, 0, 255 };
	static const uint8_t v6[16] = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd };
	char text[SOCKS_HOST_TEXT_MAX];

	ev.host = (struct socks_slice){ v4, 4 };
	CHECK_EQ_INT(socks_host_text(&ev, text, sizeof text), 10);
	CHECK(strcmp(text, "10.0.0.255") == 0);
	CHECK_EQ_INT(socks_host_text(&ev, text, 10), 0);
	CHECK_EQ_INT(socks_host_text(&ev, text, 11), 10);
	ev.atyp = SOCKS_ATYP_IPV6;
	ev.host = (struct socks_slice){ v6, 16 };
	CHECK_EQ_INT(socks_host_text(&ev, text, sizeof text), 10);
	CHECK(strcmp(text, "fe80::abcd") == 0);
	ev.atyp = 2;
	CHECK_EQ_INT(socks_host_text(&ev, text, sizeof text), 0);
}

static void test_constant_time_compare(void)
{
	const uint8_t *a = (const uint8_t *)"secret";

	CHECK(socks_ct_equal(a, 6, (const uint8_t *)"secret", 6));
	CHECK(!socks_ct_equal(a, 6, (const uint8_t *)"secreT", 6));
	CHECK(!socks_ct_equal(a, 5, (const uint8_t *)"secret", 6));
	CHECK(!socks_ct_equal(a, 6, (const uint8_t *)"secre", 5));
	CHECK(!socks_ct_equal((const uint8_t *)"secret\0", 7, (const uint8_t *)"secret", 6));
	CHECK(socks_ct_equal(NULL, 0, (const uint8_t *)"", 0));
	CHECK(!socks_ct_equal(NULL, 0, (const uint8_t *)"x", 1));

	struct socks_slice u = { (const uint8_t *)"alice", 5 }, p = { (const uint8_t *)"pw", 2 };
	CHECK(socks_auth_match(u, p, "alice", "pw"));
	CHECK(!socks_auth_match(u, p, "alice", "pW"));
	CHECK(!socks_auth_match(u, p, "Alice", "pw"));
	CHECK(!socks_auth_match(u, p, "alice", ""));
}

static void test_strings(void)
{
	static const enum socks_rc rcs[] = {
		SOCKS_ERR_VERSION, SOCKS_ERR_NO_METHODS, SOCKS_ERR_NO_ACCEPTABLE,
		SOCKS_ERR_AUTH_VERSION, SOCKS_ERR_AUTH_FAILED, SOCKS_ERR_REQUEST_VERSION,
		SOCKS_ERR_CMD_UNSUPPORTED, SOCKS_ERR_BAD_RSV, SOCKS_ERR_ATYP_UNSUPPORTED,
		SOCKS_ERR_EMPTY_DOMAIN, SOCKS_ERR_BAD_DOMAIN, SOCKS_ERR_PORT_ZERO, SOCKS_ERR_STATE,
		SOCKS_ERR_V4_CMD, SOCKS_ERR_V4_PORT_ZERO, SOCKS_ERR_V4_TOO_LONG, SOCKS_ERR_V4_BAD_DOMAIN,
		SOCKS_ERR_UDP_SHORT, SOCKS_ERR_UDP_FRAG,
	};

	for (size_t i = 0; i < COUNT(rcs); i++) {
		CHECK(strstr(socks_strerror(rcs[i]), "unknown") == NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(socks_strerror(rcs[i]), socks_strerror(rcs[j])) != 0);
	}
	CHECK(strcmp(socks_strerror((enum socks_rc)-99), "unknown SOCKS error") == 0);
	CHECK(strcmp(socks_strerror((enum socks_rc)9), "unknown SOCKS error") == 0);
	CHECK(strcmp(socks_rep_text(SOCKS_REP_CONN_REFUSED), "connection refused") == 0);
	CHECK(strcmp(socks_rep_text(SOCKS_REP_ATYP_UNSUPPORTED), "address type not supported") == 0);
	CHECK(strcmp(socks_rep_text((enum socks_rep)9), "unassigned") == 0);
}

/* The parser keeps no message: a few bytes, whatever it has seen. */
static void test_sizes(void)
{
	CHECK(sizeof(struct socks_parser) <= 4);
	CHECK(sizeof(struct socks_event) <= 64);
	printf("sizeof struct socks_parser %zu, struct socks_event %zu\n",
	       sizeof(struct socks_parser), sizeof(struct socks_event));
}

/* ---- guard page: no read past the length given ---- */

/* Every prefix of msg, its last byte the last readable one, fed to a
 * parser in the state that expects it. */
static void check_against_guard(uint8_t *page_end, const char *msg, size_t len, int state_method)
{
	for (size_t n = 0; n <= len; n++) {
		struct socks_parser p = { 0 };
		struct socks_event ev;
		size_t used;
		if (state_method >= 0)
			parser_after_greeting(&p, (uint8_t)state_method);
		uint8_t *at = page_end - n;
		memcpy(at, msg, n);
		int rc = socks_parser_feed(&p, at, n, &used, &ev);
		CHECK(rc == (n == len ? SOCKS_EVENT : SOCKS_NEED_MORE) || rc < 0);
	}
}

static void test_guard_page(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK_EQ_INT(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	check_against_guard(map + page, BYTES("\x05\x02\x00\x02"), -1);
	check_against_guard(map + page, BYTES("\x01\x04user\x04pass"), SOCKS_METHOD_USERPASS);
	check_against_guard(map + page, BYTES("\x01\x00\x00"), SOCKS_METHOD_USERPASS);
	check_against_guard(map + page, BYTES(REQ_V4_80), SOCKS_METHOD_NO_AUTH);
	check_against_guard(map + page, BYTES(REQ_DOMAIN_443), SOCKS_METHOD_NO_AUTH);
	check_against_guard(map + page, BYTES("\x05\x01\x00\x04" "0123456789abcdef" "\x00\x01"),
	                    SOCKS_METHOD_NO_AUTH);
	check_against_guard(map + page, BYTES("\x05\x01\x00\x03\x03" "a\x01" "c" "\x00\x01"),
	                    SOCKS_METHOD_NO_AUTH);
	check_against_guard(map + page, BYTES("\x04\x01\x00\x50\x7f\x00\x00\x01" "id\x00"), -1);
	check_against_guard(map + page, BYTES("\x04\x01\x00\x50\x00\x00\x00\x01" "\x00" "a.b\x00"),
	                    -1);
	munmap(map, (size_t)page * 2);
}

int main(void)
{
	TEST_RUN(test_scripts);
	TEST_RUN(test_pipelined_bytes_kept);
	TEST_RUN(test_greeting_methods);
	TEST_RUN(test_pick_method);
	TEST_RUN(test_choose_method);
	TEST_RUN(test_auth_limits);
	TEST_RUN(test_request_limits);
	TEST_RUN(test_v4_limits);
	TEST_RUN(test_udp_header);
	TEST_RUN(test_errors_sticky);
	TEST_RUN(test_reply_bytes);
	TEST_RUN(test_error_replies);
	TEST_RUN(test_host_text);
	TEST_RUN(test_constant_time_compare);
	TEST_RUN(test_strings);
	TEST_RUN(test_sizes);
	TEST_RUN(test_guard_page);
	return test_summary();
}
