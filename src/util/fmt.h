/* fmt.h - text put together without printf, for the per-response paths
 * (a response head, an ETag, the validator fields): snprintf costs hundreds
 * of instructions per field, these a few per byte. None writes a NUL; each
 * returns where the next byte goes or how many it wrote, and the caller
 * owns the room. */
#ifndef RINGHTTPD_FMT_H
#define RINGHTTPD_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* n bytes of s at p; returns p + n. */
static inline char *fmt_put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* A string literal s at p, without its NUL. */
#define FMT_PUT_LIT(p, s) fmt_put(p, s, sizeof(s) - 1)

/* Decimal digits of v into out[0..20); returns how many. */
static inline size_t fmt_u64(char out[20], uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Lower-case hexadecimal digits of v, without leading zeros, into
 * out[0..16); returns how many (as printf's "%llx"). */
static inline size_t fmt_hex(char out[16], uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 1;

    while (n < 16 && (v >> (4 * n)) != 0)
        n++;
    for (size_t i = 0; i < n; i++)
        out[i] = digits[(v >> (4 * (n - 1 - i))) & 0xf];
    return n;
}

#endif
