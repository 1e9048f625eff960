/* conn_files.h - /files/{name}: the file GET/HEAD and upload sub-state
 * machines of a connection. conn.c drives them through these calls only;
 * like the rest of the core they name their file I/O in a conn_io for the
 * engine to perform and never touch a file themselves. */
#ifndef RINGHTTPD_CONN_FILES_H
#define RINGHTTPD_CONN_FILES_H

struct conn;
struct conn_io;

/* Start answering the current request (its route and method are set). */
void files_get_start(struct conn *c);
void files_put_start(struct conn *c);    /* POST and PUT */
void files_delete_start(struct conn *c); /* DELETE */

/* The next file operation: 1 when io is filled, 0 when the state changed
 * (the response is queued, or the connection fails) and conn.c moves on. */
int files_next(struct conn *c, struct conn_io *io);

/* The result of the operation files_next() named. */
void files_done(struct conn *c, long res);

/* An upload ends early (timeout, bad body): release what it holds, then
 * answer status. */
void files_fail(struct conn *c, int status);

/* After the connection is done: 1 when io names one more release (close a
 * file, unlink a temporary), 0 when nothing is held any more. */
int files_cleanup_next(struct conn *c, struct conn_io *io);

#endif
