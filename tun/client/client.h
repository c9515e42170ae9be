/* client.h — `wsferry client`: local listeners (-D proxy, -L forwards),
 * remote forwards (-R), each connection carried by its own WebSocket to the
 * server. Owns its reactor and every local connection it accepted. */
#ifndef WSF_TUN_CLIENT_CLIENT_H
#define WSF_TUN_CLIENT_CLIENT_H

#include "tun/client/cli_config.h"

/* Binds every listener (failing before serving), then serves until SIGTERM
 * or SIGINT. 0 clean stop, 1 runtime failure. */
int client_main(const struct client_config *cfg);

/* The same in pieces, for a program that runs the loop itself (bin/lib.c):
 * never touches signals. client_new sets up (resolver, TLS, every tunnel of
 * cfg, which MUST outlive the client): NULL after logging why. */
struct client;
struct client *client_new(const struct client_config *cfg);
struct rx *client_rx(struct client *c);
struct conn_list *client_conns(struct client *c);
/* Closes the listeners and every connection, and stops client_rx's run. */
void client_stop(struct client *c);
/* Frees everything (connections too), and the calling thread's pools. */
void client_free(struct client *c);
/* A tunnel of cfg->fwds added after client_new (its slot filled first):
 * 0, or -1 after logging why. */
int client_fwd_start(struct client *c, const struct fwd *f);
/* Closes f's listener (-D, -L TCP, --redirect); connections it accepted
 * run on, and still point at f. -1 when f has no listener of that kind
 * (-R, UDP, --tproxy stay until the client stops). */
int client_fwd_stop(struct client *c, const struct fwd *f);
/* The port f's listener is bound to (the kernel's choice for port 0). */
uint16_t client_fwd_port(struct client *c, const struct fwd *f);

#endif
