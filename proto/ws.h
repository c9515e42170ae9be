/* ws.h — RFC 6455: incremental frame parser and framer for both roles, masking,
 * and the opening handshake. Pure byte transformer: no sockets, no malloc,
 * no clock, no logging. Results are slices into the caller's buffer. */
#ifndef WSF_PROTO_WS_H
#define WSF_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

enum ws_close_code {
	WS_CLOSE_NONE = 0, /* no code on the wire (1005 is never sent) */
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,
	WS_CLOSE_ABNORMAL = 1006,
	WS_CLOSE_INVALID_DATA = 1007, /* bad UTF-8 in a text message */
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_EXTENSION = 1010,
	WS_CLOSE_INTERNAL = 1011,
};

#define WS_MAX_CTRL_PAYLOAD 125  /* RFC 6455 §5.5 */
#define WS_MAX_HEADER 14         /* 2 + 8 (64-bit length) + 4 (mask), §5.2 */
#define WS_ACCEPT_LEN 28         /* base64 of a SHA-1, §4.2.2 */
#define WS_KEY_LEN 24            /* base64 of 16 random bytes, §4.1 */

/* Parser results. Errors are negative and sticky: after one, every feed
 * returns it again. ws_rc_close_code() maps each to the close code to send. */
enum ws_rc {
	WS_NEED_MORE = 0,   /* feed more bytes (unused ones included) */
	WS_EVENT = 1,       /* *ev is filled */
	WS_ERR_PROTOCOL = -1,  /* any framing violation: 1002 */
	WS_ERR_UTF8 = -2,      /* text not UTF-8: 1007 */
	WS_ERR_TOO_BIG = -3,   /* message over max_message: 1009 */
	WS_ERR_CLOSED = -4,    /* bytes after a close frame: none to send */
};

enum ws_role {
	WS_ROLE_SERVER = 0, /* parses masked client frames, builds unmasked */
	WS_ROLE_CLIENT = 1, /* parses unmasked server frames, builds masked */
};

enum ws_ev_type {
	WS_EV_DATA = 0, /* a slice of a text/binary message's payload */
	WS_EV_PING,     /* whole ping payload (<= 125 bytes) */
	WS_EV_PONG,     /* whole pong payload */
	WS_EV_CLOSE,    /* close frame: code (0 if absent) and reason */
};

struct ws_event {
	enum ws_ev_type type;
	enum ws_opcode opcode; /* for DATA: TEXT or BINARY (of the message) */
	bool first;            /* DATA: first slice of the message */
	bool fin;              /* DATA: last slice of the message */
	uint16_t close_code;   /* CLOSE: 0 when the frame carried none */
	uint8_t *data;         /* points into the fed buffer, unmasked in place */
	size_t len;
};

/* A zero-filled struct is a server-role parser with no message limit; set
 * role and max_message before the first feed. Stays small (tens of bytes). */
struct ws_parser {
	uint64_t max_message;    /* 0: unlimited */
	uint64_t msg_len;        /* payload bytes of the current message so far */
	uint64_t frame_left;     /* payload bytes left in the current frame */
	uint8_t mask[4];
	uint8_t mask_off;        /* position in mask of the next payload byte */
	uint8_t role;            /* enum ws_role */
	uint8_t frame_op;        /* opcode of the frame being read */
	uint8_t msg_op;          /* TEXT/BINARY while a message is open, else 0 */
	uint8_t utf8_state;      /* DFA state, crosses frames and feeds */
	bool frame_fin;
	bool in_frame;           /* header read, payload pending */
	bool first_pending;      /* next DATA slice is the message's first */
	bool closed;             /* a close frame was parsed */
	int8_t err;              /* sticky enum ws_rc error, 0 if none */
};

void ws_parser_init(struct ws_parser *p, enum ws_role role, uint64_t max_message);

/* Consumes bytes from in[0..len) and reports at most one event. *used is
 * how many bytes were consumed (possibly 0): the caller keeps the rest and
 * feeds them again with more appended. Headers and control frames are only
 * consumed whole (at most WS_MAX_HEADER + 125 bytes), so the caller's buffer
 * must hold at least that; data payload is reported as it arrives. Payload is
 * unmasked in place, so in is written to. A zero-length data frame yields a
 * DATA event with len 0. After WS_EV_CLOSE further bytes are WS_ERR_CLOSED. */
enum ws_rc ws_parser_feed(struct ws_parser *p, uint8_t *in, size_t len, size_t *used,
                          struct ws_event *ev);

/* Payload bytes of the open frame the caller may move itself (splice)
 * instead of feeding them: only unmasked binary frames (client role), else
 * 0. ws_parser_skip accounts n <= that many bytes as consumed. */
uint64_t ws_parser_payload_left(const struct ws_parser *p);
void ws_parser_skip(struct ws_parser *p, uint64_t n);

/* Bytes the frame that starts at in[0..len) takes on the wire, header and
 * payload (at most 2^62 + 14), or 0 while its header is incomplete; for a
 * caller that must hold a frame whole before it parses it. Checks nothing. */
uint64_t ws_frame_span(const uint8_t *in, size_t len);
/* Close code to send for a parser error (1002, 1007, 1009), 0 for CLOSED. */
uint16_t ws_rc_close_code(enum ws_rc rc);
const char *ws_strerror(enum ws_rc rc);

/* True for codes a peer may send in a close frame (RFC 6455 §7.4). */
bool ws_close_code_valid(unsigned code);

/* Writes a frame header into out (>= WS_MAX_HEADER bytes), returns its size.
 * mask: NULL for server frames, the 4-byte key for client frames (the
 * caller masks the payload with ws_mask). Minimal length encoding. */
size_t ws_frame_header(uint8_t *out, enum ws_opcode op, bool fin, uint64_t payload_len,
                       const uint8_t *mask);

/* Writes a whole control frame (op, payload p of n <= 125 bytes, masked with
 * mask when not NULL) into out; returns its size, 0 when n is too long. */
size_t ws_control_frame(uint8_t out[WS_MAX_HEADER + WS_MAX_CTRL_PAYLOAD], enum ws_opcode op,
                        const uint8_t *p, size_t n, const uint8_t *mask);

/* The per-byte loop keeps the ISA's full encoding where the build makes a
 * compact one the default (the mipsel router build is MIPS16e: 8 registers
 * and no 64-bit ops inline, the mask loop would crawl). */
#ifdef __mips__
#define WS_FULL_ISA __attribute__((nomips16))
#else
#define WS_FULL_ISA
#endif
/* XORs data with key in place, starting at key position offset (0..3);
 * word-at-a-time. Returns the key position after the last byte. */
WS_FULL_ISA unsigned ws_mask(uint8_t *data, size_t len, const uint8_t key[4], unsigned offset);

/* Incremental UTF-8 check: state 0 is "at a boundary". Returns the new
 * state, WS_UTF8_REJECT on the first invalid byte (fails fast). */
#define WS_UTF8_ACCEPT 0
#define WS_UTF8_REJECT 1
uint8_t ws_utf8_step(uint8_t state, const uint8_t *s, size_t len);

/* ---- opening handshake (RFC 6455 §4) ---- */

/* Sec-WebSocket-Accept for a client key: out gets WS_ACCEPT_LEN chars + NUL. */
void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* Checks a parsed request as a WebSocket upgrade (§4.2.1). Returns 0 when
 * valid (then *key / *key_len point at Sec-WebSocket-Key), else the HTTP
 * status to answer: 400 (malformed), 426 (wrong or missing version: answer
 * with Sec-WebSocket-Version: 13), 405 (method not GET). */
int ws_check_upgrade(const struct http_request *req, const char **key, size_t *key_len);

/* Writes "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection and
 * Sec-WebSocket-Accept, then extra (pre-formatted "Name: value\r\n" lines, may be
 * NULL), and the blank line. Returns bytes written, or 0 if cap is too small. */
size_t ws_response_101(char *out, size_t cap, const char *key, size_t key_len,
                       const char *extra);

/* Writes a minimal error response for status 400/426/405 (426 carries
 * Sec-WebSocket-Version: 13), with Connection: close. Returns bytes or 0. */
size_t ws_response_error(char *out, size_t cap, int status);

/* Client side: writes an upgrade request for host/path with key (WS_KEY_LEN
 * base64 chars made by the caller from 16 random bytes) and extra header lines.
 * Returns bytes written or 0. */
size_t ws_client_request(char *out, size_t cap, const char *host, const char *path,
                         const char *key, const char *extra);
/* Base64 of 16 random bytes into out (WS_KEY_LEN chars + NUL). */
void ws_make_key(const uint8_t nonce[16], char out[WS_KEY_LEN + 1]);
/* Checks a parsed 101 response against the key we sent: 0 when valid, -1. */
int ws_check_response(const struct http_response *resp, const char *key);

#endif
