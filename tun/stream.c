/* stream.c — one switch between plain TCP and TLS for every WebSocket leg,
 * so the relay, the endpoints and the control channel never test for TLS
 * themselves. With TLS, the engine's own needs drive the reactor interest
 * (BearSSL tools/sslio.c: engine state -> poll interest). */
#include "tun/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net.h"
#include "core/rx.h"

void stream_plain(struct stream *s, int fd)
{
	s->fd = fd;
	s->tls = NULL;
}

int stream_tls_server(struct stream *s, int fd, struct tls_server_cfg *cfg)
{
	s->fd = fd;
	s->tls = calloc(1, sizeof(*s->tls));
	if (!s->tls || tls_conn_init_server(s->tls, cfg, fd) < 0) {
		free(s->tls);
		s->tls = NULL;
		return -ENOMEM;
	}
	return 0;
}

int stream_tls_client(struct stream *s, int fd, struct tls_client_cfg *cfg, const char *host)
{
	s->fd = fd;
	s->tls = calloc(1, sizeof(*s->tls));
	int rc = s->tls ? tls_conn_init_client(s->tls, cfg, fd, host) : -ENOMEM;
	if (rc < 0) {
		free(s->tls);
		s->tls = NULL;
	}
	return rc;
}

long stream_read(struct stream *s, void *p, size_t n)
{
	return s->tls ? tls_conn_read(s->tls, p, n) : net_read(s->fd, p, n);
}

long stream_write(struct stream *s, const void *p, size_t n)
{
	return s->tls ? tls_conn_write(s->tls, p, n) : net_write(s->fd, p, n);
}

long stream_peek(struct stream *s, uint8_t **p)
{
	return s->tls ? tls_conn_peek(s->tls, p) : -EINVAL;
}

size_t stream_plaintext(struct stream *s, uint8_t **p)
{
	size_t len = 0;
	*p = s->tls ? tls_conn_recv_buf(s->tls, &len) : NULL;
	return *p ? len : 0;
}

void stream_consume(struct stream *s, size_t n)
{
	if (s->tls)
		tls_conn_recv_ack(s->tls, n);
}

long stream_send_room(struct stream *s, uint8_t **p)
{
	return s->tls ? tls_conn_write_room(s->tls, p) : -EINVAL;
}

int stream_send_commit(struct stream *s, size_t n, bool more)
{
	return s->tls ? tls_conn_write_commit(s->tls, n, more) : -EINVAL;
}

void stream_push(struct stream *s)
{
	if (s->tls)
		tls_conn_push(s->tls);
}

int stream_pump(struct stream *s, unsigned events)
{
	(void)events;
	return s->tls ? tls_conn_pump(s->tls) : 0;
}

unsigned stream_interest(const struct stream *s, unsigned app_want)
{
	/* TLS: the engine knows whether a record must be read or sent; asking
	 * for more would spin on a socket the engine will not touch. */
	return s->tls ? tls_conn_interest(s->tls) : app_want;
}

bool stream_readable_now(const struct stream *s)
{
	/* The end counts too: a pump run by stream_write may have read the
	 * peer's close_notify or FIN, after which the engine asks for no more
	 * reads and the socket never fires again (issue 18). */
	return s->tls && (tls_conn_pending(s->tls) > 0 || tls_conn_ended(s->tls));
}

bool stream_flushed(const struct stream *s)
{
	return !s->tls || !(tls_conn_interest(s->tls) & RX_WRITE);
}

void stream_shutdown(struct stream *s)
{
	if (s->tls)
		tls_conn_close(s->tls);
	else
		shutdown(s->fd, SHUT_WR);
}

void stream_close(struct stream *s)
{
	if (s->tls) {
		tls_conn_free(s->tls);
		free(s->tls);
		s->tls = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void stream_reply_and_close(struct stream *s, const void *p, size_t n)
{
	const char *c = p;
	for (int i = 0; i < 8 && n; i++) {
		long w = stream_write(s, c, n);
		if (w > 0) {
			c += w;
			n -= (size_t)w;
		} else if (w != -EAGAIN || stream_pump(s, 0) < 0) {
			break;
		}
	}
	stream_pump(s, 0);
	stream_shutdown(s);
	stream_pump(s, 0);
	stream_close(s);
}

const char *stream_error(const struct stream *s)
{
	return s->tls ? tls_conn_error(s->tls) : NULL;
}
