/* conn_upload.c - POST, PUT and DELETE of /files/{name} as a state machine
 * that names its file I/O for the engine to perform (see conn.h).
 *
 * An upload goes to a fresh temporary file in the target's own directory,
 * which is fsynced, renamed over the name, and the directory fsynced: the
 * name holds either the old file or the complete new one, also after a crash.
 * Any failure unlinks the temporary file before the error is answered. A
 * delete unlinks the name in its directory, then fsyncs the directory. The
 * preconditions (http/cond.h) are checked against the name before the body
 * is read and again just before the rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "http/cond.h"
#include "http/conn_files.h"
#include "http/conn_internal.h"
#include "http/file_cache.h"
#include "http/files_internal.h"

#define FILES_TMP_TRIES 8

static char *files_tmp_name(struct conn *c)
{
    static _Thread_local uint64_t seed;

    if (!c->blk->tmp_name)
        c->blk->tmp_name = arena_alloc(&c->blk->arena, 40);
    if (!c->blk->tmp_name)
        return NULL;
    /* Unlikely to collide (the second, the connection's address and the
     * thread's previous names); O_EXCL makes a collision safe. */
    seed ^= ((uint64_t)conn_now() << 20) ^ (uint64_t)(uintptr_t)c;
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    snprintf(c->blk->tmp_name, 40, FILES_TMP_PREFIX "%016llx", (unsigned long long)seed);
    return c->blk->tmp_name;
}

/* Split the name "a/b/name" (our own copy) into the parent "a/b" and the
 * base "name", and start by opening the parent beneath the root. */
static void files_open_parent_start(struct conn *c)
{
    struct conn_block *b = c->blk;
    char *slash = strrchr((char *)b->arg, '/');

    if (slash) {
        *slash = '\0';
        b->base = slash + 1;
    } else {
        b->base = b->arg;
    }
    c->state = CONN_STATE_FILE;
    c->step = FILES_PUT_OPEN_DIR;
}

void files_put_start(struct conn *c)
{
    files_open_parent_start(c);
    c->tries = 0;
    c->file_off = 0;
}

void files_delete_start(struct conn *c)
{
    files_open_parent_start(c);
}

void files_fail(struct conn *c, int status)
{
    c->state = CONN_STATE_FILE;
    c->status = (uint16_t)status;
    c->step = FILES_PUT_FAIL;
}

static int files_put_body(struct conn *c, struct conn_io *io)
{
    const char *p;
    size_t n;
    int status = 400;

    switch (conn_body_peek(c, &p, &n, &status)) {
    case BODY_STEP_DATA:
        io->op = CONN_OP_WRITE;
        io->fd = c->file_fd;
        io->buf = (void *)p;
        io->len = n;
        io->off = c->file_off;
        return 1;
    case BODY_STEP_NEED:
        return conn_recv_body(c, io);
    case BODY_STEP_DONE:
        c->rflags |= CONN_REQ_BODY_DONE;
        c->step = FILES_PUT_FSYNC;
        return 0;
    case BODY_STEP_ERROR:
        files_fail(c, status);
        return 0;
    }
    return 0;
}

int files_put_next(struct conn *c, struct conn_io *io)
{
    struct conn_block *b = c->blk;

    switch ((enum files_step)c->step) {
    case FILES_PUT_OPEN_DIR:
        files_open_io(io, c->ctx->dirfd, b->base == b->arg ? "." : b->arg, O_RDONLY | O_DIRECTORY,
                      0);
        return 1;
    case FILES_PUT_OPEN_TMP:
        if (!files_tmp_name(c)) {
            files_fail(c, 500);
            return 0;
        }
        files_open_io(io, c->dir_fd, b->tmp_name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        return 1;
    case FILES_PUT_BODY:
        return files_put_body(c, io);
    case FILES_PUT_FSYNC:
    case FILES_PUT_DIRSYNC:
        io->op = CONN_OP_FSYNC;
        io->fd = c->step == FILES_PUT_FSYNC ? c->file_fd : c->dir_fd;
        return 1;
    case FILES_PUT_CLOSE:
        return files_close_io(io, c->file_fd);
    case FILES_PUT_PRECHECK:
    case FILES_PUT_RECHECK:
        io->op = CONN_OP_STAT;
        io->dirfd = c->dir_fd;
        io->path = b->base;
        io->flags = AT_SYMLINK_NOFOLLOW; /* the name itself, which the rename replaces */
        io->stx = &b->stx;
        return 1;
    case FILES_PUT_RENAME:
    case FILES_PUT_REPLACE:
        /* PUT tells a new name (201) from a replaced one (204) by trying
         * RENAME_NOREPLACE first; POST always replaces. With If-None-Match:
         * "*", the kernel keeps create-only atomic. */
        io->op = CONN_OP_RENAME;
        io->dirfd = c->dir_fd;
        io->path = b->tmp_name;
        io->path2 = b->base;
        io->flags = c->step == FILES_PUT_RENAME && (b->req.method == HTTP_METHOD_PUT ||
                                                    cond_request_none_match_any(&b->cond))
                        ? RENAME_NOREPLACE
                        : 0;
        return 1;
    case FILES_DELETE_UNLINK:
        io->op = CONN_OP_UNLINK;
        io->dirfd = c->dir_fd;
        io->path = b->base;
        return 1;
    case FILES_PUT_CLOSE_DIR:
        return files_close_io(io, c->dir_fd);
    case FILES_PUT_FAIL:
        if (files_cleanup_next(c, io))
            return 1;
        conn_respond_error(c, c->status, NULL);
        return 0;
    default:
        conn_abort(c); /* a step without an operation: a bug, never a busy loop */
        return 0;
    }
}

static int files_status_for_write(long err)
{
    return err == -ENOSPC || err == -EDQUOT ? 507 : 500;
}

static int files_status_for_unlink(long err)
{
    switch (-err) {
    case ENOENT:
    case ENOTDIR:
        return 404;
    case EISDIR: /* a directory is not a file to delete, as POST cannot replace one */
        return 409;
    case EACCES:
    case EPERM:
    case EROFS:
    case EBUSY:
        return 403;
    default:
        return 500;
    }
}

/* The parent directory is open: check the preconditions if there are any,
 * then go on with the upload or the delete. */
static void files_dir_open_done(struct conn *c, long res)
{
    bool del = c->blk->req.method == HTTP_METHOD_DELETE;

    if (res < 0) {
        int st = files_status_for_open((int)res);
        /* No parent directory: nothing to delete (404), nowhere to store (409). */
        conn_respond_error(c, st == 404 && !del ? 409 : st, NULL);
        return;
    }
    c->dir_fd = (int)res;
    if (cond_request_has_preconditions(&c->blk->cond))
        c->step = FILES_PUT_PRECHECK;
    else
        c->step = del ? FILES_DELETE_UNLINK : FILES_PUT_OPEN_TMP;
}

/* The name's current state (STAT of it: 0, or -ENOENT when absent) against
 * the request's preconditions: 412 and nothing stored or removed, or on to
 * next. */
static void files_precondition_done(struct conn *c, long res, enum files_step next)
{
    struct cond_validators v;

    if (res < 0 && res != -ENOENT) {
        files_fail(c, res == -ENOTDIR ? 409 : 500);
        return;
    }
    if (res == 0)
        files_validators(c, &v);
    if (cond_evaluate(&c->blk->cond, res == 0 ? &v : NULL, false) == COND_PRECONDITION_FAILED) {
        files_fail(c, 412);
        return;
    }
    c->step = next;
}

static void files_tmp_open_done(struct conn *c, long res)
{
    if (res == -EEXIST && ++c->tries < FILES_TMP_TRIES)
        return;
    if (res < 0) {
        files_fail(c, files_status_for_open((int)res) == 403 ? 403 : files_status_for_write(res));
        return;
    }
    c->file_fd = (int)res;
    c->flags |= CONN_FLAG_TMP;
    c->step = FILES_PUT_BODY;
    if ((c->rflags & CONN_REQ_CONTINUE) && !(c->rflags & CONN_REQ_BODY_DONE))
        response_continue_write(&c->blk->out);
}

/* The name now holds another file, or none: tell every thread's file cache
 * before the client can hear of it. The name was split in place into
 * parent and base (files_open_parent_start); join it for the moment. */
static void files_name_changed(struct conn *c)
{
    struct conn_block *b = c->blk;
    char *cut = b->base != b->arg ? (char *)b->base - 1 : NULL;

    if (cut)
        *cut = '/';
    file_cache_touch(b->arg, b->arg_len);
    if (cut)
        *cut = '\0';
}

static void files_rename_done(struct conn *c, long res)
{
    bool create_only = cond_request_none_match_any(&c->blk->cond);

    if (c->step == FILES_PUT_RENAME && res == -EEXIST && create_only) {
        files_fail(c, 412); /* If-None-Match: * and the name was taken meanwhile */
        return;
    }
    if (c->step == FILES_PUT_RENAME && (res == -EEXIST || res == -EINVAL) && !create_only &&
        c->blk->req.method == HTTP_METHOD_PUT) {
        /* EINVAL: a file system without RENAME_NOREPLACE; say 201. */
        c->status = (uint16_t)(res == -EEXIST ? 204 : 201);
        c->step = FILES_PUT_REPLACE;
        return;
    }
    if (res < 0) {
        files_fail(c, res == -EISDIR || res == -ENOTEMPTY || res == -ENOTDIR ? 409 : 500);
        return;
    }
    if (c->step == FILES_PUT_RENAME)
        c->status = 201;
    c->flags &= (uint8_t)~CONN_FLAG_TMP;
    c->step = FILES_PUT_DIRSYNC;
    files_name_changed(c);
}

void files_put_done(struct conn *c, long res)
{
    switch ((enum files_step)c->step) {
    case FILES_PUT_OPEN_DIR:
        files_dir_open_done(c, res);
        return;
    case FILES_PUT_PRECHECK:
        files_precondition_done(c, res,
                                c->blk->req.method == HTTP_METHOD_DELETE ? FILES_DELETE_UNLINK
                                                                         : FILES_PUT_OPEN_TMP);
        return;
    case FILES_PUT_OPEN_TMP:
        files_tmp_open_done(c, res);
        return;
    case FILES_PUT_BODY: /* a WRITE */
        if (res <= 0) {
            files_fail(c, res == 0 ? 500 : files_status_for_write(res));
            return;
        }
        conn_body_consume(c, (size_t)res);
        c->file_off += (uint64_t)res;
        return;
    case FILES_PUT_FSYNC:
        c->step = res < 0 ? FILES_PUT_FAIL : FILES_PUT_CLOSE;
        c->status = (uint16_t)(res < 0 ? files_status_for_write(res) : 0);
        return;
    case FILES_PUT_CLOSE:
        c->file_fd = -1;
        /* Check again just before the rename: the name may have changed
         * while the body arrived. */
        c->step =
            cond_request_has_preconditions(&c->blk->cond) ? FILES_PUT_RECHECK : FILES_PUT_RENAME;
        return;
    case FILES_PUT_RECHECK:
        files_precondition_done(c, res, FILES_PUT_RENAME);
        return;
    case FILES_PUT_RENAME:
    case FILES_PUT_REPLACE:
        files_rename_done(c, res);
        return;
    case FILES_DELETE_UNLINK:
        if (res < 0) {
            files_fail(c, files_status_for_unlink(res));
            return;
        }
        c->status = 204;
        c->step = FILES_PUT_DIRSYNC;
        files_name_changed(c);
        return;
    case FILES_PUT_DIRSYNC:
        c->step = FILES_PUT_CLOSE_DIR; /* the rename is done; a failed dir sync is not reported */
        return;
    case FILES_PUT_CLOSE_DIR:
        c->dir_fd = -1;
        if (conn_respond(c, c->status, NULL, 0) < 0) {
            conn_respond_error(c, 500, NULL);
            return;
        }
        conn_request_done(c);
        return;
    default:
        return;
    }
}
