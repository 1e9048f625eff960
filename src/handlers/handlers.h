/* handlers.h - the in-memory route handlers: they append a complete response
 * to the output buffer and do no I/O. (/files/ needs file I/O and is a state
 * machine of its own: see http/conn_files.h.) */
#ifndef RINGHTTPD_HANDLERS_H
#define RINGHTTPD_HANDLERS_H

#include <stddef.h>
#include <time.h>

#include "http/response.h"

struct handler_req {
    const char *arg; /* echo: the decoded text; user-agent: the trimmed value */
    size_t arg_len;
    int head_only; /* HEAD: headers only */
    int keep_alive;
    int gzip_ok; /* Accept-Encoding allows gzip */
    time_t now;
    void *scratch; /* room for the compressed body */
    size_t scratch_cap;
};

/* Each returns the body length written (for the access log), or -1 when the
 * output buffer or scratch is too small. */
long handler_echo(const struct handler_req *rq, struct outbuf *o);
long handler_user_agent(const struct handler_req *rq, struct outbuf *o);

#endif
