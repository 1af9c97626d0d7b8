#include "node/index_table.h"

#include <stdbool.h>
#include <stdlib.h>

#include "transport/error.h"

void knit_index_table_init(struct knit_index_table *t)
{
    t->slots = NULL;
    t->cap = t->used = t->tombstones = 0;
}

void knit_index_table_free(struct knit_index_table *t)
{
    free(t->slots);
    knit_index_table_init(t);
}

/* Indices are uniformly random already; a multiplicative mix spreads any
 * that are not (tests use small ones). */
static size_t slot_of(uint32_t index, size_t cap)
{
    return (size_t)((index * 2654435761u) & (cap - 1));
}

static int rehash(struct knit_index_table *t, size_t cap)
{
    struct knit_index_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return KNIT_E_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].index || t->slots[i].tombstone)
            continue;
        size_t j = slot_of(t->slots[i].index, cap);
        while (slots[j].index)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->tombstones = 0;
    return KNIT_OK;
}

int knit_index_table_add(struct knit_index_table *t, uint32_t index,
                         struct knit_session *session)
{
    if (!index || knit_index_table_find(t, index))
        return KNIT_E_INVAL;
    /* Keep the load (live + tombstones) under one half; a rehash leaves it
     * at most a quarter, in a table sized for what is live now, so one
     * that grew for a burst of sessions shrinks again. */
    if ((t->used + t->tombstones + 1) * 2 > t->cap) {
        size_t cap = 16;
        while ((t->used + 1) * 4 > cap)
            cap *= 2;
        int err = rehash(t, cap);
        if (err)
            return err;
    }
    size_t j = slot_of(index, t->cap);
    while (t->slots[j].index && !t->slots[j].tombstone)
        j = (j + 1) & (t->cap - 1);
    if (t->slots[j].tombstone)
        t->tombstones--;
    t->slots[j].index = index;
    t->slots[j].tombstone = false;
    t->slots[j].session = session;
    t->used++;
    return KNIT_OK;
}

static struct knit_index_entry *lookup(const struct knit_index_table *t,
                                       uint32_t index)
{
    if (!t->cap || !index)
        return NULL;
    size_t j = slot_of(index, t->cap);
    while (t->slots[j].index) {
        if (t->slots[j].index == index && !t->slots[j].tombstone)
            return &t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    return NULL;
}

struct knit_session *knit_index_table_find(const struct knit_index_table *t,
                                           uint32_t index)
{
    struct knit_index_entry *e = lookup(t, index);
    return e ? e->session : NULL;
}

void knit_index_table_remove(struct knit_index_table *t, uint32_t index)
{
    struct knit_index_entry *e = lookup(t, index);
    if (!e)
        return;
    e->tombstone = true;
    e->session = NULL;
    t->used--;
    t->tombstones++;
    if (t->used == 0)
        knit_index_table_free(t);   /* nothing live: give it all back */
}
