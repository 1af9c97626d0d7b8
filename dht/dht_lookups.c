/* Lookups as the engine runs them: finding a peer's record for the
 * embedder, looking up our own key to publish our record at the k peers
 * closest to it (dht_publish.c starts those and acts on how they end), and
 * refreshing buckets. Each lookup is a dht/lookup.h state machine; this
 * file sends what it asks for and acts on how it ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull

static struct dht_lookup **free_slot(struct knit_dht *dht)
{
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++)
        if (!dht->lookups[i])
            return &dht->lookups[i];
    return NULL;
}

void dht_note_bucket_fresh(struct knit_dht *dht,
                          const struct knit_dht_key *key, uint64_t now)
{
    unsigned b = knit_dht_key_common_prefix(&dht->self_key, key);
    if (b < DHT_REFRESH_BUCKETS)
        dht->bucket_fresh[b] = now;
}

int dht_lookup_start(struct knit_dht *dht, uint8_t purpose,
                     const struct knit_dht_key *target,
                     const struct knit_peer_id *target_peer, uint64_t now,
                     struct dht_lookup **out)
{
    struct dht_lookup **slot = free_slot(dht);
    if (!slot)
        return KNIT_E_LIMIT;
    struct dht_lookup *lk = calloc(1, sizeof *lk);
    if (!lk)
        return KNIT_E_NOMEM;
    lk->purpose = purpose;
    lk->handle = dht->next_handle++;
    if (target_peer)
        lk->target = *target_peer;
    struct knit_dht_lookup_config cfg = dht->cfg.lookup;
    /* The engine times requests out itself (one clock for the table and
     * the lookup); publishing waits for the k closest, not just beta, so
     * the record lands on all of them. */
    cfg.request_timeout_us = UINT64_MAX / 4;
    if (purpose == PURPOSE_PUBLISH)
        cfg.beta = dht->table.cfg.k;
    knit_dht_lookup_init(&lk->l, target, &dht->self, &cfg, now);
    struct knit_dht_entry seeds[KNIT_DHT_K];
    size_t n = knit_dht_table_closest(&dht->table, target, seeds, KNIT_DHT_K);
    for (size_t i = 0; i < n; i++) {
        struct knit_dht_peer_info p = {.id = seeds[i].id, .addr_count = 1};
        p.addrs[0] = seeds[i].addr;
        knit_dht_lookup_add(&lk->l, &p, 1);
    }
    *slot = lk;
    dht_note_bucket_fresh(dht, target, now);
    dht->stats.lookups_started++;
    if (out)
        *out = lk;
    return KNIT_OK;
}

/* Takes lk out of the lookup table and out of the requests still on their
 * way for it (their answers then only tell the routing table). */
static void detach(struct knit_dht *dht, struct dht_lookup *lk)
{
    for (uint32_t i = 0; i < dht->request_cap; i++)
        if (dht->requests[i].id && dht->requests[i].lookup == lk)
            dht->requests[i].lookup = NULL, dht->requests[i].purpose = 0;
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++)
        if (dht->lookups[i] == lk)
            dht->lookups[i] = NULL;
}

static void release(struct knit_dht *dht, struct dht_lookup *lk)
{
    detach(dht, lk);
    free(lk);
}

static void repair_holders(struct knit_dht *dht, struct dht_lookup *lk,
                           uint64_t now);

static void finish(struct knit_dht *dht, struct dht_lookup *lk,
                   enum knit_dht_lookup_status status, uint64_t now)
{
    if (lk->purpose == PURPOSE_PUBLISH) {
        dht_publish_lookup_done(dht, lk, now);
        release(dht, lk);
        return;
    }
    if (lk->purpose != PURPOSE_FIND) {
        if (memcmp(&lk->l.target, &dht->self_key, sizeof dht->self_key) == 0)
            dht_publish_own_key_looked_up(dht, now);
        release(dht, lk);
        return;
    }
    struct knit_dht_result r = {
        .handle = lk->handle, .target = lk->target,
        .queries = lk->l.queries, .elapsed_us = now - lk->l.started,
    };
    struct knit_peer_record rec;
    if (lk->record_len)
        repair_holders(dht, lk, now);
    if (lk->record_len &&
        knit_record_verify_cached(dht->env.records, &rec, lk->record,
                                  lk->record_len) == KNIT_OK) {
        dht->stats.lookups_found++;
        r.record = &rec;
        r.envelope = lk->record;
        r.envelope_len = lk->record_len;
        r.hops = lk->record_hop;
    } else {
        r.error = status == KNIT_DHT_LOOKUP_TIMED_OUT ? KNIT_E_TIMEOUT
                                                      : KNIT_E_NOT_FOUND;
        r.hops = knit_dht_lookup_hops(&lk->l);
        /* What the end looked like, for whoever wonders why. */
        char seen[96];
        size_t used = 0;
        for (size_t i = 0; i < lk->l.count && i < 6 && used < sizeof seen; i++)
            used += (size_t)snprintf(
                seen + used, sizeof seen - used, " %u/%c",
                knit_dht_key_common_prefix(&lk->l.cand[i].key, &lk->l.target),
                "nafx"[lk->l.cand[i].state & 3]);
        dht_log(dht, now, "dht: lookup ended without the record after %u "
                "queries; closest (shared bits/state):%s",
                lk->l.queries, seen);
    }
    /* Out of the table first: the callback may start another lookup. The
     * record bytes must outlive the call, so the slot is freed after. */
    detach(dht, lk);
    if (dht->env.found)
        dht->env.found(dht->env.ctx, &r);
    free(lk);
}

static void send_next(struct knit_dht *dht, struct dht_lookup *lk,
                      uint64_t now)
{
    const struct knit_dht_candidate *c;
    while ((c = knit_dht_lookup_next(&lk->l, now)) != NULL) {
        struct knit_dht_msg req = {
            .type = lk->purpose == PURPOSE_FIND ? KNIT_DHT_GET_RECORD
                                                : KNIT_DHT_FIND_NODE,
            .key = lk->l.target,
        };
        struct knit_peer_id peer = c->peer.id;
        struct knit_addr addr = c->peer.addrs[0];
        int err = dht_send(dht, &peer, &addr, &req, REQ_LOOKUP, lk, now);
        if (err) {
            /* A request that could not even leave (our own limits, no
             * socket of the family) says nothing of the peer. */
            dht_log(dht, now, "dht: cannot send to a lookup candidate: %s",
                    knit_strerror(err));
            knit_dht_lookup_failed(&lk->l, &peer, now);
        }
    }
}

/* A record lookup whose DHT_FIND_QUORUM closest answered without the
 * record asks on, up to the k closest: every one of those was sent the
 * record when its owner published, and the closest may have joined (or
 * come back empty) since. Seen in home-mix: a holder that hands a record
 * over only when it knows no closer server (hand_over in dht.c) trusted a
 * closer one that had left, and three servers that joined after it sat
 * empty in front of the holders until the owner's next republish. */
static bool widen_if_missed(struct knit_dht *dht, struct dht_lookup *lk,
                            enum knit_dht_lookup_status st, uint64_t now)
{
    if (st != KNIT_DHT_LOOKUP_DONE || lk->purpose != PURPOSE_FIND ||
        lk->record_len || lk->widened)
        return false;
    lk->widened = true;
    knit_dht_lookup_widen(&lk->l, dht->table.cfg.k, now);
    return lk->l.status == KNIT_DHT_LOOKUP_RUNNING;
}

void dht_lookup_pump(struct knit_dht *dht, struct dht_lookup *lk,
                     uint64_t now)
{
    for (;;) {
        send_next(dht, lk, now);
        enum knit_dht_lookup_status st =
            knit_dht_lookup_update(&lk->l, now, NULL, 0, NULL);
        if (st == KNIT_DHT_LOOKUP_RUNNING)
            return;
        if (!widen_if_missed(dht, lk, st, now)) {
            finish(dht, lk, st, now);
            return;
        }
    }
}

/* Keeps the newest verified record of the target, and who held what. */
static void take_record(struct knit_dht *dht, struct dht_lookup *lk,
                        const struct knit_peer_id *from,
                        const struct knit_dht_msg *msg, uint16_t hop)
{
    struct knit_peer_record rec;
    if (!msg->record_len || msg->record_len > sizeof lk->record ||
        knit_record_verify_cached(dht->env.records, &rec, msg->record,
                                  msg->record_len) != KNIT_OK ||
        !knit_peer_id_equal(&rec.peer, &lk->target))
        return;
    if (lk->holders < DHT_FIND_QUORUM) {
        lk->holder[lk->holders] = *from;
        lk->holder_seq[lk->holders] = rec.seq;
        lk->holders++;
    }
    if (lk->record_len && rec.seq <= lk->record_seq)
        return;
    memcpy(lk->record, msg->record, msg->record_len);
    lk->record_len = msg->record_len;
    lk->record_seq = rec.seq;
    lk->record_hop = hop;
}

static bool held_a_copy(const struct dht_lookup *lk,
                        const struct knit_peer_id *peer)
{
    return dht_peer_among(lk->holder, lk->holders, peer);
}

static bool put_found_record(struct knit_dht *dht, struct dht_lookup *lk,
                             const struct knit_dht_peer_info *p, uint64_t now)
{
    if (p->addr_count == 0)
        return true;
    if (dht_send_put(dht, &p->id, &p->addrs[0], lk->record, lk->record_len,
                     now))
        return false;   /* out of request slots */
    dht->stats.records_repaired++;
    return true;
}

/* Read repair: the servers that answered with an older record than the
 * newest, and those of the DHT_FIND_QUORUM closest that answered without
 * it (Kademlia §2.3 stores a found value at the closest that lacked it),
 * get the newest, so the next lookup that meets them first finds it and
 * is not misled. */
static void repair_holders(struct knit_dht *dht, struct dht_lookup *lk,
                           uint64_t now)
{
    for (uint8_t i = 0; i < lk->holders; i++) {
        const struct knit_dht_candidate *c =
            knit_dht_lookup_find(&lk->l, &lk->holder[i]);
        if (lk->holder_seq[i] < lk->record_seq && c &&
            !put_found_record(dht, lk, &c->peer, now))
            return;
    }
    const struct knit_dht_candidate *closest[DHT_FIND_QUORUM];
    size_t n = knit_dht_lookup_closest(&lk->l, closest, DHT_FIND_QUORUM);
    for (size_t i = 0; i < n; i++)
        if (!held_a_copy(lk, &closest[i]->peer.id) &&
            !put_found_record(dht, lk, &closest[i]->peer, now))
            return;
}

void dht_lookup_answer(struct knit_dht *dht, struct dht_lookup *lk,
                       const struct knit_peer_id *peer,
                       const struct knit_dht_msg *msg, uint64_t now)
{
    if (!lk)
        return;   /* the lookup ended while this was on its way */
    const struct knit_dht_candidate *c = knit_dht_lookup_find(&lk->l, peer);
    uint16_t hop = c ? c->hop : 1;
    knit_dht_lookup_answered(&lk->l, peer, msg->peers, msg->peer_count, now);
    if (lk->purpose == PURPOSE_FIND) {
        take_record(dht, lk, peer, msg, hop);
        /* Kademlia's FIND_VALUE stops at the first record; we wait for a
         * quorum of them (DHT_FIND_QUORUM). */
        if (lk->holders >= DHT_FIND_QUORUM)
            knit_dht_lookup_finish(&lk->l);
    }
    dht_lookup_pump(dht, lk, now);
}

void dht_lookup_peer_failed(struct knit_dht *dht, struct dht_lookup *lk,
                            const struct knit_peer_id *peer, uint64_t now)
{
    if (!lk)
        return;
    knit_dht_lookup_failed(&lk->l, peer, now);
    dht_lookup_pump(dht, lk, now);
}

void dht_lookups_timeout(struct knit_dht *dht, uint64_t now)
{
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++) {
        struct dht_lookup *lk = dht->lookups[i];
        if (lk && (lk->kick || knit_dht_lookup_deadline(&lk->l) <= now)) {
            lk->kick = false;
            dht_lookup_pump(dht, lk, now);
        }
    }
}

uint64_t dht_lookups_deadline(const struct knit_dht *dht)
{
    uint64_t next = KNIT_NO_DEADLINE;
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++) {
        const struct dht_lookup *lk = dht->lookups[i];
        if (lk) {
            uint64_t t = lk->kick ? 0 : knit_dht_lookup_deadline(&lk->l);
            if (t < next)
                next = t;
        }
    }
    return next;
}

void dht_lookups_free(struct knit_dht *dht)
{
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++) {
        free(dht->lookups[i]);
        dht->lookups[i] = NULL;
    }
}

/* A server's buckets from the farthest to one past the deepest filled one
 * that have been quiet for a refresh interval (no lookup into them, no
 * server in them heard from: BEP 5's rule) get a lookup of a random key
 * inside them, a few at a time; every node then looks up its own key. */
void dht_refresh(struct knit_dht *dht, uint64_t now)
{
    int deepest = knit_dht_table_deepest_bucket(&dht->table);
    if (deepest < 0)
        return;
    /* A client's table routes nobody else's lookups, only seeds its own,
     * and each of those fills the buckets it passes through. Refreshing
     * every bucket was a third of the handshakes a joining node made. */
    int last = dht->serving ? deepest + 1 : -1;
    int started = 0;
    for (int b = 0; b <= last && b < DHT_REFRESH_BUCKETS; b++) {
        if (now - dht->bucket_fresh[b] < dht->cfg.refresh_interval_us &&
            dht->bucket_fresh[b] != 0)
            continue;
        if (started == 4) {
            /* The rest soon, a few lookups at a time. */
            dht->refresh_at = now + dht->cfg.lookup.request_timeout_us;
            break;
        }
        uint8_t random[KNIT_DHT_KEY_LEN];
        dht->env.random(dht->env.ctx, random, sizeof random);
        struct knit_dht_key target;
        knit_dht_key_in_bucket(&target, &dht->self_key, (unsigned)b, random);
        struct dht_lookup *lk;
        if (dht_lookup_start(dht, PURPOSE_REFRESH, &target, NULL, now, &lk))
            break;
        started++;
        dht_lookup_pump(dht, lk, now);
    }
    /* Our own neighbourhood too (a self-lookup), as Kademlia does. */
    struct dht_lookup *lk;
    if (started < 4 && dht_lookup_start(dht, PURPOSE_REFRESH, &dht->self_key,
                                        NULL, now, &lk) == KNIT_OK)
        dht_lookup_pump(dht, lk, now);
}

int knit_dht_find(struct knit_dht *dht, const struct knit_peer_id *target,
                  uint64_t now, uint64_t *handle)
{
    dht->deadline_stale = true;
    if (knit_dht_table_size(&dht->table) == 0)
        return KNIT_E_NOT_FOUND;
    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, target);
    struct dht_lookup *lk;
    int err = dht_lookup_start(dht, PURPOSE_FIND, &key, target, now, &lk);
    if (err)
        return err;
    if (handle)
        *handle = lk->handle;
    /* Started from the next timeout, not here: a lookup that ended at once
     * would report to the caller before it knew its handle. */
    lk->kick = true;
    return KNIT_OK;
}
