/* test_parse.c - the request-head parser, fed whole, byte by byte and split
 * at every point; each input sits right before a guard page so that reading
 * one byte too far faults (picohttpparser's test.c does the same). */
#include "check.h"
#include "http/parse.h"

/* Parse s fed in pieces: first `split` bytes, then the rest one call per
 * `step` bytes (the parser is given the growing prefix each time, as a
 * receive buffer grows). Returns the final result. */
static int parse_fed(struct http_request *r, const char *s, size_t len, size_t split, size_t step)
{
    int ret = -2;
    size_t have = split;

    http_request_reset(r);
    for (;;) {
        if (have > len)
            have = len;
        ret = http_parse_request(r, check_guarded(s, have), have);
        if (ret != -2 || have == len)
            return ret;
        have += step ? step : len;
    }
}

static const char *hdr_value(const struct http_request *r, const char *buf, const char *name)
{
    static char out[256];
    const struct http_header *h = http_request_header(r, buf, name, NULL);

    if (!h)
        return NULL;
    memcpy(out, buf + h->value.off, h->value.len);
    out[h->value.len] = '\0';
    return out;
}

static void test_simple_every_split(void)
{
    static const char req[] = "GET /echo/abc HTTP/1.1\r\n"
                              "Host: localhost:4221\r\n"
                              "User-Agent:   curl/8.0  \r\n"
                              "Accept-Encoding: gzip\r\n"
                              "\r\n";
    size_t len = sizeof(req) - 1;

    for (size_t split = 0; split <= len; split++) {
        for (size_t step = 1; step <= 2; step++) {
            struct http_request r;
            int n = parse_fed(&r, req, len, split, step);
            CHECK_INT_EQ(n, len);
            const char *buf = check_guarded(req, len);
            CHECK_INT_EQ(r.method, HTTP_METHOD_GET);
            CHECK_MEM_EQ(buf + r.target.off, r.target.len, "/echo/abc");
            CHECK_MEM_EQ(buf + r.line.off, r.line.len, "GET /echo/abc HTTP/1.1");
            CHECK_INT_EQ(r.version_minor, 1);
            CHECK_INT_EQ(r.nheaders, 3);
            CHECK_STR_EQ(hdr_value(&r, buf, "user-agent"), "curl/8.0");
            CHECK_STR_EQ(hdr_value(&r, buf, "HOST"), "localhost:4221");
            CHECK_STR_EQ(hdr_value(&r, buf, "Accept-Encoding"), "gzip");
        }
    }
}

/* Bytes after the head (a body or the next pipelined request) are not read. */
static void test_head_length_with_trailing_bytes(void)
{
    static const char req[] =
        "POST /files/x HTTP/1.0\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n";
    size_t head = strlen("POST /files/x HTTP/1.0\r\nContent-Length: 5\r\n\r\n");
    size_t len = sizeof(req) - 1;

    for (size_t split = 0; split <= len; split++) {
        struct http_request r;
        int n = parse_fed(&r, req, len, split, 1);
        CHECK_INT_EQ(n, head);
        CHECK_INT_EQ(r.method, HTTP_METHOD_POST);
        CHECK_INT_EQ(r.version_minor, 0);
    }
}

static void test_leading_empty_lines(void)
{
    static const char req[] = "\r\n\r\nHEAD / HTTP/1.1\r\n\r\n";
    size_t len = sizeof(req) - 1;

    for (size_t split = 0; split <= len; split++) {
        struct http_request r;
        CHECK_INT_EQ(parse_fed(&r, req, len, split, 1), len);
        CHECK_INT_EQ(r.method, HTTP_METHOD_HEAD);
        CHECK_INT_EQ(r.nheaders, 0);
    }
}

static void test_methods_and_versions(void)
{
    static const struct {
        const char *req;
        int method;
        int minor;
    } ok[] = {
        {"GET / HTTP/1.1\r\n\r\n", HTTP_METHOD_GET, 1},
        {"PUT / HTTP/1.0\r\n\r\n", HTTP_METHOD_PUT, 0},
        {"DELETE / HTTP/1.1\r\n\r\n", HTTP_METHOD_DELETE, 1},
        {"OPTIONS * HTTP/1.1\r\n\r\n", HTTP_METHOD_OPTIONS, 1},
        {"get / HTTP/1.1\r\n\r\n", HTTP_METHOD_UNKNOWN, 1}, /* methods are case-sensitive */
        {"PATCH / HTTP/1.9\r\n\r\n", HTTP_METHOD_PATCH, 1},
        {"BREW / HTTP/1.1\r\n\r\n", HTTP_METHOD_UNKNOWN, 1},
        {"TRACE / HTTP/1.1\r\n\r\n", HTTP_METHOD_TRACE, 1},
        {"CONNECT h:1 HTTP/1.1\r\n\r\n", HTTP_METHOD_CONNECT, 1},
        {"GET http://h/x?y HTTP/1.1\r\n\r\n", HTTP_METHOD_GET, 1},
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct http_request r;
        size_t len = strlen(ok[i].req);
        CHECK_INT_EQ(parse_fed(&r, ok[i].req, len, len, 0), len);
        CHECK_INT_EQ(r.method, ok[i].method);
        CHECK_INT_EQ(r.version_minor, ok[i].minor);
    }
}

/* Each bad input fails with its status whatever the split. */
static void test_errors_every_split(void)
{
    static const struct {
        const char *req;
        size_t len;
        int status;
    } bad[] = {
#define BAD(s, status) {s, sizeof(s) - 1, status}
        BAD("\x00\x01\xff\xfe", 400),
        BAD("HELLO\r\n\r\n", 400),
        BAD("GET /\r\n\r\n", 400),
        BAD("GET / HTTP/1.1 \r\n\r\n", 400),
        BAD("GET  / HTTP/1.1\r\n\r\n", 400),
        BAD(" GET / HTTP/1.1\r\n\r\n", 400),
        BAD("GET / HTTP/2.0\r\n\r\n", 505),
        BAD("GET / HTTP/0.9\r\n\r\n", 505),
        BAD("GET / HTTP/1.x\r\n\r\n", 400),
        BAD("GET / http/1.1\r\n\r\n", 400),
        BAD("GET /a\tb HTTP/1.1\r\n\r\n", 400),
        BAD("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\nHost: x\n\n", 400), /* bare LF */
        BAD("GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400), /* bare CR */
        BAD("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),   /* space before colon */
        BAD("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\n: empty\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nX: a\x00"
            "b\r\n\r\n",
            400),
        BAD("GET / HTTP/1.1\r\nX: a\x01"
            "b\r\n\r\n",
            400),
        BAD("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nX(: a\r\n\r\n", 400),
#undef BAD
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = bad[i].len;
        for (size_t split = 1; split <= len; split++) {
            struct http_request r;
            int n = parse_fed(&r, bad[i].req, len, split, 1);
            if (n != -1 || r.error != bad[i].status)
                CHECK_FAIL_("case %zu split %zu: ret %d status %d, want -1/%d", i, split, n,
                            r.error, bad[i].status);
        }
    }
}

/* Garbage is refused as soon as it arrives, before any CRLF. */
static void test_early_rejection(void)
{
    struct http_request r;

    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("\x16\x03\x01", 3), 3), -1); /* TLS hello */
    CHECK_INT_EQ(r.error, 400);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("GET / HTTP/1.1\r\nBad Name", 24), 24), -1);
    /* A CR that ended one read and is followed by anything but LF in the
     * next is bare, whatever the split (found by fuzz_parse). */
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("GET / HTTP/1.1\r\nHost: a\r", 24), 24), -2);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("GET / HTTP/1.1\r\nHost: a\rb", 25), 25), -1);
    CHECK_INT_EQ(r.error, 400);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("GET", 3), 3), -2);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded("GET / HTTP/1.1\r\nHost", 20), 20), -2);
}

static void test_limits(void)
{
    static char big[3 * 4096];
    struct http_request r;
    size_t n;

    /* A request line longer than the head limit: 414, with or without CRLF. */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', HTTP_MAX_HEAD);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded(big, HTTP_MAX_HEAD), HTTP_MAX_HEAD), -1);
    CHECK_INT_EQ(r.error, 414);
    n = 5 + HTTP_MAX_HEAD;
    memcpy(big + n, " HTTP/1.1\r\n\r\n", 13);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded(big, n + 13), n + 13), -1);
    CHECK_INT_EQ(r.error, 414);

    /* One huge header: 431. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + n, 'b', HTTP_MAX_HEAD);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded(big, n + HTTP_MAX_HEAD), n + HTTP_MAX_HEAD),
                 -1);
    CHECK_INT_EQ(r.error, 431);

    /* Exactly at the limit is fine. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
    size_t fill = HTTP_MAX_HEAD - n - 4;
    memset(big + n, 'c', fill);
    memcpy(big + n + fill, "\r\n\r\n", 4);
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded(big, HTTP_MAX_HEAD), HTTP_MAX_HEAD),
                 HTTP_MAX_HEAD);

    /* Too many header lines: 431. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        n += (size_t)sprintf(big + n, "H%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, check_guarded(big, n), n), -1);
    CHECK_INT_EQ(r.error, 431);
}

static void test_header_iteration(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nA: 1\r\nb: 2\r\na: 3\r\nEmpty:\r\n\r\n";
    size_t len = sizeof(req) - 1;
    const char *buf = check_guarded(req, len);
    struct http_request r;
    int it = 0;

    http_request_reset(&r);
    CHECK_INT_EQ(http_parse_request(&r, buf, len), len);
    const struct http_header *h = http_request_header(&r, buf, "a", &it);
    CHECK(h && buf[h->value.off] == '1');
    h = http_request_header(&r, buf, "a", &it);
    CHECK(h && buf[h->value.off] == '3');
    CHECK(http_request_header(&r, buf, "a", &it) == NULL);
    h = http_request_header(&r, buf, "empty", NULL);
    CHECK(h && h->value.len == 0);
}

int main(void)
{
    test_simple_every_split();
    test_head_length_with_trailing_bytes();
    test_leading_empty_lines();
    test_methods_and_versions();
    test_errors_every_split();
    test_early_rejection();
    test_limits();
    test_header_iteration();
    printf("test_parse: ok\n");
    return 0;
}
