/* stream.h — the byte stream of a WebSocket leg: a plain TCP socket, or TLS
 * over one (wss://, tls://). Reads and writes plaintext with net_read's
 * conventions; says what the reactor must watch. Owns the fd and the TLS
 * state from stream_init to stream_close. */
#ifndef WSF_TUN_STREAM_H
#define WSF_TUN_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/tls.h"

struct stream {
	int fd;
	struct tls_conn *tls; /* NULL: plain TCP */
};

/* Plain stream over fd. */
void stream_plain(struct stream *s, int fd);
/* TLS server / client stream over fd (allocates the TLS state). 0 or -ENOMEM. */
int stream_tls_server(struct stream *s, int fd, struct tls_server_cfg *cfg);
int stream_tls_client(struct stream *s, int fd, struct tls_client_cfg *cfg, const char *host);

/* >0 plaintext bytes, 0 end of stream, -EAGAIN, or -errno / -EPROTO. */
long stream_read(struct stream *s, void *p, size_t n);
/* >0 bytes accepted (TLS: into the engine, flushed by stream_pump), -EAGAIN,
 * or a negative error. */
long stream_write(struct stream *s, const void *p, size_t n);
/* TLS only (plain streams: -EINVAL): the engine's own plaintext buffers, so
 * the relay frames and parses bytes where they lie instead of copying them
 * in and out. stream_peek: >0 plaintext bytes at *p (consume with
 * stream_consume), else what stream_read would return. stream_send_room: >0
 * bytes of room at *p in the next record, else what stream_write would
 * return; stream_send_commit seals and sends n bytes written there: 0 or a
 * negative error. */
long stream_peek(struct stream *s, uint8_t **p);
/* Plaintext already decrypted, at *p, without touching the socket; 0 when
 * none (or plain). */
size_t stream_plaintext(struct stream *s, uint8_t **p);
void stream_consume(struct stream *s, size_t n);
long stream_send_room(struct stream *s, uint8_t **p);
int stream_send_commit(struct stream *s, size_t n, bool more);
/* After a commit with more and nothing behind it: sends what waits. */
void stream_push(struct stream *s);
/* Moves TLS records between the socket and the engine; call on every
 * readiness before reading or writing. 0, or a negative error. */
int stream_pump(struct stream *s, unsigned events);
/* The reactor interest for what the application wants (RX_READ/RX_WRITE):
 * plain TCP passes it through; TLS adds what the engine needs now. */
unsigned stream_interest(const struct stream *s, unsigned app_want);
/* Plaintext already decrypted and waiting, or the end of the stream already
 * met by the engine (during a write, say): read now, without waiting for the
 * socket (level-triggered readiness will not come for either). */
bool stream_readable_now(const struct stream *s);
/* Bytes accepted but not yet on the wire (TLS engine); 0 for plain TCP. */
bool stream_flushed(const struct stream *s);
/* Half-close for writing (TLS: close_notify). */
void stream_shutdown(struct stream *s);
/* Best effort for small replies on a fresh connection (status lines, decoy
 * pages, SOCKS answers): write p, push it out, half-close, close. */
void stream_reply_and_close(struct stream *s, const void *p, size_t n);

/* Frees the TLS state and closes the fd. */
void stream_close(struct stream *s);
/* Why a TLS stream failed, or NULL. */
const char *stream_error(const struct stream *s);

#endif
