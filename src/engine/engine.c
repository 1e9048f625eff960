/* engine.c - the engine registry: maps --engine to an ops table and explains
 * why io_uring is not used when "auto" falls back to the threads engine.
 *
 * The only file that knows whether the io_uring engine is compiled in. */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#ifdef RINGHTTPD_HAVE_URING

/* io_uring_setup() fails with EPERM for three reasons the process cannot see
 * directly; the sysctl is readable, so name it when it is the cause and
 * blame seccomp otherwise. */
static const char *uring_eperm_reason(void)
{
    char value = '0';
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (read(fd, &value, 1) != 1)
            value = '0';
        close(fd);
    }
    if (value == '2')
        return "io_uring is switched off by the sysctl kernel.io_uring_disabled=2; "
               "kernel.io_uring_disabled=0 enables it";
    if (value == '1')
        return "io_uring is restricted to the group kernel.io_uring_group "
               "(kernel.io_uring_disabled=1); run in that group or set the sysctl to 0";
    return "io_uring_setup was denied (EPERM), most likely by a seccomp profile "
           "(Docker's default profile denies io_uring since 2023); a profile that allows "
           "io_uring_setup, io_uring_enter and io_uring_register, or the sysctl "
           "kernel.io_uring_disabled=0, enables it";
}

/* Why the io_uring engine cannot run: the two well-known refusals are
 * explained here, anything else (missing features) by the probe itself. */
static const char *uring_reason(int err, const char *why)
{
    if (err == -EPERM)
        return uring_eperm_reason();
    if (err == -ENOSYS)
        return "this kernel has no io_uring (io_uring_setup: ENOSYS): it is too old "
               "or built without CONFIG_IO_URING";
    return why ? why : strerror(-err);
}

static const struct engine_ops *select_uring(void)
{
    const char *why = NULL;
    int err = engine_uring_ops.probe(&why);

    if (err == 0)
        return &engine_uring_ops;
    fprintf(stderr, "ringhttpd: the io_uring engine is not available: %s\n",
            uring_reason(err, why));
    return NULL;
}

static const struct engine_ops *select_auto(void)
{
    const char *why = NULL;
    int err = engine_uring_ops.probe(&why);

    if (err == 0)
        return &engine_uring_ops;
    log_warn("not using io_uring, serving with the threads engine: %s", uring_reason(err, why));
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
