/* files_internal.h - what the /files/ state machines share: conn_files.c
 * (GET, HEAD and the shared parts) and conn_upload.c (POST, PUT, DELETE).
 * Not for conn.c, which uses conn_files.h. */
#ifndef RINGHTTPD_FILES_INTERNAL_H
#define RINGHTTPD_FILES_INTERNAL_H

#include <stdint.h>

#include "http/cond.h"
#include "http/conn.h"

enum files_step {
    FILES_GET_RECHECK, /* STAT of the name: is the cached copy still the file? */
    FILES_GET_CACHED,  /* answer from the file cache */
    FILES_GET_SHED,    /* EMFILE: closing the cache's unused descriptors, then OPEN again */
    FILES_GET_OPEN,
    FILES_GET_STAT,
    FILES_GET_READ,
    FILES_GET_SENDFILE,
    FILES_GET_PART,     /* multipart/byteranges: the next part's head */
    FILES_GET_PART_END, /* ... and the closing delimiter */
    FILES_GET_CLOSE,
    FILES_PUT_OPEN_DIR,
    FILES_PUT_PRECHECK, /* STAT of the name: If-Match, If-None-Match, If-Unmodified-Since */
    FILES_PUT_OPEN_TMP,
    FILES_PUT_BODY,
    FILES_PUT_FSYNC,
    FILES_PUT_CLOSE,
    FILES_PUT_RECHECK, /* the preconditions again, just before the rename */
    FILES_PUT_RENAME,
    FILES_PUT_REPLACE, /* PUT: the name exists, rename over it */
    FILES_PUT_DIRSYNC,
    FILES_PUT_CLOSE_DIR,
    FILES_DELETE_UNLINK, /* DELETE: after FILES_PUT_OPEN_DIR; then DIRSYNC, CLOSE_DIR */
    FILES_PUT_FAIL,      /* releasing files, then answering c->status */
};

/* The status for a failed open: 404, 403, 507, 503 or 500. */
int files_status_for_open(int err);

/* Fill io with an openat2 beneath dirfd. */
void files_open_io(struct conn_io *io, int dirfd, const char *path, uint64_t flags, uint64_t mode);

/* Fill io to close fd (a file or directory the machine opened). Returns 1. */
int files_close_io(struct conn_io *io, int fd);

/* The validators of the file in c->blk->stx. */
void files_validators(struct conn *c, struct cond_validators *v);

/* The upload and delete steps (conn_upload.c). */
int files_put_next(struct conn *c, struct conn_io *io);
void files_put_done(struct conn *c, long res);

#endif
