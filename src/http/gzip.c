/* gzip.c - Accept-Encoding negotiation (RFC 9110 section 12.5.3) and
 * one-shot gzip with libdeflate. */
#include "http/gzip.h"

#include <libdeflate.h>
#include <stdint.h>
#include <strings.h>

#include "http/parse.h"

/* What the header lines said about gzip and "*" so far. */
struct gzip_prefs {
    uint8_t gzip_yes, gzip_no;
    uint8_t star_yes, star_no;
};

/* Level 1: echo bodies are small and the compression runs on the event
 * loop, so the fastest level is the right trade. */
#define GZIP_LEVEL 1

/* One compressor per thread: libdeflate compressors are not thread-safe, and
 * allocating one (hundreds of KiB) per response would be far too slow. */
static _Thread_local struct libdeflate_compressor *gzip_compressor;

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int gzip_qvalue(const char *s, size_t n)
{
    int q;

    if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.')
        return -1;
    for (size_t i = 2, scale = 100; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * (int)scale;
    }
    return q <= 1000 ? q : -1;
}

/* Parse one list element s[0..len): coding *( OWS ";" OWS [ parameter ] ).
 * Returns its q in thousandths (0 for a malformed q value), or -1 for a
 * malformed element; the coding is s[0 .. *coding_len). */
static int gzip_element(const char *s, size_t len, size_t *coding_len)
{
    size_t i = http_skip_token(s, len, 0);
    int q = 1000;

    *coding_len = i;
    if (i == 0)
        return -1;
    for (;;) {
        i = http_skip_ows(s, len, i);
        if (i == len)
            return q;
        if (s[i] != ';')
            return -1;
        i = http_skip_ows(s, len, i + 1);
        /* RFC 9110 section 5.6.6 allows an empty parameter. */
        if (i == len || s[i] == ';')
            continue;
        size_t name = i;
        i = http_skip_token(s, len, i);
        int is_q = i - name == 1 && (s[name] == 'q' || s[name] == 'Q');
        if (i == name)
            return -1;
        if (i == len || s[i] != '=') {
            if (!is_q)
                return -1;
            q = 0;
            continue;
        }
        size_t value = ++i;
        if (i < len && s[i] == '"') {
            size_t end = http_skip_quoted(s, len, i);
            if (end == 0)
                return -1;
            i = end;
            if (is_q)
                q = 0;
            continue;
        }
        i = http_skip_token(s, len, i);
        if (is_q) {
            int v = gzip_qvalue(s + value, i - value);
            q = v < 0 ? 0 : v;
        } else if (i == value) {
            return -1;
        }
    }
}

static void gzip_scan(struct gzip_prefs *p, const char *s, size_t len)
{
    struct http_list list = http_list_of(s, len);
    size_t coding, n;

    while (http_list_next(&list, &coding, &n)) {
        size_t coding_len;
        int q = gzip_element(s + coding, n, &coding_len);
        if (q < 0)
            continue;
        const char *c = s + coding;
        if ((coding_len == 4 && strncasecmp(c, "gzip", 4) == 0) ||
            (coding_len == 6 && strncasecmp(c, "x-gzip", 6) == 0)) {
            if (q > 0)
                p->gzip_yes = 1;
            else
                p->gzip_no = 1;
        } else if (coding_len == 1 && c[0] == '*') {
            if (q > 0)
                p->star_yes = 1;
            else
                p->star_no = 1;
        }
    }
}

static int gzip_decide(const struct gzip_prefs *p)
{
    if (p->gzip_no || p->gzip_yes)
        return !p->gzip_no;
    return p->star_yes && !p->star_no;
}

int gzip_accepted(const char *value, size_t len)
{
    struct gzip_prefs p = {0};

    gzip_scan(&p, value, len);
    return gzip_decide(&p);
}

int gzip_accepted_list(const char *const *values, const size_t *lens, size_t n)
{
    struct gzip_prefs p = {0};

    for (size_t i = 0; i < n; i++)
        gzip_scan(&p, values[i], lens[i]);
    return gzip_decide(&p);
}

size_t gzip_bound(size_t len)
{
    /* NULL: a bound valid for any compressor, so no allocation here. */
    return libdeflate_gzip_compress_bound(NULL, len);
}

size_t gzip_compress(void *dst, size_t cap, const void *src, size_t len)
{
    if (!gzip_compressor) {
        gzip_compressor = libdeflate_alloc_compressor(GZIP_LEVEL);
        if (!gzip_compressor)
            return 0;
    }
    return libdeflate_gzip_compress(gzip_compressor, src, len, dst, cap);
}

void gzip_thread_cleanup(void)
{
    libdeflate_free_compressor(gzip_compressor);
    gzip_compressor = NULL;
}
