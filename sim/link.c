/* A link keeps no queue of its own: the bottleneck is the time at which its
 * transmitter falls idle (busy_us plus busy_frac/rate_bps of a microsecond,
 * so rates that do not divide a second evenly lose nothing to rounding), and
 * every packet past it waits in the engine as a scheduled delivery. The
 * packets in flight are also on a list, so freeing the link can cancel and
 * free them. */
#include "sim/link.h"

#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"
#include "sim/rng.h"
#include "transport/error.h"

#define US_PER_S 1000000u

struct flight {
    struct knit_sim_link *link;
    struct flight *prev, *next;
    uint64_t handle;
    size_t len;
    uint8_t data[];
};

struct knit_sim_link {
    struct knit_sim_engine *engine;
    struct knit_sim_link_config cfg;
    struct knit_rng rng;
    knit_sim_deliver_fn deliver;
    void *ctx;

    uint64_t busy_us, busy_frac;
    uint64_t last_arrival;     /* latest arrival so far, for !reorder */
    struct flight *flights;
    size_t in_flight;
    struct knit_sim_link_stats stats;
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static bool is_probability(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN too */
}

int knit_sim_link_new(struct knit_sim_link **out,
                      struct knit_sim_engine *engine,
                      const struct knit_sim_link_config *config,
                      uint64_t seed, knit_sim_deliver_fn deliver, void *ctx)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!engine || !config || !deliver || !is_probability(config->loss) ||
        !is_probability(config->duplicate))
        return KNIT_E_INVAL;
    struct knit_sim_link *l = calloc(1, sizeof *l);
    if (!l)
        return KNIT_E_NOMEM;
    l->engine = engine;
    l->cfg = *config;
    knit_rng_seed(&l->rng, seed);
    l->deliver = deliver;
    l->ctx = ctx;
    *out = l;
    return 0;
}

static void unlink_flight(struct knit_sim_link *l, struct flight *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->flights = f->next;
    if (f->next)
        f->next->prev = f->prev;
    l->in_flight--;
}

void knit_sim_link_free(struct knit_sim_link *l)
{
    if (!l)
        return;
    struct flight *f = l->flights;
    while (f) {
        struct flight *next = f->next;
        knit_sim_cancel(l->engine, f->handle);
        free(f);
        f = next;
    }
    free(l);
}

static void arrive(void *ctx, uint64_t arg)
{
    (void)arg;
    struct flight *f = ctx;
    struct knit_sim_link *l = f->link;
    /* Off the list before the callback, which may free the link. */
    unlink_flight(l, f);
    l->stats.delivered++;
    l->deliver(l->ctx, f->data, f->len);
    free(f);
}

static bool launch(struct knit_sim_link *l, const uint8_t *pkt, size_t len,
                   uint64_t at)
{
    if (l->in_flight >= KNIT_SIM_LINK_MAX_IN_FLIGHT)
        return false;
    struct flight *f = malloc(sizeof *f + len);
    if (!f)
        return false;
    f->link = l;
    f->len = len;
    if (len > 0)
        memcpy(f->data, pkt, len);
    f->handle = knit_sim_schedule(l->engine, at, arrive, f, 0);
    if (f->handle == 0) {
        free(f);
        return false;
    }
    f->prev = NULL;
    f->next = l->flights;
    if (l->flights)
        l->flights->prev = f;
    l->flights = f;
    l->in_flight++;
    return true;
}

/* Takes the packet through the bottleneck; returns false if the queue is
 * full, else sets *depart to when its last byte has left. */
static bool bottleneck(struct knit_sim_link *l, size_t len, uint64_t now,
                       uint64_t *depart)
{
    uint64_t rate = l->cfg.rate_bps;
    if (rate == 0) {
        *depart = now;
        return true;
    }
    if (l->busy_us < now || (l->busy_us == now && l->busy_frac == 0)) {
        l->busy_us = now;
        l->busy_frac = 0;
    } else {
        /* Bytes still to send, scaled by 1e6 to stay in integers. */
        uint64_t backlog = add_sat(mul_sat(l->busy_us - now, rate),
                                   l->busy_frac);
        uint64_t need = add_sat(backlog, (uint64_t)len * US_PER_S);
        if (need > mul_sat(l->cfg.queue_bytes, US_PER_S))
            return false;
    }
    uint64_t scaled = (uint64_t)len * US_PER_S;
    uint64_t whole = scaled / rate, part = scaled % rate;
    l->busy_us = add_sat(l->busy_us, whole);
    if (l->busy_frac >= rate - part) {
        l->busy_frac -= rate - part;
        l->busy_us = add_sat(l->busy_us, 1);
    } else {
        l->busy_frac += part;
    }
    *depart = add_sat(l->busy_us, l->busy_frac ? 1 : 0);
    return true;
}

static uint64_t draw_up_to(struct knit_rng *rng, uint64_t max)
{
    if (max == 0)
        return 0;
    return max == UINT64_MAX ? knit_rng_next(rng)
                             : knit_rng_below(rng, max + 1);
}

void knit_sim_link_send(struct knit_sim_link *l, const uint8_t *pkt,
                        size_t len)
{
    if (!l)
        return;
    l->stats.sent++;
    uint64_t now = knit_sim_now(l->engine);
    uint64_t depart;
    if ((!pkt && len > 0) || len > KNIT_SIM_LINK_MAX_PACKET ||
        l->in_flight >= KNIT_SIM_LINK_MAX_IN_FLIGHT ||
        !bottleneck(l, len, now, &depart)) {
        l->stats.queue_dropped++;
        return;
    }
    if (knit_rng_chance(&l->rng, l->cfg.loss)) {
        l->stats.lost++;
        return;
    }

    uint64_t at = add_sat(add_sat(depart, l->cfg.delay_us),
                          draw_up_to(&l->rng, l->cfg.jitter_us));
    if (!l->cfg.reorder && at < l->last_arrival)
        at = l->last_arrival;
    if (!launch(l, pkt, len, at)) {
        l->stats.queue_dropped++;
        return;
    }
    if (at > l->last_arrival)
        l->last_arrival = at;

    if (knit_rng_chance(&l->rng, l->cfg.duplicate)) {
        uint64_t dup_at = add_sat(at, 1 + knit_rng_below(
                                          &l->rng, KNIT_SIM_LINK_DUP_SPREAD_US));
        /* Without room for the copy the packet simply is not duplicated.
         * The copy does not hold back later packets, even without reorder,
         * so duplication never changes when an original arrives. */
        if (launch(l, pkt, len, dup_at))
            l->stats.duplicated++;
    }
}

void knit_sim_link_get_stats(const struct knit_sim_link *l,
                             struct knit_sim_link_stats *out)
{
    *out = l->stats;
}

size_t knit_sim_link_in_flight(const struct knit_sim_link *l)
{
    return l->in_flight;
}
