/* pem_test.c — proto/pem.c and proto/der.c (the pure helpers tls/ builds
 * on): known encodings, strictness, every truncated prefix of a PEM file
 * in an exact-size heap copy (ASan catches over-reads), encode/decode
 * round trips for every length up to 300. */
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/der.h"
#include "proto/pem.h"
#include "test/check.h"

static bool der_is(struct der_w *w, const char *hex)
{
	size_t n = strlen(hex) / 2;
	const uint8_t *d = der_w_data(w);
	if (!d || der_w_len(w) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		if (d[i] != v)
			return false;
	}
	return true;
}

static void test_der_uint(void)
{
	uint8_t buf[64];
	struct der_w w;
	der_w_init(&w, buf, sizeof(buf));
	der_w_uint(&w, (const uint8_t *)"\x00", 1);
	CHECK(der_is(&w, "020100"));
	der_w_init(&w, buf, sizeof(buf));
	der_w_uint(&w, (const uint8_t *)"\x7f", 1);
	CHECK(der_is(&w, "02017f"));
	der_w_init(&w, buf, sizeof(buf));
	der_w_uint(&w, (const uint8_t *)"\x80", 1);
	CHECK(der_is(&w, "02020080"));
	der_w_init(&w, buf, sizeof(buf));
	der_w_uint(&w, (const uint8_t *)"\x00\x00\x01\x02", 4);
	CHECK(der_is(&w, "02020102"));
	der_w_init(&w, buf, sizeof(buf));
	der_w_uint(&w, NULL, 0);
	CHECK(der_is(&w, "020100"));
}

static void test_der_lengths(void)
{
	static uint8_t buf[400], zero[300];
	struct der_w w;
	size_t lens[] = { 0, 1, 127, 128, 255, 256, 300 };
	const char *hdr[] = { "0400", "0401", "047f", "048180", "0481ff", "04820100", "0482012c" };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		der_w_init(&w, buf, sizeof(buf));
		der_w_prim(&w, DER_OCTET_STRING, zero, lens[i]);
		size_t hl = strlen(hdr[i]) / 2;
		CHECK_EQ_INT(der_w_len(&w), hl + lens[i]);
		char got[16];
		for (size_t k = 0; k < hl; k++)
			sprintf(got + 2 * k, "%02x", der_w_data(&w)[k]);
		CHECK(strcmp(got, hdr[i]) == 0);
		struct der_tlv t;
		CHECK_EQ_INT(der_read(der_w_data(&w), der_w_len(&w), &t), hl + lens[i]);
		CHECK_EQ_INT(t.len, lens[i]);
	}
	/* Nested wrap and overflow. */
	der_w_init(&w, buf, sizeof(buf));
	der_w_bool(&w, true);
	der_w_wrap(&w, DER_SEQUENCE, 0);
	CHECK(der_is(&w, "30030101ff"));
	der_w_init(&w, buf, 4);
	der_w_bool(&w, true);
	der_w_wrap(&w, DER_SEQUENCE, 0);
	CHECK(der_w_data(&w) == NULL);
}

static bool time_is(int64_t t, const char *want_hex)
{
	uint8_t buf[32];
	struct der_w w;
	der_w_init(&w, buf, sizeof(buf));
	der_w_time(&w, t);
	return der_is(&w, want_hex);
}

/* Hex of tag, length, then the ASCII time. */
static const char *time_hex(unsigned tag, const char *s)
{
	static char out[80];
	sprintf(out, "%02x%02zx", tag, strlen(s));
	for (size_t i = 0; s[i]; i++)
		sprintf(out + 4 + 2 * i, "%02x", (unsigned char)s[i]);
	return out;
}

static void test_der_time(void)
{
	CHECK(time_is(0, time_hex(DER_UTC_TIME, "700101000000Z")));
	CHECK(time_is(1709210096, time_hex(DER_UTC_TIME, "240229123456Z")));
	CHECK(time_is(2524607999LL, time_hex(DER_UTC_TIME, "491231235959Z")));
	CHECK(time_is(2524608000LL, time_hex(DER_GENERALIZED_TIME, "20500101000000Z")));
	CHECK(time_is(951782400LL, time_hex(DER_UTC_TIME, "000229000000Z")));
	CHECK(time_is(INT64_MAX, time_hex(DER_GENERALIZED_TIME, "99991231235959Z")));
	CHECK(time_is(-5, time_hex(DER_UTC_TIME, "700101000000Z")));
}

static void test_der_read_strict(void)
{
	struct der_tlv t;
	const uint8_t ok[] = { 0x04, 0x02, 0xaa, 0xbb };
	CHECK_EQ_INT(der_read(ok, sizeof(ok), &t), 4);
	CHECK_EQ_INT(der_read(ok, 3, &t), 0);                  /* truncated */
	const uint8_t nonmin[] = { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 };
	CHECK_EQ_INT(der_read(nonmin, sizeof(nonmin), &t), 0); /* short form needed */
	const uint8_t indef[] = { 0x30, 0x80, 0, 0 };
	CHECK_EQ_INT(der_read(indef, sizeof(indef), &t), 0);
	const uint8_t lead0[] = { 0x04, 0x82, 0x00, 0x81 };
	CHECK_EQ_INT(der_read(lead0, sizeof(lead0), &t), 0);
	const uint8_t bigtag[] = { 0x1f, 0x81, 0x01, 0x00 };
	CHECK_EQ_INT(der_read(bigtag, sizeof(bigtag), &t), 0);
	const uint8_t huge[] = { 0x04, 0x84, 0x01, 0, 0, 0 };
	CHECK_EQ_INT(der_read(huge, sizeof(huge), &t), 0);
	CHECK_EQ_INT(der_read(ok, 0, &t), 0);
	/* Not a certificate: the extension finder says malformed. */
	CHECK_EQ_INT(der_cert_ext(ok, sizeof(ok), ok, 1, &t), -1);
	CHECK_EQ_INT(der_cert_spki(ok, sizeof(ok), &t), -1);
}

static const char sample[] =
	"Explanatory text before the block.\r\n"
	"-----BEGIN CERTIFICATE-----\r\n"
	"aGVsbG8g\r\n"
	"  d29ybGQ=  \r\n"
	"-----END CERTIFICATE-----\r\n"
	"between\n"
	"-----BEGIN EC PRIVATE KEY-----\n"
	"Proc-Type: 4,ENCRYPTED\n"
	"DEK-Info: AES-128-CBC,00\n"
	"\n"
	"AAEC\n"
	"-----END EC PRIVATE KEY-----\n";

static void test_pem_blocks(void)
{
	uint8_t out[64];
	struct pem_block b;
	size_t pos = 0, n = strlen(sample);
	CHECK(pem_detect(sample, n));
	CHECK_EQ_INT(pem_next(sample, n, &pos, &b, out, sizeof(out)), PEM_OK);
	CHECK(strcmp(b.label, "CERTIFICATE") == 0);
	CHECK_EQ_INT(b.len, 11);
	CHECK(memcmp(out, "hello world", 11) == 0);
	CHECK(!b.has_headers);
	CHECK_EQ_INT(pem_next(sample, n, &pos, &b, out, sizeof(out)), PEM_OK);
	CHECK(strcmp(b.label, "EC PRIVATE KEY") == 0);
	CHECK(b.has_headers);
	CHECK_EQ_INT(b.len, 3);
	CHECK_EQ_INT(pem_next(sample, n, &pos, &b, out, sizeof(out)), PEM_NONE);
	CHECK_EQ_INT(pem_line(sample, n, 36), 2);
	/* Too little output room is its own error. */
	pos = 0;
	CHECK_EQ_INT(pem_next(sample, n, &pos, &b, out, 4), PEM_ERR_SPACE);
	CHECK(!pem_detect("just text", 9));
}

struct bad_case {
	const char *text;
	enum pem_rc rc;
	size_t line;
};

static void test_pem_errors(void)
{
	static const struct bad_case cases[] = {
		{ "-----BEGIN X-----\nAAAA\n", PEM_ERR_NO_END, 1 },
		{ "-----BEGIN X-----\nAAAA\n-----END Y-----\n", PEM_ERR_NO_END, 3 },
		{ "-----BEGIN X-----\nAA*A\n-----END X-----\n", PEM_ERR_BASE64, 2 },
		{ "-----BEGIN X-----\nA\n-----END X-----\n", PEM_ERR_BASE64, 3 },
		{ "-----BEGIN X-----\nAA==AA\n-----END X-----\n", PEM_ERR_BASE64, 2 },
		{ "x\n-----BEGIN X\nAAAA\n", PEM_ERR_LABEL, 2 },
		{ "-----BEGIN X----- junk\nAAAA\n-----END X-----\n", PEM_ERR_LABEL, 1 },
		{ "-----BEGIN "
		  "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
		  "-----\n",
		  PEM_ERR_LABEL, 1 },
	};
	uint8_t out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pem_block b;
		size_t pos = 0, n = strlen(cases[i].text);
		enum pem_rc rc = pem_next(cases[i].text, n, &pos, &b, out, sizeof(out));
		CHECK_EQ_INT(rc, cases[i].rc);
		CHECK_EQ_INT(pem_line(cases[i].text, n, b.err), cases[i].line);
		CHECK_EQ_INT(pos, 0);
		CHECK(strlen(pem_strerror(rc)) > 0);
	}
	/* Missing padding is tolerated (RFC 7468 §3 lax parsers). */
	const char *nopad = "-----BEGIN X-----\naGk\n-----END X-----";
	struct pem_block b;
	size_t pos = 0;
	CHECK_EQ_INT(pem_next(nopad, strlen(nopad), &pos, &b, out, sizeof(out)), PEM_OK);
	CHECK_EQ_INT(b.len, 2);
	CHECK(memcmp(out, "hi", 2) == 0);
}

/* Every prefix, in an exact-size heap copy: never reads past the end. */
static void test_pem_prefixes(void)
{
	size_t n = strlen(sample);
	uint8_t out[64];
	int ok = 0;
	for (size_t k = 0; k <= n; k++) {
		char *copy = malloc(k ? k : 1);
		memcpy(copy, sample, k);
		size_t pos = 0;
		struct pem_block b;
		enum pem_rc rc;
		int blocks = 0;
		while ((rc = pem_next(copy, k, &pos, &b, out, sizeof(out))) == PEM_OK)
			blocks++;
		ok += blocks <= 2;
		free(copy);
	}
	CHECK_EQ_INT(ok, n + 1);
}

static void test_pem_roundtrip(void)
{
	uint8_t der[300], back[300];
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)(i * 7 + 3);
	int good = 0;
	for (size_t n = 0; n <= sizeof(der); n++) {
		char txt[PEM_ENCODED_LEN(11, 300)];
		size_t len = pem_encode("CERTIFICATE", der, n, txt, PEM_ENCODED_LEN(11, n));
		struct pem_block b;
		size_t pos = 0;
		bool lines_ok = true;
		for (char *l = txt; *l; l = strchr(l, '\n') + 1)
			lines_ok = lines_ok && (size_t)(strchr(l, '\n') - l) <= 64;
		if (len && len == strlen(txt) && lines_ok &&
		    pem_next(txt, len, &pos, &b, back, sizeof(back)) == PEM_OK && b.len == n &&
		    memcmp(back, der, n) == 0 && pos == len)
			good++;
	}
	CHECK_EQ_INT(good, sizeof(der) + 1);
	char small[8];
	CHECK_EQ_INT(pem_encode("X", der, 10, small, sizeof(small)), 0);
}

int main(void)
{
	TEST_RUN(test_der_uint);
	TEST_RUN(test_der_lengths);
	TEST_RUN(test_der_time);
	TEST_RUN(test_der_read_strict);
	TEST_RUN(test_pem_blocks);
	TEST_RUN(test_pem_errors);
	TEST_RUN(test_pem_prefixes);
	TEST_RUN(test_pem_roundtrip);
	return test_summary();
}
