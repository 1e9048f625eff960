/* status.h - the HTTP status table as an X-macro: code, enum name, reason. */
#ifndef RINGHTTPD_STATUS_H
#define RINGHTTPD_STATUS_H

#define HTTP_STATUS_TABLE(X)                                                                       \
    X(100, CONTINUE, "Continue")                                                                   \
    X(200, OK, "OK")                                                                               \
    X(201, CREATED, "Created")                                                                     \
    X(204, NO_CONTENT, "No Content")                                                               \
    X(206, PARTIAL_CONTENT, "Partial Content")                                                     \
    X(304, NOT_MODIFIED, "Not Modified")                                                           \
    X(400, BAD_REQUEST, "Bad Request")                                                             \
    X(403, FORBIDDEN, "Forbidden")                                                                 \
    X(404, NOT_FOUND, "Not Found")                                                                 \
    X(405, METHOD_NOT_ALLOWED, "Method Not Allowed")                                               \
    X(408, REQUEST_TIMEOUT, "Request Timeout")                                                     \
    X(409, CONFLICT, "Conflict")                                                                   \
    X(411, LENGTH_REQUIRED, "Length Required")                                                     \
    X(412, PRECONDITION_FAILED, "Precondition Failed")                                             \
    X(413, CONTENT_TOO_LARGE, "Content Too Large")                                                 \
    X(414, URI_TOO_LONG, "URI Too Long")                                                           \
    X(416, RANGE_NOT_SATISFIABLE, "Range Not Satisfiable")                                         \
    X(417, EXPECTATION_FAILED, "Expectation Failed")                                               \
    X(431, HEADERS_TOO_LARGE, "Request Header Fields Too Large")                                   \
    X(500, INTERNAL_ERROR, "Internal Server Error")                                                \
    X(501, NOT_IMPLEMENTED, "Not Implemented")                                                     \
    X(503, SERVICE_UNAVAILABLE, "Service Unavailable")                                             \
    X(505, VERSION_NOT_SUPPORTED, "HTTP Version Not Supported")                                    \
    X(507, INSUFFICIENT_STORAGE, "Insufficient Storage")

enum http_status {
#define HTTP_STATUS_ENUM(code, name, reason) HTTP_##name = code,
    HTTP_STATUS_TABLE(HTTP_STATUS_ENUM)
#undef HTTP_STATUS_ENUM
};

#endif
