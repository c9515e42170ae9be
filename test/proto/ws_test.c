/* ws_test.c — unit tests for proto/ws.c: framing, masking, UTF-8, close codes,
 * every error, every split point of every sample fed like a connection does,
 * a guard-page run against over-reads, and the handshake helpers. */
#include "proto/ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/http.h"
#include "test/check.h"

#define WIRE_CAP 4096
#define TRANSCRIPT_CAP 16384
#define CONN_CAP (WIRE_CAP + WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD)

/* ---- building wire bytes as a peer would, byte-wise, without ws.c ---- */

struct wire {
	uint8_t b[WIRE_CAP];
	size_t len;
	bool masked;     /* frames carry a mask key (the peer is a client) */
	uint8_t key[4];
	unsigned key_off;
	unsigned nkeys;
};

static void wire_init(struct wire *w, enum ws_role parser_role)
{
	memset(w, 0, sizeof *w);
	w->masked = parser_role == WS_ROLE_SERVER;
}

static void wire_put(struct wire *w, const void *data, size_t n)
{
	if (w->len + n > WIRE_CAP) {
		fprintf(stderr, "wire overflow\n");
		exit(2);
	}
	memcpy(w->b + w->len, data, n);
	w->len += n;
}

static void wire_byte(struct wire *w, uint8_t b)
{
	wire_put(w, &b, 1);
}

static void wire_be(struct wire *w, uint64_t v, unsigned bytes)
{
	while (bytes--)
		wire_byte(w, (uint8_t)(v >> (8 * bytes)));
}

/* form: 0 minimal, else 7, 16 or 64 to force a length encoding. */
static void wire_head(struct wire *w, uint8_t b0, uint64_t len, int form)
{
	uint8_t mbit = w->masked ? 0x80 : 0;

	if (!form)
		form = len < 126 ? 7 : len <= 0xFFFF ? 16 : 64;
	wire_byte(w, b0);
	if (form == 7) {
		wire_byte(w, (uint8_t)(mbit | len));
	} else if (form == 16) {
		wire_byte(w, mbit | 126);
		wire_be(w, len, 2);
	} else {
		wire_byte(w, mbit | 127);
		wire_be(w, len, 8);
	}
	if (w->masked) {
		uint8_t key[4] = { 0x37, 0xfa, 0x21, (uint8_t)(0x3d + 17 * w->nkeys++) };

		memcpy(w->key, key, 4);
		w->key_off = 0;
		wire_put(w, key, 4);
	}
}

static void wire_payload(struct wire *w, const void *data, size_t n)
{
	size_t start = w->len;

	wire_put(w, data, n);
	if (!w->masked)
		return;
	for (size_t i = 0; i < n; i++) {
		w->b[start + i] ^= w->key[w->key_off];
		w->key_off = (w->key_off + 1) & 3;
	}
}

static void wire_frame(struct wire *w, unsigned op, bool fin, const void *data, size_t n)
{
	wire_head(w, (uint8_t)((fin ? 0x80 : 0) | op), n, 0);
	wire_payload(w, data, n);
}

static void wire_str(struct wire *w, unsigned op, bool fin, const char *s)
{
	wire_frame(w, op, fin, s, strlen(s));
}

static void wire_close(struct wire *w, unsigned code, const char *reason)
{
	uint8_t body[WS_MAX_CTRL_PAYLOAD + 2] = { (uint8_t)(code >> 8), (uint8_t)code };
	size_t n = strlen(reason);

	memcpy(body + 2, reason, n);
	wire_frame(w, WS_OP_CLOSE, true, body, n + 2);
}

/* ---- feeding like a connection: a kept buffer, chunks appended ---- */

struct run {
	char ts[TRANSCRIPT_CAP]; /* events as text */
	size_t ts_len;
	enum ws_rc rc;      /* last result: NEED_MORE or an error */
	size_t fed_at_error; /* wire bytes delivered when the error came */
	size_t left;        /* bytes never consumed */
	unsigned events;
	bool broken;        /* an invariant failed */
};

static void ts_put(struct run *r, const char *s)
{
	size_t n = strlen(s);

	if (r->ts_len + n >= TRANSCRIPT_CAP) {
		r->broken = true;
		return;
	}
	memcpy(r->ts + r->ts_len, s, n + 1);
	r->ts_len += n;
}

static void ts_bytes(struct run *r, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char one[5];

		if (d[i] >= 0x20 && d[i] < 0x7F && !strchr("{}<>\\", d[i]))
			snprintf(one, sizeof one, "%c", d[i]);
		else
			snprintf(one, sizeof one, "\\x%02x", d[i]);
		ts_put(r, one);
	}
}

static void ts_event(struct run *r, const struct ws_event *ev)
{
	char tag[16];

	switch (ev->type) {
	case WS_EV_DATA:
		if (ev->first)
			ts_put(r, ev->opcode == WS_OP_TEXT ? "{T" : "{B");
		ts_bytes(r, ev->data, ev->len);
		if (ev->fin)
			ts_put(r, "}");
		return;
	case WS_EV_PING:
		ts_put(r, "<P:");
		break;
	case WS_EV_PONG:
		ts_put(r, "<O:");
		break;
	case WS_EV_CLOSE:
		snprintf(tag, sizeof tag, "<C%u:", ev->close_code);
		ts_put(r, tag);
		break;
	}
	ts_bytes(r, ev->data, ev->len);
	ts_put(r, ">");
}

static bool inside(const uint8_t *buf, size_t used, const struct ws_event *ev)
{
	return ev->data >= buf && ev->len <= used && ev->data <= buf + used - ev->len;
}

/* Feeds until the parser wants more or fails; returns the last rc. */
static enum ws_rc drain(struct ws_parser *p, uint8_t *buf, size_t *have, struct run *r)
{
	for (;;) {
		struct ws_event ev;
		size_t used = 0;
		enum ws_rc rc = ws_parser_feed(p, buf, *have, &used, &ev);

		if (used > *have || (rc == WS_EVENT && (used == 0 || !inside(buf, used, &ev))))
			r->broken = true;
		if (r->broken)
			return rc < 0 ? rc : WS_ERR_PROTOCOL;
		if (rc == WS_EVENT) {
			r->events++;
			ts_event(r, &ev);
		}
		memmove(buf, buf + used, *have - used);
		*have -= used;
		if (rc != WS_EVENT)
			return rc;
	}
}

/* First chunk of `first` bytes, then `step` bytes at a time. */
static void run_feed(struct run *r, enum ws_role role, uint64_t max, const uint8_t *wire,
                     size_t len, size_t first, size_t step)
{
	static uint8_t buf[CONN_CAP];
	struct ws_parser p;
	size_t off = 0, have = 0, chunk = first;
	enum ws_rc rc;

	memset(r, 0, sizeof *r);
	ws_parser_init(&p, role, max);
	for (;;) {
		size_t n = len - off < chunk ? len - off : chunk;

		memcpy(buf + have, wire + off, n);
		have += n;
		off += n;
		chunk = step;
		rc = drain(&p, buf, &have, r);
		if (rc < 0 || off == len)
			break;
	}
	r->rc = rc;
	r->left = have;
	r->fed_at_error = rc < 0 ? off : 0;
	if (rc < 0 && ws_parser_feed(&p, buf, have, &(size_t){ 0 }, &(struct ws_event){ 0 }) != rc)
		r->broken = true; /* errors are sticky */
}

static void run_whole(struct run *r, enum ws_role role, uint64_t max, const struct wire *w)
{
	run_feed(r, role, max, w->b, w->len, w->len, w->len);
}

/* Split feeding must give the events of one feed; when the sequence fails,
 * the same error, after at least the events of one feed (a split can let
 * a text slice through before the bad byte arrives). */
static bool same_outcome(const struct run *whole, const struct run *split)
{
	if (split->broken || whole->rc != split->rc)
		return false;
	if (whole->rc < 0)
		return split->ts_len >= whole->ts_len &&
		       memcmp(whole->ts, split->ts, whole->ts_len) == 0;
	return whole->ts_len == split->ts_len && memcmp(whole->ts, split->ts, whole->ts_len) == 0 &&
	       whole->left == split->left;
}

static struct run run_a, run_b; /* too big for the stack */

static void check_every_split(const char *name, enum ws_role role, uint64_t max,
                              const struct wire *w)
{
	unsigned bad_chunked = 0, bad_two = 0;

	run_whole(&run_a, role, max, w);
	CHECK(!run_a.broken);
	for (size_t k = 1; k <= w->len; k++) {
		run_feed(&run_b, role, max, w->b, w->len, k, k);
		bad_chunked += !same_outcome(&run_a, &run_b);
		run_feed(&run_b, role, max, w->b, w->len, k, w->len);
		bad_two += !same_outcome(&run_a, &run_b);
	}
	if (bad_chunked || bad_two)
		fprintf(stderr, "split mismatch in %s (role %d): %u chunked, %u two-part\n", name,
		        role, bad_chunked, bad_two);
	CHECK_EQ_INT(bad_chunked, 0);
	CHECK_EQ_INT(bad_two, 0);
}

/* One sample: wire bytes plus the transcript and rc of one whole feed. */
static void check_sample(const char *name, enum ws_role role, uint64_t max,
                         const struct wire *w, const char *want_ts, enum ws_rc want_rc)
{
	run_whole(&run_a, role, max, w);
	if (want_ts && strcmp(run_a.ts, want_ts) != 0)
		fprintf(stderr, "%s: transcript\n  got  %s\n  want %s\n", name, run_a.ts, want_ts);
	if (want_ts)
		CHECK(strcmp(run_a.ts, want_ts) == 0);
	if (run_a.rc != want_rc)
		fprintf(stderr, "%s (role %d): rc %d, want %d\n", name, role, run_a.rc, want_rc);
	CHECK_EQ_INT(run_a.rc, want_rc);
	check_every_split(name, role, max, w);
}

/* ---- sizes ---- */

static void test_sizes(void)
{
	CHECK(sizeof(struct ws_parser) <= 48);
	printf("sizeof(struct ws_parser) = %zu\n", sizeof(struct ws_parser));
}

/* ---- framer ---- */

static void check_header(enum ws_opcode op, bool fin, uint64_t len, const uint8_t *mask,
                         const uint8_t *want, size_t want_len)
{
	uint8_t out[WS_MAX_HEADER + 2];

	memset(out, 0xEE, sizeof out);
	CHECK_EQ_INT(ws_frame_header(out, op, fin, len, mask), want_len);
	CHECK_MEM(out, want, want_len);
	CHECK_EQ_INT(out[want_len], 0xEE);
}

static void test_frame_header_forms(void)
{
	static const uint8_t key[4] = { 1, 2, 3, 4 };

	check_header(WS_OP_TEXT, true, 0, NULL, (const uint8_t[]){ 0x81, 0 }, 2);
	check_header(WS_OP_BINARY, false, 125, NULL, (const uint8_t[]){ 0x02, 125 }, 2);
	check_header(WS_OP_BINARY, true, 126, NULL, (const uint8_t[]){ 0x82, 126, 0, 126 }, 4);
	check_header(WS_OP_CONT, true, 65535, NULL, (const uint8_t[]){ 0x80, 126, 0xFF, 0xFF },
	             4);
	check_header(WS_OP_CONT, false, 65536, NULL,
	             (const uint8_t[]){ 0x00, 127, 0, 0, 0, 0, 0, 1, 0, 0 }, 10);
	check_header(WS_OP_BINARY, true, UINT64_C(0x123456789A), NULL,
	             (const uint8_t[]){ 0x82, 127, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9A }, 10);
	check_header(WS_OP_PING, true, 5, key, (const uint8_t[]){ 0x89, 0x85, 1, 2, 3, 4 }, 6);
	check_header(WS_OP_CLOSE, true, 126, key,
	             (const uint8_t[]){ 0x88, 0xFE, 0, 126, 1, 2, 3, 4 }, 8);
	check_header(WS_OP_BINARY, true, 65536, key,
	             (const uint8_t[]){ 0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4 }, 14);
}

/* The framer and the parser agree, in both roles, for every length form. */
static void test_roundtrip_lengths(void)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 100003 };
	static uint8_t frame[WS_MAX_HEADER + 100003], payload[100003];
	static const uint8_t key[4] = { 0xA1, 0xB2, 0xC3, 0xD4 };

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 31 + 7);
	for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
		for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
			const uint8_t *mask = role == WS_ROLE_SERVER ? key : NULL;
			size_t n = (size_t)lens[i], hl, used;
			struct ws_parser p;
			struct ws_event ev;

			hl = ws_frame_header(frame, WS_OP_BINARY, true, n, mask);
			memcpy(frame + hl, payload, n);
			if (mask)
				ws_mask(frame + hl, n, mask, 0);
			ws_parser_init(&p, (enum ws_role)role, 0);
			CHECK_EQ_INT(ws_parser_feed(&p, frame, hl + n, &used, &ev), WS_EVENT);
			CHECK_EQ_INT(used, hl + n);
			CHECK_EQ_INT(ev.type, WS_EV_DATA);
			CHECK_EQ_INT(ev.opcode, WS_OP_BINARY);
			CHECK(ev.first && ev.fin);
			CHECK_EQ_INT(ev.len, n);
			CHECK(ev.data == frame + hl);
			CHECK(n == 0 || memcmp(ev.data, payload, n) == 0);
			CHECK_EQ_INT(ws_parser_feed(&p, frame, 0, &used, &ev), WS_NEED_MORE);
		}
	}
}

/* A 2^40-byte frame: the header is taken alone, then slices follow. */
static void test_huge_frame_slices(void)
{
	uint8_t buf[64] = { 0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0, 'a', 'b', 'c' };
	struct ws_parser p;
	struct ws_event ev;
	size_t used;

	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	CHECK_EQ_INT(ws_parser_feed(&p, buf, 10, &used, &ev), WS_NEED_MORE);
	CHECK_EQ_INT(used, 10);
	CHECK_EQ_INT(ws_parser_feed(&p, buf + 10, 3, &used, &ev), WS_EVENT);
	CHECK_EQ_INT(used, 3);
	CHECK(ev.first && !ev.fin && ev.len == 3 && memcmp(ev.data, "abc", 3) == 0);
	CHECK_EQ_INT(ws_parser_feed(&p, buf, 40, &used, &ev), WS_EVENT);
	CHECK(!ev.first && !ev.fin && ev.len == 40 && used == 40);

	ws_parser_init(&p, WS_ROLE_CLIENT, UINT64_C(1) << 40);
	CHECK_EQ_INT(ws_parser_feed(&p, buf, 13, &used, &ev), WS_EVENT);
	ws_parser_init(&p, WS_ROLE_CLIENT, (UINT64_C(1) << 40) - 1);
	CHECK_EQ_INT(ws_parser_feed(&p, buf, 13, &used, &ev), WS_ERR_TOO_BIG);
}

/* ---- masking ---- */

static void mask_ref(uint8_t *d, size_t n, const uint8_t key[4], unsigned off)
{
	for (size_t i = 0; i < n; i++)
		d[i] ^= key[(off + i) & 3];
}

static void test_mask_offsets(void)
{
	static const uint8_t key[4] = { 0x5A, 0xC3, 0x0F, 0x96 };
	static const size_t lens[] = { 0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33,
	                               63, 64, 65, 100, 127, 1000, 4097 };
	static uint8_t a[4200], b[4200];
	unsigned bad = 0;

	for (size_t align = 0; align < 8; align++)
		for (unsigned off = 0; off < 8; off++)
			for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
				size_t n = lens[i];

				for (size_t j = 0; j < n + 16; j++)
					a[j] = b[j] = (uint8_t)(j * 13 + off);
				mask_ref(b + align, n, key, off & 3);
				bad += ws_mask(a + align, n, key, off) != ((off + n) & 3);
				bad += memcmp(a, b, n + 16) != 0; /* no byte outside touched */
			}
	CHECK_EQ_INT(bad, 0);
}

/* Masking in pieces, carrying the offset, equals masking at once. */
static void test_mask_pieces(void)
{
	static const uint8_t key[4] = { 9, 8, 7, 6 };
	uint8_t a[300], b[300];
	unsigned bad = 0;

	for (size_t cut = 0; cut <= sizeof a; cut++) {
		for (size_t j = 0; j < sizeof a; j++)
			a[j] = b[j] = (uint8_t)j;
		mask_ref(b, sizeof b, key, 0);
		unsigned off = ws_mask(a, cut, key, 0);
		ws_mask(a + cut, sizeof a - cut, key, off);
		bad += memcmp(a, b, sizeof a) != 0;
	}
	CHECK_EQ_INT(bad, 0);
}

/* ---- UTF-8 ---- */

/* A plain decoder, RFC 3629 §3-4: the DFA must agree with it. */
static bool ref_utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp, min;
		size_t need;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xE0) == 0xC0) {
			cp = s[i] & 0x1F, need = 1, min = 0x80;
		} else if ((s[i] & 0xF0) == 0xE0) {
			cp = s[i] & 0x0F, need = 2, min = 0x800;
		} else if ((s[i] & 0xF8) == 0xF0) {
			cp = s[i] & 0x07, need = 3, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* Could s still begin a valid string? Tries continuation-byte endings. */
static bool ref_utf8_prefix(const uint8_t *s, size_t n)
{
	static const uint8_t conts[] = { 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF };
	uint8_t t[8];

	memcpy(t, s, n);
	if (ref_utf8_valid(t, n))
		return true;
	for (size_t a = 0; a < 6; a++) {
		t[n] = conts[a];
		if (ref_utf8_valid(t, n + 1))
			return true;
		for (size_t b = 0; b < 6; b++) {
			t[n + 1] = conts[b];
			if (ref_utf8_valid(t, n + 2))
				return true;
			for (size_t c = 0; c < 6; c++) {
				t[n + 2] = conts[c];
				if (ref_utf8_valid(t, n + 3))
					return true;
			}
		}
	}
	return false;
}

static bool dfa_valid(const uint8_t *s, size_t n)
{
	return ws_utf8_step(WS_UTF8_ACCEPT, s, n) == WS_UTF8_ACCEPT;
}

/* Every 1-, 2- and 3-byte string against the reference; and every 1- and
 * 2-byte string rejected exactly when it cannot start valid text (fail fast). */
static void test_utf8_exhaustive(void)
{
	unsigned bad_valid = 0, bad_fast = 0;
	uint8_t s[3];

	for (unsigned v = 0; v < 1u << 24; v++) {
		s[0] = (uint8_t)(v >> 16), s[1] = (uint8_t)(v >> 8), s[2] = (uint8_t)v;
		bad_valid += dfa_valid(s, 3) != ref_utf8_valid(s, 3);
	}
	for (unsigned v = 0; v < 1u << 16; v++) {
		s[0] = (uint8_t)(v >> 8), s[1] = (uint8_t)v;
		bad_valid += dfa_valid(s, 2) != ref_utf8_valid(s, 2);
		bad_fast += (ws_utf8_step(0, s, 2) != WS_UTF8_REJECT) != ref_utf8_prefix(s, 2);
		if (v < 256) {
			bad_valid += dfa_valid(s + 1, 1) != ref_utf8_valid(s + 1, 1);
			bad_fast += (ws_utf8_step(0, s + 1, 1) != WS_UTF8_REJECT) !=
			            ref_utf8_prefix(s + 1, 1);
		}
	}
	CHECK_EQ_INT(bad_valid, 0);
	CHECK_EQ_INT(bad_fast, 0);
}

/* The same strings between whole 2-byte characters, so the multi-byte
 * fast path (4+ bytes left) sees them; and 4-byte strings, bare and so. */
static void test_utf8_in_context(void)
{
	static const uint8_t tails[] = { 0x00, 0x7F, 0x80, 0x8F, 0x90,
	                                 0x9F, 0xA0, 0xBF, 0xC0, 0xFF };
	uint8_t s[10] = { 0xC3, 0xA9, 0, 0, 0, 0xC3, 0xA9, 0xC3, 0xA9 };
	unsigned bad = 0;

	for (unsigned v = 0; v < 1u << 24; v++) {
		s[2] = (uint8_t)(v >> 16), s[3] = (uint8_t)(v >> 8), s[4] = (uint8_t)v;
		bad += dfa_valid(s, 9) != ref_utf8_valid(s, 9);
	}
	for (unsigned lead = 0xF0; lead <= 0xFF; lead++)
		for (unsigned b1 = 0; b1 < 256; b1++)
			for (size_t i = 0; i < sizeof tails * sizeof tails; i++) {
				uint8_t t[10] = { 0xC3, 0xA9, (uint8_t)lead, (uint8_t)b1,
				                  tails[i / sizeof tails], tails[i % sizeof tails],
				                  0xC3, 0xA9, 'x', 'y' };

				bad += dfa_valid(t, 10) != ref_utf8_valid(t, 10);
				bad += dfa_valid(t + 2, 4) != ref_utf8_valid(t + 2, 4);
			}
	CHECK_EQ_INT(bad, 0);
}

static void test_utf8_cases(void)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "", true },
		{ "plain ascii, long enough for the word skip", true },
		{ "\xC2\x80\xDF\xBF", true },                   /* U+0080, U+07FF */
		{ "\xE0\xA0\x80\xEF\xBF\xBF", true },           /* U+0800, U+FFFF */
		{ "\xED\x9F\xBF\xEE\x80\x80", true },           /* around surrogates */
		{ "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", true },   /* U+10000, U+10FFFF */
		{ "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", true },
		{ "\xC0\x80", false },                          /* overlong NUL */
		{ "\xC1\xBF", false },                          /* overlong */
		{ "\xE0\x80\x80", false },                      /* overlong */
		{ "\xE0\x9F\xBF", false },                      /* overlong U+07FF */
		{ "\xF0\x80\x80\x80", false },                  /* overlong */
		{ "\xF0\x8F\xBF\xBF", false },                  /* overlong U+FFFF */
		{ "\xED\xA0\x80", false },                      /* U+D800 */
		{ "\xED\xBF\xBF", false },                      /* U+DFFF */
		{ "\xF4\x90\x80\x80", false },                  /* U+110000 */
		{ "\xF5\x80\x80\x80", false },
		{ "\xFF", false },
		{ "\x80", false },                              /* lone continuation */
		{ "abc\xE2\x82", false },                       /* truncated */
		{ "\xE2\x82\x28", false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const uint8_t *s = (const uint8_t *)cases[i].s;
		size_t n = strlen(cases[i].s);
		bool pieces_ok = true;
		uint8_t st = 0;

		CHECK_EQ_INT(dfa_valid(s, n), cases[i].valid);
		for (size_t j = 0; j < n; j++) /* one byte per call: same answer */
			st = ws_utf8_step(st, s + j, 1);
		pieces_ok = (st == WS_UTF8_ACCEPT) == cases[i].valid;
		CHECK(pieces_ok);
	}
	CHECK_EQ_INT(ws_utf8_step(WS_UTF8_REJECT, NULL, 0), WS_UTF8_REJECT);
	CHECK_EQ_INT(ws_utf8_step(WS_UTF8_REJECT, (const uint8_t *)"a", 1), WS_UTF8_REJECT);
	/* Fails on the first bad byte: stopping right after it already rejects. */
	CHECK_EQ_INT(ws_utf8_step(0, (const uint8_t *)"ok\xF4\x90", 4), WS_UTF8_REJECT);
	CHECK(ws_utf8_step(0, (const uint8_t *)"ok\xF4\x8F", 4) > WS_UTF8_REJECT);
}

/* ---- close codes ---- */

static void test_close_codes(void)
{
	static const unsigned valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
	                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned invalid[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100,
	                                    2000, 2999, 5000, 65535 };

	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct wire w;
		char want[32];

		CHECK(ws_close_code_valid(valid[i]));
		wire_init(&w, WS_ROLE_CLIENT);
		wire_close(&w, valid[i], "bye");
		snprintf(want, sizeof want, "<C%u:bye>", valid[i]);
		check_sample("close code", WS_ROLE_CLIENT, 0, &w, want, WS_NEED_MORE);
	}
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		struct wire w;

		CHECK(!ws_close_code_valid(invalid[i]));
		wire_init(&w, WS_ROLE_SERVER);
		wire_close(&w, invalid[i], "");
		check_sample("bad close code", WS_ROLE_SERVER, 0, &w, "", WS_ERR_PROTOCOL);
	}
}

/* ---- valid sequences, fed at every split point, both roles ---- */

static void test_sequences_valid(void)
{
	static uint8_t big[1000];
	struct wire w;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)('a' + i % 26);
	for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
		enum ws_role r = (enum ws_role)role;

		wire_init(&w, r);
		wire_str(&w, WS_OP_TEXT, true, "Hello");
		check_sample("text", r, 0, &w, "{THello}", WS_NEED_MORE);

		wire_init(&w, r);
		wire_frame(&w, WS_OP_BINARY, true, "", 0);
		wire_frame(&w, WS_OP_TEXT, true, "", 0);
		check_sample("empty", r, 0, &w, "{B}{T}", WS_NEED_MORE);

		wire_init(&w, r);
		wire_frame(&w, WS_OP_BINARY, true, big, 125);
		wire_frame(&w, WS_OP_BINARY, true, big, 126);
		wire_frame(&w, WS_OP_TEXT, true, big, 1000);
		check_sample("lengths", r, 0, &w, NULL, WS_NEED_MORE);

		/* §5.4: control frames between fragments, an empty middle fragment. */
		wire_init(&w, r);
		wire_str(&w, WS_OP_TEXT, false, "Hel");
		wire_str(&w, WS_OP_PING, true, "p1");
		wire_str(&w, WS_OP_CONT, false, "lo ");
		wire_str(&w, WS_OP_CONT, false, "");
		wire_str(&w, WS_OP_PONG, true, "");
		wire_str(&w, WS_OP_CONT, true, "world");
		wire_str(&w, WS_OP_BINARY, true, "\x01\x02");
		check_sample("fragments+ping", r, 0, &w, "{THel<P:p1>lo <O:>world}{B\\x01\\x02}",
		             WS_NEED_MORE);

		/* A code point split across fragments (€ = E2 82 AC). */
		wire_init(&w, r);
		wire_str(&w, WS_OP_TEXT, false, "\xE2");
		wire_str(&w, WS_OP_CONT, false, "\x82");
		wire_str(&w, WS_OP_PING, true, "");
		wire_str(&w, WS_OP_CONT, true, "\xAC!");
		check_sample("utf8 split", r, 0, &w, "{T\\xe2\\x82<P:>\\xac!}", WS_NEED_MORE);

		wire_init(&w, r);
		wire_frame(&w, WS_OP_PING, true, big, 125);
		wire_close(&w, 1000, "done");
		check_sample("ping 125 + close", r, 0, &w, NULL, WS_NEED_MORE);

		wire_init(&w, r);
		wire_frame(&w, WS_OP_CLOSE, true, "", 0);
		check_sample("close empty", r, 0, &w, "<C0:>", WS_NEED_MORE);

		/* Exactly max_message over three fragments is fine. */
		wire_init(&w, r);
		wire_str(&w, WS_OP_BINARY, false, "1234");
		wire_str(&w, WS_OP_CONT, false, "5678");
		wire_str(&w, WS_OP_CONT, true, "90");
		check_sample("at max", r, 10, &w, "{B1234567890}", WS_NEED_MORE);

		/* A truncated stream leaves the partial header unconsumed. */
		wire_init(&w, r);
		wire_str(&w, WS_OP_TEXT, true, "ab");
		wire_str(&w, WS_OP_PING, true, "xyz");
		w.len -= 2;
		check_sample("truncated ping", r, 0, &w, "{Tab}", WS_NEED_MORE);
		CHECK_EQ_INT(run_a.left, w.masked ? 7 : 3); /* ping head + 1 byte */
	}
}

/* ---- errors, each fed at every split point ---- */

struct bad_case {
	const char *name;
	enum ws_rc rc;
	uint64_t max;
	void (*build)(struct wire *w);
	long fail_at; /* byte after which one-at-a-time feeding fails, -1: skip */
};

static void bad_rsv1(struct wire *w) { wire_head(w, 0x80 | 0x40 | WS_OP_TEXT, 0, 0); }
static void bad_rsv2(struct wire *w) { wire_head(w, 0x80 | 0x20 | WS_OP_BINARY, 0, 0); }
static void bad_rsv3(struct wire *w) { wire_head(w, 0x80 | 0x10 | WS_OP_PING, 0, 0); }
static void bad_op3(struct wire *w) { wire_head(w, 0x83, 0, 0); }
static void bad_op7(struct wire *w) { wire_head(w, 0x87, 0, 0); }
static void bad_opB(struct wire *w) { wire_head(w, 0x8B, 0, 0); }
static void bad_opF(struct wire *w) { wire_head(w, 0x8F, 0, 0); }
static void bad_ping_nofin(struct wire *w) { wire_head(w, WS_OP_PING, 0, 0); }
static void bad_close_nofin(struct wire *w) { wire_head(w, WS_OP_CLOSE, 2, 0); }
static void bad_ping_126(struct wire *w) { wire_head(w, 0x80 | WS_OP_PING, 126, 0); }
static void bad_pong_len16(struct wire *w) { wire_head(w, 0x80 | WS_OP_PONG, 5, 16); }
static void bad_cont_alone(struct wire *w) { wire_str(w, WS_OP_CONT, true, "x"); }

static void bad_text_in_text(struct wire *w)
{
	wire_str(w, WS_OP_TEXT, false, "a");
	wire_str(w, WS_OP_TEXT, true, "b");
}

static void bad_bin_in_text(struct wire *w)
{
	wire_str(w, WS_OP_TEXT, false, "a");
	wire_str(w, WS_OP_PING, true, "");
	wire_str(w, WS_OP_BINARY, true, "b");
}

static void bad_cont_after_fin(struct wire *w)
{
	wire_str(w, WS_OP_BINARY, true, "a");
	wire_str(w, WS_OP_CONT, true, "b");
}

static void bad_len16_small(struct wire *w) { wire_head(w, 0x82, 125, 16); }
static void bad_len16_zero(struct wire *w) { wire_head(w, 0x82, 0, 16); }
static void bad_len64_small(struct wire *w) { wire_head(w, 0x82, 65535, 64); }
static void bad_len64_msb(struct wire *w) { wire_head(w, 0x82, UINT64_C(1) << 63, 64); }
static void bad_len64_max(struct wire *w) { wire_head(w, 0x82, UINT64_MAX, 64); }
static void bad_too_big(struct wire *w) { wire_str(w, WS_OP_BINARY, true, "12345678901"); }

static void bad_too_big_frags(struct wire *w)
{
	wire_str(w, WS_OP_TEXT, false, "123456");
	wire_str(w, WS_OP_PING, true, "ping payload does not count");
	wire_str(w, WS_OP_CONT, true, "78901");
}

static void bad_too_big_header(struct wire *w) { wire_head(w, 0x82, 1u << 20, 0); }
static void bad_utf8_mid(struct wire *w) { wire_str(w, WS_OP_TEXT, true, "abc\xC0\xAFxyz"); }
static void bad_utf8_fin(struct wire *w) { wire_str(w, WS_OP_TEXT, true, "abc\xE2\x82"); }

static void bad_utf8_frags(struct wire *w)
{
	wire_str(w, WS_OP_TEXT, false, "ok \xF0\x9F");
	wire_str(w, WS_OP_PING, true, "");
	wire_str(w, WS_OP_CONT, true, "\x98("); /* ( is no continuation */
}

static void bad_utf8_frag_end(struct wire *w)
{
	wire_str(w, WS_OP_TEXT, false, "\xED");
	wire_str(w, WS_OP_CONT, true, "\xA0\x80"); /* a surrogate, across frames */
}

static void bad_close_len1(struct wire *w) { wire_frame(w, WS_OP_CLOSE, true, "\x03", 1); }
static void bad_close_1005(struct wire *w) { wire_close(w, 1005, ""); }
static void bad_close_reason(struct wire *w) { wire_close(w, 1000, "bad \xFF"); }

static void bad_after_close(struct wire *w)
{
	wire_close(w, 1001, "");
	wire_str(w, WS_OP_PING, true, "");
}

static void bad_after_close_byte(struct wire *w)
{
	wire_frame(w, WS_OP_CLOSE, true, "", 0);
	wire_byte(w, 0);
}

static void bad_no_mask(struct wire *w)
{
	w->masked = !w->masked;
	wire_str(w, WS_OP_BINARY, true, "x");
}

static void bad_no_mask_later(struct wire *w)
{
	wire_str(w, WS_OP_BINARY, false, "x");
	w->masked = !w->masked;
	wire_str(w, WS_OP_CONT, true, "y");
}

static const struct bad_case bad_cases[] = {
	{ "rsv1", WS_ERR_PROTOCOL, 0, bad_rsv1, 1 },
	{ "rsv2", WS_ERR_PROTOCOL, 0, bad_rsv2, 1 },
	{ "rsv3", WS_ERR_PROTOCOL, 0, bad_rsv3, 1 },
	{ "opcode 3", WS_ERR_PROTOCOL, 0, bad_op3, 1 },
	{ "opcode 7", WS_ERR_PROTOCOL, 0, bad_op7, 1 },
	{ "opcode B", WS_ERR_PROTOCOL, 0, bad_opB, 1 },
	{ "opcode F", WS_ERR_PROTOCOL, 0, bad_opF, 1 },
	{ "ping fin=0", WS_ERR_PROTOCOL, 0, bad_ping_nofin, 1 },
	{ "close fin=0", WS_ERR_PROTOCOL, 0, bad_close_nofin, 1 },
	{ "ping 126", WS_ERR_PROTOCOL, 0, bad_ping_126, 2 },
	{ "pong 16-bit length", WS_ERR_PROTOCOL, 0, bad_pong_len16, 2 },
	{ "cont alone", WS_ERR_PROTOCOL, 0, bad_cont_alone, 1 },
	{ "text in text", WS_ERR_PROTOCOL, 0, bad_text_in_text, -1 },
	{ "binary in text", WS_ERR_PROTOCOL, 0, bad_bin_in_text, -1 },
	{ "cont after fin", WS_ERR_PROTOCOL, 0, bad_cont_after_fin, -1 },
	{ "len16 < 126", WS_ERR_PROTOCOL, 0, bad_len16_small, -1 },
	{ "len16 zero", WS_ERR_PROTOCOL, 0, bad_len16_zero, -1 },
	{ "len64 < 65536", WS_ERR_PROTOCOL, 0, bad_len64_small, -1 },
	{ "len64 msb", WS_ERR_PROTOCOL, 0, bad_len64_msb, -1 },
	{ "len64 max", WS_ERR_PROTOCOL, 0, bad_len64_max, -1 },
	{ "too big", WS_ERR_TOO_BIG, 10, bad_too_big, -1 },
	{ "too big fragments", WS_ERR_TOO_BIG, 10, bad_too_big_frags, -1 },
	{ "too big header only", WS_ERR_TOO_BIG, 1000, bad_too_big_header, -1 },
	{ "utf8 mid", WS_ERR_UTF8, 0, bad_utf8_mid, -1 },
	{ "utf8 at fin", WS_ERR_UTF8, 0, bad_utf8_fin, -1 },
	{ "utf8 fragments", WS_ERR_UTF8, 0, bad_utf8_frags, -1 },
	{ "utf8 surrogate split", WS_ERR_UTF8, 0, bad_utf8_frag_end, -1 },
	{ "close len 1", WS_ERR_PROTOCOL, 0, bad_close_len1, -1 },
	{ "close 1005", WS_ERR_PROTOCOL, 0, bad_close_1005, -1 },
	{ "close reason utf8", WS_ERR_UTF8, 0, bad_close_reason, -1 },
	{ "after close", WS_ERR_CLOSED, 0, bad_after_close, -1 },
	{ "after close byte", WS_ERR_CLOSED, 0, bad_after_close_byte, -1 },
	{ "mask bit", WS_ERR_PROTOCOL, 0, bad_no_mask, 2 },
	{ "mask bit later", WS_ERR_PROTOCOL, 0, bad_no_mask_later, -1 },
};

static void test_sequences_bad(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];

		for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
			struct wire w;

			wire_init(&w, (enum ws_role)role);
			c->build(&w);
			check_sample(c->name, (enum ws_role)role, c->max, &w, NULL, c->rc);
			if (c->fail_at < 0)
				continue;
			run_feed(&run_b, (enum ws_role)role, c->max, w.b, w.len, 1, 1);
			CHECK_EQ_INT(run_b.fed_at_error, c->fail_at);
		}
	}
}

/* Fail fast: fed one byte at a time, the error comes with the bad byte. */
static void test_fail_fast_utf8(void)
{
	static const char *texts[] = { "abc\xC0", "hello \xE0\x80", "\xED\xA0", "xx\xF4\x90",
	                               "\xF5", "ok\xE2\x82(" };

	for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
		for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
			struct wire w;
			size_t n = strlen(texts[i]), head;

			wire_init(&w, (enum ws_role)role);
			wire_head(&w, 0x80 | WS_OP_TEXT, n + 10, 0); /* more bytes would follow */
			head = w.len;
			wire_payload(&w, texts[i], n);
			run_feed(&run_b, (enum ws_role)role, 0, w.b, w.len, 1, 1);
			CHECK_EQ_INT(run_b.rc, WS_ERR_UTF8);
			CHECK_EQ_INT(run_b.fed_at_error, head + n);
		}
	}
}

/* ---- direct feeds: stickiness, in-place unmasking, event fields ---- */

static void test_sticky_and_fields(void)
{
	struct wire w;
	struct ws_parser p;
	struct ws_event ev;
	size_t used = 99;

	wire_init(&w, WS_ROLE_SERVER);
	wire_str(&w, WS_OP_TEXT, true, "hi");
	ws_parser_init(&p, WS_ROLE_SERVER, 0);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, w.len, &used, &ev), WS_EVENT);
	CHECK(ev.data == w.b + 6 && ev.len == 2 && memcmp(w.b + 6, "hi", 2) == 0);
	CHECK(ev.type == WS_EV_DATA && ev.opcode == WS_OP_TEXT && ev.first && ev.fin);

	wire_init(&w, WS_ROLE_SERVER);
	wire_head(&w, 0xC1, 0, 0); /* RSV1 */
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, w.len, &used, &ev), WS_ERR_PROTOCOL);
	CHECK_EQ_INT(used, 0);
	wire_init(&w, WS_ROLE_SERVER);
	wire_str(&w, WS_OP_TEXT, true, "fine");
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, w.len, &used, &ev), WS_ERR_PROTOCOL);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, 0, &used, &ev), WS_ERR_PROTOCOL);

	/* After a close: nothing more is fine, any byte is not. */
	wire_init(&w, WS_ROLE_CLIENT);
	wire_close(&w, 1000, "");
	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, w.len, &used, &ev), WS_EVENT);
	CHECK(ev.type == WS_EV_CLOSE && ev.close_code == 1000 && ev.len == 0);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, 0, &used, &ev), WS_NEED_MORE);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, 1, &used, &ev), WS_ERR_CLOSED);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, 0, &used, &ev), WS_ERR_CLOSED);

	/* A zero-filled struct is a server parser without a limit. */
	memset(&p, 0, sizeof p);
	wire_init(&w, WS_ROLE_SERVER);
	wire_frame(&w, WS_OP_BINARY, true, "", 0);
	CHECK_EQ_INT(ws_parser_feed(&p, w.b, w.len, &used, &ev), WS_EVENT);
	CHECK(ev.len == 0 && ev.first && ev.fin && used == 6);
}

static void test_rc_tables(void)
{
	static const enum ws_rc rcs[] = { WS_NEED_MORE, WS_EVENT, WS_ERR_PROTOCOL,
	                                  WS_ERR_UTF8, WS_ERR_TOO_BIG, WS_ERR_CLOSED };

	CHECK_EQ_INT(ws_rc_close_code(WS_ERR_PROTOCOL), 1002);
	CHECK_EQ_INT(ws_rc_close_code(WS_ERR_UTF8), 1007);
	CHECK_EQ_INT(ws_rc_close_code(WS_ERR_TOO_BIG), 1009);
	CHECK_EQ_INT(ws_rc_close_code(WS_ERR_CLOSED), 0);
	for (size_t i = 0; i < 6; i++) {
		CHECK(ws_strerror(rcs[i]) && *ws_strerror(rcs[i]));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(ws_strerror(rcs[i]), ws_strerror(rcs[j])) != 0);
	}
	CHECK(ws_strerror((enum ws_rc)-77) != NULL);
}

/* ---- guard page: every prefix of every sample ends at unmapped memory ---- */

static void guard_feed(uint8_t *end, const struct wire *w, enum ws_role role,
                       unsigned *events)
{
	for (size_t k = 0; k <= w->len; k++) {
		uint8_t *at = end - k;
		struct ws_parser p;
		struct ws_event ev;
		size_t used = 0, off = 0;

		memcpy(at, w->b, k);
		ws_parser_init(&p, role, 0);
		while (ws_parser_feed(&p, at + off, k - off, &used, &ev) == WS_EVENT && used) {
			off += used;
			*events += 1;
		}
	}
}

static void test_guard_page(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned events = 0;

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK_EQ_INT(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
		struct wire w;

		wire_init(&w, (enum ws_role)role);
		wire_str(&w, WS_OP_TEXT, false, "frag\xE2\x82");
		wire_str(&w, WS_OP_PING, true, "ping");
		wire_str(&w, WS_OP_CONT, true, "\xAC");
		wire_head(&w, 0x82, 300, 0);
		for (int i = 0; i < 300; i++)
			wire_payload(&w, "z", 1);
		wire_head(&w, 0x82, 70000, 64);
		wire_close(&w, 4000, "reason");
		guard_feed(map + page, &w, (enum ws_role)role, &events);
		for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
			wire_init(&w, (enum ws_role)role);
			bad_cases[i].build(&w);
			guard_feed(map + page, &w, (enum ws_role)role, &events);
		}
	}
	CHECK(events > 0);
	munmap(map, (size_t)page * 2);
}

/* ---- handshake ---- */

static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static int parse_request(const char *text, struct http_request *req)
{
	size_t scanned = 0;
	int head = http_head_end(text, strlen(text), &scanned);

	if (head <= 0)
		return -100;
	return http_parse_request(text, (size_t)head, req);
}

static int parse_response(const char *text, size_t len, struct http_response *resp)
{
	size_t scanned = 0;
	int head = http_head_end(text, len, &scanned);

	if (head <= 0)
		return -100;
	return http_parse_response(text, (size_t)head, resp);
}

static int upgrade_status(const char *text)
{
	static struct http_request req;
	const char *key = NULL;
	size_t key_len = 0;

	if (parse_request(text, &req) <= 0)
		return -1;
	return ws_check_upgrade(&req, &key, &key_len);
}

static void test_accept_key(void)
{
	char out[WS_ACCEPT_LEN + 1];
	char key[WS_KEY_LEN + 1];
	static const uint8_t nonce[16] = "the sample nonce";

	ws_accept_key(rfc_key, strlen(rfc_key), out);
	CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0); /* RFC 6455 §1.3 */
	ws_make_key(nonce, key);
	CHECK(strcmp(key, rfc_key) == 0);
	ws_make_key((const uint8_t[16]){ 0xFF, 0xFE, 0xFD }, key);
	CHECK(strcmp(key, "//79AAAAAAAAAAAAAAAAAA==") == 0);
}

#define REQ_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define REQ_UPGRADE "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define REQ_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define REQ_VERSION "Sec-WebSocket-Version: 13\r\n"

static void test_check_upgrade(void)
{
	static struct http_request req;
	const char *key = NULL;
	size_t key_len = 0;

	/* RFC 6455 §1.3 */
	CHECK(parse_request(REQ_HEAD REQ_UPGRADE REQ_KEY "Origin: http://example.com\r\n"
	                    "Sec-WebSocket-Protocol: chat, superchat\r\n" REQ_VERSION "\r\n",
	                    &req) > 0);
	CHECK_EQ_INT(ws_check_upgrade(&req, &key, &key_len), 0);
	CHECK(key_len == 24 && key && memcmp(key, rfc_key, 24) == 0);

	CHECK_EQ_INT(upgrade_status(REQ_HEAD "Upgrade: WebSocket\r\n"
	                            "Connection: keep-alive, Upgrade\r\n" REQ_KEY REQ_VERSION
	                            "\r\n"), 0);
	CHECK_EQ_INT(upgrade_status("POST /chat HTTP/1.1\r\nHost: a\r\n" REQ_UPGRADE REQ_KEY
	                            REQ_VERSION "\r\n"), 405);
	CHECK_EQ_INT(upgrade_status("GET / HTTP/1.0\r\nHost: a\r\n" REQ_UPGRADE REQ_KEY
	                            REQ_VERSION "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status("GET / HTTP/1.1\r\n" REQ_UPGRADE REQ_KEY REQ_VERSION "\r\n"),
	             400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD "Connection: Upgrade\r\n" REQ_KEY REQ_VERSION
	                            "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD "Upgrade: h2c\r\nConnection: Upgrade\r\n" REQ_KEY
	                            REQ_VERSION "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n"
	                            REQ_KEY REQ_VERSION "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE REQ_KEY "\r\n"), 426);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE REQ_KEY
	                            "Sec-WebSocket-Version: 8\r\n\r\n"), 426);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE REQ_KEY REQ_VERSION REQ_VERSION "\r\n"),
	             426);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE REQ_VERSION "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE REQ_KEY REQ_KEY REQ_VERSION "\r\n"),
	             400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE
	                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" REQ_VERSION
	                            "\r\n"), 400); /* no padding */
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE
	                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" REQ_VERSION
	                            "\r\n"), 400); /* 17 bytes */
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE
	                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" REQ_VERSION
	                            "\r\n"), 400);
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE
	                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" REQ_VERSION
	                            "\r\n"), 400); /* spare bits set */
	CHECK_EQ_INT(upgrade_status(REQ_HEAD REQ_UPGRADE
	                            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" REQ_VERSION
	                            "\r\n"), 0);
}

static void test_response_101(void)
{
	static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
	                           "Upgrade: websocket\r\n"
	                           "Connection: Upgrade\r\n"
	                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                           "Sec-WebSocket-Protocol: chat\r\n"
	                           "\r\n";
	static struct http_response resp;
	char out[512];
	static const char extra[] = "Sec-WebSocket-Protocol: chat\r\n";
	size_t n = ws_response_101(out, sizeof out, rfc_key, 24, extra);
	unsigned short_ok = 0;

	CHECK_EQ_INT(n, sizeof want - 1);
	CHECK_MEM(out, want, sizeof want - 1);
	for (size_t cap = 0; cap < sizeof want - 1; cap++)
		short_ok += ws_response_101(out, cap, rfc_key, 24, extra) == 0;
	CHECK_EQ_INT(short_ok, sizeof want - 1);

	n = ws_response_101(out, sizeof out, rfc_key, 24, NULL);
	CHECK(n > 0 && parse_response(out, n, &resp) > 0);
	CHECK_EQ_INT(ws_check_response(&resp, rfc_key), 0);
	CHECK_EQ_INT(ws_check_response(&resp, "AAAAAAAAAAAAAAAAAAAAAA=="), -1);
}

static void test_response_error(void)
{
	static struct http_response resp;
	char out[256];
	size_t n;

	n = ws_response_error(out, sizeof out, 426);
	CHECK(n > 0 && parse_response(out, n, &resp) > 0);
	CHECK_EQ_INT(resp.status, 426);
	CHECK(http_find(resp.headers, resp.nheaders, "Sec-WebSocket-Version") != NULL);
	CHECK(http_has_token(http_find(resp.headers, resp.nheaders, "Connection")->value, "close"));
	n = ws_response_error(out, sizeof out, 400);
	CHECK(n > 0 && parse_response(out, n, &resp) > 0);
	CHECK_EQ_INT(resp.status, 400);
	CHECK(memcmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	n = ws_response_error(out, sizeof out, 405);
	CHECK(n > 0 && parse_response(out, n, &resp) > 0);
	CHECK_EQ_INT(resp.status, 405);
	CHECK(http_find(resp.headers, resp.nheaders, "Allow") != NULL);
	CHECK_EQ_INT(ws_response_error(out, 20, 400), 0);
}

static void test_client_request(void)
{
	static struct http_request req;
	char out[512], key[WS_KEY_LEN + 1];
	const char *got = NULL;
	size_t n, got_len = 0;

	ws_make_key((const uint8_t[16]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
	            key);
	n = ws_client_request(out, sizeof out - 1, "example.com:8443", "/tunnel?x=1", key,
	                      "Origin: https://example.com\r\n");
	CHECK(n > 0);
	out[n] = '\0';
	CHECK(strncmp(out, "GET /tunnel?x=1 HTTP/1.1\r\nHost: example.com:8443\r\n", 50) == 0);
	CHECK(parse_request(out, &req) > 0);
	CHECK_EQ_INT(ws_check_upgrade(&req, &got, &got_len), 0);
	CHECK(got_len == WS_KEY_LEN && memcmp(got, key, WS_KEY_LEN) == 0);
	CHECK(http_find(req.headers, req.nheaders, "Origin") != NULL);

	n = ws_client_request(out, sizeof out - 1, "h", NULL, key, NULL);
	CHECK(n > 0 && memcmp(out, "GET / HTTP/1.1\r\n", 16) == 0);
	CHECK_EQ_INT(ws_client_request(out, sizeof out, "evil\r\nX: y", "/", key, NULL), 0);
	CHECK_EQ_INT(ws_client_request(out, sizeof out, "h", "/a b", key, NULL), 0);
	CHECK_EQ_INT(ws_client_request(out, sizeof out, "", "/", key, NULL), 0);
	CHECK_EQ_INT(ws_client_request(out, 30, "h", "/", key, NULL), 0);
}

static void test_check_response(void)
{
	static struct http_response resp;
	static const char *bad[] = {
		"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	};
	static const char good[] = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
	                           "connection: upgrade\r\n"
	                           "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

	CHECK(parse_response(good, strlen(good), &resp) > 0);
	CHECK_EQ_INT(ws_check_response(&resp, rfc_key), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(parse_response(bad[i], strlen(bad[i]), &resp) > 0);
		CHECK_EQ_INT(ws_check_response(&resp, rfc_key), -1);
	}
}

/* Payload the caller moves itself (splice): only unmasked binary frames. */
static void test_payload_skip(void)
{
	static uint8_t wire[2 * (WS_MAX_HEADER + 1000)];
	uint8_t payload[1000] = {0};
	size_t n = ws_frame_header(wire, WS_OP_BINARY, true, sizeof(payload), NULL);
	memcpy(wire + n, payload, sizeof(payload));
	size_t first = n + sizeof(payload);
	n = ws_frame_header(wire + first, WS_OP_BINARY, true, 3, NULL);
	memcpy(wire + first + n, "abc", 3);
	size_t total = first + n + 3;

	struct ws_parser p;
	struct ws_event ev;
	size_t used;
	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	CHECK_EQ_INT(ws_parser_payload_left(&p), 0);
	/* header + 10 payload bytes fed, the other 990 moved by the caller */
	CHECK_EQ_INT(ws_parser_feed(&p, wire, 4 + 10, &used, &ev), WS_EVENT);
	CHECK_EQ_INT(ev.len, 10);
	CHECK_EQ_INT(ws_parser_payload_left(&p), 990);
	ws_parser_skip(&p, 2000); /* more than is left: ignored */
	CHECK_EQ_INT(ws_parser_payload_left(&p), 990);
	ws_parser_skip(&p, 990);
	CHECK_EQ_INT(ws_parser_payload_left(&p), 0);
	CHECK_EQ_INT(ws_parser_feed(&p, wire + first, total - first, &used, &ev), WS_EVENT);
	CHECK(ev.first && ev.fin && ev.len == 3 && memcmp(ev.data, "abc", 3) == 0);

	/* text (UTF-8 must be seen) and masked frames are never skipped */
	uint8_t text[WS_MAX_HEADER + 300];
	n = ws_frame_header(text, WS_OP_TEXT, true, 300, NULL);
	memset(text + n, 'a', 300);
	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	CHECK_EQ_INT(ws_parser_feed(&p, text, n + 1, &used, &ev), WS_EVENT);
	CHECK_EQ_INT(ws_parser_payload_left(&p), 0);
	ws_parser_init(&p, WS_ROLE_SERVER, 0);
	const uint8_t key[4] = {1, 2, 3, 4};
	n = ws_frame_header(text, WS_OP_BINARY, true, 300, key);
	CHECK_EQ_INT(ws_parser_feed(&p, text, n + 1, &used, &ev), WS_EVENT);
	CHECK_EQ_INT(ws_parser_payload_left(&p), 0);
}

/* A frame's span on the wire, for callers that hold frames whole: every
 * length form, masked or not, and 0 until the header is complete. */
static void test_frame_span(void)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, 1u << 20};
	const uint8_t key[4] = {9, 8, 7, 6};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (int masked = 0; masked < 2; masked++) {
			uint8_t h[WS_MAX_HEADER];
			size_t hn = ws_frame_header(h, WS_OP_BINARY, true, lens[i], masked ? key : NULL);
			for (size_t k = 0; k < hn; k++)
				CHECK_EQ_INT(ws_frame_span(h, k), 0);
			CHECK(ws_frame_span(h, hn) == hn + lens[i]);
		}
	/* a 64-bit length with the top bits set stays countable (the parser refuses it) */
	uint8_t big[10] = {0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	CHECK(ws_frame_span(big, sizeof big) == 10 + ((uint64_t)1 << 62));
}

int main(void)
{
	TEST_RUN(test_payload_skip);
	TEST_RUN(test_frame_span);
	TEST_RUN(test_sizes);
	TEST_RUN(test_frame_header_forms);
	TEST_RUN(test_roundtrip_lengths);
	TEST_RUN(test_huge_frame_slices);
	TEST_RUN(test_mask_offsets);
	TEST_RUN(test_mask_pieces);
	TEST_RUN(test_utf8_exhaustive);
	TEST_RUN(test_utf8_in_context);
	TEST_RUN(test_utf8_cases);
	TEST_RUN(test_close_codes);
	TEST_RUN(test_sequences_valid);
	TEST_RUN(test_sequences_bad);
	TEST_RUN(test_fail_fast_utf8);
	TEST_RUN(test_sticky_and_fields);
	TEST_RUN(test_rc_tables);
	TEST_RUN(test_guard_page);
	TEST_RUN(test_accept_key);
	TEST_RUN(test_check_upgrade);
	TEST_RUN(test_response_101);
	TEST_RUN(test_response_error);
	TEST_RUN(test_client_request);
	TEST_RUN(test_check_response);
	return test_summary();
}
