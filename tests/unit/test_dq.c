/* test_dq.c - deadline queues over an array of elements that embed a node. */
#include "check.h"
#include "util/dq.h"

struct elem {
    int payload;
    struct dq_node n;
    char pad[5];
};

static struct elem elems[8];
static struct dq d;

static void setup(void)
{
    for (int i = 0; i < 8; i++) {
        elems[i].payload = i;
        dq_node_init(&elems[i].n);
    }
    dq_init(&d, &elems[0].n, sizeof(elems[0]));
}

/* Expire everything due at now, in order, into out; returns the count. */
static int expire(uint64_t now, uint32_t *out)
{
    uint32_t i;
    int n = 0;

    while ((i = dq_expired(&d, now)) != DQ_NIL) {
        dq_remove(&d, i);
        out[n++] = i;
    }
    return n;
}

static void test_fifo_order_and_next(void)
{
    uint32_t out[8];

    setup();
    CHECK_INT_EQ(dq_next_ms(&d, 0), -1);
    dq_put(&d, 3, 1, 100, 50, false); /* due 150 */
    dq_put(&d, 1, 1, 110, 50, false); /* due 160 */
    dq_put(&d, 5, 2, 100, 20, false); /* due 120 */
    CHECK_INT_EQ(dq_queue_of(&d, 3), 1);
    CHECK_INT_EQ(dq_queue_of(&d, 0), 0);
    CHECK_INT_EQ(dq_next_ms(&d, 100), 20);
    CHECK_INT_EQ(dq_next_ms(&d, 130), 0); /* one is overdue */
    CHECK_INT_EQ(expire(119, out), 0);
    CHECK_INT_EQ(expire(155, out), 2);
    CHECK_INT_EQ(out[0], 3); /* queue 1 head first, then queue 2's */
    CHECK_INT_EQ(out[1], 5);
    CHECK_INT_EQ(dq_next_ms(&d, 155), 5);
    CHECK_INT_EQ(expire(1000, out), 1);
    CHECK_INT_EQ(out[0], 1);
    CHECK_INT_EQ(dq_next_ms(&d, 1000), -1);
}

static void test_restart_and_move(void)
{
    uint32_t out[8];

    setup();
    dq_put(&d, 0, 1, 0, 100, false);
    dq_put(&d, 1, 1, 10, 100, false);
    dq_put(&d, 0, 1, 50, 100, false); /* same queue, no restart: keeps 100 */
    CHECK_INT_EQ(dq_next_ms(&d, 50), 50);
    dq_put(&d, 0, 1, 50, 100, true); /* restart: to the tail, due 150 */
    CHECK_INT_EQ(dq_next_ms(&d, 50), 60);
    CHECK_INT_EQ(expire(120, out), 1);
    CHECK_INT_EQ(out[0], 1);
    dq_put(&d, 0, 3, 120, 5, false); /* another queue: moves, new deadline */
    CHECK_INT_EQ(dq_queue_of(&d, 0), 3);
    CHECK_INT_EQ(dq_next_ms(&d, 120), 5);
    dq_remove(&d, 0);
    dq_remove(&d, 0); /* in none: no-op */
    CHECK_INT_EQ(dq_next_ms(&d, 120), -1);
    CHECK_INT_EQ(d.head[3], DQ_NIL);
    CHECK_INT_EQ(d.tail[3], DQ_NIL);
}

static void test_remove_middle_keeps_links(void)
{
    uint32_t out[8];

    setup();
    for (uint32_t i = 0; i < 5; i++)
        dq_put(&d, i, 2, i, 10, false);
    dq_remove(&d, 2); /* middle */
    dq_remove(&d, 0); /* head */
    dq_remove(&d, 4); /* tail */
    CHECK_INT_EQ(expire(100, out), 2);
    CHECK_INT_EQ(out[0], 1);
    CHECK_INT_EQ(out[1], 3);
    for (int i = 0; i < 8; i++)
        CHECK_INT_EQ(elems[i].payload, i); /* nodes did not spill over the element */
}

int main(void)
{
    test_fifo_order_and_next();
    test_restart_and_move();
    test_remove_middle_keeps_links();
    printf("test_dq: ok\n");
    return 0;
}
