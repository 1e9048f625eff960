/* chunked.h - incremental decoder for the chunked transfer coding.
 *
 * Sans-I/O and zero-copy: the decoder walks the bytes the caller holds and
 * says, step by step, which of them are body data; the caller hands those on
 * (e.g. writes them to a file) and consumes the framing. State survives any
 * split of the input, down to one byte per call.
 *
 * Strict (RFC 9112 section 7.1): hex sizes without overflow, CRLF line ends,
 * chunk extensions parsed as ;token[=token|quoted-string] and bounded, a CRLF
 * after each chunk's data, trailers parsed as header fields and discarded. */
#ifndef RINGHTTPD_CHUNKED_H
#define RINGHTTPD_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKED_MAX_LINE 4096 /* one size line or trailer line */
#define CHUNKED_MAX_TRAILERS 8192

struct chunked {
    uint8_t state;
    uint8_t saw_digit;
    uint8_t quoted;
    uint16_t line_len;    /* bytes of the current size/trailer line */
    uint32_t trailer_len; /* bytes of trailers so far */
    uint64_t remaining;   /* data bytes left in the current chunk */
    uint64_t total;       /* data bytes decoded so far */
};

enum chunked_result {
    CHUNKED_NEED_MORE, /* all input consumed, more needed */
    CHUNKED_DATA,      /* *data_off and *data_len name body bytes */
    CHUNKED_DONE,      /* last chunk and trailers consumed */
    CHUNKED_ERROR,     /* malformed framing: answer 400 and close */
};

void chunked_init(struct chunked *c);

/* Decode from buf[0..len). *consumed is set to the number of input bytes the
 * call used up (framing and data alike); for CHUNKED_DATA, the data is
 * buf[*data_off .. *data_off + *data_len), and lies inside the consumed range.
 * Call again with the remaining input until NEED_MORE, DONE or ERROR. After
 * DONE, bytes past *consumed belong to the next request.
 *
 * Body limits are the caller's: c->total counts the data bytes returned so
 * far, and once a size line is parsed c->remaining holds the declared chunk
 * size (minus what was returned of it), before any of its data has arrived.
 * So after every call c->total + c->remaining is the body size declared so
 * far, and a caller can refuse an oversized chunk (413) without reading it.
 * Chunk sizes above 2^60 are a framing error. */
enum chunked_result chunked_decode(struct chunked *c, const char *buf, size_t len, size_t *consumed,
                                   size_t *data_off, size_t *data_len);

#endif
