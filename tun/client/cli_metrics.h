/* cli_metrics.h — --metrics on the client: its reactor's counters
 * (tunnels, bytes each way, WebSocket handshakes, dial errors by class) as
 * Prometheus text, and /health, on tun/scrape.c's listener. */
#ifndef WSF_TUN_CLIENT_CLI_METRICS_H
#define WSF_TUN_CLIENT_CLI_METRICS_H

#include "tun/client/client_int.h"

/* Binds cfg->metrics_addr and starts counting; 0, or -1 (logged). Nothing
 * without --metrics. */
int cli_metrics_start(struct client *c);
/* Closes the listener and its connections; safe when never started. */
void cli_metrics_stop(struct client *c);

#endif
