/* cli_mux.c — the client's plumbing for --mux carriers: the connection
 * (direct or through --proxy), TLS for wss://, the upgrade as a TUNNEL_MUX
 * request (signed like any tunnel's), and each stream's signed request.
 * The carriers and streams themselves are tun/mux/'s. */
#include "tun/client/cli_mux.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rand.h"
#include "tun/client/cli_tunnel.h"
#include "tun/mux/mux_client.h"

#define UPGRADE_MAX 2048

/* The carrier's connection is made (not called if the client stops first:
 * the carrier, in the client's conn list, is destroyed then). */
static void carrier_dialled(void *arg, int fd, enum tunnel_err err)
{
	struct mux_carrier *car = arg;
	struct client *c = mux_pool_arg_of(car);
	char req[UPGRADE_MAX];
	struct tunnel_expect expect;
	size_t n = fd >= 0 ? client_upgrade(c, TUNNEL_MUX, "", req, sizeof(req), &expect) : 0;
	struct stream s;
	if (n == 0 || client_stream(c, fd, &s) < 0) {
		if (fd >= 0 && n == 0)
			close(fd);
		return mux_pool_connect_failed(car, err == TUNNEL_OK ? TUNNEL_ERR_GENERAL : err);
	}
	net_set_nodelay(fd);
	mux_pool_connected(car, &s, req, n, &expect);
}

static void carrier_connect(void *arg, struct mux_carrier *car)
{
	client_connect_server(arg, carrier_dialled, car);
}

static size_t stream_sign(void *arg, const char *target, char *out, size_t cap)
{
	struct client *c = arg;
	struct tunnel_req req = {.kind = TUNNEL_CONNECT, .timestamp = (uint64_t)time(NULL)};
	char cookie[TUNNEL_COOKIE_MAX + 16];
	req.target_len = strlen(target);
	if (req.target_len > TUNNEL_MAX_TARGET || rand_bytes(req.nonce, sizeof(req.nonce)) < 0)
		return 0;
	memcpy(req.target, target, req.target_len);
	size_t n = tunnel_req_encode(&req, c->cfg->keys, cookie, sizeof(cookie));
	const char *eq = n ? memchr(cookie, '=', n) : NULL;
	if (!eq || (size_t)(cookie + n - eq - 1) >= cap)
		return 0;
	n = (size_t)(cookie + n - eq - 1);
	memcpy(out, eq + 1, n);
	return n;
}

static const struct mux_client_ops cli_mux_ops = {carrier_connect, stream_sign};

int cli_mux_setup(struct client *c)
{
	if (!c->cfg->mux_streams)
		return 0;
	const uint8_t *seal = c->cfg->encrypt ? c->cfg->keys->payload : NULL;
	c->mux = mux_pool_new(&c->rx, &c->conns, &c->cfg->relay,
	                      c->cfg->server.scheme == URL_TLS, c->cfg->mux_streams, seal,
	                      &cli_mux_ops, c);
	return c->mux ? 0 : -1;
}

void cli_mux_free(struct client *c)
{
	if (c->mux)
		mux_pool_free(c->mux);
	c->mux = NULL;
}
