/* tls_bench.c — tls/ beside plain TCP over 127.0.0.1, in one process and
 * one run: connections per second (TCP connect+accept, full TLS handshake
 * with a self-signed EC P-256 certificate, resumed handshake), and bulk
 * MB/s one way (plain loopback vs through tls_conn, 4 KiB records out).
 * Both ends run in this thread, so handshake figures are the cost of BOTH
 * sides. Prints; never asserts.
 * Run: make build/bench/tls_bench && ./build/bench/tls_bench */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/net.h"
#include "core/rx.h"
#include "tls/tls.h"

#define HANDSHAKES 400
#define BULK_BYTES (256u << 20)

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int lfd;
static struct net_addr laddr;

/* A connected non-blocking TCP pair over loopback. */
static void tcp_pair(int *srv, int *cli)
{
	*cli = net_connect(&laddr);
	struct pollfd p = { lfd, POLLIN, 0 };
	poll(&p, 1, 1000);
	*srv = net_accept(lfd, &(struct net_addr){ 0 });
	struct pollfd q = { *cli, POLLOUT, 0 };
	poll(&q, 1, 1000);
	net_set_nodelay(*srv);
	net_set_nodelay(*cli);
}

static short events(const struct tls_conn *t)
{
	unsigned m = tls_conn_interest(t);
	return (short)((m & RX_READ ? POLLIN : 0) | (m & RX_WRITE ? POLLOUT : 0));
}

/* Handshake both ends; 0 or -1. */
static int handshake(struct tls_conn *s, struct tls_conn *c)
{
	for (int i = 0; i < 1000; i++) {
		if (tls_conn_pump(s) < 0 || tls_conn_pump(c) < 0)
			return -1;
		if (tls_conn_handshake_done(s) && tls_conn_handshake_done(c))
			return 0;
		struct pollfd p[2] = { { s->fd, events(s), 0 }, { c->fd, events(c), 0 } };
		poll(p, 2, 1000);
	}
	return -1;
}

static double bench_tcp(void)
{
	double t0 = now_sec();
	for (int i = 0; i < HANDSHAKES; i++) {
		int s, c;
		tcp_pair(&s, &c);
		close(s);
		close(c);
	}
	return HANDSHAKES / (now_sec() - t0);
}

static double bench_handshakes(struct tls_server_cfg *cfg, struct tls_client_cfg *cc,
                               bool resume, int *resumed)
{
	*resumed = 0;
	double t0 = now_sec();
	for (int i = 0; i < HANDSHAKES; i++) {
		int sfd, cfd;
		struct tls_conn s, c;
		tcp_pair(&sfd, &cfd);
		if (!resume)
			cc->have_session = false;
		tls_conn_init_server(&s, cfg, sfd);
		tls_conn_init_client(&c, cc, cfd, "localhost");
		if (handshake(&s, &c) < 0)
			fprintf(stderr, "handshake failed: %s / %s\n", tls_conn_error(&s),
			        tls_conn_error(&c));
		*resumed += tls_conn_resumed(&c) && tls_conn_resumed(&s);
		tls_conn_free(&s);
		tls_conn_free(&c);
		close(sfd);
		close(cfd);
	}
	return HANDSHAKES / (now_sec() - t0);
}

static double bench_tcp_bulk(void)
{
	int s, c;
	tcp_pair(&s, &c);
	static uint8_t buf[1 << 16];
	size_t sent = 0, got = 0;
	double t0 = now_sec();
	while (got < BULK_BYTES) {
		if (sent < BULK_BYTES) {
			long w = net_write(c, buf, sizeof(buf));
			sent += w > 0 ? (size_t)w : 0;
		}
		long r = net_read(s, buf, sizeof(buf));
		got += r > 0 ? (size_t)r : 0;
		if (r == -EAGAIN) {
			struct pollfd p[2] = { { s, POLLIN, 0 }, { c, POLLOUT, 0 } };
			poll(p, 2, 1000);
		}
	}
	double dt = now_sec() - t0;
	close(s);
	close(c);
	return BULK_BYTES / dt / 1e6;
}

static double bench_tls_bulk(struct tls_server_cfg *cfg, struct tls_client_cfg *cc,
                             const char **cipher)
{
	int sfd, cfd;
	struct tls_conn s, c;
	tcp_pair(&sfd, &cfd);
	tls_conn_init_server(&s, cfg, sfd);
	tls_conn_init_client(&c, cc, cfd, "localhost");
	handshake(&s, &c);
	*cipher = tls_conn_cipher(&c);
	static uint8_t buf[1 << 16];
	size_t sent = 0, got = 0;
	double t0 = now_sec();
	while (got < BULK_BYTES) {
		long w = 0, r = 0;
		while (sent < BULK_BYTES && (w = tls_conn_write(&c, buf, sizeof(buf))) > 0)
			sent += (size_t)w;
		while ((r = tls_conn_read(&s, buf, sizeof(buf))) > 0)
			got += (size_t)r;
		if ((w < 0 && w != -EAGAIN) || (r <= 0 && r != -EAGAIN) || got >= BULK_BYTES)
			break;
		struct pollfd p[2] = { { sfd, events(&s), 0 }, { cfd, events(&c), 0 } };
		poll(p, 2, 1000);
		tls_conn_pump(&c);
	}
	double dt = now_sec() - t0;
	tls_conn_free(&s);
	tls_conn_free(&c);
	close(sfd);
	close(cfd);
	return got / dt / 1e6;
}

int main(void)
{
	char err[TLS_ERRLEN], fp[TLS_FP_HEX_LEN + 1];
	net_addr_from_ip("127.0.0.1", 0, &laddr);
	lfd = net_listen(&laddr, 128, false);
	net_local_addr(lfd, &laddr);
	struct tls_server_cfg *cfg;
	if (tls_server_cfg_selfsigned(&cfg, NULL, 0, 30, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	tls_server_cfg_fingerprint(cfg, fp);
	struct tls_client_cfg cc;
	tls_client_cfg_init_pin(&cc, fp, err, sizeof(err));
	int resumed;
	printf("%-44s %12s %8s\n", "connections over 127.0.0.1 (both ends)", "per second", "ratio");
	double tcp = bench_tcp();
	printf("%-44s %12.0f %8.3f\n", "TCP connect+accept", tcp, 1.0);
	double full = bench_handshakes(cfg, &cc, false, &resumed);
	printf("%-44s %12.0f %8.3f\n", "TLS full handshake (ECDHE, ECDSA P-256)", full, full / tcp);
	double res = bench_handshakes(cfg, &cc, true, &resumed);
	printf("%-44s %12.0f %8.3f   (%d/%d resumed)\n", "TLS resumed handshake (session cache)", res,
	       res / tcp, resumed, HANDSHAKES);
	const char *cipher = NULL;
	double plain = bench_tcp_bulk();
	double tls = bench_tls_bulk(cfg, &cc, &cipher);
	printf("\n%-44s %12s %8s\n", "bulk, one way, 256 MiB", "MB/s", "ratio");
	printf("%-44s %12.0f %8.3f\n", "TCP loopback, 64 KiB writes", plain, 1.0);
	printf("%-44.44s %12.0f %8.3f\n", cipher ? cipher : "TLS", tls, tls / plain);
	tls_client_cfg_free(&cc);
	tls_server_cfg_unref(cfg);
	close(lfd);
	return 0;
}
