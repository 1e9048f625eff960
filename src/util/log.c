/* log.c - stderr diagnostics, see log.h. */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static enum log_level log_min = LOG_LEVEL_INFO;

void log_set_level(enum log_level min)
{
    log_min = min;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char line[1024];
    va_list ap;
    int n, m;

    if (level < log_min)
        return;
    n = snprintf(line, sizeof(line), "ringhttpd: %s: ", names[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

bool log_rate_allow(struct log_rate *r, unsigned long long now_ms, unsigned long long interval_ms)
{
    unsigned long long last = atomic_load_explicit(&r->last_ms, memory_order_relaxed);

    /* 0 means never printed; a clock of 0 ms does not occur in practice. */
    if (last && now_ms - last < interval_ms)
        return false;
    return atomic_compare_exchange_strong(&r->last_ms, &last, now_ms ? now_ms : 1);
}
