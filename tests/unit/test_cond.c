/* test_cond.c - validators, HTTP-dates, entity-tag lists and the RFC 9110
 * 13.2.2 evaluation order. Every value is also fed cut at every length, in
 * a copy that ends right before an unreadable page, so a parser that looks
 * past the length it was given faults. */
#include "check.h"
#include "http/cond.h"
#include "http/response.h"

static int64_t date_of(const char *s)
{
    return http_date_parse(check_guarded(s, strlen(s)), strlen(s));
}

static void test_dates(void)
{
    /* RFC 9110 5.6.7's example in its three forms: 784111777. */
    CHECK_INT_EQ(date_of("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CHECK_INT_EQ(date_of("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CHECK_INT_EQ(date_of("Sun Nov  6 08:49:37 1994"), 784111777);
    CHECK_INT_EQ(date_of("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_INT_EQ(date_of("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
    CHECK_INT_EQ(date_of("Thu, 31 Dec 2099 00:00:00 GMT"), 4102358400);
    CHECK_INT_EQ(date_of("Friday, 04-Dec-26 00:00:00 GMT"), 1796342400); /* 2026 */
    CHECK_INT_EQ(date_of("Thu Jan 01 00:00:00 1970"), 0);
    /* The last second an IMF-fixdate can write; its leap second is not. */
    CHECK_INT_EQ(date_of("Fri, 31 Dec 9999 23:59:59 GMT"), HTTP_DATE_MAX);
    CHECK_INT_EQ(date_of("Fri, 31 Dec 9999 23:59:60 GMT"), -1);
    CHECK_INT_EQ(date_of("Fri Dec 31 23:59:60 9999"), -1);

    static const char *bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (date_of(bad[i]) != -1)
            CHECK_FAIL_("accepted a bad date: \"%s\"", bad[i]);

    /* Every proper prefix of a valid date is invalid, and read within bounds. */
    static const char *good[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                 "Sun Nov  6 08:49:37 1994"};
    for (size_t i = 0; i < 3; i++)
        for (size_t n = 0; n < strlen(good[i]); n++)
            CHECK_INT_EQ(http_date_parse(check_guarded(good[i], n), n), -1);
}

static bool match(const char *list, const char *etag, bool weak)
{
    return cond_etag_match(check_guarded(list, strlen(list)), strlen(list), etag, strlen(etag),
                           weak);
}

static void test_etag_lists(void)
{
    const char *e = "\"abc\"";

    CHECK(match("\"abc\"", e, false));
    CHECK(match("\"abc\"", e, true));
    CHECK(match(" \"x\" , \"abc\" ", e, false));
    CHECK(match("\"x\",\"abc\"", e, false));
    CHECK(match(",, \"abc\"", e, false)); /* empty elements are ignored */
    CHECK(match("*", e, false));
    CHECK(match(" * ", e, true));
    CHECK(match("W/\"abc\"", e, true));   /* weak comparison ignores W/ */
    CHECK(!match("W/\"abc\"", e, false)); /* strong comparison never matches a weak tag */
    CHECK(!match("\"abcd\"", e, true));
    CHECK(!match("\"ab\"", e, true));
    CHECK(!match("abc", e, true));
    CHECK(!match("\"x\", *", e, true));             /* "*" only alone */
    CHECK(!match("\"x\" \"abc\"", e, true));        /* a list needs commas */
    CHECK(!match("\"x\", junk, \"abc\"", e, true)); /* stops at a malformed element */
    CHECK(match("\"abc\", junk", e, true));         /* ... but what came before counts */
    CHECK(!match("\"a\tb\", \"abc\"", e, true));    /* no control bytes in a tag */
    CHECK(match("\"a,b\", \"abc\"", e, true));      /* a comma inside a tag is part of it */
    CHECK(match("\"a,b\"", "\"a,b\"", false));
    CHECK(!match("", e, true));

    /* Cut anywhere, a list that matches only through its last tag no
     * longer matches, and nothing past the cut is read. */
    const char *list = "\"x\", W/\"y\", \"abc\"";
    for (size_t n = 0; n < strlen(list); n++)
        CHECK(!cond_etag_match(check_guarded(list, n), n, e, strlen(e), true));
}

static struct cond_validators validators(void)
{
    struct cond_validators v;

    cond_validators_of(&v, 0x1234, 6, 1000, 5, 5000);
    return v;
}

static void test_validators(void)
{
    struct cond_validators v = validators(), w;

    CHECK_STR_EQ(v.etag, "\"1234-6-e8d4a51005\""); /* 1000 s + 5 ns */
    CHECK_INT_EQ(v.etag_len, strlen(v.etag));
    CHECK_INT_EQ(v.last_modified, 1000);
    /* Any change of identity, size or time changes the tag. */
    cond_validators_of(&w, 0x1235, 6, 1000, 5, 5000);
    CHECK(strcmp(v.etag, w.etag) != 0);
    cond_validators_of(&w, 0x1234, 7, 1000, 5, 5000);
    CHECK(strcmp(v.etag, w.etag) != 0);
    cond_validators_of(&w, 0x1234, 6, 1000, 6, 5000);
    CHECK(strcmp(v.etag, w.etag) != 0);
    /* The largest values fit. */
    cond_validators_of(&w, UINT64_MAX, UINT64_MAX, INT64_MAX / 1000000000, 999999999, 0);
    CHECK_INT_EQ(w.etag_len, strlen(w.etag));
    CHECK(w.etag_len < COND_ETAG_MAX);
    /* A modification time in the future says now instead. */
    cond_validators_of(&w, 1, 1, 9000, 0, 5000);
    CHECK_INT_EQ(w.last_modified, 5000);
}

static void test_evaluate(void)
{
    struct cond_validators v = validators();
    struct cond_request r;
    const char *tag = v.etag;
    uint16_t tag_len = v.etag_len;

#define REQ(...)                                                                                   \
    do {                                                                                           \
        r = COND_REQUEST_NONE;                                                                     \
        __VA_ARGS__;                                                                               \
    } while (0)
    REQ();
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);
    CHECK_INT_EQ(cond_evaluate(&r, NULL, false), COND_PROCEED);
    CHECK(!cond_request_has_preconditions(&r));

    REQ(r.if_none_match = tag, r.if_none_match_len = tag_len);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_NOT_MODIFIED);
    CHECK_INT_EQ(cond_evaluate(&r, &v, false), COND_PRECONDITION_FAILED);
    CHECK_INT_EQ(cond_evaluate(&r, NULL, false), COND_PROCEED);
    CHECK(cond_request_has_preconditions(&r));
    CHECK(!cond_request_none_match_any(&r));

    REQ(r.if_none_match = " * ", r.if_none_match_len = 3);
    CHECK(cond_request_none_match_any(&r));
    CHECK_INT_EQ(cond_evaluate(&r, &v, false), COND_PRECONDITION_FAILED);
    CHECK_INT_EQ(cond_evaluate(&r, NULL, false), COND_PROCEED);

    REQ(r.if_match = "\"other\"", r.if_match_len = 7);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PRECONDITION_FAILED);
    REQ(r.if_match = "*", r.if_match_len = 1);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);
    CHECK_INT_EQ(cond_evaluate(&r, NULL, false), COND_PRECONDITION_FAILED);

    /* If-Modified-Since: only for GET/HEAD, only without If-None-Match. */
    REQ(r.if_modified_since = 1000);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_NOT_MODIFIED);
    CHECK_INT_EQ(cond_evaluate(&r, &v, false), COND_PROCEED);
    REQ(r.if_modified_since = 999);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);
    REQ(r.if_modified_since = 2000, r.if_none_match = "\"x\"", r.if_none_match_len = 3);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);
    REQ(r.if_modified_since = -1);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);

    /* If-Unmodified-Since: only without If-Match; ignored for an absent name. */
    REQ(r.if_unmodified_since = 999);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PRECONDITION_FAILED);
    CHECK_INT_EQ(cond_evaluate(&r, NULL, false), COND_PROCEED);
    REQ(r.if_unmodified_since = 1000);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);
    REQ(r.if_unmodified_since = 999, r.if_match = tag, r.if_match_len = tag_len);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PROCEED);

    /* Step 1 before step 3: a failed If-Match is 412 even when 304 would do. */
    REQ(r.if_match = "\"x\"", r.if_match_len = 3, r.if_none_match = tag,
        r.if_none_match_len = tag_len);
    CHECK_INT_EQ(cond_evaluate(&r, &v, true), COND_PRECONDITION_FAILED);
#undef REQ
}

static void test_if_range(void)
{
    struct cond_validators v = validators();
    struct cond_request r = COND_REQUEST_NONE;

    CHECK(cond_if_range_ok(&r, &v));
    r.if_range = v.etag;
    r.if_range_len = v.etag_len;
    CHECK(cond_if_range_ok(&r, &v));
    r.if_range = "W/\"1234-6-e8d4a51005\"";
    r.if_range_len = (uint16_t)strlen(r.if_range);
    CHECK(!cond_if_range_ok(&r, &v)); /* weak: never */
    r.if_range = "\"other\"";
    r.if_range_len = 7;
    CHECK(!cond_if_range_ok(&r, &v));
    r.if_range = "Thu, 01 Jan 1970 00:16:40 GMT"; /* 1000: Last-Modified exactly */
    r.if_range_len = 29;
    CHECK(cond_if_range_ok(&r, &v));
    r.if_range = "Thu, 01 Jan 1970 00:16:41 GMT";
    CHECK(!cond_if_range_ok(&r, &v));
    r.if_range = "garbage";
    r.if_range_len = 7;
    CHECK(!cond_if_range_ok(&r, &v));
    /* Cut short, an entity-tag or a date never matches. */
    for (uint16_t n = 0; n < v.etag_len; n++) {
        r.if_range = check_guarded(v.etag, n);
        r.if_range_len = n;
        CHECK(!cond_if_range_ok(&r, &v));
    }
}

int main(void)
{
    test_dates();
    test_etag_lists();
    test_validators();
    test_evaluate();
    test_if_range();
    return 0;
}
