/* conn_internal.h - what conn.c shares with the handlers that drive their own
 * I/O (http/conn_files.c). Not for engines: they use conn.h only. */
#ifndef RINGHTTPD_CONN_INTERNAL_H
#define RINGHTTPD_CONN_INTERNAL_H

#include "http/cond.h"
#include "http/conn.h"
#include "http/parse.h"
#include "http/range.h"
#include "http/response.h"
#include "util/arena.h"

/* Sizes of a connection's buffers while a request is in progress. The input
 * buffer holds a whole head (8 KiB) plus what follows it; the output buffer
 * coalesces the responses to pipelined requests; the scratch arena holds the
 * per-request strings (decoded path or User-Agent, gzip output, log line). */
#define CONN_IN_CAP (12 * 1024)
#define CONN_OUT_CAP (16 * 1024)
#define CONN_SCRATCH_CAP (20 * 1024)
/* Free output space needed before answering the next request: the largest
 * in-memory response (an 8 KiB echo, gzip expansion included) and its head. */
#define CONN_OUT_RESERVE (HTTP_MAX_HEAD + 1024)
/* Smallest piece of a request body handed out before its end (see
 * conn_body_peek). */
#define CONN_BODY_WRITE_MIN (8 * 1024)

/* Upload temporary files are named FILES_TMP_PREFIX + 16 hex digits. Names
 * in that namespace are refused (403): a client must not read another's
 * upload in progress, nor rename a file over it. */
#define FILES_TMP_PREFIX ".ringhttpd-upload-"

struct file_cache_entry;

struct conn_block {
    struct conn_block *next_free;
    struct http_request req;
    struct arena arena;
    struct outbuf out;
    const char *arg; /* decoded echo text / User-Agent / file name */
    size_t arg_len;
    const char *log_line;              /* request line for the access log, or NULL */
    char *tmp_name;                    /* upload temp file (in arena) */
    const char *base;                  /* upload: last component of the name */
    struct statx stx;                  /* STAT result */
    struct cond_request cond;          /* conditional and Range fields (conn_head.c) */
    struct byte_range *ranges;         /* GET with Range: the parts (in arena) */
    const char *boundary;              /* multipart/byteranges: its boundary (in arena) */
    const char *ctype;                 /* the file's Content-Type */
    const char *cached;                /* GET from the file cache: its bytes, else NULL */
    struct file_cache_entry *fd_entry; /* GET: the cache entry file_fd is held from */
    uint32_t cache_gen;                /* the name's cache generation at the start */
    uint8_t nranges, range_i;          /* how many parts; the one being sent */
    char in[CONN_IN_CAP];
    char out_mem[CONN_OUT_CAP];
    char scratch[CONN_SCRATCH_CAP];
};

enum conn_state {
    CONN_STATE_HEAD,    /* reading and answering requests */
    CONN_STATE_BODY,    /* discarding a body before answering */
    CONN_STATE_FILE,    /* http/conn_files.c drives (c->step) */
    CONN_STATE_FINISH,  /* flush, then close or linger */
    CONN_STATE_LINGER,  /* FIN sent; draining input before close */
    CONN_STATE_CLEANUP, /* aborted: releasing files, then close */
    CONN_STATE_CLOSE,
};

enum conn_flag {
    CONN_FLAG_CLOSE_AFTER = 1 << 0, /* the queued response is the last */
    CONN_FLAG_LINGER = 1 << 1,      /* unread input may follow: drain before close */
    CONN_FLAG_DRAINING = 1 << 2,    /* graceful shutdown */
    CONN_FLAG_SHUT = 1 << 3,        /* SHUT_WR done */
    CONN_FLAG_TMP = 1 << 4,         /* upload temp file exists */
    CONN_FLAG_USED = 1 << 5,        /* a request was answered on it */
};

enum conn_rflag {
    CONN_REQ_HEAD = 1 << 0,        /* HEAD: no body in the response */
    CONN_REQ_KEEP = 1 << 1,        /* the connection may persist after this request */
    CONN_REQ_GZIP = 1 << 2,        /* the client accepts gzip */
    CONN_REQ_CONTINUE = 1 << 3,    /* Expect: 100-continue */
    CONN_REQ_BODY_DONE = 1 << 4,   /* the request body (if any) is fully read */
    CONN_REQ_HEAD_QUEUED = 1 << 5, /* conn_respond() queued the response head */
};

enum conn_body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

enum conn_body_step { BODY_STEP_DATA, BODY_STEP_NEED, BODY_STEP_DONE, BODY_STEP_ERROR };

/* Body bytes to use from the input buffer: DATA with *p and *n, NEED (receive
 * more), DONE, or ERROR with *status (400, 413). DATA comes in pieces of at
 * least CONN_BODY_WRITE_MIN bytes unless the body ends or the input buffer is
 * full, however small the pieces (receives, chunks) the body arrived in, so
 * an upload costs one file write per piece whatever the client does. */
enum conn_body_step conn_body_peek(struct conn *c, const char **p, size_t *n, int *status);

/* n body bytes from the last DATA have been used. */
void conn_body_consume(struct conn *c, size_t n);

/* Fill io to flush the output buffer (returns 1), or return 0 when empty. */
int conn_flush(struct conn *c, struct conn_io *io);

/* Fill io with a RECV for body bytes. Returns 1. */
int conn_recv_body(struct conn *c, struct conn_io *io);

/* Queue a response head (status, Content-Type, Content-Length) that keeps
 * the connection as CONN_REQ_KEEP says. Returns 0, or -1 without room. */
int conn_respond(struct conn *c, int status, const char *ctype, uint64_t length);

/* The same for a head with more fields: h's keep_alive and now are set. */
int conn_respond_head(struct conn *c, struct response_head *h);

/* Answer an error status. 403/404/405/409/412/416 to a request whose body
 * was read keep the connection; everything else closes it (with a lingering
 * drain).
 * allow: the Allow value for 405, else NULL. */
void conn_respond_error(struct conn *c, int status, const char *allow);

/* Answer and close: a protocol error, or a handler that failed. */
void conn_fail(struct conn *c, int status);

/* An in-memory handler queued its whole response: n is the body length
 * (for the log), or -1 when it did not fit (500). */
void conn_handler_done(struct conn *c, long n);

/* The response to the current request is fully queued: log it and get ready
 * for the next request. */
void conn_request_done(struct conn *c);

/* The second conn_set_now() last gave on this thread. */
time_t conn_now(void);

/* conn_head.c: set framing and per-request flags (CONN_REQ_*) from the parsed
 * head in c->blk->req over buf. Returns 0, or the status to answer (400,
 * 413, 417, 501). */
int conn_analyze(struct conn *c, const char *buf);

/* What arrived of the request line, unparsed: after the empty lines a
 * client may send first (RFC 9112 2.2), up to CR, LF or the end. */
const char *conn_raw_line(const struct conn *c, size_t *len);

/* Whether the request is a HEAD (its answer has no body), also when the
 * request line was not parsed, as far as what arrived of it says. */
bool conn_is_head(const struct conn *c);

#endif
