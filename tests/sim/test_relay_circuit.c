/* Circuit relay end to end on the virtual network, with real node cores:
 * a public relay R, and hosts A and B behind NAT boxes that drop
 * unsolicited inbound traffic, both mapping per destination, so no
 * direct path can be punched (tests/sim/test_punch.c punches the others). B reserves on R and publishes a relayed
 * address; A reaches B through R by peer ID, and a stream carries data
 * both ways; R, tapped, never sees the data in clear. A dialer asking for
 * a peer without a reservation is refused with the relay's reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/record.h"
#include "proto/session.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

enum { R, A, B, C, HOSTS };

struct world;
struct slot {
    struct world *w;
    int index;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box[3];
    struct knit_sim_host *host[HOSTS];
    struct knit_peer_id id[HOSTS];
    struct slot slot[HOSTS];
    bool up[HOSTS][HOSTS];
    int down_error[HOSTS][HOSTS];
    char down_reason[HOSTS][HOSTS][64];
    /* A's ping stream to B and what came back */
    uint64_t stream;
    uint8_t echo[8192];
    size_t echo_len;
    bool echo_fin;
    /* a bulk echo: A writes bulk_total bytes of pattern(), checks what
     * comes back */
    bool bulk;
    uint64_t bulk_total, bulk_sent, bulk_back;
    bool bulk_bad;
    /* everything R copied between circuit streams */
    uint8_t *tapped;
    size_t tapped_len, tapped_cap;
};

static int index_of(struct world *w, const struct knit_peer_id *id)
{
    return host_index_of(w->host, w->id, HOSTS, id);
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + off / 251);
}

static void bulk_write(struct world *w, struct knit_node *a, uint64_t now)
{
    while (w->bulk_sent < w->bulk_total) {
        uint8_t buf[4096];
        size_t len = w->bulk_total - w->bulk_sent < sizeof buf
                         ? (size_t)(w->bulk_total - w->bulk_sent)
                         : sizeof buf;
        for (size_t k = 0; k < len; k++)
            buf[k] = pattern(w->bulk_sent + k);
        size_t accepted = 0;
        if (knit_node_stream_write(a, &w->id[B], w->stream, buf, len, now,
                                   &accepted) != KNIT_OK ||
            accepted == 0)
            return;
        w->bulk_sent += accepted;
    }
    knit_node_stream_finish(a, &w->id[B], w->stream, now);
}

static void bulk_read(struct world *w, struct knit_node *a,
                      const struct knit_event *ev)
{
    uint8_t buf[4096];
    size_t n;
    bool fin;
    while (knit_node_stream_read(a, ev->peer, ev->stream_id, buf, sizeof buf,
                                 &n, &fin, ev->now) == KNIT_OK &&
           n) {
        for (size_t k = 0; k < n; k++)
            w->bulk_bad |= buf[k] != pattern(w->bulk_back + k);
        w->bulk_back += n;
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
    if (ev->type == KNIT_EVENT_PEER_UP)
        w->up[s->index][j] = true;
    if (ev->type == KNIT_EVENT_PEER_DOWN) {
        w->up[s->index][j] = false;
        w->down_error[s->index][j] = ev->u.down.error;
        snprintf(w->down_reason[s->index][j], 64, "%s",
                 ev->u.down.reason ? ev->u.down.reason : "");
    }
    if (w->bulk && s->index == A && ev->stream_id == w->stream) {
        if (ev->type == KNIT_EVENT_STREAM_WRITABLE)
            bulk_write(w, knit_sim_host_node(host), ev->now);
        if (ev->type == KNIT_EVENT_STREAM_READABLE)
            bulk_read(w, knit_sim_host_node(host), ev);
        return;
    }
    if (ev->type == KNIT_EVENT_STREAM_READABLE && s->index == A &&
        ev->stream_id == w->stream) {
        size_t n;
        bool fin;
        while (knit_node_stream_read(knit_sim_host_node(host), ev->peer,
                                     ev->stream_id, w->echo + w->echo_len,
                                     sizeof w->echo - w->echo_len, &n, &fin,
                                     ev->now) == KNIT_OK &&
               (n || fin)) {
            w->echo_len += n;
            w->echo_fin = w->echo_fin || fin;
            if (fin || n == 0)
                break;
        }
    }
}

static void tap(void *ctx, const uint8_t *bytes, size_t len)
{
    struct world *w = ctx;
    if (w->tapped_len + len > w->tapped_cap) {
        w->tapped_cap = (w->tapped_len + len) * 2;
        w->tapped = realloc(w->tapped, w->tapped_cap);
        assert_non_null(w->tapped);
    }
    memcpy(w->tapped + w->tapped_len, bytes, len);
    w->tapped_len += len;
}

static struct knit_sim_natbox *box(struct world *w, int k, uint8_t ip_last,
                                   uint8_t mapping)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = addr4(40, 0, 0, ip_last, 0);
    c.mapping = mapping;
    c.filtering = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
    c.allocation = KNIT_SIM_PORT_RANDOM;
    c.seed = ip_last;
    assert_int_equal(knit_sim_natbox_new(&w->box[k], w->net, w->e, &c, NULL,
                                         0),
                     0);
    return w->box[k];
}

static void add_host(struct world *w, int i, struct knit_addr addr,
                     struct knit_sim_natbox *gw, bool advertise)
{
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr,
                                      .seed = 300 + (uint64_t)i,
                                      .advertise = advertise};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
}

static struct knit_node *node_of(struct world *w, int i)
{
    return knit_sim_host_node(w->host[i]);
}

static void run_for(struct world *w, uint64_t span)
{
    knit_sim_run_until(w->e, knit_sim_now(w->e) + span, UINT64_MAX);
}

static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 11, .min_delay_us = 10 * MS,
                                    .max_delay_us = 30 * MS};
    w->net = net_with(w->e, &c);
    add_host(w, R, addr4(20, 0, 0, 1, 4001), NULL, true);
    add_host(w, A, addr4(192, 168, 1, 2, 4001),
             box(w, 0, 1, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT), true);
    add_host(w, B, addr4(192, 168, 1, 2, 4001),
             box(w, 1, 2, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT), true);
    /* C never advertises, so it never asks for a reservation. */
    add_host(w, C, addr4(192, 168, 1, 3, 4001), w->box[1], false);
    knit_node_set_relay_tap(node_of(w, R), tap, w);
    struct knit_addr r_addr = addr4(20, 0, 0, 1, 4001);
    for (int i = A; i < HOSTS; i++) {
        assert_int_equal(knit_node_connect(node_of(w, i), &w->id[R], &r_addr,
                                           knit_sim_now(w->e)),
                         0);
        knit_sim_host_rearm(w->host[i]);
    }
    run_for(w, 5 * SECOND);
    for (int i = A; i < HOSTS; i++)
        assert_true(w->up[i][R]);
    return w;
}

static void world_free(struct world *w)
{
    assert_accounted(w->net);
    knit_sim_net_free(w->net);
    for (int k = 0; k < 3; k++)
        knit_sim_natbox_free(w->box[k]);
    knit_sim_engine_free(w->e);
    free(w->tapped);
    free(w);
}

/* A dials target through R and the world runs 5 s. */
static void dial_through_r(struct world *w, int target)
{
    assert_int_equal(knit_node_connect_relayed(node_of(w, A),
                                               &w->id[target], &w->id[R],
                                               NULL, knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[A]);
    run_for(w, 5 * SECOND);
}

/* B's signed record lists /ip4/20.0.0.1/udp/4001/p2p/<R>/p2p-circuit. */
static void test_reservation_is_published(void **state)
{
    (void)state;
    struct world *w = world_new();
    size_t len;
    const uint8_t *env = knit_node_record(node_of(w, B), &len);
    assert_non_null(env);
    struct knit_peer_record rec;
    assert_int_equal(knit_record_verify(&rec, env, len), 0);
    bool found = false;
    for (int k = 0; k < rec.addr_count; k++) {
        struct knit_peer_id relay;
        struct knit_addr at;
        if (!knit_multiaddr_is_circuit(&rec.addrs[k]))
            continue;
        assert_int_equal(knit_multiaddr_relay(&rec.addrs[k], &relay), 0);
        assert_int_equal(knit_multiaddr_to_socket(&rec.addrs[k], &at), 0);
        struct knit_addr want = addr4(20, 0, 0, 1, 4001);
        found = knit_peer_id_equal(&relay, &w->id[R]) &&
                knit_addr_equal(&at, &want);
    }
    assert_true(found);
    world_free(w);
}

static void test_circuit_carries_a_stream_both_ways(void **state)
{
    (void)state;
    struct world *w = world_new();
    struct knit_node *a = node_of(w, A);
    dial_through_r(w, B);
    assert_true(w->up[A][B]);
    assert_true(w->up[B][A]);
    struct knit_node_peer peers[HOSTS];
    size_t n = knit_node_peers(a, peers, HOSTS);
    bool relayed = false;
    for (size_t k = 0; k < n; k++)
        if (knit_peer_id_equal(&peers[k].id, &w->id[B]))
            relayed = peers[k].relayed;
    assert_true(relayed);

    /* 4 KiB of a pattern through /knit/ping/1 (an echo) and back. */
    uint8_t data[4096];
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = (uint8_t)(k * 7 + k / 251);
    uint64_t now = knit_sim_now(w->e);
    assert_int_equal(knit_node_open_stream(a, &w->id[B], KNIT_PROTOCOL_PING,
                                           now, &w->stream),
                     0);
    size_t accepted;
    assert_int_equal(knit_node_stream_write(a, &w->id[B], w->stream, data,
                                            sizeof data, now, &accepted),
                     0);
    assert_int_equal(accepted, sizeof data);
    assert_int_equal(knit_node_stream_finish(a, &w->id[B], w->stream, now), 0);
    knit_sim_host_rearm(w->host[A]);
    run_for(w, 10 * SECOND);
    assert_int_equal(w->echo_len, sizeof data);
    assert_true(w->echo_fin);
    assert_memory_equal(w->echo, data, sizeof data);

    /* R carried it all, twice, and never a 16-byte run of it in clear. */
    assert_true(w->tapped_len > 2 * sizeof data);
    for (size_t off = 0; off + 16 <= sizeof data; off += 16)
        for (size_t t = 0; t + 16 <= w->tapped_len; t++)
            assert_false(memcmp(w->tapped + t, data + off, 16) == 0);
    world_free(w);
}

static void test_no_reservation_is_refused(void **state)
{
    (void)state;
    struct world *w = world_new();
    dial_through_r(w, C);
    assert_false(w->up[A][C]);
    assert_int_equal(w->down_error[A][C], KNIT_E_REFUSED);
    assert_string_equal(w->down_reason[A][C], "NO_RESERVATION");
    world_free(w);
}

/* A circuit is a link with a short queue, not a buffer of seconds. R's
 * uplink, 10 Mbit/s with a 64 KiB queue, carries 4 MiB each way (an echo
 * through the circuit). R has more to send than its uplink takes, so its
 * streams towards the ends back up. Before, the copy kept up to the send
 * buffer and the receive window in them, and the inner session's smoothed
 * round trip reached 781 ms here; now R drops the frames beyond
 * NODE_CIRCUIT_QUEUE_MAX and the inner session, seeing the loss, keeps the
 * queue short (320 ms), in the same 8 s. Everything arrives, in order. */
static void test_a_busy_circuit_keeps_its_queue_short(void **state)
{
    (void)state;
    struct world *w = world_new();
    struct knit_node *a = node_of(w, A);
    assert_int_equal(knit_sim_net_set_uplink(w->net, w->host[R], 10000000,
                                             64 * 1024),
                     0);
    dial_through_r(w, B);
    assert_true(w->up[A][B]);
    w->bulk = true;
    w->bulk_total = 4 * 1024 * 1024;
    uint64_t now = knit_sim_now(w->e);
    assert_int_equal(knit_node_open_stream(a, &w->id[B], KNIT_PROTOCOL_PING,
                                           now, &w->stream),
                     0);
    bulk_write(w, a, now);
    knit_sim_host_rearm(w->host[A]);
    uint64_t worst = 0;
    for (int k = 0; k < 300 && w->bulk_back < w->bulk_total; k++) {
        run_for(w, 200 * MS);
        struct knit_node_peer peers[HOSTS];
        size_t n = knit_node_peers(a, peers, HOSTS);
        for (size_t i = 0; i < n; i++)
            if (knit_peer_id_equal(&peers[i].id, &w->id[B]) &&
                peers[i].srtt_us > worst)
                worst = peers[i].srtt_us;
    }
    print_message("echo of %llu bytes back after %llu ms; worst srtt %llu "
                  "ms\n",
                  (unsigned long long)w->bulk_back,
                  (unsigned long long)((knit_sim_now(w->e) - now) / MS),
                  (unsigned long long)(worst / MS));
    assert_int_equal(w->bulk_back, w->bulk_total);
    assert_false(w->bulk_bad);
    /* base round trip 40-120 ms, plus R's uplink queue (52 ms) and the
     * circuit queues (52 ms each way at 10 Mbit/s), with room to spare */
    assert_true(worst < 500 * MS);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservation_is_published),
        cmocka_unit_test(test_circuit_carries_a_stream_both_ways),
        cmocka_unit_test(test_no_reservation_is_refused),
        cmocka_unit_test(test_a_busy_circuit_keeps_its_queue_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
