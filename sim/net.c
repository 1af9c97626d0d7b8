/* The endpoint table is open addressing with linear probing over
 * (hash, pointer) buckets, at most half full, and deletion by backward shift
 * so that no tombstones pile up under churn. Each bucket keeps its key's hash
 * so a probe compares addresses only on a hash match.
 *
 * Datagrams in flight sit on a list besides the engine, so freeing the net
 * can cancel and free them. Removed endpoints wait on a second list for a
 * zero-delay reap event, which runs only once whatever called into their
 * node has returned. */
#include "sim/net.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "transport/error.h"

#define MIN_TABLE 64

struct endpoint {
    struct knit_sim_net *net;
    struct knit_addr addr;
    struct knit_sim_host *host;     /* NULL: a raw endpoint */
    knit_sim_event_fn event;        /* host */
    knit_sim_net_recv_fn recv;      /* raw */
    void *ctx;
    bool detached;
    struct endpoint *next_dead;
    struct knit_sim_net_host_stats stats;
};

struct bucket {
    uint64_t hash;
    struct endpoint *ep;            /* NULL: empty */
};

struct packet {
    struct knit_sim_net *net;
    struct packet *prev, *next;
    uint64_t handle;
    uint64_t sent_at;
    struct knit_addr src, dst;
    size_t len;
    uint8_t data[];
};

struct knit_sim_net {
    struct knit_sim_engine *engine;
    struct knit_sim_net_config cfg;
    struct knit_rng rng;            /* loss */
    uint64_t delay_key, jitter_key;

    struct bucket *table;
    size_t cap, count;              /* cap is a power of two */

    struct packet *flights;
    size_t in_flight;

    struct endpoint *dead;
    uint64_t reap;                  /* engine handle, 0 = none */

    knit_sim_net_tap_fn tap;
    void *tap_ctx;
    struct knit_sim_net_stats stats;
};

/* ---- hashing ---------------------------------------------------------------- */

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static bool family_ok(const struct knit_addr *a)
{
    return a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

/* The IP alone, as knit_addr_equal sees it (only 4 bytes for IPv4). */
static uint64_t ip_key(const struct knit_addr *a)
{
    if (a->family == KNIT_AF_IP4) {
        uint64_t v4 = (uint64_t)a->ip[0] | (uint64_t)a->ip[1] << 8 |
                      (uint64_t)a->ip[2] << 16 | (uint64_t)a->ip[3] << 24;
        return mix64(v4 ^ (uint64_t)KNIT_AF_IP4 << 56);
    }
    return mix64(mix64(load64(a->ip) ^ (uint64_t)a->family << 56) ^
                 load64(a->ip + 8));
}

static uint64_t addr_hash(const struct knit_addr *a)
{
    return mix64(ip_key(a) ^ ((uint64_t)a->port * 0x9e3779b97f4a7c15ULL));
}

/* ---- the endpoint table ------------------------------------------------------ */

/* The bucket holding addr, or the empty one where it would go. */
static size_t probe(const struct knit_sim_net *net, const struct knit_addr *a,
                    uint64_t hash)
{
    size_t mask = net->cap - 1;
    size_t i = (size_t)hash & mask;
    while (net->table[i].ep &&
           !(net->table[i].hash == hash &&
             knit_addr_equal(&net->table[i].ep->addr, a)))
        i = (i + 1) & mask;
    return i;
}

static struct endpoint *lookup(const struct knit_sim_net *net,
                               const struct knit_addr *a)
{
    if (!family_ok(a))
        return NULL;
    return net->table[probe(net, a, addr_hash(a))].ep;
}

/* Makes room for one more entry, keeping the table at most half full. */
static int reserve(struct knit_sim_net *net)
{
    if ((net->count + 1) * 2 <= net->cap)
        return KNIT_OK;
    size_t cap = net->cap * 2;
    if (cap < net->cap || cap > SIZE_MAX / sizeof(struct bucket))
        return KNIT_E_NOMEM;
    struct bucket *old = net->table;
    size_t old_cap = net->cap;
    net->table = calloc(cap, sizeof *net->table);
    if (!net->table) {
        net->table = old;
        return KNIT_E_NOMEM;
    }
    net->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ep)
            net->table[probe(net, &old[i].ep->addr, old[i].hash)] = old[i];
    free(old);
    return KNIT_OK;
}

/* Backward-shift deletion: each later entry of the cluster moves into the
 * hole if the hole lies between its home bucket and where it sits. */
static void table_delete(struct knit_sim_net *net, size_t hole)
{
    size_t mask = net->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!net->table[j].ep)
            break;
        size_t home = (size_t)net->table[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            net->table[hole] = net->table[j];
            hole = j;
        }
    }
    net->table[hole] = (struct bucket){0, NULL};
    net->count--;
}

static void free_endpoint(struct endpoint *ep)
{
    knit_sim_host_free(ep->host);
    free(ep);
}

static void reap(void *ctx, uint64_t arg)
{
    (void)arg;
    struct knit_sim_net *net = ctx;
    net->reap = 0;
    while (net->dead) {
        struct endpoint *ep = net->dead;
        net->dead = ep->next_dead;
        free_endpoint(ep);
    }
}

static void detach(struct knit_sim_net *net, struct endpoint *ep)
{
    uint64_t hash = addr_hash(&ep->addr);
    table_delete(net, probe(net, &ep->addr, hash));
    ep->detached = true;
    ep->next_dead = net->dead;
    net->dead = ep;
    /* If the engine has no room for the reap, the endpoint waits for the
     * next removal or for knit_sim_net_free. */
    if (!net->reap)
        net->reap = knit_sim_schedule(net->engine, knit_sim_now(net->engine),
                                      reap, net, 0);
}

/* ---- delay and jitter -------------------------------------------------------- */

uint64_t knit_sim_net_delay(const struct knit_sim_net *net,
                            const struct knit_addr *a,
                            const struct knit_addr *b)
{
    uint64_t ka = ip_key(a), kb = ip_key(b);
    uint64_t lo = ka < kb ? ka : kb, hi = ka < kb ? kb : ka;
    uint64_t h = mix64(net->delay_key ^ mix64(lo ^ mix64(hi)));
    uint64_t min = net->cfg.min_delay_us;
    uint64_t span = net->cfg.max_delay_us - min + 1;  /* 0: all of 2^64 */
    /* The modulo's bias is below span / 2^64: nothing a run could see. */
    return min + (span ? h % span : h);
}

/* Piecewise linear in now, with knots every 2 * jitter_us at hashed values
 * in 0..jitter_us, so its slope stays within +-1/2: now + jitter(now) never
 * decreases, and the engine breaks ties in send order. Flooring keeps that
 * true in whole microseconds. */
static uint64_t jitter(const struct knit_sim_net *net,
                       const struct knit_addr *src,
                       const struct knit_addr *dst, uint64_t now)
{
    uint64_t j = net->cfg.jitter_us;
    if (j == 0)
        return 0;
    uint64_t period = 2 * j;
    uint64_t dir = mix64(net->jitter_key ^ mix64(ip_key(src) ^
                                                 mix64(ip_key(dst) + 1)));
    /* A phase per direction, so that pairs do not all turn at once. */
    uint64_t u = now + dir % period;
    uint64_t k = u / period, off = u % period;
    uint64_t v0 = mix64(dir ^ mix64(k)) % (j + 1);
    uint64_t v1 = mix64(dir ^ mix64(k + 1)) % (j + 1);
    /* The products stay below 2 * j^2 <= 2^53 for j within the limit. */
    if (v1 >= v0)
        return v0 + (v1 - v0) * off / period;
    return v0 - ((v0 - v1) * off + period - 1) / period;
}

/* ---- sending and arriving ---------------------------------------------------- */

static void arrive(void *ctx, uint64_t arg)
{
    (void)arg;
    struct packet *p = ctx;
    struct knit_sim_net *net = p->net;
    if (p->prev)
        p->prev->next = p->next;
    else
        net->flights = p->next;
    if (p->next)
        p->next->prev = p->prev;
    net->in_flight--;

    struct endpoint *ep = lookup(net, &p->dst);
    if (!ep) {
        net->stats.blackholed++;
        free(p);
        return;
    }
    net->stats.delivered++;
    net->stats.bytes_delivered += p->len;
    ep->stats.rx_packets++;
    ep->stats.rx_bytes += p->len;
    if (net->tap)
        net->tap(net->tap_ctx, p->sent_at, &p->src, &p->dst, p->data, p->len);
    /* The tap may have removed it; removal defers the free, so ep is
     * still there to ask. */
    if (!ep->detached) {
        if (ep->host)
            knit_sim_host_deliver(ep->host, &p->src, p->data, p->len);
        else
            ep->recv(ep->ctx, &p->src, &p->dst, p->data, p->len);
    }
    free(p);
}

static void route(struct knit_sim_net *net, struct endpoint *from,
                  const struct knit_addr *src, const struct knit_addr *dst,
                  const uint8_t *pkt, size_t len)
{
    net->stats.sent++;
    net->stats.bytes_sent += len;
    if (from) {
        from->stats.tx_packets++;
        from->stats.tx_bytes += len;
    }
    if ((!pkt && len > 0) || len > KNIT_SIM_NET_MAX_PACKET) {
        net->stats.dropped++;
        return;
    }
    if (!lookup(net, dst)) {
        net->stats.blackholed++;
        return;
    }
    if (knit_rng_chance(&net->rng, net->cfg.loss)) {
        net->stats.lost++;
        return;
    }
    uint64_t now = knit_sim_now(net->engine);
    uint64_t at = now + knit_sim_net_delay(net, src, dst);
    at = at < now ? UINT64_MAX : at;
    uint64_t late = at + jitter(net, src, dst, now);
    at = late < at ? UINT64_MAX : late;

    struct packet *p = malloc(sizeof *p + len);
    if (!p) {
        net->stats.dropped++;
        return;
    }
    p->net = net;
    p->sent_at = now;
    p->src = *src;
    p->dst = *dst;
    p->len = len;
    if (len > 0)
        memcpy(p->data, pkt, len);
    p->handle = knit_sim_schedule(net->engine, at, arrive, p, 0);
    if (!p->handle) {
        free(p);
        net->stats.dropped++;
        return;
    }
    p->prev = NULL;
    p->next = net->flights;
    if (net->flights)
        net->flights->prev = p;
    net->flights = p;
    net->in_flight++;
}

void knit_sim_net_send(struct knit_sim_net *net, const struct knit_addr *src,
                       const struct knit_addr *dst, const uint8_t *pkt,
                       size_t len)
{
    if (!net || !src || !dst)
        return;
    route(net, lookup(net, src), src, dst, pkt, len);
}

/* The host's own idea of its source is ignored: the net stamps the address
 * it attached the host at (a NAT box will stamp its mapping instead). */
static void host_send(void *ctx, struct knit_sim_host *from,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      const uint8_t *pkt, size_t len)
{
    (void)from;
    (void)src;
    struct endpoint *ep = ctx;
    if (!ep->detached)
        route(ep->net, ep, &ep->addr, dst, pkt, len);
}

static void host_event(void *ctx, struct knit_sim_host *host,
                       const struct knit_event *ev)
{
    struct endpoint *ep = ctx;
    if (!ep->detached && ep->event)
        ep->event(ep->ctx, host, ev);
}

/* ---- the net ----------------------------------------------------------------- */

static bool is_probability(double p)
{
    return p >= 0.0 && p <= 1.0;   /* false for NaN too */
}

int knit_sim_net_new(struct knit_sim_net **out, struct knit_sim_engine *engine,
                     const struct knit_sim_net_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!engine || !cfg || cfg->min_delay_us > cfg->max_delay_us ||
        cfg->jitter_us > KNIT_SIM_NET_MAX_JITTER_US ||
        !is_probability(cfg->loss))
        return KNIT_E_INVAL;
    struct knit_sim_net *net = calloc(1, sizeof *net);
    if (!net)
        return KNIT_E_NOMEM;
    net->table = calloc(MIN_TABLE, sizeof *net->table);
    if (!net->table) {
        free(net);
        return KNIT_E_NOMEM;
    }
    net->cap = MIN_TABLE;
    net->engine = engine;
    net->cfg = *cfg;
    knit_rng_seed(&net->rng, cfg->seed);
    /* Keys of their own, so delays, jitter and loss are not correlated. */
    net->delay_key = knit_rng_next(&net->rng);
    net->jitter_key = knit_rng_next(&net->rng);
    *out = net;
    return KNIT_OK;
}

void knit_sim_net_free(struct knit_sim_net *net)
{
    if (!net)
        return;
    if (net->reap)
        knit_sim_cancel(net->engine, net->reap);
    /* Detached first: a node being freed sends and reports nothing more. */
    for (size_t i = 0; i < net->cap; i++)
        if (net->table[i].ep)
            net->table[i].ep->detached = true;
    reap(net, 0);
    for (size_t i = 0; i < net->cap; i++)
        if (net->table[i].ep)
            free_endpoint(net->table[i].ep);
    free(net->table);
    struct packet *p = net->flights;
    while (p) {
        struct packet *next = p->next;
        knit_sim_cancel(net->engine, p->handle);
        free(p);
        p = next;
    }
    free(net);
}

static int new_endpoint(struct knit_sim_net *net, const struct knit_addr *addr,
                        struct endpoint **out)
{
    if (!family_ok(addr))
        return KNIT_E_INVAL;
    if (lookup(net, addr))
        return KNIT_E_EXISTS;
    int err = reserve(net);
    if (err)
        return err;
    struct endpoint *ep = calloc(1, sizeof *ep);
    if (!ep)
        return KNIT_E_NOMEM;
    ep->net = net;
    ep->addr = *addr;
    *out = ep;
    return KNIT_OK;
}

static void insert(struct knit_sim_net *net, struct endpoint *ep)
{
    uint64_t hash = addr_hash(&ep->addr);
    net->table[probe(net, &ep->addr, hash)] = (struct bucket){hash, ep};
    net->count++;
}

int knit_sim_net_add_host(struct knit_sim_net *net,
                          const struct knit_sim_host_config *cfg,
                          knit_sim_event_fn event, void *event_ctx,
                          struct knit_sim_host **out)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!net || !cfg)
        return KNIT_E_INVAL;
    struct endpoint *ep;
    int err = new_endpoint(net, &cfg->addr, &ep);
    if (err)
        return err;
    ep->event = event;
    ep->ctx = event_ctx;
    struct knit_sim_host_config hcfg = *cfg;
    hcfg.send = host_send;
    hcfg.event = host_event;
    hcfg.ctx = ep;
    err = knit_sim_host_new(&ep->host, net->engine, &hcfg);
    if (err) {
        free(ep);
        return err;
    }
    insert(net, ep);
    *out = ep->host;
    return KNIT_OK;
}

int knit_sim_net_attach(struct knit_sim_net *net, const struct knit_addr *addr,
                        knit_sim_net_recv_fn recv, void *ctx)
{
    if (!net || !addr || !recv)
        return KNIT_E_INVAL;
    struct endpoint *ep;
    int err = new_endpoint(net, addr, &ep);
    if (err)
        return err;
    ep->recv = recv;
    ep->ctx = ctx;
    insert(net, ep);
    return KNIT_OK;
}

int knit_sim_net_detach(struct knit_sim_net *net, const struct knit_addr *addr)
{
    struct endpoint *ep = net && addr ? lookup(net, addr) : NULL;
    if (!ep)
        return KNIT_E_NOT_FOUND;
    detach(net, ep);
    return KNIT_OK;
}

static struct endpoint *host_endpoint(const struct knit_sim_net *net,
                                      const struct knit_sim_host *host)
{
    if (!net || !host)
        return NULL;
    struct endpoint *ep = lookup(net, knit_sim_host_addr(host));
    return ep && ep->host == host ? ep : NULL;
}

void knit_sim_net_remove_host(struct knit_sim_net *net,
                              struct knit_sim_host *host)
{
    struct endpoint *ep = host_endpoint(net, host);
    if (ep)
        detach(net, ep);
}

struct knit_sim_host *knit_sim_net_find_host(const struct knit_sim_net *net,
                                             const struct knit_addr *addr)
{
    struct endpoint *ep = net && addr ? lookup(net, addr) : NULL;
    return ep ? ep->host : NULL;
}

size_t knit_sim_net_count(const struct knit_sim_net *net)
{
    return net->count;
}

void knit_sim_net_set_tap(struct knit_sim_net *net, knit_sim_net_tap_fn tap,
                          void *ctx)
{
    net->tap = tap;
    net->tap_ctx = ctx;
}

void knit_sim_net_get_stats(const struct knit_sim_net *net,
                            struct knit_sim_net_stats *out)
{
    *out = net->stats;
}

int knit_sim_net_host_stats(const struct knit_sim_net *net,
                            const struct knit_sim_host *host,
                            struct knit_sim_net_host_stats *out)
{
    const struct endpoint *ep = host_endpoint(net, host);
    if (!ep)
        return KNIT_E_NOT_FOUND;
    *out = ep->stats;
    return KNIT_OK;
}

int knit_sim_net_addr_stats(const struct knit_sim_net *net,
                            const struct knit_addr *addr,
                            struct knit_sim_net_host_stats *out)
{
    const struct endpoint *ep = net && addr ? lookup(net, addr) : NULL;
    if (!ep)
        return KNIT_E_NOT_FOUND;
    *out = ep->stats;
    return KNIT_OK;
}

size_t knit_sim_net_in_flight(const struct knit_sim_net *net)
{
    return net->in_flight;
}
