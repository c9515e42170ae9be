/* ctl_test.c — unit test of proto/ctl.c and json_array_next: each command
 * of mos-tls-tunnel's schema read (with our optional key), every refusal
 * naming the user at fault, the answer's JSON, and an array walked element
 * by element whatever its spacing and nesting. */
#include "proto/ctl.h"

#include "test/check.h"

#include <stdlib.h>

static const char KEY[] = "tJq6X8MLW94e66_-k3LrLxHYbcOGkNK6UxpdMsVCNM0";

static enum ctl_rc parse(const char *body, struct ctl_cmd *c, size_t *bad)
{
	return ctl_parse(body, strlen(body), c, bad);
}

static void test_array_next(void)
{
	static const char text[] = "{\"a\": [ 1 ,\"x,]\" , {\"b\":[2,[3]]},[],null\n]}";
	enum json_type top;
	struct json_value arr, el;
	CHECK_EQ_INT(json_get(text, sizeof(text) - 1, "a", &top, &arr), JSON_OK);
	static const char *const want[] = {"1", "\"x,]\"", "{\"b\":[2,[3]]}", "[]", "null"};
	static const enum json_type types[] = {JSON_NUMBER, JSON_STRING, JSON_OBJECT, JSON_ARRAY,
	                                       JSON_NULL};
	size_t at = 0, i = 0;
	while (json_array_next(&arr, &at, &el) == JSON_OK && el.type != JSON_ABSENT && i < 5) {
		CHECK_EQ_INT(el.raw_len, strlen(want[i]));
		CHECK(memcmp(el.raw, want[i], el.raw_len) == 0);
		CHECK_EQ_INT(el.type, types[i]);
		i++;
	}
	CHECK_EQ_INT(i, 5);
	CHECK_EQ_INT(el.type, JSON_ABSENT);
	struct json_value empty = {.type = JSON_ARRAY, .raw = "[ ]", .raw_len = 3};
	at = 0;
	CHECK_EQ_INT(json_array_next(&empty, &at, &el), JSON_OK);
	CHECK_EQ_INT(el.type, JSON_ABSENT);
	struct json_value notarr = {.type = JSON_OBJECT, .raw = "{}", .raw_len = 2};
	at = 0;
	CHECK_EQ_INT(json_array_next(&notarr, &at, &el), JSON_ERR_SYNTAX);
}

static void test_add(void)
{
	char body[512];
	snprintf(body, sizeof(body),
	         "{\"opt\": 1, \"args_bunch\": [{\"path\": \"/p_1\", \"dst\": \"127.0.0.1:10001\"},"
	         " {\"dst\": \"[::1]:80\", \"path\": \"/a/b-c.d~e\", \"key\": \"%s\"}], \"x\": 0}",
	         KEY);
	struct ctl_cmd c;
	size_t bad = 9;
	CHECK_EQ_INT(parse(body, &c, &bad), CTL_OK);
	CHECK_EQ_INT(c.op, CTL_OP_ADD);
	CHECK_EQ_INT(c.nusers, 2);
	size_t at = 0;
	struct ctl_user u;
	CHECK_EQ_INT(ctl_next_user(&c, &at, &u), 1);
	CHECK(strcmp(u.path, "/p_1") == 0 && strcmp(u.dst, "127.0.0.1:10001") == 0 && !u.has_key);
	CHECK_EQ_INT(ctl_next_user(&c, &at, &u), 1);
	CHECK(strcmp(u.path, "/a/b-c.d~e") == 0 && strcmp(u.dst, "[::1]:80") == 0 && u.has_key);
	CHECK_EQ_INT(ctl_next_user(&c, &at, &u), 0);
}

static void test_other_ops(void)
{
	struct ctl_cmd c;
	CHECK_EQ_INT(parse("{\"opt\":2,\"args_bunch\":[{\"path\":\"/p\"}]}", &c, NULL), CTL_OK);
	CHECK_EQ_INT(c.op, CTL_OP_DELETE);
	CHECK_EQ_INT(c.nusers, 1);
	CHECK_EQ_INT(parse("{\"opt\":3}", &c, NULL), CTL_OK);
	CHECK_EQ_INT(c.op, CTL_OP_RESET);
	CHECK_EQ_INT(parse("{\"opt\":9,\"args_bunch\":7}", &c, NULL), CTL_OK);
	CHECK_EQ_INT(c.op, CTL_OP_PING);
	CHECK_EQ_INT(parse("{\"opt\":2,\"args_bunch\":[]}", &c, NULL), CTL_OK);
	CHECK_EQ_INT(c.nusers, 0);
}

static void test_refusals(void)
{
	static const struct {
		const char *body;
		enum ctl_rc rc;
		size_t bad;
	} cases[] = {
		{"", CTL_ERR_JSON, 0},
		{"{\"opt\":1,", CTL_ERR_JSON, 0},
		{"[1]", CTL_ERR_JSON, 0},
		{"{}", CTL_ERR_OPT, 0},
		{"{\"opt\":\"1\"}", CTL_ERR_OPT, 0},
		{"{\"opt\":4}", CTL_ERR_OPT, 0},
		{"{\"opt\":10}", CTL_ERR_OPT, 0},
		{"{\"opt\":1.0}", CTL_ERR_OPT, 0},
		{"{\"opt\":1}", CTL_ERR_ARGS, 0},
		{"{\"opt\":1,\"args_bunch\":{}}", CTL_ERR_ARGS, 0},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":\"/a\"},3]}", CTL_ERR_ARGS, 1},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":\"a\"}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":\"/a b\"}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":\"/a?x\"}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":\"/a\\u0000\"}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":2,\"args_bunch\":[{\"path\":5}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":2,\"args_bunch\":[{}]}", CTL_ERR_PATH, 0},
		{"{\"opt\":1,\"args_bunch\":[{\"path\":\"/a\"}]}", CTL_ERR_DST, 0},
		{"{\"opt\":1,\"args_bunch\":[{\"path\":\"/a\",\"dst\":\"host\"}]}", CTL_ERR_DST, 0},
		{"{\"opt\":1,\"args_bunch\":[{\"path\":\"/a\",\"dst\":\"host:0\"}]}", CTL_ERR_DST, 0},
		{"{\"opt\":1,\"args_bunch\":[{\"path\":\"/a\",\"dst\":\"h:1\"},"
		 "{\"path\":\"/b\",\"dst\":\"h:1\",\"key\":\"short\"}]}", CTL_ERR_KEY, 1},
		{"{\"opt\":1,\"args_bunch\":[{\"path\":\"/a\",\"dst\":\"h:1\",\"key\":5}]}", CTL_ERR_KEY, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_cmd c;
		size_t bad = 99;
		size_t n = strlen(cases[i].body);
		char *exact = malloc(n ? n : 1); /* heap: ASan sees over-reads */
		memcpy(exact, cases[i].body, n);
		CHECK_EQ_INT(ctl_parse(exact, n, &c, &bad), cases[i].rc);
		CHECK_EQ_INT(bad, cases[i].bad);
		CHECK(strcmp(ctl_strerror(cases[i].rc), "unknown error") != 0);
		free(exact);
	}
	char longpath[CTL_PATH_MAX + 64];
	snprintf(longpath, sizeof(longpath), "{\"opt\":2,\"args_bunch\":[{\"path\":\"/%0*d\"}]}",
	         CTL_PATH_MAX, 0);
	struct ctl_cmd c;
	CHECK_EQ_INT(parse(longpath, &c, NULL), CTL_ERR_PATH);
}

static void test_answer(void)
{
	char out[256];
	size_t n = ctl_answer(out, sizeof(out), true, "ignored", 2102);
	static const char ok[] = "{\"res\":1,\"err_string\":\"\",\"current_users\":2102}";
	CHECK_EQ_INT(n, sizeof(ok) - 1);
	CHECK_MEM(out, ok, n);
	n = ctl_answer(out, sizeof(out), false, "bad \"opt\"\n", 0);
	static const char err[] = "{\"res\":2,\"err_string\":\"bad \\\"opt\\\"\",\"current_users\":0}";
	CHECK_EQ_INT(n, sizeof(err) - 1);
	CHECK_MEM(out, err, n);
	CHECK_EQ_INT(ctl_answer(out, 10, true, "", 0), 0);
}

int main(void)
{
	TEST_RUN(test_array_next);
	TEST_RUN(test_add);
	TEST_RUN(test_other_ops);
	TEST_RUN(test_refusals);
	TEST_RUN(test_answer);
	return test_summary();
}
