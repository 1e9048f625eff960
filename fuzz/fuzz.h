/* fuzz.h - what the libFuzzer targets and the replay runner share.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer binary; linked with replay_main.c it is
 * a plain program that runs a corpus (gcc, ctest, optionally ASan). */
#ifndef RINGHTTPD_FUZZ_H
#define RINGHTTPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input. Returns 0 (libFuzzer reserves other values). A violated
 * invariant aborts, which libFuzzer and the replay runner both report. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: print it and abort when false. */
#define FUZZ_CHECK(expr)                                                                           \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A heap copy of data[0..len) of exactly len bytes, so that ASan sees any
 * read past the end (malloc(0) gives a unique pointer on glibc and ASan). */
static inline char *fuzz_dup(const void *data, size_t len)
{
    char *p = malloc(len);

    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; i < len; i++)
        p[i] = ((const char *)data)[i];
    return p;
}

#endif
