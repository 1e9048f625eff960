/* fuzz_chunked.c - the chunked decoder on arbitrary bytes.
 *
 * The input is decoded whole, then cut into two pieces at every point (short
 * inputs) or at a few points taken from the data (long ones), and one byte at
 * a time. Each piece is an exact-size heap copy. The decoder keeps its state
 * across pieces, so every way must agree on the outcome, on where the body
 * ends and on the decoded data; every call must keep its ranges inside the
 * bytes it was given and consumed. */
#include <string.h>

#include "fuzz.h"
#include "http/chunked.h"

#define FUZZ_EVERY_SPLIT_MAX 128
#define FUZZ_BYTEWISE_MAX 2048

struct outcome {
    enum chunked_result result; /* DONE, ERROR, or NEED_MORE at the end */
    size_t consumed;            /* input bytes used in total */
    size_t data_len;            /* decoded bytes */
    uint64_t total;             /* c->total at the end */
    char *data;                 /* decoded bytes (len bytes of room) */
};

/* One piece: call the decoder until it wants more, finishes or fails. */
static enum chunked_result feed(struct chunked *c, const char *piece, size_t len, struct outcome *o)
{
    size_t pos = 0;

    for (;;) {
        size_t consumed = (size_t)-1, off = (size_t)-1, dlen = (size_t)-1;
        uint64_t declared = c->total + c->remaining;
        enum chunked_result r = chunked_decode(c, piece + pos, len - pos, &consumed, &off, &dlen);

        FUZZ_CHECK(consumed <= len - pos);
        /* What the sender declared never shrinks; no chunk is over 2^60
         * (chunked.h), and the total stays below 2^61. */
        FUZZ_CHECK(c->total + c->remaining >= declared);
        FUZZ_CHECK(c->remaining <= (UINT64_C(1) << 60));
        FUZZ_CHECK(c->total + c->remaining <= (UINT64_C(1) << 61));
        switch (r) {
        case CHUNKED_DATA:
            FUZZ_CHECK(dlen > 0 && off <= consumed && dlen <= consumed - off);
            memcpy(o->data + o->data_len, piece + pos + off, dlen);
            o->data_len += dlen;
            pos += consumed;
            FUZZ_CHECK(o->data_len == c->total);
            continue; /* also with nothing left: an empty call must say NEED_MORE */
        case CHUNKED_NEED_MORE:
            FUZZ_CHECK(consumed == len - pos); /* "all input consumed" */
            pos += consumed;
            return r;
        case CHUNKED_DONE:
        case CHUNKED_ERROR:
            pos += consumed;
            o->consumed += pos;
            return r;
        }
        FUZZ_CHECK(!"unknown chunked_result");
    }
}

/* Decode data[0..len) in pieces ending at cuts[0..ncuts) and then at len. */
static void decode_pieces(const char *data, size_t len, const size_t *cuts, size_t ncuts,
                          struct outcome *o)
{
    struct chunked c;
    size_t start = 0;

    chunked_init(&c);
    o->consumed = o->data_len = 0;
    o->result = CHUNKED_NEED_MORE;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        char *piece = fuzz_dup(data + start, end - start);

        o->result = feed(&c, piece, end - start, o);
        free(piece);
        if (o->result != CHUNKED_NEED_MORE)
            break;
        o->consumed = end;
        start = end;
    }
    o->total = c.total;
    FUZZ_CHECK(o->consumed <= len);
    FUZZ_CHECK(o->data_len == c.total);
    FUZZ_CHECK(o->result == CHUNKED_NEED_MORE || o->result == CHUNKED_DONE ||
               o->result == CHUNKED_ERROR);
}

static void check_agree(const struct outcome *a, const struct outcome *b)
{
    FUZZ_CHECK(a->result == b->result);
    FUZZ_CHECK(a->consumed == b->consumed);
    FUZZ_CHECK(a->total == b->total && a->data_len == b->data_len);
    FUZZ_CHECK(memcmp(a->data, b->data, a->data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct outcome whole, other;
    size_t cut;

    whole.data = malloc(size + 1);
    other.data = malloc(size + 1);
    FUZZ_CHECK(whole.data && other.data);

    decode_pieces(in, size, NULL, 0, &whole);
    /* Decoded data is never more than the input. */
    FUZZ_CHECK(whole.data_len <= whole.consumed);

    if (size <= FUZZ_EVERY_SPLIT_MAX) {
        for (cut = 0; cut <= size; cut++) {
            decode_pieces(in, size, &cut, 1, &other);
            check_agree(&whole, &other);
        }
    } else {
        for (int i = 0; i < 8; i++) {
            cut = (size_t)((data[i] << 8 | data[size - 1 - i]) % (size + 1));
            decode_pieces(in, size, &cut, 1, &other);
            check_agree(&whole, &other);
        }
    }
    if (size <= FUZZ_BYTEWISE_MAX) {
        size_t *cuts = malloc((size + 1) * sizeof(*cuts));
        FUZZ_CHECK(cuts != NULL);
        for (size_t i = 0; i < size; i++)
            cuts[i] = i + 1;
        decode_pieces(in, size, cuts, size, &other);
        check_agree(&whole, &other);
        free(cuts);
    }
    free(whole.data);
    free(other.data);
    return 0;
}
