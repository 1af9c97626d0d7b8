/* Hosts behind NAT boxes (sim/natbox.h) on the virtual network, with real
 * node cores: a private host reaching a public one (and the public one
 * seeing the mapping as the path), filtering keeping a public dialler out
 * until the private host dials, hairpinning on and off, carrier-grade NAT,
 * a mapping expiring under a silent host, and a private host removing
 * itself from inside its own event. The NAT rules alone are in test_nat.c
 * and test_nat_chain.c. All addresses are virtual. */
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
#include "proto/record.h"
#include "proto/session.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

#define MAX_HOSTS 8
#define MAX_BOXES 4

static const uint8_t EIM = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
static const uint8_t EIF = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
static const uint8_t APDF = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;

struct world;

struct slot {
    struct world *w;
    int index;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box[MAX_BOXES];
    int boxes;
    int n;
    struct knit_sim_host *host[MAX_HOSTS];
    struct knit_peer_id id[MAX_HOSTS];
    struct slot slot[MAX_HOSTS];
    bool up[MAX_HOSTS][MAX_HOSTS];   /* i saw PEER_UP for j */
    int remove_on_up;
    struct knit_session_config session;
};

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct slot *s = ctx;
    struct world *w = s->w;
    assert_ptr_equal(host, w->host[s->index]);
    if (ev->type != KNIT_EVENT_PEER_UP)
        return;
    for (int j = 0; j < w->n; j++)
        if (knit_peer_id_equal(ev->peer, &w->id[j]))
            w->up[s->index][j] = true;
    if (s->index == w->remove_on_up) {
        knit_sim_net_remove_host(w->net, host);
        w->host[s->index] = NULL;
    }
}

static struct world *world_new(uint64_t keepalive_us)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->remove_on_up = -1;
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 7, .min_delay_us = 10 * MS,
                                    .max_delay_us = 20 * MS};
    w->net = net_with(w->e, &c);
    knit_session_config_default(&w->session);
    if (keepalive_us) {
        w->session.keepalive_us = keepalive_us;
        w->session.idle_timeout_us = 3 * keepalive_us;
    }
    return w;
}

static void world_free(struct world *w)
{
    assert_accounted(w->net);
    knit_sim_net_free(w->net);
    for (int i = 0; i < w->boxes; i++)
        knit_sim_natbox_free(w->box[i]);
    knit_sim_engine_free(w->e);
    free(w);
}

struct box_opts {
    uint8_t filtering;
    bool hairpin;
    bool preserving;                /* else sequential from port_min */
    uint16_t port_min;
    uint64_t timeout_us;
};

static struct knit_sim_natbox *add_box(struct world *w, struct knit_addr ip,
                                       struct knit_sim_natbox *outer,
                                       struct box_opts o)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = ip;
    c.mapping = EIM;
    c.filtering = o.filtering;
    c.allocation = o.preserving ? KNIT_SIM_PORT_PRESERVING
                                : KNIT_SIM_PORT_SEQUENTIAL;
    if (!o.preserving) {
        c.port_min = o.port_min;
        c.port_max = (uint16_t)(o.port_min + 999);
    }
    c.mapping_timeout_us = o.timeout_us;
    c.hairpin = o.hairpin;
    assert_true(w->boxes < MAX_BOXES);
    struct knit_sim_natbox *b = NULL;
    assert_int_equal(knit_sim_natbox_new(&b, w->net, w->e, &c, outer, 0), 0);
    w->box[w->boxes++] = b;
    return b;
}

static struct knit_sim_nat_stats nat_stats(struct knit_sim_natbox *b)
{
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(knit_sim_natbox_nat(b), &st);
    return st;
}

/* A host at addr, behind gw (NULL: public); returns its index. */
static int add_host(struct world *w, struct knit_addr addr,
                    struct knit_sim_natbox *gw)
{
    int i = w->n++;
    assert_true(i < MAX_HOSTS);
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr,
                                      .seed = 100 + (uint64_t)i,
                                      .session = &w->session};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
    return i;
}

static void dial(struct world *w, int i, int j, struct knit_addr at)
{
    assert_int_equal(knit_node_connect(knit_sim_host_node(w->host[i]),
                                       &w->id[j], &at, knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[i]);
}

static bool both_up(const struct world *w, int i, int j)
{
    return w->up[i][j] && w->up[j][i];
}

/* Runs until i and j both saw the session come up, or for span. */
static bool run_until_up(struct world *w, int i, int j, uint64_t span)
{
    uint64_t deadline = knit_sim_now(w->e) + span;
    while (!both_up(w, i, j) && knit_sim_next_time(w->e) <= deadline)
        knit_sim_step(w->e);
    return both_up(w, i, j);
}

static void run_for(struct world *w, uint64_t span)
{
    knit_sim_run_until(w->e, knit_sim_now(w->e) + span, UINT64_MAX);
}

/* The active path host i has to host j. */
static struct knit_addr path_of(struct world *w, int i, int j)
{
    struct knit_node_peer peers[MAX_HOSTS];
    size_t n = knit_node_peers(knit_sim_host_node(w->host[i]), peers,
                               MAX_HOSTS);
    for (size_t k = 0; k < n; k++)
        if (knit_peer_id_equal(&peers[k].id, &w->id[j]))
            return peers[k].addr;
    fail_msg("host %d has no session with host %d", i, j);
    return peers[0].addr;
}

static void assert_addr(struct knit_addr got, struct knit_addr want)
{
    assert_true(knit_addr_equal(&got, &want));
}

static uint64_t rx_of(struct world *w, int i)
{
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_host_stats(w->net, w->host[i], &hs), 0);
    return hs.rx_packets;
}

#define PUBLIC addr4(203, 0, 113, 10, 4001)
#define HOME1 addr4(198, 51, 100, 1, 0)
#define HOME2 addr4(198, 51, 100, 2, 0)
#define PRIV1 addr4(192, 168, 1, 2, 4001)
#define PRIV2 addr4(192, 168, 1, 3, 4001)

/* (i) Behind EIM/EIF boxes, two hosts with the same private address (one
 * per home) reach a public host, which sees each at its box's mapping. */
static void test_private_reaches_public(void **state)
{
    (void)state;
    struct world *w = world_new(0);
    struct box_opts o = {.filtering = EIF, .port_min = 20000};
    struct knit_sim_natbox *b1 = add_box(w, HOME1, NULL, o);
    o.port_min = 30000;
    struct knit_sim_natbox *b2 = add_box(w, HOME2, NULL, o);
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, b1);
    int c = add_host(w, PRIV1, b2);
    assert_int_equal(knit_sim_net_count(w->net), 5);   /* 2 boxes, 3 hosts */
    /* The private address is not on the Internet. */
    struct knit_addr priv = PRIV1, home1 = HOME1;
    assert_null(knit_sim_net_find_host(w->net, &priv));

    dial(w, a, p, PUBLIC);
    dial(w, c, p, PUBLIC);
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    assert_true(run_until_up(w, c, p, 5 * SECOND));
    assert_addr(path_of(w, p, a), addr4(198, 51, 100, 1, 20000));
    assert_addr(path_of(w, p, c), addr4(198, 51, 100, 2, 30000));
    assert_addr(path_of(w, a, p), PUBLIC);

    struct knit_sim_nat_stats st = nat_stats(b1);
    assert_int_equal(st.mappings_created, 1);
    assert_true(st.forwarded_out > 0 && st.forwarded_in > 0);
    assert_int_equal(st.dropped_no_mapping + st.dropped_filtered, 0);
    /* The box's public IP took the Internet side of the traffic. */
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_addr_stats(w->net, &home1, &hs), 0);
    assert_int_equal(hs.rx_packets, st.forwarded_in);
    assert_int_equal(hs.tx_packets, st.forwarded_out);
    assert_true(rx_of(w, a) >= st.forwarded_in);
    world_free(w);
}

/* (ii) Behind APDF, a public host's dial is filtered until the private host
 * has sent to it; then the same pair come up. */
static void test_apdf_keeps_dialler_out(void **state)
{
    (void)state;
    struct world *w = world_new(0);
    struct knit_sim_natbox *b =
        add_box(w, HOME1, NULL,
                (struct box_opts){.filtering = APDF, .preserving = true});
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, b);
    dial(w, p, a, addr4(198, 51, 100, 1, 4001));
    assert_false(run_until_up(w, p, a, 10 * SECOND));
    assert_false(w->up[p][a] || w->up[a][p]);
    assert_int_equal(rx_of(w, a), 0);
    struct knit_sim_nat_stats st = nat_stats(b);
    assert_true(st.dropped_no_mapping > 0);
    assert_int_equal(st.forwarded_in, 0);

    dial(w, a, p, PUBLIC);
    assert_true(run_until_up(w, p, a, 5 * SECOND));
    assert_addr(path_of(w, p, a), addr4(198, 51, 100, 1, 4001));
    st = nat_stats(b);
    assert_int_equal(st.mappings_created, 1);
    assert_true(st.forwarded_in > 0);
    world_free(w);
}

/* (iii) Two hosts behind one box: the second dials the first at its public
 * mapping, which works only by hairpinning. */
static void hairpin_case(bool hairpin)
{
    struct world *w = world_new(0);
    struct knit_sim_natbox *b =
        add_box(w, HOME1, NULL,
                (struct box_opts){.filtering = EIF, .hairpin = hairpin,
                                  .port_min = 20000});
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, b);
    int c = add_host(w, PRIV2, b);
    dial(w, a, p, PUBLIC);   /* a gets its mapping, 198.51.100.1:20000 */
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    assert_addr(path_of(w, p, a), addr4(198, 51, 100, 1, 20000));

    dial(w, c, a, addr4(198, 51, 100, 1, 20000));
    struct knit_sim_nat_stats st;
    if (hairpin) {
        assert_true(run_until_up(w, c, a, 5 * SECOND));
        /* Each sees the other at its mapping, not its private address. */
        assert_addr(path_of(w, a, c), addr4(198, 51, 100, 1, 20001));
        assert_addr(path_of(w, c, a), addr4(198, 51, 100, 1, 20000));
        st = nat_stats(b);
        assert_true(st.hairpinned > 0);
        assert_int_equal(st.hairpin_refused, 0);
    } else {
        assert_false(run_until_up(w, c, a, 10 * SECOND));
        assert_false(w->up[c][a] || w->up[a][c]);
        st = nat_stats(b);
        assert_true(st.hairpin_refused > 0);
        assert_int_equal(st.hairpinned, 0);
        assert_int_equal(st.mappings_created, 1);   /* c got none */
    }
    world_free(w);
}

static void test_hairpin_on(void **state)
{
    (void)state;
    hairpin_case(true);
}

static void test_hairpin_off(void **state)
{
    (void)state;
    hairpin_case(false);
}

/* (iv) Carrier-grade NAT: a home box behind a CGN box; the public host sees
 * the CGN's public IP, and a public dial to the CGN mapping gets back in
 * through both boxes. */
static void test_carrier_grade(void **state)
{
    (void)state;
    struct world *w = world_new(0);
    struct knit_sim_natbox *cgn = add_box(
        w, addr4(198, 51, 100, 200, 0), NULL,
        (struct box_opts){.filtering = EIF, .port_min = 30000});
    struct knit_sim_natbox *home = add_box(
        w, addr4(100, 64, 0, 2, 0), cgn,
        (struct box_opts){.filtering = EIF, .port_min = 20000});
    /* The home box's public IP is in the CGN's realm, not on the Internet. */
    struct knit_sim_net_host_stats hs;
    struct knit_addr inner = addr4(100, 64, 0, 2, 0);
    assert_int_equal(knit_sim_net_addr_stats(w->net, &inner, &hs),
                     KNIT_E_NOT_FOUND);
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, home);
    dial(w, a, p, PUBLIC);
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    assert_addr(path_of(w, p, a), addr4(198, 51, 100, 200, 30000));
    struct knit_sim_nat_stats h = nat_stats(home), c = nat_stats(cgn);
    assert_true(h.forwarded_out > 0 && h.forwarded_in > 0);
    assert_int_equal(c.forwarded_out, h.forwarded_out);
    assert_int_equal(c.forwarded_in, h.forwarded_in);

    /* A second public host dials the same mapping (EIM/EIF all the way). */
    int q = add_host(w, addr4(203, 0, 113, 11, 4001), NULL);
    dial(w, q, a, addr4(198, 51, 100, 200, 30000));
    assert_true(run_until_up(w, q, a, 5 * SECOND));
    assert_addr(path_of(w, a, q), addr4(203, 0, 113, 11, 4001));
    world_free(w);
}

/* (v) With keepalives far apart, the mapping expires under a silent host
 * and the public host's next datagram is dropped at the box. */
static void test_mapping_timeout(void **state)
{
    (void)state;
    struct world *w = world_new(60 * SECOND);
    struct knit_sim_natbox *b = add_box(
        w, HOME1, NULL,
        (struct box_opts){.filtering = EIF, .port_min = 20000,
                          .timeout_us = 5 * SECOND});
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, b);
    dial(w, a, p, PUBLIC);
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    run_for(w, SECOND);   /* let the handshake's last datagrams land */
    uint64_t rx = rx_of(w, a);
    struct knit_sim_nat_stats st = nat_stats(b);
    assert_int_equal(st.live_mappings, 1);
    assert_int_equal(st.dropped_no_mapping, 0);

    run_for(w, 6 * SECOND);
    assert_int_equal(knit_sim_nat_expire(knit_sim_natbox_nat(b),
                                         knit_sim_now(w->e)), 1);
    assert_int_equal(nat_stats(b).live_mappings, 0);
    /* p still holds the session and sends on it: a CLOSE. */
    assert_int_equal(knit_node_disconnect(knit_sim_host_node(w->host[p]),
                                          &w->id[a], knit_sim_now(w->e)),
                     0);
    knit_sim_host_rearm(w->host[p]);
    run_for(w, SECOND);
    st = nat_stats(b);
    assert_true(st.dropped_no_mapping > 0);
    assert_int_equal(rx_of(w, a), rx);
    assert_true(knit_node_peer_is_up(knit_sim_host_node(w->host[a]),
                                     &w->id[p]));
    world_free(w);
}

/* A private host removes itself inside its PEER_UP for a second public
 * host dialling in: the public hosts' later datagrams pass the box and are
 * blackholed inside; a new host takes the private address and comes up.
 * ASan watches the deferred free. */
static void test_remove_behind_box(void **state)
{
    (void)state;
    struct world *w = world_new(2 * SECOND);
    struct knit_sim_natbox *b = add_box(
        w, HOME1, NULL, (struct box_opts){.filtering = EIF, .port_min = 20000});
    int p = add_host(w, PUBLIC, NULL);
    int a = add_host(w, PRIV1, b);
    int q = add_host(w, addr4(203, 0, 113, 11, 4001), NULL);
    dial(w, a, p, PUBLIC);
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    w->remove_on_up = a;
    dial(w, q, a, addr4(198, 51, 100, 1, 20000));
    run_for(w, 5 * SECOND);
    assert_null(w->host[a]);
    assert_true(w->up[a][q]);
    assert_int_equal(knit_sim_net_count(w->net), 3);
    uint64_t blackholed = stats_of(w->net).blackholed;
    assert_true(blackholed > 0);   /* p's keepalives, let in, nobody home */
    assert_true(nat_stats(b).forwarded_in > 0);

    w->remove_on_up = -1;
    int c = add_host(w, PRIV1, b);
    dial(w, c, p, PUBLIC);
    assert_true(run_until_up(w, c, p, 5 * SECOND));
    /* Same private endpoint, so the same EIM mapping, refreshed. */
    assert_addr(path_of(w, p, c), addr4(198, 51, 100, 1, 20000));
    knit_sim_net_remove_host(w->net, w->host[c]);
    knit_sim_net_remove_host(w->net, w->host[c]);   /* still allocated */
    assert_int_equal(knit_sim_net_count(w->net), 3);
    world_free(w);
}

/* IP-wide raw endpoints: they take what no exact endpoint holds, and are
 * detached by their IP with port 0. */
struct sink {
    int n;
    struct knit_addr last_dst;
};

static void sink_recv(void *ctx, const struct knit_addr *src,
                      const struct knit_addr *dst, const uint8_t *pkt,
                      size_t len)
{
    (void)src;
    (void)pkt;
    (void)len;
    struct sink *s = ctx;
    s->n++;
    s->last_dst = *dst;
}

static void test_attach_ip(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct knit_sim_net_config c = {.min_delay_us = MS, .max_delay_us = MS};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink wide = {0}, exact = {0};
    struct knit_addr ip = addr4(198, 51, 100, 1, 9), x = addr4(1, 2, 3, 4, 5);
    assert_int_equal(knit_sim_net_attach_ip(n, &ip, sink_recv, &wide), 0);
    assert_int_equal(knit_sim_net_attach_ip(n, &ip, sink_recv, &wide),
                     KNIT_E_EXISTS);
    assert_int_equal(knit_sim_net_attach_ip(n, &ip, NULL, &wide),
                     KNIT_E_INVAL);
    struct knit_addr held = addr4(198, 51, 100, 1, 4001);
    assert_int_equal(knit_sim_net_attach(n, &held, sink_recv, &exact), 0);
    const uint8_t d[3] = {1, 2, 3};
    struct knit_addr other = addr4(198, 51, 100, 1, 777);
    knit_sim_net_send(n, &x, &other, d, 3);
    knit_sim_net_send(n, &x, &held, d, 3);
    knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
    assert_int_equal(wide.n, 1);
    assert_addr(wide.last_dst, other);
    assert_int_equal(exact.n, 1);
    /* Port 0 names the wide endpoint; a port it merely catches does not. */
    assert_int_equal(knit_sim_net_detach(n, &other), KNIT_E_NOT_FOUND);
    struct knit_addr ip0 = addr4(198, 51, 100, 1, 0);
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_addr_stats(n, &ip0, &hs), 0);
    assert_int_equal(hs.rx_packets, 1);
    assert_int_equal(knit_sim_net_detach(n, &ip0), 0);
    assert_int_equal(knit_sim_net_detach(n, &ip0), KNIT_E_NOT_FOUND);
    knit_sim_net_send(n, &x, &other, d, 3);
    knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
    assert_int_equal(wide.n, 1);
    assert_int_equal(stats_of(n).blackholed, 1);
    assert_int_equal(knit_sim_net_count(n), 1);
    assert_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_reaches_public),
        cmocka_unit_test(test_apdf_keeps_dialler_out),
        cmocka_unit_test(test_hairpin_on),
        cmocka_unit_test(test_hairpin_off),
        cmocka_unit_test(test_carrier_grade),
        cmocka_unit_test(test_mapping_timeout),
        cmocka_unit_test(test_remove_behind_box),
        cmocka_unit_test(test_attach_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
