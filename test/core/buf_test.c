/* buf_test.c — buffers hold memory only while they hold bytes; append,
 * consume and compaction keep the bytes in order. */
#include "core/buf.h"

#include <string.h>

#include "test/check.h"

static void test_lifecycle(void)
{
	struct buf b = {0};
	CHECK(b.mem == NULL);
	CHECK_EQ_INT(buf_append(&b, "hello", 5), 5);
	CHECK(b.mem != NULL);
	CHECK_EQ_INT(buf_len(&b), 5);
	CHECK_MEM(buf_data(&b), "hello", 5);
	buf_consume(&b, 2);
	CHECK_MEM(buf_data(&b), "llo", 3);
	buf_release_if_empty(&b);
	CHECK(b.mem != NULL);
	buf_consume(&b, 3);
	buf_release_if_empty(&b);
	CHECK(b.mem == NULL);
	buf_free(&b);
}

static void test_fill_and_compact(void)
{
	static uint8_t src[BUF_SIZE];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7);
	struct buf b = {0};
	CHECK_EQ_INT(buf_append(&b, src, sizeof(src)), BUF_SIZE);
	CHECK_EQ_INT(buf_room(&b), 0);
	CHECK_EQ_INT(buf_append(&b, src, 1), 0);
	buf_consume(&b, BUF_SIZE - 10);
	CHECK(buf_room(&b) >= BUF_SIZE - 10); /* compacted */
	CHECK_MEM(buf_data(&b), src + BUF_SIZE - 10, 10);
	CHECK_EQ_INT(buf_append(&b, src, 100), 100);
	CHECK_MEM(buf_data(&b) + 10, src, 100);
	buf_free(&b);
	CHECK(b.mem == NULL);
}

static void test_pool(void)
{
	struct buf a = {0}, c = {0};
	CHECK_EQ_INT(buf_alloc(&a), 0);
	uint8_t *first = a.mem;
	buf_free(&a);
	CHECK_EQ_INT(buf_alloc(&c), 0);
	CHECK(c.mem == first); /* reused, not malloc'd again */
	buf_free(&c);
	buf_pool_drain();
}

int main(void)
{
	CHECK(sizeof(struct buf) <= 16);
	TEST_RUN(test_lifecycle);
	TEST_RUN(test_fill_and_compact);
	TEST_RUN(test_pool);
	return test_summary();
}
