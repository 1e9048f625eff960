/* test_mime.c - the mime.types parser and the lookup by extension. */
#include "check.h"
#include "http/mime.h"

static const char *type_of(const struct mime_table *t, const char *name)
{
    return mime_type_of(t, name, strlen(name), "default");
}

static void test_lookup(void)
{
    static const char text[] = "# comment line\n"
                               "text/html\t\t\t\thtml htm shtml\n"
                               "text/plain  txt asc   # trailing comment\n"
                               "\n"
                               "image/png png\r\n"
                               "application/x-first dup\n"
                               "application/x-second dup DUP2\n"
                               "application/no-extensions\n"
                               "not-a-type foo\n"
                               "a/b/c bar\n"
                               "image/svg+xml svg svgz";
    struct mime_table *t = mime_table_parse(text, sizeof(text) - 1);

    CHECK(t != NULL);
    CHECK_INT_EQ(mime_table_count(t), 10); /* html htm shtml txt asc png dup dup2 svg svgz */
    CHECK_STR_EQ(type_of(t, "index.html"), "text/html");
    CHECK_STR_EQ(type_of(t, "INDEX.HTM"), "text/html"); /* case-insensitive */
    CHECK_STR_EQ(type_of(t, "a/b/notes.txt"), "text/plain");
    CHECK_STR_EQ(type_of(t, "read.asc"), "text/plain");       /* before the comment */
    CHECK_STR_EQ(type_of(t, "pic.png"), "image/png");         /* CRLF lines */
    CHECK_STR_EQ(type_of(t, "x.dup"), "application/x-first"); /* the first listing wins */
    CHECK_STR_EQ(type_of(t, "x.dup2"), "application/x-second");
    CHECK_STR_EQ(type_of(t, "logo.svgz"), "image/svg+xml"); /* no newline at the end */
    CHECK_STR_EQ(type_of(t, "x.foo"), "default");           /* "not-a-type" is skipped */
    CHECK_STR_EQ(type_of(t, "x.bar"), "default");           /* so is "a/b/c" */
    CHECK_STR_EQ(type_of(t, "x.trailing"), "default");      /* comment words are not extensions */
    CHECK_STR_EQ(type_of(t, "README"), "default");
    CHECK_STR_EQ(type_of(t, "archive."), "default");
    CHECK_STR_EQ(type_of(t, "dir.html/README"), "default"); /* only the last segment */
    CHECK_STR_EQ(type_of(t, ".html"), "text/html");         /* a dot file named so */
    CHECK_STR_EQ(type_of(t, "x.unknown"), "default");
    CHECK_STR_EQ(mime_type_of(NULL, "a.html", 6, "dflt"), "dflt");
    CHECK_STR_EQ(mime_type_of(t, "a.html.gz", 6, "dflt"), "text/html"); /* bounded by len */
    mime_table_free(t);
}

static void test_empty(void)
{
    struct mime_table *t = mime_table_parse("# nothing\n\n", 11);

    CHECK(t != NULL);
    CHECK_INT_EQ(mime_table_count(t), 0);
    CHECK_STR_EQ(type_of(t, "a.html"), "default");
    mime_table_free(t);
    t = mime_table_parse("", 0);
    CHECK(t != NULL && mime_table_count(t) == 0);
    mime_table_free(t);
}

int main(void)
{
    test_lookup();
    test_empty();
    return 0;
}
