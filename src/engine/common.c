/* common.c - see common.h. */
#include "engine/common.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/response.h"

/* Sanitizer builds add redzones and fake frames to every stack frame. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ENGINE_STACK_FACTOR 16
#else
#define ENGINE_STACK_FACTOR 1
#endif

uint64_t engine_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

time_t engine_wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

uint64_t engine_timer_ms(const struct config *cfg, enum conn_timer timer)
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

bool engine_admit(struct engine_admission *a, const struct config *cfg)
{
    unsigned max = cfg->max_connections;

    if (atomic_fetch_add(&a->open, 1) >= max && max > 0) {
        atomic_fetch_sub(&a->open, 1);
        if (log_rate_allow(&a->refused_log, engine_now_ms(), ENGINE_LOG_INTERVAL_MS))
            log_warn("%u connections open (--max-connections): refusing new ones", max);
        return false;
    }
    return true;
}

void engine_release(struct engine_admission *a)
{
    atomic_fetch_sub(&a->open, 1);
}

bool engine_accept_failed(struct engine_admission *a, int err)
{
    switch (err) {
    case EAGAIN:
    case EINTR:
    case ECONNABORTED: /* reset by the client while in the backlog */
    case EPROTO:
    case EPERM: /* refused by a firewall rule */
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
    case ECANCELED: /* io_uring: the accept was cancelled (shutdown) */
        return true;
    default:
        if (log_rate_allow(&a->accept_log, engine_now_ms(), ENGINE_LOG_INTERVAL_MS))
            log_error("accept: %s%s; pausing %d ms between attempts", strerror(err),
                      err == EMFILE || err == ENFILE ? " (out of file descriptors)" : "",
                      ENGINE_ACCEPT_BACKOFF_MS);
        return false;
    }
}

void engine_refuse(int fd)
{
    char buf[256];
    size_t n = response_refusal(buf, sizeof(buf), engine_wall_s());

    if (n > 0 && send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        n = 0; /* the client goes away unanswered, as before */
    close(fd);
}

void engine_leave_listener(const struct engine_env *env, int accept_flags,
                           void (*take)(void *arg, int fd), void *arg)
{
    if (env->listen_inherited)
        return;
    for (;;) {
        int fd = accept4(env->listen_fd, NULL, NULL, accept_flags);
        if (fd >= 0) {
            take(arg, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EMFILE || errno == ENFILE ||
            errno == ENOBUFS || errno == ENOMEM || errno == EINVAL)
            break; /* empty, or nothing more can be taken */
    }
    (void)shutdown(env->listen_fd, SHUT_RD);
}

int engine_thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg)
{
    long min = sysconf(_SC_THREAD_STACK_MIN);
    pthread_attr_t attr;
    sigset_t all, old;
    int err;

    stack_size *= ENGINE_STACK_FACTOR;
    if (min > 0 && stack_size < (size_t)min)
        stack_size = (size_t)min;
    err = pthread_attr_init(&attr);
    if (err)
        return -err;
    err = pthread_attr_setstacksize(&attr, stack_size);
    /* The thread inherits the mask at creation: a signal can then only
     * ever land on the engine's own thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (!err)
        err = pthread_create(t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return -err;
}

bool engine_unread_input(int fd)
{
    int n = 0;

    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}
