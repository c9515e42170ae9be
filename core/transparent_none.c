/* transparent_none.c — where the kernel offers no REDIRECT original
 * destination nor TPROXY: --redirect and --tproxy (TCP and UDP) refuse
 * to start. */
#include "core/transparent.h"

#include <errno.h>

int net_original_dst(int fd, struct net_addr *out)
{
	(void)fd;
	(void)out;
	return -ENOSYS;
}

int net_listen_transparent(const struct net_addr *a, int backlog)
{
	(void)a;
	(void)backlog;
	return -ENOSYS;
}

int net_udp_listen_transparent(const struct net_addr *a)
{
	(void)a;
	return -ENOSYS;
}

long net_recv_origdst(int fd, void *p, size_t n, struct net_addr *from, struct net_addr *dst)
{
	(void)fd;
	(void)p;
	(void)n;
	(void)from;
	(void)dst;
	return -ENOSYS;
}

int net_udp_connect_transparent(const struct net_addr *local, const struct net_addr *peer)
{
	(void)local;
	(void)peer;
	return -ENOSYS;
}
