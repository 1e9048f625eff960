/* test_conn.c - the connection state machine driven by a fake engine: input
 * comes from a string cut at every possible point, sends can be short, file
 * operations are real syscalls in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "engine/file_ops.h"
#include "http/conn.h"
#include "http/file_cache.h"

struct drive {
    const char *in;
    size_t in_len, pos;
    size_t chunk;       /* bytes per RECV at most */
    size_t send_max;    /* bytes per SEND at most (short sends) */
    int eof_hangs;      /* 1: when input runs out, time out instead of EOF */
    unsigned head_mask; /* bit i: the i-th response answers a HEAD */
    char out[1 << 21];
    size_t out_len;
    int sends, closed, shut, timeouts;
    int writes;             /* WRITE ops (upload pieces) */
    int file_ops;           /* OPEN, STAT and READ ops */
    int opens, closes;      /* OPEN and CLOSE_FILE ops */
    int idle_without_block; /* saw a RECV with no block held */
};

static int test_dirfd = -1;
static char test_dir[64];
static char log_buf[4096];
static size_t log_len;

static void test_log(void *arg, const char *line, size_t len)
{
    (void)arg;
    if (log_len + len < sizeof(log_buf)) {
        memcpy(log_buf + log_len, line, len);
        log_len += len;
    }
}

static struct http_ctx ctx = {.max_body = 1 << 20, .access_log = test_log};

static long sys_res(long r)
{
    return r < 0 ? -errno : r;
}

static void drive_op(struct conn *c, struct drive *d, const struct conn_io *io)
{
    size_t n;
    void *p;

    if (io->op == CONN_OP_OPEN || io->op == CONN_OP_STAT || io->op == CONN_OP_READ)
        d->file_ops++;
    d->opens += io->op == CONN_OP_OPEN;
    d->closes += io->op == CONN_OP_CLOSE_FILE;
    switch (io->op) {
    case CONN_OP_RECV:
        if (d->pos == d->in_len) {
            if (d->eof_hangs) {
                d->timeouts++;
                conn_timeout(c);
                return;
            }
            conn_done(c, 0);
            return;
        }
        if (!c->blk)
            d->idle_without_block++;
        p = conn_recv_space(c, &n);
        CHECK(p != NULL && n > 0);
        if (n > d->chunk)
            n = d->chunk;
        if (n > d->in_len - d->pos)
            n = d->in_len - d->pos;
        memcpy(p, d->in + d->pos, n);
        d->pos += n;
        conn_done(c, (long)n);
        return;
    case CONN_OP_SEND:
        n = io->len < d->send_max ? io->len : d->send_max;
        CHECK(d->out_len + n <= sizeof(d->out));
        memcpy(d->out + d->out_len, io->buf, n);
        d->out_len += n;
        d->sends++;
        conn_done(c, (long)n);
        return;
    case CONN_OP_SENDFILE:
        n = io->len < d->send_max ? io->len : d->send_max;
        CHECK(d->out_len + n <= sizeof(d->out));
        conn_done(c, sys_res(pread(io->fd, d->out + d->out_len, n, (off_t)io->off)));
        if (n)
            d->out_len += n;
        return;
    case CONN_OP_WRITE:
        d->writes++;
        conn_done(c, file_op_perform(io));
        return;
    case CONN_OP_SHUTDOWN:
        d->shut = 1;
        conn_done(c, 0);
        return;
    case CONN_OP_CLOSE:
        return;
    default:
        conn_done(c, file_op_perform(io));
        return;
    }
}

/* Run a connection over d's input until it closes. */
static void drive(struct drive *d)
{
    struct conn c;
    struct conn_io io;

    d->pos = d->out_len = 0;
    d->sends = d->closed = d->shut = d->timeouts = d->idle_without_block = d->writes = 0;
    d->file_ops = d->opens = d->closes = 0;
    if (!d->chunk)
        d->chunk = SIZE_MAX;
    if (!d->send_max)
        d->send_max = SIZE_MAX;
    conn_init(&c, &ctx, NULL);
    for (int guard = 0; guard < 1000000; guard++) {
        conn_next(&c, &io);
        if (io.op == CONN_OP_CLOSE) {
            d->closed = 1;
            conn_release(&c);
            return;
        }
        drive_op(&c, d, &io);
    }
    CHECK_FAIL_("connection did not finish");
}

/* The i-th response's status, and its body in *body (NUL-terminated copy). */
static int response_at(const struct drive *d, int index, char *body, size_t cap, char *head,
                       size_t head_cap)
{
    const char *p = d->out, *end = d->out + d->out_len;

    for (int i = 0;; i++) {
        const char *h_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!h_end)
            return -1;
        int status = atoi(p + 9);
        size_t hl = (size_t)(h_end + 4 - p);
        const char *cl = memmem(p, hl, "Content-Length: ", 16);
        size_t blen = status == 100 || !cl ? 0 : strtoul(cl + 16, NULL, 10);
        if (d->head_mask & (1u << i))
            blen = 0; /* the answer to a HEAD request: no body */
        if (i == index) {
            CHECK(blen < cap && hl < head_cap);
            memcpy(body, h_end + 4, blen);
            body[blen] = '\0';
            memcpy(head, p, hl);
            head[hl] = '\0';
            return status;
        }
        p = h_end + 4 + blen;
    }
}

static int count_dir_entries(void)
{
    DIR *dir = opendir(test_dir);
    struct dirent *e;
    int n = 0;

    CHECK(dir);
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.' || strncmp(e->d_name, ".ringhttpd", 10) == 0)
            n++;
    closedir(dir);
    return n;
}

static void read_file(const char *name, char *buf, size_t cap)
{
    int fd = openat(test_dirfd, name, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    CHECK(n >= 0);
    buf[n] = '\0';
    close(fd);
}

static void test_root_every_split(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct drive d;
    char body[64], head[512];

    for (size_t chunk = 1; chunk <= sizeof(req); chunk++) {
        d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .chunk = chunk};
        drive(&d);
        CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 200);
        CHECK(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0);
        CHECK(strstr(head, "\r\nContent-Length: 0\r\n"));
        CHECK(strstr(head, "\r\nConnection: keep-alive\r\n"));
        CHECK(strstr(head, "\r\nDate: "));
        CHECK(d.closed && !d.shut);
        CHECK(d.idle_without_block >= 1); /* the wait for the first byte holds no buffer */
    }
}

static void test_pipelined_batch_one_send(void)
{
    static const char req[] = "GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent: ua/1\r\n\r\n"
                              "HEAD /echo/three HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /echo/five HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                              "GET /echo/never HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct drive d;
    char body[64], head[512];

    d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .head_mask = 1u << 2};
    drive(&d);
    CHECK_INT_EQ(d.sends, 1);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 200);
    CHECK_STR_EQ(body, "one");
    CHECK(strstr(head, "Content-Type: text/plain\r\n") && strstr(head, "Vary: Accept-Encoding"));
    CHECK_INT_EQ(response_at(&d, 1, body, sizeof(body), head, sizeof(head)), 200);
    CHECK_INT_EQ(response_at(&d, 3, body, sizeof(body), head, sizeof(head)), 404);
    CHECK(strstr(head, "Connection: keep-alive"));
    CHECK_INT_EQ(response_at(&d, 4, body, sizeof(body), head, sizeof(head)), 200);
    CHECK(strstr(head, "Connection: close"));
    CHECK(response_at(&d, 5, body, sizeof(body), head, sizeof(head)) < 0);
    CHECK(d.closed);
}

static void test_short_sends(void)
{
    static const char req[] = "GET /echo/abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct drive d;
    char body[64], head[512];

    d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .send_max = 7};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 200);
    CHECK_STR_EQ(body, "abcdefghijklmnopqrstuvwxyz");
}

static void test_bad_request_closes(void)
{
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct drive d;
    char body[64], head[512];

    d = (struct drive){.in = req, .in_len = sizeof(req) - 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 400);
    CHECK(strstr(head, "Connection: close") && strstr(head, "Content-Length: 16\r\n"));
    CHECK(strstr(head, "Content-Type: text/plain\r\n"));
    CHECK_STR_EQ(body, "400 Bad Request\n"); /* what curl shows */
    CHECK(response_at(&d, 1, body, sizeof(body), head, sizeof(head)) < 0);
    CHECK(d.shut && d.closed);
}

static void test_header_timeout_408(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x";
    static struct drive d;
    char body[64], head[512];

    d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .eof_hangs = 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 408);
    CHECK(d.closed);

    /* Idle: no bytes at all, the timeout closes without a response. */
    d = (struct drive){.in = "", .in_len = 0, .eof_hangs = 1};
    drive(&d);
    CHECK_INT_EQ(d.out_len, 0);
    CHECK(d.closed);
}

static void test_upload_every_split(void)
{
    static const char req[] =
        "POST /files/up.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Expect: 100-continue\r\n\r\n"
        "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"
        "GET /files/up.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    static struct drive d;
    char body[64], head[512], file[64];

    for (size_t chunk = 1; chunk <= sizeof(req); chunk += (chunk < 40 ? 1 : 13)) {
        d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .chunk = chunk};
        drive(&d);
        CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 100);
        CHECK_INT_EQ(response_at(&d, 1, body, sizeof(body), head, sizeof(head)), 201);
        CHECK(strncmp(head, "HTTP/1.1 201 Created\r\n", 22) == 0);
        CHECK_INT_EQ(response_at(&d, 2, body, sizeof(body), head, sizeof(head)), 200);
        CHECK_STR_EQ(body, "hello, world");
        CHECK(strstr(head, "Content-Type: application/octet-stream"));
        read_file("up.txt", file, sizeof(file));
        CHECK_STR_EQ(file, "hello, world");
        CHECK_INT_EQ(count_dir_entries(), 1);
    }
}

/* A 64 KiB body that arrives one byte per receive, and one in 1-byte chunks,
 * is written in pieces of at least CONN_BODY_WRITE_MIN (8 KiB), not one write
 * per receive or per chunk: a client must not set the server's cost per byte. */
static void test_upload_writes_coalesced(void)
{
    enum { BODY = 64 * 1024 };
    static char req[16 * BODY], file[BODY + 1];
    static struct drive d;
    static char data[BODY];
    char body[64], head[512];
    size_t n;

    for (size_t i = 0; i < BODY; i++)
        data[i] = (char)('a' + i % 26);
    for (int chunked = 0; chunked <= 1; chunked++) {
        n = (size_t)snprintf(
            req, sizeof(req), "POST /files/coalesced.bin HTTP/1.1\r\nHost: x\r\n%s\r\n",
            chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 65536\r\n");
        for (size_t i = 0; i < BODY; i++) {
            if (chunked)
                n += (size_t)snprintf(req + n, sizeof(req) - n, "1\r\n%c\r\n", data[i]);
            else
                req[n++] = data[i];
        }
        if (chunked)
            n += (size_t)snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");
        d = (struct drive){.in = req, .in_len = n, .chunk = 1};
        drive(&d);
        CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 201);
        CHECK(d.writes >= 1 && d.writes <= BODY / (8 * 1024) + 1);
        int fd = openat(test_dirfd, "coalesced.bin", O_RDONLY);
        CHECK(fd >= 0);
        CHECK_INT_EQ(read(fd, file, sizeof(file)), BODY);
        close(fd);
        CHECK(memcmp(file, data, BODY) == 0);
        CHECK(unlinkat(test_dirfd, "coalesced.bin", 0) == 0);
    }
}

static void test_upload_refused_leaves_old_file(void)
{
    static const char too_big[] =
        "POST /files/up.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "200000\r\nxxxxxxxx";
    static const char cut[] =
        "POST /files/up.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort";
    static const char bad[] =
        "POST /files/up.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\nzz\r\n";
    static struct drive d;
    char body[64], head[512], file[64];

    ctx.max_body = 1000;
    d = (struct drive){.in = too_big, .in_len = sizeof(too_big) - 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 413);
    ctx.max_body = 1 << 20;

    d = (struct drive){.in = cut, .in_len = sizeof(cut) - 1};
    drive(&d);
    CHECK_INT_EQ(d.out_len, 0); /* the client went away: nobody to answer */

    d = (struct drive){.in = bad, .in_len = sizeof(bad) - 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 400);

    d = (struct drive){.in = cut, .in_len = sizeof(cut) - 1, .eof_hangs = 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 408);

    read_file("up.txt", file, sizeof(file));
    CHECK_STR_EQ(file, "hello, world");
    CHECK_INT_EQ(count_dir_entries(), 1);
}

static void test_large_file_and_names(void)
{
    static char big[300000];
    static struct drive d;
    char head[512], body[64];
    int fd = openat(test_dirfd, "big.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    CHECK(fd >= 0 && write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
    close(fd);
    CHECK(mkdirat(test_dirfd, "sub", 0755) == 0);

    static const char req[] = "GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    d = (struct drive){.in = req, .in_len = sizeof(req) - 1, .send_max = 65536};
    drive(&d);
    const char *h_end = memmem(d.out, d.out_len, "\r\n\r\n", 4);
    CHECK(h_end);
    CHECK_INT_EQ(d.out + d.out_len - (h_end + 4), sizeof(big));
    CHECK(memcmp(h_end + 4, big, sizeof(big)) == 0);

    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET /files/missing HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"GET /files/sub HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"GET /files/..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\n\r\n", 403},
        {"GET /files/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", 403},
        {"GET /files/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400}, /* a control character */
        {"PATCH /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"DELETE /files/missing HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"DELETE /files/sub HTTP/1.1\r\nHost: x\r\n\r\n", 409},
        {"DELETE /files/nodir/x HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"POST /files/nodir/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 409},
        {"POST /files/sub HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 409},
        {"GET /files/bad%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /files/.ringhttpd-upload-0123456789abcdef HTTP/1.1\r\nHost: x\r\n\r\n", 403},
        {"POST /files/sub/.ringhttpd-upload-x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
         403},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        d = (struct drive){.in = cases[i].req, .in_len = strlen(cases[i].req)};
        drive(&d);
        int st = response_at(&d, 0, body, sizeof(body), head, sizeof(head));
        if (st != cases[i].status)
            CHECK_FAIL_("%s: got %d", cases[i].req, st);
    }
    CHECK(strstr(head, "Connection: close")); /* 400 closes */
    CHECK(unlinkat(test_dirfd, "big.bin", 0) == 0);
    CHECK(unlinkat(test_dirfd, "sub", AT_REMOVEDIR) == 0);
    CHECK_INT_EQ(count_dir_entries(), 1);
}

static void put_file(const char *name, const char *text)
{
    int fd = openat(test_dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* One GET of name: its status and body, and how many file ops it took. */
static int cached_get(const char *req, char *body, size_t cap, int *ops)
{
    static struct drive d;
    char head[1024];

    d = (struct drive){.in = req, .in_len = strlen(req)};
    drive(&d);
    *ops = d.file_ops;
    return response_at(&d, 0, body, cap, head, sizeof(head));
}

/* The descriptor this process holds open on name, or -1. */
static int fd_of(const char *name)
{
    char link[512], path[300];
    struct dirent *de;
    DIR *dir = opendir("/proc/self/fd");
    int found = -1;

    while (dir && (de = readdir(dir))) {
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        const char *base = strrchr(link, '/');
        if (base && strcmp(base + 1, name) == 0)
            found = atoi(de->d_name);
    }
    if (dir)
        closedir(dir);
    return found;
}

static void write_file(const char *name, const char *data, size_t len)
{
    int fd = openat(test_dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len);
    close(fd);
}

/* A larger file: its descriptor and validators are kept, not its bytes. A
 * 304 and a HEAD need no file operation, a GET (and a Range) only the reads
 * from the kept descriptor; a file replaced behind the server's back has its
 * old descriptor closed when the change is seen; EMFILE sheds unused
 * descriptors and the open is retried. */
static void test_file_cache_fds(time_t t0)
{
    static char big[20000], got[20001];
    static char req[256];
    static struct drive d;
    char head[1024], body[64];
    int ops;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 13);
    write_file("large.bin", big, sizeof(big));
    static const char get_large[] = "GET /files/large.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    d = (struct drive){.in = get_large, .in_len = strlen(get_large)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, got, sizeof(got), head, sizeof(head)), 200);
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_INT_EQ(d.opens, 1);
    CHECK_INT_EQ(d.closes, 0); /* kept */
    int kept = fd_of("large.bin");
    CHECK(kept >= 0);
    const char *etag = strstr(head, "ETag: ");
    CHECK(etag);
    snprintf(req, sizeof(req),
             "GET /files/large.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: %.*s\r\n\r\n",
             (int)(strstr(etag, "\r\n") - etag - 6), etag + 6);
    CHECK_INT_EQ(cached_get(req, body, sizeof(body), &ops), 304);
    CHECK_INT_EQ(ops, 0);
    static const char head_large[] = "HEAD /files/large.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    d = (struct drive){.in = head_large, .in_len = strlen(head_large), .head_mask = 1};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 200);
    CHECK(strstr(head, "Content-Length: 20000\r\n"));
    CHECK_INT_EQ(d.file_ops, 0);
    d = (struct drive){.in = get_large, .in_len = strlen(get_large)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, got, sizeof(got), head, sizeof(head)), 200);
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_INT_EQ(d.opens + d.closes, 0); /* from the kept descriptor */
    static const char range[] =
        "GET /files/large.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=19990-\r\n\r\n";
    d = (struct drive){.in = range, .in_len = strlen(range)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, got, sizeof(got), head, sizeof(head)), 206);
    CHECK(memcmp(got, big + 19990, 10) == 0);
    CHECK_INT_EQ(d.opens + d.closes, 0);

    /* Replaced behind the server's back: seen in the next second, when the
     * old descriptor is closed and the new file opened. */
    big[0] ^= 1;
    CHECK(unlinkat(test_dirfd, "large.bin", 0) == 0);
    write_file("large.bin", big, sizeof(big));
    conn_set_now(t0 + 3);
    d = (struct drive){.in = get_large, .in_len = strlen(get_large)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, got, sizeof(got), head, sizeof(head)), 200);
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_INT_EQ(d.opens, 1);
    CHECK_INT_EQ(d.closes, 1);

    /* Unused for FILE_CACHE_FD_IDLE seconds: closed by the thread's tick. */
    conn_thread_tick(t0 + 3 + FILE_CACHE_FD_IDLE);
    CHECK(fd_of("large.bin") >= 0);
    conn_thread_tick(t0 + 4 + FILE_CACHE_FD_IDLE);
    CHECK_INT_EQ(fd_of("large.bin"), -1);
    CHECK(!conn_thread_holds_files());
    d = (struct drive){.in = get_large, .in_len = strlen(get_large)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, got, sizeof(got), head, sizeof(head)), 200);
    CHECK(conn_thread_holds_files());

    /* Out of descriptors: the cache lets go of its unused ones and the open
     * is tried again. Every number below the kept one is taken, and the
     * limit set just above it. */
    kept = fd_of("large.bin");
    CHECK(kept >= 0);
    write_file("other.bin", "other", 5);
    int fillers[64], nfill = 0, x;
    while (nfill < 64 && (x = dup(0)) >= 0 && x < kept)
        fillers[nfill++] = x;
    if (x > kept)
        close(x);
    struct rlimit old, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)kept + 1;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    static const char get_other[] = "GET /files/other.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    d = (struct drive){.in = get_other, .in_len = strlen(get_other)};
    drive(&d);
    CHECK_INT_EQ(response_at(&d, 0, body, sizeof(body), head, sizeof(head)), 200);
    CHECK_STR_EQ(body, "other");
    CHECK_INT_EQ(d.opens, 2); /* EMFILE, then the retry */
    CHECK_INT_EQ(fd_of("large.bin"), -1);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    while (nfill > 0)
        close(fillers[--nfill]);
    CHECK(unlinkat(test_dirfd, "large.bin", 0) == 0);
    CHECK(unlinkat(test_dirfd, "other.bin", 0) == 0);
}

/* The file cache: a hot small file costs no file operation; a change
 * behind the server's back is seen in the next second (one STAT then), an
 * upload through the server at once. */
static void test_file_cache(void)
{
    static const char get[] = "GET /files/c.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char put[] =
        "PUT /files/c.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird";
    static const char range[] = "GET /files/c.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n";
    time_t t0 = time(NULL);
    char body[64];
    int ops;

    put_file("c.txt", "first");
    ctx.file_cache = 8;
    conn_set_now(t0);
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_STR_EQ(body, "first");
    CHECK_INT_EQ(ops, 3); /* open, stat, read */
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_STR_EQ(body, "first");
    CHECK_INT_EQ(ops, 0); /* from memory */

    /* Rewritten behind the server's back: trusted for the rest of the
     * second it was checked in, seen in the next one. */
    put_file("c.txt", "second!");
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_STR_EQ(body, "first");
    conn_set_now(t0 + 1);
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_STR_EQ(body, "second!");
    CHECK_INT_EQ(ops, 4); /* the check (stat of the name), then open, stat, read */
    conn_set_now(t0 + 2);
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_INT_EQ(ops, 1); /* unchanged: one stat of the name */

    /* An upload through the server is seen by the very next request. */
    CHECK_INT_EQ(cached_get(put, body, sizeof(body), &ops), 204);
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 200);
    CHECK_STR_EQ(body, "third");

    /* A Range is served from the file, not the cache. */
    CHECK_INT_EQ(cached_get(range, body, sizeof(body), &ops), 206);
    CHECK_STR_EQ(body, "th");
    CHECK(ops > 0);

    test_file_cache_fds(t0);

    /* Deleted behind the server's back: 404 in the next second. */
    CHECK(unlinkat(test_dirfd, "c.txt", 0) == 0);
    conn_set_now(t0 + 4);
    CHECK_INT_EQ(cached_get(get, body, sizeof(body), &ops), 404);
    ctx.file_cache = 0;
    file_cache_thread_cleanup(); /* closes what it kept */
    CHECK_INT_EQ(fd_of("other.bin"), -1);
    conn_set_now(time(NULL));
}

static void test_access_log(void)
{
    static const char req[] = "GET /echo/hi HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    static struct drive d;

    log_len = 0;
    conn_set_now(784111777); /* the engine's clock: the core reads none */
    d = (struct drive){.in = req, .in_len = sizeof(req) - 1};
    drive(&d);
    log_buf[log_len] = '\0';
    CHECK(strstr(log_buf, "- - - [06/Nov/1994:08:49:37 +0000] ") == log_buf);
    CHECK(memmem(d.out, d.out_len, "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 39));
    CHECK(strstr(log_buf, "+0000] \"GET /echo/hi HTTP/1.1\" 200 2\n"));
    CHECK(strstr(log_buf, "\"GET / HTTP/1.0\" 200 -\n"));
}

int main(void)
{
    strcpy(test_dir, "/tmp/ringhttpd-test-conn-XXXXXX");
    CHECK(mkdtemp(test_dir));
    test_dirfd = open(test_dir, O_RDONLY | O_DIRECTORY);
    CHECK(test_dirfd >= 0);
    ctx.dirfd = test_dirfd;
    conn_set_now(time(NULL));

    test_root_every_split();
    test_pipelined_batch_one_send();
    test_short_sends();
    test_bad_request_closes();
    test_header_timeout_408();
    test_upload_every_split();
    test_upload_writes_coalesced();
    test_upload_refused_leaves_old_file();
    test_large_file_and_names();
    test_file_cache();
    test_access_log();

    unlinkat(test_dirfd, "up.txt", 0);
    close(test_dirfd);
    CHECK(rmdir(test_dir) == 0);
    conn_thread_cleanup();
    printf("test_conn: ok\n");
    return 0;
}
