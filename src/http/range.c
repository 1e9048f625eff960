/* range.c - the Range header field, see range.h. */
#include "http/range.h"

#include <stdbool.h>
#include <strings.h>

#include "http/parse.h"

/* Values above this saturate: no file is that large, and the sums below
 * cannot overflow. */
#define RANGE_BIG (UINT64_C(1) << 62)

/* 1*DIGIT at s[*i]; false when there is none. Saturates at RANGE_BIG. */
static bool range_number(const char *s, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;

    for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++)
        v = v >= RANGE_BIG / 10 ? RANGE_BIG : v * 10 + (uint64_t)(s[*i] - '0');
    *out = v;
    return *i > start;
}

/* One range-spec, s[*i..]: int-range "first-[last]" or suffix-range "-n".
 * Returns false when malformed; *sat says whether it overlaps the file. */
static bool range_spec(const char *s, size_t len, size_t *i, uint64_t size, struct byte_range *r,
                       bool *sat)
{
    uint64_t first, last, suffix;

    if (*i < len && s[*i] == '-') {
        (*i)++;
        if (!range_number(s, len, i, &suffix))
            return false;
        *sat = suffix > 0 && size > 0;
        r->first = suffix >= size ? 0 : size - suffix;
        r->last = size - 1;
        return true;
    }
    if (!range_number(s, len, i, &first) || *i == len || s[(*i)++] != '-')
        return false;
    if (range_number(s, len, i, &last)) {
        if (last < first)
            return false;
    } else {
        last = RANGE_BIG;
    }
    *sat = first < size;
    r->first = first;
    r->last = last < size ? last : size - 1;
    return true;
}

enum range_result range_parse(const char *s, size_t len, uint64_t size, struct byte_range *out,
                              unsigned *n)
{
    size_t i = http_skip_ows(s, len, 0);
    uint64_t total = 0;
    bool any_spec = false;

    *n = 0;
    if (len - i < 6 || strncasecmp(s + i, "bytes=", 6) != 0)
        goto ignore;
    i += 6;
    for (;;) {
        while (i < len && (s[i] == ',' || http_is_ows((unsigned char)s[i])))
            i++;
        if (i == len)
            break;
        struct byte_range r;
        bool sat;
        if (!range_spec(s, len, &i, size, &r, &sat))
            goto ignore;
        any_spec = true;
        i = http_skip_ows(s, len, i);
        if (i < len && s[i] != ',')
            goto ignore;
        if (!sat)
            continue;
        total += r.last - r.first + 1;
        if (*n == RANGE_MAX || total > size)
            goto ignore;
        out[(*n)++] = r;
    }
    if (any_spec)
        return *n ? RANGE_OK : RANGE_UNSATISFIABLE;
ignore:
    *n = 0;
    return RANGE_IGNORE;
}
