/* controller_cmd.c — `wsferry server`'s multi-user options (issue 12):
 * --controller [ADDR:]PORT (loopback unless an address is given, never a
 * public listener's) and its key, read from a file and kept as a hash. */
#include <string.h>
#include <strings.h>

#include "bin/cmd.h"
#include "bin/opts.h"
#include "core/log.h"
#include "core/net.h"
#include "proto/push.h"
#include "proto/url.h"
#include "tun/server/srv_config.h"

#define CONTROLLER_KEY_MIN 16

static const char *controller_key_file;

int controller_opt(void *ctx, const char *val, const char **why)
{
	struct server_config *cfg = ctx;
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(val, ':');
	const char *port = colon ? colon + 1 : val;
	if (colon) {
		const char *h = val;
		size_t n = (size_t)(colon - val);
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
			h++, n -= 2;
		if (n == 0 || n >= sizeof(host))
			return *why = "[ADDR:]PORT, ADDR an IP address ([::1] for IPv6)", -1;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	uint16_t p;
	if (url_parse_port(port, strlen(port), &p) < 0 || p == 0)
		return *why = "a port from 1 to 65535", -1;
	if (net_addr_from_ip(host, p, &cfg->controller_addr) < 0)
		return *why = "[ADDR:]PORT, ADDR an IP address ([::1] for IPv6)", -1;
	cfg->controller = val;
	return 0;
}

int controller_opt_key_file(void *ctx, const char *val, const char **why)
{
	(void)ctx;
	if (!*val)
		return *why = "a file name", -1;
	controller_key_file = val;
	return 0;
}

static bool is_any(const char *host)
{
	return !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	       strcmp(host, "*") == 0;
}

/* The controller on a listener's port and address (or one of them a
 * wildcard): it would be the public port. */
static bool on_public_port(const struct server_config *cfg)
{
	char ip[NET_ADDR_STRLEN];
	net_addr_ip_str(&cfg->controller_addr, ip, sizeof(ip));
	uint16_t port = net_addr_port(&cfg->controller_addr);
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct url *u = &cfg->listen[i];
		if (u->port == port && (is_any(u->host) || is_any(ip) || strcasecmp(u->host, ip) == 0 ||
		                        strcasecmp(u->host, "localhost") == 0))
			return true;
	}
	return false;
}

int controller_check(struct server_config *cfg)
{
	if (!cfg->controller)
		return controller_key_file ? opts_usage_error("--controller-key-file",
		                                              "needs --controller ADDR:PORT")
		                           : 0;
	if (on_public_port(cfg))
		return opts_usage_error("--controller", "the same address and port as a listener: "
		                                        "the controller never shares the public port");
	if (!controller_key_file)
		return opts_usage_error("--controller", "needs --controller-key-file FILE (the API key)");
	char key[256];
	const char *why;
	if (read_secret(controller_key_file, key, sizeof(key), &why) < 0)
		return opts_usage_error("--controller-key-file", why);
	if (strlen(key) < CONTROLLER_KEY_MIN) {
		explicit_bzero(key, sizeof(key));
		return opts_usage_error("--controller-key-file", "the key is shorter than 16 characters "
		                                                 "(wsferry keygen makes a good one)");
	}
	push_key_hash(key, strlen(key), cfg->controller_key_hash);
	explicit_bzero(key, sizeof(key));
	if (!net_addr_is_loopback(&cfg->controller_addr))
		log_warn("--controller %s is not a loopback address: its API is plain HTTP, keep it "
		         "behind a firewall", cfg->controller);
	return 0;
}
