/* The iterative lookup over synthetic networks, against brute force.
 *
 * The networks are 300 random peers. In the Kademlia one each peer knows up
 * to bucket_k peers per bucket of its own keyspace (a routing table filled
 * from the whole set in random order) and answers with the k closest to the
 * target it knows; in the oracle one every peer answers with the true k
 * closest. Some peers can be made silent (never answer) or refusing (fail at
 * once). A small event loop delivers answers after random latencies in
 * virtual time; the lookup is checked to find the true closest within a
 * bounded number of queries and hops, never over alpha in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/lookup.h"
#include "transport/error.h"
#include "tests/support/dht_lookup_fixtures.h"

#define K 20
#define NET_PEERS 300
#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)

/* ---- deterministic randomness and peers -------------------------------- */



static size_t asking(const struct knit_dht_lookup *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += l->cand[i].state == KNIT_DHT_CAND_ASKING;
    return n;
}


/* ---- synthetic networks ------------------------------------------------- */

enum behaviour { ANSWERS, SILENT, REFUSES };

struct net_peer {
    struct knit_dht_peer_info info;
    struct knit_dht_key key;
    uint8_t behaviour;
    uint16_t known[NET_PEERS];
    size_t known_n;
};

struct net {
    struct net_peer peer[NET_PEERS];
    bool oracle;
    unsigned bucket_k;     /* peers a table keeps per bucket */
    uint64_t rng;
};

static struct net net;

static void net_build(uint64_t seed, bool oracle, unsigned bucket_k)
{
    memset(&net, 0, sizeof net);
    net.rng = seed;
    net.oracle = oracle;
    net.bucket_k = bucket_k;
    for (size_t i = 0; i < NET_PEERS; i++) {
        random_peer(&net.rng, &net.peer[i].info);
        knit_dht_key_of_peer(&net.peer[i].key, &net.peer[i].info.id);
    }
    /* Each table is filled from the others in a shuffled order, k per
     * bucket: the far buckets sample, the near ones hold everybody. */
    uint16_t order[NET_PEERS];
    for (size_t i = 0; i < NET_PEERS; i++)
        order[i] = (uint16_t)i;
    for (size_t i = 0; i < NET_PEERS; i++) {
        struct net_peer *me = &net.peer[i];
        for (size_t j = NET_PEERS - 1; j > 0; j--) {
            size_t r = rng_next(&net.rng) % (j + 1);
            uint16_t t = order[j];
            order[j] = order[r];
            order[r] = t;
        }
        unsigned per_bucket[KNIT_DHT_KEY_BITS + 1] = {0};
        for (size_t j = 0; j < NET_PEERS; j++) {
            if (order[j] == i)
                continue;
            unsigned b = knit_dht_key_common_prefix(&me->key,
                                                    &net.peer[order[j]].key);
            if (per_bucket[b] < net.bucket_k) {
                per_bucket[b]++;
                me->known[me->known_n++] = order[j];
            }
        }
    }
}

static size_t net_index(const struct knit_peer_id *id)
{
    for (size_t i = 0; i < NET_PEERS; i++)
        if (knit_peer_id_equal(&net.peer[i].info.id, id))
            return i;
    fail_msg("a peer that is not in the network");
    return 0;
}

/* The up to n closest to target among from[0..m), excluding skip. */
static size_t closest_of(const struct knit_dht_key *target,
                         const uint16_t *from, size_t m, size_t skip,
                         uint16_t *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (from[i] == skip)
            continue;
        size_t j = k < n ? k++ : n;
        for (; j > 0 && knit_dht_key_cmp_distance(
                            target, &net.peer[from[i]].key,
                            &net.peer[out[j - 1]].key) < 0; j--)
            if (j < n)
                out[j] = out[j - 1];
        if (j < n)
            out[j] = from[i];
    }
    return k;
}

static uint16_t all_peers[NET_PEERS];

/* The truth: the n closest to target among the peers that answer. */
static size_t brute_force(const struct knit_dht_key *target, size_t self,
                          uint16_t *out, size_t n)
{
    uint16_t live[NET_PEERS];
    size_t m = 0;
    for (size_t i = 0; i < NET_PEERS; i++)
        if (net.peer[i].behaviour == ANSWERS)
            live[m++] = (uint16_t)i;
    return closest_of(target, live, m, self, out, n);
}

struct flight {
    size_t peer;
    uint64_t at;
};

struct run_result {
    enum knit_dht_lookup_status status;
    size_t max_asking;
    size_t timeouts_reported;
    size_t refusals;
    uint64_t ended;
};

/* Drives l to its end: asks whoever next() offers, delivers answers (or
 * refusals) after 10..90 ms and lets silent peers time out. */
static struct run_result net_run(struct knit_dht_lookup *l, size_t self,
                                 uint64_t now)
{
    struct run_result r = {0};
    struct flight fl[KNIT_DHT_LOOKUP_MAX];
    size_t nfl = 0;
    /* Each step delivers an answer or passes a deadline; a lookup that
     * stops making progress fails here instead of spinning. */
    for (unsigned steps = 0;; steps++) {
        assert_true(steps < 10000);
        const struct knit_dht_candidate *c;
        while ((c = knit_dht_lookup_next(l, now)) != NULL) {
            size_t idx = net_index(&c->peer.id);
            assert_true(idx != self);
            if (net.peer[idx].behaviour != SILENT) {
                assert_true(nfl < KNIT_DHT_LOOKUP_MAX);
                fl[nfl].peer = idx;
                fl[nfl].at = now + 10 * MS + rng_next(&net.rng) % (80 * MS);
                nfl++;
            }
        }
        if (asking(l) > r.max_asking)
            r.max_asking = asking(l);

        struct knit_peer_id out[8];
        size_t n_out;
        r.status = knit_dht_lookup_update(l, now, out, 8, &n_out);
        for (size_t i = 0; i < n_out; i++) {
            assert_int_equal(net.peer[net_index(&out[i])].behaviour, SILENT);
            const struct knit_dht_candidate *f =
                knit_dht_lookup_find(l, &out[i]);
            assert_non_null(f);
            assert_int_equal(f->state, KNIT_DHT_CAND_FAILED);
        }
        r.timeouts_reported += n_out;
        if (r.status != KNIT_DHT_LOOKUP_RUNNING)
            break;

        size_t first = nfl;
        uint64_t at = knit_dht_lookup_deadline(l);
        for (size_t i = 0; i < nfl; i++)
            if (fl[i].at <= at) {
                at = fl[i].at;
                first = i;
            }
        assert_true(at >= now && at != UINT64_MAX);
        now = at;
        if (first == nfl)
            continue;
        struct net_peer *p = &net.peer[fl[first].peer];
        fl[first] = fl[--nfl];
        if (p->behaviour == REFUSES) {
            knit_dht_lookup_failed(l, &p->info.id, now);
            r.refusals++;
            continue;
        }
        uint16_t idx[K];
        size_t n = net.oracle
            ? closest_of(&l->target, all_peers, NET_PEERS, SIZE_MAX, idx, K)
            : closest_of(&l->target, p->known, p->known_n, SIZE_MAX, idx, K);
        struct knit_dht_peer_info closer[K];
        for (size_t i = 0; i < n; i++)
            closer[i] = net.peer[idx[i]].info;
        knit_dht_lookup_answered(l, &p->info.id, closer, n, now);
    }
    r.ended = now;
    return r;
}

/* Seeds a lookup from self's own table, as the engine does. */
static void net_seed(struct knit_dht_lookup *l, size_t self)
{
    uint16_t idx[K];
    size_t n = closest_of(&l->target, net.peer[self].known,
                          net.peer[self].known_n, self, idx, K);
    for (size_t i = 0; i < n; i++)
        knit_dht_lookup_add(l, &net.peer[idx[i]].info, 1);
}

/* Runs 20 lookups from peer 0 and returns the most hops any took. */
static uint16_t net_lookup(uint64_t seed, bool oracle, unsigned bucket_k,
                           unsigned silent_pct, unsigned refusing_pct,
                           uint32_t max_queries, uint16_t max_hops)
{
    uint16_t most = 0;
    for (size_t i = 0; i < NET_PEERS; i++)
        all_peers[i] = (uint16_t)i;
    net_build(seed, oracle, bucket_k);
    for (size_t i = 1; i < NET_PEERS; i++) {
        unsigned roll = (unsigned)(rng_next(&net.rng) % 100);
        net.peer[i].behaviour = roll < silent_pct ? SILENT
            : roll < silent_pct + refusing_pct ? REFUSES : ANSWERS;
    }
    for (int trial = 0; trial < 20; trial++) {
        struct knit_dht_key target;
        rng_fill(&net.rng, target.b, sizeof target.b);
        /* Every fourth lookup is for a peer's own key, as a refresh or a
         * record lookup would be. */
        if (trial % 4 == 3)
            target = net.peer[rng_next(&net.rng) % NET_PEERS].key;
        size_t self = 0;
        struct knit_dht_lookup l;
        struct knit_dht_lookup_config cfg = {
            .request_timeout_us = 1 * SEC, .deadline_us = 60 * SEC,
        };
        knit_dht_lookup_init(&l, &target, &net.peer[self].info.id, &cfg, T0);
        net_seed(&l, self);
        struct run_result r = net_run(&l, self, T0);

        assert_int_equal(r.status, KNIT_DHT_LOOKUP_DONE);
        assert_true(r.max_asking <= 3 && r.max_asking > 0);
        assert_true(l.queries <= max_queries);
        assert_true(l.queries == l.answers + l.failures + asking(&l));
        assert_int_equal(l.failures, r.timeouts_reported + r.refusals);
        assert_true(r.ended < T0 + 60 * SEC);

        uint16_t truth[K];
        assert_int_equal(brute_force(&target, self, truth, K), K);
        const struct knit_dht_candidate *best[3];
        assert_int_equal(knit_dht_lookup_closest(&l, best, 3), 3);
        for (size_t i = 0; i < 3; i++)
            assert_true(knit_peer_id_equal(&best[i]->peer.id,
                                           &net.peer[truth[i]].info.id));
        /* With full tables the shortlist starts with the true k closest
         * of the whole network, answering or not: the answers of the beta
         * closest name everyone near. Sparse tables promise only beta. */
        size_t near = bucket_k == K ? K : 3;
        uint16_t everyone[K];
        closest_of(&target, all_peers, NET_PEERS, self, everyone, near);
        assert_true(l.count >= near);
        for (size_t i = 0; i < near; i++)
            assert_true(knit_peer_id_equal(&l.cand[i].peer.id,
                                           &net.peer[everyone[i]].info.id));

        uint16_t hops = knit_dht_lookup_hops(&l);
        assert_true(hops >= 1 && hops <= max_hops);
        if (hops > most)
            most = hops;
        assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);
    }
    return most;
}

static void test_kademlia_network_finds_closest(void **state)
{
    (void)state;
    net_lookup(1, false, K, 0, 0, 30, 4);
}

static void test_oracle_network_finds_closest_in_two_hops(void **state)
{
    (void)state;
    net_lookup(2, true, K, 0, 0, 12, 2);
}

/* Tables of 3 per bucket: seeds are farther and the walk takes more hops. */
static void test_sparse_tables_take_more_hops(void **state)
{
    (void)state;
    assert_true(net_lookup(4, false, 3, 0, 0, 40, 8) >= 3);
}

static void test_network_with_silent_and_refusing_peers(void **state)
{
    (void)state;
    net_lookup(3, false, K, 15, 10, 60, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kademlia_network_finds_closest),
        cmocka_unit_test(test_oracle_network_finds_closest_in_two_hops),
        cmocka_unit_test(test_sparse_tables_take_more_hops),
        cmocka_unit_test(test_network_with_silent_and_refusing_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
