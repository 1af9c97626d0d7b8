/* Kademlia's hand-over without the k-fold copies: a client's record is
 * stored at every server of a small network; when a server joins nearer
 * the record's key, it gets the record from one holder, the one nearest
 * the key, not from each of them. Servers' own records are not handed
 * over at all: their owner is nearest its own key, and publishes to the
 * newcomer itself, but only to one that joins among the few closest to
 * its key, where lookups of it end, not to every newcomer among the k.
 * Soon after a publishing lookup, the owner PUTs its record straight to
 * such a newcomer, and a changed record to the k closest it knows, without
 * another lookup; once the refresh interval has passed, it looks again.
 * A client, whose table nobody's join updates, looks up each time.
 * The refresh looks into a server's quiet buckets only (BEP 5): one where
 * a server showed it is alive within the interval gets no lookup.
 *
 * Virtual addresses (20.x), nothing touches a real network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht/dht.h"
#include "dht/key.h"
#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define SERVERS 8
#define CLIENT SERVERS            /* the last host */

struct world {
    struct knit_sim_engine *engine;
    struct knit_sim_net *net;
    struct knit_sim_host *host[SERVERS + 1];
};

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    (void)ctx;
    (void)host;
    (void)ev;
}

static struct knit_addr addr_of(int i)
{
    struct knit_addr a = {.family = KNIT_AF_IP4,
                          .ip = {20, 0, (uint8_t)(i + 1), 1}, .port = 4001};
    return a;
}

static struct knit_node *node(struct world *w, int i)
{
    return knit_sim_host_node(w->host[i]);
}

static void run_for(struct world *w, uint64_t us)
{
    knit_sim_run_until(w->engine, knit_sim_now(w->engine) + us, 50000000);
}

static void join(struct world *w, int i, int through)
{
    struct knit_bootstrap_peer boot = {.id = *knit_sim_host_id(w->host[through]),
                                       .addr = addr_of(through)};
    assert_int_equal(knit_node_bootstrap(node(w, i), &boot, 1,
                                         knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[i]);
}

static uint64_t handed_over(struct world *w, int i)
{
    struct knit_dht_stats st;
    knit_dht_get_stats(knit_node_dht(node(w, i)), &st);
    return st.records_handed_over;
}

static void world_new(struct world *w)
{
    assert_int_equal(knit_sim_engine_new(&w->engine), 0);
    struct knit_sim_net_config nc = {.seed = 9, .min_delay_us = 10000,
                                     .max_delay_us = 20000};
    assert_int_equal(knit_sim_net_new(&w->net, w->engine, &nc), 0);
    for (int i = 0; i <= SERVERS; i++) {
        struct knit_sim_host_config hc = {
            .addr = addr_of(i), .seed = 300 + (uint64_t)i,
            .dht_mode = i == CLIENT ? KNIT_DHT_MODE_CLIENT
                                    : KNIT_DHT_MODE_SERVER,
            .advertise = true,
        };
        assert_int_equal(
            knit_sim_net_add_host(w->net, &hc, on_event, w, &w->host[i]), 0);
    }
}

static void world_free(struct world *w)
{
    knit_sim_net_free(w->net);
    knit_sim_engine_free(w->engine);
}

/* Every server joins through a first one except the one nearest key, the
 * late one, which is left to join later; then 20 s pass. */
static void join_all_but_nearest(struct world *w,
                                 const struct knit_dht_key *key, int *late,
                                 int *first)
{
    *late = 0;
    for (int i = 1; i < SERVERS; i++) {
        struct knit_dht_key ki, kl;
        knit_dht_key_of_peer(&ki, knit_sim_host_id(w->host[i]));
        knit_dht_key_of_peer(&kl, knit_sim_host_id(w->host[*late]));
        if (knit_dht_key_cmp_distance(key, &ki, &kl) < 0)
            *late = i;
    }
    *first = *late == 0 ? 1 : 0;
    for (int i = 0; i < SERVERS; i++)
        if (i != *late && i != *first)
            join(w, i, *first);
    run_for(w, 20 * SECOND);
}

static void test_one_holder_hands_a_record_over(void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    struct knit_dht_key kc;
    knit_dht_key_of_peer(&kc, knit_sim_host_id(w.host[CLIENT]));
    int late, first;
    join_all_but_nearest(&w, &kc, &late, &first);
    join(&w, CLIENT, first);
    run_for(&w, 20 * SECOND);
    /* k = 20: every one of the 7 servers holds the client's record. */
    int holders = 0;
    for (int i = 0; i < SERVERS; i++) {
        if (i == late)
            continue;
        const struct knit_dht_store *s = knit_dht_get_store(knit_node_dht(node(&w, i)));
        holders += knit_dht_store_get(s, &kc, knit_sim_now(w.engine)) != NULL;
    }
    assert_int_equal(holders, SERVERS - 1);

    uint64_t before = 0;
    for (int i = 0; i < SERVERS; i++)
        before += handed_over(&w, i);
    join(&w, late, first);
    run_for(&w, 10 * SECOND);
    uint64_t after = 0;
    for (int i = 0; i < SERVERS; i++)
        after += handed_over(&w, i);
    const struct knit_dht_store *sl = knit_dht_get_store(knit_node_dht(node(&w, late)));
    assert_non_null(knit_dht_store_get(sl, &kc, knit_sim_now(w.engine)));
    /* The client's record, once (it was 7 times, with the servers'
     * records besides). */
    assert_int_equal(after - before, 1);
    world_free(&w);
}

static uint64_t lookups_started(struct world *w, int i)
{
    struct knit_dht_stats st;
    knit_dht_get_stats(knit_node_dht(node(w, i)), &st);
    return st.lookups_started;
}

static uint64_t puts_ok(struct world *w, int i)
{
    struct knit_dht_stats st;
    knit_dht_get_stats(knit_node_dht(node(w, i)), &st);
    return st.records_put_ok;
}

static uint64_t held_seq(struct world *w, int holder, int owner)
{
    struct knit_dht_key ko;
    knit_dht_key_of_peer(&ko, knit_sim_host_id(w->host[owner]));
    const struct knit_dht_stored *r = knit_dht_store_get(
        knit_dht_get_store(knit_node_dht(node(w, holder))), &ko,
        knit_sim_now(w->engine));
    return r ? r->seq : 0;
}

/* Server 0 owns the record. Of the others, the one farthest from its key
 * joins last but one and the nearest last: all 8 are among the k = 20
 * closest the owner knows, but only the nearest is among the 3 where
 * lookups of the owner's record end. The owner publishes for that one,
 * not for the other (it did for both); and, having looked its key up a
 * minute ago, by PUTs straight to the k closest it knows that lack the
 * record, the far one included, not by another lookup. */
static void test_owner_publishes_for_its_closest_newcomers_only(void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    const int owner = 0;
    struct knit_dht_key ko;
    knit_dht_key_of_peer(&ko, knit_sim_host_id(w.host[owner]));
    int near = 1, far = 1;
    for (int i = 2; i < SERVERS; i++) {
        struct knit_dht_key ki, kn, kf;
        knit_dht_key_of_peer(&ki, knit_sim_host_id(w.host[i]));
        knit_dht_key_of_peer(&kn, knit_sim_host_id(w.host[near]));
        knit_dht_key_of_peer(&kf, knit_sim_host_id(w.host[far]));
        if (knit_dht_key_cmp_distance(&ko, &ki, &kn) < 0)
            near = i;
        if (knit_dht_key_cmp_distance(&ko, &ki, &kf) > 0)
            far = i;
    }
    for (int i = 1; i < SERVERS; i++)
        if (i != near && i != far)
            join(&w, i, owner);
    /* Joins, refreshes and the first records' changes all done. */
    run_for(&w, 60 * SECOND);
    uint64_t before = lookups_started(&w, owner);
    uint64_t puts = puts_ok(&w, owner);
    join(&w, far, owner);
    run_for(&w, 20 * SECOND);
    assert_int_equal(lookups_started(&w, owner), before);
    assert_int_equal(puts_ok(&w, owner), puts);
    assert_int_equal(held_seq(&w, far, owner), 0);
    join(&w, near, owner);
    run_for(&w, 20 * SECOND);
    assert_int_equal(lookups_started(&w, owner), before);
    assert_int_equal(puts_ok(&w, owner), puts + 2);
    assert_int_not_equal(held_seq(&w, near, owner), 0);
    assert_int_equal(held_seq(&w, far, owner), held_seq(&w, near, owner));
    world_free(&w);
}

static struct knit_dht_stats stats_of(struct world *w, int i)
{
    struct knit_dht_stats st;
    knit_dht_get_stats(knit_node_dht(node(w, i)), &st);
    return st;
}

static void move_and_settle(struct world *w, int i, uint16_t port)
{
    struct knit_addr moved = addr_of(i);
    moved.port = port;
    assert_int_equal(knit_node_set_addresses(node(w, i), &moved, 1,
                                             knit_sim_now(w->engine)),
                     KNIT_OK);
    knit_sim_host_rearm(w->host[i]);
    run_for(w, 10 * SECOND);
}

static void assert_all_hold_the_newest(struct world *w, int owner)
{
    uint64_t seq = held_seq(w, owner, owner);
    for (int i = 0; i < SERVERS; i++)
        assert_int_equal(held_seq(w, i, owner), seq);
}

/* Server 0's record changes a minute after its publishing lookup, and
 * again 11 minutes after it, when the refresh has looked its key up
 * again: both times the new record goes straight to the 7 others (all
 * among its k = 20 closest), with no lookup. 30 minutes after the
 * publishing lookup, the republish is a lookup again. Every time every
 * server ends up holding the newest record. */
static void test_a_changed_record_is_put_without_a_lookup_while_fresh(
    void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    const int owner = 0;
    for (int i = 1; i < SERVERS; i++)
        join(&w, i, owner);
    run_for(&w, 60 * SECOND);

    struct knit_dht_stats before = stats_of(&w, owner);
    move_and_settle(&w, owner, 4002);
    struct knit_dht_stats after = stats_of(&w, owner);
    assert_int_equal(after.publish_lookups, before.publish_lookups);
    assert_int_equal(after.publish_direct, before.publish_direct + 1);
    assert_int_equal(after.records_put_ok,
                     before.records_put_ok + SERVERS - 1);
    assert_all_hold_the_newest(&w, owner);

    /* Past the refresh 10 min after the first (at about 5 s) and its
     * lookup of our own key. */
    run_for(&w, 580 * SECOND);
    before = stats_of(&w, owner);
    move_and_settle(&w, owner, 4003);
    after = stats_of(&w, owner);
    assert_int_equal(after.publish_lookups, before.publish_lookups);
    assert_int_equal(after.publish_direct, before.publish_direct + 1);
    assert_int_equal(after.records_put_ok,
                     before.records_put_ok + SERVERS - 1);
    assert_all_hold_the_newest(&w, owner);

    /* Past 30 min after the publishing lookup. */
    run_for(&w, 1200 * SECOND);
    after = stats_of(&w, owner);
    assert_int_equal(after.publish_lookups, before.publish_lookups + 1);
    assert_all_hold_the_newest(&w, owner);
    world_free(&w);
}

/* The server nearest a client's key joins after the client; then the
 * client's record changes. The client looks its key up again rather than
 * PUT from its table, which has not heard of the newcomer, so the
 * newcomer holds the new record. */
static void test_a_client_looks_up_to_publish_a_changed_record(void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    struct knit_dht_key kc;
    knit_dht_key_of_peer(&kc, knit_sim_host_id(w.host[CLIENT]));
    int late, first;
    join_all_but_nearest(&w, &kc, &late, &first);
    join(&w, CLIENT, first);
    run_for(&w, 60 * SECOND);
    join(&w, late, first);
    run_for(&w, 20 * SECOND);

    struct knit_dht_stats before = stats_of(&w, CLIENT);
    move_and_settle(&w, CLIENT, 4002);
    struct knit_dht_stats after = stats_of(&w, CLIENT);
    assert_int_equal(after.publish_direct, before.publish_direct);
    assert_int_equal(after.publish_lookups, before.publish_lookups + 1);
    assert_int_equal(held_seq(&w, late, CLIENT), held_seq(&w, CLIENT, CLIENT));
    world_free(&w);
}

/* Every 10 min a server looks up a random key in each of its buckets and
 * its own key; a client, whose table only seeds its own lookups, looks up
 * its own key alone. */
static void test_a_client_refreshes_its_own_neighbourhood_only(void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    for (int i = 1; i < SERVERS; i++)
        join(&w, i, 0);
    join(&w, CLIENT, 0);
    /* Joins, the first refreshes, and the publishes of records signed
     * again as the nodes learnt their addresses, all done. */
    run_for(&w, 400 * SECOND);
    uint64_t client = lookups_started(&w, CLIENT);
    uint64_t server = lookups_started(&w, 1);
    /* Past the refresh 10 min after the first (at 5 s), before the
     * 30-min republish. */
    run_for(&w, 265 * SECOND);
    assert_int_equal(lookups_started(&w, CLIENT), client + 1);
    assert_true(lookups_started(&w, 1) > server + 1);
    world_free(&w);
}

/* Server 1 hears from every other server each minute (each opens a new
 * session to it, as their requests would): at its refresh 10 min after
 * the first, only its empty buckets from 0 to one past the deepest filled
 * one get a lookup, and its own key one; every bucket did before. */
static void test_a_server_refreshes_only_quiet_buckets(void **state)
{
    (void)state;
    struct world w = {0};
    world_new(&w);
    for (int i = 1; i < SERVERS; i++)
        join(&w, i, 0);
    run_for(&w, 60 * SECOND);

    const int s = 1;
    struct knit_dht_key ks;
    knit_dht_key_of_peer(&ks, knit_sim_host_id(w.host[s]));
    bool filled[KNIT_DHT_KEY_BITS + 1] = {false};
    unsigned deepest = 0;
    for (int i = 0; i < SERVERS; i++) {
        if (i == s)
            continue;
        struct knit_dht_key ki;
        knit_dht_key_of_peer(&ki, knit_sim_host_id(w.host[i]));
        unsigned b = knit_dht_key_common_prefix(&ks, &ki);
        filled[b] = true;
        if (b > deepest)
            deepest = b;
    }
    unsigned quiet = 0;
    for (unsigned b = 0; b <= deepest + 1; b++)
        quiet += !filled[b];
    assert_true(quiet < deepest + 2);   /* some bucket is filled */

    uint64_t before = lookups_started(&w, s);
    /* From 60 s to 660 s: the refresh 10 min after the first (at about
     * 5 s) and its later rounds, 5 s apart, all fall inside. */
    for (int minute = 0; minute < 10; minute++) {
        for (int i = 0; i < SERVERS; i++) {
            if (i == s)
                continue;
            const struct knit_peer_id *id = knit_sim_host_id(w.host[s]);
            struct knit_addr a = addr_of(s);
            uint64_t now = knit_sim_now(w.engine);
            knit_node_disconnect(node(&w, i), id, now);
            knit_sim_host_rearm(w.host[i]);
            run_for(&w, SECOND);
            assert_int_equal(knit_node_connect(node(&w, i), id, &a,
                                               knit_sim_now(w.engine)),
                             KNIT_OK);
            knit_sim_host_rearm(w.host[i]);
        }
        run_for(&w, 53 * SECOND);
    }
    assert_int_equal(lookups_started(&w, s), before + quiet + 1);
    world_free(&w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder_hands_a_record_over),
        cmocka_unit_test(test_owner_publishes_for_its_closest_newcomers_only),
        cmocka_unit_test(
            test_a_changed_record_is_put_without_a_lookup_while_fresh),
        cmocka_unit_test(test_a_client_looks_up_to_publish_a_changed_record),
        cmocka_unit_test(test_a_client_refreshes_its_own_neighbourhood_only),
        cmocka_unit_test(test_a_server_refreshes_only_quiet_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
