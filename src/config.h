/* config.h - command-line configuration (docs/CONTRACT.md "Command line"). */
#ifndef RINGHTTPD_CONFIG_H
#define RINGHTTPD_CONFIG_H

#include <stdint.h>

struct config {
    const char *directory;  /* NULL: /files/ answers 404 */
    const char *bind_addr;  /* IPv4 or IPv6 literal; NULL: "::", else "0.0.0.0" */
    const char *engine;     /* "auto", "uring" or "threads" */
    const char *access_log; /* path, "-" for stdout, NULL: off */
    const char *mime_types; /* mime.types file, or NULL: application/octet-stream */
    uint16_t port;
    unsigned workers; /* uring: rings/event-loop threads */
    unsigned threads; /* threads: pool size */
    unsigned idle_timeout_s;
    unsigned header_timeout_s;
    uint64_t max_request_size;
    unsigned max_connections; /* 0: no cap beyond the fd limit */
    unsigned file_cache;      /* open-file cache entries per thread, 0: off */
    int reuse_port;           /* SO_REUSEPORT on the listening socket */
    int quiet;
    int workers_set, threads_set; /* given explicitly (for the ignored-flag note) */
    int port_set;
};

enum config_result {
    CONFIG_OK,
    CONFIG_EXIT_OK,    /* --help / --version printed: exit 0 */
    CONFIG_EXIT_USAGE, /* bad flag or value, message printed: exit 2 */
};

/* Parse argv into *cfg (defaults first). Prints help, version or a one-line
 * error with a usage hint itself. */
enum config_result config_parse(struct config *cfg, int argc, char **argv);

#endif
