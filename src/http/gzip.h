/* gzip.h - Accept-Encoding negotiation and one-shot gzip (libdeflate).
 *
 * Both functions are pure apart from a compressor object cached per thread
 * (allocated on first use, freed by gzip_thread_cleanup). */
#ifndef RINGHTTPD_GZIP_H
#define RINGHTTPD_GZIP_H

#include <stddef.h>

/* 1 when an Accept-Encoding value accepts gzip: "gzip" or "x-gzip" with q>0
 * (names and parameters are case-insensitive), or "*" with q>0 when gzip is
 * not listed itself. An explicit gzip;q=0 wins over everything else.
 * Malformed elements are ignored; an element whose q value is malformed (e.g.
 * "gzip;q=1.5") counts as listed with q=0. For a header sent as several lines
 * use gzip_accepted_list: OR-ing per-line results would miss a q=0. */
int gzip_accepted(const char *value, size_t len);

/* The same over several header lines (a list header may be split): values[i]
 * with lens[i]. An explicit gzip;q=0 on any line wins over "*". */
int gzip_accepted_list(const char *const *values, const size_t *lens, size_t n);

/* Upper bound of the compressed size of len input bytes. */
size_t gzip_bound(size_t len);

/* Compress src[0..len) into dst[0..cap) as one gzip member. Returns the
 * compressed size, or 0 when it does not fit or compression failed. */
size_t gzip_compress(void *dst, size_t cap, const void *src, size_t len);

/* Free this thread's compressor (call before a thread exits). */
void gzip_thread_cleanup(void);

#endif
