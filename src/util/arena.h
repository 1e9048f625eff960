/* arena.h - a bump allocator over a caller-owned block, reset per request.
 *
 * No allocation of its own: the arena hands out pieces of the memory it was
 * given and forgets them all at once on reset. Used for per-request scratch
 * (the decoded target, the access-log request line, the upload temp name). */
#ifndef RINGHTTPD_ARENA_H
#define RINGHTTPD_ARENA_H

#include <stddef.h>

struct arena {
    char *base;
    size_t cap;
    size_t used;
};

/* Use mem[0..cap) as the arena's storage. The caller keeps ownership. */
void arena_init(struct arena *a, void *mem, size_t cap);

/* Forget every allocation; the storage is reused from the start. */
void arena_reset(struct arena *a);

/* len bytes aligned to 8, or NULL when the arena is full. */
void *arena_alloc(struct arena *a, size_t len);

/* A NUL-terminated copy of s[0..len), or NULL when the arena is full. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

#endif
