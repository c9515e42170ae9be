/* ws_bench.c — throughput of proto/ws.c beside memcpy of the same bytes, in
 * the same run: unmask, parse+unmask of one masked binary frame, parse of
 * unmasked text frames (UTF-8 check), building a masked frame (header plus
 * in-place mask: a sender reads payload straight into its frame).
 * Prints a table; never asserts. Run: make build/bench/ws_bench && ./build/bench/ws_bench */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/ws.h"

#define RUNS 9                     /* median and best of these */
#define BYTES_PER_RUN (256u << 20) /* work per run, whatever the size */
#define MAX_MSG (1u << 20)

static volatile size_t sink;

/* Makes the compiler assume p's memory is read, so no work is dropped. */
static void clobber(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bench {
	uint8_t *src, *dst, *frame;
	size_t n, frame_len;
};

static const uint8_t key[4] = { 0x3c, 0xa5, 0x0f, 0x96 };

typedef void (*bench_fn)(struct bench *b);

static void do_memcpy(struct bench *b)
{
	memcpy(b->dst, b->src, b->n);
	clobber(b->dst);
}

static void do_mask(struct bench *b)
{
	sink = ws_mask(b->dst, b->n, key, 0);
	clobber(b->dst);
}

/* Server role: a masked frame is parsed and unmasked in place. Unmasking
 * toggles the payload, harmless for a binary frame. */
static void do_parse_masked(struct bench *b)
{
	struct ws_parser p;
	struct ws_event ev;
	size_t used;

	ws_parser_init(&p, WS_ROLE_SERVER, 0);
	if (ws_parser_feed(&p, b->frame, b->frame_len, &used, &ev) == WS_EVENT)
		sink = ev.len;
	clobber(b->frame);
}

/* Client role: an unmasked text frame, so the cost is the UTF-8 check. */
static void do_parse_text(struct bench *b)
{
	struct ws_parser p;
	struct ws_event ev;
	size_t used;

	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	if (ws_parser_feed(&p, b->dst, b->frame_len, &used, &ev) == WS_EVENT)
		sink = ev.len;
	clobber(b->dst);
}

/* What a client sender does once the payload sits after the header space:
 * write the header, mask the payload in place. */
static void do_build(struct bench *b)
{
	size_t h = ws_frame_header(b->frame, WS_OP_BINARY, true, b->n, key);

	ws_mask(b->frame + h, b->n, key, 0);
	clobber(b->frame);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GB/s of payload bytes: median and best of RUNS runs. */
static void measure(struct bench *b, bench_fn fn, double *median, double *best)
{
	size_t reps = BYTES_PER_RUN / b->n;
	double rate[RUNS];

	fn(b); /* warm caches and pages */
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_sec();

		for (size_t i = 0; i < reps; i++)
			fn(b);
		rate[r] = (double)reps * (double)b->n / (now_sec() - t0) / 1e9;
	}
	qsort(rate, RUNS, sizeof rate[0], cmp_double);
	*median = rate[RUNS / 2];
	*best = rate[RUNS - 1];
}

enum fill { FILL_BINARY = 0, FILL_ASCII, FILL_CYRILLIC };

/* FILL_CYRILLIC: two-byte sequences only, so every byte goes through the DFA. */
static void setup(struct bench *b, size_t n, enum fill fill)
{
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		if (fill == FILL_BINARY)
			b->src[i] = (uint8_t)(i * 131 + 7);
		else if (fill == FILL_ASCII)
			b->src[i] = (uint8_t)('a' + i % 26);
		else
			b->src[i] = (uint8_t)(i % 2 ? 0x80 + i / 2 % 64 : 0xD0);
	}
	memcpy(b->dst, b->src, n);
}

static void setup_text_frame(struct bench *b)
{
	b->frame_len = ws_frame_header(b->dst, WS_OP_TEXT, true, b->n, NULL);
	memcpy(b->dst + b->frame_len, b->src, b->n);
	b->frame_len += b->n;
}

static void row(const char *name, size_t n, double base, double med, double best)
{
	printf("%-24s %8zu  %7.2f  %7.2f  %5.0f%%\n", name, n, med, best, 100.0 * med / base);
}

static void bench_size(struct bench *b, size_t n)
{
	double base, base_best, med, best;

	setup(b, n, FILL_BINARY);
	measure(b, do_memcpy, &base, &base_best);
	row("memcpy", n, base, base, base_best);
	measure(b, do_mask, &med, &best);
	row("ws_mask (in place)", n, base, med, best);
	b->frame_len = ws_frame_header(b->frame, WS_OP_BINARY, true, n, key) + n;
	memcpy(b->frame + b->frame_len - n, b->src, n);
	measure(b, do_parse_masked, &med, &best);
	row("parse+unmask (server)", n, base, med, best);
	measure(b, do_build, &med, &best);
	row("build hdr+mask (client)", n, base, med, best);
	setup(b, n, FILL_ASCII);
	setup_text_frame(b);
	measure(b, do_parse_text, &med, &best);
	row("parse ASCII text", n, base, med, best);
	setup(b, n, FILL_CYRILLIC);
	setup_text_frame(b);
	measure(b, do_parse_text, &med, &best);
	row("parse 2-byte UTF-8", n, base, med, best);
}

int main(void)
{
	static const size_t sizes[] = { 1024, 16 * 1024, MAX_MSG };
	struct bench b;

	b.src = malloc(MAX_MSG);
	b.dst = malloc(MAX_MSG + WS_MAX_HEADER);
	b.frame = malloc(MAX_MSG + WS_MAX_HEADER);
	if (!b.src || !b.dst || !b.frame)
		return 1;
	printf("ws_bench: GB/s of payload, %d runs of %u MiB each; %% = median vs memcpy\n",
	       RUNS, BYTES_PER_RUN >> 20);
	printf("%-24s %8s  %7s  %7s  %6s\n", "what", "bytes", "median", "best", "vs cpy");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		bench_size(&b, sizes[i]);
	free(b.src);
	free(b.dst);
	free(b.frame);
	return 0;
}
