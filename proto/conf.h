/* conf.h — values users write in flags and config files: durations, sizes,
 * booleans, and "key value" config lines. Pure: no I/O, no allocation. */
#ifndef WSF_PROTO_CONF_H
#define WSF_PROTO_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "300" (seconds), "500ms", "5m", "1h", "2s" -> milliseconds. 0 or -1. */
int conf_parse_duration_ms(const char *s, uint64_t *ms);
/* "1048576", "64K", "16M", "1G" (binary units, optional trailing B). 0 or -1. */
int conf_parse_size(const char *s, uint64_t *bytes);
/* true|1|yes|on and false|0|no|off, case-insensitive. 0 or -1. */
int conf_parse_bool(const char *s, bool *out);
/* Unsigned decimal in [min, max]. 0 or -1. */
int conf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Splits one config line in place: "key value", "key = value", "key" (a
 * flag), comments from '#', blank lines. Returns 1 with *key / *value
 * (value "" for a bare key), 0 for a blank/comment line, -1 for a line with
 * a malformed key. Value quotes "..." are removed. */
int conf_split_line(char *line, char **key, char **value);

#endif
