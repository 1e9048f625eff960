/* test_escape.c - escape_log: every byte class, and truncation never cuts an
 * escape. */
#include "check.h"
#include "util/escape.h"

static void test_classes(void)
{
    char out[64];

    CHECK_INT_EQ(escape_log(out, sizeof(out), "", 0), 0);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ(escape_log(out, sizeof(out), "GET /a?b=c~ HTTP/1.1", 20), 20);
    CHECK_STR_EQ(out, "GET /a?b=c~ HTTP/1.1");
    escape_log(out, sizeof(out), "a\"b\\c", 5);
    CHECK_STR_EQ(out, "a\\x22b\\x5Cc");
    escape_log(out, sizeof(out), "\x00\x01\n\r\x1f\x7f\x80\xff", 8);
    CHECK_STR_EQ(out, "\\x00\\x01\\x0A\\x0D\\x1F\\x7F\\x80\\xFF");
    escape_log(out, sizeof(out), " ~", 2); /* the printable edges stay */
    CHECK_STR_EQ(out, " ~");
}

static void test_truncation(void)
{
    char out[8];

    /* Room for 7 bytes: "ab" + one escape (4) = 6, the next escape does not fit. */
    CHECK_INT_EQ(escape_log(out, sizeof(out), "ab\"\"", 4), 6);
    CHECK_STR_EQ(out, "ab\\x22");
    CHECK_INT_EQ(escape_log(out, sizeof(out), "abcdefghij", 10), 7);
    CHECK_STR_EQ(out, "abcdefg");
    CHECK_INT_EQ(escape_log(out, 1, "abc", 3), 0);
    CHECK_STR_EQ(out, "");
    for (size_t cap = 1; cap <= sizeof(out); cap++) {
        size_t n = escape_log(out, cap, "\x01\x02\x03", 3);
        CHECK(n % 4 == 0 && n < cap);
    }
}

int main(void)
{
    test_classes();
    test_truncation();
    printf("test_escape: ok\n");
    return 0;
}
