/* push_load.c — load for push servers (bench/push.sh): N WebSocket
 * subscribers, then POSTs with X-API-KEY, timing each message from the
 * POST's first byte to its arrival at the last subscriber (fan-out latency),
 * and the rate at which a burst of messages reaches every subscriber.
 * Plain C11 + epoll, no project code, so the same tool measures any server.
 *   push_load HOST PORT WSPATH POSTPORT POSTPATH KEY SUBS LAT_MSGS RATE_MSGS
 * Prints "key value" lines. Nothing here asserts: it measures. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sub {
	int fd;
	uint64_t got;      /* text frames received */
	uint8_t hdr[14];
	unsigned hn;       /* header bytes held */
	uint64_t left;     /* payload bytes to skip */
	int op;
};

static struct sockaddr_in addr_of(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &a.sin_addr);
	return a;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int dial(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void subscribe(struct sub *s, struct sockaddr_in *a, const char *path)
{
	char req[512], buf[1024];
	s->fd = dial(a);
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 13\r\n\r\n", path);
	if (write(s->fd, req, (size_t)n) != n)
		exit(1);
	size_t got = 0;
	while (got < sizeof(buf) - 1) { /* the 101 head, byte by byte past its end: no overread */
		if (read(s->fd, buf + got, 1) != 1) {
			fprintf(stderr, "upgrade failed\n");
			exit(1);
		}
		got++;
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "upgrade answered %.40s\n", buf);
		exit(1);
	}
}

/* Counts whole text frames in what arrived. */
static void feed(struct sub *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (s->left > 0) {
			size_t k = n < s->left ? n : (size_t)s->left;
			s->left -= k, p += k, n -= k;
			if (s->left == 0 && s->op == 1)
				s->got++;
			continue;
		}
		s->hdr[s->hn++] = *p++, n--;
		if (s->hn < 2)
			continue;
		unsigned need = (s->hdr[1] & 127) == 126 ? 4 : (s->hdr[1] & 127) == 127 ? 10 : 2;
		if (s->hn < need)
			continue;
		uint64_t len = s->hdr[1] & 127;
		if (len == 126)
			len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
		else if (len == 127)
			for (int i = 0, j = 2; i < 8; i++, j++)
				len = (i ? len << 8 : 0) | s->hdr[j];
		s->op = s->hdr[0] & 15;
		s->hn = 0;
		s->left = len;
		if (len == 0 && s->op == 1)
			s->got++;
	}
}

static int ep;
static struct sub *subs;
static int nsubs;

/* Reads until every subscriber holds want frames; ms waited, -1 on timeout. */
static double wait_all(uint64_t want, double t0, double limit_ms)
{
	struct epoll_event ev[256];
	uint8_t buf[65536];
	int done = 0;
	for (int i = 0; i < nsubs; i++)
		done += subs[i].got >= want;
	while (done < nsubs) {
		if (now_ms() - t0 > limit_ms)
			return -1;
		int n = epoll_wait(ep, ev, 256, 100);
		for (int i = 0; i < n; i++) {
			struct sub *s = &subs[ev[i].data.u32];
			ssize_t r = read(s->fd, buf, sizeof(buf));
			if (r <= 0) {
				fprintf(stderr, "a subscriber was closed\n");
				exit(1);
			}
			bool before = s->got >= want;
			feed(s, buf, (size_t)r);
			done += !before && s->got >= want;
		}
	}
	return now_ms() - t0;
}

static struct sockaddr_in post_addr;
static char post_req[2048];
static int post_len;

static int post_send(void)
{
	int fd = dial(&post_addr);
	if (write(fd, post_req, (size_t)post_len) != post_len)
		exit(1);
	return fd;
}

static void post_finish(int fd)
{
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n < 12 || strncmp(buf + 9, "200", 3) != 0) {
		fprintf(stderr, "POST answered %.*s\n", n > 0 ? (int)n : 0, buf);
		exit(1);
	}
	close(fd);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr, "usage: push_load HOST PORT WSPATH POSTPORT POSTPATH KEY SUBS LAT RATE\n");
		return 2;
	}
	struct sockaddr_in a = addr_of(argv[1], atoi(argv[2]));
	post_addr = addr_of(argv[1], atoi(argv[4]));
	nsubs = atoi(argv[7]);
	int lat = atoi(argv[8]), rate = atoi(argv[9]);
	const char *body = "{\"message\":\"bench message of about a hundred bytes, like an order "
	                   "update or a chat line\",\"sender\":\"bench\"}";
	post_len = snprintf(post_req, sizeof(post_req),
	                    "POST %s HTTP/1.1\r\nHost: bench\r\nX-API-KEY: %s\r\nContent-Type: "
	                    "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                    argv[5], argv[6], strlen(body), body);
	subs = calloc((size_t)nsubs, sizeof(*subs));
	ep = epoll_create1(0);
	for (int i = 0; i < nsubs; i++) {
		subscribe(&subs[i], &a, argv[3]);
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &e);
	}
	printf("subscribers %d\n", nsubs);
	fflush(stdout);
	/* the caller reads RSS now: a line on stdin says it is done */
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	double *ms = calloc((size_t)lat, sizeof(*ms));
	uint64_t want = 0;
	for (int i = 0; i < lat; i++) {
		double t0 = now_ms();
		int fd = post_send();
		ms[i] = wait_all(++want, t0, 10000);
		post_finish(fd);
		if (ms[i] < 0) {
			fprintf(stderr, "message %d did not reach every subscriber in 10 s\n", i);
			return 1;
		}
	}
	qsort(ms, (size_t)lat, sizeof(*ms), cmp);
	printf("latency_p50_ms %.2f\nlatency_p99_ms %.2f\n", ms[lat / 2], ms[lat * 99 / 100]);
	/* a burst: 8 POSTs in flight at a time; done when every subscriber has all */
	double t0 = now_ms();
	int inflight[8], k = 0;
	for (int i = 0; i < rate; i += k) {
		for (k = 0; k < 8 && i + k < rate; k++)
			inflight[k] = post_send();
		for (int j = 0; j < k; j++)
			post_finish(inflight[j]);
		want += (uint64_t)k;
		if (wait_all(want - (uint64_t)k, t0, 60000) < 0) /* one window in flight */
			return 1;
	}
	double took = wait_all(want, t0, 60000);
	printf("burst_messages %d\nburst_ms %.1f\nmessages_per_s %.0f\ndeliveries_per_s %.0f\n", rate,
	       took, rate / (took / 1e3), (double)rate * nsubs / (took / 1e3));
	return 0;
}
