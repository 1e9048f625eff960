/* parse.c - incremental request-head parser, see parse.h.
 *
 * The parser works line by line. A complete line (ending in CRLF) is parsed
 * once and r->pos moves past it; an incomplete tail is only checked for bytes
 * that can never become valid, so garbage is refused without waiting for a
 * CRLF or the size limit. */
#include "http/parse.h"

#include <string.h>

/* The classes of byte c, from the RFC 9110 ABNF (tests/unit/test_parse.c
 * checks every byte against a literal reading of it). */
#define HTTP_VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define HTTP_OBS_TEXT(c) ((c) >= 0x80)
#define HTTP_TCHAR(c)                                                                              \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') ||     \
     (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||          \
     (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' ||           \
     (c) == '`' || (c) == '|' || (c) == '~')
#define HTTP_FIELD(c) ((c) == ' ' || (c) == '\t' || HTTP_VCHAR(c) || HTTP_OBS_TEXT(c))
#define HTTP_CLASS(c)                                                                              \
    ((HTTP_TCHAR(c) ? HTTP_CHAR_TCHAR : 0) | ((c) == ' ' || (c) == '\t' ? HTTP_CHAR_OWS : 0) |     \
     (HTTP_FIELD(c) ? HTTP_CHAR_FIELD : 0) |                                                       \
     (HTTP_FIELD(c) && (c) != '"' && (c) != '\\' ? HTTP_CHAR_QDTEXT : 0))
#define HTTP_CLASS4(c) HTTP_CLASS(c), HTTP_CLASS(c + 1), HTTP_CLASS(c + 2), HTTP_CLASS(c + 3)
#define HTTP_CLASS16(c) HTTP_CLASS4(c), HTTP_CLASS4(c + 4), HTTP_CLASS4(c + 8), HTTP_CLASS4(c + 12)
#define HTTP_CLASS64(c)                                                                            \
    HTTP_CLASS16(c), HTTP_CLASS16(c + 16), HTTP_CLASS16(c + 32), HTTP_CLASS16(c + 48)

const uint8_t http_char_class[256] = {
    HTTP_CLASS64(0),
    HTTP_CLASS64(64),
    HTTP_CLASS64(128),
    HTTP_CLASS64(192),
};

size_t http_skip_ows(const char *s, size_t len, size_t i)
{
    while (i < len && http_is_ows((unsigned char)s[i]))
        i++;
    return i;
}

size_t http_skip_token(const char *s, size_t len, size_t i)
{
    while (i < len && http_is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

size_t http_skip_quoted(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"')
            return i + 1;
        if (ch == '\\') {
            if (++i == len || !http_is_field_char((unsigned char)s[i]))
                return 0;
        } else if (!http_is_qdtext(ch)) {
            return 0;
        }
    }
    return 0;
}

bool http_list_next(struct http_list *l, size_t *off, size_t *n)
{
    const char *s = l->s;
    size_t i = l->pos, len = l->len, start, end;

    while (i < len && (s[i] == ',' || http_is_ows((unsigned char)s[i])))
        i++;
    l->pos = i;
    if (i == len)
        return false;
    start = i;
    while (i < len && s[i] != ',') {
        size_t q = s[i] == '"' ? http_skip_quoted(s, len, i) : 0;
        i = q ? q : i + 1;
    }
    end = i;
    while (end > start && http_is_ows((unsigned char)s[end - 1]))
        end--;
    l->pos = i;
    *off = start;
    *n = end - start;
    return true;
}

int http_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_fail(struct http_request *r, int status)
{
    r->error = (uint16_t)status;
    return -1;
}

void http_request_reset(struct http_request *r)
{
    r->method = HTTP_METHOD_UNKNOWN;
    r->nheaders = 0;
    r->error = 0;
    r->pos = 0;
    r->scan = 0;
    r->in_headers = 0;
    r->tok_done = 0;
    r->version_minor = 1;
}

static enum http_method parse_method(const char *m, size_t len)
{
    static const struct {
        const char *name;
        enum http_method method;
    } methods[] = {
        {"GET", HTTP_METHOD_GET},         {"HEAD", HTTP_METHOD_HEAD},
        {"POST", HTTP_METHOD_POST},       {"PUT", HTTP_METHOD_PUT},
        {"DELETE", HTTP_METHOD_DELETE},   {"OPTIONS", HTTP_METHOD_OPTIONS},
        {"CONNECT", HTTP_METHOD_CONNECT}, {"TRACE", HTTP_METHOD_TRACE},
        {"PATCH", HTTP_METHOD_PATCH},
    };

    /* Methods are case-sensitive (RFC 9110 9.1): "get" is another method. */
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].method;
    return HTTP_METHOD_UNKNOWN;
}

/* request-line = method SP request-target SP HTTP-version, line[0..len). */
static int parse_request_line(struct http_request *r, const char *buf, size_t start, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf + start;
    size_t i = 0, m_end, t_start, t_end;

    while (i < len && http_is_tchar(p[i]))
        i++;
    if (i == 0 || i == len || p[i] != ' ')
        return parse_fail(r, 400);
    m_end = i++;
    t_start = i;
    /* The target is visible ASCII only: no whitespace, controls or raw UTF-8. */
    while (i < len && p[i] > 0x20 && p[i] < 0x7f)
        i++;
    if (i == t_start || i == len || p[i] != ' ')
        return parse_fail(r, 400);
    t_end = i++;
    if (len - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
        return parse_fail(r, 400);
    if (p[i + 5] != '1')
        return parse_fail(r, 505);

    r->method = parse_method((const char *)p, m_end);
    r->method_tok = (struct http_slice){(uint16_t)start, (uint16_t)m_end};
    r->target = (struct http_slice){(uint16_t)(start + t_start), (uint16_t)(t_end - t_start)};
    r->line = (struct http_slice){(uint16_t)start, (uint16_t)len};
    r->version_minor = p[i + 7] == '0' ? 0 : 1;
    return 0;
}

/* field-line = field-name ":" OWS field-value OWS, line[0..len). */
static int parse_header_line(struct http_request *r, const char *buf, size_t start, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf + start;
    size_t i = 0, v_start, v_end;

    /* A leading SP/HTAB is obs-fold (or whitespace before the first field):
     * refused, as is any whitespace between the name and the colon. */
    while (i < len && http_is_tchar(p[i]))
        i++;
    if (i == 0 || i == len || p[i] != ':')
        return parse_fail(r, 400);
    if (r->nheaders == HTTP_MAX_HEADERS)
        return parse_fail(r, 431);
    struct http_header *h = &r->headers[r->nheaders];
    h->name = (struct http_slice){(uint16_t)start, (uint16_t)i};
    i++;
    i = http_skip_ows(buf + start, len, i);
    v_start = i;
    for (; i < len; i++)
        if (!http_is_field_char(p[i]))
            return parse_fail(r, 400);
    v_end = len;
    while (v_end > v_start && http_is_ows(p[v_end - 1]))
        v_end--;
    h->value = (struct http_slice){(uint16_t)(start + v_start), (uint16_t)(v_end - v_start)};
    r->nheaders++;
    return 0;
}

/* Refuse an incomplete line early when its new bytes buf[from..len) already
 * hold one that no valid line could: a bad method or field-name character,
 * a NUL, or a CR before the end. Only new bytes are looked at, so a head
 * trickled in byte by byte costs O(n); the complete line is checked again. */
static int parse_check_partial(struct http_request *r, const char *buf, size_t start, size_t from,
                               size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    unsigned char delim = r->in_headers ? ':' : ' ';

    /* A CR that ended the bytes seen before and is not followed by LF is bare. */
    if (from > start && from < len && p[from - 1] == '\r')
        return parse_fail(r, 400);
    for (size_t i = from; i < len; i++) {
        if (p[i] == '\0' || (p[i] == '\r' && i + 1 < len))
            return parse_fail(r, 400);
        if (r->tok_done || http_is_tchar(p[i]))
            continue;
        if ((p[i] == delim && i > start) || (p[i] == '\r' && i == start))
            r->tok_done = 1;
        else
            return parse_fail(r, 400);
    }
    r->scan = (uint16_t)len;
    return -2;
}

int http_parse_request(struct http_request *r, const char *buf, size_t len)
{
    for (;;) {
        size_t start = r->pos;
        size_t from = r->scan > start ? r->scan : start;
        const char *nl = memchr(buf + from, '\n', len - from);

        if (!nl) {
            if (len >= HTTP_MAX_HEAD)
                return parse_fail(r, r->in_headers ? 431 : 414);
            return parse_check_partial(r, buf, start, from, len);
        }
        size_t end = (size_t)(nl - buf); /* index of LF */
        if (end + 1 > HTTP_MAX_HEAD)
            return parse_fail(r, r->in_headers ? 431 : 414);
        if (end == start || buf[end - 1] != '\r')
            return parse_fail(r, 400); /* bare LF */
        size_t line_len = end - 1 - start;
        if (memchr(buf + start, '\r', line_len) || memchr(buf + start, '\0', line_len))
            return parse_fail(r, 400);

        if (!r->in_headers) {
            /* RFC 9112 2.2: ignore empty lines before the request line. */
            if (line_len > 0) {
                if (parse_request_line(r, buf, start, line_len) < 0)
                    return -1;
                r->in_headers = 1;
            }
        } else if (line_len == 0) {
            r->pos = (uint16_t)(end + 1);
            return (int)(end + 1);
        } else if (parse_header_line(r, buf, start, line_len) < 0) {
            return -1;
        }
        r->pos = (uint16_t)(end + 1);
        r->scan = r->pos;
        r->tok_done = 0;
    }
}

int http_slice_ieq(const char *buf, struct http_slice s, const char *str)
{
    size_t n = strlen(str);

    return s.len == n && strncasecmp(buf + s.off, str, n) == 0;
}

const struct http_header *http_request_header(const struct http_request *r, const char *buf,
                                              const char *name, int *iter)
{
    for (int i = iter ? *iter : 0; i < r->nheaders; i++) {
        if (http_slice_ieq(buf, r->headers[i].name, name)) {
            if (iter)
                *iter = i + 1;
            return &r->headers[i];
        }
    }
    if (iter)
        *iter = r->nheaders;
    return NULL;
}
