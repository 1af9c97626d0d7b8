/* The event queue: a 4-ary min-heap of (time, seq, slot) entries over a pool
 * of event records.
 *
 * The heap entries are small and hold the whole sort key, so sifting touches
 * only the heap array; the callback lives in the record pool, addressed by
 * slot, which is what a handle names. Cancelling frees the record at once and
 * leaves its heap entry behind: an entry whose seq no longer matches its
 * record's is stale and skipped when popped. A 4-ary heap is shallower than a
 * binary one and its children share a cache line or two, which pays off with
 * millions of entries. */
#include "sim/engine.h"

#include <stdlib.h>

#include "transport/error.h"

struct entry {
    uint64_t time;
    uint64_t seq;
    uint32_t slot;
};

/* seq is 0 while the slot is free; arg then links the free list. */
struct record {
    knit_sim_fn fn;
    void *ctx;
    uint64_t arg;
    uint64_t seq;
};

#define NO_SLOT UINT32_MAX
#define MAX_SLOTS (UINT32_MAX - 1)
#define MIN_CAP 64
/* Below this many heap entries a compaction is not worth its pass. */
#define COMPACT_MIN 1024

struct knit_sim_engine {
    uint64_t now;
    uint64_t next_seq;
    uint64_t events_run;
    size_t live;

    struct entry *heap;
    size_t heap_len, heap_cap;

    struct record *recs;
    uint32_t recs_len, recs_cap;
    uint32_t free_head;
};

int knit_sim_engine_new(struct knit_sim_engine **out)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    struct knit_sim_engine *e = calloc(1, sizeof *e);
    if (!e)
        return KNIT_E_NOMEM;
    e->next_seq = 1;
    e->free_head = NO_SLOT;
    *out = e;
    return 0;
}

void knit_sim_engine_free(struct knit_sim_engine *e)
{
    if (!e)
        return;
    free(e->heap);
    free(e->recs);
    free(e);
}

uint64_t knit_sim_now(const struct knit_sim_engine *e)
{
    return e->now;
}

size_t knit_sim_pending(const struct knit_sim_engine *e)
{
    return e->live;
}

uint64_t knit_sim_events_run(const struct knit_sim_engine *e)
{
    return e->events_run;
}

static bool before(const struct entry *a, const struct entry *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void sift_up(struct entry *h, size_t i)
{
    struct entry x = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&x, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static void sift_down(struct entry *h, size_t n, size_t i)
{
    struct entry x = h[i];
    for (;;) {
        size_t first = 4 * i + 1;
        if (first >= n)
            break;
        size_t end = n - first > 4 ? first + 4 : n;
        size_t best = first;
        for (size_t c = first + 1; c < end; c++)
            if (before(&h[c], &h[best]))
                best = c;
        if (!before(&h[best], &x))
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static void heap_pop(struct knit_sim_engine *e)
{
    e->heap_len--;
    if (e->heap_len > 0) {
        e->heap[0] = e->heap[e->heap_len];
        sift_down(e->heap, e->heap_len, 0);
    }
}

static bool is_stale(const struct knit_sim_engine *e, const struct entry *x)
{
    return e->recs[x->slot].seq != x->seq;
}

/* Drops every stale entry and rebuilds the heap bottom-up. The pop order
 * does not depend on the heap's shape, since (time, seq) is a total order,
 * so compacting never changes a run. */
static void compact(struct knit_sim_engine *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->heap_len; i++)
        if (!is_stale(e, &e->heap[i]))
            e->heap[n++] = e->heap[i];
    e->heap_len = n;
    for (size_t i = n / 4 + 1; i-- > 0;)
        if (i < n)
            sift_down(e->heap, n, i);
}

/* Pops stale entries off the top; true if a live one is left there. */
static bool top_live(struct knit_sim_engine *e)
{
    while (e->heap_len > 0 && is_stale(e, &e->heap[0]))
        heap_pop(e);
    return e->heap_len > 0;
}

static void free_slot(struct knit_sim_engine *e, uint32_t slot)
{
    struct record *r = &e->recs[slot];
    r->seq = 0;
    r->fn = NULL;
    r->ctx = NULL;
    r->arg = e->free_head;
    e->free_head = slot;
    e->live--;
}

static int grow_heap(struct knit_sim_engine *e)
{
    if (e->heap_len < e->heap_cap)
        return 0;
    size_t cap = e->heap_cap ? e->heap_cap * 2 : MIN_CAP;
    if (cap < e->heap_cap || cap > SIZE_MAX / sizeof *e->heap)
        return KNIT_E_NOMEM;
    struct entry *h = realloc(e->heap, cap * sizeof *h);
    if (!h)
        return KNIT_E_NOMEM;
    e->heap = h;
    e->heap_cap = cap;
    return 0;
}

static int alloc_slot(struct knit_sim_engine *e, uint32_t *slot)
{
    if (e->free_head != NO_SLOT) {
        *slot = e->free_head;
        e->free_head = (uint32_t)e->recs[*slot].arg;
        return 0;
    }
    if (e->recs_len == e->recs_cap) {
        if (e->recs_cap >= MAX_SLOTS)
            return KNIT_E_NOMEM;
        uint64_t cap = e->recs_cap ? (uint64_t)e->recs_cap * 2 : MIN_CAP;
        if (cap > MAX_SLOTS)
            cap = MAX_SLOTS;
        if (cap > SIZE_MAX / sizeof *e->recs)
            return KNIT_E_NOMEM;
        struct record *r = realloc(e->recs, (size_t)cap * sizeof *r);
        if (!r)
            return KNIT_E_NOMEM;
        e->recs = r;
        e->recs_cap = (uint32_t)cap;
    }
    *slot = e->recs_len++;
    return 0;
}

uint64_t knit_sim_schedule(struct knit_sim_engine *e, uint64_t at,
                           knit_sim_fn fn, void *ctx, uint64_t arg)
{
    if (!fn)
        return 0;
    if (at < e->now)
        at = e->now;
    if (e->heap_len == e->heap_cap && e->heap_len - e->live >= e->live)
        compact(e);
    uint32_t slot;
    if (grow_heap(e) < 0 || alloc_slot(e, &slot) < 0)
        return 0;

    uint64_t seq = e->next_seq++;
    e->recs[slot] = (struct record){fn, ctx, arg, seq};
    e->heap[e->heap_len] = (struct entry){at, seq, slot};
    sift_up(e->heap, e->heap_len);
    e->heap_len++;
    e->live++;
    /* The low half of seq makes a recycled slot's new handle differ from
     * the old one, so a stale handle cannot cancel a stranger's event. */
    return (uint64_t)(uint32_t)seq << 32 | ((uint64_t)slot + 1);
}

bool knit_sim_cancel(struct knit_sim_engine *e, uint64_t handle)
{
    uint64_t low = handle & 0xffffffffu;
    if (low == 0 || low > e->recs_len)
        return false;
    uint32_t slot = (uint32_t)(low - 1);
    const struct record *r = &e->recs[slot];
    if (r->seq == 0 || (uint32_t)r->seq != (uint32_t)(handle >> 32))
        return false;
    free_slot(e, slot);
    /* Timers that are re-armed over and over would otherwise fill the heap
     * with dead entries; compacting once they are the majority keeps the
     * cost amortised O(1) per cancel. */
    if (e->heap_len >= COMPACT_MIN && e->heap_len - e->live > e->live)
        compact(e);
    return true;
}

bool knit_sim_step(struct knit_sim_engine *e)
{
    if (!top_live(e))
        return false;
    struct entry top = e->heap[0];
    heap_pop(e);
    struct record r = e->recs[top.slot];
    /* Free first: the callback may schedule into this very slot, or try to
     * cancel the event that is running, which must then fail. */
    free_slot(e, top.slot);
    e->now = top.time;
    e->events_run++;
    r.fn(r.ctx, r.arg);
    return true;
}

uint64_t knit_sim_next_time(struct knit_sim_engine *e)
{
    return top_live(e) ? e->heap[0].time : UINT64_MAX;
}

uint64_t knit_sim_run_until(struct knit_sim_engine *e, uint64_t until,
                            uint64_t max_events)
{
    uint64_t ran = 0;
    while (ran < max_events && top_live(e) && e->heap[0].time <= until) {
        knit_sim_step(e);
        ran++;
    }
    bool drained = !top_live(e) || e->heap[0].time > until;
    if (drained && until != UINT64_MAX && until > e->now)
        e->now = until;
    return ran;
}
