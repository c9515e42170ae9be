/* bus.h — push fan-out across servers (--push-bus): every server process
 * publishes the messages it takes and hears everybody's (its own included)
 * on one Redis pub/sub channel. One small interface, two backends picked by
 * the Makefile (WITH_REDIS): bus_redis.c (our own RESP client on the
 * reactor, never blocking) and bus_none.c (refuses, and says how to get it).
 * It speaks proto/pushbus.h's messages (so a build without it carries no
 * byte of their code); the hub is its caller's business. */
#ifndef WSF_TUN_PUSH_BUS_H
#define WSF_TUN_PUSH_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rx.h"
#include "proto/pushbus.h"

struct push_bus;

/* A message heard on the channel that this process must deliver: another
 * process's, or ours when we left its delivery to the bus (not local).
 * Anything that is not a pushbus message was dropped, with a warning at
 * most every 10 s. m->body is checked by the callee (as a POST body). */
typedef void (*push_bus_msg_fn)(void *owner, const struct pushbus_msg *m);
/* A publish's outcome: receivers >= 0 is Redis's count of server
 * processes subscribed to the channel; -1: the connection failed before
 * Redis answered (the message may or may not have been fanned out). */
typedef void (*push_bus_ack_fn)(void *owner, long receivers);

/* False when built without a backend (WITH_REDIS=0). */
extern const bool push_bus_available;

/* Checks a --push-bus URL (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB],
 * unix:PATH): 0, or -1 with *why. For bin/, before anything starts. */
int push_bus_check_url(const char *url, const char **why);

/* Resolves url (blocking: startup only; dns: the --dns list or NULL) and
 * starts the two connections (publish, subscribe to channel) on rx; they
 * come back by themselves after failures, and the subscription is renewed.
 * on_msg(owner, ...) is called from the reactor for each message heard.
 * NULL with a sentence in err. */
struct push_bus *push_bus_open(struct rx *rx, const char *url, const char *channel,
                               const char *dns, push_bus_msg_fn on_msg, void *owner, char *err,
                               size_t cap);

/* True while the subscription is live: a message published now will be
 * heard back here. */
bool push_bus_subscribed(const struct push_bus *b);

/* Publishes m (local, json, time, ip, topic; the tag is this process's)
 * with body[0..len) (copied). A ticket (non-zero): fn(owner, ...) is called
 * later, exactly once, from the reactor, unless cancelled first. 0: the bus
 * cannot take it now (down, Redis not keeping up, a field pushbus_head
 * refuses); fn is never called. */
uint32_t push_bus_publish(struct push_bus *b, struct pushbus_msg *m, const void *body,
                          size_t len, push_bus_ack_fn fn, void *owner);

/* The owner is going away: its callback never runs. */
void push_bus_cancel(struct push_bus *b, uint32_t ticket);

/* Closes both connections; pending publishes are dropped without
 * callbacks. NULL is fine. */
void push_bus_close(struct push_bus *b);

#endif
