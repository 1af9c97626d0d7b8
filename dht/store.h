/* The record store: signed peer records we hold for others.
 *
 * A record lives under its peer's key (SHA-256 of the peer ID inside it, so
 * nobody can store under someone else's key). A PUT is checked in full
 * (proto/record.h: canonical CBOR, signature) before anything is kept, and
 * refused when:
 *   - it is larger than max_record_bytes (KNIT_E_TOO_BIG);
 *   - it does not verify (the record error);
 *   - it was issued more than max_age_s ago or more than max_skew_s in the
 *     future (KNIT_E_EXPIRED);
 *   - we hold a record of that peer with an equal or higher sequence number
 *     (KNIT_E_STALE: higher seq wins, replays change nothing);
 *   - the peer that sent it already has max_per_sender records here, or the
 *     store holds max_records (KNIT_E_LIMIT).
 * A stored record expires ttl_us after it was last put; the owner
 * republishes well before that. A record past its time is gone for every
 * rule above (get, staleness, limits) even before knit_dht_store_expire()
 * drops it; only count() and at() still see it until then.
 *
 * Sans-IO: times are passed in (now: the monotonic clock in µs; unix_s:
 * wall-clock seconds, for the record's issue time). Owned by the DHT engine
 * (dht/dht.c). */
#ifndef KNIT_DHT_STORE_H
#define KNIT_DHT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dht/key.h"
#include "proto/peer_id.h"
#include "proto/record.h"

struct knit_dht_store_config {
    uint32_t max_records;        /* 0: 4096 */
    uint32_t max_record_bytes;   /* 0 or above: KNIT_RECORD_MAX_BYTES */
    uint32_t max_per_sender;     /* 0: 16 */
    uint64_t ttl_us;             /* 0: 2 hours */
    uint64_t max_age_s;          /* 0: 24 hours */
    uint64_t max_skew_s;         /* 0: 10 minutes */
};

struct knit_dht_stored {
    struct knit_dht_key key;
    struct knit_peer_id peer;    /* whose record */
    struct knit_peer_id sender;  /* who put it here last */
    uint64_t seq;
    uint64_t issued;             /* unix seconds, from the record */
    uint64_t expires;            /* monotonic µs */
    size_t len;
    uint8_t *envelope;           /* len bytes, owned by the store */
};

struct knit_dht_store {
    struct knit_dht_store_config cfg;
    /* Records already seen to verify (proto/record_cache.h); NULL: none.
     * Set by the owner after knit_dht_store_init. */
    struct knit_record_cache *verified;
    struct knit_dht_stored *records;
    size_t count, cap;
    /* The earliest expiry among records, kept by every change: the node
     * asks for it after each packet, and the list can be thousands long. */
    uint64_t next_expiry;
};

void knit_dht_store_init(struct knit_dht_store *s,
                         const struct knit_dht_store_config *cfg);
void knit_dht_store_free(struct knit_dht_store *s);

/* Checks and keeps envelope, put by sender. Returns 0 when stored (or
 * replaced an older one) or a code from the list above; on error the store
 * is unchanged. If rec is not NULL it receives the decoded record on
 * success. */
int knit_dht_store_put(struct knit_dht_store *s,
                       const struct knit_peer_id *sender,
                       const uint8_t *envelope, size_t len, uint64_t now,
                       uint64_t unix_s, struct knit_peer_record *rec);
/* The live record under key, or NULL. The pointer is good until the next
 * put, expire or free. */
const struct knit_dht_stored *knit_dht_store_get(const struct knit_dht_store *s,
                                                 const struct knit_dht_key *key,
                                                 uint64_t now);
/* Drops expired records; returns how many. */
size_t knit_dht_store_expire(struct knit_dht_store *s, uint64_t now);
/* When the next record expires (KNIT_NO_DEADLINE-like UINT64_MAX if none). */
uint64_t knit_dht_store_next_expiry(const struct knit_dht_store *s);
size_t knit_dht_store_count(const struct knit_dht_store *s);
/* Record i, for iteration (persistence). */
const struct knit_dht_stored *knit_dht_store_at(const struct knit_dht_store *s,
                                                size_t i);

/* The map between store errors and wire statuses (dht/rpc.h). */
uint8_t knit_dht_status_of_error(int err);

#endif
