/* cond.h - validators and conditional requests (RFC 9110 sections 8.8 and
 * 13): the ETag and Last-Modified of a file, HTTP-date parsing, entity-tag
 * lists, and the evaluation of If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since and If-Range in the RFC's order. Pure functions over
 * bytes the caller holds; no I/O, no clock. */
#ifndef RINGHTTPD_COND_H
#define RINGHTTPD_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* '"' + three 16-digit hex numbers, two '-' + '"' + NUL. */
#define COND_ETAG_MAX 56

/* The validators of a file. */
struct cond_validators {
    char etag[COND_ETAG_MAX]; /* strong entity-tag, quotes included, NUL-terminated */
    uint8_t etag_len;
    int64_t last_modified; /* seconds since the epoch */
};

/* A strong ETag from the file's identity (inode), size and modification
 * time in nanoseconds, so that replacing, growing, shrinking or rewriting the
 * file changes it; Last-Modified is the modification time, but never later
 * than now (RFC 9110 8.8.2.1). */
void cond_validators_of(struct cond_validators *v, uint64_t ino, uint64_t size, int64_t mtime_sec,
                        uint32_t mtime_nsec, int64_t now);

/* An HTTP-date in any of the three forms a recipient must accept (RFC 9110
 * 5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday,
 * 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994". Returns
 * the seconds since the epoch, or -1 when s[0..len) is none of them or
 * is outside 1970..HTTP_DATE_MAX. */
int64_t http_date_parse(const char *s, size_t len);

/* Whether an If-Match or If-None-Match value ("*", or a list of
 * entity-tags) matches etag. "*" matches any current representation. Strong
 * comparison (If-Match, If-Range) needs both tags strong and equal; weak
 * comparison (If-None-Match) ignores a W/ prefix. A list that stops parsing
 * (a malformed element) matches only through the tags before it. */
bool cond_etag_match(const char *list, size_t len, const char *etag, size_t etag_len, bool weak);

#define COND_DATE_ABSENT (-2)

/* The conditional header fields of a request, kept when the head is parsed
 * (see conn_head.c). A list field sent on several lines is joined with ", ";
 * a date field that is repeated or not a valid date is -1 and ignored, as
 * RFC 9110 says of an invalid date. */
struct cond_request {
    const char *if_match, *if_none_match, *if_range, *range; /* NULL: absent */
    uint16_t if_match_len, if_none_match_len, if_range_len, range_len;
    int64_t if_modified_since, if_unmodified_since; /* < 0: absent or invalid */
};

/* A request without conditional fields. */
#define COND_REQUEST_NONE                                                                          \
    ((struct cond_request){.if_modified_since = COND_DATE_ABSENT,                                  \
                           .if_unmodified_since = COND_DATE_ABSENT})

/* Whether an upload or delete has preconditions to check against the name. */
bool cond_request_has_preconditions(const struct cond_request *r);

/* Whether If-None-Match is "*": create only if the name is absent. */
bool cond_request_none_match_any(const struct cond_request *r);

enum cond_result {
    COND_PROCEED,             /* answer as if unconditional */
    COND_NOT_MODIFIED,        /* 304 */
    COND_PRECONDITION_FAILED, /* 412 */
};

/* RFC 9110 13.2.2, steps 1 to 4, for a target whose validators are v, or
 * NULL when it does not exist (an upload that would create it). safe: the
 * method is GET or HEAD (If-None-Match and If-Modified-Since give 304
 * there, 412 elsewhere; If-Modified-Since is ignored elsewhere). */
enum cond_result cond_evaluate(const struct cond_request *r, const struct cond_validators *v,
                               bool safe);

/* RFC 9110 13.1.5: whether the Range of a GET applies. True without
 * If-Range; with one, when it is an entity-tag strongly equal to v's, or a
 * date exactly equal to v's Last-Modified. Otherwise the whole file is sent. */
bool cond_if_range_ok(const struct cond_request *r, const struct cond_validators *v);

#endif
