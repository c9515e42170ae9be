/* ws_fuzz.c — libFuzzer target for the proto/ws.c frame parser. Byte 0 picks
 * role and max_message, bytes 1-2 two alternating chunk sizes; the rest is
 * fed like a connection does (kept buffer, unused bytes fed again) and, as a
 * reference, in one exact-size heap copy: both must tell the same story. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

#define CONN_CAP 512 /* >= WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD */
#define LOG_CAP (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t max_messages[] = { 0, 1, 16, 300, 70000, 0, 125, 65536 };

/* Events as bytes, to compare a chunked run with a whole one. */
struct story {
	uint8_t log[LOG_CAP];
	size_t len;
	enum ws_rc rc;
	size_t left;
	bool msg_open;
	uint8_t msg_op;
	uint64_t msg_len;
	uint8_t utf8;
};

static void must(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void log_put(struct story *s, const void *p, size_t n)
{
	if (n > LOG_CAP - s->len)
		n = LOG_CAP - s->len;
	memcpy(s->log + s->len, p, n);
	s->len += n;
}

static void log_byte(struct story *s, uint8_t b)
{
	log_put(s, &b, 1);
}

/* A DATA slice must continue or open a message consistently, stay under
 * max_message, and text must be UTF-8 by the message's end. */
static void check_data(struct story *s, const struct ws_event *ev, uint64_t max)
{
	must(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
	must(ev->first == !s->msg_open);
	if (ev->first) {
		s->msg_op = (uint8_t)ev->opcode;
		s->msg_len = 0;
		s->utf8 = WS_UTF8_ACCEPT;
		log_byte(s, (uint8_t)(0xF0 | ev->opcode));
	}
	must(ev->opcode == s->msg_op);
	s->msg_len += ev->len;
	must(!max || s->msg_len <= max);
	if (ev->opcode == WS_OP_TEXT)
		s->utf8 = ws_utf8_step(s->utf8, ev->data, ev->len);
	must(s->utf8 != WS_UTF8_REJECT);
	must(!ev->fin || s->utf8 == WS_UTF8_ACCEPT);
	s->msg_open = !ev->fin;
	log_put(s, ev->data, ev->len);
	if (ev->fin)
		log_byte(s, 0xFE);
}

static void check_control(struct story *s, const struct ws_event *ev)
{
	must(ev->len <= WS_MAX_CTRL_PAYLOAD);
	must(ev->type != WS_EV_CLOSE || ev->close_code == 0 ||
	     ws_close_code_valid(ev->close_code));
	must(ev->type != WS_EV_CLOSE ||
	     ws_utf8_step(WS_UTF8_ACCEPT, ev->data, ev->len) == WS_UTF8_ACCEPT);
	log_byte(s, 0xFD);
	log_byte(s, (uint8_t)ev->type);
	log_byte(s, (uint8_t)(ev->close_code >> 8));
	log_byte(s, (uint8_t)ev->close_code);
	log_byte(s, (uint8_t)ev->len);
	log_put(s, ev->data, ev->len);
}

/* One feed with every contract check; returns the rc. */
static enum ws_rc feed_once(struct ws_parser *p, uint8_t *buf, size_t have, size_t *used,
                            struct story *s, uint64_t max)
{
	struct ws_event ev;
	enum ws_rc rc = ws_parser_feed(p, buf, have, used, &ev);

	must(*used <= have);
	must(rc >= WS_ERR_CLOSED && rc <= WS_EVENT);
	if (rc == WS_NEED_MORE) /* a header or control frame always fits */
		must(*used > 0 || have < WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD);
	if (rc != WS_EVENT)
		return rc;
	must(ev.data >= buf && ev.len <= *used && ev.data + ev.len <= buf + *used);
	must(*used > 0);
	if (ev.type == WS_EV_DATA)
		check_data(s, &ev, max);
	else
		check_control(s, &ev);
	return rc;
}

/* Feeds until the parser wants more or fails; keeps the unused bytes. */
static enum ws_rc drain(struct ws_parser *p, uint8_t *buf, size_t *have, struct story *s,
                        uint64_t max)
{
	enum ws_rc rc;

	do {
		size_t used;

		rc = feed_once(p, buf, *have, &used, s, max);
		memmove(buf, buf + used, *have - used);
		*have -= used;
	} while (rc == WS_EVENT);
	return rc;
}

static void check_sticky(struct ws_parser *p, uint8_t *buf, size_t have, enum ws_rc rc)
{
	struct ws_event ev;
	size_t used;

	if (rc >= 0)
		return;
	must(ws_parser_feed(p, buf, have, &used, &ev) == rc);
	must(ws_parser_feed(p, buf, 0, &used, &ev) == rc);
	must((ws_rc_close_code(rc) == 0) == (rc == WS_ERR_CLOSED));
}

static void run_chunked(struct story *s, enum ws_role role, uint64_t max, const uint8_t *in,
                        size_t len, const size_t chunks[2])
{
	uint8_t *buf = malloc(CONN_CAP);
	struct ws_parser p;
	size_t off = 0, have = 0;
	enum ws_rc rc;

	must(buf != NULL);
	ws_parser_init(&p, role, max);
	for (unsigned turn = 0;; turn++) {
		size_t n = chunks[turn & 1];

		if (n > len - off)
			n = len - off;
		if (n > CONN_CAP - have)
			n = CONN_CAP - have;
		memcpy(buf + have, in + off, n);
		have += n;
		off += n;
		rc = drain(&p, buf, &have, s, max);
		if (rc < 0 || off == len)
			break;
	}
	s->rc = rc;
	s->left = have;
	check_sticky(&p, buf, have, rc);
	free(buf);
}

static void run_whole(struct story *s, enum ws_role role, uint64_t max, const uint8_t *in,
                      size_t len)
{
	uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
	struct ws_parser p;
	size_t have = len;

	must(buf != NULL);
	memcpy(buf, in, len);
	ws_parser_init(&p, role, max);
	s->rc = drain(&p, buf, &have, s, max);
	s->left = have;
	check_sticky(&p, buf, have, s->rc);
	free(buf);
}

static struct story chunked, whole;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ws_role role;
	uint64_t max;
	size_t chunks[2];

	if (size < 3)
		return 0;
	role = (data[0] & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	max = max_messages[(data[0] >> 1) & 7];
	chunks[0] = 1 + (size_t)data[1];
	chunks[1] = 1 + (size_t)data[2] * (data[0] & 0x10 ? 16 : 1);
	memset(&chunked, 0, sizeof chunked);
	memset(&whole, 0, sizeof whole);
	run_chunked(&chunked, role, max, data + 3, size - 3, chunks);
	run_whole(&whole, role, max, data + 3, size - 3);
	/* Same error; same events, or a longer prefix when split (a text slice
	 * may pass before the bad byte arrives). Logs may be truncated alike. */
	must(chunked.rc == whole.rc);
	must(chunked.len >= whole.len && memcmp(chunked.log, whole.log, whole.len) == 0);
	if (whole.rc >= 0)
		must(chunked.len == whole.len && chunked.left == whole.left);
	return 0;
}
