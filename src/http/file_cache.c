/* file_cache.c - see file_cache.h. One table per thread: a chained hash of
 * nodes on an LRU list; each node holds the name and the bytes after it. The
 * generations are process-wide atomics, one per bucket of names (a bump
 * only ever costs other names in the bucket one extra STAT).
 *
 * A node that leaves the table while responses use its descriptor becomes
 * an orphan (on the orphan list, by its LRU links) until the last release;
 * a node whose descriptor is to be closed waits on the closing list (by its
 * chain link) for file_cache_closing. */
#include "http/file_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FILE_CACHE_GEN_BUCKETS 4096

struct fc_node {
    struct file_cache_entry e;
    struct fc_node *chain;       /* next in the hash bucket */
    struct fc_node *prev, *next; /* LRU: head is the most recent */
    uint64_t hash;
    bool orphan;  /* out of the table, its fd still in use */
    size_t bytes; /* what the node costs the global budget */
    size_t name_len;
    char name[]; /* name, NUL, then the data */
};

struct fc_list {
    struct fc_node *head, *tail; /* linked by prev/next */
};

struct fc_table {
    struct fc_node **buckets;
    size_t mask;
    size_t count;
    struct fc_list lru;      /* head is the most recent */
    struct fc_list orphans;  /* their fd in use */
    struct fc_node *closing; /* their fd to be closed; linked by chain */
    unsigned fds;            /* descriptors held: in the table, orphans, closing */
};

static _Thread_local struct fc_table *fc;
static _Atomic uint32_t fc_gen[FILE_CACHE_GEN_BUCKETS];
static atomic_size_t fc_bytes;
static atomic_uint fc_fds; /* descriptors held by all threads' nodes */

/* FNV-1a. */
static uint64_t fc_hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

uint32_t file_cache_generation(const char *name, size_t len)
{
    return atomic_load_explicit(&fc_gen[fc_hash(name, len) % FILE_CACHE_GEN_BUCKETS],
                                memory_order_acquire);
}

void file_cache_touch(const char *name, size_t len)
{
    atomic_fetch_add_explicit(&fc_gen[fc_hash(name, len) % FILE_CACHE_GEN_BUCKETS], 1,
                              memory_order_release);
}

static struct fc_node **fc_slot(uint64_t hash, const char *name, size_t len)
{
    struct fc_node **p = &fc->buckets[hash & fc->mask];

    while (*p && ((*p)->hash != hash || (*p)->name_len != len || memcmp((*p)->name, name, len)))
        p = &(*p)->chain;
    return p;
}

/* The LRU list and the orphan list share these (by prev/next). */
static void fc_list_unlink(struct fc_list *l, struct fc_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
}

static void fc_list_push(struct fc_list *l, struct fc_node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    l->head = n;
    if (!l->tail)
        l->tail = n;
}

static void fc_free(struct fc_node *n)
{
    atomic_fetch_sub_explicit(&fc_bytes, n->bytes, memory_order_relaxed);
    free(n);
}

/* n is out of the table: free it, or keep it until its fd is unused (an
 * orphan) or closed (on the closing list). */
static void fc_let_go(struct fc_node *n)
{
    if (n->e.fd < 0) {
        fc_free(n);
    } else if (n->e.users > 0) {
        n->orphan = true;
        fc_list_push(&fc->orphans, n);
    } else {
        n->chain = fc->closing;
        fc->closing = n;
    }
}

/* Take the node at *slot out of the table. */
static void fc_remove(struct fc_node **slot)
{
    struct fc_node *n = *slot;

    *slot = n->chain;
    fc_list_unlink(&fc->lru, n);
    fc->count--;
    fc_let_go(n);
}

struct file_cache_entry *file_cache_find(const char *name, size_t len)
{
    if (!fc)
        return NULL;
    struct fc_node *n = *fc_slot(fc_hash(name, len), name, len);
    if (!n)
        return NULL;
    fc_list_unlink(&fc->lru, n);
    fc_list_push(&fc->lru, n);
    return &n->e;
}

bool file_cache_fresh(const struct file_cache_entry *e, const char *name, size_t len, time_t now)
{
    return e->checked == now && e->gen == file_cache_generation(name, len);
}

bool file_cache_same(const struct file_cache_entry *e, const struct statx *stx)
{
    return S_ISREG(stx->stx_mode) && e->dev == makedev(stx->stx_dev_major, stx->stx_dev_minor) &&
           e->ino == stx->stx_ino && e->size == stx->stx_size &&
           e->mtime_sec == stx->stx_mtime.tv_sec && e->mtime_nsec == stx->stx_mtime.tv_nsec &&
           e->ctime_sec == stx->stx_ctime.tv_sec && e->ctime_nsec == stx->stx_ctime.tv_nsec;
}

void file_cache_checked(struct file_cache_entry *e, uint32_t gen, time_t now)
{
    e->gen = gen;
    e->checked = now;
}

void file_cache_drop(const char *name, size_t len)
{
    if (!fc)
        return;
    struct fc_node **slot = fc_slot(fc_hash(name, len), name, len);
    if (*slot)
        fc_remove(slot);
}

static bool fc_create(unsigned cap)
{
    size_t n = 64;

    while (n < cap && n < (SIZE_MAX >> 2))
        n <<= 1;
    fc = calloc(1, sizeof(*fc));
    if (!fc)
        return false;
    fc->buckets = calloc(n, sizeof(*fc->buckets));
    if (!fc->buckets) {
        free(fc);
        fc = NULL;
        return false;
    }
    fc->mask = n - 1;
    return true;
}

/* Evict this thread's least recent entries until one of bytes more fits
 * under cap entries and the global budget. false when it cannot. */
static bool fc_make_room(size_t bytes, unsigned cap)
{
    while (fc->count >= cap ||
           atomic_load_explicit(&fc_bytes, memory_order_relaxed) + bytes > FILE_CACHE_BYTES_MAX) {
        if (!fc->lru.tail)
            return false; /* the budget is other threads' */
        struct fc_node *t = fc->lru.tail;
        fc_remove(fc_slot(t->hash, t->name, t->name_len));
    }
    return true;
}

/* An eighth of the fd limit for all threads' descriptors together. */
static unsigned fc_fd_budget(void)
{
    static atomic_uint budget;
    unsigned b = atomic_load_explicit(&budget, memory_order_relaxed);
    struct rlimit rl;

    if (b == 0) {
        b = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                ? (unsigned)(rl.rlim_cur / 8 < UINT32_MAX ? rl.rlim_cur / 8 : UINT32_MAX)
                : 1024;
        b = b ? b : 1;
        atomic_store_explicit(&budget, b, memory_order_relaxed);
    }
    return b;
}

/* Whether one more descriptor fits the budget (counted if so). */
static bool fc_fd_take(void)
{
    if (atomic_fetch_add_explicit(&fc_fds, 1, memory_order_relaxed) < fc_fd_budget())
        return true;
    atomic_fetch_sub_explicit(&fc_fds, 1, memory_order_relaxed);
    return false;
}

struct file_cache_entry *file_cache_insert(const char *name, size_t len, const struct statx *stx,
                                           const void *data, int fd, uint32_t gen, time_t now,
                                           unsigned cap)
{
    size_t size = data ? stx->stx_size : 0;

    if (cap == 0 || len > FILE_CACHE_NAME_MAX || (data && size > FILE_CACHE_SIZE_MAX) ||
        !S_ISREG(stx->stx_mode) || (!fc && !fc_create(cap)))
        return NULL;
    file_cache_drop(name, len);
    size_t bytes = sizeof(struct fc_node) + len + 1 + size;
    if (!fc_make_room(bytes, cap))
        return NULL;
    struct fc_node *n = malloc(bytes);
    if (!n)
        return NULL;
    if (data || (fd >= 0 && !fc_fd_take()))
        fd = -1;
    fc->fds += fd >= 0;
    n->hash = fc_hash(name, len);
    n->orphan = false;
    n->bytes = bytes;
    n->name_len = len;
    memcpy(n->name, name, len);
    n->name[len] = '\0';
    if (data)
        memcpy(n->name + len + 1, data, size);
    n->e = (struct file_cache_entry){
        .dev = makedev(stx->stx_dev_major, stx->stx_dev_minor),
        .ino = stx->stx_ino,
        .size = stx->stx_size,
        .mtime_sec = stx->stx_mtime.tv_sec,
        .mtime_nsec = stx->stx_mtime.tv_nsec,
        .ctime_sec = stx->stx_ctime.tv_sec,
        .ctime_nsec = stx->stx_ctime.tv_nsec,
        .gen = gen,
        .checked = now,
        .data = data ? n->name + len + 1 : NULL,
        .fd = fd,
    };
    struct fc_node **slot = &fc->buckets[n->hash & fc->mask];
    n->chain = *slot;
    *slot = n;
    fc_list_push(&fc->lru, n);
    fc->count++;
    atomic_fetch_add_explicit(&fc_bytes, bytes, memory_order_relaxed);
    return &n->e;
}

void file_cache_hold(struct file_cache_entry *e)
{
    e->users++;
}

void file_cache_release(struct file_cache_entry *e)
{
    struct fc_node *n = (struct fc_node *)e; /* e is the node's first member */

    if (--e->users > 0 || !n->orphan)
        return;
    fc_list_unlink(&fc->orphans, n);
    n->orphan = false;
    fc_let_go(n);
}

int file_cache_closing(void)
{
    if (!fc || !fc->closing)
        return -1;
    struct fc_node *n = fc->closing;
    int fd = n->e.fd;
    fc->closing = n->chain;
    fc->fds--;
    atomic_fetch_sub_explicit(&fc_fds, 1, memory_order_relaxed);
    fc_free(n);
    return fd;
}

/* Let go of the unused descriptors of entries last checked (which a use in
 * a later second does) before the second before. */
static unsigned fc_shed(time_t before)
{
    unsigned shed = 0;

    if (!fc)
        return 0;
    for (struct fc_node *n = fc->lru.tail, *prev; n; n = prev) {
        prev = n->prev;
        if (n->e.fd >= 0 && n->e.users == 0 && n->e.checked < before) {
            fc_remove(fc_slot(n->hash, n->name, n->name_len));
            shed++;
        }
    }
    return shed;
}

unsigned file_cache_shed(void)
{
    return fc_shed(INT64_MAX);
}

bool file_cache_holds_fds(void)
{
    return fc && fc->fds > 0;
}

unsigned file_cache_expire(time_t now)
{
    return fc_shed(now - FILE_CACHE_FD_IDLE);
}

void file_cache_thread_cleanup(void)
{
    int fd;

    if (!fc)
        return;
    while (fc->lru.tail)
        fc_remove(fc_slot(fc->lru.tail->hash, fc->lru.tail->name, fc->lru.tail->name_len));
    /* Orphans are left only by connections the engine dropped mid-send. */
    while (fc->orphans.head) {
        struct fc_node *n = fc->orphans.head;
        fc_list_unlink(&fc->orphans, n);
        n->e.users = 0;
        n->orphan = false;
        fc_let_go(n);
    }
    while ((fd = file_cache_closing()) >= 0)
        close(fd);
    free(fc->buckets);
    free(fc);
    fc = NULL;
}
