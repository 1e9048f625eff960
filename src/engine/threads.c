/* threads.c - the thread-pool engine: a poller and --threads blocking
 * workers driving the HTTP core (Apache's event MPM, in a few hundred lines).
 *
 * The fallback for kernels and sandboxes without io_uring. A worker holds a
 * connection only while it has work: answering a request, sending (blocking,
 * with poll() for the idle deadline and the shutdown notice) and file
 * operations (blocking syscalls). When the core next needs input and none is
 * there, the connection is parked: it waits in the poller's epoll set
 * (EPOLLONESHOT, so one thread at a time owns it) with its deadline in a
 * min-heap, and costs no thread. Readable or expired, it goes on the ready
 * queue and the next free worker takes it; the core keeps its state, so any
 * worker can continue it. So idle keep-alive clients, slow heads and slow
 * bodies cannot use up the pool; what still holds a worker is a send to a
 * client that does not read (at most --idle-timeout without progress) and a
 * file operation.
 *
 * The poller runs in run()'s thread and also accepts. Shutdown: stop() sets
 * a flag and makes an eventfd readable (never read, so every poll that
 * includes it returns at once). The poller stops listening, closes parked
 * connections that are idle, hands the others to workers to finish, and cuts
 * what is left ENGINE_DRAIN_MS after stop(); busy workers see the eventfd in
 * their poll() and drain or cut their connection on the same deadline. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/log.h"
#include "util/mem.h"

/* The core keeps request data in heap blocks, so workers need little stack;
 * sanitizer builds add redzones and fake frames. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_STACK_SIZE (1024 * 1024)
#else
#define WORKER_STACK_SIZE (64 * 1024)
#endif
#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_MS 100
#define LOG_INTERVAL_MS 10000
#define POLL_EVENTS 256
#define TRIM_MS 1000 /* at most one mem_trim() a second */
/* sendfile() has no MSG_DONTWAIT and on a blocking socket would sleep until
 * the whole range is sent. A send timeout on the socket and a cap per call
 * keep each call short, so timeouts and shutdown are still noticed. */
#define SEND_TIMEOUT_MS 100
#define SENDFILE_CHUNK (256 * 1024)

/* epoll data of the two fds that are not connections */
#define EV_LISTEN ((void *)1)
#define EV_STOP ((void *)2)
#define EV_WAKE ((void *)3)

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

/* Logs the first failure of a burst only; a burst ends at the next success,
 * and lines stay LOG_INTERVAL_MS apart even if bursts are short. */
struct log_burst {
    bool active;
    uint64_t last_ms;
};

enum session_wake {
    WAKE_READY,   /* readable (or new): receive */
    WAKE_TIMEOUT, /* its deadline passed while parked */
    WAKE_CUT,     /* shutdown: give up on it */
};

/* One connection. Owned by exactly one thread at a time: the poller while
 * parked (heap_idx != NO_HEAP), else the worker running it or the ready
 * queue. */
struct session {
    struct engine *e;
    struct session *next; /* ready queue */
    int fd;
    uint32_t heap_idx;
    enum conn_timer timer; /* timing phase of deadline_ms */
    uint64_t deadline_ms;  /* 0: untimed */
    uint64_t drain_ms;     /* 0: not draining; else when to cut */
    uint8_t wake;          /* enum session_wake, set when it leaves the poller */
    bool in_epoll;
    bool aborted;
    struct conn c;
};

#define NO_HEAP UINT32_MAX

struct engine {
    struct engine_env env;
    int stop_fd; /* eventfd: readable once stop() ran */
    int wake_fd; /* eventfd: a parked session's deadline is the earliest */
    int epfd;
    atomic_bool stopping;
    _Atomic uint64_t stop_ms; /* CLOCK_MONOTONIC time of stop() */
    atomic_uint open_conns;   /* accepted and not yet closed */

    /* Parked sessions by deadline: a binary min-heap. Workers add (park),
     * the poller removes (readable, expired); both under park_lock. */
    pthread_mutex_t park_lock;
    struct session **heap;
    uint32_t nheap, heap_cap;
    uint64_t poller_until; /* when the poller wakes by itself (UINT64_MAX: never) */

    /* Sessions with work for a worker, FIFO. */
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct session *ready_head, *ready_tail;
    bool closed; /* shutting down: workers exit once it is empty */

    pthread_t *workers;
    unsigned nworkers_max, nworkers;
    struct log_burst accept_log, limit_log; /* poller thread only */
    uint64_t backoff_until_ms;              /* accepting paused (EMFILE) */
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool burst_begin(struct log_burst *b)
{
    uint64_t now;

    if (b->active)
        return false;
    b->active = true;
    now = now_ms();
    if (b->last_ms && now - b->last_ms < LOG_INTERVAL_MS)
        return false;
    b->last_ms = now;
    return true;
}

static void burst_end(struct log_burst *b)
{
    b->active = false;
}

static void eventfd_signal(int fd)
{
    uint64_t one = 1;

    /* Only fails when the counter would overflow: it is readable anyway. */
    if (write(fd, &one, sizeof(one)) < 0)
        return;
}

/* ---- parked sessions: deadline heap (park_lock held) ---- */

static void heap_place(struct engine *e, uint32_t i, struct session *s)
{
    e->heap[i] = s;
    s->heap_idx = i;
}

static void heap_up(struct engine *e, uint32_t i)
{
    struct session *s = e->heap[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (e->heap[parent]->deadline_ms <= s->deadline_ms)
            break;
        heap_place(e, i, e->heap[parent]);
        i = parent;
    }
    heap_place(e, i, s);
}

static void heap_down(struct engine *e, uint32_t i)
{
    struct session *s = e->heap[i];

    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= e->nheap)
            break;
        if (child + 1 < e->nheap && e->heap[child + 1]->deadline_ms < e->heap[child]->deadline_ms)
            child++;
        if (e->heap[child]->deadline_ms >= s->deadline_ms)
            break;
        heap_place(e, i, e->heap[child]);
        i = child;
    }
    heap_place(e, i, s);
}

static int heap_add(struct engine *e, struct session *s)
{
    if (e->nheap == e->heap_cap) {
        uint32_t cap = e->heap_cap ? e->heap_cap * 2 : 1024;
        struct session **grown = realloc(e->heap, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        e->heap = grown;
        e->heap_cap = cap;
    }
    heap_place(e, e->nheap++, s);
    heap_up(e, s->heap_idx);
    return 0;
}

static void heap_remove(struct engine *e, struct session *s)
{
    uint32_t i = s->heap_idx;
    struct session *last = e->heap[--e->nheap];

    s->heap_idx = NO_HEAP;
    if (last == s)
        return;
    heap_place(e, i, last);
    heap_up(e, i);
    heap_down(e, last->heap_idx);
}

/* ---- the ready queue ---- */

static void ready_push(struct engine *e, struct session *s, enum session_wake wake)
{
    s->wake = (uint8_t)wake;
    s->next = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->ready_tail)
        e->ready_tail->next = s;
    else
        e->ready_head = s;
    e->ready_tail = s;
    pthread_cond_signal(&e->nonempty);
    pthread_mutex_unlock(&e->lock);
}

/* Blocks until a session has work; NULL once the engine shuts down. */
static struct session *ready_pop(struct engine *e)
{
    struct session *s;

    pthread_mutex_lock(&e->lock);
    while (!e->ready_head && !e->closed)
        pthread_cond_wait(&e->nonempty, &e->lock);
    s = e->ready_head;
    if (s) {
        e->ready_head = s->next;
        if (!e->ready_head)
            e->ready_tail = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    return s;
}

static void ready_close(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->closed = true;
    pthread_cond_broadcast(&e->nonempty);
    pthread_mutex_unlock(&e->lock);
}

/* ---- sessions ---- */

static void session_free(struct session *s)
{
    struct engine *e = s->e;

    close(s->fd);
    conn_release(&s->c);
    free(s);
    atomic_fetch_sub(&e->open_conns, 1);
}

/* Wait in the poller for input. Returns false when the session cannot be
 * parked (out of memory, epoll refused): the caller then ends it. */
static bool session_park(struct session *s)
{
    struct engine *e = s->e;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = s};
    bool ok;

    pthread_mutex_lock(&e->park_lock);
    /* Into the heap before the fd is armed: the poller, woken by it, must
     * find the session parked. Every RECV is timed, so every parked
     * session has a deadline. */
    ok = heap_add(e, s) == 0;
    if (ok && epoll_ctl(e->epfd, s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        heap_remove(e, s);
        ok = false;
    }
    if (ok)
        s->in_epoll = true;
    if (ok && s->deadline_ms < e->poller_until) {
        e->poller_until = s->deadline_ms; /* one wake-up is enough */
        eventfd_signal(e->wake_fd);
    }
    pthread_mutex_unlock(&e->park_lock);
    return ok;
}

/* Poller: take s out of the heap (and out of epoll's interest, so a late
 * readiness cannot hand it out twice) and give it to a worker. park_lock
 * held; false if s was not parked (already handed out). */
static bool session_unpark_locked(struct session *s, enum session_wake wake)
{
    struct engine *e = s->e;
    struct epoll_event ev = {.events = 0, .data.ptr = s};

    if (s->heap_idx == NO_HEAP)
        return false;
    heap_remove(e, s);
    if (wake != WAKE_READY) /* a fired EPOLLONESHOT is already disarmed */
        (void)epoll_ctl(e->epfd, EPOLL_CTL_MOD, s->fd, &ev);
    ready_push(e, s, wake);
    return true;
}

static uint64_t timer_ms(const struct config *cfg, enum conn_timer timer)
{
    switch (timer) {
    case CONN_TIMER_IDLE:
        return (uint64_t)cfg->idle_timeout_s * 1000;
    case CONN_TIMER_HEADER:
        return (uint64_t)cfg->header_timeout_s * 1000;
    case CONN_TIMER_LINGER:
        return CONN_LINGER_MS;
    case CONN_TIMER_NONE:
        break;
    }
    return 0;
}

/* IDLE measures progress, so every op restarts it; HEADER and LINGER run
 * from the op that starts them and are not extended by later ops. */
static void session_arm(struct session *s, const struct conn_io *io)
{
    uint64_t ms;

    if (io->timer == s->timer && !io->timer_restart && io->timer != CONN_TIMER_IDLE)
        return;
    s->timer = io->timer;
    ms = timer_ms(s->e->env.cfg, io->timer);
    s->deadline_ms = ms ? now_ms() + ms : 0;
}

/* Shutdown seen: the core finishes the response in flight; an idle
 * connection is cut at once. Returns true when it should be cut. */
static bool session_drain(struct session *s)
{
    uint64_t stop_ms = atomic_load(&s->e->stop_ms);
    int unread = 0;

    s->drain_ms = (stop_ms ? stop_ms : now_ms()) + ENGINE_DRAIN_MS;
    /* A request already in the socket (sent just before the signal) is
     * still answered, with Connection: close. */
    if (ioctl(s->fd, FIONREAD, &unread) == 0 && unread > 0) {
        conn_drain(&s->c);
        return false;
    }
    return conn_drain(&s->c) == 1;
}

enum wait_result {
    WAIT_READY,
    WAIT_TIMEOUT, /* the op's timer fired */
    WAIT_CUT,     /* shutdown: give up on the connection */
};

/* A send waits here, on the worker: for the socket, its deadline, and the
 * shutdown notice. */
static enum wait_result session_wait(struct session *s, short events)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = s->fd, .events = events},
                                {.fd = s->e->stop_fd, .events = POLLIN}};
        uint64_t now = now_ms(), until = s->deadline_ms;
        int timeout = -1, n;

        if (s->drain_ms) {
            if (now >= s->drain_ms)
                return WAIT_CUT;
            if (until == 0 || s->drain_ms < until)
                until = s->drain_ms;
        }
        if (until)
            timeout = until <= now ? 0 : until - now > INT_MAX ? INT_MAX : (int)(until - now);
        /* Once draining, stop_fd (readable for good) is left out. */
        n = poll(pfd, s->drain_ms ? 1 : 2, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return WAIT_CUT;
        }
        if (!s->drain_ms && pfd[1].revents) {
            if (session_drain(s))
                return WAIT_CUT;
            continue;
        }
        if (pfd[0].revents)
            return WAIT_READY;
        if (s->deadline_ms && now_ms() >= s->deadline_ms)
            return WAIT_TIMEOUT;
    }
}

/* One attempt at a ready socket; -EAGAIN means wait again. MSG_DONTWAIT
 * keeps a blocking socket from sleeping past a deadline. */
static long session_socket_try(struct session *s, const struct conn_io *io)
{
    ssize_t n;

    do {
        if (io->op == CONN_OP_RECV) {
            size_t len;
            void *p = conn_recv_space(&s->c, &len);

            if (!p)
                return -ENOMEM;
            n = recv(s->fd, p, len, MSG_DONTWAIT);
        } else if (io->op == CONN_OP_SEND) {
            struct msghdr msg = {.msg_iov = (struct iovec *)io->iov,
                                 .msg_iovlen = (size_t)io->iovcnt};

            n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            off_t off = (off_t)io->off;

            n = sendfile(s->fd, io->fd, &off, io->len < SENDFILE_CHUNK ? io->len : SENDFILE_CHUNK);
        }
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void session_cut(struct session *s)
{
    s->aborted = true;
    conn_abort(&s->c);
}

/* A send: blocking on this worker until done, timed out or cut. */
static void session_send(struct session *s, const struct conn_io *io)
{
    long res;

    session_arm(s, io);
    do {
        switch (session_wait(s, POLLOUT)) {
        case WAIT_TIMEOUT:
            s->timer = CONN_TIMER_NONE; /* whatever comes next starts afresh */
            conn_timeout(&s->c);
            return;
        case WAIT_CUT:
            session_cut(s);
            return;
        case WAIT_READY:
            break;
        }
        res = session_socket_try(s, io);
    } while (res == -EAGAIN);
    conn_done(&s->c, res);
}

/* A receive: what the socket holds now. Returns false when there is
 * nothing and the session was parked (it is no longer ours). */
static bool session_recv(struct session *s, const struct conn_io *io)
{
    long res;

    session_arm(s, io);
    if (atomic_load(&s->e->stopping) && !s->drain_ms && session_drain(s)) {
        session_cut(s);
        return true;
    }
    if (s->drain_ms && now_ms() >= s->drain_ms) {
        session_cut(s);
        return true;
    }
    res = session_socket_try(s, io);
    if (res != -EAGAIN) {
        conn_done(&s->c, res);
        return true;
    }
    if (!session_park(s))
        session_cut(s);
    else
        return false;
    return true;
}

static long syscall_result(long r)
{
    return r < 0 ? -errno : r;
}

static void session_file_op(struct session *s, const struct conn_io *io)
{
    struct stat st;
    long res = 0;

    switch (io->op) {
    case CONN_OP_OPEN:
        res = syscall(SYS_openat2, io->dirfd, io->path, &io->how, sizeof(io->how));
        break;
    case CONN_OP_STAT:
        res = syscall_result(fstat(io->fd, &st));
        conn_done_stat(&s->c, (int)res, res ? 0 : (uint64_t)st.st_size,
                       res ? 0 : S_ISREG(st.st_mode));
        return;
    case CONN_OP_READ:
        res = pread(io->fd, io->buf, io->len, (off_t)io->off);
        break;
    case CONN_OP_WRITE:
        res = pwrite(io->fd, io->buf, io->len, (off_t)io->off);
        break;
    case CONN_OP_FSYNC:
        res = fsync(io->fd);
        break;
    case CONN_OP_RENAME:
        res = renameat(io->dirfd, io->path, io->dirfd, io->path2);
        break;
    case CONN_OP_UNLINK:
        res = unlinkat(io->dirfd, io->path, 0);
        break;
    case CONN_OP_CLOSE_FILE:
        res = close(io->fd);
        break;
    case CONN_OP_SHUTDOWN:
        res = shutdown(s->fd, SHUT_WR);
        break;
    default:
        conn_done(&s->c, -EINVAL);
        return;
    }
    conn_done(&s->c, syscall_result(res));
}

/* Drive s until it needs input that is not there (parked) or closes. */
static void session_run(struct session *s)
{
    struct conn_io io;

    if (s->wake == WAKE_TIMEOUT) {
        s->timer = CONN_TIMER_NONE;
        conn_timeout(&s->c);
    } else if (s->wake == WAKE_CUT && !s->aborted) {
        session_cut(s);
    }
    for (;;) {
        conn_next(&s->c, &io);
        if (io.op == CONN_OP_CLOSE) {
            session_free(s);
            return;
        }
        if (s->aborted &&
            (io.op == CONN_OP_RECV || io.op == CONN_OP_SEND || io.op == CONN_OP_SENDFILE)) {
            /* After an abort the core only cleans up; a socket op would be
             * a bug, and failing it keeps the loop going towards CLOSE. */
            conn_done(&s->c, -ECONNABORTED);
        } else if (io.op == CONN_OP_RECV) {
            if (!session_recv(s, &io))
                return;
        } else if (io.op == CONN_OP_SEND || io.op == CONN_OP_SENDFILE) {
            session_send(s, &io);
        } else {
            session_file_op(s, &io);
        }
    }
}

static void *worker_main(void *arg)
{
    struct engine *e = arg;
    struct session *s;

    while ((s = ready_pop(e)))
        session_run(s);
    conn_thread_cleanup();
    return NULL;
}

/* ---- the poller: accept, readiness, deadlines, shutdown ---- */

static void poller_listen(struct engine *e, bool on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = EV_LISTEN};

    (void)epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->env.listen_fd, &ev);
}

/* Counts the connection against --max-connections; past the cap it is
 * closed unanswered, so the open ones keep being served. */
static bool poller_admit(struct engine *e, int fd)
{
    unsigned max = e->env.cfg->max_connections;

    if (atomic_fetch_add(&e->open_conns, 1) >= max && max > 0) {
        atomic_fetch_sub(&e->open_conns, 1);
        close(fd);
        if (burst_begin(&e->limit_log))
            log_warn("%u connections open (--max-connections): refusing new ones", max);
        return false;
    }
    burst_end(&e->limit_log);
    return true;
}

static void poller_start(struct engine *e, int fd, const union peer_addr *peer)
{
    struct session *s = calloc(1, sizeof(*s));
    sa_family_t family = peer->sa.sa_family;

    if (!s) {
        close(fd);
        atomic_fetch_sub(&e->open_conns, 1);
        return;
    }
    s->e = e;
    s->fd = fd;
    s->heap_idx = NO_HEAP;
    s->timer = CONN_TIMER_NONE;
    conn_init(&s->c, e->env.http, family == AF_INET || family == AF_INET6 ? peer : NULL);
    /* A worker tries the first receive at once: most clients send their
     * request right after connecting. */
    ready_push(e, s, WAKE_READY);
}

/* Accepts until the backlog is empty. Out of descriptors or memory, accepting
 * pauses ACCEPT_BACKOFF_MS: retrying at once would spin, and the backlog keeps
 * the clients waiting meanwhile. */
static void poller_accept(struct engine *e)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        union peer_addr peer;
        socklen_t len = sizeof(peer);
        /* No SOCK_NONBLOCK: workers use blocking sockets (MSG_DONTWAIT per
         * call), and the accepted socket does not inherit O_NONBLOCK. */
        int fd = accept4(e->env.listen_fd, &peer.sa, &len, SOCK_CLOEXEC);

        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
            case ENETDOWN:
            case ENETUNREACH:
            case EHOSTDOWN:
            case EHOSTUNREACH:
            case ENONET:
            case ENOPROTOOPT:
            case EOPNOTSUPP:
                continue; /* that connection failed; the next may not */
            default:
                if (burst_begin(&e->accept_log))
                    log_error("accept: %s; pausing %d ms between attempts", strerror(errno),
                              ACCEPT_BACKOFF_MS);
                e->backoff_until_ms = now_ms() + ACCEPT_BACKOFF_MS;
                poller_listen(e, false);
                return;
            }
        }
        burst_end(&e->accept_log);
        if (len > sizeof(peer))
            peer.sa.sa_family = AF_UNSPEC;
        if (poller_admit(e, fd))
            poller_start(e, fd, &peer);
    }
}

/* Hand expired parked sessions to workers; returns ms to the next deadline
 * (-1: none). */
static int poller_expire(struct engine *e, uint64_t now)
{
    int wait = -1;

    pthread_mutex_lock(&e->park_lock);
    while (e->nheap > 0 && e->heap[0]->deadline_ms <= now)
        session_unpark_locked(e->heap[0], WAKE_TIMEOUT);
    e->poller_until = UINT64_MAX;
    if (e->nheap > 0) {
        uint64_t ms = e->heap[0]->deadline_ms - now;
        wait = ms > INT_MAX ? INT_MAX : (int)ms;
        e->poller_until = e->heap[0]->deadline_ms;
    }
    pthread_mutex_unlock(&e->park_lock);
    return wait;
}

/* Shutdown: every parked session drains. An idle one is closed at once
 * (cut); one with a request under way stays parked and is continued when its
 * bytes come. At the drain deadline (cut_all) whatever is still parked is
 * cut. The heap is filtered in one pass and rebuilt. */
static void poller_drain(struct engine *e, bool cut_all)
{
    struct epoll_event ev = {.events = 0};
    uint32_t kept = 0;

    pthread_mutex_lock(&e->park_lock);
    for (uint32_t i = 0; i < e->nheap; i++) {
        struct session *s = e->heap[i];
        if (cut_all || session_drain(s)) {
            s->heap_idx = NO_HEAP;
            ev.data.ptr = s;
            (void)epoll_ctl(e->epfd, EPOLL_CTL_MOD, s->fd, &ev);
            ready_push(e, s, WAKE_CUT);
        } else {
            heap_place(e, kept++, s);
        }
    }
    e->nheap = kept;
    for (uint32_t i = kept / 2; i-- > 0;)
        heap_down(e, i);
    pthread_mutex_unlock(&e->park_lock);
}

static void poller_on_stop(struct engine *e)
{
    /* Stops listening (the backlog is reset, new clients are refused) while
     * the descriptor itself stays main's to close. stop_fd stays readable:
     * out of the set, or every wait would return at once. */
    shutdown(e->env.listen_fd, SHUT_RD);
    (void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->env.listen_fd, NULL);
    (void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->stop_fd, NULL);
    e->backoff_until_ms = 0;
    poller_drain(e, false);
}

static int min_wait(int wait, uint64_t ms)
{
    int w = ms > INT_MAX ? INT_MAX : (int)ms;

    return wait < 0 || w < wait ? w : wait;
}

/* Until stop(), then until every connection is closed (or the drain
 * deadline has long passed). */
static void poller_loop(struct engine *e)
{
    struct epoll_event evs[POLL_EVENTS];
    uint64_t trim_ms = 0, drain_at = 0;
    bool stopping = false, cut = false;

    for (;;) {
        uint64_t now = now_ms();
        int wait = poller_expire(e, now);

        if (e->backoff_until_ms) {
            if (now >= e->backoff_until_ms) {
                e->backoff_until_ms = 0;
                poller_listen(e, true);
            } else {
                wait = min_wait(wait, e->backoff_until_ms - now);
            }
        }
        if (mem_trim_due()) { /* memory of a past spike */
            if (now - trim_ms >= TRIM_MS) {
                trim_ms = now;
                mem_trim();
            } else {
                wait = min_wait(wait, TRIM_MS);
            }
        }
        if (stopping) {
            if (atomic_load(&e->open_conns) == 0)
                return;
            if (now >= drain_at && !cut) {
                poller_drain(e, true);
                cut = true;
            }
            if (now >= drain_at + 400)
                return; /* connections that never finish must not hold the exit */
            wait = min_wait(wait, 50);
        }
        int n = epoll_wait(e->epfd, evs, POLL_EVENTS, wait);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == EV_LISTEN) {
                poller_accept(e);
            } else if (p == EV_WAKE) {
                eventfd_t count;
                eventfd_read(e->wake_fd, &count);
            } else if (p == EV_STOP) {
                stopping = true;
                drain_at = atomic_load(&e->stop_ms) + ENGINE_DRAIN_MS;
                poller_on_stop(e);
            } else {
                pthread_mutex_lock(&e->park_lock);
                session_unpark_locked(p, WAKE_READY);
                pthread_mutex_unlock(&e->park_lock);
            }
        }
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            return;
        }
    }
}

/* ---- engine ops ---- */

static int threads_probe(const char **why)
{
    (void)why;
    return 0;
}

static void threads_destroy(struct engine *e)
{
    if (!e)
        return;
    /* Sessions still parked when the drain gave up on them. */
    for (uint32_t i = 0; i < e->nheap; i++)
        session_free(e->heap[i]);
    conn_thread_cleanup();
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->stop_fd >= 0)
        close(e->stop_fd);
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    pthread_cond_destroy(&e->nonempty);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->park_lock);
    free(e->heap);
    free(e->workers);
    free(e);
}

static int threads_create(struct engine **out, const struct engine_env *env)
{
    unsigned n = env->cfg->threads ? env->cfg->threads : 1;
    struct engine *e = calloc(1, sizeof(*e));
    struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = EV_LISTEN};
    struct epoll_event stop_ev = {.events = EPOLLIN, .data.ptr = EV_STOP};
    struct epoll_event wake_ev = {.events = EPOLLIN, .data.ptr = EV_WAKE};
    int err = -ENOMEM;

    if (!e)
        return -ENOMEM;
    e->env = *env;
    e->stop_fd = e->wake_fd = e->epfd = -1;
    e->poller_until = UINT64_MAX;
    /* glibc's default mutex and condvar initialisation cannot fail. */
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->park_lock, NULL);
    pthread_cond_init(&e->nonempty, NULL);
    e->nworkers_max = n;
    e->workers = calloc(n, sizeof(*e->workers));
    if (!e->workers)
        goto fail;
    e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->stop_fd < 0 || e->wake_fd < 0 || e->epfd < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wake_fd, &wake_ev) < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, env->listen_fd, &listen_ev) < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->stop_fd, &stop_ev) < 0) {
        err = -errno;
        goto fail;
    }
    *out = e;
    return 0;
fail:
    threads_destroy(e);
    return err;
}

static size_t worker_stack_size(void)
{
    long min = sysconf(_SC_THREAD_STACK_MIN);

    return min > WORKER_STACK_SIZE ? (size_t)min : WORKER_STACK_SIZE;
}

/* Workers inherit the signal mask at creation: blocking the signals around
 * pthread_create() means a signal can only ever land on run()'s thread. */
static int threads_start(struct engine *e)
{
    pthread_attr_t attr;
    sigset_t block, old;
    int err;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    err = pthread_attr_init(&attr);
    if (err)
        return -err;
    err = pthread_attr_setstacksize(&attr, worker_stack_size());
    pthread_sigmask(SIG_BLOCK, &block, &old);
    while (!err && e->nworkers < e->nworkers_max) {
        err = pthread_create(&e->workers[e->nworkers], &attr, worker_main, e);
        if (!err)
            e->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err)
        log_error("cannot start worker thread %u of %u: %s", e->nworkers + 1, e->nworkers_max,
                  strerror(err));
    return -err;
}

static int threads_run(struct engine *e)
{
    struct timeval sndtimeo = {.tv_usec = SEND_TIMEOUT_MS * 1000};
    int err;

    /* Accepted sockets inherit SO_SNDTIMEO from the listener. */
    if (setsockopt(e->env.listen_fd, SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)) < 0)
        log_warn("SO_SNDTIMEO on the listener: %s", strerror(errno));
    err = threads_start(e);
    if (!err)
        poller_loop(e);
    else
        shutdown(e->env.listen_fd, SHUT_RD);
    ready_close(e);
    for (unsigned i = 0; i < e->nworkers; i++)
        pthread_join(e->workers[i], NULL);
    return err;
}

/* Async-signal-safe: an atomic flag, clock_gettime() and write(). */
static void threads_stop(struct engine *e)
{
    int saved_errno = errno;

    if (!atomic_exchange(&e->stopping, true)) {
        atomic_store(&e->stop_ms, now_ms());
        eventfd_signal(e->stop_fd);
    }
    errno = saved_errno;
}

const struct engine_ops engine_threads_ops = {
    .name = "threads",
    .probe = threads_probe,
    .create = threads_create,
    .run = threads_run,
    .stop = threads_stop,
    .destroy = threads_destroy,
};
