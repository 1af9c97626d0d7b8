/* The easy side of a birthday punch, in one small world: public relays R
 * and R2; A, the easy side, on a public address or behind an EIM box that
 * filters endpoint-independently (full cone), by address (restricted
 * cone) or by address and port (a home router, ports kept); B behind a box
 * that maps per destination with random ports. A and B hold sessions kept
 * alive with R and R2; A dials B by a record (B's private address and both
 * relays), then they punch. Every host has home-mix's uplink, 20 Mbit/s.
 *
 * 1. A lets B's probes in (public, full cone, restricted cone). B opens
 *    256 sockets, 16 every 10 ms, and each sends a probe to A. Behind a
 *    filter that drops them, only the few that meet A's spray arrive; here
 *    all of them do, a few microseconds apart (the uplink sends them one
 *    after another). A must still end on a direct path with no failed
 *    attempt, as the clean pairs of test_punch.c do. It did not: each
 *    probe made a new candidate path with a challenge in flight, more of
 *    them than a session has path slots, so each evicted the oldest, whose
 *    answer was on its way; the answers, coming back in the same order,
 *    found their paths gone, came in as new paths and evicted the next
 *    ones, on both sides. No challenge lived to its second try, and
 *    home-mix's public, full-cone and restricted-cone peers of symmetric
 *    NATs stayed relayed or needed a retry (proto/session_path.c,
 *    slot_for_new_path). With all probes at one microsecond (no uplink)
 *    the ties happened to evict one slot over and over, and the punch got
 *    through.
 *
 * 2. A's spray must not make it deaf to its relays. A behind the home
 *    router; B's ports drawn below the spray's range (1000..1023), so no
 *    probe of A's spray ever meets one of B's mappings and A sprays all
 *    1024 probes, 4 ms apart, from its main socket. The sim's boxes
 *    remember 64 remotes per mapping and forget the oldest (sim/nat.h), as
 *    small routers do: without a refresh, 64 probes (a quarter of a second)
 *    pushed R and R2 out of the filter, and until A's next keepalive (25 s)
 *    its NAT dropped what they sent: in home-mix (seed 2) a relay's stop
 *    stream for a dialer 10 s after such a spray, so the dialer found no
 *    session, and the relayed session of a punch that had just failed, so
 *    its retry crossed the peer's and the pair stayed relayed. Checked
 *    while A sprays: both relays still come in. */
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
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

enum { R, R2, A, B, HOSTS };
enum a_kind { A_PUBLIC, A_FULL_CONE, A_RESTRICTED, A_HOME };

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
    uint64_t direct_at[HOSTS];
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

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    (void)host;
    struct slot *s = ctx;
    struct world *w = s->w;
    int j = ev->peer ? index_of(w, ev->peer) : -1;
    if (j < 0)
        return;
    int i = s->index;
    if (ev->type == KNIT_EVENT_PEER_UP)
        w->up[i][j] = true;
    else if (ev->type == KNIT_EVENT_PEER_DOWN)
        w->up[i][j] = false;
    else if (ev->type == KNIT_EVENT_PATH_CHANGED && (i == A || i == B) &&
             (j == A || j == B) && !w->direct_at[i] && !is_relayed(w, i, j))
        w->direct_at[i] = ev->now;
}

static struct knit_sim_natbox *box(struct world *w, int k, uint8_t ip_last,
                                   uint8_t mapping, uint8_t filtering,
                                   uint16_t port_min, uint16_t port_max)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = addr4(40, 0, 0, ip_last, 0);
    c.mapping = mapping;
    c.filtering = filtering;
    c.allocation = mapping == KNIT_MAPPING_ENDPOINT_INDEPENDENT
                       ? KNIT_SIM_PORT_PRESERVING
                       : KNIT_SIM_PORT_RANDOM;
    c.port_min = port_min;
    c.port_max = port_max;
    c.seed = ip_last;
    assert_int_equal(knit_sim_natbox_new(&w->box[k], w->net, w->e, &c, NULL,
                                         0),
                     0);
    return w->box[k];
}

static void add_host(struct world *w, int i, struct knit_addr addr,
                     struct knit_sim_natbox *gw, uint64_t seed)
{
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr, .seed = seed,
                                      .advertise = true};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
    /* Home-mix's uplinks: 20 Mbit/s, so the probes of one batch leave one
     * after another, not in the same microsecond. */
    assert_int_equal(knit_sim_net_set_uplink(w->net, w->host[i], 20000000,
                                             64 * 1024),
                     0);
}

static void run_for(struct world *w, uint64_t span)
{
    knit_sim_run_until(w->e, knit_sim_now(w->e) + span, UINT64_MAX);
}

static struct world *world_new(enum a_kind kind, uint64_t seed)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = seed, .min_delay_us = 10 * MS,
                                    .max_delay_us = 30 * MS};
    w->net = net_with(w->e, &c);
    add_host(w, R, addr4(20, 0, 0, 1, 4001), NULL, 500 + seed * 8);
    add_host(w, R2, addr4(20, 0, 0, 3, 4001), NULL, 503 + seed * 8);
    if (kind == A_PUBLIC)
        add_host(w, A, addr4(20, 0, 0, 2, 4001), NULL, 501 + seed * 8);
    else
        add_host(w, A, addr4(192, 168, 1, 2, 4001),
                 box(w, 0, 1, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                     kind == A_FULL_CONE  ? KNIT_FILTERING_ENDPOINT_INDEPENDENT
                     : kind == A_RESTRICTED ? KNIT_FILTERING_ADDRESS_DEPENDENT
                                          : KNIT_FILTERING_ADDRESS_PORT_DEPENDENT,
                     0, 0),
                 501 + seed * 8);
    /* Behind the home router, B's ports are out of the spray's range. */
    add_host(w, B, addr4(192, 168, 1, 2, 4001),
             box(w, 1, 2, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                 KNIT_FILTERING_ADDRESS_PORT_DEPENDENT,
                 kind == A_HOME ? 1000 : 0, kind == A_HOME ? 1023 : 0),
             502 + seed * 8);
    const struct knit_addr relay_addr[2] = {addr4(20, 0, 0, 1, 4001),
                                            addr4(20, 0, 0, 3, 4001)};
    for (int i = A; i < HOSTS; i++) {
        for (int r = 0; r < 2; r++)
            assert_int_equal(knit_node_connect(node_of(w, i), &w->id[R + r],
                                               &relay_addr[r],
                                               knit_sim_now(w->e)),
                             0);
        knit_sim_host_rearm(w->host[i]);
    }
    run_for(w, 60 * SECOND);
    for (int i = A; i < HOSTS; i++)
        assert_true(w->up[i][R] && w->up[i][R2]);
    /* A dials B as a record found in the DHT would have it: B's own
     * (private) address, which leads nowhere from A, and its two relays,
     * all at once. */
    struct knit_peer_record rec = {.peer = w->id[B]};
    struct knit_addr private_b = addr4(192, 168, 1, 2, 4001);
    assert_int_equal(knit_multiaddr_from_socket(&rec.addrs[rec.addr_count++],
                                                &private_b, NULL),
                     0);
    for (int r = 0; r < 2; r++) {
        struct knit_multiaddr *ma = &rec.addrs[rec.addr_count++];
        assert_int_equal(knit_multiaddr_from_socket(ma, &relay_addr[r],
                                                    &w->id[R + r]),
                         0);
        ma->c[ma->count++].protocol = KNIT_MA_P2P_CIRCUIT;
    }
    size_t attempts = 0;
    assert_int_equal(knit_node_connect_record(node_of(w, A), &rec,
                                              knit_sim_now(w->e), &attempts),
                     0);
    assert_int_equal(attempts, rec.addr_count);
    knit_sim_host_rearm(w->host[A]);
    return w;
}

static void world_free(struct world *w)
{
    knit_sim_net_free(w->net);
    for (int k = 0; k < 2; k++)
        if (w->box[k])
            knit_sim_natbox_free(w->box[k]);
    knit_sim_engine_free(w->e);
    free(w);
}

/* Direct within a few seconds of the relayed dial, with no failed punch
 * (a retry would come only 5 s after a failure), for a few seeds: each
 * its own delays, identities and port draws. A public A may be reached
 * directly without a punch at all. */
static void check_direct_without_retry(enum a_kind kind)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct world *w = world_new(kind, seed);
        uint64_t dialed = knit_sim_now(w->e);
        run_for(w, 15 * SECOND);
        assert_true(w->up[A][B] && w->up[B][A]);
        assert_false(is_relayed(w, A, B));
        assert_false(is_relayed(w, B, A));
        struct knit_node_punch pa, pb;
        bool punched = knit_node_punch_info(node_of(w, A), &w->id[B],
                                            &pa) == KNIT_OK;
        if (kind != A_PUBLIC)
            assert_true(punched);
        if (punched) {
            assert_int_equal(pa.failures, 0);
            assert_int_equal(pa.successes, 1);
            assert_true(w->direct_at[A] > dialed);
            assert_true(w->direct_at[A] - dialed < 3 * SECOND);
        }
        if (knit_node_punch_info(node_of(w, B), &w->id[A], &pb) == KNIT_OK)
            assert_int_equal(pb.failures, 0);
        world_free(w);
    }
}

static void test_public_peer_of_a_symmetric_nat(void **state)
{
    (void)state;
    check_direct_without_retry(A_PUBLIC);
}

static void test_full_cone_peer_of_a_symmetric_nat(void **state)
{
    (void)state;
    check_direct_without_retry(A_FULL_CONE);
}

static void test_restricted_cone_peer_of_a_symmetric_nat(void **state)
{
    (void)state;
    check_direct_without_retry(A_RESTRICTED);
}

/* Would A's box let a datagram from relay r in to A's mapping now? */
static bool admits_relay(struct world *w, int r)
{
    struct knit_addr from = addr4(20, 0, 0, r == R ? 1 : 3, 4001);
    struct knit_addr to = addr4(40, 0, 0, 1, 4001);   /* ports kept */
    struct knit_addr inside;
    return knit_sim_nat_inbound(knit_sim_natbox_nat(w->box[0]),
                                knit_sim_now(w->e), &from, &to,
                                &inside) == KNIT_SIM_NAT_FORWARD;
}

static void test_relays_stay_admitted_while_spraying(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct world *w = world_new(A_HOME, seed);
        uint32_t checked = 0;
        for (int step = 0; step < 100; step++) {
            run_for(w, 100 * MS);
            struct knit_node_traversal tr;
            knit_node_traversal_status(node_of(w, A), knit_sim_now(w->e),
                                       &tr);
            struct knit_node_punch p;
            bool spraying =
                knit_node_punch_info(node_of(w, A), &w->id[B], &p) ==
                    KNIT_OK &&
                p.in_progress && tr.punch_probes > 200;
            if (!spraying)
                continue;
            checked++;
            assert_true(admits_relay(w, R));
            assert_true(admits_relay(w, R2));
        }
        /* The spray ran (and was watched) for seconds, and the punch could
         * not succeed: B's ports are out of its range. */
        assert_true(checked >= 10);
        struct knit_node_punch pa;
        assert_int_equal(knit_node_punch_info(node_of(w, A), &w->id[B], &pa),
                         KNIT_OK);
        assert_int_equal(pa.successes, 0);
        assert_true(pa.failures >= 1);
        world_free(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_peer_of_a_symmetric_nat),
        cmocka_unit_test(test_full_cone_peer_of_a_symmetric_nat),
        cmocka_unit_test(test_restricted_cone_peer_of_a_symmetric_nat),
        cmocka_unit_test(test_relays_stay_admitted_while_spraying),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
