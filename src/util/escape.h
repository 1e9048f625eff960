/* escape.h - client bytes made safe for a log line.
 *
 * Escapes as nginx's access log does: '"', '\\', control bytes (< 0x20,
 * 0x7f) and bytes >= 0x80 become "\xHH" (upper-case hex); the rest is
 * copied. A client can then neither end a quoted field early (and forge the
 * fields after it) nor write line breaks or terminal escapes into the log. */
#ifndef RINGHTTPD_ESCAPE_H
#define RINGHTTPD_ESCAPE_H

#include <stddef.h>

/* Escape src[0..len) into dst, writing at most cap - 1 bytes and a NUL.
 * Input that does not fit is dropped whole: an escape is never cut. Returns
 * the length written (without the NUL); cap must be at least 1. */
size_t escape_log(char *dst, size_t cap, const char *src, size_t len);

#endif
