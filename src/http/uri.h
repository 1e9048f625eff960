/* uri.h - request-target handling: path extraction, percent-decoding and
 * the confinement rules for /files/ names. Pure functions, no I/O. */
#ifndef RINGHTTPD_URI_H
#define RINGHTTPD_URI_H

#include <stddef.h>

/* The path of a request target: for origin-form "/a/b?q" it is "/a/b"; for
 * absolute-form "http://host/a?q" it is "/a" ("/" if the authority is all
 * there is). Returns 0 and sets *path and *path_len (pointing into target), or
 * -1 when the target is neither form (e.g. "*", "a/b", or "http:///a" with
 * its empty host). */
int uri_path(const char *target, size_t len, const char **path, size_t *path_len);

/* Percent-decode src[0..len) into dst (which has room for len bytes; the
 * decoded text is never longer). Returns the decoded length, or -1 on a '%'
 * not followed by two hex digits. dst may equal src. NUL bytes (%00) are
 * decoded like any other: callers that need C strings check for them. */
long uri_pct_decode(char *dst, const char *src, size_t len);

/* 1 when a decoded /files/ name is acceptable: non-empty, no NUL, not
 * absolute, no empty, "." or ".." segment, no trailing '/'. 0 otherwise
 * (the request is answered 403). The kernel's RESOLVE_BENEATH still guards
 * against symlinks; this check refuses what is wrong on its face. */
int uri_file_name_ok(const char *name, size_t len);

/* 1 when a decoded /files/ name holds a control character: a C0 byte (NUL
 * included) or DEL. Such a name is a bad request (400), checked before
 * uri_file_name_ok: no file may be named with a newline or an escape. */
int uri_name_has_control(const char *name, size_t len);

/* 1 when a Host value is uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986
 * 3.2.2): a reg-name or IPv4 address (unreserved, pct-encoded, sub-delims),
 * or an IP-literal in brackets (an IPv6 address or IPvFuture), then digits
 * after an optional colon. The empty value is valid (a target without an
 * authority). 0 otherwise (the request is answered 400). */
int uri_host_ok(const char *v, size_t len);

#endif
