/* channel.c — the server end of channels: the registry of names (one per
 * reactor), each held by a control channel; opens waiting for the
 * registering client to carry them; and the join of the two WebSockets once
 * it does. The two legs meet through a socketpair, each leg an ordinary
 * relay (frames, half-close, backpressure, keepalive stay the relay's): one
 * kernel copy more than a direct frame bridge, and no new relay code; a
 * reset, which a socketpair cannot carry, passes between the two relays
 * (relay_args.twin_id).
 * Never dials anything itself: the registering client does. An exit (VPN
 * mode) is a registration whose opens each name their own destination,
 * passed on in the announcement; the exit dials it and answers with a claim
 * or with why not. */
#include "tun/publish/channel.h"

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/rand.h"
#include "proto/auth.h"
#include "proto/tunnel_exit.h"
#include "proto/ws.h"
#include "tun/publish/reply.h"
#include "tun/relay.h"
#include "tun/wsctl.h"

#define CHAN_OPEN_MS 10000  /* an announced open the client never carries: 504 */
#define CHAN_ACK_MS 750     /* no word from the client about it: gone (answered < 1 s) */
#define CHAN_MAX_PENDING 256 /* per channel: beyond, opens are refused 500 */
#define RESP_MAX PUB_RESP_MAX

struct chan_reg {
	struct conn_link link;
	struct channels *ch;
	struct chan_reg *next;
	struct wsctl ctl;
	size_t npending;
	bool exit;                              /* -R tunnel://: dials what opens name */
	char name[TUNNEL_CHANNEL_NAME_MAX + 1]; /* zero-padded: compared whole */
	uint8_t hash[br_sha256_SIZE];           /* of the password */
};

/* An open waiting for the registering client. */
struct chan_open {
	struct conn_link link;
	struct channels *ch;
	struct chan_reg *reg;
	struct chan_open *next;
	struct rx_io io;        /* the opener, watched while it waits */
	struct rx_timer timer;
	struct stream client;
	bool raw;
	bool exit;              /* an exit open: offline is TUNNEL_ERR_NO_EXIT */
	bool acked;             /* the client said it is dialling */
	bool sealed;            /* --encrypt: its leg seals, keyed by nonce */
	struct buf in;          /* frames it pipelined behind its request */
	uint64_t id;
	size_t resp_len;
	char resp[RESP_MAX];
	char ws_key[WS_KEY_LEN + 1];
	uint8_t nonce[TUNNEL_NONCE_LEN];
};

struct channels {
	struct rx *rx;
	struct conn_list *conns;
	const struct server_config *cfg;
	struct chan_reg *regs;
	struct chan_open *opens;
};

struct channels *channels_new(struct rx *rx, struct conn_list *conns,
                              const struct server_config *cfg)
{
	struct channels *ch = calloc(1, sizeof(*ch));
	if (ch) {
		ch->rx = rx;
		ch->conns = conns;
		ch->cfg = cfg;
	}
	return ch;
}

void channels_free(struct channels *ch)
{
	free(ch);
}

static void reg_free(struct chan_reg *reg);

/* ---- opens ---- */

static void open_unlink(struct chan_open *o)
{
	for (struct chan_open **pp = &o->ch->opens; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	if (o->reg)
		o->reg->npending--;
	o->reg = NULL;
}

/* Forgets o; its stream is the caller's (closed, answered or relayed). */
static void open_free(struct chan_open *o)
{
	struct channels *ch = o->ch;
	open_unlink(o);
	rx_timer_cancel(ch->rx, &o->timer);
	rx_io_del(ch->rx, &o->io);
	buf_free(&o->in);
	conn_list_remove(ch->conns, &o->link);
	free(o);
}

static void open_destroy(struct conn_link *link)
{
	struct chan_open *o = (struct chan_open *)link;
	rx_io_del(o->ch->rx, &o->io);
	stream_close(&o->client);
	open_free(o);
}

static void open_refuse(struct chan_open *o, enum tunnel_err err)
{
	char resp[RESP_MAX];
	size_t n = tunnel_refusal(err, o->ws_key, strlen(o->ws_key), o->ch->cfg->keys, o->nonce,
	                          resp, sizeof(resp));
	rx_io_del(o->ch->rx, &o->io);
	stream_reply_and_close(&o->client, resp, n);
	open_free(o);
}

static struct chan_open *open_find(struct channels *ch, uint64_t id)
{
	for (struct chan_open *o = ch->opens; o; o = o->next)
		if (o->id == id && o->reg)
			return o;
	return NULL;
}

static void open_on_timer(struct rx *rx, struct rx_timer *t)
{
	struct chan_open *o = (struct chan_open *)((char *)t - offsetof(struct chan_open, timer));
	(void)rx;
	if (!o->acked) {
		/* A client whose machine vanished without closing: found now, not at
		 * the next keepalive; its opens get the offline answer (issue 11). */
		log_warn("c%u %s %s: its client did not answer within 750 ms: taken for gone",
		         o->reg->link.id, o->reg->exit ? "exit" : "channel", o->reg->name);
		reg_free(o->reg);
		return;
	}
	log_info("c%u channel open not carried by its client in time", o->link.id);
	open_refuse(o, TUNNEL_ERR_TIMEOUT);
}

/* The opener pipelines its first frames behind the request (kept, up to one
 * buffer); one that leaves while waiting is forgotten at once. */
static void open_on_io(struct rx *rx, struct rx_io *io, unsigned events)
{
	struct chan_open *o = (struct chan_open *)((char *)io - offsetof(struct chan_open, io));
	if (stream_pump(&o->client, events) < 0)
		goto gone;
	for (int i = 0; i < 16; i++) {
		if (buf_alloc(&o->in) < 0 || buf_room(&o->in) == 0)
			break;
		long n = stream_read(&o->client, buf_tail(&o->in), buf_room(&o->in));
		if (n == -EAGAIN)
			break;
		if (n <= 0)
			goto gone;
		buf_produced(&o->in, (size_t)n);
	}
	rx_io_want(rx, &o->io, stream_interest(&o->client, buf_room(&o->in) ? RX_READ : 0));
	return;
gone:
	log_debug("c%u the channel's opener left while waiting", o->link.id);
	open_destroy(&o->link);
}

/* Every registration compared, none skipped, in constant time: a wrong
 * password costs what an unknown name costs. */
static struct chan_reg *reg_match(struct channels *ch, const char *name, const uint8_t *hash)
{
	static const struct chan_reg dummy; /* the work of one compare, with none registered */
	struct chan_reg *found = NULL;
	char padded[TUNNEL_CHANNEL_NAME_MAX + 1] = {0};
	memcpy(padded, name, strlen(name));
	for (struct chan_reg *r = ch->regs; r; r = r->next) {
		bool n_ok = auth_equal((const uint8_t *)padded, (const uint8_t *)r->name,
		                       sizeof(padded));
		bool p_ok = auth_equal(hash, r->hash, sizeof(r->hash));
		if (n_ok & p_ok)
			found = r;
	}
	if (!ch->regs)
		(void)(auth_equal((const uint8_t *)padded, (const uint8_t *)dummy.name,
		                  sizeof(padded)) &
		       auth_equal(hash, dummy.hash, sizeof(dummy.hash)));
	return found;
}

static void hash_password(const char *pass, uint8_t out[br_sha256_SIZE])
{
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, pass, strlen(pass));
	br_sha256_out(&c, out);
}

/* Tells the registering client about o: a channel's CONNECTION, an exit's
 * DIAL naming dest. 0, or -1. */
static int open_announce(struct chan_open *o, const struct tunnel_exit_dest *dest)
{
	uint8_t msg[TUNNEL_EXIT_MSG_MAX];
	size_t n = TUNNEL_REV_MSG_LEN;
	if (o->exit)
		n = tunnel_exit_dial_msg(msg, o->id, dest);
	else
		tunnel_rev_msg(msg, REV_MSG_CONNECTION, o->id);
	return n ? wsctl_send(&o->reg->ctl, msg, n) : -1;
}

int channel_open(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                 const char *key, size_t key_len)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	uint8_t hash[br_sha256_SIZE];
	struct tunnel_exit_dest dest = {0};
	bool exit = req->kind == TUNNEL_EXIT_OPEN;
	const char *what = exit ? "exit" : "channel";
	int split = exit ? tunnel_exit_target_split(req->target, req->target_len, name, pass, &dest)
	                 : tunnel_channel_split(req->target, req->target_len, name, pass);
	if (split < 0) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	enum tunnel_err err = server_seal_check(ch->cfg, h, req);
	if (err != TUNNEL_OK) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, err);
		return -1;
	}
	hash_password(pass, hash);
	struct chan_reg *reg = reg_match(ch, name, hash);
	if (!reg || reg->exit != exit) {
		/* one line for all three causes: the log tells a prober nothing either
		 * (a channel opened as an exit, or the reverse, is no such thing) */
		log_info("c%u %s open refused: no such %s, wrong password or offline", h->id, what,
		         what);
		pub_refuse(ch->cfg, &h->s, req, key, key_len,
		           exit ? TUNNEL_ERR_NO_EXIT : TUNNEL_ERR_NOT_FOUND);
		return -1;
	}
	struct chan_open *o = reg->npending < CHAN_MAX_PENDING ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		log_warn("c%u channel open refused: too many waiting", h->id);
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_GENERAL);
		return -1;
	}
	o->ch = ch;
	o->client = h->s;
	o->raw = h->raw;
	o->exit = exit;
	o->resp_len = pub_101(ch->cfg, req, key, key_len, o->resp, sizeof(o->resp));
	memcpy(o->nonce, req->nonce, sizeof(o->nonce));
	o->sealed = req->flags & TUNNEL_FLAG_ENCRYPT;
	snprintf(o->ws_key, sizeof(o->ws_key), "%.*s",
	         (int)(key_len < WS_KEY_LEN ? key_len : WS_KEY_LEN), key);
	o->in = h->in;
	h->in = (struct buf){0};
	buf_consume(&o->in, h->head_len);
	conn_list_add_as(ch->conns, &o->link, open_destroy, h->id, h->peer);
	do
		rand_bytes(&o->id, sizeof(o->id));
	while (o->id == 0 || open_find(ch, o->id));
	o->reg = reg;
	reg->npending++;
	o->next = ch->opens;
	ch->opens = o;
	if (o->resp_len == 0 || open_announce(o, &dest) < 0) {
		open_refuse(o, TUNNEL_ERR_GENERAL);
		return -1;
	}
	if (rx_io_add(ch->rx, &o->io, o->client.fd, open_on_io) == 0)
		rx_io_want(ch->rx, &o->io, stream_interest(&o->client, RX_READ));
	rx_timer_arm(ch->rx, &o->timer, rx_now(ch->rx) + CHAN_ACK_MS, open_on_timer);
	log_debug("c%u %s %s: announced to c%u%s%s", o->link.id, what, reg->name, reg->link.id,
	          exit ? ", to dial " : "", exit ? dest.host : "");
	return 0;
}

/* ---- registrations ---- */

static void reg_free(struct chan_reg *reg)
{
	struct channels *ch = reg->ch;
	for (struct chan_reg **pp = &ch->regs; *pp; pp = &(*pp)->next)
		if (*pp == reg) {
			*pp = reg->next;
			break;
		}
	/* Its waiting opens get the offline answer, the same as an unknown name. */
	for (struct chan_open *o = ch->opens, *next; o; o = next) {
		next = o->next;
		if (o->reg == reg)
			open_refuse(o, o->exit ? TUNNEL_ERR_NO_EXIT : TUNNEL_ERR_NOT_FOUND);
	}
	wsctl_stop(&reg->ctl);
	log_info("c%u %s %s released", reg->link.id, reg->exit ? "exit" : "channel", reg->name);
	conn_list_remove(ch->conns, &reg->link);
	free(reg);
}

static void reg_destroy(struct conn_link *link)
{
	reg_free((struct chan_reg *)link);
}

static void reg_on_message(struct wsctl *w, const uint8_t *p, size_t n)
{
	struct chan_reg *reg = w->owner;
	struct tunnel_exit_msg m;
	if (tunnel_exit_parse(p, n, &m) < 0)
		return;
	struct chan_open *o = open_find(reg->ch, m.id);
	if (!o || o->reg != reg)
		return;
	if (m.op == REV_MSG_ACCEPTED && !o->acked) {
		o->acked = true;
		rx_timer_arm(reg->ch->rx, &o->timer,
		             rx_now(reg->ch->rx) + CHAN_OPEN_MS - CHAN_ACK_MS, open_on_timer);
	} else if (m.op == REV_MSG_REFUSED && !reg->exit) {
		log_info("c%u channel %s: its client could not reach its destination", o->link.id,
		         reg->name);
		open_refuse(o, TUNNEL_ERR_REFUSED);
	} else if (m.op == REV_MSG_FAILED && reg->exit) {
		/* the exit's own reason (its --allow, its DNS, the destination)
		 * reaches the entry's SOCKS / HTTP answer unchanged */
		log_info("c%u exit %s: %s", o->link.id, reg->name, tunnel_err_text(m.err));
		open_refuse(o, m.err);
	}
}

static void reg_on_close(struct wsctl *w)
{
	reg_free(w->owner);
}

static const struct wsctl_ops reg_ops = {NULL, reg_on_message, reg_on_close}; /* server role: no on_open */

int channel_register(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                     const char *key, size_t key_len)
{
	char name[TUNNEL_CHANNEL_NAME_MAX + 1], pass[TUNNEL_CHANNEL_PASS_MAX + 1];
	char resp[RESP_MAX];
	if (!ch->cfg->keys) {
		log_warn("c%u %s registration refused: %s need --key on the server", h->id,
		         req->kind == TUNNEL_EXIT_REGISTER ? "exit" : "channel",
		         req->kind == TUNNEL_EXIT_REGISTER ? "exits" : "channels");
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_FORBIDDEN);
		return -1;
	}
	bool exit = req->kind == TUNNEL_EXIT_REGISTER;
	enum tunnel_err err = server_seal_check(ch->cfg, h, req);
	if (err != TUNNEL_OK) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, err);
		return -1;
	}
	if (tunnel_channel_split(req->target, req->target_len, name, pass) < 0) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	for (struct chan_reg *r = ch->regs; r; r = r->next)
		if (strcmp(r->name, name) == 0) {
			log_warn("c%u channel %s refused: already registered by c%u, which keeps it",
			         h->id, name, r->link.id);
			pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_IN_USE);
			return -1;
		}
	size_t rn = pub_101(ch->cfg, req, key, key_len, resp, sizeof(resp));
	struct chan_reg *reg = calloc(1, sizeof(*reg));
	if (!reg || rn == 0) {
		free(reg);
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_GENERAL);
		return -1;
	}
	reg->ch = ch;
	reg->exit = exit;
	reg->ctl.s.fd = -1;
	memcpy(reg->name, name, strlen(name));
	hash_password(pass, reg->hash);
	conn_list_add_as(ch->conns, &reg->link, reg_destroy, h->id, h->peer);
	reg->next = ch->regs;
	ch->regs = reg;
	buf_consume(&h->in, h->head_len);
	if (wsctl_start(&reg->ctl, ch->rx, &h->s, WS_ROLE_SERVER, resp, rn, &h->in, NULL,
	                ch->cfg->relay.keepalive_ms, &reg_ops, reg) < 0) {
		reg_free(reg);
		return -1;
	}
	log_info("c%u %s %s registered", reg->link.id, exit ? "exit" : "channel", reg->name);
	return 0;
}

/* ---- the join ---- */

int channel_claim(struct channels *ch, struct handoff *h, const struct tunnel_req *req,
                  const char *key, size_t key_len)
{
	char resp[RESP_MAX];
	uint64_t id = 0;
	int sp[2];
	if (tunnel_rev_id_parse(req->target, req->target_len, &id) < 0) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_BAD_TARGET);
		return -1;
	}
	enum tunnel_err err = server_seal_check(ch->cfg, h, req);
	struct chan_open *o = id ? open_find(ch, id) : NULL;
	size_t rn = pub_101(ch->cfg, req, key, key_len, resp, sizeof(resp));
	if (!o || rn == 0 || err != TUNNEL_OK) {
		pub_refuse(ch->cfg, &h->s, req, key, key_len, err ? err : TUNNEL_ERR_GENERAL);
		if (o)
			open_refuse(o, TUNNEL_ERR_GENERAL); /* its opener is not left waiting */
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn_errno(errno, "c%u channel: socketpair", o->link.id);
		pub_refuse(ch->cfg, &h->s, req, key, key_len, TUNNEL_ERR_GENERAL);
		open_refuse(o, TUNNEL_ERR_GENERAL);
		return -1;
	}
	/* The opener's leg: its 101 now, its pipelined frames delivered. */
	unsigned oid = o->link.id;
	struct conn_peer *peer = o->link.peer;
	if (peer)
		peer->count++; /* held across the free below, released after relay_start */
	struct stream client = o->client;
	bool raw = o->raw;
	/* Each leg seals (or not) as its own client asked, with its own nonce:
	 * the server opens one leg's records and seals the other's. */
	struct tunnel_req oreq = {.flags = o->sealed ? TUNNEL_FLAG_ENCRYPT : 0};
	memcpy(oreq.nonce, o->nonce, sizeof(oreq.nonce));
	struct buf in = o->in;
	o->in = (struct buf){0};
	char oresp[RESP_MAX];
	size_t oresp_len = o->resp_len;
	memcpy(oresp, o->resp, oresp_len);
	open_free(o);
	log_debug("c%u channel open carried by c%u", oid, h->id);
	struct relay_args a = {.id = oid, .tcp_fd = sp[0], .ws = client, .role = WS_ROLE_SERVER,
	                       .ws_in = &in, .preamble = oresp, .preamble_len = oresp_len,
	                       .peer = peer, .raw = raw, .twin_id = h->id};
	server_seal_args(ch->cfg, &oreq, &a);
	relay_start(ch->rx, ch->conns, &ch->cfg->relay, &a);
	if (peer)
		conn_peer_put(ch->conns, peer);
	buf_consume(&h->in, h->head_len);
	struct relay_args b = {.id = h->id, .tcp_fd = sp[1], .ws = h->s, .role = WS_ROLE_SERVER,
	                       .ws_in = &h->in, .preamble = resp, .preamble_len = rn,
	                       .peer = h->peer, .raw = h->raw, .twin_id = oid};
	server_seal_args(ch->cfg, req, &b);
	return relay_start(ch->rx, ch->conns, &ch->cfg->relay, &b);
}
