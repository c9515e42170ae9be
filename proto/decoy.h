/* decoy.h — what one stock nginx answers to a request stream, for
 * --stealth decoy: nginx 1.22 as Debian ships it, `server_tokens off`, a
 * `root` that does not exist (so every path is 404). Its request-head parser,
 * header checks and header-buffer limits are emulated byte by byte without
 * keeping the bytes, and its pages are built here. Pure: no allocation, no
 * I/O, no clock (the date is an argument). Source: nginx release-1.22.1,
 * src/http/ngx_http_parse.c, ngx_http_request.c, ngx_http_special_response.c. */
#ifndef WSF_PROTO_DECOY_H
#define WSF_PROTO_DECOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

/* nginx's defaults (ngx_http_core_module.c), which the decoy keeps. */
#define DECOY_HEADER_BUF 1024          /* client_header_buffer_size 1k */
#define DECOY_LARGE_BUF 8192           /* large_client_header_buffers 4 8k */
#define DECOY_LARGE_BUFS 4
#define DECOY_MAX_BODY 1048576         /* client_max_body_size 1m: 413 above */
#define DECOY_KEEPALIVE_MS 75000       /* keepalive_timeout 75s */
#define DECOY_KEEPALIVE_REQUESTS 1000  /* keepalive_requests 1000 */
#define DECOY_KEEPALIVE_TIME_MS 3600000 /* keepalive_time 1h */
#define DECOY_ANSWER_MAX 1024          /* the longest answer decoy_answer builds */

enum decoy_rc {
	DECOY_NEED_MORE = 0, /* nginx would still be reading the head */
	DECOY_DONE = 1,      /* nginx answers now: the verdict fields are set */
};

/* One request's verdict and the parser state behind it. A zero-filled
 * struct is the start of a connection's first request. */
struct decoy {
	/* The verdict, valid once decoy_feed returned DECOY_DONE. */
	uint16_t status;    /* 400 404 405 413 414 494 501 505 (494: "400" on the wire) */
	bool whole_head;    /* the head ended; else nginx answered mid-head */
	bool http09;        /* an HTTP/0.9 request: the page alone, no head */
	bool head_only;     /* HEAD: the head without the page */
	bool padding;       /* MSIE or Chrome: the "friendly error page" padding */
	bool keepalive;     /* may carry another request (before the connection's limits) */
	bool chunked;       /* a chunked request body follows (to be discarded) */
	uint64_t body_len;  /* Content-Length of the body that follows */

	/* Private: where nginx's header buffers begin and end. */
	uint32_t pos;        /* bytes of this request fed so far */
	uint32_t buf_end;    /* where the current header buffer ends (0: none yet) */
	uint32_t line_start; /* the current line, which a new buffer must hold */
	uint8_t nbusy;       /* large buffers taken */
	bool large;          /* the current buffer is a large one */
	/* request line and header line state machines */
	uint8_t phase, state, method, mlen;
	char mname[9];
	uint16_t major, minor;
	bool complex_uri, quoted_uri, empty_path, has_line_host;
	/* the URI normaliser (ngx_http_parse_complex_uri), run alongside */
	uint8_t ustate, uqstate, udecoded;
	bool ustop, ubad;
	uint16_t usegs;
	/* host validation (ngx_http_validate_host) */
	uint32_t hi, hdot, hlen;
	uint8_t hstate;
	bool hbad;
	/* the header line in progress */
	uint8_t hname[20], hnlen, hid;
	bool hinvalid;
	uint32_t vlen, vspaces;
	uint8_t m_close, m_keep, m_msie, m_opera, m_gecko, m_chrome, m_sv1, te_len;
	bool f_close, f_keep, f_msie, f_opera, f_gecko, f_chrome, f_sv1, te_bad, cl_bad;
	uint32_t msie_at;
	char msie5, msie6;
	uint64_t cl;
	/* the head so far */
	uint16_t seen;      /* unique headers seen (one bit each) */
	uint8_t conn;       /* Connection: 0, close, keep-alive */
	bool ua_seen, msie, ie6, chrome, has_host, has_cl, cl_invalid, te_chunked, has_te;
	/* the chunked body being discarded */
	uint8_t cstate;
	uint64_t csize;
};

/* Feeds len bytes of the request stream. Returns DECOY_NEED_MORE with
 * *used == len, or DECOY_DONE with *used the bytes nginx took for this
 * request's head (through the byte that decided: the end of the head, or the
 * byte that made it answer at once). After DONE, call decoy_next before
 * feeding the following request. */
enum decoy_rc decoy_feed(struct decoy *d, const uint8_t *in, size_t len, size_t *used);

/* True while only empty lines have come (nginx skips CR and LF before a
 * request line): the caller may drop those bytes. */
bool decoy_idle(const struct decoy *d);

/* Starts the next request on a kept-alive connection. pipelined: its first
 * bytes were already read with the previous request, so nginx parses them in
 * the same header buffer (it does not when a request body came between; the
 * emulation then starts a fresh buffer, as for a request read later). */
void decoy_next(struct decoy *d, bool pipelined);

/* Discards a request body after the answer: Content-Length bytes (the
 * caller counts them) or, with d->chunked, chunks per nginx's
 * ngx_http_parse_chunked. Returns 0 with *used == len while more is due, 1
 * once the body ended (*used: its last byte), -1 for a malformed one. */
int decoy_chunked_feed(struct decoy *d, const uint8_t *in, size_t len, size_t *used);

/* Builds nginx's answer for the verdict into out (DECOY_ANSWER_MAX bytes):
 * status line, Server, Date (date: HTTP_DATE_LEN characters, http_date), Content-Type,
 * Content-Length, Connection, then the page unless HEAD; HTTP/0.9 gets the
 * page alone. keepalive: the final decision (verdict and the connection's
 * limits). Returns the length. */
size_t decoy_answer(const struct decoy *d, bool keepalive, const char *date, char *out);

#endif
