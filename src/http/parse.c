/* parse.c - incremental request-head parser, see parse.h.
 *
 * The parser works line by line. A complete line (ending in CRLF) is parsed
 * once and r->pos moves past it; an incomplete tail is only checked for bytes
 * that can never become valid, so garbage is refused without waiting for a
 * CRLF or the size limit. */
#include "http/parse.h"

#include <string.h>

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA. */
static const unsigned char parse_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int http_is_tchar(unsigned char c)
{
    return parse_tchar[c];
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

/* field-vchar / SP / HTAB, obs-text allowed (RFC 9110 5.5). */
static int parse_is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int parse_fail(struct http_request *r, int status)
{
    r->error = (uint16_t)status;
    return -1;
}

void http_request_reset(struct http_request *r)
{
    r->method = HTTP_METHOD_OTHER;
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
        {"GET", HTTP_METHOD_GET}, {"HEAD", HTTP_METHOD_HEAD},     {"POST", HTTP_METHOD_POST},
        {"PUT", HTTP_METHOD_PUT}, {"DELETE", HTTP_METHOD_DELETE}, {"OPTIONS", HTTP_METHOD_OPTIONS},
    };

    /* Methods are case-sensitive (RFC 9110 9.1): "get" is another method. */
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].method;
    return HTTP_METHOD_OTHER;
}

/* request-line = method SP request-target SP HTTP-version, line[0..len). */
static int parse_request_line(struct http_request *r, const char *buf, size_t start, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf + start;
    size_t i = 0, m_end, t_start, t_end;

    while (i < len && parse_tchar[p[i]])
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
    while (i < len && parse_tchar[p[i]])
        i++;
    if (i == 0 || i == len || p[i] != ':')
        return parse_fail(r, 400);
    if (r->nheaders == HTTP_MAX_HEADERS)
        return parse_fail(r, 431);
    struct http_header *h = &r->headers[r->nheaders];
    h->name = (struct http_slice){(uint16_t)start, (uint16_t)i};
    i++;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    v_start = i;
    for (; i < len; i++)
        if (!parse_is_field_char(p[i]))
            return parse_fail(r, 400);
    v_end = len;
    while (v_end > v_start && (p[v_end - 1] == ' ' || p[v_end - 1] == '\t'))
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
        if (r->tok_done || parse_tchar[p[i]])
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
