/* cli_tproxy_udp.h — --tproxy's UDP half: datagrams that a TPROXY rule sent
 * here are carried, one flow per (source, original destination) pair, to
 * the destination they were meant for; answers reach the source from that
 * destination's address. */
#ifndef WSF_TUN_CLIENT_CLI_TPROXY_UDP_H
#define WSF_TUN_CLIENT_CLI_TPROXY_UDP_H

#include "tun/client/client_int.h"

/* Binds the transparent UDP socket of f (FWD_TPROXY) beside its TCP
 * listener, on the same address and port. 0, or -1 (logged). */
int cli_tproxy_udp_listen(struct client *c, const struct fwd *f);

#endif
