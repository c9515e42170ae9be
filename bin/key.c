/* key.c — --key, --key-file, WSFERRY_KEY and `wsferry keygen`: the
 * pre-shared key from the user into derived keys, wiped from argv after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "core/rand.h"
#include "proto/auth.h"

static struct auth_keys keys; /* one per process: the command's key */

static int looks_like_pem_file(const char *val)
{
	char head[64] = {0};
	int fd = open(val, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, head, sizeof(head) - 1);
	close(fd);
	return n > 0 && strstr(head, "-----BEGIN") != NULL;
}

static int use_key_text(const char *text, size_t len, const struct auth_keys **out,
                        const char **why)
{
	uint8_t psk[AUTH_KEY_LEN];
	if (auth_key_parse(text, len, psk, why) < 0)
		return -1;
	auth_derive(psk, &keys);
	memset(psk, 0, sizeof(psk));
	*out = &keys;
	return 0;
}

int key_from_arg(char *val, const struct auth_keys **out, const char **why)
{
	if (looks_like_pem_file(val)) {
		*why = "names a PEM file: did you mean --cert-key? (--key takes the text "
		       "printed by `wsferry keygen`)";
		return -1;
	}
	int rc = use_key_text(val, strlen(val), out, why);
	memset(val, 'x', strlen(val)); /* not visible in ps(1) after startup */
	return rc;
}

int key_from_file(const char *path, const struct auth_keys **out, const char **why)
{
	static char msg[300];
	char text[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		*why = msg;
		return -1;
	}
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	text[n] = '\0';
	if (strstr(text, "-----BEGIN")) {
		*why = "is a PEM file: did you mean --cert-key?";
		return -1;
	}
	int rc = use_key_text(text, (size_t)n, out, why);
	memset(text, 0, sizeof(text));
	return rc;
}

int key_from_env(const struct auth_keys **out, const char **why)
{
	char *val = getenv("WSFERRY_KEY");
	if (!val || !*val)
		return 0;
	return use_key_text(val, strlen(val), out, why);
}

int cmd_keygen(int argc, char **argv)
{
	uint8_t psk[AUTH_KEY_LEN];
	char text[AUTH_KEY_TEXT_LEN + 1];
	(void)argv;
	if (argc > 0)
		return opts_usage_error("keygen", "takes no arguments");
	if (rand_bytes(psk, sizeof(psk)) < 0) {
		fprintf(stderr, "wsferry: keygen: no randomness from the kernel\n");
		return 1;
	}
	auth_key_format(psk, text);
	printf("%s\n", text);
	memset(psk, 0, sizeof(psk));
	return 0;
}
