/* router.h - the route table: one row is the whole truth of a route.
 *
 * A row names the path (exact, or a prefix whose rest goes to the handler),
 * the methods it allows (another known method gets 405 with the row's Allow
 * value; a method the server does not know, 501, whatever the path), what the
 * handler needs kept from the request, and the handler. Adding a route is
 * one row in router.c plus one handler (http/conn_routes.c). */
#ifndef RINGHTTPD_ROUTER_H
#define RINGHTTPD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/parse.h"

struct conn;

enum route_id {
    ROUTE_NOT_FOUND,
    ROUTE_ROOT,       /* "/" exactly */
    ROUTE_ECHO,       /* "/echo/{s}" */
    ROUTE_USER_AGENT, /* "/user-agent" exactly */
    ROUTE_FILES,      /* "/files/{name}" */
};

/* What the core keeps for the handler before the body is read. */
enum route_arg {
    ROUTE_ARG_NONE,
    ROUTE_ARG_REST,       /* the rest of the path, percent-decoded */
    ROUTE_ARG_USER_AGENT, /* the User-Agent value */
    ROUTE_ARG_FILE_NAME,  /* the rest, decoded and checked as a /files/ name */
};

#define ROUTE_METHOD(m) (1u << (m))
#define ROUTE_GET (ROUTE_METHOD(HTTP_METHOD_GET) | ROUTE_METHOD(HTTP_METHOD_HEAD))

struct route {
    const char *path;
    size_t len;
    bool prefix;
    unsigned methods;      /* ROUTE_METHOD() bits allowed */
    unsigned body_methods; /* methods whose body the handler reads itself */
    enum route_arg arg;
    enum route_id id;
    /* Answer the request: the body (if any) has been read and dropped,
     * unless the method is in body_methods. */
    void (*run)(struct conn *c);
    const char *allow; /* Allow value: methods, spelled out */
};

struct route_match {
    enum route_id id;
    const struct route *route; /* NULL for ROUTE_NOT_FOUND */
    const char *rest;          /* for prefix routes: what follows the prefix (raw) */
    size_t rest_len;
};

/* Match a raw (not yet percent-decoded) path. Matching is on the raw bytes,
 * so "/%65cho/x" is not /echo/ - as with nginx, the route prefix must be
 * literal. Never fails: unknown paths give ROUTE_NOT_FOUND. */
struct route_match router_match(const char *path, size_t len);

/* The row of a route id, or NULL for ROUTE_NOT_FOUND. */
const struct route *router_route(enum route_id id);

/* The Allow value for a route ("GET, HEAD" / "GET, HEAD, POST"). */
const char *router_allow(enum route_id id);

/* The handlers (http/conn_routes.c). */
void route_root(struct conn *c);
void route_echo(struct conn *c);
void route_user_agent(struct conn *c);
void route_files(struct conn *c);

#endif
