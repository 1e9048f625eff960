/* uring.c - the io_uring engine: one ring per worker thread, each running
 * one event loop with one submit-and-wait per turn.
 *
 * Per worker: a multishot accept on the shared listener, a provided-buffer
 * ring for multishot receives (an idle connection holds no buffer), a slab of
 * connections with a free list, and three deadline queues (idle, header,
 * linger). Each timeout has a fixed duration, so a queue is a FIFO and arming
 * or disarming is O(1); the wait is bounded by the earliest head. The stop
 * signal arrives as the completion of a read of an eventfd. With several
 * workers, the one that accepts a connection passes it to the least loaded
 * one over IORING_OP_MSG_RING. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine/uring_internal.h"
#include "util/log.h"
#include "util/mem.h"

#define URING_SQ_ENTRIES 4096
#define URING_CQ_ENTRIES 16384
#define URING_NBUFS 1024 /* provided receive buffers per worker */
#define URING_BUF_SIZE 4096
#define URING_TRIM_MS 1000   /* at most one mem_trim() a second per worker */
#define URING_PIPES_MAX 4096 /* splice pipes per worker (one per transfer in flight) */

/* A worker's loop keeps its state in the worker and the slab. */
#define URING_STACK_SIZE (256 * 1024)

/* ---- small helpers ---- */

/* An SQE, never NULL: when the SQ is full, submit what is queued and retry.
 * A full CQ (EBUSY, EAGAIN: flushed first), a signal or a passing lack of
 * kernel memory is retried; a ring that refuses submissions for good leaves
 * this worker unable to finish or even close its connections: that is
 * reported once and ends the process, rather than spinning forever. */
#define URING_SUBMIT_TRIES 1000

static bool uring_submit_passing(int ret)
{
    return ret >= 0 || ret == -EBUSY || ret == -EAGAIN || ret == -EINTR || ret == -ENOMEM;
}

struct io_uring_sqe *uring_sqe(struct uring_worker *w)
{
    struct io_uring_sqe *sqe;
    int ret = 0;

    for (int tries = 0; !(sqe = io_uring_get_sqe(&w->ring)); tries++) {
        if (tries == URING_SUBMIT_TRIES || !uring_submit_passing(ret = io_uring_submit(&w->ring))) {
            log_error("io_uring worker %u cannot submit: %s", w->index,
                      strerror(ret < 0 ? -ret : EBUSY));
            abort();
        }
        if (ret == -EBUSY || ret == -EAGAIN)
            io_uring_get_events(&w->ring); /* CQ overflow: flush it, then retry */
    }
    return sqe;
}

/* ---- deadline queues (util/dq.h) ---- */

void uring_dq_set(struct uring_worker *w, struct uconn *u, enum conn_timer t, uint64_t dur_ms,
                  bool restart)
{
    dq_put(&w->dq, (uint32_t)(u - w->slab), t, w->now_ms, dur_ms, restart);
}

void uring_dq_remove(struct uring_worker *w, struct uconn *u)
{
    dq_remove(&w->dq, (uint32_t)(u - w->slab));
}

static void uring_dq_expire(struct uring_worker *w)
{
    uint32_t slot;

    while ((slot = dq_expired(&w->dq, w->now_ms)) != DQ_NIL) {
        dq_remove(&w->dq, slot);
        uconn_on_timeout(w, &w->slab[slot]);
    }
}

/* ---- provided receive buffers ---- */

void uring_buf_recycle(struct uring_worker *w, uint16_t bid)
{
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * w->buf_size, w->buf_size, bid,
                          io_uring_buf_ring_mask(w->nbufs), 0);
    io_uring_buf_ring_advance(w->br, 1);
    w->bufs_out--;
}

static int uring_bufs_setup(struct uring_worker *w)
{
    struct io_uring_buf_reg reg = {0};
    size_t ring_bytes = w->nbufs * sizeof(struct io_uring_buf);
    int ret;

    /* liburing 2.3 has no io_uring_setup_buf_ring: map the ring ourselves. */
    w->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->br == MAP_FAILED) {
        w->br = NULL;
        return -errno;
    }
    w->bufs = malloc((size_t)w->nbufs * w->buf_size);
    if (!w->bufs)
        return -ENOMEM;
    reg.ring_addr = (uint64_t)(uintptr_t)w->br;
    reg.ring_entries = w->nbufs;
    reg.bgid = URING_BGID;
    ret = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (ret < 0)
        return ret;
    io_uring_buf_ring_init(w->br);
    w->bufs_out = w->nbufs;
    for (unsigned i = 0; i < w->nbufs; i++)
        uring_buf_recycle(w, (uint16_t)i);
    return 0;
}

/* ---- ring set-up, with fallbacks for older kernels ---- */

static const unsigned uring_flag_sets[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

/* A power of two from the environment variable name, or def. Test-only
 * settings: they shrink rings and buffers so tests reach the paths for a
 * full SQ, an overflowing CQ and exhausted receive buffers. */
static unsigned uring_test_setting(const char *name, unsigned def)
{
    const char *v = getenv(name);
    unsigned long n = v ? strtoul(v, NULL, 10) : 0;

    if (n == 0 || n > 32768 || (n & (n - 1)) != 0)
        return def;
    return (unsigned)n;
}

int uring_ring_init(struct io_uring *ring, unsigned *flags_used)
{
    unsigned sq = uring_test_setting("RINGHTTPD_TEST_URING_ENTRIES", URING_SQ_ENTRIES);
    int ret = -EINVAL;

    for (size_t i = 0; i < sizeof(uring_flag_sets) / sizeof(uring_flag_sets[0]); i++) {
        struct io_uring_params p = {.flags = uring_flag_sets[i] | IORING_SETUP_CQSIZE,
                                    .cq_entries = sq == URING_SQ_ENTRIES ? URING_CQ_ENTRIES : sq};
        ret = io_uring_queue_init_params(sq, ring, &p);
        if (ret == 0) {
            if (flags_used)
                *flags_used = uring_flag_sets[i];
            return 0;
        }
        if (ret != -EINVAL)
            return ret; /* ENOSYS, EPERM, ENOMEM: no other flags will help */
    }
    return ret;
}

/* ---- stop ---- */

static void uring_arm_stop(struct uring_worker *w)
{
    struct io_uring_sqe *sqe = uring_sqe(w);

    io_uring_prep_read(sqe, w->stop_fd, &w->stop_val, sizeof(w->stop_val), 0);
    io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_STOP));
}

/* engine_leave_listener's take: a connection from the queue at stop. */
static void uring_take_queued(void *arg, int fd)
{
    struct uring_worker *w = arg;

    if (!engine_admit(&w->eng->adm, w->eng->env.cfg)) {
        engine_refuse(fd);
        return;
    }
    atomic_fetch_add(&w->assigned, 1);
    uring_adopt(w, fd);
}

static void uring_stop_all(struct uring_worker *w, enum uconn_stop_level level)
{
    for (uint32_t i = 0; i < w->nslots; i++)
        if (w->slab[i].fd >= 0 && !(w->slab[i].flags & UCONN_CLOSED))
            uconn_stop(w, &w->slab[i], level);
}

static void uring_begin_stop(struct uring_worker *w)
{
    struct io_uring_sqe *sqe;

    /* One worker serves the queue and leaves the socket; the others' accepts
     * then end (the engine is stopping: no error is reported). */
    atomic_store(&w->eng->stop_requested, 1);
    if (w->index == 0)
        engine_leave_listener(&w->eng->env,
                              SOCK_CLOEXEC | (w->eng->sendfile_inline ? SOCK_NONBLOCK : 0),
                              uring_take_queued, w);
    w->stopping = 1;
    atomic_store(&w->ready, 0); /* no more handoffs to this worker */
    w->drain_deadline_ms = w->now_ms + ENGINE_DRAIN_MS;
    w->grace_deadline_ms = w->now_ms + ENGINE_FRESH_GRACE_MS;
    if (w->accept_armed) {
        sqe = uring_sqe(w);
        io_uring_prep_cancel64(sqe, ud_worker(URING_UD_ACCEPT), 0);
        io_uring_sqe_set_data64(sqe, ud_worker(URING_UD_NONE));
    }
    uring_stop_all(w, UCONN_STOP_SOFT);
}

/* ---- the loop ---- */

static void uring_on_cqe(struct uring_worker *w, const struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    unsigned op = ud_op(ud);

    switch (op) {
    case URING_UD_ACCEPT:
        uring_on_accept(w, cqe);
        return;
    case URING_UD_STOP:
        if (!w->stopping)
            uring_begin_stop(w);
        return;
    case URING_UD_BACKOFF:
        w->backoff_armed = 0;
        if (!w->stopping && !w->accept_armed)
            uring_arm_accept(w);
        return;
    case URING_UD_HANDOFF:
        uring_adopt(w, cqe->res);
        return;
    case URING_UD_HANDOFF_SENT:
        uring_on_handoff_sent(w, cqe);
        return;
    case URING_UD_LOG:
    case URING_UD_LOG_POLL:
        uring_log_on_cqe(w, cqe);
        return;
    case URING_UD_NONE:
        return;
    default:
        break;
    }
    struct uconn *u = &w->slab[ud_conn_slot(ud)];
    if (ud_conn_slot(ud) >= w->nslots || u->gen != ud_conn_gen(ud) || u->fd < 0) {
        /* A completion for a slot that has moved on: only a buffer matters. */
        if (cqe->flags & IORING_CQE_F_BUFFER)
            uring_buf_recycle(w, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        return;
    }
    uconn_on_cqe(w, u, op, cqe);
}

static void uring_rearm_starved(struct uring_worker *w)
{
    while (w->starved_head != URING_NIL && w->bufs_out < w->nbufs) {
        struct uconn *u = &w->slab[w->starved_head];
        w->starved_head = u->starved_next;
        u->starved_next = URING_NIL;
        u->flags &= (uint8_t)~UCONN_STARVED;
        uconn_arm_recv(w, u);
        uconn_free_if_done(w, u); /* closed while it waited for buffers */
    }
}

static int uring_loop(struct uring_worker *w)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen;

    for (;;) {
        int64_t wait_ms = dq_next_ms(&w->dq, w->now_ms);
        if ((mem_trim_due() || conn_thread_holds_files()) &&
            (wait_ms < 0 || wait_ms > URING_TRIM_MS))
            wait_ms = URING_TRIM_MS; /* wake up to trim or tick with nothing to do */
        if (w->stopping) {
            int64_t left =
                w->now_ms < w->drain_deadline_ms ? (int64_t)(w->drain_deadline_ms - w->now_ms) : 0;
            if (!w->grace_done && w->grace_deadline_ms > w->now_ms &&
                (int64_t)(w->grace_deadline_ms - w->now_ms) < left)
                left = (int64_t)(w->grace_deadline_ms - w->now_ms);
            if (left == 0)
                left = 50; /* past the deadline: poll for the last completions */
            if (wait_ms < 0 || left < wait_ms)
                wait_ms = left;
        }
        uring_log_flush(w); /* the lines of the last turn, one write */
        struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
                                       .tv_nsec = (wait_ms % 1000) * 1000000};
        int ret =
            io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, wait_ms >= 0 ? &ts : NULL, NULL);
        if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) {
            log_error("io_uring_submit_and_wait: %s", strerror(-ret));
            return ret;
        }
        w->now_ms = engine_now_ms();
        conn_set_now(engine_wall_s());
        seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            uring_on_cqe(w, cqe);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        uring_dq_expire(w);
        uring_rearm_starved(w);
        if (mem_trim_due() && w->now_ms - w->trim_ms >= URING_TRIM_MS) {
            w->trim_ms = w->now_ms; /* memory of a past spike */
            mem_trim();
        }
        if (conn_thread_holds_files() && w->now_ms - w->tick_ms >= URING_TRIM_MS) {
            w->tick_ms = w->now_ms; /* unused cached descriptors */
            conn_thread_tick(engine_wall_s());
        }
        if (w->stopping) {
            if (!w->grace_done && w->now_ms >= w->grace_deadline_ms) {
                w->grace_done = 1;
                uring_stop_all(w, UCONN_STOP_FRESH);
            }
            if (w->now_ms >= w->drain_deadline_ms)
                uring_stop_all(w, UCONN_STOP_HARD);
            if (w->active == 0 && !w->accept_armed) {
                if (uring_log_idle(w))
                    return 0;
                if (w->now_ms >= w->drain_deadline_ms)
                    uring_log_cancel(w); /* only a stuck log is left */
            }
            if (w->now_ms >= w->drain_deadline_ms + 400)
                return 0; /* completions that never come must not hold the exit */
        }
    }
}

static int uring_worker_setup(struct uring_worker *w)
{
    int ret = uring_ring_init(&w->ring, &w->eng->setup_flags);

    if (ret < 0)
        return ret;
    w->ring_ok = 1;
    /* Each io_uring_enter then finds the ring by index, not through the fd
     * table (kernels before 5.18 refuse: the fd serves as before). */
    (void)io_uring_register_ring_fd(&w->ring);
    ret = uring_bufs_setup(w);
    if (ret < 0)
        return ret;
    /* A file table with a place per slot: a socket's receives and sends then
     * skip the process's fd table (kernels before 5.19 refuse: fds as before). */
    w->fixed_files =
        !w->eng->no_file_table && io_uring_register_files_sparse(&w->ring, w->nslots) == 0;
    w->slab = calloc(w->nslots, sizeof(*w->slab));
    if (!w->slab)
        return -ENOMEM;
    for (uint32_t i = 0; i < w->nslots; i++) {
        w->slab[i].fd = -1;
        dq_node_init(&w->slab[i].dqn);
        w->slab[i].dqn.next = i + 1 < w->nslots ? i + 1 : URING_NIL; /* the free list */
    }
    w->free_head = 0;
    dq_init(&w->dq, &w->slab[0].dqn, sizeof(w->slab[0]));
    w->starved_head = URING_NIL;
    w->http = *w->eng->env.http;
    if (uring_log_init(w, w->eng->env.access_log_fd)) {
        w->http.access_log = uring_log_line;
        w->http.access_log_arg = w;
    }
    w->now_ms = engine_now_ms();
    uring_arm_stop(w);
    /* Handoffs may come now: they wait in the ring until the loop runs. */
    atomic_store_explicit(&w->ready, 1, memory_order_release);
    return 0;
}

/* Every worker sets up its ring before any accepts: a worker that accepted
 * first could otherwise take the fds another one needs for its ring (a low
 * RLIMIT_NOFILE). True when all succeeded; false when one failed (all exit).
 * A worker that could not be started counts as failed (uring_run). */
static bool uring_gate(struct uring_engine *e, bool ok)
{
    bool all_ok;

    pthread_mutex_lock(&e->gate_lock);
    e->gate_arrived++;
    if (!ok)
        e->gate_failed = 1;
    if (e->gate_arrived == e->nworkers || e->gate_failed)
        pthread_cond_broadcast(&e->gate_cond);
    while (e->gate_arrived < e->nworkers && !e->gate_failed)
        pthread_cond_wait(&e->gate_cond, &e->gate_lock);
    all_ok = !e->gate_failed;
    pthread_mutex_unlock(&e->gate_lock);
    return all_ok;
}

static void *uring_worker_main(void *arg)
{
    struct uring_worker *w = arg;
    int ret;

    ret = uring_worker_setup(w);
    if (ret < 0)
        log_error("io_uring worker %u: set-up failed: %s", w->index, strerror(-ret));
    if (uring_gate(w->eng, ret == 0) && ret == 0) {
        uring_arm_accept(w);
        ret = uring_loop(w);
    }
    atomic_store(&w->ready, 0); /* a loop that ended takes no more handoffs */
    /* The registration is this thread's: undo it here, not in uring_destroy
     * (io_uring_queue_exit would unregister from the main thread's table). */
    if (w->ring_ok)
        io_uring_unregister_ring_fd(&w->ring);
    w->result = ret;
    conn_thread_cleanup();
    return NULL;
}

/* ---- engine_ops ---- */

/* Receive buffers per worker; RINGHTTPD_TEST_URING_BUFS shrinks the ring. */
static unsigned uring_nbufs(void)
{
    unsigned n = uring_test_setting("RINGHTTPD_TEST_URING_BUFS", URING_NBUFS);

    if (n != URING_NBUFS)
        log_warn("test setting: %u receive buffers per worker", n);
    return n;
}

static int uring_create(struct engine **out, const struct engine_env *env)
{
    struct uring_engine *e = calloc(1, sizeof(*e));
    struct rlimit rl;
    uint32_t nslots = 65536;
    unsigned pipes_max;
    int err;

    if (!e)
        return -ENOMEM;
    e->env = *env;
    pthread_mutex_init(&e->gate_lock, NULL);
    pthread_cond_init(&e->gate_cond, NULL);
    e->nworkers = env->cfg->workers ? env->cfg->workers : 1;
    e->sendfile_inline = uring_probe_cachestat();
    if (uring_test_setting("RINGHTTPD_TEST_URING_ENTRIES", URING_SQ_ENTRIES) != URING_SQ_ENTRIES)
        log_warn("test setting: %u SQ/CQ entries per ring",
                 uring_test_setting("RINGHTTPD_TEST_URING_ENTRIES", URING_SQ_ENTRIES));
    /* Test-only: the path of kernels without sparse file tables. */
    e->no_file_table = getenv("RINGHTTPD_TEST_URING_NO_FILE_TABLE") != NULL;
    if (e->no_file_table)
        log_warn("test setting: sockets by fd, no file table");
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nslots)
        nslots = (uint32_t)rl.rlim_cur;
    /* A splice pipe costs two fds: pipes may take at most a quarter of the
     * fds, so downloads cannot starve accept (past it, bounce buffers). */
    pipes_max = nslots / 8 / e->nworkers;
    if (pipes_max > URING_PIPES_MAX)
        pipes_max = URING_PIPES_MAX;
    e->workers = calloc(e->nworkers, sizeof(*e->workers));
    if (!e->workers)
        goto fail;
    for (unsigned i = 0; i < e->nworkers; i++)
        e->workers[i].stop_fd = -1; /* fd 0 is a valid fd */
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct uring_worker *w = &e->workers[i];
        w->eng = e;
        w->index = i;
        w->nslots = nslots;
        w->pipes_max = pipes_max;
        w->nbufs = uring_nbufs();
        w->buf_size = URING_BUF_SIZE;
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->stop_fd < 0)
            goto fail;
    }
    *out = (struct engine *)e;
    return 0;
fail:
    err = -errno; /* main reports it */
    if (e->workers)
        for (unsigned i = 0; i < e->nworkers; i++)
            if (e->workers[i].stop_fd >= 0)
                close(e->workers[i].stop_fd);
    free(e->workers);
    pthread_mutex_destroy(&e->gate_lock);
    pthread_cond_destroy(&e->gate_cond);
    free(e);
    return err;
}

static int uring_run(struct engine *eng)
{
    struct uring_engine *e = (struct uring_engine *)eng;
    int result = 0;
    unsigned started = 0;

    for (; started < e->nworkers; started++) {
        int ret = engine_thread_start(&e->workers[started].thread, URING_STACK_SIZE,
                                      uring_worker_main, &e->workers[started]);
        if (ret) {
            log_error("cannot start io_uring worker %u: %s", started, strerror(-ret));
            result = ret;
            break;
        }
    }
    if (result) { /* the workers started wait at the gate: release them to exit */
        pthread_mutex_lock(&e->gate_lock);
        e->gate_failed = 1;
        pthread_cond_broadcast(&e->gate_cond);
        pthread_mutex_unlock(&e->gate_lock);
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(e->workers[i].thread, NULL);
        if (e->workers[i].result < 0 && !result)
            result = e->workers[i].result;
    }
    return result;
}

static void uring_stop(struct engine *eng)
{
    struct uring_engine *e = (struct uring_engine *)eng;
    uint64_t one = 1;
    int saved = errno;

    for (unsigned i = 0; i < e->nworkers; i++)
        if (write(e->workers[i].stop_fd, &one, sizeof(one)) < 0)
            continue; /* the counter cannot overflow with one write per signal */
    errno = saved;
}

static void uring_destroy(struct engine *eng)
{
    struct uring_engine *e = (struct uring_engine *)eng;

    for (unsigned i = 0; i < e->nworkers; i++) {
        struct uring_worker *w = &e->workers[i];
        for (uint32_t s = 0; w->slab && s < w->nslots; s++) {
            if (w->slab[s].fd >= 0) {
                uconn_release(w, &w->slab[s]);
                close(w->slab[s].fd);
            }
        }
        for (unsigned p = 0; p < w->npipe_idle; p++) {
            close(w->pipe_idle[p].r);
            close(w->pipe_idle[p].w);
        }
        if (w->ring_ok) {
            struct io_uring_cqe *cqe;
            unsigned head, seen = 0;
            /* A connection passed to this worker as it stopped. */
            io_uring_for_each_cqe(&w->ring, head, cqe)
            {
                if (ud_op(io_uring_cqe_get_data64(cqe)) == URING_UD_HANDOFF && cqe->res >= 0)
                    close(cqe->res);
                seen++;
            }
            io_uring_cq_advance(&w->ring, seen);
            io_uring_queue_exit(&w->ring);
        }
        uring_log_finish(w);
        if (w->br)
            munmap(w->br, w->nbufs * sizeof(struct io_uring_buf));
        free(w->bufs);
        free(w->slab);
        if (w->stop_fd >= 0)
            close(w->stop_fd);
    }
    free(e->workers);
    pthread_mutex_destroy(&e->gate_lock);
    pthread_cond_destroy(&e->gate_cond);
    free(e);
}

const struct engine_ops engine_uring_ops = {
    .name = "uring",
    .probe = uring_probe,
    .create = uring_create,
    .run = uring_run,
    .stop = uring_stop,
    .destroy = uring_destroy,
};
