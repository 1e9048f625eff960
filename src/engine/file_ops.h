/* file_ops.h - a core file operation performed by blocking system calls.
 *
 * The threads engine performs every file operation the core asks for this
 * way; the unit tests and the fuzz target of the core drive it with the same
 * function, so what the core is tested against is what the engine does. */
#ifndef RINGHTTPD_FILE_OPS_H
#define RINGHTTPD_FILE_OPS_H

#include <stdbool.h>

#include "http/conn.h"

/* Perform io (OPEN, STAT, READ, WRITE, FSYNC, RENAME, UNLINK, CLOSE_FILE)
 * and return its result for conn_done(): an fd, a byte count, 0, or -errno.
 * Any other op is -EINVAL. */
long file_op_perform(const struct conn_io *io);

/* How OPEN resolves a name: by openat2 where the kernel has it, else (Linux
 * before 5.6, valgrind, a seccomp profile older than openat2, or the test
 * setting RINGHTTPD_TEST_NO_OPENAT2) by file_open_beneath. Decided once, on
 * first use; true for the walk. */
bool file_ops_walks(void);

/* openat(dirfd, path, how->flags, how->mode) to the rules of RESOLVE_BENEATH,
 * one component at a time in user space: ".." may not climb above dirfd and
 * an absolute symlink fails (EXDEV); a relative one is followed, 40 at most
 * (then ELOOP). Returns the fd or -errno. */
long file_open_beneath(int dirfd, const char *path, const struct open_how *how);

#endif
