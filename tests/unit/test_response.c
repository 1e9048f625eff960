/* test_response.c - status reasons, IMF-fixdate, number formatting, and
 * response heads compared byte for byte, including the out-of-room contract. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "http/response.h"
#include "util/fmt.h"

/* Sun, 06 Nov 1994 08:49:37 GMT (the RFC 9110 example) */
#define T_RFC ((time_t)784111777)
#define DATE_RFC "Sun, 06 Nov 1994 08:49:37 GMT"

static char storage[4096];

static struct outbuf fresh(size_t cap)
{
    memset(storage, '#', sizeof(storage));
    return (struct outbuf){storage, 0, cap};
}

static void test_reasons(void)
{
    CHECK_STR_EQ(http_status_reason(200), "OK");
    CHECK_STR_EQ(http_status_reason(404), "Not Found");
    CHECK_STR_EQ(http_status_reason(100), "Continue");
    CHECK_STR_EQ(http_status_reason(413), "Content Too Large");
    CHECK_STR_EQ(http_status_reason(431), "Request Header Fields Too Large");
    CHECK_STR_EQ(http_status_reason(507), "Insufficient Storage");
    CHECK_STR_EQ(http_status_reason(HTTP_METHOD_NOT_ALLOWED), "Method Not Allowed");
    CHECK(http_status_reason(0) == NULL);
    CHECK(http_status_reason(299) == NULL);
    CHECK(http_status_reason(-1) == NULL);
}

static void test_date(void)
{
    CHECK_STR_EQ(http_date(T_RFC), DATE_RFC);
    CHECK_INT_EQ(strlen(http_date(T_RFC)), 29);
    /* the per-thread cache must follow a change of second, either way */
    CHECK_STR_EQ(http_date(T_RFC + 1), "Sun, 06 Nov 1994 08:49:38 GMT");
    CHECK_STR_EQ(http_date(T_RFC), DATE_RFC);
    CHECK_STR_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK_STR_EQ(http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK_STR_EQ(http_date(1704067199), "Sun, 31 Dec 2023 23:59:59 GMT");
    CHECK_STR_EQ(http_date(4102444800), "Fri, 01 Jan 2100 00:00:00 GMT");
    CHECK_STR_EQ(http_date(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
    /* past year 9999 a 4-digit date is impossible: the epoch, never garbage */
    CHECK_STR_EQ(http_date(253402300800), "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* The calendar arithmetic against the C library's, on every day from 1970
 * to 9999, each at a different time of day. */
static void test_date_every_day(void)
{
    static const char *const wday[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char got[30], want[40];
    struct tm tm;

    for (time_t day = 0; day * 86400 <= 253402300799; day++) {
        time_t t = day * 86400 + (day * 7919) % 86400;
        CHECK(gmtime_r(&t, &tm) != NULL);
        snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[tm.tm_wday],
                 tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        CHECK_STR_EQ(http_date_format(t, got), want);
    }
}

static void test_fmt(void)
{
    static const uint64_t values[] = {0,
                                      1,
                                      9,
                                      10,
                                      15,
                                      16,
                                      255,
                                      256,
                                      4096,
                                      999999999,
                                      1000000000,
                                      0x7fffffffffffffffu,
                                      0x8000000000000000u,
                                      UINT64_MAX};
    char got[24], want[24];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);
        got[fmt_u64(got, values[i])] = '\0';
        CHECK_STR_EQ(got, want);
        snprintf(want, sizeof(want), "%llx", (unsigned long long)values[i]);
        got[fmt_hex(got, values[i])] = '\0';
        CHECK_STR_EQ(got, want);
    }
}

static void check_head(const struct response_head *h, const char *expect)
{
    struct outbuf o = fresh(sizeof(storage));

    o.len = 3;
    memcpy(storage, "abc", 3);
    CHECK_INT_EQ(response_head_write(&o, h), 0);
    CHECK_MEM_EQ(o.data, 3, "abc");
    CHECK_MEM_EQ(o.data + 3, o.len - 3, expect);
    CHECK(storage[o.len] == '#');

    /* exactly enough room works; one byte less fails and changes nothing */
    size_t need = strlen(expect);
    o = fresh(need);
    CHECK_INT_EQ(response_head_write(&o, h), 0);
    CHECK_INT_EQ(o.len, need);
    for (size_t cap = 0; cap < need; cap++) {
        o = fresh(cap);
        CHECK_INT_EQ(response_head_write(&o, h), -1);
        CHECK_INT_EQ(o.len, 0);
    }
    o = fresh(need + 5);
    o.len = 6;
    CHECK_INT_EQ(response_head_write(&o, h), -1);
    CHECK_INT_EQ(o.len, 6);
    CHECK(storage[6] == '#');
}

static void test_heads(void)
{
    struct response_head h = {.status = 200, .keep_alive = 1, .now = T_RFC};

    check_head(&h, "HTTP/1.1 200 OK\r\n"
                   "Content-Length: 0\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    h.content_type = "text/plain";
    h.content_length = 3;
    check_head(&h, "HTTP/1.1 200 OK\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Length: 3\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    h.content_encoding = "gzip";
    h.vary_accept_encoding = 1;
    h.content_length = 23;
    check_head(&h, "HTTP/1.1 200 OK\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Encoding: gzip\r\n"
                   "Vary: Accept-Encoding\r\n"
                   "Content-Length: 23\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    h = (struct response_head){.status = 404, .keep_alive = 1, .now = T_RFC};
    check_head(&h, "HTTP/1.1 404 Not Found\r\n"
                   "Content-Length: 0\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    h = (struct response_head){
        .status = 405, .keep_alive = 1, .allow = "GET, HEAD, POST", .now = T_RFC};
    check_head(&h, "HTTP/1.1 405 Method Not Allowed\r\n"
                   "Allow: GET, HEAD, POST\r\n"
                   "Content-Length: 0\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    /* No Content-Length on 204 and 304 (RFC 9110 8.6), whatever is asked. */
    h = (struct response_head){.status = 204, .keep_alive = 1, .content_length = 7, .now = T_RFC};
    check_head(&h, "HTTP/1.1 204 No Content\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");
    h = (struct response_head){.status = 304, .keep_alive = 1, .content_length = 7, .now = T_RFC};
    check_head(&h, "HTTP/1.1 304 Not Modified\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    h = (struct response_head){.status = 400, .keep_alive = 0, .now = T_RFC};
    check_head(&h, "HTTP/1.1 400 Bad Request\r\n"
                   "Content-Length: 0\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: close\r\n"
                   "\r\n");

    h = (struct response_head){.status = 200,
                               .keep_alive = 0,
                               .content_length = UINT64_MAX,
                               .content_type = "application/octet-stream",
                               .now = 0};
    check_head(&h, "HTTP/1.1 200 OK\r\n"
                   "Content-Type: application/octet-stream\r\n"
                   "Content-Length: 18446744073709551615\r\n"
                   "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                   "Connection: close\r\n"
                   "\r\n");

    /* every header at once, in the documented order */
    h = (struct response_head){.status = 201,
                               .keep_alive = 1,
                               .content_length = 1234567890,
                               .content_type = "t/t",
                               .content_encoding = "e",
                               .allow = "A",
                               .vary_accept_encoding = 1,
                               .now = T_RFC};
    check_head(&h, "HTTP/1.1 201 Created\r\n"
                   "Content-Type: t/t\r\n"
                   "Content-Encoding: e\r\n"
                   "Vary: Accept-Encoding\r\n"
                   "Allow: A\r\n"
                   "Content-Length: 1234567890\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");

    /* a code outside the table still gives a valid status line */
    h = (struct response_head){.status = 299, .keep_alive = 1, .now = T_RFC};
    check_head(&h, "HTTP/1.1 299 \r\n"
                   "Content-Length: 0\r\n"
                   "Date: " DATE_RFC "\r\n"
                   "Connection: keep-alive\r\n"
                   "\r\n");
}

static void test_continue(void)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct outbuf o = fresh(sizeof(line) - 1);

    CHECK_INT_EQ(response_continue_write(&o), 0);
    CHECK_MEM_EQ(o.data, o.len, line);
    CHECK_INT_EQ(response_continue_write(&o), -1);
    CHECK_INT_EQ(o.len, sizeof(line) - 1);

    o = fresh(sizeof(line) - 2);
    CHECK_INT_EQ(response_continue_write(&o), -1);
    CHECK_INT_EQ(o.len, 0);
}

static void test_append(void)
{
    struct outbuf o = fresh(8);

    CHECK_INT_EQ(outbuf_append(&o, "abc", 3), 0);
    CHECK_INT_EQ(outbuf_append(&o, NULL, 0), 0);
    CHECK_INT_EQ(outbuf_append(&o, "defgh", 5), 0);
    CHECK_MEM_EQ(o.data, o.len, "abcdefgh");
    CHECK_INT_EQ(outbuf_append(&o, "i", 1), -1);
    CHECK_INT_EQ(o.len, 8);
    CHECK_INT_EQ(outbuf_append(&o, NULL, 0), 0);

    o = fresh(4);
    CHECK_INT_EQ(outbuf_append(&o, "abcde", 5), -1);
    CHECK_INT_EQ(o.len, 0);
    CHECK(storage[0] == '#');
    CHECK_INT_EQ(outbuf_append(&o, "ab", 2), 0);
    CHECK_INT_EQ(outbuf_append(&o, "cde", 3), -1);
    CHECK_MEM_EQ(o.data, o.len, "ab");
    /* a huge length must not wrap the room check */
    CHECK_INT_EQ(outbuf_append(&o, "x", SIZE_MAX), -1);
    CHECK_INT_EQ(o.len, 2);
}

int main(void)
{
    test_reasons();
    test_date();
    test_date_every_day();
    test_fmt();
    test_heads();
    test_continue();
    test_append();
    return 0;
}
