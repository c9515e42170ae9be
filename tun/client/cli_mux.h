/* cli_mux.h — --mux on the client: tunnels become streams of shared
 * carriers (tun/mux/), connected and signed with the client's plumbing. */
#ifndef WSF_TUN_CLIENT_CLI_MUX_H
#define WSF_TUN_CLIENT_CLI_MUX_H

#include "tun/client/client_int.h"

/* With --mux, makes c->mux (the carrier pool). 0, or -1 out of memory. */
int cli_mux_setup(struct client *c);
/* At stop, after every connection was destroyed. */
void cli_mux_free(struct client *c);

#endif
