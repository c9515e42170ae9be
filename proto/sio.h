/* sio.h — Engine.IO v4 / Socket.IO v5 packets as a websocket-only server
 * speaks them (issue 13): what a client's text message is, and the few
 * packets the server sends. Pure: no I/O, no allocation, no clock. */
#ifndef WSF_PROTO_SIO_H
#define WSF_PROTO_SIO_H

#include <stddef.h>
#include <stdint.h>

#define SIO_PING_INTERVAL_MS 25000 /* Socket.IO's defaults (the server's when
                                      * --keepalive is 0: clients need pings) */
#define SIO_PING_TIMEOUT_MS 20000
#define SIO_SID_LEN 20              /* base64url of 15 random bytes */

enum sio_kind {
	SIO_INVALID = 0,     /* not an Engine.IO packet this server knows */
	SIO_EIO_CLOSE,       /* "1": the client leaves */
	SIO_EIO_PING,        /* "2": answered with "3" (a client-initiated probe) */
	SIO_EIO_PONG,        /* "3": the answer to our "2" */
	SIO_CONNECT,         /* "40" (namespace "/") or "40/ns,": join */
	SIO_DISCONNECT,      /* "41": leave the namespace */
	SIO_EVENT,           /* "42...", "43..." and other Socket.IO packets: ignored */
	SIO_UPGRADE_PROBE,   /* "2probe" / "5": transport upgrades, unused here */
};

/* The kind of one whole client text message; for SIO_CONNECT, *ns_len is
 * the namespace's length (0 for "/") and *ns points at it. */
enum sio_kind sio_parse(const char *msg, size_t len, const char **ns, size_t *ns_len);

/* The Engine.IO open packet: 0{"sid":...,"upgrades":[],"pingInterval":...,
 * "pingTimeout":...,"maxPayload":...} (milliseconds, bytes). Length, 0 when
 * cap is too small. */
size_t sio_open_packet(char *out, size_t cap, const char *sid, unsigned ping_interval_ms,
                       unsigned ping_timeout_ms, unsigned max_payload);
/* The CONNECT answer for namespace "/": 40{"sid":...}. */
size_t sio_connect_packet(char *out, size_t cap, const char *sid);
/* The CONNECT_ERROR for another namespace: 44/ns,{"message":"Invalid namespace"}. */
size_t sio_connect_error(char *out, size_t cap, const char *ns, size_t ns_len);

/* A session id from SIO_SID_LEN * 3 / 4 random bytes: SIO_SID_LEN chars + NUL. */
void sio_sid(const uint8_t random[15], char out[SIO_SID_LEN + 1]);

#endif
