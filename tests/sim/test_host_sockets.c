/* Extra UDP sockets of simulated hosts (sim/host.h, sim/net.h): a session
 * brought up on a public host's extra port and carried on it both ways;
 * port-0 ports drawn deterministically from the seed and steering clear
 * of ports in use on the host and at the network; a port in use refused;
 * a closed socket, and a removed host's sockets, blackholing what was in
 * flight and freeing their addresses; behind an EIM box, two sockets of
 * one host getting two mappings and sessions through both; and behind
 * address-and-port-dependent filtering, an unsolicited datagram to the
 * extra socket's mapping dropped while the peer it wrote to gets in. All
 * addresses are virtual. */
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
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

#define MAX_HOSTS 4
#define MAX_SEEN 512

#define A_MAIN addr4(203, 0, 113, 10, 4001)
#define C_MAIN addr4(203, 0, 113, 20, 4001)
#define D_MAIN addr4(203, 0, 113, 40, 4001)
#define STRANGER addr4(203, 0, 113, 30, 9000)
#define HOME addr4(198, 51, 100, 1, 0)
#define PRIV addr4(192, 168, 1, 2, 4001)

struct world;

struct slot {
    struct world *w;
    int index;
};

/* One delivery over the Internet, as the tap saw it. */
struct seen {
    struct knit_addr src, dst;
};

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box;
    int n;
    struct knit_sim_host *host[MAX_HOSTS];
    struct knit_peer_id id[MAX_HOSTS];
    struct slot slot[MAX_HOSTS];
    bool up[MAX_HOSTS][MAX_HOSTS];   /* i saw PEER_UP for j */
    struct seen seen[MAX_SEEN];
    size_t seen_count;
    uint64_t raw_received;           /* by raw endpoints */
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
}

static void tap(void *ctx, uint64_t sent_at, const struct knit_addr *src,
                const struct knit_addr *dst, const uint8_t *pkt, size_t len)
{
    (void)sent_at;
    (void)pkt;
    (void)len;
    struct world *w = ctx;
    assert_true(w->seen_count < MAX_SEEN);
    w->seen[w->seen_count++] = (struct seen){*src, *dst};
}

static void raw_recv(void *ctx, const struct knit_addr *src,
                     const struct knit_addr *dst, const uint8_t *pkt,
                     size_t len)
{
    (void)src;
    (void)dst;
    (void)pkt;
    (void)len;
    struct world *w = ctx;
    w->raw_received++;
}

static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 11, .min_delay_us = 10 * MS,
                                    .max_delay_us = 20 * MS};
    w->net = net_with(w->e, &c);
    knit_sim_net_set_tap(w->net, tap, w);
    return w;
}

static void world_free(struct world *w)
{
    assert_accounted(w->net);
    knit_sim_net_free(w->net);
    knit_sim_natbox_free(w->box);
    knit_sim_engine_free(w->e);
    free(w);
}

/* An EIM box at HOME, sequential ports from 20000. */
static struct knit_sim_natbox *add_box(struct world *w, uint8_t filtering)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = HOME;
    c.mapping = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
    c.filtering = filtering;
    c.allocation = KNIT_SIM_PORT_SEQUENTIAL;
    c.port_min = 20000;
    c.port_max = 20999;
    assert_int_equal(knit_sim_natbox_new(&w->box, w->net, w->e, &c, NULL, 0),
                     0);
    return w->box;
}

static struct knit_sim_nat_stats nat_stats(struct knit_sim_natbox *b)
{
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(knit_sim_natbox_nat(b), &st);
    return st;
}

/* A host at addr behind gw (NULL: public), seeded seed; its index. */
static int add_host(struct world *w, struct knit_addr addr,
                    struct knit_sim_natbox *gw, uint64_t seed)
{
    int i = w->n++;
    assert_true(i < MAX_HOSTS);
    w->slot[i] = (struct slot){w, i};
    struct knit_sim_host_config hc = {.addr = addr, .seed = seed};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, gw, on_event,
                                                  &w->slot[i], &w->host[i]),
                     0);
    w->id[i] = *knit_sim_host_id(w->host[i]);
    return i;
}

static int open_socket(struct world *w, int i, uint16_t port)
{
    int sock = -1;
    assert_int_equal(knit_sim_host_open_socket(w->host[i], port, &sock), 0);
    assert_true(sock >= 1 && sock <= KNIT_SIM_HOST_MAX_SOCKETS);
    return sock;
}

static struct knit_addr socket_addr(struct world *w, int i, int sock)
{
    struct knit_addr a;
    assert_int_equal(knit_sim_host_socket_addr(w->host[i], sock, &a), 0);
    return a;
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

static struct knit_sim_net_host_stats addr_stats(struct world *w,
                                                 struct knit_addr a)
{
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_addr_stats(w->net, &a, &hs), 0);
    return hs;
}

static struct knit_addr with_port(struct knit_addr a, uint16_t port)
{
    a.port = port;
    return a;
}

/* The source of the last delivery the tap saw to dst. */
static struct knit_addr last_src_to(const struct world *w,
                                    struct knit_addr dst)
{
    for (size_t k = w->seen_count; k-- > 0;)
        if (knit_addr_equal(&w->seen[k].dst, &dst))
            return w->seen[k].src;
    fail_msg("nothing reached the address");
    return dst;
}

static const uint8_t JUNK[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};

/* A second host dials the first at its extra port: the session comes up,
 * and every datagram between them, both ways, uses that port. */
static void test_session_on_extra_socket(void **state)
{
    (void)state;
    struct world *w = world_new();
    int a = add_host(w, A_MAIN, NULL, 1);
    int c = add_host(w, C_MAIN, NULL, 2);
    int sock = open_socket(w, a, 5000);
    struct knit_addr extra = socket_addr(w, a, sock);
    assert_addr(extra, with_port(A_MAIN, 5000));
    assert_addr(socket_addr(w, a, 0), A_MAIN);
    assert_int_equal(knit_sim_net_count(w->net), 3);
    assert_ptr_equal(knit_sim_net_find_host(w->net, &extra), w->host[a]);

    dial(w, c, a, extra);
    assert_true(run_until_up(w, c, a, 5 * SECOND));
    assert_addr(path_of(w, c, a), extra);
    assert_addr(path_of(w, a, c), C_MAIN);
    /* A answered from the extra socket, never from its main port. */
    size_t from_a = 0, to_a = 0;
    struct knit_addr a_main = A_MAIN;
    for (size_t k = 0; k < w->seen_count; k++) {
        if (knit_addr_same_ip(&w->seen[k].src, &a_main)) {
            assert_addr(w->seen[k].src, extra);
            from_a++;
        }
        if (knit_addr_same_ip(&w->seen[k].dst, &a_main)) {
            assert_addr(w->seen[k].dst, extra);
            to_a++;
        }
    }
    assert_true(from_a > 0 && to_a > 0);
    /* The socket's own counters (what it sent may still be in flight),
     * and the host's, which take in all its sockets'. */
    struct knit_sim_net_host_stats s = addr_stats(w, extra);
    assert_true(s.tx_packets >= from_a &&
                s.tx_packets <= from_a + knit_sim_net_in_flight(w->net));
    assert_int_equal(s.rx_packets, to_a);
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_host_stats(w->net, w->host[a], &hs), 0);
    assert_int_equal(hs.tx_packets, s.tx_packets);
    assert_int_equal(hs.rx_packets, s.rx_packets);
    world_free(w);
}

/* Opens three port-0 sockets on a host seeded seed at main; a raw
 * endpoint holds the host's IP at port blocked first (0: none). */
static void zero_ports(uint64_t seed, uint16_t main_port, uint16_t blocked,
                       uint16_t ports[3])
{
    struct world *w = world_new();
    if (blocked) {
        struct knit_addr b = with_port(A_MAIN, blocked);
        assert_int_equal(knit_sim_net_attach(w->net, &b, raw_recv, w), 0);
    }
    int a = add_host(w, with_port(A_MAIN, main_port), NULL, seed);
    for (int k = 0; k < 3; k++) {
        int sock = open_socket(w, a, 0);
        ports[k] = socket_addr(w, a, sock).port;
        assert_true(ports[k] >= KNIT_SIM_EPHEMERAL_MIN &&
                    ports[k] <= KNIT_SIM_EPHEMERAL_MAX);
        assert_int_not_equal(ports[k], main_port);
        assert_int_not_equal(ports[k], blocked);
        for (int j = 0; j < k; j++)
            assert_int_not_equal(ports[k], ports[j]);
    }
    world_free(w);
}

/* The port after p in the ephemeral range, wrapping. */
static uint16_t next_port(uint16_t p)
{
    return p == KNIT_SIM_EPHEMERAL_MAX ? KNIT_SIM_EPHEMERAL_MIN
                                       : (uint16_t)(p + 1);
}

static void test_port_zero_deterministic(void **state)
{
    (void)state;
    uint16_t first[3], again[3], other[3], main_taken[3], net_taken[3];
    zero_ports(1, 4001, 0, first);
    zero_ports(1, 4001, 0, again);
    assert_memory_equal(first, again, sizeof first);
    zero_ports(2, 4001, 0, other);
    assert_memory_not_equal(first, other, sizeof first);
    /* The first draw's port is the host's own main port: it moves on to
     * the next one, and the later draws are unchanged. */
    zero_ports(1, first[0], 0, main_taken);
    assert_int_equal(main_taken[0], next_port(first[0]));
    assert_int_equal(main_taken[1], first[1]);
    /* The same when another endpoint holds it at the network. */
    zero_ports(1, 4001, first[0], net_taken);
    assert_int_equal(net_taken[0], next_port(first[0]));
    assert_int_equal(net_taken[2], first[2]);
}

static void test_port_in_use_refused(void **state)
{
    (void)state;
    struct world *w = world_new();
    int a = add_host(w, A_MAIN, NULL, 1);
    struct knit_sim_host *h = w->host[a];
    struct knit_addr raw = with_port(A_MAIN, 6000);
    assert_int_equal(knit_sim_net_attach(w->net, &raw, raw_recv, w), 0);
    size_t endpoints = knit_sim_net_count(w->net);
    int sock = -1;
    assert_int_equal(knit_sim_host_open_socket(h, 4001, &sock),
                     KNIT_E_ADDR_IN_USE);
    assert_int_equal(knit_sim_host_open_socket(h, 6000, &sock),
                     KNIT_E_ADDR_IN_USE);
    int s1 = open_socket(w, a, 5000);
    assert_int_equal(knit_sim_host_open_socket(h, 5000, &sock),
                     KNIT_E_ADDR_IN_USE);
    assert_int_equal(sock, -1);
    assert_int_equal(knit_sim_net_count(w->net), endpoints + 1);

    /* Bad arguments and handles. */
    struct knit_addr out;
    assert_int_equal(knit_sim_host_open_socket(h, 5001, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_sim_host_open_socket(NULL, 5001, &sock),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_host_socket_addr(h, s1 + 1, &out),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_sim_host_socket_addr(h, -1, &out),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_sim_host_socket_addr(h, 0, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_sim_host_send(h, s1 + 1, &raw, JUNK, sizeof JUNK),
                     KNIT_E_INVAL);

    /* Closed, the port is free again, on the host and at the network. */
    knit_sim_host_close_socket(h, s1);
    assert_int_equal(knit_sim_host_socket_addr(h, s1, &out),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_sim_net_count(w->net), endpoints);
    int s2 = open_socket(w, a, 5000);
    assert_int_equal(s2, s1);   /* the lowest free handle again */
    world_free(w);
}

/* The node listens on KNIT_NODE_MAX_SOCKETS, the main one included: past
 * that the host's open is refused and the socket closed again. */
static void test_node_socket_limit(void **state)
{
    (void)state;
    struct world *w = world_new();
    int a = add_host(w, A_MAIN, NULL, 1);
    for (int k = 1; k < KNIT_NODE_MAX_SOCKETS; k++)
        open_socket(w, a, (uint16_t)(5000 + k));
    size_t full = knit_sim_net_count(w->net);
    int sock = -1;
    assert_int_equal(knit_sim_host_open_socket(w->host[a], 5100, &sock),
                     KNIT_E_TOO_BIG);
    assert_int_equal(sock, -1);
    assert_int_equal(knit_sim_net_count(w->net), full);
    /* Not left bound by the refusal. */
    struct knit_addr refused = with_port(A_MAIN, 5100);
    assert_int_equal(knit_sim_net_attach(w->net, &refused, raw_recv, w), 0);
    world_free(w);
}

static void test_closed_socket_drops(void **state)
{
    (void)state;
    struct world *w = world_new();
    int a = add_host(w, A_MAIN, NULL, 1);
    struct knit_addr stranger = STRANGER;
    assert_int_equal(knit_sim_net_attach(w->net, &stranger, raw_recv, w), 0);
    int sock = open_socket(w, a, 5000);
    struct knit_addr extra = socket_addr(w, a, sock);
    struct knit_node_stats ns;

    /* Open, a datagram reaches the node (which drops the junk). */
    knit_sim_net_send(w->net, &stranger, &extra, JUNK, sizeof JUNK);
    run_for(w, SECOND);
    knit_node_get_stats(knit_sim_host_node(w->host[a]), &ns);
    assert_int_equal(ns.packets_received, 1);
    assert_int_equal(addr_stats(w, extra).rx_packets, 1);

    /* Closed with one in flight: blackholed on arrival, and later ones at
     * once. */
    knit_sim_net_send(w->net, &stranger, &extra, JUNK, sizeof JUNK);
    uint64_t blackholed = stats_of(w->net).blackholed;
    knit_sim_host_close_socket(w->host[a], sock);
    run_for(w, SECOND);
    assert_int_equal(stats_of(w->net).blackholed, blackholed + 1);
    knit_sim_net_send(w->net, &stranger, &extra, JUNK, sizeof JUNK);
    assert_int_equal(stats_of(w->net).blackholed, blackholed + 2);
    knit_node_get_stats(knit_sim_host_node(w->host[a]), &ns);
    assert_int_equal(ns.packets_received, 1);
    assert_null(knit_sim_net_find_host(w->net, &extra));
    world_free(w);
}

/* Removing a host (churn) closes its extra sockets with it. */
static void test_removed_host_closes_sockets(void **state)
{
    (void)state;
    struct world *w = world_new();
    int a = add_host(w, A_MAIN, NULL, 1);
    struct knit_addr stranger = STRANGER;
    assert_int_equal(knit_sim_net_attach(w->net, &stranger, raw_recv, w), 0);
    struct knit_addr s1 = socket_addr(w, a, open_socket(w, a, 5000));
    struct knit_addr s2 = socket_addr(w, a, open_socket(w, a, 0));
    assert_int_equal(knit_sim_net_count(w->net), 4);
    knit_sim_net_send(w->net, &stranger, &s1, JUNK, sizeof JUNK);
    knit_sim_net_send(w->net, &stranger, &s2, JUNK, sizeof JUNK);
    uint64_t blackholed = stats_of(w->net).blackholed;

    knit_sim_net_remove_host(w->net, w->host[a]);
    w->host[a] = NULL;
    assert_int_equal(knit_sim_net_count(w->net), 1);
    run_for(w, SECOND);
    assert_int_equal(stats_of(w->net).blackholed, blackholed + 2);
    /* Their addresses are free for whoever comes next. */
    assert_int_equal(knit_sim_net_attach(w->net, &s1, raw_recv, w), 0);
    assert_int_equal(knit_sim_net_attach(w->net, &s2, raw_recv, w), 0);
    world_free(w);
}

/* Behind an EIM box, the main socket and an extra one of the same host get
 * a mapping each, and a session comes up through each. */
static void test_eim_two_sockets_two_mappings(void **state)
{
    (void)state;
    struct world *w = world_new();
    struct knit_sim_natbox *box =
        add_box(w, KNIT_FILTERING_ENDPOINT_INDEPENDENT);
    int a = add_host(w, A_MAIN, NULL, 1);
    int c = add_host(w, C_MAIN, NULL, 2);
    int p = add_host(w, PRIV, box, 3);
    int sock = open_socket(w, p, 5000);
    assert_addr(socket_addr(w, p, sock), with_port(PRIV, 5000));
    /* A private address is not on the Internet. */
    struct knit_addr priv_extra = with_port(PRIV, 5000);
    assert_null(knit_sim_net_find_host(w->net, &priv_extra));

    /* The main socket dials A; the extra one writes to C. */
    dial(w, p, a, A_MAIN);
    assert_true(run_until_up(w, p, a, 5 * SECOND));
    struct knit_addr m1 = path_of(w, a, p);
    struct knit_addr a_main = A_MAIN, c_main = C_MAIN;
    assert_int_equal(knit_sim_host_send(w->host[p], sock, &c_main, JUNK,
                                        sizeof JUNK),
                     0);
    run_for(w, SECOND);
    struct knit_addr m2 = last_src_to(w, C_MAIN);
    struct knit_addr home = HOME;
    assert_true(knit_addr_same_ip(&m1, &home) && knit_addr_same_ip(&m2, &home));
    assert_int_not_equal(m1.port, m2.port);
    assert_int_equal(nat_stats(box).mappings_created, 2);

    /* C dials the second mapping: the extra socket answers, through it. */
    dial(w, c, p, m2);
    assert_true(run_until_up(w, c, p, 5 * SECOND));
    assert_addr(path_of(w, c, p), m2);
    assert_addr(path_of(w, a, p), m1);
    assert_true(both_up(w, p, a));
    /* EIM: the extra socket's datagrams to A reuse its own mapping. */
    assert_int_equal(knit_sim_host_send(w->host[p], sock, &a_main, JUNK,
                                        sizeof JUNK),
                     0);
    run_for(w, SECOND);
    assert_addr(last_src_to(w, A_MAIN), m2);
    struct knit_sim_nat_stats st = nat_stats(box);
    assert_int_equal(st.mappings_created, 2);
    assert_int_equal(st.dropped_no_mapping + st.dropped_filtered, 0);
    world_free(w);
}

/* Behind address-and-port-dependent filtering, the extra socket's mapping
 * lets in the endpoint it wrote to and no one else. */
static void test_apdf_filters_extra_socket(void **state)
{
    (void)state;
    struct world *w = world_new();
    struct knit_sim_natbox *box =
        add_box(w, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT);
    int c = add_host(w, C_MAIN, NULL, 2);
    int d = add_host(w, D_MAIN, NULL, 4);
    int p = add_host(w, PRIV, box, 3);
    struct knit_addr stranger = STRANGER;
    assert_int_equal(knit_sim_net_attach(w->net, &stranger, raw_recv, w), 0);
    int sock = open_socket(w, p, 0);
    struct knit_addr c_main = C_MAIN;
    assert_int_equal(knit_sim_host_send(w->host[p], sock, &c_main, JUNK,
                                        sizeof JUNK),
                     0);
    run_for(w, SECOND);
    struct knit_addr m = last_src_to(w, C_MAIN);
    struct knit_sim_net_host_stats before;
    assert_int_equal(knit_sim_net_host_stats(w->net, w->host[p], &before), 0);

    /* A stranger, a node at another address, and C itself from another
     * port (an AutoNAT dial-back from a fresh socket) are filtered out. */
    knit_sim_net_send(w->net, &stranger, &m, JUNK, sizeof JUNK);
    int c_other = open_socket(w, c, 0);
    assert_int_equal(knit_sim_host_send(w->host[c], c_other, &m, JUNK,
                                        sizeof JUNK),
                     0);
    run_for(w, SECOND);
    struct knit_sim_nat_stats st = nat_stats(box);
    assert_int_equal(st.dropped_filtered, 2);
    dial(w, d, p, m);
    run_for(w, 2 * SECOND);
    assert_false(w->up[d][p]);
    st = nat_stats(box);
    assert_true(st.dropped_filtered >= 3);
    struct knit_sim_net_host_stats after;
    assert_int_equal(knit_sim_net_host_stats(w->net, w->host[p], &after), 0);
    assert_int_equal(after.rx_packets, before.rx_packets);

    /* C, which the socket wrote to, gets in, and the session runs over
     * the extra socket's mapping. */
    dial(w, c, p, m);
    assert_true(run_until_up(w, c, p, 5 * SECOND));
    assert_addr(path_of(w, c, p), m);
    assert_int_equal(nat_stats(box).mappings_created, 1);
    world_free(w);
}

/* ---- a host on its own, with no network to bind at ------------------------------ */

struct lone {
    struct knit_addr last_src;
    int sends;
};

static void lone_send(void *ctx, struct knit_sim_host *from,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      const uint8_t *pkt, size_t len)
{
    (void)from;
    (void)dst;
    (void)pkt;
    (void)len;
    struct lone *l = ctx;
    l->last_src = *src;
    l->sends++;
}

static struct knit_sim_host *lone_host(struct knit_sim_engine *e,
                                       struct lone *l, uint16_t main_port)
{
    struct knit_sim_host_config hc = {.addr = with_port(A_MAIN, main_port),
                                      .seed = 1, .send = lone_send, .ctx = l};
    struct knit_sim_host *h = NULL;
    assert_int_equal(knit_sim_host_new(&h, e, &hc), 0);
    return h;
}

static uint64_t received(struct knit_sim_host *h)
{
    struct knit_node_stats ns;
    knit_node_get_stats(knit_sim_host_node(h), &ns);
    return ns.packets_received;
}

/* The host itself keeps its ports apart, sends from the socket's address
 * and hands nothing to the node for a socket that is not open. */
static void test_host_without_net(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct lone l = {0};
    struct knit_sim_host *h = lone_host(e, &l, 4001);
    int sock = -1, other = -1;
    assert_int_equal(knit_sim_host_open_socket(h, 4001, &sock),
                     KNIT_E_ADDR_IN_USE);
    assert_int_equal(knit_sim_host_open_socket(h, 0, &sock), 0);
    struct knit_addr drawn;
    assert_int_equal(knit_sim_host_socket_addr(h, sock, &drawn), 0);
    assert_int_equal(knit_sim_host_open_socket(h, drawn.port, &other),
                     KNIT_E_ADDR_IN_USE);

    struct knit_addr stranger = STRANGER;
    assert_int_equal(knit_sim_host_send(h, sock, &stranger, JUNK,
                                        sizeof JUNK),
                     0);
    assert_int_equal(l.sends, 1);
    assert_addr(l.last_src, drawn);
    knit_sim_host_deliver_on(h, sock, &stranger, JUNK, sizeof JUNK);
    assert_int_equal(received(h), 1);
    knit_sim_host_close_socket(h, sock);
    knit_sim_host_deliver_on(h, sock, &stranger, JUNK, sizeof JUNK);
    knit_sim_host_deliver_on(h, KNIT_SIM_HOST_MAX_SOCKETS + 1, &stranger,
                             JUNK, sizeof JUNK);
    assert_int_equal(received(h), 1);
    assert_int_equal(knit_sim_host_send(h, sock, &stranger, JUNK,
                                        sizeof JUNK),
                     KNIT_E_INVAL);
    assert_int_equal(l.sends, 1);
    knit_sim_host_free(h);

    /* Its main port on the first draw: the next port instead. */
    struct knit_sim_host *h2 = lone_host(e, &l, drawn.port);
    assert_int_equal(knit_sim_host_open_socket(h2, 0, &sock), 0);
    struct knit_addr moved;
    assert_int_equal(knit_sim_host_socket_addr(h2, sock, &moved), 0);
    assert_int_equal(moved.port, next_port(drawn.port));
    knit_sim_host_free(h2);
    knit_sim_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_on_extra_socket),
        cmocka_unit_test(test_port_zero_deterministic),
        cmocka_unit_test(test_port_in_use_refused),
        cmocka_unit_test(test_node_socket_limit),
        cmocka_unit_test(test_closed_socket_drops),
        cmocka_unit_test(test_removed_host_closes_sockets),
        cmocka_unit_test(test_eim_two_sockets_two_mappings),
        cmocka_unit_test(test_apdf_filters_extra_socket),
        cmocka_unit_test(test_host_without_net),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
