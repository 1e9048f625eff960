/* uring_log.c - the io_uring engine's access log: no blocking write on the
 * event loop.
 *
 * Each worker appends the core's log lines to a buffer of its own; once per
 * loop turn, before the wait, what has collected goes to the log fd as one
 * IORING_OP_WRITE. While that write is in flight new lines go to the second
 * buffer, which grows as needed up to URING_LOG_MAX; past that (a log device
 * that cannot keep up) lines are dropped and counted, never blocking requests.
 *
 * Lines stay whole: to a regular file opened O_APPEND each write holds whole
 * lines; to a pipe or FIFO (which other workers, or stderr, may share) each
 * write is at most PIPE_BUF bytes cut at a line end, which the kernel keeps
 * atomic. Any other log (a socket, a tty, a file without O_APPEND) goes
 * through the ring only with one worker; with several it keeps the core's
 * blocking one-line writes (uring_log_init). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/uring_internal.h"
#include "util/log.h"

#define URING_LOG_INITIAL (16 * 1024)
#define URING_LOG_MAX (4 * 1024 * 1024)

bool uring_log_init(struct uring_worker *w, int fd)
{
    struct uring_log *l = &w->log;
    struct stat st;
    int append;

    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (fd < 0 || fstat(fd, &st) != 0)
        return false;
    /* Other workers, or stderr under 2>&1, may write to the same pipe. */
    l->pipe_atomic = S_ISFIFO(st.st_mode);
    append = S_ISREG(st.st_mode) && (fcntl(fd, F_GETFL) & O_APPEND);
    /* Anything else (a socket, a tty, a file without O_APPEND such as a
     * shell's "> file") can take part of a batch, or let two workers write
     * at one offset: with several workers such a log keeps the core's
     * blocking one-line writes. */
    if (!l->pipe_atomic && !append && w->eng->nworkers > 1)
        return false;
    l->fd = fd;
    return true;
}

/* http_ctx.access_log for a worker's connections: arg is the worker. */
void uring_log_line(void *arg, const char *line, size_t len)
{
    struct uring_worker *w = arg;
    struct uring_log *l = &w->log;
    unsigned f = l->fill;

    if (l->len[f] + len > l->cap[f]) {
        size_t cap = l->cap[f] ? l->cap[f] : URING_LOG_INITIAL;
        char *grown;

        while (cap < l->len[f] + len)
            cap *= 2;
        grown = cap <= URING_LOG_MAX ? realloc(l->buf[f], cap) : NULL;
        if (!grown) {
            if (l->dropped++ == 0)
                log_warn("access log: the log is not keeping up; dropping lines");
            return;
        }
        l->buf[f] = grown;
        l->cap[f] = cap;
    }
    memcpy(l->buf[f] + l->len[f], line, len);
    l->len[f] += len;
}

/* Write the rest of the buffer in flight, from l->sent. */
static void uring_log_submit(struct uring_worker *w)
{
    struct uring_log *l = &w->log;
    unsigned b = l->fill ^ 1u;
    const char *p = l->buf[b] + l->sent;
    size_t n = l->len[b] - l->sent;
    struct io_uring_sqe *sqe;

    if (l->pipe_atomic && n > PIPE_BUF) {
        size_t cut = PIPE_BUF;
        while (cut > 0 && p[cut - 1] != '\n')
            cut--;
        n = cut ? cut : PIPE_BUF; /* a line always fits; the guard is for safety */
    }
    sqe = uring_sqe(w);
    io_uring_prep_write(sqe, l->fd, p, (unsigned)n, (uint64_t)-1); /* -1: the file position */
    io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_LOG));
    l->busy = 1;
}

static uint64_t uring_log_count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;

    if (n == 0)
        return 0; /* p may be NULL: nothing was ever buffered */
    for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        lines++;
    return lines;
}

/* Lines that will not be written: counted, then forgotten. */
static void uring_log_drop(struct uring_log *l, unsigned b, size_t from)
{
    l->dropped += uring_log_count_lines(l->buf[b] + from, l->len[b] - from);
    l->len[b] = 0;
}

void uring_log_flush(struct uring_worker *w)
{
    struct uring_log *l = &w->log;

    if (l->busy || l->len[l->fill] == 0)
        return;
    if (l->cancelled) { /* shutdown gave up on the log */
        uring_log_drop(l, l->fill, 0);
        return;
    }
    l->fill ^= 1u;
    l->len[l->fill] = 0;
    l->sent = 0;
    uring_log_submit(w);
}

void uring_log_on_cqe(struct uring_worker *w, const struct io_uring_cqe *cqe)
{
    struct uring_log *l = &w->log;
    unsigned b = l->fill ^ 1u;

    if (l->cancelled) {
        uring_log_drop(l, b, l->sent);
        l->busy = 0;
        return;
    }
    if (ud_op(io_uring_cqe_get_data64(cqe)) == URING_UD_LOG_POLL) {
        uring_log_submit(w); /* the fd is writable again */
        return;
    }
    if (cqe->res == -EAGAIN || cqe->res == -EINTR) {
        /* A non-blocking fd the ring does not poll by itself (e.g. a tty):
         * wait until it is writable instead of spinning. */
        struct io_uring_sqe *sqe = uring_sqe(w);
        io_uring_prep_poll_add(sqe, l->fd, POLLOUT);
        io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_LOG_POLL));
        return;
    }
    if (cqe->res <= 0) {
        if (!l->failed)
            log_warn("access log: %s (further failures are not reported)",
                     cqe->res < 0 ? strerror(-cqe->res) : "nothing written");
        l->failed = 1;
        uring_log_drop(l, b, l->sent);
        l->sent = 0;
    } else {
        l->sent += (size_t)cqe->res;
    }
    if (l->sent < l->len[b]) {
        uring_log_submit(w);
        return;
    }
    l->busy = 0;
    l->len[b] = 0;
}

bool uring_log_idle(const struct uring_worker *w)
{
    return !w->log.busy && w->log.len[w->log.fill] == 0;
}

/* Shutdown has run out of time and only the log is left (a pipe nobody
 * reads): cancel the write in flight; its lines and any others are dropped
 * and counted. Its completion frees the buffer for uring_log_finish(). */
void uring_log_cancel(struct uring_worker *w)
{
    static const unsigned ops[] = {URING_UD_LOG, URING_UD_LOG_POLL};

    if (w->log.cancelled)
        return;
    w->log.cancelled = 1;
    for (unsigned i = 0; w->log.busy && i < 2; i++) {
        struct io_uring_sqe *sqe = uring_sqe(w);
        io_uring_prep_cancel64(sqe, ud_worker(ops[i]), 0);
        io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_NONE));
    }
    uring_log_drop(&w->log, w->log.fill, 0);
}

/* After the worker's loop. The log never blocks the exit: lines still
 * buffered are dropped and counted. A write whose cancellation never
 * completed keeps its buffer (the kernel may still read it): a bounded
 * allocation left behind once, at exit. */
void uring_log_finish(struct uring_worker *w)
{
    struct uring_log *l = &w->log;
    unsigned f = l->fill;

    if (l->busy) {
        uring_log_drop(l, f ^ 1u, l->sent);
        l->buf[f ^ 1u] = NULL;
    }
    uring_log_drop(l, f, 0);
    free(l->buf[0]);
    free(l->buf[1]);
    memset(l->buf, 0, sizeof(l->buf));
    l->cap[0] = l->cap[1] = 0;
    l->busy = 0;
    if (l->dropped)
        log_warn("access log: %llu lines dropped (worker %u)", (unsigned long long)l->dropped,
                 w->index);
}
