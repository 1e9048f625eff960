/* test_config.c - config_parse: defaults, every flag, every class of bad
 * value, and what --help/--version/errors print (captured from stdout and
 * stderr, as a user would see them). */
#include "config.h"

#include <stdarg.h>
#include <unistd.h>

#include "check.h"

#define ARGV_MAX 32

/* What a config_parse call printed. */
struct captured {
    char out[4096];
    char err[1024];
};

/* Redirect fd (1 or 2) into a temporary file; returns the saved fd. */
static int capture_begin(int fd, FILE **tmp)
{
    int saved = dup(fd);

    *tmp = tmpfile();
    CHECK(saved >= 0 && *tmp != NULL);
    CHECK(dup2(fileno(*tmp), fd) == fd);
    return saved;
}

static void capture_end(int fd, int saved, FILE *tmp, char *dst, size_t cap)
{
    size_t n;

    CHECK(dup2(saved, fd) == fd);
    close(saved);
    rewind(tmp);
    n = fread(dst, 1, cap - 1, tmp);
    dst[n] = '\0';
    fclose(tmp);
}

/* config_parse on a NULL-terminated list of arguments (the program name is
 * added), with stdout and stderr captured into *cap. */
static enum config_result parse(struct config *cfg, struct captured *cap, ...)
{
    char *argv[ARGV_MAX + 2] = {"ringhttpd"};
    int argc = 1;
    FILE *out_tmp, *err_tmp;
    int out_saved, err_saved;
    enum config_result r;
    va_list ap;

    va_start(ap, cap);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) {
        CHECK(argc <= ARGV_MAX);
        argv[argc++] = a;
    }
    va_end(ap);

    fflush(stdout);
    out_saved = capture_begin(STDOUT_FILENO, &out_tmp);
    err_saved = capture_begin(STDERR_FILENO, &err_tmp);
    r = config_parse(cfg, argc, argv);
    fflush(stdout);
    fflush(stderr);
    capture_end(STDERR_FILENO, err_saved, err_tmp, cap->err, sizeof(cap->err));
    capture_end(STDOUT_FILENO, out_saved, out_tmp, cap->out, sizeof(cap->out));
    return r;
}

static int count_char(const char *s, char c)
{
    int n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

/* A usage error: exit 2, nothing on stdout, exactly one line on stderr that
 * mentions `what` and ends with the --help hint. */
static void check_usage_error(const struct captured *cap, enum config_result r, const char *what)
{
    static const char hint[] = "; try 'ringhttpd --help'\n";
    size_t len = strlen(cap->err);

    CHECK_INT_EQ(r, CONFIG_EXIT_USAGE);
    CHECK_STR_EQ(cap->out, "");
    CHECK_INT_EQ(count_char(cap->err, '\n'), 1);
    CHECK(strncmp(cap->err, "ringhttpd: ", 11) == 0);
    CHECK(len > sizeof(hint) - 1 && strcmp(cap->err + len - (sizeof(hint) - 1), hint) == 0);
    if (strstr(cap->err, what) == NULL)
        CHECK_FAIL_("stderr \"%s\" does not mention \"%s\"", cap->err, what);
}

static void test_defaults(void)
{
    struct config cfg;
    struct captured cap;

    CHECK_INT_EQ(parse(&cfg, &cap, NULL), CONFIG_OK);
    CHECK(cfg.directory == NULL);
    CHECK(cfg.bind_addr == NULL); /* "::" with IPv4 too, else 0.0.0.0 */
    CHECK_INT_EQ(cfg.reuse_port, 0);
    CHECK_STR_EQ(cfg.engine, "auto");
    CHECK(cfg.access_log == NULL);
    CHECK_INT_EQ(cfg.port, 4221);
    CHECK_INT_EQ(cfg.workers, 1);
    CHECK_INT_EQ(cfg.threads, 64);
    CHECK_INT_EQ(cfg.idle_timeout_s, 60);
    CHECK_INT_EQ(cfg.header_timeout_s, 10);
    CHECK_INT_EQ(cfg.max_request_size, 1048576);
    CHECK_INT_EQ(cfg.max_connections, 0);
    CHECK_INT_EQ(cfg.quiet, 0);
    CHECK_INT_EQ(cfg.workers_set, 0);
    CHECK_INT_EQ(cfg.threads_set, 0);
    CHECK_STR_EQ(cap.out, "");
    CHECK_STR_EQ(cap.err, "");
}

static void test_every_flag(void)
{
    struct config cfg;
    struct captured cap;

    CHECK_INT_EQ(parse(&cfg, &cap, "--directory", "/srv/files", "--port", "8080", "--bind", "::1",
                       "--engine", "threads", "--workers", "4", "--threads", "128",
                       "--idle-timeout", "5", "--header-timeout", "3", "--max-request-size", "0",
                       "--max-connections", "10000", "--access-log", "-", "--quiet", "--reuse-port",
                       NULL),
                 CONFIG_OK);
    CHECK_STR_EQ(cfg.directory, "/srv/files");
    CHECK_INT_EQ(cfg.port, 8080);
    CHECK_STR_EQ(cfg.bind_addr, "::1");
    CHECK_STR_EQ(cfg.engine, "threads");
    CHECK_INT_EQ(cfg.workers, 4);
    CHECK_INT_EQ(cfg.threads, 128);
    CHECK_INT_EQ(cfg.idle_timeout_s, 5);
    CHECK_INT_EQ(cfg.header_timeout_s, 3);
    CHECK_INT_EQ(cfg.max_request_size, 0);
    CHECK_INT_EQ(cfg.max_connections, 10000);
    CHECK_STR_EQ(cfg.access_log, "-");
    CHECK_INT_EQ(cfg.quiet, 1);
    CHECK_INT_EQ(cfg.reuse_port, 1);
    CHECK_INT_EQ(cfg.port_set, 1);
    CHECK_INT_EQ(cfg.workers_set, 1);
    CHECK_INT_EQ(cfg.threads_set, 1);
    CHECK_STR_EQ(cap.err, "");
}

static void test_forms_and_bounds(void)
{
    struct config cfg;
    struct captured cap;

    /* --flag=value, last one wins, and the inclusive ends of each range. */
    CHECK_INT_EQ(parse(&cfg, &cap, "--port=1", "--port=65535", "--engine=uring", NULL), CONFIG_OK);
    CHECK_INT_EQ(cfg.port, 65535);
    CHECK_STR_EQ(cfg.engine, "uring");
    CHECK_INT_EQ(cfg.workers_set, 0);
    CHECK_INT_EQ(parse(&cfg, &cap, "--workers", "256", "--threads", "4096", "--idle-timeout",
                       "86400", "--header-timeout", "1", "--max-request-size",
                       "4611686018427387904", "--max-connections", "10000000", NULL),
                 CONFIG_OK);
    CHECK_INT_EQ(cfg.workers, 256);
    CHECK_INT_EQ(cfg.threads, 4096);
    CHECK_INT_EQ(cfg.idle_timeout_s, 86400);
    CHECK_INT_EQ(cfg.header_timeout_s, 1);
    CHECK(cfg.max_request_size == UINT64_C(1) << 62);
    CHECK_INT_EQ(cfg.max_connections, 10000000);
    CHECK_INT_EQ(parse(&cfg, &cap, "--engine", "auto", "--access-log", "/tmp/x.log", NULL),
                 CONFIG_OK);
    CHECK_STR_EQ(cfg.engine, "auto");
    CHECK_STR_EQ(cfg.access_log, "/tmp/x.log");
    /* A previous call's values do not leak into the next one. */
    CHECK_INT_EQ(cfg.workers, 1);
    CHECK_INT_EQ(cfg.port, 4221);
}

static void test_bad_numbers(void)
{
    static const struct {
        const char *flag, *value;
    } cases[] = {
        {"--port", "abc"},
        {"--port", "0"},
        {"--port", "65536"},
        {"--port", "-1"},
        {"--port", "+80"},
        {"--port", " 80"},
        {"--port", "80 "},
        {"--port", "0x50"},
        {"--port", "8.0"},
        {"--port", ""},
        {"--port", "99999999999999999999999999"},
        {"--workers", "0"},
        {"--workers", "257"},
        {"--threads", "0"},
        {"--threads", "4097"},
        {"--idle-timeout", "0"},
        {"--idle-timeout", "86401"},
        {"--header-timeout", "0"},
        {"--header-timeout", "1s"},
        {"--max-request-size", "4611686018427387905"},
        {"--max-request-size", "18446744073709551616"},
        {"--max-request-size", "1M"},
        {"--max-connections", "10000001"},
        {"--max-connections", "-5"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        struct captured cap;
        char expect[128];

        snprintf(expect, sizeof(expect), "invalid value '%s' for %s (expected ", cases[i].value,
                 cases[i].flag);
        check_usage_error(&cap, parse(&cfg, &cap, cases[i].flag, cases[i].value, NULL), expect);
    }
}

static void test_bad_words(void)
{
    struct config cfg;
    struct captured cap;

    check_usage_error(&cap, parse(&cfg, &cap, "--engine", "epoll", NULL),
                      "'epoll' for --engine (expected auto, uring or threads)");
    check_usage_error(&cap, parse(&cfg, &cap, "--engine", "URING", NULL), "--engine");
    check_usage_error(&cap, parse(&cfg, &cap, "--directory=", NULL), "--directory");
    check_usage_error(&cap, parse(&cfg, &cap, "--bind", "", NULL), "--bind");
    check_usage_error(&cap, parse(&cfg, &cap, "--access-log=", NULL), "--access-log");
}

static void test_bad_options(void)
{
    struct config cfg;
    struct captured cap;

    check_usage_error(&cap, parse(&cfg, &cap, "--frobnicate", NULL), "'--frobnicate'");
    check_usage_error(&cap, parse(&cfg, &cap, "-p", "80", NULL), "'-p'");
    check_usage_error(&cap, parse(&cfg, &cap, "-port", "80", NULL), "'-port'");
    check_usage_error(&cap, parse(&cfg, &cap, "--port", NULL), "'--port' requires a value");
    check_usage_error(&cap, parse(&cfg, &cap, "--quiet", "--directory", NULL),
                      "'--directory' requires a value");
    check_usage_error(&cap, parse(&cfg, &cap, "--quiet=yes", NULL), "'--quiet' takes no value");
    check_usage_error(&cap, parse(&cfg, &cap, "serve", NULL), "unexpected argument 'serve'");
    check_usage_error(&cap, parse(&cfg, &cap, "--port", "80", "extra", NULL), "'extra'");
    check_usage_error(&cap, parse(&cfg, &cap, "--", "--port", NULL), "'--port'");
    /* An error stops parsing: a later --help is not acted on. */
    check_usage_error(&cap, parse(&cfg, &cap, "--bogus", "--help", NULL), "'--bogus'");
}

static void test_help_version(void)
{
    struct config cfg;
    struct captured cap;

    CHECK_INT_EQ(parse(&cfg, &cap, "--help", NULL), CONFIG_EXIT_OK);
    CHECK(strncmp(cap.out, "Usage: ringhttpd", 16) == 0);
    /* Every flag is documented: each word below appears in the help text. */
    char flags[] = "--directory --port --bind --engine --workers --threads --idle-timeout "
                   "--header-timeout --max-request-size --max-connections --access-log "
                   "--quiet --help --version";
    for (char *save, *f = strtok_r(flags, " ", &save); f; f = strtok_r(NULL, " ", &save))
        if (strstr(cap.out, f) == NULL)
            CHECK_FAIL_("--help does not mention %s", f);
    CHECK_STR_EQ(cap.err, "");

    CHECK_INT_EQ(parse(&cfg, &cap, "--version", NULL), CONFIG_EXIT_OK);
    CHECK_STR_EQ(cap.out, "ringhttpd " RINGHTTPD_VERSION "\n");
    CHECK_STR_EQ(cap.err, "");

    /* Valid flags before --help are fine; --help wins over what follows. */
    CHECK_INT_EQ(parse(&cfg, &cap, "--port", "80", "--help", "--port", "x", NULL), CONFIG_EXIT_OK);
}

int main(void)
{
    test_defaults();
    test_every_flag();
    test_forms_and_bounds();
    test_bad_numbers();
    test_bad_words();
    test_bad_options();
    test_help_version();
    /* Parsing again after all of the above still yields the defaults. */
    test_defaults();
    puts("test_config: all checks passed");
    return 0;
}
