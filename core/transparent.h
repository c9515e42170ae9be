/* transparent.h — what a transparent proxy asks of the kernel: the
 * destination a connection had before a NAT REDIRECT rewrote it, and
 * listening sockets that accept connections for any address (TPROXY).
 * Linux only (core/transparent_linux.c); elsewhere every call is -ENOSYS. */
#ifndef WSF_CORE_TRANSPARENT_H
#define WSF_CORE_TRANSPARENT_H

#include "core/net.h"

/* The original destination of an accepted, REDIRECTed connection
 * (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST; an IPv4 peer of an IPv6 socket
 * gets the IPv4 answer). A connection nobody redirected gives its own local
 * address. 0, or -errno (-ENOENT: no conntrack entry, -ENOSYS: no such
 * facility here). */
int net_original_dst(int fd, struct net_addr *out);

/* As net_listen ([::] IPv6-only), with IP_TRANSPARENT (IPV6_TRANSPARENT) set before the bind
 * so that TPROXY may hand it connections to any address; their destination
 * is then the accepted socket's own local address. Needs CAP_NET_ADMIN.
 * fd or -errno. */
int net_listen_transparent(const struct net_addr *a, int backlog);

#endif
