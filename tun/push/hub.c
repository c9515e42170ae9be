/* hub.c — subscribers by topic, the per-address limit, and the fan-out: a
 * message becomes one frame, built once, written to each subscriber that
 * has nothing queued and queued (up to PUSH_QUEUE_MAX) for the others; a
 * subscriber that cannot take it is closed, never waited for. */
#include "tun/push/hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "proto/ping.h"
#include "proto/sio.h"
#include "proto/ws.h"
#include "tun/push/push_db.h"

#define PUSH_LOG_EVERY_MS 10000
#define PUSH_RECENT_KEEP 4096 /* bigger messages are listed by size only */
#define SIO_PREFIX "42[\"message\","
#define SIO_SUFFIX "]"

struct push_hub *push_hub_new(struct rx *rx, const struct push_config *cfg)
{
	struct push_hub *hub = calloc(1, sizeof(*hub));
	char err[256];
	if (hub)
		hub->frame = malloc(2 * BUF_SIZE);
	if (!hub || !hub->frame) {
		log_error("push: out of memory");
		free(hub);
		return NULL;
	}
	hub->rx = rx;
	hub->cfg = cfg;
	conn_list_init(&hub->peers);
	push_hub_keepalive(hub, 0, SIO_PING_TIMEOUT_MS);
	if (cfg->db && !(hub->db = push_db_open(cfg->db, err, sizeof(err)))) {
		log_error("--push-db %s: %s", cfg->db, err);
		push_hub_free(hub);
		return NULL;
	}
	if (hub->db)
		push_db_recent(hub->db, hub->recent, PUSH_RECENT, &hub->recent_next);
	return hub;
}

void push_hub_keepalive(struct push_hub *hub, unsigned keepalive_ms, unsigned pong_timeout_ms)
{
	hub->keepalive_ms = keepalive_ms;
	hub->pong_timeout_ms = pong_timeout_ms;
	hub->sio_interval_ms = keepalive_ms ? keepalive_ms : SIO_PING_INTERVAL_MS;
	hub->sio_timeout_ms = keepalive_ms ? pong_timeout_ms : SIO_PING_TIMEOUT_MS;
}

void push_hub_free(struct push_hub *hub)
{
	if (!hub)
		return;
	if (hub->db)
		push_db_close(hub->db);
	for (size_t i = 0; i < PUSH_RECENT; i++)
		free(hub->recent[i].json);
	free(hub->frame);
	free(hub);
}

int push_hub_admit(struct push_hub *hub, struct push_sub *s, const struct net_addr *addr)
{
	struct conn_peer *p = conn_peer_get(&hub->peers, addr);
	if (p && p->count < hub->cfg->max_per_ip) {
		p->count++;
		s->ip = p;
		return 0;
	}
	hub->refused_ip++;
	uint64_t now = rx_now(hub->rx);
	if (p && (!hub->ip_logged_ms || now - hub->ip_logged_ms >= PUSH_LOG_EVERY_MS)) {
		char a[NET_ADDR_STRLEN];
		hub->ip_logged_ms = now;
		log_warn("push: %s already holds %u subscribers (--push-max-per-ip): refusing more",
		         conn_peer_str(p, a, sizeof(a)), p->count);
	}
	return -1;
}

void push_hub_join(struct push_hub *hub, struct push_sub *s)
{
	s->hub = hub;
	s->prev = NULL;
	s->next = hub->subs;
	if (hub->subs)
		hub->subs->prev = s;
	hub->subs = s;
	s->joined = true;
	hub->nsubs++;
	if (log_level_now >= LOG_LEVEL_INFO) {
		char a[NET_ADDR_STRLEN];
		log_info("c%u push: connected: c%u from %s%s%s%s (total %zu)", s->c.link.id,
		         s->c.link.id, s->ip ? conn_peer_str(s->ip, a, sizeof(a)) : "?",
		         s->kind == PUSH_KIND_SIO ? " (Socket.IO)" : "", *s->topic ? " topic " : "",
		         s->topic, hub->nsubs);
	}
}

void push_hub_leave(struct push_hub *hub, struct push_sub *s)
{
	if (s->joined) {
		if (s->prev)
			s->prev->next = s->next;
		else
			hub->subs = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->joined = false;
		hub->nsubs--;
		log_info("c%u push: disconnected: c%u (remaining %zu)", s->c.link.id, s->c.link.id,
		         hub->nsubs);
	}
	if (s->ip) {
		conn_peer_put(&hub->peers, s->ip);
		s->ip = NULL;
	}
}

/* The text at frame + WS_MAX_HEADER gets its header right before it:
 * returns where the whole frame starts. */
static uint8_t *frame_wrap(uint8_t *base, size_t text_len, size_t *frame_len)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hn = ws_frame_header(hdr, WS_OP_TEXT, true, text_len, NULL);
	uint8_t *start = base + WS_MAX_HEADER - hn;
	memcpy(start, hdr, hn);
	*frame_len = hn + text_len;
	return start;
}

static void hub_remember(struct push_hub *hub, const struct push_msg *m, const char *topic,
                         const char *ip, const char *time_iso, const char *text, size_t n)
{
	struct push_recent *r = &hub->recent[hub->recent_next++ % PUSH_RECENT];
	char small[PUSH_FRAME_EXTRA + 6 * PUSH_SENDER_MAX + 64];
	if (n > PUSH_RECENT_KEEP) {
		char what[48];
		struct push_msg brief = *m;
		snprintf(what, sizeof(what), "(%zu bytes, not kept)", m->message_len);
		brief.message = what;
		brief.message_len = strlen(what);
		brief.message_json = false;
		n = push_frame_text(small, sizeof(small), &brief, topic, time_iso, NULL, NULL);
		text = small;
	}
	free(r->json);
	r->json = malloc(n + 1);
	if (r->json) {
		memcpy(r->json, text, n);
		r->json[n] = '\0';
	}
	snprintf(r->time, sizeof(r->time), "%s", time_iso);
	snprintf(r->ip, sizeof(r->ip), "%s", ip);
	snprintf(r->topic, sizeof(r->topic), "%s", topic);
}

/* One subscriber, one frame: closed when its queue cannot take it. */
static size_t hub_deliver(struct push_hub *hub, struct push_sub *s, const uint8_t *f, size_t n)
{
	if (wsconn_send_frame(&s->c, f, n, PUSH_QUEUE_MAX) == 0)
		return 1;
	hub->closed_slow++;
	log_warn("c%u push: subscriber is not reading (%u bytes queued): closed", s->c.link.id,
	         (unsigned)buf_len(&s->c.out));
	wsconn_destroy(&s->c);
	return 0;
}

void push_hub_stamp(char out[PING_TIME_LEN + 1])
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	ping_time(&now, out);
}

/* The plain and Socket.IO texts of m into hub->frame: false when too big. */
static bool hub_texts(struct push_hub *hub, const struct push_msg *m, const char *topic,
                      const char *time_iso, size_t *n, size_t *sn)
{
	uint8_t *ws_base = (uint8_t *)hub->frame, *sio_base = ws_base + BUF_SIZE;
	size_t cap = PUSH_FRAME_MAX - WS_MAX_HEADER;
	*n = push_frame_text((char *)ws_base + WS_MAX_HEADER, cap, m, topic, time_iso, NULL, NULL);
	*sn = push_frame_text((char *)sio_base + WS_MAX_HEADER, cap, m, topic, time_iso, SIO_PREFIX,
	                      SIO_SUFFIX);
	return *n && *sn;
}

bool push_hub_fits(struct push_hub *hub, const struct push_msg *m, const char *topic)
{
	size_t n, sn;
	return hub_texts(hub, m, topic, "2024-01-15T10:30:45.123Z", &n, &sn);
}

size_t push_hub_count(const struct push_hub *hub, const char *topic)
{
	size_t n = 0;
	for (const struct push_sub *s = hub->subs; s; s = s->next)
		n += strcmp(s->topic, topic) == 0;
	return n;
}

long push_hub_fanout(struct push_hub *hub, const struct push_msg *m, const char *topic,
                     const char *ip, const char *time_iso)
{
	size_t n, sn;
	if (!hub_texts(hub, m, topic, time_iso, &n, &sn))
		return -1;
	uint8_t *ws_base = (uint8_t *)hub->frame, *sio_base = ws_base + BUF_SIZE;
	size_t ws_len, sio_len;
	const uint8_t *ws_frame = frame_wrap(ws_base, n, &ws_len);
	const uint8_t *sio_frame = frame_wrap(sio_base, sn, &sio_len);
	size_t reached = 0;
	for (struct push_sub *s = hub->subs, *next; s; s = next) {
		next = s->next; /* s may be closed */
		if (strcmp(s->topic, topic) != 0)
			continue;
		if (s->kind == PUSH_KIND_SIO)
			reached += hub_deliver(hub, s, sio_frame, sio_len);
		else
			reached += hub_deliver(hub, s, ws_frame, ws_len);
	}
	hub->messages++;
	hub_remember(hub, m, topic, ip, time_iso, (const char *)ws_base + WS_MAX_HEADER, n);
	return (long)reached;
}

void push_hub_record(struct push_hub *hub, const struct push_msg *m, const char *topic,
                     const char *ip, const char *time_iso)
{
	if (hub->db)
		push_db_add(hub->db, m, topic, ip, time_iso);
}

long push_hub_send(struct push_hub *hub, const struct push_msg *m, const char *topic,
                   const struct net_addr *from)
{
	char time_iso[PING_TIME_LEN + 1], ip[NET_ADDR_STRLEN];
	push_hub_stamp(time_iso);
	net_addr_ip_str(from, ip, sizeof(ip));
	long reached = push_hub_fanout(hub, m, topic, ip, time_iso);
	if (reached >= 0)
		push_hub_record(hub, m, topic, ip, time_iso);
	return reached;
}
