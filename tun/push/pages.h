/* pages.h — the two pages served from the binary (issue 13): the demo page
 * (--push-demo PATH) that shows pushed messages as toasts, and the admin page
 * (--admin PATH, a password; Basic auth over https, or from a loopback
 * address) with the live counts, the latest messages and a send form.
 * Plain HTML and a little JS, no external assets. */
#ifndef WSF_TUN_PUSH_PAGES_H
#define WSF_TUN_PUSH_PAGES_H

#include "tun/push/push_int.h"

/* push_req_fn of --push-demo PATH (GET). */
void push_pages_demo(struct push_hub *hub, struct push_req *r);
/* push_req_fn of --admin PATH and PATH/stats (GET), PATH/send (POST JSON). */
void push_pages_admin(struct push_hub *hub, struct push_req *r);

/* Bytes of page text the binary carries (for the size budget's notes). */
size_t push_pages_bytes(void);

#endif
