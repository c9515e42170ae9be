/* key.c — --key, --key-file, WSFERRY_KEY and `wsferry keygen`: the
 * pre-shared key from the user into derived keys, wiped from argv after. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bin/cmd.h"
#include "core/rand.h"
#include "proto/auth.h"

/* The command's key, one per thread: bin/lib.c copies an instance's out
 * before the next parse on the same thread. */
static _Thread_local struct auth_keys keys;

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
	explicit_bzero(psk, sizeof(psk)); /* memset of a dead buffer may be dropped */
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
	secret_wipe(val, strlen(val)); /* not visible in ps(1) after startup */
	return rc;
}

void secret_wipe(const char *val, size_t n)
{
	/* argv's and the config text's bytes are ours to change; their const is
	 * the option table's promise to everyone else. */
	memset((char *)(uintptr_t)val, 'x', n);
}

int secret_take(const char *val, char *out, size_t cap)
{
	size_t n = strlen(val);
	if (n >= cap)
		return -1;
	memcpy(out, val, n + 1);
	secret_wipe(val, n);
	return 0;
}

int key_from_file(const char *path, const struct auth_keys **out, const char **why)
{
	static _Thread_local char msg[300];
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
	explicit_bzero(text, sizeof(text));
	return rc;
}

int key_from_env(const struct auth_keys **out, const char **why)
{
	char *val = getenv("WSFERRY_KEY");
	if (!val)
		return 0;
	/* A key from the flags wins, but the variable is wiped all the same. */
	int rc = *val && !*out ? use_key_text(val, strlen(val), out, why) : 0;
	/* The value lives in the process's initial environment block, which
	 * /proc/PID/environ shows for as long as we run: clear it there, then
	 * drop the variable so children (none today) never inherit it. */
	explicit_bzero(val, strlen(val));
	unsetenv("WSFERRY_KEY");
	return rc;
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
	explicit_bzero(psk, sizeof(psk));
	explicit_bzero(text, sizeof(text));
	return 0;
}
