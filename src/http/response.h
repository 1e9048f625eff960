/* response.h - response heads written into a caller-owned output buffer.
 *
 * The builder appends; it never allocates. Every function returns 0, or -1
 * when the output buffer lacks room (the caller flushes and retries, or gives
 * up with 500 if even an empty buffer is too small). */
#ifndef RINGHTTPD_RESPONSE_H
#define RINGHTTPD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/status.h"

struct outbuf {
    char *data;
    size_t len;
    size_t cap;
};

/* "Not Found" for 404, or NULL for a code outside the table. */
const char *http_status_reason(int code);

/* The last second an IMF-fixdate can write: 9999-12-31 23:59:59 GMT. */
#define HTTP_DATE_MAX INT64_C(253402300799)

/* The IMF-fixdate for t ("Sun, 06 Nov 1994 08:49:37 GMT"), 29 chars + NUL,
 * written to out, which is returned. A t outside 1970..HTTP_DATE_MAX is
 * written as the epoch rather than as a malformed field. */
const char *http_date_format(time_t t, char out[30]);

/* The same, cached per thread for the current second (the Date field). */
const char *http_date(time_t t);

struct response_head {
    int status;
    int keep_alive; /* Connection: keep-alive or close */
    uint64_t content_length;
    const char *content_type;     /* NULL: no Content-Type */
    const char *content_encoding; /* NULL: none */
    const char *allow;            /* NULL: no Allow */
    int vary_accept_encoding;     /* add Vary: Accept-Encoding */
    const char *extra;            /* more header lines, each ending in CRLF, or NULL */
    size_t extra_len;
    time_t now;
};

/* Append a full status line and header block, final CRLF included. A 1xx,
 * 204 or 304 carries no Content-Length (RFC 9110 8.6: it has no body, and a
 * 204 must not say otherwise); every other status carries content_length. */
int response_head_write(struct outbuf *o, const struct response_head *h);

/* The body of every error response: "404 Not Found\n" (what curl shows).
 * Returns its length. */
#define RESPONSE_ERROR_TEXT_MAX 64
size_t response_error_text(int status, char out[RESPONSE_ERROR_TEXT_MAX]);

/* An error response (status >= 400): h's head with a one-line text/plain
 * body, "404 Not Found\n", so a client such as curl shows what happened;
 * without the body when with_body is 0 (HEAD). Uses h->now, keep_alive,
 * allow and extra; sets the type and length itself. */
int response_error_write(struct outbuf *o, struct response_head *h, int with_body);

/* The 503 a connection over --max-connections gets before it is closed
 * (Connection: close, Retry-After: 1), written to buf; its length, or 0
 * when cap is too small. */
size_t response_refusal(char *buf, size_t cap, time_t now);

/* Append "HTTP/1.1 100 Continue\r\n\r\n". */
int response_continue_write(struct outbuf *o);

/* Append raw bytes (a body). */
int outbuf_append(struct outbuf *o, const void *p, size_t len);

#endif
