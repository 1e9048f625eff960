/* arena.c - bump allocator, see arena.h. */
#include "util/arena.h"

#include <stdint.h>
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
    /* Align the address, not the offset: the storage may start anywhere. */
    uintptr_t at = ((uintptr_t)(a->base + a->used) + 7u) & ~(uintptr_t)7u;
    size_t start = (size_t)(at - (uintptr_t)a->base);

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
