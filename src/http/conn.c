/* conn.c - the sans-I/O connection state machine, see conn.h.
 *
 * Requests are parsed out of the input buffer and answered into the output
 * buffer. Every request that is complete in the input is answered before the
 * output is flushed, so the responses to a pipelined batch usually leave in
 * one send. Not always: the batch is what fits in the input buffer
 * (CONN_IN_CAP) at once; output is flushed early when less than
 * CONN_OUT_RESERVE of CONN_OUT_CAP is free; a /files/ response flushes what is
 * queued before its own body; and the kernel may take a send in part.
 * Output is always flushed before waiting for input. */
#include "http/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/conn_files.h"
#include "http/conn_internal.h"
#include "http/file_cache.h"
#include "http/gzip.h"
#include "http/router.h"
#include "http/uri.h"
#include "util/escape.h"
#include "util/mem.h"

#define CONN_LOG_LINE_MAX 2048
#define CONN_LINGER_MAX (4u << 20) /* bytes drained after an error, at most */
#define CONN_POOL_KEEP 128         /* free blocks a thread keeps (6 MiB) */
#define CONN_POOL_TOTAL 128        /* ... and all threads together (6 MiB) */

/* ---- per-thread block pool: no malloc per request in steady state ----
 * A connection may move between threads (the threads engine parks it between
 * requests), so a block can return to another thread's pool: each pool is
 * only a bounded cache of malloc'd blocks, which any thread may free. */

static _Thread_local struct conn_block *pool_free;
static _Thread_local unsigned pool_count;
/* Free blocks in all pools: 64 threads of 32 would keep 96 MiB after a spike. */
static atomic_uint pool_total;

static struct conn_block *conn_block_get(void)
{
    struct conn_block *b = pool_free;

    if (b) {
        pool_free = b->next_free;
        pool_count--;
        atomic_fetch_sub_explicit(&pool_total, 1, memory_order_relaxed);
    } else {
        b = malloc(sizeof(*b));
        if (!b)
            return NULL;
    }
    b->out = (struct outbuf){b->out_mem, 0, sizeof(b->out_mem)};
    arena_init(&b->arena, b->scratch, sizeof(b->scratch));
    http_request_reset(&b->req);
    b->arg = NULL;
    b->arg_len = 0;
    b->log_line = NULL;
    b->tmp_name = NULL;
    b->base = NULL;
    b->fd_entry = NULL;
    b->cond = COND_REQUEST_NONE;
    return b;
}

static void conn_block_put(struct conn_block *b)
{
    if (pool_count >= CONN_POOL_KEEP ||
        atomic_load_explicit(&pool_total, memory_order_relaxed) >= CONN_POOL_TOTAL) {
        free(b);
        mem_note_freed(sizeof(*b));
        return;
    }
    b->next_free = pool_free;
    pool_free = b;
    pool_count++;
    atomic_fetch_add_explicit(&pool_total, 1, memory_order_relaxed);
}

void conn_thread_cleanup(void)
{
    while (pool_free) {
        struct conn_block *b = pool_free;
        pool_free = b->next_free;
        free(b);
    }
    atomic_fetch_sub_explicit(&pool_total, pool_count, memory_order_relaxed);
    pool_count = 0;
    gzip_thread_cleanup();
    file_cache_thread_cleanup();
}

int conn_thread_holds_files(void)
{
    return file_cache_holds_fds();
}

void conn_thread_tick(time_t now)
{
    int fd;

    file_cache_expire(now);
    while ((fd = file_cache_closing()) >= 0)
        close(fd);
}

/* ---- the clock the engine keeps ---- */

static _Thread_local time_t conn_clock;

void conn_set_now(time_t now)
{
    conn_clock = now;
}

time_t conn_now(void)
{
    return conn_clock;
}

/* ---- life cycle ---- */

void conn_init(struct conn *c, const struct http_ctx *ctx, const void *peer)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->state = CONN_STATE_HEAD;
    c->file_fd = -1;
    c->dir_fd = -1;
    if (peer) {
        const struct sockaddr *sa = peer;
        if (sa->sa_family == AF_INET) {
            c->peer_family = AF_INET;
            memcpy(c->peer_addr, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        } else if (sa->sa_family == AF_INET6) {
            c->peer_family = AF_INET6;
            memcpy(c->peer_addr, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
        }
    }
}

void conn_release(struct conn *c)
{
    if (c->blk) {
        conn_block_put(c->blk);
        c->blk = NULL;
    }
}

static int conn_out_pending(const struct conn *c)
{
    return c->blk && c->out_sent < c->blk->out.len;
}

/* Idle: between requests with nothing buffered, so the block can go. */
static int conn_is_idle(const struct conn *c)
{
    return c->state == CONN_STATE_HEAD && c->in_len == 0 && !conn_out_pending(c);
}

void *conn_recv_space(struct conn *c, size_t *len)
{
    if (!c->blk) {
        c->blk = conn_block_get();
        if (!c->blk)
            return NULL;
        c->in_off = c->in_len = 0;
        c->out_sent = 0;
    }
    if (c->state == CONN_STATE_LINGER)
        c->in_off = c->in_len = 0; /* drained bytes are dropped */
    /* Offsets inside the pending request are relative to in_off, so moving
     * the unconsumed bytes to the front keeps them valid. */
    if (c->in_off > 0 && c->in_off + c->in_len > CONN_IN_CAP / 2) {
        memmove(c->blk->in, c->blk->in + c->in_off, c->in_len);
        c->in_off = 0;
    }
    *len = CONN_IN_CAP - c->in_off - c->in_len;
    return c->blk->in + c->in_off + c->in_len;
}

/* ---- access log ---- */

/* Keep the request line for the log, escaped (util/escape.h), from what
 * was received of it: the whole line once parsed, or for a request refused
 * before that (400, 414, 431, 408) the bytes up to the first line break. */
static void conn_log_capture(struct conn *c, const char *line, size_t len)
{
    struct conn_block *b = c->blk;
    size_t cap;
    char *out;

    if (!c->ctx->access_log || !b || b->log_line)
        return;
    if (!line)
        line = conn_raw_line(c, &len);
    if (len > CONN_LOG_LINE_MAX)
        len = CONN_LOG_LINE_MAX;
    cap = len * 4 < CONN_LOG_LINE_MAX ? len * 4 + 1 : CONN_LOG_LINE_MAX + 1; /* 4x: all escaped */
    out = arena_alloc(&b->arena, cap);
    if (out) {
        escape_log(out, cap, line, len);
        b->log_line = out;
    }
}

static void conn_log(struct conn *c)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char line[CONN_LOG_LINE_MAX + 256], host[INET6_ADDRSTRLEN] = "-", bytes[24] = "-";
    const char *req = c->blk && c->blk->log_line ? c->blk->log_line : "-";
    time_t now = conn_now();
    struct tm tm;
    int n;

    if (!c->ctx->access_log)
        return;
    if (c->peer_family)
        inet_ntop(c->peer_family, c->peer_addr, host, sizeof(host));
    if (c->bytes_out)
        snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)c->bytes_out);
    gmtime_r(&now, &tm);
    n = snprintf(line, sizeof(line), "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"%s\" %d %s\n",
                 host, tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, req, c->status, bytes);
    if (n > 0)
        c->ctx->access_log(c->ctx->access_log_arg, line,
                           (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* ---- responses ---- */

int conn_respond_head(struct conn *c, struct response_head *h)
{
    h->keep_alive = (c->rflags & CONN_REQ_KEEP) != 0;
    h->now = conn_now();
    c->status = (uint16_t)h->status;
    c->rflags |= CONN_REQ_HEAD_QUEUED;
    return response_head_write(&c->blk->out, h);
}

int conn_respond(struct conn *c, int status, const char *ctype, uint64_t length)
{
    struct response_head h = {.status = status, .content_type = ctype, .content_length = length};

    return conn_respond_head(c, &h);
}

void conn_request_done(struct conn *c)
{
    struct conn_block *b = c->blk;

    conn_log(c);
    c->flags |= CONN_FLAG_USED;
    if (!(c->rflags & CONN_REQ_KEEP))
        c->flags |= CONN_FLAG_CLOSE_AFTER;
    c->rflags = 0;
    c->body_kind = BODY_NONE;
    c->bytes_out = 0;
    c->status = 0;
    c->phase = CONN_TIMER_NONE;
    http_request_reset(&b->req);
    arena_reset(&b->arena);
    b->arg = NULL;
    b->log_line = NULL;
    b->tmp_name = NULL;
    b->cond = COND_REQUEST_NONE;
    c->state = CONN_STATE_HEAD;
}

void conn_respond_error(struct conn *c, int status, const char *allow)
{
    int soft = status == 403 || status == 404 || status == 405 || status == 409 || status == 412 ||
               status == 416;
    struct response_head h = {.status = status, .allow = allow, .now = conn_now()};

    if (conn_is_head(c))
        c->rflags |= CONN_REQ_HEAD;
    if (!soft || !(c->rflags & CONN_REQ_BODY_DONE))
        c->rflags &= (uint8_t)~CONN_REQ_KEEP;
    h.keep_alive = (c->rflags & CONN_REQ_KEEP) != 0;
    c->status = (uint16_t)status;
    /* The reserve kept free before each request leaves room for this. */
    if (response_error_write(&c->blk->out, &h, !(c->rflags & CONN_REQ_HEAD)) < 0)
        c->flags |= CONN_FLAG_CLOSE_AFTER;
    if (!soft || !(c->rflags & CONN_REQ_BODY_DONE))
        c->flags |= CONN_FLAG_LINGER; /* input we did not read may follow */
    conn_request_done(c);
}

/* A protocol error: answer and close. */
void conn_fail(struct conn *c, int status)
{
    c->rflags &= (uint8_t)~CONN_REQ_KEEP;
    conn_respond_error(c, status, NULL);
}

/* Copy the bytes a handler needs into the arena, so that the head can be
 * dropped from the input buffer before the body is read. */
static int conn_keep_arg(struct conn *c, const char *s, size_t len, int decode)
{
    struct conn_block *b = c->blk;
    char *p = arena_strndup(&b->arena, s, len);

    if (!p)
        return 500;
    if (decode) {
        long n = uri_pct_decode(p, p, len);
        if (n < 0)
            return 400;
        p[n] = '\0';
        len = (size_t)n;
    }
    b->arg = p;
    b->arg_len = len;
    return 0;
}

static const char *conn_user_agent(const struct conn *c, const char *buf, size_t *len)
{
    const struct http_header *h = http_request_header(&c->blk->req, buf, "user-agent", NULL);

    *len = h ? h->value.len : 0;
    return h ? buf + h->value.off : "";
}

/* 0 for a usable /files/ name; 400 for one holding a control character;
 * 404 for one that cannot name a file ("", "dir/"); 403 for one that tries
 * to leave the directory or is malformed. */
static int conn_file_name_status(const char *name, size_t len)
{
    const char *slash = memrchr(name, '/', len);
    const char *base = slash ? slash + 1 : name;
    size_t base_len = len - (size_t)(base - name);

    if (uri_name_has_control(name, len))
        return 400;
    if (base_len >= sizeof(FILES_TMP_PREFIX) - 1 &&
        memcmp(base, FILES_TMP_PREFIX, sizeof(FILES_TMP_PREFIX) - 1) == 0)
        return 403; /* the temporary files of uploads in progress */
    if (uri_file_name_ok(name, len))
        return 0;
    if ((len == 0 || name[len - 1] == '/') && memchr(name, '\0', len) == NULL &&
        (len == 0 || uri_file_name_ok(name, len - 1)))
        return 404;
    return 403;
}

/* Route the parsed request by its row (http/router.h): keep what the
 * handler needs; 0 to go on, or a status to answer right away. */
static int conn_route(struct conn *c, const char *buf)
{
    const struct http_request *r = &c->blk->req;
    const char *path, *ua;
    size_t path_len, ua_len;
    int err;

    if (r->method == HTTP_METHOD_UNKNOWN)
        return 501;
    if (uri_path(buf + r->target.off, r->target.len, &path, &path_len) < 0)
        return r->method == HTTP_METHOD_OPTIONS ? 404 : 400;
    struct route_match m = router_match(path, path_len);

    c->route = (uint8_t)m.id;
    if (!m.route)
        return 404;
    if (!(m.route->methods & ROUTE_METHOD(r->method)))
        return 405;
    switch (m.route->arg) {
    case ROUTE_ARG_NONE:
        return 0;
    case ROUTE_ARG_REST:
        return conn_keep_arg(c, m.rest, m.rest_len, 1);
    case ROUTE_ARG_USER_AGENT:
        ua = conn_user_agent(c, buf, &ua_len);
        return conn_keep_arg(c, ua, ua_len, 0);
    case ROUTE_ARG_FILE_NAME:
        if (c->ctx->dirfd < 0)
            return 404;
        err = conn_keep_arg(c, m.rest, m.rest_len, 1);
        return err ? err : conn_file_name_status(c->blk->arg, c->blk->arg_len);
    }
    return 404;
}

/* Answer a request whose body (if any) has been read, or is the handler's. */
static void conn_run_route(struct conn *c)
{
    router_route((enum route_id)c->route)->run(c);
}

void conn_handler_done(struct conn *c, long n)
{
    if (n < 0) {
        conn_fail(c, 500);
        return;
    }
    c->status = 200;
    c->bytes_out = (uint64_t)n;
    conn_request_done(c);
}

static void conn_dispatch(struct conn *c, size_t head_len)
{
    struct conn_block *b = c->blk;
    const char *buf = b->in + c->in_off;
    int status;

    conn_log_capture(c, buf + b->req.line.off, b->req.line.len);
    status = conn_analyze(c, buf);
    if (!status)
        status = conn_route(c, buf);
    c->in_off += (uint32_t)head_len;
    c->in_len -= (uint32_t)head_len;
    if (status) {
        conn_respond_error(c, status, status == 405 ? router_allow(c->route) : NULL);
        return;
    }
    if (router_route(c->route)->body_methods & ROUTE_METHOD(b->req.method)) {
        conn_run_route(c); /* e.g. an upload: 100 Continue once it can take the body */
    } else if (c->body_kind != BODY_NONE) {
        if (c->rflags & CONN_REQ_CONTINUE)
            response_continue_write(&b->out);
        c->state = CONN_STATE_BODY; /* read and drop it, then answer */
    } else {
        conn_run_route(c);
    }
}

/* ---- request bodies ---- */

/* A chunked body is decoded in place: the data of successive chunks is moved
 * together at in_off (wr_len bytes), the framing already decoded after it is
 * a gap of wr_tail bytes, and the input not yet decoded follows the gap. */
static enum conn_body_step conn_body_chunked(struct conn *c, int *status)
{
    char *in = c->blk->in + c->in_off;
    size_t consumed, data_off, data_len;

    while (c->body_kind == BODY_CHUNKED && c->wr_len < CONN_BODY_WRITE_MIN) {
        char *raw = in + c->wr_len + c->wr_tail;
        size_t raw_len = c->in_len - c->wr_len - c->wr_tail;

        switch (chunked_decode(&c->chunk, raw, raw_len, &consumed, &data_off, &data_len)) {
        case CHUNKED_NEED_MORE:
            /* Close the gap so the free space is all in one piece. */
            memmove(in + c->wr_len, raw + consumed, raw_len - consumed);
            c->in_len -= c->wr_tail + (uint32_t)consumed;
            c->wr_tail = 0;
            if (c->chunk.total + c->chunk.remaining > c->ctx->max_body) {
                *status = 413; /* refused from its size line, before the data */
                return BODY_STEP_ERROR;
            }
            return c->in_len < CONN_IN_CAP || c->wr_len == 0 ? BODY_STEP_NEED : BODY_STEP_DATA;
        case CHUNKED_DATA:
            memmove(in + c->wr_len, raw + data_off, data_len);
            c->wr_len += (uint32_t)data_len;
            c->wr_tail += (uint32_t)(consumed - data_len);
            if (c->chunk.total + c->chunk.remaining > c->ctx->max_body) {
                *status = 413;
                return BODY_STEP_ERROR;
            }
            break;
        case CHUNKED_DONE:
            c->wr_tail += (uint32_t)consumed;
            c->body_kind = BODY_NONE;
            break;
        case CHUNKED_ERROR:
            *status = 400;
            return BODY_STEP_ERROR;
        }
    }
    return BODY_STEP_DATA;
}

enum conn_body_step conn_body_peek(struct conn *c, const char **p, size_t *n, int *status)
{
    size_t have;

    if (c->body_kind == BODY_LENGTH) {
        if (c->body_left == 0)
            return BODY_STEP_DONE;
        have = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
        /* Receive more before writing unless the rest of the body, a large
         * enough piece or a full buffer is here: the write count must not
         * follow how the client (or the network) cut the body. */
        if (have == 0 ||
            (have < c->body_left && have < CONN_BODY_WRITE_MIN && c->in_len < CONN_IN_CAP))
            return BODY_STEP_NEED;
        *p = c->blk->in + c->in_off;
        *n = have;
        return BODY_STEP_DATA;
    }
    if (c->body_kind == BODY_CHUNKED) {
        enum conn_body_step step = conn_body_chunked(c, status);
        if (step != BODY_STEP_DATA)
            return step;
    }
    if (c->wr_len == 0) {
        /* The terminating chunk was the last thing decoded: skip it. */
        c->in_off += c->wr_tail;
        c->in_len -= c->wr_tail;
        c->wr_tail = 0;
        return BODY_STEP_DONE;
    }
    *p = c->blk->in + c->in_off;
    *n = c->wr_len;
    return BODY_STEP_DATA;
}

void conn_body_consume(struct conn *c, size_t n)
{
    c->in_off += (uint32_t)n;
    c->in_len -= (uint32_t)n;
    if (c->body_kind == BODY_LENGTH) {
        c->body_left -= n;
        return;
    }
    c->wr_len -= (uint32_t)n;
    if (c->wr_len == 0) {
        c->in_off += c->wr_tail;
        c->in_len -= c->wr_tail;
        c->wr_tail = 0;
    }
}

/* CONN_STATE_BODY: drop the body of a request that does not use it. */
static int conn_step_body(struct conn *c, struct conn_io *io)
{
    const char *p;
    size_t n;
    int status = 400;

    for (;;) {
        switch (conn_body_peek(c, &p, &n, &status)) {
        case BODY_STEP_DATA:
            conn_body_consume(c, n);
            continue;
        case BODY_STEP_NEED:
            return conn_recv_body(c, io);
        case BODY_STEP_DONE:
            c->rflags |= CONN_REQ_BODY_DONE;
            conn_run_route(c);
            return 0;
        case BODY_STEP_ERROR:
            conn_fail(c, status);
            return 0;
        }
    }
}

/* ---- the state machine ---- */

static void conn_io_timer(struct conn *c, struct conn_io *io, enum conn_timer t)
{
    io->timer = t;
    io->timer_restart = t == CONN_TIMER_IDLE || c->phase != t;
    c->phase = (uint8_t)t;
}

int conn_flush(struct conn *c, struct conn_io *io)
{
    struct outbuf *o;

    if (!conn_out_pending(c))
        return 0;
    o = &c->blk->out;
    io->op = CONN_OP_SEND;
    io->buf = o->data + c->out_sent;
    io->len = o->len - c->out_sent;
    io->timer = CONN_TIMER_IDLE;
    io->timer_restart = 1;
    return 1;
}

static int conn_recv(struct conn *c, struct conn_io *io, enum conn_timer t)
{
    io->op = CONN_OP_RECV;
    conn_io_timer(c, io, t);
    return 1;
}

int conn_recv_body(struct conn *c, struct conn_io *io)
{
    if (conn_flush(c, io)) /* e.g. 100 Continue */
        return 1;
    return conn_recv(c, io, CONN_TIMER_IDLE);
}

/* CONN_STATE_HEAD: answer every complete request in the input, then flush, then wait. */
static int conn_step_head(struct conn *c, struct conn_io *io)
{
    struct conn_block *b = c->blk;
    int n;

    if ((c->flags & CONN_FLAG_CLOSE_AFTER) || ((c->flags & CONN_FLAG_DRAINING) && c->in_len == 0)) {
        c->state = CONN_STATE_FINISH;
        return 0;
    }
    if (conn_is_idle(c)) {
        conn_release(c);
        return conn_recv(c, io, CONN_TIMER_IDLE);
    }
    if (b->out.cap - b->out.len < CONN_OUT_RESERVE && conn_flush(c, io))
        return 1;
    if (b->out.len == c->out_sent)
        b->out.len = c->out_sent = 0;
    if (c->in_len == 0)
        return conn_flush(c, io) || conn_recv(c, io, CONN_TIMER_IDLE);
    n = http_parse_request(&b->req, b->in + c->in_off, c->in_len);
    if (n == -2)
        return conn_flush(c, io) || conn_recv(c, io, CONN_TIMER_HEADER);
    if (n < 0) {
        conn_log_capture(c, NULL, 0);
        conn_fail(c, b->req.error);
        return 0;
    }
    c->phase = CONN_TIMER_NONE;
    conn_dispatch(c, (size_t)n);
    return 0;
}

static int conn_step_finish(struct conn *c, struct conn_io *io)
{
    if (conn_flush(c, io))
        return 1;
    if (!(c->flags & CONN_FLAG_SHUT) && ((c->flags & CONN_FLAG_LINGER) || c->in_len > 0)) {
        c->flags |= CONN_FLAG_SHUT;
        c->state = CONN_STATE_LINGER;
        c->body_left = 0;
        io->op = CONN_OP_SHUTDOWN;
        io->timer = CONN_TIMER_NONE;
        return 1;
    }
    c->state = CONN_STATE_CLOSE;
    return 0;
}

void conn_next(struct conn *c, struct conn_io *io)
{
    int filled = 0;

    io->timer = CONN_TIMER_NONE;
    io->timer_restart = 0;
    while (!filled) {
        switch ((enum conn_state)c->state) {
        case CONN_STATE_HEAD:
            filled = conn_step_head(c, io);
            break;
        case CONN_STATE_BODY:
            filled = conn_step_body(c, io);
            break;
        case CONN_STATE_FILE:
            filled = files_next(c, io);
            break;
        case CONN_STATE_FINISH:
            filled = conn_step_finish(c, io);
            break;
        case CONN_STATE_LINGER:
            filled = conn_recv(c, io, CONN_TIMER_LINGER);
            break;
        case CONN_STATE_CLEANUP:
            filled = files_cleanup_next(c, io);
            if (!filled)
                c->state = CONN_STATE_CLOSE;
            break;
        case CONN_STATE_CLOSE:
            io->op = CONN_OP_CLOSE;
            filled = 1;
            break;
        }
    }
    c->last_op = (uint8_t)io->op;
}

static void conn_on_recv(struct conn *c, long res)
{
    if (res > 0) {
        if (c->state == CONN_STATE_LINGER) {
            c->body_left += (uint64_t)res;
            if (c->body_left > CONN_LINGER_MAX)
                c->state = CONN_STATE_CLOSE;
            return;
        }
        c->in_len += (uint32_t)res;
        return;
    }
    /* EOF or error: nothing more will come. A request cut short is dropped. */
    if (c->state == CONN_STATE_LINGER || (c->state == CONN_STATE_HEAD && res == 0))
        c->state = CONN_STATE_CLOSE;
    else
        conn_abort(c);
}

void conn_done(struct conn *c, long res)
{
    switch ((enum conn_op)c->last_op) {
    case CONN_OP_RECV:
        conn_on_recv(c, res);
        break;
    case CONN_OP_SEND:
        if (res <= 0) {
            conn_abort(c);
            break;
        }
        c->out_sent += (uint32_t)res;
        if (c->out_sent == c->blk->out.len)
            c->blk->out.len = c->out_sent = 0;
        break;
    case CONN_OP_SHUTDOWN:
    case CONN_OP_CLOSE:
        break;
    default:
        files_done(c, res);
        break;
    }
}

void conn_timeout(struct conn *c)
{
    if (c->last_op != CONN_OP_RECV || c->state == CONN_STATE_LINGER) {
        conn_abort(c);
        return;
    }
    switch ((enum conn_state)c->state) {
    case CONN_STATE_HEAD:
        if (c->in_len == 0) {
            c->state = CONN_STATE_CLOSE; /* idle keep-alive: close quietly */
        } else {
            conn_log_capture(c, NULL, 0);
            conn_fail(c, 408);
        }
        break;
    case CONN_STATE_BODY:
        conn_fail(c, 408);
        break;
    case CONN_STATE_FILE:
        files_fail(c, 408);
        break;
    default:
        conn_abort(c);
        break;
    }
}

int conn_drain(struct conn *c)
{
    c->flags |= CONN_FLAG_DRAINING;
    if (c->last_op != CONN_OP_RECV || !conn_is_idle(c))
        return CONN_DRAIN_BUSY;
    return c->flags & CONN_FLAG_USED ? CONN_DRAIN_IDLE : CONN_DRAIN_FRESH;
}

void conn_abort(struct conn *c)
{
    /* A response whose head was queued but whose request is not done (a
     * file being sent) is still logged, with the bytes that went out.
     * conn_request_done() logs every finished request and clears rflags. */
    if (c->rflags & CONN_REQ_HEAD_QUEUED) {
        conn_log(c);
        c->rflags &= (uint8_t)~CONN_REQ_HEAD_QUEUED;
    }
    if (c->state != CONN_STATE_CLOSE)
        c->state = CONN_STATE_CLEANUP;
}
