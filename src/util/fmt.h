/* fmt.h - numbers into text without printf, for the per-response paths
 * (a response head, an ETag): snprintf costs hundreds of instructions per
 * field, these a few per digit. Neither writes a NUL. */
#ifndef RINGHTTPD_FMT_H
#define RINGHTTPD_FMT_H

#include <stddef.h>
#include <stdint.h>

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
