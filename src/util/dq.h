/* dq.h - deadline queues: timers in O(1), after lwan's timeout queue.
 *
 * Every timer of one queue has the same duration, so appending at the tail
 * keeps each queue sorted by deadline: setting, restarting and cancelling a
 * timer are list operations, and only the heads are ever compared. The
 * nodes live inside the caller's own array elements (a slab of
 * connections) and link by index, so a queue costs no allocation and a node
 * 16 bytes. */
#ifndef RINGHTTPD_DQ_H
#define RINGHTTPD_DQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DQ_NIL UINT32_MAX
#define DQ_QUEUES 4 /* queue ids 1 .. DQ_QUEUES - 1; 0 is "in no queue" */

struct dq_node {
    uint32_t prev, next; /* indexes of neighbours, or DQ_NIL */
    uint64_t key;        /* queue id << 56 | deadline in ms */
};

struct dq {
    char *base;    /* node of element 0 */
    size_t stride; /* bytes from one element's node to the next one's */
    uint32_t head[DQ_QUEUES], tail[DQ_QUEUES];
};

/* Nodes are found as base + i * stride: first is the node of element 0. */
void dq_init(struct dq *d, struct dq_node *first, size_t stride);

/* A node in no queue (call once per element before use). */
void dq_node_init(struct dq_node *n);

/* The queue node i is in, or 0. */
unsigned dq_queue_of(const struct dq *d, uint32_t i);

/* Put node i in queue q (1 .. DQ_QUEUES - 1) with deadline now_ms + dur_ms,
 * the same dur_ms for every node of q. A node already in q keeps its
 * deadline unless restart is set. */
void dq_put(struct dq *d, uint32_t i, unsigned q, uint64_t now_ms, uint64_t dur_ms, bool restart);

/* Take node i out of its queue (no-op when in none). */
void dq_remove(struct dq *d, uint32_t i);

/* A node whose deadline is at or before now_ms (still queued: the caller
 * removes it), or DQ_NIL. */
uint32_t dq_expired(const struct dq *d, uint64_t now_ms);

/* Milliseconds until the earliest deadline (0 if one has passed), or -1
 * when every queue is empty. */
int64_t dq_next_ms(const struct dq *d, uint64_t now_ms);

#endif
