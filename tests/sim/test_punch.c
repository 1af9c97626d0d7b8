/* Hole punching end to end on the virtual network, with real node cores:
 * a public relay R, and hosts A and B behind NAT boxes that drop
 * unsolicited inbound traffic. A reaches B through R; the two then punch:
 *   - both mapping endpoint-independently: a direct path (plain probes);
 *   - A easy, B mapping per destination with random ports: a direct path
 *     by the birthday method;
 *   - both mapping per destination: the session stays relayed, carries
 *     data, and says why;
 *   - a transfer started on the relay arrives whole (hash checked) while
 *     the path moves to direct, and again when B's NAT loses every
 *     mapping mid-transfer: the session falls back to the relay and
 *     punches again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/record.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

enum { R, A, B, HOSTS };
#define SINK "/test/sink/1"
#define CHUNK 4096

static const char *const served[] = {SINK, NULL};

struct world;
struct slot {
    struct world *w;
    int index;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box[2];
    struct knit_sim_host *host[HOSTS];
    struct knit_peer_id id[HOSTS];
    struct slot slot[HOSTS];
    bool up[HOSTS][HOSTS];
    uint32_t path_changes[HOSTS];
    uint64_t direct_at[HOSTS];      /* first direct path, virtual time */
    /* A -> B transfer on SINK */
    uint64_t total, sent, received;
    uint64_t stream;
    bool open, finished, got_fin;
    crypto_generichash_state sent_hash, recv_hash;
    uint64_t seed;
};

static int index_of(struct world *w, const struct knit_peer_id *id)
{
    return host_index_of(w->host, w->id, HOSTS, id);
}

static struct knit_node *node_of(struct world *w, int i)
{
    return knit_sim_host_node(w->host[i]);
}

static bool is_relayed(struct world *w, int i, int j)
{
    return session_is_relayed(node_of(w, i), &w->id[j]);
}

/* The transfer's bytes: a keystream, so any loss, repeat or reordering
 * changes the hash. */
static void fill(struct world *w, uint8_t *buf, size_t len, uint64_t off)
{
    uint8_t key[crypto_stream_chacha20_KEYBYTES] = {0};
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    memcpy(key, &w->seed, sizeof w->seed);
    crypto_stream_chacha20_xor_ic(buf, (const uint8_t[CHUNK]){0}, len, nonce,
                                  off / 64, key);
}

static void pump(struct world *w, uint64_t now)
{
    struct knit_node *a = node_of(w, A);
    while (w->open && !w->finished && w->sent < w->total) {
        uint8_t buf[CHUNK];
        size_t len = w->total - w->sent < CHUNK ? w->total - w->sent : CHUNK;
        fill(w, buf, len, w->sent);
        size_t accepted = 0;
        if (knit_node_stream_write(a, &w->id[B], w->stream, buf, len, now,
                                   &accepted) != KNIT_OK ||
            accepted == 0)
            return;
        crypto_generichash_update(&w->sent_hash, buf, accepted);
        w->sent += accepted;
    }
    if (w->open && !w->finished && w->sent == w->total) {
        assert_int_equal(knit_node_stream_finish(a, &w->id[B], w->stream,
                                                 now),
                         0);
        w->finished = true;
    }
}

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct slot *s = ctx;
    struct world *w = s->w;
    int j = ev->peer ? index_of(w, ev->peer) : -1;
    if (j < 0)
        return;
    int i = s->index;
    struct knit_node *node = knit_sim_host_node(host);
    switch (ev->type) {
    case KNIT_EVENT_PEER_UP:
        w->up[i][j] = true;
        break;
    case KNIT_EVENT_PEER_DOWN:
        w->up[i][j] = false;
        break;
    case KNIT_EVENT_PATH_CHANGED:
        w->path_changes[i]++;
        if ((i == A || i == B) && (j == A || j == B) && !w->direct_at[i] &&
            !is_relayed(w, i, j))
            w->direct_at[i] = ev->now;
        break;
    case KNIT_EVENT_STREAM_OPENED:
        if (i == B && strcmp(ev->u.opened.protocol, SINK) == 0)
            w->stream = ev->stream_id;
        break;
    case KNIT_EVENT_STREAM_WRITABLE:
        if (i == A)
            pump(w, ev->now);
        break;
    case KNIT_EVENT_STREAM_READABLE:
        if (i != B)
            break;
        for (int round = 0; round < 64; round++) {
            uint8_t buf[CHUNK];
            size_t n;
            bool fin;
            if (knit_node_stream_read(node, ev->peer, ev->stream_id, buf,
                                      sizeof buf, &n, &fin,
                                      ev->now) != KNIT_OK)
                break;
            crypto_generichash_update(&w->recv_hash, buf, n);
            w->received += n;
            w->got_fin = w->got_fin || fin;
            if (fin || n == 0)
                break;
        }
        break;
    default:
        break;
    }
}

/* Endpoint-independent boxes preserve ports unless told otherwise. */
static bool eim_random_ports;

static struct knit_sim_natbox *box(struct world *w, int k, uint8_t ip_last,
                                   uint8_t mapping)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = addr4(40, 0, 0, ip_last, 0);
    c.mapping = mapping;
    c.filtering = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
    c.allocation = mapping == KNIT_MAPPING_ENDPOINT_INDEPENDENT &&
                           !eim_random_ports
                       ? KNIT_SIM_PORT_PRESERVING
                       : KNIT_SIM_PORT_RANDOM;
    c.seed = ip_last;
    assert_int_equal(knit_sim_natbox_new(&w->box[k], w->net, w->e, &c, NULL,
                                         0),
                     0);
    return w->box[k];
}

static void add_host(struct world *w, int i, struct knit_addr addr,
                     struct knit_sim_natbox *gw)
{
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr,
                                      .seed = 500 + (uint64_t)i,
                                      .advertise = true,
                                      .protocols = served};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
}

static void run_for(struct world *w, uint64_t span)
{
    knit_sim_run_until(w->e, knit_sim_now(w->e) + span, UINT64_MAX);
}

/* R public; A and B behind boxes of the given mappings; both reserve on
 * R, learn their NATs, then A dials B through R. */
static struct world *world_new(uint8_t map_a, uint8_t map_b)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 7, .min_delay_us = 10 * MS,
                                    .max_delay_us = 30 * MS};
    w->net = net_with(w->e, &c);
    add_host(w, R, addr4(20, 0, 0, 1, 4001), NULL);
    add_host(w, A, addr4(192, 168, 1, 2, 4001), box(w, 0, 1, map_a));
    add_host(w, B, addr4(192, 168, 1, 2, 4001), box(w, 1, 2, map_b));
    struct knit_addr r_addr = addr4(20, 0, 0, 1, 4001);
    for (int i = A; i < HOSTS; i++) {
        assert_int_equal(knit_node_connect(node_of(w, i), &w->id[R], &r_addr,
                                           knit_sim_now(w->e)),
                         0);
        knit_sim_host_rearm(w->host[i]);
    }
    run_for(w, 60 * SECOND);
    for (int i = A; i < HOSTS; i++)
        assert_true(w->up[i][R]);
    assert_int_equal(knit_node_connect_relayed(node_of(w, A), &w->id[B],
                                               &w->id[R], NULL,
                                               knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[A]);
    return w;
}

static void world_free(struct world *w)
{
    assert_accounted(w->net);
    knit_sim_net_free(w->net);
    for (int k = 0; k < 2; k++)
        knit_sim_natbox_free(w->box[k]);
    knit_sim_engine_free(w->e);
    free(w);
}

static void start_transfer(struct world *w, uint64_t total)
{
    w->total = total;
    w->seed = total ^ 0x5eed;
    crypto_generichash_init(&w->sent_hash, NULL, 0, 32);
    crypto_generichash_init(&w->recv_hash, NULL, 0, 32);
    uint64_t now = knit_sim_now(w->e);
    assert_int_equal(knit_node_open_stream(node_of(w, A), &w->id[B], SINK,
                                           now, &w->stream),
                     0);
    w->open = true;
    pump(w, now);
    knit_sim_host_rearm(w->host[A]);
}

static void assert_transfer_intact(struct world *w)
{
    assert_true(w->finished);
    assert_true(w->got_fin);
    assert_int_equal(w->received, w->total);
    uint8_t h1[32], h2[32];
    crypto_generichash_final(&w->sent_hash, h1, sizeof h1);
    crypto_generichash_final(&w->recv_hash, h2, sizeof h2);
    assert_memory_equal(h1, h2, sizeof h1);
}

static void punch_info(struct world *w, int i, int j,
                       struct knit_node_punch *out)
{
    assert_int_equal(knit_node_punch_info(node_of(w, i), &w->id[j], out), 0);
}

static void test_eim_both_sides_go_direct(void **state)
{
    (void)state;
    struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    uint64_t dialed = knit_sim_now(w->e);
    run_for(w, 10 * SECOND);
    assert_true(w->up[A][B] && w->up[B][A]);
    assert_false(is_relayed(w, A, B));
    assert_false(is_relayed(w, B, A));
    assert_true(w->direct_at[A] > dialed);
    assert_true(w->direct_at[A] - dialed < 2 * SECOND);
    struct knit_node_punch pi;
    punch_info(w, A, B, &pi);
    assert_int_equal(pi.successes, 1);
    assert_int_equal(pi.failures, 0);
    assert_false(pi.in_progress);
    world_free(w);
}

static void test_birthday_punches_an_endpoint_dependent_nat(void **state)
{
    (void)state;
    struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    run_for(w, 20 * SECOND);
    assert_true(w->up[A][B] && w->up[B][A]);
    assert_false(is_relayed(w, A, B));
    assert_false(is_relayed(w, B, A));
    struct knit_node_traversal ta, tb;
    knit_node_traversal_status(node_of(w, A), knit_sim_now(w->e), &ta);
    knit_node_traversal_status(node_of(w, B), knit_sim_now(w->e), &tb);
    assert_int_equal(ta.punch_direct + tb.punch_direct, 2);
    /* B opened birthday sockets; A sprayed within the budget. */
    assert_true(tb.punch_sockets > 0 && tb.punch_sockets <= 256);
    assert_true(ta.punch_probes <= 1024 + 8 * 30);
    world_free(w);
}

static void test_both_endpoint_dependent_stay_relayed(void **state)
{
    (void)state;
    struct world *w = world_new(KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                                KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    run_for(w, 5 * SECOND);
    start_transfer(w, 256 * 1024);
    run_for(w, 30 * SECOND);
    assert_true(is_relayed(w, A, B));
    assert_transfer_intact(w);
    struct knit_node_punch pi;
    punch_info(w, A, B, &pi);
    assert_int_equal(pi.successes, 0);
    assert_true(pi.failures >= 1);
    assert_non_null(strstr(pi.reason, "both NATs map per destination"));
    world_free(w);
}

static void test_transfer_survives_upgrade_and_mapping_loss(void **state)
{
    (void)state;
    struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    /* On the relay as it starts; the punch moves it mid-way. */
    run_for(w, 200 * MS);
    assert_true(w->up[A][B]);
    assert_true(is_relayed(w, A, B));
    start_transfer(w, 32 * 1024 * 1024);
    run_for(w, 1 * SECOND);
    assert_false(is_relayed(w, A, B));
    assert_true(w->received > 0 && w->received < w->total);
    /* B's router forgets every mapping, mid-transfer; it preserves
     * ports, so B's next packet out restores the same mapping. */
    assert_true(knit_sim_nat_flush(knit_sim_natbox_nat(w->box[1])) > 0);
    run_for(w, 60 * SECOND);
    assert_transfer_intact(w);
    assert_false(is_relayed(w, A, B));
    world_free(w);
}

/* Both routers forget their mappings and hand out new random ports: the
 * direct path is dead for good. Both sides fall back to the relay, punch
 * again, and end direct on the new ports; the transfer arrives whole. */
static void test_dead_direct_path_falls_back_and_repunches(void **state)
{
    (void)state;
    eim_random_ports = true;
    struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    run_for(w, 2 * SECOND);
    assert_false(is_relayed(w, A, B));
    struct knit_node_peer before[HOSTS];
    size_t n = knit_node_peers(knit_sim_host_node(w->host[A]), before, HOSTS);
    start_transfer(w, 32 * 1024 * 1024);
    run_for(w, 500 * MS);
    uint32_t changes = w->path_changes[A];
    assert_true(knit_sim_nat_flush(knit_sim_natbox_nat(w->box[0])) > 0);
    assert_true(knit_sim_nat_flush(knit_sim_natbox_nat(w->box[1])) > 0);
    run_for(w, 60 * SECOND);
    assert_transfer_intact(w);
    /* to the relay and back to a direct path */
    assert_true(w->path_changes[A] >= changes + 2);
    assert_false(is_relayed(w, A, B));
    struct knit_node_peer after[HOSTS];
    size_t m = knit_node_peers(knit_sim_host_node(w->host[A]), after, HOSTS);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < m; k++)
            if (knit_peer_id_equal(&before[i].id, &w->id[B]) &&
                knit_peer_id_equal(&after[k].id, &w->id[B]))
                assert_false(knit_addr_equal(&before[i].addr, &after[k].addr));
    struct knit_node_punch pi;
    punch_info(w, A, B, &pi);
    assert_true(pi.successes >= 2);
    eim_random_ports = false;
    world_free(w);
}

/* Only the receiver's router loses its mappings and hands out a new
 * port. The sender notices (its data goes unanswered) and falls back to
 * the relay; the receiver, which has nothing unacknowledged, follows the
 * sender there instead of answering on its dead path, and the two punch
 * again. */
static void test_receiver_follows_the_sender_to_the_relay(void **state)
{
    (void)state;
    eim_random_ports = true;
    struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    run_for(w, 2 * SECOND);
    assert_false(is_relayed(w, A, B));
    start_transfer(w, 32 * 1024 * 1024);
    run_for(w, 500 * MS);
    uint32_t changes = w->path_changes[B];
    assert_true(knit_sim_nat_flush(knit_sim_natbox_nat(w->box[1])) > 0);
    run_for(w, 30 * SECOND);
    assert_transfer_intact(w);
    assert_true(w->path_changes[B] >= changes + 2);
    assert_false(is_relayed(w, A, B));
    assert_false(is_relayed(w, B, A));
    eim_random_ports = false;
    world_free(w);
}

/* As above, but at ten moments of the transfer: in most the receiver has
 * nothing of its own in flight (flow-control credit goes out about once
 * a second), so nothing times out on its side, and the relay cannot reach
 * it either (the flush took that mapping too). Its silence probe finds
 * the dead path; without it the session waited for the relay session's
 * keepalive, 25 s on. Both sides must be direct again, and data moving,
 * within 10 s of each flush. */
static void test_a_silent_receiver_behind_a_flushed_router_recovers(
    void **state)
{
    (void)state;
    eim_random_ports = true;
    for (int k = 0; k < 10; k++) {
        struct world *w = world_new(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                    KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
        run_for(w, 20 * SECOND);
        assert_false(is_relayed(w, A, B));
        start_transfer(w, 64 * 1024 * 1024);
        run_for(w, 1 * SECOND + (uint64_t)k * 137 * MS);
        assert_true(knit_sim_nat_flush(knit_sim_natbox_nat(w->box[1])) > 0);
        uint64_t flushed = knit_sim_now(w->e);
        uint64_t at_flush = w->received;
        uint64_t waited = 0;
        bool relayed_seen = false;
        while (waited < 10 * SECOND) {
            run_for(w, 100 * MS);
            waited += 100 * MS;
            relayed_seen |= is_relayed(w, A, B);
            if (relayed_seen && !is_relayed(w, A, B) &&
                !is_relayed(w, B, A) && w->received > at_flush)
                break;
        }
        print_message("flush %d: direct again %llu ms after\n", k,
                      (unsigned long long)((knit_sim_now(w->e) - flushed) /
                                           MS));
        assert_true(relayed_seen);
        assert_false(is_relayed(w, A, B));
        assert_false(is_relayed(w, B, A));
        assert_true(w->received > at_flush);
        world_free(w);
    }
    eim_random_ports = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eim_both_sides_go_direct),
        cmocka_unit_test(test_birthday_punches_an_endpoint_dependent_nat),
        cmocka_unit_test(test_both_endpoint_dependent_stay_relayed),
        cmocka_unit_test(test_transfer_survives_upgrade_and_mapping_loss),
        cmocka_unit_test(test_dead_direct_path_falls_back_and_repunches),
        cmocka_unit_test(test_receiver_follows_the_sender_to_the_relay),
        cmocka_unit_test(
            test_a_silent_receiver_behind_a_flushed_router_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
