/* bus_none.c — the push bus when built with WITH_REDIS=0 (the static
 * router build): every URL is refused with the reason. */
#include "tun/push/bus.h"

const bool push_bus_available = false;

int push_bus_check_url(const char *url, const char **why)
{
	(void)url;
	*why = "this wsferry was built without Redis (make WITH_REDIS=1)";
	return -1;
}

struct push_bus *push_bus_open(struct rx *rx, const char *url, const char *channel,
                               const char *dns, push_bus_msg_fn on_msg, void *owner, char *err,
                               size_t cap)
{
	(void)rx;
	(void)url;
	(void)channel;
	(void)dns;
	(void)on_msg;
	(void)owner;
	if (cap)
		err[0] = '\0';
	return NULL;
}

bool push_bus_subscribed(const struct push_bus *b)
{
	(void)b;
	return false;
}

uint32_t push_bus_publish(struct push_bus *b, struct pushbus_msg *m, const void *body,
                          size_t len, push_bus_ack_fn fn, void *owner)
{
	(void)b;
	(void)m;
	(void)body;
	(void)len;
	(void)fn;
	(void)owner;
	return 0;
}

void push_bus_cancel(struct push_bus *b, uint32_t ticket)
{
	(void)b;
	(void)ticket;
}

void push_bus_close(struct push_bus *b)
{
	(void)b;
}
