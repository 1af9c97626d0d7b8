/* The routing table's IP-prefix diversity limits: that they leave a small
 * network behind one /24 alone while buckets have room, that a full bucket
 * crowded by one prefix gives way to newcomers from others (per bucket and
 * table-wide), IPv6 /48 grouping, and that promotion from the replacement
 * cache respects the limits. The rest of the table is in test_dht_table.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/table.h"
#include "tests/support/dht_table_fixtures.h"
#include "transport/error.h"

/* 2001:db8:<net>:<sub>::<host> */
static struct knit_addr ip6(uint16_t net, uint16_t sub, uint16_t host)
{
    struct knit_addr x;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, (uint8_t)(net >> 8),
                      (uint8_t)net, (uint8_t)(sub >> 8), (uint8_t)sub};
    ip[14] = (uint8_t)(host >> 8);
    ip[15] = (uint8_t)host;
    assert_int_equal(knit_addr_set(&x, ip, 16, 4001), 0);
    return x;
}

/* ---- diversity ----------------------------------------------------------- */

/* Loopback: everyone shares a /24, and while buckets have room that does
 * not matter, far past both limits. */
static void test_small_network_one_prefix(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 8, NULL);
    uint64_t s = 81;
    uint16_t port = 5000;
    size_t added = 0;
    while (knit_dht_table_bucket_entries(&t, 0) < KNIT_DHT_K) {
        struct knit_peer_id p;
        random_id(&s, &p);
        unsigned b = bucket_of(&t, &p);
        if (knit_dht_table_bucket_entries(&t, b) == KNIT_DHT_K)
            continue;
        assert_int_equal(update(&t, &p, ip4(127, 0, 0, 1, port),
                                (uint64_t)port * SEC),
                         KNIT_DHT_ADDED);
        port++;
        added++;
    }
    assert_int_equal(knit_dht_table_size(&t), added);
    assert_true(added > KNIT_DHT_K);
    assert_true(knit_dht_table_bucket_entries(&t, 1) > 2);

    /* Now bucket 0 is full and one more loopback peer competes for it. */
    struct knit_peer_id p;
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(127, 0, 0, 1, port), 99999 * SEC),
                     KNIT_DHT_REFUSED);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 0);
    /* A peer from elsewhere displaces one of the crowd. */
    assert_int_equal(update(&t, &p, ip4(192, 0, 2, 1, 4001), 99999 * SEC),
                     KNIT_DHT_DISPLACED);
    assert_int_equal(knit_dht_table_size(&t), added);
    knit_dht_table_free(&t);
}

static int count_prefix(const struct knit_dht_table *t, unsigned bucket,
                        struct knit_addr like)
{
    int n = 0;
    for (size_t i = 0; i < knit_dht_table_bucket_entries(t, bucket); i++)
        n += knit_dht_prefix_equal(
            &knit_dht_table_bucket_entry(t, bucket, i)->addr, &like);
    return n;
}

static void test_full_bucket_of_one_prefix(void **state)
{
    (void)state;
    struct knit_dht_table t;
    make_table(&t, 9, NULL);
    uint64_t s = 91;
    struct knit_peer_id crowd[KNIT_DHT_K];
    for (int i = 0; i < KNIT_DHT_K; i++) {
        peer_in(&s, &t, 0, &crowd[i]);
        assert_int_equal(update(&t, &crowd[i], ip4(10, 0, 0, (uint8_t)(i + 1),
                                                   4001),
                                (uint64_t)(i + 1) * SEC),
                         KNIT_DHT_ADDED);
    }
    struct knit_peer_id p;
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 200, 4001), 100 * SEC),
                     KNIT_DHT_REFUSED);

    /* Newcomers from other /24s take the crowd's slots, least recently seen
     * first, until the crowd is down to the limit; then they wait. */
    for (int i = 0; i < KNIT_DHT_K - 2; i++) {
        peer_in(&s, &t, 0, &p);
        assert_int_equal(update(&t, &p, ip4(10, 1, (uint8_t)i, 1, 4001),
                                (uint64_t)(200 + i) * SEC),
                         KNIT_DHT_DISPLACED);
        assert_null(knit_dht_table_find(&t, &crowd[i]));
        assert_non_null(knit_dht_table_find(&t, &crowd[i + 1]));
        assert_non_null(knit_dht_table_find(&t, &p));
        assert_int_equal(knit_dht_table_size(&t), KNIT_DHT_K);
    }
    assert_int_equal(count_prefix(&t, 0, ip4(10, 0, 0, 0, 1)), 2);
    bool need = false;
    struct knit_dht_entry check;
    peer_in(&s, &t, 0, &p);
    struct knit_addr a = ip4(10, 2, 0, 1, 4001);
    assert_int_equal(knit_dht_table_update(&t, &p, &a, 300 * SEC, &need,
                                           &check),
                     KNIT_DHT_WAITING);
    assert_true(need);
    assert_true(knit_peer_id_equal(&check.id, &crowd[KNIT_DHT_K - 2]));
    /* The crowd is at its limit: still refused. */
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 0, 201, 4001), 301 * SEC),
                     KNIT_DHT_REFUSED);
    /* One newcomer's /24 now holds one entry: a second and a third of it
     * wait, as replacements do not count against the limits. */
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(10, 1, 0, 2, 4001), 302 * SEC),
                     KNIT_DHT_WAITING);
    struct knit_peer_id q;
    peer_in(&s, &t, 0, &q);
    assert_int_equal(update(&t, &q, ip4(10, 1, 0, 3, 4001), 303 * SEC),
                     KNIT_DHT_WAITING);
    knit_dht_table_free(&t);
}

static void test_table_wide_limit(void **state)
{
    (void)state;
    struct knit_dht_table_config cfg = {
        .k = 4, .bucket_prefix_limit = 4, .table_prefix_limit = 3,
    };
    struct knit_dht_table t;
    make_table(&t, 10, &cfg);
    uint64_t s = 101;
    struct knit_peer_id p;
    /* Three of 192.0.2.0/24 in bucket 1: the table limit, reached freely. */
    for (int i = 0; i < 3; i++) {
        peer_in(&s, &t, 1, &p);
        assert_int_equal(update(&t, &p, ip4(192, 0, 2, (uint8_t)(i + 1), 4001),
                                (uint64_t)(i + 1) * SEC),
                         KNIT_DHT_ADDED);
    }
    /* Bucket 0 full of others. */
    struct knit_peer_id d[4];
    for (int i = 0; i < 4; i++) {
        peer_in(&s, &t, 0, &d[i]);
        assert_int_equal(update(&t, &d[i], ip4(10, 0, (uint8_t)(1 + i), 1, 4001),
                                (uint64_t)(10 + i) * SEC),
                         KNIT_DHT_ADDED);
    }
    /* None of 192.0.2/24 in bucket 0 (limit 4), but 3 in the table (limit
     * 3): a newcomer of it is refused on the table limit. */
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(192, 0, 2, 99, 4001), 20 * SEC),
                     KNIT_DHT_REFUSED);
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 0);

    /* With room in bucket 0 it goes in anyway, 4 in the table. */
    assert_true(knit_dht_table_remove(&t, &d[3]));
    struct knit_peer_id g1 = p;
    assert_int_equal(update(&t, &g1, ip4(192, 0, 2, 99, 4001), 21 * SEC),
                     KNIT_DHT_ADDED);
    /* A newcomer from elsewhere displaces g1, the one over the table limit,
     * though d[0] was seen less recently. */
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 9, 1, 4001), 22 * SEC),
                     KNIT_DHT_DISPLACED);
    assert_null(knit_dht_table_find(&t, &g1));
    assert_non_null(knit_dht_table_find(&t, &d[0]));
    assert_non_null(knit_dht_table_find(&t, &p));
    assert_int_equal(knit_dht_table_size(&t), 7);
    /* Bucket 0 is clean now (3 of 192.0.2/24 left, not over): the next
     * newcomer waits. */
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip4(10, 0, 10, 1, 4001), 23 * SEC),
                     KNIT_DHT_WAITING);
    knit_dht_table_free(&t);
}

static void test_ipv6_prefix(void **state)
{
    (void)state;
    /* /48: bytes 0..5 decide; the subnet (bytes 6, 7) and host do not. */
    struct knit_addr a = ip6(1, 0, 1), b = ip6(1, 0xffff, 2), c = ip6(2, 0, 1);
    assert_true(knit_dht_prefix_equal(&a, &b));
    assert_false(knit_dht_prefix_equal(&a, &c));
    /* /24 for IPv4. */
    struct knit_addr v4a = ip4(10, 0, 0, 1, 1), v4b = ip4(10, 0, 0, 2, 2);
    struct knit_addr v4c = ip4(10, 0, 1, 1, 1);
    assert_true(knit_dht_prefix_equal(&v4a, &v4b));
    assert_false(knit_dht_prefix_equal(&v4a, &v4c));
    /* Families never mix, and an unset address is in no group. */
    struct knit_addr v6like;
    uint8_t ip[16] = {10, 0, 0, 1};
    assert_int_equal(knit_addr_set(&v6like, ip, 16, 1), 0);
    assert_false(knit_dht_prefix_equal(&v4a, &v6like));
    struct knit_addr unset;
    memset(&unset, 0, sizeof unset);
    assert_false(knit_dht_prefix_equal(&unset, &unset));

    struct knit_dht_table_config cfg = {.k = 6};
    struct knit_dht_table t;
    make_table(&t, 12, &cfg);
    uint64_t s = 121;
    struct knit_peer_id first, p;
    for (int i = 0; i < 6; i++) {
        peer_in(&s, &t, 0, i ? &p : &first);
        assert_int_equal(update(&t, i ? &p : &first,
                                ip6(1, (uint16_t)i, (uint16_t)(i + 1)),
                                (uint64_t)(i + 1) * SEC),
                         KNIT_DHT_ADDED);
    }
    peer_in(&s, &t, 0, &p);
    assert_int_equal(update(&t, &p, ip6(1, 0x1234, 9), 10 * SEC),
                     KNIT_DHT_REFUSED);
    assert_int_equal(update(&t, &p, ip6(2, 0, 9), 10 * SEC),
                     KNIT_DHT_DISPLACED);
    assert_null(knit_dht_table_find(&t, &first));
    knit_dht_table_free(&t);
}

static void test_promotion_respects_diversity(void **state)
{
    (void)state;
    struct knit_dht_table_config cfg = {.k = 4};
    struct knit_dht_table t;
    make_table(&t, 13, &cfg);
    uint64_t s = 131;
    struct knit_peer_id e[4], rg, re;
    struct knit_addr g = ip4(198, 51, 100, 1, 4001);
    for (int i = 0; i < 4; i++) {
        peer_in(&s, &t, 0, &e[i]);
        struct knit_addr a = i == 0 ? g : ip4(10, 0, (uint8_t)i, 1, 4001);
        assert_int_equal(update(&t, &e[i], a, (uint64_t)(i + 1) * SEC),
                         KNIT_DHT_ADDED);
    }
    /* re (another /24), then rg (198.51.100/24, one in the bucket) wait. */
    peer_in(&s, &t, 0, &re);
    assert_int_equal(update(&t, &re, ip4(10, 9, 9, 9, 4001), 5 * SEC),
                     KNIT_DHT_WAITING);
    peer_in(&s, &t, 0, &rg);
    assert_int_equal(update(&t, &rg, ip4(198, 51, 100, 2, 4001), 6 * SEC),
                     KNIT_DHT_WAITING);
    /* e1 moves into 198.51.100/24: the bucket holds two, the limit. */
    assert_int_equal(update(&t, &e[1], ip4(198, 51, 100, 3, 4001), 7 * SEC),
                     KNIT_DHT_REFRESHED);
    /* e3 leaves: rg is the most recent but would be a third; re goes in. */
    assert_true(knit_dht_table_remove(&t, &e[3]));
    assert_non_null(knit_dht_table_find(&t, &re));
    assert_null(knit_dht_table_find(&t, &rg));
    assert_int_equal(knit_dht_table_bucket_replacements(&t, 0), 1);
    /* No one left to promote within the limits: the slot stays free. */
    assert_true(knit_dht_table_remove(&t, &e[2]));
    assert_int_equal(knit_dht_table_bucket_entries(&t, 0), 3);
    assert_int_equal(knit_dht_table_size(&t), 3);
    knit_dht_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_network_one_prefix),
        cmocka_unit_test(test_full_bucket_of_one_prefix),
        cmocka_unit_test(test_table_wide_limit),
        cmocka_unit_test(test_ipv6_prefix),
        cmocka_unit_test(test_promotion_respects_diversity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
