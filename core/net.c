/* net.c — thin, errno-to-return-code wrappers over BSD sockets.
 * Owns nothing past the call; never logs, never blocks. */
#include "core/net.h"

#include "core/tfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int net_addr_from_ip(const char *ip, uint16_t port, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		out->len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		out->len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

const char *net_addr_str(const struct net_addr *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
	if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(v6->sin6_port));
	} else {
		inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(v4->sin_port));
	}
	return out;
}

const char *net_addr_ip_str(const struct net_addr *a, char *out, size_t cap)
{
	const void *ip = a->ss.ss_family == AF_INET6
	                     ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
	                     : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	if (!inet_ntop(a->ss.ss_family == AF_INET6 ? AF_INET6 : AF_INET, ip, out, (socklen_t)cap))
		snprintf(out, cap, "?");
	return out;
}

uint16_t net_addr_port(const struct net_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

bool net_addr_is_loopback(const struct net_addr *a)
{
	if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *ip = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(ip);
	}
	uint32_t ip = ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
	return (ip >> 24) == 127;
}

bool net_addr_same_ip(const struct net_addr *a, const struct net_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
		              &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
}

bool net_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
	return net_addr_same_ip(a, b) && net_addr_port(a) == net_addr_port(b);
}

static int close_with(int fd, int err)
{
	close(fd);
	return -err;
}

int net_listen(const struct net_addr *a, int backlog, bool reuseport)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		return close_with(fd, errno);
	/* A [::] listener stays IPv6-only so 0.0.0.0 can be bound beside it. */
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		return close_with(fd, errno);
	if (listen(fd, backlog) == -1)
		return close_with(fd, errno);
	return fd;
}

int net_accept(int lfd, struct net_addr *peer)
{
	for (;;) {
		peer->len = sizeof(peer->ss);
		int fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return -errno;
	}
}

static int connect_with(const struct net_addr *a, int *tfo_err)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (tfo_err)
		*tfo_err = tfo_connect(fd);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1 && errno != EINPROGRESS)
		return close_with(fd, errno);
	return fd;
}

int net_connect(const struct net_addr *a)
{
	return connect_with(a, NULL);
}

int net_connect_tfo(const struct net_addr *a, int *tfo_err)
{
	return connect_with(a, tfo_err);
}

int net_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	return -err;
}

int net_local_addr(int fd, struct net_addr *out)
{
	out->len = sizeof(out->ss);
	if (getsockname(fd, (struct sockaddr *)&out->ss, &out->len) == -1)
		return -errno;
	return 0;
}

int net_cidr_parse(const char *s, struct net_cidr *out)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, ip, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	unsigned bits = max;
	if (slash) {
		/* digits by hand: strtoul would bring musl's scanf number engine */
		const char *d = slash + 1;
		bits = 0;
		do {
			if (*d < '0' || *d > '9' || (bits = bits * 10 + (unsigned)(*d - '0')) > max)
				return -EINVAL;
		} while (*++d);
	}
	out->bits = (uint8_t)bits;
	return 0;
}

bool net_cidr_match(const struct net_cidr *c, const struct net_addr *a)
{
	const uint8_t *ip;
	if (a->ss.ss_family != c->family)
		return false;
	if (c->family == AF_INET6)
		ip = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
	else
		ip = (const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(ip, c->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (ip[full] & mask) == (c->addr[full] & mask);
}

int net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -errno;
	return 0;
}

void net_set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

long net_read(int fd, void *p, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, p, n);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

long net_peek(int fd, void *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(fd, p, n, MSG_PEEK);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

long net_write(int fd, const void *p, size_t n)
{
	for (;;) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

long net_write_more(int fd, const void *p, size_t n)
{
#ifdef MSG_MORE
	for (;;) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL | MSG_MORE);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
#else
	return net_write(fd, p, n);
#endif
}

long net_writev2(int fd, const void *a, size_t an, const void *b, size_t bn)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)a, an}, {(void *)(uintptr_t)b, bn}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = bn ? 2 : 1};
	for (;;) {
		ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

int net_udp_bind(const struct net_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	int one = 1;
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		return close_with(fd, errno);
	return fd;
}

int net_udp_connect(const struct net_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		return close_with(fd, errno);
	return fd;
}

long net_recvfrom(int fd, void *p, size_t n, struct net_addr *from)
{
	for (;;) {
		socklen_t len = sizeof(from->ss);
		ssize_t r = from ? recvfrom(fd, p, n, 0, (struct sockaddr *)&from->ss, &len)
		                 : recv(fd, p, n, 0);
		if (r >= 0) {
			if (from)
				from->len = len;
			return r;
		}
		if (errno != EINTR)
			return -errno;
	}
}

long net_sendto2(int fd, const void *a, size_t an, const void *b, size_t bn,
                 const struct net_addr *to)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)a, an}, {(void *)(uintptr_t)b, bn}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = bn ? 2 : 1};
	if (to) {
		msg.msg_name = (void *)(uintptr_t)&to->ss;
		msg.msg_namelen = to->len;
	}
	for (;;) {
		ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}
