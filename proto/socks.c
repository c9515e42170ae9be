/* socks.c — SOCKS server handshake (RFC 1928, RFC 1929, SOCKS4/4a):
 * whole-message parsing, reply builders, the -D port's constant-time
 * credential check.
 * Owns only the few bytes of parser state the caller embeds; never
 * allocates, logs, or touches a socket. */
#include "proto/socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h> /* AF_INET* for inet_ntop only */

/* Where the handshake is; the zero state waits for the greeting. */
enum socks_state {
	SOCKS_ST_GREETING = 0,
	SOCKS_ST_CHOOSE,  /* greeting reported, caller picks a method */
	SOCKS_ST_AUTH,    /* RFC 1929 sub-negotiation expected */
	SOCKS_ST_VERDICT, /* credentials reported, caller decides */
	SOCKS_ST_REQUEST,
	SOCKS_ST_DONE,    /* request reported: the rest is payload */
};

#define SOCKS4_FIXED 8 /* VN CD DSTPORT(2) DSTIP(4) */

#define SOCKS_IPV4_LEN 4
#define SOCKS_IPV6_LEN 16
#define SOCKS_PORT_LEN 2
#define SOCKS_REQUEST_FIXED 4 /* VER CMD RSV ATYP */
#define SOCKS_UDP_FIXED 4     /* RSV(2) FRAG ATYP: the same offsets as a request */

static enum socks_rc fail(struct socks_parser *p, enum socks_rc rc)
{
	p->err = (int8_t)rc;
	return rc;
}

/* Reports a whole message of size bytes as consumed. */
static enum socks_rc emit(struct socks_parser *p, enum socks_state next, size_t size,
                          size_t *used)
{
	p->state = (uint8_t)next;
	*used = size;
	return SOCKS_EVENT;
}

/* RFC 1928 §3: VER NMETHODS METHODS(1..255). */
static enum socks_rc read_greeting(struct socks_parser *p, const uint8_t *in, size_t len,
                                   size_t *used, struct socks_event *ev)
{
	if (len >= 1 && in[0] != SOCKS_VERSION)
		return fail(p, SOCKS_ERR_VERSION);
	if (len >= 2 && in[1] == 0)
		return fail(p, SOCKS_ERR_NO_METHODS);
	if (len < 2 || len < 2 + (size_t)in[1])
		return SOCKS_NEED_MORE;

	ev->type = SOCKS_EV_GREETING;
	ev->methods = 0;
	for (size_t i = 0; i < in[1]; i++)
		if (in[2 + i] < 32)
			ev->methods |= SOCKS_METHOD_BIT(in[2 + i]);
	return emit(p, SOCKS_ST_CHOOSE, 2 + (size_t)in[1], used);
}

/* RFC 1929 §2: VER ULEN UNAME PLEN PASSWD. Empty fields pass the grammar
 * check here; the credential check refuses them like any other mismatch. */
static enum socks_rc read_auth(struct socks_parser *p, const uint8_t *in, size_t len,
                               size_t *used, struct socks_event *ev)
{
	if (len >= 1 && in[0] != SOCKS_AUTH_VERSION)
		return fail(p, SOCKS_ERR_AUTH_VERSION);
	if (len < 2)
		return SOCKS_NEED_MORE;
	size_t ulen = in[1];
	if (len < 3 + ulen)
		return SOCKS_NEED_MORE;
	size_t plen = in[2 + ulen];
	if (len < 3 + ulen + plen)
		return SOCKS_NEED_MORE;

	ev->type = SOCKS_EV_AUTH;
	ev->user = (struct socks_slice){ in + 2, ulen };
	ev->pass = (struct socks_slice){ in + 3 + ulen, plen };
	return emit(p, SOCKS_ST_VERDICT, 3 + ulen + plen, used);
}

static bool atyp_known(uint8_t atyp)
{
	return atyp == SOCKS_ATYP_IPV4 || atyp == SOCKS_ATYP_DOMAIN || atyp == SOCKS_ATYP_IPV6;
}

/* Checks the request's fixed fields as soon as each has arrived, in wire
 * order, so the first bad byte decides the error whatever the split. */
static enum socks_rc check_request_fixed(const uint8_t *in, size_t len)
{
	if (len > 0 && in[0] != SOCKS_VERSION)
		return SOCKS_ERR_REQUEST_VERSION;
	if (len > 1 && in[1] != SOCKS_CMD_CONNECT && in[1] != SOCKS_CMD_UDP_ASSOCIATE)
		return SOCKS_ERR_CMD_UNSUPPORTED; /* BIND, unknown: REP 0x07 */
	if (len > 2 && in[2] != 0x00)
		return SOCKS_ERR_BAD_RSV; /* RFC 1928 §4: RSV X'00' */
	if (len > 3 && !atyp_known(in[3]))
		return SOCKS_ERR_ATYP_UNSUPPORTED;
	if (len > 4 && in[3] == SOCKS_ATYP_DOMAIN && in[4] == 0)
		return SOCKS_ERR_EMPTY_DOMAIN;
	return SOCKS_NEED_MORE;
}

/* Whole request size once ATYP (and a domain's length) arrived, else 0. */
static size_t request_size(const uint8_t *in, size_t len)
{
	if (len <= 3)
		return 0;
	if (in[3] == SOCKS_ATYP_IPV4)
		return SOCKS_REQUEST_FIXED + SOCKS_IPV4_LEN + SOCKS_PORT_LEN;
	if (in[3] == SOCKS_ATYP_IPV6)
		return SOCKS_REQUEST_FIXED + SOCKS_IPV6_LEN + SOCKS_PORT_LEN;
	if (len <= 4)
		return 0;
	return SOCKS_REQUEST_FIXED + 1 + (size_t)in[4] + SOCKS_PORT_LEN;
}

/* The domain travels on as text in the tunnel request: NUL would cut it,
 * spaces and control bytes have no place in a name that can be resolved. */
static bool domain_ok(struct socks_slice d)
{
	for (size_t i = 0; i < d.len; i++)
		if (d.p[i] <= 0x20 || d.p[i] == 0x7f)
			return false;
	return true;
}

/* RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT (network order). */
static enum socks_rc read_request(struct socks_parser *p, const uint8_t *in, size_t len,
                                  size_t *used, struct socks_event *ev)
{
	enum socks_rc rc = check_request_fixed(in, len);
	if (rc != SOCKS_NEED_MORE)
		return fail(p, rc);
	size_t size = request_size(in, len);
	if (size == 0 || len < size)
		return SOCKS_NEED_MORE;

	bool domain = in[3] == SOCKS_ATYP_DOMAIN;
	struct socks_slice host = { in + SOCKS_REQUEST_FIXED + domain,
		                        size - SOCKS_REQUEST_FIXED - domain - SOCKS_PORT_LEN };
	if (domain && !domain_ok(host))
		return fail(p, SOCKS_ERR_BAD_DOMAIN);
	uint16_t port = (uint16_t)(in[size - 2] << 8 | in[size - 1]);
	/* §7: a UDP ASSOCIATE client that does not know its port sends 0. */
	if (port == 0 && in[1] != SOCKS_CMD_UDP_ASSOCIATE)
		return fail(p, SOCKS_ERR_PORT_ZERO);

	ev->type = SOCKS_EV_REQUEST;
	ev->version = SOCKS_VERSION;
	ev->cmd = in[1];
	ev->atyp = in[3];
	ev->host = host;
	ev->port = port;
	return emit(p, SOCKS_ST_DONE, size, used);
}

/* A NUL-terminated SOCKS4 field starting at in[at]: its length, or -1 while
 * its NUL has not arrived, or -2 when it is longer than SOCKS4_MAX_FIELD.
 * name: the SOCKS4a host, whose bytes must be resolvable text (-3). */
static long v4_field(const uint8_t *in, size_t len, size_t at, bool name)
{
	for (size_t i = at; i < len; i++) {
		if (in[i] == 0)
			return (long)(i - at);
		if (i - at >= SOCKS4_MAX_FIELD)
			return -2;
		if (name && (in[i] <= 0x20 || in[i] == 0x7f))
			return -3;
	}
	return -1;
}

/* SOCKS4a marks a name to follow by DSTIP 0.0.0.x with x != 0. */
static bool v4_is_4a(const uint8_t ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
}

/* SOCKS4(a): VN CD DSTPORT DSTIP USERID NUL [HOST NUL]. Fields are checked
 * in wire order as they arrive, so the first bad byte decides the error
 * whatever the split. */
static enum socks_rc read_v4(struct socks_parser *p, const uint8_t *in, size_t len,
                             size_t *used, struct socks_event *ev)
{
	if (len > 1 && in[1] != SOCKS_CMD_CONNECT)
		return fail(p, SOCKS_ERR_V4_CMD); /* BIND and the unknown: 0x5B */
	if (len > 3 && in[2] == 0 && in[3] == 0)
		return fail(p, SOCKS_ERR_V4_PORT_ZERO);
	if (len < SOCKS4_FIXED)
		return SOCKS_NEED_MORE;
	long ulen = v4_field(in, len, SOCKS4_FIXED, false);
	if (ulen == -2)
		return fail(p, SOCKS_ERR_V4_TOO_LONG);
	if (ulen < 0)
		return SOCKS_NEED_MORE;
	size_t size = SOCKS4_FIXED + (size_t)ulen + 1;
	struct socks_slice host = { in + 4, 4 };
	uint8_t atyp = SOCKS_ATYP_IPV4;
	if (v4_is_4a(in + 4)) {
		long hlen = v4_field(in, len, size, true);
		if (hlen == -2)
			return fail(p, SOCKS_ERR_V4_TOO_LONG);
		if (hlen == -3 || hlen == 0)
			return fail(p, SOCKS_ERR_V4_BAD_DOMAIN);
		if (hlen < 0)
			return SOCKS_NEED_MORE;
		host = (struct socks_slice){ in + size, (size_t)hlen };
		atyp = SOCKS_ATYP_DOMAIN;
		size += (size_t)hlen + 1;
	}
	ev->type = SOCKS_EV_REQUEST;
	ev->version = SOCKS4_VERSION;
	ev->atyp = atyp;
	ev->cmd = in[1];
	ev->port = (uint16_t)(in[2] << 8 | in[3]);
	ev->host = host;
	ev->user = (struct socks_slice){ in + SOCKS4_FIXED, (size_t)ulen };
	return emit(p, SOCKS_ST_DONE, size, used);
}

/* The first byte says which protocol speaks; it is kept in the parser. */
static enum socks_rc read_first(struct socks_parser *p, const uint8_t *in, size_t len,
                                size_t *used, struct socks_event *ev)
{
	if (len == 0)
		return SOCKS_NEED_MORE;
	if (in[0] != SOCKS_VERSION && in[0] != SOCKS4_VERSION)
		return fail(p, SOCKS_ERR_VERSION);
	p->version = in[0];
	if (in[0] == SOCKS4_VERSION)
		return read_v4(p, in, len, used, ev);
	return read_greeting(p, in, len, used, ev);
}

enum socks_rc socks_parser_feed(struct socks_parser *p, const uint8_t *in, size_t len,
                                size_t *used, struct socks_event *ev)
{
	*used = 0;
	if (p->err)
		return (enum socks_rc)p->err;
	switch (p->state) {
	case SOCKS_ST_GREETING:
		return read_first(p, in, len, used, ev);
	case SOCKS_ST_AUTH:
		return read_auth(p, in, len, used, ev);
	case SOCKS_ST_REQUEST:
		return read_request(p, in, len, used, ev);
	default:
		return fail(p, SOCKS_ERR_STATE);
	}
}

uint8_t socks_pick_method(uint32_t offered, bool have_credentials)
{
	bool userpass = offered & SOCKS_METHOD_BIT(SOCKS_METHOD_USERPASS);

	if (have_credentials)
		return userpass ? SOCKS_METHOD_USERPASS : SOCKS_METHOD_NONE_ACCEPTABLE;
	if (offered & SOCKS_METHOD_BIT(SOCKS_METHOD_NO_AUTH))
		return SOCKS_METHOD_NO_AUTH;
	/* A client set up with credentials may offer nothing else: let it in
	 * rather than fail it, since no credentials are required. */
	return userpass ? SOCKS_METHOD_USERPASS : SOCKS_METHOD_NONE_ACCEPTABLE;
}

size_t socks_choose_method(struct socks_parser *p, uint8_t method,
                           uint8_t out[SOCKS_METHOD_REPLY_LEN])
{
	if (p->err || p->state != SOCKS_ST_CHOOSE) {
		fail(p, p->err ? (enum socks_rc)p->err : SOCKS_ERR_STATE);
		return 0;
	}
	/* Only the two methods we speak; anything else is refused. */
	if (method != SOCKS_METHOD_NO_AUTH && method != SOCKS_METHOD_USERPASS)
		method = SOCKS_METHOD_NONE_ACCEPTABLE;
	out[0] = SOCKS_VERSION;
	out[1] = method;
	p->method = method;
	if (method == SOCKS_METHOD_NONE_ACCEPTABLE)
		fail(p, SOCKS_ERR_NO_ACCEPTABLE); /* §3: the client MUST close */
	else
		p->state = method == SOCKS_METHOD_USERPASS ? SOCKS_ST_AUTH : SOCKS_ST_REQUEST;
	return SOCKS_METHOD_REPLY_LEN;
}

size_t socks_auth_verdict(struct socks_parser *p, bool ok, uint8_t out[SOCKS_AUTH_REPLY_LEN])
{
	if (p->err || p->state != SOCKS_ST_VERDICT) {
		fail(p, p->err ? (enum socks_rc)p->err : SOCKS_ERR_STATE);
		return 0;
	}
	out[0] = SOCKS_AUTH_VERSION;
	out[1] = ok ? 0x00 : 0x01;
	if (ok)
		p->state = SOCKS_ST_REQUEST;
	else
		fail(p, SOCKS_ERR_AUTH_FAILED); /* RFC 1929 §2: the server MUST close */
	return SOCKS_AUTH_REPLY_LEN;
}

bool socks_ct_equal(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	/* Accumulate every difference; no early exit. The index test depends
	 * on the (public) lengths only. */
	unsigned diff = got_len != want_len;

	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned)(want[i] ^ (i < got_len ? got[i] : 0));
	return diff == 0;
}

bool socks_auth_match(struct socks_slice user, struct socks_slice pass, const char *want_user,
                      const char *want_pass)
{
	bool user_ok = socks_ct_equal(user.p, user.len, (const uint8_t *)want_user, strlen(want_user));
	bool pass_ok = socks_ct_equal(pass.p, pass.len, (const uint8_t *)want_pass, strlen(want_pass));

	return user_ok & pass_ok; /* both compared: no short circuit */
}

size_t socks_reply(uint8_t out[SOCKS_MAX_REPLY], enum socks_rep rep, enum socks_atyp atyp,
                   const uint8_t *addr, uint16_t port)
{
	static const uint8_t zero[SOCKS_IPV4_LEN];
	size_t alen;

	if (addr == NULL) {
		atyp = SOCKS_ATYP_IPV4;
		addr = zero;
		port = 0;
	}
	if (atyp == SOCKS_ATYP_IPV4)
		alen = SOCKS_IPV4_LEN;
	else if (atyp == SOCKS_ATYP_IPV6)
		alen = SOCKS_IPV6_LEN;
	else
		return 0;
	out[0] = SOCKS_VERSION;
	out[1] = (uint8_t)rep;
	out[2] = 0x00; /* RSV */
	out[3] = (uint8_t)atyp;
	memcpy(out + SOCKS_REQUEST_FIXED, addr, alen);
	out[SOCKS_REQUEST_FIXED + alen] = (uint8_t)(port >> 8);
	out[SOCKS_REQUEST_FIXED + alen + 1] = (uint8_t)port;
	return SOCKS_REQUEST_FIXED + alen + SOCKS_PORT_LEN;
}

enum socks_rc socks_udp_parse(const uint8_t *in, size_t len, struct socks_udp_hdr *h)
{
	if (len < SOCKS_UDP_FIXED + 1)
		return SOCKS_ERR_UDP_SHORT;
	if (in[2] != 0)
		return SOCKS_ERR_UDP_FRAG; /* §7: fragments are optional; we drop them */
	if (!atyp_known(in[3]))
		return SOCKS_ERR_ATYP_UNSUPPORTED;
	if (in[3] == SOCKS_ATYP_DOMAIN && in[4] == 0)
		return SOCKS_ERR_EMPTY_DOMAIN;
	size_t size = request_size(in, len);
	if (len < size)
		return SOCKS_ERR_UDP_SHORT;
	bool domain = in[3] == SOCKS_ATYP_DOMAIN;
	h->atyp = in[3];
	h->host = (struct socks_slice){ in + SOCKS_UDP_FIXED + domain,
		                            size - SOCKS_UDP_FIXED - domain - SOCKS_PORT_LEN };
	if (domain && !domain_ok(h->host))
		return SOCKS_ERR_BAD_DOMAIN;
	h->port = (uint16_t)(in[size - 2] << 8 | in[size - 1]);
	if (h->port == 0)
		return SOCKS_ERR_PORT_ZERO;
	h->len = size;
	return SOCKS_EVENT;
}

size_t socks4_reply(uint8_t out[SOCKS4_REPLY_LEN], enum socks4_rep rep)
{
	memset(out, 0, SOCKS4_REPLY_LEN);
	out[1] = (uint8_t)rep; /* out[0]: VN 0, the reply's version */
	return SOCKS4_REPLY_LEN;
}

size_t socks_error_reply(enum socks_rc rc, uint8_t out[SOCKS_MAX_REPLY])
{
	switch (rc) {
	case SOCKS_ERR_V4_CMD:
	case SOCKS_ERR_V4_PORT_ZERO:
	case SOCKS_ERR_V4_TOO_LONG:
	case SOCKS_ERR_V4_BAD_DOMAIN:
		return socks4_reply(out, SOCKS4_REP_REJECTED);
	case SOCKS_ERR_NO_METHODS:
		out[0] = SOCKS_VERSION;
		out[1] = SOCKS_METHOD_NONE_ACCEPTABLE;
		return SOCKS_METHOD_REPLY_LEN;
	case SOCKS_ERR_AUTH_VERSION:
		out[0] = SOCKS_AUTH_VERSION;
		out[1] = 0x01;
		return SOCKS_AUTH_REPLY_LEN;
	case SOCKS_ERR_CMD_UNSUPPORTED:
		return socks_reply(out, SOCKS_REP_CMD_UNSUPPORTED, SOCKS_ATYP_IPV4, NULL, 0);
	case SOCKS_ERR_ATYP_UNSUPPORTED:
		return socks_reply(out, SOCKS_REP_ATYP_UNSUPPORTED, SOCKS_ATYP_IPV4, NULL, 0);
	case SOCKS_ERR_REQUEST_VERSION:
	case SOCKS_ERR_BAD_RSV:
	case SOCKS_ERR_EMPTY_DOMAIN:
	case SOCKS_ERR_BAD_DOMAIN:
	case SOCKS_ERR_PORT_ZERO:
		return socks_reply(out, SOCKS_REP_GENERAL_FAILURE, SOCKS_ATYP_IPV4, NULL, 0);
	default:
		return 0; /* greeting VER wrong, or the reply was already built */
	}
}

size_t socks_host_text(const struct socks_event *ev, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	const char *text = ip;
	size_t n;

	if (ev->atyp == SOCKS_ATYP_DOMAIN) {
		text = (const char *)ev->host.p;
		n = ev->host.len;
	} else {
		int af = ev->atyp == SOCKS_ATYP_IPV4 ? AF_INET : AF_INET6;
		if ((ev->atyp != SOCKS_ATYP_IPV4 && ev->atyp != SOCKS_ATYP_IPV6) ||
		    inet_ntop(af, ev->host.p, ip, sizeof ip) == NULL)
			return 0;
		n = strlen(ip);
	}
	if (cap <= n)
		return 0;
	memcpy(out, text, n);
	out[n] = '\0';
	return n;
}

/* Indexed by -rc. */
static const char *const socks_errors[] = {
	[-SOCKS_NEED_MORE] = "SOCKS message incomplete",
	[-SOCKS_ERR_VERSION] = "not SOCKS4 or SOCKS5 (first byte)",
	[-SOCKS_ERR_NO_METHODS] = "SOCKS5 greeting offers no method",
	[-SOCKS_ERR_NO_ACCEPTABLE] = "no acceptable SOCKS5 authentication method",
	[-SOCKS_ERR_AUTH_VERSION] = "bad SOCKS5 username/password version",
	[-SOCKS_ERR_AUTH_FAILED] = "SOCKS5 username/password refused",
	[-SOCKS_ERR_REQUEST_VERSION] = "bad SOCKS5 request version",
	[-SOCKS_ERR_CMD_UNSUPPORTED] = "SOCKS5 command not supported (CONNECT, UDP ASSOCIATE only)",
	[-SOCKS_ERR_BAD_RSV] = "SOCKS5 request reserved byte not zero",
	[-SOCKS_ERR_ATYP_UNSUPPORTED] = "SOCKS5 address type not supported",
	[-SOCKS_ERR_EMPTY_DOMAIN] = "SOCKS5 request with an empty domain name",
	[-SOCKS_ERR_BAD_DOMAIN] = "SOCKS5 domain name holds a NUL, space or control byte",
	[-SOCKS_ERR_PORT_ZERO] = "SOCKS5 request for port 0",
	[-SOCKS_ERR_STATE] = "SOCKS parser fed out of turn",
	[-SOCKS_ERR_V4_CMD] = "SOCKS4 command not supported (CONNECT only)",
	[-SOCKS_ERR_V4_PORT_ZERO] = "SOCKS4 request for port 0",
	[-SOCKS_ERR_V4_TOO_LONG] = "SOCKS4 user id or host name over 255 bytes",
	[-SOCKS_ERR_V4_BAD_DOMAIN] = "SOCKS4a host name empty or holding a space or control byte",
	[-SOCKS_ERR_UDP_SHORT] = "SOCKS5 UDP datagram shorter than its header",
	[-SOCKS_ERR_UDP_FRAG] = "SOCKS5 UDP fragment (not supported)",
};

const char *socks_strerror(enum socks_rc rc)
{
	int i = -(int)rc;

	if (rc == SOCKS_EVENT)
		return "SOCKS message parsed";
	if (i < 0 || (size_t)i >= sizeof socks_errors / sizeof socks_errors[0])
		return "unknown SOCKS error";
	return socks_errors[i];
}

/* RFC 1928 §6 wording. */
static const char *const socks_reps[] = {
	[SOCKS_REP_SUCCEEDED] = "succeeded",
	[SOCKS_REP_GENERAL_FAILURE] = "general SOCKS server failure",
	[SOCKS_REP_NOT_ALLOWED] = "connection not allowed by ruleset",
	[SOCKS_REP_NET_UNREACHABLE] = "network unreachable",
	[SOCKS_REP_HOST_UNREACHABLE] = "host unreachable",
	[SOCKS_REP_CONN_REFUSED] = "connection refused",
	[SOCKS_REP_TTL_EXPIRED] = "TTL expired",
	[SOCKS_REP_CMD_UNSUPPORTED] = "command not supported",
	[SOCKS_REP_ATYP_UNSUPPORTED] = "address type not supported",
};

const char *socks_rep_text(enum socks_rep rep)
{
	if ((unsigned)rep >= sizeof socks_reps / sizeof socks_reps[0])
		return "unassigned";
	return socks_reps[rep];
}
