/* client.h — `wsferry client`: local listeners (-D proxy, -L forwards),
 * remote forwards (-R), each connection carried by its own WebSocket to the
 * server. Owns its reactor and every local connection it accepted. */
#ifndef WSF_TUN_CLIENT_CLIENT_H
#define WSF_TUN_CLIENT_CLIENT_H

#include "tun/client/cli_config.h"

/* Binds every listener (failing before serving), then serves until SIGTERM
 * or SIGINT. 0 clean stop, 1 runtime failure. */
int client_main(const struct client_config *cfg);

#endif
