/* fuzz_conn.c - a whole connection (struct conn) driven by a fake engine over
 * an arbitrary byte stream, as in tests/unit/test_conn.c's drive().
 *
 * Input: [flags][n][n control bytes][stream]. The stream is what the client
 * sends. Control bytes (used in turn, cycling) choose how many bytes each
 * RECV gets, how short each send is, and, when flag FAULTS is set, inject
 * timeouts, aborts, peer resets, short or failed file I/O and a graceful
 * drain. File operations are real syscalls in a temporary directory created
 * once per process and restored after every input.
 *
 * Checked for every input: the connection reaches CLOSE within a bounded
 * number of steps; every socket wait is timed; a SEND only covers queued
 * output and a SENDFILE only the file; after an abort only clean-up follows;
 * every fd the core opened is closed and no fd is open that was not before;
 * no temporary upload file is left; and the output is a sequence of complete
 * responses matching the access log one to one (status, HEAD without body),
 * with nothing after a "Connection: close" response. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/file_ops.h"
#include "fuzz.h"
#include "http/conn.h"
#include "http/conn_internal.h"

enum fuzz_flag {
    FF_MAX_BODY = 3,  /* two bits: index into max_bodies */
    FF_EOF_HANGS = 4, /* the stream's end is a stalled client, not EOF */
    FF_NO_LOG = 8,    /* no access log (output checks are then structural only) */
    FF_PEER = 48,     /* two bits: no peer, IPv4, IPv6 */
    FF_FAULTS = 64,   /* control bytes may inject faults */
    FF_DRAIN = 128,   /* graceful shutdown at a step chosen by control byte 0 */
};

#define BIG_SIZE 12000 /* over the 8 KiB read-into-output limit: SENDFILE */
#define OUT_KEEP (1 << 20)
#define MAX_LOG 8192
#define MAX_FDS 16

static const uint64_t max_bodies[4] = {1 << 20, 1000, 65536, 10};

struct sim {
    const uint8_t *ctl;
    size_t nctl, ictl;
    const char *in;
    size_t in_len, pos;
    unsigned flags;
    char *out;
    size_t out_len, out_total, read_total;
    int cut;     /* a fault may have cut a response short */
    int aborted; /* conn_abort() called: only clean-up may follow */
    int mutated; /* the directory may have changed */
    int fds[MAX_FDS], nfds;
    int header_starts, linger_starts;
    size_t nlog;
    int log_overflow;
    struct {
        uint16_t status;
        uint8_t head;
    } log[MAX_LOG];
};

/* ---- the directory: created once, restored after every input ---- */

enum fixture_kind { FX_FILE, FX_DIR, FX_FIFO, FX_LINK };

static const struct fixture {
    const char *name;
    enum fixture_kind kind;
    const char *content; /* FX_FILE: NULL means BIG_SIZE pattern bytes; FX_LINK: target */
} fixtures[] = {
    {"sub", FX_DIR, NULL},
    {"hello.txt", FX_FILE, "Hello, ringhttpd!\n"},
    {"empty.bin", FX_FILE, ""},
    {"big.bin", FX_FILE, NULL},
    {"sub/inner.txt", FX_FILE, "inner\n"},
    {"fifo", FX_FIFO, NULL},
    {"escape", FX_LINK, "../../../../etc/hostname"},
    {"inside", FX_LINK, "hello.txt"},
    {"loop", FX_LINK, "loop"},
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static char fx_dir[64];
static int fx_dirfd = -1;
static ino_t fx_ino[NFIXTURES];

static void fixture_make(size_t i)
{
    const struct fixture *f = &fixtures[i];
    static char big[BIG_SIZE];
    struct stat st;
    int fd;

    switch (f->kind) {
    case FX_DIR:
        FUZZ_CHECK(mkdirat(fx_dirfd, f->name, 0755) == 0 || errno == EEXIST);
        break;
    case FX_FIFO:
        FUZZ_CHECK(mknodat(fx_dirfd, f->name, S_IFIFO | 0644, 0) == 0);
        break;
    case FX_LINK:
        FUZZ_CHECK(symlinkat(f->content, fx_dirfd, f->name) == 0);
        break;
    case FX_FILE:
        fd = openat(fx_dirfd, f->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_CHECK(fd >= 0);
        if (f->content) {
            FUZZ_CHECK(write(fd, f->content, strlen(f->content)) == (ssize_t)strlen(f->content));
        } else {
            for (size_t k = 0; k < sizeof(big); k++)
                big[k] = (char)(k * 7 + k / 256);
            FUZZ_CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
        }
        close(fd);
        break;
    }
    FUZZ_CHECK(fstatat(fx_dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0);
    fx_ino[i] = st.st_ino;
}

static int fixture_intact(size_t i)
{
    static const mode_t types[] = {
        [FX_FILE] = S_IFREG, [FX_DIR] = S_IFDIR, [FX_FIFO] = S_IFIFO, [FX_LINK] = S_IFLNK};
    struct stat st;

    if (fstatat(fx_dirfd, fixtures[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    return (st.st_mode & S_IFMT) == types[fixtures[i].kind] && st.st_ino == fx_ino[i];
}

static int is_fixture(const char *sub, const char *name)
{
    char full[300];

    snprintf(full, sizeof(full), "%s%s%s", sub, *sub ? "/" : "", name);
    for (size_t i = 0; i < NFIXTURES; i++)
        if (strcmp(full, fixtures[i].name) == 0)
            return 1;
    return 0;
}

/* Remove what the input created; a temporary upload file is a bug. */
static void dir_sweep(const char *sub)
{
    int fd = openat(fx_dirfd, *sub ? sub : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;

    FUZZ_CHECK(fd >= 0);
    d = fdopendir(fd);
    FUZZ_CHECK(d != NULL);
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strncmp(e->d_name, FILES_TMP_PREFIX, strlen(FILES_TMP_PREFIX)) == 0) {
            fprintf(stderr, "temporary file left behind: %s/%s\n", sub, e->d_name);
            FUZZ_CHECK(!"no temporary upload file is left");
        }
        if (!is_fixture(sub, e->d_name))
            FUZZ_CHECK(unlinkat(fd, e->d_name, 0) == 0);
    }
    closedir(d);
}

static void dir_restore(void)
{
    dir_sweep("");
    dir_sweep("sub");
    for (size_t i = 0; i < NFIXTURES; i++) {
        if (fixture_intact(i))
            continue;
        if (fixtures[i].kind != FX_DIR)
            unlinkat(fx_dirfd, fixtures[i].name, 0);
        fixture_make(i);
    }
}

static void dir_remove(void)
{
    for (size_t i = NFIXTURES; i-- > 0;)
        unlinkat(fx_dirfd, fixtures[i].name, fixtures[i].kind == FX_DIR ? AT_REMOVEDIR : 0);
    close(fx_dirfd);
    rmdir(fx_dir);
    conn_thread_cleanup();
}

static void dir_setup(void)
{
    strcpy(fx_dir, "/tmp/ringhttpd-fuzz-conn-XXXXXX");
    FUZZ_CHECK(mkdtemp(fx_dir) != NULL);
    fx_dirfd = open(fx_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(fx_dirfd >= 0);
    for (size_t i = 0; i < NFIXTURES; i++)
        fixture_make(i);
    atexit(dir_remove);
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    FUZZ_CHECK(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- the fake engine ---- */

static uint8_t ctl_next(struct sim *s)
{
    return s->nctl ? s->ctl[s->ictl++ % s->nctl] : 0;
}

/* A control byte for an operation; 0xf0 and above inject faults, so without
 * FF_FAULTS those are folded down into ordinary sizes. */
static uint8_t fault_byte(struct sim *s)
{
    uint8_t b = ctl_next(s);

    return (s->flags & FF_FAULTS) || b < 0xf0 ? b : (uint8_t)(b - 0x10);
}

static int fd_index(const struct sim *s, int fd)
{
    for (int i = 0; i < s->nfds; i++)
        if (s->fds[i] == fd)
            return i;
    return -1;
}

static void fd_opened(struct sim *s, int fd)
{
    FUZZ_CHECK(fd_index(s, fd) < 0 && s->nfds < MAX_FDS);
    s->fds[s->nfds++] = fd;
}

static void fd_closed(struct sim *s, int fd)
{
    int i = fd_index(s, fd);

    FUZZ_CHECK(i >= 0); /* closing only what it opened, and once */
    s->fds[i] = s->fds[--s->nfds];
}

static int within(const void *p, size_t n, const void *base, size_t cap)
{
    const char *c = p, *b = base;

    return c >= b && c <= b + cap && n <= (size_t)(b + cap - c);
}

static void out_append(struct sim *s, const void *p, size_t n)
{
    if (s->out_len + n <= OUT_KEEP) {
        memcpy(s->out + s->out_len, p, n);
        s->out_len += n;
    }
    s->out_total += n;
}

static void access_log(void *arg, const char *line, size_t len)
{
    struct sim *s = arg;
    const char *q = memchr(line, '"', len), *end = line + len;
    int status = 0;

    FUZZ_CHECK(len > 10 && line[len - 1] == '\n' && q != NULL);
    /* "... [date] "request line" STATUS BYTES\n": the request line may hold
     * quotes, so the status is found from the end. */
    const char *sp2 = memrchr(line, ' ', len - 1);
    FUZZ_CHECK(sp2 != NULL && sp2 - 4 > q);
    FUZZ_CHECK(sp2[-4] == ' ' && sp2[-5] == '"');
    for (const char *p = sp2 - 3; p < sp2; p++) {
        FUZZ_CHECK(*p >= '0' && *p <= '9');
        status = status * 10 + (*p - '0');
    }
    FUZZ_CHECK(status >= 200 && status <= 599 && end > sp2);
    if (s->nlog == MAX_LOG) {
        s->log_overflow = 1;
        return;
    }
    s->log[s->nlog].status = (uint16_t)status;
    s->log[s->nlog].head = (size_t)(end - q) > 6 && memcmp(q + 1, "HEAD ", 5) == 0;
    s->nlog++;
}

/* What every operation the core asks for must satisfy. */
static void check_io(struct sim *s, const struct conn *c, const struct conn_io *io)
{
    struct stat st;

    if (s->aborted)
        FUZZ_CHECK(io->op == CONN_OP_CLOSE_FILE || io->op == CONN_OP_UNLINK ||
                   io->op == CONN_OP_CLOSE);
    switch (io->op) {
    case CONN_OP_RECV:
        FUZZ_CHECK(io->timer != CONN_TIMER_NONE);
        if (io->timer == CONN_TIMER_HEADER && io->timer_restart)
            s->header_starts++;
        if (io->timer == CONN_TIMER_LINGER && io->timer_restart)
            s->linger_starts++;
        break;
    case CONN_OP_SEND:
        FUZZ_CHECK(io->timer != CONN_TIMER_NONE && c->blk != NULL);
        /* Only queued output: inside the output buffer's used part. */
        FUZZ_CHECK(within(io->buf, io->len, c->blk->out.data, c->blk->out.len));
        FUZZ_CHECK(io->len > 0); /* an empty send would make no progress */
        break;
    case CONN_OP_SENDFILE:
        FUZZ_CHECK(io->timer != CONN_TIMER_NONE && fd_index(s, io->fd) >= 0);
        FUZZ_CHECK(fstat(io->fd, &st) == 0 && io->len > 0 && io->len <= CONN_SENDFILE_MAX);
        FUZZ_CHECK(io->off + io->len <= (uint64_t)st.st_size);
        break;
    case CONN_OP_OPEN:
        FUZZ_CHECK(io->dirfd == fx_dirfd || fd_index(s, io->dirfd) >= 0);
        FUZZ_CHECK(io->path != NULL && strnlen(io->path, 8192) < 8192);
        FUZZ_CHECK(io->how.resolve & RESOLVE_BENEATH);
        break;
    case CONN_OP_READ:
        FUZZ_CHECK(fd_index(s, io->fd) >= 0 && io->len > 0);
        FUZZ_CHECK(within(io->buf, io->len, c->blk->out.data, c->blk->out.cap));
        break;
    case CONN_OP_WRITE:
        FUZZ_CHECK(fd_index(s, io->fd) >= 0 && io->len > 0);
        FUZZ_CHECK(within(io->buf, io->len, c->blk->in, sizeof(c->blk->in)));
        break;
    case CONN_OP_STAT:
        FUZZ_CHECK(within(io->stx, sizeof(*io->stx), c->blk, sizeof(*c->blk)));
        /* fall through */
    case CONN_OP_FSYNC:
    case CONN_OP_CLOSE_FILE:
        FUZZ_CHECK(fd_index(s, io->fd) >= 0);
        break;
    case CONN_OP_RENAME:
        FUZZ_CHECK(io->path2 != NULL && strchr(io->path2, '/') == NULL);
        /* fall through */
    case CONN_OP_UNLINK:
        FUZZ_CHECK(fd_index(s, io->dirfd) >= 0 && io->path != NULL);
        /* A temporary file of an upload, or the name a DELETE asked for:
         * one component, under the confined directory. */
        if (c->blk->req.method == HTTP_METHOD_DELETE && io->path == c->blk->base)
            FUZZ_CHECK(*io->path != '\0' && strchr(io->path, '/') == NULL);
        else
            FUZZ_CHECK(strncmp(io->path, FILES_TMP_PREFIX, strlen(FILES_TMP_PREFIX)) == 0);
        break;
    case CONN_OP_SHUTDOWN:
    case CONN_OP_CLOSE:
        break;
    }
}

/* A socket fault from a control byte >= 0xf8: a timeout, an abort by the
 * engine, or a failed operation. Returns 1 when the operation was ended by
 * one. A fault on a send can cut a response short; one on a receive cannot
 * (output is flushed before every receive). */
static int socket_fault(struct sim *s, struct conn *c, uint8_t b, long err)
{
    if (b < 0xf8)
        return 0;
    if (c->last_op != CONN_OP_RECV)
        s->cut = 1;
    if (b < 0xfb)
        conn_timeout(c);
    else if (b < 0xfd)
        conn_abort(c);
    else
        conn_done(c, err);
    return 1;
}

static void op_recv(struct sim *s, struct conn *c)
{
    uint8_t b = fault_byte(s);
    size_t n, want;
    void *p;

    if (s->pos == s->in_len) {
        if (s->flags & FF_EOF_HANGS)
            conn_timeout(c);
        else
            conn_done(c, 0);
        return;
    }
    if (socket_fault(s, c, b, -ECONNRESET))
        return;
    p = conn_recv_space(c, &n);
    FUZZ_CHECK(p != NULL && n > 0 && c->blk != NULL);
    FUZZ_CHECK(within(p, n, c->blk->in, sizeof(c->blk->in)));
    want = b == 0 ? SIZE_MAX : b < 0x80 ? b : (size_t)(b - 0x7f) * 64;
    if (n > want)
        n = want;
    if (n > s->in_len - s->pos)
        n = s->in_len - s->pos;
    memcpy(p, s->in + s->pos, n);
    s->pos += n;
    conn_done(c, (long)n);
}

static size_t send_size(uint8_t b, size_t len)
{
    size_t n = b == 0 ? len : (size_t)b * b;

    return n < len ? n : len;
}

static void op_send(struct sim *s, struct conn *c, const struct conn_io *io)
{
    uint8_t b = fault_byte(s);
    size_t n;

    if (socket_fault(s, c, b, -EPIPE))
        return;
    n = send_size(b, io->len);
    out_append(s, io->buf, n);
    conn_done(c, (long)n);
}

static void op_sendfile(struct sim *s, struct conn *c, const struct conn_io *io)
{
    static char buf[1 << 16];
    uint8_t b = fault_byte(s);
    size_t n;
    ssize_t got;

    if (socket_fault(s, c, b, -EPIPE))
        return;
    n = send_size(b, io->len < sizeof(buf) ? io->len : sizeof(buf));
    got = pread(io->fd, buf, n, (off_t)io->off);
    FUZZ_CHECK(got == (ssize_t)n); /* checked against the size before */
    out_append(s, buf, n);
    conn_done(c, (long)n);
}

/* File operations: real syscalls, unless a control byte >= 0xf0 injects a
 * failure (or a short transfer). Closes and unlinks always happen: the core
 * may not be told they failed and still leave something behind. */
static void op_file(struct sim *s, struct conn *c, const struct conn_io *io)
{
    static const long open_errs[8] = {-EMFILE, -ENOSPC, -EACCES, -ENOENT,
                                      -EEXIST, -EIO,    -ENFILE, -EDQUOT};
    static const long write_errs[4] = {-ENOSPC, -EDQUOT, -EIO, -EFBIG};
    uint8_t b = fault_byte(s);
    int inject = b >= 0xf8, shorten = b >= 0xf0 && b < 0xf8;
    struct conn_io op = *io;
    long r;

    if (shorten && (io->op == CONN_OP_READ || io->op == CONN_OP_WRITE))
        op.len = io->len / 2 + 1;
    switch (io->op) {
    case CONN_OP_OPEN:
        if (inject) {
            conn_done(c, open_errs[b & 7]);
            return;
        }
        if (io->how.flags & O_CREAT)
            s->mutated = 1;
        r = file_op_perform(io);
        if (r >= 0)
            fd_opened(s, (int)r);
        conn_done(c, r);
        return;
    case CONN_OP_READ:
        if (inject) {
            s->cut = 1; /* the head is out: a failed read can only cut the response */
            conn_done(c, b & 1 ? -EIO : 0);
            return;
        }
        r = file_op_perform(&op);
        if (r > 0)
            s->read_total += (size_t)r;
        conn_done(c, r);
        return;
    case CONN_OP_FSYNC:
        /* The fd was checked; a real fsync would only slow the fuzzer down. */
        conn_done(c, inject ? (b & 1 ? -EIO : -ENOSPC) : 0);
        return;
    case CONN_OP_RENAME:
        s->mutated = 1;
        /* fall through */
    case CONN_OP_STAT:
    case CONN_OP_WRITE:
        if (inject) {
            conn_done(c, io->op == CONN_OP_WRITE ? write_errs[b & 3] : b & 1 ? -EIO : -ENOSPC);
            return;
        }
        conn_done(c, file_op_perform(&op));
        return;
    case CONN_OP_CLOSE_FILE:
        fd_closed(s, io->fd);
        /* fall through */
    case CONN_OP_UNLINK:
        /* Always done: the core may not be told they failed and still
         * leave something behind. */
        r = file_op_perform(io);
        conn_done(c, inject ? -EIO : r);
        return;
    default:
        FUZZ_CHECK(!"not a file operation");
    }
}

/* Graceful shutdown while op is pending, as the engines do it: an idle
 * connection whose client has nothing more to send is cut at once. */
static int drain(struct sim *s, struct conn *c, const struct conn_io *io)
{
    int idle = conn_drain(c);

    if (idle && io->op == CONN_OP_RECV && s->pos == s->in_len) {
        conn_abort(c);
        return 1;
    }
    return 0;
}

/* ---- checks of the output ---- */

static size_t header_value(const char *head, size_t len, const char *name, const char **value)
{
    size_t nl = strlen(name);

    for (const char *p = head; (p = memmem(p, len - (size_t)(p - head), "\r\n", 2)); p += 2) {
        if ((size_t)(head + len - p) > nl + 2 && strncasecmp(p + 2, name, nl) == 0) {
            const char *v = p + 2 + nl, *e = memmem(v, len - (size_t)(v - head), "\r\n", 2);
            *value = v;
            return e ? (size_t)(e - v) : 0;
        }
    }
    return 0;
}

static void check_output(const struct sim *s)
{
    const char *o = s->out, *end = s->out + s->out_len;
    size_t li = 0;

    if (s->out_total > s->out_len || (s->flags & FF_NO_LOG) || s->log_overflow)
        return;
    while (o < end) {
        const char *h_end = memmem(o, (size_t)(end - o), "\r\n\r\n", 4), *v;
        FUZZ_CHECK(h_end != NULL || s->cut);
        if (!h_end)
            return;
        size_t hl = (size_t)(h_end + 4 - o);
        FUZZ_CHECK(hl > 13 && memcmp(o, "HTTP/1.1 ", 9) == 0 && o[12] == ' ');
        int status = (o[9] - '0') * 100 + (o[10] - '0') * 10 + (o[11] - '0');
        if (status == 100) {
            FUZZ_CHECK(hl == 25 && memcmp(o, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
            o += hl;
            continue;
        }
        /* One final response per logged request, in order. */
        FUZZ_CHECK(li < s->nlog);
        FUZZ_CHECK(status == s->log[li].status);
        size_t cl_len = header_value(o, hl, "Content-Length: ", &v);
        uint64_t body = 0;
        if (status == 204 || status == 304) {
            FUZZ_CHECK(cl_len == 0); /* no body, no Content-Length (RFC 9110 8.6) */
        } else {
            FUZZ_CHECK(cl_len > 0 && cl_len < 20);
            body = strtoull(v, NULL, 10);
        }
        size_t conn_len = header_value(o, hl, "Connection: ", &v);
        int close = conn_len == 5 && memcmp(v, "close", 5) == 0;
        FUZZ_CHECK(close || (conn_len == 10 && memcmp(v, "keep-alive", 10) == 0));
        if (s->log[li].head)
            body = 0;
        if (body > (uint64_t)(end - o) - hl) {
            FUZZ_CHECK(s->cut);
            return;
        }
        o += hl + body;
        li++;
        FUZZ_CHECK(!close || o == end); /* nothing after Connection: close */
    }
    if (!s->cut)
        FUZZ_CHECK(li == s->nlog); /* every logged response was sent whole */
}

/* ---- one input ---- */

static struct sim sim;
static char out_mem[OUT_KEEP];

/* FUZZ_CONN_TRACE=1: print each operation and the output (to debug a crash). */
static void trace_op(const struct conn_io *io, size_t step)
{
    static const char *const names[] = {"RECV",       "SEND",     "SENDFILE", "OPEN",   "STAT",
                                        "READ",       "WRITE",    "FSYNC",    "RENAME", "UNLINK",
                                        "CLOSE_FILE", "SHUTDOWN", "CLOSE"};
    static int on = -1;

    if (on < 0)
        on = getenv("FUZZ_CONN_TRACE") != NULL;
    if (on)
        fprintf(stderr, "step %zu: %s timer %d%s\n", step, names[io->op], io->timer,
                io->timer_restart ? " (restart)" : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_ctx ctx;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    const void *peers[4] = {NULL, &v4, &v6, NULL};
    struct sim *s = &sim;
    struct conn c;
    struct conn_io io;
    size_t drain_at = SIZE_MAX;

    if (size < 2)
        return 0;
    if (fx_dirfd < 0)
        dir_setup();
    int fds_before = count_open_fds();

    memset(s, 0, offsetof(struct sim, log));
    s->flags = data[0];
    s->nctl = data[1] < size - 2 ? data[1] : size - 2;
    s->ctl = data + 2;
    s->in = (const char *)data + 2 + s->nctl;
    s->in_len = size - 2 - s->nctl;
    s->out = out_mem;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((s->flags & FF_DRAIN) && s->nctl)
        drain_at = (size_t)s->ctl[0] * 3;
    ctx = (struct http_ctx){
        .dirfd = fx_dirfd,
        .max_body = max_bodies[s->flags & FF_MAX_BODY],
        .access_log = (s->flags & FF_NO_LOG) ? NULL : access_log,
        .access_log_arg = s,
    };

    conn_init(&c, &ctx, peers[(s->flags & FF_PEER) >> 4]);
    for (size_t step = 0;; step++) {
        /* Every step makes progress on the input, the output or a file, all
         * finite; the constant covers the bounded rest (opens, temp-name
         * retries, clean-up). */
        FUZZ_CHECK(step < 20000 + 64 * s->in_len + 2 * s->out_total + 2 * s->read_total);
        /* Output is bounded by the responses logged (so only while the log
         * counts them: not with FF_NO_LOG, not past MAX_LOG lines). */
        FUZZ_CHECK(s->out_total <= (s->nlog + 2) * (BIG_SIZE + 2 * CONN_OUT_CAP) ||
                   (s->flags & FF_NO_LOG) || s->log_overflow);
        conn_next(&c, &io);
        trace_op(&io, step);
        check_io(s, &c, &io);
        if (io.op == CONN_OP_CLOSE)
            break;
        if (step == drain_at && drain(s, &c, &io)) {
            s->aborted = 1;
            continue;
        }
        switch (io.op) {
        case CONN_OP_RECV:
            op_recv(s, &c);
            break;
        case CONN_OP_SEND:
            op_send(s, &c, &io);
            break;
        case CONN_OP_SENDFILE:
            op_sendfile(s, &c, &io);
            break;
        case CONN_OP_SHUTDOWN:
            conn_done(&c, 0);
            break;
        default:
            op_file(s, &c, &io);
            break;
        }
        /* Aborted (by the engine, a fault or the core): clean-up only. */
        if (c.state == CONN_STATE_CLEANUP)
            s->aborted = 1;
    }
    conn_release(&c);
    if (getenv("FUZZ_CONN_TRACE"))
        fprintf(stderr, "output (%zu bytes, %zu logged, cut %d):\n%.*s\n", s->out_total, s->nlog,
                s->cut, (int)s->out_len, s->out);

    FUZZ_CHECK(s->nfds == 0); /* every fd the core opened is closed */
    FUZZ_CHECK(s->linger_starts <= 1);
    FUZZ_CHECK(s->header_starts <= (int)s->nlog + 1 || (s->flags & FF_NO_LOG) || s->log_overflow);
    check_output(s);
    if (s->mutated)
        dir_restore();
    FUZZ_CHECK(count_open_fds() == fds_before);
    return 0;
}
