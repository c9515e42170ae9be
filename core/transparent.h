/* transparent.h — what a transparent proxy asks of the kernel: the
 * destination a connection had before a NAT REDIRECT rewrote it, and
 * listening sockets that accept connections for any address (TPROXY), and
 * their UDP twins: datagrams with their original destination, answers sent
 * from it. Linux only (core/transparent_linux.c); elsewhere every call is -ENOSYS. */
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

/* As net_udp_bind ([::] IPv6-only), with IP_TRANSPARENT and
 * IP_RECVORIGDSTADDR (IPV6_TRANSPARENT, IPV6_RECVORIGDSTADDR): TPROXY may
 * hand it datagrams to any address, and net_recv_origdst tells which.
 * Needs CAP_NET_ADMIN. fd or -errno. */
int net_udp_listen_transparent(const struct net_addr *a);

/* One datagram from a net_udp_listen_transparent socket: as net_recvfrom
 * (from MUST NOT be NULL), and *dst the address it was sent to. -ENOENT
 * when the kernel gave no destination (the datagram is gone all the same). */
long net_recv_origdst(int fd, void *p, size_t n, struct net_addr *from, struct net_addr *dst);

/* A UDP socket that speaks for a non-local address: IP_TRANSPARENT
 * (IPV6_TRANSPARENT) and SO_REUSEADDR, bound to local (the many flows to one
 * destination share it), connected to peer. What it sends leaves from local;
 * TPROXY then hands it peer's further datagrams to local, as it prefers a
 * connected transparent socket to the listener. Needs CAP_NET_ADMIN; local
 * and peer of one family. fd or -errno (-EADDRINUSE: a socket without
 * SO_REUSEADDR holds local's port). */
int net_udp_connect_transparent(const struct net_addr *local, const struct net_addr *peer);

#endif
