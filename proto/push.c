/* push.c — push API messages of push.h: body checks on proto/json, the
 * frame text, ?topic= and the API key check. */
#include "proto/push.h"

#include <string.h>

#include <bearssl.h>

#include "proto/auth.h"
#include "proto/json.h"
#include "proto/text.h"
#include "proto/ws.h"

static bool utf8_valid(const char *s, size_t n)
{
	return ws_utf8_step(WS_UTF8_ACCEPT, (const uint8_t *)s, n) == WS_UTF8_ACCEPT;
}

static enum push_rc from_json(enum json_rc rc)
{
	return rc == JSON_ERR_UTF8 ? PUSH_ERR_UTF8 : PUSH_ERR_JSON;
}

enum push_rc push_msg_parse(const char *body, size_t len, bool json, struct push_msg *m)
{
	*m = (struct push_msg){0};
	if (!json) {
		if (!utf8_valid(body, len))
			return PUSH_ERR_UTF8;
		if (len == 0)
			return PUSH_ERR_NO_MESSAGE;
		m->message = body;
		m->message_len = len;
		return PUSH_OK;
	}
	enum json_type top;
	struct json_value msg, sender;
	enum json_rc rc = json_get(body, len, "message", &top, &msg);
	if (rc != JSON_OK)
		return from_json(rc);
	if (top != JSON_OBJECT)
		return PUSH_ERR_JSON;
	if (msg.type == JSON_ABSENT)
		return PUSH_ERR_NO_MESSAGE;
	json_get(body, len, "sender", &top, &sender); /* the text is known good */
	if (sender.type == JSON_STRING) {
		char tmp[PUSH_SENDER_MAX + 1];
		if (json_string(&sender, tmp, sizeof(tmp), NULL) != JSON_OK)
			return PUSH_ERR_SENDER;
		m->sender = sender.raw;
		m->sender_len = sender.raw_len;
	} else if (sender.type != JSON_ABSENT && sender.type != JSON_NULL) {
		return PUSH_ERR_SENDER;
	}
	m->message = msg.raw;
	m->message_len = msg.raw_len;
	m->message_json = true;
	return PUSH_OK;
}

/* One escaped character: \uXXXX for controls and HTML's special ones. */
static void quote_byte(struct text_out *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	if (c == '"' || c == '\\') {
		char e[2] = {'\\', (char)c};
		text_put_bytes(o, e, 2);
	} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
		char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		text_put_bytes(o, e, 6);
	} else {
		text_put_bytes(o, (const char *)&c, 1);
	}
}

static void put_quoted(struct text_out *o, const char *s, size_t n)
{
	text_put_bytes(o, "\"", 1);
	for (size_t i = 0; i < n && !o->over; i++)
		quote_byte(o, (unsigned char)s[i]);
	text_put_bytes(o, "\"", 1);
}

size_t push_json_quote(char *out, size_t cap, const char *s, size_t n)
{
	struct text_out o = {out, cap, 0, false};
	put_quoted(&o, s, n);
	return text_result(&o);
}

size_t push_frame_text(char *out, size_t cap, const struct push_msg *m, const char *topic,
                       const char *time_iso, const char *prefix, const char *suffix)
{
	struct text_out o = {out, cap, 0, false};
	text_put_str(&o, prefix);
	text_put_str(&o, "{\"type\":\"message\",\"topic\":");
	if (topic && *topic)
		put_quoted(&o, topic, strlen(topic));
	else
		text_put_str(&o, "null");
	text_put_str(&o, ",\"sender\":");
	if (m->sender)
		text_put_bytes(&o, m->sender, m->sender_len);
	else
		text_put_str(&o, "null");
	text_put_str(&o, ",\"message\":");
	if (m->message_json)
		text_put_bytes(&o, m->message, m->message_len);
	else
		put_quoted(&o, m->message, m->message_len);
	text_put_str(&o, ",\"time\":\"");
	text_put_str(&o, time_iso);
	text_put_str(&o, "\"}");
	text_put_str(&o, suffix);
	return text_result(&o);
}

const char *push_query_param(const char *target, size_t len, const char *name, size_t *vlen)
{
	const char *q = memchr(target, '?', len);
	size_t nlen = strlen(name);
	if (!q)
		return NULL;
	const char *end = target + len;
	for (const char *p = q + 1; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			*vlen = (size_t)(stop - p - (ptrdiff_t)nlen - 1);
			return p + nlen + 1;
		}
		p = stop + 1;
	}
	return NULL;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool topic_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '~' || c == '-';
}

int push_topic(const char *target, size_t len, char out[PUSH_TOPIC_MAX + 1])
{
	size_t vlen, n = 0;
	const char *v = push_query_param(target, len, "topic", &vlen);
	out[0] = '\0';
	if (!v)
		return 0;
	for (size_t i = 0; i < vlen; i++) {
		char c = v[i];
		if (c == '%') {
			int hi = i + 2 < vlen ? hex_val(v[i + 1]) : -1;
			int lo = hi >= 0 ? hex_val(v[i + 2]) : -1;
			if (lo < 0)
				return PUSH_ERR_TOPIC;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (!topic_char(c) || n == PUSH_TOPIC_MAX)
			return PUSH_ERR_TOPIC;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? (int)n : PUSH_ERR_TOPIC;
}

void push_key_hash(const char *key, size_t len, uint8_t out[PUSH_KEY_HASH_LEN])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, key, len);
	br_sha256_out(&h, out);
}

bool push_key_match(const uint8_t want[PUSH_KEY_HASH_LEN], const char *given, size_t len)
{
	/* Comparing digests: the time depends on neither the key's length nor
	 * the first differing byte. */
	uint8_t got[PUSH_KEY_HASH_LEN];
	push_key_hash(given, len, got);
	return auth_equal(got, want, PUSH_KEY_HASH_LEN);
}

const char *push_strerror(enum push_rc rc)
{
	switch (rc) {
	case PUSH_OK:
		return "ok";
	case PUSH_ERR_JSON:
		return "the body is not a JSON object (send Content-Type: text/plain for raw text)";
	case PUSH_ERR_UTF8:
		return "the message is not valid UTF-8";
	case PUSH_ERR_NO_MESSAGE:
		return "no message: send {\"message\": ...} or a text/plain body";
	case PUSH_ERR_SENDER:
		return "sender must be a string of at most 128 bytes";
	case PUSH_ERR_TOPIC:
		return "topic must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -";
	case PUSH_ERR_BUS:
		return "not a push bus message";
	}
	return "unknown error";
}
