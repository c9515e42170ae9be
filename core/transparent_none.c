/* transparent_none.c — where the kernel offers no REDIRECT original
 * destination nor TPROXY: --redirect and --tproxy refuse to start. */
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
