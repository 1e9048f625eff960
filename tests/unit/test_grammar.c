/* test_grammar.c - the RFC 9110 character classes and list rule of
 * http/parse.h, checked for all 256 bytes against a literal reading of the
 * ABNF, and the parsers that use them checked to agree with each other: the
 * request head (parse.c), chunk extensions and trailers (chunked.c) and
 * Accept-Encoding (gzip.c) accept a byte exactly where the grammar does. */
#include "check.h"
#include "http/chunked.h"
#include "http/gzip.h"
#include "http/parse.h"

/* The ABNF of RFC 9110 section 5.6, spelled as the RFC spells it. */
static bool rfc_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool rfc_ows(int c)
{
    return c == 0x20 || c == 0x09;
}

static bool rfc_field_char(int c) /* SP / HTAB / VCHAR / obs-text */
{
    return c == 0x20 || c == 0x09 || (c >= 0x21 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

static bool rfc_qdtext(int c) /* HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
{
    return c == 0x09 || c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

static void test_classes_every_byte(void)
{
    for (int c = 0; c < 256; c++) {
        CHECK_INT_EQ(http_is_tchar((unsigned char)c), rfc_tchar(c));
        CHECK_INT_EQ(http_is_ows((unsigned char)c), rfc_ows(c));
        CHECK_INT_EQ(http_is_field_char((unsigned char)c), rfc_field_char(c));
        CHECK_INT_EQ(http_is_qdtext((unsigned char)c), rfc_qdtext(c));
    }
}

/* 1 when the head s[0..n) parses completely, 0 when it is refused. */
static int head_ok(const char *s, size_t n)
{
    struct http_request r;

    http_request_reset(&r);
    int rc = http_parse_request(&r, s, n);
    CHECK(rc != -2);
    return rc > 0;
}

/* 1 when the chunked body s[0..n) decodes to DONE, 0 when it is refused. */
static int chunked_ok(const char *s, size_t n)
{
    struct chunked c;
    size_t pos = 0, used, off, len;

    chunked_init(&c);
    for (;;) {
        enum chunked_result rc = chunked_decode(&c, s + pos, n - pos, &used, &off, &len);
        pos += used;
        if (rc == CHUNKED_DONE)
            return 1;
        if (rc == CHUNKED_ERROR)
            return 0;
        CHECK(rc == CHUNKED_DATA);
    }
}

/* A header field value and a trailer field value take the same bytes; so do
 * a header name and a trailer name. */
static void test_fields_agree_every_byte(void)
{
    char buf[128];

    for (int c = 0; c < 256; c++) {
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: a%cb\r\n\r\n", c);
        int head = head_ok(buf, (size_t)n);
        n = snprintf(buf, sizeof(buf), "0\r\nX: a%cb\r\n\r\n", c);
        int trailer = chunked_ok(buf, (size_t)n);
        if (head != trailer || head != (int)rfc_field_char(c))
            CHECK_FAIL_("value byte 0x%02x: head %d, trailer %d", c, head, trailer);

        /* "X:Y: v" is the field X with the value "Y: v" in both. */
        int want = rfc_tchar(c) || c == ':';
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX%cY: v\r\n\r\n", c);
        head = head_ok(buf, (size_t)n);
        n = snprintf(buf, sizeof(buf), "0\r\nX%cY: v\r\n\r\n", c);
        trailer = chunked_ok(buf, (size_t)n);
        if (head != trailer || head != want)
            CHECK_FAIL_("name byte 0x%02x: head %d, trailer %d", c, head, trailer);
    }
}

/* A quoted-string takes the same bytes in a chunk extension as in an
 * Accept-Encoding parameter: qdtext, and any field byte after '\'. */
static void test_quoted_strings_agree_every_byte(void)
{
    char buf[128];

    for (int c = 0; c < 256; c++) {
        int n = snprintf(buf, sizeof(buf), "1;a=\"%c\"\r\nx\r\n0\r\n\r\n", c);
        int ext = chunked_ok(buf, (size_t)n);
        n = snprintf(buf, sizeof(buf), "gzip;a=\"%c\"", c);
        int ae = gzip_accepted(buf, (size_t)n);
        if (ext != ae || ext != (int)rfc_qdtext(c))
            CHECK_FAIL_("qdtext byte 0x%02x: chunk-ext %d, accept-encoding %d", c, ext, ae);
        /* For '"' the string is the empty "" and one more quote follows. */
        CHECK_INT_EQ(http_skip_quoted(buf, (size_t)n, 7), rfc_qdtext(c) ? 10 : c == '"' ? 9 : 0);

        n = snprintf(buf, sizeof(buf), "1;a=\"\\%c\"\r\nx\r\n0\r\n\r\n", c);
        ext = chunked_ok(buf, (size_t)n);
        n = snprintf(buf, sizeof(buf), "gzip;a=\"\\%c\"", c);
        ae = gzip_accepted(buf, (size_t)n);
        if (ext != ae || ext != (int)rfc_field_char(c))
            CHECK_FAIL_("quoted-pair byte 0x%02x: chunk-ext %d, accept-encoding %d", c, ext, ae);
    }
}

/* Every element of s, joined by "|". */
static const char *list_elements(const char *s)
{
    static char out[256];
    struct http_list l = http_list_of(s, strlen(s));
    size_t off, n, used = 0;

    out[0] = '\0';
    while (http_list_next(&l, &off, &n)) {
        CHECK(used + n + 2 < sizeof(out));
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s", used ? "|" : "", (int)n,
                                 s + off);
    }
    return out;
}

static void test_list_rule(void)
{
    CHECK(strcmp(list_elements(""), "") == 0);
    CHECK(strcmp(list_elements(" ,\t, ,"), "") == 0);
    CHECK(strcmp(list_elements("a"), "a") == 0);
    CHECK(strcmp(list_elements("a, b ,c\t"), "a|b|c") == 0);
    CHECK(strcmp(list_elements(",,a,,\t,b c,"), "a|b c") == 0);
    /* A comma inside a quoted-string does not separate elements. */
    CHECK(strcmp(list_elements("a;x=\"1,2\", b"), "a;x=\"1,2\"|b") == 0);
    CHECK(strcmp(list_elements("\"x\\\",y\", z"), "\"x\\\",y\"|z") == 0);
    /* An unterminated one is ordinary bytes: the element still ends at ','. */
    CHECK(strcmp(list_elements("a=\"x, b"), "a=\"x|b") == 0);
}

static void test_skips(void)
{
    const char *s = " \t tok-en\"q\\\"d\"  ";
    size_t len = strlen(s);

    CHECK_INT_EQ(http_skip_ows(s, len, 0), 3);
    CHECK_INT_EQ(http_skip_ows(s, len, 3), 3);
    CHECK_INT_EQ(http_skip_token(s, len, 3), 9);
    CHECK_INT_EQ(http_skip_quoted(s, len, 9), 15);
    CHECK_INT_EQ(http_skip_ows(s, len, 15), len);
    CHECK_INT_EQ(http_skip_quoted("\"abc", 4, 0), 0);
    CHECK_INT_EQ(http_skip_quoted("\"abc\\", 5, 0), 0);
    CHECK_INT_EQ(http_skip_quoted("\"\"", 2, 0), 2);
}

int main(void)
{
    test_classes_every_byte();
    test_fields_agree_every_byte();
    test_quoted_strings_agree_every_byte();
    test_list_rule();
    test_skips();
    return 0;
}
