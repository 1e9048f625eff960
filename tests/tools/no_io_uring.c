/* no_io_uring.c - run a command in a sandbox without io_uring.
 *
 *     no_io_uring COMMAND [ARG...]
 *
 * Installs a seccomp filter under which io_uring_setup, io_uring_enter and
 * io_uring_register fail with EPERM (what Docker's default profile does since
 * 2023) and every other syscall is allowed, then execs COMMAND. A syscall made
 * under another architecture's ABI kills the process, so the filter cannot be
 * bypassed through a different syscall table. Used by the integration tests
 * to check the engine fallback. Exits 127 if it cannot run COMMAND, 1 if the
 * filter cannot be installed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall() under -std=c17 */
#endif
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#else
#error "no_io_uring: unsupported architecture (add its AUDIT_ARCH_* value)"
#endif

/* Older headers may lack the numbers; they are the same on every arch. */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

#define DENY_EPERM (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

static int install_filter(void)
{
    struct sock_filter filter[] = {
        /* Wrong ABI: kill rather than guess the syscall numbers. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#if defined(__x86_64__)
        /* x32 syscalls share AUDIT_ARCH_X86_64 but have bit 30 set. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, DENY_EPERM),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
        .filter = filter,
    };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "no_io_uring: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
        return -1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 &&
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        fprintf(stderr, "no_io_uring: cannot install the seccomp filter: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no_io_uring COMMAND [ARG...]\n"
                        "runs COMMAND with io_uring_setup/enter/register failing with EPERM\n");
        return 2;
    }
    if (install_filter() != 0)
        return 1;
    execvp(argv[1], argv + 1);
    fprintf(stderr, "no_io_uring: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
