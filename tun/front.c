/* front.c — the -D front end (placeholder until the SOCKS5/HTTP front end
 * lands): refuses the connection. */
#include <unistd.h>

#include "tun/client_int.h"

void front_accept(struct client *c, int fd, const struct net_addr *peer)
{
	(void)c;
	(void)peer;
	close(fd);
}
