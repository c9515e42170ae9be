/* tunnel_exit.c — VPN mode's destination framing: the entry's open target
 * and the server <-> exit control messages (man/wsferry-protocol.7, EXITS).
 * Strict both ways: what the encoders write is exactly what the parser
 * takes back, and nothing else parses. */
#include "proto/tunnel_exit.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool name_char(char c)
{
	return c > ' ' && c < 0x7f && c != '/' && c != ':' && c != '[' && c != ']';
}

/* host (n bytes, no brackets) into d: its address type and its text. */
static int dest_host(const char *h, size_t n, struct tunnel_exit_dest *d)
{
	uint8_t addr[16];
	if (n == 0 || n > TUNNEL_EXIT_HOST_MAX)
		return -1;
	memcpy(d->host, h, n);
	d->host[n] = '\0';
	if (inet_pton(AF_INET, d->host, addr) == 1)
		d->atyp = TUNNEL_EXIT_IPV4;
	else if (inet_pton(AF_INET6, d->host, addr) == 1)
		d->atyp = TUNNEL_EXIT_IPV6;
	else {
		for (size_t i = 0; i < n; i++)
			if (!name_char(h[i]))
				return -1;
		d->atyp = TUNNEL_EXIT_NAME;
	}
	return 0;
}

int tunnel_exit_dest_parse(const char *s, size_t n, struct tunnel_exit_dest *d)
{
	char host[TUNNEL_EXIT_HOST_MAX + 1];
	uint16_t port;
	if (tunnel_target_split(s, n, host, sizeof(host), &port) < 0)
		return -1;
	bool bracketed = s[0] == '[';
	if (dest_host(host, strlen(host), d) < 0 || bracketed != (d->atyp == TUNNEL_EXIT_IPV6))
		return -1;
	d->port = port;
	return 0;
}

size_t tunnel_exit_dest_format(const struct tunnel_exit_dest *d, char *out, size_t cap)
{
	int n = snprintf(out, cap, d->atyp == TUNNEL_EXIT_IPV6 ? "[%s]:%u" : "%s:%u", d->host,
	                 d->port);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int tunnel_exit_target_split(const char *t, size_t n, char name[TUNNEL_CHANNEL_NAME_MAX + 1],
                             char pass[TUNNEL_CHANNEL_PASS_MAX + 1],
                             struct tunnel_exit_dest *d)
{
	const char *sp = memchr(t, ' ', n);
	if (!sp)
		return -1;
	size_t left = (size_t)(sp - t);
	if (tunnel_channel_split(t, left, name, pass) < 0)
		return -1;
	return tunnel_exit_dest_parse(sp + 1, n - left - 1, d);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t tunnel_exit_dial_msg(uint8_t out[TUNNEL_EXIT_MSG_MAX], uint64_t id,
                            const struct tunnel_exit_dest *d)
{
	size_t hl = strnlen(d->host, sizeof(d->host));
	size_t n = TUNNEL_REV_MSG_LEN + 1;
	out[0] = REV_MSG_DIAL;
	put_be64(out + 1, id);
	out[TUNNEL_REV_MSG_LEN] = d->atyp;
	if (d->port == 0 || hl == 0 || hl > TUNNEL_EXIT_HOST_MAX)
		return 0;
	if (d->atyp == TUNNEL_EXIT_IPV4 || d->atyp == TUNNEL_EXIT_IPV6) {
		int af = d->atyp == TUNNEL_EXIT_IPV4 ? AF_INET : AF_INET6;
		if (inet_pton(af, d->host, out + n) != 1)
			return 0;
		n += d->atyp == TUNNEL_EXIT_IPV4 ? 4 : 16;
	} else if (d->atyp == TUNNEL_EXIT_NAME) {
		out[n++] = (uint8_t)hl;
		memcpy(out + n, d->host, hl);
		n += hl;
	} else {
		return 0;
	}
	out[n++] = (uint8_t)(d->port >> 8);
	out[n++] = (uint8_t)d->port;
	return n;
}

void tunnel_exit_failed_msg(uint8_t out[TUNNEL_EXIT_FAILED_LEN], uint64_t id,
                            enum tunnel_err err)
{
	int status = tunnel_err_status(err);
	out[0] = REV_MSG_FAILED;
	put_be64(out + 1, id);
	out[TUNNEL_REV_MSG_LEN] = (uint8_t)(status >> 8);
	out[TUNNEL_REV_MSG_LEN + 1] = (uint8_t)status;
}

/* What an exit may say about a dial it could not make. */
static bool exit_failure(enum tunnel_err e)
{
	return e == TUNNEL_ERR_FORBIDDEN || e == TUNNEL_ERR_NOT_FOUND || e == TUNNEL_ERR_GENERAL ||
	       e == TUNNEL_ERR_REFUSED || e == TUNNEL_ERR_UNREACHABLE || e == TUNNEL_ERR_TIMEOUT;
}

/* The address of a DIAL at p (n bytes after the type byte) into d; -1
 * unless it fills the message exactly. */
static int parse_dest(const uint8_t *p, size_t n, uint8_t atyp, struct tunnel_exit_dest *d)
{
	size_t alen;
	d->atyp = atyp;
	if (atyp == TUNNEL_EXIT_IPV4 || atyp == TUNNEL_EXIT_IPV6) {
		alen = atyp == TUNNEL_EXIT_IPV4 ? 4 : 16;
		if (n != alen + 2)
			return -1;
		inet_ntop(atyp == TUNNEL_EXIT_IPV4 ? AF_INET : AF_INET6, p, d->host, sizeof(d->host));
	} else if (atyp == TUNNEL_EXIT_NAME) {
		if (n < 1)
			return -1;
		alen = 1 + (size_t)p[0];
		if (p[0] == 0 || n != alen + 2)
			return -1;
		for (size_t i = 1; i < alen; i++)
			if (!name_char((char)p[i]))
				return -1;
		memcpy(d->host, p + 1, alen - 1);
		d->host[alen - 1] = '\0';
	} else {
		return -1;
	}
	d->port = (uint16_t)(p[alen] << 8 | p[alen + 1]);
	return d->port ? 0 : -1;
}

int tunnel_exit_parse(const uint8_t *p, size_t n, struct tunnel_exit_msg *m)
{
	if (n < TUNNEL_REV_MSG_LEN)
		return -1;
	memset(m, 0, sizeof(*m));
	m->op = p[0];
	m->id = get_be64(p + 1);
	if (m->op >= REV_MSG_CONNECTION && m->op <= REV_MSG_ACCEPTED)
		return n == TUNNEL_REV_MSG_LEN ? 0 : -1;
	if (m->op == REV_MSG_FAILED) {
		int status = n == TUNNEL_EXIT_FAILED_LEN ? p[9] << 8 | p[10] : 0;
		m->err = tunnel_status_err(status);
		return status && tunnel_err_status(m->err) == status && exit_failure(m->err) ? 0 : -1;
	}
	if (m->op != REV_MSG_DIAL || n < TUNNEL_REV_MSG_LEN + 1)
		return -1;
	return parse_dest(p + TUNNEL_REV_MSG_LEN + 1, n - TUNNEL_REV_MSG_LEN - 1,
	                  p[TUNNEL_REV_MSG_LEN], &m->dest);
}
