/* mem.h - giving memory back to the system after a spike.
 *
 * Connection buffers (the core's request blocks, the uring engine's spill
 * and transfer buffers) are malloc'd. glibc keeps freed chunks in its heaps,
 * so after a spike of thousands of connections the process would stay at its
 * peak size. Whoever frees such a buffer notes it; the engines call
 * mem_trim() about once a second, which returns free heap pages with
 * malloc_trim() once enough has been freed to be worth the walk over the
 * heaps. Thread-safe. */
#ifndef RINGHTTPD_MEM_H
#define RINGHTTPD_MEM_H

#include <stddef.h>

/* Bytes freed since the last trim that make mem_trim() act. */
#define MEM_TRIM_BYTES (4u << 20)

/* bytes of connection buffers were just freed. */
void mem_note_freed(size_t bytes);

/* 1 when at least MEM_TRIM_BYTES were freed since the last trim: an engine
 * that would otherwise sleep without a deadline wakes up to trim. */
int mem_trim_due(void);

/* Return free heap memory to the system if mem_trim_due(). Returns 1 when it
 * trimmed. */
int mem_trim(void);

#endif
