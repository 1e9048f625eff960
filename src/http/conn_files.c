/* conn_files.c - GET and HEAD of /files/{name} (validators, conditional
 * requests, ranges) as a state machine that names its file I/O for the engine
 * to perform (see conn.h), and what the /files/ machines share. Uploads and
 * deletes are conn_upload.c.
 *
 * Names are resolved by the kernel beneath the directory fd opened at
 * start-up (openat2 + RESOLVE_BENEATH), so neither "..", an absolute symlink
 * nor a relative one can lead outside it: such a name fails with EXDEV (403). */
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
#include "http/mime.h"
#include "http/range.h"
#include "util/fmt.h"

#define FILES_SMALL_MAX (8 * 1024) /* read into the output buffer, one send */
/* ETag, Last-Modified, Accept-Ranges and a Content-Range. */
#define FILES_FIELDS_MAX 256
#define FILES_SPAN_MAX 48 /* "first-last" of a range, NUL included */
/* Room for the head of a response from the cache (validators, type). */
#define FILES_CACHED_HEAD_MAX 640
_Static_assert(FILES_CACHED_HEAD_MAX + FILE_CACHE_SIZE_MAX <= CONN_OUT_CAP,
               "a response from the file cache fits an empty output buffer");
/* A multipart/byteranges part head, or the closing delimiter. */
#define FILES_PART_HEAD_MAX 320

static int files_part_next(struct conn *c, struct conn_io *io);
static int files_cached_next(struct conn *c, struct conn_io *io);
static void files_get_finish(struct conn *c);

/* ---- GET and HEAD ---- */

void files_get_start(struct conn *c)
{
    struct conn_block *b = c->blk;
    struct file_cache_entry *e;

    b->nranges = 0;
    b->cached = NULL;
    c->state = CONN_STATE_FILE;
    c->step = FILES_GET_OPEN;
    /* Take the generation before looking at the file: an upload that ends
     * after this moment leaves whatever is cached from now stale. */
    b->cache_gen = file_cache_generation(b->arg, b->arg_len);
    /* A Range is sent from a descriptor: the cached one, else the file's. */
    if (c->ctx->file_cache && (e = file_cache_find(b->arg, b->arg_len)) &&
        (!b->cond.range || e->fd >= 0))
        c->step = file_cache_fresh(e, b->arg, b->arg_len, conn_now()) ? FILES_GET_CACHED
                                                                      : FILES_GET_RECHECK;
}

static int files_get_next(struct conn *c, struct conn_io *io)
{
    struct outbuf *o = &c->blk->out;
    int fd;

    switch ((enum files_step)c->step) {
    case FILES_GET_RECHECK:
        io->op = CONN_OP_STAT;
        io->dirfd = c->ctx->dirfd;
        io->path = c->blk->arg;
        io->flags = 0; /* the file GET would serve, through a symlink too */
        io->stx = &c->blk->stx;
        return 1;
    case FILES_GET_CACHED:
        return files_cached_next(c, io);
    case FILES_GET_SHED:
        if ((fd = file_cache_closing()) >= 0)
            return files_close_io(io, fd);
        c->step = FILES_GET_OPEN;
        /* fall through */
    case FILES_GET_OPEN:
        /* O_NONBLOCK: opening a FIFO must not block; it is refused below. */
        files_open_io(io, c->ctx->dirfd, c->blk->arg, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        return 1;
    case FILES_GET_STAT:
        io->op = CONN_OP_STAT;
        io->fd = c->file_fd;
        io->path = NULL;
        io->stx = &c->blk->stx;
        return 1;
    case FILES_GET_READ:
        io->op = CONN_OP_READ;
        io->fd = c->file_fd;
        io->buf = o->data + o->len;
        io->len = (size_t)c->file_left;
        io->off = c->file_off;
        return 1;
    case FILES_GET_SENDFILE:
        if (conn_flush(c, io))
            return 1;
        io->op = CONN_OP_SENDFILE;
        io->fd = c->file_fd;
        io->off = c->file_off;
        io->len = c->file_left < CONN_SENDFILE_MAX ? (size_t)c->file_left : CONN_SENDFILE_MAX;
        io->timer = CONN_TIMER_IDLE;
        io->timer_restart = 1;
        return 1;
    case FILES_GET_PART:
    case FILES_GET_PART_END:
        return files_part_next(c, io);
    case FILES_GET_CLOSE:
        if (c->blk->fd_entry) { /* the cache's descriptor: not ours to close */
            file_cache_release(c->blk->fd_entry);
            c->blk->fd_entry = NULL;
            c->file_fd = -1;
        }
        if (c->file_fd >= 0)
            return files_close_io(io, c->file_fd);
        /* Descriptors the cache let go of meanwhile, this response's own
         * entry's among them. */
        if ((fd = file_cache_closing()) >= 0)
            return files_close_io(io, fd);
        files_get_finish(c);
        return 0;
    default:
        conn_abort(c); /* a step without an operation: a bug, never a busy loop */
        return 0;
    }
}

/* The validator fields (ETag, Last-Modified, Accept-Ranges) and, when range
 * is given, Content-Range, in the arena, for the head h; -1 without room.
 * range: "a-b" or "*" (for 416). */
static int files_fields(struct conn *c, const struct cond_validators *v, const char *range,
                        struct response_head *h)
{
    static const char lm[] = "\r\nLast-Modified: ", ar[] = "\r\nAccept-Ranges: bytes\r\n",
                      cr[] = "Content-Range: bytes ";
    char *s = arena_alloc(&c->blk->arena, FILES_FIELDS_MAX), *p = s;
    char date[30];

    /* The longest: an ETag, a date, a range of two 20-digit numbers ("a-b",
     * at most FILES_SPAN_MAX - 1 bytes) and a 20-digit size. */
    _Static_assert(6 + COND_ETAG_MAX + sizeof(lm) + 29 + sizeof(ar) + sizeof(cr) + FILES_SPAN_MAX +
                           1 + 20 + 2 <=
                       FILES_FIELDS_MAX,
                   "FILES_FIELDS_MAX holds every validator field");

    if (!s)
        return -1;
    p = FMT_PUT_LIT(p, "ETag: ");
    p = fmt_put(p, v->etag, v->etag_len);
    p = FMT_PUT_LIT(p, lm);
    p = fmt_put(p, http_date_format(v->last_modified, date), 29);
    p = FMT_PUT_LIT(p, ar);
    if (range) {
        p = FMT_PUT_LIT(p, cr);
        p = fmt_put(p, range, strlen(range));
        *p++ = '/';
        p += fmt_u64(p, c->blk->stx.stx_size);
        p = FMT_PUT_LIT(p, "\r\n");
    }
    h->extra = s;
    h->extra_len = (size_t)(p - s);
    return 0;
}

/* Part i's head of a multipart/byteranges body into out (FILES_PART_HEAD_MAX
 * bytes); its length. */
static size_t files_part_head(const struct conn *c, unsigned i, char *out)
{
    const struct conn_block *b = c->blk;

    return (size_t)snprintf(out, FILES_PART_HEAD_MAX,
                            "\r\n--%s\r\nContent-Type: %s\r\n"
                            "Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
                            b->boundary, b->ctype, (unsigned long long)b->ranges[i].first,
                            (unsigned long long)b->ranges[i].last,
                            (unsigned long long)b->stx.stx_size);
}

static size_t files_part_end(const struct conn *c, char *out)
{
    return (size_t)snprintf(out, FILES_PART_HEAD_MAX, "\r\n--%s--\r\n", c->blk->boundary);
}

/* Send len bytes of the file from off: into the output buffer when small,
 * else by SENDFILE; nothing for HEAD. */
static void files_send_data(struct conn *c, uint64_t off, uint64_t len)
{
    struct outbuf *o = &c->blk->out;

    c->file_off = off;
    c->file_left = len;
    if (c->rflags & CONN_REQ_HEAD || len == 0)
        c->file_left = 0;
    if (c->file_left && c->blk->cached) {
        /* files_cached_next made room for the whole response. */
        memcpy(o->data + o->len, c->blk->cached + off, len);
        o->len += len;
        c->bytes_out += len;
        c->file_left = 0;
    }
    if (c->file_left == 0)
        c->step = FILES_GET_CLOSE;
    else if (len <= FILES_SMALL_MAX && len <= o->cap - o->len)
        c->step = FILES_GET_READ;
    else
        c->step = FILES_GET_SENDFILE;
}

/* The head of a multipart/byteranges response: its boundary, type and
 * exact length. */
static int files_multipart_head(struct conn *c, const struct cond_validators *v, unsigned n,
                                struct response_head *h)
{
    static _Thread_local uint64_t counter;
    struct conn_block *b = c->blk;
    char tmp[FILES_PART_HEAD_MAX];
    char *boundary = arena_alloc(&b->arena, 17), *type = arena_alloc(&b->arena, 64);

    if (!boundary || !type)
        return -1;
    /* A boundary the body cannot be expected to contain: 64 bits that
     * differ per response and per file version. */
    uint64_t x = (++counter * 0x9e3779b97f4a7c15u) ^ ((uint64_t)b->stx.stx_ino << 32) ^
                 (uint64_t)b->stx.stx_mtime.tv_nsec ^ (uint64_t)(uintptr_t)c;
    snprintf(boundary, 17, "%016llx", (unsigned long long)x);
    snprintf(type, 64, "multipart/byteranges; boundary=%s", boundary);
    b->boundary = boundary;
    b->nranges = (uint8_t)n;
    b->range_i = 0;
    h->content_type = type;
    h->content_length = files_part_end(c, tmp);
    for (unsigned i = 0; i < n; i++)
        h->content_length +=
            files_part_head(c, i, tmp) + b->ranges[i].last - b->ranges[i].first + 1;
    return files_fields(c, v, NULL, h);
}

/* Queue the head h whose fields were built with result err (0, or -1
 * without room). false when it could not be: the file step then answers
 * 500 instead. */
static bool files_queue_head(struct conn *c, struct response_head *h, int err)
{
    if (err == 0 && conn_respond_head(c, h) == 0)
        return true;
    c->rflags &= (uint8_t)~CONN_REQ_HEAD_QUEUED;
    c->status = 500;
    return false;
}

/* 200, 206 (one range, or several as multipart/byteranges) or 416, as the
 * Range field (and If-Range) ask. */
static void files_respond_file(struct conn *c, const struct cond_validators *v)
{
    struct conn_block *b = c->blk;
    uint64_t size = b->stx.stx_size;
    struct response_head h = {.status = 200};
    enum range_result rr = RANGE_IGNORE;
    unsigned n = 0;
    char span[FILES_SPAN_MAX], text[RESPONSE_ERROR_TEXT_MAX];
    int err;

    b->ctype = mime_type_of(c->ctx->mime, b->arg, b->arg_len, "application/octet-stream");
    h.content_type = b->ctype;
    if (b->cond.range && cond_if_range_ok(&b->cond, v)) {
        b->ranges = arena_alloc(&b->arena, RANGE_MAX * sizeof(*b->ranges));
        if (b->ranges)
            rr = range_parse(b->cond.range, b->cond.range_len, size, b->ranges, &n);
    }
    if (rr == RANGE_UNSATISFIABLE) {
        h.status = 416;
        h.content_type = "text/plain"; /* the error text, as for every error */
        h.content_length = response_error_text(416, text);
        err = files_fields(c, v, "*", &h);
    } else if (rr == RANGE_OK && n == 1) {
        h.status = 206;
        h.content_length = b->ranges[0].last - b->ranges[0].first + 1;
        snprintf(span, sizeof(span), "%llu-%llu", (unsigned long long)b->ranges[0].first,
                 (unsigned long long)b->ranges[0].last);
        err = files_fields(c, v, span, &h);
    } else if (rr == RANGE_OK) {
        h.status = 206;
        err = files_multipart_head(c, v, n, &h);
    } else {
        h.content_length = size;
        err = files_fields(c, v, NULL, &h);
    }
    if (!files_queue_head(c, &h, err))
        return;
    if (h.status == 416) {
        if (c->rflags & CONN_REQ_HEAD)
            return;
        if (outbuf_append(&b->out, text, h.content_length) == 0)
            c->bytes_out += h.content_length;
        else
            conn_abort(c); /* the head promised it: never a short body */
        return;
    }
    if (h.status == 206 && n > 1)
        c->step = c->rflags & CONN_REQ_HEAD ? FILES_GET_CLOSE : FILES_GET_PART;
    else if (h.status == 206)
        files_send_data(c, b->ranges[0].first, h.content_length);
    else
        files_send_data(c, 0, size);
}

static void files_get_stat_done(struct conn *c, long res)
{
    int status = res < 0 ? 500 : !S_ISREG(c->blk->stx.stx_mode) ? 404 : 0;
    struct response_head h = {.status = 304};
    struct cond_validators v;

    c->step = FILES_GET_CLOSE;
    if (status) {
        c->status = (uint16_t)status;
        return;
    }
    files_validators(c, &v);
    switch (cond_evaluate(&c->blk->cond, &v, true)) {
    case COND_PRECONDITION_FAILED:
        c->status = 412;
        return;
    case COND_NOT_MODIFIED:
        files_queue_head(c, &h, files_fields(c, &v, NULL, &h));
        return;
    case COND_PROCEED:
        files_respond_file(c, &v);
        return;
    }
}

/* The data of a part (or of the whole response) is sent: on to the next
 * part, the closing delimiter, or the end. */
static void files_data_done(struct conn *c)
{
    struct conn_block *b = c->blk;

    if (b->nranges > 1)
        c->step = ++b->range_i < b->nranges ? FILES_GET_PART : FILES_GET_PART_END;
    else
        c->step = FILES_GET_CLOSE;
}

/* Append a multipart piece (a part head, or the end) once there is room. */
static int files_part_next(struct conn *c, struct conn_io *io)
{
    struct conn_block *b = c->blk;
    struct outbuf *o = &b->out;
    size_t n;

    if (o->cap - o->len < FILES_PART_HEAD_MAX && conn_flush(c, io))
        return 1;
    if (c->step == FILES_GET_PART_END) {
        n = files_part_end(c, o->data + o->len);
        c->step = FILES_GET_CLOSE;
    } else {
        n = files_part_head(c, b->range_i, o->data + o->len);
        files_send_data(c, b->ranges[b->range_i].first,
                        b->ranges[b->range_i].last - b->ranges[b->range_i].first + 1);
    }
    o->len += n;
    c->bytes_out += n;
    return 0;
}

/* The response is queued (or its error decided): log it and go on. */
static void files_get_finish(struct conn *c)
{
    if (!(c->rflags & CONN_REQ_HEAD_QUEUED)) {
        conn_respond_error(c, c->status, NULL);
        return;
    }
    conn_request_done(c);
}

/* A whole small file was just read into the output buffer: keep it. */
static void files_cache_keep(struct conn *c)
{
    struct conn_block *b = c->blk;
    uint64_t size = b->stx.stx_size;

    if (c->ctx->file_cache && c->file_off == size && size <= b->out.len)
        file_cache_insert(b->arg, b->arg_len, &b->stx, b->out.data + b->out.len - size, -1,
                          b->cache_gen, conn_now(), c->ctx->file_cache);
}

/* The file just opened and STATed: keep its validators, and its descriptor
 * for the next requests (this one then sends from the cache's hold of it);
 * unless the whole small file is about to be read, which files_cache_keep
 * then keeps in one entry. */
static void files_cache_fd(struct conn *c)
{
    struct conn_block *b = c->blk;
    struct file_cache_entry *e;

    if (!c->ctx->file_cache || (c->step == FILES_GET_READ && c->status == 200))
        return;
    e = file_cache_insert(b->arg, b->arg_len, &b->stx, NULL, c->file_fd, b->cache_gen, conn_now(),
                          c->ctx->file_cache);
    if (e && e->fd == c->file_fd) {
        file_cache_hold(e);
        b->fd_entry = e;
    }
}

/* The STAT of the name is back: serve the cached copy if it is still the
 * file, else forget it and open the file. */
static void files_recheck_done(struct conn *c, long res)
{
    struct conn_block *b = c->blk;
    struct file_cache_entry *e = file_cache_find(b->arg, b->arg_len);

    if (res == 0 && e && file_cache_same(e, &b->stx)) {
        file_cache_checked(e, b->cache_gen, conn_now());
        c->step = FILES_GET_CACHED;
        return;
    }
    file_cache_drop(b->arg, b->arg_len);
    c->step = FILES_GET_OPEN;
}

/* Answer from the cache, without a file operation. The entry is looked up
 * again here: a flush may have let other connections of this thread evict
 * it. Its bytes are copied before this call returns. */
static int files_cached_next(struct conn *c, struct conn_io *io)
{
    struct conn_block *b = c->blk;
    struct outbuf *o = &b->out;
    struct file_cache_entry *e = file_cache_find(b->arg, b->arg_len);

    if (!e) {
        c->step = FILES_GET_OPEN;
        return 0;
    }
    /* A flush may have taken long: trust the entry only within the second
     * it was checked in, as everywhere. */
    if (!file_cache_fresh(e, b->arg, b->arg_len, conn_now())) {
        c->step = FILES_GET_RECHECK;
        return 0;
    }
    /* Room for all of the response; once flushed, an empty buffer has it. */
    if (o->cap - o->len < FILES_CACHED_HEAD_MAX + (e->data ? e->size : 0) && conn_flush(c, io))
        return 1;
    b->stx = (struct statx){.stx_mode = S_IFREG, .stx_ino = e->ino, .stx_size = e->size};
    b->stx.stx_mtime.tv_sec = e->mtime_sec;
    b->stx.stx_mtime.tv_nsec = e->mtime_nsec;
    if (e->fd >= 0) {
        /* Sent from the cached descriptor, held until FILES_GET_CLOSE. */
        file_cache_hold(e);
        b->fd_entry = e;
        c->file_fd = e->fd;
    } else if (!e->data && !(c->rflags & CONN_REQ_HEAD)) {
        /* Validators only: enough unless the answer has a body. */
        struct cond_validators v;
        files_validators(c, &v);
        if (cond_evaluate(&b->cond, &v, true) == COND_PROCEED) {
            c->step = FILES_GET_OPEN;
            return 0;
        }
    }
    b->cached = e->data;
    files_get_stat_done(c, 0);
    b->cached = NULL;
    return 0;
}

static void files_get_done(struct conn *c, long res)
{
    switch ((enum files_step)c->step) {
    case FILES_GET_OPEN:
        if ((res == -EMFILE || res == -ENFILE) && file_cache_shed() > 0) {
            c->step = FILES_GET_SHED; /* out of descriptors: the cache's go first */
            return;
        }
        if (res < 0) {
            /* Answered at FILES_GET_CLOSE, which first closes what the
             * cache let go of (a recheck that found the file gone). */
            c->status = (uint16_t)files_status_for_open((int)res);
            c->step = FILES_GET_CLOSE;
            return;
        }
        c->file_fd = (int)res;
        c->step = FILES_GET_STAT;
        return;
    case FILES_GET_STAT:
        files_get_stat_done(c, res);
        if (res == 0)
            files_cache_fd(c);
        return;
    case FILES_GET_READ:
    case FILES_GET_SENDFILE:
        /* The head promised file_left more bytes: a file that shrank or
         * fails now can only be cut short by closing the connection. */
        if (res <= 0) {
            conn_abort(c);
            return;
        }
        if (c->step == FILES_GET_READ)
            c->blk->out.len += (size_t)res;
        c->file_off += (uint64_t)res;
        c->file_left -= (uint64_t)res;
        c->bytes_out += (uint64_t)res;
        if (c->file_left == 0 && c->step == FILES_GET_READ && c->status == 200)
            files_cache_keep(c);
        if (c->file_left == 0)
            files_data_done(c);
        return;
    case FILES_GET_RECHECK:
        files_recheck_done(c, res);
        return;
    case FILES_GET_CLOSE:
        c->file_fd = -1; /* the next step closes more or finishes */
        return;
    default: /* FILES_GET_SHED: a close, whatever it reports */
        return;
    }
}

/* ---- shared ---- */

int files_status_for_open(int err)
{
    switch (-err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case EISDIR:
    case ENXIO:
        return 404;
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EPERM:
        return 403;
    case ENOSPC:
    case EDQUOT:
        return 507;
    case EMFILE: /* out of descriptors or memory: a passing state, not a fault */
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

int files_close_io(struct conn_io *io, int fd)
{
    io->op = CONN_OP_CLOSE_FILE;
    io->fd = fd;
    return 1;
}

void files_open_io(struct conn_io *io, int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
    io->op = CONN_OP_OPEN;
    io->dirfd = dirfd;
    io->path = path;
    io->how = (struct open_how){
        .flags = flags | O_CLOEXEC,
        .mode = mode,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
}

/* The validators of the file in c->blk->stx. */
void files_validators(struct conn *c, struct cond_validators *v)
{
    const struct statx *stx = &c->blk->stx;

    cond_validators_of(v, stx->stx_ino, stx->stx_size, stx->stx_mtime.tv_sec,
                       stx->stx_mtime.tv_nsec, conn_now());
}

int files_next(struct conn *c, struct conn_io *io)
{
    return c->step >= FILES_PUT_OPEN_DIR ? files_put_next(c, io) : files_get_next(c, io);
}

void files_done(struct conn *c, long res)
{
    /* Clean-up ops (close, unlink) have no result worth acting on. */
    if (c->state == CONN_STATE_CLEANUP ||
        (c->state == CONN_STATE_FILE && c->step == FILES_PUT_FAIL))
        return;
    if (c->step >= FILES_PUT_OPEN_DIR)
        files_put_done(c, res);
    else
        files_get_done(c, res);
}

int files_cleanup_next(struct conn *c, struct conn_io *io)
{
    int fd;

    if (c->blk && c->blk->fd_entry) {
        file_cache_release(c->blk->fd_entry);
        c->blk->fd_entry = NULL;
        c->file_fd = -1;
    }
    if ((fd = file_cache_closing()) >= 0)
        return files_close_io(io, fd);
    if (c->file_fd >= 0) {
        files_close_io(io, c->file_fd);
        c->file_fd = -1; /* close releases the fd whatever it reports */
        return 1;
    }
    if (c->flags & CONN_FLAG_TMP) {
        io->op = CONN_OP_UNLINK;
        io->dirfd = c->dir_fd;
        io->path = c->blk->tmp_name;
        c->flags &= (uint8_t)~CONN_FLAG_TMP; /* one attempt: a failure cannot be helped here */
        return 1;
    }
    if (c->dir_fd >= 0) {
        files_close_io(io, c->dir_fd);
        c->dir_fd = -1;
        return 1;
    }
    return 0;
}
