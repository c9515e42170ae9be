/* transparent_linux.c — netfilter's answers for a transparent proxy:
 * SO_ORIGINAL_DST (conntrack, <linux/netfilter_ipv4.h>) and its IPv6 twin,
 * and IP_TRANSPARENT listeners for TPROXY. */
#include "core/transparent.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
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
	    setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
	               sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 || listen(fd, backlog) == -1) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
