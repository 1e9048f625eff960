/* cond.c - validators and conditional requests, see cond.h. */
#include "http/cond.h"

#include <string.h>

#include "http/parse.h"
#include "http/response.h"
#include "util/fmt.h"

void cond_validators_of(struct cond_validators *v, uint64_t ino, uint64_t size, int64_t mtime_sec,
                        uint32_t mtime_nsec, int64_t now)
{
    uint64_t mtime_ns = (uint64_t)mtime_sec * 1000000000u + mtime_nsec;
    char *p = v->etag; /* "ino-size-mtime" in hex */

    /* two quotes, three numbers of at most 16 digits, two dashes, a NUL */
    _Static_assert(COND_ETAG_MAX >= 2 + 3 * 16 + 2 + 1, "COND_ETAG_MAX holds every ETag");

    *p++ = '"';
    p += fmt_hex(p, ino);
    *p++ = '-';
    p += fmt_hex(p, size);
    *p++ = '-';
    p += fmt_hex(p, mtime_ns);
    *p++ = '"';
    *p = '\0';
    v->etag_len = (uint8_t)(p - v->etag);
    v->last_modified = mtime_sec < now ? mtime_sec : now;
}

/* ---- HTTP-date ---- */

static const char cond_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const cond_days[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const cond_long_days[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                              "Friday", "Saturday", "Sunday"};

/* n decimal digits at s, or -1. */
static int cond_digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int cond_month(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(s, cond_months[i], 3) == 0)
            return i;
    return -1;
}

/* Days from 1970-01-01 to y-m-d (m 1..12), proleptic Gregorian. */
static int64_t cond_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "HH:MM:SS" at s into seconds of the day, or -1. */
static int64_t cond_time_of_day(const char *s)
{
    int h = cond_digits(s, 2), m = cond_digits(s + 3, 2), sec = cond_digits(s + 6, 2);

    if (h < 0 || m < 0 || sec < 0 || s[2] != ':' || s[5] != ':' || h > 23 || m > 59 || sec > 60)
        return -1;
    return h * 3600 + m * 60 + sec;
}

static int64_t cond_make_time(int64_t year, int mon, int day, int64_t tod)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    if (mon < 0 || day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap) || tod < 0 ||
        year < 1970)
        return -1;
    /* 9999-12-31 23:59:60 would be a second no IMF-fixdate can write. */
    int64_t t = cond_days_from_civil(year, mon + 1, day) * 86400 + tod;
    return t <= HTTP_DATE_MAX ? t : -1;
}

/* The length of the day name at s that is one of names, or 0. */
static size_t cond_day_name(const char *s, size_t len, const char *const names[7])
{
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(names[i]);
        if (len >= n && memcmp(s, names[i], n) == 0)
            return n;
    }
    return 0;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static int64_t cond_imf_fixdate(const char *s, size_t len)
{
    if (len != 29 || cond_day_name(s, 3, cond_days) != 3 || memcmp(s + 3, ", ", 2) != 0 ||
        s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    int day = cond_digits(s + 5, 2), year = cond_digits(s + 12, 4);
    if (day < 0 || year < 0)
        return -1;
    return cond_make_time(year, cond_month(s + 8), day, cond_time_of_day(s + 17));
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year more than 50
 * years in the future is in the past century (RFC 9110 5.6.7); as the core
 * has no clock here, years 70-99 are 19xx and 00-69 are 20xx. */
static int64_t cond_rfc850_date(const char *s, size_t len)
{
    size_t n = cond_day_name(s, len, cond_long_days);

    if (n == 0 || len != n + 24)
        return -1;
    s += n;
    if (memcmp(s, ", ", 2) != 0 || s[4] != '-' || s[8] != '-' || s[11] != ' ' ||
        memcmp(s + 20, " GMT", 4) != 0)
        return -1;
    int day = cond_digits(s + 2, 2), yy = cond_digits(s + 9, 2);
    if (day < 0 || yy < 0)
        return -1;
    return cond_make_time(yy < 70 ? 2000 + yy : 1900 + yy, cond_month(s + 5), day,
                          cond_time_of_day(s + 12));
}

/* asctime: "Sun Nov  6 08:49:37 1994" (the day padded with a space). */
static int64_t cond_asctime_date(const char *s, size_t len)
{
    if (len != 24 || cond_day_name(s, 3, cond_days) != 3 || s[3] != ' ' || s[7] != ' ' ||
        s[10] != ' ' || s[19] != ' ')
        return -1;
    int day = s[8] == ' ' ? cond_digits(s + 9, 1) : cond_digits(s + 8, 2);
    int year = cond_digits(s + 20, 4);
    if (day < 0 || year < 0)
        return -1;
    return cond_make_time(year, cond_month(s + 4), day, cond_time_of_day(s + 11));
}

int64_t http_date_parse(const char *s, size_t len)
{
    if (len == 29 && s[3] == ',')
        return cond_imf_fixdate(s, len);
    if (len == 24 && s[3] == ' ')
        return cond_asctime_date(s, len);
    return cond_rfc850_date(s, len);
}

/* ---- entity-tags ---- */

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE at s[i]; etagc = %x21 / %x23-7E /
 * obs-text. Returns the index past it (0 if malformed); *tag and *tag_len
 * name the opaque-tag with its quotes, *weak says whether W/ preceded it. */
static size_t cond_entity_tag(const char *s, size_t len, size_t i, size_t *tag, size_t *tag_len,
                              bool *weak)
{
    *weak = len - i >= 2 && s[i] == 'W' && s[i + 1] == '/';
    if (*weak)
        i += 2;
    if (i == len || s[i] != '"')
        return 0;
    *tag = i;
    for (i++; i < len && s[i] != '"'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f)
            return 0;
    }
    if (i == len)
        return 0;
    *tag_len = i + 1 - *tag;
    return i + 1;
}

/* Whether a list value is "*" alone (with OWS around it). */
static bool cond_is_star(const char *s, size_t len)
{
    size_t i = http_skip_ows(s, len, 0);

    return i < len && s[i] == '*' && http_skip_ows(s, len, i + 1) == len;
}

bool cond_etag_match(const char *s, size_t len, const char *etag, size_t etag_len, bool weak)
{
    size_t i = 0;

    if (cond_is_star(s, len))
        return true;
    for (;;) {
        while (i < len && (s[i] == ',' || http_is_ows((unsigned char)s[i])))
            i++;
        if (i == len)
            return false;
        size_t tag, tag_len;
        bool tag_weak;
        i = cond_entity_tag(s, len, i, &tag, &tag_len, &tag_weak);
        if (i == 0)
            return false;
        if ((weak || !tag_weak) && tag_len == etag_len && memcmp(s + tag, etag, etag_len) == 0)
            return true;
        i = http_skip_ows(s, len, i);
        if (i < len && s[i] != ',')
            return false;
    }
}

/* ---- evaluation ---- */

bool cond_request_has_preconditions(const struct cond_request *r)
{
    return r->if_match || r->if_none_match || r->if_unmodified_since >= 0;
}

bool cond_request_none_match_any(const struct cond_request *r)
{
    return r->if_none_match && cond_is_star(r->if_none_match, r->if_none_match_len);
}

enum cond_result cond_evaluate(const struct cond_request *r, const struct cond_validators *v,
                               bool safe)
{
    /* 1, 2: the client's copy must be the current one. */
    if (r->if_match) {
        if (!v || !cond_etag_match(r->if_match, r->if_match_len, v->etag, v->etag_len, false))
            return COND_PRECONDITION_FAILED;
    } else if (r->if_unmodified_since >= 0 && v && v->last_modified > r->if_unmodified_since) {
        return COND_PRECONDITION_FAILED;
    }
    /* 3, 4: the client's copy is current already (or, for an upload with
     * "If-None-Match: *", the name is taken). */
    if (r->if_none_match) {
        if (v &&
            cond_etag_match(r->if_none_match, r->if_none_match_len, v->etag, v->etag_len, true))
            return safe ? COND_NOT_MODIFIED : COND_PRECONDITION_FAILED;
    } else if (safe && r->if_modified_since >= 0 && v && v->last_modified <= r->if_modified_since) {
        return COND_NOT_MODIFIED;
    }
    return COND_PROCEED;
}

bool cond_if_range_ok(const struct cond_request *r, const struct cond_validators *v)
{
    const char *s = r->if_range;
    size_t len = r->if_range_len;

    if (!s)
        return true;
    if (len >= 1 && (s[0] == '"' || (len >= 3 && s[0] == 'W' && s[1] == '/' && s[2] == '"'))) {
        size_t tag, tag_len;
        bool weak;
        size_t end = cond_entity_tag(s, len, 0, &tag, &tag_len, &weak);
        return end == len && !weak && tag_len == v->etag_len &&
               memcmp(s + tag, v->etag, tag_len) == 0;
    }
    int64_t t = http_date_parse(s, len);
    return t >= 0 && t == v->last_modified;
}
