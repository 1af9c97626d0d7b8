/* Helpers shared by the virtual network tests (tests/sim/test_net.c,
 * test_net_hosts.c, the punch and relay tests): virtual addresses, an
 * engine and a net that must be created, the net's counters, the check
 * that every datagram sent is accounted for, and which host a peer ID is
 * and whether a node reaches a peer through a relay.
 *
 * Header-only, all static inline: they call sim/ functions, and the support
 * library links knit_proto alone, so they cannot live in a support .c file.
 * Include after <cmocka.h>. */
#ifndef KNIT_TEST_SIM_NET_FIXTURES_H
#define KNIT_TEST_SIM_NET_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "transport/io.h"

#define MS 1000ull
#define SECOND 1000000ull

static inline struct knit_addr addr4(uint8_t a, uint8_t b, uint8_t c,
                                     uint8_t d, uint16_t port)
{
    const uint8_t ip[4] = {a, b, c, d};
    struct knit_addr out;
    assert_int_equal(knit_addr_set(&out, ip, 4, port), 0);
    return out;
}

/* 10.0.x.y:4001, i = 0.. */
static inline struct knit_addr host_addr(int i)
{
    return addr4(10, 0, (uint8_t)(i / 200), (uint8_t)(i % 200 + 1), 4001);
}

static inline struct knit_sim_engine *engine(void)
{
    struct knit_sim_engine *e = NULL;
    assert_int_equal(knit_sim_engine_new(&e), 0);
    return e;
}

static inline struct knit_sim_net *
net_with(struct knit_sim_engine *e, const struct knit_sim_net_config *c)
{
    struct knit_sim_net *n = NULL;
    assert_int_equal(knit_sim_net_new(&n, e, c), 0);
    assert_non_null(n);
    return n;
}

static inline struct knit_sim_net_stats
stats_of(const struct knit_sim_net *n)
{
    struct knit_sim_net_stats st;
    knit_sim_net_get_stats(n, &st);
    return st;
}

static inline void assert_accounted(const struct knit_sim_net *n)
{
    struct knit_sim_net_stats st = stats_of(n);
    assert_int_equal(st.sent, st.delivered + st.lost + st.blackholed +
                                  st.dropped + st.queue_dropped +
                                  knit_sim_net_in_flight(n));
}

/* The index of the host with peer ID id among hosts[0..n), whose IDs are
 * ids[0..n) (NULL hosts skipped); -1 when none. */
static inline int host_index_of(struct knit_sim_host *const *hosts,
                                const struct knit_peer_id *ids, int n,
                                const struct knit_peer_id *id)
{
    for (int j = 0; j < n; j++)
        if (hosts[j] && knit_peer_id_equal(id, &ids[j]))
            return j;
    return -1;
}

/* Whether node's session with peer runs over a relay circuit; the test
 * fails when there is no session up. */
static inline bool session_is_relayed(struct knit_node *node,
                                      const struct knit_peer_id *peer)
{
    struct knit_node_peer peers[16];
    size_t n = knit_node_peers(node, peers, 16);
    for (size_t k = 0; k < n; k++)
        if (knit_peer_id_equal(&peers[k].id, peer))
            return peers[k].relayed;
    fail_msg("no session");
    return false;
}

#endif
