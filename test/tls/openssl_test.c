/* openssl_test.c — interoperability with OpenSSL over 127.0.0.1: `openssl
 * s_client` against our server (handshake, ALPN, echo, certificate
 * verification, session resumption, refusals with the right sentence on
 * our side) and our client against `openssl s_server` with a CA, an
 * intermediate, an RSA leaf, an expired leaf, wrong names, pins and
 * versions OpenSSL refuses. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/net.h"
#include "test/check.h"
#include "test/tls/tls_helpers.h"
#include "tls/tls_int.h"

static char err[TLS_ERRLEN];

static void setup_pki(void)
{
	static const char *const cmds[] = {
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
		"-out ca.crt -subj '/CN=Test Root' -days 30 -addext basicConstraints=critical,CA:TRUE "
		"-addext keyUsage=critical,keyCertSign",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		"other.key -out other.crt -subj '/CN=Other Root' -days 30",
		"printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
		"keyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' > leaf.ext",
		"printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' > ca.ext",
		"openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost",
		"openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out leaf.crt "
		"-days 30 -extfile leaf.ext",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout inter.key -out "
		"inter.csr -subj '/CN=Test Intermediate'",
		"openssl x509 -req -in inter.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out "
		"inter.crt -days 30 -extfile ca.ext",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf2.key -out "
		"leaf2.csr -subj /CN=localhost",
		"openssl x509 -req -in leaf2.csr -CA inter.crt -CAkey inter.key -CAcreateserial -out "
		"leaf2.crt -days 30 -extfile leaf.ext",
		"cat leaf2.crt inter.crt > chain2.pem",
		"printf '[ca]\\ndefault_ca=t\\n[t]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
		"serial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' > ca.cnf",
		": > index.txt && echo 01 > serial",
		"openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in leaf.csr -out "
		"expired.crt -startdate 20200101000000Z -enddate 20200201000000Z -extfile leaf.ext "
		"-notext",
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (th_sh("%s", cmds[i]) != 0)
			fprintf(stderr, "setup failed: %s\n", cmds[i]);
}

static pid_t spawn(const char *cmd, int *in_fd, int *out_fd)
{
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	net_set_nonblock(out[0]);
	*in_fd = in[1];
	*out_fd = out[0];
	return pid;
}

static int reap(pid_t pid, int ms)
{
	int st;
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* ---- s_client against our server ---- */

struct served {
	bool done, resumed;
	char alpn[16], sni[64], error[200];
	size_t echoed;
};

/* Our echo server: one connection; after `want` bytes it sends
 * close_notify and hangs up, which makes s_client exit. */
struct echo_srv {
	struct tls_conn t;
	int fd;
	bool live, closing;
	uint8_t buf[4096];
	size_t len, want;
	struct served *res;
};

static void echo_finish(struct echo_srv *e)
{
	struct served *r = e->res;
	r->done = tls_conn_handshake_done(&e->t);
	r->resumed = tls_conn_resumed(&e->t);
	snprintf(r->alpn, sizeof(r->alpn), "%s", tls_conn_alpn(&e->t) ? tls_conn_alpn(&e->t) : "");
	snprintf(r->sni, sizeof(r->sni), "%s", tls_conn_sni(&e->t) ? tls_conn_sni(&e->t) : "");
	snprintf(r->error, sizeof(r->error), "%s",
	         tls_conn_error(&e->t) ? tls_conn_error(&e->t) : "");
	tls_conn_free(&e->t);
	close(e->fd);
	e->live = false;
}

static void echo_step(struct echo_srv *e)
{
	if (tls_conn_pump(&e->t) < 0)
		return echo_finish(e);
	long n = -EAGAIN, w = -EAGAIN;
	while (e->len < sizeof(e->buf) &&
	       (n = tls_conn_read(&e->t, e->buf + e->len, sizeof(e->buf) - e->len)) > 0)
		e->len += (size_t)n;
	while (e->len && (w = tls_conn_write(&e->t, e->buf, e->len)) > 0) {
		e->res->echoed += (size_t)w;
		memmove(e->buf, e->buf + w, e->len - (size_t)w);
		e->len -= (size_t)w;
	}
	if ((n <= 0 && n != -EAGAIN) || (w < 0 && w != -EAGAIN))
		return echo_finish(e);
	if (e->res->echoed >= e->want && !e->closing) {
		e->closing = true;
		tls_conn_close(&e->t);
	}
	if (e->closing && tls_conn_close(&e->t) == 0)
		echo_finish(e);
}

/* Runs `openssl s_client ARGS` against a fresh listener served by cfg. */
static int s_client(struct tls_server_cfg *cfg, const char *args, const char *input,
                    char *out, size_t cap, struct served *res)
{
	struct net_addr a, la;
	net_addr_from_ip("127.0.0.1", 0, &a);
	int lfd = net_listen(&a, 4, false);
	net_local_addr(lfd, &la);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd %s && exec openssl s_client -connect 127.0.0.1:%u %s",
	         th_tmp(), net_addr_port(&la), args);
	int in, pout;
	pid_t pid = spawn(cmd, &in, &pout);
	if (write(in, input, strlen(input)) < 0)
		perror("write");
	struct echo_srv e = { .fd = -1, .want = strlen(input), .res = res };
	memset(res, 0, sizeof(*res));
	size_t olen = 0;
	bool child_out = true;
	uint64_t end = th_now_ms() + 10000;
	while ((child_out || e.live) && th_now_ms() < end) {
		struct pollfd p[3] = { { lfd, POLLIN, 0 }, { pout, POLLIN, 0 }, { e.fd, 0, 0 } };
		if (e.live) {
			unsigned m = tls_conn_interest(&e.t);
			p[2].events = (short)((m & RX_READ ? POLLIN : 0) | (m & RX_WRITE ? POLLOUT : 0));
		}
		poll(p, e.live ? 3 : 2, 100);
		int fd;
		struct net_addr peer;
		if ((p[0].revents & POLLIN) && !e.live && (fd = net_accept(lfd, &peer)) >= 0) {
			e.fd = fd;
			e.live = tls_conn_init_server(&e.t, cfg, fd) == 0;
		}
		ssize_t r;
		while ((r = read(pout, out + olen, cap - 1 - olen)) > 0)
			olen += (size_t)r;
		if (r == 0)
			child_out = false;
		if (e.live)
			echo_step(&e);
	}
	out[olen] = '\0';
	if (e.live)
		echo_finish(&e);
	close(in);
	close(pout);
	close(lfd);
	return reap(pid, 3000);
}

static bool has(const char *out, const char *s)
{
	bool ok = strstr(out, s) != NULL;
	if (!ok)
		fprintf(stderr, "output lacks \"%s\":\n%s\n", s, out);
	return ok;
}

static void test_s_client_basic(void)
{
	struct tls_server_cfg *s = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&s, NULL, 0, 30, err, sizeof(err)), 0);
	tls_server_cfg_write_pem(s, th_path("ours.crt"), th_path("ours.key"), err, sizeof(err));
	static char out[65536];
	struct served r;
	s_client(s,
	         "-servername localhost -alpn http/1.1 -CAfile ours.crt -verify_hostname localhost "
	         "-verify_return_error -sess_out sess.pem",
	         "ping-pong\n", out, sizeof(out), &r);
	CHECK(has(out, "New, TLSv1.2, Cipher is ECDHE-ECDSA-"));
	CHECK(has(out, "ALPN protocol: http/1.1"));
	CHECK(has(out, "Verify return code: 0 (ok)"));
	CHECK(has(out, "ping-pong"));
	CHECK(r.done && !r.resumed && r.echoed == 10);
	CHECK(strcmp(r.alpn, "http/1.1") == 0);
	CHECK(strcmp(r.sni, "localhost") == 0);
	CHECK_EQ_INT(r.error[0], 0);
	/* Resumption from the saved session. */
	s_client(s, "-servername localhost -alpn http/1.1 -sess_in sess.pem", "again\n", out,
	         sizeof(out), &r);
	CHECK(has(out, "Reused, TLSv1.2"));
	CHECK(has(out, "again"));
	CHECK(r.done && r.resumed);
	/* An h2-first browser-like offer still gets http/1.1. */
	s_client(s, "-servername localhost -alpn h2,http/1.1", "x\n", out, sizeof(out), &r);
	CHECK(has(out, "ALPN protocol: http/1.1"));
	/* ChaCha20 when the client insists on it. */
	s_client(s, "-cipher ECDHE-ECDSA-CHACHA20-POLY1305 -tls1_2", "c\n", out, sizeof(out), &r);
	CHECK(has(out, "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"));
	tls_server_cfg_unref(s);
}

static void test_s_client_refusals(void)
{
	struct tls_server_cfg *s = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&s, NULL, 0, 30, err, sizeof(err)), 0);
	static char out[65536];
	struct served r;
	/* The client does not trust us: OpenSSL says unknown_ca. */
	s_client(s, "-servername localhost -CAfile other.crt -verify_return_error", "x\n", out,
	         sizeof(out), &r);
	CHECK(!r.done && strstr(r.error, "unknown_ca") != NULL);
	if (!strstr(r.error, "unknown_ca"))
		fprintf(stderr, "server said: %s\n", r.error);
	/* TLS 1.3 only. */
	s_client(s, "-tls1_3", "x\n", out, sizeof(out), &r);
	CHECK(!r.done && strstr(r.error, "TLS 1.3 only") != NULL);
	if (!strstr(r.error, "TLS 1.3 only"))
		fprintf(stderr, "server said: %s\n", r.error);
	/* Only suites we do not ship. */
	s_client(s, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", "x\n", out, sizeof(out), &r);
	CHECK(!r.done && strcmp(r.error, "no cipher suite in common with the peer (TLS 1.3 only, "
	                                 "or no ECDHE with AES-GCM/ChaCha20; we sent "
	                                 "handshake_failure)") == 0);
	if (r.done || !strstr(r.error, "handshake_failure"))
		fprintf(stderr, "server said: %s\n", r.error);
	tls_server_cfg_unref(s);
	/* An RSA certificate made by openssl, with its intermediate-less chain. */
	CHECK_EQ_INT(tls_server_cfg_load(&s, th_path("leaf.crt"), th_path("leaf.key"), err,
	                                 sizeof(err)),
	             0);
	s_client(s, "-servername localhost -CAfile ca.crt -verify_return_error", "rsa\n", out,
	         sizeof(out), &r);
	CHECK(has(out, "Cipher is ECDHE-RSA-"));
	CHECK(has(out, "Verify return code: 0 (ok)"));
	tls_server_cfg_unref(s);
	/* A chain with an intermediate, sent by us. */
	CHECK_EQ_INT(tls_server_cfg_load(&s, th_path("chain2.pem"), th_path("leaf2.key"), err,
	                                 sizeof(err)),
	             0);
	s_client(s, "-servername localhost -CAfile ca.crt -verify_return_error", "chain\n", out,
	         sizeof(out), &r);
	CHECK(has(out, "Verify return code: 0 (ok)"));
	CHECK(has(out, "chain"));
	tls_server_cfg_unref(s);
}

/* ---- our client against s_server ---- */

static uint16_t free_port(void)
{
	struct net_addr a, la;
	net_addr_from_ip("127.0.0.1", 0, &a);
	int fd = net_listen(&a, 1, false);
	net_local_addr(fd, &la);
	close(fd);
	return net_addr_port(&la);
}

struct outcome {
	bool done, resumed, echo_ok;
	char error[200], alpn[16], cipher[64];
};

/* Connects (retrying while s_server starts), handshakes, sends "hello\n"
 * and expects s_server -rev's "olleh". */
static void client_once(uint16_t port, struct tls_client_cfg *c, const char *host,
                        struct outcome *o)
{
	struct net_addr a;
	net_addr_from_ip("127.0.0.1", port, &a);
	memset(o, 0, sizeof(*o));
	int fd = -1;
	for (int i = 0; i < 300 && fd < 0; i++) {
		fd = net_connect(&a);
		struct pollfd p = { fd, POLLOUT, 0 };
		if (fd >= 0 && (poll(&p, 1, 1000) != 1 || net_connect_result(fd) != 0)) {
			close(fd);
			fd = -1;
			usleep(20000);
		}
	}
	if (fd < 0)
		return (void)snprintf(o->error, sizeof(o->error), "cannot connect");
	struct tls_conn t;
	tls_conn_init_client(&t, c, fd, host);
	char got[64] = "";
	size_t glen = 0;
	bool sent = false;
	uint64_t end = th_now_ms() + 8000;
	while (th_now_ms() < end && !strstr(got, "olleh")) {
		if (tls_conn_pump(&t) < 0)
			break;
		if (tls_conn_handshake_done(&t) && !sent)
			sent = tls_conn_write(&t, "hello\n", 6) == 6;
		long n = tls_conn_read(&t, got + glen, sizeof(got) - 1 - glen);
		if (n > 0)
			got[glen += (size_t)n] = '\0';
		else if (n != -EAGAIN)
			break;
		unsigned m = tls_conn_interest(&t);
		struct pollfd p = { fd, (short)((m & RX_READ ? POLLIN : 0) | (m & RX_WRITE ? POLLOUT : 0)),
			                0 };
		poll(&p, 1, 100);
	}
	o->done = tls_conn_handshake_done(&t);
	o->resumed = tls_conn_resumed(&t);
	o->echo_ok = strstr(got, "olleh") != NULL;
	snprintf(o->error, sizeof(o->error), "%s", tls_conn_error(&t) ? tls_conn_error(&t) : "");
	snprintf(o->alpn, sizeof(o->alpn), "%s", tls_conn_alpn(&t) ? tls_conn_alpn(&t) : "");
	snprintf(o->cipher, sizeof(o->cipher), "%s", tls_conn_cipher(&t) ? tls_conn_cipher(&t) : "");
	tls_conn_close(&t);
	tls_conn_free(&t);
	close(fd);
}

/* s_server ARGS for `conns` connections; our client connects that often. */
static void against(const char *args, struct tls_client_cfg *c, const char *host, int conns,
                    struct outcome *o)
{
	uint16_t port = free_port();
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && exec openssl s_server -accept 127.0.0.1:%u -rev -naccept %d %s", th_tmp(),
	         port, conns, args);
	int in, out;
	pid_t pid = spawn(cmd, &in, &out);
	for (int i = 0; i < conns; i++)
		client_once(port, c, host, &o[i]);
	close(in);
	close(out);
	kill(pid, SIGTERM);
	reap(pid, 2000);
}

static void expect_ok(const struct outcome *o, const char *what)
{
	bool ok = o->done && o->echo_ok && o->error[0] == 0;
	if (!ok)
		fprintf(stderr, "%s: done %d echo %d error \"%s\"\n", what, o->done, o->echo_ok,
		        o->error);
	CHECK(ok);
}

static void expect_err(const struct outcome *o, const char *sentence, const char *what)
{
	bool ok = !o->done && strcmp(o->error, sentence) == 0;
	if (!ok)
		fprintf(stderr, "%s: want \"%s\", got done %d \"%s\"\n", what, sentence, o->done,
		        o->error);
	CHECK(ok);
}

static void test_our_client(void)
{
	const char *rsa = "-cert leaf.crt -key leaf.key -alpn http/1.1";
	struct tls_client_cfg ca, other, sys, pin;
	struct outcome o[2];
	CHECK_EQ_INT(tls_client_cfg_init_ca(&ca, th_path("ca.crt"), err, sizeof(err)), 0);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&other, th_path("other.crt"), err, sizeof(err)), 0);
	against(rsa, &ca, "localhost", 2, o);
	expect_ok(&o[0], "CA + RSA leaf");
	CHECK(strcmp(o[0].alpn, "http/1.1") == 0);
	CHECK(strncmp(o[0].cipher, "ECDHE-RSA-", 10) == 0);
	CHECK(!o[0].resumed);
	expect_ok(&o[1], "second connection");
	CHECK(o[1].resumed); /* OpenSSL's session cache took our session id */
	against(rsa, &ca, "127.0.0.1", 1, o);
	expect_ok(&o[0], "IP SAN");
	against(rsa, &ca, "wrong.example", 1, o);
	expect_err(&o[0], "host name mismatch (certificate is for another name)", "wrong host");
	against(rsa, &other, "localhost", 1, o);
	expect_err(&o[0], "certificate not trusted (unknown CA)", "untrusted CA");
	against("-cert expired.crt -key leaf.key", &ca, "localhost", 1, o);
	expect_err(&o[0], "certificate expired or not yet valid", "expired");
	against("-cert leaf2.crt -key leaf2.key -cert_chain inter.crt", &ca, "localhost", 1, o);
	expect_ok(&o[0], "via intermediate");
	if (tls_client_cfg_init_ca(&sys, NULL, err, sizeof(err)) == 0) {
		against(rsa, &sys, "localhost", 1, o);
		expect_err(&o[0], "certificate not trusted (unknown CA)", "system bundle");
		tls_client_cfg_free(&sys);
	}
	char fp[256];
	th_sh_out(fp, sizeof(fp), "openssl x509 -in leaf.crt -noout -fingerprint -sha256");
	CHECK_EQ_INT(tls_client_cfg_init_pin(&pin, fp, err, sizeof(err)), 0);
	against(rsa, &pin, "any.name", 1, o);
	expect_ok(&o[0], "pin");
	tls_client_cfg_free(&pin);
	th_sh_out(fp, sizeof(fp), "openssl x509 -in other.crt -noout -fingerprint -sha256");
	CHECK_EQ_INT(tls_client_cfg_init_pin(&pin, fp, err, sizeof(err)), 0);
	against(rsa, &pin, "localhost", 1, o);
	expect_err(&o[0], "pinned fingerprint does not match", "wrong pin");
	tls_client_cfg_free(&pin);
	against("-cert leaf.crt -key leaf.key -tls1_3", &ca, "localhost", 1, o);
	expect_err(&o[0], "peer refused the protocol version (protocol_version: TLS 1.3 only?)",
	           "TLS 1.3 only server");
	against("-cert leaf.crt -key leaf.key -tls1_2 -cipher AES128-SHA", &ca, "localhost", 1, o);
	expect_err(&o[0], "peer refused the handshake (handshake_failure: no common cipher suite?)",
	           "no common suite");
	tls_client_cfg_free(&ca);
	tls_client_cfg_free(&other);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!th_have_openssl())
		return test_summary();
	setup_pki();
	TEST_RUN(test_s_client_basic);
	TEST_RUN(test_s_client_refusals);
	TEST_RUN(test_our_client);
	th_cleanup();
	return test_summary();
}
