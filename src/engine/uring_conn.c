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
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/uring_internal.h"
#include "util/log.h"

#define UCONN_PAUSE_BYTES (64 * 1024) /* queued input that stops receiving */
#define UCONN_PIPE_BYTES (256 * 1024)
#define UCONN_PIPES_MAX 4096 /* splice pipes per worker: one per transfer in flight */

static uint32_t uconn_slot(const struct uring_worker *w, const struct uconn *u)
{
    return (uint32_t)(u - w->slab);
}

static struct io_uring_sqe *uconn_sqe(struct uring_worker *w, struct uconn *u, unsigned op)
{
    struct io_uring_sqe *sqe = uring_sqe(w);

    io_uring_sqe_set_data64(sqe, UD_PACK(op, uconn_slot(w, u), u->gen));
    u->inflight++;
    return sqe;
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
    u->dq = DQ_NONE;
    u->dq_prev = u->dq_next = URING_NIL;
    u->starved_next = URING_NIL;
    u->pend_head = u->pend_tail = URING_BUF_NIL;
    u->pend_off = 0;
    u->pend_bytes = 0;
    u->inflight = 0;
    u->flags = 0;
    u->waiting = UC_WAIT_NONE;
    u->recv_res = 0;
    u->pipe = -1;
    u->stx = NULL;
    uconn_arm_recv(w, u);
    uconn_advance(w, u);
}

void uconn_arm_recv(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe;

    if (u->flags & (UC_RECV_ARMED | UC_EOF | UC_CLOSED | UC_PAUSED | UC_STARVED))
        return;
    sqe = uconn_sqe(w, u, UD_RECV);
    io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 1;
    u->flags |= UC_RECV_ARMED;
}

/* ---- received data ---- */

static void uconn_drop_pending(struct uring_worker *w, struct uconn *u)
{
    while (u->pend_head != URING_BUF_NIL) {
        uint16_t bid = u->pend_head;
        u->pend_head = w->buf_next[bid];
        uring_buf_recycle(w, bid);
    }
    u->pend_tail = URING_BUF_NIL;
    u->pend_off = 0;
    u->pend_bytes = 0;
}

/* Give the core as much queued input as it has room for (or the end of the
 * input). Returns 1 when it was fed. */
static int uconn_feed(struct uring_worker *w, struct uconn *u)
{
    size_t space, total = 0;
    char *dst;

    if (u->pend_head == URING_BUF_NIL) {
        if (!(u->flags & UC_EOF))
            return 0;
        conn_done(&u->core, u->recv_res);
        return 1;
    }
    dst = conn_recv_space(&u->core, &space);
    if (!dst || space == 0) {
        conn_done(&u->core, dst ? -ENOBUFS : -ENOMEM);
        return 1;
    }
    while (u->pend_head != URING_BUF_NIL && total < space) {
        uint16_t bid = u->pend_head;
        size_t avail = w->buf_len[bid] - u->pend_off;
        size_t n = avail < space - total ? avail : space - total;

        memcpy(dst + total, w->bufs + (size_t)bid * w->buf_size + u->pend_off, n);
        total += n;
        u->pend_off = (uint16_t)(u->pend_off + n);
        if (u->pend_off == w->buf_len[bid]) {
            u->pend_head = w->buf_next[bid];
            if (u->pend_head == URING_BUF_NIL)
                u->pend_tail = URING_BUF_NIL;
            u->pend_off = 0;
            uring_buf_recycle(w, bid);
        }
    }
    u->pend_bytes -= (uint32_t)total;
    if ((u->flags & UC_PAUSED) && u->pend_bytes == 0) {
        u->flags &= (uint8_t)~UC_PAUSED;
        uconn_arm_recv(w, u);
    }
    conn_done(&u->core, (long)total);
    return 1;
}

static void uconn_queue_buf(struct uring_worker *w, struct uconn *u, uint16_t bid, int len)
{
    w->buf_len[bid] = (uint32_t)len;
    w->buf_next[bid] = URING_BUF_NIL;
    if (u->pend_tail != URING_BUF_NIL)
        w->buf_next[u->pend_tail] = bid;
    else
        u->pend_head = bid;
    u->pend_tail = bid;
    u->pend_bytes += (uint32_t)len;
    /* A client that sends faster than we answer stops being read, so one
     * connection cannot take every buffer of the ring. */
    if (u->pend_bytes >= UCONN_PAUSE_BYTES && (u->flags & UC_RECV_ARMED) &&
        !(u->flags & UC_PAUSED)) {
        struct io_uring_sqe *sqe = uconn_sqe(w, u, UD_CANCEL);
        io_uring_prep_cancel64(sqe, UD_PACK(UD_RECV, uconn_slot(w, u), u->gen), 0);
        u->flags |= UC_PAUSED;
    }
}

static void uconn_on_recv(struct uring_worker *w, struct uconn *u, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;

    if (!more) {
        u->flags &= (uint8_t)~UC_RECV_ARMED;
        u->inflight--;
    }
    if (cqe->res > 0) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        w->bufs_out++;
        if (u->flags & UC_CLOSED)
            uring_buf_recycle(w, bid);
        else
            uconn_queue_buf(w, u, bid, cqe->res);
    } else if (cqe->res == -ENOBUFS) {
        if (!(u->flags & (UC_CLOSED | UC_STARVED))) {
            u->flags |= UC_STARVED; /* re-armed once buffers come back */
            u->starved_next = w->starved_head;
            w->starved_head = uconn_slot(w, u);
        }
    } else if (cqe->res != -ECANCELED) {
        u->flags |= UC_EOF; /* 0: orderly EOF; < 0: reset and the like */
        u->recv_res = (int16_t)(cqe->res < -32767 ? -EIO : cqe->res);
    }
    /* A multishot also ends on CQ overflow: re-arm unless one of the cases
     * above accounts for its end. */
    if (!more && cqe->res != -ECANCELED)
        uconn_arm_recv(w, u);
    if (u->waiting == CONN_OP_RECV && (u->pend_head != URING_BUF_NIL || (u->flags & UC_EOF))) {
        u->waiting = UC_WAIT_NONE;
        uconn_advance(w, u);
    }
}

/* ---- SENDFILE as file -> pipe -> socket splices ---- */

static int uconn_pipe_get(struct uring_worker *w)
{
    int fds[2], idx;

    if (w->pipe_free >= 0) {
        idx = w->pipe_free;
        w->pipe_free = w->pipes[idx].next;
        return idx;
    }
    if (w->npipes >= UCONN_PIPES_MAX)
        return -EMFILE;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    /* Larger pipes mean fewer splices per file; the default 64 KiB works too. */
    (void)fcntl(fds[1], F_SETPIPE_SZ, UCONN_PIPE_BYTES);
    if (w->npipes % 64 == 0) {
        struct uring_pipe *p = realloc(w->pipes, (w->npipes + 64) * sizeof(*p));
        if (!p) {
            close(fds[0]);
            close(fds[1]);
            return -ENOMEM;
        }
        w->pipes = p;
    }
    idx = (int)w->npipes++;
    w->pipes[idx] = (struct uring_pipe){fds[0], fds[1], -1};
    return idx;
}

/* Return a pipe to the pool; one that may still hold data is replaced. */
static void uconn_pipe_put(struct uring_worker *w, struct uconn *u, int dirty)
{
    struct uring_pipe *p = &w->pipes[u->pipe];

    if (dirty) {
        int fds[2];
        close(p->r);
        close(p->w);
        if (pipe2(fds, O_CLOEXEC) < 0) {
            p->r = p->w = -1;
            u->pipe = -1;
            return; /* this slot of the pool stays unused */
        }
        (void)fcntl(fds[1], F_SETPIPE_SZ, UCONN_PIPE_BYTES);
        p->r = fds[0];
        p->w = fds[1];
    }
    p->next = w->pipe_free;
    w->pipe_free = u->pipe;
    u->pipe = -1;
}

static void uconn_splice_out(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe = uconn_sqe(w, u, UD_SPLICE_OUT);

    io_uring_prep_splice(sqe, w->pipes[u->pipe].r, -1, u->fd, -1, u->splice_left, 0);
}

static int uconn_sendfile(struct uring_worker *w, struct uconn *u, const struct conn_io *io)
{
    int idx = uconn_pipe_get(w);
    size_t len = io->len < UCONN_PIPE_BYTES ? io->len : UCONN_PIPE_BYTES;

    if (idx < 0)
        return idx;
    u->pipe = (int16_t)idx;
    u->splice_done = 0;
    struct io_uring_sqe *sqe = uconn_sqe(w, u, UD_SPLICE_IN);
    io_uring_prep_splice(sqe, io->fd, (int64_t)io->off, w->pipes[idx].w, -1, (unsigned)len, 0);
    return 0;
}

static void uconn_on_splice(struct uring_worker *w, struct uconn *u, unsigned op, int res)
{
    u->inflight--;
    if (op == UD_SPLICE_IN && res > 0) {
        u->splice_left = (uint32_t)res;
        uconn_splice_out(w, u);
        return;
    }
    if (op == UD_SPLICE_OUT && res > 0) {
        u->splice_left -= (uint32_t)res;
        u->splice_done += (uint64_t)res;
        if (u->splice_left > 0) {
            uconn_splice_out(w, u);
            return;
        }
        uconn_pipe_put(w, u, 0);
        res = (int)u->splice_done;
    } else {
        uconn_pipe_put(w, u, op == UD_SPLICE_OUT);
        if (op == UD_SPLICE_OUT && res == 0)
            res = -EPIPE;
    }
    u->waiting = UC_WAIT_NONE;
    conn_done(&u->core, res);
    uconn_advance(w, u);
}

/* ---- other operations ---- */

static struct statx *uconn_stx_get(struct uring_worker *w)
{
    struct statx *s = w->stx_free;

    if (s) {
        w->stx_free = *(struct statx **)s;
        return s;
    }
    return malloc(sizeof(*s));
}

static void uconn_stx_put(struct uring_worker *w, struct statx *s)
{
    *(struct statx **)s = w->stx_free;
    w->stx_free = s;
}

/* Queue the SQE for io. Returns 0, or -errno when it could not be issued. */
static int uconn_submit(struct uring_worker *w, struct uconn *u, const struct conn_io *io)
{
    struct io_uring_sqe *sqe;

    switch (io->op) {
    case CONN_OP_SEND:
        /* The core always names one iovec (its output buffer). */
        sqe = uconn_sqe(w, u, UD_SEND);
        io_uring_prep_send(sqe, u->fd, io->iov[0].iov_base, io->iov[0].iov_len, MSG_NOSIGNAL);
        return 0;
    case CONN_OP_SENDFILE:
        return uconn_sendfile(w, u, io);
    case CONN_OP_STAT:
        if (!(u->stx = uconn_stx_get(w)))
            return -ENOMEM;
        sqe = uconn_sqe(w, u, UD_FILE);
        io_uring_prep_statx(sqe, io->fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, u->stx);
        return 0;
    default:
        break;
    }
    sqe = uconn_sqe(w, u, UD_FILE);
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
        io_uring_prep_renameat(sqe, io->dirfd, io->path, io->dirfd, io->path2, 0);
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
    const struct config *cfg = w->eng->env.cfg;

    switch (io->timer) {
    case CONN_TIMER_NONE:
        uring_dq_remove(w, u);
        break;
    case CONN_TIMER_IDLE:
        uring_dq_set(w, u, DQ_IDLE, (uint64_t)cfg->idle_timeout_s * 1000, io->timer_restart);
        break;
    case CONN_TIMER_HEADER:
        uring_dq_set(w, u, DQ_HEADER, (uint64_t)cfg->header_timeout_s * 1000, io->timer_restart);
        break;
    case CONN_TIMER_LINGER:
        uring_dq_set(w, u, DQ_LINGER, CONN_LINGER_MS, io->timer_restart);
        break;
    }
}

static void uconn_close(struct uring_worker *w, struct uconn *u)
{
    struct io_uring_sqe *sqe;

    u->flags |= UC_CLOSED;
    uring_dq_remove(w, u);
    uconn_drop_pending(w, u);
    conn_release(&u->core);
    /* close() alone would neither end the pending recv nor send a FIN. */
    if (u->flags & UC_RECV_ARMED) {
        sqe = uconn_sqe(w, u, UD_CANCEL);
        io_uring_prep_cancel_fd(sqe, u->fd, 0);
        sqe->flags |= IOSQE_IO_HARDLINK;
    }
    sqe = uconn_sqe(w, u, UD_CLOSE);
    io_uring_prep_close(sqe, u->fd);
}

void uconn_advance(struct uring_worker *w, struct uconn *u)
{
    struct conn_io io;

    while (u->waiting == UC_WAIT_NONE && !(u->flags & UC_CLOSED)) {
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
        int ret = uconn_submit(w, u, &io);
        if (ret < 0) {
            if (io.op == CONN_OP_STAT)
                conn_done_stat(&u->core, ret, 0, 0);
            else
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
    case UD_RECV:
        uconn_on_recv(w, u, cqe);
        break;
    case UD_SEND:
    case UD_FILE:
        u->inflight--;
        u->waiting = UC_WAIT_NONE;
        if (u->stx) {
            struct statx *s = u->stx;
            u->stx = NULL;
            conn_done_stat(&u->core, cqe->res, s->stx_size, S_ISREG(s->stx_mode));
            uconn_stx_put(w, s);
        } else {
            conn_done(&u->core, cqe->res);
        }
        uconn_advance(w, u);
        break;
    case UD_SPLICE_IN:
    case UD_SPLICE_OUT:
        uconn_on_splice(w, u, op, cqe->res);
        break;
    default: /* UD_KILL, UD_CANCEL, UD_CLOSE */
        u->inflight--;
        break;
    }
    uconn_free_if_done(w, u);
}

/* Force a send that is stuck on a peer that does not read to fail now. */
static void uconn_kill(struct uring_worker *w, struct uconn *u)
{
    if (u->flags & UC_KILLED)
        return;
    u->flags |= UC_KILLED;
    io_uring_prep_shutdown(uconn_sqe(w, u, UD_KILL), u->fd, SHUT_RDWR);
}

void uconn_on_timeout(struct uring_worker *w, struct uconn *u)
{
    if (u->waiting == CONN_OP_RECV) {
        u->waiting = UC_WAIT_NONE;
        conn_timeout(&u->core);
        uconn_advance(w, u);
        uconn_free_if_done(w, u);
    } else if (u->waiting == CONN_OP_SEND || u->waiting == CONN_OP_SENDFILE) {
        uconn_kill(w, u);
    }
}

/* Bytes that reached the socket but not the ring yet: a request sent just
 * before the stop signal, which is still answered. */
static int uconn_has_unread(const struct uconn *u)
{
    int n = 0;

    return u->pend_head != URING_BUF_NIL || (ioctl(u->fd, FIONREAD, &n) == 0 && n > 0);
}

void uconn_stop(struct uring_worker *w, struct uconn *u, int hard)
{
    int idle = conn_drain(&u->core);

    if (u->waiting == CONN_OP_RECV && (hard || (idle && !uconn_has_unread(u)))) {
        u->waiting = UC_WAIT_NONE;
        conn_abort(&u->core);
        uconn_advance(w, u);
        uconn_free_if_done(w, u);
    } else if (hard && (u->waiting == CONN_OP_SEND || u->waiting == CONN_OP_SENDFILE)) {
        uconn_kill(w, u);
    }
}

void uconn_free_if_done(struct uring_worker *w, struct uconn *u)
{
    if (!(u->flags & UC_CLOSED) || u->inflight > 0 || (u->flags & UC_STARVED) || u->fd < 0)
        return;
    u->fd = -1;
    u->gen = (u->gen + 1) & 0xffffffu;
    u->dq_next = w->free_head;
    w->free_head = uconn_slot(w, u);
    w->active--;
    atomic_fetch_sub(&w->assigned, 1);
    atomic_fetch_sub(&w->eng->nconns, 1);
}
