/* cli_pool.c — the client's warm pool (--pool N): N connections upgraded
 * with a TUNNEL_POOLED token and kept idle; a TCP tunnel takes one and
 * sends its request (proto/pool.h: target, fresh time, nonce, MAC) as the
 * first message, then relays once the server's answer came. The pooled
 * connection's 101 proved the key already, so without --encrypt (whose keys
 * need the answer's nonce) and without a filter, the local client's first
 * bytes follow the request at once (up to PIPE_AHEAD_MAX): a new tunnel
 * costs one round trip, not two; the server holds them while it dials. An
 * idle connection that becomes readable (the server closed or reset it) is
 * dead and dropped, one older than --pool-idle is replaced, and a failed
 * refill backs off (250 ms doubling to 10 s). Never listens and never
 * answers a local client itself: on_open does, as for a fresh tunnel. */
#include "tun/client/cli_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/pool.h"
#include "tun/client/cli_tunnel.h"

#define POOL_REQ_OUT 2048          /* the upgrade request, then the request frame */
#define PIPE_AHEAD_MAX 6144        /* local bytes sent behind the request, at most */
#define POOL_OUT_MAX (POOL_REQ_OUT + PIPE_AHEAD_MAX + 2 * WS_MAX_HEADER)
#define POOL_BACKOFF_MIN_MS 250
#define POOL_BACKOFF_MAX_MS 10000
#define POOL_ANSWER_MS 30000       /* the server dials before it answers */
#define POOL_TAKE_MARGIN_MS 1000   /* never hand out one this close to its age */

enum pc_state {
	PC_UPGRADING, /* connect, TLS, the upgrade, waiting for the 101 */
	PC_IDLE,      /* ready, in the idle list */
	PC_ASKING,    /* taken: the request sent, waiting for the answer */
};

struct pool_conn {
	struct conn_link link;      /* in c->conns: a stop destroys it */
	struct cli_pool *pool;
	struct pool_conn *prev, *next; /* the idle list, oldest first */
	struct rx_io io;
	struct rx_timer timer;      /* upgrade deadline, age, answer deadline */
	struct stream s;
	enum pc_state state;
	uint64_t ready_ms;          /* when the 101 came */
	struct buf in;
	size_t head_scanned;
	size_t out_len, out_off;
	uint8_t out[POOL_OUT_MAX];
	struct tunnel_expect expect; /* the pooled upgrade's */
	/* PC_ASKING: the tunnel it carries */
	struct ws_parser parser;
	int local_fd;
	struct rx_io local_io;      /* read while asking: its bytes follow the request */
	size_t ahead;               /* local bytes sent so (no fresh fall-back after) */
	bool local_eof;
	bool answered;              /* the answer is in: only the flush is left */
	struct buf early;
	relay_open_fn on_open;
	void *owner;
	struct relay_filter *filter;
	uint8_t nonce[TUNNEL_NONCE_LEN]; /* the request's: the answer's proof, --encrypt */
	uint8_t answer[POOL_ANSWER_LEN];
	size_t have;                /* answer bytes gathered */
	char target[TUNNEL_MAX_TARGET + 1];
};

struct cli_pool {
	struct client *c;
	struct pool_conn *idle_head, *idle_tail;
	size_t nidle, nopening;
	unsigned backoff_ms;        /* 0: the last attempt worked */
	struct rx_timer retry;
	bool retrying;
	bool failing_logged;        /* one line per outage */
};

static void pool_fill(struct cli_pool *p);

static void idle_unlink(struct pool_conn *pc)
{
	struct cli_pool *p = pc->pool;
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		p->idle_head = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	else
		p->idle_tail = pc->prev;
	pc->prev = pc->next = NULL;
	p->nidle--;
}

static void idle_append(struct pool_conn *pc)
{
	struct cli_pool *p = pc->pool;
	pc->prev = p->idle_tail;
	pc->next = NULL;
	if (p->idle_tail)
		p->idle_tail->next = pc;
	else
		p->idle_head = pc;
	p->idle_tail = pc;
	p->nidle++;
}

/* Frees pc and everything it holds (a taken one's local side too, without
 * telling its owner: a stop, or after the owner was told). */
static void pc_free(struct pool_conn *pc)
{
	struct client *c = pc->pool->c;
	if (pc->state == PC_IDLE)
		idle_unlink(pc);
	else if (pc->state == PC_UPGRADING)
		pc->pool->nopening--;
	rx_timer_cancel(&c->rx, &pc->timer);
	if (pc->s.fd >= 0) {
		rx_io_del(&c->rx, &pc->io);
		stream_close(&pc->s);
	}
	if (pc->local_io.fn)
		rx_io_del(&c->rx, &pc->local_io);
	if (pc->local_fd >= 0)
		close(pc->local_fd);
	relay_filter_free(pc->filter);
	buf_free(&pc->early);
	buf_free(&pc->in);
	conn_list_remove(&c->conns, &pc->link);
	free(pc);
}

static void pc_destroy(struct conn_link *link)
{
	pc_free((struct pool_conn *)link);
}

static void pool_on_retry(struct rx *rx, struct rx_timer *t)
{
	struct cli_pool *p = (struct cli_pool *)((char *)t - offsetof(struct cli_pool, retry));
	(void)rx;
	p->retrying = false;
	pool_fill(p);
}

/* A connection that never became ready: the server is away, restarting,
 * or refusing (wrong key, path, clock). Retried with backoff. */
static void pc_failed(struct pool_conn *pc, const char *why)
{
	struct cli_pool *p = pc->pool;
	struct client *c = p->c;
	pc_free(pc);
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
	if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
		p->backoff_ms = POOL_BACKOFF_MAX_MS;
	if (!p->failing_logged)
		log_warn("--pool: cannot keep connections ready (%s); retrying with backoff, "
		         "tunnels use fresh connections meanwhile", why);
	else
		log_debug("--pool: refill failed (%s), next try in %u ms", why, p->backoff_ms);
	p->failing_logged = true;
	if (!p->retrying) {
		p->retrying = true;
		rx_timer_arm(&c->rx, &p->retry, rx_now(&c->rx) + p->backoff_ms, pool_on_retry);
	}
}

/* An idle one that was closed, reset or aged: dropped and replaced. */
static void pc_replace(struct pool_conn *pc, const char *why)
{
	struct cli_pool *p = pc->pool;
	log_debug("c%u pooled connection %s: replaced", pc->link.id, why);
	pc_free(pc);
	pool_fill(p);
}

static int pc_flush(struct pool_conn *pc)
{
	while (pc->out_off < pc->out_len) {
		long n = stream_write(&pc->s, pc->out + pc->out_off, pc->out_len - pc->out_off);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		pc->out_off += (size_t)n;
	}
	return 0;
}

/* Reads what is there into pc->in. 0, or -1 at the end of the stream, an
 * error, or a full buffer. */
static int pc_read(struct pool_conn *pc)
{
	for (int i = 0; i < 4; i++) {
		if (buf_alloc(&pc->in) < 0 || buf_room(&pc->in) == 0)
			return -1;
		long n = stream_read(&pc->s, buf_tail(&pc->in), buf_room(&pc->in));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		buf_produced(&pc->in, (size_t)n);
	}
	return 0;
}

/* ---- the local client's first bytes, right behind the request ---- */

/* Room in out for one more frame of local bytes. */
static size_t pc_ahead_room(const struct pool_conn *pc)
{
	size_t used = pc->out_len + WS_MAX_HEADER;
	size_t room = used < POOL_OUT_MAX ? POOL_OUT_MAX - used : 0;
	size_t left = PIPE_AHEAD_MAX - pc->ahead;
	return room < left ? room : left;
}

static bool pc_can_pipe(const struct pool_conn *pc)
{
	const struct client *c = pc->pool->c;
	return pc->state == PC_ASKING && !c->cfg->encrypt && !pc->filter && !pc->local_eof &&
	       !pc->answered && !(pc->early.mem && buf_len(&pc->early)) && pc_ahead_room(pc);
}

/* n local bytes as one more message behind what out holds (bare on tls://). */
static void pc_append_ahead(struct pool_conn *pc, const uint8_t *p, size_t n)
{
	uint8_t *o = pc->out + pc->out_len, mask[4];
	size_t hn = 0;
	if (pc->pool->c->cfg->server.scheme != URL_TLS) {
		rand_bytes(mask, sizeof(mask));
		hn = ws_frame_header(o, WS_OP_BINARY, true, n, mask);
	}
	memcpy(o + hn, p, n);
	if (hn)
		ws_mask(o + hn, n, mask, 0);
	pc->out_len += hn + n;
	pc->ahead += n;
}

/* Reads what the local client sent so far into out; its EOF or error is
 * left in the socket for the relay, which reads it again. */
static void pc_read_local(struct pool_conn *pc)
{
	if (pc->out_off == pc->out_len)
		pc->out_off = pc->out_len = 0; /* all out: the room is free again */
	if (!pc_can_pipe(pc))
		return;
	uint8_t b[PIPE_AHEAD_MAX];
	long n = net_read(pc->local_fd, b, pc_ahead_room(pc));
	if (n == 0)
		pc->local_eof = true;
	if (n > 0)
		pc_append_ahead(pc, b, (size_t)n);
}

static void pc_arm(struct pool_conn *pc)
{
	struct rx *rx = &pc->pool->c->rx;
	unsigned want = RX_READ | (pc->out_off < pc->out_len ? RX_WRITE : 0);
	rx_io_want(rx, &pc->io, stream_interest(&pc->s, want));
	if (pc->local_io.fn)
		rx_io_want(rx, &pc->local_io, pc_can_pipe(pc) ? RX_READ : 0);
}

static void pc_on_age(struct rx *rx, struct rx_timer *t)
{
	struct pool_conn *pc = (struct pool_conn *)((char *)t - offsetof(struct pool_conn, timer));
	(void)rx;
	pc_replace(pc, "reached --pool-idle");
}

/* PC_UPGRADING: the 101 (with the server's proof of the key) makes it idle. */
static void pc_upgrading(struct pool_conn *pc)
{
	struct cli_pool *p = pc->pool;
	struct client *c = p->c;
	int ended = pc_read(pc);
	const char *head = (const char *)buf_data(&pc->in);
	int end = http_head_end(head, buf_len(&pc->in), &pc->head_scanned);
	if (end == HTTP_NEED_MORE) {
		if (ended < 0)
			return pc_failed(pc, "the server closed without answering");
		return pc_arm(pc);
	}
	struct http_response resp;
	enum tunnel_err err = TUNNEL_ERR_NOT_WSFERRY;
	if (end > 0 && http_parse_response(head, (size_t)end, &resp) > 0)
		err = tunnel_response_err(&resp, &pc->expect);
	if (err == TUNNEL_OK && buf_len(&pc->in) != (size_t)end)
		err = TUNNEL_ERR_GENERAL; /* the server speaks before it is asked */
	if (err != TUNNEL_OK)
		return pc_failed(pc, tunnel_err_text(err));
	buf_consume(&pc->in, (size_t)end);
	buf_release_if_empty(&pc->in);
	p->nopening--;
	pc->state = PC_IDLE;
	pc->ready_ms = rx_now(&c->rx);
	idle_append(pc);
	if (p->failing_logged)
		log_info("--pool: the server answers again; refilling");
	p->failing_logged = false;
	p->backoff_ms = 0;
	rx_timer_cancel(&c->rx, &pc->timer);
	rx_timer_arm(&c->rx, &pc->timer, pc->ready_ms + c->cfg->pool_idle_ms, pc_on_age);
	log_debug("c%u pooled connection ready (%zu idle)", pc->link.id, p->nidle);
	pc_arm(pc);
}

/* PC_IDLE: nothing may come; readable means closed, reset or broken. */
static void pc_idle(struct pool_conn *pc)
{
	uint8_t b[256];
	long n = stream_read(&pc->s, b, sizeof(b));
	if (n == -EAGAIN)
		return pc_arm(pc);
	pc_replace(pc, n == 0 ? "closed by the server" : n > 0 ? "spoke while idle" : "broken");
}

/* The server's answer proved the key: the relay takes both sockets. */
static void pc_opened(struct pool_conn *pc)
{
	struct client *c = pc->pool->c;
	log_debug("c%u tunnel to %s on a pooled connection", pc->link.id, pc->target);
	rx_timer_cancel(&c->rx, &pc->timer);
	rx_io_del(&c->rx, &pc->io);
	rx_io_del(&c->rx, &pc->local_io);
	pc->on_open(pc->owner, pc->local_fd, TUNNEL_OK);
	struct relay_args a = {.id = pc->link.id, .tcp_fd = pc->local_fd, .ws = pc->s,
	                       .role = WS_ROLE_CLIENT, .tcp_in = &pc->early, .ws_in = &pc->in,
	                       .opened = true, .filter = pc->filter,
	                       .raw = c->cfg->server.scheme == URL_TLS};
	if (c->cfg->encrypt) {
		a.seal_base = c->cfg->keys->payload;
		a.seal_nonce = pc->nonce;
	}
	pc->local_fd = -1;
	pc->s.fd = -1;
	pc->s.tls = NULL;
	pc->filter = NULL;
	relay_start(&c->rx, &c->conns, &c->cfg->relay, &a);
	pc_free(pc);
}

static void pc_refused(struct pool_conn *pc, enum tunnel_err err)
{
	log_debug("c%u server refused the tunnel to %s: %s", pc->link.id, pc->target,
	          tunnel_err_text(err));
	pc->on_open(pc->owner, pc->local_fd, err);
	pc_free(pc); /* closes both, as the relay does after a refusal */
}

/* Closed before it answered (the server dropped it as we sent): nothing of
 * the local client's has left yet, so a fresh tunnel carries it instead. */
static void pc_fall_back(struct pool_conn *pc, const char *why)
{
	struct client *c = pc->pool->c;
	if (pc->ahead) /* the server may have passed them on: never twice */
		return pc_refused(pc, TUNNEL_ERR_SERVER_DOWN);
	log_debug("c%u pooled connection %s before its answer: a fresh connection instead",
	          pc->link.id, why);
	int fd = pc->local_fd;
	struct buf early = pc->early;
	struct relay_filter *filter = pc->filter;
	relay_open_fn on_open = pc->on_open;
	void *owner = pc->owner;
	unsigned id = pc->link.id;
	char target[TUNNEL_MAX_TARGET + 1];
	memcpy(target, pc->target, sizeof(target));
	pc->local_fd = -1;
	pc->early = (struct buf){0};
	pc->filter = NULL;
	pc_free(pc);
	client_open_tunnel(c, fd, id, TUNNEL_CONNECT, target, &early, on_open, owner, filter);
}

/* Gathers the answer from pc->in: 1 whole, 0 more needed, -1 not an answer. */
static int pc_gather(struct pool_conn *pc, bool raw)
{
	while (pc->have < POOL_ANSWER_LEN && buf_len(&pc->in)) {
		if (raw) {
			size_t n = buf_len(&pc->in);
			if (n > POOL_ANSWER_LEN - pc->have)
				n = POOL_ANSWER_LEN - pc->have;
			memcpy(pc->answer + pc->have, buf_data(&pc->in), n);
			pc->have += n;
			buf_consume(&pc->in, n);
			continue;
		}
		size_t used = 0;
		struct ws_event ev;
		enum ws_rc rc = ws_parser_feed(&pc->parser, buf_data(&pc->in), buf_len(&pc->in),
		                               &used, &ev);
		if (rc != WS_EVENT) {
			buf_consume(&pc->in, used);
			return rc == WS_NEED_MORE ? 0 : -1;
		}
		if (ev.type != WS_EV_DATA || pc->have + ev.len > POOL_ANSWER_LEN ||
		    (ev.fin && pc->have + ev.len != POOL_ANSWER_LEN))
			return -1;
		memcpy(pc->answer + pc->have, ev.data, ev.len);
		pc->have += ev.len;
		buf_consume(&pc->in, used);
	}
	return pc->have == POOL_ANSWER_LEN ? 1 : 0;
}

/* PC_ASKING: the request goes out; the answer opens or refuses. */
static void pc_asking(struct pool_conn *pc)
{
	struct client *c = pc->pool->c;
	bool raw = c->cfg->server.scheme == URL_TLS;
	if (pc_flush(pc) < 0)
		return pc_fall_back(pc, "broke");
	int ended = pc_read(pc);
	int got = pc_gather(pc, raw);
	if (got < 0)
		return pc_refused(pc, TUNNEL_ERR_SERVER_FAKE);
	if (got > 0) {
		enum tunnel_err err = pool_answer_check(pc->answer, c->cfg->keys, pc->nonce);
		if (err != TUNNEL_OK)
			return pc_refused(pc, err);
		pc->answered = true;
		if (pc->out_off == pc->out_len) /* what went ahead is out: the relay goes on */
			return pc_opened(pc);
	}
	if (ended < 0)
		return pc->have ? pc_refused(pc, TUNNEL_ERR_SERVER_SILENT)
		                : pc_fall_back(pc, "was closed");
	buf_release_if_empty(&pc->in);
	pc_arm(pc);
}

static void pc_on_local(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct pool_conn *pc = (struct pool_conn *)((char *)io - offsetof(struct pool_conn, local_io));
	(void)rx;
	(void)events;
	pc_read_local(pc);
	pc_asking(pc);
}

static void pc_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct pool_conn *pc = (struct pool_conn *)((char *)io - offsetof(struct pool_conn, io));
	(void)rx;
	if (stream_pump(&pc->s, events) < 0) {
		if (pc->state == PC_UPGRADING)
			return pc_failed(pc, stream_error(&pc->s) ? stream_error(&pc->s) : "broken");
		if (pc->state == PC_IDLE)
			return pc_replace(pc, "broken");
		return pc_fall_back(pc, "broke");
	}
	if (pc->state == PC_UPGRADING) {
		if (pc_flush(pc) < 0)
			return pc_failed(pc, "the server cannot be reached");
		return pc_upgrading(pc);
	}
	if (pc->state == PC_IDLE)
		return pc_idle(pc);
	pc_asking(pc);
}

static void pc_on_deadline(struct rx *rx, struct rx_timer *t)
{
	struct pool_conn *pc = (struct pool_conn *)((char *)t - offsetof(struct pool_conn, timer));
	(void)rx;
	if (pc->state == PC_UPGRADING)
		return pc_failed(pc, "no answer in time");
	pc_refused(pc, TUNNEL_ERR_TIMEOUT);
}

static void pc_connected(void *owner, int fd, enum tunnel_err err)
{
	struct pool_conn *pc = owner;
	struct client *c = pc->pool->c;
	if (fd < 0)
		return pc_failed(pc, tunnel_err_text(err));
	net_set_nodelay(fd);
	if (client_stream(c, fd, &pc->s) < 0) {
		pc->s.fd = -1;
		return pc_failed(pc, "out of memory");
	}
	pc->out_len = client_upgrade(c, TUNNEL_POOLED, "", (char *)pc->out, sizeof(pc->out),
	                             &pc->expect);
	if (pc->out_len == 0 || rx_io_add(&c->rx, &pc->io, pc->s.fd, pc_on_io) < 0) {
		stream_close(&pc->s);
		pc->s.fd = -1;
		return pc_failed(pc, "out of memory");
	}
	rx_timer_arm(&c->rx, &pc->timer, rx_now(&c->rx) + c->cfg->connect_timeout_ms,
	             pc_on_deadline);
	rx_io_want(&c->rx, &pc->io, stream_interest(&pc->s, RX_WRITE));
}

static void pool_open(struct cli_pool *p)
{
	struct client *c = p->c;
	struct pool_conn *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return;
	pc->pool = p;
	pc->s.fd = -1;
	pc->local_fd = -1;
	pc->state = PC_UPGRADING;
	p->nopening++;
	conn_list_add(&c->conns, &pc->link, pc_destroy);
	client_connect_server(c, pc_connected, pc);
}

/* Opens connections until N are ready or on their way (none while backing
 * off: the retry timer calls again). */
static void pool_fill(struct cli_pool *p)
{
	size_t want = p->c->cfg->pool;
	while (!p->retrying && p->nidle + p->nopening < want) {
		size_t before = p->nopening + p->nidle;
		pool_open(p);
		if (p->nopening + p->nidle <= before && !p->retrying)
			break; /* out of memory: the next tunnel or refill tries again */
	}
}

/* Frames the request for target into pc->out: masked binary message on
 * ws/wss, bare on tls://. 0 or -1. */
static int pc_request(struct pool_conn *pc)
{
	struct client *c = pc->pool->c;
	struct tunnel_req req = {.kind = TUNNEL_CONNECT, .timestamp = (uint64_t)time(NULL)};
	uint8_t msg[POOL_REQ_MAX], mask[4];
	if (c->cfg->encrypt)
		req.flags |= TUNNEL_FLAG_ENCRYPT;
	req.target_len = strlen(pc->target);
	memcpy(req.target, pc->target, req.target_len);
	if (rand_bytes(req.nonce, sizeof(req.nonce)) < 0 || rand_bytes(mask, sizeof(mask)) < 0)
		return -1;
	memcpy(pc->nonce, req.nonce, sizeof(pc->nonce));
	size_t n = pool_req_encode(&req, c->cfg->keys, msg);
	if (n == 0)
		return -1;
	size_t hn = 0;
	if (c->cfg->server.scheme != URL_TLS) {
		hn = ws_frame_header(pc->out, WS_OP_BINARY, true, n, mask);
		ws_mask(msg, n, mask, 0);
	}
	memcpy(pc->out + hn, msg, n);
	pc->out_len = hn + n;
	pc->out_off = 0;
	return 0;
}

/* A taken connection's first local bytes go with its request: what the
 * front read already (when it fits), what the socket holds now, and what
 * comes while the answer is awaited. */
static void pc_send_ahead(struct pool_conn *pc)
{
	struct client *c = pc->pool->c;
	size_t n = pc->early.mem ? buf_len(&pc->early) : 0;
	if (n && n <= pc_ahead_room(pc) && !c->cfg->encrypt && !pc->filter) {
		pc_append_ahead(pc, buf_data(&pc->early), n);
		buf_free(&pc->early);
	}
	if (!pc_can_pipe(pc))
		return;
	pc_read_local(pc);
	if (rx_io_add(&c->rx, &pc->local_io, pc->local_fd, pc_on_local) < 0)
		return; /* the relay reads it after the answer, as without */
}

/* The oldest idle connection not about to age out, or NULL. */
static struct pool_conn *pool_pick(struct cli_pool *p)
{
	struct client *c = p->c;
	uint64_t now = rx_now(&c->rx);
	while (p->idle_head) {
		struct pool_conn *pc = p->idle_head;
		if (now - pc->ready_ms + POOL_TAKE_MARGIN_MS < c->cfg->pool_idle_ms)
			return pc;
		pc_free(pc); /* its age timer is due: replaced by pool_fill below */
	}
	return NULL;
}

static bool pool_take(struct client *c, int local_fd, unsigned id, const char *target,
                      struct buf *early, relay_open_fn on_open, void *owner,
                      struct relay_filter *filter)
{
	struct cli_pool *p = c->pool;
	struct pool_conn *pc = strlen(target) <= TUNNEL_MAX_TARGET ? pool_pick(p) : NULL;
	if (!pc) {
		pool_fill(p);
		return false;
	}
	idle_unlink(pc);
	pc->state = PC_ASKING;
	rx_timer_cancel(&c->rx, &pc->timer);
	strcpy(pc->target, target);
	if (pc_request(pc) < 0) {
		pc_free(pc);
		pool_fill(p);
		return false;
	}
	pc->link.id = id;
	pc->local_fd = local_fd;
	pc->on_open = on_open;
	pc->owner = owner;
	pc->filter = filter;
	if (early) {
		pc->early = *early;
		*early = (struct buf){0};
	}
	pc_send_ahead(pc);
	ws_parser_init(&pc->parser, WS_ROLE_CLIENT, POOL_ANSWER_LEN);
	rx_timer_arm(&c->rx, &pc->timer, rx_now(&c->rx) + POOL_ANSWER_MS, pc_on_deadline);
	/* Written and read at once: over TLS the answer may be decrypted by the
	 * write's own pump, and no readiness would come for it. The request
	 * leaves before its replacement's connect, which is off its path. */
	pc_asking(pc);
	pool_fill(p);
	return true;
}

int cli_pool_start(struct client *c)
{
	if (c->cfg->pool == 0)
		return 0;
	struct cli_pool *p = calloc(1, sizeof(*p));
	if (!p) {
		log_error("--pool: out of memory");
		return -1;
	}
	p->c = c;
	c->pool = p;
	c->pool_take = pool_take;
	log_info("--pool %u: connections kept ready, each replaced after %u ms idle",
	         c->cfg->pool, c->cfg->pool_idle_ms);
	pool_fill(p);
	return 0;
}

void cli_pool_free(struct client *c)
{
	if (!c->pool)
		return;
	rx_timer_cancel(&c->rx, &c->pool->retry);
	free(c->pool);
	c->pool = NULL;
	c->pool_take = NULL;
}
