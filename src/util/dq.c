/* dq.c - see dq.h. */
#include "util/dq.h"

#define DQ_DEADLINE_MASK ((UINT64_C(1) << 56) - 1)

static struct dq_node *dq_node(const struct dq *d, uint32_t i)
{
    return (struct dq_node *)(d->base + (size_t)i * d->stride);
}

void dq_init(struct dq *d, struct dq_node *first, size_t stride)
{
    d->base = (char *)first;
    d->stride = stride;
    for (unsigned q = 0; q < DQ_QUEUES; q++)
        d->head[q] = d->tail[q] = DQ_NIL;
}

void dq_node_init(struct dq_node *n)
{
    n->prev = n->next = DQ_NIL;
    n->key = 0;
}

unsigned dq_queue_of(const struct dq *d, uint32_t i)
{
    return (unsigned)(dq_node(d, i)->key >> 56);
}

void dq_remove(struct dq *d, uint32_t i)
{
    struct dq_node *n = dq_node(d, i);
    unsigned q = (unsigned)(n->key >> 56);

    if (q == 0)
        return;
    if (n->prev != DQ_NIL)
        dq_node(d, n->prev)->next = n->next;
    else
        d->head[q] = n->next;
    if (n->next != DQ_NIL)
        dq_node(d, n->next)->prev = n->prev;
    else
        d->tail[q] = n->prev;
    dq_node_init(n);
}

void dq_put(struct dq *d, uint32_t i, unsigned q, uint64_t now_ms, uint64_t dur_ms, bool restart)
{
    struct dq_node *n = dq_node(d, i);

    if ((n->key >> 56) == q && !restart)
        return;
    dq_remove(d, i);
    n->key = ((uint64_t)q << 56) | ((now_ms + dur_ms) & DQ_DEADLINE_MASK);
    n->prev = d->tail[q];
    if (d->tail[q] != DQ_NIL)
        dq_node(d, d->tail[q])->next = i;
    else
        d->head[q] = i;
    d->tail[q] = i;
}

uint32_t dq_expired(const struct dq *d, uint64_t now_ms)
{
    for (unsigned q = 1; q < DQ_QUEUES; q++) {
        uint32_t h = d->head[q];
        if (h != DQ_NIL && (dq_node(d, h)->key & DQ_DEADLINE_MASK) <= now_ms)
            return h;
    }
    return DQ_NIL;
}

int64_t dq_next_ms(const struct dq *d, uint64_t now_ms)
{
    int64_t best = -1;

    for (unsigned q = 1; q < DQ_QUEUES; q++) {
        if (d->head[q] == DQ_NIL)
            continue;
        uint64_t t = dq_node(d, d->head[q])->key & DQ_DEADLINE_MASK;
        int64_t ms = t > now_ms ? (int64_t)(t - now_ms) : 0;
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}
