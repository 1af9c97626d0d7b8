#include "node/session_timers.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

/* A session's owner slot holds its heap index + 1 (0: not in the heap). */
static size_t pos_of(const struct knit_session *s)
{
    return (size_t)knit_session_owner_slot(s) - 1;
}

static void place(struct session_timers *t, size_t i, struct session_timer e)
{
    t->heap[i] = e;
    knit_session_set_owner_slot(e.s, (uint32_t)(i + 1));
}

static void sift_up(struct session_timers *t, size_t i)
{
    struct session_timer e = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (t->heap[parent].at <= e.at)
            break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, e);
}

static void sift_down(struct session_timers *t, size_t i)
{
    struct session_timer e = t->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= t->count)
            break;
        if (child + 1 < t->count && t->heap[child + 1].at < t->heap[child].at)
            child++;
        if (t->heap[child].at >= e.at)
            break;
        place(t, i, t->heap[child]);
        i = child;
    }
    place(t, i, e);
}

/* After the entry at i changed its time. */
static void fix(struct session_timers *t, size_t i)
{
    if (i > 0 && t->heap[(i - 1) / 2].at > t->heap[i].at)
        sift_up(t, i);
    else
        sift_down(t, i);
}

void session_timers_init(struct session_timers *t)
{
    memset(t, 0, sizeof *t);
}

void session_timers_free(struct session_timers *t)
{
    free(t->heap);
    free(t->stale);
    memset(t, 0, sizeof *t);
}

int session_timers_add(struct session_timers *t, struct knit_session *s)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct session_timer *heap = realloc(t->heap, cap * sizeof *heap);
        if (!heap)
            return KNIT_E_NOMEM;
        t->heap = heap;
        t->cap = cap;
    }
    struct session_timer e = {.at = knit_session_next_deadline(s), .s = s};
    t->heap[t->count++] = e;
    sift_up(t, t->count - 1);
    return KNIT_OK;
}

void session_timers_remove(struct session_timers *t, struct knit_session *s)
{
    for (size_t i = 0; i < t->stale_count;)
        if (t->stale[i] == s)
            t->stale[i] = t->stale[--t->stale_count];
        else
            i++;
    if (knit_session_owner_slot(s) == 0)
        return;
    size_t i = pos_of(s);
    knit_session_set_owner_slot(s, 0);
    struct session_timer last = t->heap[--t->count];
    if (i != t->count) {
        place(t, i, last);
        fix(t, i);
    }
    /* A burst of sessions gone: give the room back. */
    if (t->cap > 8 && t->count <= t->cap / 4) {
        struct session_timer *heap =
            realloc(t->heap, t->cap / 2 * sizeof *heap);
        if (heap) {
            t->heap = heap;
            t->cap /= 2;
        }
    }
}

void session_timers_touched(struct session_timers *t, struct knit_session *s)
{
    if (t->all_stale)
        return;
    if (t->stale_count == t->stale_cap) {
        size_t cap = t->stale_cap ? t->stale_cap * 2 : 16;
        struct knit_session **stale = realloc(t->stale, cap * sizeof *stale);
        if (!stale) {
            t->all_stale = true;
            return;
        }
        t->stale = stale;
        t->stale_cap = cap;
    }
    t->stale[t->stale_count++] = s;
}

void session_timers_refresh(struct session_timers *t)
{
    if (t->all_stale) {
        t->all_stale = false;
        t->stale_count = 0;
        for (size_t i = 0; i < t->count; i++)
            t->heap[i].at = knit_session_next_deadline(t->heap[i].s);
        for (size_t i = t->count / 2; i-- > 0;)
            sift_down(t, i);
        return;
    }
    /* Recomputing may touch nothing (it only reads), so the list is
     * stable while it is walked. */
    for (size_t k = 0; k < t->stale_count; k++) {
        struct knit_session *s = t->stale[k];
        if (knit_session_owner_slot(s) == 0)
            continue;   /* not added yet: add() computes it */
        size_t i = pos_of(s);
        uint64_t at = knit_session_next_deadline(s);
        if (at != t->heap[i].at) {
            t->heap[i].at = at;
            fix(t, i);
        }
    }
    t->stale_count = 0;
    if (t->stale_cap > 64) {   /* grown for a burst: start small again */
        free(t->stale);
        t->stale = NULL;
        t->stale_cap = 0;
    }
}

uint64_t session_timers_next(const struct session_timers *t)
{
    return t->count ? t->heap[0].at : KNIT_NO_DEADLINE;
}

/* Every entry at or before now lies on a path from the root through
 * entries at or before now. */
static size_t collect(const struct session_timers *t, size_t i, uint64_t now,
                      struct knit_session **out, size_t n)
{
    if (i >= t->count || t->heap[i].at > now)
        return n;
    out[n++] = t->heap[i].s;
    n = collect(t, 2 * i + 1, now, out, n);
    return collect(t, 2 * i + 2, now, out, n);
}

size_t session_timers_due(const struct session_timers *t, uint64_t now,
                          struct knit_session ***out)
{
    *out = NULL;
    if (t->count == 0 || t->heap[0].at > now)
        return 0;
    struct knit_session **due = malloc(t->count * sizeof *due);
    if (!due)
        return 0;
    *out = due;
    return collect(t, 0, now, due, 0);
}
