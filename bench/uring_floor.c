/*
 * uring_floor: the cheapest HTTP/1.1 keep-alive answerer the uring engine's
 * design allows, to measure what no server built on that design can beat.
 *
 * One thread, the ring set up as ringhttpd's (SUBMIT_ALL, SINGLE_ISSUER,
 * DEFER_TASKRUN, registered ring fd), multishot accept into the ring's file
 * table, multishot recv into a provided-buffer ring, one send per receive of
 * a pre-built response. It parses nothing: every "\r\n\r\n" received is one
 * request, answered with the same 153 bytes ringhttpd gives /echo/hello
 * (its Date fixed). Only for bench/ (see BENCHMARKS.md); not a
 * server: no limits, no timeouts, no partial sends.
 *
 *   cc -O2 -o uring_floor bench/uring_floor.c -luring
 *   uring_floor --port N [any other arguments are ignored]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { QD = 4096, NFILES = 65536, NBUFS = 4096, BUFSZ = 2048, BGID = 1, MAXPIPE = 16 };
enum { UD_ACCEPT = 1, UD_RECV = 2, UD_SEND = 3, UD_CLOSE = 4, UD_SHUT = 5 };

#define UD(type, idx) (((uint64_t)(type) << 32) | (uint32_t)(idx))

static const char head[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/plain\r\n"
                           "Vary: Accept-Encoding\r\n"
                           "Content-Length: 5\r\n"
                           "Date: Fri, 04 Dec 2026 19:30:00 GMT\r\n"
                           "Connection: keep-alive\r\n"
                           "\r\n"
                           "hello";
static char answers[MAXPIPE * (sizeof(head) - 1)];

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static void buf_recycle(unsigned bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(br, 1);
}

static void arm_accept(int lfd)
{
    struct io_uring_sqe *sqe = sqe_get();

    io_uring_prep_multishot_accept_direct(sqe, lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, 0));
}

static void arm_recv(unsigned idx)
{
    struct io_uring_sqe *sqe = sqe_get();

    io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD(UD_RECV, idx));
}

static void close_direct(unsigned idx)
{
    struct io_uring_sqe *sqe = sqe_get();

    io_uring_prep_close_direct(sqe, idx);
    io_uring_sqe_set_data64(sqe, UD(UD_CLOSE, idx));
}

static unsigned count_heads(const char *p, int n)
{
    unsigned k = 0;

    for (int i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            k++;
    return k;
}

static void on_recv(struct io_uring_cqe *cqe, unsigned idx)
{
    if (cqe->res <= 0) {
        if (cqe->res == -ENOBUFS) {
            arm_recv(idx);
            return;
        }
        close_direct(idx);
        return;
    }
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    const char *p = bufs + (size_t)bid * BUFSZ;
    unsigned k = count_heads(p, cqe->res);
    int last = memmem(p, (size_t)cqe->res, "close\r\n", 7) != NULL; /* Connection: close */
    buf_recycle(bid);
    if (k > MAXPIPE)
        k = MAXPIPE;
    if (k > 0) {
        if (last && io_uring_sq_space_left(&ring) < 2)
            io_uring_submit(&ring); /* a link must not be split by a submit */
        struct io_uring_sqe *sqe = sqe_get();
        io_uring_prep_send(sqe, (int)idx, answers, k * (sizeof(head) - 1), MSG_NOSIGNAL);
        sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, UD(UD_SEND, idx));
        if (last) { /* then FIN; the client's close ends the recv */
            sqe->flags |= IOSQE_IO_LINK;
            sqe = sqe_get();
            io_uring_prep_shutdown(sqe, (int)idx, SHUT_WR);
            sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, UD(UD_SHUT, idx));
        }
    }
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_recv(idx);
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
    if (port <= 0) {
        fprintf(stderr, "usage: uring_floor --port N\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAXPIPE; i++)
        memcpy(answers + i * (sizeof(head) - 1), head, sizeof(head) - 1);
    int lfd = listen_on(port);

    struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
                                .cq_entries = 4 * QD};
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max; /* the file table is bounded by it */
    setrlimit(RLIMIT_NOFILE, &rl);
    unsigned nfiles = rl.rlim_cur < NFILES ? (unsigned)rl.rlim_cur : NFILES;
    int ret = io_uring_queue_init_params(QD, &ring, &p);
    if (ret == 0 && (ret = io_uring_register_ring_fd(&ring)) == 1)
        ret = io_uring_register_files_sparse(&ring, nfiles);
    if (ret < 0) {
        fprintf(stderr, "ring set-up failed: %s\n", strerror(-ret));
        return 1;
    }
    if (posix_memalign((void **)&br, 4096, NBUFS * sizeof(struct io_uring_buf)) ||
        !(bufs = malloc((size_t)NBUFS * BUFSZ)))
        return 1;
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)br, .ring_entries = NBUFS, .bgid = BGID};
    if (io_uring_register_buf_ring(&ring, &reg, 0) < 0)
        return 1;
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < NBUFS; i++)
        buf_recycle(i);
    arm_accept(lfd);

    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned head_, seen = 0;

        io_uring_submit_and_wait(&ring, 1);
        io_uring_for_each_cqe(&ring, head_, cqe)
        {
            unsigned type = (unsigned)(cqe->user_data >> 32), idx = (uint32_t)cqe->user_data;
            seen++;
            if (type == UD_ACCEPT) {
                if (cqe->res >= 0)
                    arm_recv((unsigned)cqe->res);
                if (!(cqe->flags & IORING_CQE_F_MORE))
                    arm_accept(lfd);
            } else if (type == UD_RECV) {
                on_recv(cqe, idx);
            } else if (type == UD_SEND && cqe->res < 0) {
                close_direct(idx);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
