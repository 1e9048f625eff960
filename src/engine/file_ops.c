/* file_ops.c - see file_ops.h. */
#include "engine/file_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BENEATH_LINKS 40 /* symlinks one name may pass through, as the kernel's */
#define BENEATH_DEPTH 64 /* directories below dirfd a walk may hold open */

/* ---- openat2 in user space ---- */

struct walk {
    char path[PATH_MAX]; /* what is left to resolve */
    int fds[BENEATH_DEPTH];
    int depth, links;
};

static int walk_dir(const struct walk *w, int dirfd)
{
    return w->depth > 0 ? w->fds[w->depth - 1] : dirfd;
}

/* Put the target of the symlink dir/name in front of the rest of the path.
 * An absolute target leaves dirfd: EXDEV, as with RESOLVE_BENEATH. */
static int walk_link(struct walk *w, int dir, const char *name, const char *rest)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(dir, name, target, sizeof(target));
    size_t rest_len = strlen(rest);

    if (n < 0)
        return errno == EINVAL ? -ENOTDIR : -errno; /* not a link after all */
    if (++w->links > BENEATH_LINKS)
        return -ELOOP;
    if (target[0] == '/') /* a link's target is never empty */
        return -EXDEV;
    if ((size_t)n + 1 + rest_len >= sizeof(w->path))
        return -ENAMETOOLONG;
    memmove(w->path + n + 1, rest, rest_len + 1);
    memcpy(w->path, target, (size_t)n);
    w->path[n] = rest_len ? '/' : '\0';
    return 0;
}

static long walk_check_dir(int fd)
{
    struct stat st;

    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        return fd;
    close(fd);
    return -ENOTDIR;
}

/* Resolve w->path beneath dirfd and open it with how. Each component is
 * opened with O_NOFOLLOW, so a symlink is followed only by walk_link and a
 * name swapped for one meanwhile fails rather than leads elsewhere. */
static long walk_open(struct walk *w, int dirfd, const struct open_how *how)
{
    for (;;) {
        char *p = w->path, *end, *rest;
        int fd, ret;

        if (*p == '/')
            return -EXDEV; /* absolute */
        end = strchrnul(p, '/');
        for (rest = end; *rest == '/'; rest++)
            ;
        *end = '\0';
        if (strcmp(p, "..") == 0) { /* back to the directory held before */
            if (w->depth == 0)
                return -EXDEV;
            close(w->fds[--w->depth]);
            p = ".";
        }
        if (*rest == '\0') { /* the last component; "name/" must be a directory */
            bool slash = end != rest;
            fd = openat(walk_dir(w, dirfd), p, (int)how->flags | O_NOFOLLOW, (mode_t)how->mode);
            if (fd >= 0)
                return slash ? walk_check_dir(fd) : fd;
            /* A symlink with O_NOFOLLOW: ELOOP, or ENOTDIR with O_DIRECTORY. */
            ret = -errno;
            if ((ret != -ELOOP && ret != -ENOTDIR) || (how->flags & O_NOFOLLOW))
                return ret;
            fd = walk_link(w, walk_dir(w, dirfd), p, slash ? "/" : "");
            if (fd < 0)
                return fd == -ENOTDIR ? ret : fd; /* not a link: its own error */
            continue;
        }
        if (strcmp(p, ".") == 0) {
            memmove(w->path, rest, strlen(rest) + 1);
            continue;
        }
        fd = openat(walk_dir(w, dirfd), p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOTDIR && errno != ELOOP)
                return -errno;
            ret = walk_link(w, walk_dir(w, dirfd), p, rest); /* a symlink, or a file */
            if (ret < 0)
                return ret;
            continue;
        }
        if (w->depth == BENEATH_DEPTH) {
            close(fd);
            return -ENAMETOOLONG;
        }
        w->fds[w->depth++] = fd;
        memmove(w->path, rest, strlen(rest) + 1);
    }
}

long file_open_beneath(int dirfd, const char *path, const struct open_how *how)
{
    struct walk *w = malloc(sizeof(*w));
    size_t len = strlen(path);
    long ret;

    if (!w)
        return -ENOMEM;
    if (len >= sizeof(w->path)) {
        free(w);
        return -ENAMETOOLONG;
    }
    memcpy(w->path, path, len + 1);
    w->depth = w->links = 0;
    ret = len == 0 ? -ENOENT : walk_open(w, dirfd, how);
    while (w->depth > 0)
        close(w->fds[--w->depth]);
    free(w);
    return ret;
}

/* ---- which one ---- */

static pthread_once_t walk_once = PTHREAD_ONCE_INIT;
static bool walk_needed;

/* openat2 is missing before Linux 5.6, under valgrind, and where a seccomp
 * profile from before it denies what it does not know (EPERM or ENOSYS). */
static void walk_decide(void)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
    long fd;

    if (getenv("RINGHTTPD_TEST_NO_OPENAT2")) {
        walk_needed = true;
        return;
    }
    fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));
    if (fd >= 0)
        close((int)fd);
    walk_needed = fd < 0 && (errno == ENOSYS || errno == EPERM);
}

bool file_ops_walks(void)
{
    pthread_once(&walk_once, walk_decide);
    return walk_needed;
}

long file_op_perform(const struct conn_io *io)
{
    long res;

    switch (io->op) {
    case CONN_OP_OPEN:
        if (file_ops_walks())
            return file_open_beneath(io->dirfd, io->path, &io->how);
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
