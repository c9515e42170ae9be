/* keys_test.c — tls/ certificate and key handling: files made by the
 * openssl CLI load (EC P-256/P-384, RSA, PKCS#8, traditional, DER,
 * combined), every broken file gets a message naming the file and the
 * fault, the generated self-signed certificate parses with `openssl x509`
 * (SANs, extensions, fingerprint), `wsferry cert` files, pins, CA bundles,
 * SPKI encoding, and reload keeping the old cfg alive. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/der.h"
#include "test/check.h"
#include "test/tls/tls_helpers.h"
#include "tls/tls_int.h"

static char err[TLS_ERRLEN];

static int gen(const char *cmd)
{
	int rc = th_sh("%s", cmd);
	if (rc != 0)
		fprintf(stderr, "openssl setup failed (%d): %s\n", rc, cmd);
	return rc;
}

static void make_files(void)
{
	static const char *const cmds[] = {
		"openssl ecparam -name prime256v1 -genkey -noout -out ec.key",
		"openssl req -x509 -new -key ec.key -out ec.crt -subj /CN=localhost -days 30 "
		"-addext subjectAltName=DNS:localhost,IP:127.0.0.1",
		"openssl ecparam -name prime256v1 -genkey -noout -out ec2.key",
		"openssl req -x509 -new -key ec2.key -out ec2.crt -subj /CN=other -days 30",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key",
		"openssl req -x509 -new -key p384.key -out p384.crt -subj /CN=localhost -days 30",
		"openssl genrsa -out rsa.key 2048",
		"openssl rsa -in rsa.key -traditional -out rsa1.key",
		"openssl genrsa -out rsa2.key 2048",
		"openssl req -x509 -new -key rsa.key -out rsa.crt -subj /CN=localhost -days 30",
		"openssl pkey -in ec.key -aes256 -passout pass:x -out enc.key",
		"openssl ec -in ec.key -aes256 -passout pass:x -out legacy.key",
		"openssl genpkey -algorithm ed25519 -out ed.key",
		"openssl req -x509 -new -key ed.key -out ed.crt -subj /CN=x -days 30",
		"openssl ecparam -name secp256k1 -genkey -noout -out k1.key",
		"openssl x509 -in ec.crt -outform der -out ec.der",
		"openssl pkey -in ec.key -outform der -out eckey.der",
		"cat ec.crt ec.key > combined.pem",
		"cat rsa.key > rsa8.key",
		": > empty.pem",
		"echo 'hello, I am not a certificate' > garbage.pem",
		"mkdir adir",
		"printf -- '-----BEGIN CERTIFICATE-----\\nMII*\\n-----END CERTIFICATE-----\\n' "
		"> badb64.pem",
		"printf -- '-----BEGIN CERTIFICATE-----\\nMIIB\\n' > noend.pem",
		"printf -- '-----BEGIN CERTIFICATE-----\\naGVsbG8gd29ybGQ=\\n-----END "
		"CERTIFICATE-----\\n' > baddir.pem",
		"printf -- '-----BEGIN PRIVATE KEY-----\\naGVsbG8gd29ybGQ=\\n-----END PRIVATE "
		"KEY-----\\n' > badkey.pem",
		"printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE "
		"KEY-----\\n' > ssh.key",
		"openssl pkey -in ec.key -pubout -out pub.pem",
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		gen(cmds[i]);
}

static int load(const char *cert, const char *key, struct tls_server_cfg **out)
{
	char c[256], k[256];
	snprintf(c, sizeof(c), "%s", th_path(cert));
	snprintf(k, sizeof(k), "%s", th_path(key));
	err[0] = '\0';
	return tls_server_cfg_load(out, c, k, err, sizeof(err));
}

static void test_load_good(void)
{
	static const char *const pairs[][2] = {
		{ "ec.crt", "ec.key" },     { "p384.crt", "p384.key" },   { "rsa.crt", "rsa.key" },
		{ "rsa.crt", "rsa1.key" },  { "ec.der", "eckey.der" },    { "combined.pem", "combined.pem" },
		{ "ec.crt", "combined.pem" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct tls_server_cfg *c = NULL;
		int rc = load(pairs[i][0], pairs[i][1], &c);
		if (rc != 0)
			fprintf(stderr, "%s + %s: %s\n", pairs[i][0], pairs[i][1], err);
		CHECK_EQ_INT(rc, 0);
		tls_server_cfg_unref(c);
	}
}

struct bad {
	const char *cert, *key;
	const char *blame; /* file the message must start with */
	const char *says;
};

static bool unreadable_ok(void)
{
	struct tls_server_cfg *c = NULL;
	int rc = load("ec.crt", "ec.key", &c);
	bool ok = rc == -EACCES && strstr(err, "ec.key: unreadable: Permission denied") != NULL;
	if (!ok)
		fprintf(stderr, "unreadable: rc %d: %s\n", rc, err);
	tls_server_cfg_unref(c);
	return ok;
}

static void test_load_errors(void)
{
	static const struct bad cases[] = {
		{ "nope.crt", "ec.key", "nope.crt", ": no such file" },
		{ "ec.crt", "nope.key", "nope.key", ": no such file" },
		{ "adir", "ec.key", "adir", ": is a directory" },
		{ "empty.pem", "ec.key", "empty.pem", ": file is empty" },
		{ "garbage.pem", "ec.key", "garbage.pem", ": no certificate found (is this a PEM file?)" },
		{ "ec.key", "ec.key", "ec.key", ": no certificate found (it holds a private key" },
		{ "ec.crt", "ec.crt", "ec.crt", ": no private key found (it holds a certificate" },
		{ "ec.crt", "pub.pem", "pub.pem", "it holds a public key" },
		{ "ec.crt", "garbage.pem", "garbage.pem", ": no private key found (is this a PEM file?)" },
		{ "ec.crt", "ec2.key", "ec2.key", ": the private key does not match the certificate in " },
		{ "ec.crt", "rsa.key", "rsa.key", ": the private key is RSA but the certificate in " },
		{ "rsa.crt", "rsa2.key", "rsa2.key", ": the private key does not match the certificate" },
		{ "ec.crt", "enc.key", "enc.key", ": the private key is encrypted" },
		{ "ec.crt", "legacy.key", "legacy.key", ": the private key is encrypted" },
		{ "badb64.pem", "ec.key", "badb64.pem", ": line 2: bad base64 in CERTIFICATE" },
		{ "noend.pem", "ec.key", "noend.pem", ": line 1: BEGIN without a matching END" },
		{ "baddir.pem", "ec.key", "baddir.pem", ": certificate 1: malformed certificate" },
		{ "ec.crt", "badkey.pem", "badkey.pem", ": malformed or unsupported private key" },
		{ "ec.crt", "ed.key", "ed.key", ": malformed or unsupported private key" },
		{ "ed.crt", "ed.key", "ed.crt", ": certificate 1: " },
		{ "ec.crt", "k1.key", "k1.key", "unsupported" },
		{ "ec.crt", "ssh.key", "ssh.key", ": OpenSSH key format is not supported" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_server_cfg *c = NULL;
		int rc = load(cases[i].cert, cases[i].key, &c);
		const char *blame = th_path(cases[i].blame);
		bool ok = rc < 0 && c == NULL && strncmp(err, blame, strlen(blame)) == 0 &&
		          strstr(err, cases[i].says) != NULL;
		if (!ok)
			fprintf(stderr, "case %zu (%s, %s): rc %d: %s\n", i, cases[i].cert, cases[i].key,
			        rc, err);
		CHECK(ok);
	}
	/* Unreadable key; as root, checked from a child that became nobody. */
	chmod(th_path("ec.key"), 0);
	chmod(th_tmp(), 0711);
	if (geteuid() != 0) {
		CHECK(unreadable_ok());
	} else {
		pid_t pid = fork();
		if (pid == 0)
			_exit(setgid(65534) == 0 && setuid(65534) == 0 && unreadable_ok() ? 0 : 1);
		int st = -1;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	chmod(th_tmp(), 0700);
	chmod(th_path("ec.key"), 0600);
}

/* Parses openssl's "sha256 Fingerprint=AA:BB..." line. */
static bool openssl_fp(const char *file, uint8_t fp[32])
{
	char out[512];
	if (th_sh_out(out, sizeof(out), "openssl x509 -in %s -noout -fingerprint -sha256", file))
		return false;
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	return tls_pin_parse(out, fp) == 0;
}

static void test_selfsigned_openssl(void)
{
	const char *names[] = { "example.test", "10.1.2.3", "::1", "[fe80::1]", "*.wild.test" };
	struct tls_server_cfg *c = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&c, names, 5, 90, err, sizeof(err)), 0);
	if (!c)
		return;
	CHECK_EQ_INT(tls_server_cfg_write_pem(c, th_path("ss.crt"), th_path("ss.key"), err,
	                                      sizeof(err)),
	             0);
	struct stat st;
	CHECK(stat(th_path("ss.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(th_path("ss.crt"), &st) == 0 && (st.st_mode & 0777) == 0644);
	static char text[16384];
	CHECK_EQ_INT(th_sh_out(text, sizeof(text), "openssl x509 -in ss.crt -text -noout"), 0);
	static const char *const want[] = {
		"Version: 3 (0x2)",
		"Signature Algorithm: ecdsa-with-SHA256",
		"Subject: CN = example.test",
		"Issuer: CN = example.test",
		"NIST CURVE: P-256",
		"DNS:example.test",
		"IP Address:10.1.2.3",
		"IP Address:0:0:0:0:0:0:0:1",
		"IP Address:FE80:0:0:0:0:0:0:1",
		"DNS:*.wild.test",
		"X509v3 Basic Constraints: critical",
		"CA:FALSE",
		"X509v3 Key Usage: critical",
		"Digital Signature",
		"TLS Web Server Authentication",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool has = strstr(text, want[i]) != NULL;
		if (!has)
			fprintf(stderr, "openssl x509 -text lacks \"%s\"\n%s\n", want[i], text);
		CHECK(has);
	}
	/* Valid now, expires in 90 days (not 89, not 91). */
	CHECK_EQ_INT(th_sh("openssl x509 -in ss.crt -noout -checkend %d", 89 * 86400), 0);
	CHECK(th_sh("openssl x509 -in ss.crt -noout -checkend %d", 91 * 86400) != 0);
	CHECK_EQ_INT(th_sh("openssl pkey -in ss.key -noout"), 0);
	CHECK_EQ_INT(th_sh("openssl verify -CAfile ss.crt ss.crt"), 0);
	uint8_t fp[32], ours[32];
	char hex[TLS_FP_HEX_LEN + 1];
	tls_server_cfg_fingerprint(c, hex);
	CHECK_EQ_INT(strlen(hex), 64);
	CHECK(openssl_fp("ss.crt", fp));
	CHECK_EQ_INT(tls_pin_parse(hex, ours), 0);
	CHECK_MEM(fp, ours, 32);
	/* The written files load back to the same certificate. */
	struct tls_server_cfg *back = NULL;
	CHECK_EQ_INT(load("ss.crt", "ss.key", &back), 0);
	if (back) {
		char hex2[TLS_FP_HEX_LEN + 1];
		tls_server_cfg_fingerprint(back, hex2);
		CHECK(strcmp(hex, hex2) == 0);
		tls_server_cfg_unref(back);
	}
	/* A key file that existed world-readable ends 0600. */
	th_sh("touch ss2.key && chmod 644 ss2.key");
	CHECK_EQ_INT(tls_server_cfg_write_pem(c, th_path("ss2.crt"), th_path("ss2.key"), err,
	                                      sizeof(err)),
	             0);
	CHECK(stat(th_path("ss2.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(tls_server_cfg_write_pem(c, "/nonexistent/dir/x.crt", "/nonexistent/dir/x.key", err,
	                               sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/dir/x.key: cannot write:") != NULL);
	tls_server_cfg_unref(c);
}

static void test_selfsigned_defaults(void)
{
	struct tls_server_cfg *c = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&c, NULL, 0, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(tls_server_cfg_write_pem(c, th_path("d.crt"), th_path("d.key"), err,
	                                      sizeof(err)),
	             0);
	static char text[16384];
	th_sh_out(text, sizeof(text), "openssl x509 -in d.crt -text -noout");
	CHECK(strstr(text, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"));
	tls_server_cfg_unref(c);
	const char *bad[] = { "ok.test", "bad name!" };
	c = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&c, bad, 2, 1, err, sizeof(err)), -EINVAL);
	CHECK(c == NULL);
	CHECK(strstr(err, "bad name!: not a valid host name or IP address") != NULL);
}

/* Many long names: the builder sizes its buffer from them. */
static void test_selfsigned_many(void)
{
	static char names[40][210];
	const char *ptrs[40];
	for (int i = 0; i < 40; i++) {
		memset(names[i], 'a' + i % 26, 200);
		snprintf(names[i] + 200, 10, "%02u.test", (unsigned)i % 100u);
		ptrs[i] = names[i];
	}
	struct tls_server_cfg *c = NULL;
	CHECK_EQ_INT(tls_server_cfg_selfsigned(&c, ptrs, 40, 1, err, sizeof(err)), 0);
	if (!c)
		return;
	CHECK_EQ_INT(tls_server_cfg_write_pem(c, th_path("m.crt"), th_path("m.key"), err,
	                                      sizeof(err)),
	             0);
	char out[64];
	CHECK_EQ_INT(th_sh_out(out, sizeof(out),
	                       "openssl x509 -in m.crt -noout -ext subjectAltName | tr ',' '\\n' | "
	                       "grep -c DNS:"),
	             0);
	CHECK_EQ_INT(atoi(out), 40);
	/* No name fits a CN (64 max): CN falls back, SANs carry the names. */
	th_sh_out(out, sizeof(out), "openssl x509 -in m.crt -noout -subject");
	CHECK(strstr(out, "CN = localhost") != NULL);
	tls_server_cfg_unref(c);
}

/* Our SPKI encoder agrees byte for byte with the certificate's own SPKI
 * (openssl-made RSA and EC certificates, and ours). */
static void test_spki(void)
{
	const char *files[] = { "ec.crt", "rsa.crt", "p384.crt", "ss.crt" };
	for (size_t i = 0; i < 4; i++) {
		struct tls_creds cr = { 0 };
		size_t n;
		char *pem = th_read_file(th_path(files[i]), &n);
		CHECK(pem && tls_creds_chain(&cr, pem, n, files[i], err, sizeof(err)) == 0);
		if (!cr.chain) {
			free(pem);
			continue;
		}
		br_x509_decoder_context dec;
		br_x509_decoder_init(&dec, NULL, NULL);
		br_x509_decoder_push(&dec, cr.chain[0].data, cr.chain[0].data_len);
		uint8_t spki[600];
		size_t len = tls_spki_der(br_x509_decoder_get_pkey(&dec), spki, sizeof(spki));
		struct der_tlv t;
		CHECK_EQ_INT(der_cert_spki(cr.chain[0].data, cr.chain[0].data_len, &t), 1);
		CHECK(len > 0 && len == t.len && memcmp(spki, t.val, len) == 0);
		tls_creds_free(&cr);
		free(pem);
	}
}

static void test_pins(void)
{
	uint8_t p[32], want[32];
	for (int i = 0; i < 32; i++)
		want[i] = (uint8_t)(i * 0x11 + 1);
	char hex[65];
	tls_hex(want, 32, hex);
	CHECK_EQ_INT(tls_pin_parse(hex, p), 0);
	CHECK_MEM(p, want, 32);
	char colons[128] = "SHA256 Fingerprint=", *o = colons + strlen(colons);
	for (int i = 0; i < 32; i++)
		o += sprintf(o, i ? ":%02X" : "%02X", want[i]);
	CHECK_EQ_INT(tls_pin_parse(colons, p), 0);
	CHECK_MEM(p, want, 32);
	char pre[80];
	snprintf(pre, sizeof(pre), " sha256:%s\n", hex);
	CHECK_EQ_INT(tls_pin_parse(pre, p), 0);
	hex[63] = '\0';
	CHECK_EQ_INT(tls_pin_parse(hex, p), -EINVAL);
	hex[63] = 'g';
	CHECK_EQ_INT(tls_pin_parse(hex, p), -EINVAL);
	CHECK_EQ_INT(tls_pin_parse("", p), -EINVAL);
	char longer[80];
	tls_hex(want, 32, longer);
	strcat(longer, "00");
	CHECK_EQ_INT(tls_pin_parse(longer, p), -EINVAL);
	struct tls_client_cfg c;
	CHECK_EQ_INT(tls_client_cfg_init_pin(&c, "abc", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--pin abc: expected a SHA-256 fingerprint") != NULL);
	tls_client_cfg_free(&c);
}

static void test_ca_bundles(void)
{
	struct tls_client_cfg c;
	if (access(TLS_SYSTEM_CA, R_OK) == 0) {
		uint64_t t0 = th_now_ms();
		CHECK_EQ_INT(tls_client_cfg_init_ca(&c, NULL, err, sizeof(err)), 0);
		printf("system CA bundle: %zu anchors, %zu bytes of DNs+keys, %zu bytes of anchors, "
		       "loaded in %llu ms\n",
		       c.ntas, c.ta_mem_len, c.ntas * sizeof(br_x509_trust_anchor),
		       (unsigned long long)(th_now_ms() - t0));
		CHECK(c.ntas >= 100);
		tls_client_cfg_free(&c);
	}
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("ec.crt"), err, sizeof(err)), 0);
	CHECK_EQ_INT(c.ntas, 1);
	CHECK_EQ_INT(c.tas[0].flags, BR_X509_TA_CA); /* openssl req -x509 says CA:TRUE */
	tls_client_cfg_free(&c);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("ss.crt"), err, sizeof(err)), 0);
	CHECK_EQ_INT(c.ntas, 1);
	CHECK_EQ_INT(c.tas[0].flags, 0); /* ours says CA:FALSE: trusted directly */
	tls_client_cfg_free(&c);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("ec.der"), err, sizeof(err)), 0);
	CHECK_EQ_INT(c.ntas, 1);
	tls_client_cfg_free(&c);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("ec.key"), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "ec.key: no usable CA certificate found") != NULL);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("none.pem"), err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "none.pem: no such file") != NULL);
	CHECK_EQ_INT(tls_client_cfg_init_ca(&c, th_path("badb64.pem"), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "badb64.pem: line 2: bad base64") != NULL);
	tls_client_cfg_free(&c);
}

/* SIGHUP: a failed reload keeps the old cfg; a good one swaps, and the
 * old cfg lives on while someone holds it (ASan/valgrind see the frees). */
static void test_reload(void)
{
	struct tls_server_cfg *cur = NULL;
	CHECK_EQ_INT(load("ec.crt", "ec.key", &cur), 0);
	if (!cur)
		return;
	struct tls_server_cfg *held = tls_server_cfg_ref(cur);
	CHECK(tls_server_cfg_reload(&cur, th_path("ec.crt"), th_path("ec2.key"), err,
	                            sizeof(err)) < 0);
	CHECK(cur == held);
	CHECK(strstr(err, "does not match") != NULL);
	CHECK_EQ_INT(tls_server_cfg_reload(&cur, th_path("rsa.crt"), th_path("rsa.key"), err,
	                                   sizeof(err)),
	             0);
	CHECK(cur != held);
	char a[65], b[65];
	tls_server_cfg_fingerprint(held, a);
	tls_server_cfg_fingerprint(cur, b);
	CHECK(strcmp(a, b) != 0);
	tls_server_cfg_unref(held);
	tls_server_cfg_unref(cur);
}

int main(void)
{
	TEST_RUN(test_pins);
	if (!th_have_openssl())
		return test_summary();
	make_files();
	TEST_RUN(test_load_good);
	TEST_RUN(test_load_errors);
	TEST_RUN(test_selfsigned_openssl);
	TEST_RUN(test_selfsigned_defaults);
	TEST_RUN(test_selfsigned_many);
	TEST_RUN(test_spki);
	TEST_RUN(test_ca_bundles);
	TEST_RUN(test_reload);
	th_cleanup();
	return test_summary();
}
