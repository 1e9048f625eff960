/* file_cache.h - the open-file cache of /files/: small files kept in memory
 * with their identity, per thread (a uring worker, or a pool thread), LRU.
 *
 * What a user can rely on (see README "File cache"):
 * - An upload, replace or delete through the server is seen by the very next
 *   request on every thread: each one bumps a process-wide generation of the
 *   name's bucket, and an entry whose bucket moved is checked again.
 * - A change behind the server's back (another process, rsync, an editor) is
 *   seen within one second: an entry is trusted for the wall-clock second it
 *   was last checked in; in a later second it is checked again by one STAT
 *   of the name, and any change of device, inode, size, mtime or ctime drops
 *   it.
 * - The cache holds bytes (of small files) and validators (of any file),
 *   not descriptors: it never counts against the fd limit, and a response
 *   from it always has exactly the bytes its head promised. A GET that needs
 *   a large file's body opens the file.
 * - Memory: at most FILE_CACHE_SIZE_MAX bytes per file and
 *   FILE_CACHE_BYTES_MAX bytes for all threads together.
 *
 * Pure bookkeeping: the core's /files/ machine does the I/O (conn_files.c). */
#ifndef RINGHTTPD_FILE_CACHE_H
#define RINGHTTPD_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define FILE_CACHE_SIZE_MAX (8 * 1024)           /* larger files are not kept */
#define FILE_CACHE_BYTES_MAX (64u * 1024 * 1024) /* all threads together */
#define FILE_CACHE_NAME_MAX 255

struct file_cache_entry {
    uint64_t dev, ino, size;
    int64_t mtime_sec, ctime_sec;
    uint32_t mtime_nsec, ctime_nsec;
    uint32_t gen;     /* the bucket's generation when last checked */
    time_t checked;   /* the second it was last checked */
    const char *data; /* the file's bytes, or NULL: its validators only */
};

/* The generation of name's bucket now (take it before looking at the file). */
uint32_t file_cache_generation(const char *name, size_t len);

/* Say that name changed (an upload or delete through the server finished):
 * every thread checks its entry again before using it. */
void file_cache_touch(const char *name, size_t len);

/* This thread's entry for name, or NULL (also when cap is 0). The entry
 * stays valid until the thread's next insert or clean-up. */
struct file_cache_entry *file_cache_find(const char *name, size_t len);

/* Whether e can be used right now without checking it again. */
bool file_cache_fresh(const struct file_cache_entry *e, const char *name, size_t len, time_t now);

/* Whether stx (a STAT of the name) describes the file e holds. */
bool file_cache_same(const struct file_cache_entry *e, const struct statx *stx);

/* e was checked against the name now, with the generation gen taken before. */
void file_cache_checked(struct file_cache_entry *e, uint32_t gen, time_t now);

/* Drop this thread's entry for name, if any. */
void file_cache_drop(const char *name, size_t len);

/* Keep data[0..stx->stx_size) as name's content on this thread, or with
 * data NULL only what stx says of it (enough for a 304, a 412 or a HEAD of
 * a file of any size), evicting the least recently used entries past cap
 * entries (or the global byte budget). gen: the generation taken before the
 * file was opened. Does nothing when cap is 0, the name (or, with data, the
 * file) is too large, or memory is short. */
void file_cache_insert(const char *name, size_t len, const struct statx *stx, const void *data,
                       uint32_t gen, time_t now, unsigned cap);

/* Free this thread's cache (on thread exit). */
void file_cache_thread_cleanup(void);

#endif
