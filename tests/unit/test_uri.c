/* test_uri.c - request-target paths, percent-decoding and /files/ name
 * confinement, including the encodings used to smuggle "..", "/" and NUL. */
#include <string.h>

#include "check.h"
#include "http/uri.h"

static void path_ok(const char *target, const char *expect)
{
    const char *path = NULL;
    size_t len = 0;
    size_t tlen = strlen(target);

    if (uri_path(target, tlen, &path, &len) != 0)
        CHECK_FAIL_("uri_path(\"%s\") failed", target);
    CHECK(path >= target && path + len <= target + tlen);
    CHECK_MEM_EQ(path, len, expect);
}

static void path_bad(const char *target)
{
    const char *path = NULL;
    size_t len = 0;

    if (uri_path(target, strlen(target), &path, &len) != -1)
        CHECK_FAIL_("uri_path(\"%s\") accepted", target);
}

static void test_path_origin_form(void)
{
    path_ok("/", "/");
    path_ok("/a/b", "/a/b");
    path_ok("/a/b?q=1", "/a/b");
    path_ok("/a/b?", "/a/b");
    path_ok("/?x", "/");
    path_ok("/echo/a?b?c", "/echo/a");
    path_ok("/a%3Fb", "/a%3Fb");
    path_ok("//x", "//x");
}

static void test_path_absolute_form(void)
{
    path_ok("http://example.com/a/b?q", "/a/b");
    path_ok("https://example.com/", "/");
    path_ok("HTTP://example.com/x", "/x");
    path_ok("HtTpS://h:8080/files/a", "/files/a");
    path_ok("http://host", "/");
    path_ok("http://host?q=1", "/");
    path_ok("http://user@host:1/p", "/p");
    path_ok("http://h/?q", "/");
}

static void test_path_bad(void)
{
    path_bad("");
    path_bad("*");
    path_bad("a/b");
    path_bad("echo");
    path_bad("?q");
    path_bad("ftp://host/a");
    path_bad("httpx://host/a");
    path_bad("http:/host/a");
    path_bad("http//host/a");
    path_bad("http:");
    path_bad("https:/");
    path_bad("http:///a");
    path_bad("http://");
    path_bad("http://?q");
    path_bad("host:80");
}

static void decode_ok(const char *src, const char *expect, size_t expect_len)
{
    char dst[256];
    size_t len = strlen(src);
    long n = uri_pct_decode(dst, src, len);

    if (n < 0)
        CHECK_FAIL_("uri_pct_decode(\"%s\") failed", src);
    CHECK_INT_EQ(n, expect_len);
    CHECK(memcmp(dst, expect, expect_len) == 0);

    /* in place gives the same */
    char inplace[256];
    memcpy(inplace, src, len);
    CHECK_INT_EQ(uri_pct_decode(inplace, inplace, len), expect_len);
    CHECK(memcmp(inplace, expect, expect_len) == 0);
}

static void decode_bad(const char *src)
{
    char dst[256];

    if (uri_pct_decode(dst, src, strlen(src)) != -1)
        CHECK_FAIL_("uri_pct_decode(\"%s\") accepted", src);
}

#define DECODE_OK(src, expect) decode_ok(src, expect, sizeof(expect) - 1)

static void test_pct_decode(void)
{
    DECODE_OK("", "");
    DECODE_OK("abc", "abc");
    DECODE_OK("a%20b", "a b");
    DECODE_OK("%2e%2e", "..");
    DECODE_OK("%2E%2E%2f", "../");
    DECODE_OK("a%2Fb", "a/b");
    DECODE_OK("a%2fb", "a/b");
    DECODE_OK("%00", "\0");
    DECODE_OK("x%00y", "x\0y");
    DECODE_OK("%41%4a%4A%7e%7E", "AJJ~~");
    DECODE_OK("%ff%FF%80", "\xff\xff\x80");
    DECODE_OK("%25", "%");
    DECODE_OK("%2525", "%25");
    DECODE_OK("a+b", "a+b");
    DECODE_OK("my%20file%20name.txt", "my file name.txt");

    decode_bad("%");
    decode_bad("%4");
    decode_bad("a%4");
    decode_bad("%zz");
    decode_bad("%4z");
    decode_bad("%z4");
    decode_bad("%%41");
    decode_bad("abc%");
    decode_bad("% 41");
    decode_bad("%-1");
    decode_bad("%+1");
}

static void test_pct_decode_no_overread(void)
{
    /* a trailing "%4" must not look at the byte after the given length */
    char buf[4] = {'%', '4', '1', 0};
    char dst[4];

    CHECK_INT_EQ(uri_pct_decode(dst, buf, 2), -1);
    CHECK_INT_EQ(uri_pct_decode(dst, buf, 3), 1);
    CHECK(dst[0] == 'A');
}

static void check_name(const char *s, size_t len, int expect)
{
    int got = uri_file_name_ok(s, len);

    if (got != expect)
        CHECK_FAIL_("uri_file_name_ok(\"%.*s\") = %d, expected %d", (int)len, s, got, expect);
}

#define NAME(s, expect) check_name(s, sizeof(s) - 1, expect)

static void test_file_name(void)
{
    NAME("a", 1);
    NAME("file.txt", 1);
    NAME("dir/file", 1);
    NAME("a/b/c", 1);
    NAME(".hidden", 1);
    NAME("...", 1);
    NAME("a..b", 1);
    NAME("..a", 1);
    NAME("a.", 1);
    NAME("a/.b/c", 1);
    NAME("with space", 1);
    NAME("\xc3\xa9t\xc3\xa9", 1);

    NAME("", 0);
    NAME(".", 0);
    NAME("..", 0);
    NAME("./a", 0);
    NAME("../a", 0);
    NAME("a/..", 0);
    NAME("a/.", 0);
    NAME("a/../b", 0);
    NAME("a/./b", 0);
    NAME("a//b", 0);
    NAME("a/", 0);
    NAME("/abs", 0);
    NAME("/", 0);
    NAME("//", 0);
    NAME("a\0b", 0);
    NAME("\0", 0);
    NAME("a\0", 0);
}

/* What the files handler does: decode, then check the decoded name. */
static int decoded_name_ok(const char *raw)
{
    char buf[256];
    long n = uri_pct_decode(buf, raw, strlen(raw));

    return n >= 0 && uri_file_name_ok(buf, (size_t)n);
}

static void test_decoded_names(void)
{
    CHECK_INT_EQ(decoded_name_ok("my%20file.txt"), 1);
    CHECK_INT_EQ(decoded_name_ok("%20"), 1);
    CHECK_INT_EQ(decoded_name_ok("%2e%2e"), 0);
    CHECK_INT_EQ(decoded_name_ok("%2E%2E/etc/passwd"), 0);
    CHECK_INT_EQ(decoded_name_ok("a%2F..%2Fb"), 0);
    CHECK_INT_EQ(decoded_name_ok("%2Fetc%2Fpasswd"), 0);
    CHECK_INT_EQ(decoded_name_ok("a%00.txt"), 0);
    CHECK_INT_EQ(decoded_name_ok("a%2f%2fb"), 0);
    CHECK_INT_EQ(decoded_name_ok("%2e"), 0);
    CHECK_INT_EQ(decoded_name_ok("a%"), 0);
    CHECK_INT_EQ(decoded_name_ok("%2e%2e%2e"), 1);
}

static void test_control_characters(void)
{
    CHECK_INT_EQ(uri_name_has_control("plain name.txt", 14), 0);
    CHECK_INT_EQ(uri_name_has_control("caf\xc3\xa9~", 6), 0);
    CHECK_INT_EQ(uri_name_has_control("", 0), 0);
    CHECK_INT_EQ(uri_name_has_control("a\nb", 3), 1);
    CHECK_INT_EQ(uri_name_has_control("a\0b", 3), 1);
    CHECK_INT_EQ(uri_name_has_control("\x1f", 1), 1);
    CHECK_INT_EQ(uri_name_has_control("x\x7f", 2), 1);
    CHECK_INT_EQ(uri_name_has_control("\x20\x7e\x80\xff", 4), 0);
}

/* Host = uri-host [ ":" port ]; every valid value is also checked at every
 * length short of its end, where it must be judged on what is there. */
static void test_host(void)
{
    static const char *ok[] = {
        "",
        "example.com",
        "example.com:8080",
        "127.0.0.1:4221",
        "[::1]",
        "[::1]:4221",
        "[2001:db8::7]",
        "[::ffff:192.0.2.1]",
        "[v1.fe80::a+en1]",
        "ex%41mple",
        "a_b-c~d",
        "x:",
        "!$&'()*+,;=",
        "h:",
        "[1:2:3:4:5:6:7:8]",
    };
    static const char *bad[] = {
        "ex ample", "x/y",     "a@b",         "h:1:2",   "h:8o", "h%zz", "h%4",
        "[::1",     "[zz::1]", "[::1]x",      "[::1]:x", "[]",   "[:]",  "[v.x]",
        "[v1.]",    "[vz.x]",  "caf\xc3\xa9", "a\tb",    "h?q",  "h#f",  "[1:2:3:4:5:6:7:8:9]",
        "\"h\"",
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!uri_host_ok(ok[i], strlen(ok[i])))
            CHECK_FAIL_("valid host refused: \"%s\"", ok[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (uri_host_ok(bad[i], strlen(bad[i])))
            CHECK_FAIL_("invalid host accepted: \"%s\"", bad[i]);
    }
    /* Bounded by len: what follows is not read. */
    CHECK(uri_host_ok("example.com/x", 11));
    CHECK(!uri_host_ok("[::1]", 4));
}

int main(void)
{
    test_host();
    test_path_origin_form();
    test_path_absolute_form();
    test_path_bad();
    test_pct_decode();
    test_control_characters();
    test_pct_decode_no_overread();
    test_file_name();
    test_decoded_names();
    return 0;
}
