/* test_gzip.c - Accept-Encoding negotiation table, multi-line lists, and
 * gzip output checked by decompressing it with libdeflate. */
#include <libdeflate.h>
#include <string.h>

#include "check.h"
#include "http/gzip.h"

static const struct {
    const char *value;
    int accepted;
} accept_cases[] = {
    {"gzip", 1},
    {"GZIP", 1},
    {"GZip", 1},
    {"x-gzip", 1},
    {"X-GZIP", 1},
    {"gzip;q=0", 0},
    {"gzip; q=0.001", 1},
    {"gzip ; q=0.5", 1},
    {"gzip;Q=0.5", 1},
    {"gzip;q=1", 1},
    {"gzip;q=1.000", 1},
    {"gzip;q=1.", 1},
    {"gzip;q=0.", 0},
    {"gzip;q=0.000", 0},
    {"gzip;q=0.0", 0},
    {"gzip;q=1.5", 0},
    {"gzip;q=1.001", 0},
    {"gzip;q=2", 0},
    {"gzip;q=0.0001", 0},
    {"gzip;q=-1", 0},
    {"gzip;q=", 0},
    {"gzip;q", 0},
    {"gzip;q=.5", 0},
    {"gzip;q=\"0.5\"", 0},
    {"gzip;q=1.5, *", 0},
    {"deflate, gzip", 1},
    {"deflate,gzip,br", 1},
    {"gzip, deflate, br, zstd", 1},
    {"  deflate ,\tgzip\t, br  ", 1},
    {"br;q=1, gzip;q=0", 0},
    {"br;q=1.0, gzip;q=0.8, *;q=0.1", 1},
    {"deflate", 0},
    {"br, deflate", 0},
    {"identity", 0},
    {"identity;q=1, *;q=0", 0},
    {"*", 1},
    {"*;q=0", 0},
    {"*;q=0.5", 1},
    {"gzip;q=0, *", 0},
    {"*, gzip;q=0", 0},
    {"*;q=0, gzip", 1},
    {"gzip, gzip;q=0", 0},
    {"", 0},
    {",", 0},
    {" , ,, ", 0},
    {"gzipx", 0},
    {"xgzip", 0},
    {"gzi", 0},
    {"gzip deflate", 0},
    {"gzip foo, deflate", 0},
    {"gzip foo, x-gzip", 1},
    {"\"gzip\"", 0},
    {"gzip;level=9", 1},
    {"gzip;level=\"a,b\";q=0.2", 1},
    {"gzip;level=\"a,b\";q=0", 0},
    {"gzip;;q=0.5", 1},
    {"gzip;", 1},
    {"gzip;=1", 0},
    {"gzip;level=", 0},
    {"gzip;level=\"unterminated", 0},
    {"gzip/1", 0},
    {"gzip;q=0.5 junk", 0},
    {"@@@, gzip", 1},
};

static void test_negotiation_table(void)
{
    for (size_t i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]); i++) {
        const char *v = accept_cases[i].value;
        int got = gzip_accepted(v, strlen(v));
        if (got != accept_cases[i].accepted)
            CHECK_FAIL_("gzip_accepted(\"%s\") = %d, expected %d", v, got,
                        accept_cases[i].accepted);
    }
}

static void test_negotiation_bounds(void)
{
    /* the value is not NUL-terminated: only len bytes count */
    CHECK_INT_EQ(gzip_accepted("gzipped", 4), 1);
    CHECK_INT_EQ(gzip_accepted("gzip;q=0", 4), 1);
    CHECK_INT_EQ(gzip_accepted("gzip;q=0.5", 7), 0);
    CHECK_INT_EQ(gzip_accepted("gzip", 0), 0);
    CHECK_INT_EQ(gzip_accepted("gzip;x=\"ab\"", 10), 0);
}

static int list(const char *a, const char *b, const char *c)
{
    const char *v[3] = {a, b, c};
    size_t lens[3];
    size_t n = 0;

    for (; n < 3 && v[n]; n++)
        lens[n] = strlen(v[n]);
    return gzip_accepted_list(v, lens, n);
}

static void test_negotiation_list(void)
{
    CHECK_INT_EQ(list(NULL, NULL, NULL), 0);
    CHECK_INT_EQ(list("deflate", NULL, NULL), 0);
    CHECK_INT_EQ(list("deflate", "gzip", NULL), 1);
    CHECK_INT_EQ(list("br", "deflate", "x-gzip;q=0.3"), 1);
    CHECK_INT_EQ(list("*", "gzip;q=0", NULL), 0);
    CHECK_INT_EQ(list("gzip;q=0", "*", NULL), 0);
    CHECK_INT_EQ(list("gzip;q=0", "gzip", NULL), 0);
    CHECK_INT_EQ(list("*;q=0", "gzip", NULL), 1);
    CHECK_INT_EQ(list("*", "", NULL), 1);
    CHECK_INT_EQ(list("*", "*;q=0", NULL), 0);
    CHECK_INT_EQ(list("", " , ", "identity"), 0);
    /* a line break does not glue tokens together */
    CHECK_INT_EQ(list("deflate, gz", "ip", NULL), 0);
}

static void round_trip(const char *src, size_t len)
{
    static char comp[1 << 20];
    static char back[1 << 20];
    size_t bound = gzip_bound(len);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t back_len = 0;

    CHECK(d != NULL);
    CHECK(bound >= len);
    CHECK(bound <= sizeof(comp));
    size_t n = gzip_compress(comp, bound, src, len);
    CHECK(n > 0);
    CHECK(n <= bound);
    CHECK_INT_EQ((unsigned char)comp[0], 0x1f);
    CHECK_INT_EQ((unsigned char)comp[1], 0x8b);
    CHECK_INT_EQ((unsigned char)comp[2], 8); /* deflate */
    CHECK_INT_EQ(libdeflate_gzip_decompress(d, comp, n, back, sizeof(back), &back_len),
                 LIBDEFLATE_SUCCESS);
    CHECK_INT_EQ(back_len, len);
    CHECK(len == 0 || memcmp(back, src, len) == 0);
    libdeflate_free_decompressor(d);

    /* one byte short of the output size does not fit: 0, not a truncation */
    CHECK_INT_EQ(gzip_compress(comp, n - 1, src, len), 0);
    CHECK_INT_EQ(gzip_compress(comp, 0, src, len), 0);
}

static void test_round_trip(void)
{
    static char big[200000];
    static char noise[100000];
    unsigned x = 12345;

    round_trip("", 0);
    round_trip("a", 1);
    round_trip("abc", 3);
    round_trip("hello hello hello hello hello hello", 35);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = "ringhttpd "[i % 10];
    round_trip(big, sizeof(big));
    /* incompressible input must still fit in gzip_bound */
    for (size_t i = 0; i < sizeof(noise); i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (char)(x >> 16);
    }
    round_trip(noise, sizeof(noise));
}

static void test_compresses(void)
{
    static char text[4096];
    static char out[8192];

    memset(text, 'z', sizeof(text));
    size_t n = gzip_compress(out, sizeof(out), text, sizeof(text));
    CHECK(n > 0);
    CHECK(n < 100);
}

static void test_cleanup(void)
{
    char out[64];

    gzip_thread_cleanup();
    gzip_thread_cleanup(); /* twice is harmless */
    /* the compressor comes back on next use */
    CHECK(gzip_compress(out, sizeof(out), "abc", 3) > 0);
    gzip_thread_cleanup();
}

int main(void)
{
    test_negotiation_table();
    test_negotiation_bounds();
    test_negotiation_list();
    test_round_trip();
    test_compresses();
    test_cleanup();
    return 0;
}
