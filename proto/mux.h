/* mux.h — wsferry's stream multiplexing framing (--mux): many tunnels in
 * one carrier (the binary messages of one WebSocket, or one tls:// stream),
 * read as one byte stream of frames. Parser (bytes in, events out) and
 * framer; no I/O, no malloc, no clock.
 *
 * Frame: type(1) length(3, big-endian) stream id(4, big-endian) payload.
 *   OPEN   id>0  the tunnel request blob (proto/tunnel.h, base64url text,
 *                authenticated and replay-checked like an upgrade's cookie)
 *   REPLY  id>0  1 byte: the enum tunnel_err of the server's dial
 *   DATA   id>0  bytes of the stream, counted against the receiver's window
 *   FIN    id>0  no more DATA this way (half-close)
 *   RST    id>0  the stream is gone both ways (0 or 1 byte: a tunnel_err)
 *   WINDOW id>0  4 bytes: credit the sender may use on top of what it has
 *   PING   id=0  8 bytes, answered by a PONG with the same bytes
 * DATA is at most 65535 bytes, or MUX_MAX_DATA_BIG towards a client whose
 * carrier upgrade asked for it (TUNNEL_FLAG_MUX_BIG): the server then
 * splices a stream's bytes to the carrier in pieces as big as the plain
 * relay's, and an older client, which never asks, gets small frames. */
#ifndef WSF_PROTO_MUX_H
#define WSF_PROTO_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mux_type {
	MUX_OPEN = 1,
	MUX_REPLY = 2,
	MUX_DATA = 3,
	MUX_FIN = 4,
	MUX_RST = 5,
	MUX_WINDOW = 6,
	MUX_PING = 7,
	MUX_PONG = 8,
	MUX_TYPE_MAX = 8,
};

#define MUX_HEADER 8
#define MUX_MAX_CTRL 512          /* non-DATA payloads (an OPEN blob is < 450) */
#define MUX_MAX_DATA 65535        /* one DATA frame's payload */
#define MUX_MAX_DATA_BIG (256 * 1024) /* ... to a parser with big set */
#define MUX_WINDOW_INIT (256 * 1024) /* each stream's credit each way at open */
#define MUX_PING_LEN 8
#define MUX_MAX_STREAMS 16        /* --mux-max-streams' upper bound */
#define MUX_DEFAULT_STREAMS 4

enum mux_rc {
	MUX_NEED_MORE = 0,
	MUX_EVENT = 1,
	MUX_ERR_TYPE = -1,     /* unknown frame type */
	MUX_ERR_LENGTH = -2,   /* a payload length its type does not allow */
	MUX_ERR_ID = -3,       /* id 0 on a stream frame, or non-zero on PING/PONG */
};

struct mux_event {
	uint8_t type;          /* enum mux_type */
	bool first, last;      /* DATA: first / last slice of the frame */
	uint32_t id;
	uint32_t window;       /* WINDOW: the increment (> 0) */
	const uint8_t *data;   /* DATA: slice of the input; others: the whole payload */
	size_t len;
};

/* A zero-filled struct is the start state. Non-DATA payloads are gathered
 * in ctl (frames split across feeds), so every byte fed is consumed. */
struct mux_parser {
	uint8_t hdr[MUX_HEADER];
	uint8_t hdr_have;
	uint8_t type;
	bool in_frame;         /* header read, payload pending */
	bool data_started;
	int8_t err;            /* sticky enum mux_rc error, 0 if none */
	bool big;              /* DATA up to MUX_MAX_DATA_BIG (set before the first feed) */
	uint32_t id;
	uint32_t left;         /* payload bytes still to come */
	uint32_t ctl_have;
	uint8_t ctl[MUX_MAX_CTRL];
};

/* Consumes bytes of in[0..len) up to and including one event; *used says
 * how many. DATA slices point into in (a zero-length DATA frame is one
 * event with len 0); other payloads point into p and stay valid until the
 * next feed. Errors are sticky. */
enum mux_rc mux_parser_feed(struct mux_parser *p, const uint8_t *in, size_t len, size_t *used,
                            struct mux_event *ev);

/* DATA payload bytes of the open frame the caller may move itself
 * (splice) instead of feeding them, with the frame's stream id; 0 outside
 * a DATA frame. mux_parser_skip accounts n <= that many as consumed (the
 * frame ends with its last byte, as after a DATA event with last). */
uint32_t mux_parser_data_left(const struct mux_parser *p, uint32_t *id);
void mux_parser_skip(struct mux_parser *p, uint32_t n);

/* Writes a frame header (MUX_HEADER bytes). */
void mux_header(uint8_t out[MUX_HEADER], enum mux_type type, uint32_t id, uint32_t len);
/* Writes a whole WINDOW frame (12 bytes) / PING or PONG (16 bytes). */
#define MUX_WINDOW_FRAME (MUX_HEADER + 4)
#define MUX_PING_FRAME (MUX_HEADER + MUX_PING_LEN)
void mux_window_frame(uint8_t out[MUX_WINDOW_FRAME], uint32_t id, uint32_t inc);
void mux_ping_frame(uint8_t out[MUX_PING_FRAME], enum mux_type type,
                    const uint8_t data[MUX_PING_LEN]);

const char *mux_strerror(enum mux_rc rc);

#endif
