/* cli_reverse.h — the client's end of -R. */
#ifndef WSF_TUN_CLIENT_CLI_REVERSE_H
#define WSF_TUN_CLIENT_CLI_REVERSE_H

#include "tun/client/client_int.h"

/* Keeps one registration channel open for the remote forward f,
 * re-registering with backoff while the server is away. 0, or -1 after
 * logging why (out of memory, an https:// service's ?ca= unusable). */
int cli_reverse_start(struct client *c, const struct fwd *f);

#endif
