/* router.c - the route table (see router.h), matched on the raw path. */
#include "http/router.h"

#include <string.h>

#define ROUTE_PATH(p) p, sizeof(p) - 1

static const struct route router_table[] = {
    {ROUTE_PATH("/"), false, ROUTE_GET, 0, ROUTE_ARG_NONE, ROUTE_ROOT, route_root, "GET, HEAD"},
    {ROUTE_PATH("/echo/"), true, ROUTE_GET, 0, ROUTE_ARG_REST, ROUTE_ECHO, route_echo, "GET, HEAD"},
    {ROUTE_PATH("/user-agent"), false, ROUTE_GET, 0, ROUTE_ARG_USER_AGENT, ROUTE_USER_AGENT,
     route_user_agent, "GET, HEAD"},
    {ROUTE_PATH("/files/"), true,
     ROUTE_GET | ROUTE_METHOD(HTTP_METHOD_POST) | ROUTE_METHOD(HTTP_METHOD_PUT) |
         ROUTE_METHOD(HTTP_METHOD_DELETE),
     ROUTE_METHOD(HTTP_METHOD_POST) | ROUTE_METHOD(HTTP_METHOD_PUT), ROUTE_ARG_FILE_NAME,
     ROUTE_FILES, route_files, "GET, HEAD, POST, PUT, DELETE"},
};

#define ROUTER_ROWS (sizeof(router_table) / sizeof(router_table[0]))

struct route_match router_match(const char *path, size_t len)
{
    for (size_t i = 0; i < ROUTER_ROWS; i++) {
        const struct route *r = &router_table[i];
        if (len < r->len || memcmp(path, r->path, r->len) != 0)
            continue;
        if (!r->prefix && len != r->len)
            continue;
        return (struct route_match){r->id, r, path + r->len, len - r->len};
    }
    return (struct route_match){ROUTE_NOT_FOUND, NULL, NULL, 0};
}

const struct route *router_route(enum route_id id)
{
    for (size_t i = 0; i < ROUTER_ROWS; i++)
        if (router_table[i].id == id)
            return &router_table[i];
    return NULL;
}

const char *router_allow(enum route_id id)
{
    const struct route *r = router_route(id);

    return r ? r->allow : "GET, HEAD";
}
