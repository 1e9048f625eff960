/* main.c - argv -> config -> engine -> run; signals.
 *
 * Start-up does everything that can fail for a reason the user should fix
 * (bad flag, missing directory, busy port) before the engine starts, and
 * exits with 2 (usage) or 1 (runtime) with one line on stderr. Diagnostics
 * go to stderr through log.h: stdout stays clean for `--access-log -`. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "engine/engine.h"
#include "http/mime.h"
#include "util/log.h"

#define EXIT_USAGE 2
#define LISTEN_BACKLOG 4096               /* the kernel caps it at net.core.somaxconn */
#define MIME_TYPES_MAX (16 * 1024 * 1024) /* Debian's is 60 KiB */

struct server {
    struct config cfg;
    int dir_fd;              /* --directory, or -1 */
    struct mime_table *mime; /* --mime-types, or NULL */
    int listen_fd;           /* or -1 */
    int listen_inherited;    /* listen_fd came from systemd */
    int log_fd;              /* access log opened here, or -1 (stdout is never closed) */
    int log_out;             /* where the access log goes (stdout included), or -1 */
    struct http_ctx http;
    const struct engine_ops *ops;
    struct engine *engine;
};

/* What the signal handler stops: set before the handler is installed. */
static const struct engine_ops *stop_ops;
static struct engine *stop_engine;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_ops->stop(stop_engine);
}

/* What SIGUSR1 reopens: the --access-log path onto its descriptor, or
 * nothing (-1). */
static const char *reopen_path;
static int reopen_fd = -1;

/* SIGUSR1 (logrotate's postrotate, as for nginx): open the access log's
 * path anew and put it in place of the old descriptor with dup3(). Every
 * line is one write() to that descriptor number (both engines), so a line
 * lands whole in the old file or whole in the new one: none is lost or
 * torn. open() and dup3() are async-signal-safe. */
static void on_reopen_signal(int sig)
{
    static const char fail[] = "ringhttpd: SIGUSR1: cannot reopen the access log; "
                               "still writing to the old file\n";
    int saved = errno, fd;

    (void)sig;
    if (reopen_fd < 0)
        return;
    fd = open(reopen_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || dup3(fd, reopen_fd, O_CLOEXEC) < 0) {
        if (write(STDERR_FILENO, fail, sizeof(fail) - 1) < 0)
            errno = saved; /* nothing more to do */
    }
    if (fd >= 0)
        close(fd);
    errno = saved;
}

static void set_signal(int sig, void (*handler)(int))
{
    struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART};

    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Held for the whole run: the core resolves every name beneath it (and
 * fsyncs it after a rename, hence O_RDONLY rather than O_PATH). */
static int open_directory(struct server *srv)
{
    const char *dir = srv->cfg.directory;

    if (dir == NULL)
        return 0;
    srv->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (srv->dir_fd < 0) {
        fprintf(stderr, "ringhttpd: --directory %s: %s\n", dir, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* --mime-types: read and parse the whole file once. A file that cannot be
 * read, or maps no extension, is a usage error: serving every file as
 * application/octet-stream after the user asked for types would hide it. */
static int load_mime_types(struct server *srv)
{
    const char *path = srv->cfg.mime_types;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (path == NULL)
        return 0;
    f = fopen(path, "re");
    if (f) {
        text = malloc(MIME_TYPES_MAX + 1);
        len = text ? fread(text, 1, MIME_TYPES_MAX + 1, f) : 0;
        if (ferror(f) || len > MIME_TYPES_MAX)
            errno = ferror(f) ? errno : EFBIG;
    }
    if (!f || !text || ferror(f) || len > MIME_TYPES_MAX) {
        fprintf(stderr, "ringhttpd: --mime-types %s: %s\n", path, strerror(errno));
        free(text);
        if (f)
            fclose(f);
        return EXIT_USAGE;
    }
    fclose(f);
    srv->mime = mime_table_parse(text, len);
    free(text);
    if (srv->mime == NULL || mime_table_count(srv->mime) == 0) {
        fprintf(stderr, "ringhttpd: --mime-types %s: %s\n", path,
                srv->mime ? "no \"type/subtype extension...\" line in it" : strerror(ENOMEM));
        return EXIT_USAGE;
    }
    srv->http.mime = srv->mime;
    return 0;
}

static int select_engine(struct server *srv)
{
    srv->ops = engine_select(srv->cfg.engine);
    if (srv->ops == NULL)
        return EXIT_FAILURE; /* engine_select printed why */
    if (srv->cfg.workers_set && strcmp(srv->ops->name, "threads") == 0)
        log_info("--workers concerns only the uring engine: ignored under threads");
    if (srv->cfg.threads_set && strcmp(srv->ops->name, "uring") == 0)
        log_info("--threads concerns only the threads engine: ignored under uring");
    return 0;
}

/* Every connection is an fd: allow as many as the hard limit permits. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        log_warn("cannot raise the open-file limit: %s", strerror(errno));
}

/* An IPv4 or IPv6 literal and a port into *ss. 0 or -EINVAL. */
static int parse_bind(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

static void set_int_opt(int fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)) != 0)
        log_warn("setsockopt(%d, %d): %s", level, name, strerror(errno));
}

/* What a client that asks for a big file and never reads can hold: TCP
 * queues in the kernel whatever the send buffer takes, and loopback and
 * LAN autotuning grows that to 3 MiB a connection (measured: 300 stalled
 * downloads pinned 1 GB), so a few hundred such clients pushed the host past
 * tcp_mem, where every TCP socket on it stalls. With this many unsent bytes
 * queued a send stops and POLLOUT waits; in-flight data is still the window's
 * and cwnd's, so a fast client loses nothing. */
#define LISTEN_NOTSENT_LOWAT (128 * 1024)

/* Options set on the listener for the sockets accepted from it to inherit. */
static void tune_listener(int fd)
{
    set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_int_opt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, LISTEN_NOTSENT_LOWAT);
}

/* A listening socket bound to addr:port in srv->listen_fd. 0, an exit
 * status, or -EAFNOSUPPORT when addr is IPv6 and the host has none (only
 * reported when quiet_v6 is 0). */
static int listen_on(struct server *srv, const char *addr, int quiet_v6)
{
    const struct config *cfg = &srv->cfg;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    if (parse_bind(addr, cfg->port, &ss, &len) != 0) {
        fprintf(stderr,
                "ringhttpd: invalid value '%s' for --bind (expected an IPv4 or IPv6 address); "
                "try 'ringhttpd --help'\n",
                addr);
        return EXIT_USAGE;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && quiet_v6 && errno == EAFNOSUPPORT)
        return -EAFNOSUPPORT;
    if (fd < 0) {
        fprintf(stderr, "ringhttpd: cannot create a socket for %s: %s\n", addr, strerror(errno));
        return EXIT_FAILURE;
    }
    set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (cfg->reuse_port)
        set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (ss.ss_family == AF_INET6)
        set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0); /* "::" takes IPv4 too */
    tune_listener(fd);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int err = errno;
        close(fd);
        if (quiet_v6 && err == EADDRNOTAVAIL)
            return -EAFNOSUPPORT; /* IPv6 configured off */
        if (err == EADDRINUSE)
            fprintf(stderr, "ringhttpd: port %u is already in use%s\n", cfg->port,
                    cfg->reuse_port ? " (without SO_REUSEPORT)" : "");
        else
            fprintf(stderr, "ringhttpd: cannot bind to %s port %u: %s\n", addr, cfg->port,
                    strerror(err));
        return EXIT_FAILURE;
    }
    srv->listen_fd = fd;
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        fprintf(stderr, "ringhttpd: cannot listen on %s port %u: %s\n", addr, cfg->port,
                strerror(errno));
        return EXIT_FAILURE;
    }
    return 0;
}

/* Socket activation (sd_listen_fds(3)): systemd passes its listening socket
 * as fd 3, with LISTEN_PID naming this process and LISTEN_FDS=1. Returns 1
 * when it was taken, 0 when none was passed, or -(exit status). */
static int inherit_listener(struct server *srv)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int fd = 3, type = 0, accepting = 0, domain = 0;
    socklen_t len = sizeof(int);
    char *end;

    if (!pid || !fds || strtol(pid, &end, 10) != (long)getpid() || *end)
        return 0; /* none, or meant for another process */
    long n = strtol(fds, &end, 10);
    unsetenv("LISTEN_PID"); /* not for the children a server never has, but as the protocol says */
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (*end || n != 1) {
        fprintf(stderr,
                "ringhttpd: systemd passed LISTEN_FDS=%s; ringhttpd serves exactly one "
                "listening socket (one ListenStream= in the .socket unit)\n",
                fds);
        return -EXIT_USAGE;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
        fprintf(stderr, "ringhttpd: the socket systemd passed (fd 3) is not a listening "
                        "stream socket\n");
        return -EXIT_USAGE;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
        (domain == AF_INET || domain == AF_INET6))
        tune_listener(fd); /* not a Unix socket's business */
    srv->listen_fd = fd;
    srv->listen_inherited = 1;
    if (srv->cfg.port_set || srv->cfg.bind_addr || srv->cfg.reuse_port)
        log_info("serving the socket systemd passed: --port, --bind and --reuse-port are ignored");
    return 1;
}

static int open_listener(struct server *srv)
{
    int r = inherit_listener(srv);

    if (r != 0)
        return r < 0 ? -r : 0;
    if (srv->cfg.bind_addr)
        return listen_on(srv, srv->cfg.bind_addr, 0);
    /* Dual-stack where the host has IPv6, else IPv4 alone. */
    r = listen_on(srv, "::", 1);
    return r == -EAFNOSUPPORT ? listen_on(srv, "0.0.0.0", 0) : r;
}

/* http_ctx.access_log: arg is the fd. One write() per line: with O_APPEND
 * (or a pipe and lines under PIPE_BUF) lines from several threads stay whole. */
static void access_log_write(void *arg, const char *line, size_t len)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    int fd = (int)(intptr_t)arg;

    while (len > 0) {
        ssize_t n = write(fd, line, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!atomic_flag_test_and_set(&warned))
                log_warn("access log: %s (further failures are not reported)",
                         n < 0 ? strerror(errno) : "nothing written");
            return;
        }
        line += n;
        len -= (size_t)n;
    }
}

static int open_access_log(struct server *srv)
{
    const char *path = srv->cfg.access_log;
    int fd;

    if (path == NULL)
        return 0;
    if (strcmp(path, "-") == 0) {
        fd = STDOUT_FILENO;
    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "ringhttpd: --access-log %s: %s\n", path, strerror(errno));
            return EXIT_FAILURE; /* a runtime condition (permissions, a missing directory) */
        }
        srv->log_fd = fd;
        reopen_path = path;
        reopen_fd = fd;
    }
    srv->http.access_log = access_log_write;
    srv->http.access_log_arg = (void *)(intptr_t)fd;
    srv->log_out = fd;
    return 0;
}

/* Everything that can fail before the engine starts. 0 or the exit status. */
static int server_setup(struct server *srv)
{
    int status;

    if ((status = open_directory(srv)) != 0 || (status = load_mime_types(srv)) != 0 ||
        (status = select_engine(srv)) != 0)
        return status;
    raise_fd_limit();
    if ((status = open_listener(srv)) != 0 || (status = open_access_log(srv)) != 0)
        return status;
    srv->http.dirfd = srv->dir_fd;
    srv->http.max_body = srv->cfg.max_request_size;
    srv->http.file_cache = srv->cfg.file_cache;
    return 0;
}

static void log_startup(const struct server *srv)
{
    const struct config *cfg = &srv->cfg;
    int uring = strcmp(srv->ops->name, "uring") == 0;
    unsigned n = uring ? cfg->workers : cfg->threads;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        }
    }
    int v6 = strchr(host, ':') != NULL;
    log_info("listening on %s%s%s:%u%s (engine %s, %u %s%s; %s%s)", v6 ? "[" : "", host,
             v6 ? "]" : "", port, srv->listen_inherited ? " (from systemd)" : "", srv->ops->name, n,
             uring ? "worker" : "thread", n == 1 ? "" : "s",
             cfg->directory ? "files from " : "no --directory",
             cfg->directory ? cfg->directory : "");
}

/* Create, run until SIGINT/SIGTERM, destroy. 0 or the exit status. */
static int server_run(struct server *srv)
{
    struct engine_env env = {.listen_fd = srv->listen_fd,
                             .listen_inherited = srv->listen_inherited,
                             .http = &srv->http,
                             .cfg = &srv->cfg,
                             .access_log_fd = srv->log_out};
    int err = srv->ops->create(&srv->engine, &env);

    if (err < 0) {
        log_error("cannot start the %s engine: %s", srv->ops->name, strerror(-err));
        return EXIT_FAILURE;
    }
    stop_ops = srv->ops;
    stop_engine = srv->engine;
    set_signal(SIGINT, on_stop_signal);
    set_signal(SIGTERM, on_stop_signal);
    log_startup(srv);

    err = srv->ops->run(srv->engine);

    /* The engine is about to be freed: a late signal must not reach it. */
    set_signal(SIGINT, SIG_IGN);
    set_signal(SIGTERM, SIG_IGN);
    srv->ops->destroy(srv->engine);
    srv->engine = NULL;
    if (err < 0) {
        log_error("the %s engine stopped: %s", srv->ops->name, strerror(-err));
        return EXIT_FAILURE;
    }
    log_info("shut down");
    return 0;
}

static void server_close(struct server *srv)
{
    reopen_fd = -1; /* a late SIGUSR1 must not reopen onto a closed number */
    if (srv->log_fd >= 0)
        close(srv->log_fd);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->dir_fd >= 0)
        close(srv->dir_fd);
    mime_table_free(srv->mime);
}

int main(int argc, char **argv)
{
    struct server srv = {.dir_fd = -1, .listen_fd = -1, .log_fd = -1, .log_out = -1};
    int status;

    set_signal(SIGPIPE, SIG_IGN);
    set_signal(SIGUSR1, on_reopen_signal); /* a no-op without an access log file */
    switch (config_parse(&srv.cfg, argc, argv)) {
    case CONFIG_OK:
        break;
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return EXIT_USAGE;
    }
    log_set_level(srv.cfg.quiet ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO);

    status = server_setup(&srv);
    if (status == 0)
        status = server_run(&srv);
    server_close(&srv);
    return status;
}
