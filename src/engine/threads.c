/* threads.c - the thread-pool engine: one acceptor and --threads blocking
 * workers, each driving one connection at a time through the HTTP core.
 *
 * The fallback for kernels and sandboxes without io_uring. The acceptor runs
 * in run()'s thread and hands sockets to the workers through a bounded queue;
 * while the queue is full it stops accepting, so the excess waits in the
 * kernel's listen backlog. A worker performs each operation the core asks
 * for with one syscall, after poll() on the socket, which is where the idle,
 * header and linger timeouts and the shutdown notice are observed.
 *
 * Shutdown: stop() sets a flag and makes an eventfd readable (never read
 * again, so every poll that includes it returns at once). The acceptor stops
 * listening and drops the queue; each worker tells its connection to drain
 * and cuts it ENGINE_DRAIN_MS after stop(). */
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

/* The core keeps request data in heap blocks, so workers need little stack;
 * sanitizer builds add redzones and fake frames. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_STACK_SIZE (1024 * 1024)
#else
#define WORKER_STACK_SIZE (64 * 1024)
#endif
#define QUEUE_PER_WORKER 4
#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_MS 100
#define LOG_INTERVAL_MS 10000
/* sendfile() has no MSG_DONTWAIT and on a blocking socket would sleep until
 * the whole range is sent. A send timeout on the socket and a cap per call
 * keep each call short, so timeouts and shutdown are still noticed. */
#define SEND_TIMEOUT_MS 100
#define SENDFILE_CHUNK (256 * 1024)

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

struct pending {
    int fd;
    union peer_addr peer;
};

/* Logs the first failure of a burst only; a burst ends at the next success,
 * and lines stay LOG_INTERVAL_MS apart even if bursts are short. */
struct log_burst {
    bool active;
    uint64_t last_ms;
};

struct engine {
    struct engine_env env;
    int stop_fd;  /* eventfd: readable once stop() ran */
    int space_fd; /* eventfd: a worker made room while the acceptor waited */
    atomic_bool stopping;
    _Atomic uint64_t stop_ms; /* CLOCK_MONOTONIC time of stop() */
    atomic_uint open_conns;   /* accepted and not yet closed, queued included */

    pthread_mutex_t lock; /* guards the queue and the two flags below */
    pthread_cond_t nonempty;
    struct pending *queue; /* ring of cap entries */
    unsigned cap, head, count;
    bool closed;           /* shutting down: workers exit once it is empty */
    bool acceptor_waiting; /* acceptor sleeps on space_fd */

    pthread_t *workers;
    unsigned nworkers_max, nworkers;
    struct log_burst accept_log, limit_log; /* acceptor thread only */
};

/* One connection as a worker drives it. */
struct session {
    struct engine *e;
    struct conn c;
    int fd;
    enum conn_timer timer; /* timing phase of deadline_ms */
    uint64_t deadline_ms;  /* 0: untimed */
    uint64_t drain_ms;     /* 0: not draining; else when to cut */
    bool aborted;
};

enum wait_result {
    WAIT_READY,
    WAIT_TIMEOUT, /* the op's timer fired */
    WAIT_CUT,     /* shutdown: give up on the connection */
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

/* ---- the queue between the acceptor and the workers ---- */

/* Acceptor only, with room guaranteed. Returns the room left. */
static unsigned queue_push(struct engine *e, const struct pending *p)
{
    unsigned left;

    pthread_mutex_lock(&e->lock);
    e->queue[(e->head + e->count) % e->cap] = *p;
    e->count++;
    left = e->cap - e->count;
    pthread_cond_signal(&e->nonempty);
    pthread_mutex_unlock(&e->lock);
    return left;
}

/* Blocks until a connection is queued; false once the engine shuts down. */
static bool queue_pop(struct engine *e, struct pending *out)
{
    bool wake = false;

    pthread_mutex_lock(&e->lock);
    while (e->count == 0 && !e->closed)
        pthread_cond_wait(&e->nonempty, &e->lock);
    if (e->count == 0) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    *out = e->queue[e->head];
    e->head = (e->head + 1) % e->cap;
    e->count--;
    if (e->acceptor_waiting) {
        e->acceptor_waiting = false;
        wake = true;
    }
    pthread_mutex_unlock(&e->lock);
    if (wake)
        eventfd_signal(e->space_fd);
    return true;
}

/* Connections accepted but not started are closed, not served. */
static void queue_close(struct engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->closed = true;
    for (; e->count > 0; e->count--) {
        close(e->queue[e->head].fd);
        atomic_fetch_sub(&e->open_conns, 1);
        e->head = (e->head + 1) % e->cap;
    }
    pthread_cond_broadcast(&e->nonempty);
    pthread_mutex_unlock(&e->lock);
}

/* ---- the acceptor ---- */

/* A condition variable cannot be waited on together with stop_fd, so a full
 * queue is waited out in poll() on stop_fd and space_fd. Returns false on
 * stop. */
static bool acceptor_wait_space(struct engine *e)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = e->stop_fd, .events = POLLIN},
                                {.fd = e->space_fd, .events = POLLIN}};
        eventfd_t count;

        pthread_mutex_lock(&e->lock);
        e->acceptor_waiting = e->count == e->cap;
        if (!e->acceptor_waiting) {
            pthread_mutex_unlock(&e->lock);
            return true;
        }
        pthread_mutex_unlock(&e->lock);
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            return true; /* the caller's poll backs off */
        if (pfd[0].revents)
            return false;
        if (pfd[1].revents)
            eventfd_read(e->space_fd, &count);
    }
}

/* Counts the connection against --max-connections; past the cap it is
 * closed unanswered, so the open ones keep their worker. */
static bool acceptor_admit(struct engine *e, int fd)
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

/* Accepts until the backlog is empty or the queue is full. Returns true when
 * accepting must pause (out of descriptors or memory): retrying at once
 * would spin, and the backlog keeps the clients waiting meanwhile. */
static bool acceptor_batch(struct engine *e)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct pending p;
        socklen_t len = sizeof(p.peer);

        /* No SOCK_NONBLOCK: workers use blocking sockets, and on Linux the
         * accepted socket does not inherit the listener's O_NONBLOCK. */
        p.fd = accept4(e->env.listen_fd, &p.peer.sa, &len, SOCK_CLOEXEC);
        if (p.fd < 0) {
            switch (errno) {
            case EAGAIN:
                return false;
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
                return true;
            }
        }
        burst_end(&e->accept_log);
        if (len > sizeof(p.peer))
            p.peer.sa.sa_family = AF_UNSPEC;
        if (acceptor_admit(e, p.fd) && queue_push(e, &p) == 0)
            return false;
    }
    return false;
}

static void acceptor_loop(struct engine *e)
{
    bool backoff = false;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = e->stop_fd, .events = POLLIN},
                                {.fd = e->env.listen_fd, .events = POLLIN}};
        int n;

        if (!backoff && !acceptor_wait_space(e))
            return;
        /* While backing off, the listener (still readable) is left out. */
        n = poll(pfd, backoff ? 1 : 2, backoff ? ACCEPT_BACKOFF_MS : -1);
        if (n < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            backoff = true;
            continue;
        }
        if (pfd[0].revents)
            return;
        if (backoff)
            backoff = false;
        else if (pfd[1].revents)
            backoff = acceptor_batch(e);
    }
}

/* ---- a worker driving one connection ---- */

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
 * connection is cut at once. */
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

static void session_socket_op(struct session *s, const struct conn_io *io)
{
    long res;

    /* After an abort the core only cleans up; a socket op would be a bug,
     * and failing it keeps the loop going towards CLOSE. */
    if (s->aborted) {
        conn_done(&s->c, -ECONNABORTED);
        return;
    }
    session_arm(s, io);
    do {
        switch (session_wait(s, io->op == CONN_OP_RECV ? POLLIN : POLLOUT)) {
        case WAIT_TIMEOUT:
            s->timer = CONN_TIMER_NONE; /* whatever comes next starts afresh */
            conn_timeout(&s->c);
            return;
        case WAIT_CUT:
            s->aborted = true;
            conn_abort(&s->c);
            return;
        case WAIT_READY:
            break;
        }
        res = session_socket_try(s, io);
    } while (res == -EAGAIN);
    conn_done(&s->c, res);
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

static void session_serve(struct engine *e, const struct pending *p)
{
    struct session s = {.e = e, .fd = p->fd, .timer = CONN_TIMER_NONE};
    sa_family_t family = p->peer.sa.sa_family;
    struct conn_io io;

    conn_init(&s.c, e->env.http, family == AF_INET || family == AF_INET6 ? &p->peer : NULL);
    for (;;) {
        conn_next(&s.c, &io);
        if (io.op == CONN_OP_CLOSE)
            break;
        if (io.op == CONN_OP_RECV || io.op == CONN_OP_SEND || io.op == CONN_OP_SENDFILE)
            session_socket_op(&s, &io);
        else
            session_file_op(&s, &io);
    }
    close(s.fd);
    conn_release(&s.c);
    atomic_fetch_sub(&e->open_conns, 1);
}

static void *worker_main(void *arg)
{
    struct engine *e = arg;
    struct pending p;

    while (queue_pop(e, &p))
        session_serve(e, &p);
    conn_thread_cleanup();
    return NULL;
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
    if (e->stop_fd >= 0)
        close(e->stop_fd);
    if (e->space_fd >= 0)
        close(e->space_fd);
    pthread_cond_destroy(&e->nonempty);
    pthread_mutex_destroy(&e->lock);
    free(e->queue);
    free(e->workers);
    free(e);
}

static int threads_create(struct engine **out, const struct engine_env *env)
{
    unsigned n = env->cfg->threads ? env->cfg->threads : 1;
    struct engine *e = calloc(1, sizeof(*e));
    int err = -ENOMEM;

    if (!e)
        return -ENOMEM;
    e->env = *env;
    e->stop_fd = e->space_fd = -1;
    /* glibc's default mutex and condvar initialisation cannot fail. */
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->nonempty, NULL);
    e->nworkers_max = n;
    e->cap = n > UINT_MAX / QUEUE_PER_WORKER ? UINT_MAX : n * QUEUE_PER_WORKER;
    e->queue = calloc(e->cap, sizeof(*e->queue));
    e->workers = calloc(n, sizeof(*e->workers));
    if (!e->queue || !e->workers)
        goto fail;
    e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    e->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->stop_fd < 0 || e->space_fd < 0) {
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
        acceptor_loop(e);
    /* Stops listening (the backlog is reset, new clients are refused) while
     * the descriptor itself stays main's to close. */
    shutdown(e->env.listen_fd, SHUT_RD);
    queue_close(e);
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
