/* cert_cmd.c — `wsferry cert`: write a self-signed certificate and its key
 * (PEM) for a server, and print the fingerprint clients pin. */
#include <stdio.h>
#include <string.h>

#include "bin/cmd.h"
#include "proto/conf.h"
#include "tls/tls.h"

#define CERT_MAX_NAMES 16

struct cert_cmd {
	const char *names[CERT_MAX_NAMES];
	size_t nnames;
	unsigned days;
	const char *out_cert, *out_key;
};

static int opt_name(void *ctx, const char *val, const char **why)
{
	struct cert_cmd *c = ctx;
	if (c->nnames == CERT_MAX_NAMES || !*val)
		return *why = "a DNS name or IP address (up to 16 --name)", -1;
	c->names[c->nnames++] = val;
	return 0;
}

static int opt_days(void *ctx, const char *val, const char **why)
{
	uint64_t v;
	if (conf_parse_uint(val, 1, 36500, &v) < 0)
		return *why = "a number of days from 1 to 36500", -1;
	((struct cert_cmd *)ctx)->days = (unsigned)v;
	return 0;
}

static int opt_out_cert(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct cert_cmd *)ctx)->out_cert = val;
	return 0;
}

static int opt_out_key(void *ctx, const char *val, const char **why)
{
	(void)why;
	((struct cert_cmd *)ctx)->out_key = val;
	return 0;
}

static const struct opt cert_opts[] = {
	{"name", 0, true, false, opt_name},
	{"days", 0, true, false, opt_days},
	{"out-cert", 0, true, false, opt_out_cert},
	{"out-key", 0, true, false, opt_out_key},
	{0},
};

int cmd_cert(int argc, char **argv)
{
	struct cert_cmd c = {.days = 3650, .out_cert = "server.crt", .out_key = "server.key"};
	struct tls_server_cfg *cfg = NULL;
	char err[TLS_ERRLEN], fp[TLS_FP_HEX_LEN + 1];
	if (opts_parse(cert_opts, argc, argv, &c, NULL) < 0)
		return 2;
	if (tls_server_cfg_selfsigned(&cfg, c.names, c.nnames, c.days, err, sizeof(err)) < 0)
		return opts_usage_error("--name", err);
	int rc = tls_server_cfg_write_pem(cfg, c.out_cert, c.out_key, err, sizeof(err));
	if (rc == 0) {
		tls_server_cfg_fingerprint(cfg, fp);
		printf("wrote %s and %s (key mode 0600), valid %u days\n", c.out_cert, c.out_key, c.days);
		printf("SHA-256 fingerprint (for --pin): %s\n", fp);
	} else {
		fprintf(stderr, "wsferry: cert: %s\n", err);
	}
	tls_server_cfg_unref(cfg);
	return rc == 0 ? 0 : 1;
}
