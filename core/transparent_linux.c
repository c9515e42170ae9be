/* transparent_linux.c — netfilter's answers for a transparent proxy:
 * SO_ORIGINAL_DST (conntrack, <linux/netfilter_ipv4.h>) and its IPv6 twin,
 * IP_TRANSPARENT listeners for TPROXY, and for UDP TPROXY the original
 * destination of each datagram (IP_ORIGDSTADDR) and sockets bound to it. */
#include "core/transparent.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>,
 * which do not mix with libc's headers. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#define WSF_IP6T_SO_ORIGINAL_DST 80

static bool v4_mapped(const struct net_addr *a)
{
	return a->ss.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

int net_original_dst(int fd, struct net_addr *out)
{
	struct net_addr local;
	int rc = net_local_addr(fd, &local);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	if (local.ss.ss_family == AF_INET || v4_mapped(&local)) {
		socklen_t len = sizeof(struct sockaddr_in);
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &out->ss, &len) == -1)
			return -errno;
		out->len = len;
		return 0;
	}
	socklen_t len = sizeof(struct sockaddr_in6);
	if (getsockopt(fd, SOL_IPV6, WSF_IP6T_SO_ORIGINAL_DST, &out->ss, &len) == -1)
		return -errno;
	out->len = len;
	return 0;
}

static int transparent_on(int fd, bool v6)
{
	int one = 1;
	return setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
	                  sizeof(one));
}

static int fail_close(int fd)
{
	int err = errno;
	close(fd);
	return -err;
}

int net_listen_transparent(const struct net_addr *a, int backlog)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	bool v6 = a->ss.ss_family == AF_INET6;
	/* IPv6-only, as net_listen: 0.0.0.0 may be bound beside [::]. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    transparent_on(fd, v6) == -1 || bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
	    listen(fd, backlog) == -1)
		return fail_close(fd);
	return fd;
}

int net_udp_listen_transparent(const struct net_addr *a)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	bool v6 = a->ss.ss_family == AF_INET6;
	if ((v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    transparent_on(fd, v6) == -1 ||
	    setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVORIGDSTADDR : IP_RECVORIGDSTADDR,
	               &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		return fail_close(fd);
	return fd;
}

/* The IP_ORIGDSTADDR / IPV6_ORIGDSTADDR message: a sockaddr_in(6). */
static int origdst_from_cmsg(struct msghdr *msg, struct net_addr *dst)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t len = cm->cmsg_len - CMSG_LEN(0);
		bool v4 = cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_ORIGDSTADDR &&
		          len >= sizeof(struct sockaddr_in);
		bool v6 = cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_ORIGDSTADDR &&
		          len >= sizeof(struct sockaddr_in6);
		if (!v4 && !v6)
			continue;
		memset(dst, 0, sizeof(*dst));
		dst->len = v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&dst->ss, CMSG_DATA(cm), dst->len);
		return 0;
	}
	return -ENOENT;
}

long net_recv_origdst(int fd, void *p, size_t n, struct net_addr *from, struct net_addr *dst)
{
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct sockaddr_in6)) * 2];
	} ctl;
	struct iovec iov = {p, n};
	for (;;) {
		struct msghdr msg = {.msg_name = &from->ss, .msg_namelen = sizeof(from->ss),
		                     .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
		                     .msg_controllen = sizeof(ctl.space)};
		ssize_t r = recvmsg(fd, &msg, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -errno;
		from->len = msg.msg_namelen;
		return origdst_from_cmsg(&msg, dst) < 0 ? -ENOENT : r;
	}
}

int net_udp_connect_transparent(const struct net_addr *local, const struct net_addr *peer)
{
	int one = 1;
	int fd = socket(local->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (transparent_on(fd, local->ss.ss_family == AF_INET6) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&local->ss, local->len) == -1 ||
	    connect(fd, (const struct sockaddr *)&peer->ss, peer->len) == -1)
		return fail_close(fd);
	return fd;
}
