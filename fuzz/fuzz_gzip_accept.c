/* fuzz_gzip_accept.c - Accept-Encoding negotiation on arbitrary values, and
 * the gzip round trip of what /echo would compress.
 *
 * The input is one header value; split at '\n' it is also the same header
 * sent as several lines. Negotiation must never crash, and without quoted
 * strings (whose quotes could pair up across a comma): several lines must
 * mean what they mean joined with commas (RFC 9110 section 5.3), empty list
 * elements change nothing, and an appended "gzip;q=0" always refuses gzip
 * (gzip.h). */
#include <libdeflate.h>
#include <string.h>

#include "fuzz.h"
#include "http/gzip.h"

#define FUZZ_MAX_LINES 64

static void check_roundtrip(const char *data, size_t size)
{
    static struct libdeflate_decompressor *d;
    size_t cap = gzip_bound(size), n, got = 0;
    char *z = malloc(cap), *back = malloc(size + 1);

    FUZZ_CHECK(z && back);
    if (!d)
        d = libdeflate_alloc_decompressor();
    FUZZ_CHECK(d != NULL);
    n = gzip_compress(z, cap, data, size);
    FUZZ_CHECK(n > 0 && n <= cap); /* gzip_bound is enough */
    FUZZ_CHECK(libdeflate_gzip_decompress(d, z, n, back, size + 1, &got) == LIBDEFLATE_SUCCESS);
    FUZZ_CHECK(got == size && memcmp(back, data, size) == 0);
    free(z);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *lines[FUZZ_MAX_LINES];
    size_t lens[FUZZ_MAX_LINES], nlines = 0, start = 0;
    int single = gzip_accepted(in, size);

    FUZZ_CHECK(single == 0 || single == 1);

    /* The same bytes as several header lines. */
    while (start <= size && nlines < FUZZ_MAX_LINES) {
        const char *nl = memchr(in + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - in) : size;
        lines[nlines] = fuzz_dup(in + start, end - start);
        lens[nlines] = end - start;
        nlines++;
        start = end + 1;
    }
    int multi = gzip_accepted_list(lines, lens, nlines);
    FUZZ_CHECK(multi == 0 || multi == 1);
    if (!memchr(in, '"', size)) {
        static const char refuse[] = ",gzip;q=0", empty[] = ", ,,";
        char *more = malloc(size + sizeof(refuse));
        FUZZ_CHECK(more != NULL);
        memcpy(more, in, size);
        memcpy(more + size, refuse, sizeof(refuse) - 1);
        FUZZ_CHECK(gzip_accepted(more, size + sizeof(refuse) - 1) == 0);
        memcpy(more + size, empty, sizeof(empty) - 1);
        FUZZ_CHECK(gzip_accepted(more, size + sizeof(empty) - 1) == single);
        free(more);
    }
    if (start > size && !memchr(in, '"', size)) {
        char *joined = malloc(size + 1);
        size_t jl = 0;
        FUZZ_CHECK(joined != NULL);
        for (size_t i = 0; i < nlines; i++) {
            if (i)
                joined[jl++] = ',';
            memcpy(joined + jl, lines[i], lens[i]);
            jl += lens[i];
        }
        FUZZ_CHECK(gzip_accepted(joined, jl) == multi);
        free(joined);
    }
    for (size_t i = 0; i < nlines; i++)
        free((void *)lines[i]);

    if (size <= 16384)
        check_roundtrip(in, size);
    return 0;
}
