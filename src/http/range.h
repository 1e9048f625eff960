/* range.h - the Range header field (RFC 9110 section 14) over a
 * representation of known size. Pure function, no I/O. */
#ifndef RINGHTTPD_RANGE_H
#define RINGHTTPD_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* More satisfiable ranges than this, or ranges that add up to more than the
 * file (overlaps: RFC 9110 15.2.7's amplification), and the whole file is
 * sent instead: one request can never make the server send more than the
 * file plus part headers. */
#define RANGE_MAX 16

struct byte_range {
    uint64_t first, last; /* inclusive, last < size */
};

enum range_result {
    RANGE_IGNORE,        /* absent, malformed, another unit, or refused: send 200 */
    RANGE_OK,            /* *n satisfiable ranges in out, in the order given: 206 */
    RANGE_UNSATISFIABLE, /* valid, but none overlaps the file: 416 */
};

/* Parse a Range value ("bytes=0-99, -50, 200-") for a file of size bytes.
 * The unit is case-insensitive; "a-b" past the end is clipped, "a-" runs to
 * the end, "-n" is the last n bytes; a spec that starts past the end (or
 * "-0") is unsatisfiable and dropped. out holds RANGE_MAX entries; *n is 0
 * unless the result is RANGE_OK. */
enum range_result range_parse(const char *v, size_t len, uint64_t size, struct byte_range *out,
                              unsigned *n);

#endif
