/* resp.c — RESP2 replies (simple, error, integer, bulk, nil, flat arrays)
 * read from the front of a buffer, commands written as arrays of bulk
 * strings, per redis.io's protocol specification, and the redis:// URL.
 * Strict: CRLF only, minimal numbers. */
#include "proto/resp.h"

#include <stdbool.h>
#include <stdlib.h>
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

enum resp_rc resp_parse_array(const uint8_t *in, size_t len, size_t *used, struct resp_reply *el,
                              size_t max, size_t *n)
{
	size_t ln = 0, at = 0;
	int64_t count;
	*used = 0;
	*n = 0;
	if (len == 0)
		return RESP_NEED_MORE;
	if (in[0] != '*')
		return RESP_ERR_TYPE;
	enum resp_rc rc = line(in, len, &ln, &at);
	if (rc != RESP_REPLY)
		return rc;
	if (!number(in + 1, ln, &count) || count < -1)
		return RESP_ERR_SYNTAX;
	if (count == -1)
		return RESP_ERR_TYPE; /* a nil array: no push of ours */
	if ((uint64_t)count > max || max > RESP_MAX_ELEMS)
		return RESP_ERR_TOO_BIG;
	for (size_t i = 0; i < (size_t)count; i++) {
		size_t u;
		if (at == len)
			return RESP_NEED_MORE;
		if (in[at] == '*')
			return RESP_ERR_TYPE; /* nested */
		rc = resp_parse(in + at, len - at, &u, &el[i]);
		if (rc != RESP_REPLY)
			return rc;
		at += u;
	}
	*n = (size_t)count;
	*used = at;
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

/* [ADDR] or HOST, then an optional :PORT, in p[0..hl). */
static int url_host_port(const char *p, size_t hl, struct resp_url *u, const char **why)
{
	const char *port = NULL;
	if (hl && p[0] == '[') {
		const char *end = memchr(p, ']', hl);
		if (!end)
			return *why = "an IPv6 host is written [ADDR]", -1;
		if ((size_t)(end - p - 1) >= sizeof(u->host))
			return *why = "host too long", -1;
		memcpy(u->host, p + 1, (size_t)(end - p - 1));
		if (end + 1 < p + hl) {
			if (end[1] != ':')
				return *why = "[ADDR]:PORT", -1;
			port = end + 2;
		}
	} else {
		const char *colon = memchr(p, ':', hl);
		size_t n = colon ? (size_t)(colon - p) : hl;
		if (n >= sizeof(u->host))
			return *why = "host too long", -1;
		memcpy(u->host, p, n);
		if (colon)
			port = colon + 1;
	}
	if (!u->host[0])
		return *why = "a host is needed: redis://HOST[:PORT][/DB]", -1;
	u->port = RESP_DEFAULT_PORT;
	if (port) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);
		if (end == port || v == 0 || v > 65535 || (end != p + hl))
			return *why = "a port from 1 to 65535", -1;
		u->port = (uint16_t)v;
	}
	return 0;
}

int resp_url_parse(const char *s, struct resp_url *u, const char **why)
{
	memset(u, 0, sizeof(*u));
	if (strncmp(s, "unix:", 5) == 0) {
		const char *p = s + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (p[0] != '/' || strlen(p) >= sizeof(u->path))
			return *why = "unix:/PATH/TO/redis.sock (an absolute path)", -1;
		u->is_unix = true;
		memcpy(u->path, p, strlen(p) + 1);
		return 0;
	}
	if (strncmp(s, "redis://", 8) != 0)
		return *why = "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:/PATH", -1;
	const char *p = s + 8, *at = strrchr(p, '@');
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (!colon || (size_t)(colon - p) >= sizeof(u->user) ||
		    (size_t)(at - colon - 1) >= sizeof(u->password))
			return *why = "credentials are [USER]:PASSWORD@", -1;
		memcpy(u->user, p, (size_t)(colon - p));
		memcpy(u->password, colon + 1, (size_t)(at - colon - 1));
		u->has_password = true;
		p = at + 1;
	}
	const char *slash = strchr(p, '/');
	if (url_host_port(p, slash ? (size_t)(slash - p) : strlen(p), u, why) < 0)
		return -1;
	if (slash && slash[1]) {
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (*end || v > 1000000)
			return *why = "/DB is a database number", -1;
		u->db = (unsigned)v;
		u->has_db = true;
	}
	return 0;
}
