/* file_ops.c - see file_ops.h. */
#include "engine/file_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

long file_op_perform(const struct conn_io *io)
{
    long res;

    switch (io->op) {
    case CONN_OP_OPEN:
        res = syscall(SYS_openat2, io->dirfd, io->path, &io->how, sizeof(io->how));
        break;
    case CONN_OP_STAT:
        if (io->path)
            res = statx(io->dirfd, io->path, (int)io->flags, CONN_STATX_MASK, io->stx);
        else
            res = statx(io->fd, "", AT_EMPTY_PATH, CONN_STATX_MASK, io->stx);
        break;
    case CONN_OP_READ:
        res = pread(io->fd, io->buf, io->len, (off_t)io->off);
        break;
    case CONN_OP_WRITE:
        res = pwrite(io->fd, io->buf, io->len, (off_t)io->off);
        break;
    case CONN_OP_FSYNC:
        res = fsync(io->fd);
        break;
    case CONN_OP_RENAME:
        res = renameat2(io->dirfd, io->path, io->dirfd, io->path2, io->flags);
        break;
    case CONN_OP_UNLINK:
        res = unlinkat(io->dirfd, io->path, 0);
        break;
    case CONN_OP_CLOSE_FILE:
        res = close(io->fd);
        break;
    default:
        return -EINVAL;
    }
    return res < 0 ? -errno : res;
}
