/* The AutoNAT server's rate limits (see autonat_limit.h): GCRA buckets per
 * (peer, kind) in a fixed table, and one global bucket. */
#include "node/autonat_limit.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

#define USEC_PER_SEC UINT64_C(1000000)

struct bucket_rate {
    uint64_t interval;    /* µs one request costs */
    uint64_t tolerance;   /* how far full_at may run ahead: burst - 1 */
};

struct entry {
    bool used;
    uint8_t kind;
    struct knit_peer_id peer;
    uint64_t full_at;     /* µs at which the bucket is full again */
    uint64_t active;      /* last request, allowed or not */
};

struct knit_autonat_limit {
    struct bucket_rate rate[2];          /* by kind */
    struct bucket_rate global_rate;
    uint64_t global_full_at;
    uint32_t n;
    struct entry entries[];
};

static struct bucket_rate make_rate(uint64_t interval, uint32_t burst)
{
    if (interval == 0)
        interval = 1;
    struct bucket_rate r = { interval, (uint64_t)(burst - 1) * interval };
    return r;
}

int knit_autonat_limit_new(struct knit_autonat_limit **out,
                           const struct knit_autonat_limit_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    struct knit_autonat_limit_config c =
        cfg ? *cfg : (struct knit_autonat_limit_config){0};
    if (c.peers > KNIT_AUTONAT_LIMIT_MAX_PEERS)
        return KNIT_E_INVAL;
    uint32_t n = c.peers ? c.peers : KNIT_AUTONAT_LIMIT_DEFAULT_PEERS;
    struct knit_autonat_limit *lim =
        calloc(1, sizeof *lim + (size_t)n * sizeof lim->entries[0]);
    if (!lim)
        return KNIT_E_NOMEM;
    lim->rate[KNIT_AUTONAT_LIMIT_REQUEST] = make_rate(
        c.request_interval ? c.request_interval
                           : KNIT_AUTONAT_LIMIT_REQUEST_INTERVAL,
        c.request_burst ? c.request_burst : KNIT_AUTONAT_LIMIT_REQUEST_BURST);
    lim->rate[KNIT_AUTONAT_LIMIT_DIAL_FOR] = make_rate(
        c.dial_for_interval ? c.dial_for_interval
                            : KNIT_AUTONAT_LIMIT_DIAL_FOR_INTERVAL,
        c.dial_for_burst ? c.dial_for_burst
                         : KNIT_AUTONAT_LIMIT_DIAL_FOR_BURST);
    uint32_t per_second = c.global_per_second
                              ? c.global_per_second
                              : KNIT_AUTONAT_LIMIT_GLOBAL_PER_SECOND;
    lim->global_rate = make_rate(
        USEC_PER_SEC / per_second,
        c.global_burst ? c.global_burst : KNIT_AUTONAT_LIMIT_GLOBAL_BURST);
    lim->n = n;
    *out = lim;
    return KNIT_OK;
}

void knit_autonat_limit_free(struct knit_autonat_limit *lim)
{
    free(lim);
}

/* The peer's entry, else one to take over (see the header for the order).
 * A taken-over entry keeps its full_at: the newcomer inherits the debt. */
static struct entry *entry_for(struct knit_autonat_limit *lim,
                               const struct knit_peer_id *peer, uint8_t kind,
                               uint64_t now)
{
    struct entry *free_entry = NULL, *refilled = NULL, *idle = NULL;
    for (uint32_t i = 0; i < lim->n; i++) {
        struct entry *e = &lim->entries[i];
        if (!e->used) {
            if (!free_entry)
                free_entry = e;
            continue;
        }
        if (e->kind == kind && knit_peer_id_equal(&e->peer, peer))
            return e;
        if (e->full_at <= now && (!refilled || e->active < refilled->active))
            refilled = e;
        if (!idle || e->active < idle->active)
            idle = e;
    }
    struct entry *e = idle;
    if (free_entry || refilled) {
        e = free_entry ? free_entry : refilled;
        e->full_at = now;   /* a fresh, full bucket */
    }
    e->used = true;
    e->kind = kind;
    e->peer = *peer;
    return e;
}

/* GCRA: room now unless full_at lies more than tolerance ahead. */
static bool has_room(const struct bucket_rate *r, uint64_t full_at,
                     uint64_t now)
{
    uint64_t start = full_at > now ? full_at : now;
    return start - now <= r->tolerance;
}

static uint64_t charge(const struct bucket_rate *r, uint64_t full_at,
                       uint64_t now)
{
    return (full_at > now ? full_at : now) + r->interval;
}

bool knit_autonat_limit_allow(struct knit_autonat_limit *lim,
                              const struct knit_peer_id *peer,
                              enum knit_autonat_limit_kind kind, uint64_t now)
{
    if (!lim || !peer ||
        (kind != KNIT_AUTONAT_LIMIT_REQUEST &&
         kind != KNIT_AUTONAT_LIMIT_DIAL_FOR))
        return false;
    struct entry *e = entry_for(lim, peer, (uint8_t)kind, now);
    e->active = now;
    const struct bucket_rate *r = &lim->rate[kind];
    if (!has_room(r, e->full_at, now) ||
        !has_room(&lim->global_rate, lim->global_full_at, now))
        return false;
    e->full_at = charge(r, e->full_at, now);
    lim->global_full_at = charge(&lim->global_rate, lim->global_full_at, now);
    return true;
}
