/* server_cfg.c — the reference-counted server configuration: credentials
 * from files, memory or a fresh self-signed certificate; the session cache;
 * SIGHUP reload; the fingerprint users pin; writing PEM for `wsferry cert`.
 * Owns the cfg block; never touches sockets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/pem.h"
#include "tls/tls_int.h"

/* ---- session cache: BearSSL's LRU behind a vtable that tells the
 * connection a full handshake happened (see tls_conn_resumed) ---- */

static void cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                       const br_ssl_session_parameters *params)
{
	struct tls_cache *c = (struct tls_cache *)(void *)ctx;
	/* sc is the first member of struct tls_conn (tls.h). */
	struct tls_conn *t = (struct tls_conn *)(void *)sc;
	t->flags |= TLS_F_FULL_HS;
	c->lru.vtable->save(&c->lru.vtable, sc, params);
}

static int cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                      br_ssl_session_parameters *params)
{
	struct tls_cache *c = (struct tls_cache *)(void *)ctx;
	return c->lru.vtable->load(&c->lru.vtable, sc, params);
}

static const br_ssl_session_cache_class cache_class = {
	sizeof(struct tls_cache),
	cache_save,
	cache_load,
};

void tls_cache_init(struct tls_cache *c, unsigned char *store, size_t len)
{
	c->vtable = &cache_class;
	br_ssl_session_cache_lru_init(&c->lru, store, len);
}

/* ---- lifecycle ---- */

static struct tls_server_cfg *cfg_new(void)
{
	struct tls_server_cfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->refs = 1;
	tls_cache_init(&c->cache, c->cache_store, sizeof(c->cache_store));
	return c;
}

struct tls_server_cfg *tls_server_cfg_ref(struct tls_server_cfg *c)
{
	c->refs++;
	return c;
}

void tls_server_cfg_unref(struct tls_server_cfg *c)
{
	if (!c || --c->refs)
		return;
	tls_creds_free(&c->creds);
	/* Cached sessions hold master secrets. */
	explicit_bzero(c->cache_store, sizeof(c->cache_store));
	free(c);
}

int tls_server_cfg_load_mem(struct tls_server_cfg **out, const char *cert, size_t cert_len,
                            const char *cert_name, const char *key, size_t key_len,
                            const char *key_name, char *err, size_t errlen)
{
	struct tls_server_cfg *c = cfg_new();
	if (!c)
		return tls_fail(-ENOMEM, err, errlen, "out of memory");
	int rc = tls_creds_chain(&c->creds, cert, cert_len, cert_name, err, errlen);
	if (rc == 0)
		rc = tls_creds_key(&c->creds, key, key_len, key_name, err, errlen);
	if (rc == 0)
		rc = tls_creds_match(&c->creds, cert_name, key_name, err, errlen);
	if (rc < 0) {
		tls_server_cfg_unref(c);
		return rc;
	}
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, c->creds.chain[0].data, c->creds.chain[0].data_len);
	br_sha256_out(&h, c->fp);
	*out = c;
	return 0;
}

int tls_server_cfg_load(struct tls_server_cfg **out, const char *cert_path,
                        const char *key_path, char *err, size_t errlen)
{
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	int rc = tls_file_read(cert_path, &cert, &cert_len, err, errlen);
	if (rc == 0)
		rc = tls_file_read(key_path, &key, &key_len, err, errlen);
	if (rc == 0)
		rc = tls_server_cfg_load_mem(out, cert, cert_len, cert_path, key, key_len, key_path,
		                             err, errlen);
	free(cert);
	tls_wipe_free(key, key_len);
	return rc;
}

int tls_server_cfg_reload(struct tls_server_cfg **cur, const char *cert_path,
                          const char *key_path, char *err, size_t errlen)
{
	struct tls_server_cfg *fresh;
	int rc = tls_server_cfg_load(&fresh, cert_path, key_path, err, errlen);
	if (rc < 0)
		return rc;
	tls_server_cfg_unref(*cur);
	*cur = fresh;
	return 0;
}

#define TLS_SKEW_SECONDS 3600 /* notBefore an hour back: clients' clocks drift */

int tls_server_cfg_selfsigned(struct tls_server_cfg **out, const char *const *names,
                              size_t n, unsigned days, char *err, size_t errlen)
{
	static const char *const defaults[] = { "localhost", "127.0.0.1", "::1" };
	int64_t now = (int64_t)time(NULL);
	struct tls_cert_req r = {
		.names = n ? names : defaults,
		.n = n ? n : sizeof(defaults) / sizeof(defaults[0]),
		.not_before = now - TLS_SKEW_SECONDS,
		.not_after = now + (int64_t)days * 86400,
	};
	uint8_t *cert, *key;
	size_t cert_len, key_len;
	int rc = tls_cert_make(&r, &cert, &cert_len, &key, &key_len, err, errlen);
	if (rc < 0)
		return rc;
	rc = tls_server_cfg_load_mem(out, (const char *)cert, cert_len, "generated certificate",
	                             (const char *)key, key_len, "generated key", err, errlen);
	free(cert);
	tls_wipe_free(key, key_len);
	return rc;
}

void tls_server_cfg_fingerprint(const struct tls_server_cfg *c, char out[TLS_FP_HEX_LEN + 1])
{
	tls_hex(c->fp, sizeof(c->fp), out);
}

/* PEM text of the whole chain, malloc'd. */
static char *chain_pem(const struct tls_creds *c, size_t *len)
{
	size_t cap = 1;
	for (size_t i = 0; i < c->chain_len; i++)
		cap += PEM_ENCODED_LEN(sizeof("CERTIFICATE") - 1, c->chain[i].data_len);
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < c->chain_len; i++)
		o += pem_encode("CERTIFICATE", c->chain[i].data, c->chain[i].data_len, s + o, cap - o);
	*len = o;
	return s;
}

int tls_server_cfg_write_pem(const struct tls_server_cfg *c, const char *cert_path,
                             const char *key_path, char *err, size_t errlen)
{
	const struct tls_creds *k = &c->creds;
	size_t cert_len = 0, cap = PEM_ENCODED_LEN(strlen(k->key_label), k->key_der_len);
	char *cert = chain_pem(k, &cert_len);
	char *key = malloc(cap);
	int rc = -ENOMEM;
	if (cert && key) {
		size_t key_len = pem_encode(k->key_label, k->key_der, k->key_der_len, key, cap);
		rc = tls_file_write(key_path, key, key_len, 0600, err, errlen);
		if (rc == 0)
			rc = tls_file_write(cert_path, cert, cert_len, 0644, err, errlen);
	} else {
		tls_fail(rc, err, errlen, "out of memory");
	}
	free(cert);
	tls_wipe_free(key, cap);
	return rc;
}
