/* The shortlist of one iterative lookup. At most KNIT_DHT_LOOKUP_MAX
 * candidates live in the caller's struct, kept sorted by distance so "the
 * closest NEW one" and "the beta closest" are prefix walks; with 64 entries
 * a linear memmove on insert costs less than any cleverer structure. */
#include "dht/lookup.h"

#include <string.h>

#include "transport/io.h"

#define DEFAULT_ALPHA 3
#define DEFAULT_BETA 3
#define DEFAULT_REQUEST_TIMEOUT_US (5 * UINT64_C(1000000))
#define DEFAULT_DEADLINE_US (60 * UINT64_C(1000000))

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t overall_deadline(const struct knit_dht_lookup *l)
{
    return add_sat(l->started, l->cfg.deadline_us);
}

/* The index of peer's candidate, or l->count when there is none. */
static size_t index_of(const struct knit_dht_lookup *l,
                       const struct knit_peer_id *peer)
{
    size_t i = 0;
    while (i < l->count && !knit_peer_id_equal(&l->cand[i].peer.id, peer))
        i++;
    return i;
}

static struct knit_dht_candidate *find(struct knit_dht_lookup *l,
                                       const struct knit_peer_id *peer)
{
    size_t i = index_of(l, peer);
    return i < l->count ? &l->cand[i] : NULL;
}

/* Decides DONE or EXHAUSTED from the candidates' states, and TIMED_OUT from
 * the clock. Every call that changes a state ends here, so status is always
 * current and next() never hands out a peer the result no longer needs. */
static void settle(struct knit_dht_lookup *l, uint64_t now)
{
    if (l->status != KNIT_DHT_LOOKUP_RUNNING)
        return;
    if (now >= overall_deadline(l)) {
        l->status = KNIT_DHT_LOOKUP_TIMED_OUT;
        return;
    }
    size_t seen = 0, asking = 0, fresh = 0;
    bool answered = true;
    for (size_t i = 0; i < l->count; i++) {
        uint8_t st = l->cand[i].state;
        if (st == KNIT_DHT_CAND_FAILED)
            continue;
        if (st == KNIT_DHT_CAND_ASKING)
            asking++;
        else if (st == KNIT_DHT_CAND_NEW)
            fresh++;
        if (seen < l->cfg.beta) {
            seen++;
            answered = answered && st == KNIT_DHT_CAND_ANSWERED;
        }
    }
    /* Fewer than beta peers alive in total still count as done once they
     * all answered: nobody closer is left to ask. */
    if (seen > 0 && answered)
        l->status = KNIT_DHT_LOOKUP_DONE;
    else if (asking == 0 && fresh == 0)
        l->status = KNIT_DHT_LOOKUP_EXHAUSTED;
}

void knit_dht_lookup_init(struct knit_dht_lookup *l,
                          const struct knit_dht_key *target,
                          const struct knit_peer_id *self,
                          const struct knit_dht_lookup_config *cfg,
                          uint64_t now)
{
    memset(l, 0, sizeof *l);
    if (cfg)
        l->cfg = *cfg;
    if (!l->cfg.alpha)
        l->cfg.alpha = DEFAULT_ALPHA;
    if (!l->cfg.beta)
        l->cfg.beta = DEFAULT_BETA;
    if (!l->cfg.request_timeout_us)
        l->cfg.request_timeout_us = DEFAULT_REQUEST_TIMEOUT_US;
    if (!l->cfg.deadline_us)
        l->cfg.deadline_us = DEFAULT_DEADLINE_US;
    l->target = *target;
    if (self)
        l->self = *self;
    l->started = now;
    l->status = KNIT_DHT_LOOKUP_RUNNING;
}

void knit_dht_lookup_add(struct knit_dht_lookup *l,
                         const struct knit_dht_peer_info *peer, uint16_t hop)
{
    if (l->status != KNIT_DHT_LOOKUP_RUNNING || !peer ||
        peer->addr_count == 0 || peer->addr_count > KNIT_DHT_MAX_PEER_ADDRS ||
        knit_peer_id_equal(&peer->id, &l->self) ||
        index_of(l, &peer->id) < l->count)
        return;

    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, &peer->id);

    if (l->count == KNIT_DHT_LOOKUP_MAX) {
        /* An ASKING candidate stays: its answer is on its way and would
         * otherwise be dropped as coming from a stranger. */
        size_t victim = l->count;
        while (victim-- > 0)
            if (l->cand[victim].state != KNIT_DHT_CAND_ASKING)
                break;
        if (victim >= l->count ||
            knit_dht_key_cmp_distance(&l->target, &key,
                                      &l->cand[victim].key) >= 0)
            return;
        memmove(&l->cand[victim], &l->cand[victim + 1],
                (l->count - victim - 1) * sizeof l->cand[0]);
        l->count--;
    }

    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (knit_dht_key_cmp_distance(&l->target, &l->cand[mid].key, &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&l->cand[lo + 1], &l->cand[lo],
            (l->count - lo) * sizeof l->cand[0]);
    struct knit_dht_candidate *c = &l->cand[lo];
    memset(c, 0, sizeof *c);
    c->peer = *peer;
    c->key = key;
    c->state = KNIT_DHT_CAND_NEW;
    c->hop = hop;
    l->count++;
}

const struct knit_dht_candidate *
knit_dht_lookup_next(struct knit_dht_lookup *l, uint64_t now)
{
    settle(l, now);
    if (l->status != KNIT_DHT_LOOKUP_RUNNING)
        return NULL;
    size_t asking = 0;
    struct knit_dht_candidate *pick = NULL;
    for (size_t i = 0; i < l->count; i++) {
        if (l->cand[i].state == KNIT_DHT_CAND_ASKING)
            asking++;
        else if (!pick && l->cand[i].state == KNIT_DHT_CAND_NEW)
            pick = &l->cand[i];
    }
    if (!pick || asking >= l->cfg.alpha)
        return NULL;
    pick->state = KNIT_DHT_CAND_ASKING;
    pick->sent_at = now;
    l->queries++;
    return pick;
}

void knit_dht_lookup_answered(struct knit_dht_lookup *l,
                              const struct knit_peer_id *peer,
                              const struct knit_dht_peer_info *closer,
                              size_t n, uint64_t now)
{
    settle(l, now);
    if (l->status != KNIT_DHT_LOOKUP_RUNNING || !peer)
        return;
    struct knit_dht_candidate *c = find(l, peer);
    if (!c || c->state != KNIT_DHT_CAND_ASKING)
        return;
    c->state = KNIT_DHT_CAND_ANSWERED;
    l->answers++;
    /* c may move as candidates are inserted; its hop is read first. */
    uint16_t hop = c->hop == UINT16_MAX ? UINT16_MAX : (uint16_t)(c->hop + 1);
    for (size_t i = 0; closer && i < n; i++)
        knit_dht_lookup_add(l, &closer[i], hop);
    settle(l, now);
}

void knit_dht_lookup_failed(struct knit_dht_lookup *l,
                            const struct knit_peer_id *peer, uint64_t now)
{
    settle(l, now);
    if (l->status != KNIT_DHT_LOOKUP_RUNNING || !peer)
        return;
    struct knit_dht_candidate *c = find(l, peer);
    if (!c || c->state != KNIT_DHT_CAND_ASKING)
        return;
    c->state = KNIT_DHT_CAND_FAILED;
    l->failures++;
    settle(l, now);
}

enum knit_dht_lookup_status
knit_dht_lookup_update(struct knit_dht_lookup *l, uint64_t now,
                       struct knit_peer_id *timed_out, size_t cap,
                       size_t *n_timed_out)
{
    size_t reported = 0;
    if (l->status == KNIT_DHT_LOOKUP_RUNNING) {
        for (size_t i = 0; i < l->count; i++) {
            struct knit_dht_candidate *c = &l->cand[i];
            if (c->state != KNIT_DHT_CAND_ASKING ||
                now < add_sat(c->sent_at, l->cfg.request_timeout_us))
                continue;
            c->state = KNIT_DHT_CAND_FAILED;
            l->failures++;
            if (timed_out && reported < cap)
                timed_out[reported++] = c->peer.id;
        }
        settle(l, now);
    }
    if (n_timed_out)
        *n_timed_out = reported;
    return (enum knit_dht_lookup_status)l->status;
}

void knit_dht_lookup_finish(struct knit_dht_lookup *l)
{
    if (l->status == KNIT_DHT_LOOKUP_RUNNING)
        l->status = KNIT_DHT_LOOKUP_DONE;
}

void knit_dht_lookup_widen(struct knit_dht_lookup *l, uint32_t beta,
                           uint64_t now)
{
    if (l->status != KNIT_DHT_LOOKUP_DONE || beta <= l->cfg.beta)
        return;
    l->cfg.beta = beta;
    l->status = KNIT_DHT_LOOKUP_RUNNING;
    settle(l, now);
}

uint64_t knit_dht_lookup_deadline(const struct knit_dht_lookup *l)
{
    if (l->status != KNIT_DHT_LOOKUP_RUNNING)
        return KNIT_NO_DEADLINE;
    uint64_t at = overall_deadline(l);
    for (size_t i = 0; i < l->count; i++) {
        const struct knit_dht_candidate *c = &l->cand[i];
        if (c->state != KNIT_DHT_CAND_ASKING)
            continue;
        uint64_t t = add_sat(c->sent_at, l->cfg.request_timeout_us);
        if (t < at)
            at = t;
    }
    return at;
}

size_t knit_dht_lookup_closest(const struct knit_dht_lookup *l,
                               const struct knit_dht_candidate **out,
                               size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < l->count && k < n; i++)
        if (l->cand[i].state == KNIT_DHT_CAND_ANSWERED)
            out[k++] = &l->cand[i];
    return k;
}

uint16_t knit_dht_lookup_hops(const struct knit_dht_lookup *l)
{
    uint16_t hops = 0;
    size_t seen = 0;
    for (size_t i = 0; i < l->count && seen < l->cfg.beta; i++) {
        const struct knit_dht_candidate *c = &l->cand[i];
        if (c->state != KNIT_DHT_CAND_ANSWERED)
            continue;
        seen++;
        if (c->hop > hops)
            hops = c->hop;
    }
    return hops;
}

const struct knit_dht_candidate *
knit_dht_lookup_find(const struct knit_dht_lookup *l,
                     const struct knit_peer_id *peer)
{
    size_t i = peer ? index_of(l, peer) : l->count;
    return i < l->count ? &l->cand[i] : NULL;
}
