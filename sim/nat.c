/* Mappings live on a list in order of last refresh (every refresh moves one
 * to the tail and all share one timeout, so the head always expires first:
 * expiry and next_expiry are O(1) per mapping without a heap) and in two
 * hash tables, one keyed by (private endpoint, destination as far as the
 * mapping behaviour looks at it), one by public port. Both tables are open
 * addressing with linear probing, at most half full, with backward-shift
 * deletion, as in sim/net.c.
 *
 * Every entry point first reclaims the mappings expired at now from the head
 * of the list, so nothing else ever meets an expired mapping and a port in
 * the table is a port in use. Since the NAT is IPv4 only, addresses are kept
 * as a 32-bit IP and a port. */
#include "sim/nat.h"

#include <stdlib.h>
#include <string.h>

#include "proto/record.h"
#include "sim/rng.h"
#include "transport/error.h"

#define MIN_TABLE 8
#define DEFAULT_PORT_MIN 1024
#define DEFAULT_PORT_MAX 65535
#define DEFAULT_TIMEOUT_US 120000000ull
#define DEFAULT_MAX_MAPPINGS 65536
/* Random draws before counting free ports instead: rejection stays cheap
 * until the range is nearly full. */
#define RANDOM_TRIES 64

struct remote {
    uint64_t last;                  /* when the mapping last sent to it */
    uint32_t ip;
    uint16_t port;                  /* 0 under ADF */
};

struct mapping {
    struct mapping *older, *newer;  /* refresh order */
    uint64_t refreshed;
    uint64_t key_hash;
    uint32_t priv_ip, dst_ip;       /* dst_ip 0 under EIM */
    uint16_t priv_port, dst_port;   /* dst_port 0 under EIM and ADM */
    uint16_t pub_port;
    uint8_t nremote, remote_cap;
    struct remote *remotes;
};

struct slot {
    uint64_t hash;
    struct mapping *m;              /* NULL: empty */
};

struct table {
    struct slot *s;
    size_t cap, count;              /* cap is a power of two */
};

struct knit_sim_nat {
    struct knit_sim_nat_config cfg; /* defaults filled in */
    uint32_t public_ip;
    uint32_t range;                 /* port_max - port_min + 1 */
    uint16_t last_port;             /* sequential cursor */
    uint64_t now;                   /* latest seen */
    struct knit_rng rng;
    struct table by_key, by_port;
    struct mapping *oldest, *newest;
    struct knit_sim_nat_stats stats;
};

/* ---- keys ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t ip4(const struct knit_addr *a)
{
    return (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 |
           (uint32_t)a->ip[2] << 8 | (uint32_t)a->ip[3];
}

static struct knit_addr addr_of(uint32_t ip, uint16_t port)
{
    struct knit_addr a;
    memset(&a, 0, sizeof a);
    a.family = KNIT_AF_IP4;
    a.ip[0] = (uint8_t)(ip >> 24);
    a.ip[1] = (uint8_t)(ip >> 16);
    a.ip[2] = (uint8_t)(ip >> 8);
    a.ip[3] = (uint8_t)ip;
    a.port = port;
    return a;
}

/* What of the private endpoint and destination picks a mapping. */
struct key {
    uint32_t priv_ip, dst_ip;
    uint16_t priv_port, dst_port;
};

static struct key key_of(const struct knit_sim_nat *nat,
                         const struct knit_addr *src,
                         const struct knit_addr *dst)
{
    struct key k = {ip4(src), 0, src->port, 0};
    if (nat->cfg.mapping != KNIT_MAPPING_ENDPOINT_INDEPENDENT)
        k.dst_ip = ip4(dst);
    if (nat->cfg.mapping == KNIT_MAPPING_ADDRESS_PORT_DEPENDENT)
        k.dst_port = dst->port;
    return k;
}

static uint64_t key_hash(const struct key *k)
{
    uint64_t a = (uint64_t)k->priv_ip << 16 | k->priv_port;
    uint64_t b = (uint64_t)k->dst_ip << 16 | k->dst_port;
    return mix64(mix64(a) ^ b);
}

static bool key_equal(const struct mapping *m, const struct key *k)
{
    return m->priv_ip == k->priv_ip && m->priv_port == k->priv_port &&
           m->dst_ip == k->dst_ip && m->dst_port == k->dst_port;
}

static uint64_t port_hash(uint16_t port)
{
    return mix64(port);
}

/* ---- tables -------------------------------------------------------------------- */

static int table_init(struct table *t)
{
    t->s = calloc(MIN_TABLE, sizeof *t->s);
    t->cap = MIN_TABLE;
    t->count = 0;
    return t->s ? KNIT_OK : KNIT_E_NOMEM;
}

static void table_put(struct table *t, uint64_t hash, struct mapping *m)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)hash & mask;
    while (t->s[i].m)
        i = (i + 1) & mask;
    t->s[i] = (struct slot){hash, m};
    t->count++;
}

static int table_resize(struct table *t, size_t cap)
{
    struct slot *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return KNIT_E_NOMEM;
    struct slot *old = t->s;
    size_t old_cap = t->cap;
    t->s = fresh;
    t->cap = cap;
    t->count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].m)
            table_put(t, old[i].hash, old[i].m);
    free(old);
    return KNIT_OK;
}

/* Room for one more entry, keeping the table at most half full. At most
 * 65536 mappings, so the doubling cannot overflow. */
static int table_reserve(struct table *t)
{
    if ((t->count + 1) * 2 <= t->cap)
        return KNIT_OK;
    return table_resize(t, t->cap * 2);
}

/* Backward-shift deletion of the slot holding m; then shrinks a table gone
 * mostly empty, so memory follows the live mappings (a failed shrink only
 * keeps the larger table). */
static void table_remove(struct table *t, uint64_t hash, const struct mapping *m)
{
    size_t mask = t->cap - 1;
    size_t hole = (size_t)hash & mask;
    while (t->s[hole].m != m)
        hole = (hole + 1) & mask;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->s[j].m)
            break;
        size_t home = (size_t)t->s[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            t->s[hole] = t->s[j];
            hole = j;
        }
    }
    t->s[hole] = (struct slot){0, NULL};
    t->count--;
    if (t->cap > MIN_TABLE && t->count * 8 < t->cap)
        (void)table_resize(t, t->cap / 2);
}

static struct mapping *find_key(const struct knit_sim_nat *nat,
                                const struct key *k, uint64_t hash)
{
    const struct table *t = &nat->by_key;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)hash & mask; t->s[i].m; i = (i + 1) & mask)
        if (t->s[i].hash == hash && key_equal(t->s[i].m, k))
            return t->s[i].m;
    return NULL;
}

static struct mapping *find_port(const struct knit_sim_nat *nat,
                                 uint16_t port)
{
    const struct table *t = &nat->by_port;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)port_hash(port) & mask; t->s[i].m;
         i = (i + 1) & mask)
        if (t->s[i].m->pub_port == port)
            return t->s[i].m;
    return NULL;
}

/* ---- mappings and their lifetime ----------------------------------------------- */

static uint64_t expiry_of(const struct knit_sim_nat *nat,
                          uint64_t refreshed)
{
    uint64_t t = nat->cfg.mapping_timeout_us;
    return refreshed > UINT64_MAX - t ? UINT64_MAX : refreshed + t;
}

static void unlink_mapping(struct knit_sim_nat *nat, struct mapping *m)
{
    if (m->older)
        m->older->newer = m->newer;
    else
        nat->oldest = m->newer;
    if (m->newer)
        m->newer->older = m->older;
    else
        nat->newest = m->older;
    m->older = m->newer = NULL;
}

static void append_mapping(struct knit_sim_nat *nat, struct mapping *m)
{
    m->older = nat->newest;
    m->newer = NULL;
    if (nat->newest)
        nat->newest->newer = m;
    else
        nat->oldest = m;
    nat->newest = m;
}

/* nat->now is the latest time seen, so the list stays in expiry order. */
static void refresh(struct knit_sim_nat *nat, struct mapping *m)
{
    m->refreshed = nat->now;
    if (nat->newest != m) {
        unlink_mapping(nat, m);
        append_mapping(nat, m);
    }
}

static void destroy(struct knit_sim_nat *nat, struct mapping *m)
{
    unlink_mapping(nat, m);
    table_remove(&nat->by_key, m->key_hash, m);
    table_remove(&nat->by_port, port_hash(m->pub_port), m);
    free(m->remotes);
    free(m);
    nat->stats.live_mappings--;
}

static size_t sweep(struct knit_sim_nat *nat, uint64_t now)
{
    if (now > nat->now)
        nat->now = now;
    size_t n = 0;
    while (nat->oldest && expiry_of(nat, nat->oldest->refreshed) <= nat->now) {
        destroy(nat, nat->oldest);
        n++;
    }
    nat->stats.mappings_expired += n;
    return n;
}

/* ---- port allocation ------------------------------------------------------------ */

static bool in_range(const struct knit_sim_nat *nat, uint32_t port)
{
    return port >= nat->cfg.port_min && port <= nat->cfg.port_max;
}

static uint16_t next_in_range(const struct knit_sim_nat *nat, uint16_t p)
{
    return p >= nat->cfg.port_max ? nat->cfg.port_min : (uint16_t)(p + 1);
}

/* The first free port at or after start, wrapping; the caller has checked
 * that one is free. */
static uint16_t scan_free(const struct knit_sim_nat *nat, uint16_t start)
{
    uint16_t p = start;
    while (find_port(nat, p))
        p = next_in_range(nat, p);
    return p;
}

/* Rejection sampling is uniform over the free ports; so is the fallback of
 * picking the k-th free port, and so is their mixture. */
static uint16_t random_free(struct knit_sim_nat *nat)
{
    for (int i = 0; i < RANDOM_TRIES; i++) {
        uint16_t p = (uint16_t)(nat->cfg.port_min +
                                knit_rng_below(&nat->rng, nat->range));
        if (!find_port(nat, p))
            return p;
    }
    uint64_t k = knit_rng_below(&nat->rng,
                                nat->range - nat->stats.live_mappings);
    uint16_t p = nat->cfg.port_min;
    for (;;) {
        if (!find_port(nat, p)) {
            if (k == 0)
                return p;
            k--;
        }
        p = next_in_range(nat, p);
    }
}

static uint16_t pick_port(struct knit_sim_nat *nat, uint16_t private_port)
{
    switch (nat->cfg.allocation) {
    case KNIT_SIM_PORT_PRESERVING:
        return scan_free(nat, in_range(nat, private_port) ? private_port
                                                          : nat->cfg.port_min);
    case KNIT_SIM_PORT_SEQUENTIAL:
        nat->last_port = scan_free(nat, next_in_range(nat, nat->last_port));
        return nat->last_port;
    default:
        return random_free(nat);
    }
}

static struct mapping *create(struct knit_sim_nat *nat, const struct key *k,
                              uint64_t hash)
{
    uint64_t live = nat->stats.live_mappings;
    if (live >= nat->range || live >= nat->cfg.max_mappings)
        return NULL;
    if (table_reserve(&nat->by_key) != KNIT_OK ||
        table_reserve(&nat->by_port) != KNIT_OK)
        return NULL;
    struct mapping *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->key_hash = hash;
    m->priv_ip = k->priv_ip;
    m->priv_port = k->priv_port;
    m->dst_ip = k->dst_ip;
    m->dst_port = k->dst_port;
    m->pub_port = pick_port(nat, k->priv_port);
    m->refreshed = nat->now;
    table_put(&nat->by_key, hash, m);
    table_put(&nat->by_port, port_hash(m->pub_port), m);
    append_mapping(nat, m);
    nat->stats.live_mappings++;
    nat->stats.mappings_created++;
    return m;
}

/* ---- filtering ------------------------------------------------------------------- */

static bool remote_fresh(const struct knit_sim_nat *nat,
                         const struct remote *r)
{
    return expiry_of(nat, r->last) > nat->now;
}

static struct remote *find_remote(struct mapping *m, uint32_t ip,
                                  uint16_t port)
{
    for (uint8_t i = 0; i < m->nremote; i++)
        if (m->remotes[i].ip == ip && m->remotes[i].port == port)
            return &m->remotes[i];
    return NULL;
}

/* Remembers that m sent to ip:port now. Failing to grow the list (no
 * memory) reuses the oldest entry, as a full list does: the only effect is
 * a remote forgotten early. */
static void touch_remote(struct knit_sim_nat *nat, struct mapping *m,
                         uint32_t ip, uint16_t port)
{
    uint8_t filtering = nat->cfg.filtering;
    if (filtering == KNIT_FILTERING_ENDPOINT_INDEPENDENT)
        return;
    if (filtering == KNIT_FILTERING_ADDRESS_DEPENDENT)
        port = 0;
    struct remote *r = find_remote(m, ip, port);
    if (!r && m->nremote < m->remote_cap)
        r = &m->remotes[m->nremote++];
    if (!r && m->remote_cap < KNIT_SIM_NAT_MAX_REMOTES) {
        uint8_t cap = m->remote_cap ? (uint8_t)(m->remote_cap * 2) : 1;
        struct remote *grown = realloc(m->remotes, cap * sizeof *grown);
        if (grown) {
            m->remotes = grown;
            m->remote_cap = cap;
            r = &m->remotes[m->nremote++];
        }
    }
    if (!r) {
        if (m->nremote == 0)
            return;
        r = &m->remotes[0];
        for (uint8_t i = 1; i < m->nremote; i++)
            if (m->remotes[i].last < r->last)
                r = &m->remotes[i];
    }
    *r = (struct remote){nat->now, ip, port};
}

static bool admits(const struct knit_sim_nat *nat, struct mapping *m,
                   uint32_t ip, uint16_t port)
{
    uint8_t filtering = nat->cfg.filtering;
    if (filtering == KNIT_FILTERING_ENDPOINT_INDEPENDENT)
        return true;
    if (filtering == KNIT_FILTERING_ADDRESS_DEPENDENT)
        port = 0;
    const struct remote *r = find_remote(m, ip, port);
    return r && remote_fresh(nat, r);
}

/* The inbound half, shared by inbound datagrams and hairpinned ones. */
static enum knit_sim_nat_verdict deliver(struct knit_sim_nat *nat,
                                         uint32_t src_ip, uint16_t src_port,
                                         uint16_t pub_port,
                                         struct knit_addr *out_dst)
{
    struct mapping *m = find_port(nat, pub_port);
    if (!m) {
        nat->stats.dropped_no_mapping++;
        return KNIT_SIM_NAT_DROP;
    }
    if (!admits(nat, m, src_ip, src_port)) {
        nat->stats.dropped_filtered++;
        return KNIT_SIM_NAT_DROP;
    }
    if (nat->cfg.refresh_on_inbound)
        refresh(nat, m);
    *out_dst = addr_of(m->priv_ip, m->priv_port);
    return KNIT_SIM_NAT_FORWARD;
}

/* ---- the API ---------------------------------------------------------------------- */

int knit_sim_nat_new(struct knit_sim_nat **out,
                     const struct knit_sim_nat_config *cfg)
{
    if (!out || !cfg)
        return KNIT_E_INVAL;
    *out = NULL;
    if (cfg->public_ip.family != KNIT_AF_IP4 ||
        cfg->mapping < KNIT_MAPPING_ENDPOINT_INDEPENDENT ||
        cfg->mapping > KNIT_MAPPING_ADDRESS_PORT_DEPENDENT ||
        cfg->filtering < KNIT_FILTERING_ENDPOINT_INDEPENDENT ||
        cfg->filtering > KNIT_FILTERING_ADDRESS_PORT_DEPENDENT ||
        cfg->allocation > KNIT_SIM_PORT_RANDOM)
        return KNIT_E_INVAL;
    if (cfg->port_min == 0 ? cfg->port_max != 0
                           : cfg->port_min > cfg->port_max)
        return KNIT_E_INVAL;

    struct knit_sim_nat *nat = calloc(1, sizeof *nat);
    if (!nat)
        return KNIT_E_NOMEM;
    nat->cfg = *cfg;
    if (nat->cfg.port_min == 0) {
        nat->cfg.port_min = DEFAULT_PORT_MIN;
        nat->cfg.port_max = DEFAULT_PORT_MAX;
    }
    if (nat->cfg.mapping_timeout_us == 0)
        nat->cfg.mapping_timeout_us = DEFAULT_TIMEOUT_US;
    if (nat->cfg.max_mappings == 0)
        nat->cfg.max_mappings = DEFAULT_MAX_MAPPINGS;
    nat->public_ip = ip4(&cfg->public_ip);
    nat->range = (uint32_t)nat->cfg.port_max - nat->cfg.port_min + 1;
    nat->last_port = nat->cfg.port_max;
    knit_rng_seed(&nat->rng, cfg->seed);
    if (table_init(&nat->by_key) != KNIT_OK ||
        table_init(&nat->by_port) != KNIT_OK) {
        knit_sim_nat_free(nat);
        return KNIT_E_NOMEM;
    }
    *out = nat;
    return KNIT_OK;
}

void knit_sim_nat_free(struct knit_sim_nat *nat)
{
    if (!nat)
        return;
    while (nat->oldest) {
        struct mapping *m = nat->oldest;
        nat->oldest = m->newer;
        free(m->remotes);
        free(m);
    }
    free(nat->by_key.s);
    free(nat->by_port.s);
    free(nat);
}

enum knit_sim_nat_verdict
knit_sim_nat_outbound(struct knit_sim_nat *nat, uint64_t now,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      struct knit_addr *out_src, struct knit_addr *out_dst)
{
    if (!nat || !src || !dst || !out_src || !out_dst)
        return KNIT_SIM_NAT_DROP;
    sweep(nat, now);
    if (src->family != KNIT_AF_IP4 || dst->family != KNIT_AF_IP4) {
        nat->stats.dropped_invalid++;
        return KNIT_SIM_NAT_DROP;
    }
    bool hairpin = ip4(dst) == nat->public_ip;
    if (hairpin && !nat->cfg.hairpin) {
        nat->stats.hairpin_refused++;
        return KNIT_SIM_NAT_DROP;
    }

    struct key k = key_of(nat, src, dst);
    uint64_t hash = key_hash(&k);
    struct mapping *m = find_key(nat, &k, hash);
    if (!m && !(m = create(nat, &k, hash))) {
        nat->stats.dropped_no_port++;
        return KNIT_SIM_NAT_DROP;
    }
    refresh(nat, m);
    touch_remote(nat, m, ip4(dst), dst->port);
    *out_src = addr_of(nat->public_ip, m->pub_port);

    if (!hairpin) {
        *out_dst = *dst;
        nat->stats.forwarded_out++;
        return KNIT_SIM_NAT_FORWARD;
    }
    if (deliver(nat, nat->public_ip, m->pub_port, dst->port, out_dst) !=
        KNIT_SIM_NAT_FORWARD)
        return KNIT_SIM_NAT_DROP;
    nat->stats.hairpinned++;
    return KNIT_SIM_NAT_HAIRPIN;
}

enum knit_sim_nat_verdict
knit_sim_nat_inbound(struct knit_sim_nat *nat, uint64_t now,
                     const struct knit_addr *src, const struct knit_addr *dst,
                     struct knit_addr *out_dst)
{
    if (!nat || !src || !dst || !out_dst)
        return KNIT_SIM_NAT_DROP;
    sweep(nat, now);
    if (src->family != KNIT_AF_IP4 || dst->family != KNIT_AF_IP4 ||
        ip4(dst) != nat->public_ip) {
        nat->stats.dropped_invalid++;
        return KNIT_SIM_NAT_DROP;
    }
    enum knit_sim_nat_verdict v =
        deliver(nat, ip4(src), src->port, dst->port, out_dst);
    if (v == KNIT_SIM_NAT_FORWARD)
        nat->stats.forwarded_in++;
    return v;
}

size_t knit_sim_nat_expire(struct knit_sim_nat *nat, uint64_t now)
{
    return nat ? sweep(nat, now) : 0;
}

size_t knit_sim_nat_flush(struct knit_sim_nat *nat)
{
    size_t n = 0;
    while (nat && nat->oldest) {
        destroy(nat, nat->oldest);
        n++;
    }
    return n;
}

uint64_t knit_sim_nat_next_expiry(const struct knit_sim_nat *nat)
{
    if (!nat || !nat->oldest)
        return KNIT_NO_DEADLINE;
    return expiry_of(nat, nat->oldest->refreshed);
}

void knit_sim_nat_get_stats(const struct knit_sim_nat *nat,
                            struct knit_sim_nat_stats *out)
{
    if (!nat || !out)
        return;
    *out = nat->stats;
}
