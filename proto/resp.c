/* resp.c — RESP2 replies (simple, error, integer, bulk, nil) read from the
 * front of a buffer, and commands written as arrays of bulk strings, per
 * redis.io's protocol specification. Strict: CRLF only, minimal numbers. */
#include "proto/resp.h"

#include <stdbool.h>
#include <string.h>

/* The line after the type byte: [p, p+n) before its CRLF; NEED_MORE until
 * the CRLF arrived. *next is just after it. */
static enum resp_rc line(const uint8_t *in, size_t len, size_t *n, size_t *next)
{
	size_t lim = len < RESP_MAX_LINE + 2 ? len : RESP_MAX_LINE + 2;
	for (size_t i = 1; i < lim; i++) {
		if (in[i] == '\n')
			return RESP_ERR_SYNTAX; /* bare LF */
		if (in[i] == '\r') {
			if (i + 1 == len)
				return RESP_NEED_MORE;
			if (in[i + 1] != '\n')
				return RESP_ERR_SYNTAX;
			*n = i - 1;
			*next = i + 2;
			return RESP_REPLY;
		}
	}
	return len >= RESP_MAX_LINE + 2 ? RESP_ERR_TOO_BIG : RESP_NEED_MORE;
}

/* "-1", "0", "42": no leading zeros, no "+", no "-0"; fits int64. */
static bool number(const uint8_t *p, size_t n, int64_t *out)
{
	bool neg = n > 0 && p[0] == '-';
	size_t i = neg ? 1 : 0;
	if (i == n || n - i > 19 || (p[i] == '0' && (n - i > 1 || neg)))
		return false;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

enum resp_rc resp_parse(const uint8_t *in, size_t len, size_t *used, struct resp_reply *r)
{
	size_t n = 0, next = 0;
	*used = 0;
	if (len == 0)
		return RESP_NEED_MORE;
	switch (in[0]) {
	case '+':
		r->type = RESP_SIMPLE;
		break;
	case '-':
		r->type = RESP_ERROR;
		break;
	case ':':
		r->type = RESP_INTEGER;
		break;
	case '$':
		r->type = RESP_BULK;
		break;
	default:
		return RESP_ERR_TYPE;
	}
	enum resp_rc rc = line(in, len, &n, &next);
	if (rc != RESP_REPLY)
		return rc;
	r->integer = 0;
	r->text = (struct resp_slice){in + 1, n};
	if (r->type == RESP_SIMPLE || r->type == RESP_ERROR) {
		*used = next;
		return RESP_REPLY;
	}
	int64_t v;
	if (!number(in + 1, n, &v))
		return RESP_ERR_SYNTAX;
	if (r->type == RESP_INTEGER) {
		r->integer = v;
		r->text = (struct resp_slice){0};
		*used = next;
		return RESP_REPLY;
	}
	if (v == -1) {
		r->type = RESP_NIL;
		r->text = (struct resp_slice){0};
		*used = next;
		return RESP_REPLY;
	}
	if (v < 0)
		return RESP_ERR_SYNTAX;
	if ((uint64_t)v > RESP_MAX_BULK)
		return RESP_ERR_TOO_BIG;
	size_t blen = (size_t)v;
	if (len - next < blen + 2)
		return RESP_NEED_MORE;
	if (in[next + blen] != '\r' || in[next + blen + 1] != '\n')
		return RESP_ERR_SYNTAX;
	r->text = (struct resp_slice){in + next, blen};
	*used = next + blen + 2;
	return RESP_REPLY;
}

/* Decimal digits of v into out (no NUL): their count. */
static size_t put_uint(uint8_t *out, size_t v)
{
	uint8_t tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t resp_command(uint8_t *out, size_t cap, const struct resp_slice *args, size_t n)
{
	if (n == 0 || n > RESP_MAX_ARGS)
		return 0;
	size_t need = 1 + 20 + 2;
	for (size_t i = 0; i < n; i++)
		need += 1 + 20 + 2 + args[i].len + 2;
	if (need > cap)
		return 0; /* a bound, not exact: fine for the sizes we send */
	size_t at = 0;
	out[at++] = '*';
	at += put_uint(out + at, n);
	out[at++] = '\r';
	out[at++] = '\n';
	for (size_t i = 0; i < n; i++) {
		out[at++] = '$';
		at += put_uint(out + at, args[i].len);
		out[at++] = '\r';
		out[at++] = '\n';
		if (args[i].len)
			memcpy(out + at, args[i].p, args[i].len);
		at += args[i].len;
		out[at++] = '\r';
		out[at++] = '\n';
	}
	return at;
}

const char *resp_strerror(int rc)
{
	switch (rc) {
	case RESP_NEED_MORE:
		return "incomplete Redis reply";
	case RESP_REPLY:
		return "Redis reply";
	case RESP_ERR_TYPE:
		return "unexpected Redis reply type";
	case RESP_ERR_SYNTAX:
		return "malformed Redis reply";
	case RESP_ERR_TOO_BIG:
		return "Redis reply too long";
	}
	return "unknown Redis protocol error";
}
