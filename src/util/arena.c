/* arena.c - bump allocator, see arena.h. */
#include "util/arena.h"

#include <string.h>

void arena_init(struct arena *a, void *mem, size_t cap)
{
    a->base = mem;
    a->cap = cap;
    a->used = 0;
}

void arena_reset(struct arena *a)
{
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t len)
{
    size_t start = (a->used + 7u) & ~(size_t)7u;

    if (start > a->cap || len > a->cap - start)
        return NULL;
    a->used = start + len;
    return a->base + start;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);

    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
