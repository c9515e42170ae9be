/* base64_test.c — RFC 4648 §10 vectors both ways, url alphabet, strictness. */
#include "proto/base64.h"

#include <string.h>

#include "test/check.h"

static void vector(const char *plain, const char *enc)
{
	char out[64];
	uint8_t back[64];
	size_t n = strlen(plain);
	CHECK_EQ_INT(base64_encode((const uint8_t *)plain, n, out), strlen(enc));
	CHECK(strcmp(out, enc) == 0);
	CHECK_EQ_INT(base64_decode(enc, strlen(enc), back, sizeof(back)), n);
	CHECK_MEM(back, plain, n);
}

static void test_rfc4648(void)
{
	vector("", "");
	vector("f", "Zg==");
	vector("fo", "Zm8=");
	vector("foo", "Zm9v");
	vector("foob", "Zm9vYg==");
	vector("fooba", "Zm9vYmE=");
	vector("foobar", "Zm9vYmFy");
}

static void test_url(void)
{
	const uint8_t in[] = {0xfb, 0xff, 0xfe, 0x00};
	char out[16];
	uint8_t back[8];
	CHECK_EQ_INT(base64url_encode(in, 4, out), 6);
	CHECK(strcmp(out, "-__-AA") == 0);
	CHECK_EQ_INT(base64url_decode(out, 6, back, sizeof(back)), 4);
	CHECK_MEM(back, in, 4);
	for (size_t n = 0; n < 4; n++) {
		size_t len = base64url_encode(in, n, out);
		CHECK_EQ_INT(len, BASE64URL_LEN(n));
		CHECK_EQ_INT(base64url_decode(out, len, back, sizeof(back)), n);
	}
}

static void test_strict(void)
{
	uint8_t b[16];
	CHECK_EQ_INT(base64_decode("Zg=", 3, b, sizeof(b)), -1);
	CHECK_EQ_INT(base64_decode("Zh==", 4, b, sizeof(b)), -1); /* trailing bits */
	CHECK_EQ_INT(base64_decode("Zm9v\n", 5, b, sizeof(b)), -1);
	CHECK_EQ_INT(base64url_decode("Z", 1, b, sizeof(b)), -1);
	CHECK_EQ_INT(base64url_decode("Zm+v", 4, b, sizeof(b)), -1);
	CHECK_EQ_INT(base64_decode("Zm9vYmFy", 8, b, 5), -1); /* no room */
	CHECK_EQ_INT(base64_decode("Zm9vYmE=", 8, b, 5), 5);
}

int main(void)
{
	TEST_RUN(test_rfc4648);
	TEST_RUN(test_url);
	TEST_RUN(test_strict);
	return test_summary();
}
