/* conn.h - the sans-I/O connection state machine: the whole HTTP core as
 * seen by an engine.
 *
 * An engine owns the socket and performs I/O; the connection never does. The
 * loop an engine runs for each connection is:
 *
 *     conn_init(c, ctx, peer);
 *     for (;;) {
 *         conn_next(c, &io);               what the core needs next
 *         if (io.op == CONN_OP_CLOSE) { close socket; conn_release(c); done }
 *         perform io.op (blocking, or as an io_uring SQE)
 *         conn_done(c, result);            bytes / fd / 0, or -errno
 *     }
 *
 * Exactly one operation is outstanding per connection at a time. Every result,
 * whatever the op, is reported with conn_done() in the io_uring convention: a
 * byte count, a new fd, 0, or -errno. Short sends,
 * reads and writes are fine: the core asks again for the rest.
 *
 * RECV carries no buffer: an idle connection owns none. When bytes are ready
 * the engine calls conn_recv_space() (which takes a buffer from the calling
 * thread's pool) and copies or receives into it. Buffers return to the pool
 * when the connection goes idle again, so a keep-alive connection waiting for
 * its next request costs only sizeof(struct conn).
 *
 * Threads: a connection is driven by one thread at a time, not always the
 * same one (the threads engine parks it between requests and any worker
 * continues it). Its buffers come from the calling thread's pool and may go
 * back to another thread's: each pool is a bounded cache of malloc'd blocks. */
#ifndef RINGHTTPD_CONN_H
#define RINGHTTPD_CONN_H

#include <linux/openat2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "http/chunked.h"

/* Shared, read-only configuration of the HTTP core (one per server). */
struct http_ctx {
    int dirfd;                     /* --directory opened O_DIRECTORY, or -1: /files/ 404 */
    uint64_t max_body;             /* --max-request-size */
    const struct mime_table *mime; /* --mime-types, or NULL: application/octet-stream */
    unsigned file_cache;           /* --file-cache: entries per thread, 0: off */
    /* Called once per finished request with one Common Log Format line
     * (newline included), or NULL for no access log. May be called from any
     * engine thread; it must not block for long. */
    void (*access_log)(void *arg, const char *line, size_t len);
    void *access_log_arg;
};

enum conn_op {
    CONN_OP_RECV,     /* wait for bytes; see conn_recv_space(). done: n, 0 = EOF, -errno */
    CONN_OP_SEND,     /* send(io.buf, io.len, MSG_NOSIGNAL). done: bytes sent */
    CONN_OP_SENDFILE, /* send io.len bytes of file io.fd from io.off. done: bytes sent */
    CONN_OP_OPEN,     /* openat2(io.dirfd, io.path, &io.how). done: fd or -errno */
    CONN_OP_STAT,     /* statx(io.fd, "", AT_EMPTY_PATH, CONN_STATX_MASK, io.stx), or with
                         io.path: statx(io.dirfd, io.path, io.flags, ...). done: 0/-errno */
    CONN_OP_READ,     /* pread(io.fd, io.buf, io.len, io.off). done: n or -errno */
    CONN_OP_WRITE,    /* pwrite(io.fd, io.buf, io.len, io.off). done: n or -errno */
    CONN_OP_FSYNC,    /* fsync(io.fd). done: 0 or -errno */
    CONN_OP_RENAME, /* renameat2(io.dirfd, io.path, io.dirfd, io.path2, io.flags). done: 0/-errno */
    CONN_OP_UNLINK, /* unlinkat(io.dirfd, io.path, 0). done: 0 or -errno */
    CONN_OP_CLOSE_FILE, /* close(io.fd). done: result ignored */
    CONN_OP_SHUTDOWN,   /* shutdown(socket, SHUT_WR): the peer sees EOF now. done: ignored */
    CONN_OP_CLOSE,      /* terminal: close the socket, then conn_release() */
};

/* How the engine should time a socket wait (RECV, SEND, SENDFILE). */
enum conn_timer {
    CONN_TIMER_NONE,   /* file operations: not timed */
    CONN_TIMER_IDLE,   /* no progress for --idle-timeout: conn_timeout() */
    CONN_TIMER_HEADER, /* head not complete --header-timeout after it began */
    CONN_TIMER_LINGER, /* draining after an error response: CONN_LINGER_MS */
};

#define CONN_LINGER_MS 2000
/* The most one SENDFILE asks for: a slow client's timer sees progress at
 * least this often, and an engine that splices through a pipe sizes the
 * pipe to it. Like every send, an engine may send less. */
#define CONN_SENDFILE_MAX (256 * 1024)
/* What a STAT asks for: type, size, identity and times (the validators). */
#define CONN_STATX_MASK STATX_BASIC_STATS

struct conn_io {
    enum conn_op op;
    enum conn_timer timer;
    /* 1 when this op starts a new timing phase: the engine sets a fresh
     * deadline. IDLE is progress-based: every socket op restarts it. HEADER
     * and LINGER restart only at their first op, so slow trickling cannot
     * extend them. After conn_timeout() the next op starts a fresh timer. */
    uint8_t timer_restart;
    int fd;              /* file descriptor for file ops */
    int dirfd;           /* OPEN, RENAME, UNLINK */
    const char *path;    /* OPEN, RENAME (from), UNLINK */
    const char *path2;   /* RENAME (to) */
    struct open_how how; /* OPEN */
    unsigned flags;      /* RENAME: 0 or RENAME_NOREPLACE; STAT by path: 0 or
                            AT_SYMLINK_NOFOLLOW */
    void *buf;           /* READ, WRITE, SEND */
    size_t len;          /* READ, WRITE, SEND, SENDFILE (at most CONN_SENDFILE_MAX) */
    uint64_t off;        /* READ, WRITE, SENDFILE */
    struct statx *stx;   /* STAT: filled by the engine, owned by the core */
};

struct conn_block; /* buffers of a connection with a request in progress */
struct mime_table;

/* The connection. Engines embed it (e.g. in a slab) and treat every field as
 * private; its size is what an idle keep-alive connection costs the core. */
struct conn {
    const struct http_ctx *ctx;
    struct conn_block *blk; /* NULL while idle */
    uint8_t state;
    uint8_t phase;  /* timing phase last reported */
    uint8_t flags;  /* connection flags */
    uint8_t rflags; /* flags of the request in progress */
    uint8_t body_kind;
    uint8_t step; /* file sub-state */
    uint8_t route;
    uint8_t last_op;
    uint8_t peer_family; /* AF_INET / AF_INET6 / 0 */
    uint8_t tries;       /* upload temp-name attempts */
    uint16_t status;     /* status of the response being produced */
    uint8_t peer_addr[16];
    uint32_t in_off, in_len;  /* unconsumed input: blk->in[in_off .. in_off+in_len) */
    uint32_t out_sent;        /* bytes of the output buffer already sent */
    uint32_t wr_len, wr_tail; /* chunked: decoded data at in_off, then a gap of framing */
    int file_fd;              /* file being served or written, or -1 */
    int dir_fd;               /* upload: parent directory, or -1 */
    uint64_t body_left;       /* Content-Length bytes still to read */
    uint64_t file_off, file_left;
    uint64_t bytes_out; /* body bytes sent, for the access log */
    struct chunked chunk;
};

/* The wall-clock second the core stamps responses (Date) and access log
 * lines with, on the calling thread. The core never reads a clock: an engine
 * calls this once per turn of its event loop (as nginx updates its cached
 * time), before driving connections. */
void conn_set_now(time_t now);

/* Start serving a new connection. peer is a struct sockaddr_in/_in6 (for the
 * access log) or NULL. */
void conn_init(struct conn *c, const struct http_ctx *ctx, const void *peer);

/* Fill *io with the next operation the connection needs. Never fails: errors
 * become responses, and unrecoverable ones a CLOSE. */
void conn_next(struct conn *c, struct conn_io *io);

/* Report the result of the operation from the last conn_next(). */
void conn_done(struct conn *c, long res);

/* For a pending RECV: space to put received bytes in (at least one byte),
 * taking a buffer from the calling thread's pool if the connection has none.
 * Returns NULL only when memory is exhausted (the engine then calls
 * conn_done(c, -ENOMEM)). The bytes written there are reported by
 * conn_done(c, n). */
void *conn_recv_space(struct conn *c, size_t *len);

/* The timer of the pending socket op fired. The engine has abandoned that op
 * (an io_uring engine cancels it and ignores its completion). The core then
 * answers 408 (head or body in progress) or just closes (idle, stalled send,
 * linger done); call conn_next() as usual. */
void conn_timeout(struct conn *c);

/* Graceful shutdown: the connection finishes the request in progress, then
 * closes instead of waiting for the next; responses say Connection: close
 * from now on. Returns CONN_DRAIN_IDLE when it waits for the first byte of
 * a request after answering one (an idle keep-alive connection, which can
 * be closed now), CONN_DRAIN_FRESH when it waits for its first request (a
 * client that just connected is about to send it: give it
 * ENGINE_FRESH_GRACE_MS before closing), else CONN_DRAIN_BUSY. The core
 * cannot see bytes still in the kernel's socket buffer: an engine that finds
 * some (FIONREAD) keeps receiving; the request is then answered with
 * Connection: close. Calling it again is harmless. */
enum conn_drain_state { CONN_DRAIN_BUSY, CONN_DRAIN_IDLE, CONN_DRAIN_FRESH };
int conn_drain(struct conn *c);

/* Give up on the connection (shutdown deadline passed, socket dead): the next
 * conn_next() calls yield only the clean-up of files (close, unlink of a
 * partial upload), never a socket op, and then CLOSE. Idempotent. Call it only while no operation
 * is outstanding: an engine with a socket op in flight cancels it first, and lets a file op
 * complete (its result, e.g. a new fd, is needed to clean up). */
void conn_abort(struct conn *c);

/* Return the connection's buffers to the pool; call after CLOSE. */
void conn_release(struct conn *c);

/* Free the calling thread's buffer pool, gzip state and file cache, closing
 * the descriptors the cache kept (on thread exit). */
void conn_thread_cleanup(void);

/* Whether the calling thread keeps descriptors in its file cache: it should
 * then call conn_thread_tick about once a second, even with nothing to do. */
int conn_thread_holds_files(void);

/* Close the descriptors of the calling thread's file cache that no request
 * asked for in a while. With conn_thread_cleanup, the only closes the core
 * makes itself: they belong to no connection. */
void conn_thread_tick(time_t now);

#endif
