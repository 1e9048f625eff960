/* uring_internal.h - state shared by the io_uring engine's files:
 * uring.c (rings, workers, accept, timers, shutdown) and uring_conn.c
 * (driving one connection's core through SQEs and CQEs).
 *
 * One worker = one thread = one ring. Shared between workers: the listening
 * socket, the connection counter, the start-up gate, and for handoffs each
 * worker's ring fd, `assigned` count and `ready` flag (atomics). */
#ifndef RINGHTTPD_URING_INTERNAL_H
#define RINGHTTPD_URING_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/common.h"
#include "engine/engine.h"
#include "util/dq.h"

/* user_data: | op (8) | generation (24) | slot (32) |. The generation of a
 * slot changes each time it is reused, so a completion that arrives for an
 * earlier connection in the same slot is recognised. */
enum uring_ud {
    URING_UD_ACCEPT = 1,
    URING_UD_RECV, /* multishot recv over the buffer ring */
    URING_UD_SEND,
    URING_UD_FILE,       /* OPEN, STAT, READ, WRITE, FSYNC, RENAME, UNLINK, CLOSE_FILE, SHUTDOWN */
    URING_UD_SPLICE_IN,  /* file -> pipe */
    URING_UD_SPLICE_OUT, /* pipe -> socket */
    URING_UD_POLLOUT,    /* room in the socket: an inline sendfile, or a splice turned back */
    URING_UD_KILL,       /* shutdown(SHUT_RDWR) forcing a stalled send to fail */
    URING_UD_CANCEL,     /* cancel of the multishot recv before close */
    URING_UD_CLOSE,      /* close of the socket: the connection's last op */
    URING_UD_SLOT,       /* the socket into (or out of) the file table: CQE on failure only */
    URING_UD_STOP,       /* read of the stop eventfd */
    URING_UD_BACKOFF,    /* timeout before re-arming accept after EMFILE */
    URING_UD_HANDOFF,    /* a connection from another worker: res is its fd */
    URING_UD_HANDOFF_SENT, /* the MSG_RING that passed one: gen = target worker, slot = fd */
    URING_UD_LOG,          /* write of access-log lines (uring_log.c) */
    URING_UD_LOG_POLL,     /* wait for the access log fd to take writes again */
    URING_UD_NONE,         /* result not needed (close of a refused socket) */
};

/* user_data layout: op in bits 56-63, then 24 bits and 32 bits whose
 * meaning depends on the kind of op. Every kind has its own pack and unpack
 * helpers; nothing else touches the bits. */
static inline uint64_t ud_pack_(unsigned op, uint32_t hi24, uint32_t lo32)
{
    return ((uint64_t)op << 56) | ((uint64_t)(hi24 & 0xffffffu) << 32) | lo32;
}

static inline unsigned ud_op(uint64_t ud)
{
    return (unsigned)(ud >> 56);
}

/* A worker-level op (ACCEPT, STOP, BACKOFF, HANDOFF, LOG, LOG_POLL, NONE). */
static inline uint64_t ud_worker(enum uring_ud op)
{
    return ud_pack_(op, 0, 0);
}

/* An op of the connection in slot, generation gen (the slot's reuse count
 * modulo 2^24: a late completion for an earlier connection is ignored). */
static inline uint64_t ud_conn(enum uring_ud op, uint32_t slot, uint32_t gen)
{
    return ud_pack_(op, gen, slot);
}

static inline uint32_t ud_conn_slot(uint64_t ud)
{
    return (uint32_t)ud;
}

static inline uint32_t ud_conn_gen(uint64_t ud)
{
    return (uint32_t)(ud >> 32) & 0xffffffu;
}

/* The MSG_RING that passed fd to worker target. */
static inline uint64_t ud_handoff_sent(int fd, unsigned target)
{
    return ud_pack_(URING_UD_HANDOFF_SENT, target, (uint32_t)fd);
}

static inline int ud_handoff_fd(uint64_t ud)
{
    return (int)(uint32_t)ud;
}

static inline unsigned ud_handoff_target(uint64_t ud)
{
    return (unsigned)(ud >> 32) & 0xffffffu;
}

#define URING_NIL UINT32_MAX
#define URING_BGID 1        /* the provided-buffer group of a worker's receive ring */
#define URING_PIPES_IDLE 16 /* idle splice pipes a worker keeps for reuse */

/* The deadline queues are one per timing phase: the queue id is the
 * enum conn_timer value (CONN_TIMER_NONE, 0, is "in no queue"). */
_Static_assert(CONN_TIMER_LINGER < DQ_QUEUES, "a dq queue id per conn_timer");

enum uconn_flag {
    UCONN_RECV_ARMED = 1 << 0, /* a multishot recv is in the kernel */
    UCONN_EOF = 1 << 1,        /* the peer is done sending (recv_res says how) */
    UCONN_STARVED = 1 << 2,    /* on the starved list: re-arm when buffers return */
    UCONN_CLOSED = 1 << 3,     /* the core said CLOSE; freed at inflight == 0 */
    UCONN_KILLED = 1 << 4,     /* SHUT_RDWR issued to end a stalled send */
    UCONN_PAUSED = 1 << 5,     /* recv stopped: too much input queued */
    UCONN_BOUNCE = 1 << 6,     /* SENDFILE as READ + SEND through xfer.bounce */
    UCONN_INLINE = 1 << 7,     /* SENDFILE by sendfile(2) once POLLOUT says so */
};

#define UCONN_WAIT_NONE 0xff

struct uconn {
    struct conn core;
    int fd;
    uint32_t gen;
    struct dq_node dqn;    /* its timer (util/dq.h); next links the free list */
    uint32_t starved_next; /* starved list link */
    /* Input received while the core was not waiting for it, copied out of
     * the provided buffers (which go back to the ring at once): spill[off ..
     * off+len). At most about UCONN_SPILL_MAX: past it the recv is paused.
     * NULL when empty, so an idle connection holds no memory here. */
    char *spill;
    uint32_t spill_off, spill_len, spill_cap;
    uint8_t inflight; /* SQEs whose last CQE is still to come */
    uint8_t flags;    /* enum uconn_flag */
    uint8_t waiting;  /* conn op the core waits on, or UCONN_WAIT_NONE */
    int16_t recv_res; /* with UCONN_EOF: 0 or -errno */
    /* SENDFILE in progress: a splice pipe, or (UCONN_BOUNCE) a buffer that the
     * file is READ into and SENT from when no pipe can be had, or
     * (UCONN_INLINE) the cached piece a sendfile(2) sends once the socket
     * has room. */
    union {
        struct {
            int r, w;
        } pipe;
        char *bounce;
        struct {
            int fd;
            uint32_t len;
        } file;
    } xfer;
    uint32_t splice_left; /* bytes read into the pipe/bounce still to send */
    uint64_t splice_done; /* bytes of this SENDFILE sent; UCONN_INLINE: its offset */
    struct open_how how;  /* must live until the SQE is submitted */
};

struct uring_pipe {
    int r, w;
};

/* A worker's access log (uring_log.c): lines are appended to buf[fill];
 * buf[fill ^ 1] is the one being written when busy. */
struct uring_log {
    int fd;          /* -1: no access log */
    int pipe_atomic; /* a pipe: writes <= PIPE_BUF, cut at line ends */
    char *buf[2];
    size_t len[2], cap[2];
    unsigned fill;
    size_t sent; /* bytes of the buffer in flight already written */
    int busy, failed;
    int cancelled; /* shutdown gave up on the log: lines are dropped */
    uint64_t dropped;
};

struct uring_worker {
    struct uring_engine *eng;
    unsigned index;
    pthread_t thread;
    struct io_uring ring;
    struct http_ctx http; /* the engine's, with the access log going to log */
    struct uring_log log;
    int stop_fd; /* eventfd: a read of it lives in the ring */
    uint64_t stop_val;
    int ring_ok;
    bool fixed_files;         /* sockets sit in the ring's file table, at their slot */
    struct log_rate slot_log; /* a failed file-table operation was reported */

    struct uconn *slab;
    uint32_t nslots, free_head, active;
    struct dq dq;          /* connection timers, one queue per enum conn_timer */
    uint32_t starved_head; /* connections waiting for receive buffers */

    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbufs, buf_size, bufs_out; /* bufs_out: taken from the ring */

    /* Splice pipes: a few idle ones are kept for reuse (pipe_idle[0 ..
     * npipe_idle)), the rest closed when their transfer ends. pipes_open
     * counts those in use and idle; past pipes_max a transfer uses a bounce
     * buffer instead, so pipes cannot take the fds connections need. */
    struct uring_pipe pipe_idle[URING_PIPES_IDLE];
    unsigned npipe_idle, pipes_open, pipes_max;

    /* Connections assigned to this worker: open, or passed to it and not yet
     * received. Written by any worker (atomically), read to pick the least
     * loaded one. ready: the ring can take handoffs. */
    atomic_uint assigned;
    atomic_int ready;

    uint64_t now_ms;
    uint64_t drain_deadline_ms;
    int stopping, accept_armed, backoff_armed;
    uint64_t trim_ms;           /* last mem_trim() */
    uint64_t grace_deadline_ms; /* stopping: when fresh connections are closed */
    int grace_done;
    uint64_t tick_ms; /* last conn_thread_tick() */
    int result;
};

struct uring_engine {
    struct engine_env env;
    struct uring_worker *workers;
    unsigned nworkers;
    struct engine_admission adm; /* open connections, for --max-connections */
    atomic_int no_handoff;       /* the kernel refused MSG_RING: each worker keeps its own */
    atomic_int stop_requested;   /* a worker began its stop: accept errors are expected */
    pthread_mutex_t gate_lock;   /* start-up: no worker accepts before all rings exist */
    pthread_cond_t gate_cond;
    unsigned gate_arrived;
    int gate_failed;
    unsigned setup_flags; /* ring flags the kernel accepted */
    bool sendfile_inline; /* cachestat(2) exists: cached pieces by sendfile(2) */
    bool no_file_table;   /* test setting: sockets by fd, as before Linux 5.19 */
};

/* uring.c */
struct io_uring_sqe *uring_sqe(struct uring_worker *w);
/* uring_accept.c: arm the multishot accept; serve fd on this worker (it is
 * counted already); the CQEs of an accept and of a hand-off sent. */
void uring_arm_accept(struct uring_worker *w);
void uring_adopt(struct uring_worker *w, int fd);
void uring_on_accept(struct uring_worker *w, const struct io_uring_cqe *cqe);
void uring_on_handoff_sent(struct uring_worker *w, const struct io_uring_cqe *cqe);

/* Set up a ring with the best flags this kernel takes (*flags_used). */
int uring_ring_init(struct io_uring *ring, unsigned *flags_used);

/* engine_uring_ops.probe (uring_probe.c): 0, or -errno with *why saying
 * what is missing and what would fix it. */
int uring_probe(const char **why);

/* Whether cachestat(2) exists, and the pages of fd's [off, off + len) that
 * are in the page cache (0, or -errno). */
bool uring_probe_cachestat(void);
int uring_cachestat(int fd, uint64_t off, uint64_t len, uint64_t *cached_pages);

void uring_dq_set(struct uring_worker *w, struct uconn *u, enum conn_timer t, uint64_t dur_ms,
                  bool restart);
void uring_dq_remove(struct uring_worker *w, struct uconn *u);
void uring_buf_recycle(struct uring_worker *w, uint16_t bid);

/* uring_log.c */
bool uring_log_init(struct uring_worker *w, int fd);
void uring_log_line(void *arg, const char *line, size_t len);
void uring_log_flush(struct uring_worker *w);
void uring_log_on_cqe(struct uring_worker *w, const struct io_uring_cqe *cqe);
bool uring_log_idle(const struct uring_worker *w);
void uring_log_cancel(struct uring_worker *w);
void uring_log_finish(struct uring_worker *w);

/* uring_conn.c */
void uconn_start(struct uring_worker *w, struct uconn *u, int fd);
void uconn_advance(struct uring_worker *w, struct uconn *u);
void uconn_on_cqe(struct uring_worker *w, struct uconn *u, unsigned op,
                  const struct io_uring_cqe *cqe);
void uconn_arm_recv(struct uring_worker *w, struct uconn *u);
void uconn_on_timeout(struct uring_worker *w, struct uconn *u);
/* Shutdown, in three passes: at the stop idle keep-alive connections close
 * (SOFT); ENGINE_FRESH_GRACE_MS later so do those still waiting for their
 * first request (FRESH); at the drain deadline everything (HARD). */
enum uconn_stop_level { UCONN_STOP_SOFT, UCONN_STOP_FRESH, UCONN_STOP_HARD };
void uconn_stop(struct uring_worker *w, struct uconn *u, enum uconn_stop_level level);
void uconn_free_if_done(struct uring_worker *w, struct uconn *u);
/* At engine exit, for a connection still open: free what it holds besides
 * its socket (spill, transfer pipe or buffer). */
void uconn_release(struct uring_worker *w, struct uconn *u);

#endif
