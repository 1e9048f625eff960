/* engine.h - the boundary between main and an I/O engine.
 *
 * An engine accepts connections on a listening socket and drives the HTTP
 * core (http/conn.h) for each of them. Two exist: "uring" (io_uring event
 * loop, one ring per worker) and "threads" (acceptor + blocking worker pool).
 * engine_select() is the only place that knows which are compiled in. */
#ifndef RINGHTTPD_ENGINE_H
#define RINGHTTPD_ENGINE_H

#include "config.h"
#include "http/conn.h"

struct engine; /* an engine's private state */

/* What every engine gets: the listening socket (bound, listening,
 * non-blocking, close-on-exec; main owns it and closes it, engines must not),
 * the HTTP core's context, the config and the access log. stop() may be called before run()
 * has started: the request must not be lost. */
struct engine_env {
    int listen_fd;
    /* listen_fd came from systemd (socket activation): it outlives this
     * process, so a stop leaves its queue to the next instance. */
    int listen_inherited;
    const struct http_ctx *http;
    const struct config *cfg;
    /* The fd http->access_log writes to (-1: none). An engine may write the
     * lines itself instead, as long as each line stays whole. */
    int access_log_fd;
};

struct engine_ops {
    const char *name;
    /* 0 when the engine can run on this kernel, or -errno with *why set to a
     * static human-readable explanation (what is missing, what would fix it). */
    int (*probe)(const char **why);
    /* Allocate and set up (threads not started yet). 0 or -errno. */
    int (*create)(struct engine **out, const struct engine_env *env);
    /* Serve until stop() is called; returns 0 after a graceful shutdown, or
     * -errno. Blocks the calling thread. */
    int (*run)(struct engine *e);
    /* Ask run() to shut down gracefully. Async-signal-safe. */
    void (*stop)(struct engine *e);
    void (*destroy)(struct engine *e);
};

extern const struct engine_ops engine_threads_ops;
#ifdef RINGHTTPD_HAVE_URING
extern const struct engine_ops engine_uring_ops;
#endif

/* The engine for --engine NAME ("auto", "uring", "threads"). For "auto",
 * probes uring and falls back to threads, logging one line with the reason.
 * Returns NULL with a message on stderr when the named engine is not
 * available (e.g. "uring" refused by the kernel, or not compiled in). */
const struct engine_ops *engine_select(const char *name);

/* How long graceful shutdown lets responses in flight finish before cutting
 * them (docs/CONTRACT.md: exit within 2 s). */
#define ENGINE_DRAIN_MS 1500

/* How long, from the stop, a connection that has not sent its first request
 * yet is given to send it (conn_drain: CONN_DRAIN_FRESH): a client that has
 * just connected, or was still in the listen queue, is about to. */
#define ENGINE_FRESH_GRACE_MS 250

#endif
