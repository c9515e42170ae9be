/* udp_load.c — UDP load for bench/udp.sh; plain C11, no project code.
 *   udp_load echo PORT                      echo every datagram (until killed)
 *   udp_load rate PORT SIZE SECONDS WINDOW  datagrams of SIZE bytes to
 *       127.0.0.1:PORT (an echo), WINDOW unanswered at most; prints the
 *       echoed datagrams/s, MB/s of payload each way, and the loss
 *   udp_load dns PORT NAME COUNT            COUNT A queries for NAME, one at
 *       a time; prints p50 and p99 of the round trip in microseconds
 * UDP_LOAD_HOST=IPv4 replaces 127.0.0.1 (bench/transparent.py aims across
 * network namespaces). Prints, never asserts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOST_MS 200 /* an echo later than this counts as lost */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int udp_socket(int port, int bind_it)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 8 << 20;
	const char *host = getenv("UDP_LOAD_HOST");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (host && inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "UDP_LOAD_HOST: not an IPv4 address\n");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (fd < 0 || (bind_it ? bind(fd, (struct sockaddr *)&a, sizeof(a))
	                       : connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0) {
		perror("udp socket");
		exit(1);
	}
	return fd;
}

static int echo(int port)
{
	int fd = udp_socket(port, 1);
	static uint8_t buf[65536];
	for (;;) { /* until killed */
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
		else if (errno != EINTR)
			return 1;
	}
}

static int rate(int port, size_t size, double seconds, int window)
{
	int fd = udp_socket(port, 0);
	static uint8_t buf[65536];
	uint64_t sent = 0, got = 0;
	int outstanding = 0;
	memset(buf, 0xa5, sizeof(buf));
	double start = now_s(), end = start + seconds;
	while (now_s() < end) {
		while (outstanding < window) {
			if (send(fd, buf, size, 0) < 0)
				break;
			sent++;
			outstanding++;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, LOST_MS) <= 0) {
			outstanding = 0; /* the rest of the window is lost */
			continue;
		}
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0) {
			got++;
			if (outstanding)
				outstanding--;
		}
	}
	double t = now_s() - start;
	printf("%.0f datagrams/s  %.1f MB/s each way  (%llu sent, %llu echoed, %.2f%% lost)\n",
	       (double)got / t, (double)got * (double)size / t / 1e6, (unsigned long long)sent,
	       (unsigned long long)got, sent ? 100.0 * (double)(sent - got) / (double)sent : 0.0);
	return 0;
}

static size_t dns_query(uint8_t *q, const char *name, uint16_t id)
{
	size_t n = 0;
	uint8_t head[12] = {(uint8_t)(id >> 8), (uint8_t)id, 1, 0, 0, 1};
	memcpy(q, head, 12);
	n = 12;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot != NULL);
	}
	memcpy(q + n, "\0\0\1\0\1", 5);
	return n + 5;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int dns(int port, const char *name, int count)
{
	int fd = udp_socket(port, 0), lost = 0;
	double *rtt = calloc((size_t)count, sizeof(double));
	uint8_t q[512], r[4096];
	int done = 0;
	for (int i = 0; i < count; i++) {
		size_t n = dns_query(q, name, (uint16_t)i);
		double t0 = now_s();
		send(fd, q, n, 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0 || recv(fd, r, sizeof(r), 0) < 2) {
			lost++;
			continue;
		}
		rtt[done++] = (now_s() - t0) * 1e6;
	}
	qsort(rtt, (size_t)done, sizeof(double), cmp_double);
	if (done)
		printf("p50 %.0f us  p99 %.0f us  (%d queries, %d unanswered)\n", rtt[done / 2],
		       rtt[(size_t)((double)done * 0.99)], count, lost);
	free(rtt);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "rate") == 0)
		return rate(atoi(argv[2]), (size_t)atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	if (argc == 5 && strcmp(argv[1], "dns") == 0)
		return dns(atoi(argv[2]), argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: udp_load echo PORT | rate PORT SIZE SECONDS WINDOW | "
	                "dns PORT NAME COUNT\n");
	return 2;
}
