/* escape.c - see escape.h. */
#include "util/escape.h"

size_t escape_log(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            if (out + 1 >= cap)
                break;
            dst[out++] = (char)ch;
            continue;
        }
        if (out + 4 >= cap)
            break;
        dst[out++] = '\\';
        dst[out++] = 'x';
        dst[out++] = hex[ch >> 4];
        dst[out++] = hex[ch & 15];
    }
    dst[out] = '\0';
    return out;
}
