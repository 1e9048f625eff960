/* uring_accept.c - new connections: the multishot accept, the connection
 * cap and accept errors (engine/common.c decides), and the hand-off of a
 * connection to the least loaded worker by IORING_OP_MSG_RING. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "engine/uring_internal.h"
#include "util/log.h"

void uring_arm_accept(struct uring_worker *w)
{
    struct io_uring_sqe *sqe = uring_sqe(w);

    /* Non-blocking for the inline sendfile(2); the ring's own recv and send
     * wait for readiness on such a socket just the same. */
    io_uring_prep_multishot_accept(sqe, w->eng->env.listen_fd, NULL, NULL,
                                   SOCK_CLOEXEC | (w->eng->sendfile_inline ? SOCK_NONBLOCK : 0));
    io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_ACCEPT));
    w->accept_armed = 1;
}

/* Serve fd here: it is counted in adm (engine_admit) and in w->assigned. */
void uring_adopt(struct uring_worker *w, int fd)
{
    struct uconn *u;

    if (w->free_head == URING_NIL) {
        atomic_fetch_sub(&w->assigned, 1);
        engine_release(&w->eng->adm);
        engine_refuse(fd);
        return;
    }
    u = &w->slab[w->free_head];
    w->free_head = u->dqn.next;
    w->active++;
    uconn_start(w, u, fd);
    /* Accepted by the kernel as the stop began (or from the listen queue at
     * the stop): served like the others, under the drain's rules. */
    if (w->stopping && !(u->flags & UCONN_CLOSED))
        uconn_stop(w, u, w->grace_done ? UCONN_STOP_FRESH : UCONN_STOP_SOFT);
}

/* The worker with the fewest connections (this one on a tie). The kernel
 * wakes one waiting accept per connection, and a multishot accept never
 * leaves the front of the listener's queue: without this, one worker would
 * take every connection. */
static struct uring_worker *uring_pick(struct uring_worker *w)
{
    struct uring_engine *e = w->eng;
    struct uring_worker *best = w;
    unsigned best_load = atomic_load_explicit(&w->assigned, memory_order_relaxed);

    if (e->nworkers == 1 || atomic_load_explicit(&e->no_handoff, memory_order_relaxed))
        return w;
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct uring_worker *t = &e->workers[i];
        unsigned load = atomic_load_explicit(&t->assigned, memory_order_relaxed);
        if (t != w && load < best_load && atomic_load_explicit(&t->ready, memory_order_acquire)) {
            best = t;
            best_load = load;
        }
    }
    return best;
}

/* Pass fd to worker t with IORING_OP_MSG_RING: t gets a URING_UD_HANDOFF CQE whose
 * res is the fd (fds are process-wide). If the message fails, fd stays here. */
static void uring_handoff(struct uring_worker *w, struct uring_worker *t, int fd)
{
    struct io_uring_sqe *sqe = uring_sqe(w);

    io_uring_prep_msg_ring(sqe, t->ring.ring_fd, (unsigned)fd, ud_worker(URING_UD_HANDOFF), 0);
    io_uring_sqe_set_data64(sqe, ud_handoff_sent(fd, t->index));
}

void uring_on_handoff_sent(struct uring_worker *w, const struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    struct uring_worker *t = &w->eng->workers[ud_handoff_target(ud)];

    if (cqe->res >= 0)
        return;
    if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP) {
        if (!atomic_exchange(&w->eng->no_handoff, 1))
            log_warn("io_uring: MSG_RING not supported (%s): each worker serves the "
                     "connections it accepts",
                     strerror(-cqe->res));
    }
    atomic_fetch_sub(&t->assigned, 1);
    atomic_fetch_add(&w->assigned, 1);
    uring_adopt(w, ud_handoff_fd(ud));
}

void uring_on_accept(struct uring_worker *w, const struct io_uring_cqe *cqe)
{
    struct uring_engine *e = w->eng;
    bool passing;

    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->accept_armed = 0;
    if (cqe->res >= 0) {
        if (!engine_admit(&e->adm, e->env.cfg)) {
            engine_refuse(cqe->res);
        } else {
            struct uring_worker *t = w->stopping ? w : uring_pick(w);
            atomic_fetch_add(&t->assigned, 1);
            if (t == w)
                uring_adopt(w, cqe->res);
            else
                uring_handoff(w, t, cqe->res);
        }
        passing = true;
    } else if (atomic_load(&e->stop_requested)) {
        passing = true; /* the listener was shut down: not a failure */
    } else {
        passing = engine_accept_failed(&e->adm, -cqe->res);
    }
    if (w->accept_armed || w->stopping || w->backoff_armed || atomic_load(&e->stop_requested))
        return;
    if (passing) {
        uring_arm_accept(w); /* the multishot ended (e.g. CQ overflow): re-arm now */
        return;
    }
    /* EMFILE and other failures: re-arm after a pause, never in a busy loop. */
    static const struct __kernel_timespec backoff = {.tv_nsec =
                                                         ENGINE_ACCEPT_BACKOFF_MS * 1000000L};
    struct io_uring_sqe *sqe = uring_sqe(w);
    io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&backoff, 0, 0);
    io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_BACKOFF));
    w->backoff_armed = 1;
}
