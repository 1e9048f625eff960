/* threads_internal.h - state shared by the threads engine's two files:
 * threads.c (sessions, workers, engine ops) and threads_poller.c (accepting,
 * parking connections that wait for input, their deadlines, shutdown). */
#ifndef RINGHTTPD_THREADS_INTERNAL_H
#define RINGHTTPD_THREADS_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/common.h"
#include "engine/engine.h"

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
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
    bool recv_pending; /* parked with the core's RECV outstanding */
    struct conn c;
};

#define NO_HEAP UINT32_MAX

/* epoll data of the fds that are not connections */
#define EV_LISTEN ((void *)1)
#define EV_STOP ((void *)2)
#define EV_WAKE ((void *)3)

struct engine {
    struct engine_env env;
    int stop_fd;                /* eventfd: readable once stop() ran */
    int wake_fd;                /* eventfd: a parked session's deadline is the earliest,
                                 * or memory is due to be trimmed */
    atomic_bool trim_signalled; /* wake_fd written for a trim not yet done */
    int epfd;
    atomic_bool stopping;
    _Atomic uint64_t stop_ms;    /* CLOCK_MONOTONIC time of stop() */
    struct engine_admission adm; /* accepted and not yet closed */

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
    uint64_t backoff_until_ms; /* accepting paused (EMFILE) */
};

static inline void eventfd_signal(int fd)
{
    uint64_t one = 1;

    /* Only fails when the counter would overflow: it is readable anyway. */
    if (write(fd, &one, sizeof(one)) < 0)
        return;
}

/* threads.c */
/* Give s to a worker (any thread). */
void threads_ready_push(struct engine *e, struct session *s, enum session_wake wake);
/* Shutdown seen by s's owner: tell the core to drain; true when s is idle
 * with nothing unread and should be cut now. */
bool threads_session_drain(struct session *s);
/* Close and free s (its owner, or at exit). */
void threads_session_free(struct session *s);

/* threads_poller.c */
/* A worker's s waits for input in the poller; false if it cannot (the
 * caller then ends it). After true, s belongs to the poller. */
bool threads_park(struct session *s);
/* Accept, wake parked sessions, expire deadlines; after stop(), drain and
 * return once every connection is closed or the drain deadline has passed. */
void threads_poller_loop(struct engine *e);

#endif
