/* tunnel.h — wsferry's own tunnel protocol on top of RFC 6455 (man/wsferry-
 * protocol.7): the request blob that rides in the upgrade's Cookie, and the
 * mapping of dial outcomes to HTTP statuses, SOCKS replies and proxy statuses.
 * Pure: encode/decode only, no I/O, no clock (time is an argument). */
#ifndef WSF_PROTO_TUNNEL_H
#define WSF_PROTO_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/auth.h"
#include "proto/http.h"
#include "proto/ws.h"

#define TUNNEL_VERSION 1
#define TUNNEL_NONCE_LEN 16
#define TUNNEL_MAX_TARGET 263 /* "[" 255-char host "]:" 5-digit port */
/* The longest target of any kind: an exit open's "NAME:PASSWORD HOST:PORT"
 * (every other kind stays within TUNNEL_MAX_TARGET, checked both ways). */
#define TUNNEL_MAX_WIRE_TARGET \
	(TUNNEL_CHANNEL_NAME_MAX + 1 + TUNNEL_CHANNEL_PASS_MAX + 1 + TUNNEL_MAX_TARGET)
#define TUNNEL_COOKIE_NAME "sid"
/* version kind flags time(8) nonce(16) len(2) target + room for a MAC later */
#define TUNNEL_BLOB_MAX (1 + 1 + 1 + 8 + TUNNEL_NONCE_LEN + 2 + TUNNEL_MAX_WIRE_TARGET + 32)
#define TUNNEL_COOKIE_MAX (sizeof(TUNNEL_COOKIE_NAME) + ((TUNNEL_BLOB_MAX * 4 + 2) / 3) + 1)

enum tunnel_kind {
	TUNNEL_CONNECT = 0,        /* dial target, relay bytes */
	TUNNEL_REVERSE_LISTEN = 1, /* -R: server listens on target (BIND:PORT) */
	TUNNEL_REVERSE_ACCEPT = 2, /* -R: carry the accepted connection (or UDP flow)
	                            * named by target */
	TUNNEL_UDP = 3,            /* a UDP flow to target: one binary message per
	                            * datagram, both ways (-L udp://, SOCKS5 UDP) */
	TUNNEL_UDP_LISTEN = 4,     /* -R udp://: server binds UDP on target; each
	                            * new source is announced like a connection */
	TUNNEL_CHANNEL_REGISTER = 5, /* -R tcp://NAME@: target "NAME:PASSWORD"; a
	                              * control channel as for REVERSE_LISTEN */
	TUNNEL_CHANNEL_OPEN = 6,     /* -L tcp://NAME@: reach the channel named by
	                              * target "NAME:PASSWORD" */
	TUNNEL_CHANNEL_ACCEPT = 7,   /* the registering client carries the open
	                              * announced under target (16 hex digits) */
	TUNNEL_ROUTE_REGISTER = 8,   /* -R http://: target a route rule
	                              * (proto/route.h); a control channel */
	TUNNEL_ROUTE_ACCEPT = 9,     /* the registering client carries the request
	                              * announced under target (16 hex digits) */
	TUNNEL_EXIT_REGISTER = 10,   /* -R tunnel://NAME@: as CHANNEL_REGISTER, for
	                              * an exit that dials what each open names */
	TUNNEL_EXIT_OPEN = 11,       /* -D socks5://NAME@: target "NAME:PASSWORD
	                              * HOST:PORT" (proto/tunnel_exit.h); carried
	                              * by a CHANNEL_ACCEPT */
	TUNNEL_POOLED = 12,          /* --pool: an idle connection kept ready; its
	                              * request (a CONNECT blob, proto/pool.h) is
	                              * its first message */
	TUNNEL_MUX = 13,             /* --mux: a carrier (proto/mux.h); no target,
	                              * each stream's OPEN carries its own request */
	TUNNEL_KIND_MAX = 13,
};

/* -R control channel messages (binary, 9 bytes: op, 64-bit id big-endian). */
enum tunnel_rev_msg {
	REV_MSG_CONNECTION = 1, /* server -> client: a connection waits under id */
	REV_MSG_REFUSED = 2,    /* client -> server: its destination refused id */
	REV_MSG_ACCEPTED = 3,   /* client -> server: id announced, dialling now (a
	                         * channel or route whose client says nothing
	                         * within 750 ms is taken for gone) */
	REV_MSG_DIAL = 4,       /* server -> exit: as CONNECTION, with the
	                         * destination (proto/tunnel_exit.h) */
	REV_MSG_FAILED = 5,     /* exit -> server: id could not be dialled, with
	                         * the wire status of why */
};
#define TUNNEL_REV_ID_HEX 16 /* REVERSE_ACCEPT names the id as 16 hex digits */
#define TUNNEL_REV_MSG_LEN 9

/* Channels (client to client through the server): NAME is 1..64 of
 * [A-Za-z0-9._-], PASSWORD 0..128 printable ASCII bytes without spaces. */
#define TUNNEL_CHANNEL_NAME_MAX 64
#define TUNNEL_CHANNEL_PASS_MAX 128
/* Splits target "NAME[:PASSWORD]" (the password may be empty). 0, or -1
 * when either part breaks the rules above. name and pass are NUL-terminated. */
int tunnel_channel_split(const char *target, size_t n, char name[TUNNEL_CHANNEL_NAME_MAX + 1],
                         char pass[TUNNEL_CHANNEL_PASS_MAX + 1]);

void tunnel_rev_msg(uint8_t out[TUNNEL_REV_MSG_LEN], enum tunnel_rev_msg op, uint64_t id);
/* The id a claim names: exactly TUNNEL_REV_ID_HEX hex digits in n bytes
 * (no sscanf: it would pull musl's scanf into the static binary). 0 with
 * *id, or -1. */
int tunnel_rev_id_parse(const char *s, size_t n, uint64_t *id);
/* 0 with *op and *id, or -1 for anything that is not one of our messages. */
int tunnel_rev_parse(const uint8_t *p, size_t n, uint8_t *op, uint64_t *id);

#define TUNNEL_FLAG_AUTH 0x01    /* target encrypted, MAC appended (with a key) */
#define TUNNEL_FLAG_ENCRYPT 0x02 /* --encrypt: payload in sealed records (proto/seal.h) */
#define TUNNEL_FLAG_MUX_BIG 0x04 /* TUNNEL_MUX: the client takes big DATA (proto/mux.h);
                                  * servers before it ignore the bit */

struct tunnel_req {
	uint8_t kind;   /* enum tunnel_kind */
	uint8_t flags;  /* TUNNEL_FLAG_* */
	uint64_t timestamp; /* unix seconds when the client made the request */
	uint8_t nonce[TUNNEL_NONCE_LEN];
	size_t target_len;  /* 0 (TUNNEL_CONNECT: the server's fixed --to;
	                     * TUNNEL_POOLED, TUNNEL_MUX) */
	char target[TUNNEL_MAX_WIRE_TARGET + 1]; /* NUL-terminated; at most
	                                          * tunnel_target_max(kind) */
};

/* The longest target a request of kind may carry. */
size_t tunnel_target_max(uint8_t kind);

/* Writes the Cookie value "NAME=<base64url blob>" (NUL-terminated) into
 * out: with keys, the target is encrypted, a MAC appended and NAME is the
 * key's cookie name; without, NAME is TUNNEL_COOKIE_NAME. Returns its length
 * or 0 when cap is too small or the target too long. */
size_t tunnel_req_encode(const struct tunnel_req *r, const struct auth_keys *keys, char *out,
                         size_t cap);

enum tunnel_decode_rc {
	TUNNEL_DECODED = 0,
	TUNNEL_NO_COOKIE = -1,  /* absent or not a blob of ours */
	TUNNEL_BAD_MAC = -2,    /* with a key: forged, or another key */
};

/* Finds our cookie in the request's Cookie headers and decodes (with keys:
 * verifies, then decrypts) it. Freshness and replay are the caller's. */
enum tunnel_decode_rc tunnel_req_from_http(const struct http_request *req,
                                           const struct auth_keys *keys, struct tunnel_req *r);

/* What a client checks in the server's answer: the WebSocket accept for
 * key, and with keys the proof bound to the request nonce and the status. */
struct tunnel_expect {
	char key[WS_KEY_LEN + 1];
	const struct auth_keys *keys; /* NULL: no proof expected */
	uint8_t nonce[TUNNEL_NONCE_LEN]; /* the request's */
};

enum tunnel_101_rc {
	TUNNEL_101_OK = 0,
	TUNNEL_101_BAD_WS = -1,    /* not a valid WebSocket 101 for our key */
	TUNNEL_101_NO_PROOF = -2,  /* the server could not prove it holds the key */
};

enum tunnel_101_rc tunnel_check_101(const struct http_response *resp,
                                    const struct tunnel_expect *e);
/* TUNNEL_OK, or why a 101 is not accepted. */
enum tunnel_err tunnel_101_err(enum tunnel_101_rc rc);
/* The client's reading of the server's answer: a valid 101, a refusal from
 * a wsferry server (it carries the Sec-WebSocket-Accept of our key, which no
 * ordinary web server sends with an error, and with keys the proof for its
 * status: an unproven refusal is TUNNEL_ERR_SERVER_FAKE), or
 * TUNNEL_ERR_NOT_WSFERRY. */
enum tunnel_err tunnel_response_err(const struct http_response *resp,
                                    const struct tunnel_expect *e);
/* A wsferry server's refusal: status for err, the accept of the client's
 * key (and the key proof with keys), no body. Length or 0. */
size_t tunnel_refusal(enum tunnel_err err, const char *ws_key, size_t ws_key_len,
                      const struct auth_keys *keys, const uint8_t nonce[16], char *out,
                      size_t cap);
/* The Set-Cookie line a keyed server adds to its answer with status (""
 * without keys). */
size_t tunnel_proof_header(const struct auth_keys *keys, const uint8_t nonce[16], int status,
                           char *out, size_t cap);

/* The request blob itself (binary, as proto/pool.h sends it): its length,
 * or 0 when the target is too long. */
size_t tunnel_blob_encode(const struct tunnel_req *r, const struct auth_keys *keys,
                          uint8_t blob[TUNNEL_BLOB_MAX]);
/* Decodes n bytes of blob (verifying with keys if given). */
enum tunnel_decode_rc tunnel_blob_decode(const uint8_t *blob, size_t n,
                                         const struct auth_keys *keys, struct tunnel_req *r);
/* Decodes the base64url text of a blob (verifying with keys if given). */
enum tunnel_decode_rc tunnel_req_decode(const char *text, size_t len,
                                        const struct auth_keys *keys, struct tunnel_req *r);

/* Outcome of the server's dial, as the server reports it and every front
 * end translates it (SPEC.md "No extra round trip"). */
enum tunnel_err {
	TUNNEL_OK = 0,
	TUNNEL_ERR_GENERAL,     /* 500 -> SOCKS 0x01 / HTTP 502 */
	TUNNEL_ERR_FORBIDDEN,   /* 403 -> SOCKS 0x02 / HTTP 403 */
	TUNNEL_ERR_UNREACHABLE, /* 503 -> SOCKS 0x04 / HTTP 502 */
	TUNNEL_ERR_NOT_FOUND,   /* 404 -> SOCKS 0x04 / HTTP 502 (name not found) */
	TUNNEL_ERR_REFUSED,     /* 502 -> SOCKS 0x05 / HTTP 502 */
	TUNNEL_ERR_TIMEOUT,     /* 504 -> SOCKS 0x06 / HTTP 504 */
	TUNNEL_ERR_BAD_TARGET,  /* 400 -> SOCKS 0x01 / HTTP 400 */
	TUNNEL_ERR_IN_USE,      /* 409 -> -R port already bound on the server */
	TUNNEL_ERR_ENCRYPT,     /* 412 -> --encrypt on one side only (or not ws://) */
	TUNNEL_ERR_NO_EXIT,     /* 410 -> SOCKS 0x03 / HTTP 502: no such exit, a
	                         * wrong password, or the exit client is gone */
	/* Client side only, never on the wire (SOCKS 0x01 / HTTP 502): */
	TUNNEL_ERR_SERVER_DOWN,   /* the wsferry server cannot be reached */
	TUNNEL_ERR_SERVER_SILENT, /* it closed without answering the upgrade */
	TUNNEL_ERR_SERVER_FAKE,   /* its 101 lacks the proof of our key */
	TUNNEL_ERR_NOT_WSFERRY,   /* an HTTP answer from something else */
	TUNNEL_ERR_TLS,           /* the TLS handshake with the server failed */
};

int tunnel_err_status(enum tunnel_err e);          /* wire status */
enum tunnel_err tunnel_status_err(int status);     /* client side */
uint8_t tunnel_err_socks_rep(enum tunnel_err e);   /* RFC 1928 §6 REP */
int tunnel_err_proxy_status(enum tunnel_err e);    /* local HTTP proxy */
const char *tunnel_err_text(enum tunnel_err e);    /* one sentence */
/* errno of a failed connect() -> outcome. */
enum tunnel_err tunnel_err_from_errno(int err);

/* Splits "host:port" / "[v6]:port" into host (no brackets) and port.
 * 0 or -1. */
int tunnel_target_split(const char *s, size_t n, char *host, size_t host_cap, uint16_t *port);

#endif
