/* socks.h — SOCKS server side: SOCKS5 (RFC 1928) with username/password
 * (RFC 1929), and SOCKS4 / SOCKS4a (the NEC protocol notes, ssh -D's
 * reading): a feed-style parser of greeting, sub-negotiation and request,
 * told apart by the first byte, and builders for every reply. Pure: no
 * sockets, no malloc; results are slices into the caller's buffer. The
 * caller owns the bytes and the connection. */
#ifndef WSF_PROTO_SOCKS_H
#define WSF_PROTO_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKS_VERSION 5      /* RFC 1928 §3 */
#define SOCKS_AUTH_VERSION 1 /* RFC 1929 §2 */
#define SOCKS4_VERSION 4     /* SOCKS4 VN; its replies carry VN 0 */

/* Every length on the wire is one octet, so each message is bounded:
 * greeting 2 + 255, auth 3 + 255 + 255, request 4 + 1 + 255 + 2. A caller
 * holding SOCKS_MAX_MESSAGE bytes never gets SOCKS_NEED_MORE. */
#define SOCKS_MAX_GREETING 257
#define SOCKS_MAX_AUTH 513
#define SOCKS_MAX_REQUEST 262
/* SOCKS4: VN CD DSTPORT(2) DSTIP(4) USERID NUL, then for SOCKS4a (DSTIP
 * 0.0.0.x, x != 0) the name and a NUL. Neither field has a length on the
 * wire: we bound each at 255 bytes like SOCKS5's, so 8 + 256 + 256. */
#define SOCKS4_MAX_FIELD 255
#define SOCKS4_MAX_REQUEST (8 + 2 * (SOCKS4_MAX_FIELD + 1))
#define SOCKS_MAX_MESSAGE SOCKS4_MAX_REQUEST
#define SOCKS_MAX_DOMAIN 255 /* RFC 1928 §5: one length octet */
#define SOCKS_METHOD_REPLY_LEN 2 /* RFC 1928 §3: VER METHOD */
#define SOCKS_AUTH_REPLY_LEN 2   /* RFC 1929 §2: VER STATUS */
#define SOCKS_MAX_REPLY 22       /* RFC 1928 §6: 4 + 16 (IPv6) + 2 */
#define SOCKS4_REPLY_LEN 8       /* VN(0) CD DSTPORT DSTIP */
#define SOCKS_HOST_TEXT_MAX 256  /* SOCKS_MAX_DOMAIN + NUL; > INET6_ADDRSTRLEN */

/* RFC 1928 §3 method numbers. */
enum socks_method {
	SOCKS_METHOD_NO_AUTH = 0x00,
	SOCKS_METHOD_GSSAPI = 0x01,
	SOCKS_METHOD_USERPASS = 0x02, /* RFC 1929 */
	SOCKS_METHOD_NONE_ACCEPTABLE = 0xFF,
};

/* Bit of a method in socks_event.methods (methods 0..31 are recorded). */
#define SOCKS_METHOD_BIT(m) (UINT32_C(1) << (m))

/* RFC 1928 §4 commands (SOCKS4's CD uses 1 and 2 alike); CONNECT and (SOCKS5)
 * UDP ASSOCIATE are served. */
enum socks_cmd {
	SOCKS_CMD_CONNECT = 0x01,
	SOCKS_CMD_BIND = 0x02,
	SOCKS_CMD_UDP_ASSOCIATE = 0x03,
};

/* RFC 1928 §4/§5 address types. */
enum socks_atyp {
	SOCKS_ATYP_IPV4 = 0x01,
	SOCKS_ATYP_DOMAIN = 0x03,
	SOCKS_ATYP_IPV6 = 0x04,
};

/* RFC 1928 §6 REP field. */
enum socks_rep {
	SOCKS_REP_SUCCEEDED = 0x00,
	SOCKS_REP_GENERAL_FAILURE = 0x01,
	SOCKS_REP_NOT_ALLOWED = 0x02,     /* connection not allowed by ruleset */
	SOCKS_REP_NET_UNREACHABLE = 0x03,
	SOCKS_REP_HOST_UNREACHABLE = 0x04,
	SOCKS_REP_CONN_REFUSED = 0x05,
	SOCKS_REP_TTL_EXPIRED = 0x06,
	SOCKS_REP_CMD_UNSUPPORTED = 0x07,
	SOCKS_REP_ATYP_UNSUPPORTED = 0x08,
};

/* SOCKS4 reply CD: granted, or rejected or failed (0x5C/0x5D are about
 * identd, which we never ask). */
enum socks4_rep {
	SOCKS4_REP_GRANTED = 0x5A,
	SOCKS4_REP_REJECTED = 0x5B,
};

/* Parser results. Errors are negative and sticky: after one, every feed
 * returns it again. socks_error_reply() writes what to send before closing. */
enum socks_rc {
	SOCKS_NEED_MORE = 0,            /* no whole message yet: feed it again, longer */
	SOCKS_EVENT = 1,                /* *ev is filled */
	SOCKS_ERR_VERSION = -1,         /* first byte neither 4 nor 5 (HTTP? TLS?) */
	SOCKS_ERR_NO_METHODS = -2,      /* NMETHODS 0: answered 05 FF */
	SOCKS_ERR_NO_ACCEPTABLE = -3,   /* the caller chose 0xFF */
	SOCKS_ERR_AUTH_VERSION = -4,    /* RFC 1929 VER != 1 */
	SOCKS_ERR_AUTH_FAILED = -5,     /* the caller refused the credentials */
	SOCKS_ERR_REQUEST_VERSION = -6, /* request VER != 5 */
	SOCKS_ERR_CMD_UNSUPPORTED = -7, /* CMD not CONNECT or UDP ASSOCIATE: REP 0x07 */
	SOCKS_ERR_BAD_RSV = -8,         /* RSV not 0x00 */
	SOCKS_ERR_ATYP_UNSUPPORTED = -9, /* ATYP not 1, 3, 4: REP 0x08 */
	SOCKS_ERR_EMPTY_DOMAIN = -10,   /* domain of length 0 */
	SOCKS_ERR_BAD_DOMAIN = -11,     /* NUL, space, control or DEL byte in the domain */
	SOCKS_ERR_PORT_ZERO = -12,      /* DST.PORT 0 (CONNECT; a UDP datagram's) */
	SOCKS_ERR_STATE = -13,          /* fed while a decision was pending, or after the request */
	/* SOCKS4: each answered with CD 0x5B */
	SOCKS_ERR_V4_CMD = -14,         /* CD not CONNECT (BIND, unknown) */
	SOCKS_ERR_V4_PORT_ZERO = -15,   /* DSTPORT 0 */
	SOCKS_ERR_V4_TOO_LONG = -16,    /* user id or name over SOCKS4_MAX_FIELD */
	SOCKS_ERR_V4_BAD_DOMAIN = -17,  /* SOCKS4a name empty, or space, control or DEL */
	/* SOCKS5 UDP datagrams (socks_udp_parse): dropped, nothing answered */
	SOCKS_ERR_UDP_SHORT = -18,      /* shorter than its header */
	SOCKS_ERR_UDP_FRAG = -19,       /* FRAG not 0: fragments are refused */
};

enum socks_ev_type {
	SOCKS_EV_GREETING = 0, /* methods: answer with socks_choose_method() */
	SOCKS_EV_AUTH,         /* user/pass: answer with socks_auth_verdict() */
	SOCKS_EV_REQUEST,      /* cmd/atyp/host/port: answer with socks_reply()
	                        * (version 5) or socks4_reply() (version 4) */
};

struct socks_slice {
	const uint8_t *p;
	size_t len;
};

struct socks_event {
	enum socks_ev_type type;
	uint32_t methods;        /* GREETING: SOCKS_METHOD_BIT(m) for each m < 32 offered */
	struct socks_slice user; /* AUTH: 0..255 bytes, as sent; version 4 REQUEST:
	                          * the user id (0..255 bytes, ignored by -D) */
	struct socks_slice pass; /* AUTH: 0..255 bytes, as sent */
	uint8_t cmd;             /* REQUEST: CONNECT, or UDP_ASSOCIATE (version 5) */
	uint8_t atyp;            /* REQUEST: enum socks_atyp */
	uint8_t version;         /* REQUEST: 5, or 4 for SOCKS4 / SOCKS4a */
	uint16_t port;           /* REQUEST: host order; 0 only for UDP_ASSOCIATE */
	struct socks_slice host; /* REQUEST: 4 or 16 address bytes, or a domain of
	                          * 1..255 bytes without NUL, space or CTL (not
	                          * NUL-terminated); version 4: IPV4 or DOMAIN */
};

/* A zero-filled struct is a parser waiting for the greeting (SOCKS5) or
 * the request (SOCKS4: one message, no greeting). It is a few bytes: every
 * message is consumed whole, so no partial message is kept. */
struct socks_parser {
	uint8_t state;   /* private: where in the handshake we are */
	uint8_t method;  /* the method chosen by the caller */
	uint8_t version; /* 4 or 5 once the first byte told, else 0 */
	int8_t err;      /* sticky enum socks_rc error, 0 if none */
};

/* Consumes at most one whole message from in[0..len) and reports it. The
 * first byte picks the protocol: 5 a SOCKS5 greeting, 4 a SOCKS4(a)
 * request (its REQUEST event comes at once: no greeting, no auth), anything
 * else is SOCKS_ERR_VERSION (answer nothing, close). *used
 * is 0 unless a message was complete: the caller keeps every byte not used
 * (e.g. a TLS ClientHello a client pipelined behind its request) and feeds
 * it again with more appended. After GREETING the caller MUST call
 * socks_choose_method(), after AUTH socks_auth_verdict(), before feeding
 * again; after REQUEST the handshake is over and the rest is payload:
 * feeding then, or before a pending decision, is SOCKS_ERR_STATE. The
 * slices in *ev point into in: use them before those bytes are moved. */
enum socks_rc socks_parser_feed(struct socks_parser *p, const uint8_t *in, size_t len,
                                size_t *used, struct socks_event *ev);

/* The method to choose for an offer: with credentials configured USERPASS
 * or nothing; without, NO_AUTH, else USERPASS when that is all the client
 * offers (then any credentials are accepted), else NONE_ACCEPTABLE. */
uint8_t socks_pick_method(uint32_t offered, bool have_credentials);

/* Records the choice and writes the 2-byte method selection (RFC 1928 §3)
 * into out; returns SOCKS_METHOD_REPLY_LEN. Choosing NONE_ACCEPTABLE makes
 * the parser fail with SOCKS_ERR_NO_ACCEPTABLE: send the reply and close. */
size_t socks_choose_method(struct socks_parser *p, uint8_t method,
                           uint8_t out[SOCKS_METHOD_REPLY_LEN]);

/* Records the verdict on an AUTH event and writes the RFC 1929 §2 status
 * (00 success, 01 failure) into out; returns SOCKS_AUTH_REPLY_LEN. A refusal
 * makes the parser fail with SOCKS_ERR_AUTH_FAILED: send it and close. */
size_t socks_auth_verdict(struct socks_parser *p, bool ok, uint8_t out[SOCKS_AUTH_REPLY_LEN]);

/* The -D port's credential check (RFC 1929 here, HTTP Basic in proxy.c):
 * both fields compared in time that depends on the lengths only, never on
 * where they differ. want_user / want_pass are NUL-terminated. */
bool socks_auth_match(struct socks_slice user, struct socks_slice pass, const char *want_user,
                      const char *want_pass);
/* Constant-time equality of got[0..got_len) and want[0..want_len); the time
 * depends on want_len only. */
bool socks_ct_equal(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len);

/* Writes a request reply (RFC 1928 §6): VER REP RSV ATYP BND.ADDR BND.PORT.
 * atyp SOCKS_ATYP_IPV4 with 4 bytes or SOCKS_ATYP_IPV6 with 16 bytes at
 * addr; addr NULL means 0.0.0.0:0 whatever atyp and port say. Returns the
 * length (10 or 22), or 0 for another atyp. */
size_t socks_reply(uint8_t out[SOCKS_MAX_REPLY], enum socks_rep rep, enum socks_atyp atyp,
                   const uint8_t *addr, uint16_t port);

/* RFC 1928 §7: the header of a UDP datagram a client sends through an
 * association: RSV(2) FRAG ATYP DST.ADDR DST.PORT, then the payload. */
struct socks_udp_hdr {
	uint8_t atyp;            /* enum socks_atyp */
	uint16_t port;           /* host order, never 0 */
	struct socks_slice host; /* as in a request: address bytes or a domain */
	size_t len;              /* header bytes: the payload starts at in + len */
};
/* Parses a whole datagram's header (datagrams come whole: no feeding).
 * SOCKS_EVENT with *h, or an error (FRAG not 0, too short, bad ATYP or
 * domain, port 0) for a datagram to drop. */
enum socks_rc socks_udp_parse(const uint8_t *in, size_t len, struct socks_udp_hdr *h);

/* Writes a SOCKS4 reply: VN 0, CD rep, DSTPORT and DSTIP zero (the client
 * ignores them for CONNECT). Returns SOCKS4_REPLY_LEN. */
size_t socks4_reply(uint8_t out[SOCKS4_REPLY_LEN], enum socks4_rep rep);

/* What to send for a parser error before closing: 05 FF for NO_METHODS,
 * 01 01 for AUTH_VERSION, a request reply with the matching REP (0x07,
 * 0x08, else 0x01) for request errors, a SOCKS4 reply with 0x5B for the
 * SOCKS4 errors, nothing (0) when the error left no message to answer or
 * its reply was already built. */
size_t socks_error_reply(enum socks_rc rc, uint8_t out[SOCKS_MAX_REPLY]);

/* Host of a REQUEST event as text: dotted quad, RFC 5952 IPv6 (no
 * brackets) or the domain, NUL-terminated. Returns its length, 0 when cap
 * is too small (SOCKS_HOST_TEXT_MAX always suffices). */
size_t socks_host_text(const struct socks_event *ev, char *out, size_t cap);

const char *socks_strerror(enum socks_rc rc);
/* RFC 1928 §6 wording of a REP code, for logs. */
const char *socks_rep_text(enum socks_rep rep);

#endif
