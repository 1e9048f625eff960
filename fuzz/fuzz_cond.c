/* fuzz_cond.c - the conditional-request parsers of http/cond.h (HTTP-dates,
 * entity-tag lists, the evaluation order) and the Range parser of
 * http/range.h, with their invariants.
 *
 * The input is a field value, tried as each kind of field. Every parser is
 * given an exact-length heap copy, so ASan sees any read past its end. */
#include <string.h>

#include "fuzz.h"
#include "http/cond.h"
#include "http/range.h"
#include "http/response.h"

static void check_date(const char *v, size_t len)
{
    int64_t t = http_date_parse(v, len);
    char buf[30];

    FUZZ_CHECK(t >= -1);
    if (t < 0)
        return;
    /* A valid date written back as IMF-fixdate parses to the same second
     * (2-digit RFC 850 years land in 1970-2069, which IMF-fixdate keeps). */
    http_date_format((time_t)t, buf);
    FUZZ_CHECK(http_date_parse(buf, 29) == t);
}

static void check_lists(const char *v, size_t len)
{
    static const char *const tags[] = {"\"abc\"", "\"\"", "\"a,b\"", "\"1234-6-e8d4a51005\""};

    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        bool strong = cond_etag_match(v, len, tags[i], strlen(tags[i]), false);
        bool weak = cond_etag_match(v, len, tags[i], strlen(tags[i]), true);
        FUZZ_CHECK(!strong || weak); /* strong equality implies weak */
    }
}

static void check_evaluate(const char *v, size_t len)
{
    struct cond_validators val;
    struct cond_request r = COND_REQUEST_NONE;
    uint16_t n = (uint16_t)(len > 8192 ? 8192 : len);

    cond_validators_of(&val, 0x1234, 6, 1000, 5, 5000);
    r.if_match = r.if_none_match = r.if_range = v;
    r.if_match_len = r.if_none_match_len = r.if_range_len = n;
    r.if_modified_since = r.if_unmodified_since = http_date_parse(v, n);
    for (int safe = 0; safe < 2; safe++) {
        enum cond_result a = cond_evaluate(&r, &val, safe);
        enum cond_result b = cond_evaluate(&r, NULL, safe);
        FUZZ_CHECK(a == COND_PROCEED || a == COND_NOT_MODIFIED || a == COND_PRECONDITION_FAILED);
        FUZZ_CHECK(safe || a != COND_NOT_MODIFIED); /* 304 only for GET and HEAD */
        FUZZ_CHECK(b != COND_NOT_MODIFIED);         /* nothing is current if nothing exists */
    }
    (void)cond_if_range_ok(&r, &val);
    (void)cond_request_has_preconditions(&r);
    (void)cond_request_none_match_any(&r);
}

/* Satisfiable ranges lie in the file, at most RANGE_MAX of them, adding up
 * to no more than the file. */
static void check_ranges(const char *v, size_t len)
{
    static const uint64_t sizes[] = {0, 1, 1000, UINT64_C(1) << 40};
    struct byte_range r[RANGE_MAX];
    unsigned n;

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        enum range_result res = range_parse(v, len, sizes[k], r, &n);
        uint64_t total = 0;
        FUZZ_CHECK(res == RANGE_OK ? n >= 1 && n <= RANGE_MAX : n == 0);
        for (unsigned i = 0; i < n; i++) {
            FUZZ_CHECK(r[i].first <= r[i].last && r[i].last < sizes[k]);
            total += r[i].last - r[i].first + 1;
        }
        FUZZ_CHECK(total <= sizes[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);

    check_ranges(v, size);
    check_date(v, size);
    check_lists(v, size);
    check_evaluate(v, size);
    free(v);
    return 0;
}
