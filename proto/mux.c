/* mux.c — the --mux frame parser and framer (see mux.h for the format).
 * Bounds come from the type: a peer can make us hold at most MUX_MAX_CTRL
 * bytes here; DATA is never held, only sliced. */
#include "proto/mux.h"

#include <string.h>

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The length and id rules of each type. */
static enum mux_rc header_check(uint8_t type, uint32_t len, uint32_t id, uint32_t max_data)
{
	if (type == 0 || type > MUX_TYPE_MAX)
		return MUX_ERR_TYPE;
	if (type == MUX_PING || type == MUX_PONG)
		return id ? MUX_ERR_ID : len == MUX_PING_LEN ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	if (id == 0)
		return MUX_ERR_ID;
	switch (type) {
	case MUX_OPEN:
		return len >= 1 && len <= MUX_MAX_CTRL ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	case MUX_REPLY:
		return len == 1 ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	case MUX_DATA:
		return len <= max_data ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	case MUX_FIN:
		return len == 0 ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	case MUX_RST:
		return len <= 1 ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	default: /* MUX_WINDOW */
		return len == 4 ? MUX_NEED_MORE : MUX_ERR_LENGTH;
	}
}

static enum mux_rc fail(struct mux_parser *p, enum mux_rc rc)
{
	p->err = (int8_t)rc;
	return rc;
}

/* A whole control payload gathered in p->ctl: its event. */
static enum mux_rc ctl_event(struct mux_parser *p, struct mux_event *ev)
{
	p->in_frame = false;
	ev->type = p->type;
	ev->id = p->id;
	ev->data = p->ctl;
	ev->len = p->ctl_have;
	if (p->type == MUX_WINDOW) {
		ev->window = get32(p->ctl);
		if (ev->window == 0 || ev->window > 0x7fffffffu)
			return fail(p, MUX_ERR_LENGTH);
	}
	return MUX_EVENT;
}

static enum mux_rc data_event(struct mux_parser *p, const uint8_t *in, size_t len, size_t *used,
                              struct mux_event *ev)
{
	size_t n = len < p->left ? len : p->left;
	ev->type = MUX_DATA;
	ev->id = p->id;
	ev->data = in;
	ev->len = n;
	ev->first = !p->data_started;
	p->data_started = true;
	p->left -= (uint32_t)n;
	ev->last = p->left == 0;
	if (ev->last)
		p->in_frame = false;
	*used += n;
	return MUX_EVENT;
}

enum mux_rc mux_parser_feed(struct mux_parser *p, const uint8_t *in, size_t len, size_t *used,
                            struct mux_event *ev)
{
	*used = 0;
	if (p->err)
		return (enum mux_rc)p->err;
	memset(ev, 0, sizeof(*ev));
	while (!p->in_frame) {
		size_t take = MUX_HEADER - p->hdr_have;
		if (take > len - *used)
			take = len - *used;
		memcpy(p->hdr + p->hdr_have, in + *used, take);
		p->hdr_have += (uint8_t)take;
		*used += take;
		if (p->hdr_have < MUX_HEADER)
			return MUX_NEED_MORE;
		p->hdr_have = 0;
		p->type = p->hdr[0];
		p->left = get24(p->hdr + 1);
		p->id = get32(p->hdr + 4);
		enum mux_rc rc =
		    header_check(p->type, p->left, p->id, p->big ? MUX_MAX_DATA_BIG : MUX_MAX_DATA);
		if (rc < 0)
			return fail(p, rc);
		p->in_frame = true;
		p->data_started = false;
		p->ctl_have = 0;
	}
	if (p->type == MUX_DATA) {
		if (p->left && *used == len)
			return MUX_NEED_MORE;
		return data_event(p, in + *used, len - *used, used, ev);
	}
	size_t take = len - *used < p->left ? len - *used : p->left;
	memcpy(p->ctl + p->ctl_have, in + *used, take);
	p->ctl_have += (uint32_t)take;
	p->left -= (uint32_t)take;
	*used += take;
	if (p->left)
		return MUX_NEED_MORE;
	return ctl_event(p, ev);
}

uint32_t mux_parser_data_left(const struct mux_parser *p, uint32_t *id)
{
	if (p->err || !p->in_frame || p->type != MUX_DATA)
		return 0;
	*id = p->id;
	return p->left;
}

void mux_parser_skip(struct mux_parser *p, uint32_t n)
{
	if (p->err || !p->in_frame || p->type != MUX_DATA || n > p->left)
		return;
	p->left -= n;
	p->data_started = true;
	if (p->left == 0)
		p->in_frame = false;
}

void mux_header(uint8_t out[MUX_HEADER], enum mux_type type, uint32_t id, uint32_t len)
{
	out[0] = (uint8_t)type;
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	put32(out + 4, id);
}

void mux_window_frame(uint8_t out[MUX_WINDOW_FRAME], uint32_t id, uint32_t inc)
{
	mux_header(out, MUX_WINDOW, id, 4);
	put32(out + MUX_HEADER, inc);
}

void mux_ping_frame(uint8_t out[MUX_PING_FRAME], enum mux_type type,
                    const uint8_t data[MUX_PING_LEN])
{
	mux_header(out, type, 0, MUX_PING_LEN);
	memcpy(out + MUX_HEADER, data, MUX_PING_LEN);
}

const char *mux_strerror(enum mux_rc rc)
{
	switch (rc) {
	case MUX_ERR_TYPE:
		return "unknown mux frame type";
	case MUX_ERR_LENGTH:
		return "mux frame length not allowed for its type";
	case MUX_ERR_ID:
		return "mux frame with a wrong stream id";
	default:
		return "no error";
	}
}
