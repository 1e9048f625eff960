/* threads_poller.c - the threads engine's poller: one thread (run()'s) with
 * one epoll set that accepts, holds every connection waiting for input
 * (parked, EPOLLONESHOT), wakes it when readable, expires its deadline
 * (a min-heap) and runs the shutdown. See threads.c for the whole design. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "engine/threads_internal.h"
#include "util/log.h"
#include "util/mem.h"

#define ACCEPT_BATCH 64
#define POLL_EVENTS 256
#define TRIM_MS 1000 /* at most one mem_trim() a second */

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

bool threads_park(struct session *s)
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

/* Out of the epoll set: epoll adds EPOLLERR|EPOLLHUP to every mask, so a
 * session merely MODded to no events would still be reported on a reset,
 * possibly after a worker has freed it. A fired EPOLLONESHOT is disabled
 * outright and needs nothing. */
static void session_disarm(struct engine *e, struct session *s)
{
    (void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->in_epoll = false;
}

/* Poller: take s out of the heap (and out of epoll's interest, so a late
 * readiness cannot hand it out twice) and give it to a worker. park_lock
 * held; false if s was not parked (already handed out). */
static bool session_unpark_locked(struct session *s, enum session_wake wake)
{
    struct engine *e = s->e;

    if (s->heap_idx == NO_HEAP)
        return false;
    heap_remove(e, s);
    if (wake != WAKE_READY)
        session_disarm(e, s);
    threads_ready_push(e, s, wake);
    return true;
}

/* ---- the poller: accept, readiness, deadlines, shutdown ---- */

static void poller_listen(struct engine *e, bool on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = EV_LISTEN};

    (void)epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->env.listen_fd, &ev);
}

static void poller_start(struct engine *e, int fd, const union peer_addr *peer)
{
    struct session *s = calloc(1, sizeof(*s));
    sa_family_t family = peer->sa.sa_family;

    if (!s) {
        engine_refuse(fd);
        engine_release(&e->adm);
        return;
    }
    s->e = e;
    s->fd = fd;
    s->heap_idx = NO_HEAP;
    s->timer = CONN_TIMER_NONE;
    conn_init(&s->c, e->env.http, family == AF_INET || family == AF_INET6 ? peer : NULL);
    /* A worker tries the first receive at once: most clients send their
     * request right after connecting. */
    threads_ready_push(e, s, WAKE_READY);
}

/* Accepts until the backlog is empty, or pauses after a failure that is not
 * passing (engine_accept_failed). */
static void poller_accept(struct engine *e)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        union peer_addr peer;
        socklen_t len = sizeof(peer);
        /* No SOCK_NONBLOCK: workers use blocking sockets (MSG_DONTWAIT per
         * call), and the accepted socket does not inherit O_NONBLOCK. */
        int fd = accept4(e->env.listen_fd, &peer.sa, &len, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EAGAIN)
                return;
            if (engine_accept_failed(&e->adm, errno))
                continue; /* that connection failed; the next may not */
            e->backoff_until_ms = engine_now_ms() + ENGINE_ACCEPT_BACKOFF_MS;
            poller_listen(e, false);
            return;
        }
        if (len > sizeof(peer))
            peer.sa.sa_family = AF_UNSPEC;
        if (engine_admit(&e->adm, e->env.cfg))
            poller_start(e, fd, &peer);
        else
            engine_refuse(fd);
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
    uint32_t kept = 0;

    pthread_mutex_lock(&e->park_lock);
    for (uint32_t i = 0; i < e->nheap; i++) {
        struct session *s = e->heap[i];
        if (cut_all || threads_session_drain(s)) {
            s->heap_idx = NO_HEAP;
            session_disarm(e, s);
            threads_ready_push(e, s, WAKE_CUT);
        } else {
            heap_place(e, kept++, s);
        }
    }
    e->nheap = kept;
    for (uint32_t i = kept / 2; i-- > 0;)
        heap_down(e, i);
    pthread_mutex_unlock(&e->park_lock);
}

/* engine_leave_listener's take: a connection from the queue at stop. */
static void poller_take(void *arg, int fd)
{
    struct engine *e = arg;
    union peer_addr peer;
    socklen_t len = sizeof(peer);

    if (getpeername(fd, &peer.sa, &len) != 0 || len > sizeof(peer))
        peer.sa.sa_family = AF_UNSPEC;
    if (engine_admit(&e->adm, e->env.cfg))
        poller_start(e, fd, &peer);
    else
        engine_refuse(fd);
}

static void poller_on_stop(struct engine *e)
{
    /* Serves what is queued and stops listening, while the descriptor itself
     * stays main's to close. stop_fd stays readable: out of the set, or
     * every wait would return at once. */
    engine_leave_listener(&e->env, SOCK_CLOEXEC, poller_take, e);
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
void threads_poller_loop(struct engine *e)
{
    struct epoll_event evs[POLL_EVENTS];
    uint64_t trim_ms = 0, drain_at = 0;
    bool stopping = false, cut = false, stop_seen = false, graced = false;

    for (;;) {
        uint64_t now = engine_now_ms();
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
                atomic_store(&e->trim_signalled, false);
                mem_trim();
            } else {
                wait = min_wait(wait, TRIM_MS);
            }
        }
        if (stopping) {
            if (atomic_load(&e->adm.open) == 0)
                return;
            uint64_t grace_at = drain_at - ENGINE_DRAIN_MS + ENGINE_FRESH_GRACE_MS;
            if (!graced && now >= grace_at) {
                poller_drain(e, false); /* the fresh connections' turn */
                graced = true;
            } else if (!graced) {
                wait = min_wait(wait, grace_at - now);
            }
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
                stop_seen = true; /* after the batch: see below */
            } else {
                pthread_mutex_lock(&e->park_lock);
                session_unpark_locked(p, WAKE_READY);
                pthread_mutex_unlock(&e->park_lock);
            }
        }
        /* The drain hands parked sessions to workers, which may free them:
         * run it only once no event of this batch is left to name one. */
        if (stop_seen && !stopping) {
            stopping = true;
            drain_at = atomic_load(&e->stop_ms) + ENGINE_DRAIN_MS;
            poller_on_stop(e);
        }
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            return;
        }
    }
}
