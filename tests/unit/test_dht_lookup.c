/* The iterative lookup state machine, driven by hand: closest first, the
 * alpha bound, beta termination, timeouts, the deadline, duplicates, the
 * capacity and hop counting. Pools of random peers sorted by distance to a
 * random target let each test name "the i-th closest". The lookup over
 * whole synthetic networks is in test_dht_lookup_net.c. */
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


#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)



struct pool {
    struct knit_dht_key target;
    struct knit_dht_peer_info p[256];
    size_t n;
};

/* n random peers sorted by distance to a random target: p[0] closest. */
static void make_pool(struct pool *pl, uint64_t seed, size_t n)
{
    uint64_t s = seed;
    rng_fill(&s, pl->target.b, sizeof pl->target.b);
    pl->n = n;
    struct knit_dht_key keys[256];
    for (size_t i = 0; i < n; i++) {
        random_peer(&s, &pl->p[i]);
        knit_dht_key_of_peer(&keys[i], &pl->p[i].id);
        for (size_t j = i; j > 0 &&
             knit_dht_key_cmp_distance(&pl->target, &keys[j],
                                       &keys[j - 1]) < 0; j--) {
            struct knit_dht_key tk = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = tk;
            struct knit_dht_peer_info tp = pl->p[j];
            pl->p[j] = pl->p[j - 1];
            pl->p[j - 1] = tp;
        }
    }
}

static const struct knit_peer_id self_id = {{0xee}};

static void start(struct knit_dht_lookup *l, const struct pool *pl,
                  uint32_t alpha, uint32_t beta)
{
    struct knit_dht_lookup_config cfg = {
        .alpha = alpha, .beta = beta,
        .request_timeout_us = 2 * SEC, .deadline_us = 30 * SEC,
    };
    knit_dht_lookup_init(l, &pl->target, &self_id, &cfg, T0);
}

static size_t asking(const struct knit_dht_lookup *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += l->cand[i].state == KNIT_DHT_CAND_ASKING;
    return n;
}

static void expect_next(struct knit_dht_lookup *l, uint64_t now,
                        const struct knit_dht_peer_info *want)
{
    const struct knit_dht_candidate *c = knit_dht_lookup_next(l, now);
    assert_non_null(c);
    assert_true(knit_peer_id_equal(&c->peer.id, &want->id));
    assert_int_equal(c->state, KNIT_DHT_CAND_ASKING);
    assert_true(c->sent_at == now);
}

static enum knit_dht_lookup_status update(struct knit_dht_lookup *l,
                                          uint64_t now)
{
    return knit_dht_lookup_update(l, now, NULL, 0, NULL);
}

/* ---- by hand ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 10, 1);
    struct knit_dht_lookup l;
    knit_dht_lookup_init(&l, &pl.target, &self_id, NULL, T0);
    assert_int_equal(l.cfg.alpha, 3);
    assert_int_equal(l.cfg.beta, 3);
    assert_true(l.cfg.request_timeout_us == 5 * SEC);
    assert_true(l.cfg.deadline_us == 60 * SEC);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    assert_true(knit_dht_lookup_deadline(&l) == T0 + 60 * SEC);
    assert_int_equal(knit_dht_lookup_hops(&l), 0);
    /* No seeds at all: nothing to ask. */
    assert_null(knit_dht_lookup_next(&l, T0));
    assert_int_equal(update(&l, T0), KNIT_DHT_LOOKUP_EXHAUSTED);
}

static void test_alpha_bound_and_closest_first(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 11, 8);
    struct knit_dht_lookup l;
    start(&l, &pl, 2, 3);
    for (size_t i = 8; i-- > 0;)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    assert_int_equal(l.count, 8);
    expect_next(&l, T0, &pl.p[0]);
    expect_next(&l, T0 + 1, &pl.p[1]);
    assert_null(knit_dht_lookup_next(&l, T0 + 2));
    assert_int_equal(l.queries, 2);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 3);
    expect_next(&l, T0 + 4, &pl.p[2]);
    assert_null(knit_dht_lookup_next(&l, T0 + 5));
    assert_int_equal(asking(&l), 2);
    assert_int_equal(update(&l, T0 + 5), KNIT_DHT_LOOKUP_RUNNING);

    /* A closer peer named in an answer is asked before farther ones. */
    struct knit_dht_lookup l2;
    start(&l2, &pl, 1, 3);
    knit_dht_lookup_add(&l2, &pl.p[5], 1);
    knit_dht_lookup_add(&l2, &pl.p[6], 1);
    expect_next(&l2, T0, &pl.p[5]);
    assert_null(knit_dht_lookup_next(&l2, T0));
    knit_dht_lookup_answered(&l2, &pl.p[5].id, &pl.p[0], 1, T0 + 1);
    expect_next(&l2, T0 + 2, &pl.p[0]);
}

static void test_beta_termination(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 13, 8);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);
    for (size_t i = 0; i < 6; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    for (size_t i = 0; i < 3; i++)
        expect_next(&l, T0, &pl.p[i]);
    knit_dht_lookup_answered(&l, &pl.p[0].id, NULL, 0, T0 + 1);
    knit_dht_lookup_answered(&l, &pl.p[2].id, NULL, 0, T0 + 2);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    /* Two of three answered: the third slot is free but p[1] still counts. */
    expect_next(&l, T0 + 3, &pl.p[3]);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 4);
    /* The three closest answered: over, though p[4], p[5] were never asked
     * and p[3] is still being asked. */
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
    assert_int_equal(update(&l, T0 + 5), KNIT_DHT_LOOKUP_DONE);
    assert_null(knit_dht_lookup_next(&l, T0 + 5));
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[4].id)->state,
                     KNIT_DHT_CAND_NEW);
    assert_int_equal(l.queries, 4);
    assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);

    /* A failed one among the closest does not hold the lookup up: the next
     * non-failed one takes its place. */
    start(&l, &pl, 3, 2);
    for (size_t i = 0; i < 4; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    for (size_t i = 0; i < 3; i++)
        expect_next(&l, T0, &pl.p[i]);
    knit_dht_lookup_failed(&l, &pl.p[0].id, T0 + 1);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    knit_dht_lookup_answered(&l, &pl.p[2].id, NULL, 0, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);

    /* Fewer candidates than beta: done when all of them answered. */
    start(&l, &pl, 3, 3);
    knit_dht_lookup_add(&l, &pl.p[7], 1);
    expect_next(&l, T0, &pl.p[7]);
    assert_int_equal(update(&l, T0), KNIT_DHT_LOOKUP_RUNNING);
    knit_dht_lookup_answered(&l, &pl.p[7].id, NULL, 0, T0 + 1);
    assert_int_equal(update(&l, T0 + 1), KNIT_DHT_LOOKUP_DONE);
    assert_int_equal(knit_dht_lookup_hops(&l), 1);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 14, 5);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);
    for (size_t i = 0; i < 5; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    expect_next(&l, T0, &pl.p[0]);
    expect_next(&l, T0 + 100 * MS, &pl.p[1]);
    expect_next(&l, T0 + 200 * MS, &pl.p[2]);
    assert_true(knit_dht_lookup_deadline(&l) == T0 + 2 * SEC);

    struct knit_peer_id out[3];
    size_t n = 99;
    assert_int_equal(knit_dht_lookup_update(&l, T0 + 2 * SEC - 1, out, 3, &n),
                     KNIT_DHT_LOOKUP_RUNNING);
    assert_int_equal(n, 0);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 2 * SEC - 1);
    assert_int_equal(knit_dht_lookup_update(&l, T0 + 2 * SEC, out, 3, &n),
                     KNIT_DHT_LOOKUP_RUNNING);
    assert_int_equal(n, 1);
    assert_true(knit_peer_id_equal(&out[0], &pl.p[0].id));
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[0].id)->state,
                     KNIT_DHT_CAND_FAILED);
    assert_int_equal(l.failures, 1);
    /* A late answer from a timed-out peer is ignored. */
    knit_dht_lookup_answered(&l, &pl.p[0].id, &pl.p[4], 1, T0 + 2 * SEC);
    assert_int_equal(l.answers, 1);
    assert_true(knit_dht_lookup_deadline(&l) == T0 + 200 * MS + 2 * SEC);

    expect_next(&l, T0 + 2 * SEC, &pl.p[3]);
    /* Both outstanding requests time out at once; the report holds only
     * what fits, but both fail. */
    assert_int_equal(knit_dht_lookup_update(&l, T0 + 10 * SEC, out, 1, &n),
                     KNIT_DHT_LOOKUP_RUNNING);
    assert_int_equal(n, 1);
    assert_int_equal(l.failures, 3);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[2].id)->state,
                     KNIT_DHT_CAND_FAILED);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[3].id)->state,
                     KNIT_DHT_CAND_FAILED);
    /* p[4] is left and answers; then p[1] and p[4] are all the live ones. */
    expect_next(&l, T0 + 10 * SEC, &pl.p[4]);
    knit_dht_lookup_answered(&l, &pl.p[4].id, NULL, 0, T0 + 11 * SEC);
    assert_int_equal(knit_dht_lookup_update(&l, T0 + 11 * SEC, NULL, 0, NULL),
                     KNIT_DHT_LOOKUP_DONE);
    const struct knit_dht_candidate *best[4];
    assert_int_equal(knit_dht_lookup_closest(&l, best, 4), 2);
    assert_ptr_equal(best[0], knit_dht_lookup_find(&l, &pl.p[1].id));
    assert_ptr_equal(best[1], knit_dht_lookup_find(&l, &pl.p[4].id));
    assert_int_equal(knit_dht_lookup_closest(&l, best, 1), 1);
}

static void test_all_seeds_fail(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 15, 4);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);
    for (size_t i = 0; i < 4; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    for (size_t i = 0; i < 3; i++)
        expect_next(&l, T0, &pl.p[i]);
    for (size_t i = 0; i < 3; i++)
        knit_dht_lookup_failed(&l, &pl.p[i].id, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    expect_next(&l, T0 + 1, &pl.p[3]);
    knit_dht_lookup_failed(&l, &pl.p[3].id, T0 + 2);
    assert_int_equal(update(&l, T0 + 2), KNIT_DHT_LOOKUP_EXHAUSTED);
    assert_int_equal(l.failures, 4);
    assert_null(knit_dht_lookup_next(&l, T0 + 2));
    assert_int_equal(knit_dht_lookup_hops(&l), 0);
    assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);

    /* The same through timeouts alone. */
    start(&l, &pl, 3, 3);
    for (size_t i = 0; i < 2; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    expect_next(&l, T0, &pl.p[0]);
    expect_next(&l, T0, &pl.p[1]);
    size_t n;
    struct knit_peer_id out[3];
    assert_int_equal(knit_dht_lookup_update(&l, T0 + 2 * SEC, out, 3, &n),
                     KNIT_DHT_LOOKUP_EXHAUSTED);
    assert_int_equal(n, 2);
}

static void test_overall_deadline(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 16, 4);
    struct knit_dht_lookup l;
    struct knit_dht_lookup_config cfg = {
        .request_timeout_us = 100 * SEC, .deadline_us = 30 * SEC,
    };
    knit_dht_lookup_init(&l, &pl.target, &self_id, &cfg, T0);
    for (size_t i = 0; i < 4; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    expect_next(&l, T0, &pl.p[0]);
    assert_true(knit_dht_lookup_deadline(&l) == T0 + 30 * SEC);
    assert_int_equal(update(&l, T0 + 30 * SEC - 1), KNIT_DHT_LOOKUP_RUNNING);
    assert_int_equal(update(&l, T0 + 30 * SEC), KNIT_DHT_LOOKUP_TIMED_OUT);
    assert_null(knit_dht_lookup_next(&l, T0 + 30 * SEC));
    knit_dht_lookup_answered(&l, &pl.p[0].id, NULL, 0, T0 + 31 * SEC);
    assert_int_equal(l.answers, 0);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_TIMED_OUT);
    assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);

    /* next() past the deadline hands out nobody, even before update(). */
    knit_dht_lookup_init(&l, &pl.target, &self_id, &cfg, T0);
    knit_dht_lookup_add(&l, &pl.p[0], 1);
    assert_null(knit_dht_lookup_next(&l, T0 + 31 * SEC));
    assert_int_equal(l.queries, 0);
    assert_int_equal(update(&l, T0 + 31 * SEC), KNIT_DHT_LOOKUP_TIMED_OUT);

    /* A huge deadline saturates instead of wrapping. */
    cfg.deadline_us = UINT64_MAX;
    knit_dht_lookup_init(&l, &pl.target, &self_id, &cfg, T0);
    assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);
    knit_dht_lookup_add(&l, &pl.p[0], 1);
    expect_next(&l, T0, &pl.p[0]);
    assert_true(knit_dht_lookup_deadline(&l) == T0 + 100 * SEC);
}

static void test_ignored_candidates(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 17, 4);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);

    struct knit_dht_peer_info me = pl.p[0];
    me.id = self_id;
    knit_dht_lookup_add(&l, &me, 1);
    struct knit_dht_peer_info no_addr = pl.p[0];
    no_addr.addr_count = 0;
    knit_dht_lookup_add(&l, &no_addr, 1);
    struct knit_dht_peer_info too_many = pl.p[0];
    too_many.addr_count = KNIT_DHT_MAX_PEER_ADDRS + 1;
    knit_dht_lookup_add(&l, &too_many, 1);
    knit_dht_lookup_add(&l, NULL, 1);
    assert_int_equal(l.count, 0);

    knit_dht_lookup_add(&l, &pl.p[1], 1);
    knit_dht_lookup_add(&l, &pl.p[1], 1);
    struct knit_dht_peer_info moved = pl.p[1];
    moved.addrs[0].port = 9999;
    knit_dht_lookup_add(&l, &moved, 5);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.cand[0].hop, 1);
    assert_int_equal(l.cand[0].peer.addrs[0].port, 4001);

    /* Duplicates inside an answer, of the answerer and of ourselves. */
    expect_next(&l, T0, &pl.p[1]);
    struct knit_dht_peer_info named[5] = {pl.p[2], pl.p[2], pl.p[1], me,
                                          pl.p[3]};
    knit_dht_lookup_answered(&l, &pl.p[1].id, named, 5, T0 + 1);
    assert_int_equal(l.count, 3);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[1].id)->state,
                     KNIT_DHT_CAND_ANSWERED);
    assert_null(knit_dht_lookup_find(&l, &self_id));
    for (size_t i = 1; i < l.count; i++)
        assert_true(knit_dht_key_cmp_distance(&l.target, &l.cand[i - 1].key,
                                              &l.cand[i].key) < 0);
}

static void test_unknown_or_not_asking_ignored(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 18, 6);
    struct knit_dht_lookup l;
    start(&l, &pl, 1, 3);
    knit_dht_lookup_add(&l, &pl.p[1], 1);
    knit_dht_lookup_add(&l, &pl.p[2], 1);

    /* A stranger's answer adds nobody. */
    knit_dht_lookup_answered(&l, &pl.p[5].id, &pl.p[0], 1, T0);
    knit_dht_lookup_failed(&l, &pl.p[5].id, T0);
    /* Nor does the answer of a peer we did not ask. */
    knit_dht_lookup_answered(&l, &pl.p[2].id, &pl.p[0], 1, T0);
    knit_dht_lookup_failed(&l, &pl.p[2].id, T0);
    knit_dht_lookup_answered(&l, NULL, &pl.p[0], 1, T0);
    knit_dht_lookup_failed(&l, NULL, T0);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.answers + l.failures, 0);
    assert_int_equal(l.cand[1].state, KNIT_DHT_CAND_NEW);

    expect_next(&l, T0, &pl.p[1]);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 1);
    /* Answered already: neither a second answer nor a failure counts. */
    knit_dht_lookup_answered(&l, &pl.p[1].id, &pl.p[0], 1, T0 + 2);
    knit_dht_lookup_failed(&l, &pl.p[1].id, T0 + 2);
    assert_int_equal(l.answers, 1);
    assert_int_equal(l.failures, 0);
    assert_null(knit_dht_lookup_find(&l, &pl.p[0].id));
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[1].id)->state,
                     KNIT_DHT_CAND_ANSWERED);

    expect_next(&l, T0 + 3, &pl.p[2]);
    knit_dht_lookup_failed(&l, &pl.p[2].id, T0 + 4);
    knit_dht_lookup_answered(&l, &pl.p[2].id, &pl.p[0], 1, T0 + 5);
    assert_int_equal(l.failures, 1);
    assert_int_equal(l.answers, 1);
    assert_null(knit_dht_lookup_find(&l, &pl.p[0].id));
    assert_null(knit_dht_lookup_find(&l, &pl.p[4].id));
}

static void test_capacity_keeps_closest(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 19, 200);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);
    /* Added in a scrambled order: the list ends with the 64 closest. */
    for (size_t i = 0; i < 200; i++)
        knit_dht_lookup_add(&l, &pl.p[(i * 37) % 200], 1);
    assert_int_equal(l.count, KNIT_DHT_LOOKUP_MAX);
    for (size_t i = 0; i < KNIT_DHT_LOOKUP_MAX; i++)
        assert_true(knit_peer_id_equal(&l.cand[i].peer.id, &pl.p[i].id));
    /* One farther than all of them is not taken. */
    knit_dht_lookup_add(&l, &pl.p[100], 1);
    assert_null(knit_dht_lookup_find(&l, &pl.p[100].id));

    /* Peers being asked stay even when everybody else is closer. */
    start(&l, &pl, 3, 3);
    for (size_t i = 100; i < 164; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    for (size_t i = 100; i < 103; i++)
        expect_next(&l, T0, &pl.p[i]);
    for (size_t i = 0; i < 100; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 2);
    assert_int_equal(l.count, KNIT_DHT_LOOKUP_MAX);
    for (size_t i = 0; i < KNIT_DHT_LOOKUP_MAX - 3; i++)
        assert_true(knit_peer_id_equal(&l.cand[i].peer.id, &pl.p[i].id));
    for (size_t i = 0; i < 3; i++) {
        const struct knit_dht_candidate *c =
            &l.cand[KNIT_DHT_LOOKUP_MAX - 3 + i];
        assert_true(knit_peer_id_equal(&c->peer.id, &pl.p[100 + i].id));
        assert_int_equal(c->state, KNIT_DHT_CAND_ASKING);
    }
    /* Their answers still count. */
    knit_dht_lookup_answered(&l, &pl.p[101].id, NULL, 0, T0 + 1);
    assert_int_equal(l.answers, 1);
    /* The farthest not being asked is now p[101], answered: a closer
     * newcomer takes its place and the two being asked stay. */
    knit_dht_lookup_add(&l, &pl.p[61], 2);
    assert_int_equal(l.count, KNIT_DHT_LOOKUP_MAX);
    assert_null(knit_dht_lookup_find(&l, &pl.p[101].id));
    for (size_t i = 0; i < KNIT_DHT_LOOKUP_MAX - 2; i++)
        assert_true(knit_peer_id_equal(&l.cand[i].peer.id, &pl.p[i].id));
    assert_true(knit_peer_id_equal(&l.cand[62].peer.id, &pl.p[100].id));
    assert_true(knit_peer_id_equal(&l.cand[63].peer.id, &pl.p[102].id));
}

static void test_hops(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 21, 8);
    struct knit_dht_lookup l;
    start(&l, &pl, 1, 2);
    knit_dht_lookup_add(&l, &pl.p[7], 1);
    knit_dht_lookup_add(&l, &pl.p[6], 1);
    expect_next(&l, T0, &pl.p[6]);
    knit_dht_lookup_answered(&l, &pl.p[6].id, &pl.p[4], 1, T0 + 1);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[4].id)->hop, 2);
    assert_int_equal(knit_dht_lookup_hops(&l), 1);
    expect_next(&l, T0 + 2, &pl.p[4]);
    struct knit_dht_peer_info named[2] = {pl.p[1], pl.p[7]};
    knit_dht_lookup_answered(&l, &pl.p[4].id, named, 2, T0 + 3);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[1].id)->hop, 3);
    /* p[7] was a seed: it keeps hop 1. */
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[7].id)->hop, 1);
    expect_next(&l, T0 + 4, &pl.p[1]);
    knit_dht_lookup_answered(&l, &pl.p[1].id, &pl.p[0], 1, T0 + 5);
    expect_next(&l, T0 + 6, &pl.p[0]);
    knit_dht_lookup_answered(&l, &pl.p[0].id, NULL, 0, T0 + 7);
    /* The two closest, p[0] (hop 4) and p[1] (hop 3), decided it. */
    assert_int_equal(update(&l, T0 + 7), KNIT_DHT_LOOKUP_DONE);
    assert_int_equal(knit_dht_lookup_hops(&l), 4);
    assert_int_equal(l.queries, 4);
}

static void test_finish(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 22, 4);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 3);
    for (size_t i = 0; i < 4; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    expect_next(&l, T0, &pl.p[0]);
    expect_next(&l, T0, &pl.p[1]);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 1);
    knit_dht_lookup_finish(&l);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
    assert_int_equal(update(&l, T0 + 100 * SEC), KNIT_DHT_LOOKUP_DONE);
    assert_null(knit_dht_lookup_next(&l, T0 + 2));
    knit_dht_lookup_add(&l, &pl.p[3], 1);
    assert_int_equal(knit_dht_lookup_deadline(&l), UINT64_MAX);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[1].id)->hop, 1);
    assert_int_equal(knit_dht_lookup_hops(&l), 1);

    /* finish() does not turn a timed-out lookup into a success. */
    start(&l, &pl, 3, 3);
    assert_int_equal(update(&l, T0 + 30 * SEC), KNIT_DHT_LOOKUP_TIMED_OUT);
    knit_dht_lookup_finish(&l);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_TIMED_OUT);
}

/* A lookup over with its beta closest answered can be told to go on to a
 * larger beta: it asks the next ones, the one still being asked counts,
 * and it ends again when the wider set answered. */
static void test_widen(void **state)
{
    (void)state;
    struct pool pl;
    make_pool(&pl, 23, 6);
    struct knit_dht_lookup l;
    start(&l, &pl, 3, 2);
    for (size_t i = 0; i < 5; i++)
        knit_dht_lookup_add(&l, &pl.p[i], 1);
    for (size_t i = 0; i < 3; i++)
        expect_next(&l, T0, &pl.p[i]);
    /* Not over yet: widening a running lookup changes nothing. */
    knit_dht_lookup_widen(&l, 4, T0);
    assert_int_equal(l.cfg.beta, 2);
    knit_dht_lookup_answered(&l, &pl.p[0].id, NULL, 0, T0 + 1);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
    /* A narrower or equal beta does not reopen it. */
    knit_dht_lookup_widen(&l, 2, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
    knit_dht_lookup_widen(&l, 4, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    expect_next(&l, T0 + 1, &pl.p[3]);
    expect_next(&l, T0 + 1, &pl.p[4]);
    assert_null(knit_dht_lookup_next(&l, T0 + 1));   /* alpha in flight */
    knit_dht_lookup_answered(&l, &pl.p[2].id, &pl.p[5], 1, T0 + 2);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_RUNNING);
    knit_dht_lookup_answered(&l, &pl.p[3].id, NULL, 0, T0 + 3);
    /* The 4 closest answered, with p[4] still out; p[5] was never asked. */
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
    assert_int_equal(l.queries, 5);
    assert_int_equal(knit_dht_lookup_find(&l, &pl.p[5].id)->state,
                     KNIT_DHT_CAND_NEW);

    /* Reopened with nobody left to ask but the ones that answered: done at
     * once. */
    start(&l, &pl, 3, 2);
    for (size_t i = 0; i < 2; i++) {
        knit_dht_lookup_add(&l, &pl.p[i], 1);
        expect_next(&l, T0, &pl.p[i]);
    }
    knit_dht_lookup_answered(&l, &pl.p[0].id, NULL, 0, T0 + 1);
    knit_dht_lookup_answered(&l, &pl.p[1].id, NULL, 0, T0 + 1);
    knit_dht_lookup_widen(&l, 20, T0 + 1);
    assert_int_equal(l.status, KNIT_DHT_LOOKUP_DONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_alpha_bound_and_closest_first),
        cmocka_unit_test(test_beta_termination),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_all_seeds_fail),
        cmocka_unit_test(test_overall_deadline),
        cmocka_unit_test(test_ignored_candidates),
        cmocka_unit_test(test_unknown_or_not_asking_ignored),
        cmocka_unit_test(test_capacity_keeps_closest),
        cmocka_unit_test(test_hops),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_widen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
