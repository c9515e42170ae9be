/* url.c — parse the tunnel URLs of SPEC.md ("Commands") into struct url.
 * Never resolves names; refuses what a user most likely mistyped, with a hint. */
#include "proto/url.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *prefix;
	enum url_scheme scheme;
} schemes[] = {
	{"ws://", URL_WS},
	{"wss://", URL_WSS},
	{"tls://", URL_TLS},
};

uint16_t url_default_port(enum url_scheme scheme)
{
	return scheme == URL_WS ? 80 : 443;
}

const char *url_scheme_name(enum url_scheme scheme)
{
	switch (scheme) {
	case URL_WS: return "ws";
	case URL_WSS: return "wss";
	case URL_TLS: return "tls";
	}
	return "?";
}

int url_parse_port(const char *s, unsigned long len, uint16_t *port)
{
	unsigned long v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (unsigned long i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

/* Splits off the scheme; a string without "://" is a bare HOST:PORT. */
static int parse_scheme(const char **s, struct url *out, const char **why)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);
		if (strncmp(*s, schemes[i].prefix, n) == 0) {
			out->scheme = schemes[i].scheme;
			*s += n;
			return 0;
		}
	}
	if (strncmp(*s, "http://", 7) == 0)
		return fail(why, "http:// is not a tunnel URL (did you mean ws://?)");
	if (strncmp(*s, "https://", 8) == 0)
		return fail(why, "https:// is not a tunnel URL (did you mean wss://?)");
	if (strstr(*s, "://"))
		return fail(why, "unknown scheme (use ws://, wss:// or tls://)");
	out->scheme = URL_WS;
	if (!strchr(*s, ':'))
		return fail(why, "a bare address needs a port (HOST:PORT)");
	return 0;
}

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static int copy_host(const char *p, size_t n, struct url *out, const char **why)
{
	if (n == 0)
		return fail(why, "missing host");
	if (n > URL_MAX_HOST)
		return fail(why, "host name too long");
	for (size_t i = 0; i < n; i++) {
		bool ok = out->host_is_v6 ? (host_char_ok(p[i]) || p[i] == ':' || p[i] == '%')
		                          : host_char_ok(p[i]);
		if (!ok)
			return fail(why, "invalid character in host");
	}
	memcpy(out->host, p, n);
	out->host[n] = '\0';
	return 0;
}

/* authority = host [":" port] | "[" v6 "]" [":" port] */
static int parse_authority(const char *p, size_t n, struct url *out, const char **why)
{
	const char *port = NULL;
	size_t host_len = n;
	if (n && p[0] == '[') {
		const char *close = memchr(p, ']', n);
		if (!close)
			return fail(why, "unclosed [ in IPv6 address");
		out->host_is_v6 = true;
		host_len = (size_t)(close - p) - 1;
		if (close + 1 < p + n) {
			if (close[1] != ':')
				return fail(why, "expected :PORT after ]");
			port = close + 2;
		}
		if (copy_host(p + 1, host_len, out, why) < 0)
			return -1;
	} else {
		const char *colon = memchr(p, ':', n);
		if (colon) {
			if (memchr(colon + 1, ':', n - (size_t)(colon + 1 - p)))
				return fail(why, "IPv6 addresses go in brackets: [::1]:PORT");
			host_len = (size_t)(colon - p);
			port = colon + 1;
		}
		if (copy_host(p, host_len, out, why) < 0)
			return -1;
	}
	out->port = url_default_port(out->scheme);
	if (port && url_parse_port(port, (size_t)(p + n - port), &out->port) < 0)
		return fail(why, "port must be a number from 1 to 65535");
	return 0;
}

static int copy_path(const char *p, struct url *out, const char **why)
{
	size_t n = strlen(p);
	if (n == 0) {
		strcpy(out->path, "/");
		return 0;
	}
	if (n > URL_MAX_PATH)
		return fail(why, "path too long");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return fail(why, "path holds a space or control character");
	memcpy(out->path, p, n + 1);
	return 0;
}

int url_parse(const char *s, struct url *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (parse_scheme(&s, out, why) < 0)
		return -1;
	const char *slash = strchr(s, '/');
	size_t auth_len = slash ? (size_t)(slash - s) : strlen(s);
	if (strchr(s, '?') || strchr(s, '#'))
		return fail(why, "query and fragment are not allowed in a tunnel URL");
	if (memchr(s, '@', auth_len))
		return fail(why, "credentials do not go in the URL (use --key)");
	if (parse_authority(s, auth_len, out, why) < 0)
		return -1;
	if (out->scheme == URL_TLS && slash && strcmp(slash, "/") != 0)
		return fail(why, "tls:// carries no path");
	return copy_path(slash ? slash : "", out, why);
}
