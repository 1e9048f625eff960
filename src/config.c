/* config.c - command-line parsing with getopt_long (docs/CONTRACT.md "Command line").
 *
 * Every error is reported as exactly one line on stderr ending with a hint to
 * --help; getopt's own messages are switched off so they cannot add more. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_DIRECTORY = 256, /* above every char, so optopt tells long from short */
    OPT_PORT,
    OPT_BIND,
    OPT_ENGINE,
    OPT_WORKERS,
    OPT_THREADS,
    OPT_IDLE_TIMEOUT,
    OPT_HEADER_TIMEOUT,
    OPT_MAX_REQUEST_SIZE,
    OPT_MAX_CONNECTIONS,
    OPT_ACCESS_LOG,
    OPT_MIME_TYPES,
    OPT_FILE_CACHE,
    OPT_REUSE_PORT,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option config_options[] = {
    {"directory", required_argument, NULL, OPT_DIRECTORY},
    {"port", required_argument, NULL, OPT_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"max-request-size", required_argument, NULL, OPT_MAX_REQUEST_SIZE},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"mime-types", required_argument, NULL, OPT_MIME_TYPES},
    {"file-cache", required_argument, NULL, OPT_FILE_CACHE},
    {"reuse-port", no_argument, NULL, OPT_REUSE_PORT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

#define CONFIG_TIMEOUT_MAX 86400u
#define CONFIG_MAX_REQUEST_SIZE_MAX (UINT64_C(1) << 62)
#define CONFIG_MAX_CONNECTIONS_MAX 10000000u
#define CONFIG_FILE_CACHE_DEFAULT 4096u
#define CONFIG_FILE_CACHE_MAX 1000000u

static const char config_usage[] =
    "Usage: ringhttpd [OPTION]...\n"
    "A small, fast HTTP/1.1 server.\n"
    "\n"
    "  --directory DIR          serve and store /files/ under DIR (default: none, 404)\n"
    "  --port N                 TCP port to listen on (default: 4221)\n"
    "  --bind ADDR              IPv4 or IPv6 address literal (default: :: with IPv4\n"
    "                           too, or 0.0.0.0 where the host has no IPv6)\n"
    "  --reuse-port             SO_REUSEPORT: start a new instance beside this one\n"
    "  --engine auto|uring|threads\n"
    "                           I/O engine (default: auto = uring, else threads)\n"
    "  --workers N              uring engine: event-loop threads, one ring each (default: 1)\n"
    "  --threads N              threads engine: worker pool size (default: 64)\n"
    "  --idle-timeout SEC       close keep-alive connections idle this long (default: 60)\n"
    "  --header-timeout SEC     408 when a request head takes longer (default: 10)\n"
    "  --max-request-size BYTES largest request body accepted (default: 1048576)\n"
    "  --max-connections N      refuse connections past N (default: 0 = fd limit only)\n"
    "  --access-log FILE|-      Common Log Format access log, '-' for stdout (default: off)\n"
    "  --file-cache N           files kept (bytes or descriptor) per thread (default: 4096; 0: "
    "off)\n"
    "  --mime-types FILE        /files/ Content-Type by extension from FILE, e.g.\n"
    "                           /etc/mime.types (default: application/octet-stream)\n"
    "  --quiet                  log only errors\n"
    "  --help                   print this help and exit\n"
    "  --version                print the version and exit\n";

/* Print "ringhttpd: MESSAGE; try 'ringhttpd --help'" as one line on stderr. */
static enum config_result config_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static enum config_result config_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One call, so the line is written in one piece (stderr is unbuffered). */
    fprintf(stderr, "ringhttpd: %s; try 'ringhttpd --help'\n", msg);
    return CONFIG_EXIT_USAGE;
}

/* Decimal digits only (no sign, no spaces, no base prefix), within [min, max]. */
static int config_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (d > 9)
            return -EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

static enum config_result config_number(const char *flag, const char *arg, uint64_t min,
                                        uint64_t max, uint64_t *out)
{
    if (config_parse_u64(arg, min, max, out) == 0)
        return CONFIG_OK;
    return config_fail("invalid value '%s' for %s (expected %llu-%llu)", arg, flag,
                       (unsigned long long)min, (unsigned long long)max);
}

static enum config_result config_unsigned(const char *flag, const char *arg, unsigned min,
                                          unsigned max, unsigned *out)
{
    uint64_t v = 0; /* gcc -O3 cannot see that it is set whenever r == CONFIG_OK */
    enum config_result r = config_number(flag, arg, min, max, &v);

    if (r == CONFIG_OK)
        *out = (unsigned)v;
    return r;
}

static enum config_result config_string(const char *flag, const char *arg, const char **out)
{
    if (*arg == '\0')
        return config_fail("invalid value '' for %s (expected a non-empty value)", flag);
    *out = arg;
    return CONFIG_OK;
}

static enum config_result config_engine(const char *arg, const char **out)
{
    if (strcmp(arg, "auto") != 0 && strcmp(arg, "uring") != 0 && strcmp(arg, "threads") != 0)
        return config_fail("invalid value '%s' for --engine (expected auto, uring or threads)",
                           arg);
    *out = arg;
    return CONFIG_OK;
}

static void config_defaults(struct config *cfg)
{
    *cfg = (struct config){
        .directory = NULL,
        .bind_addr = NULL,
        .engine = "auto",
        .access_log = NULL,
        .port = 4221,
        .workers = 1,
        .threads = 64,
        .idle_timeout_s = 60,
        .header_timeout_s = 10,
        .max_request_size = 1048576,
        .max_connections = 0,
        .file_cache = CONFIG_FILE_CACHE_DEFAULT,
    };
}

/* Apply one recognised option. */
static enum config_result config_apply(struct config *cfg, int opt, const char *arg)
{
    uint64_t v = 0; /* gcc -O3 cannot see that it is set whenever r == CONFIG_OK */
    enum config_result r;

    switch (opt) {
    case OPT_DIRECTORY:
        return config_string("--directory", arg, &cfg->directory);
    case OPT_PORT:
        r = config_number("--port", arg, 1, 65535, &v);
        if (r == CONFIG_OK)
            cfg->port = (uint16_t)v;
        cfg->port_set = 1;
        return r;
    case OPT_BIND:
        return config_string("--bind", arg, &cfg->bind_addr);
    case OPT_ENGINE:
        return config_engine(arg, &cfg->engine);
    case OPT_WORKERS:
        cfg->workers_set = 1;
        return config_unsigned("--workers", arg, 1, 256, &cfg->workers);
    case OPT_THREADS:
        cfg->threads_set = 1;
        return config_unsigned("--threads", arg, 1, 4096, &cfg->threads);
    case OPT_IDLE_TIMEOUT:
        return config_unsigned("--idle-timeout", arg, 1, CONFIG_TIMEOUT_MAX, &cfg->idle_timeout_s);
    case OPT_HEADER_TIMEOUT:
        return config_unsigned("--header-timeout", arg, 1, CONFIG_TIMEOUT_MAX,
                               &cfg->header_timeout_s);
    case OPT_MAX_REQUEST_SIZE:
        return config_number("--max-request-size", arg, 0, CONFIG_MAX_REQUEST_SIZE_MAX,
                             &cfg->max_request_size);
    case OPT_MAX_CONNECTIONS:
        return config_unsigned("--max-connections", arg, 0, CONFIG_MAX_CONNECTIONS_MAX,
                               &cfg->max_connections);
    case OPT_ACCESS_LOG:
        return config_string("--access-log", arg, &cfg->access_log);
    case OPT_FILE_CACHE:
        return config_unsigned("--file-cache", arg, 0, CONFIG_FILE_CACHE_MAX, &cfg->file_cache);
    case OPT_MIME_TYPES:
        return config_string("--mime-types", arg, &cfg->mime_types);
    case OPT_REUSE_PORT:
        cfg->reuse_port = 1;
        return CONFIG_OK;
    case OPT_QUIET:
        cfg->quiet = 1;
        return CONFIG_OK;
    case OPT_HELP:
        fputs(config_usage, stdout);
        return CONFIG_EXIT_OK;
    case OPT_VERSION:
        puts("ringhttpd " RINGHTTPD_VERSION);
        return CONFIG_EXIT_OK;
    }
    return config_fail("internal error: option %d not handled", opt);
}

/* getopt_long returned '?' (unknown flag, or a value given to a flag that
 * takes none) or ':' (value missing). There are no short options: a short
 * optopt comes from a word like "-x" or "-port", which getopt has left at
 * argv[optind] unless it ended there. Otherwise optind has moved past the
 * offending long option. */
static enum config_result config_bad_option(int ret, int argc, char **argv)
{
    const char *word = argv[optind - 1 < argc ? optind - 1 : argc - 1];
    const char *eq = strchr(word, '=');

    if (ret == '?' && optopt > 0 && optopt < OPT_DIRECTORY) {
        if (optind < argc && argv[optind][0] == '-' && argv[optind][1] == optopt)
            word = argv[optind];
        return config_fail("unknown option '%s' (options are spelt --name)", word);
    }
    if (ret == ':')
        return config_fail("option '%s' requires a value", word);
    if (optopt >= OPT_DIRECTORY && eq)
        return config_fail("option '%.*s' takes no value", (int)(eq - word), word);
    return config_fail("unknown or ambiguous option '%s'", word);
}

enum config_result config_parse(struct config *cfg, int argc, char **argv)
{
    int opt;

    config_defaults(cfg);
    /* optind = 0 makes glibc reinitialise fully, so this can run more than once. */
    optind = 0;
    opterr = 0;
    /* '+': stop at the first non-option; ':': report a missing value as ':'. */
    while ((opt = getopt_long(argc, argv, "+:", config_options, NULL)) != -1) {
        enum config_result r;

        if (opt == '?' || opt == ':')
            return config_bad_option(opt, argc, argv);
        r = config_apply(cfg, opt, optarg);
        if (r != CONFIG_OK)
            return r;
    }
    if (optind < argc)
        return config_fail("unexpected argument '%s'", argv[optind]);
    return CONFIG_OK;
}
