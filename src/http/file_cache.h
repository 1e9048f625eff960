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
 * - The cache holds bytes (of small files), or an open descriptor (of larger
 *   ones), with the validators. A hot small file costs no file operation, a
 *   hot larger one only the sends from its descriptor; a response from the
 *   cache always has exactly the bytes its head promised (a file cut short
 *   while it is sent cuts the connection, as without the cache).
 * - Descriptors: at most an eighth of RLIMIT_NOFILE for all threads together
 *   (past it, an entry keeps the validators only), and a thread that meets
 *   EMFILE lets go of every descriptor no response is using, then retries.
 *   A descriptor in use when its entry goes (evicted, replaced, stale) stays
 *   open until the last response using it ends; one no request asked for in
 *   FILE_CACHE_FD_IDLE seconds is closed (so a file deleted behind the
 *   server's back does not keep its space for long).
 * - Memory: at most FILE_CACHE_SIZE_MAX bytes per file and
 *   FILE_CACHE_BYTES_MAX bytes for all threads together.
 *
 * Bookkeeping only: the core's /files/ machine does the I/O (conn_files.c),
 * closing the descriptors the cache lets go of (file_cache_closing); only
 * file_cache_thread_cleanup closes them itself. */
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
#define FILE_CACHE_FD_IDLE 10 /* seconds unused after which a descriptor is closed */

struct file_cache_entry {
    uint64_t dev, ino, size;
    int64_t mtime_sec, ctime_sec;
    uint32_t mtime_nsec, ctime_nsec;
    uint32_t gen;     /* the bucket's generation when last checked */
    time_t checked;   /* the second it was last checked */
    const char *data; /* the file's bytes, or NULL */
    int fd;           /* without data: an open descriptor of the file, or -1 */
    uint32_t users;   /* responses sending from fd */
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

/* Keep data[0..stx->stx_size) as name's content on this thread; or, with
 * data NULL, fd (a descriptor of the file stx describes, which the entry then
 * owns) when fd >= 0 and the descriptor budget allows; and always what stx
 * says of it (enough for a 304, a 412 or a HEAD). Evicts the least recently
 * used entries past cap entries (or the global byte budget). gen: the
 * generation taken before the file was opened. Returns the entry, or NULL
 * when cap is 0, the name (or, with data, the file) is too large, or memory
 * is short. The caller still owns fd unless the entry's fd is fd. */
struct file_cache_entry *file_cache_insert(const char *name, size_t len, const struct statx *stx,
                                           const void *data, int fd, uint32_t gen, time_t now,
                                           unsigned cap);

/* A response starts or ends sending from e->fd. After the release, e may
 * be gone (it was evicted meanwhile): the caller must not use it again. */
void file_cache_hold(struct file_cache_entry *e);
void file_cache_release(struct file_cache_entry *e);

/* A descriptor this thread's cache let go of, which the caller must close,
 * or -1 when there is none. */
int file_cache_closing(void);

/* Let go of every descriptor of this thread's cache that no response uses
 * (on EMFILE); returns how many file_cache_closing will now give. */
unsigned file_cache_shed(void);

/* Whether this thread's cache holds descriptors: file_cache_expire should
 * then run about once a second. */
bool file_cache_holds_fds(void);

/* Let go of the descriptors no request asked for in the last
 * FILE_CACHE_FD_IDLE seconds; returns how many file_cache_closing gives. */
unsigned file_cache_expire(time_t now);

/* Close and free this thread's cache (on thread exit). */
void file_cache_thread_cleanup(void);

#endif
