#include "sim/host.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

/* Virtual wall clock: the simulation starts on 2026-01-01. */
#define SIM_EPOCH_US 1767225600000000ull

struct knit_sim_host {
    struct knit_sim_engine *engine;
    struct knit_sim_host_config cfg;
    struct knit_rng rng;
    struct knit_node *node;
    uint64_t timer;          /* engine handle, 0 = none */
    uint64_t timer_at;
};

static int io_send(void *ctx, int sock, const struct knit_addr *to,
                   const uint8_t *pkt, size_t len)
{
    (void)sock;
    struct knit_sim_host *h = ctx;
    h->cfg.send(h->cfg.ctx, h, &h->cfg.addr, to, pkt, len);
    return KNIT_OK;
}

static void io_random(void *ctx, uint8_t *buf, size_t len)
{
    struct knit_sim_host *h = ctx;
    knit_rng_fill(&h->rng, buf, len);
}

static void io_event(void *ctx, const struct knit_event *ev)
{
    struct knit_sim_host *h = ctx;
    if (h->cfg.event)
        h->cfg.event(h->cfg.ctx, h, ev);
}

static void on_timer(void *ctx, uint64_t arg)
{
    (void)arg;
    struct knit_sim_host *h = ctx;
    h->timer = 0;
    knit_node_timeout(h->node, knit_sim_now(h->engine));
    knit_sim_host_rearm(h);
}

void knit_sim_host_rearm(struct knit_sim_host *h)
{
    uint64_t at = knit_node_next_deadline(h->node);
    if (h->timer && at == h->timer_at)
        return;
    if (h->timer)
        knit_sim_cancel(h->engine, h->timer);
    h->timer = 0;
    if (at == KNIT_NO_DEADLINE)
        return;
    h->timer_at = at;
    h->timer = knit_sim_schedule(h->engine, at, on_timer, h, 0);
}

int knit_sim_host_new(struct knit_sim_host **out, struct knit_sim_engine *e,
                      const struct knit_sim_host_config *cfg)
{
    if (!cfg->send)
        return KNIT_E_INVAL;
    struct knit_sim_host *h = calloc(1, sizeof *h);
    if (!h)
        return KNIT_E_NOMEM;
    h->engine = e;
    h->cfg = *cfg;
    knit_rng_seed(&h->rng, cfg->seed);
    uint8_t seed[KNIT_SEED_LEN];
    knit_rng_fill(&h->rng, seed, sizeof seed);
    struct knit_identity ident;
    int err = knit_identity_from_seed(&ident, seed);
    if (err) {
        free(h);
        return err;
    }
    /* Same identity, fresh randomness: a restarted node draws new session
     * instances and indices, as a real one would, so its peers can tell a
     * restart from a rekey. */
    if (cfg->boot)
        knit_rng_seed(&h->rng, knit_rng_next(&h->rng) ^
                                   (cfg->boot * 0x9e3779b97f4a7c15ull));
    struct knit_io io = {
        .ctx = h, .send = io_send, .random = io_random, .event = io_event,
    };
    uint64_t now = knit_sim_now(e);
    struct knit_node_config ncfg = {
        .identity = &ident,
        .unix_time_us = SIM_EPOCH_US + now,
        .protocols = cfg->protocols,
        .session = cfg->session,
        .handshake_load_threshold = cfg->handshake_load_threshold,
        .receive_budget = cfg->receive_budget,
        .handshake_ratelimit_slots = cfg->handshake_ratelimit_slots,
        .dht_mode = cfg->dht_mode,
        .dht = cfg->dht,
    };
    err = knit_node_new(&h->node, &ncfg, &io, now);
    knit_identity_wipe(&ident);
    if (err == KNIT_OK)
        err = knit_node_add_socket(h->node, 0, &cfg->addr);
    if (err == KNIT_OK && cfg->advertise)
        err = knit_node_set_addresses(h->node, &cfg->addr, 1, now);
    if (err) {
        knit_node_free(h->node);
        free(h);
        return err;
    }
    *out = h;
    return KNIT_OK;
}

void knit_sim_host_free(struct knit_sim_host *h)
{
    if (!h)
        return;
    if (h->timer)
        knit_sim_cancel(h->engine, h->timer);
    knit_node_free(h->node);
    free(h);
}

struct knit_node *knit_sim_host_node(struct knit_sim_host *h)
{
    return h->node;
}

const struct knit_addr *knit_sim_host_addr(const struct knit_sim_host *h)
{
    return &h->cfg.addr;
}

const struct knit_peer_id *knit_sim_host_id(const struct knit_sim_host *h)
{
    return knit_node_peer_id(h->node);
}

void knit_sim_host_deliver(struct knit_sim_host *h,
                           const struct knit_addr *src, const uint8_t *pkt,
                           size_t len)
{
    knit_node_receive(h->node, knit_sim_now(h->engine), 0, src, pkt, len);
    knit_sim_host_rearm(h);
}
