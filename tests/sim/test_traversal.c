/* identify and AutoNAT on the virtual network, with real node cores: each
 * NATed host learns the address its NAT gives it, its NAT's mapping and
 * filtering in RFC 4787 terms and whether it is reachable; a public host
 * finds itself public. Three public servers at distinct IPs in the first
 * network; a single one (the small MPyC deployment) in the second, where
 * the alternate port and repeated answers must do, with low confidence. */
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


#define MAX_HOSTS 16

struct world;
struct slot {
    struct world *w;
    int index;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box[MAX_HOSTS];
    int boxes, n;
    struct knit_sim_host *host[MAX_HOSTS];
    struct knit_peer_id id[MAX_HOSTS];
    struct slot slot[MAX_HOSTS];
};

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    (void)ctx;
    (void)host;
    (void)ev;
}

static struct knit_sim_natbox *box(struct world *w, uint8_t mapping,
                                   uint8_t filtering)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = addr4(40, 0, 0, (uint8_t)(w->boxes + 1), 0);
    c.mapping = mapping;
    c.filtering = filtering;
    c.allocation = mapping == KNIT_MAPPING_ENDPOINT_INDEPENDENT
                       ? KNIT_SIM_PORT_PRESERVING
                       : KNIT_SIM_PORT_RANDOM;
    c.seed = (uint64_t)w->boxes + 5;
    assert_int_equal(knit_sim_natbox_new(&w->box[w->boxes], w->net, w->e, &c,
                                         NULL, 0),
                     0);
    return w->box[w->boxes++];
}

static int add_host_mode(struct world *w, struct knit_addr addr,
                         struct knit_sim_natbox *gw, bool advertise,
                         enum knit_dht_mode mode)
{
    int i = w->n++;
    assert_true(i < MAX_HOSTS);
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr,
                                      .seed = 500 + (uint64_t)i,
                                      .advertise = advertise,
                                      .dht_mode = mode};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
    return i;
}

/* NATed hosts stay DHT clients even when found reachable, so that their
 * lookups do not make them talk to every public node. */
static int add_host(struct world *w, struct knit_addr addr,
                    struct knit_sim_natbox *gw, bool advertise)
{
    return add_host_mode(w, addr, gw, advertise,
                         gw ? KNIT_DHT_MODE_CLIENT : KNIT_DHT_MODE_AUTO);
}

static struct knit_node *node_of(struct world *w, int i)
{
    return knit_sim_host_node(w->host[i]);
}

static void connect_to(struct world *w, int i, int j, struct knit_addr at)
{
    assert_int_equal(knit_node_connect(node_of(w, i), &w->id[j], &at,
                                       knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[i]);
}

static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 3, .min_delay_us = 10 * MS,
                                    .max_delay_us = 40 * MS};
    w->net = net_with(w->e, &c);
    return w;
}

static void world_free(struct world *w)
{
    assert_accounted(w->net);
    knit_sim_net_free(w->net);
    for (int k = 0; k < w->boxes; k++)
        knit_sim_natbox_free(w->box[k]);
    knit_sim_engine_free(w->e);
    free(w);
}

static struct knit_node_traversal status_of(struct world *w, int i)
{
    struct knit_node_traversal t;
    knit_node_traversal_status(node_of(w, i), knit_sim_now(w->e), &t);
    return t;
}

/* The box's IP, and, unless each destination sees its own mapping, a
 * trusted address. */
static void assert_observed(const struct knit_node_traversal *t,
                            struct knit_addr box_ip, bool trusted)
{
    assert_true(t->observed_count >= 1);
    if (trusted)
        assert_true(t->observed[0].trusted);
    struct knit_addr ip = t->observed[0].addr;
    ip.port = 0;
    box_ip.port = 0;
    assert_true(knit_addr_equal(&ip, &box_ip));
}

enum { EIM = KNIT_MAPPING_ENDPOINT_INDEPENDENT,
       APDM = KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
       EIF = KNIT_FILTERING_ENDPOINT_INDEPENDENT,
       ADF = KNIT_FILTERING_ADDRESS_DEPENDENT,
       APDF = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT };

static void test_three_servers_classify_every_nat(void **state)
{
    (void)state;
    struct world *w = world_new();
    int servers = 3;
    for (int k = 0; k < servers; k++)
        add_host(w, addr4(20, 0, (uint8_t)k, 1, 4001), NULL, true);
    int pub = add_host(w, addr4(20, 0, 9, 1, 4001), NULL, true);
    /* Public peers the NATed hosts never talk to (they serve no DHT, so no
     * lookup leads there): AutoNAT helpers whose dial-backs come from an
     * IP the NATs have never seen, as most of a large network is. */
    for (int k = 0; k < 3; k++)
        add_host_mode(w, addr4(20, 0, (uint8_t)(10 + k), 1, 4001), NULL,
                      true, KNIT_DHT_MODE_CLIENT);
    const struct {
        uint8_t mapping, filtering;
    } kinds[] = {{EIM, EIF}, {EIM, ADF}, {EIM, APDF}, {APDM, APDF}};
    int nated[4];
    for (int k = 0; k < 4; k++)
        /* Without a record to publish they dial no DHT servers, so the
         * helpers stay strangers to their NATs. */
        nated[k] = add_host(w, addr4(192, 168, 1, 2, 4001),
                            box(w, kinds[k].mapping, kinds[k].filtering),
                            false);
    for (int i = 0; i < w->n; i++)
        for (int k = 0; k < servers; k++)
            if (i != k)
                connect_to(w, i, k, addr4(20, 0, (uint8_t)k, 1, 4001));
    /* The EIM/ADF host lets other-port dial-backs in, which alone would
     * say public; once helpers exist that verdict must not count, not even
     * for a moment (a node that thinks itself public takes no relay
     * reservations, and nobody can reach it). Public nodes open their
     * alternate socket. */
    uint64_t end = knit_sim_now(w->e) + 240 * SECOND;
    while (knit_sim_now(w->e) < end) {
        knit_sim_run_until(w->e, knit_sim_now(w->e) + SECOND / 4, UINT64_MAX);
        assert_int_equal(status_of(w, nated[1]).alt_port, 0);
    }
    assert_true(status_of(w, nated[1]).relay_count >= 1);

    /* It talks to every helper, so only other-port dial-backs can reach
     * it: enough without a NAT, and said with low confidence. */
    struct knit_node_traversal t = status_of(w, pub);
    assert_int_equal(t.reachability, KNIT_REACHABILITY_PUBLIC);
    assert_false(t.behind_nat);
    assert_int_equal(t.mapping, EIM);
    for (int k = 0; k < 4; k++) {
        t = status_of(w, nated[k]);
        assert_observed(&t, addr4(40, 0, 0, (uint8_t)(k + 1), 0),
                        kinds[k].mapping == EIM);
        assert_true(t.behind_nat);
        assert_int_equal(t.mapping, kinds[k].mapping);
        assert_int_equal(t.mapping_confidence, 2);
        assert_int_equal(t.filtering, kinds[k].filtering);
        assert_int_equal(t.filtering_confidence, 2);
        assert_int_equal(t.reachability, kinds[k].filtering == EIF
                                             ? KNIT_REACHABILITY_PUBLIC
                                             : KNIT_REACHABILITY_PRIVATE);
        assert_true(t.reachability_confidence >= 2);
    }
    world_free(w);
}

/* One public node, as in a small MPyC deployment, and the same network as
 * tests/natlab/test_traversal_lab.sh builds with real NAT: a second public
 * host, a host behind an eim router and one behind an edm router (both
 * filtering like Linux conntrack: address and port). The verdicts must be
 * the lab's. */
static void test_single_server_still_classifies(void **state)
{
    (void)state;
    struct world *w = world_new();
    add_host(w, addr4(20, 0, 0, 1, 4001), NULL, true);
    int pub2 = add_host(w, addr4(20, 0, 0, 2, 4001), NULL, true);
    int easy = add_host(w, addr4(192, 168, 1, 2, 4001), box(w, EIM, APDF), true);
    int hard = add_host(w, addr4(192, 168, 1, 2, 4001), box(w, APDM, APDF), true);
    connect_to(w, pub2, 0, addr4(20, 0, 0, 1, 4001));
    connect_to(w, easy, 0, addr4(20, 0, 0, 1, 4001));
    connect_to(w, hard, 0, addr4(20, 0, 0, 1, 4001));
    knit_sim_run_until(w->e, knit_sim_now(w->e) + 180 * SECOND, UINT64_MAX);

    struct knit_node_traversal t = status_of(w, pub2);
    assert_int_equal(t.reachability, KNIT_REACHABILITY_PUBLIC);
    assert_false(t.behind_nat);
    t = status_of(w, easy);
    assert_observed(&t, addr4(40, 0, 0, 1, 0), true);
    assert_int_equal(t.observed[0].addr.port, 4001);   /* preserved */
    assert_int_equal(t.mapping, EIM);
    /* Two public peers at two IPs: high; the first alone gives two ports
     * of one IP (the alternate port): low. */
    assert_true(t.mapping_confidence >= 1);
    assert_int_equal(t.filtering, APDF);
    assert_int_equal(t.reachability, KNIT_REACHABILITY_PRIVATE);
    assert_int_equal(t.relay_count, 2);           /* both public peers */
    t = status_of(w, hard);
    assert_observed(&t, addr4(40, 0, 0, 2, 0), false);
    assert_int_equal(t.mapping, APDM);
    assert_int_equal(t.reachability, KNIT_REACHABILITY_PRIVATE);
    assert_int_equal(t.relay_count, 2);
    world_free(w);
}

/* A host behind a full-cone NAT (EIM, EIF) is found public. Records it
 * signed before the verdict listed only its relays, and such copies live
 * on at DHT servers; so it keeps its reservations (they keep those copies
 * good), while its current record gives its public address and no
 * circuit. It used to drop them, and a lookup that met an old copy led
 * nowhere. */
static void test_full_cone_keeps_reservations(void **state)
{
    (void)state;
    struct world *w = world_new();
    for (int k = 0; k < 3; k++)
        add_host(w, addr4(20, 0, (uint8_t)k, 1, 4001), NULL, true);
    for (int k = 0; k < 3; k++)
        add_host_mode(w, addr4(20, 0, (uint8_t)(10 + k), 1, 4001), NULL,
                      true, KNIT_DHT_MODE_CLIENT);
    int cone = add_host(w, addr4(192, 168, 1, 2, 4001), box(w, EIM, EIF),
                        true);
    for (int i = 0; i < w->n; i++)
        for (int k = 0; k < 3; k++)
            if (i != k)
                connect_to(w, i, k, addr4(20, 0, (uint8_t)k, 1, 4001));
    knit_sim_run_until(w->e, knit_sim_now(w->e) + 240 * SECOND, UINT64_MAX);

    struct knit_node_traversal t = status_of(w, cone);
    assert_int_equal(t.reachability, KNIT_REACHABILITY_PUBLIC);
    assert_true(t.behind_nat);
    assert_true(t.relay_count >= 1);

    size_t len = 0;
    const uint8_t *signed_rec = knit_node_record(node_of(w, cone), &len);
    assert_non_null(signed_rec);
    struct knit_peer_record rec;
    assert_int_equal(knit_record_verify(&rec, signed_rec, len), 0);
    bool has_public = false;
    for (uint8_t k = 0; k < rec.addr_count; k++) {
        assert_false(knit_multiaddr_is_circuit(&rec.addrs[k]));
        struct knit_addr a;
        struct knit_addr want = addr4(40, 0, 0, 1, 4001);
        if (knit_multiaddr_to_socket(&rec.addrs[k], &a) == KNIT_OK)
            has_public |= knit_addr_equal(&a, &want);
    }
    assert_true(has_public);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_servers_classify_every_nat),
        cmocka_unit_test(test_single_server_still_classifies),
        cmocka_unit_test(test_full_cone_keeps_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
