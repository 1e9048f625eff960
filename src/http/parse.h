/* parse.h - incremental HTTP/1.1 request-head parser (sans-I/O).
 *
 * The caller keeps the bytes in one contiguous buffer and calls
 * http_parse_request() again each time more arrive. Each complete line is
 * parsed exactly once (the parser remembers how far it got), so feeding a head
 * one byte at a time costs O(n). Every slice is an offset into the caller's
 * buffer: the request stays valid as long as the buffer is not moved.
 *
 * Strict by design (RFC 9112): lines end in CRLF, bare CR/LF and NUL are
 * refused, no whitespace before a header's colon, no obs-fold, methods and
 * header names are tokens, the target has no whitespace or control bytes. */
#ifndef RINGHTTPD_PARSE_H
#define RINGHTTPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192  /* request line + headers + final CRLF */
#define HTTP_MAX_HEADERS 64 /* more: 431 */

/* Offsets into the receive buffer; a head is at most 8 KiB. */
struct http_slice {
    uint16_t off;
    uint16_t len;
};

struct http_header {
    struct http_slice name;
    struct http_slice value; /* leading and trailing OWS removed */
};

/* The methods of RFC 9110 section 9 and PATCH (RFC 5789). Any other token is
 * a method the server does not know: 501 (RFC 9110 9.1). */
enum http_method {
    HTTP_METHOD_UNKNOWN,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_CONNECT,
    HTTP_METHOD_TRACE,
    HTTP_METHOD_PATCH,
};

struct http_request {
    enum http_method method;
    struct http_slice method_tok;
    struct http_slice target; /* as sent: origin-form, absolute-form or "*" */
    struct http_slice line;   /* the whole request line without CRLF */
    uint8_t version_minor;    /* HTTP/1.x; 1.2+ are reported as 1 */
    uint16_t nheaders;
    uint16_t error; /* status to answer when parsing failed */
    /* parser state, private */
    uint16_t pos;  /* bytes of complete lines already parsed */
    uint16_t scan; /* bytes of the current line already scanned */
    uint8_t in_headers;
    uint8_t tok_done; /* the current line's leading token has ended */
    struct http_header headers[HTTP_MAX_HEADERS];
};

/* Start a new request (also between keep-alive requests). */
void http_request_reset(struct http_request *r);

/* Parse buf[0..len), which starts at the request's first byte.
 * Returns the head's length (including the final CRLF) once complete,
 * -2 when more bytes are needed, -1 on a malformed or oversized head with
 * r->error set to 400, 414, 431 or 505. A failure is reported as early as the
 * bytes allow: garbage in the request line is refused before any CRLF. */
int http_parse_request(struct http_request *r, const char *buf, size_t len);

/* The i-th header whose name equals name (ASCII case-insensitive), or NULL. */
const struct http_header *http_request_header(const struct http_request *r, const char *buf,
                                              const char *name, int *iter);

/* The RFC 9110 section 5.6 grammar, defined once for every parser in the
 * core: the request head (parse.c), chunk extensions and trailers
 * (chunked.c), and list-valued fields (conn_head.c, gzip.c). */
enum http_char_class {
    HTTP_CHAR_TCHAR = 1,  /* token: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA */
    HTTP_CHAR_OWS = 2,    /* OWS, BWS: SP / HTAB */
    HTTP_CHAR_FIELD = 4,  /* in a field value, and after '\' in a quoted-pair:
                             SP / HTAB / VCHAR / obs-text */
    HTTP_CHAR_QDTEXT = 8, /* in a quoted-string: the FIELD bytes but '"' and '\' */
};

extern const uint8_t http_char_class[256];

static inline bool http_is_tchar(unsigned char c)
{
    return http_char_class[c] & HTTP_CHAR_TCHAR;
}

static inline bool http_is_ows(unsigned char c)
{
    return http_char_class[c] & HTTP_CHAR_OWS;
}

static inline bool http_is_field_char(unsigned char c)
{
    return http_char_class[c] & HTTP_CHAR_FIELD;
}

static inline bool http_is_qdtext(unsigned char c)
{
    return http_char_class[c] & HTTP_CHAR_QDTEXT;
}

/* Scanners over s[0..len) from s[i]: each returns the index just past what it
 * matched (i itself when nothing matched). */
size_t http_skip_ows(const char *s, size_t len, size_t i);
size_t http_skip_token(const char *s, size_t len, size_t i);

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, with s[i] == '"'.
 * Returns the index past the closing quote, or 0 when the string does not
 * end in s or holds a byte it may not. */
size_t http_skip_quoted(const char *s, size_t len, size_t i);

/* The list rule (RFC 9110 5.6.1): elements separated by commas, with OWS
 * around them and empty elements ignored. A comma inside a well-formed
 * quoted-string does not separate. */
struct http_list {
    const char *s;
    size_t len;
    size_t pos;
};

static inline struct http_list http_list_of(const char *s, size_t len)
{
    return (struct http_list){s, len, 0};
}

/* The next non-empty element, OWS trimmed, as s[*off .. *off + *n).
 * Returns false when there are no more. */
bool http_list_next(struct http_list *l, size_t *off, size_t *n);

/* The value of a hex digit (either case), or -1. */
int http_hex_value(unsigned char c);

/* ASCII case-insensitive comparison of a slice with a NUL-terminated string. */
int http_slice_ieq(const char *buf, struct http_slice s, const char *str);

#endif
