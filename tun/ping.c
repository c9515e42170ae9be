/* ping.c — the ming-mong ping endpoint (placeholder: refuses until the
 * endpoint lands). */
#include <unistd.h>

#include "tun/server_int.h"

int ping_accept(struct server *srv, struct handoff *h)
{
	(void)srv;
	close(h->fd);
	return -1;
}
