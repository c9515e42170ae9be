/* check.h — the one test harness: CHECK records, TEST_RUN runs, test_summary
 * prints "N passed, N failed" (the line test/run.sh sums) and gives the exit
 * status. Header-only, so each test file is its own binary. */
#ifndef WSF_TEST_CHECK_H
#define WSF_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_case_failed;

/* Counts one assertion per CHECK; a failing one prints where and what. */
#define CHECK(cond)                                                          \
	do {                                                                     \
		if (cond) {                                                          \
			check_passed++;                                                  \
		} else {                                                             \
			check_failed++;                                                  \
			check_case_failed = 1;                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
			        #cond);                                                  \
		}                                                                    \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                   \
	do {                                                                     \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
		if (check_a_ == check_b_) {                                          \
			check_passed++;                                                  \
		} else {                                                             \
			check_failed++;                                                  \
			check_case_failed = 1;                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
			        __FILE__, __LINE__, #a, #b, check_a_, check_b_);         \
		}                                                                    \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* Runs one test function and names it when any of its checks failed. */
#define TEST_RUN(fn)                                                         \
	do {                                                                     \
		check_case_failed = 0;                                               \
		fn();                                                                \
		if (check_case_failed)                                               \
			fprintf(stderr, "FAIL %s\n", #fn);                               \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
