/* cli_pool.h — --pool N: N connections to the server kept upgraded and idle,
 * so a new TCP tunnel skips the connect, TLS and upgrade round trips. */
#ifndef WSF_TUN_CLIENT_CLI_POOL_H
#define WSF_TUN_CLIENT_CLI_POOL_H

#include "tun/client/client_int.h"

/* With cfg->pool > 0: starts filling the pool and sets c->pool_take, which
 * client_open_tunnel uses for TCP tunnels (-L, -D, --redirect, --tproxy);
 * an empty pool leaves them on a fresh connection each. 0, or -1 when out
 * of memory (logged). */
int cli_pool_start(struct client *c);
/* After conn_list_destroy_all (which closed the pool's connections). */
void cli_pool_free(struct client *c);

#endif
