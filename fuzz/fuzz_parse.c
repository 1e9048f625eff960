/* fuzz_parse.c - the request-head parser on arbitrary bytes.
 *
 * Input: byte 0 picks a split point, the rest is the head. The head is parsed
 * whole, in two pieces (split where byte 0 says), and for short inputs one
 * byte at a time; each piece is an exact-size heap copy, so reading past the
 * bytes given is an ASan error. Every way must give the same answer, and a
 * parsed head must satisfy what parse.h promises. */
#include <string.h>

#include "fuzz.h"
#include "http/parse.h"

#define FUZZ_BYTEWISE_MAX 512

static int slice_within(struct http_slice s, size_t len)
{
    return (size_t)s.off + s.len <= len;
}

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* What a complete head promises: slices inside it, tokens that are tokens,
 * values trimmed and free of control bytes. */
static void check_head(const struct http_request *r, const char *buf, size_t head_len)
{
    FUZZ_CHECK(head_len >= 4 && memcmp(buf + head_len - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(r->error == 0);
    FUZZ_CHECK(slice_within(r->line, head_len) && r->line.len > 0);
    FUZZ_CHECK(slice_within(r->method_tok, head_len) && r->method_tok.len > 0);
    FUZZ_CHECK(slice_within(r->target, head_len) && r->target.len > 0);
    FUZZ_CHECK(r->method_tok.off == r->line.off);
    FUZZ_CHECK(r->target.off > r->line.off &&
               r->target.off + r->target.len <= r->line.off + r->line.len);
    FUZZ_CHECK(r->version_minor <= 1);
    for (size_t i = 0; i < r->method_tok.len; i++)
        FUZZ_CHECK(http_is_tchar((unsigned char)buf[r->method_tok.off + i]));
    for (size_t i = 0; i < r->target.len; i++) {
        unsigned char ch = (unsigned char)buf[r->target.off + i];
        FUZZ_CHECK(ch > 0x20 && ch < 0x7f);
    }
    FUZZ_CHECK(r->nheaders <= HTTP_MAX_HEADERS);
    for (int i = 0; i < r->nheaders; i++) {
        const struct http_header *h = &r->headers[i];
        FUZZ_CHECK(slice_within(h->name, head_len) && slice_within(h->value, head_len));
        FUZZ_CHECK(h->name.len > 0 && h->name.off > r->line.off + r->line.len);
        FUZZ_CHECK(buf[h->name.off + h->name.len] == ':');
        for (size_t k = 0; k < h->name.len; k++)
            FUZZ_CHECK(http_is_tchar((unsigned char)buf[h->name.off + k]));
        if (h->value.len) {
            FUZZ_CHECK(!is_ows(buf[h->value.off]));
            FUZZ_CHECK(!is_ows(buf[h->value.off + h->value.len - 1]));
        }
        for (size_t k = 0; k < h->value.len; k++) {
            unsigned char ch = (unsigned char)buf[h->value.off + k];
            FUZZ_CHECK(ch == '\t' || (ch >= 0x20 && ch != 0x7f));
        }
        /* Lookup by name finds this header or an earlier one of that name. */
        char name[HTTP_MAX_HEAD];
        memcpy(name, buf + h->name.off, h->name.len);
        name[h->name.len] = '\0';
        int iter = 0;
        const struct http_header *found = http_request_header(r, buf, name, &iter);
        FUZZ_CHECK(found != NULL && found <= h && iter >= 1 && iter <= i + 1);
    }
}

static void check_result(const struct http_request *r, const char *buf, size_t len, int n)
{
    FUZZ_CHECK(n == -1 || n == -2 || (n > 0 && (size_t)n <= len));
    if (n == -1)
        FUZZ_CHECK(r->error == 400 || r->error == 414 || r->error == 431 || r->error == 505);
    if (n == -2)
        FUZZ_CHECK(len < HTTP_MAX_HEAD);
    if (n > 0) {
        FUZZ_CHECK((size_t)n <= HTTP_MAX_HEAD);
        check_head(r, buf, (size_t)n);
    }
}

/* Two parses of the same bytes agree: result, and for a head every slice. */
static void check_same(const struct http_request *a, int na, const struct http_request *b, int nb)
{
    FUZZ_CHECK(na == nb);
    if (na <= 0)
        return;
    FUZZ_CHECK(a->method == b->method && a->version_minor == b->version_minor);
    FUZZ_CHECK(memcmp(&a->line, &b->line, sizeof(a->line)) == 0);
    FUZZ_CHECK(memcmp(&a->target, &b->target, sizeof(a->target)) == 0);
    FUZZ_CHECK(a->nheaders == b->nheaders);
    FUZZ_CHECK(memcmp(a->headers, b->headers, a->nheaders * sizeof(a->headers[0])) == 0);
}

/* Parse data[0..len) fed in pieces ending at cuts[0..ncuts) and then at len.
 * Each call sees a fresh exact-size copy of all bytes so far. */
static int parse_pieces(struct http_request *r, const char *data, size_t len, const size_t *cuts,
                        size_t ncuts)
{
    int n = -2;

    http_request_reset(r);
    for (size_t i = 0; i <= ncuts && n == -2; i++) {
        size_t upto = i < ncuts ? cuts[i] : len;
        char *buf = fuzz_dup(data, upto);

        n = http_parse_request(r, buf, upto);
        check_result(r, buf, upto, n);
        free(buf);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_request whole, split, bytewise;

    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t cut = len * data[0] / 255;

    int n_whole = parse_pieces(&whole, in, len, NULL, 0);
    int n_split = parse_pieces(&split, in, len, &cut, 1);
    /* A failure may be found earlier in a prefix than in the whole (e.g. a
     * bad byte before the size limit is reached), so errors agree only as
     * errors, not necessarily on the status. */
    check_same(&whole, n_whole, &split, n_split);

    if (len <= FUZZ_BYTEWISE_MAX) {
        size_t cuts[FUZZ_BYTEWISE_MAX];
        for (size_t i = 0; i < len; i++)
            cuts[i] = i;
        int n_bytes = parse_pieces(&bytewise, in, len, cuts, len);
        check_same(&whole, n_whole, &bytewise, n_bytes);
    }
    return 0;
}
