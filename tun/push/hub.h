/* hub.h — one process's push hub: who is subscribed (by topic), the
 * per-address limit, the fan-out of a message to every subscriber of its
 * topic without waiting for any of them, and the counts the admin sees. */
#ifndef WSF_TUN_PUSH_HUB_H
#define WSF_TUN_PUSH_HUB_H

#include "proto/ping.h"
#include "tun/push/push_int.h"

/* A hub for cfg on rx (cfg outlives it); opens cfg->db. NULL after logging
 * why (out of memory, the database). */
struct push_hub *push_hub_new(struct rx *rx, const struct push_config *cfg);
/* Sets the pings (push_int.h): keepalive_ms 0 turns them off for plain
 * subscribers; pong_timeout_ms MUST be > 0. Before the first subscriber. */
void push_hub_keepalive(struct push_hub *hub, unsigned keepalive_ms, unsigned pong_timeout_ms);
/* Frees the hub; its subscribers MUST be gone (conn_list_destroy_all). */
void push_hub_free(struct push_hub *hub);

/* Counts a subscriber-to-be from addr (the handoff's: the client's address
 * as the server counts and logs it) against --push-max-per-ip: 0 with
 * s->ip taken, or -1 (logged, at most every 10 s) when addr is full. */
int push_hub_admit(struct push_hub *hub, struct push_sub *s, const struct net_addr *addr);
/* Puts s in the list ("connected" log line); s->topic and s->ip set. */
void push_hub_join(struct push_hub *hub, struct push_sub *s);
/* Takes s out of the list and drops its per-address count ("disconnected"). */
void push_hub_leave(struct push_hub *hub, struct push_sub *s);

/* Sends m to every subscriber of topic ("" the default channel), logs it
 * (--push-db, the admin's list). Returns the subscribers it reached, or -1
 * when its frame would exceed PUSH_FRAME_MAX (413). push_hub_fanout and
 * push_hub_record, stamped now from from. */
long push_hub_send(struct push_hub *hub, const struct push_msg *m, const char *topic,
                   const struct net_addr *from);

/* The parts of push_hub_send, for the bus (--push-bus), where a message
 * is logged by the process that took it and delivered by every process:
 * the time as frames say it (now, UTC); whether m's frames fit
 * (PUSH_FRAME_MAX); how many subscribers topic has here; the delivery to
 * this process's subscribers and the admin's list (as push_hub_send, with
 * the source address and time given as text); the --push-db row. */
void push_hub_stamp(char out[PING_TIME_LEN + 1]);
bool push_hub_fits(struct push_hub *hub, const struct push_msg *m, const char *topic);
size_t push_hub_count(const struct push_hub *hub, const char *topic);
long push_hub_fanout(struct push_hub *hub, const struct push_msg *m, const char *topic,
                     const char *ip, const char *time_iso);
void push_hub_record(struct push_hub *hub, const struct push_msg *m, const char *topic,
                     const char *ip, const char *time_iso);

#endif
