/* json.c — one pass over a whole JSON text (RFC 8259): a two-state machine
 * (expecting a value / after a value) with a bit stack for open containers,
 * so nesting costs one bit per level and never the C stack. Strings are
 * decoded into a sink that copies and/or compares, never allocates. */
#include "proto/json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Where decoded string bytes go: copied into out (bounded, may be NULL) and
 * compared with cmp (may be NULL). n counts every decoded byte. */
struct sink {
	char *out;
	size_t cap;
	const char *cmp;
	size_t cmp_len;
	size_t n;
	bool differs;
};

struct walk {
	const char *s;
	size_t len, pos;
	unsigned depth;           /* open containers */
	uint32_t objects;         /* bit d set: container at depth d+1 is an object */
	const char *key;          /* member wanted at depth 1, or NULL */
	size_t key_len;
	bool key_hit;             /* the member name just read is key */
	bool marking;             /* out->raw is set, its end not yet reached */
	struct json_value *out;
	enum json_type top;
};

static void sink_byte(struct sink *k, uint8_t b)
{
	if (!k)
		return;
	if (k->cmp && (k->n >= k->cmp_len || (uint8_t)k->cmp[k->n] != b))
		k->differs = true;
	if (k->out && k->n < k->cap)
		k->out[k->n] = (char)b;
	k->n++;
}

static void sink_code_point(struct sink *k, uint32_t cp)
{
	if (cp < 0x80) {
		sink_byte(k, (uint8_t)cp);
	} else if (cp < 0x800) {
		sink_byte(k, (uint8_t)(0xC0 | cp >> 6));
		sink_byte(k, (uint8_t)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		sink_byte(k, (uint8_t)(0xE0 | cp >> 12));
		sink_byte(k, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
		sink_byte(k, (uint8_t)(0x80 | (cp & 0x3F)));
	} else {
		sink_byte(k, (uint8_t)(0xF0 | cp >> 18));
		sink_byte(k, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
		sink_byte(k, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
		sink_byte(k, (uint8_t)(0x80 | (cp & 0x3F)));
	}
}

static int peek(const struct walk *w)
{
	return w->pos < w->len ? (uint8_t)w->s[w->pos] : -1;
}

/* RFC 8259 §2: ws = space, tab, LF, CR. */
static void skip_ws(struct walk *w)
{
	int c;
	while ((c = peek(w)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		w->pos++;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "\uXXXX" at pos: 0 and the value, or -1. Consumes nothing. */
static int read_u_escape(const struct walk *w, size_t at, uint32_t *cp)
{
	if (w->len - at < 6 || w->s[at] != '\\' || w->s[at + 1] != 'u')
		return -1;
	*cp = 0;
	for (size_t i = at + 2; i < at + 6; i++) {
		int v = hex_value((uint8_t)w->s[i]);
		if (v < 0)
			return -1;
		*cp = *cp << 4 | (uint32_t)v;
	}
	return 0;
}

/* \uXXXX, joining a surrogate pair (§7); a lone surrogate becomes U+FFFD. */
static enum json_rc scan_u_escape(struct walk *w, struct sink *k)
{
	uint32_t cp, lo;
	if (read_u_escape(w, w->pos, &cp) < 0)
		return JSON_ERR_SYNTAX;
	w->pos += 6;
	if (cp >= 0xD800 && cp <= 0xDBFF && read_u_escape(w, w->pos, &lo) == 0 && lo >= 0xDC00 &&
	    lo <= 0xDFFF) {
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		w->pos += 6;
	} else if (cp >= 0xD800 && cp <= 0xDFFF) {
		cp = 0xFFFD;
	}
	sink_code_point(k, cp);
	return JSON_OK;
}

static enum json_rc scan_escape(struct walk *w, struct sink *k)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (w->len - w->pos < 2)
		return JSON_ERR_SYNTAX;
	char e = w->s[w->pos + 1];
	if (e == 'u')
		return scan_u_escape(w, k);
	const char *at = e ? strchr(from, e) : NULL;
	if (!at)
		return JSON_ERR_SYNTAX;
	sink_byte(k, (uint8_t)to[at - from]);
	w->pos += 2;
	return JSON_OK;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 §4), 0 if none. */
static size_t utf8_seq_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		lo = c == 0xE0 ? 0xA0 : lo; /* overlong */
		hi = c == 0xED ? 0x9F : hi; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		lo = c == 0xF0 ? 0x90 : lo; /* overlong */
		hi = c == 0xF4 ? 0x8F : hi; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static enum json_rc scan_utf8(struct walk *w, struct sink *k)
{
	const uint8_t *p = (const uint8_t *)w->s + w->pos;
	size_t n = utf8_seq_len(p, w->len - w->pos);
	if (n == 0)
		return JSON_ERR_UTF8;
	for (size_t i = 0; i < n; i++)
		sink_byte(k, p[i]);
	w->pos += n;
	return JSON_OK;
}

/* A string at pos (its opening quote), decoded into k (may be NULL). */
static enum json_rc scan_string(struct walk *w, struct sink *k)
{
	w->pos++;
	while (w->pos < w->len) {
		uint8_t c = (uint8_t)w->s[w->pos];
		enum json_rc rc = JSON_OK;
		if (c == '"') {
			w->pos++;
			return JSON_OK;
		}
		if (c < 0x20)
			return JSON_ERR_SYNTAX; /* §7: control characters must be escaped */
		if (c == '\\') {
			rc = scan_escape(w, k);
		} else if (c >= 0x80) {
			rc = scan_utf8(w, k);
		} else {
			sink_byte(k, c);
			w->pos++;
		}
		if (rc != JSON_OK)
			return rc;
	}
	return JSON_ERR_SYNTAX;
}

/* One or more digits. */
static enum json_rc scan_digits(struct walk *w)
{
	if (!is_digit(peek(w)))
		return JSON_ERR_SYNTAX;
	while (is_digit(peek(w)))
		w->pos++;
	return JSON_OK;
}

/* §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static enum json_rc scan_number(struct walk *w)
{
	if (peek(w) == '-')
		w->pos++;
	if (peek(w) == '0')
		w->pos++;
	else if (scan_digits(w) != JSON_OK)
		return JSON_ERR_SYNTAX;
	if (peek(w) == '.') {
		w->pos++;
		if (scan_digits(w) != JSON_OK)
			return JSON_ERR_SYNTAX;
	}
	if (peek(w) == 'e' || peek(w) == 'E') {
		w->pos++;
		if (peek(w) == '+' || peek(w) == '-')
			w->pos++;
		return scan_digits(w);
	}
	return JSON_OK;
}

static enum json_rc scan_literal(struct walk *w, const char *lit)
{
	size_t n = strlen(lit);
	if (w->len - w->pos < n || memcmp(w->s + w->pos, lit, n) != 0)
		return JSON_ERR_SYNTAX;
	w->pos += n;
	return JSON_OK;
}

static enum json_type type_of(int c)
{
	switch (c) {
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case '"': return JSON_STRING;
	case 't': return JSON_TRUE;
	case 'f': return JSON_FALSE;
	case 'n': return JSON_NULL;
	default: return c == '-' || is_digit(c) ? JSON_NUMBER : JSON_ABSENT;
	}
}

static enum json_rc scan_scalar(struct walk *w, enum json_type t)
{
	switch (t) {
	case JSON_STRING: return scan_string(w, NULL);
	case JSON_NUMBER: return scan_number(w);
	case JSON_TRUE: return scan_literal(w, "true");
	case JSON_FALSE: return scan_literal(w, "false");
	case JSON_NULL: return scan_literal(w, "null");
	default: return JSON_ERR_SYNTAX;
	}
}

static bool top_is_object(const struct walk *w)
{
	return (w->objects >> (w->depth - 1)) & 1u;
}

/* A value at depth 1 just ended: close the wanted member's raw slice. */
static void value_done(struct walk *w)
{
	if (w->marking && w->depth == 1) {
		w->out->raw_len = w->pos - (size_t)(w->out->raw - w->s);
		w->marking = false;
	}
}

/* A member name and its ':'; notes whether it is the wanted key. */
static enum json_rc scan_member_name(struct walk *w)
{
	bool want = w->key && w->depth == 1;
	struct sink k = {.cmp = w->key, .cmp_len = w->key_len};
	skip_ws(w);
	if (peek(w) != '"')
		return JSON_ERR_SYNTAX;
	enum json_rc rc = scan_string(w, want ? &k : NULL);
	if (rc != JSON_OK)
		return rc;
	w->key_hit = want && !k.differs && k.n == w->key_len;
	skip_ws(w);
	if (peek(w) != ':')
		return JSON_ERR_SYNTAX;
	w->pos++;
	return JSON_OK;
}

static enum json_rc push(struct walk *w, bool object)
{
	if (w->depth == JSON_MAX_DEPTH)
		return JSON_ERR_DEPTH;
	w->objects &= ~(1u << w->depth);
	w->objects |= (uint32_t)object << w->depth;
	w->depth++;
	w->pos++;
	return JSON_OK;
}

/* Opens a container; *more is false when it closed at once ({} or []). */
static enum json_rc open_container(struct walk *w, bool object, bool *more)
{
	enum json_rc rc = push(w, object);
	if (rc != JSON_OK)
		return rc;
	skip_ws(w);
	*more = peek(w) != (object ? '}' : ']');
	if (!*more) {
		w->pos++;
		w->depth--;
		value_done(w);
		return JSON_OK;
	}
	return object ? scan_member_name(w) : JSON_OK;
}

/* Expecting a value; *more is true when the next thing is again a value. */
static enum json_rc walk_value(struct walk *w, bool *more)
{
	skip_ws(w);
	enum json_type t = type_of(peek(w));
	if (w->depth == 0)
		w->top = t;
	if (w->key_hit) {
		w->out->type = t;
		w->out->raw = w->s + w->pos;
		w->marking = true;
		w->key_hit = false;
	}
	if (t == JSON_OBJECT || t == JSON_ARRAY)
		return open_container(w, t == JSON_OBJECT, more);
	*more = false;
	enum json_rc rc = scan_scalar(w, t);
	if (rc == JSON_OK)
		value_done(w);
	return rc;
}

/* After a value: ',' (then maybe a member name), a closing bracket, or the
 * end of the text. *more is true when a value follows, *end at the end. */
static enum json_rc walk_after(struct walk *w, bool *more, bool *end)
{
	skip_ws(w);
	*more = *end = false;
	if (w->depth == 0) {
		*end = true;
		return w->pos == w->len ? JSON_OK : JSON_ERR_SYNTAX;
	}
	int c = peek(w);
	bool object = top_is_object(w);
	if (c < 0)
		return JSON_ERR_SYNTAX;
	w->pos++;
	if (c == ',') {
		*more = true;
		return object ? scan_member_name(w) : JSON_OK;
	}
	if (c != (object ? '}' : ']'))
		return JSON_ERR_SYNTAX;
	w->depth--;
	value_done(w);
	return JSON_OK;
}

static enum json_rc walk_text(struct walk *w)
{
	bool more = true, end = false;
	enum json_rc rc = JSON_OK;
	while (rc == JSON_OK && !end) {
		if (more)
			rc = walk_value(w, &more);
		else
			rc = walk_after(w, &more, &end);
	}
	return rc;
}

enum json_rc json_get(const char *text, size_t len, const char *key, enum json_type *top,
                      struct json_value *out)
{
	struct json_value unused;
	struct walk w = {.s = text, .len = len, .out = out ? out : &unused};
	w.key = out ? key : NULL;
	w.key_len = w.key ? strlen(w.key) : 0;
	*w.out = (struct json_value){.type = JSON_ABSENT};
	enum json_rc rc = walk_text(&w);
	if (rc != JSON_OK || w.top != JSON_OBJECT)
		*w.out = (struct json_value){.type = JSON_ABSENT};
	*top = rc == JSON_OK ? w.top : JSON_ABSENT;
	return rc;
}

enum json_rc json_check(const char *text, size_t len, enum json_type *top)
{
	return json_get(text, len, NULL, top, NULL);
}

enum json_rc json_string(const struct json_value *v, char *out, size_t cap, size_t *len)
{
	if (v->type != JSON_STRING || cap == 0 || v->raw_len < 2 || v->raw[0] != '"')
		return JSON_ERR_SYNTAX;
	struct walk w = {.s = v->raw, .len = v->raw_len};
	struct sink k = {.out = out, .cap = cap - 1};
	enum json_rc rc = scan_string(&w, &k);
	out[k.n < k.cap ? k.n : k.cap] = '\0';
	if (len)
		*len = k.n;
	if (rc != JSON_OK)
		return rc;
	return k.n >= cap ? JSON_ERR_TOO_BIG : JSON_OK;
}

static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

enum json_rc json_array_next(const struct json_value *arr, size_t *at, struct json_value *el)
{
	*el = (struct json_value){.type = JSON_ABSENT};
	if (arr->type != JSON_ARRAY || arr->raw_len < 2 || arr->raw[0] != '[' ||
	    arr->raw[arr->raw_len - 1] != ']')
		return JSON_ERR_SYNTAX;
	/* The closing bracket is left out: the walk ends before it. */
	struct walk w = {.s = arr->raw, .len = arr->raw_len - 1, .pos = *at ? *at : 1};
	skip_ws(&w);
	if (peek(&w) == ',') {
		w.pos++;
		skip_ws(&w);
	}
	*at = w.pos;
	if (w.pos >= w.len)
		return JSON_OK;
	size_t start = w.pos;
	unsigned depth = 0;
	for (int c; (c = peek(&w)) >= 0 && !(depth == 0 && (c == ',' || is_ws(c)));) {
		if (c == '"') {
			if (scan_string(&w, NULL) != JSON_OK)
				return JSON_ERR_SYNTAX;
			continue;
		}
		if (c == '[' || c == '{')
			depth++;
		else if ((c == ']' || c == '}') && depth-- == 0)
			return JSON_ERR_SYNTAX;
		w.pos++;
	}
	if (depth)
		return JSON_ERR_SYNTAX;
	*el = (struct json_value){.type = type_of((uint8_t)arr->raw[start]), .raw = arr->raw + start,
	                          .raw_len = w.pos - start};
	*at = w.pos;
	return JSON_OK;
}

const char *json_strerror(enum json_rc rc)
{
	switch (rc) {
	case JSON_OK: return "ok";
	case JSON_ERR_SYNTAX: return "not a JSON text";
	case JSON_ERR_DEPTH: return "JSON nested too deeply";
	case JSON_ERR_UTF8: return "JSON string is not UTF-8";
	case JSON_ERR_TOO_BIG: return "JSON string too long";
	}
	return "unknown JSON error";
}
