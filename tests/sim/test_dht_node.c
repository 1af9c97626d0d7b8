/* The DHT as the node carries it, between a few hosts on virtual time:
 *   - bad input on a /knit/dht/1 stream resets that stream and nothing
 *     else: the session stays up and the next good request is answered,
 *     and the server's embedder hears of none of these streams (nor of one
 *     of a protocol nobody serves);
 *   - a client-mode node asks but never enters a server's routing table;
 *   - a peer's record can be found by ID through a third node;
 *   - many requests to one server at once are all answered: the node
 *     sends no more than the server answers at once and queues the rest;
 *   - a long bootstrap list is dialled a few peers at a time, and a join
 *     whose first few are all down reaches the others.
 * Virtual addresses (20.x), nothing touches a real network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht/dht.h"
#include "node/event.h"
#include "node/node.h"
#include "proto/msg.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define TEST_PROTO "/test/raw/1"

struct world {
    struct knit_sim_engine *engine;
    struct knit_sim_net *net;
    struct knit_sim_host *host[3];
    /* what host 1 (the raw asker) saw */
    uint32_t resets, up, down;
    uint32_t server_stream_events;
    uint64_t reset_stream;
    uint8_t answer[256];
    size_t answer_len;
    bool answer_fin;
    uint64_t answer_stream;
    /* finds */
    int found_error;
    bool found_done;
    struct knit_peer_record found;
};

static const char *const raw_protocols[] = {TEST_PROTO, NULL};

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct world *w = ctx;
    if (host == w->host[0] && ev->type >= KNIT_EVENT_STREAM_OPENED &&
        ev->type <= KNIT_EVENT_STREAM_CLOSED)
        w->server_stream_events++;   /* the node keeps DHT streams to itself */
    if (host != w->host[1] && host != w->host[2])
        return;
    switch (ev->type) {
    case KNIT_EVENT_PEER_UP:
        w->up++;
        break;
    case KNIT_EVENT_PEER_DOWN:
        w->down++;
        break;
    case KNIT_EVENT_STREAM_RESET:
        w->resets++;
        w->reset_stream = ev->stream_id;
        break;
    case KNIT_EVENT_STREAM_READABLE:
        if (ev->stream_id == w->answer_stream) {
            size_t n;
            bool fin;
            knit_node_stream_read(knit_sim_host_node(host), ev->peer,
                                  ev->stream_id, w->answer + w->answer_len,
                                  sizeof w->answer - w->answer_len, &n, &fin,
                                  ev->now);
            w->answer_len += n;
            w->answer_fin = w->answer_fin || fin;
        }
        break;
    case KNIT_EVENT_FOUND:
        w->found_done = true;
        w->found_error = ev->u.found.error;
        if (!ev->u.found.error)
            w->found = *ev->u.found.record;
        break;
    default:
        break;
    }
}

static struct knit_addr addr_of(int i)
{
    struct knit_addr a = {.family = KNIT_AF_IP4,
                          .ip = {20, 0, (uint8_t)(i + 1), 1}, .port = 4001};
    return a;
}

static struct world *world_new(const enum knit_dht_mode modes[3])
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    assert_int_equal(knit_sim_engine_new(&w->engine), 0);
    struct knit_sim_net_config nc = {.seed = 5, .min_delay_us = 10000,
                                     .max_delay_us = 20000};
    assert_int_equal(knit_sim_net_new(&w->net, w->engine, &nc), 0);
    for (int i = 0; i < 3; i++) {
        struct knit_sim_host_config hc = {
            .addr = addr_of(i), .seed = 77 + (uint64_t)i,
            .dht_mode = modes[i], .advertise = true,
            .protocols = raw_protocols,
        };
        assert_int_equal(
            knit_sim_net_add_host(w->net, &hc, on_event, w, &w->host[i]), 0);
    }
    return w;
}

static void world_free(struct world *w)
{
    knit_sim_net_free(w->net);
    knit_sim_engine_free(w->engine);
    free(w);
}

static void run_for(struct world *w, uint64_t us)
{
    knit_sim_run_until(w->engine, knit_sim_now(w->engine) + us, 10000000);
}

static struct knit_node *node(struct world *w, int i)
{
    return knit_sim_host_node(w->host[i]);
}

/* Host 1 opens a DHT stream to host 0 by hand and writes bytes on it. */
static uint64_t raw_request(struct world *w, const uint8_t *bytes, size_t len)
{
    uint64_t now = knit_sim_now(w->engine);
    const struct knit_peer_id *to = knit_sim_host_id(w->host[0]);
    uint64_t id;
    assert_int_equal(knit_node_open_stream(node(w, 1), to, KNIT_DHT_PROTOCOL,
                                           now, &id), 0);
    size_t accepted;
    assert_int_equal(knit_node_stream_write(node(w, 1), to, id, bytes, len,
                                            now, &accepted), 0);
    assert_int_equal(accepted, len);
    assert_int_equal(knit_node_stream_finish(node(w, 1), to, id, now), 0);
    knit_sim_host_rearm(w->host[1]);
    w->answer_stream = id;
    w->answer_len = 0;
    w->answer_fin = false;
    return id;
}

static void test_bad_input_resets_the_stream_only(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_CLIENT,
                                   KNIT_DHT_MODE_CLIENT};
    struct world *w = world_new(modes);
    const struct knit_peer_id *server = knit_sim_host_id(w->host[0]);
    struct knit_addr a0 = addr_of(0);
    assert_int_equal(knit_node_connect(node(w, 1), server, &a0,
                                       knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[1]);
    run_for(w, SECOND);
    assert_true(knit_node_peer_is_up(node(w, 1), server));

    /* Not msgpack at all; a frame announcing 1 MiB; a valid frame of an
     * answer type; a request cut short by the FIN. */
    static const uint8_t garbage[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
    static const uint8_t huge[] = {0, 0x10, 0, 0, 1, 2, 3};
    uint8_t pong[64], ping[64];
    size_t pong_len, ping_len;
    struct knit_dht_msg m = {.type = KNIT_DHT_PONG, .id = 9};
    assert_int_equal(knit_dht_msg_encode(&m, pong, sizeof pong, &pong_len), 0);
    m.type = KNIT_DHT_PING;
    assert_int_equal(knit_dht_msg_encode(&m, ping, sizeof ping, &ping_len), 0);
    const struct {
        const uint8_t *p;
        size_t len;
    } bad[] = {{garbage, sizeof garbage}, {huge, sizeof huge},
               {pong, pong_len}, {ping, ping_len - 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t resets = w->resets;
        uint64_t id = raw_request(w, bad[i].p, bad[i].len);
        run_for(w, SECOND);
        assert_int_equal(w->resets, resets + 1);
        assert_int_equal(w->reset_stream, id);
        assert_true(knit_node_peer_is_up(node(w, 1), server));
    }
    assert_int_equal(w->down, 0);

    /* The same session still answers a good request. */
    raw_request(w, ping, ping_len);
    run_for(w, SECOND);
    assert_true(w->answer_fin);
    struct knit_msg_frame f;
    assert_int_equal(knit_msg_deframe(w->answer, w->answer_len,
                                      KNIT_DHT_MAX_MESSAGE, &f), 0);
    struct knit_dht_msg answer;
    assert_int_equal(knit_dht_msg_decode(&answer, f.body, f.body_len), 0);
    assert_int_equal(answer.type, KNIT_DHT_PONG);
    assert_int_equal(answer.id, 9);
    run_for(w, SECOND);

    /* A protocol nobody serves is refused just as quietly. */
    uint32_t resets = w->resets;
    uint64_t id;
    assert_int_equal(knit_node_open_stream(node(w, 1), server, "/nobody/1",
                                           knit_sim_now(w->engine), &id), 0);
    size_t accepted;
    assert_int_equal(knit_node_stream_write(node(w, 1), server, id, ping,
                                            ping_len, knit_sim_now(w->engine),
                                            &accepted), 0);
    knit_sim_host_rearm(w->host[1]);
    run_for(w, SECOND);
    assert_int_equal(w->resets, resets + 1);
    assert_int_equal(w->server_stream_events, 0);
    world_free(w);
}

static void test_client_asks_but_stays_out_of_tables(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_SERVER,
                                   KNIT_DHT_MODE_CLIENT};
    struct world *w = world_new(modes);
    struct knit_bootstrap_peer boot = {.id = *knit_sim_host_id(w->host[0]),
                                       .addr = addr_of(0)};
    for (int i = 1; i < 3; i++) {
        assert_int_equal(knit_node_bootstrap(node(w, i), &boot, 1,
                                             knit_sim_now(w->engine)), 0);
        knit_sim_host_rearm(w->host[i]);
    }
    run_for(w, 20 * SECOND);
    const struct knit_dht_table *t0 = knit_dht_get_table(knit_node_dht(node(w, 0)));
    assert_non_null(knit_dht_table_find(t0, knit_sim_host_id(w->host[1])));
    assert_null(knit_dht_table_find(t0, knit_sim_host_id(w->host[2])));
    assert_false(knit_node_dht_serving(node(w, 2)));
    /* The client's record is published all the same, and it can look up
     * the other server's. */
    const struct knit_dht_store *s1 = knit_dht_get_store(knit_node_dht(node(w, 1)));
    struct knit_dht_key k2;
    knit_dht_key_of_peer(&k2, knit_sim_host_id(w->host[2]));
    assert_non_null(knit_dht_store_get(s1, &k2, knit_sim_now(w->engine)));

    uint64_t handle;
    assert_int_equal(knit_node_find(node(w, 2), knit_sim_host_id(w->host[1]),
                                    knit_sim_now(w->engine), &handle), 0);
    knit_sim_host_rearm(w->host[2]);
    run_for(w, 10 * SECOND);
    assert_true(w->found_done);
    assert_int_equal(w->found_error, 0);
    assert_true(knit_peer_id_equal(&w->found.peer,
                                   knit_sim_host_id(w->host[1])));
    struct knit_addr a;
    assert_int_equal(knit_multiaddr_to_socket(&w->found.addrs[0], &a), 0);
    struct knit_addr want = addr_of(1);
    assert_true(knit_addr_equal(&a, &want));
    world_free(w);
}

/* Kademlia's hand-over: a record stored while the network was small
 * reaches a server that joins nearer its key later, from the server that
 * holds it, long before the owner's republish (30 min). The client joins
 * through the first server and publishes there; the server nearer the
 * client's key joins 20 s later, when the client has stopped looking. */
static void test_stored_records_are_handed_to_a_nearer_newcomer(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_SERVER,
                                   KNIT_DHT_MODE_CLIENT};
    struct world *w = world_new(modes);
    struct knit_dht_key kc, k0, k1;
    knit_dht_key_of_peer(&kc, knit_sim_host_id(w->host[2]));
    knit_dht_key_of_peer(&k0, knit_sim_host_id(w->host[0]));
    knit_dht_key_of_peer(&k1, knit_sim_host_id(w->host[1]));
    int late = knit_dht_key_cmp_distance(&kc, &k1, &k0) < 0 ? 1 : 0;
    int early = 1 - late;
    struct knit_bootstrap_peer boot = {.id = *knit_sim_host_id(w->host[early]),
                                       .addr = addr_of(early)};
    assert_int_equal(knit_node_bootstrap(node(w, 2), &boot, 1,
                                         knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[2]);
    run_for(w, 20 * SECOND);
    const struct knit_dht_store *se =
        knit_dht_get_store(knit_node_dht(node(w, early)));
    assert_non_null(knit_dht_store_get(se, &kc, knit_sim_now(w->engine)));

    assert_int_equal(knit_node_bootstrap(node(w, late), &boot, 1,
                                         knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[late]);
    run_for(w, 10 * SECOND);
    const struct knit_dht_store *sl =
        knit_dht_get_store(knit_node_dht(node(w, late)));
    assert_non_null(knit_dht_store_get(sl, &kc, knit_sim_now(w->engine)));
    struct knit_dht_stats st;
    knit_dht_get_stats(knit_node_dht(node(w, early)), &st);
    assert_true(st.records_handed_over >= 1);
    world_free(w);
}

/* Eight bootstrap peers that are down (no host at their address) and one
 * server. The node dials 4 at a time (the whole list before: a session
 * at every bootstrap peer for every joining node), and while its table is
 * empty dials the next 4 on each retry, so it joins through the one that
 * is up wherever the shuffle put it. */
static void test_bootstrap_dials_a_few_at_a_time(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_SERVER,
                                   KNIT_DHT_MODE_CLIENT};
    struct world *w = world_new(modes);
    struct knit_bootstrap_peer boot[9];
    for (int i = 0; i < 8; i++) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(boot[i].id.pubkey, sk);
        boot[i].addr = addr_of(40 + i);
    }
    boot[8].id = *knit_sim_host_id(w->host[0]);
    boot[8].addr = addr_of(0);
    assert_int_equal(knit_node_bootstrap(node(w, 2), boot, 9,
                                         knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[2]);
    struct knit_node_stats st;
    knit_node_get_stats(node(w, 2), &st);
    assert_int_equal(st.sessions, 4);
    /* Retries after 5 s and 10 s more: the third batch is dialled at 15 s. */
    run_for(w, 25 * SECOND);
    const struct knit_dht_table *t =
        knit_dht_get_table(knit_node_dht(node(w, 2)));
    assert_non_null(knit_dht_table_find(t, knit_sim_host_id(w->host[0])));
    world_free(w);
}

/* 30 lookups at once, with one server known: 30 requests to that server,
 * which answers 16 from one peer at a time (NODE_MAX_DHT_STREAMS_PER_PEER)
 * and refuses more. None may be sent to be refused (14 were). */
static void test_many_requests_to_one_server_are_all_answered(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_CLIENT,
                                   KNIT_DHT_MODE_CLIENT};
    struct world *w = world_new(modes);
    struct knit_bootstrap_peer boot = {.id = *knit_sim_host_id(w->host[0]),
                                       .addr = addr_of(0)};
    assert_int_equal(knit_node_bootstrap(node(w, 1), &boot, 1,
                                         knit_sim_now(w->engine)), 0);
    knit_sim_host_rearm(w->host[1]);
    run_for(w, 20 * SECOND);
    struct knit_dht_stats before;
    knit_dht_get_stats(knit_node_dht(node(w, 1)), &before);
    for (int i = 0; i < 30; i++) {
        struct knit_peer_id nobody;
        memset(&nobody, 0x40 + i, sizeof nobody);
        uint64_t handle;
        assert_int_equal(knit_node_find(node(w, 1), &nobody,
                                        knit_sim_now(w->engine), &handle), 0);
    }
    knit_sim_host_rearm(w->host[1]);
    run_for(w, 20 * SECOND);
    struct knit_dht_stats after;
    knit_dht_get_stats(knit_node_dht(node(w, 1)), &after);
    assert_true(after.requests_sent - before.requests_sent >= 30);
    assert_int_equal(after.requests_failed, before.requests_failed);
    assert_true(after.lookups_started - before.lookups_started >= 30);
    world_free(w);
}

static void test_find_with_an_empty_table_is_refused_at_once(void **state)
{
    (void)state;
    enum knit_dht_mode modes[3] = {KNIT_DHT_MODE_SERVER, KNIT_DHT_MODE_SERVER,
                                   KNIT_DHT_MODE_SERVER};
    struct world *w = world_new(modes);
    uint64_t handle;
    assert_int_equal(knit_node_find(node(w, 2), knit_sim_host_id(w->host[1]),
                                    knit_sim_now(w->engine), &handle),
                     KNIT_E_NOT_FOUND);
    world_free(w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_resets_the_stream_only),
        cmocka_unit_test(test_client_asks_but_stays_out_of_tables),
        cmocka_unit_test(test_find_with_an_empty_table_is_refused_at_once),
        cmocka_unit_test(test_many_requests_to_one_server_are_all_answered),
        cmocka_unit_test(test_bootstrap_dials_a_few_at_a_time),
        cmocka_unit_test(test_stored_records_are_handed_to_a_nearer_newcomer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
