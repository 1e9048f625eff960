/* mem.c - see mem.h. */
#include "util/mem.h"

#include <malloc.h>
#include <stdatomic.h>

static atomic_size_t mem_freed;

void mem_note_freed(size_t bytes)
{
    atomic_fetch_add_explicit(&mem_freed, bytes, memory_order_relaxed);
}

int mem_trim_due(void)
{
    return atomic_load_explicit(&mem_freed, memory_order_relaxed) >= MEM_TRIM_BYTES;
}

int mem_trim(void)
{
    if (!mem_trim_due())
        return 0;
    atomic_store_explicit(&mem_freed, 0, memory_order_relaxed);
    malloc_trim(0);
    return 1;
}
