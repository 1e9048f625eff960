/* test_router.c - every route, the near misses around each, and Allow. */
#include <string.h>

#include "check.h"
#include "http/router.h"

static void match(const char *path, enum route_id id, const char *rest)
{
    size_t len = strlen(path);
    struct route_match m = router_match(path, len);

    if (m.id != id)
        CHECK_FAIL_("router_match(\"%s\") = %d, expected %d", path, (int)m.id, (int)id);
    if (rest) {
        CHECK(m.rest >= path && m.rest + m.rest_len == path + len);
        CHECK_MEM_EQ(m.rest, m.rest_len, rest);
    }
}

static void test_root(void)
{
    match("/", ROUTE_ROOT, "");
    match("//", ROUTE_NOT_FOUND, NULL);
    match("/index.html", ROUTE_NOT_FOUND, NULL);
    match("", ROUTE_NOT_FOUND, NULL);
}

static void test_echo(void)
{
    match("/echo/abc", ROUTE_ECHO, "abc");
    match("/echo/", ROUTE_ECHO, "");
    match("/echo/a/b/c", ROUTE_ECHO, "a/b/c");
    match("/echo/%20x", ROUTE_ECHO, "%20x");
    match("/echo//", ROUTE_ECHO, "/");
    match("/echo", ROUTE_NOT_FOUND, NULL);
    match("/echoes/x", ROUTE_NOT_FOUND, NULL);
    match("/ECHO/x", ROUTE_NOT_FOUND, NULL);
    match("/%65cho/x", ROUTE_NOT_FOUND, NULL);
    match("//echo/x", ROUTE_NOT_FOUND, NULL);
    match("/x/echo/x", ROUTE_NOT_FOUND, NULL);
}

static void test_user_agent(void)
{
    match("/user-agent", ROUTE_USER_AGENT, "");
    match("/user-agent/", ROUTE_NOT_FOUND, NULL);
    match("/user-agent/x", ROUTE_NOT_FOUND, NULL);
    match("/user-agents", ROUTE_NOT_FOUND, NULL);
    match("/user-agen", ROUTE_NOT_FOUND, NULL);
    match("/User-Agent", ROUTE_NOT_FOUND, NULL);
}

static void test_files(void)
{
    match("/files/a.txt", ROUTE_FILES, "a.txt");
    match("/files/", ROUTE_FILES, "");
    match("/files/dir/x", ROUTE_FILES, "dir/x");
    match("/files/../etc/passwd", ROUTE_FILES, "../etc/passwd");
    match("/files", ROUTE_NOT_FOUND, NULL);
    match("/filesx", ROUTE_NOT_FOUND, NULL);
    match("/file/a", ROUTE_NOT_FOUND, NULL);
    match("/x", ROUTE_NOT_FOUND, NULL);
}

static void test_not_nul_terminated(void)
{
    /* only len bytes count */
    struct route_match m = router_match("/echo/abc", 5);
    CHECK_INT_EQ(m.id, ROUTE_NOT_FOUND);
    m = router_match("/echo/abc", 7);
    CHECK_INT_EQ(m.id, ROUTE_ECHO);
    CHECK_MEM_EQ(m.rest, m.rest_len, "a");
    m = router_match("/user-agent/", 11);
    CHECK_INT_EQ(m.id, ROUTE_USER_AGENT);
    m = router_match("/x", 1);
    CHECK_INT_EQ(m.id, ROUTE_ROOT);
}

static void test_allow(void)
{
    CHECK_STR_EQ(router_allow(ROUTE_FILES), "GET, HEAD, POST, PUT, DELETE");
    CHECK_STR_EQ(router_allow(ROUTE_ROOT), "GET, HEAD");
    CHECK_STR_EQ(router_allow(ROUTE_ECHO), "GET, HEAD");
    CHECK_STR_EQ(router_allow(ROUTE_USER_AGENT), "GET, HEAD");
    CHECK_STR_EQ(router_allow(ROUTE_NOT_FOUND), "GET, HEAD");
}

/* A row's Allow value names exactly the methods the row allows, in order,
 * so the 405 never disagrees with what is served. */
static void test_allow_matches_methods(void)
{
    static const struct {
        enum http_method m;
        const char *name;
    } names[] = {{HTTP_METHOD_GET, "GET"},         {HTTP_METHOD_HEAD, "HEAD"},
                 {HTTP_METHOD_POST, "POST"},       {HTTP_METHOD_PUT, "PUT"},
                 {HTTP_METHOD_DELETE, "DELETE"},   {HTTP_METHOD_OPTIONS, "OPTIONS"},
                 {HTTP_METHOD_CONNECT, "CONNECT"}, {HTTP_METHOD_TRACE, "TRACE"},
                 {HTTP_METHOD_PATCH, "PATCH"}};
    static const enum route_id ids[] = {ROUTE_ROOT, ROUTE_ECHO, ROUTE_USER_AGENT, ROUTE_FILES};

    CHECK(router_route(ROUTE_NOT_FOUND) == NULL);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const struct route *r = router_route(ids[i]);
        char want[64] = "";

        CHECK(r != NULL && r->id == ids[i] && r->run != NULL);
        CHECK((r->body_methods & ~r->methods) == 0);
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if (!(r->methods & ROUTE_METHOD(names[k].m)))
                continue;
            if (want[0])
                strcat(want, ", ");
            strcat(want, names[k].name);
        }
        CHECK_STR_EQ(r->allow, want);
        CHECK(r->methods & ROUTE_METHOD(HTTP_METHOD_GET));
    }
}

int main(void)
{
    test_root();
    test_echo();
    test_user_agent();
    test_files();
    test_not_nul_terminated();
    test_allow();
    test_allow_matches_methods();
    return 0;
}
