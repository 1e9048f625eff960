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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "engine/file_ops.h"
#include "engine/threads_internal.h"
#include "util/log.h"
#include "util/mem.h"

/* The core keeps request data in heap blocks, so workers need little stack. */
#define WORKER_STACK_SIZE (64 * 1024)

/* sendfile() has no MSG_DONTWAIT and on a blocking socket would sleep until
 * the whole range is sent. A send timeout on the socket and the core's cap
 * per SENDFILE (CONN_SENDFILE_MAX) keep each call short, so timeouts and
 * shutdown are still noticed. */
#define SEND_TIMEOUT_MS 100

/* ---- the ready queue ---- */

void threads_ready_push(struct engine *e, struct session *s, enum session_wake wake)
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
/* The next session with work, or NULL once closed. A worker whose file
 * cache keeps descriptors ticks about once a second while it waits. */
static struct session *ready_pop(struct engine *e)
{
    struct session *s;
    struct timespec at;

    pthread_mutex_lock(&e->lock);
    while (!e->ready_head && !e->closed) {
        if (!conn_thread_holds_files()) {
            pthread_cond_wait(&e->nonempty, &e->lock);
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += 1;
        if (pthread_cond_timedwait(&e->nonempty, &e->lock, &at) == ETIMEDOUT) {
            pthread_mutex_unlock(&e->lock);
            conn_thread_tick(engine_wall_s());
            pthread_mutex_lock(&e->lock);
        }
    }
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

void threads_session_free(struct session *s)
{
    struct engine *e = s->e;

    close(s->fd);
    conn_release(&s->c);
    free(s);
    engine_release(&e->adm);
    /* Workers free the buffers, the poller trims: one that sleeps without a
     * deadline must be told, or the end of a spike stays resident. */
    if (mem_trim_due() && !atomic_exchange(&e->trim_signalled, true))
        eventfd_signal(e->wake_fd);
}

/* IDLE measures progress, so every op restarts it; HEADER and LINGER run
 * from the op that starts them and are not extended by later ops. */
static void session_arm(struct session *s, const struct conn_io *io)
{
    uint64_t ms;

    if (io->timer == s->timer && !io->timer_restart && io->timer != CONN_TIMER_IDLE)
        return;
    s->timer = io->timer;
    ms = engine_timer_ms(s->e->env.cfg, io->timer);
    s->deadline_ms = ms ? engine_now_ms() + ms : 0;
}

/* Shutdown seen: the core finishes the response in flight; an idle
 * keep-alive connection is cut at once, one still waiting for its first
 * request once ENGINE_FRESH_GRACE_MS have passed since the stop (the poller
 * looks again then). Returns true when it should be cut. */
bool threads_session_drain(struct session *s)
{
    uint64_t stop_ms = atomic_load(&s->e->stop_ms), now = engine_now_ms();
    s->drain_ms = (stop_ms ? stop_ms : now) + ENGINE_DRAIN_MS;
    /* A request already in the socket (sent just before the signal) is
     * still answered, with Connection: close. */
    if (engine_unread_input(s->fd)) {
        conn_drain(&s->c);
        return false;
    }
    int d = conn_drain(&s->c);
    return d == CONN_DRAIN_IDLE ||
           (d == CONN_DRAIN_FRESH && now >= (stop_ms ? stop_ms : now) + ENGINE_FRESH_GRACE_MS);
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
        uint64_t now = engine_now_ms(), until = s->deadline_ms;
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
            if (threads_session_drain(s))
                return WAIT_CUT;
            continue;
        }
        if (pfd[0].revents)
            return WAIT_READY;
        if (s->deadline_ms && engine_now_ms() >= s->deadline_ms)
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
            n = send(s->fd, io->buf, io->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            off_t off = (off_t)io->off;

            n = sendfile(s->fd, io->fd, &off, io->len);
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

    if (!s->recv_pending)
        session_arm(s, io); /* a RECV resumed from the poller keeps its deadline */
    s->recv_pending = false;
    if (atomic_load(&s->e->stopping) && !s->drain_ms && threads_session_drain(s)) {
        session_cut(s);
        return true;
    }
    if (s->drain_ms && engine_now_ms() >= s->drain_ms) {
        session_cut(s);
        return true;
    }
    res = session_socket_try(s, io);
    if (res != -EAGAIN) {
        conn_done(&s->c, res);
        return true;
    }
    s->recv_pending = true; /* the core's RECV stays outstanding while parked */
    if (threads_park(s))
        return false;
    s->recv_pending = false;
    session_cut(s);
    return true;
}

/* A file operation, or the SHUTDOWN that ends a response: blocking. */
static void session_file_op(struct session *s, const struct conn_io *io)
{
    long res;

    if (io->op == CONN_OP_SHUTDOWN)
        res = shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
    else
        res = file_op_perform(io);
    conn_done(&s->c, res);
}

/* Drive s until it needs input that is not there (parked) or closes. */
static void session_run(struct session *s)
{
    static const struct conn_io recv_io = {.op = CONN_OP_RECV};
    struct conn_io io;

    conn_set_now(engine_wall_s());
    /* Back from the poller, the core still waits for the RECV it asked for:
     * complete it (or abandon it: timeout, cut) before asking what is next. */
    if (s->wake == WAKE_TIMEOUT) {
        s->recv_pending = false;
        s->timer = CONN_TIMER_NONE;
        conn_timeout(&s->c);
    } else if (s->wake == WAKE_CUT && !s->aborted) {
        s->recv_pending = false;
        session_cut(s);
    } else if (s->recv_pending && !session_recv(s, &recv_io)) {
        return; /* woken for nothing: parked again */
    }
    for (;;) {
        conn_set_now(engine_wall_s()); /* a session may run for many requests */
        conn_next(&s->c, &io);
        if (io.op == CONN_OP_CLOSE) {
            threads_session_free(s);
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
        threads_session_free(e->heap[i]);
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
    if (env->http->dirfd >= 0 && file_ops_walks())
        log_warn("openat2 is unavailable (Linux before 5.6, valgrind, or a seccomp profile "
                 "older than it): /files/ names are resolved one component at a "
                 "time, to the same rules");
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

static int threads_start(struct engine *e)
{
    int err = 0;

    while (!err && e->nworkers < e->nworkers_max) {
        err = engine_thread_start(&e->workers[e->nworkers], WORKER_STACK_SIZE, worker_main, e);
        if (!err)
            e->nworkers++;
    }
    if (err)
        log_error("cannot start worker thread %u of %u: %s", e->nworkers + 1, e->nworkers_max,
                  strerror(-err));
    return err;
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
        threads_poller_loop(e);
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
        atomic_store(&e->stop_ms, engine_now_ms());
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
