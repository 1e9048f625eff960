/* response.c - status reasons, the Date value, and response heads appended
 * to a caller-owned buffer with memcpy (this runs once per response). */
#include "http/response.h"

#include <stdio.h>
#include <string.h>

#include "util/fmt.h"

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

/* Year, month (1-12) and day of the day z days after 1970-01-01 (z >= 0):
 * the proleptic Gregorian calendar counted in 400-year eras of 146,097 days
 * (H. Hinnant's civil_from_days). gmtime_r would take glibc's time-zone lock
 * on every call, and this runs for every Last-Modified. */
static void http_civil(int64_t z, int *year, int *month, int *day)
{
    z += 719468; /* days from 0000-03-01 */
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */

    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

const char *http_date_format(time_t t, char out[30])
{
    /* Fixed English names: strftime's %a/%b would follow the locale. */
    static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int year, month, mday;

    if (t < 0 || (int64_t)t > HTTP_DATE_MAX)
        t = 0;
    int64_t day = (int64_t)t / 86400, sec = (int64_t)t % 86400;
    http_civil(day, &year, &month, &mday);
    char *p = out;
    memcpy(p, days[day % 7], 3); /* 1970-01-01 was a Thursday */
    memcpy(p + 3, ", ", 2);
    put2(p + 5, mday);
    p[7] = ' ';
    memcpy(p + 8, months[month - 1], 3);
    p[11] = ' ';
    put2(p + 12, year / 100);
    put2(p + 14, year % 100);
    p[16] = ' ';
    put2(p + 17, (int)(sec / 3600));
    p[19] = ':';
    put2(p + 20, (int)(sec / 60 % 60));
    p[22] = ':';
    put2(p + 23, (int)(sec % 60));
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

int response_head_write(struct outbuf *o, const struct response_head *h)
{
    static const char conn_ka[] = "Connection: keep-alive\r\n\r\n";
    static const char conn_close[] = "Connection: close\r\n\r\n";
    const char *reason = http_status_reason(h->status);
    const char *date = http_date(h->now);
    char status[20], length[20];
    size_t status_len = fmt_u64(status, (uint64_t)(unsigned)h->status);
    size_t length_len = fmt_u64(length, h->content_length);
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
    p = FMT_PUT_LIT(p, "HTTP/1.1 ");
    p = fmt_put(p, status, status_len);
    *p++ = ' ';
    p = fmt_put(p, reason, reason_len);
    p = FMT_PUT_LIT(p, "\r\n");
    if (h->content_type) {
        p = FMT_PUT_LIT(p, "Content-Type: ");
        p = fmt_put(p, h->content_type, type_len);
        p = FMT_PUT_LIT(p, "\r\n");
    }
    if (h->content_encoding) {
        p = FMT_PUT_LIT(p, "Content-Encoding: ");
        p = fmt_put(p, h->content_encoding, enc_len);
        p = FMT_PUT_LIT(p, "\r\n");
    }
    if (h->vary_accept_encoding)
        p = FMT_PUT_LIT(p, "Vary: Accept-Encoding\r\n");
    if (h->allow) {
        p = FMT_PUT_LIT(p, "Allow: ");
        p = fmt_put(p, h->allow, allow_len);
        p = FMT_PUT_LIT(p, "\r\n");
    }
    if (h->extra_len)
        p = fmt_put(p, h->extra, h->extra_len);
    if (has_length) {
        p = FMT_PUT_LIT(p, "Content-Length: ");
        p = fmt_put(p, length, length_len);
        p = FMT_PUT_LIT(p, "\r\n");
    }
    p = FMT_PUT_LIT(p, "Date: ");
    p = fmt_put(p, date, 29);
    p = FMT_PUT_LIT(p, "\r\n");
    if (h->keep_alive)
        p = FMT_PUT_LIT(p, conn_ka);
    else
        p = FMT_PUT_LIT(p, conn_close);
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
