/* uri.c - request-target path extraction, percent-decoding and the
 * face-value checks on /files/ names. */
#include "http/uri.h"
#include "http/parse.h"

#include <string.h>
#include <strings.h>

/* Length of "http://" or "https://" (any case) at the start of s, or 0. */
static size_t uri_scheme_len(const char *s, size_t len)
{
    size_t n = 4;

    if (len < 7 || strncasecmp(s, "http", 4) != 0)
        return 0;
    if (s[n] == 's' || s[n] == 'S')
        n++;
    if (len < n + 3 || memcmp(s + n, "://", 3) != 0)
        return 0;
    return n + 3;
}

int uri_path(const char *target, size_t len, const char **path, size_t *path_len)
{
    const char *end;
    size_t start;

    if (len > 0 && target[0] == '/') {
        start = 0;
    } else {
        size_t authority = uri_scheme_len(target, len);
        if (authority == 0)
            return -1;
        start = authority;
        while (start < len && target[start] != '/' && target[start] != '?')
            start++;
        /* RFC 9110 section 4.2.1: an http URI with an empty host is invalid. */
        if (start == authority)
            return -1;
        if (start == len || target[start] == '?') {
            /* No path: "/" is the path, and the second slash of "://" is
             * one inside target to point at. */
            *path = target + authority - 1;
            *path_len = 1;
            return 0;
        }
    }
    end = memchr(target + start, '?', len - start);
    *path = target + start;
    *path_len = (size_t)((end ? end : target + len) - *path);
    return 0;
}

long uri_pct_decode(char *dst, const char *src, size_t len)
{
    size_t out = 0;

    /* out never passes i, so decoding in place (dst == src) is safe. */
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[out++] = src[i];
            continue;
        }
        if (len - i < 3)
            return -1;
        int hi = http_hex_value((unsigned char)src[i + 1]);
        int lo = http_hex_value((unsigned char)src[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        dst[out++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return (long)out;
}

int uri_file_name_ok(const char *name, size_t len)
{
    size_t seg = 0; /* start of the current segment */

    if (len == 0 || name[0] == '/' || memchr(name, '\0', len))
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/')
            continue;
        size_t n = i - seg;
        if (n == 0 || (n == 1 && name[seg] == '.') ||
            (n == 2 && name[seg] == '.' && name[seg + 1] == '.'))
            return 0;
        seg = i + 1;
    }
    return 1;
}

int uri_name_has_control(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 1;
    return 0;
}

/* unreserved / sub-delims (RFC 3986 2.2, 2.3). */
static int uri_is_host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* The inside of an IP-literal: IPv6address (hex digits, ':' and a dotted
 * IPv4 tail) or IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims /
 * ":" ). Checked on its face: at least two colons for IPv6. */
static int uri_ip_literal_ok(const char *s, size_t len)
{
    size_t colons = 0, i = 0;

    if (len > 0 && (s[0] == 'v' || s[0] == 'V')) {
        for (i = 1; i < len && http_hex_value((unsigned char)s[i]) >= 0; i++)
            ;
        if (i == 1 || i + 1 >= len || s[i] != '.')
            return 0;
        for (i++; i < len; i++)
            if (!uri_is_host_char((unsigned char)s[i]) && s[i] != ':')
                return 0;
        return 1;
    }
    for (; i < len; i++) {
        if (s[i] == ':')
            colons++;
        else if (http_hex_value((unsigned char)s[i]) < 0 && s[i] != '.')
            return 0;
    }
    return colons >= 2 && colons <= 7;
}

int uri_host_ok(const char *v, size_t len)
{
    size_t i = 0;

    if (len > 0 && v[0] == '[') {
        const char *close = memchr(v, ']', len);
        if (!close || !uri_ip_literal_ok(v + 1, (size_t)(close - v) - 1))
            return 0;
        i = (size_t)(close - v) + 1;
    } else {
        while (i < len && v[i] != ':') {
            if (v[i] == '%') {
                if (i + 2 >= len || http_hex_value((unsigned char)v[i + 1]) < 0 ||
                    http_hex_value((unsigned char)v[i + 2]) < 0)
                    return 0;
                i += 3;
            } else if (uri_is_host_char((unsigned char)v[i])) {
                i++;
            } else {
                return 0;
            }
        }
    }
    if (i == len)
        return 1;
    if (v[i++] != ':')
        return 0;
    for (; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}
