/* users_bench.c — the controller's user table (tun/server/users.c) on its
 * own, in one run: ns per lookup of a user's path (hit) and of an unknown
 * path (miss) with 1 user, then with 10,001 and 30,001 users in the table,
 * each as a ratio to the 1-user figure; and the cost of adding 10,000 users
 * in one command. Lookups take the table's process-shared mutex, as the
 * server's do. Prints; never asserts.
 * Run: make build/bench/users_bench && ./build/bench/users_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/ctl.h"
#include "tun/server/users.h"

#define LOOKUPS 2000000

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Adds users /userFROM .. /userTO-1 in one command. */
static void add_users(struct users *u, int from, int to)
{
	size_t cap = (size_t)(to - from) * 64 + 64, n = 0;
	char *body = malloc(cap);
	n += (size_t)snprintf(body + n, cap - n, "{\"opt\":1,\"args_bunch\":[");
	for (int i = from; i < to; i++)
		n += (size_t)snprintf(body + n, cap - n, "%s{\"path\":\"/user%06d\",\"dst\":\"h:%d\"}",
		                      i > from ? "," : "", i, 1000 + i % 60000);
	n += (size_t)snprintf(body + n, cap - n, "]}");
	struct ctl_cmd c;
	size_t at, count;
	if (ctl_parse(body, n, &c, NULL) != CTL_OK || users_apply(u, &c, &at, &count) != USERS_OK)
		fprintf(stderr, "users_bench: adding users %d..%d failed\n", from, to);
	free(body);
}

static double lookup_ns(struct users *u, const char *path)
{
	struct user_found f;
	size_t len = strlen(path), hits = 0;
	double t0 = now_sec();
	for (int i = 0; i < LOOKUPS; i++)
		hits += users_find(u, path, len, &f);
	double ns = (now_sec() - t0) * 1e9 / LOOKUPS;
	if (hits != 0 && hits != LOOKUPS)
		fprintf(stderr, "users_bench: %s found %zu of %d times\n", path, hits, LOOKUPS);
	return ns;
}

int main(void)
{
	struct users *u = users_new();
	if (!u) {
		fprintf(stderr, "users_bench: cannot map the table\n");
		return 1;
	}
	add_users(u, 0, 1);
	double hit1 = lookup_ns(u, "/user000000"), miss1 = lookup_ns(u, "/nobody");
	printf("| users in the table | hit ns/lookup | x 1 user | miss ns/lookup | x 1 user |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	printf("| 1 | %.1f | 1.00 | %.1f | 1.00 |\n", hit1, miss1);
	double t0 = now_sec();
	add_users(u, 1, 10001);
	double add_ms = (now_sec() - t0) * 1e3;
	double hit = lookup_ns(u, "/user000000"), miss = lookup_ns(u, "/nobody");
	printf("| %zu | %.1f | %.2f | %.1f | %.2f |\n", users_count(u), hit, hit / hit1, miss,
	       miss / miss1);
	add_users(u, 10001, 30001);
	hit = lookup_ns(u, "/user000000");
	miss = lookup_ns(u, "/nobody");
	printf("| %zu | %.1f | %.2f | %.1f | %.2f |\n", users_count(u), hit, hit / hit1, miss,
	       miss / miss1);
	printf("\nadding 10,000 users in one command (parse + apply): %.1f ms; %d lookups per row\n",
	       add_ms, LOOKUPS);
	users_free(u);
	return 0;
}
