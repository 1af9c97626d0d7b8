/* 200 unmodified node cores on one virtual network (sim/net.h), joining the
 * DHT through one bootstrap node, publishing their records, and then every
 * node finding every other node's record by peer ID alone. Reports the hop
 * and query distribution of the 39 800 lookups.
 *
 * Every host is a DHT server on its own /24 (as public nodes on the
 * Internet mostly are), one-way delays 5..60 ms. Virtual time, real
 * cryptography. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht/dht.h"
#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "transport/error.h"

#define NODES 200
#define IN_FLIGHT 6           /* finds each node keeps going at once */
#define SECOND 1000000ull
#define MAX_HOPS 16

struct world {
    struct knit_sim_engine *engine;
    struct knit_sim_net *net;
    struct knit_sim_host *host[NODES];
    struct knit_peer_id id[NODES];
    /* the finds: node i looks up (i + k) % NODES for k = 1..NODES-1 */
    int next_k[NODES];
    int in_flight[NODES];
    uint64_t started;
    uint32_t found, failed, wrong;
    uint32_t hops[MAX_HOPS + 1];
    uint64_t queries;
    uint64_t elapsed_sum;
    uint64_t last_done;
};

static int index_of(struct world *w, struct knit_sim_host *h)
{
    for (int i = 0; i < NODES; i++)
        if (w->host[i] == h)
            return i;
    return -1;
}

static void start_finds(struct world *w, int i)
{
    struct knit_node *node = knit_sim_host_node(w->host[i]);
    uint64_t now = knit_sim_now(w->engine);
    while (w->in_flight[i] < IN_FLIGHT && w->next_k[i] < NODES) {
        int target = (i + w->next_k[i]) % NODES;
        uint64_t handle;
        int err = knit_node_find(node, &w->id[target], now, &handle);
        if (err == KNIT_E_LIMIT)
            break;
        w->next_k[i]++;
        if (err) {
            w->failed++;
            continue;
        }
        w->in_flight[i]++;
    }
    knit_sim_host_rearm(w->host[i]);
}

/* The record leads to the node's own address first (relayed addresses
 * may follow: these nodes have no global address, so they also keep relay
 * reservations). */
static bool has_direct_addr(const struct knit_peer_record *rec,
                            const struct knit_peer_id *peer,
                            const struct world *w)
{
    struct knit_addr first;
    if (rec->addr_count < 1 ||
        knit_multiaddr_to_socket(&rec->addrs[0], &first) != KNIT_OK ||
        knit_multiaddr_is_circuit(&rec->addrs[0]))
        return false;
    for (int i = 0; i < NODES; i++)
        if (knit_peer_id_equal(knit_sim_host_id(w->host[i]), peer))
            return knit_addr_equal(&first, knit_sim_host_addr(w->host[i]));
    return false;
}

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct world *w = ctx;
    if (ev->type != KNIT_EVENT_FOUND || w->started == 0)
        return;
    int i = index_of(w, host);
    if (i < 0)
        return;
    w->in_flight[i]--;
    w->last_done = ev->now;
    if (ev->u.found.error) {
        w->failed++;
        fprintf(stderr, "node %d: find failed: %s (hops %u, queries %u)\n",
                i, knit_strerror(ev->u.found.error), ev->u.found.hops,
                ev->u.found.queries);
    } else if (!knit_peer_id_equal(&ev->u.found.record->peer, ev->peer) ||
               !has_direct_addr(ev->u.found.record, ev->peer, w)) {
        w->wrong++;
    } else {
        w->found++;
        w->hops[ev->u.found.hops < MAX_HOPS ? ev->u.found.hops : MAX_HOPS]++;
        w->queries += ev->u.found.queries;
        w->elapsed_sum += ev->u.found.elapsed_us;
    }
    start_finds(w, i);
}

static struct knit_addr host_addr(int i)
{
    /* One /24 each, on 20.0.0.0/8 (a virtual network: nothing here is
     * ever sent on a real one). */
    struct knit_addr a = {.family = KNIT_AF_IP4,
                          .ip = {20, (uint8_t)(i / 250), (uint8_t)(i % 250), 1},
                          .port = 4001};
    return a;
}

static uint32_t median_hops(const struct world *w)
{
    uint32_t seen = 0;
    for (uint32_t h = 0; h <= MAX_HOPS; h++) {
        seen += w->hops[h];
        if (seen * 2 >= w->found)
            return h;
    }
    return MAX_HOPS;
}

static void test_every_node_finds_every_other(void **state)
{
    (void)state;
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    assert_int_equal(knit_sim_engine_new(&w->engine), 0);
    struct knit_sim_net_config ncfg = {
        .seed = 42, .min_delay_us = 5000, .max_delay_us = 60000,
    };
    assert_int_equal(knit_sim_net_new(&w->net, w->engine, &ncfg), 0);
    for (int i = 0; i < NODES; i++) {
        struct knit_sim_host_config hc = {
            .addr = host_addr(i), .seed = 1000 + (uint64_t)i,
            .dht_mode = KNIT_DHT_MODE_SERVER, .advertise = true,
        };
        assert_int_equal(knit_sim_net_add_host(w->net, &hc, on_event, w,
                                               &w->host[i]), 0);
        w->id[i] = *knit_sim_host_id(w->host[i]);
    }
    /* Node i joins at i * 100 ms through node 0. */
    struct knit_bootstrap_peer boot = {.id = w->id[0], .addr = host_addr(0)};
    for (int i = 1; i < NODES; i++) {
        knit_sim_run_until(w->engine, (uint64_t)i * 100000, UINT64_MAX);
        struct knit_node *node = knit_sim_host_node(w->host[i]);
        assert_int_equal(knit_node_bootstrap(node, &boot, 1,
                                             knit_sim_now(w->engine)), 0);
        knit_sim_host_rearm(w->host[i]);
    }
    /* Let the last ones publish. */
    knit_sim_run_until(w->engine, knit_sim_now(w->engine) + 30 * SECOND,
                       UINT64_MAX);
    size_t table_min = SIZE_MAX, table_sum = 0;
    for (int i = 0; i < NODES; i++) {
        size_t n = knit_dht_table_size(
            knit_dht_get_table(knit_node_dht(knit_sim_host_node(w->host[i]))));
        table_sum += n;
        if (n < table_min)
            table_min = n;
    }
    printf("after joining: routing tables hold %zu..%.1f (min..mean) "
           "peers\n", table_min, (double)table_sum / NODES);
    assert_true(table_min >= 20);

    w->started = knit_sim_now(w->engine);
    for (int i = 0; i < NODES; i++) {
        w->next_k[i] = 1;
        start_finds(w, i);
    }
    knit_sim_run_until(w->engine, w->started + 600 * SECOND, UINT64_MAX);

    /* Every request stream has ended: nothing leaks. Identify and
     * AutoNAT share the sessions, so the last answers may take a few
     * retransmission timeouts; a minute is plenty. */
    knit_sim_run_until(w->engine, knit_sim_now(w->engine) + 60 * SECOND,
                       UINT64_MAX);
    uint32_t total = NODES * (NODES - 1);
    printf("%u lookups: %u found, %u failed, %u wrong record\n", total,
           w->found, w->failed, w->wrong);
    printf("hops:");
    for (int h = 0; h <= MAX_HOPS; h++)
        if (w->hops[h])
            printf(" %d:%u", h, w->hops[h]);
    printf("\nmedian hops %u, mean queries %.2f, mean lookup time %.1f ms, "
           "all done after %.1f s of virtual time\n",
           median_hops(w), (double)w->queries / (w->found ? w->found : 1),
           (double)w->elapsed_sum / (w->found ? w->found : 1) / 1000.0,
           (double)(w->last_done - w->started) / 1e6);
    for (int i = 0; i < NODES; i++) {
        struct knit_node_stats st;
        knit_node_get_stats(knit_sim_host_node(w->host[i]), &st);
        if (st.dht_streams_in + st.dht_streams_out)
            fprintf(stderr, "node %d: %u+%u DHT streams left\n", i,
                    st.dht_streams_in, st.dht_streams_out);
        assert_int_equal(st.dht_streams_in + st.dht_streams_out, 0);
    }
    assert_int_equal(w->found, total);
    assert_int_equal(w->failed, 0);
    assert_int_equal(w->wrong, 0);
    assert_true(median_hops(w) <= 4);

    knit_sim_net_free(w->net);
    knit_sim_engine_free(w->engine);
    free(w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_node_finds_every_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
