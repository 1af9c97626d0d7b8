/* The record store: a growable array searched linearly, which is plenty for
 * the few thousand records a node holds and keeps get() free of
 * allocation. Records whose time has passed are invisible at once and
 * removed by the next accepted put or by knit_dht_store_expire(). */
#include "dht/store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dht/rpc.h"
#include "transport/error.h"

#define SECOND UINT64_C(1000000)

void knit_dht_store_init(struct knit_dht_store *s,
                         const struct knit_dht_store_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->next_expiry = UINT64_MAX;
    if (cfg)
        s->cfg = *cfg;
    struct knit_dht_store_config *c = &s->cfg;
    if (!c->max_records)
        c->max_records = 4096;
    if (!c->max_record_bytes || c->max_record_bytes > KNIT_RECORD_MAX_BYTES)
        c->max_record_bytes = KNIT_RECORD_MAX_BYTES;
    if (!c->max_per_sender)
        c->max_per_sender = 16;
    if (!c->ttl_us)
        c->ttl_us = 2 * 3600 * SECOND;
    if (!c->max_age_s)
        c->max_age_s = 24 * 3600;
    if (!c->max_skew_s)
        c->max_skew_s = 10 * 60;
}

void knit_dht_store_free(struct knit_dht_store *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->records[i].envelope);
    free(s->records);
    s->records = NULL;
    s->count = s->cap = 0;
    s->next_expiry = UINT64_MAX;
}

static bool live(const struct knit_dht_stored *r, uint64_t now)
{
    return now < r->expires;
}

/* Dead or alive: a put replaces a dead record in place. */
static struct knit_dht_stored *find(const struct knit_dht_store *s,
                                    const struct knit_dht_key *key)
{
    for (size_t i = 0; i < s->count; i++)
        if (memcmp(s->records[i].key.b, key->b, sizeof key->b) == 0)
            return &s->records[i];
    return NULL;
}

static int check_time(const struct knit_dht_store_config *c,
                      uint64_t issued, uint64_t unix_s)
{
    if (unix_s > issued && unix_s - issued > c->max_age_s)
        return KNIT_E_EXPIRED;
    if (issued > unix_s && issued - unix_s > c->max_skew_s)
        return KNIT_E_EXPIRED;
    return KNIT_OK;
}

/* Whether sender and the store have room for one more record, not counting
 * `replacing` (the record this put would overwrite): taking over a record
 * keeps the total, and keeps the sender's count when it was theirs. */
static int check_limits(const struct knit_dht_store *s,
                        const struct knit_peer_id *sender,
                        const struct knit_dht_stored *replacing, uint64_t now)
{
    size_t total = 0, by_sender = 0;
    for (size_t i = 0; i < s->count; i++) {
        const struct knit_dht_stored *r = &s->records[i];
        if (r == replacing || !live(r, now))
            continue;
        total++;
        by_sender += knit_peer_id_equal(&r->sender, sender);
    }
    if (by_sender >= s->cfg.max_per_sender)
        return KNIT_E_LIMIT;
    if (!replacing && total >= s->cfg.max_records)
        return KNIT_E_LIMIT;
    return KNIT_OK;
}

static int grow(struct knit_dht_store *s)
{
    if (s->count < s->cap)
        return KNIT_OK;
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct knit_dht_stored *r = realloc(s->records, cap * sizeof *r);
    if (!r)
        return KNIT_E_NOMEM;
    s->records = r;
    s->cap = cap;
    return KNIT_OK;
}

/* Drops what has expired and finds the next expiry. */
static size_t sweep(struct knit_dht_store *s, uint64_t now)
{
    /* Order kept, so persistence writes records in the order they came. */
    size_t kept = 0;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < s->count; i++) {
        if (live(&s->records[i], now)) {
            if (s->records[i].expires < next)
                next = s->records[i].expires;
            s->records[kept++] = s->records[i];
        } else {
            free(s->records[i].envelope);
        }
    }
    size_t dropped = s->count - kept;
    s->count = kept;
    s->next_expiry = next;
    return dropped;
}

int knit_dht_store_put(struct knit_dht_store *s,
                       const struct knit_peer_id *sender,
                       const uint8_t *envelope, size_t len, uint64_t now,
                       uint64_t unix_s, struct knit_peer_record *rec)
{
    if (!s || !sender || (!envelope && len))
        return KNIT_E_INVAL;
    if (len > s->cfg.max_record_bytes)
        return KNIT_E_TOO_BIG;
    /* About 4 KiB, once per put: the stack is fine. */
    struct knit_peer_record r;
    int err = knit_record_verify_cached(s->verified, &r, envelope, len);
    if (err)
        return err;
    if ((err = check_time(&s->cfg, r.issued, unix_s)))
        return err;
    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, &r.peer);
    struct knit_dht_stored *old = find(s, &key);
    if (old && live(old, now) && old->seq >= r.seq)
        return KNIT_E_STALE;
    if ((err = check_limits(s, sender, old, now)))
        return err;

    uint8_t *copy = malloc(len);
    if (!copy)
        return KNIT_E_NOMEM;
    memcpy(copy, envelope, len);
    if (!old) {
        if ((err = grow(s))) {
            free(copy);
            return err;
        }
        old = &s->records[s->count++];
    } else {
        free(old->envelope);
    }
    *old = (struct knit_dht_stored){
        .key = key, .peer = r.peer, .sender = *sender, .seq = r.seq,
        .issued = r.issued,
        .expires = now > UINT64_MAX - s->cfg.ttl_us ? UINT64_MAX
                                                    : now + s->cfg.ttl_us,
        .len = len, .envelope = copy,
    };
    /* The new record expires after now, so this never drops it; it may
     * have replaced the one that expired first, so the next expiry is
     * found again. */
    sweep(s, now);
    if (rec)
        *rec = r;
    return KNIT_OK;
}

const struct knit_dht_stored *knit_dht_store_get(const struct knit_dht_store *s,
                                                 const struct knit_dht_key *key,
                                                 uint64_t now)
{
    const struct knit_dht_stored *r = find(s, key);
    return r && live(r, now) ? r : NULL;
}

size_t knit_dht_store_expire(struct knit_dht_store *s, uint64_t now)
{
    return now < s->next_expiry ? 0 : sweep(s, now);
}

uint64_t knit_dht_store_next_expiry(const struct knit_dht_store *s)
{
    return s->next_expiry;
}

size_t knit_dht_store_count(const struct knit_dht_store *s)
{
    return s->count;
}

const struct knit_dht_stored *knit_dht_store_at(const struct knit_dht_store *s,
                                                size_t i)
{
    return i < s->count ? &s->records[i] : NULL;
}

uint8_t knit_dht_status_of_error(int err)
{
    switch (err) {
    case KNIT_OK: return KNIT_DHT_OK;
    case KNIT_E_TOO_BIG: return KNIT_DHT_TOO_BIG;
    case KNIT_E_STALE: return KNIT_DHT_STALE;
    case KNIT_E_EXPIRED: return KNIT_DHT_EXPIRED;
    case KNIT_E_LIMIT: return KNIT_DHT_LIMIT;
    default: return KNIT_DHT_BAD_RECORD;
    }
}
