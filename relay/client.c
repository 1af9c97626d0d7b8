/* The reservation keeper's table: one entry per relay it knows, in an array
 * that grows as relays turn up, up to max_candidates, searched linearly (a
 * few dozen entries). */
#include "relay/client.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

#define US_PER_S UINT64_C(1000000)

struct entry {
    bool used;
    bool candidate;         /* false: forgotten, kept for its backoff */
    bool reserved;
    bool pending;           /* a RESERVE is out (new, or a refresh) */
    struct knit_peer_id peer;
    uint64_t rtt_us;        /* 0 = unknown */
    uint64_t expires_at;    /* reserved */
    uint64_t refresh_at;    /* reserved */
    uint64_t pending_until; /* pending */
    uint64_t backoff_us;    /* last backoff, 0 = none */
    uint64_t retry_at;      /* not asked before this */
    uint8_t addr_count;
    struct knit_addr addrs[KNIT_RELAY_MAX_ADDRS];
};

struct knit_relay_client {
    struct knit_relay_client_config cfg;
    struct entry *e;        /* cap entries */
    uint32_t cap;           /* grown up to cfg.max_candidates */
};

void knit_relay_client_config_default(struct knit_relay_client_config *c)
{
    c->want = 2;
    c->max_candidates = 32;
    c->retry_us = 60 * US_PER_S;
    c->retry_max_us = 30 * 60 * US_PER_S;
    c->request_timeout_us = 20 * US_PER_S;
}

int knit_relay_client_new(struct knit_relay_client **out,
                          const struct knit_relay_client_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    /* Every field left 0 takes its default. */
    struct knit_relay_client_config d, use = {0};
    knit_relay_client_config_default(&d);
    if (cfg)
        use = *cfg;
    use.want = use.want ? use.want : d.want;
    use.max_candidates = use.max_candidates ? use.max_candidates
                                            : d.max_candidates;
    use.retry_us = use.retry_us ? use.retry_us : d.retry_us;
    use.retry_max_us = use.retry_max_us ? use.retry_max_us : d.retry_max_us;
    use.request_timeout_us = use.request_timeout_us ? use.request_timeout_us
                                                    : d.request_timeout_us;
    if (use.max_candidates > KNIT_RELAY_CLIENT_MAX_CANDIDATES ||
        use.retry_max_us < use.retry_us)
        return KNIT_E_INVAL;
    struct knit_relay_client *c = calloc(1, sizeof *c);
    if (!c)
        return KNIT_E_NOMEM;
    c->cfg = use;
    *out = c;
    return KNIT_OK;
}

void knit_relay_client_free(struct knit_relay_client *c)
{
    if (!c)
        return;
    free(c->e);
    free(c);
}

static struct entry *find(const struct knit_relay_client *c,
                          const struct knit_peer_id *relay)
{
    for (uint32_t i = 0; i < c->cap; i++)
        if (c->e[i].used && knit_peer_id_equal(&c->e[i].peer, relay))
            return &c->e[i];
    return NULL;
}

/* The order of preference: lower RTT, unknown last, then peer ID. */
static bool better(const struct entry *a, const struct entry *b)
{
    uint64_t ra = a->rtt_us ? a->rtt_us : UINT64_MAX;
    uint64_t rb = b->rtt_us ? b->rtt_us : UINT64_MAX;
    if (ra != rb)
        return ra < rb;
    return knit_peer_id_cmp(&a->peer, &b->peer) < 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The relay refused or failed to answer: the reservation (if any) is lost
 * and the relay not asked again for a while. */
static void fail(struct knit_relay_client *c, struct entry *e, uint64_t now,
                 bool for_good)
{
    e->pending = false;
    e->reserved = false;
    e->addr_count = 0;
    if (for_good || e->backoff_us >= c->cfg.retry_max_us / 2)
        e->backoff_us = c->cfg.retry_max_us;
    else
        e->backoff_us = e->backoff_us ? 2 * e->backoff_us : c->cfg.retry_us;
    e->retry_at = add_sat(now, e->backoff_us);
}

/* ---- what the glue reports ------------------------------------------------ */

/* A slot for a new candidate: a free one (growing the table while under
 * max_candidates), else a forgotten entry, else the worst idle candidate if
 * the newcomer (probe) is better. */
static struct entry *slot_for(struct knit_relay_client *c,
                              const struct entry *probe)
{
    for (uint32_t i = 0; i < c->cap; i++)
        if (!c->e[i].used)
            return &c->e[i];
    if (c->cap < c->cfg.max_candidates) {
        uint32_t n = c->cap ? 2 * c->cap : 4;
        if (n > c->cfg.max_candidates)
            n = c->cfg.max_candidates;
        struct entry *t = realloc(c->e, n * sizeof *t);
        if (t) {
            uint32_t first_new = c->cap;
            memset(t + first_new, 0, (n - first_new) * sizeof *t);
            c->e = t;
            c->cap = n;
            return &c->e[first_new];
        }
    }
    struct entry *gone = NULL, *worst = NULL;
    for (uint32_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (!e->candidate) {
            if (!gone || e->retry_at < gone->retry_at)
                gone = e;
        } else if (!e->reserved && !e->pending) {
            if (!worst || better(worst, e))
                worst = e;
        }
    }
    if (gone)
        return gone;
    if (worst && better(probe, worst))
        return worst;
    return NULL;
}

void knit_relay_client_candidate(struct knit_relay_client *c,
                                 const struct knit_peer_id *relay,
                                 uint64_t rtt_us, uint64_t now)
{
    (void)now;
    struct entry *e = find(c, relay);
    if (e) {
        e->candidate = true;
        if (rtt_us)
            e->rtt_us = rtt_us;
        return;
    }
    struct entry probe = { .used = true, .candidate = true, .peer = *relay,
                           .rtt_us = rtt_us };
    if ((e = slot_for(c, &probe)))
        *e = probe;
}

void knit_relay_client_forget(struct knit_relay_client *c,
                              const struct knit_peer_id *relay, uint64_t now)
{
    struct entry *e = find(c, relay);
    if (!e)
        return;
    if (e->retry_at > now) {
        struct entry kept = { .used = true, .peer = e->peer,
                              .rtt_us = e->rtt_us,
                              .backoff_us = e->backoff_us,
                              .retry_at = e->retry_at };
        *e = kept;
    } else {
        memset(e, 0, sizeof *e);
    }
}

/* A relay's address is kept only as its UDP endpoint, and only if any /p2p
 * names the relay itself. */
static bool relay_endpoint(const struct knit_multiaddr *ma,
                           const struct knit_peer_id *relay,
                           struct knit_addr *out)
{
    struct knit_peer_id named;
    if (knit_multiaddr_is_circuit(ma) ||
        knit_multiaddr_to_socket(ma, out) != KNIT_OK)
        return false;
    return knit_multiaddr_peer(ma, &named) != KNIT_OK ||
           knit_peer_id_equal(&named, relay);
}

void knit_relay_client_reserved(struct knit_relay_client *c,
                                const struct knit_peer_id *relay,
                                uint64_t expires_at,
                                const struct knit_multiaddr *relay_addrs,
                                size_t n, uint64_t now)
{
    struct entry *e = find(c, relay);
    if (!e || !e->candidate)
        return;
    if (expires_at <= now) {
        fail(c, e, now, false);
        return;
    }
    e->pending = false;
    e->reserved = true;
    e->backoff_us = 0;
    e->retry_at = 0;
    e->expires_at = expires_at;
    e->refresh_at = now + (expires_at - now) / 4 * 3;
    e->addr_count = 0;
    for (size_t i = 0; i < n && e->addr_count < KNIT_RELAY_MAX_ADDRS; i++)
        if (relay_endpoint(&relay_addrs[i], relay, &e->addrs[e->addr_count]))
            e->addr_count++;
}

void knit_relay_client_refused(struct knit_relay_client *c,
                               const struct knit_peer_id *relay,
                               uint16_t status, uint64_t now)
{
    struct entry *e = find(c, relay);
    if (e && e->candidate)
        fail(c, e, now, status == KNIT_RELAY_PERMISSION_DENIED);
}

/* ---- decisions ------------------------------------------------------------ */

/* Requests unanswered for too long fail; reservations past their expiry are
 * lost (without backoff: the relay did nothing wrong that we know of). */
static void sweep(struct knit_relay_client *c, uint64_t now)
{
    for (uint32_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (!e->used || !e->candidate)
            continue;
        if (e->pending && e->pending_until <= now)
            fail(c, e, now, false);
        if (e->reserved && e->expires_at <= now) {
            e->reserved = false;
            e->addr_count = 0;
        }
    }
}

static uint32_t held_or_asked(const struct knit_relay_client *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->cap; i++) {
        const struct entry *e = &c->e[i];
        n += e->used && e->candidate && (e->reserved || e->pending);
    }
    return n;
}

static bool idle(const struct entry *e)
{
    return e->used && e->candidate && !e->reserved && !e->pending;
}

bool knit_relay_client_next(struct knit_relay_client *c, uint64_t now,
                            struct knit_peer_id *relay)
{
    sweep(c, now);
    struct entry *pick = NULL;
    for (uint32_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (e->used && e->candidate && e->reserved && !e->pending &&
            e->refresh_at <= now &&
            (!pick || e->refresh_at < pick->refresh_at))
            pick = e;
    }
    if (!pick && held_or_asked(c) < c->cfg.want) {
        for (uint32_t i = 0; i < c->cap; i++) {
            struct entry *e = &c->e[i];
            if (idle(e) && e->retry_at <= now && (!pick || better(e, pick)))
                pick = e;
        }
    }
    if (!pick)
        return false;
    pick->pending = true;
    pick->pending_until = add_sat(now, c->cfg.request_timeout_us);
    *relay = pick->peer;
    return true;
}

static void earliest(uint64_t *next, uint64_t t)
{
    if (t < *next)
        *next = t;
}

uint64_t knit_relay_client_deadline(const struct knit_relay_client *c)
{
    uint64_t next = KNIT_NO_DEADLINE;
    bool short_of = held_or_asked(c) < c->cfg.want;
    for (uint32_t i = 0; i < c->cap; i++) {
        const struct entry *e = &c->e[i];
        if (!e->used || !e->candidate)
            continue;
        if (e->pending)
            earliest(&next, e->pending_until);
        if (e->reserved) {
            earliest(&next, e->expires_at);
            if (!e->pending)
                earliest(&next, e->refresh_at);
        }
        if (short_of && idle(e))
            earliest(&next, e->retry_at);
    }
    return next;
}

/* ---- what it holds -------------------------------------------------------- */

size_t knit_relay_client_active(const struct knit_relay_client *c,
                                struct knit_peer_id *relays, size_t cap)
{
    /* Selection in preference order: each round takes the best reserved
     * entry after the previous pick (cap and the table are small). */
    const struct entry *prev = NULL;
    size_t n = 0;
    while (n < cap) {
        const struct entry *pick = NULL;
        for (uint32_t i = 0; i < c->cap; i++) {
            const struct entry *e = &c->e[i];
            if (!e->used || !e->candidate || !e->reserved)
                continue;
            if (prev && !better(prev, e))
                continue;
            if (!pick || better(e, pick))
                pick = e;
        }
        if (!pick)
            break;
        relays[n++] = pick->peer;
        prev = pick;
    }
    return n;
}

bool knit_relay_client_is_relay(const struct knit_relay_client *c,
                                const struct knit_peer_id *relay)
{
    const struct entry *e = find(c, relay);
    return e && e->candidate && e->reserved;
}

size_t knit_relay_client_addrs(const struct knit_relay_client *c,
                               const struct knit_peer_id *relay,
                               struct knit_addr *out, size_t cap)
{
    const struct entry *e = find(c, relay);
    if (!e || !e->candidate || !e->reserved)
        return 0;
    size_t n = e->addr_count < cap ? e->addr_count : cap;
    memcpy(out, e->addrs, n * sizeof *out);
    return n;
}

int knit_relay_circuit_addr(struct knit_multiaddr *out,
                            const struct knit_addr *relay_addr,
                            const struct knit_peer_id *relay,
                            const struct knit_peer_id *target)
{
    if (!out || !relay_addr || !relay || !target)
        return KNIT_E_INVAL;
    int err = knit_multiaddr_from_socket(out, relay_addr, relay);
    if (err)
        return err;
    /* endpoint (2) + relay (1) + circuit + target: 5 of 6 components. */
    out->c[out->count++].protocol = KNIT_MA_P2P_CIRCUIT;
    out->c[out->count].protocol = KNIT_MA_P2P;
    out->c[out->count].v.peer = *target;
    out->count++;
    return KNIT_OK;
}
