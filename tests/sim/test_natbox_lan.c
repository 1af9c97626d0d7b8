/* The LAN behind a NAT box (sim/natbox.h, sim/net.c): two hosts behind one
 * box reach each other at their private addresses straight across the LAN,
 * after the box's LAN delay, untranslated and with hairpinning off; a
 * host behind another box, a wrong port, or a host gone is not reached so;
 * carrier-grade NAT keeps its subscribers apart (an inner box's hosts
 * reach each other, not the outer realm's hosts, and the outer realm does
 * not reach the inner box's public IP across the LAN); the same seed gives
 * the same run. Real node cores where a session shows the path, raw
 * datagrams from knit_sim_host_send where the exact arrival time is
 * checked. All addresses are virtual. */
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
/* Not the default, so a delay that came from elsewhere shows. */
#define LAN_US 3000ull

static const uint8_t EIM = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
static const uint8_t EIF = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
static const uint8_t APDF = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;

/* Not a knit datagram: a node drops it without a word. */
static const uint8_t JUNK[5] = {0xde, 0xad, 0xbe, 0xef, 0x00};

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
    uint64_t up_at[MAX_HOSTS][MAX_HOSTS];   /* i saw PEER_UP for j, +1 */
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
        if (knit_peer_id_equal(ev->peer, &w->id[j]) && !w->up_at[s->index][j])
            w->up_at[s->index][j] = knit_sim_now(w->e) + 1;
}

static struct world *world_new(uint64_t seed)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = seed, .min_delay_us = 10 * MS,
                                    .max_delay_us = 20 * MS,
                                    .jitter_us = 2 * MS, .loss = 0.01};
    w->net = net_with(w->e, &c);
    knit_session_config_default(&w->session);
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

/* EIM, sequential ports from port_min, hairpinning off. */
static struct knit_sim_natbox *add_box(struct world *w, struct knit_addr ip,
                                       struct knit_sim_natbox *outer,
                                       uint8_t filtering, uint16_t port_min)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = ip;
    c.mapping = EIM;
    c.filtering = filtering;
    c.allocation = KNIT_SIM_PORT_SEQUENTIAL;
    c.port_min = port_min;
    c.port_max = (uint16_t)(port_min + 999);
    c.hairpin = false;
    assert_true(w->boxes < MAX_BOXES);
    struct knit_sim_natbox *b = NULL;
    assert_int_equal(knit_sim_natbox_new(&b, w->net, w->e, &c, outer, LAN_US),
                     0);
    w->box[w->boxes++] = b;
    return b;
}

static struct knit_sim_nat_stats nat_stats(struct knit_sim_natbox *b)
{
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(knit_sim_natbox_nat(b), &st);
    return st;
}

/* Nothing at all went through the box's NAT. */
static void assert_nat_untouched(struct knit_sim_natbox *b)
{
    struct knit_sim_nat_stats st = nat_stats(b);
    assert_int_equal(st.mappings_created, 0);
    assert_int_equal(st.forwarded_out + st.forwarded_in, 0);
    assert_int_equal(st.hairpinned + st.hairpin_refused, 0);
    assert_int_equal(st.dropped_no_mapping + st.dropped_filtered +
                         st.dropped_invalid + st.dropped_no_port,
                     0);
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
    return w->up_at[i][j] && w->up_at[j][i];
}

/* Runs until i and j both saw the session come up, or for span. */
static bool run_until_up(struct world *w, int i, int j, uint64_t span)
{
    uint64_t deadline = knit_sim_now(w->e) + span;
    while (!both_up(w, i, j) && knit_sim_next_time(w->e) <= deadline)
        knit_sim_step(w->e);
    return both_up(w, i, j);
}

static void run_to(struct world *w, uint64_t t)
{
    knit_sim_run_until(w->e, t, UINT64_MAX);
}

/* Host i's session with host j. */
static struct knit_node_peer peer_of(struct world *w, int i, int j)
{
    struct knit_node_peer peers[MAX_HOSTS];
    size_t n = knit_node_peers(knit_sim_host_node(w->host[i]), peers,
                               MAX_HOSTS);
    for (size_t k = 0; k < n; k++)
        if (knit_peer_id_equal(&peers[k].id, &w->id[j]))
            return peers[k];
    fail_msg("host %d has no session with host %d", i, j);
    return peers[0];
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

static void send_junk(struct world *w, int i, int sock, struct knit_addr to)
{
    assert_int_equal(knit_sim_host_send(w->host[i], sock, &to, JUNK,
                                        sizeof JUNK),
                     0);
}

#define PUBLIC addr4(203, 0, 113, 10, 4001)
#define HOME1 addr4(198, 51, 100, 1, 0)
#define HOME2 addr4(198, 51, 100, 2, 0)
#define PRIV1 addr4(192, 168, 1, 2, 4001)
#define PRIV2 addr4(192, 168, 1, 3, 4001)

/* (i) A raw datagram to a neighbour's private address arrives exactly
 * LAN_US later, not a microsecond sooner; to an extra socket of it too,
 * and to the sender's own address. The box's NAT sees none of it. */
static void test_lan_delay(void **state)
{
    (void)state;
    struct world *w = world_new(7);
    struct knit_sim_natbox *b = add_box(w, HOME1, NULL, APDF, 20000);
    int a = add_host(w, PRIV1, b);
    int c = add_host(w, PRIV2, b);
    run_to(w, SECOND);
    uint64_t t0 = knit_sim_now(w->e);
    uint64_t rx_c = rx_of(w, c);

    send_junk(w, a, 0, PRIV2);
    run_to(w, t0 + LAN_US - 1);
    assert_int_equal(rx_of(w, c), rx_c);
    run_to(w, t0 + LAN_US);
    assert_int_equal(rx_of(w, c), rx_c + 1);
    struct knit_sim_net_stats st = stats_of(w->net);
    assert_int_equal(st.lan_delivered, 1);
    assert_int_equal(st.delivered, 1);

    /* An extra socket of c is a private endpoint of its own. */
    int sock = 0;
    assert_int_equal(knit_sim_host_open_socket(w->host[c], 0, &sock), 0);
    struct knit_addr at;
    assert_int_equal(knit_sim_host_socket_addr(w->host[c], sock, &at), 0);
    t0 = knit_sim_now(w->e);
    send_junk(w, a, 0, at);
    run_to(w, t0 + LAN_US);
    assert_int_equal(rx_of(w, c), rx_c + 2);
    /* A host reaches itself at its own private address, as by loopback. */
    uint64_t rx_a = rx_of(w, a);
    send_junk(w, a, 0, PRIV1);
    run_to(w, knit_sim_now(w->e) + LAN_US);
    assert_int_equal(rx_of(w, a), rx_a + 1);
    st = stats_of(w->net);
    assert_int_equal(st.lan_delivered, 3);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.sent, 3);
    assert_nat_untouched(b);
    world_free(w);
}

/* (ii) Behind one APDF box with hairpinning off, two node cores come up
 * at each other's private addresses: each sees the other's private
 * endpoint as the path, the handshake and the measured round trip take
 * LAN hops only, and the NAT made no mapping. A public host dialled
 * afterwards goes through the NAT as ever. */
static void test_neighbours_by_private_address(void **state)
{
    (void)state;
    struct world *w = world_new(7);
    struct knit_sim_natbox *b = add_box(w, HOME1, NULL, APDF, 20000);
    int a = add_host(w, PRIV1, b);
    int c = add_host(w, PRIV2, b);
    uint64_t t0 = knit_sim_now(w->e);
    dial(w, a, c, PRIV2);
    assert_true(run_until_up(w, a, c, 5 * SECOND));
    assert_addr(peer_of(w, a, c).addr, PRIV2);
    assert_addr(peer_of(w, c, a).addr, PRIV1);
    /* Up on a whole number of LAN hops: nothing crossed the Internet. */
    assert_int_equal((w->up_at[a][c] - 1 - t0) % LAN_US, 0);
    assert_true(w->up_at[a][c] - 1 - t0 < 10 * LAN_US);
    /* A minute of the session's own traffic measures the round trip. */
    run_to(w, 60 * SECOND);
    assert_int_equal(peer_of(w, a, c).srtt_us, 2 * LAN_US);
    assert_nat_untouched(b);
    struct knit_sim_net_stats st = stats_of(w->net);
    assert_true(st.lan_delivered > 0);
    assert_int_equal(st.lan_delivered, st.delivered);

    int p = add_host(w, PUBLIC, NULL);
    dial(w, a, p, PUBLIC);
    assert_true(run_until_up(w, a, p, 5 * SECOND));
    assert_addr(peer_of(w, p, a).addr, addr4(198, 51, 100, 1, 20000));
    assert_int_equal(nat_stats(b).mappings_created, 1);
    assert_int_equal(nat_stats(b).hairpin_refused, 0);
    world_free(w);
}

/* (iii) What is not a host of the sender's own box takes the NAT as
 * before: a host behind another box at a private address (the same one
 * as a neighbour of the sender's would have), a neighbour's IP at a port
 * it does not hold, a neighbour gone. A datagram on the LAN when its
 * receiver leaves is blackholed, not counted as a LAN delivery. */
static void test_not_a_neighbour(void **state)
{
    (void)state;
    struct world *w = world_new(7);
    struct knit_sim_natbox *b1 = add_box(w, HOME1, NULL, EIF, 20000);
    struct knit_sim_natbox *b2 = add_box(w, HOME2, NULL, EIF, 30000);
    int a = add_host(w, PRIV1, b1);
    int c = add_host(w, PRIV2, b2);
    dial(w, a, c, PRIV2);
    assert_false(run_until_up(w, a, c, 5 * SECOND));
    assert_int_equal(rx_of(w, c), 0);
    struct knit_sim_net_stats st = stats_of(w->net);
    assert_int_equal(st.lan_delivered, 0);
    /* Out through b1 onto the Internet, where 192.168.1.3 is nobody. */
    assert_true(nat_stats(b1).forwarded_out > 0);
    assert_int_equal(st.blackholed, nat_stats(b1).forwarded_out);
    assert_nat_untouched(b2);

    /* A neighbour of a's at a port it does not hold. */
    int d = add_host(w, PRIV2, b1);
    uint64_t out = nat_stats(b1).forwarded_out;
    send_junk(w, a, 0, addr4(192, 168, 1, 3, 4002));
    run_to(w, knit_sim_now(w->e) + SECOND);
    assert_int_equal(rx_of(w, d), 0);
    assert_int_equal(nat_stats(b1).forwarded_out, out + 1);
    assert_int_equal(stats_of(w->net).lan_delivered, 0);

    /* On the LAN when d leaves: blackholed on arrival. */
    uint64_t blackholed = stats_of(w->net).blackholed;
    send_junk(w, a, 0, PRIV2);
    knit_sim_net_remove_host(w->net, w->host[d]);
    w->host[d] = NULL;
    run_to(w, knit_sim_now(w->e) + SECOND);
    st = stats_of(w->net);
    assert_int_equal(st.blackholed, blackholed + 1);
    assert_int_equal(st.lan_delivered, 0);
    assert_int_equal(nat_stats(b1).forwarded_out, out + 1);
    /* Gone before the send: through the NAT again. */
    send_junk(w, a, 0, PRIV2);
    run_to(w, knit_sim_now(w->e) + SECOND);
    assert_int_equal(nat_stats(b1).forwarded_out, out + 2);
    world_free(w);
}

/* (iv) Carrier-grade NAT: two homes (inner boxes) behind one CGN, and two
 * hosts straight behind the CGN. Hosts of a home reach each other on its
 * LAN, the CGN's hosts reach each other on the CGN's; a home's host does
 * not reach a CGN host by its private address (through both NATs onto the
 * Internet instead), nor does a CGN host reach a home box's public IP
 * across the CGN's LAN, and a home's private address names its own host,
 * never the other home's. */
static void test_carrier_grade(void **state)
{
    (void)state;
    struct world *w = world_new(7);
    struct knit_sim_natbox *cgn =
        add_box(w, addr4(198, 51, 100, 200, 0), NULL, EIF, 30000);
    struct knit_sim_natbox *h1 =
        add_box(w, addr4(100, 64, 0, 2, 0), cgn, EIF, 20000);
    struct knit_sim_natbox *h2 =
        add_box(w, addr4(100, 64, 0, 3, 0), cgn, EIF, 20000);
    int a = add_host(w, PRIV1, h1);
    int c = add_host(w, PRIV2, h1);
    int e = add_host(w, PRIV2, h2);
    struct knit_addr f_at = addr4(100, 64, 0, 9, 4001);
    struct knit_addr g_at = addr4(100, 64, 0, 10, 4001);
    int f = add_host(w, f_at, cgn);
    int g = add_host(w, g_at, cgn);

    /* While the nodes are idle, so every count is the test's datagrams'.
     * a -> f: home box, then CGN, then the Internet, where it is lost. */
    send_junk(w, a, 0, f_at);
    run_to(w, SECOND);
    assert_int_equal(rx_of(w, f), 0);
    assert_int_equal(nat_stats(h1).forwarded_out, 1);
    assert_int_equal(nat_stats(cgn).forwarded_out, 1);
    assert_int_equal(stats_of(w->net).blackholed, 1);

    /* f -> a's new mapping on h1 (EIF: h1 would let it in): not across
     * the CGN's LAN but up into the CGN and out. */
    send_junk(w, f, 0, addr4(100, 64, 0, 2, 20000));
    run_to(w, 2 * SECOND);
    assert_int_equal(rx_of(w, a), 0);
    assert_int_equal(nat_stats(h1).forwarded_in, 0);
    assert_int_equal(nat_stats(cgn).forwarded_out, 2);
    struct knit_sim_net_stats st = stats_of(w->net);
    assert_int_equal(st.blackholed, 2);
    assert_int_equal(st.lan_delivered, 0);
    /* Hops up to a box: a to h1, h1 to the CGN, f to the CGN. */
    assert_int_equal(st.delivered, 3);

    /* Neighbours on each LAN come up at their private addresses; the
     * other home's 192.168.1.3 hears nothing. */
    dial(w, a, c, PRIV2);
    assert_true(run_until_up(w, a, c, 5 * SECOND));
    assert_addr(peer_of(w, c, a).addr, PRIV1);
    dial(w, f, g, g_at);
    assert_true(run_until_up(w, f, g, 5 * SECOND));
    assert_addr(peer_of(w, g, f).addr, f_at);
    assert_int_equal(rx_of(w, e), 0);
    assert_nat_untouched(h2);
    assert_int_equal(nat_stats(h1).forwarded_out, 1);
    assert_int_equal(nat_stats(cgn).forwarded_out, 2);
    assert_int_equal(nat_stats(cgn).forwarded_in, 0);
    st = stats_of(w->net);
    assert_int_equal(st.delivered - st.lan_delivered, 3);
    world_free(w);
}

/* (v) The same seed gives the same run, LAN and Internet traffic mixed
 * under loss and jitter; another seed a different one. */
struct trace {
    uint64_t events, up_sum;
    struct knit_sim_net_stats net;
};

static struct trace mixed_run(uint64_t seed)
{
    struct world *w = world_new(seed);
    struct knit_sim_natbox *b = add_box(w, HOME1, NULL, APDF, 20000);
    int a = add_host(w, PRIV1, b);
    int c = add_host(w, PRIV2, b);
    int p = add_host(w, PUBLIC, NULL);
    dial(w, a, c, PRIV2);
    dial(w, c, p, PUBLIC);
    dial(w, a, p, PUBLIC);
    run_to(w, 30 * SECOND);
    struct trace t = {.events = knit_sim_events_run(w->e),
                      .net = stats_of(w->net)};
    for (int i = 0; i < w->n; i++)
        for (int j = 0; j < w->n; j++)
            t.up_sum = t.up_sum * 1000003u + w->up_at[i][j];
    assert_true(both_up(w, a, c) && both_up(w, c, p));
    world_free(w);
    return t;
}

static void test_deterministic(void **state)
{
    (void)state;
    struct trace x = mixed_run(11), y = mixed_run(11), z = mixed_run(12);
    assert_true(x.net.lan_delivered > 0);
    assert_true(x.net.delivered > x.net.lan_delivered);
    assert_int_equal(x.events, y.events);
    assert_int_equal(x.up_sum, y.up_sum);
    assert_memory_equal(&x.net, &y.net, sizeof x.net);
    assert_true(x.up_sum != z.up_sum || x.events != z.events ||
                memcmp(&x.net, &z.net, sizeof x.net) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lan_delay),
        cmocka_unit_test(test_neighbours_by_private_address),
        cmocka_unit_test(test_not_a_neighbour),
        cmocka_unit_test(test_carrier_grade),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
