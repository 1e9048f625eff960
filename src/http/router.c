/* router.c - the route table: literal path prefixes and exact paths mapped
 * to handler ids, matched on the raw request path. */
#include "http/router.h"

#include <string.h>

struct route {
    const char *path;
    size_t len;
    int exact; /* 0: a prefix; the rest of the path goes to the handler */
    enum route_id id;
};

#define ROUTE_PATH(p) p, sizeof(p) - 1

static const struct route router_table[] = {
    {ROUTE_PATH("/"), 1, ROUTE_ROOT},
    {ROUTE_PATH("/echo/"), 0, ROUTE_ECHO},
    {ROUTE_PATH("/user-agent"), 1, ROUTE_USER_AGENT},
    {ROUTE_PATH("/files/"), 0, ROUTE_FILES},
};

struct route_match router_match(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof(router_table) / sizeof(router_table[0]); i++) {
        const struct route *r = &router_table[i];
        if (len < r->len || memcmp(path, r->path, r->len) != 0)
            continue;
        if (r->exact && len != r->len)
            continue;
        return (struct route_match){r->id, path + r->len, len - r->len};
    }
    return (struct route_match){ROUTE_NOT_FOUND, NULL, 0};
}

const char *router_allow(enum route_id id)
{
    return id == ROUTE_FILES ? "GET, HEAD, POST" : "GET, HEAD";
}
