/* A simulated host at its socket limit (sim/host.h): the
 * KNIT_SIM_HOST_MAX_SOCKETS (280) extra sockets a birthday hole punch
 * needs, opened with port 0 through the io the node sees. Each gets a
 * port of its own, the same ones for the same seed; one more is refused
 * with KNIT_E_LIMIT; a closed handle is taken again by the next open;
 * what is sent to each socket's port reaches the node with that socket's
 * handle, on the Internet and through a symmetric NAT box that maps every
 * socket apart; closing them all, or removing the host, gives every
 * address back. All addresses are virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/record.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

#define MAX KNIT_SIM_HOST_MAX_SOCKETS

#define A_MAIN addr4(203, 0, 113, 10, 4001)
#define PEER addr4(203, 0, 113, 30, 9000)
#define HOME addr4(198, 51, 100, 1, 0)
#define PRIV addr4(192, 168, 1, 2, 4001)

/* A datagram's payload: a tag the node drops as junk, then the handle it
 * is meant for. */
#define PKT_LEN 3

struct world {
    struct knit_sim_engine *e;
    struct knit_sim_net *net;
    struct knit_sim_natbox *box;
    struct knit_sim_host *host;
    struct knit_io io;
    /* Per handle (index = handle): its address, and what reached it. */
    struct knit_addr addr[MAX + 1];
    int delivered[MAX + 1];
    int misdelivered;
    /* What the public peer received: the source of the datagram tagged
     * for each handle (behind a box, that socket's mapping). */
    struct knit_addr seen_from[MAX + 1];
    int peer_received;
};

static void host_tap(void *ctx, struct knit_sim_host *host, int sock,
                     const struct knit_addr *src, const uint8_t *pkt,
                     size_t len)
{
    (void)src;
    struct world *w = ctx;
    assert_ptr_equal(host, w->host);
    assert_int_equal(len, PKT_LEN);
    int meant = pkt[1] | pkt[2] << 8;
    if (sock == meant && sock >= 1 && sock <= MAX)
        w->delivered[sock]++;
    else
        w->misdelivered++;
}

static void peer_recv(void *ctx, const struct knit_addr *src,
                      const struct knit_addr *dst, const uint8_t *pkt,
                      size_t len)
{
    (void)dst;
    struct world *w = ctx;
    assert_int_equal(len, PKT_LEN);
    int sock = pkt[1] | pkt[2] << 8;
    assert_true(sock >= 1 && sock <= MAX);
    w->seen_from[sock] = *src;
    w->peer_received++;
}

static void tagged(uint8_t pkt[PKT_LEN], int sock)
{
    pkt[0] = 0xee;
    pkt[1] = (uint8_t)(sock & 0xff);
    pkt[2] = (uint8_t)(sock >> 8);
}

/* A net with a public peer, and host A at at seeded seed, behind box if
 * mapping is nonzero (a KNIT_MAPPING_* of a box at HOME). */
static struct world *world_new(struct knit_addr at, uint64_t seed,
                               uint8_t mapping)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 11, .min_delay_us = 10 * MS,
                                    .max_delay_us = 20 * MS};
    w->net = net_with(w->e, &c);
    struct knit_addr peer = PEER;
    assert_int_equal(knit_sim_net_attach(w->net, &peer, peer_recv, w), 0);
    if (mapping) {
        struct knit_sim_nat_config nc;
        memset(&nc, 0, sizeof nc);
        nc.public_ip = HOME;
        nc.mapping = mapping;
        nc.filtering = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
        nc.allocation = KNIT_SIM_PORT_RANDOM;
        nc.seed = 5;
        assert_int_equal(
            knit_sim_natbox_new(&w->box, w->net, w->e, &nc, NULL, 0), 0);
    }
    struct knit_sim_host_config hc = {.addr = at, .seed = seed};
    assert_int_equal(knit_sim_net_add_host_behind(w->net, &hc, w->box, NULL,
                                                  NULL, &w->host),
                     0);
    knit_sim_host_set_tap(w->host, host_tap, w);
    knit_sim_host_io(w->host, &w->io);
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

static void run_for(struct world *w, uint64_t span)
{
    knit_sim_run_until(w->e, knit_sim_now(w->e) + span, UINT64_MAX);
}

/* Opens one port-0 socket through the io, as the node would; checks it
 * took the expected handle and an ephemeral port nobody else has. */
static void open_one(struct world *w, int want, bool used[65536])
{
    int sock = w->io.open_socket(w->io.ctx, KNIT_AF_IP4, 0);
    assert_int_equal(sock, want);
    struct knit_addr a;
    assert_int_equal(knit_sim_host_socket_addr(w->host, sock, &a), 0);
    assert_true(a.port >= KNIT_SIM_EPHEMERAL_MIN &&
                a.port <= KNIT_SIM_EPHEMERAL_MAX);
    assert_false(used[a.port]);
    used[a.port] = true;
    w->addr[sock] = a;
}

/* Opens all MAX sockets, handles 1..MAX in order, distinct ports. */
static void open_all(struct world *w, bool used[65536])
{
    memset(used, 0, 65536 * sizeof used[0]);
    used[knit_sim_host_addr(w->host)->port] = true;
    size_t endpoints = knit_sim_net_count(w->net);
    for (int k = 1; k <= MAX; k++)
        open_one(w, k, used);
    assert_int_equal(knit_sim_net_count(w->net), endpoints + MAX);
}

/* Sends a tagged datagram from the peer to each open socket's address. */
static void send_to_each(struct world *w)
{
    struct knit_addr peer = PEER;
    for (int k = 1; k <= MAX; k++) {
        uint8_t pkt[PKT_LEN];
        tagged(pkt, k);
        knit_sim_net_send(w->net, &peer, &w->addr[k], pkt, sizeof pkt);
    }
    run_for(w, SECOND);
}

static void test_max_sockets_public(void **state)
{
    (void)state;
    static bool used[65536];
    struct world *w = world_new(A_MAIN, 1, 0);
    open_all(w, used);
    size_t full = knit_sim_net_count(w->net);

    /* One more is refused, through the io and the host's own call, and
     * leaves nothing bound. */
    assert_int_equal(w->io.open_socket(w->io.ctx, KNIT_AF_IP4, 0),
                     KNIT_E_LIMIT);
    int sock = -1;
    assert_int_equal(knit_sim_host_open_socket(w->host, 0, &sock),
                     KNIT_E_LIMIT);
    assert_int_equal(knit_sim_host_open_socket(w->host, 5000, &sock),
                     KNIT_E_LIMIT);
    assert_int_equal(sock, -1);
    assert_int_equal(knit_sim_net_count(w->net), full);

    /* Each socket's port reaches the node with that socket's handle. */
    send_to_each(w);
    for (int k = 1; k <= MAX; k++)
        assert_int_equal(w->delivered[k], 1);
    assert_int_equal(w->misdelivered, 0);

    /* Closing one lets the next open take its handle, at a fresh port;
     * the old port is gone (what is sent there is blackholed). */
    int freed = 137;
    struct knit_addr old = w->addr[freed];
    w->io.close_socket(w->io.ctx, freed);
    assert_int_equal(knit_sim_net_count(w->net), full - 1);
    assert_null(knit_sim_net_find_host(w->net, &old));
    used[old.port] = false;
    open_one(w, freed, used);
    assert_int_equal(w->io.open_socket(w->io.ctx, KNIT_AF_IP4, 0),
                     KNIT_E_LIMIT);
    assert_ptr_equal(knit_sim_net_find_host(w->net, &w->addr[freed]),
                     w->host);
    if (!knit_addr_equal(&old, &w->addr[freed])) {
        uint64_t blackholed = stats_of(w->net).blackholed;
        uint8_t pkt[PKT_LEN];
        tagged(pkt, freed);
        struct knit_addr peer = PEER;
        knit_sim_net_send(w->net, &peer, &old, pkt, sizeof pkt);
        assert_int_equal(stats_of(w->net).blackholed, blackholed + 1);
    }
    send_to_each(w);
    for (int k = 1; k <= MAX; k++)
        assert_int_equal(w->delivered[k], 2);
    assert_int_equal(w->misdelivered, 0);

    /* Sending from each leaves from its own port. */
    for (int k = 1; k <= MAX; k++) {
        uint8_t pkt[PKT_LEN];
        tagged(pkt, k);
        struct knit_addr peer = PEER;
        assert_int_equal(w->io.send(w->io.ctx, k, &peer, pkt, sizeof pkt), 0);
    }
    run_for(w, SECOND);
    assert_int_equal(w->peer_received, MAX);
    for (int k = 1; k <= MAX; k++)
        assert_true(knit_addr_equal(&w->seen_from[k], &w->addr[k]));

    /* Closed, all of them: the handles walk in order while they go, and
     * every address is free again. */
    assert_int_equal(knit_sim_host_next_socket(w->host, 0), 1);
    assert_int_equal(knit_sim_host_next_socket(w->host, MAX - 1), MAX);
    for (int k = MAX; k >= 1; k--)
        w->io.close_socket(w->io.ctx, k);
    assert_int_equal(knit_sim_host_next_socket(w->host, 0), 0);
    assert_int_equal(knit_sim_net_count(w->net), full - MAX);
    for (int k = 1; k <= MAX; k++)
        assert_null(knit_sim_net_find_host(w->net, &w->addr[k]));
    /* And the host opens again from handle 1 after shrinking. */
    assert_int_equal(w->io.open_socket(w->io.ctx, KNIT_AF_IP4, 0), 1);
    world_free(w);
}

/* The same seed draws the same MAX ports, another seed other ones. */
static void ports_of(uint64_t seed, uint16_t ports[MAX + 1])
{
    static bool used[65536];
    struct world *w = world_new(A_MAIN, seed, 0);
    open_all(w, used);
    for (int k = 1; k <= MAX; k++)
        ports[k] = w->addr[k].port;
    ports[0] = 0;
    world_free(w);
}

static void test_max_sockets_deterministic(void **state)
{
    (void)state;
    static uint16_t first[MAX + 1], again[MAX + 1], other[MAX + 1];
    ports_of(1, first);
    ports_of(1, again);
    ports_of(2, other);
    assert_memory_equal(first, again, sizeof first);
    assert_memory_not_equal(first, other, sizeof first);
}

/* Behind a symmetric box (what the hard side of a birthday punch sits
 * behind): every socket writing to the same peer gets a mapping of its
 * own, and the peer's answer to each mapping reaches that socket. */
static void test_max_sockets_behind_symmetric_box(void **state)
{
    (void)state;
    static bool used[65536];
    struct world *w =
        world_new(PRIV, 3, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    open_all(w, used);
    struct knit_addr peer = PEER, home = HOME;
    for (int k = 1; k <= MAX; k++) {
        uint8_t pkt[PKT_LEN];
        tagged(pkt, k);
        assert_int_equal(w->io.send(w->io.ctx, k, &peer, pkt, sizeof pkt), 0);
    }
    run_for(w, SECOND);
    assert_int_equal(w->peer_received, MAX);
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(knit_sim_natbox_nat(w->box), &st);
    assert_int_equal(st.mappings_created, MAX);
    static bool mapped[65536];
    memset(mapped, 0, sizeof mapped);
    for (int k = 1; k <= MAX; k++) {
        struct knit_addr m = w->seen_from[k];
        assert_memory_equal(m.ip, home.ip, 4);
        assert_false(mapped[m.port]);
        mapped[m.port] = true;
        uint8_t pkt[PKT_LEN];
        tagged(pkt, k);
        knit_sim_net_send(w->net, &peer, &m, pkt, sizeof pkt);
    }
    run_for(w, SECOND);
    for (int k = 1; k <= MAX; k++)
        assert_int_equal(w->delivered[k], 1);
    assert_int_equal(w->misdelivered, 0);

    /* Removing the host gives back every socket's private address. */
    size_t endpoints = knit_sim_net_count(w->net);
    knit_sim_net_remove_host(w->net, w->host);
    w->host = NULL;
    assert_int_equal(knit_sim_net_count(w->net), endpoints - MAX - 1);
    world_free(w);
}

/* Removing a public host with every socket open detaches them all. */
static void test_remove_host_at_limit(void **state)
{
    (void)state;
    static bool used[65536];
    struct world *w = world_new(A_MAIN, 4, 0);
    open_all(w, used);
    size_t endpoints = knit_sim_net_count(w->net);
    knit_sim_net_remove_host(w->net, w->host);
    w->host = NULL;
    assert_int_equal(knit_sim_net_count(w->net), endpoints - MAX - 1);
    run_for(w, SECOND);
    for (int k = 1; k <= MAX; k++)
        assert_null(knit_sim_net_find_host(w->net, &w->addr[k]));
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_sockets_public),
        cmocka_unit_test(test_max_sockets_deterministic),
        cmocka_unit_test(test_max_sockets_behind_symmetric_box),
        cmocka_unit_test(test_remove_host_at_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
