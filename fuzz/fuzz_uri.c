/* fuzz_uri.c - request-target path extraction, percent-decoding and the
 * /files/ name check, each against what uri.h promises and against a
 * deliberately plain reference written here.
 *
 * The whole input is the target (or the text to decode, or the name). */
#include <string.h>

#include "fuzz.h"
#include "http/uri.h"

static int ref_hex(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static long ref_pct_decode(char *dst, const char *src, size_t len)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        if (src[i] == '%') {
            if (i + 2 >= len)
                return -1;
            if (ref_hex((unsigned char)src[i + 1]) < 0 || ref_hex((unsigned char)src[i + 2]) < 0)
                return -1;
            dst[out++] = (char)(ref_hex((unsigned char)src[i + 1]) * 16 +
                                ref_hex((unsigned char)src[i + 2]));
            i += 2;
        } else {
            dst[out++] = src[i];
        }
    }
    return (long)out;
}

/* Segment by segment: none empty, ".", ".."; no NUL anywhere. */
/* The /files/ name rule, stated differently from uri.c: framed as
 * "/name/", a valid name contains no "//", "/./" or "/../" (so no empty, "."
 * or ".." segment, no leading or trailing slash) and no NUL. */
static int ref_name_ok(const char *name, size_t len)
{
    char *framed = malloc(len + 2);
    int ok;

    FUZZ_CHECK(framed != NULL);
    framed[0] = '/';
    memcpy(framed + 1, name, len);
    framed[len + 1] = '/';
    ok = len > 0 && !memchr(name, '\0', len) && !memmem(framed, len + 2, "//", 2) &&
         !memmem(framed, len + 2, "/./", 3) && !memmem(framed, len + 2, "/../", 4);
    free(framed);
    return ok;
}

static void check_name(const char *name, size_t len)
{
    int ok = uri_file_name_ok(name, len);
    int ctl = 0;

    for (size_t i = 0; i < len; i++) /* C0 and DEL, stated by range */
        ctl |= (unsigned char)name[i] <= 0x1f || (unsigned char)name[i] == 0x7f;
    FUZZ_CHECK(uri_name_has_control(name, len) == ctl);

    FUZZ_CHECK(ok == 0 || ok == 1);
    FUZZ_CHECK(ok == ref_name_ok(name, len));
    if (ok) {
        FUZZ_CHECK(name[0] != '/' && name[len - 1] != '/');
        FUZZ_CHECK(memchr(name, '\0', len) == NULL);
        FUZZ_CHECK(!(len == 2 && memcmp(name, "..", 2) == 0));
        FUZZ_CHECK(!(len >= 3 && memcmp(name, "../", 3) == 0));
        FUZZ_CHECK(!(len >= 3 && memcmp(name + len - 3, "/..", 3) == 0));
        FUZZ_CHECK(memmem(name, len, "/../", 4) == NULL);
    }
}

static void check_path(const char *target, size_t len)
{
    const char *path = NULL;
    size_t path_len = 0;
    int r = uri_path(target, len, &path, &path_len);

    FUZZ_CHECK(r == 0 || r == -1);
    if (len > 0 && target[0] == '/')
        FUZZ_CHECK(r == 0 && path == target);
    if (r < 0)
        return;
    FUZZ_CHECK(path >= target && path_len >= 1 && path_len <= len);
    FUZZ_CHECK((size_t)(path - target) <= len - path_len);
    FUZZ_CHECK(path[0] == '/');
    FUZZ_CHECK(memchr(path, '?', path_len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *out = fuzz_dup(in, size), *inplace = fuzz_dup(in, size), *ref = fuzz_dup(in, size);

    check_path(in, size);
    check_name(in, size);

    long n = uri_pct_decode(out, in, size);
    long m = uri_pct_decode(inplace, inplace, size);
    long k = ref_pct_decode(ref, in, size);
    FUZZ_CHECK(n >= -1 && n <= (long)size);
    FUZZ_CHECK(n == m && n == k);
    if (n >= 0) {
        FUZZ_CHECK(memcmp(out, inplace, (size_t)n) == 0);
        FUZZ_CHECK(memcmp(out, ref, (size_t)n) == 0);
        /* How /files/ uses it: decode, then check the name. */
        check_name(out, (size_t)n);
        check_path(out, (size_t)n);
    }
    free(out);
    free(inplace);
    free(ref);
    return 0;
}
