/* engine.c - the engine registry: maps --engine to an ops table and prints
 * the probe's reason when io_uring is refused or "auto" falls back.
 *
 * The only file that knows whether the io_uring engine is compiled in. */
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"

#ifdef RINGHTTPD_HAVE_URING

static const struct engine_ops *select_uring(void)
{
    const char *why = NULL;

    if (engine_uring_ops.probe(&why) == 0)
        return &engine_uring_ops;
    fprintf(stderr, "ringhttpd: the io_uring engine is not available: %s\n", why);
    return NULL;
}

static const struct engine_ops *select_auto(void)
{
    const char *why = NULL;

    if (engine_uring_ops.probe(&why) == 0)
        return &engine_uring_ops;
    log_warn("not using io_uring, serving with the threads engine: %s", why);
    return &engine_threads_ops;
}

#else

static const struct engine_ops *select_uring(void)
{
    fprintf(stderr, "ringhttpd: the io_uring engine is not available: this binary was built "
                    "with USE_IOURING=OFF (use --engine threads, or rebuild with "
                    "-DUSE_IOURING=ON)\n");
    return NULL;
}

/* Built without io_uring on purpose: worth a note, not a warning. */
static const struct engine_ops *select_auto(void)
{
    log_info("not using io_uring, serving with the threads engine: this binary was built "
             "with USE_IOURING=OFF; rebuild with -DUSE_IOURING=ON (needs liburing)");
    return &engine_threads_ops;
}

#endif

const struct engine_ops *engine_select(const char *name)
{
    if (strcmp(name, "threads") == 0)
        return &engine_threads_ops;
    if (strcmp(name, "uring") == 0)
        return select_uring();
    if (strcmp(name, "auto") == 0)
        return select_auto();
    fprintf(stderr, "ringhttpd: unknown engine '%s' (expected auto, uring or threads)\n", name);
    return NULL;
}
