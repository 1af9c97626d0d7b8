/* DHT keys: the key of a peer, common prefixes, XOR distance and its
 * ordering, and refresh targets inside a bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/key.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_key(uint64_t *s, struct knit_dht_key *k)
{
    for (size_t i = 0; i < sizeof k->b; i++)
        k->b[i] = (uint8_t)rng_next(s);
}

/* Bit i of k, counted from the most significant bit of byte 0. */
static unsigned bit(const struct knit_dht_key *k, unsigned i)
{
    return (k->b[i / 8] >> (7 - i % 8)) & 1u;
}

static unsigned slow_common_prefix(const struct knit_dht_key *a,
                                   const struct knit_dht_key *b)
{
    unsigned i = 0;
    while (i < KNIT_DHT_KEY_BITS && bit(a, i) == bit(b, i))
        i++;
    return i;
}

static void test_key_of_peer(void **state)
{
    (void)state;
    /* SHA-256 of 00 24 08 01 12 20 || 01 02 .. 20, computed elsewhere. */
    static const uint8_t want[32] = {
        0x95, 0xce, 0x86, 0xdb, 0xb7, 0xe1, 0x24, 0x52, 0x92, 0xa0, 0x1b,
        0xa5, 0x3d, 0x87, 0x53, 0x28, 0x11, 0x8b, 0xd1, 0xbb, 0x75, 0x11,
        0xf6, 0x46, 0x23, 0xa9, 0xea, 0x7f, 0x3c, 0xe9, 0xeb, 0x61,
    };
    struct knit_peer_id id;
    for (unsigned i = 0; i < KNIT_PUBKEY_LEN; i++)
        id.pubkey[i] = (uint8_t)(i + 1);
    struct knit_dht_key k;
    knit_dht_key_of_peer(&k, &id);
    assert_memory_equal(k.b, want, sizeof want);

    id.pubkey[31] ^= 1;
    struct knit_dht_key k2;
    knit_dht_key_of_peer(&k2, &id);
    assert_memory_not_equal(k.b, k2.b, sizeof k.b);
}

static void test_common_prefix(void **state)
{
    (void)state;
    struct knit_dht_key a, b;
    memset(&a, 0, sizeof a);
    b = a;
    assert_int_equal(knit_dht_key_common_prefix(&a, &b), 256);
    for (unsigned i = 0; i < KNIT_DHT_KEY_BITS; i++) {
        b = a;
        b.b[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
        assert_int_equal(knit_dht_key_common_prefix(&a, &b), i);
        assert_int_equal(knit_dht_key_common_prefix(&b, &a), i);
        /* Lower bits do not matter. */
        b.b[31] ^= 1;
        if (i != 255)
            assert_int_equal(knit_dht_key_common_prefix(&a, &b), i);
    }
    uint64_t s = 1;
    for (int n = 0; n < 1000; n++) {
        rng_key(&s, &a);
        b = a;
        /* Copy a random number of leading bytes exactly, so long prefixes
         * come up too. */
        unsigned keep = (unsigned)(rng_next(&s) % 33);
        rng_key(&s, &b);
        memcpy(b.b, a.b, keep);
        assert_int_equal(knit_dht_key_common_prefix(&a, &b),
                         slow_common_prefix(&a, &b));
    }
}

static void test_distance(void **state)
{
    (void)state;
    struct knit_dht_key a, b, d, z;
    uint64_t s = 2;
    rng_key(&s, &a);
    rng_key(&s, &b);
    knit_dht_key_distance(&d, &a, &b);
    for (unsigned i = 0; i < sizeof d.b; i++)
        assert_int_equal(d.b[i], a.b[i] ^ b.b[i]);
    knit_dht_key_distance(&z, &a, &a);
    for (unsigned i = 0; i < sizeof z.b; i++)
        assert_int_equal(z.b[i], 0);
    /* The distance's leading zeros are the common prefix. */
    assert_int_equal(knit_dht_key_common_prefix(&d, &z),
                     knit_dht_key_common_prefix(&a, &b));
}

static void test_cmp_distance(void **state)
{
    (void)state;
    struct knit_dht_key t, a, b;
    memset(&t, 0, sizeof t);
    a = t;
    b = t;
    assert_int_equal(knit_dht_key_cmp_distance(&t, &a, &b), 0);
    a.b[31] = 1;                 /* distance 1 */
    b.b[0] = 0x80;               /* distance 2^255 */
    assert_true(knit_dht_key_cmp_distance(&t, &a, &b) < 0);
    assert_true(knit_dht_key_cmp_distance(&t, &b, &a) > 0);
    assert_true(knit_dht_key_cmp_distance(&t, &t, &a) < 0);
    /* Distance, not numeric order: with target 0xff.., 0xff..fe is closer
     * than 0x00... */
    memset(t.b, 0xff, sizeof t.b);
    memset(a.b, 0xff, sizeof a.b);
    a.b[31] = 0xfe;
    memset(b.b, 0, sizeof b.b);
    assert_true(knit_dht_key_cmp_distance(&t, &a, &b) < 0);

    /* Agrees with comparing the XOR distances as big-endian numbers. */
    uint64_t s = 3;
    for (int n = 0; n < 2000; n++) {
        rng_key(&s, &t);
        rng_key(&s, &a);
        rng_key(&s, &b);
        /* Shared leading bytes make ties deep in the key likely. */
        unsigned keep = (unsigned)(rng_next(&s) % 33);
        memcpy(b.b, a.b, keep);
        struct knit_dht_key da, db;
        knit_dht_key_distance(&da, &t, &a);
        knit_dht_key_distance(&db, &t, &b);
        int want = memcmp(da.b, db.b, sizeof da.b);
        int got = knit_dht_key_cmp_distance(&t, &a, &b);
        assert_int_equal(got < 0, want < 0);
        assert_int_equal(got > 0, want > 0);
        assert_int_equal(got == 0, want == 0);
    }
}

static void test_key_in_bucket(void **state)
{
    (void)state;
    uint64_t s = 4;
    struct knit_dht_key self, rnd, out;
    for (int round = 0; round < 8; round++) {
        rng_key(&s, &self);
        for (unsigned bkt = 0; bkt < KNIT_DHT_KEY_BITS; bkt++) {
            rng_key(&s, &rnd);
            knit_dht_key_in_bucket(&out, &self, bkt, rnd.b);
            assert_int_equal(knit_dht_key_common_prefix(&self, &out), bkt);
            /* Bits after the bucket's come from the random input. */
            for (unsigned i = bkt + 1; i < KNIT_DHT_KEY_BITS; i++)
                assert_int_equal(bit(&out, i), bit(&rnd, i));
        }
        /* Even a random input equal to self lands in the bucket. */
        for (unsigned bkt = 0; bkt < KNIT_DHT_KEY_BITS; bkt += 7) {
            knit_dht_key_in_bucket(&out, &self, bkt, self.b);
            assert_int_equal(knit_dht_key_common_prefix(&self, &out), bkt);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_of_peer),
        cmocka_unit_test(test_common_prefix),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_cmp_distance),
        cmocka_unit_test(test_key_in_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
