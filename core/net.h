/* net.h — socket helpers: numeric addresses, non-blocking listen/accept/
 * connect, socket options. Returns fds or -errno; never logs, never blocks,
 * never resolves names (that is core/dns). */
#ifndef WSF_CORE_NET_H
#define WSF_CORE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

#define NET_ADDR_STRLEN 64 /* "[v6%scope]:65535" fits */

/* Numeric IPv4 or IPv6 literal (no brackets) + port. 0 or -EINVAL. */
int net_addr_from_ip(const char *ip, uint16_t port, struct net_addr *out);
/* "1.2.3.4:80" or "[::1]:80" into out; returns out. */
const char *net_addr_str(const struct net_addr *a, char *out, size_t cap);
/* The address alone, without port or brackets ("192.0.2.1", "::1"). */
const char *net_addr_ip_str(const struct net_addr *a, char *out, size_t cap);
uint16_t net_addr_port(const struct net_addr *a);
bool net_addr_is_loopback(const struct net_addr *a);
/* Same family and address (ports are not compared). */
bool net_addr_same_ip(const struct net_addr *a, const struct net_addr *b);
/* Same family, address and port. */
bool net_addr_equal(const struct net_addr *a, const struct net_addr *b);

/* Non-blocking, close-on-exec listening socket with SO_REUSEADDR
 * (and SO_REUSEPORT when reuseport). fd or -errno. */
int net_listen(const struct net_addr *a, int backlog, bool reuseport);
/* Non-blocking accepted fd, or -errno (-EAGAIN when none is waiting). */
int net_accept(int lfd, struct net_addr *peer);
/* Starts a non-blocking connect: fd (connected or in progress) or -errno. */
int net_connect(const struct net_addr *a);
/* The same with TCP Fast Open asked for (core/tfo.h): *tfo_err is 0 when
 * it is on for this socket, else the negative errno of why not (the
 * connect goes on as plain TCP). */
int net_connect_tfo(const struct net_addr *a, int *tfo_err);
/* Result of a finished non-blocking connect: 0 or -errno (SO_ERROR). */
int net_connect_result(int fd);
/* Local address of a socket (to learn an ephemeral port). 0 or -errno. */
int net_local_addr(int fd, struct net_addr *out);

/* An address block, e.g. 10.0.0.0/8 or 2001:db8::/32. */
struct net_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;
	uint8_t addr[16];
};

/* "IP/BITS" or a bare IP (a single address). 0 or -EINVAL. */
int net_cidr_parse(const char *s, struct net_cidr *out);
bool net_cidr_match(const struct net_cidr *c, const struct net_addr *a);

int net_set_nonblock(int fd);
void net_set_nodelay(int fd);

/* read/write that retry EINTR: >0 bytes, 0 EOF (read) / nothing (write),
 * -errno otherwise (-EAGAIN when it would block). write uses MSG_NOSIGNAL. */
long net_read(int fd, void *p, size_t n);
long net_write(int fd, const void *p, size_t n);
/* As net_write, telling the kernel that more follows at once (MSG_MORE where
 * there is one): a frame header and the payload spliced right behind it
 * leave in one segment instead of a tiny one of their own. */
long net_write_more(int fd, const void *p, size_t n);
/* Copies up to n waiting bytes without taking them (MSG_PEEK): as net_read. */
long net_peek(int fd, void *p, size_t n);
long net_writev2(int fd, const void *a, size_t an, const void *b, size_t bn);

/* ---- UDP ---- */
/* Non-blocking, close-on-exec UDP socket bound to a (IPv6-only for [::]).
 * fd or -errno. */
int net_udp_bind(const struct net_addr *a);
/* Non-blocking UDP socket connected to a: send/recv then concern a only.
 * fd or -errno (-ENETUNREACH when there is no route). */
int net_udp_connect(const struct net_addr *a);
/* One datagram: >=0 its length (truncated to n: datagrams are never longer
 * than the 65,535 bytes callers give), -EAGAIN when none, or -errno. from
 * may be NULL. */
long net_recvfrom(int fd, void *p, size_t n, struct net_addr *from);
/* Sends one datagram made of a[0..an) then b[0..bn) to to (NULL: the
 * connected peer). Its length, or -errno (-EAGAIN when the socket buffer is
 * full: the caller drops it). */
long net_sendto2(int fd, const void *a, size_t an, const void *b, size_t bn,
                 const struct net_addr *to);

#endif
