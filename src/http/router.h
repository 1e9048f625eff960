/* router.h - the route table: request path → handler id. */
#ifndef RINGHTTPD_ROUTER_H
#define RINGHTTPD_ROUTER_H

#include <stddef.h>

enum route_id {
    ROUTE_NOT_FOUND,
    ROUTE_ROOT,       /* "/" exactly */
    ROUTE_ECHO,       /* "/echo/{s}" */
    ROUTE_USER_AGENT, /* "/user-agent" exactly */
    ROUTE_FILES,      /* "/files/{name}" */
};

struct route_match {
    enum route_id id;
    const char *rest; /* for prefix routes: what follows the prefix (raw) */
    size_t rest_len;
};

/* Match a raw (not yet percent-decoded) path. Matching is on the raw bytes,
 * so "/%65cho/x" is not /echo/ - as with nginx, the route prefix must be
 * literal. Never fails: unknown paths give ROUTE_NOT_FOUND. */
struct route_match router_match(const char *path, size_t len);

/* The Allow value for a route ("GET, HEAD" / "GET, HEAD, POST"). */
const char *router_allow(enum route_id id);

#endif
