/* The Kademlia routing table: who we know, by XOR distance from us.
 *
 * 256 buckets, bucket i holding peers whose key shares exactly i leading
 * bits with ours; at most k entries each, plus a small replacement cache of
 * peers waiting for a slot. Buckets are allocated when first used and grow
 * with their entries, so a table costs memory in proportion to the peers it
 * holds (the simulator keeps 100 000 of them).
 *
 * Eviction (Kademlia §2.2): a full bucket never drops a live peer for a new
 * one. The newcomer waits in the replacement cache while the
 * least-recently-seen entry gets a liveness check (the caller sends it a
 * PING); only if that check fails does the entry leave, and the most
 * recently seen replacement takes the slot.
 *
 * Diversity: at most bucket_prefix_limit peers per IP prefix (/24 for IPv4,
 * /48 for IPv6) in one bucket, and table_prefix_limit in the whole table, so
 * one operator with one network cannot cheaply fill our view. The limits
 * apply only when peers compete for a slot, i.e. when a bucket is full: a
 * small network whose nodes share a prefix (a LAN, a lab in one /24,
 * loopback) fills its buckets freely. In a full bucket a newcomer whose
 * prefix is over a limit is refused, and a newcomer within the limits
 * displaces the least-recently-seen entry whose prefix is over them.
 *
 * Sans-IO: the caller passes the time and sends the pings. Owned by the DHT
 * engine (dht/dht.c). */
#ifndef KNIT_DHT_TABLE_H
#define KNIT_DHT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/key.h"
#include "proto/peer_id.h"
#include "transport/io.h"

#define KNIT_DHT_K 20

struct knit_dht_table_config {
    uint32_t k;                   /* entries per bucket (0: KNIT_DHT_K) */
    uint32_t replacements;        /* replacement cache per bucket (0: 8) */
    uint32_t bucket_prefix_limit; /* per /24 or /48 in one bucket (0: 2) */
    uint32_t table_prefix_limit;  /* per /24 or /48 in the table (0: 8) */
    uint32_t max_failures;        /* unanswered requests in a row before an
                                     entry is dropped (0: 3) */
};

struct knit_dht_entry {
    struct knit_peer_id id;
    struct knit_dht_key key;
    struct knit_addr addr;
    uint64_t added;
    uint64_t last_seen;           /* last sign of life: an answer, or a
                                     request from it */
    uint8_t failures;             /* unanswered requests in a row */
    bool verified;                /* heard from since added; false for an
                                     entry restored from disk */
    bool checking;                /* a liveness check is under way */
};

struct knit_dht_bucket;

struct knit_dht_table {
    struct knit_dht_table_config cfg;
    struct knit_peer_id self;
    struct knit_dht_key self_key;
    struct knit_dht_bucket *buckets[KNIT_DHT_KEY_BITS];
    size_t size;                  /* entries, replacements not counted */
};

enum knit_dht_update {
    KNIT_DHT_ADDED = 1,       /* a new entry */
    KNIT_DHT_REFRESHED,       /* already there: last_seen (and addr) updated */
    KNIT_DHT_DISPLACED,       /* a new entry, in place of an entry whose
                                 prefix was over a diversity limit */
    KNIT_DHT_WAITING,         /* bucket full: kept as a replacement */
    KNIT_DHT_REFUSED,         /* ourselves, an unusable address, or over a
                                 diversity limit in a full bucket */
};

void knit_dht_table_init(struct knit_dht_table *t,
                         const struct knit_peer_id *self,
                         const struct knit_dht_table_config *cfg);
void knit_dht_table_free(struct knit_dht_table *t);

/* peer, reachable at addr, showed it is alive now (it answered us, or a DHT
 * server sent us a request). Returns what became of it (a negative code
 * only for KNIT_E_NOMEM). When the answer is KNIT_DHT_WAITING, the
 * bucket's least-recently-seen entry not already being checked is marked
 * checking and copied to *check with *need_check set, as long as fewer
 * entries are under check than replacements wait (each failed check frees
 * one slot): the caller sends it a PING and reports the outcome with
 * knit_dht_table_update (it answered) or knit_dht_table_failed. need_check
 * and check may be NULL when the caller does no checks; then no entry is
 * marked. */
int knit_dht_table_update(struct knit_dht_table *t,
                          const struct knit_peer_id *peer,
                          const struct knit_addr *addr, uint64_t now,
                          bool *need_check, struct knit_dht_entry *check);
/* Adds an entry not heard from yet (restored from disk): only into a bucket
 * with room, unverified, so that one failure removes it. Returns 0 when
 * added, KNIT_E_INVAL for ourselves or an unusable address, KNIT_E_EXISTS
 * when already an entry, KNIT_E_LIMIT when the bucket is full, or
 * KNIT_E_NOMEM. */
int knit_dht_table_restore(struct knit_dht_table *t,
                           const struct knit_peer_id *peer,
                           const struct knit_addr *addr, uint64_t last_seen);
/* A request to peer went unanswered. An entry under a liveness check, an
 * unverified one, or one with max_failures in a row is removed, and the
 * most recently seen replacement whose prefix is within the diversity
 * limits (if any) takes its slot. Replacements that fail are dropped at
 * once. Returns true if peer was removed. */
bool knit_dht_table_failed(struct knit_dht_table *t,
                           const struct knit_peer_id *peer);
/* Removes peer (entry or replacement; a replacement takes the slot as in
 * knit_dht_table_failed); true if it was there. */
bool knit_dht_table_remove(struct knit_dht_table *t,
                           const struct knit_peer_id *peer);

const struct knit_dht_entry *
knit_dht_table_find(const struct knit_dht_table *t,
                    const struct knit_peer_id *peer);
/* The up to n entries closest to target, closest first (replacements not
 * included). Returns how many were written. */
size_t knit_dht_table_closest(const struct knit_dht_table *t,
                              const struct knit_dht_key *target,
                              struct knit_dht_entry *out, size_t n);
size_t knit_dht_table_size(const struct knit_dht_table *t);

/* Entry i (0 <= i < entries) of a bucket, and bucket fill, for iteration
 * (persistence, `knit dht table`). */
size_t knit_dht_table_bucket_entries(const struct knit_dht_table *t,
                                     unsigned bucket);
size_t knit_dht_table_bucket_replacements(const struct knit_dht_table *t,
                                          unsigned bucket);
const struct knit_dht_entry *
knit_dht_table_bucket_entry(const struct knit_dht_table *t, unsigned bucket,
                            size_t i);
/* The highest bucket index holding an entry, or -1 when the table is
 * empty: buckets up to it (and one past) are worth refreshing. */
int knit_dht_table_deepest_bucket(const struct knit_dht_table *t);

/* The diversity group of an address: the first 3 bytes of IPv4 (a /24) or
 * 6 of IPv6 (a /48), with the family; false for an unset address. */
bool knit_dht_prefix_equal(const struct knit_addr *a,
                           const struct knit_addr *b);

#endif
