/* uring_probe.c - can the io_uring engine run here, and if not, why: the
 * diagnosis engine.c prints when --engine uring is refused or "auto" falls
 * back to the threads engine. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/uring_internal.h"

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

int uring_probe(const char **why)
{
    static const struct {
        int op;
        const char *name;
    } needed[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},
        {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},
        {IORING_OP_OPENAT2, "OPENAT2"},
        {IORING_OP_STATX, "STATX"},
        {IORING_OP_SPLICE, "SPLICE"},
        {IORING_OP_RENAMEAT, "RENAMEAT"},
        {IORING_OP_UNLINKAT, "UNLINKAT"},
        {IORING_OP_SHUTDOWN, "SHUTDOWN"},
        {IORING_OP_CLOSE, "CLOSE"},
        {IORING_OP_FSYNC, "FSYNC"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        /* SEND_ZC arrived in 6.0 with multishot recv: it stands for the
         * multishot receive and accept this engine needs. */
        {IORING_OP_SEND_ZC, "multishot recv (Linux 6.0+)"},
    };
    static char msg[160];
    struct io_uring ring;
    struct io_uring_probe *probe;
    int ret = uring_ring_init(&ring, NULL);

    if (ret < 0) {
        if (ret == -ENOSYS) {
            *why = "this kernel has no io_uring (io_uring_setup: ENOSYS): it is too old "
                   "or built without CONFIG_IO_URING";
        } else if (ret == -EPERM) {
            *why = uring_eperm_reason();
        } else {
            snprintf(msg, sizeof(msg), "io_uring_setup: %s", strerror(-ret));
            *why = msg;
        }
        return ret;
    }
    probe = io_uring_get_probe_ring(&ring);
    ret = 0;
    for (size_t i = 0; probe && i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            snprintf(msg, sizeof(msg), "the kernel lacks io_uring %s", needed[i].name);
            *why = msg;
            ret = -EOPNOTSUPP;
            break;
        }
    }
    if (!probe) {
        *why = "io_uring opcode probe failed (kernel too old)";
        ret = -EOPNOTSUPP;
    }
    io_uring_free_probe(probe);
    io_uring_queue_exit(&ring);
    return ret;
}

/* cachestat(2) arrived in Linux 6.5 with the same number on every
 * architecture; the kernel headers of older distributions lack it. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

int uring_cachestat(int fd, uint64_t off, uint64_t len, uint64_t *cached_pages)
{
    struct {
        uint64_t off, len;
    } range = {off, len};
    struct {
        uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
    } cs;

    if (syscall(__NR_cachestat, fd, &range, &cs, 0) < 0)
        return -errno;
    *cached_pages = cs.nr_cache;
    return 0;
}

bool uring_probe_cachestat(void)
{
    uint64_t pages;

    /* No fd to ask about: a kernel that has the call says EBADF. */
    return uring_cachestat(-1, 0, 0, &pages) == -EBADF;
}
