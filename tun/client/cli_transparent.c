/* cli_transparent.c — --redirect and --tproxy: a connection the firewall
 * sent here is tunnelled to its original destination, read from conntrack
 * (REDIRECT) or from the socket's own local address (TPROXY). Refuses loops:
 * traffic to the tunnel server itself would be caught again by the same
 * rule and never leave. Owns nothing past the hand-over to cli_tunnel. */
#include "tun/client/cli_transparent.h"

#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/transparent.h"
#include "tun/client/cli_tunnel.h"

#define LOOP_LOG_MS 5000 /* the same loop again: told once per this long, with a count */

static const char *fwd_flag(const struct fwd *f)
{
	return f->kind == FWD_TPROXY ? "--tproxy" : "--redirect";
}

static void on_open(void *owner, int tcp_fd, enum tunnel_err err)
{
	const struct fwd *f = owner;
	if (err != TUNNEL_OK && tcp_fd >= 0) /* -1: the local client left first */
		log_info("%s %s: %s", fwd_flag(f), f->spec, tunnel_err_text(err));
}

/* ::ffff:a.b.c.d (an IPv4 client of a dual-stack socket) as plain IPv4, so
 * the server dials, and --allow matches, the IPv4 address. */
static void unmap_v4(struct net_addr *a)
{
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
	if (a->ss.ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
		return;
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = v6->sin6_port};
	memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
	memset(&a->ss, 0, sizeof(a->ss));
	memcpy(&a->ss, &v4, sizeof(v4));
	a->len = sizeof(v4);
}

static bool is_loop(const struct client *c, const struct fwd *f, const struct net_addr *dst,
                    const struct net_addr *local)
{
	for (size_t i = 0; i < c->nserver; i++)
		if (net_addr_equal(dst, &c->server[i]))
			return true;
	if (c->cfg->proxy_host && net_addr_equal(dst, &c->proxy_addr))
		return true;
	/* REDIRECT: a connection nobody redirected reports its own address. */
	if (f->kind == FWD_REDIRECT && net_addr_equal(dst, local))
		return true;
	/* TPROXY: the destination is always local; aimed at our port, it is us. */
	return f->kind == FWD_TPROXY && net_addr_port(dst) == f->bind_port;
}

/* Rate-limited per destination: a new loop is always told. */
static void loop_log(struct client *c, const struct fwd *f, const struct net_addr *src,
                     const struct net_addr *to, bool udp)
{
	uint64_t now = rx_now(&c->rx);
	char from[NET_ADDR_STRLEN], dst[NET_ADDR_STRLEN];
	c->loops++;
	if (c->loop_logged_ms && now - c->loop_logged_ms < LOOP_LOG_MS &&
	    net_addr_equal(to, &c->loop_last))
		return;
	c->loop_logged_ms = now;
	c->loop_last = *to;
	log_warn("%s %s: %s%s -> %s is a loop (the tunnel server or this proxy itself): %s "
	         "(%llu so far); exclude it from the firewall rule", fwd_flag(f), f->spec,
	         udp ? "udp " : "", net_addr_str(src, from, sizeof(from)),
	         net_addr_str(to, dst, sizeof(dst)), udp ? "dropped" : "closed",
	         (unsigned long long)c->loops);
}

bool cli_transparent_udp_loop(struct client *c, const struct fwd *f, const struct net_addr *src,
                              const struct net_addr *dst)
{
	if (!is_loop(c, f, dst, dst))
		return false;
	loop_log(c, f, src, dst, true);
	return true;
}

void cli_transparent_accept(struct client *c, const struct fwd *f, int fd,
                            const struct net_addr *peer)
{
	struct net_addr local, dst;
	char src[NET_ADDR_STRLEN], target[NET_ADDR_STRLEN];
	int rc = net_local_addr(fd, &local);
	if (rc == 0)
		rc = f->kind == FWD_TPROXY ? (dst = local, 0) : net_original_dst(fd, &dst);
	if (rc < 0) {
		log_info("%s %s: no original destination for %s (%s): closed", fwd_flag(f), f->spec,
		         net_addr_str(peer, src, sizeof(src)), strerror(-rc));
		close(fd);
		return;
	}
	unmap_v4(&dst);
	unmap_v4(&local);
	if (is_loop(c, f, &dst, &local)) {
		loop_log(c, f, peer, &dst, false);
		close(fd);
		return;
	}
	net_addr_str(&dst, target, sizeof(target));
	log_debug("%s %s: %s -> %s", fwd_flag(f), f->spec, net_addr_str(peer, src, sizeof(src)),
	          target);
	client_open_tunnel(c, fd, c->conns.next_id++, TUNNEL_CONNECT, target, NULL, on_open,
	                   (void *)(uintptr_t)f, NULL);
}
