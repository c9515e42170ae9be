/* sio.c — Engine.IO v4 / Socket.IO v5 packets of sio.h. Packet types from
 * the Engine.IO protocol (0 open, 1 close, 2 ping, 3 pong, 4 message, 5
 * upgrade, 6 noop) and Socket.IO's inside a message (0 CONNECT, 1
 * DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5/6 binary). */
#include "proto/sio.h"

#include <string.h>

#include "proto/base64.h"
#include "proto/text.h"

enum sio_kind sio_parse(const char *msg, size_t len, const char **ns, size_t *ns_len)
{
	*ns = NULL;
	*ns_len = 0;
	if (len == 0)
		return SIO_INVALID;
	switch (msg[0]) {
	case '1':
		return len == 1 ? SIO_EIO_CLOSE : SIO_INVALID;
	case '2':
		return len == 1 ? SIO_EIO_PING : SIO_UPGRADE_PROBE;
	case '3':
		return len == 1 ? SIO_EIO_PONG : SIO_UPGRADE_PROBE;
	case '5':
	case '6':
		return SIO_UPGRADE_PROBE;
	case '4':
		break;
	default:
		return SIO_INVALID;
	}
	if (len < 2)
		return SIO_INVALID;
	if (msg[1] == '1')
		return SIO_DISCONNECT;
	if (msg[1] != '0')
		return msg[1] >= '2' && msg[1] <= '6' ? SIO_EVENT : SIO_INVALID;
	/* CONNECT: "40", "40{auth}", "40/ns,", "40/ns,{auth}" */
	if (len > 2 && msg[2] == '/') {
		const char *comma = memchr(msg + 2, ',', len - 2);
		size_t n = comma ? (size_t)(comma - msg - 2) : len - 2;
		if (n != 1) { /* "/" alone is the main namespace */
			*ns = msg + 2;
			*ns_len = n;
		}
	}
	return SIO_CONNECT;
}

size_t sio_open_packet(char *out, size_t cap, const char *sid, unsigned ping_interval_ms,
                       unsigned ping_timeout_ms, unsigned max_payload)
{
	struct text_out o = {out, cap, 0, false};
	text_put_str(&o, "0{\"sid\":\"");
	text_put_str(&o, sid);
	text_put_str(&o, "\",\"upgrades\":[],\"pingInterval\":");
	text_put_uint(&o, ping_interval_ms);
	text_put_str(&o, ",\"pingTimeout\":");
	text_put_uint(&o, ping_timeout_ms);
	text_put_str(&o, ",\"maxPayload\":");
	text_put_uint(&o, max_payload);
	text_put_str(&o, "}");
	return text_result(&o);
}

size_t sio_connect_packet(char *out, size_t cap, const char *sid)
{
	struct text_out o = {out, cap, 0, false};
	text_put_str(&o, "40{\"sid\":\"");
	text_put_str(&o, sid);
	text_put_str(&o, "\"}");
	return text_result(&o);
}

size_t sio_connect_error(char *out, size_t cap, const char *ns, size_t ns_len)
{
	struct text_out o = {out, cap, 0, false};
	text_put_str(&o, "44");
	/* the namespace goes back as sent, minus anything JSON or ours would trip on */
	for (size_t i = 0; i < ns_len; i++)
		if (ns[i] != '"' && ns[i] != '\\' && ns[i] != ',' && (unsigned char)ns[i] >= 0x20)
			text_put_bytes(&o, ns + i, 1);
	text_put_str(&o, ",{\"message\":\"Invalid namespace\"}");
	return text_result(&o);
}

void sio_sid(const uint8_t random[15], char out[SIO_SID_LEN + 1])
{
	base64url_encode(random, 15, out);
}
