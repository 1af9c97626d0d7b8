/* Receiver indices: the 32-bit numbers a peer puts in its packets so we find
 * the session (and keypair) without looking at addresses, which change.
 * Indices are random so they reveal nothing and cannot be guessed to aim at
 * a session. Open addressing with linear probing; grows by doubling. */
#ifndef KNIT_INDEX_TABLE_H
#define KNIT_INDEX_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct knit_session;

struct knit_index_entry {
    uint32_t index;                  /* 0 = empty */
    bool tombstone;
    struct knit_session *session;
};

struct knit_index_table {
    struct knit_index_entry *slots;
    size_t cap, used, tombstones;
};

void knit_index_table_init(struct knit_index_table *t);
void knit_index_table_free(struct knit_index_table *t);
/* Adds index (nonzero, not present) -> session. */
int knit_index_table_add(struct knit_index_table *t, uint32_t index,
                         struct knit_session *session);
struct knit_session *knit_index_table_find(const struct knit_index_table *t,
                                           uint32_t index);
void knit_index_table_remove(struct knit_index_table *t, uint32_t index);

#endif
