/* mime.h - Content-Type by file name extension, from a table in the
 * /etc/mime.types format (Debian's media-types package): each line is a
 * media type followed by the extensions that have it; '#' starts a comment.
 * Built once at start-up, then read-only (shared by every thread). */
#ifndef RINGHTTPD_MIME_H
#define RINGHTTPD_MIME_H

#include <stddef.h>

struct mime_table;

/* Build a table from the text of a mime.types file. Returns NULL when out
 * of memory. Lines that are not "type/subtype ext..." are skipped; when an
 * extension is listed twice, the first line wins (as in nginx's types). */
struct mime_table *mime_table_parse(const char *text, size_t len);

void mime_table_free(struct mime_table *t);

/* How many extensions the table maps. */
size_t mime_table_count(const struct mime_table *t);

/* The media type of a file name by its extension (after the last '.' of its
 * last segment, compared case-insensitively), or dflt when there is none,
 * the name has no extension, or t is NULL. */
const char *mime_type_of(const struct mime_table *t, const char *name, size_t len,
                         const char *dflt);

#endif
