/* The hop service's tables: reservations and circuits in arrays that grow
 * on demand up to the configured maxima (an idle relay, such as most public
 * nodes of a simulated network, holds a few slots, not the ~100 KiB of full
 * default tables), searched linearly (a few hundred entries: a scan is
 * cheaper than keeping an index), and the allow list sorted for binary
 * search. */
#include "relay/hop.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

#define US_PER_S UINT64_C(1000000)

struct reservation {
    bool used;
    bool allowed;
    struct knit_peer_id peer;
    struct knit_addr addr;          /* where the peer reserved from */
    uint64_t expires_at;
};

struct circuit {
    uint32_t id;                    /* 0: free slot */
    bool over;                      /* duration end reported */
    bool src_allowed, dst_allowed;
    struct knit_peer_id src, dst;
    struct knit_addr src_addr, dst_addr;
    struct knit_relay_limit limit;
    uint64_t bytes;
    uint64_t ends_at;               /* KNIT_NO_DEADLINE: no duration limit */
};

struct knit_relay_hop {
    struct knit_relay_config cfg;   /* allow points at our sorted copy */
    struct knit_peer_id *allow;
    struct reservation *res;        /* res_cap slots */
    struct circuit *circ;           /* circ_cap slots */
    uint32_t res_cap, circ_cap;     /* grown up to the cfg maxima */
    uint32_t next_id;
    struct knit_relay_hop_stats stats;
};

void knit_relay_config_default(struct knit_relay_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_reservations = 256;
    c->max_circuits = 512;
    c->reservations_per_ip = 8;
    c->circuits_per_ip = 32;
    c->anyone = (struct knit_relay_limits){
        .reservation_ttl_s = 3600,
        .circuits_per_peer = 16,
        .circuit_bytes = UINT64_C(1) << 30,
        .circuit_seconds = 2 * 3600,
    };
    c->allowed = (struct knit_relay_limits){
        .reservation_ttl_s = 3600,
        .circuits_per_peer = 64,
        .circuit_bytes = 0,
        .circuit_seconds = 0,
    };
}

static int cmp_peer(const void *a, const void *b)
{
    return knit_peer_id_cmp(a, b);
}

int knit_relay_hop_new(struct knit_relay_hop **out,
                       const struct knit_relay_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!cfg || cfg->max_reservations == 0 || cfg->max_circuits == 0 ||
        cfg->max_reservations > KNIT_RELAY_HOP_MAX_TABLE ||
        cfg->max_circuits > KNIT_RELAY_HOP_MAX_TABLE ||
        (cfg->allow_count > 0 && !cfg->allow) ||
        cfg->allow_count > SIZE_MAX / sizeof(struct knit_peer_id))
        return KNIT_E_INVAL;
    struct knit_relay_hop *hop = calloc(1, sizeof *hop);
    if (!hop)
        return KNIT_E_NOMEM;
    hop->cfg = *cfg;
    if (cfg->allow_count > 0)
        hop->allow = malloc(cfg->allow_count * sizeof *hop->allow);
    if (cfg->allow_count > 0 && !hop->allow) {
        knit_relay_hop_free(hop);
        return KNIT_E_NOMEM;
    }
    if (cfg->allow_count > 0) {
        memcpy(hop->allow, cfg->allow, cfg->allow_count * sizeof *hop->allow);
        qsort(hop->allow, cfg->allow_count, sizeof *hop->allow, cmp_peer);
    }
    hop->cfg.allow = hop->allow;
    hop->next_id = 1;
    *out = hop;
    return KNIT_OK;
}

void knit_relay_hop_free(struct knit_relay_hop *hop)
{
    if (!hop)
        return;
    free(hop->allow);
    free(hop->res);
    free(hop->circ);
    free(hop);
}

bool knit_relay_hop_is_allowed(const struct knit_relay_hop *hop,
                               const struct knit_peer_id *peer)
{
    return hop->cfg.allow_count > 0 &&
           bsearch(peer, hop->allow, hop->cfg.allow_count, sizeof *hop->allow,
                   cmp_peer) != NULL;
}

static const struct knit_relay_limits *class_of(const struct knit_relay_hop *hop,
                                                bool allowed)
{
    return allowed ? &hop->cfg.allowed : &hop->cfg.anyone;
}

/* Doubles a table (from TABLE_FIRST) up to max; false if it is at max or
 * memory is short. New slots are zero: free. */
#define TABLE_FIRST 8

static bool grow(void **table, uint32_t *cap, uint32_t max, size_t size)
{
    if (*cap >= max)
        return false;
    uint32_t n = *cap ? *cap * 2 : TABLE_FIRST;
    if (n > max)
        n = max;
    uint8_t *t = realloc(*table, (size_t)n * size);
    if (!t)
        return false;
    memset(t + (size_t)*cap * size, 0, (size_t)(n - *cap) * size);
    *table = t;
    *cap = n;
    return true;
}

static uint64_t add_seconds(uint64_t now, uint32_t seconds)
{
    uint64_t d = seconds * US_PER_S;   /* < 2^53: no overflow */
    return now > UINT64_MAX - d ? UINT64_MAX - 1 : now + d;
}

/* One host's share: the IPv4 address, or the IPv6 /64. */
static bool same_ip_group(const struct knit_addr *a, const struct knit_addr *b)
{
    if (a->family != b->family)
        return false;
    size_t n = a->family == KNIT_AF_IP4 ? 4 : 8;
    return memcmp(a->ip, b->ip, n) == 0;
}

/* ---- reservations --------------------------------------------------------- */

static struct reservation *find_res(const struct knit_relay_hop *hop,
                                    const struct knit_peer_id *peer)
{
    for (uint32_t i = 0; i < hop->res_cap; i++)
        if (hop->res[i].used && knit_peer_id_equal(&hop->res[i].peer, peer))
            return &hop->res[i];
    return NULL;
}

static bool res_live(const struct reservation *r, uint64_t now)
{
    return r->used && r->expires_at > now;
}

static uint16_t refuse(struct knit_relay_hop *hop, uint16_t status)
{
    hop->stats.refused++;
    return status;
}

uint16_t knit_relay_hop_reserve(struct knit_relay_hop *hop,
                                const struct knit_peer_id *peer,
                                const struct knit_addr *from, uint64_t now,
                                uint64_t *expires_at,
                                struct knit_relay_limit *limit)
{
    bool allowed = knit_relay_hop_is_allowed(hop, peer);
    const struct knit_relay_limits *cls = class_of(hop, allowed);
    if (cls->reservation_ttl_s == 0)
        return refuse(hop, KNIT_RELAY_PERMISSION_DENIED);

    struct reservation *own = find_res(hop, peer);
    uint32_t live = 0, live_ip = 0;
    struct reservation *slot = own;
    for (uint32_t i = 0; i < hop->res_cap; i++) {
        struct reservation *r = &hop->res[i];
        if (!res_live(r, now)) {
            if (!slot)
                slot = r;       /* free, or expired and reclaimable */
            continue;
        }
        if (r == own)
            continue;
        live++;
        if (!r->allowed && same_ip_group(&r->addr, from))
            live_ip++;
    }
    if (!allowed && live_ip >= hop->cfg.reservations_per_ip)
        return refuse(hop, KNIT_RELAY_RESERVATION_REFUSED);
    if (live >= hop->cfg.max_reservations)
        return refuse(hop, KNIT_RELAY_RESERVATION_REFUSED);
    if (!slot) {
        uint32_t first_new = hop->res_cap;
        void *t = hop->res;
        if (!grow(&t, &hop->res_cap, hop->cfg.max_reservations,
                  sizeof *hop->res))
            return refuse(hop, KNIT_RELAY_RESERVATION_REFUSED);
        hop->res = t;
        slot = &hop->res[first_new];
    }

    slot->used = true;
    slot->allowed = allowed;
    slot->peer = *peer;
    slot->addr = *from;
    slot->expires_at = add_seconds(now, cls->reservation_ttl_s);
    *expires_at = slot->expires_at;
    *limit = (struct knit_relay_limit){ cls->circuit_bytes,
                                        cls->circuit_seconds };
    return KNIT_RELAY_OK;
}

bool knit_relay_hop_reserved(const struct knit_relay_hop *hop,
                             const struct knit_peer_id *peer, uint64_t now)
{
    const struct reservation *r = find_res(hop, peer);
    return r && res_live(r, now);
}

void knit_relay_hop_unreserve(struct knit_relay_hop *hop,
                              const struct knit_peer_id *peer)
{
    struct reservation *r = find_res(hop, peer);
    if (r)
        memset(r, 0, sizeof *r);
}

/* ---- circuits ------------------------------------------------------------- */

static struct circuit *find_circ(const struct knit_relay_hop *hop, uint32_t id)
{
    if (id == 0)
        return NULL;
    for (uint32_t i = 0; i < hop->circ_cap; i++)
        if (hop->circ[i].id == id)
            return &hop->circ[i];
    return NULL;
}

static uint32_t open_count(const struct knit_relay_hop *hop)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < hop->circ_cap; i++)
        n += hop->circ[i].id != 0;
    return n;
}

/* Circuits with peer at either end. */
static uint32_t peer_uses(const struct knit_relay_hop *hop,
                          const struct knit_peer_id *peer)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < hop->circ_cap; i++) {
        const struct circuit *c = &hop->circ[i];
        n += c->id != 0 && (knit_peer_id_equal(&c->src, peer) ||
                            knit_peer_id_equal(&c->dst, peer));
    }
    return n;
}

/* Circuits with an anyone-class end in addr's group; a circuit with both
 * ends there counts once. */
static uint32_t ip_uses(const struct knit_relay_hop *hop,
                        const struct knit_addr *addr)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < hop->circ_cap; i++) {
        const struct circuit *c = &hop->circ[i];
        n += c->id != 0 &&
             ((!c->src_allowed && same_ip_group(&c->src_addr, addr)) ||
              (!c->dst_allowed && same_ip_group(&c->dst_addr, addr)));
    }
    return n;
}

/* Field by field, the smaller limit; 0 (unlimited) loses to any other. */
static uint64_t stricter(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static uint32_t fresh_id(struct knit_relay_hop *hop)
{
    /* At most max_circuits ids are in use, so this ends. */
    for (;;) {
        uint32_t id = hop->next_id++;
        if (id != 0 && !find_circ(hop, id))
            return id;
    }
}

static uint16_t check_open(const struct knit_relay_hop *hop,
                           const struct knit_peer_id *src,
                           const struct knit_addr *src_addr, bool src_allowed,
                           const struct knit_peer_id *dst,
                           const struct reservation *dst_res, uint64_t now)
{
    const struct knit_relay_limits *src_cls = class_of(hop, src_allowed);
    if (knit_peer_id_equal(src, dst) || src_cls->circuits_per_peer == 0)
        return KNIT_RELAY_PERMISSION_DENIED;
    if (!dst_res || !res_live(dst_res, now))
        return KNIT_RELAY_NO_RESERVATION;
    const struct knit_relay_limits *dst_cls = class_of(hop, dst_res->allowed);
    if (dst_cls->circuits_per_peer == 0)
        return KNIT_RELAY_PERMISSION_DENIED;
    if (open_count(hop) >= hop->cfg.max_circuits ||
        peer_uses(hop, src) >= src_cls->circuits_per_peer ||
        peer_uses(hop, dst) >= dst_cls->circuits_per_peer)
        return KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED;
    if (!src_allowed && ip_uses(hop, src_addr) >= hop->cfg.circuits_per_ip)
        return KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED;
    if (!dst_res->allowed &&
        ip_uses(hop, &dst_res->addr) >= hop->cfg.circuits_per_ip)
        return KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED;
    return KNIT_RELAY_OK;
}

uint16_t knit_relay_hop_open(struct knit_relay_hop *hop,
                             const struct knit_peer_id *src,
                             const struct knit_addr *src_addr,
                             const struct knit_peer_id *dst, uint64_t now,
                             uint32_t *circuit,
                             struct knit_relay_limit *limit)
{
    bool src_allowed = knit_relay_hop_is_allowed(hop, src);
    const struct reservation *dst_res = find_res(hop, dst);
    uint16_t status = check_open(hop, src, src_addr, src_allowed, dst,
                                 dst_res, now);
    if (status != KNIT_RELAY_OK)
        return refuse(hop, status);

    struct circuit *c = NULL;
    for (uint32_t i = 0; i < hop->circ_cap && !c; i++)
        if (hop->circ[i].id == 0)
            c = &hop->circ[i];
    if (!c) {
        uint32_t first_new = hop->circ_cap;
        void *t = hop->circ;
        if (!grow(&t, &hop->circ_cap, hop->cfg.max_circuits,
                  sizeof *hop->circ))
            return refuse(hop, KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
        hop->circ = t;
        c = &hop->circ[first_new];
    }
    const struct knit_relay_limits *a = class_of(hop, src_allowed);
    const struct knit_relay_limits *b = class_of(hop, dst_res->allowed);
    memset(c, 0, sizeof *c);
    c->id = fresh_id(hop);
    c->src_allowed = src_allowed;
    c->dst_allowed = dst_res->allowed;
    c->src = *src;
    c->dst = *dst;
    c->src_addr = *src_addr;
    c->dst_addr = dst_res->addr;
    c->limit.bytes = stricter(a->circuit_bytes, b->circuit_bytes);
    c->limit.seconds =
        (uint32_t)stricter(a->circuit_seconds, b->circuit_seconds);
    c->ends_at = c->limit.seconds ? add_seconds(now, c->limit.seconds)
                                  : KNIT_NO_DEADLINE;
    hop->stats.circuits_total++;
    *circuit = c->id;
    *limit = c->limit;
    return KNIT_RELAY_OK;
}

bool knit_relay_hop_account(struct knit_relay_hop *hop, uint32_t circuit,
                            size_t bytes)
{
    struct circuit *c = find_circ(hop, circuit);
    if (!c)
        return false;
    if (c->limit.bytes && (bytes > c->limit.bytes ||
                           c->bytes > c->limit.bytes - bytes))
        return false;
    c->bytes += bytes;
    hop->stats.bytes_relayed += bytes;
    return true;
}

void knit_relay_hop_close(struct knit_relay_hop *hop, uint32_t circuit)
{
    struct circuit *c = find_circ(hop, circuit);
    if (c)
        memset(c, 0, sizeof *c);
}

/* ---- time ----------------------------------------------------------------- */

uint64_t knit_relay_hop_next_deadline(const struct knit_relay_hop *hop)
{
    uint64_t next = KNIT_NO_DEADLINE;
    for (uint32_t i = 0; i < hop->res_cap; i++)
        if (hop->res[i].used && hop->res[i].expires_at < next)
            next = hop->res[i].expires_at;
    for (uint32_t i = 0; i < hop->circ_cap; i++) {
        const struct circuit *c = &hop->circ[i];
        if (c->id != 0 && !c->over && c->ends_at < next)
            next = c->ends_at;
    }
    return next;
}

void knit_relay_hop_expire(struct knit_relay_hop *hop, uint64_t now,
                           void (*circuit_over)(void *ctx, uint32_t circuit),
                           void *ctx)
{
    for (uint32_t i = 0; i < hop->res_cap; i++)
        if (hop->res[i].used && hop->res[i].expires_at <= now)
            memset(&hop->res[i], 0, sizeof hop->res[i]);
    /* By index: the callback may close this circuit (or any other). */
    for (uint32_t i = 0; i < hop->circ_cap; i++) {
        struct circuit *c = &hop->circ[i];
        if (c->id == 0 || c->over || c->ends_at > now)
            continue;
        c->over = true;
        if (circuit_over)
            circuit_over(ctx, c->id);
    }
}

/* ---- what it serves ----------------------------------------------------- */

void knit_relay_hop_get_stats(const struct knit_relay_hop *hop,
                              struct knit_relay_hop_stats *out)
{
    *out = hop->stats;
    out->reservations = 0;
    for (uint32_t i = 0; i < hop->res_cap; i++)
        out->reservations += hop->res[i].used;
    out->circuits = open_count(hop);
}

size_t knit_relay_hop_list(const struct knit_relay_hop *hop,
                           struct knit_peer_id *peers, uint64_t *expires_at,
                           size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < hop->res_cap && n < cap; i++) {
        if (!hop->res[i].used)
            continue;
        if (peers)
            peers[n] = hop->res[i].peer;
        if (expires_at)
            expires_at[n] = hop->res[i].expires_at;
        n++;
    }
    return n;
}
