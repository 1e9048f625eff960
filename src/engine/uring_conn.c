/* uring_conn.c - one connection under the io_uring engine: each operation the
 * HTTP core names becomes one SQE, and its CQE is fed back to the core.
 *
 * Receiving is the exception: a multishot recv stays armed from accept to
 * close and fills buffers from the worker's provided-buffer ring. Buffers that
 * arrive while the core is busy (sending, writing a file) queue on the
 * connection in arrival order and are copied into the core's input buffer
 * when it asks to receive. A connection waiting for its next request holds no
 * buffer at all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/uring_internal.h"
#include "util/log.h"
#include "util/mem.h"

#define UCONN_SPILL_MIN 4096
#define UCONN_SPILL_MAX (16 * 1024)        /* spilled input that pauses the recv */
#define UCONN_PIPE_BYTES CONN_SENDFILE_MAX /* splice pipe size: a whole SENDFILE */
#define UCONN_BOUNCE_BYTES (64 * 1024)     /* bytes per READ + SEND without a pipe */
#define UCONN_NOT_CACHED LONG_MIN          /* uconn_sendfile_cached: splice it */
#define UCONN_PENDING (LONG_MIN + 1)       /* ... a POLLOUT is armed */

static uint32_t uconn_slot(const struct uring_worker *w, const struct uconn *u)
{
    return (uint32_t)(u - w->slab);
}

static struct io_uring_sqe *uconn_sqe(struct uring_worker *w, struct uconn *u, enum uring_ud op)
{
    struct io_uring_sqe *sqe = uring_sqe(w);

    io_uring_sqe_set_data64(sqe, ud_conn(op, uconn_slot(w, u), u->gen));
    u->inflight++;
    return sqe;
}

/* Point a receive or send SQE prepared with the socket's fd at the socket's
 * place in the ring's file table instead, when the worker has one. */
static void uconn_use_slot(const struct uring_worker *w, struct uconn *u, struct io_uring_sqe *sqe)
{
    if (w->fixed_files) {
        sqe->fd = (int)uconn_slot(w, u);
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

/* Mark a prepared SQE that puts the socket into the ring's file table or
 * takes it out. It posts a CQE only if it fails, and inflight does not
 * count it: the connection's own ops come after it (the recv issued after
 * it in the same submission, the CLOSE hard-linked behind it). */
static void uconn_slot_op(struct uring_worker *w, struct uconn *u, struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data64(sqe, ud_conn(URING_UD_SLOT, uconn_slot(w, u), u->gen));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void uconn_start(struct uring_worker *w, struct uconn *u, int fd)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int have_peer = 0;

    /* Only the access log needs the peer: skip the syscall otherwise. */
    if (w->http.access_log)
        have_peer = getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0;
    conn_init(&u->core, &w->http, have_peer ? &peer : NULL);
    u->fd = fd;
    dq_node_init(&u->dqn);
    u->starved_next = URING_NIL;
    u->spill = NULL;
    u->spill_off = u->spill_len = u->spill_cap = 0;
    u->inflight = 0;
    u->flags = 0;
    u->waiting = UCONN_WAIT_NONE;
    u->recv_res = 0;
    /* Into the file table before the receive that uses it: the SQEs of one
     * submission are issued in order. The fd stays open too, for the calls
     * that take only an fd (sendfile, splice, poll, shutdown, FIONREAD). */
    if (w->fixed_files) {
        struct io_uring_sqe *sqe = uring_sqe(w);
        io_uring_prep_files_update(sqe, &u->fd, 1, (int)uconn_slot(w, u));
        uconn_slot_op(w, u, sqe);
    }
    uconn_arm_recv(w, u);
    uconn_advance(w, u);
}

void uconn_arm_recv(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe;

    if (u->flags & (UCONN_RECV_ARMED | UCONN_EOF | UCONN_CLOSED | UCONN_PAUSED | UCONN_STARVED))
        return;
    sqe = uconn_sqe(w, u, URING_UD_RECV);
    io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
    uconn_use_slot(w, u, sqe);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_BGID;
    u->flags |= UCONN_RECV_ARMED;
}

/* ---- received data ---- */

/* Provided buffers go back to the ring in the CQE that filled them: input the
 * core is not waiting for is copied into the connection's spill buffer. So no
 * connection, however it behaves, holds any of the ring that all share; what
 * it can hold is its own spill, bounded by pausing the recv. */

static void uconn_spill_free(struct uconn *u)
{
    if (u->spill)
        mem_note_freed(u->spill_cap);
    free(u->spill);
    u->spill = NULL;
    u->spill_off = u->spill_len = u->spill_cap = 0;
}

/* Stop receiving: the multishot recv is cancelled (by its own user_data: a
 * cancel by fd would walk every request in the ring) and re-armed once the
 * core has taken the spill. */
static void uconn_pause(struct uring_worker *w, struct uconn *u)
{
    if (!(u->flags & UCONN_RECV_ARMED) || (u->flags & UCONN_PAUSED))
        return;
    struct io_uring_sqe *sqe = uconn_sqe(w, u, URING_UD_CANCEL);
    io_uring_prep_cancel64(sqe, ud_conn(URING_UD_RECV, uconn_slot(w, u), u->gen), 0);
    u->flags |= UCONN_PAUSED;
}

/* Append received bytes to the spill. Out of memory: the input is lost, so
 * the connection ends as if reset. */
static void uconn_spill(struct uring_worker *w, struct uconn *u, const char *p, size_t n)
{
    size_t need = (size_t)u->spill_len + n;

    if (u->flags & UCONN_EOF)
        return; /* an error already ended the input */
    if (u->spill_off > 0 && u->spill_off + need > u->spill_cap) {
        memmove(u->spill, u->spill + u->spill_off, u->spill_len);
        u->spill_off = 0;
    }
    if (need > u->spill_cap) {
        size_t cap = u->spill_cap ? (size_t)u->spill_cap * 2 : UCONN_SPILL_MIN;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(u->spill, cap);
        if (!grown) {
            u->flags |= UCONN_EOF;
            u->recv_res = -ENOMEM;
            uconn_pause(w, u);
            return;
        }
        u->spill = grown;
        u->spill_cap = (uint32_t)cap;
    }
    memcpy(u->spill + u->spill_off + u->spill_len, p, n);
    u->spill_len += (uint32_t)n;
    if (u->spill_len >= UCONN_SPILL_MAX)
        uconn_pause(w, u);
}

/* Give the core as much spilled input as it has room for (or the end of the
 * input). True when it was fed. */
static bool uconn_feed(struct uring_worker *w, struct uconn *u)
{
    size_t space, n;
    char *dst;

    if (u->spill_len == 0) {
        if (!(u->flags & UCONN_EOF))
            return false;
        conn_done(&u->core, u->recv_res);
        return true;
    }
    dst = conn_recv_space(&u->core, &space);
    if (!dst || space == 0) {
        conn_done(&u->core, dst ? -ENOBUFS : -ENOMEM);
        return true;
    }
    n = u->spill_len < space ? u->spill_len : space;
    memcpy(dst, u->spill + u->spill_off, n);
    u->spill_off += (uint32_t)n;
    u->spill_len -= (uint32_t)n;
    if (u->spill_len == 0) {
        uconn_spill_free(u);
        if (u->flags & UCONN_PAUSED) {
            u->flags &= (uint8_t)~UCONN_PAUSED;
            uconn_arm_recv(w, u);
        }
    }
    conn_done(&u->core, (long)n);
    return true;
}

/* Bytes from the ring: straight into the core when it waits for them,
 * otherwise (and whatever does not fit) into the spill. */
static void uconn_on_data(struct uring_worker *w, struct uconn *u, const char *p, size_t n)
{
    size_t space = 0, k;
    char *dst;

    if (u->waiting != CONN_OP_RECV || u->spill_len > 0) {
        uconn_spill(w, u, p, n);
        return;
    }
    dst = conn_recv_space(&u->core, &space);
    if (!dst || space == 0) {
        uconn_spill(w, u, p, n);
        return; /* uconn_feed reports the failure */
    }
    k = n < space ? n : space;
    memcpy(dst, p, k);
    if (k < n)
        uconn_spill(w, u, p + k, n - k);
    u->waiting = UCONN_WAIT_NONE;
    conn_done(&u->core, (long)k);
    uconn_advance(w, u);
}

static void uconn_on_recv(struct uring_worker *w, struct uconn *u, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;

    if (!more) {
        u->flags &= (uint8_t)~UCONN_RECV_ARMED;
        u->inflight--;
    }
    if (cqe->res > 0) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        w->bufs_out++;
        if (!(u->flags & UCONN_CLOSED))
            uconn_on_data(w, u, w->bufs + (size_t)bid * w->buf_size, (size_t)cqe->res);
        uring_buf_recycle(w, bid);
    } else if (cqe->res == -ENOBUFS) {
        if (!(u->flags & (UCONN_CLOSED | UCONN_STARVED))) {
            u->flags |= UCONN_STARVED; /* re-armed once buffers come back */
            u->starved_next = w->starved_head;
            w->starved_head = uconn_slot(w, u);
        }
    } else if (cqe->res != -ECANCELED) {
        u->flags |= UCONN_EOF; /* 0: orderly EOF; < 0: reset and the like */
        u->recv_res = (int16_t)(cqe->res < -32767 ? -EIO : cqe->res);
    }
    /* A multishot also ends on CQ overflow, and a pause may have been lifted
     * before its cancel landed: re-arm unless a flag says not to. */
    if (!more)
        uconn_arm_recv(w, u); /* unless paused, starved, at EOF or closed */
    if (u->waiting == CONN_OP_RECV && (u->spill_len > 0 || (u->flags & UCONN_EOF))) {
        u->waiting = UCONN_WAIT_NONE;
        uconn_advance(w, u);
    }
}

/* ---- SENDFILE: file -> pipe -> socket splices, or READ + SEND ---- */

static void uconn_pipe_close(struct uring_worker *w, int r, int wr)
{
    close(r);
    close(wr);
    w->pipes_open--;
}

/* A pipe for u's transfer: an idle one, or a new one while under the cap.
 * Returns 0, or -errno (the caller then uses a bounce buffer). */
static int uconn_pipe_get(struct uring_worker *w, struct uconn *u)
{
    int fds[2];

    if (w->npipe_idle > 0) {
        struct uring_pipe *p = &w->pipe_idle[--w->npipe_idle];
        u->xfer.pipe.r = p->r;
        u->xfer.pipe.w = p->w;
        return 0;
    }
    if (w->pipes_open >= w->pipes_max)
        return -EMFILE;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    /* Larger pipes mean fewer splices per file; the default 64 KiB works too. */
    (void)fcntl(fds[1], F_SETPIPE_SZ, UCONN_PIPE_BYTES);
    w->pipes_open++;
    u->xfer.pipe.r = fds[0];
    u->xfer.pipe.w = fds[1];
    return 0;
}

/* End u's transfer: a clean pipe is kept for reuse while fewer than
 * URING_PIPES_IDLE are idle; one that may still hold data, or one too many,
 * is closed, so a burst of downloads leaves no fds behind. */
static void uconn_xfer_end(struct uring_worker *w, struct uconn *u, int dirty)
{
    if (u->flags & UCONN_INLINE) {
        u->flags &= (uint8_t)~UCONN_INLINE; /* the file is the core's */
    } else if (u->flags & UCONN_BOUNCE) {
        mem_note_freed(UCONN_BOUNCE_BYTES);
        free(u->xfer.bounce);
        u->xfer.bounce = NULL;
        u->flags &= (uint8_t)~UCONN_BOUNCE;
    } else if (dirty || w->npipe_idle >= URING_PIPES_IDLE) {
        uconn_pipe_close(w, u->xfer.pipe.r, u->xfer.pipe.w);
    } else {
        w->pipe_idle[w->npipe_idle++] = (struct uring_pipe){u->xfer.pipe.r, u->xfer.pipe.w};
    }
}

static void uconn_xfer_out(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe = uconn_sqe(w, u, URING_UD_SPLICE_OUT);

    if (u->flags & UCONN_BOUNCE) {
        io_uring_prep_send(sqe, u->fd, u->xfer.bounce + u->splice_done, u->splice_left,
                           MSG_NOSIGNAL);
        uconn_use_slot(w, u, sqe);
    } else
        io_uring_prep_splice(sqe, u->xfer.pipe.r, -1, u->fd, -1, u->splice_left, 0);
}

/* One SENDFILE: one piece of the file into the pipe (or bounce buffer), then
 * out to the socket until that piece is sent. A response whose head is out
 * must get its whole body, so running out of pipes (fds) is not an error:
 * the piece goes through memory instead. */
static int uconn_sendfile(struct uring_worker *w, struct uconn *u, const struct conn_io *io)
{
    size_t len = io->len < UCONN_PIPE_BYTES ? io->len : UCONN_PIPE_BYTES;
    struct io_uring_sqe *sqe;

    u->splice_done = 0;
    if (uconn_pipe_get(w, u) == 0) {
        sqe = uconn_sqe(w, u, URING_UD_SPLICE_IN);
        io_uring_prep_splice(sqe, io->fd, (int64_t)io->off, u->xfer.pipe.w, -1, (unsigned)len, 0);
        return 0;
    }
    len = io->len < UCONN_BOUNCE_BYTES ? io->len : UCONN_BOUNCE_BYTES;
    if (!(u->xfer.bounce = malloc(len)))
        return -ENOMEM;
    u->flags |= UCONN_BOUNCE;
    sqe = uconn_sqe(w, u, URING_UD_SPLICE_IN);
    io_uring_prep_read(sqe, io->fd, u->xfer.bounce, (unsigned)len, io->off);
    return 0;
}

static void uconn_on_splice(struct uring_worker *w, struct uconn *u, unsigned op, int res)
{
    u->inflight--;
    if (op == URING_UD_SPLICE_IN && res > 0) {
        u->splice_left = (uint32_t)res;
        uconn_xfer_out(w, u);
        return;
    }
    if (op == URING_UD_SPLICE_OUT && res == -EAGAIN) {
        /* The socket is non-blocking (for sendfile(2)), and a splice into
         * it fails rather than waits when TCP takes no more: past the
         * listener's TCP_NOTSENT_LOWAT of unsent data (every large download
         * of a piece not in the page cache), or under memory pressure. The
         * rest of the piece goes once POLLOUT says there is room. */
        io_uring_prep_poll_add(uconn_sqe(w, u, URING_UD_POLLOUT), u->fd, POLLOUT);
        return;
    }
    if (op == URING_UD_SPLICE_OUT && res > 0) {
        u->splice_left -= (uint32_t)res;
        u->splice_done += (uint64_t)res;
        if (u->splice_left > 0) {
            uconn_xfer_out(w, u);
            return;
        }
        uconn_xfer_end(w, u, 0);
        res = (int)u->splice_done;
    } else {
        uconn_xfer_end(w, u, op == URING_UD_SPLICE_OUT);
        if (op == URING_UD_SPLICE_OUT && res == 0)
            res = -EPIPE;
    }
    u->waiting = UCONN_WAIT_NONE;
    conn_done(&u->core, res);
    uconn_advance(w, u);
}

/* ---- SENDFILE from the worker's own thread ----
 *
 * Splices run on io-wq threads: each piece costs a hand-off to a kernel
 * thread and back, and a pipe. When every page of a piece is in the page
 * cache (cachestat(2), Linux 6.5+), sendfile(2) on the non-blocking socket
 * moves it from the worker itself without waiting on a disk, as nginx and
 * lighttpd do. A piece not all cached still goes to io-wq. One piece per
 * connection goes out per pass of uconn_advance; the next waits for a
 * POLLOUT CQE, so a fast reader of a large file cannot hold the worker. */

static bool uconn_piece_cached(int fd, uint64_t off, size_t len)
{
    static long page;
    uint64_t cached;

    if (page == 0)
        page = sysconf(_SC_PAGESIZE);
    uint64_t first = off / (uint64_t)page, end = (off + len + (uint64_t)page - 1) / (uint64_t)page;
    return uring_cachestat(fd, off, len, &cached) == 0 && cached >= end - first;
}

/* sendfile(2) of u's piece: its result for conn_done, or UCONN_PENDING
 * with a POLLOUT armed when the socket has no room. */
static long uconn_sendfile_now(struct uring_worker *w, struct uconn *u)
{
    off_t off = (off_t)u->splice_done;
    ssize_t n = sendfile(u->fd, u->xfer.file.fd, &off, u->xfer.file.len);

    if (n >= 0)
        return (long)n; /* 0: the file shrank; the core cuts the connection */
    if (errno != EAGAIN)
        return -errno;
    io_uring_prep_poll_add(uconn_sqe(w, u, URING_UD_POLLOUT), u->fd, POLLOUT);
    return UCONN_PENDING;
}

/* io's piece by sendfile(2), now or (!now) once the socket has room:
 * UCONN_NOT_CACHED when it is not all in the page cache, else as
 * uconn_sendfile_now. */
static long uconn_sendfile_cached(struct uring_worker *w, struct uconn *u, const struct conn_io *io,
                                  bool now)
{
    size_t len = io->len < CONN_SENDFILE_MAX ? io->len : CONN_SENDFILE_MAX;

    if (!uconn_piece_cached(io->fd, io->off, len))
        return UCONN_NOT_CACHED;
    u->flags |= UCONN_INLINE;
    u->xfer.file.fd = io->fd;
    u->xfer.file.len = (uint32_t)len;
    u->splice_done = io->off;
    if (now)
        return uconn_sendfile_now(w, u);
    io_uring_prep_poll_add(uconn_sqe(w, u, URING_UD_POLLOUT), u->fd, POLLOUT);
    return UCONN_PENDING;
}

/* Room in the socket: for an inline piece, sendfile(2) it; for a splice the
 * full socket turned back, splice the rest from the pipe again. */
static void uconn_on_pollout(struct uring_worker *w, struct uconn *u, int res)
{
    bool piped = !(u->flags & UCONN_INLINE); /* a bounce SEND never waits here */
    long n;

    u->inflight--;
    if (piped && res >= 0) {
        uconn_xfer_out(w, u);
        return;
    }
    n = res < 0 ? res : uconn_sendfile_now(w, u);
    if (n == UCONN_PENDING)
        return;
    uconn_xfer_end(w, u, piped); /* the pipe may still hold the piece */
    u->waiting = UCONN_WAIT_NONE;
    conn_done(&u->core, n);
    uconn_advance(w, u);
}

/* ---- other operations ---- */

/* Queue the SQE for io. Returns 0, or -errno when it could not be issued. */
static int uconn_submit(struct uring_worker *w, struct uconn *u, const struct conn_io *io)
{
    struct io_uring_sqe *sqe;

    switch (io->op) {
    case CONN_OP_SEND:
        sqe = uconn_sqe(w, u, URING_UD_SEND);
        io_uring_prep_send(sqe, u->fd, io->buf, io->len, MSG_NOSIGNAL);
        uconn_use_slot(w, u, sqe);
        return 0;
    case CONN_OP_SENDFILE:
        return uconn_sendfile(w, u, io);
    case CONN_OP_STAT:
        sqe = uconn_sqe(w, u, URING_UD_FILE);
        if (io->path)
            io_uring_prep_statx(sqe, io->dirfd, io->path, (int)io->flags, CONN_STATX_MASK, io->stx);
        else
            io_uring_prep_statx(sqe, io->fd, "", AT_EMPTY_PATH, CONN_STATX_MASK, io->stx);
        return 0;
    default:
        break;
    }
    sqe = uconn_sqe(w, u, URING_UD_FILE);
    switch (io->op) {
    case CONN_OP_OPEN:
        u->how = io->how; /* read by the kernel at submission, after this returns */
        io_uring_prep_openat2(sqe, io->dirfd, io->path, &u->how);
        break;
    case CONN_OP_READ:
        io_uring_prep_read(sqe, io->fd, io->buf, (unsigned)io->len, io->off);
        break;
    case CONN_OP_WRITE:
        io_uring_prep_write(sqe, io->fd, io->buf, (unsigned)io->len, io->off);
        break;
    case CONN_OP_FSYNC:
        io_uring_prep_fsync(sqe, io->fd, 0);
        break;
    case CONN_OP_RENAME:
        io_uring_prep_renameat(sqe, io->dirfd, io->path, io->dirfd, io->path2, io->flags);
        break;
    case CONN_OP_UNLINK:
        io_uring_prep_unlinkat(sqe, io->dirfd, io->path, 0);
        break;
    case CONN_OP_CLOSE_FILE:
        io_uring_prep_close(sqe, io->fd);
        break;
    case CONN_OP_SHUTDOWN:
        io_uring_prep_shutdown(sqe, u->fd, SHUT_WR);
        break;
    default:
        io_uring_prep_nop(sqe);
        break;
    }
    return 0;
}

static void uconn_timer(struct uring_worker *w, struct uconn *u, const struct conn_io *io)
{
    if (io->timer == CONN_TIMER_NONE)
        uring_dq_remove(w, u);
    else
        uring_dq_set(w, u, io->timer, engine_timer_ms(w->eng->env.cfg, io->timer),
                     io->timer_restart);
}

static void uconn_close(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe;

    u->flags |= UCONN_CLOSED;
    uring_dq_remove(w, u);
    uconn_spill_free(u);
    conn_release(&u->core);
    /* close() alone would neither end the pending recv nor send a FIN. The
     * cancel names the recv's own user_data: the kernel finds it by hash,
     * where a cancel by fd walks every pending request (closing would be
     * O(open connections)). */
    if (u->flags & UCONN_RECV_ARMED) {
        sqe = uconn_sqe(w, u, URING_UD_CANCEL);
        io_uring_prep_cancel64(sqe, ud_conn(URING_UD_RECV, uconn_slot(w, u), u->gen), 0);
        sqe->flags |= IOSQE_IO_HARDLINK;
    }
    /* The file table holds the socket too: both references must go. */
    if (w->fixed_files) {
        sqe = uring_sqe(w);
        io_uring_prep_close_direct(sqe, uconn_slot(w, u));
        uconn_slot_op(w, u, sqe);
        sqe->flags |= IOSQE_IO_HARDLINK;
    }
    sqe = uconn_sqe(w, u, URING_UD_CLOSE);
    io_uring_prep_close(sqe, u->fd);
}

void uconn_advance(struct uring_worker *w, struct uconn *u)
{
    struct conn_io io;
    bool sent_inline = false;

    while (u->waiting == UCONN_WAIT_NONE && !(u->flags & UCONN_CLOSED)) {
        conn_next(&u->core, &io);
        uconn_timer(w, u, &io);
        if (io.op == CONN_OP_RECV) {
            if (uconn_feed(w, u))
                continue;
            u->waiting = CONN_OP_RECV;
            return;
        }
        if (io.op == CONN_OP_CLOSE) {
            uconn_close(w, u);
            return;
        }
        if (io.op == CONN_OP_SENDFILE && w->eng->sendfile_inline) {
            long res = uconn_sendfile_cached(w, u, &io, !sent_inline);
            if (res == UCONN_PENDING) {
                u->waiting = CONN_OP_SENDFILE;
                return;
            }
            if (res != UCONN_NOT_CACHED) {
                sent_inline = true;
                uconn_xfer_end(w, u, 0);
                conn_done(&u->core, res);
                continue;
            }
        }
        int ret = uconn_submit(w, u, &io);
        if (ret < 0) {
            conn_done(&u->core, ret);
            continue;
        }
        u->waiting = (uint8_t)io.op;
    }
}

void uconn_on_cqe(struct uring_worker *w, struct uconn *u, unsigned op,
                  const struct io_uring_cqe *cqe)
{
    switch (op) {
    case URING_UD_RECV:
        uconn_on_recv(w, u, cqe);
        break;
    case URING_UD_SEND:
    case URING_UD_FILE:
        u->inflight--;
        u->waiting = UCONN_WAIT_NONE;
        conn_done(&u->core, cqe->res);
        uconn_advance(w, u);
        break;
    case URING_UD_SPLICE_IN:
    case URING_UD_SPLICE_OUT:
        uconn_on_splice(w, u, op, cqe->res);
        break;
    case URING_UD_POLLOUT:
        uconn_on_pollout(w, u, cqe->res);
        break;
    case URING_UD_SLOT: /* failed (uconn_slot_op): a failed entry fails the recv */
        if (log_rate_allow(&w->slot_log, w->now_ms, ENGINE_LOG_INTERVAL_MS))
            log_warn("io_uring: %s the ring's file table failed: %s",
                     (u->flags & UCONN_CLOSED) ? "taking a socket out of" : "putting a socket into",
                     strerror(-cqe->res));
        break;
    default: /* URING_UD_KILL, URING_UD_CANCEL, URING_UD_CLOSE */
        u->inflight--;
        break;
    }
    uconn_free_if_done(w, u);
}

/* Force a send that is stuck on a peer that does not read to fail now. */
static void uconn_kill(struct uring_worker *w, struct uconn *u)
{
    if (u->flags & UCONN_KILLED)
        return;
    u->flags |= UCONN_KILLED;
    io_uring_prep_shutdown(uconn_sqe(w, u, URING_UD_KILL), u->fd, SHUT_RDWR);
}

void uconn_on_timeout(struct uring_worker *w, struct uconn *u)
{
    if (u->waiting == CONN_OP_RECV) {
        u->waiting = UCONN_WAIT_NONE;
        conn_timeout(&u->core);
        uconn_advance(w, u);
        uconn_free_if_done(w, u);
    } else if (u->waiting == CONN_OP_SEND || u->waiting == CONN_OP_SENDFILE) {
        uconn_kill(w, u);
    }
}

/* Bytes that reached the socket but not the ring yet: a request sent just
 * before the stop signal, which is still answered. */
static bool uconn_has_unread(const struct uconn *u)
{
    return u->spill_len > 0 || engine_unread_input(u->fd);
}

void uconn_stop(struct uring_worker *w, struct uconn *u, enum uconn_stop_level level)
{
    int d = conn_drain(&u->core);
    bool hard = level == UCONN_STOP_HARD;
    bool idle = d == CONN_DRAIN_IDLE || (d == CONN_DRAIN_FRESH && level >= UCONN_STOP_FRESH);

    if (u->waiting == CONN_OP_RECV && (hard || (idle && !uconn_has_unread(u)))) {
        u->waiting = UCONN_WAIT_NONE;
        conn_abort(&u->core);
        uconn_advance(w, u);
        uconn_free_if_done(w, u);
    } else if (hard && (u->waiting == CONN_OP_SEND || u->waiting == CONN_OP_SENDFILE)) {
        uconn_kill(w, u);
    }
}

void uconn_free_if_done(struct uring_worker *w, struct uconn *u)
{
    if (!(u->flags & UCONN_CLOSED) || u->inflight > 0 || (u->flags & UCONN_STARVED) || u->fd < 0)
        return;
    u->fd = -1;
    u->gen = (u->gen + 1) & 0xffffffu;
    u->dqn.next = w->free_head; /* the free list */
    w->free_head = uconn_slot(w, u);
    w->active--;
    atomic_fetch_sub(&w->assigned, 1);
    engine_release(&w->eng->adm);
}

void uconn_release(struct uring_worker *w, struct uconn *u)
{
    uconn_spill_free(u);
    if (u->waiting == CONN_OP_SENDFILE)
        uconn_xfer_end(w, u, 1);
}
