/* user_agent.c - GET /user-agent: the User-Agent value, trimmed. */
#include "handlers/handlers.h"

long handler_user_agent(const struct handler_req *rq, struct outbuf *o)
{
    struct response_head h = {
        .status = 200,
        .keep_alive = rq->keep_alive,
        .content_type = "text/plain",
        .content_length = rq->arg_len,
        .now = rq->now,
    };
    size_t saved = o->len;

    if (response_head_write(o, &h) < 0)
        return -1;
    if (rq->head_only)
        return 0;
    if (outbuf_append(o, rq->arg, rq->arg_len) < 0) {
        o->len = saved;
        return -1;
    }
    return (long)rq->arg_len;
}
