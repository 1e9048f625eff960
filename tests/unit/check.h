/* check.h - the few assertions the unit tests need, libuv task.h style:
 * a failure prints the expression, both sides and the location, and the test
 * executable exits 1 (ctest reports it). */
#ifndef RINGHTTPD_CHECK_H
#define RINGHTTPD_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK_FAIL_(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr))                                                                               \
            CHECK_FAIL_("check failed: %s", #expr);                                                \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (a_ != b_)                                                                              \
            CHECK_FAIL_("%s == %s: %jd != %jd", #a, #b, a_, b_);                                   \
    } while (0)

/* Compare a byte range with a NUL-terminated expectation. */
#define CHECK_MEM_EQ(p, n, str)                                                                    \
    do {                                                                                           \
        const char *p_ = (const char *)(p), *s_ = (str);                                           \
        size_t n_ = (size_t)(n);                                                                   \
        if (n_ != strlen(s_) || memcmp(p_, s_, n_) != 0)                                           \
            CHECK_FAIL_("%s == %s: \"%.*s\" != \"%s\"", #p, #str, (int)n_, p_, s_);                \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            CHECK_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                  \
                        b_ ? b_ : "(null)");                                                       \
    } while (0)

/* A copy of s[0..len) (at most 3 pages) that ends exactly at an inaccessible
 * page, so that a parser reading one byte past len faults (picohttpparser's
 * test.c does the same). Each call reuses the same pages. */
static inline const char *check_guarded(const char *s, size_t len)
{
    static char *base;
    static size_t page;

    if (!base) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        base = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(base != MAP_FAILED);
        CHECK(mprotect(base + 3 * page, page, PROT_NONE) == 0);
    }
    CHECK(len <= 3 * page);
    char *p = base + 3 * page - len;
    memcpy(p, s, len);
    return p;
}

#endif
