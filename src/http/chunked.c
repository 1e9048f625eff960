/* chunked.c - byte-at-a-time state machine for the chunked transfer coding
 * (RFC 9112 section 7.1). Framing is walked byte by byte; chunk data is never
 * copied, only reported as a range of the caller's buffer. */
#include "http/chunked.h"

#include "http/parse.h"

/* A chunk larger than 2^60 bytes is certainly an attack or garbage; the bound
 * also keeps total + remaining far from overflowing. */
#define CHUNKED_MAX_SIZE (UINT64_C(1) << 60)

/* The size-line states come first: chunked_decode() tells them apart from
 * the trailer states by comparing with ST_DATA. */
enum chunked_state {
    ST_SIZE,         /* 1*HEXDIG */
    ST_SIZE_BWS,     /* whitespace after the size or an extension value */
    ST_EXT_PRE_NAME, /* after ';' */
    ST_EXT_NAME,
    ST_EXT_NAME_BWS, /* whitespace after an extension name */
    ST_EXT_PRE_VAL,  /* after '=' */
    ST_EXT_VAL,      /* token value */
    ST_EXT_QUOTED,   /* quoted-string value; c->quoted marks a pending '\' */
    ST_EXT_VAL_END,  /* after the closing quote */
    ST_SIZE_LF,      /* CR of the size line seen */
    ST_DATA,
    ST_DATA_CR,
    ST_DATA_LF,
    ST_TRAILER_START, /* start of a trailer line, or of the final CRLF */
    ST_TRAILER_NAME,
    ST_TRAILER_VALUE,
    ST_TRAILER_LF,
    ST_END_LF,
    ST_DONE,
    ST_ERROR,
};

void chunked_init(struct chunked *c)
{
    *c = (struct chunked){.state = ST_SIZE};
}

/* What may follow an extension value: another extension, BWS, or the CR. */
static enum chunked_state ext_value_end(unsigned char ch)
{
    if (ch == ';')
        return ST_EXT_PRE_NAME;
    if (ch == '\r')
        return ST_SIZE_LF;
    return http_is_ows(ch) ? ST_SIZE_BWS : ST_ERROR;
}

/* One framing byte in a size line. Returns the next state. */
static enum chunked_state size_line_byte(struct chunked *c, enum chunked_state st, unsigned char ch)
{
    switch (st) {
    case ST_SIZE: {
        int d = http_hex_value(ch);
        if (d >= 0) {
            /* remaining accumulates the size so that total + remaining never
             * understates what the sender has declared so far. */
            if (c->remaining > (CHUNKED_MAX_SIZE >> 4) ||
                c->remaining * 16 + (uint64_t)d > CHUNKED_MAX_SIZE)
                return ST_ERROR; /* refused before it is stored */
            c->remaining = c->remaining * 16 + (uint64_t)d;
            c->saw_digit = 1;
            return ST_SIZE;
        }
        if (!c->saw_digit)
            return ST_ERROR;
        if (ch == ';')
            return ST_EXT_PRE_NAME;
        if (ch == '\r')
            return ST_SIZE_LF;
        return http_is_ows(ch) ? ST_SIZE_BWS : ST_ERROR;
    }
    case ST_SIZE_BWS:
        if (http_is_ows(ch))
            return ST_SIZE_BWS;
        return ch == ';' ? ST_EXT_PRE_NAME : ST_ERROR;
    case ST_EXT_PRE_NAME:
        if (http_is_ows(ch))
            return ST_EXT_PRE_NAME;
        return http_is_tchar(ch) ? ST_EXT_NAME : ST_ERROR;
    case ST_EXT_NAME:
        if (http_is_tchar(ch))
            return ST_EXT_NAME;
        if (ch == '=')
            return ST_EXT_PRE_VAL;
        if (ch == ';')
            return ST_EXT_PRE_NAME;
        if (ch == '\r')
            return ST_SIZE_LF;
        return http_is_ows(ch) ? ST_EXT_NAME_BWS : ST_ERROR;
    case ST_EXT_NAME_BWS:
        if (http_is_ows(ch))
            return ST_EXT_NAME_BWS;
        if (ch == '=')
            return ST_EXT_PRE_VAL;
        return ch == ';' ? ST_EXT_PRE_NAME : ST_ERROR;
    case ST_EXT_PRE_VAL:
        if (http_is_ows(ch))
            return ST_EXT_PRE_VAL;
        if (ch == '"') {
            c->quoted = 0;
            return ST_EXT_QUOTED;
        }
        return http_is_tchar(ch) ? ST_EXT_VAL : ST_ERROR;
    case ST_EXT_VAL:
        return http_is_tchar(ch) ? ST_EXT_VAL : ext_value_end(ch);
    case ST_EXT_VAL_END:
        return ext_value_end(ch);
    case ST_EXT_QUOTED:
        if (c->quoted) {
            c->quoted = 0;
            return http_is_field_char(ch) ? ST_EXT_QUOTED : ST_ERROR; /* quoted-pair */
        }
        if (ch == '"')
            return ST_EXT_VAL_END;
        if (ch == '\\') {
            c->quoted = 1;
            return ST_EXT_QUOTED;
        }
        return http_is_qdtext(ch) ? ST_EXT_QUOTED : ST_ERROR;
    case ST_SIZE_LF:
        if (ch != '\n')
            return ST_ERROR;
        return c->remaining ? ST_DATA : ST_TRAILER_START;
    default:
        return ST_ERROR;
    }
}

/* One byte of the trailer section (after the last chunk's size line). */
static enum chunked_state trailer_byte(enum chunked_state st, unsigned char ch)
{
    switch (st) {
    case ST_TRAILER_START:
        /* A leading SP/HTAB would be obs-fold (or a malformed first line). */
        if (ch == '\r')
            return ST_END_LF;
        return http_is_tchar(ch) ? ST_TRAILER_NAME : ST_ERROR;
    case ST_TRAILER_NAME:
        if (http_is_tchar(ch))
            return ST_TRAILER_NAME;
        return ch == ':' ? ST_TRAILER_VALUE : ST_ERROR;
    case ST_TRAILER_VALUE:
        if (ch == '\r')
            return ST_TRAILER_LF;
        return http_is_field_char(ch) ? ST_TRAILER_VALUE : ST_ERROR;
    case ST_TRAILER_LF:
        return ch == '\n' ? ST_TRAILER_START : ST_ERROR;
    case ST_END_LF:
        return ch == '\n' ? ST_DONE : ST_ERROR;
    default:
        return ST_ERROR;
    }
}

enum chunked_result chunked_decode(struct chunked *c, const char *buf, size_t len, size_t *consumed,
                                   size_t *data_off, size_t *data_len)
{
    size_t pos = 0;
    enum chunked_state st = c->state;

    *data_off = 0;
    *data_len = 0;
    while (pos < len && st != ST_DONE && st != ST_ERROR) {
        unsigned char ch = (unsigned char)buf[pos];

        if (st == ST_DATA) {
            size_t avail = len - pos;
            size_t n = c->remaining < avail ? (size_t)c->remaining : avail;
            *data_off = pos;
            *data_len = n;
            pos += n;
            c->remaining -= n;
            c->total += n;
            c->state = c->remaining ? ST_DATA : ST_DATA_CR;
            *consumed = pos;
            return CHUNKED_DATA;
        }
        pos++;
        if (st == ST_DATA_CR) {
            st = ch == '\r' ? ST_DATA_LF : ST_ERROR;
        } else if (st == ST_DATA_LF) {
            if (ch == '\n') {
                st = ST_SIZE;
                c->saw_digit = 0;
                c->line_len = 0;
            } else {
                st = ST_ERROR;
            }
        } else if (st < ST_DATA) {
            if (++c->line_len > CHUNKED_MAX_LINE)
                st = ST_ERROR;
            else
                st = size_line_byte(c, st, ch);
            if (st == ST_TRAILER_START)
                c->line_len = 0;
        } else {
            if (++c->trailer_len > CHUNKED_MAX_TRAILERS || ++c->line_len > CHUNKED_MAX_LINE)
                st = ST_ERROR;
            else
                st = trailer_byte(st, ch);
            if (st == ST_TRAILER_START)
                c->line_len = 0;
        }
    }
    c->state = (uint8_t)st;
    *consumed = pos;
    if (st == ST_DONE)
        return CHUNKED_DONE;
    if (st == ST_ERROR)
        return CHUNKED_ERROR;
    return CHUNKED_NEED_MORE;
}
