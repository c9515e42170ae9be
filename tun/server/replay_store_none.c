/* replay_store_none.c — the replay store when built with WITH_REDIS=0 (the
 * static router build): every URL is refused with the reason. */
#include "tun/server/replay_store.h"

const bool replay_store_available = false;

int replay_store_check_url(const char *url, const char **why)
{
	(void)url;
	*why = "this wsferry was built without Redis (make WITH_REDIS=1)";
	return -1;
}

struct replay_store *replay_store_open(struct rx *rx, const char *url, const char *dns, char *err,
                                      size_t cap)
{
	(void)rx;
	(void)url;
	(void)dns;
	if (cap)
		err[0] = '\0';
	return NULL;
}

uint32_t replay_store_claim(struct replay_store *s, const uint8_t nonce[16], unsigned ttl_s,
                            replay_store_fn fn, void *owner)
{
	(void)s;
	(void)nonce;
	(void)ttl_s;
	(void)fn;
	(void)owner;
	return 0;
}

void replay_store_cancel(struct replay_store *s, uint32_t ticket)
{
	(void)s;
	(void)ticket;
}

void replay_store_close(struct replay_store *s)
{
	(void)s;
}
