/* file_ops.h - a core file operation performed by blocking system calls.
 *
 * The threads engine performs every file operation the core asks for this
 * way; the unit tests and the fuzz target of the core drive it with the same
 * function, so what the core is tested against is what the engine does. */
#ifndef RINGHTTPD_FILE_OPS_H
#define RINGHTTPD_FILE_OPS_H

#include "http/conn.h"

/* Perform io (OPEN, STAT, READ, WRITE, FSYNC, RENAME, UNLINK, CLOSE_FILE)
 * and return its result for conn_done(): an fd, a byte count, 0, or -errno.
 * Any other op is -EINVAL. */
long file_op_perform(const struct conn_io *io);

#endif
