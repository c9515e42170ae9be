/* tls.h — BearSSL glue: server and client configurations (certificates,
 * keys, trust anchors, pins, session cache) and a non-blocking engine pump
 * per connection whose read/write mirror net_read/net_write, so a relay can
 * swap it in. Owns the BearSSL contexts and their I/O buffers; never owns
 * the fd, never blocks, never logs (codes and sentences only). */
#ifndef WSF_TLS_TLS_H
#define WSF_TLS_TLS_H

#include <bearssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error messages from the *_load / *_init functions fit in this many bytes
 * (longer paths are cut, never overflowed). */
#define TLS_ERRLEN 320

/* A SHA-256 fingerprint as --pin takes it and tls_server_cfg_fingerprint()
 * prints it: 64 lowercase hex digits, no separators. */
#define TLS_FP_HEX_LEN 64

/* ---------------------------------------------------------------------
 * Server configuration: one certificate chain + private key (RSA or EC
 * P-256/P-384/P-521) shared by every server connection, whatever the SNI;
 * ALPN "http/1.1"; a session cache (BearSSL LRU, TLS_SESSION_CACHE_BYTES,
 * 100 bytes per session) so returning clients resume without public-key
 * operations. Heap-allocated and reference-counted: each connection holds
 * a reference, so SIGHUP can swap in a new cfg for new connections while
 * old ones finish on the old one (tls_server_cfg_reload). Single-threaded
 * like the reactor: one cfg MUST NOT be shared between threads.
 * --------------------------------------------------------------------- */
struct tls_server_cfg;

#define TLS_SESSION_CACHE_BYTES (32 * 1024) /* ~327 sessions */

/* Loads a PEM (or DER) certificate chain, leaf first, and a PEM (or DER)
 * private key: PKCS#8, "RSA PRIVATE KEY" or "EC PRIVATE KEY"; both may be
 * the same file. On success *out holds one reference. On failure returns
 * -errno (-ENOENT, -EACCES, -EINVAL for bad contents, -ENOMEM) and err
 * names the file and what is wrong, e.g. "server.key: the private key does
 * not match the certificate in server.crt". */
int tls_server_cfg_load(struct tls_server_cfg **out, const char *cert_path,
                        const char *key_path, char *err, size_t errlen);

/* The same from memory; cert_name and key_name only label messages. */
int tls_server_cfg_load_mem(struct tls_server_cfg **out, const char *cert, size_t cert_len,
                            const char *cert_name, const char *key, size_t key_len,
                            const char *key_name, char *err, size_t errlen);

/* Generates an EC P-256 key and a self-signed X.509 v3 certificate valid
 * from one hour ago (clock skew) for `days` days: subject CN = the first
 * name, subjectAltName = every name (a name that parses as IPv4 or IPv6,
 * brackets allowed, becomes an iPAddress; others dNSName), basicConstraints
 * CA:FALSE, keyUsage digitalSignature, extKeyUsage serverAuth. With n == 0
 * the names are localhost, 127.0.0.1 and ::1. -EINVAL (err says which
 * name) for a name that is neither an IP address nor a valid DNS name. */
int tls_server_cfg_selfsigned(struct tls_server_cfg **out, const char *const *names,
                              size_t n, unsigned days, char *err, size_t errlen);

struct tls_server_cfg *tls_server_cfg_ref(struct tls_server_cfg *c);
/* Drops one reference; the last one frees (and wipes the private key). */
void tls_server_cfg_unref(struct tls_server_cfg *c);

/* SIGHUP: loads cert_path/key_path; on success replaces *cur (dropping the
 * caller's reference to the old cfg, which lives on while connections use
 * it) and returns 0; on failure leaves *cur untouched and fills err. */
int tls_server_cfg_reload(struct tls_server_cfg **cur, const char *cert_path,
                          const char *key_path, char *err, size_t errlen);

/* SHA-256 of the leaf certificate's DER (what `openssl x509 -fingerprint
 * -sha256` shows), as TLS_FP_HEX_LEN lowercase hex digits + NUL. */
void tls_server_cfg_fingerprint(const struct tls_server_cfg *c,
                                char out[TLS_FP_HEX_LEN + 1]);

/* Writes the chain (PEM "CERTIFICATE" blocks, mode 0644) and the private
 * key (its original encoding, mode 0600, never group/world readable even
 * when the file existed) for `wsferry cert`. 0 or -errno with err set. */
int tls_server_cfg_write_pem(const struct tls_server_cfg *c, const char *cert_path,
                             const char *key_path, char *err, size_t errlen);

/* ---------------------------------------------------------------------
 * Client configuration: how the server is verified, plus one remembered
 * session (a wsferry client talks to one server) so reconnects resume.
 * Embedded in its owner; zero it, call one init, call free at the end.
 * Connections keep pointers into it: it MUST outlive them.
 * --------------------------------------------------------------------- */
enum tls_verify {
	TLS_VERIFY_CA = 0,   /* chain to a trust anchor + host name (default) */
	TLS_VERIFY_PIN = 1,  /* exactly the pinned certificate or key */
	TLS_VERIFY_NONE = 2, /* --insecure: anything (the key is still used) */
};

#define TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt" /* Debian */
#define TLS_HOST_MAX 255 /* RFC 1035 §2.3.4 name length, plus room for IPv6 text */

struct tls_client_cfg {
	enum tls_verify verify;
	br_x509_trust_anchor *tas; /* TLS_VERIFY_CA: anchors, in ta_mem */
	size_t ntas;
	unsigned char *ta_mem;     /* DNs and keys the anchors point to */
	size_t ta_mem_len;
	uint8_t pin[32];           /* TLS_VERIFY_PIN */
	br_ssl_session_parameters session; /* last session, for resumption */
	char session_host[TLS_HOST_MAX + 1];
	bool have_session;
};

/* Trust anchors from a PEM bundle of CA certificates (ca_path NULL: the
 * system bundle, TLS_SYSTEM_CA or the other usual places). Certificates
 * BearSSL cannot use (unsupported key types) are skipped; a bundle with
 * none usable is an error. A self-signed server certificate given as
 * --ca is trusted directly. 0 or -errno with err set. */
int tls_client_cfg_init_ca(struct tls_client_cfg *c, const char *ca_path, char *err,
                           size_t errlen);
int tls_client_cfg_init_ca_mem(struct tls_client_cfg *c, const char *pem, size_t len,
                               const char *name, char *err, size_t errlen);

/* --pin: 64 hex digits, upper or lower case, colons allowed between bytes,
 * an optional "sha256:" or "SHA256 Fingerprint=" prefix (pasting openssl's
 * output works). It matches the SHA-256 of the server's leaf certificate
 * DER or of its SubjectPublicKeyInfo DER (a key pin survives renewals).
 * -EINVAL with err set when malformed. */
int tls_client_cfg_init_pin(struct tls_client_cfg *c, const char *pin, char *err,
                            size_t errlen);
void tls_client_cfg_init_insecure(struct tls_client_cfg *c);
void tls_client_cfg_free(struct tls_client_cfg *c);

/* Parses a pin as above into 32 bytes. 0 or -EINVAL. */
int tls_pin_parse(const char *s, uint8_t out[32]);

/* ---------------------------------------------------------------------
 * Connections. Memory (x86_64, printed by test/tls/conn_test.c): the
 * struct (4,208 B) embeds the BearSSL server or client context; init
 * allocates one block: the full 16,709-byte input buffer (any record a peer
 * may send), a TLS_OUT_BUF output buffer (our records carry at most
 * TLS_OUT_FRAG plaintext bytes) and, for clients, the X.509 validator.
 * Full-size 16 KiB records by default: bench/tls.sh measured 1.8x the
 * throughput and 40% less CPU per GiB than 4 KiB records, for 12 KiB more
 * per connection (an idle wss tunnel stays well inside its 40 KiB budget);
 * a router build may trade back with -DTLS_OUT_FRAG=4096 in config.mak. TLS 1.2 only; ECDHE with AES-GCM or ChaCha20-Poly1305 (AES
 * first when the CPU has AES instructions); RSA or ECDSA certificates;
 * renegotiation refused.
 *
 * Driving it from the reactor:
 *   - the TLS fd's interest is exactly tls_conn_interest(), recomputed
 *     after every call below: the engine decides when the socket is read
 *     or written (during the handshake a write waits for a read);
 *   - on readiness call tls_conn_pump(), then retry reads and writes,
 *     looping until neither moves (a write can pull in a record, a read
 *     can free the engine to send);
 *   - plaintext already inside the engine (tls_conn_pending() > 0) is
 *     announced by no socket event: when your sink stops taking it the
 *     engine stops reading the socket (backpressure), so when the sink
 *     drains, read again without waiting for the TLS fd.
 * --------------------------------------------------------------------- */
#define TLS_IN_BUF BR_SSL_BUFSIZE_INPUT /* 16384 + 325 */
#ifndef TLS_OUT_FRAG /* 512, 1024, 2048, 4096 or 16384 (config.mak CFLAGS) */
#define TLS_OUT_FRAG 16384
#endif
#define TLS_OUT_BUF (TLS_OUT_FRAG + 85) /* 85: BearSSL's MAX_OUT_OVERHEAD */

/* BearSSL error codes of our own (beside BR_ERR_*), from tls_conn_err(). */
enum {
	TLS_ERR_PIN = 100,         /* leaf does not match --pin */
	TLS_ERR_IP_MISMATCH = 101, /* IP-literal host not in the iPAddress SANs */
	TLS_ERR_LEAF_TOO_BIG = 102,
	TLS_ERR_NOT_TLS = 103,     /* first byte received is no TLS record */
	TLS_ERR_EOF = 104,         /* peer closed during the handshake */
};

struct tls_conn {
	union {
		br_ssl_server_context srv;
		br_ssl_client_context cli;
	} u; /* first: the session cache finds the conn from &u.srv */
	unsigned char *mem; /* [client validator][input buffer][output buffer] */
	struct tls_server_cfg *scfg; /* reference held (server) */
	struct tls_client_cfg *ccfg; /* borrowed (client) */
	int fd;
	int sys_err;   /* -errno of a failed socket call, 0 if none */
	int err;       /* TLS_ERR_NOT_TLS / TLS_ERR_EOF, else 0 (engine has the rest) */
	unsigned flags;
	uint8_t offered_id_len;
	uint8_t offered_id[32]; /* client: session id offered for resumption */
};

/* Server side of accepted non-blocking fd. Takes a cfg reference.
 * 0 or -ENOMEM (nothing to free then). */
int tls_conn_init_server(struct tls_conn *t, struct tls_server_cfg *cfg, int fd);

/* Client side of a connected (or connecting) non-blocking fd. host is the
 * name sent as SNI and verified against the certificate; an IP literal
 * (brackets allowed) sends no SNI (RFC 6066 §3) and is matched against
 * iPAddress subjectAltNames instead. Resumes cfg's remembered session when
 * it was made with the same host. 0, -EINVAL (host too long/empty) or
 * -ENOMEM. */
int tls_conn_init_client(struct tls_conn *t, struct tls_client_cfg *cfg, int fd,
                         const char *host);

/* Releases the buffers and the cfg reference. Never closes fd. Safe on a
 * zeroed struct and twice. */
void tls_conn_free(struct tls_conn *t);

/* Moves records between the socket and the engine until neither side can
 * progress without waiting. 0 (also after a clean close_notify: read then
 * returns 0), or negative: -EPROTO (TLS failure, see tls_conn_error),
 * -ECONNRESET (peer left during the handshake) or a socket -errno. */
int tls_conn_pump(struct tls_conn *t);

/* Plaintext in: >0 bytes, 0 at close_notify or EOF after the handshake,
 * -EAGAIN when the engine must wait for the socket, <0 as tls_conn_pump. */
long tls_conn_read(struct tls_conn *t, void *p, size_t n);

/* Plaintext out: copies what fits into the current record (at most
 * TLS_OUT_FRAG), seals it and starts sending it. >0 bytes taken, -EAGAIN
 * when the engine cannot take data now (handshake or output full), <0 as
 * tls_conn_pump (-EPIPE after close). n == 0 returns 0. */
long tls_conn_write(struct tls_conn *t, const void *p, size_t n);

/* Zero-copy forms. recv_buf: plaintext inside the engine's input buffer
 * (NULL, *len 0 when none; call read or pump); recv_ack consumes n <= len.
 * send_buf: room in the current outgoing record (NULL when none); send_ack
 * commits n <= len bytes written there, seals and sends: 0 or <0 as pump. */
/* The same, with the pump and the end conventions of read and write, for a
 * caller that frames or parses in place (the relay, issue 17): peek gives
 * the plaintext waiting in the engine (>0, its length, *p set; consume it
 * with recv_ack), or what read would return instead (0, -EAGAIN, <0).
 * write_room gives the room in the current outgoing record (>0, *p set), or
 * what write would return instead (-EAGAIN, -EPIPE, <0); write_commit seals
 * and sends the n bytes written there (and reads nothing: the socket's
 * readiness brings the peer's records): 0, or <0 when they can never leave. */
long tls_conn_peek(struct tls_conn *t, unsigned char **p);
long tls_conn_write_room(struct tls_conn *t, unsigned char **p);
/* more: another record follows at once, so this one leaves with MSG_MORE
 * and shares its segment (the peer wakes once); tls_conn_push sends it when
 * none came after all. */
int tls_conn_write_commit(struct tls_conn *t, size_t n, bool more);
void tls_conn_push(struct tls_conn *t);
unsigned char *tls_conn_recv_buf(struct tls_conn *t, size_t *len);
void tls_conn_recv_ack(struct tls_conn *t, size_t n);
unsigned char *tls_conn_send_buf(struct tls_conn *t, size_t *len);
int tls_conn_send_ack(struct tls_conn *t, size_t n);

/* Plaintext bytes waiting inside the engine. */
size_t tls_conn_pending(const struct tls_conn *t);

/* The engine already met the end of the stream (the peer's close_notify or
 * FIN) or a failure: a read reports it (0 or the error) without waiting.
 * A pump run by a write can meet it, and then no readiness announces it
 * again (tls_conn_interest() drops RX_READ): read once more when this says so. */
bool tls_conn_ended(const struct tls_conn *t);

/* RX_READ | RX_WRITE the engine needs on the socket now; 0 when it is
 * closed or failed (read/write/pump returned why) or idle. */
unsigned tls_conn_interest(const struct tls_conn *t);

/* Starts a close_notify and tries to send it. 0 once it is out (or the
 * connection is dead: nothing more will be sent), -EAGAIN while bytes
 * remain (wait for tls_conn_interest() and call again). The peer's
 * close_notify is not awaited (RFC 5246 §7.2.1 allows it). */
int tls_conn_close(struct tls_conn *t);

bool tls_conn_handshake_done(const struct tls_conn *t);
/* True when the handshake resumed a cached session (no certificate sent). */
bool tls_conn_resumed(const struct tls_conn *t);
/* Negotiated ALPN protocol ("http/1.1") or NULL. */
const char *tls_conn_alpn(const struct tls_conn *t);
/* Server: the SNI the client sent, or NULL. */
const char *tls_conn_sni(const struct tls_conn *t);
/* Cipher suite name for logs ("ECDHE-ECDSA-AES128-GCM-SHA256"), or NULL
 * before the handshake. */
const char *tls_conn_cipher(const struct tls_conn *t);

/* Why the connection failed, or NULL: a sentence such as "certificate not
 * trusted (unknown CA)", "certificate expired or not yet valid", "host
 * name mismatch", "pinned fingerprint does not match", "peer is not
 * speaking TLS". tls_conn_err() gives the code (BR_ERR_*, TLS_ERR_*, or
 * BR_ERR_RECV/SEND_FATAL_ALERT + alert), 0 when none. */
const char *tls_conn_error(const struct tls_conn *t);
int tls_conn_err(const struct tls_conn *t);

/* Sentence for a BearSSL / TLS_ERR_* code (never NULL). */
const char *tls_strerror(int code);

#endif
