/* pipe.c — a plain TCP-to-TCP relay (--fallback): bytes pass unchanged both
 * ways with half-close carried across, one buffer per direction at most and
 * reads paused while the other side cannot take more. Owns both fds. */
#include "tun/pipe.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"

struct pipe_dir {
	struct buf buf;
	bool eof;  /* source said FIN */
	bool shut; /* FIN passed on to the sink */
};

struct pipe {
	struct conn_link link;
	struct conn_list *list;
	struct rx *rx;
	struct rx_io io[2];
	struct stream s[2];     /* s[0] may be TLS (terminated here), s[1] is plain */
	struct pipe_dir dir[2]; /* dir[i]: bytes read from s[i], written to s[1 - i] */
};

static void pipe_free(struct pipe *p)
{
	for (int i = 0; i < 2; i++) {
		rx_io_del(p->rx, &p->io[i]);
		stream_close(&p->s[i]);
		buf_free(&p->dir[i].buf);
	}
	conn_list_remove(p->list, &p->link);
	free(p);
}

static void pipe_destroy(struct conn_link *link)
{
	pipe_free((struct pipe *)link);
}

/* Moves what s[i] has into s[1-i]. 0, or -1 on a hard error. */
static int pipe_move(struct pipe *p, int i, bool readable)
{
	struct pipe_dir *d = &p->dir[i];
	if (readable && !d->eof && buf_len(&d->buf) == 0) {
		if (buf_alloc(&d->buf) < 0)
			return -1;
		long n = stream_read(&p->s[i], buf_tail(&d->buf), buf_room(&d->buf));
		if (n == 0)
			d->eof = true;
		else if (n > 0)
			buf_produced(&d->buf, (size_t)n);
		else if (n != -EAGAIN)
			return -1;
	}
	while (buf_len(&d->buf)) {
		long n = stream_write(&p->s[1 - i], buf_data(&d->buf), buf_len(&d->buf));
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return -1;
		buf_consume(&d->buf, (size_t)n);
	}
	if (d->eof && buf_len(&d->buf) == 0 && !d->shut) {
		stream_shutdown(&p->s[1 - i]);
		d->shut = true;
	}
	buf_release_if_empty(&d->buf);
	return 0;
}

static void pipe_update(struct pipe *p)
{
	for (int i = 0; i < 2; i++) {
		unsigned want = 0;
		if (!p->dir[i].eof && buf_len(&p->dir[i].buf) == 0)
			want |= RX_READ;
		if (buf_len(&p->dir[1 - i].buf))
			want |= RX_WRITE;
		rx_io_want(p->rx, &p->io[i], stream_interest(&p->s[i], want));
	}
}

static void pipe_pump(struct pipe *p, int fired, unsigned events)
{
	if (stream_pump(&p->s[fired], events) < 0) {
		/* a TLS peer that failed (an https:// service's certificate, say) */
		log_info("c%u TLS: %s", p->link.id, stream_error(&p->s[fired]));
		pipe_free(p);
		return;
	}
	bool readable = (events & RX_READ) || p->s[fired].tls; /* TLS: records may have moved */
	if (pipe_move(p, fired, readable) < 0 || pipe_move(p, 1 - fired, false) < 0) {
		pipe_free(p);
		return;
	}
	/* A TLS pump run by a write may have taken the peer's records (data or
	 * its close) off the socket, which then never fires for them: drain what
	 * the engine holds while the other side takes it (stream.h, issue 18). */
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 16 && stream_readable_now(&p->s[i]) && !p->dir[i].eof &&
		                buf_len(&p->dir[i].buf) == 0;
		     k++)
			if (pipe_move(p, i, true) < 0) {
				pipe_free(p);
				return;
			}
	if (p->dir[0].shut && p->dir[1].shut) {
		pipe_free(p); /* both sides said FIN and everything was delivered */
		return;
	}
	pipe_update(p);
}

static void pipe_on_io0(struct rx *rx, struct rx_io *io, unsigned events)
{
	(void)rx;
	pipe_pump((struct pipe *)((char *)io - offsetof(struct pipe, io[0])), 0, events);
}

static void pipe_on_io1(struct rx *rx, struct rx_io *io, unsigned events)
{
	(void)rx;
	pipe_pump((struct pipe *)((char *)io - offsetof(struct pipe, io[1])), 1, events);
}

int pipe_start(struct rx *rx, struct conn_list *list, unsigned id, struct conn_peer *peer,
               struct stream *a, int b, struct buf *a_to_b, bool a_eof)
{
	struct pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		stream_close(a);
		close(b);
		buf_free(a_to_b);
		return -1;
	}
	p->rx = rx;
	p->list = list;
	p->s[0] = *a;
	stream_plain(&p->s[1], b);
	rx_io_add(rx, &p->io[0], p->s[0].fd, pipe_on_io0);
	rx_io_add(rx, &p->io[1], b, pipe_on_io1);
	conn_list_add_as(list, &p->link, pipe_destroy, id, peer);
	p->link.lingers = true; /* --fallback: a visitor of the real site */
	if (a_to_b) {
		p->dir[0].buf = *a_to_b; /* bytes already read from a */
		*a_to_b = (struct buf){0};
	}
	p->dir[0].eof = a_eof;
	pipe_update(p);
	return 0;
}
