/* log.h - diagnostics on stderr.
 *
 * One line per event, prefixed with the program name and the level. --quiet
 * raises the threshold so only errors are printed. Thread-safe: each line is
 * written with a single write(2) call. Only main and the engines log; the
 * HTTP core reports errors as statuses instead. */
#ifndef RINGHTTPD_LOG_H
#define RINGHTTPD_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
};

/* Lines below this level are dropped. Set once at start-up. */
void log_set_level(enum log_level min);

/* printf-style; a trailing newline is added. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A rate limit for a repeated message: at most one line per interval,
 * whichever thread reports it. Zero-initialised. */
struct log_rate {
    _Atomic unsigned long long last_ms;
};

/* True (and the interval restarts) when a line may be printed at now_ms. */
bool log_rate_allow(struct log_rate *r, unsigned long long now_ms, unsigned long long interval_ms);

#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
