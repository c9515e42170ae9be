/* conn.c — one TLS connection driven by the reactor: records move between
 * socket and engine only in the direction the engine asks for (BearSSL
 * tools/sslio.c run_ssl_engine, minus its blocking poll), so a handshake
 * waiting to read never spins on a writable socket. Owns the engine's
 * block; never owns or closes the fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/net.h"
#include "core/rand.h"
#include "core/rx.h"
#include "tls/tls_int.h"

/* Rounds of send+receive per pump call: bounds the time one busy peer
 * holds the loop; level-triggered readiness brings us back. */
#define TLS_PUMP_ROUNDS 16

static br_ssl_engine_context *eng(struct tls_conn *t)
{
	return &t->u.srv.eng; /* first member of both server and client contexts */
}

static const br_ssl_engine_context *ceng(const struct tls_conn *t)
{
	return &t->u.srv.eng;
}

static void seed(br_ssl_engine_context *e)
{
	/* BearSSL seeds from the OS too; ours covers a chroot without
	 * /dev/urandom, where it would otherwise fail with BR_ERR_NO_RANDOM. */
	uint8_t s[32];
	if (rand_bytes(s, sizeof(s)) == 0)
		br_ssl_engine_inject_entropy(e, s, sizeof(s));
	explicit_bzero(s, sizeof(s));
}

int tls_conn_init_server(struct tls_conn *t, struct tls_server_cfg *cfg, int fd)
{
	memset(t, 0, sizeof(*t));
	t->mem = malloc(TLS_IN_BUF + TLS_OUT_BUF);
	if (!t->mem)
		return -ENOMEM;
	t->fd = fd;
	t->flags = TLS_F_SERVER;
	t->scfg = tls_server_cfg_ref(cfg);
	tls_profile_server(&t->u.srv, cfg, t->mem, t->mem + TLS_IN_BUF);
	seed(eng(t));
	br_ssl_server_reset(&t->u.srv); /* a failure is sticky: pump reports it */
	return 0;
}

/* Picks the validator for cfg's verify mode; it lives at the block start. */
static int x509_setup(struct tls_conn *t, const uint8_t *ip, size_t iplen)
{
	union tls_x509 *x = (union tls_x509 *)(void *)t->mem;
	const struct tls_client_cfg *c = t->ccfg;
	const br_x509_class **vt = &x->min.vtable;
	if (c->verify == TLS_VERIFY_PIN || c->verify == TLS_VERIFY_NONE) {
		tls_x509_pin_init(&x->pin, c->verify == TLS_VERIFY_PIN ? c->pin : NULL);
		vt = &x->pin.vtable;
	} else if (iplen) {
		if (tls_x509_ip_init(&x->ip, c, ip, iplen) < 0)
			return -ENOMEM;
		t->flags |= TLS_F_IPCHECK;
		vt = &x->ip.vtable;
	} else {
		tls_x509_minimal_init(&x->min, c);
	}
	br_ssl_engine_set_x509(eng(t), vt);
	return 0;
}

/* Offers cfg's remembered session when it was made with this host. */
static bool offer_session(struct tls_conn *t, const char *host)
{
	struct tls_client_cfg *c = t->ccfg;
	if (!c->have_session || strcmp(c->session_host, host) != 0)
		return false;
	br_ssl_engine_set_session_parameters(eng(t), &c->session);
	t->offered_id_len = c->session.session_id_len;
	memcpy(t->offered_id, c->session.session_id, sizeof(t->offered_id));
	return true;
}

int tls_conn_init_client(struct tls_conn *t, struct tls_client_cfg *cfg, int fd,
                         const char *host)
{
	memset(t, 0, sizeof(*t));
	size_t hl = host ? strlen(host) : 0;
	if (hl == 0 || hl > TLS_HOST_MAX)
		return -EINVAL;
	t->mem = malloc(TLS_CLIENT_BUF_OFF + TLS_IN_BUF + TLS_OUT_BUF);
	if (!t->mem)
		return -ENOMEM;
	t->fd = fd;
	t->ccfg = cfg;
	char *h = (char *)t->mem + TLS_CLIENT_HOST_OFF;
	memcpy(h, host, hl + 1);
	unsigned char *ibuf = t->mem + TLS_CLIENT_BUF_OFF;
	tls_profile_client(&t->u.cli, ibuf, ibuf + TLS_IN_BUF);
	uint8_t ip[16];
	size_t iplen = tls_ip_parse(host, ip);
	if (x509_setup(t, ip, iplen) < 0) {
		tls_conn_free(t);
		return -ENOMEM;
	}
	seed(eng(t));
	bool resume = offer_session(t, host);
	/* RFC 6066 §3: no SNI for IP literals; the IP wrapper checks SANs. */
	br_ssl_client_reset(&t->u.cli, iplen ? NULL : host, resume);
	return 0;
}

void tls_conn_free(struct tls_conn *t)
{
	if (t->flags & TLS_F_IPCHECK)
		tls_x509_ip_free(&((union tls_x509 *)(void *)t->mem)->ip);
	if (t->mem) {
		/* Keys of the session sit in the context; buffers held plaintext. */
		explicit_bzero(&t->u, sizeof(t->u));
		free(t->mem);
	}
	tls_server_cfg_unref(t->scfg);
	t->mem = NULL;
	t->scfg = NULL;
	t->flags = 0;
}

/* ---- state ---- */

/* The error every call repeats once the connection failed, else 0. */
static int sticky(const struct tls_conn *t)
{
	if (t->sys_err)
		return t->sys_err;
	if (t->err == TLS_ERR_EOF)
		return -ECONNRESET;
	if (t->err || br_ssl_engine_last_error(ceng(t)) != BR_ERR_OK)
		return -EPROTO;
	return 0;
}

static void client_done(struct tls_conn *t)
{
	struct tls_client_cfg *c = t->ccfg;
	br_ssl_session_parameters sp;
	br_ssl_engine_get_session_parameters(eng(t), &sp);
	if (t->offered_id_len && sp.session_id_len == t->offered_id_len &&
	    memcmp(sp.session_id, t->offered_id, t->offered_id_len) == 0)
		t->flags |= TLS_F_RESUMED; /* RFC 5246 §7.4.1.3: the server echoed it */
	if (sp.session_id_len) {
		c->session = sp;
		strcpy(c->session_host, (const char *)t->mem + TLS_CLIENT_HOST_OFF);
		c->have_session = true;
	}
	explicit_bzero(&sp, sizeof(sp));
}

/* Application data flows once the handshake is over: note it once. */
static void note_state(struct tls_conn *t, unsigned st)
{
	if ((t->flags & TLS_F_DONE) || !(st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
		return;
	t->flags |= TLS_F_DONE;
	if (!(t->flags & TLS_F_SERVER))
		client_done(t);
	else if (!(t->flags & TLS_F_FULL_HS))
		t->flags |= TLS_F_RESUMED;
}

/* First byte of a TLS peer's first record: handshake (22) or alert (21);
 * a server may also see an SSLv2-format ClientHello (high bit set). */
static bool looks_like_tls(const struct tls_conn *t, uint8_t b)
{
	return b == 22 || b == 21 || ((t->flags & TLS_F_SERVER) && (b & 0x80));
}

/* ---- pump ---- */

static int fail_sys(struct tls_conn *t, long rc)
{
	/* A peer that hangs up mid-handshake shows as EOF, EPIPE or RST
	 * depending on timing: one cause, one sentence. */
	if (!(t->flags & TLS_F_DONE) && (rc == -EPIPE || rc == -ECONNRESET)) {
		t->err = TLS_ERR_EOF;
		return -ECONNRESET;
	}
	t->sys_err = (int)rc;
	return (int)rc;
}

/* Engine -> socket. 1 moved, 0 would block, <0 failed. */
static int pump_send(struct tls_conn *t)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_sendrec_buf(eng(t), &len);
	if (!buf)
		return 0;
	bool more = t->flags & TLS_F_MORE;
	long n = more ? net_write_more(t->fd, buf, len) : net_write(t->fd, buf, len);
	if (n == -EAGAIN || n == 0)
		return 0;
	if (n < 0)
		return fail_sys(t, n);
	if (more)
		t->flags |= TLS_F_CORKED;
	else
		t->flags &= ~TLS_F_CORKED;
	br_ssl_engine_sendrec_ack(eng(t), (size_t)n);
	return 1;
}

/* Socket -> engine, never more than the current record needs (so no
 * bytes hide in our buffers where readiness cannot see them). */
static int pump_recv(struct tls_conn *t)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_recvrec_buf(eng(t), &len);
	if (!buf)
		return 0;
	long n = net_read(t->fd, buf, len);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return fail_sys(t, n);
	if (n == 0) {
		t->flags |= TLS_F_EOF;
		if (t->flags & TLS_F_DONE)
			return 0; /* EOF without close_notify: reads return 0 */
		t->err = TLS_ERR_EOF;
		return -ECONNRESET;
	}
	if (!(t->flags & TLS_F_SAW_INPUT)) {
		t->flags |= TLS_F_SAW_INPUT;
		if (!looks_like_tls(t, buf[0])) {
			t->err = TLS_ERR_NOT_TLS;
			return -EPROTO;
		}
	}
	br_ssl_engine_recvrec_ack(eng(t), (size_t)n);
	return 1;
}

int tls_conn_pump(struct tls_conn *t)
{
	for (int round = 0; round < TLS_PUMP_ROUNDS; round++) {
		int rc = sticky(t);
		if (rc)
			return rc;
		unsigned st = br_ssl_engine_current_state(eng(t));
		if (st & BR_SSL_CLOSED)
			return 0; /* clean close: read reports 0 */
		note_state(t, st);
		int moved = 0;
		if (st & BR_SSL_SENDREC) {
			if ((rc = pump_send(t)) < 0)
				return rc;
			moved |= rc;
		}
		if ((st & BR_SSL_RECVREC) && !(t->flags & TLS_F_EOF)) {
			if ((rc = pump_recv(t)) < 0)
				return rc;
			moved |= rc;
		}
		if (!moved)
			return 0;
	}
	note_state(t, br_ssl_engine_current_state(eng(t)));
	return sticky(t);
}

/* ---- application data ---- */

unsigned char *tls_conn_recv_buf(struct tls_conn *t, size_t *len)
{
	*len = 0;
	if (!t->mem)
		return NULL;
	unsigned char *p = br_ssl_engine_recvapp_buf(eng(t), len);
	if (p)
		note_state(t, BR_SSL_RECVAPP);
	return p;
}

void tls_conn_recv_ack(struct tls_conn *t, size_t n)
{
	br_ssl_engine_recvapp_ack(eng(t), n);
}

size_t tls_conn_pending(const struct tls_conn *t)
{
	size_t len = 0;
	if (t->mem)
		br_ssl_engine_recvapp_buf(ceng(t), &len);
	return len;
}

bool tls_conn_ended(const struct tls_conn *t)
{
	if (!t->mem)
		return false;
	return sticky(t) || (t->flags & TLS_F_EOF) ||
	       (br_ssl_engine_current_state(ceng(t)) & BR_SSL_CLOSED);
}

/* Nothing to read: why (error, clean close, EOF) or -EAGAIN. */
static long read_end(struct tls_conn *t)
{
	int rc = sticky(t);
	if (rc)
		return rc;
	if ((br_ssl_engine_current_state(eng(t)) & BR_SSL_CLOSED) || (t->flags & TLS_F_EOF))
		return 0;
	return -EAGAIN;
}

long tls_conn_peek(struct tls_conn *t, unsigned char **p)
{
	if (!t->mem)
		return -EBADF;
	size_t len;
	unsigned char *buf = tls_conn_recv_buf(t, &len);
	if (!buf) {
		int rc = tls_conn_pump(t);
		if (rc < 0)
			return rc;
		buf = tls_conn_recv_buf(t, &len);
		if (!buf)
			return read_end(t);
	}
	*p = buf;
	return (long)len;
}

long tls_conn_read(struct tls_conn *t, void *p, size_t n)
{
	unsigned char *buf;
	long len = tls_conn_peek(t, &buf);
	if (len <= 0)
		return len;
	if ((size_t)len > n)
		len = (long)n;
	memcpy(p, buf, (size_t)len);
	br_ssl_engine_recvapp_ack(eng(t), (size_t)len);
	return len;
}

unsigned char *tls_conn_send_buf(struct tls_conn *t, size_t *len)
{
	*len = 0;
	if (!t->mem || (t->flags & TLS_F_CLOSING))
		return NULL;
	return br_ssl_engine_sendapp_buf(eng(t), len);
}

int tls_conn_send_ack(struct tls_conn *t, size_t n)
{
	br_ssl_engine_sendapp_ack(eng(t), n);
	/* One record per write: the relay already batches what it read. */
	br_ssl_engine_flush(eng(t), 0);
	return tls_conn_pump(t);
}

/* Why no data can be taken: the error, -EPIPE when closed, or -EAGAIN. */
static long write_end(struct tls_conn *t)
{
	int rc = sticky(t);
	if (rc)
		return rc;
	if ((t->flags & TLS_F_CLOSING) ||
	    (br_ssl_engine_current_state(eng(t)) & BR_SSL_CLOSED))
		return -EPIPE;
	return -EAGAIN;
}

long tls_conn_write_room(struct tls_conn *t, unsigned char **p)
{
	if (!t->mem)
		return -EBADF;
	size_t len;
	unsigned char *buf = tls_conn_send_buf(t, &len);
	if (!buf) {
		int rc = tls_conn_pump(t);
		if (rc < 0)
			return rc;
		buf = tls_conn_send_buf(t, &len);
		if (!buf)
			return write_end(t);
	}
	*p = buf;
	return (long)len;
}

/* Engine -> socket only, until the socket is full or the record is out:
 * the relay's writes need no read attempt (the socket's readiness brings
 * the peer's records). 0, or <0 as pump. */
static int pump_out(struct tls_conn *t)
{
	for (int round = 0; round < TLS_PUMP_ROUNDS; round++) {
		int rc = sticky(t);
		if (rc || !(br_ssl_engine_current_state(eng(t)) & BR_SSL_SENDREC))
			return rc;
		if ((rc = pump_send(t)) <= 0)
			return rc;
	}
	return sticky(t);
}

/* The error of the pump that followed taking bytes, or 0 when they left. */
static int taken_lost(struct tls_conn *t, int rc)
{
	/* Taken bytes that can never leave are lost: say so now. A socket error
	 * the read half met after the record went out does not unsend it (the
	 * next call reports the error): byte counts stay true. */
	size_t left;
	if (rc < 0 && !(t->sys_err && !br_ssl_engine_sendrec_buf(eng(t), &left)))
		return rc;
	return 0;
}

int tls_conn_write_commit(struct tls_conn *t, size_t n, bool more)
{
	br_ssl_engine_sendapp_ack(eng(t), n);
	br_ssl_engine_flush(eng(t), 0);
	if (more)
		t->flags |= TLS_F_MORE;
	int rc = pump_out(t);
	t->flags &= ~TLS_F_MORE;
	return taken_lost(t, rc);
}

void tls_conn_push(struct tls_conn *t)
{
	if (!(t->flags & TLS_F_CORKED))
		return;
	net_set_nodelay(t->fd); /* tcp(7): setting TCP_NODELAY sends what MSG_MORE held */
	t->flags &= ~TLS_F_CORKED;
}

long tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
	if (n == 0)
		return t->mem ? 0 : -EBADF;
	unsigned char *buf;
	long len = tls_conn_write_room(t, &buf);
	if (len < 0)
		return len;
	if ((size_t)len > n)
		len = (long)n;
	memcpy(buf, p, (size_t)len);
	int rc = taken_lost(t, tls_conn_send_ack(t, (size_t)len));
	return rc < 0 ? rc : len;
}

/* ---- reactor glue and introspection ---- */

unsigned tls_conn_interest(const struct tls_conn *t)
{
	if (!t->mem || sticky(t))
		return 0;
	unsigned st = br_ssl_engine_current_state(ceng(t)), m = 0;
	if (st & BR_SSL_CLOSED)
		return 0;
	if (st & BR_SSL_SENDREC)
		m |= RX_WRITE;
	if ((st & BR_SSL_RECVREC) && !(t->flags & TLS_F_EOF))
		m |= RX_READ;
	return m;
}

int tls_conn_close(struct tls_conn *t)
{
	if (!t->mem)
		return 0;
	if (!(t->flags & TLS_F_CLOSING)) {
		t->flags |= TLS_F_CLOSING;
		br_ssl_engine_close(eng(t));
	}
	if (tls_conn_pump(t) < 0)
		return 0; /* dead: nothing more will be sent */
	unsigned st = br_ssl_engine_current_state(eng(t));
	return (st & BR_SSL_SENDREC) ? -EAGAIN : 0;
}

bool tls_conn_handshake_done(const struct tls_conn *t)
{
	return (t->flags & TLS_F_DONE) != 0;
}

bool tls_conn_resumed(const struct tls_conn *t)
{
	return (t->flags & TLS_F_RESUMED) != 0;
}

const char *tls_conn_alpn(const struct tls_conn *t)
{
	if (!t->mem || !(t->flags & TLS_F_DONE))
		return NULL;
	/* br_ssl_engine_get_selected_protocol() takes a non-const context. */
	unsigned k = ceng(t)->selected_protocol;
	return k ? ceng(t)->protocol_names[k - 1] : NULL;
}

const char *tls_conn_sni(const struct tls_conn *t)
{
	if (!t->mem || !(t->flags & TLS_F_SERVER))
		return NULL;
	const char *s = br_ssl_engine_get_server_name(ceng(t));
	return s && s[0] ? s : NULL;
}

const char *tls_conn_cipher(const struct tls_conn *t)
{
	if (!t->mem || !(t->flags & TLS_F_DONE))
		return NULL;
	return tls_suite_name(ceng(t)->session.cipher_suite);
}

int tls_conn_err(const struct tls_conn *t)
{
	if (t->err)
		return t->err;
	return t->mem ? br_ssl_engine_last_error(ceng(t)) : 0;
}

const char *tls_conn_error(const struct tls_conn *t)
{
	int e = tls_conn_err(t);
	if (e == TLS_ERR_EOF && (t->flags & TLS_F_SERVER))
		return "client closed the connection during the TLS handshake "
		       "(does it trust our certificate?)";
	if (e)
		return tls_strerror(e);
	if (t->sys_err)
		return strerror(-t->sys_err);
	return NULL;
}
