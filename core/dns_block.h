/* dns_block.h — a name resolved before serving (listen URLs, the server a
 * client talks to): our own resolver run on a reactor of its own until it
 * answers, so the product needs no getaddrinfo (tens of KiB in a static
 * musl binary) and resolves the same way everywhere. Blocks: setup only. */
#ifndef WSF_CORE_DNS_BLOCK_H
#define WSF_CORE_DNS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/net.h"

/* Resolves host (a name, or an IPv4/IPv6 literal without brackets) for
 * port into out[0..max): IPv4 addresses first, as getaddrinfo's default
 * order puts them on most hosts. servers: a --dns list, NULL for
 * /etc/resolv.conf. The number of addresses (> 0), or a negative enum
 * dns_status (dns_strerror names it; a resolver that cannot even start is
 * DNS_ERR_NOSERVER). */
int dns_resolve_blocking(const char *host, uint16_t port, const char *servers,
                         struct net_addr *out, size_t max);

#endif
