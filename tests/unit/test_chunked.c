/* test_chunked.c - the chunked decoder on valid and malformed framing, fed
 * whole, byte by byte and split at every point. Each piece is copied to a
 * heap block of its exact size so that an over-read shows under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/chunked.h"

#define DATA_CAP 65536

struct outcome {
    enum chunked_result result; /* DONE, ERROR, or NEED_MORE when input ran out */
    size_t end_pos;             /* input bytes consumed in all */
    char data[DATA_CAP];
    size_t data_len;
    uint64_t total;
};

/* Decode in[0..len) handed over in pieces that end at cuts[0..ncuts), then at len. */
static void feed(const char *in, size_t len, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    struct chunked c;
    size_t start = 0;

    chunked_init(&c);
    o->result = CHUNKED_NEED_MORE;
    o->data_len = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t piece_len = end - start;
        char *piece = malloc(piece_len ? piece_len : 1);
        size_t off = 0;

        CHECK(piece != NULL);
        memcpy(piece, in + start, piece_len);
        for (;;) {
            size_t consumed = 99999, doff = 99999, dlen = 99999;
            enum chunked_result r =
                chunked_decode(&c, piece + off, piece_len - off, &consumed, &doff, &dlen);
            CHECK(consumed <= piece_len - off);
            if (r == CHUNKED_DATA) {
                CHECK(dlen > 0);
                CHECK(doff + dlen <= consumed);
                CHECK(o->data_len + dlen <= DATA_CAP);
                memcpy(o->data + o->data_len, piece + off + doff, dlen);
                o->data_len += dlen;
                off += consumed;
                continue;
            }
            off += consumed;
            if (r == CHUNKED_NEED_MORE) {
                CHECK_INT_EQ(off, piece_len);
                break;
            }
            o->result = r;
            o->end_pos = start + off;
            o->total = c.total;
            free(piece);
            return;
        }
        free(piece);
        start = end;
    }
    o->end_pos = len;
    o->total = c.total;
}

static struct outcome whole, split;

static void check_same(const struct outcome *a, const struct outcome *b, const char *what,
                       size_t cut1, size_t cut2)
{
    if (a->result != b->result || a->data_len != b->data_len ||
        memcmp(a->data, b->data, a->data_len) != 0 ||
        (a->result == CHUNKED_DONE && a->end_pos != b->end_pos))
        CHECK_FAIL_("%s: split at %zu/%zu differs: result %d/%d, data %zu/%zu, end %zu/%zu", what,
                    cut1, cut2, (int)a->result, (int)b->result, a->data_len, b->data_len,
                    a->end_pos, b->end_pos);
}

/* The outcome of in must not depend on how it is split. */
static void check_all_splits(const char *in, size_t len)
{
    static size_t cuts[DATA_CAP];

    feed(in, len, NULL, 0, &whole);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    feed(in, len, cuts, len > 0 ? len - 1 : 0, &split);
    check_same(&whole, &split, "byte by byte", 0, 0);
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        feed(in, len, cuts, 1, &split);
        check_same(&whole, &split, "two pieces", i, i);
    }
    if (len > 128)
        return;
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            cuts[0] = i;
            cuts[1] = j;
            feed(in, len, cuts, 2, &split);
            check_same(&whole, &split, "three pieces", i, j);
        }
    }
}

static void expect_done(const char *in, size_t len, const char *data, size_t data_len,
                        size_t done_pos)
{
    check_all_splits(in, len);
    if (whole.result != CHUNKED_DONE)
        CHECK_FAIL_("expected DONE for \"%.*s\", got %d", (int)len, in, (int)whole.result);
    CHECK_INT_EQ(whole.data_len, data_len);
    CHECK(memcmp(whole.data, data, data_len) == 0);
    CHECK_INT_EQ(whole.total, whole.data_len);
    CHECK_INT_EQ(whole.end_pos, done_pos);
}

static void expect_error(const char *in, size_t len)
{
    check_all_splits(in, len);
    if (whole.result != CHUNKED_ERROR)
        CHECK_FAIL_("expected ERROR for \"%.*s\", got %d", (int)len, in, (int)whole.result);
}

#define DONE_STR(in, data) expect_done(in, sizeof(in) - 1, data, strlen(data), sizeof(in) - 1)
#define ERROR_STR(in) expect_error(in, sizeof(in) - 1)

static void test_valid(void)
{
    DONE_STR("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
             "Wikipedia in\r\n\r\nchunks.");
    DONE_STR("0\r\n\r\n", "");
    DONE_STR("000a\r\n0123456789\r\n00\r\n\r\n", "0123456789");
    DONE_STR("1f\r\nabcdefghijklmnopqrstuvwxyzABCDE\r\n"
             "1F\r\nFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
             "0\r\n\r\n",
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    /* data bytes are opaque: CR, LF, NUL inside a chunk are fine */
    static const char opaque[] = "3\r\n\r\n\0\r\n0\r\n\r\n";
    expect_done(opaque, sizeof(opaque) - 1, "\r\n\0", 3, sizeof(opaque) - 1);
}

static void test_extensions(void)
{
    DONE_STR("5;name=val\r\nhello\r\n6 ; a ;b= \"q\\\"x;\\\\\" ; c\r\n world\r\n0;last\r\n\r\n",
             "hello world");
    DONE_STR("1;a=\"\"\r\nx\r\n0;z=\"\t\x80\xff\"\r\n\r\n", "x");
    DONE_STR("1\t;\ta\t=\tb\r\nx\r\n0\r\n\r\n", "x");
}

static void test_trailers(void)
{
    DONE_STR("2\r\nab\r\n0\r\nX-Trailer: yes\r\nX-Empty:\r\nX-Other:\t v \x80\r\n\r\n", "ab");
    /* DONE stops at the end of the message; the rest is the next request */
    static const char two[] = "1\r\nz\r\n0\r\nA: b\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    expect_done(two, sizeof(two) - 1, "z", 1, sizeof(two) - 1 - strlen("GET / HTTP/1.1\r\n\r\n"));
    static const char pipelined[] = "0\r\n\r\n0\r\n\r\n";
    expect_done(pipelined, sizeof(pipelined) - 1, "", 0, 5);
}

static void test_bad_size(void)
{
    ERROR_STR("g\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1g\r\nx\r\n0\r\n\r\n");
    ERROR_STR("\r\n");
    ERROR_STR(";a\r\nx\r\n");
    ERROR_STR(" 1\r\nx\r\n");
    ERROR_STR("0x1\r\nx\r\n0\r\n\r\n");
    ERROR_STR("-1\r\nx\r\n");
    ERROR_STR("+1\r\nx\r\n");
    ERROR_STR("1 0\r\nx\r\n");
    ERROR_STR("1 \r\nx\r\n0\r\n\r\n");
    ERROR_STR("1\0\r\nx\r\n");
    ERROR_STR("\0");
    ERROR_STR("1;a\0\r\nx\r\n");
    /* 2^60 + 1, 17 significant digits, 2^64 - 1 and 2^64 */
    ERROR_STR("1000000000000001\r\n");
    ERROR_STR("10000000000000000\r\n");
    ERROR_STR("FFFFFFFFFFFFFFFF\r\n");
    ERROR_STR("ffffffffffffffffffff\r\n");
}

static void test_size_limits(void)
{
    struct chunked c;
    size_t consumed, off, len;
    static const char max[] = "1000000000000000\r\n";
    static const char zeros[] = "00000000000000000000000000000001\r\nx\r\n0\r\n\r\n";

    /* exactly 2^60 is accepted (and then left to the caller's limit) */
    chunked_init(&c);
    CHECK_INT_EQ(chunked_decode(&c, max, sizeof(max) - 1, &consumed, &off, &len),
                 CHUNKED_NEED_MORE);
    CHECK(c.remaining == UINT64_C(1) << 60);
    /* leading zeros are not significant digits */
    DONE_STR(zeros, "x");
}

static void test_bad_extensions(void)
{
    char line[CHUNKED_MAX_LINE + 64];
    size_t n;

    ERROR_STR("1;\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;=a\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=b c\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=\"b\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=\"b\"c\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=\"\x01\"\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a=\"\\\x7f\"\r\nx\r\n0\r\n\r\n");
    ERROR_STR("1;a@b\r\nx\r\n0\r\n\r\n");

    /* the whole size line, CRLF included, is bounded by CHUNKED_MAX_LINE */
    n = (size_t)sprintf(line, "1;");
    memset(line + n, 'a', CHUNKED_MAX_LINE - 4);
    n += CHUNKED_MAX_LINE - 4;
    n += (size_t)sprintf(line + n, "\r\nx\r\n0\r\n\r\n");
    expect_done(line, n, "x", 1, n);

    n = (size_t)sprintf(line, "1;");
    memset(line + n, 'a', CHUNKED_MAX_LINE - 3);
    n += CHUNKED_MAX_LINE - 3;
    n += (size_t)sprintf(line + n, "\r\nx\r\n0\r\n\r\n");
    expect_error(line, n);
}

static void test_line_ends(void)
{
    ERROR_STR("1\nx\r\n0\r\n\r\n");
    ERROR_STR("1\rx\r\n0\r\n\r\n");
    ERROR_STR("1;a\nx\r\n0\r\n\r\n");
    ERROR_STR("1\r\nx\n0\r\n\r\n");
    ERROR_STR("1\r\nx\r0\r\n\r\n");
    ERROR_STR("0\n\r\n");
    ERROR_STR("0\r\n\n");
    ERROR_STR("0\r\n\r\r");
    ERROR_STR("0\r\nA: b\n\r\n");
    ERROR_STR("0\r\nA: b\r\r\n");
}

static void test_missing_crlf_after_data(void)
{
    /* the declared 3 bytes are delivered, the 4th is where CRLF must be */
    ERROR_STR("3\r\nabcd\r\n0\r\n\r\n");
    CHECK_MEM_EQ(whole.data, whole.data_len, "abc");
    ERROR_STR("3\r\nabc0\r\n\r\n");
    ERROR_STR("3\r\nabc\n\r\n0\r\n\r\n");
    ERROR_STR("3\r\nabcd\n0\r\n\r\n");
    ERROR_STR("3\r\nabc\n\n0\r\n\r\n");
}

static void test_bad_trailers(void)
{
    ERROR_STR("0\r\nA: b\r\n c\r\n\r\n");
    ERROR_STR("0\r\nA: b\r\n\tc\r\n\r\n");
    ERROR_STR("0\r\n A: b\r\n\r\n");
    ERROR_STR("0\r\nA : b\r\n\r\n");
    ERROR_STR("0\r\n: b\r\n\r\n");
    ERROR_STR("0\r\nAb\r\n\r\n");
    ERROR_STR("0\r\nA: b\0\r\n\r\n");
    ERROR_STR("0\r\nA: \x7f\r\n\r\n");
    ERROR_STR("0\r\nA: \x1b\r\n\r\n");
}

/* "0\r\n", then trailer lines of at most 199 bytes making a trailer section
 * (final CRLF included) of exactly section_len bytes. Returns the length. */
static size_t build_trailers(char *in, size_t section_len)
{
    size_t n = (size_t)sprintf(in, "0\r\n");
    size_t left = section_len - 2;

    while (left > 0) {
        size_t line = left >= 200 ? 100 : left;
        CHECK(line >= 4);
        memcpy(in + n, "X:", 2);
        memset(in + n + 2, 'v', line - 4);
        memcpy(in + n + line - 2, "\r\n", 2);
        n += line;
        left -= line;
    }
    memcpy(in + n, "\r\n", 2);
    return n + 2;
}

static void test_trailer_limits(void)
{
    static char in[CHUNKED_MAX_TRAILERS + 4096];
    size_t n;

    n = build_trailers(in, CHUNKED_MAX_TRAILERS);
    expect_done(in, n, "", 0, n);
    n = build_trailers(in, CHUNKED_MAX_TRAILERS + 1);
    expect_error(in, n);

    /* a single trailer line longer than CHUNKED_MAX_LINE */
    n = (size_t)sprintf(in, "0\r\nX: ");
    memset(in + n, 'v', CHUNKED_MAX_LINE);
    n += CHUNKED_MAX_LINE;
    n += (size_t)sprintf(in + n, "\r\n\r\n");
    expect_error(in, n);
}

static void test_data_across_calls(void)
{
    struct chunked c;
    size_t consumed, off, len;
    static const char a[] = "a;x=y\r\n0123";
    static const char b[] = "456789\r\n0\r\n\r\n";

    chunked_init(&c);
    /* after the size line, remaining holds the declared size */
    CHECK_INT_EQ(chunked_decode(&c, a, 7, &consumed, &off, &len), CHUNKED_NEED_MORE);
    CHECK_INT_EQ(consumed, 7);
    CHECK_INT_EQ(c.remaining, 10);
    CHECK_INT_EQ(c.total, 0);

    CHECK_INT_EQ(chunked_decode(&c, a + 7, 4, &consumed, &off, &len), CHUNKED_DATA);
    CHECK_INT_EQ(consumed, 4);
    CHECK_MEM_EQ(a + 7 + off, len, "0123");
    CHECK_INT_EQ(c.remaining, 6);
    CHECK_INT_EQ(c.total, 4);

    CHECK_INT_EQ(chunked_decode(&c, b, sizeof(b) - 1, &consumed, &off, &len), CHUNKED_DATA);
    CHECK_INT_EQ(consumed, 6);
    CHECK_MEM_EQ(b + off, len, "456789");
    CHECK_INT_EQ(c.total, 10);
    CHECK_INT_EQ(c.remaining, 0);
    CHECK_INT_EQ(chunked_decode(&c, b + 6, sizeof(b) - 1 - 6, &consumed, &off, &len), CHUNKED_DONE);
    CHECK_INT_EQ(consumed, sizeof(b) - 1 - 6);
    /* DONE and ERROR are sticky */
    CHECK_INT_EQ(chunked_decode(&c, "1\r\n", 3, &consumed, &off, &len), CHUNKED_DONE);
    CHECK_INT_EQ(consumed, 0);

    chunked_init(&c);
    CHECK_INT_EQ(chunked_decode(&c, "x", 1, &consumed, &off, &len), CHUNKED_ERROR);
    CHECK_INT_EQ(chunked_decode(&c, "1\r\n", 3, &consumed, &off, &len), CHUNKED_ERROR);

    /* a framing prefix and data in one call: data_off skips the framing */
    chunked_init(&c);
    CHECK_INT_EQ(chunked_decode(&c, "3\r\nabc\r\n", 8, &consumed, &off, &len), CHUNKED_DATA);
    CHECK_INT_EQ(off, 3);
    CHECK_INT_EQ(len, 3);
    CHECK_INT_EQ(consumed, 6);
}

static void test_large_chunk(void)
{
    static char in[40000];
    static char expect[32769];
    size_t n = (size_t)sprintf(in, "8000\r\n");

    for (size_t i = 0; i < 32768; i++)
        expect[i] = (char)('a' + i % 26);
    memcpy(in + n, expect, 32768);
    n += 32768;
    n += (size_t)sprintf(in + n, "\r\n0\r\n\r\n");
    expect_done(in, n, expect, 32768, n);
}

int main(void)
{
    test_valid();
    test_extensions();
    test_trailers();
    test_bad_size();
    test_size_limits();
    test_bad_extensions();
    test_line_ends();
    test_missing_crlf_after_data();
    test_bad_trailers();
    test_trailer_limits();
    test_data_across_calls();
    test_large_chunk();
    return 0;
}
