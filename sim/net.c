/* The virtual network: routing datagrams between endpoints (directly, or
 * through the NAT boxes a host sits behind), per-pair delay and jitter,
 * uplinks, loss, counters, and the public API. The endpoint table is in
 * sim/net_table.c. */
#include "sim/net.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim/natbox.h"
#include "sim/net_internal.h"
#include "transport/error.h"

/* ---- delay and jitter -------------------------------------------------------- */

/* The scenario's model; ports zeroed so that it cannot tell them apart. */
static uint64_t model_delay(const struct knit_sim_net *net,
                            const struct knit_addr *a,
                            const struct knit_addr *b)
{
    struct knit_addr ia = *a, ib = *b;
    ia.port = 0;
    ib.port = 0;
    uint64_t d = net->cfg.delay_fn(net->cfg.delay_ctx, &ia, &ib);
    return d < KNIT_SIM_NET_MAX_DELAY_US ? d : KNIT_SIM_NET_MAX_DELAY_US;
}

uint64_t knit_sim_net_delay(const struct knit_sim_net *net,
                            const struct knit_addr *a,
                            const struct knit_addr *b)
{
    if (net->cfg.delay_fn)
        return model_delay(net, a, b);
    uint64_t ka = net_ip_key(a), kb = net_ip_key(b);
    uint64_t lo = ka < kb ? ka : kb, hi = ka < kb ? kb : ka;
    uint64_t h = net_mix64(net->delay_key ^ net_mix64(lo ^ net_mix64(hi)));
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
    uint64_t pair = net_mix64(net_ip_key(src) ^
                              net_mix64(net_ip_key(dst) + 1));
    uint64_t dir = net_mix64(net->jitter_key ^ pair);
    /* A phase per direction, so that pairs do not all turn at once. */
    uint64_t u = now + dir % period;
    uint64_t k = u / period, off = u % period;
    uint64_t v0 = net_mix64(dir ^ net_mix64(k)) % (j + 1);
    uint64_t v1 = net_mix64(dir ^ net_mix64(k + 1)) % (j + 1);
    /* The products stay below 2 * j^2 <= 2^53 for j within the limit. */
    if (v1 >= v0)
        return v0 + (v1 - v0) * off / period;
    return v0 - ((v0 - v1) * off + period - 1) / period;
}

/* ---- uplinks ------------------------------------------------------------------ */

/* Bits per byte times microseconds per second: len bytes at rate_bps take
 * len * BIT_MICROS / rate_bps microseconds. */
#define BIT_MICROS 8000000ull

/* Whether ep's uplink takes a datagram of len bytes now, and if so when it
 * leaves. Without a rate it leaves at once, unless datagrams queued under
 * an earlier rate are still waiting: it never overtakes them. */
static bool uplink_admit(struct endpoint *ep, uint64_t now, size_t len,
                         uint64_t *leave)
{
    uint64_t start = ep->uplink_busy_until > now ? ep->uplink_busy_until
                                                 : now;
    uint64_t rate = ep->uplink_bps;
    *leave = start;
    if (rate == 0)
        return true;
    uint64_t backlog_us = start - now;
    /* A product past 2^64 is far beyond any 32-bit queue. */
    uint64_t backlog = backlog_us > UINT64_MAX / rate
                           ? UINT64_MAX
                           : backlog_us * rate / BIT_MICROS;
    if (backlog > ep->uplink_queue || len > ep->uplink_queue - backlog)
        return false;
    /* len <= KNIT_SIM_NET_MAX_PACKET, so this stays below 2^40. */
    uint64_t bit_us = (uint64_t)len * BIT_MICROS;
    uint64_t took = bit_us / rate + (bit_us % rate != 0);
    uint64_t end = start + took;
    ep->uplink_busy_until = end < start ? UINT64_MAX : end;
    return true;
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

    if (p->up) {
        /* Boxes outlive the net (see net.h), so the gateway is there. */
        net->stats.delivered++;
        net->stats.bytes_delivered += p->len;
        knit_sim_natbox_from_inside(p->realm, &p->src, &p->dst, p->data,
                                    p->len);
        free(p);
        return;
    }
    struct endpoint *ep = net_receiver(net, p->realm, &p->dst);
    if (!ep) {
        net->stats.blackholed++;
        free(p);
        return;
    }
    net->stats.delivered++;
    net->stats.bytes_delivered += p->len;
    if (p->lan)
        net->stats.lan_delivered++;
    ep->stats.rx_packets++;
    ep->stats.rx_bytes += p->len;
    if (ep->owner) {
        ep->owner->stats.rx_packets++;
        ep->owner->stats.rx_bytes += p->len;
    }
    if (net->tap && !p->realm)
        net->tap(net->tap_ctx, p->sent_at, &p->src, &p->dst, p->data, p->len);
    /* The tap may have removed it; removal defers the free, so ep is
     * still there to ask (and a socket's owner, which goes with it). */
    if (!ep->detached) {
        if (ep->host)
            knit_sim_host_deliver(ep->host, &p->src, p->data, p->len);
        else if (ep->owner)
            knit_sim_host_deliver_on(ep->owner->host, ep->sock, &p->src,
                                     p->data, p->len);
        else
            ep->recv(ep->ctx, &p->src, &p->dst, p->data, p->len);
    }
    free(p);
}

/* realm NULL: across the Internet (delay, jitter, loss). Otherwise one hop
 * on the gateway's private side, after its LAN delay and never lost: up to
 * the gateway itself, or down to an endpoint of its realm (lan: from a
 * host of that realm, which the gateway never sees). */
static void route(struct knit_sim_net *net, struct endpoint *from,
                  struct knit_sim_natbox *realm, bool up, bool lan,
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
    uint64_t now = knit_sim_now(net->engine);
    /* The sender's link is busy whatever becomes of the datagram later. */
    uint64_t leave = now;
    if (from && !uplink_admit(from, now, len, &leave)) {
        net->stats.queue_dropped++;
        from->stats.tx_queue_dropped++;
        return;
    }
    if (!up && !net_receiver(net, realm, dst)) {
        net->stats.blackholed++;
        return;
    }
    uint64_t at;
    if (realm) {
        at = leave + knit_sim_natbox_lan_delay(realm);
        at = at < leave ? UINT64_MAX : at;
    } else {
        if (knit_rng_chance(&net->rng, net->cfg.loss)) {
            net->stats.lost++;
            return;
        }
        at = leave + knit_sim_net_delay(net, src, dst);
        at = at < leave ? UINT64_MAX : at;
        /* Taken at the leave time, which never goes back for one sender,
         * so the uplink keeps the jitter's promise of order. */
        uint64_t late = at + jitter(net, src, dst, leave);
        at = late < at ? UINT64_MAX : late;
    }

    struct packet *p = malloc(sizeof *p + len);
    if (!p) {
        net->stats.dropped++;
        return;
    }
    p->net = net;
    p->sent_at = now;
    p->src = *src;
    p->dst = *dst;
    p->realm = realm;
    p->up = up;
    p->lan = lan;
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
    route(net, net_receiver(net, NULL, src), NULL, false, false, src, dst,
          pkt, len);
}

void knit_sim_net_send_from(struct knit_sim_net *net,
                            struct knit_sim_natbox *gateway,
                            const struct knit_addr *src,
                            const struct knit_addr *dst, const uint8_t *pkt,
                            size_t len)
{
    if (!net || !src || !dst)
        return;
    route(net, net_receiver(net, gateway, src), gateway, gateway != NULL,
          false, src, dst, pkt, len);
}

void knit_sim_net_send_inside(struct knit_sim_net *net,
                              struct knit_sim_natbox *gateway,
                              const struct knit_addr *src,
                              const struct knit_addr *dst, const uint8_t *pkt,
                              size_t len)
{
    if (!net || !gateway || !src || !dst)
        return;
    route(net, NULL, gateway, false, false, src, dst, pkt, len);
}

/* Whether dst is held in realm by a host, at its main address or an extra
 * socket: one probe of the endpoint table, which a datagram to anywhere
 * else (the common case) misses. IP-wide endpoints (inner boxes' public
 * IPs) are not LAN peers, see sim/natbox.h. */
static bool on_lan(const struct knit_sim_net *net,
                   const struct knit_sim_natbox *realm,
                   const struct knit_addr *dst)
{
    const struct endpoint *to = net_lookup_in(net, realm, dst, false);
    return to && (to->host || to->owner);
}

/* The net stamps the address it attached the host at, or the one it bound
 * for the extra socket the host names by src; a gateway then stamps its
 * mapping, unless dst is a host of the same realm: then the datagram
 * crosses the LAN untranslated, never touching the gateway. Either way the
 * host's uplink carries it. */
static void host_send(void *ctx, struct knit_sim_host *from,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      const uint8_t *pkt, size_t len)
{
    (void)from;
    struct endpoint *ep = ctx;
    if (ep->detached)
        return;
    const struct knit_addr *stamp = &ep->addr;
    if (!knit_addr_equal(src, &ep->addr)) {
        struct endpoint *sock = net_lookup_in(ep->net, ep->realm, src, false);
        if (!sock || sock->owner != ep) {
            /* Its address was detached under it (knit_sim_net_detach). */
            ep->stats.tx_packets++;
            ep->stats.tx_bytes += len;
            ep->net->stats.sent++;
            ep->net->stats.bytes_sent += len;
            ep->net->stats.dropped++;
            return;
        }
        sock->stats.tx_packets++;
        sock->stats.tx_bytes += len;
        stamp = &sock->addr;
    }
    bool lan = ep->realm && on_lan(ep->net, ep->realm, dst);
    route(ep->net, ep, ep->realm, ep->realm != NULL && !lan, lan, stamp, dst,
          pkt, len);
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
    net_reap(net, 0);
    for (size_t i = 0; i < net->cap; i++)
        if (net->table[i].ep && net->table[i].kind == KEY_ADDR)
            net_free_endpoint(net->table[i].ep);
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

static int new_endpoint(struct knit_sim_net *net,
                        struct knit_sim_natbox *realm,
                        const struct knit_addr *addr, bool wide,
                        struct endpoint **out)
{
    if (!net_family_ok(addr))
        return KNIT_E_INVAL;
    if (net_lookup_in(net, realm, addr, wide))
        return KNIT_E_EXISTS;
    struct endpoint *ep = calloc(1, sizeof *ep);
    if (!ep)
        return KNIT_E_NOMEM;
    ep->net = net;
    ep->addr = *addr;
    if (wide)
        ep->addr.port = 0;
    ep->realm = realm;
    ep->wide = wide;
    *out = ep;
    return KNIT_OK;
}

/* Room was reserved before the endpoint was made. */
static void insert(struct knit_sim_net *net, struct endpoint *ep)
{
    uint64_t hash = net_key_hash(ep->realm, &ep->addr, ep->wide);
    net->table[net_probe(net, ep->realm, &ep->addr, ep->wide, hash)] =
        (struct bucket){hash, ep, KEY_ADDR};
    net->count++;
    if (net_has_host_key(ep)) {
        hash = net_host_hash(ep->host);
        net->table[net_probe_host(net, ep->host, hash)] =
            (struct bucket){hash, ep, KEY_HOST};
        net->count++;
    }
    net->endpoints++;
}

/* An extra socket of the host at ctx gets an endpoint of its own, in the
 * host's realm, so a box maps it apart from the host's main socket. */
static int host_bind(void *ctx, struct knit_sim_host *host, int sock,
                     const struct knit_addr *addr)
{
    (void)host;
    struct endpoint *owner = ctx;
    struct knit_sim_net *net = owner->net;
    if (owner->detached)
        return KNIT_E_IO;   /* removed: nothing reaches it any more */
    int err = net_reserve(net, 1);
    if (err)
        return err;
    struct endpoint *ep;
    err = new_endpoint(net, owner->realm, addr, false, &ep);
    if (err)
        return err == KNIT_E_EXISTS ? KNIT_E_ADDR_IN_USE : err;
    ep->owner = owner;
    ep->sock = (uint16_t)sock;
    insert(net, ep);
    return KNIT_OK;
}

/* Datagrams still in flight to it are then blackholed on arrival. */
static void host_unbind(void *ctx, struct knit_sim_host *host, int sock,
                        const struct knit_addr *addr)
{
    (void)host;
    struct endpoint *owner = ctx;
    if (owner->detached)
        return;   /* its sockets were detached with it */
    struct endpoint *ep = net_lookup_in(owner->net, owner->realm, addr, false);
    if (ep && ep->owner == owner && ep->sock == sock)
        net_detach(owner->net, ep);
}

int knit_sim_net_add_host_behind(struct knit_sim_net *net,
                                 const struct knit_sim_host_config *cfg,
                                 struct knit_sim_natbox *gateway,
                                 knit_sim_event_fn event, void *event_ctx,
                                 struct knit_sim_host **out)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!net || !cfg || (gateway && knit_sim_natbox_net(gateway) != net))
        return KNIT_E_INVAL;
    int err = net_reserve(net, gateway ? 2 : 1);
    if (err)
        return err;
    struct endpoint *ep;
    err = new_endpoint(net, gateway, &cfg->addr, false, &ep);
    if (err)
        return err;
    ep->event = event;
    ep->ctx = event_ctx;
    struct knit_sim_host_config hcfg = *cfg;
    hcfg.send = host_send;
    hcfg.event = host_event;
    hcfg.bind = host_bind;
    hcfg.unbind = host_unbind;
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

int knit_sim_net_add_host(struct knit_sim_net *net,
                          const struct knit_sim_host_config *cfg,
                          knit_sim_event_fn event, void *event_ctx,
                          struct knit_sim_host **out)
{
    return knit_sim_net_add_host_behind(net, cfg, NULL, event, event_ctx, out);
}

static int attach_raw(struct knit_sim_net *net, struct knit_sim_natbox *realm,
                      const struct knit_addr *addr, bool wide,
                      knit_sim_net_recv_fn recv, void *ctx)
{
    if (!net || !addr || !recv)
        return KNIT_E_INVAL;
    int err = net_reserve(net, 1);
    if (err)
        return err;
    struct endpoint *ep;
    err = new_endpoint(net, realm, addr, wide, &ep);
    if (err)
        return err;
    ep->recv = recv;
    ep->ctx = ctx;
    insert(net, ep);
    return KNIT_OK;
}

int knit_sim_net_attach(struct knit_sim_net *net, const struct knit_addr *addr,
                        knit_sim_net_recv_fn recv, void *ctx)
{
    return attach_raw(net, NULL, addr, false, recv, ctx);
}

int knit_sim_net_attach_ip(struct knit_sim_net *net,
                           const struct knit_addr *ip,
                           knit_sim_net_recv_fn recv, void *ctx)
{
    return attach_raw(net, NULL, ip, true, recv, ctx);
}

int knit_sim_net_attach_ip_behind(struct knit_sim_net *net,
                                  struct knit_sim_natbox *gateway,
                                  const struct knit_addr *ip,
                                  knit_sim_net_recv_fn recv, void *ctx)
{
    if (gateway && net && knit_sim_natbox_net(gateway) != net)
        return KNIT_E_INVAL;
    return attach_raw(net, gateway, ip, true, recv, ctx);
}

int knit_sim_net_detach(struct knit_sim_net *net, const struct knit_addr *addr)
{
    struct endpoint *ep = net && addr ? net_named(net, addr) : NULL;
    if (!ep)
        return KNIT_E_NOT_FOUND;
    net_detach(net, ep);
    return KNIT_OK;
}

static struct endpoint *host_endpoint(const struct knit_sim_net *net,
                                      const struct knit_sim_host *host)
{
    if (!net || !host)
        return NULL;
    struct endpoint *ep = net_lookup(net, knit_sim_host_addr(host));
    if (ep && ep->host == host)
        return ep;
    ep = net->table[net_probe_host(net, host, net_host_hash(host))].ep;
    return ep && ep->host == host ? ep : NULL;
}

int knit_sim_net_set_uplink(struct knit_sim_net *net,
                            const struct knit_sim_host *host,
                            uint64_t rate_bps, uint32_t queue_bytes)
{
    if (!net || !host)
        return KNIT_E_INVAL;
    struct endpoint *ep = host_endpoint(net, host);
    if (!ep)
        return KNIT_E_NOT_FOUND;
    /* uplink_busy_until stays: what is queued leaves as planned. */
    ep->uplink_bps = rate_bps;
    ep->uplink_queue = queue_bytes;
    return KNIT_OK;
}

void knit_sim_net_remove_host(struct knit_sim_net *net,
                              struct knit_sim_host *host)
{
    struct endpoint *ep = host_endpoint(net, host);
    if (ep)
        net_detach(net, ep);
}

struct knit_sim_host *knit_sim_net_find_host(const struct knit_sim_net *net,
                                             const struct knit_addr *addr)
{
    struct endpoint *ep = net && addr ? net_lookup(net, addr) : NULL;
    if (ep && ep->owner)
        return ep->owner->host;
    return ep ? ep->host : NULL;
}

size_t knit_sim_net_count(const struct knit_sim_net *net)
{
    return net->endpoints;
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
    const struct endpoint *ep = net && addr ? net_named(net, addr) : NULL;
    if (!ep)
        return KNIT_E_NOT_FOUND;
    *out = ep->stats;
    return KNIT_OK;
}

size_t knit_sim_net_in_flight(const struct knit_sim_net *net)
{
    return net->in_flight;
}
