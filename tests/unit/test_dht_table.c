/* The Kademlia routing table: buckets and their capacity, the replacement
 * cache and liveness checks, failures, restored entries, closest-peer
 * queries against brute force, the deepest bucket, and lazy allocation.
 * The IP-prefix diversity limits are in test_dht_table_diversity.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/table.h"
#include "tests/support/dht_table_fixtures.h"
#include "transport/error.h"

static size_t buckets_allocated(const struct knit_dht_table *t)
{
    size_t n = 0;
    for (unsigned b = 0; b < KNIT_DHT_KEY_BITS; b++)
        n += t->buckets[b] != NULL;
    return n;
}

/* ---- basics ------------------------------------------------------------- */

static void test_empty_table_allocates_nothing(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 1, NULL);
    assert_int_equal(t.cfg.k, KNIT_DHT_K);
    assert_int_equal(t.cfg.replacements, 8);
    assert_int_equal(t.cfg.bucket_prefix_limit, 2);
    assert_int_equal(t.cfg.table_prefix_limit, 8);
    assert_int_equal(t.cfg.max_failures, 3);
    assert_int_equal(buckets_allocated(&t), 0);
    assert_int_equal(knit_dht_table_size(&t), 0);
    assert_int_equal(knit_dht_table_deepest_bucket(&t), -1);
    struct knit_dht_entry out[4];
    assert_int_equal(knit_dht_table_closest(&t, &t.self_key, out, 4), 0);
    assert_null(knit_dht_table_bucket_entry(&t, 0, 0));

    /* One peer: one bucket; gone again with the peer. */
    uint64_t s = 11;
    struct knit_peer_id p;
    peer_in(&s, &t, 3, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 4001), SEC),
                     KNIT_DHT_ADDED);
    assert_int_equal(buckets_allocated(&t), 1);
    assert_non_null(t.buckets[3]);
    assert_int_equal(knit_dht_table_deepest_bucket(&t), 3);
    assert_true(knit_dht_table_remove(&t, &p));
    assert_false(knit_dht_table_remove(&t, &p));
    assert_int_equal(buckets_allocated(&t), 0);
    assert_int_equal(knit_dht_table_size(&t), 0);

    /* Refused peers allocate nothing either. */
    assert_int_equal(update(&t, &t.self, ip4(10, 0, 0, 1, 4001), SEC),
                     KNIT_DHT_REFUSED);
    assert_int_equal(buckets_allocated(&t), 0);
    knit_dht_table_free(&t);
}

static void test_refuses_self_and_unset_addresses(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 2, NULL);
    struct knit_addr a = ip4(10, 0, 0, 1, 4001);
    assert_int_equal(update(&t, &t.self, a, SEC), KNIT_DHT_REFUSED);
    assert_int_equal(knit_dht_table_restore(&t, &t.self, &a, SEC),
                     KNIT_E_INVAL);

    uint64_t s = 21;
    struct knit_peer_id p;
    random_id(&s, &p);
    struct knit_addr unset;
    memset(&unset, 0, sizeof unset);
    unset.port = 4001;
    assert_int_equal(update(&t, &p, unset, SEC), KNIT_DHT_REFUSED);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 0), SEC),
                     KNIT_DHT_REFUSED);
    struct knit_addr noport = ip4(10, 0, 0, 1, 0);
    assert_int_equal(knit_dht_table_restore(&t, &p, &noport, SEC),
                     KNIT_E_INVAL);
    assert_int_equal(knit_dht_table_size(&t), 0);
    assert_null(knit_dht_table_find(&t, &p));
    knit_dht_table_free(&t);
}

static void test_add_and_refresh(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 3, NULL);
    uint64_t s = 31;
    struct knit_peer_id p;
    random_id(&s, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 4001), 5 * SEC),
                     KNIT_DHT_ADDED);
    const struct knit_dht_entry *e = knit_dht_table_find(&t, &p);
    assert_non_null(e);
    assert_true(e->verified);
    assert_false(e->checking);
    assert_int_equal(e->added, 5 * SEC);
    assert_int_equal(e->last_seen, 5 * SEC);
    struct knit_dht_key k;
    knit_dht_key_of_peer(&k, &p);
    assert_memory_equal(e->key.b, k.b, sizeof k.b);

    assert_false(knit_dht_table_failed(&t, &p));
    e = knit_dht_table_find(&t, &p);
    assert_int_equal(e->failures, 1);

    /* A sign of life from a new address. */
    struct knit_addr a2 = ip4(192, 0, 2, 7, 5000);
    assert_int_equal(update(&t, &p, a2, 9 * SEC), KNIT_DHT_REFRESHED);
    e = knit_dht_table_find(&t, &p);
    assert_int_equal(e->last_seen, 9 * SEC);
    assert_int_equal(e->added, 5 * SEC);
    assert_int_equal(e->failures, 0);
    assert_true(knit_addr_equal(&e->addr, &a2));
    assert_int_equal(knit_dht_table_size(&t), 1);
    knit_dht_table_free(&t);
}

/* ---- capacity, replacements, liveness checks ---------------------------- */

static void test_bucket_capacity(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 4, NULL);
    uint64_t s = 41;
    for (int i = 0; i < 30; i++) {
        struct knit_peer_id p;
        peer_in(&s, &t, 0, &p);
        /* Every peer in its own /24: no diversity limit in play. */
        int r = update(&t, &p, ip4(10, (uint8_t)i, 1, 1, 4001),
                       (uint64_t)(i + 1) * SEC);
        assert_int_equal(r, i < KNIT_DHT_K ? KNIT_DHT_ADDED : KNIT_DHT_WAITING);
    }
    assert_int_equal(knit_dht_table_bucket_entries(&t, 0), KNIT_DHT_K);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 8);
    assert_int_equal(knit_dht_table_size(&t), KNIT_DHT_K);
    /* A bucket other than 0 is untouched. */
    assert_int_equal(knit_dht_table_bucket_entries(&t, 1), 0);
    assert_int_equal(knit_dht_table_bucket_entries(&t, 999), 0);
    assert_null(knit_dht_table_bucket_entry(&t, 0, KNIT_DHT_K));
    knit_dht_table_free(&t);
}

static void test_replacement_and_check_flow(void **state)
{
    (void)state;
    struct knit_dht_table_config cfg = {.k = 4, .replacements = 3};
    struct knit_dht_table t;
    make_table(&t, 5, &cfg);
    uint64_t s = 51;
    struct knit_peer_id e[4], r[6];
    for (int i = 0; i < 4; i++) {
        peer_in(&s, &t, 0, &e[i]);
        assert_int_equal(update(&t, &e[i], ip4(10, 0, (uint8_t)i, 1, 4001),
                                (uint64_t)(i + 1) * SEC),
                         KNIT_DHT_ADDED);
    }
    for (int i = 0; i < 6; i++)
        peer_in(&s, &t, 0, &r[i]);

    bool need = true;
    struct knit_dht_entry check;
    struct knit_addr ar[6];
    for (int i = 0; i < 6; i++)
        ar[i] = ip4(10, 1, (uint8_t)i, 1, 4001);

    /* Full: r0 waits, the least-recently-seen entry e0 is to be checked. */
    assert_int_equal(knit_dht_table_update(&t, &r[0], &ar[0], 10 * SEC,
                                           &need, &check),
                     KNIT_DHT_WAITING);
    assert_true(need);
    assert_true(knit_peer_id_equal(&check.id, &e[0]));
    assert_true(check.checking);
    assert_true(knit_dht_table_find(&t, &e[0])->checking);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 1);
    assert_null(knit_dht_table_find(&t, &r[0]));

    /* Reported once: r0 again asks for no second check. */
    assert_int_equal(knit_dht_table_update(&t, &r[0], &ar[0], 11 * SEC,
                                           &need, &check),
                     KNIT_DHT_WAITING);
    assert_false(need);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 1);

    /* e0 answers the ping: it stays, no longer under check. */
    assert_int_equal(knit_dht_table_update(&t, &e[0], &(struct knit_addr){0},
                                           12 * SEC, &need, &check),
                     KNIT_DHT_REFUSED);   /* an unset address is no answer */
    struct knit_addr a0 = ip4(10, 0, 0, 1, 4001);
    assert_int_equal(knit_dht_table_update(&t, &e[0], &a0, 12 * SEC, &need,
                                           &check),
                     KNIT_DHT_REFRESHED);
    assert_false(need);
    assert_false(knit_dht_table_find(&t, &e[0])->checking);
    assert_int_equal(knit_dht_table_size(&t), 4);

    /* r1 waits; e1 is now the least recently seen. */
    assert_int_equal(knit_dht_table_update(&t, &r[1], &ar[1], 13 * SEC,
                                           &need, &check),
                     KNIT_DHT_WAITING);
    assert_true(need);
    assert_true(knit_peer_id_equal(&check.id, &e[1]));
    /* r2 waits: a second replacement, so a second check (e2). */
    assert_int_equal(knit_dht_table_update(&t, &r[2], &ar[2], 14 * SEC,
                                           &need, &check),
                     KNIT_DHT_WAITING);
    assert_true(need);
    assert_true(knit_peer_id_equal(&check.id, &e[2]));
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 3);

    /* e1 does not answer: out, and the most recent replacement (r2) in. */
    assert_true(knit_dht_table_failed(&t, &e[1]));
    assert_null(knit_dht_table_find(&t, &e[1]));
    const struct knit_dht_entry *in = knit_dht_table_find(&t, &r[2]);
    assert_non_null(in);
    assert_true(in->verified);
    assert_false(in->checking);
    assert_int_equal(in->last_seen, 14 * SEC);
    assert_int_equal(knit_dht_table_size(&t), 4);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 2);

    /* r0 shows life again: it becomes the most recent replacement, and as
     * one check (e2) is under way for two replacements, e3 gets one. */
    assert_int_equal(knit_dht_table_update(&t, &r[0], &ar[0], 15 * SEC,
                                           &need, &check),
                     KNIT_DHT_WAITING);
    assert_true(need);
    assert_true(knit_peer_id_equal(&check.id, &e[3]));
    assert_true(knit_dht_table_failed(&t, &e[2]));
    assert_non_null(knit_dht_table_find(&t, &r[0]));
    assert_null(knit_dht_table_find(&t, &r[1]));
    assert_int_equal(knit_dht_table_find(&t, &r[0])->added, 10 * SEC);

    /* The cache keeps the most recent: r1, then r3 r4 r5 push r1 out. */
    for (int i = 3; i < 6; i++)
        assert_int_equal(knit_dht_table_update(&t, &r[i], &ar[i],
                                               (uint64_t)(20 + i) * SEC, NULL,
                                               NULL),
                         KNIT_DHT_WAITING);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 3);
    assert_false(knit_dht_table_remove(&t, &r[1]));
    /* A replacement that fails is dropped at once. */
    assert_true(knit_dht_table_failed(&t, &r[3]));
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 2);
    assert_true(knit_dht_table_remove(&t, &r[4]));
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 1);

    /* Removing an entry promotes too (r5, the last one waiting). */
    assert_true(knit_dht_table_remove(&t, &e[0]));
    assert_non_null(knit_dht_table_find(&t, &r[5]));
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 0);
    assert_int_equal(knit_dht_table_size(&t), 4);
    knit_dht_table_free(&t);
}

static void test_max_failures(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 6, NULL);
    uint64_t s = 61;
    struct knit_peer_id p;
    random_id(&s, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 4001), SEC),
                     KNIT_DHT_ADDED);
    assert_false(knit_dht_table_failed(&t, &p));
    assert_false(knit_dht_table_failed(&t, &p));
    assert_int_equal(knit_dht_table_find(&t, &p)->failures, 2);
    /* An answer resets the run. */
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 4001), 2 * SEC),
                     KNIT_DHT_REFRESHED);
    assert_false(knit_dht_table_failed(&t, &p));
    assert_false(knit_dht_table_failed(&t, &p));
    assert_non_null(knit_dht_table_find(&t, &p));
    assert_true(knit_dht_table_failed(&t, &p));
    assert_null(knit_dht_table_find(&t, &p));
    assert_int_equal(knit_dht_table_size(&t), 0);
    assert_false(knit_dht_table_failed(&t, &p));
    knit_dht_table_free(&t);

    struct knit_dht_table_config cfg = {.max_failures = 1};
    make_table(&t, 6, &cfg);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 1, 4001), SEC),
                     KNIT_DHT_ADDED);
    assert_true(knit_dht_table_failed(&t, &p));
    knit_dht_table_free(&t);
}

static void test_restore(void **state)
{
    (void)state;
    struct knit_dht_table_config cfg = {.k = 3};
    struct knit_dht_table t;
    make_table(&t, 7, &cfg);
    uint64_t s = 71;
    struct knit_peer_id p[4];
    /* All in one /24: restoring into room ignores the limits. */
    struct knit_addr a = ip4(10, 0, 0, 1, 4001);
    for (int i = 0; i < 4; i++)
        peer_in(&s, &t, 0, &p[i]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(knit_dht_table_restore(&t, &p[i], &a,
                                                (uint64_t)(i + 1) * SEC),
                         KNIT_OK);
    assert_int_equal(knit_dht_table_restore(&t, &p[0], &a, SEC),
                     KNIT_E_EXISTS);
    assert_int_equal(knit_dht_table_restore(&t, &p[3], &a, SEC),
                     KNIT_E_LIMIT);
    assert_int_equal(knit_dht_table_size(&t), 3);
    const struct knit_dht_entry *e = knit_dht_table_find(&t, &p[1]);
    assert_false(e->verified);
    assert_int_equal(e->last_seen, 2 * SEC);

    /* Unverified: one failure removes it. */
    assert_true(knit_dht_table_failed(&t, &p[0]));
    assert_null(knit_dht_table_find(&t, &p[0]));
    /* Heard from: verified, and one failure no longer does. */
    assert_int_equal(update(&t, &p[1], a, 10 * SEC), KNIT_DHT_REFRESHED);
    assert_true(knit_dht_table_find(&t, &p[1])->verified);
    assert_false(knit_dht_table_failed(&t, &p[1]));
    assert_non_null(knit_dht_table_find(&t, &p[1]));
    assert_int_equal(knit_dht_table_size(&t), 2);
    knit_dht_table_free(&t);
}

/* ---- closest ------------------------------------------------------------- */

/* Every entry of t, closest to target first, by insertion sort. */
static size_t brute_closest(const struct knit_dht_table *t,
                            const struct knit_dht_key *target,
                            struct knit_dht_entry *all)
{
    size_t n = 0;
    for (unsigned b = 0; b < KNIT_DHT_KEY_BITS; b++)
        for (size_t i = 0; i < knit_dht_table_bucket_entries(t, b); i++) {
            const struct knit_dht_entry *e = knit_dht_table_bucket_entry(t, b, i);
            size_t j = n++;
            for (; j > 0 && knit_dht_key_cmp_distance(target, &e->key,
                                                      &all[j - 1].key) < 0;
                 j--)
                all[j] = all[j - 1];
            all[j] = *e;
        }
    return n;
}

static void test_closest_against_brute_force(void **state)
{
    (void)state;
    enum { PEERS = 400, MAX = 1000 };
    struct knit_dht_entry *all = calloc(MAX, sizeof *all);
    struct knit_dht_entry *out = calloc(MAX, sizeof *out);
    assert_non_null(all);
    assert_non_null(out);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct knit_dht_table t;
        make_table(&t, 1000 + seed, NULL);
        uint64_t s = seed * 7919;
        int deepest = -1;
        for (int i = 0; i < PEERS; i++) {
            struct knit_peer_id p;
            random_id(&s, &p);
            int r = update(&t, &p,
                           ip4(10, (uint8_t)rng_next(&s), (uint8_t)rng_next(&s),
                               1, 4001),
                           (uint64_t)(i + 1) * SEC);
            assert_true(r > 0);
            if ((r == KNIT_DHT_ADDED || r == KNIT_DHT_DISPLACED) &&
                (int)bucket_of(&t, &p) > deepest)
                deepest = (int)bucket_of(&t, &p);
        }
        assert_int_equal(knit_dht_table_deepest_bucket(&t), deepest);
        size_t size = knit_dht_table_size(&t);
        assert_true(size > 60);
        assert_true(size < PEERS);     /* the low buckets overflowed */

        for (int q = 0; q < 60; q++) {
            struct knit_dht_key target;
            if (q == 0) {
                target = t.self_key;
            } else if (q < 10) {
                /* An entry's own key, in buckets near and far. */
                unsigned b = (unsigned)q - 1;
                if (!knit_dht_table_bucket_entries(&t, b))
                    continue;
                target = knit_dht_table_bucket_entry(&t, b, 0)->key;
            } else {
                for (size_t i = 0; i < sizeof target.b; i++)
                    target.b[i] = (uint8_t)rng_next(&s);
            }
            size_t want_n = brute_closest(&t, &target, all);
            assert_int_equal(want_n, size);
            const size_t ns[] = {1, 3, KNIT_DHT_K, 50, size - 1, size,
                                 size + 5};
            for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
                size_t n = ns[k];
                size_t got = knit_dht_table_closest(&t, &target, out, n);
                assert_int_equal(got, n < size ? n : size);
                for (size_t i = 0; i < got; i++)
                    assert_memory_equal(out[i].id.pubkey, all[i].id.pubkey,
                                        KNIT_PUBKEY_LEN);
            }
        }
        assert_int_equal(knit_dht_table_closest(&t, &t.self_key, out, 0), 0);
        knit_dht_table_free(&t);
        assert_int_equal(buckets_allocated(&t), 0);
    }
    free(all);
    free(out);
}

static void test_deepest_bucket(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 14, NULL);
    uint64_t s = 141;
    struct knit_peer_id deep, shallow;
    peer_in(&s, &t, 6, &deep);
    peer_in(&s, &t, 0, &shallow);
    assert_int_equal(update(&t, &shallow, ip4(10, 0, 0, 1, 1), SEC),
                     KNIT_DHT_ADDED);
    assert_int_equal(knit_dht_table_deepest_bucket(&t), 0);
    assert_int_equal(update(&t, &deep, ip4(10, 0, 0, 2, 1), SEC),
                     KNIT_DHT_ADDED);
    assert_int_equal(knit_dht_table_deepest_bucket(&t), 6);
    assert_true(knit_dht_table_remove(&t, &deep));
    assert_int_equal(knit_dht_table_deepest_bucket(&t), 0);
    knit_dht_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_table_allocates_nothing),
        cmocka_unit_test(test_refuses_self_and_unset_addresses),
        cmocka_unit_test(test_add_and_refresh),
        cmocka_unit_test(test_bucket_capacity),
        cmocka_unit_test(test_replacement_and_check_flow),
        cmocka_unit_test(test_max_failures),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_closest_against_brute_force),
        cmocka_unit_test(test_deepest_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
