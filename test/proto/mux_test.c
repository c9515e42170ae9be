/* mux_test.c — proto/mux.c: every frame type round trip, every split point
 * of a stream of frames gives the same events, and each rule's error. */
#include "proto/mux.h"

#include "test/check.h"

/* Events of a whole feed, flattened for comparison: type, id, window, and
 * payload bytes (DATA slices concatenated per frame). */
struct log {
	uint8_t b[4096];
	size_t n;
	enum mux_rc rc;
};

static void put(struct log *l, const void *p, size_t n)
{
	if (n > sizeof(l->b) - l->n)
		n = sizeof(l->b) - l->n;
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void record(struct log *l, const struct mux_event *ev)
{
	if (ev->type != MUX_DATA || ev->first) {
		uint8_t h[9] = {ev->type, (uint8_t)(ev->id >> 24), (uint8_t)(ev->id >> 16),
		                (uint8_t)(ev->id >> 8), (uint8_t)ev->id, (uint8_t)(ev->window >> 24),
		                (uint8_t)(ev->window >> 16), (uint8_t)(ev->window >> 8),
		                (uint8_t)ev->window};
		put(l, h, sizeof(h));
	}
	put(l, ev->data, ev->len);
}

/* Feeds in chunks of step bytes (0: all at once). */
static void run(const uint8_t *in, size_t n, size_t step, struct log *l)
{
	struct mux_parser p = {0};
	memset(l, 0, sizeof(*l));
	size_t off = 0;
	while (off < n) {
		size_t chunk = step && step < n - off ? step : n - off;
		size_t pos = 0;
		while (pos < chunk || (chunk == 0)) {
			struct mux_event ev;
			size_t used;
			enum mux_rc rc = mux_parser_feed(&p, in + off + pos, chunk - pos, &used, &ev);
			pos += used;
			if (rc < 0) {
				l->rc = rc;
				return;
			}
			if (rc == MUX_EVENT)
				record(l, &ev);
			else
				break;
		}
		off += chunk;
	}
}

static size_t frame(uint8_t *out, enum mux_type t, uint32_t id, const void *p, size_t n)
{
	mux_header(out, t, id, (uint32_t)n);
	memcpy(out + MUX_HEADER, p, n);
	return MUX_HEADER + n;
}

static void test_split_points(void)
{
	uint8_t s[2048];
	size_t n = 0;
	uint8_t ping[MUX_PING_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	n += frame(s + n, MUX_OPEN, 1, "QUJDREVGRw", 10);
	n += frame(s + n, MUX_DATA, 1, "hello world", 11);
	n += frame(s + n, MUX_DATA, 1, "", 0);
	uint8_t rep = 0;
	n += frame(s + n, MUX_REPLY, 1, &rep, 1);
	mux_window_frame(s + n, 1, 65536);
	n += MUX_WINDOW_FRAME;
	mux_ping_frame(s + n, MUX_PING, ping);
	n += MUX_PING_FRAME;
	mux_ping_frame(s + n, MUX_PONG, ping);
	n += MUX_PING_FRAME;
	uint8_t big[700];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	n += frame(s + n, MUX_DATA, 7, big, sizeof(big));
	n += frame(s + n, MUX_FIN, 1, "", 0);
	n += frame(s + n, MUX_RST, 7, "", 0);
	struct log whole, split;
	run(s, n, 0, &whole);
	CHECK_EQ_INT(whole.rc, 0);
	CHECK(whole.n > 700);
	for (size_t step = 1; step <= n; step++) {
		run(s, n, step, &split);
		CHECK_EQ_INT(split.rc, 0);
		CHECK_EQ_INT(split.n, whole.n);
		CHECK_MEM(split.b, whole.b, whole.n);
	}
}

static void test_events(void)
{
	uint8_t s[64];
	struct mux_parser p = {0};
	struct mux_event ev;
	size_t used;
	mux_window_frame(s, 3, 70000);
	CHECK_EQ_INT(mux_parser_feed(&p, s, MUX_WINDOW_FRAME, &used, &ev), MUX_EVENT);
	CHECK_EQ_INT(used, MUX_WINDOW_FRAME);
	CHECK_EQ_INT(ev.type, MUX_WINDOW);
	CHECK_EQ_INT(ev.id, 3);
	CHECK_EQ_INT(ev.window, 70000);
	size_t n = frame(s, MUX_DATA, 9, "abcdef", 6);
	CHECK_EQ_INT(mux_parser_feed(&p, s, 10, &used, &ev), MUX_EVENT);
	CHECK_EQ_INT(used, 10);
	CHECK(ev.first && !ev.last && ev.len == 2 && ev.id == 9);
	CHECK_EQ_INT(mux_parser_feed(&p, s + 10, n - 10, &used, &ev), MUX_EVENT);
	CHECK(!ev.first && ev.last && ev.len == 4 && memcmp(ev.data, "cdef", 4) == 0);
	CHECK_EQ_INT(mux_parser_feed(&p, s, 0, &used, &ev), MUX_NEED_MORE);
	CHECK(sizeof(struct mux_parser) <= 560);
}

static enum mux_rc one_as(bool big, uint8_t type, uint32_t id, uint32_t len)
{
	uint8_t s[MUX_HEADER + 8] = {0};
	struct mux_parser p = {.big = big};
	struct mux_event ev;
	size_t used;
	mux_header(s, (enum mux_type)type, id, len);
	enum mux_rc rc = mux_parser_feed(&p, s, MUX_HEADER, &used, &ev);
	if (rc >= 0)
		return rc;
	/* sticky */
	CHECK_EQ_INT(mux_parser_feed(&p, s, MUX_HEADER, &used, &ev), rc);
	return rc;
}

static enum mux_rc one(uint8_t type, uint32_t id, uint32_t len)
{
	return one_as(false, type, id, len);
}

static void test_errors(void)
{
	CHECK_EQ_INT(one(0, 1, 0), MUX_ERR_TYPE);
	CHECK_EQ_INT(one(9, 1, 0), MUX_ERR_TYPE);
	CHECK_EQ_INT(one(MUX_DATA, 0, 1), MUX_ERR_ID);
	CHECK_EQ_INT(one(MUX_PING, 1, 8), MUX_ERR_ID);
	CHECK_EQ_INT(one(MUX_PING, 0, 7), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_OPEN, 1, 0), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_OPEN, 1, MUX_MAX_CTRL + 1), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_DATA, 1, MUX_MAX_DATA + 1), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_FIN, 1, 1), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_RST, 1, 2), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_REPLY, 1, 2), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_WINDOW, 1, 5), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one(MUX_DATA, 1, MUX_MAX_DATA), MUX_NEED_MORE);
	/* big DATA only where asked for (a client's parser), and no bigger */
	CHECK_EQ_INT(one(MUX_DATA, 1, MUX_MAX_DATA_BIG), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one_as(true, MUX_DATA, 1, MUX_MAX_DATA_BIG), MUX_NEED_MORE);
	CHECK_EQ_INT(one_as(true, MUX_DATA, 1, MUX_MAX_DATA_BIG + 1), MUX_ERR_LENGTH);
	CHECK_EQ_INT(one_as(true, MUX_OPEN, 1, MUX_MAX_CTRL + 1), MUX_ERR_LENGTH);
	/* a zero window increment is an error */
	uint8_t s[MUX_WINDOW_FRAME];
	struct mux_parser p = {0};
	struct mux_event ev;
	size_t used;
	mux_window_frame(s, 1, 0);
	CHECK_EQ_INT(mux_parser_feed(&p, s, sizeof(s), &used, &ev), MUX_ERR_LENGTH);
	CHECK(mux_strerror(MUX_ERR_ID)[0] != 'n');
}

static void test_skip(void)
{
	uint8_t s[64];
	struct mux_parser p = {0};
	struct mux_event ev;
	size_t used;
	uint32_t id = 0;
	size_t n = frame(s, MUX_DATA, 5, "0123456789", 10);
	n += frame(s + n, MUX_FIN, 5, "", 0);
	CHECK_EQ_INT(mux_parser_data_left(&p, &id), 0);
	CHECK_EQ_INT(mux_parser_feed(&p, s, MUX_HEADER, &used, &ev), MUX_NEED_MORE);
	CHECK_EQ_INT(mux_parser_data_left(&p, &id), 10);
	CHECK_EQ_INT(id, 5);
	mux_parser_skip(&p, 4); /* moved by the caller */
	CHECK_EQ_INT(mux_parser_data_left(&p, &id), 6);
	CHECK_EQ_INT(mux_parser_feed(&p, s + MUX_HEADER + 4, 2, &used, &ev), MUX_EVENT);
	CHECK(!ev.first && !ev.last && ev.len == 2 && memcmp(ev.data, "45", 2) == 0);
	mux_parser_skip(&p, 4);
	CHECK_EQ_INT(mux_parser_data_left(&p, &id), 0);
	CHECK_EQ_INT(mux_parser_feed(&p, s + MUX_HEADER + 10, n - MUX_HEADER - 10, &used, &ev),
	             MUX_EVENT);
	CHECK_EQ_INT(ev.type, MUX_FIN);
	mux_parser_skip(&p, 1); /* outside DATA: nothing */
	CHECK_EQ_INT(mux_parser_data_left(&p, &id), 0);
}

int main(void)
{
	TEST_RUN(test_skip);
	TEST_RUN(test_split_points);
	TEST_RUN(test_events);
	TEST_RUN(test_errors);
	return test_summary();
}
