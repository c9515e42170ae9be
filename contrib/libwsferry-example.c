/* libwsferry-example.c — wsferry embedded twice in one program (wsferry(3)):
 * a server running in a thread of its own (wsferry_run), clients driven by
 * this program's own poll(2) loop (wsferry_fd / wsferry_run_once). A tunnel
 * added at run time on a port the kernel picks carries 1 MiB to an echo
 * service and back, byte-exact; the tunnel events count those bytes; a
 * SOCKS5 proxy is added, used and removed; an -R is added and used; the
 * first tunnel is removed; a second client with another key is refused
 * while the first goes on working; everything stops and is freed.
 *
 *   cc -o example libwsferry-example.c -lwsferry -lbearssl -lsqlite3 -lpthread
 *
 * Prints one line per check and "N passed, N failed" last (make test runs it
 * through test/integration/libwsferry_test.sh, also under valgrind). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wsferry.h>

#define KEY_A "9x6G-5kQGHrgjtlkBhcE8qd4n3leXs89HGpzwPysBNg"
#define KEY_B "R8BVbEeYsFGkBAaIM4jGxxvUebeYblhtqcXoIQ-utL0"
#define PAYLOAD (1024 * 1024)
#define DEADLINE_MS 20000

static int passed, failed;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (ok)
		passed++;
	else
		failed++;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what each instance tells us ---- */

struct watch {
	const char *name;
	int errors;             /* error lines logged */
	int opened, closed;
	uint64_t bytes_out, bytes_in; /* of the last closed tunnel */
	pthread_mutex_t lock;   /* the server's callbacks run in its thread */
};

static void on_log(void *arg, enum wsferry_level level, const char *msg)
{
	struct watch *w = arg;
	pthread_mutex_lock(&w->lock);
	if (level == WSFERRY_LOG_ERROR)
		w->errors++;
	pthread_mutex_unlock(&w->lock);
	if (level <= WSFERRY_LOG_INFO)
		fprintf(stderr, "[%s] %s\n", w->name, msg);
}

static void on_event(void *arg, const struct wsferry_event *ev)
{
	struct watch *w = arg;
	pthread_mutex_lock(&w->lock);
	if (ev->type == WSFERRY_TUNNEL_OPENED) {
		w->opened++;
	} else {
		w->closed++;
		w->bytes_out = ev->bytes_out;
		w->bytes_in = ev->bytes_in;
	}
	pthread_mutex_unlock(&w->lock);
	if (ev->type == WSFERRY_TUNNEL_OPENED)
		fprintf(stderr, "[%s] c%u opened", w->name, ev->id);
	else
		fprintf(stderr, "[%s] c%u closed: %llu out, %llu in%s%s", w->name, ev->id, (unsigned long long)ev->bytes_out,
		        (unsigned long long)ev->bytes_in, ev->error ? ", " : "",
		        ev->error ? ev->error : "");
	fputc('\n', stderr);
}

static int watched(struct watch *w, const int *field)
{
	pthread_mutex_lock(&w->lock);
	int v = *field;
	pthread_mutex_unlock(&w->lock);
	return v;
}

/* ---- plain sockets on 127.0.0.1 ---- */

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The destination: echoes each connection until EOF (one at a time). */
struct echo {
	int fd;
	atomic_int quit;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	char buf[16384];
	while (!atomic_load(&e->quit)) {
		struct pollfd p = {.fd = e->fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int c = accept(e->fd, NULL, NULL);
		if (c < 0)
			continue;
		ssize_t n;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		close(c);
	}
	return NULL;
}

/* ---- the server's thread ---- */

static void *server_main(void *arg)
{
	return (void *)(intptr_t)wsferry_run(arg);
}

/* ---- this program's loop: our socket and the client instance ---- */

/* Sends out[0..n) through fd (then half-closes when shut) and reads m bytes
 * back into in, while the client instance gets its turns: 0 when all m came. */
static int exchange(wsferry *client, int fd, const unsigned char *out, size_t n,
                    unsigned char *in, size_t m, int shut)
{
	size_t sent = 0, got = 0;
	long long end = now_ms() + DEADLINE_MS;
	while (got < m && now_ms() < end) {
		struct pollfd p[2] = {
			{.fd = wsferry_fd(client), .events = POLLIN},
			{.fd = fd, .events = (short)(POLLIN | (sent < n ? POLLOUT : 0))},
		};
		int t = wsferry_timeout(client);
		if (poll(p, 2, t < 0 || t > 100 ? 100 : t) < 0 && errno != EINTR)
			return -1;
		if (wsferry_run_once(client, 0) != 0)
			return -1;
		if (p[1].revents & POLLOUT) {
			ssize_t w = send(fd, out + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0 && (sent += (size_t)w) == n && shut)
				shutdown(fd, SHUT_WR); /* the echo ends on our EOF */
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t r = recv(fd, in + got, m - got, MSG_DONTWAIT);
			if (r == 0)
				break;
			if (r > 0)
				got += (size_t)r;
		}
	}
	return got == m ? 0 : -1;
}

/* Through the echo and back: 0 when every byte came back equal. */
static int transfer(wsferry *client, int fd, const unsigned char *out, size_t n,
                    unsigned char *in)
{
	return exchange(client, fd, out, n, in, n, 1) == 0 && memcmp(out, in, n) == 0 ? 0 : -1;
}

/* RFC 1928: no authentication, CONNECT 127.0.0.1:port; 0 when granted. */
static int socks5_connect(wsferry *client, int fd, int port)
{
	const unsigned char hello[] = {5, 1, 0};
	const unsigned char req[] = {5, 1, 0, 1, 127, 0, 0, 1, (unsigned char)(port >> 8),
	                             (unsigned char)port};
	unsigned char reply[10];
	return exchange(client, fd, hello, sizeof(hello), reply, 2, 0) == 0 && reply[0] == 5 &&
	               reply[1] == 0 && exchange(client, fd, req, sizeof(req), reply, 10, 0) == 0 &&
	               reply[1] == 0
	           ? 0
	           : -1;
}

/* Turns of the client's loop until *field reaches want (or the deadline). */
static int spin_until(wsferry *client, struct watch *w, const int *field, int want)
{
	long long end = now_ms() + DEADLINE_MS;
	while (watched(w, field) < want && now_ms() < end)
		if (wsferry_run_once(client, 50) < 0)
			return -1;
	return watched(w, field) >= want ? 0 : -1;
}

/* Connects through a port of the client and waits for the connection's end
 * (the server refused: EOF or a reset, no byte of the echo). */
static int refused_through(wsferry *client, int port)
{
	int fd = connect_to(port);
	if (fd < 0)
		return 0;
	const char msg[] = "should not arrive";
	send(fd, msg, sizeof(msg), MSG_NOSIGNAL);
	long long end = now_ms() + DEADLINE_MS;
	int rc = -1;
	while (now_ms() < end) {
		char b[64];
		wsferry_run_once(client, 50);
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			rc = 0;
			break;
		}
		if (r > 0)
			break; /* an echo: not refused */
	}
	close(fd);
	return rc;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the library leaves signals to its program */
	struct watch sw = {.name = "server"}, cw = {.name = "client"}, bw = {.name = "client-b"};
	pthread_mutex_init(&sw.lock, NULL);
	pthread_mutex_init(&cw.lock, NULL);
	pthread_mutex_init(&bw.lock, NULL);

	struct echo echo = {0};
	int echo_port = 0, server_port = 0;
	echo.fd = listen_any(&echo_port);
	int probe = listen_any(&server_port); /* a free port for the server */
	close(probe);
	pthread_t echo_thread;
	check(echo.fd >= 0 && pthread_create(&echo_thread, NULL, echo_main, &echo) == 0,
	      "echo service started");

	char url[64], target[96];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", server_port);

	/* A bad option: NULL, and the reason reaches the log callback. */
	struct watch bad = {.name = "bad"};
	pthread_mutex_init(&bad.lock, NULL);
	struct wsferry_callbacks badcb = {on_log, NULL, &bad};
	const char *bad_argv[] = {url, "--no-such-option"};
	wsferry *nothing = wsferry_new("client", 2, bad_argv, &badcb);
	check(!nothing && bad.errors == 1, "a bad option: no instance, one error line");

	/* The server, in a thread of its own. */
	struct wsferry_callbacks scb = {on_log, on_event, &sw};
	const char *server_argv[] = {url, "--key", KEY_A};
	wsferry *server = wsferry_new("server", 3, server_argv, &scb);
	check(server && wsferry_start(server) == 0, "server instance started");
	pthread_t server_thread;
	check(server && pthread_create(&server_thread, NULL, server_main, server) == 0,
	      "server runs in its thread");

	/* The client, in this loop; no tunnel on its command line. */
	struct wsferry_callbacks ccb = {on_log, on_event, &cw};
	const char *client_argv[] = {url, "--key", KEY_A, "--log-level", "info"};
	wsferry *client = wsferry_new("client", 5, client_argv, &ccb);
	check(client && wsferry_start(client) == 0, "client instance started");
	check(client && wsferry_fd(client) >= 0, "client exposes a pollable descriptor");

	snprintf(target, sizeof(target), "-L 127.0.0.1:0:127.0.0.1:%d", echo_port);
	int tunnel = client ? wsferry_tunnel_add(client, target) : -1;
	int port = tunnel >= 0 ? wsferry_tunnel_port(client, tunnel) : -1;
	check(tunnel == 0 && port > 0, "-L added at run time on a kernel-picked port");

	unsigned char *out = malloc(PAYLOAD), *in = malloc(PAYLOAD);
	unsigned seed = 12345;
	for (size_t i = 0; out && i < PAYLOAD; i++) {
		seed = seed * 1103515245u + 12345u;
		out[i] = (unsigned char)(seed >> 16);
	}
	int fd = port > 0 ? connect_to(port) : -1;
	check(fd >= 0 && out && in && transfer(client, fd, out, PAYLOAD, in) == 0,
	      "1 MiB through the tunnel and back, byte-exact");
	if (fd >= 0)
		close(fd);
	check(client && spin_until(client, &cw, &cw.closed, 1) == 0 && cw.opened == 1,
	      "client: one tunnel opened, then closed");
	check(cw.bytes_out == PAYLOAD && cw.bytes_in == PAYLOAD,
	      "client: the closed event counts 1 MiB each way");
	long long end = now_ms() + DEADLINE_MS;
	while (watched(&sw, &sw.closed) < 1 && now_ms() < end)
		wsferry_run_once(client, 50);
	check(watched(&sw, &sw.opened) == 1 && watched(&sw, &sw.closed) == 1,
	      "server: the same tunnel opened and closed (events from its thread)");

	/* A second client with another key: refused by the server, while the
	 * first client's key (no global state) still works. */
	struct wsferry_callbacks bcb = {on_log, on_event, &bw};
	const char *b_argv[] = {url, "--key", KEY_B, "-L", target + 3};
	wsferry *client_b = wsferry_new("client", 5, b_argv, &bcb);
	check(client_b && wsferry_start(client_b) == 0, "second client (another key) started");
	int port_b = client_b ? wsferry_tunnel_port(client_b, 0) : -1;
	check(port_b > 0 && refused_through(client_b, port_b) == 0 && bw.opened == 0,
	      "second client: refused by the server (wrong key)");
	fd = connect_to(port);
	check(fd >= 0 && transfer(client, fd, out, 65536, in) == 0,
	      "first client still tunnels with its own key");
	if (fd >= 0)
		close(fd);

	/* A SOCKS5 proxy (-D) added at run time, used, and removed. */
	int socks = client ? wsferry_tunnel_add(client, "-D 127.0.0.1:0") : -1;
	int socks_port = socks >= 0 ? wsferry_tunnel_port(client, socks) : -1;
	fd = socks_port > 0 ? connect_to(socks_port) : -1;
	check(socks == 1 && fd >= 0 && socks5_connect(client, fd, echo_port) == 0 &&
	          transfer(client, fd, out, 65536, in) == 0,
	      "-D added at run time: SOCKS5 CONNECT, 64 KiB byte-exact");
	if (fd >= 0)
		close(fd);
	check(client && wsferry_tunnel_remove(client, socks) == 0 &&
	          wsferry_tunnel_remove(client, socks) == -1,
	      "-D removed (once)");

	/* A remote forward (-R) added at run time: the server listens, this
	 * client dials the echo service. */
	int rport = 0;
	int probe_r = listen_any(&rport);
	close(probe_r);
	char rspec[96];
	snprintf(rspec, sizeof(rspec), "-R 127.0.0.1:%d:127.0.0.1:%d", rport, echo_port);
	int remote = client ? wsferry_tunnel_add(client, rspec) : -1;
	fd = -1;
	end = now_ms() + DEADLINE_MS;
	while (remote >= 0 && fd < 0 && now_ms() < end) {
		wsferry_run_once(client, 50); /* the registration travels */
		fd = connect_to(rport);
	}
	check(remote == 2 && fd >= 0 && transfer(client, fd, out, 65536, in) == 0,
	      "-R added at run time: the server's port reaches our echo, 64 KiB byte-exact");
	if (fd >= 0)
		close(fd);
	check(remote >= 0 && wsferry_tunnel_port(client, remote) == -1,
	      "-R: no local port to tell");

	/* Removing the tunnel closes its listener. */
	check(client && wsferry_tunnel_remove(client, tunnel) == 0, "tunnel removed");
	fd = connect_to(port);
	check(fd < 0 && wsferry_tunnel_port(client, tunnel) == -1,
	      "its port refuses connections now");
	if (fd >= 0)
		close(fd);
	int errors = cw.errors;
	check(client && wsferry_tunnel_add(client, "-L nonsense") == -1 && cw.errors == errors + 1,
	      "a bad tunnel spec: -1 and one error line");

	/* Stop: the server from this thread while it runs in its own. */
	if (server) {
		wsferry_stop(server);
		void *rc = (void *)(intptr_t)-1;
		pthread_join(server_thread, &rc);
		check(rc == NULL, "server: wsferry_run returned 0 after wsferry_stop");
		wsferry_free(server);
	}
	if (client) {
		wsferry_stop(client);
		int rc;
		end = now_ms() + DEADLINE_MS;
		while ((rc = wsferry_run_once(client, 50)) == 0 && now_ms() < end)
			;
		check(rc == 1, "client: wsferry_run_once reports the stop");
		wsferry_free(client);
	}
	wsferry_free(client_b);
	atomic_store(&echo.quit, 1);
	pthread_join(echo_thread, NULL);
	close(echo.fd);
	free(out);
	free(in);
	pthread_mutex_destroy(&sw.lock);
	pthread_mutex_destroy(&cw.lock);
	pthread_mutex_destroy(&bw.lock);
	pthread_mutex_destroy(&bad.lock);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
