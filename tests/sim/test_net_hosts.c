/* Real node cores on the virtual network (sim/net.h): fifty hosts finding
 * each other under delay, jitter and loss, with the per-host counters adding
 * up; the same seeds giving the same run delivery for delivery; and a host
 * removing itself from inside its own event (deferred removal), its address
 * then taken by a new host. Raw endpoints are in test_net.c. All addresses
 * are virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

/* ---- hosts: a world of real node cores ------------------------------------------ */

#define MAX_HOSTS 64

struct world;

struct slot {
    struct world *w;
    int index;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    int n;
    struct knit_sim_host *host[MAX_HOSTS];
    struct knit_peer_id id[MAX_HOSTS];
    struct knit_addr addr[MAX_HOSTS];
    struct slot slot[MAX_HOSTS];
    int target[MAX_HOSTS];
    bool target_up[MAX_HOSTS];   /* i saw PEER_UP for target[i] */
    int ups;
    int remove_on_up;            /* this host removes itself on PEER_UP */
    uint64_t trace;              /* FNV-1a over every delivery and event */
    uint64_t deliveries;
};

static void mix(uint64_t *h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ULL;
    }
}

static void mix_addr(uint64_t *h, const struct knit_addr *a)
{
    mix(h, (uint64_t)a->ip[0] << 24 | (uint64_t)a->ip[1] << 16 |
               (uint64_t)a->ip[2] << 8 | a->ip[3]);
    mix(h, a->port);
}

static void tap(void *ctx, uint64_t sent_at, const struct knit_addr *src,
                const struct knit_addr *dst, const uint8_t *pkt, size_t len)
{
    struct world *w = ctx;
    w->deliveries++;
    mix(&w->trace, knit_sim_now(w->e));
    mix(&w->trace, sent_at);
    mix_addr(&w->trace, src);
    mix_addr(&w->trace, dst);
    mix(&w->trace, len);
    for (size_t i = 0; i < len; i++)
        mix(&w->trace, pkt[i]);
}

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct slot *s = ctx;
    struct world *w = s->w;
    assert_ptr_equal(host, w->host[s->index]);
    mix(&w->trace, (uint64_t)ev->type);
    mix(&w->trace, (uint64_t)s->index);
    if (ev->type != KNIT_EVENT_PEER_UP)
        return;
    w->ups++;
    int t = w->target[s->index];
    if (t >= 0 && knit_peer_id_equal(ev->peer, &w->id[t]))
        w->target_up[s->index] = true;
    if (s->index == w->remove_on_up) {
        /* From inside the host's own event: the node is still on the
         * stack, so the net must not free it yet. */
        knit_sim_net_remove_host(w->net, host);
        assert_null(knit_sim_net_find_host(w->net, &w->addr[s->index]));
        w->host[s->index] = NULL;
    }
}

static void world_new(struct world *w, int n,
                      const struct knit_sim_net_config *c, uint64_t host_seed)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    w->remove_on_up = -1;
    w->trace = 0xcbf29ce484222325ULL;
    w->e = engine();
    w->net = net_with(w->e, c);
    knit_sim_net_set_tap(w->net, tap, w);
    for (int i = 0; i < n; i++) {
        w->addr[i] = host_addr(i);
        w->slot[i] = (struct slot){w, i};
        w->target[i] = -1;
        struct knit_sim_host_config hc = {.addr = w->addr[i],
                                          .seed = host_seed + (uint64_t)i};
        assert_int_equal(knit_sim_net_add_host(w->net, &hc, on_event,
                                               &w->slot[i], &w->host[i]),
                         0);
        w->id[i] = *knit_sim_host_id(w->host[i]);
        assert_ptr_equal(knit_sim_net_find_host(w->net, &w->addr[i]),
                         w->host[i]);
    }
}

static void world_free(struct world *w)
{
    knit_sim_net_free(w->net);
    knit_sim_engine_free(w->e);
}

static void connect_to(struct world *w, int i, int j)
{
    w->target[i] = j;
    assert_int_equal(knit_node_connect(knit_sim_host_node(w->host[i]),
                                       &w->id[j], &w->addr[j],
                                       knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[i]);
}

static bool all_targets_up(const struct world *w)
{
    for (int i = 0; i < w->n; i++)
        if (!w->target_up[i])
            return false;
    return true;
}

/* Every host connects to a random other one, picked by pick_seed. */
static void connect_randomly(struct world *w, uint64_t pick_seed)
{
    struct knit_rng rng;
    knit_rng_seed(&rng, pick_seed);
    for (int i = 0; i < w->n; i++) {
        int j = (int)knit_rng_below(&rng, (uint64_t)w->n - 1);
        connect_to(w, i, j >= i ? j + 1 : j);
    }
}

/* Runs until every host has its target up or until the deadline. */
static void run_until_up(struct world *w, uint64_t deadline)
{
    while (!all_targets_up(w) && knit_sim_next_time(w->e) <= deadline)
        knit_sim_step(w->e);
}

static void test_fifty_hosts_connect(void **state)
{
    (void)state;
    enum { N = 50 };
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    struct knit_sim_net_config c = {.seed = 2024, .min_delay_us = 5 * MS,
                                    .max_delay_us = 80 * MS,
                                    .jitter_us = 2 * MS, .loss = 0.01};
    world_new(w, N, &c, 1000);
    assert_int_equal(knit_sim_net_count(w->net), N);
    connect_randomly(w, 99);
    run_until_up(w, 30 * SECOND);
    assert_true(all_targets_up(w));
    /* Both ends of each session report it. */
    assert_true(w->ups >= N + 1);
    for (int i = 0; i < N; i++)
        assert_true(knit_node_peer_is_up(knit_sim_host_node(w->host[i]),
                                         &w->id[w->target[i]]));

    struct knit_sim_net_stats st = stats_of(w->net);
    assert_true(st.delivered > 2 * N);
    assert_int_equal(st.delivered, w->deliveries);
    assert_int_equal(st.blackholed, 0);
    assert_int_equal(st.dropped, 0);
    uint64_t tx = 0, rx = 0, rx_bytes = 0;
    for (int i = 0; i < N; i++) {
        struct knit_sim_net_host_stats hs;
        assert_int_equal(knit_sim_net_host_stats(w->net, w->host[i], &hs), 0);
        assert_true(hs.tx_packets > 0 && hs.rx_packets > 0);
        tx += hs.tx_packets;
        rx += hs.rx_packets;
        rx_bytes += hs.rx_bytes;
    }
    assert_int_equal(tx, st.sent);
    assert_int_equal(rx, st.delivered);
    assert_int_equal(rx_bytes, st.bytes_delivered);
    assert_accounted(w->net);
    world_free(w);
    free(w);
}

/* The same seeds give the same run, delivery for delivery; another net
 * seed (same hosts, same connections) gives another. */
static uint64_t scenario(uint64_t net_seed)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    struct knit_sim_net_config c = {.seed = net_seed, .min_delay_us = 2 * MS,
                                    .max_delay_us = 60 * MS,
                                    .jitter_us = 3 * MS, .loss = 0.05};
    world_new(w, 20, &c, 500);
    connect_randomly(w, 17);
    knit_sim_run_until(w->e, 10 * SECOND, UINT64_MAX);
    assert_true(all_targets_up(w));
    assert_true(w->deliveries > 40);
    uint64_t trace = w->trace;
    mix(&trace, knit_sim_events_run(w->e));
    world_free(w);
    free(w);
    return trace;
}

static void test_determinism(void **state)
{
    (void)state;
    uint64_t first = scenario(1);
    assert_int_equal(scenario(1), first);
    assert_int_not_equal(scenario(2), first);
}

/* A host removes itself from inside its own PEER_UP: nothing is freed under
 * the node's feet (ASan watches), nothing more reaches it or comes from it,
 * and what its peer goes on sending is blackholed. Then a new host takes
 * the address and is reachable there. */
static void test_remove_inside_event(void **state)
{
    (void)state;
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    struct knit_sim_net_config c = {.seed = 9, .min_delay_us = 10 * MS,
                                    .max_delay_us = 10 * MS};
    world_new(w, 3, &c, 77);
    w->remove_on_up = 1;
    connect_to(w, 0, 1);
    knit_sim_run_until(w->e, 60 * SECOND, UINT64_MAX);
    assert_null(w->host[1]);
    assert_int_equal(knit_sim_net_count(w->net), 2);
    assert_null(knit_sim_net_find_host(w->net, &w->addr[1]));
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_addr_stats(w->net, &w->addr[1], &hs),
                     KNIT_E_NOT_FOUND);
    /* a keeps talking to b (retries, keepalives, a close): into the void. */
    uint64_t blackholed = stats_of(w->net).blackholed;
    assert_true(blackholed > 0);
    assert_int_equal(knit_sim_net_in_flight(w->net), 0);

    w->remove_on_up = -1;
    struct knit_sim_host_config hc = {.addr = w->addr[1], .seed = 4242};
    assert_int_equal(knit_sim_net_add_host(w->net, &hc, on_event,
                                           &w->slot[1], &w->host[1]),
                     0);
    w->id[1] = *knit_sim_host_id(w->host[1]);
    connect_to(w, 2, 1);
    knit_sim_run_until(w->e, 70 * SECOND, UINT64_MAX);
    assert_true(w->target_up[2]);
    assert_int_equal(knit_sim_net_host_stats(w->net, w->host[1], &hs), 0);
    assert_true(hs.rx_packets > 0);
    assert_int_equal(stats_of(w->net).blackholed, blackholed);

    /* Removed and never stepped again: knit_sim_net_free reaps it. */
    knit_sim_net_remove_host(w->net, w->host[2]);
    /* Still allocated until the next step, so asking again is a no-op. */
    knit_sim_net_remove_host(w->net, w->host[2]);
    assert_int_equal(knit_sim_net_count(w->net), 2);
    assert_accounted(w->net);
    world_free(w);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_hosts_connect),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_remove_inside_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
