/* conn_routes.c - the handler of each row of the route table (router.h):
 * what the connection hands a route, and what the route gives back. The
 * in-memory handlers (handlers/) queue a whole response; /files/ starts its
 * own file state machine (http/conn_files.c). */
#include "handlers/handlers.h"
#include "http/conn_files.h"
#include "http/conn_internal.h"
#include "http/gzip.h"
#include "http/router.h"

static struct handler_req route_request(const struct conn *c)
{
    return (struct handler_req){
        .arg = c->blk->arg,
        .arg_len = c->blk->arg_len,
        .head_only = (c->rflags & CONN_REQ_HEAD) != 0,
        .keep_alive = (c->rflags & CONN_REQ_KEEP) != 0,
        .gzip_ok = (c->rflags & CONN_REQ_GZIP) != 0,
        .now = conn_now(),
    };
}

void route_root(struct conn *c)
{
    conn_handler_done(c, conn_respond(c, 200, NULL, 0));
}

void route_echo(struct conn *c)
{
    struct conn_block *b = c->blk;
    struct handler_req rq = route_request(c);

    if (rq.gzip_ok) { /* room for the compressed body */
        size_t cap = gzip_bound(b->arg_len);
        rq.scratch = arena_alloc(&b->arena, cap);
        rq.scratch_cap = rq.scratch ? cap : 0;
    }
    conn_handler_done(c, handler_echo(&rq, &b->out));
}

void route_user_agent(struct conn *c)
{
    struct handler_req rq = route_request(c);

    conn_handler_done(c, handler_user_agent(&rq, &c->blk->out));
}

void route_files(struct conn *c)
{
    switch (c->blk->req.method) {
    case HTTP_METHOD_POST:
    case HTTP_METHOD_PUT:
        files_put_start(c);
        return;
    case HTTP_METHOD_DELETE:
        files_delete_start(c);
        return;
    default:
        files_get_start(c);
        return;
    }
}
