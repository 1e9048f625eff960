/* conn_head.c - the meaning of a parsed request head: body framing
 * (Content-Length, Transfer-Encoding), persistence (Connection, version),
 * Expect and Accept-Encoding. Strict where a lenient reading could let two
 * parsers disagree about where a request ends (RFC 9112 6.3, 11.2). */
#include <string.h>
#include <strings.h>

#include "http/conn_internal.h"
#include "http/gzip.h"
#include "http/uri.h"

/* Content-Length: digits only, repeated values (headers or a comma list)
 * identical, no overflow. Returns 0 or -1. */
static int conn_parse_length(const char *v, size_t len, int64_t *out)
{
    size_t i = 0;

    if (len == 0)
        return -1;
    while (i < len) {
        uint64_t n = 0;
        size_t digits = 0;
        while (i < len && v[i] >= '0' && v[i] <= '9') {
            if (n > (UINT64_C(1) << 62) / 10)
                return -1;
            n = n * 10 + (uint64_t)(v[i++] - '0');
            digits++;
        }
        if (digits == 0 || (*out >= 0 && (uint64_t)*out != n))
            return -1;
        *out = (int64_t)n;
        i = http_skip_ows(v, len, i);
        if (i < len && v[i++] != ',')
            return -1;
        i = http_skip_ows(v, len, i);
    }
    return 0;
}

/* Calls fn for each element of a list-valued field (RFC 9110 5.6.1).
 * Returns how many elements there were. */
static int conn_each_token(const char *v, size_t len, void (*fn)(void *, const char *, size_t),
                           void *arg)
{
    struct http_list list = http_list_of(v, len);
    size_t off, n;
    int count = 0;

    while (http_list_next(&list, &off, &n)) {
        fn(arg, v + off, n);
        count++;
    }
    return count;
}

struct conn_head_facts {
    int conn_close, conn_keep;
    int te_chunked, te_other, te_bad;
};

static void conn_token_connection(void *arg, const char *t, size_t n)
{
    struct conn_head_facts *f = arg;

    if (n == 5 && strncasecmp(t, "close", 5) == 0)
        f->conn_close = 1;
    else if (n == 10 && strncasecmp(t, "keep-alive", 10) == 0)
        f->conn_keep = 1;
}

static void conn_token_te(void *arg, const char *t, size_t n)
{
    struct conn_head_facts *f = arg;

    /* chunked must be the last coding, and only once (RFC 9112 6.1). */
    if (f->te_chunked)
        f->te_bad = 1;
    if (n == 7 && strncasecmp(t, "chunked", 7) == 0) {
        f->te_chunked = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)t[i]))
            f->te_bad = 1;
    f->te_other = 1;
}

/* Keep a copy of field value v (the head leaves the input buffer before an
 * upload's body is read); a list field sent on several lines is joined with
 * ", " (RFC 9110 5.3). Returns 0, or -1 when the arena is full. */
static int conn_keep_list(struct arena *a, const char **p, uint16_t *plen, const char *v, size_t vl)
{
    size_t old = *p ? *plen + 2u : 0;
    char *s = arena_alloc(a, old + vl + 1);

    if (!s)
        return -1;
    if (*p) {
        memcpy(s, *p, *plen);
        memcpy(s + *plen, ", ", 2);
    }
    memcpy(s + old, v, vl);
    s[old + vl] = '\0';
    *p = s;
    *plen = (uint16_t)(old + vl);
    return 0;
}

/* A date field: valid once, or ignored (-1) when invalid or repeated. */
static void conn_keep_date(int64_t *t, const char *v, size_t vl)
{
    *t = *t == COND_DATE_ABSENT ? http_date_parse(v, vl) : -1;
}

/* If h is a conditional or Range field, keep it in c->blk->cond. A repeated
 * Range or If-Range is joined like a list, which no longer parses: the
 * field is then ignored, as an invalid one must be. Returns 0, or -1 when
 * there is no room. */
static int conn_keep_conditional(struct conn *c, const char *buf, const struct http_header *h)
{
    struct conn_block *b = c->blk;
    struct cond_request *r = &b->cond;
    const char *v = buf + h->value.off;
    size_t vl = h->value.len;
    char first = buf[h->name.off];

    if (first != 'i' && first != 'I' && first != 'r' && first != 'R')
        return 0;
    if (http_slice_ieq(buf, h->name, "if-none-match"))
        return conn_keep_list(&b->arena, &r->if_none_match, &r->if_none_match_len, v, vl);
    if (http_slice_ieq(buf, h->name, "if-match"))
        return conn_keep_list(&b->arena, &r->if_match, &r->if_match_len, v, vl);
    if (http_slice_ieq(buf, h->name, "range"))
        return conn_keep_list(&b->arena, &r->range, &r->range_len, v, vl);
    if (http_slice_ieq(buf, h->name, "if-range"))
        return conn_keep_list(&b->arena, &r->if_range, &r->if_range_len, v, vl);
    if (http_slice_ieq(buf, h->name, "if-modified-since"))
        conn_keep_date(&r->if_modified_since, v, vl);
    else if (http_slice_ieq(buf, h->name, "if-unmodified-since"))
        conn_keep_date(&r->if_unmodified_since, v, vl);
    return 0;
}

/* Sets framing and per-request flags from the headers. 0 or an error status. */
int conn_analyze(struct conn *c, const char *buf)
{
    const struct http_request *r = &c->blk->req;
    struct conn_head_facts f = {0};
    const char *ae[HTTP_MAX_HEADERS];
    size_t ae_len[HTTP_MAX_HEADERS], nae = 0;
    int64_t length = -1;
    int hosts = 0, host_bad = 0, expect_continue = 0, expect_other = 0;

    for (int i = 0; i < r->nheaders; i++) {
        const struct http_header *h = &r->headers[i];
        const char *v = buf + h->value.off;
        size_t vl = h->value.len;

        if (http_slice_ieq(buf, h->name, "content-length")) {
            if (conn_parse_length(v, vl, &length) < 0)
                return 400;
        } else if (http_slice_ieq(buf, h->name, "transfer-encoding")) {
            /* A field with no coding at all ("", ", ,") leaves the framing
             * unknown, whatever other fields say (RFC 9112 6.3). */
            if (conn_each_token(v, vl, conn_token_te, &f) == 0)
                f.te_bad = 1;
        } else if (http_slice_ieq(buf, h->name, "connection")) {
            conn_each_token(v, vl, conn_token_connection, &f);
        } else if (http_slice_ieq(buf, h->name, "host")) {
            hosts++;
            host_bad |= !uri_host_ok(v, vl);
        } else if (http_slice_ieq(buf, h->name, "expect")) {
            if (vl == 12 && strncasecmp(v, "100-continue", 12) == 0)
                expect_continue = 1;
            else
                expect_other = 1;
        } else if (http_slice_ieq(buf, h->name, "accept-encoding")) {
            ae[nae] = v;
            ae_len[nae++] = vl;
        } else if (conn_keep_conditional(c, buf, h) < 0) {
            return 500;
        }
    }

    /* Host: exactly one, valid; HTTP/1.0 may omit it (RFC 9112 3.2). */
    if (hosts > 1 || host_bad || (hosts == 0 && r->version_minor >= 1) || f.te_bad ||
        (f.te_chunked && length >= 0) || (f.te_other && length >= 0))
        return 400;
    if (f.te_other)
        return 501;
    if (r->version_minor == 0)
        c->rflags |= f.conn_keep && !f.conn_close && !f.te_chunked ? CONN_REQ_KEEP : 0;
    else
        c->rflags |= f.conn_close ? 0 : CONN_REQ_KEEP;
    if (c->flags & CONN_FLAG_DRAINING)
        c->rflags &= (uint8_t)~CONN_REQ_KEEP;
    if (nae && gzip_accepted_list(ae, ae_len, nae))
        c->rflags |= CONN_REQ_GZIP;
    if (r->method == HTTP_METHOD_HEAD)
        c->rflags |= CONN_REQ_HEAD;

    if (f.te_chunked) {
        c->body_kind = BODY_CHUNKED;
        chunked_init(&c->chunk);
    } else if (length > 0) {
        c->body_kind = BODY_LENGTH;
        c->body_left = (uint64_t)length;
    } else {
        c->body_kind = BODY_NONE;
        c->rflags |= CONN_REQ_BODY_DONE;
    }
    if (r->version_minor >= 1 && expect_other)
        return 417;
    if (r->version_minor >= 1 && expect_continue && c->body_kind != BODY_NONE)
        c->rflags |= CONN_REQ_CONTINUE;
    if (c->body_kind == BODY_LENGTH && c->body_left > c->ctx->max_body)
        return 413;
    return 0;
}

/* What arrived of the request line, unparsed: the input after the empty
 * lines a client may send before it (RFC 9112 2.2), up to CR, LF or the end. */
const char *conn_raw_line(const struct conn *c, size_t *len)
{
    const char *in = c->blk->in + c->in_off, *end = in + c->in_len;

    while (in < end && (*in == '\n' || (*in == '\r' && in + 1 < end && in[1] == '\n')))
        in += *in == '\r' ? 2 : 1;
    const char *cr = memchr(in, '\r', (size_t)(end - in)),
               *lf = memchr(in, '\n', (size_t)(end - in));
    *len = cr && (!lf || cr < lf) ? (size_t)(cr - in) : lf ? (size_t)(lf - in) : (size_t)(end - in);
    return in;
}

/* Whether the request is a HEAD, whose answer has no body: also when the
 * error came before its head was parsed (a bad request line, a missing
 * Host), as far as what arrived of the request line says. */
bool conn_is_head(const struct conn *c)
{
    const struct conn_block *b = c->blk;

    size_t len;
    const char *line;

    if (b->req.in_headers) /* the request line was parsed */
        return b->req.method == HTTP_METHOD_HEAD;
    line = conn_raw_line(c, &len);
    return len >= 5 && memcmp(line, "HEAD ", 5) == 0;
}
