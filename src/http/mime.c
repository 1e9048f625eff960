/* mime.c - extension to media type, see mime.h. The table is one sorted
 * array of (extension, type) searched by bisection: a few thousand entries
 * cost about 12 string comparisons per lookup and no allocation. */
#include "http/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIME_EXT_MAX 32   /* longer "extensions" are not looked up */
#define MIME_TYPE_MAX 127 /* longer types are skipped */

struct mime_entry {
    const char *ext; /* lower case, NUL-terminated, in text */
    const char *type;
    size_t order; /* line order, so the first listing wins */
};

struct mime_table {
    struct mime_entry *entries;
    size_t count;
    char *text; /* the file's text, cut into NUL-terminated words */
};

static int mime_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int mime_cmp(const void *a, const void *b)
{
    const struct mime_entry *x = a, *y = b;
    int r = strcmp(x->ext, y->ext);

    return r ? r : (x->order > y->order) - (x->order < y->order);
}

/* A media type: type "/" subtype, each a non-empty token, short enough. */
static int mime_type_ok(const char *s)
{
    const char *slash = strchr(s, '/');

    return slash && slash > s && slash[1] && !strchr(slash + 1, '/') && strlen(s) <= MIME_TYPE_MAX;
}

/* Cut text[0..len) (with text[len] writable) into NUL-terminated words in
 * place, and add an entry per extension of each line. Returns how many
 * entries there are; out NULL: count only. */
static size_t mime_scan(char *text, size_t len, struct mime_entry *out)
{
    char *p = text, *end = text + len;
    size_t n = 0;

    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char *stop = memchr(p, '#', (size_t)(eol - p));
        if (!stop)
            stop = eol;
        const char *type = NULL;
        while (p < stop) {
            while (p < stop && mime_is_space(*p))
                p++;
            if (p == stop)
                break;
            char *word = p;
            while (p < stop && !mime_is_space(*p))
                p++;
            *p++ = '\0'; /* a space, or stop: '#', '\n' or text[len] */
            if (!type)
                type = word;
            else if (out)
                out[n] = (struct mime_entry){word, type, n}, n++;
            else
                n++;
        }
        p = eol + 1;
    }
    return n;
}

struct mime_table *mime_table_parse(const char *src, size_t len)
{
    struct mime_table *t = calloc(1, sizeof(*t));
    size_t n, kept = 0;

    if (!t || !(t->text = malloc(len + 1)))
        goto fail;
    memcpy(t->text, src, len);
    t->text[len] = '\0';
    /* Count on a scratch copy, then fill: the scan cuts the text in place. */
    char *scratch = malloc(len + 1);
    if (!scratch)
        goto fail;
    memcpy(scratch, src, len);
    scratch[len] = '\0';
    n = mime_scan(scratch, len, NULL);
    free(scratch);
    t->entries = malloc((n ? n : 1) * sizeof(*t->entries));
    if (!t->entries)
        goto fail;
    n = mime_scan(t->text, len, t->entries);
    for (size_t i = 0; i < n; i++) {
        struct mime_entry e = t->entries[i];
        size_t el = strlen(e.ext);
        if (!mime_type_ok(e.type) || el == 0 || el > MIME_EXT_MAX)
            continue;
        for (char *p = (char *)e.ext; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        t->entries[kept++] = e;
    }
    qsort(t->entries, kept, sizeof(*t->entries), mime_cmp);
    /* Keep the first listing of each extension. */
    t->count = 0;
    for (size_t i = 0; i < kept; i++)
        if (t->count == 0 || strcmp(t->entries[t->count - 1].ext, t->entries[i].ext) != 0)
            t->entries[t->count++] = t->entries[i];
    return t;

fail:
    mime_table_free(t);
    return NULL;
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->text);
    free(t);
}

size_t mime_table_count(const struct mime_table *t)
{
    return t ? t->count : 0;
}

const char *mime_type_of(const struct mime_table *t, const char *name, size_t len, const char *dflt)
{
    char ext[MIME_EXT_MAX + 1];
    size_t lo = 0, hi, el;

    if (!t || t->count == 0)
        return dflt;
    for (el = 0; el < len && name[len - 1 - el] != '.'; el++)
        if (name[len - 1 - el] == '/' || el == MIME_EXT_MAX)
            return dflt;
    if (el == len || el == 0)
        return dflt;
    for (size_t i = 0; i < el; i++) {
        char c = name[len - el + i];
        ext[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    ext[el] = '\0';
    hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(t->entries[mid].ext, ext);
        if (r == 0)
            return t->entries[mid].type;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return dflt;
}
