/* test_range.c - the Range parser: forms, clipping, unsatisfiable specs, the
 * refusals that keep a response no larger than the file, and every value
 * cut at every length before an unreadable page. */
#include "check.h"
#include "http/range.h"

static struct byte_range got[RANGE_MAX];
static unsigned ngot;

static enum range_result parse(const char *v, uint64_t size)
{
    return range_parse(check_guarded(v, strlen(v)), strlen(v), size, got, &ngot);
}

/* One satisfiable range first-last. */
static void check_one(const char *v, uint64_t size, uint64_t first, uint64_t last)
{
    if (parse(v, size) != RANGE_OK || ngot != 1 || got[0].first != first || got[0].last != last)
        CHECK_FAIL_("\"%s\" on %llu: want %llu-%llu", v, (unsigned long long)size,
                    (unsigned long long)first, (unsigned long long)last);
}

static void test_forms(void)
{
    check_one("bytes=0-99", 1000, 0, 99);
    check_one("bytes=0-0", 1000, 0, 0);
    check_one("bytes=500-", 1000, 500, 999);
    check_one("bytes=-100", 1000, 900, 999);
    check_one("bytes=-5000", 1000, 0, 999);      /* a suffix longer than the file: all of it */
    check_one("bytes=900-5000", 1000, 900, 999); /* clipped */
    check_one("bytes=999-999", 1000, 999, 999);
    check_one("BYTES=1-2", 1000, 1, 2); /* the unit is case-insensitive */
    check_one(" bytes=1-2 ", 1000, 1, 2);
    check_one("bytes=1-2, 5000-", 1000, 1, 2); /* an unsatisfiable spec is dropped */
    check_one("bytes=0-99999999999999999999999", 1000, 0, 999); /* saturates */

    CHECK_INT_EQ(parse("bytes=0-1,5-6, -2", 1000), RANGE_OK);
    CHECK_INT_EQ(ngot, 3);
    CHECK(got[0].first == 0 && got[1].first == 5 && got[2].first == 998 && got[2].last == 999);
}

static void test_unsatisfiable_and_ignored(void)
{
    CHECK_INT_EQ(parse("bytes=1000-", 1000), RANGE_UNSATISFIABLE);
    CHECK_INT_EQ(parse("bytes=1000-2000, 3000-", 1000), RANGE_UNSATISFIABLE);
    CHECK_INT_EQ(parse("bytes=-0", 1000), RANGE_UNSATISFIABLE);
    CHECK_INT_EQ(parse("bytes=0-", 0), RANGE_UNSATISFIABLE); /* an empty file has no bytes */
    CHECK_INT_EQ(parse("bytes=-1", 0), RANGE_UNSATISFIABLE);

    static const char *ignored[] = {
        "",
        "bytes",
        "bytes=",
        "bytes= , ",
        "items=0-1",
        "bytes 0-1",
        "bytes=a-b",
        "bytes=5-1",
        "bytes=1",
        "bytes=-",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=1-2;x",
        "bytes=0-1 2-3",
        "bytes=0-1, bytes=2-3",
        "bytes=+1-2",
        "bytes=0x1-2",
        /* overlaps adding up to more than the file: the whole file instead */
        "bytes=0-, 0-",
        "bytes=0-999, 500-",
        /* more than RANGE_MAX parts */
        "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,"
        "30-30,32-32",
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (parse(ignored[i], 1000) != RANGE_IGNORE)
            CHECK_FAIL_("not ignored: \"%s\"", ignored[i]);
    /* RANGE_MAX parts exactly are fine. */
    CHECK_INT_EQ(parse("bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,"
                       "24-24,26-26,28-28,30-30",
                       1000),
                 RANGE_OK);
    CHECK_INT_EQ(ngot, RANGE_MAX);
}

/* Cut at every length: the parser reads only what it is given, and a cut
 * value is never taken for more than its prefix says. */
static void test_every_cut(void)
{
    static const char *values[] = {"bytes=0-99, 200-299, -50", "bytes=500-", "bytes=-100"};

    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(values[k]);
        for (size_t n = 0; n <= len; n++) {
            enum range_result r = range_parse(check_guarded(values[k], n), n, 1000, got, &ngot);
            CHECK(r == RANGE_IGNORE || r == RANGE_OK);
            for (unsigned i = 0; r == RANGE_OK && i < ngot; i++)
                CHECK(got[i].first <= got[i].last && got[i].last < 1000);
        }
    }
}

int main(void)
{
    test_forms();
    test_unsatisfiable_and_ignored();
    test_every_cut();
    return 0;
}
