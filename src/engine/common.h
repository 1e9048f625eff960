/* common.h - the policy both engines apply, written once.
 *
 * The engines differ only in how they perform I/O. What a timer lasts, when
 * a new connection is refused, which accept() failures are passing and how
 * long to pause after the others, how worker threads start, which clock
 * deadlines use and whether a closing connection still has a request in its
 * socket: all of that is decided here. */
#ifndef RINGHTTPD_ENGINE_COMMON_H
#define RINGHTTPD_ENGINE_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "engine/engine.h"
#include "http/conn.h"
#include "util/log.h"

/* After an accept() failure that is not passing (out of descriptors or
 * memory), accepting pauses this long: retrying at once would spin, and the
 * backlog keeps the clients waiting meanwhile. */
#define ENGINE_ACCEPT_BACKOFF_MS 100
/* Repeated warnings (the connection cap, accept failures) at most this often. */
#define ENGINE_LOG_INTERVAL_MS 10000

/* Milliseconds on CLOCK_MONOTONIC_COARSE: every deadline of both engines.
 * Read once or more per loop turn, so it must be cheap: on this machine
 * (kvm-clock) 3.5 ns a call against 25 ns for CLOCK_MONOTONIC. Its few
 * milliseconds of resolution are nothing next to timeouts of seconds. */
uint64_t engine_now_ms(void);

/* Seconds on CLOCK_REALTIME: the clock of Date and of Last-Modified's
 * clamp. Not time(2), which reads the coarse clock: up to a tick (4 ms here)
 * behind the fine clock the kernel stamps a file's mtime with, so a file
 * written just after the second turned looked a second in the future. */
time_t engine_wall_s(void);

/* How long a socket wait of this timing phase may last (0 for NONE). */
uint64_t engine_timer_ms(const struct config *cfg, enum conn_timer timer);

/* The count of open connections, shared by every thread of an engine. */
struct engine_admission {
    atomic_uint open;
    struct log_rate refused_log;
    struct log_rate accept_log;
};

/* Count a new connection against --max-connections. Past the cap it must be
 * closed unanswered (the open ones keep being served) and false is
 * returned; a warning says so at most once per ENGINE_LOG_INTERVAL_MS. */
bool engine_admit(struct engine_admission *a, const struct config *cfg);

/* A connection counted by engine_admit() has closed. */
void engine_release(struct engine_admission *a);

/* accept() failed with err (a positive errno value). Returns true when the
 * failure belongs to that one connection (the client reset it, a firewall
 * refused it, a signal): accept the next at once. Otherwise it is logged (at
 * most once per interval) and the caller pauses ENGINE_ACCEPT_BACKOFF_MS. */
bool engine_accept_failed(struct engine_admission *a, int err);

/* A connection the server will not serve (over --max-connections, or no
 * room): a 503 if the socket takes it at once, then close. Never blocks. */
void engine_refuse(int fd);

/* At stop, before the engine stops accepting: hand every connection already
 * in the listen queue to take(arg, fd) (accepted with accept_flags), then
 * leave the socket with shutdown(SHUT_RD). A client in the queue was
 * promised service; and a socket in a SO_REUSEPORT group (--reuse-port)
 * that stayed open while draining would go on taking its share of new
 * connections, which the kernel resets when it closes. Once it is shut
 * down they go to the instances still listening; one that completes its
 * handshake between the last accept and the shutdown is handed to them
 * too under net.ipv4.tcp_migrate_req=1, else reset. An inherited socket
 * (env->listen_inherited) is left as it is: systemd holds it, and its queue
 * waits for the next instance. */
void engine_leave_listener(const struct engine_env *env, int accept_flags,
                           void (*take)(void *arg, int fd), void *arg);

/* Start a worker thread with every signal blocked (signals are for the
 * thread that runs the engine) and a stack of stack_size bytes, raised for
 * the sanitizers' redzones and to the system minimum. 0 or -errno. */
int engine_thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg);

/* Graceful shutdown: true when the socket holds bytes the engine has not
 * received yet (a request sent just before the signal, still answered). */
bool engine_unread_input(int fd);

#endif
