/* response.c - status reasons, the Date value, and response heads appended
 * to a caller-owned buffer with memcpy (this runs once per response). */
#include "http/response.h"

#include <stdio.h>
#include <string.h>

#define LIT_LEN(s) (sizeof(s) - 1)

const char *http_status_reason(int code)
{
    switch (code) {
#define HTTP_STATUS_CASE(num, name, reason)                                                        \
    case num:                                                                                      \
        return reason;
        HTTP_STATUS_TABLE(HTTP_STATUS_CASE)
#undef HTTP_STATUS_CASE
    default:
        return NULL;
    }
}

/* Two digits of v (0..99) at p. */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

const char *http_date_format(time_t t, char out[30])
{
    /* Fixed English names: strftime's %a/%b would follow the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (t < 0 || (int64_t)t > HTTP_DATE_MAX || !gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    int year = tm.tm_year + 1900;
    char *p = out;
    memcpy(p, days[tm.tm_wday], 3);
    memcpy(p + 3, ", ", 2);
    put2(p + 5, tm.tm_mday);
    p[7] = ' ';
    memcpy(p + 8, months[tm.tm_mon], 3);
    p[11] = ' ';
    put2(p + 12, year / 100);
    put2(p + 14, year % 100);
    p[16] = ' ';
    put2(p + 17, tm.tm_hour);
    p[19] = ':';
    put2(p + 20, tm.tm_min);
    p[22] = ':';
    put2(p + 23, tm.tm_sec);
    memcpy(p + 25, " GMT", 5); /* NUL included */
    return out;
}

const char *http_date(time_t t)
{
    /* Every response needs the date; most of them fall in the same second
     * as the previous one on this thread. date_buf[0] == 0: nothing cached. */
    static _Thread_local char date_buf[30];
    static _Thread_local time_t date_t;

    if (date_buf[0] && t == date_t)
        return date_buf;
    date_t = t;
    return http_date_format(t, date_buf);
}

/* Decimal digits of v into out[0..20); returns how many. */
static size_t u64_format(char out[20], uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, s) put(p, s, LIT_LEN(s))

int response_head_write(struct outbuf *o, const struct response_head *h)
{
    static const char conn_ka[] = "Connection: keep-alive\r\n\r\n";
    static const char conn_close[] = "Connection: close\r\n\r\n";
    const char *reason = http_status_reason(h->status);
    const char *date = http_date(h->now);
    char status[20], length[20];
    size_t status_len = u64_format(status, (uint64_t)(unsigned)h->status);
    size_t length_len = u64_format(length, h->content_length);
    size_t reason_len;
    size_t type_len = h->content_type ? strlen(h->content_type) : 0;
    size_t enc_len = h->content_encoding ? strlen(h->content_encoding) : 0;
    size_t allow_len = h->allow ? strlen(h->allow) : 0;

    /* RFC 9112 section 4: the reason phrase may be empty, the space may not. */
    if (!reason)
        reason = "";
    reason_len = strlen(reason);

    size_t need = LIT_LEN("HTTP/1.1 ") + status_len + 1 + reason_len + 2;
    if (h->content_type)
        need += LIT_LEN("Content-Type: ") + type_len + 2;
    if (h->content_encoding)
        need += LIT_LEN("Content-Encoding: ") + enc_len + 2;
    if (h->vary_accept_encoding)
        need += LIT_LEN("Vary: Accept-Encoding\r\n");
    if (h->allow)
        need += LIT_LEN("Allow: ") + allow_len + 2;
    need += h->extra_len;
    int has_length = h->status >= 200 && h->status != 204 && h->status != 304;
    if (has_length)
        need += LIT_LEN("Content-Length: ") + length_len + 2;
    need += LIT_LEN("Date: ") + 29 + 2;
    need += h->keep_alive ? LIT_LEN(conn_ka) : LIT_LEN(conn_close);
    if (o->len > o->cap || need > o->cap - o->len)
        return -1;

    char *p = o->data + o->len;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put(p, status, status_len);
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = PUT_LIT(p, "\r\n");
    if (h->content_type) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, h->content_type, type_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (h->content_encoding) {
        p = PUT_LIT(p, "Content-Encoding: ");
        p = put(p, h->content_encoding, enc_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (h->vary_accept_encoding)
        p = PUT_LIT(p, "Vary: Accept-Encoding\r\n");
    if (h->allow) {
        p = PUT_LIT(p, "Allow: ");
        p = put(p, h->allow, allow_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (h->extra_len)
        p = put(p, h->extra, h->extra_len);
    if (has_length) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put(p, length, length_len);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, "Date: ");
    p = put(p, date, 29);
    p = PUT_LIT(p, "\r\n");
    if (h->keep_alive)
        p = PUT_LIT(p, conn_ka);
    else
        p = PUT_LIT(p, conn_close);
    o->len = (size_t)(p - o->data);
    return 0;
}

int response_continue_write(struct outbuf *o)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

    return outbuf_append(o, line, LIT_LEN(line));
}

int outbuf_append(struct outbuf *o, const void *p, size_t len)
{
    if (o->len > o->cap || len > o->cap - o->len)
        return -1;
    if (len)
        memcpy(o->data + o->len, p, len);
    o->len += len;
    return 0;
}

size_t response_error_text(int status, char out[RESPONSE_ERROR_TEXT_MAX])
{
    const char *reason = http_status_reason(status);
    int n = snprintf(out, RESPONSE_ERROR_TEXT_MAX, "%d %s\n", status, reason ? reason : "Error");

    return n > 0 && n < RESPONSE_ERROR_TEXT_MAX ? (size_t)n : 0;
}

int response_error_write(struct outbuf *o, struct response_head *h, int with_body)
{
    char body[RESPONSE_ERROR_TEXT_MAX];
    size_t n = response_error_text(h->status, body);

    h->content_type = "text/plain";
    h->content_length = (uint64_t)n;
    if (response_head_write(o, h) < 0)
        return -1;
    return with_body ? outbuf_append(o, body, n) : 0;
}

size_t response_refusal(char *buf, size_t cap, time_t now)
{
    static const char retry[] = "Retry-After: 1\r\n";
    struct outbuf o = {buf, 0, cap};
    struct response_head h = {
        .status = 503, .now = now, .extra = retry, .extra_len = sizeof(retry) - 1};

    return response_error_write(&o, &h, 1) == 0 ? o.len : 0;
}
