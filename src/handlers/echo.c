/* echo.c - GET /echo/{s}: the decoded text, gzip-compressed when accepted. */
#include "handlers/handlers.h"

#include "http/gzip.h"

long handler_echo(const struct handler_req *rq, struct outbuf *o)
{
    struct response_head h = {
        .status = 200,
        .keep_alive = rq->keep_alive,
        .content_type = "text/plain",
        .vary_accept_encoding = 1,
        .now = rq->now,
    };
    const void *body = rq->arg;
    size_t len = rq->arg_len, saved = o->len;

    if (rq->gzip_ok) {
        len = gzip_compress(rq->scratch, rq->scratch_cap, rq->arg, rq->arg_len);
        if (len == 0)
            return -1;
        body = rq->scratch;
        h.content_encoding = "gzip";
    }
    h.content_length = len;
    if (response_head_write(o, &h) < 0)
        return -1;
    if (rq->head_only)
        return 0;
    if (outbuf_append(o, body, len) < 0) {
        o->len = saved;
        return -1;
    }
    return (long)len;
}
