/* The verified-record cache (proto/record_cache.h), the key conversion
 * cache (proto/key_cache.h) and the sized handshake rate-limit table
 * (proto/ratelimit.h): what node.c uses to scale to many simulated nodes. A cached envelope skips only its signature check;
 * anything else about it is still checked, and a different envelope (one
 * bit off) is never taken for a cached one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/key_cache.h"
#include "proto/ratelimit.h"
#include "proto/record.h"
#include "proto/record_cache.h"
#include "transport/error.h"

static void make_identity(struct knit_identity *id, uint8_t fill)
{
    uint8_t seed[KNIT_SEED_LEN];
    memset(seed, fill, sizeof seed);
    assert_int_equal(knit_identity_from_seed(id, seed), 0);
}

/* A signed record of id with one address, port chosen by the caller (so
 * the same identity can sign different envelopes). */
static size_t make_envelope(const struct knit_identity *id, uint16_t port,
                            uint8_t *out, size_t cap)
{
    struct knit_peer_record rec;
    memset(&rec, 0, sizeof rec);
    rec.peer = id->id;
    rec.seq = port;
    rec.issued = 1767225600;
    struct knit_addr a;
    const uint8_t ip[4] = {192, 0, 2, 1};
    knit_addr_set(&a, ip, 4, port);
    assert_int_equal(knit_multiaddr_from_socket(&rec.addrs[0], &a, NULL), 0);
    rec.addr_count = 1;
    size_t len;
    assert_int_equal(knit_record_sign(&rec, id, out, cap, &len), 0);
    return len;
}

static struct knit_record_cache *cache_new(uint32_t slots)
{
    uint8_t key[32];
    memset(key, 7, sizeof key);
    struct knit_record_cache *c;
    assert_int_equal(knit_record_cache_new(&c, slots, key), 0);
    return c;
}

static uint64_t hits_of(const struct knit_record_cache *c)
{
    uint64_t hits, misses;
    knit_record_cache_stats(c, &hits, &misses);
    return hits;
}

static uint64_t misses_of(const struct knit_record_cache *c)
{
    uint64_t hits, misses;
    knit_record_cache_stats(c, &hits, &misses);
    return misses;
}

static void test_second_verify_hits(void **state)
{
    (void)state;
    struct knit_identity id;
    make_identity(&id, 1);
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len = make_envelope(&id, 4001, env, sizeof env);
    struct knit_record_cache *c = cache_new(0);
    struct knit_peer_record a, b;
    assert_int_equal(knit_record_verify_cached(c, &a, env, len), 0);
    assert_int_equal(misses_of(c), 1);
    assert_int_equal(hits_of(c), 0);
    assert_int_equal(knit_record_verify_cached(c, &b, env, len), 0);
    assert_int_equal(hits_of(c), 1);
    /* The cached path decodes the same record. */
    assert_true(knit_peer_id_equal(&a.peer, &b.peer));
    assert_true(a.seq == b.seq);
    assert_true(knit_multiaddr_equal(&a.addrs[0], &b.addrs[0]));
    /* NULL cache: plain verification. */
    assert_int_equal(knit_record_verify_cached(NULL, &b, env, len), 0);
    knit_record_cache_free(c);
}

static void test_altered_envelope_still_fails(void **state)
{
    (void)state;
    struct knit_identity id;
    make_identity(&id, 2);
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len = make_envelope(&id, 4001, env, sizeof env);
    struct knit_record_cache *c = cache_new(0);
    struct knit_peer_record rec;
    assert_int_equal(knit_record_verify_cached(c, &rec, env, len), 0);
    /* Each single-bit change of the signature, cached original or not. */
    for (size_t bit = 0; bit < 64 * 8; bit += 37) {
        uint8_t bad[KNIT_RECORD_MAX_BYTES];
        memcpy(bad, env, len);
        bad[len - 64 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(knit_record_verify_cached(c, &rec, bad, len),
                         KNIT_E_SIGNATURE);
        /* and a failure is never remembered */
        assert_int_equal(knit_record_verify_cached(c, &rec, bad, len),
                         KNIT_E_SIGNATURE);
    }
    /* The original is still known good. */
    assert_int_equal(knit_record_verify_cached(c, &rec, env, len), 0);
    knit_record_cache_free(c);
}

/* However many records pass, the cache holds its slots' worth: verifying
 * them all again hits at most that many times, and every one still
 * verifies. */
static void test_bounded(void **state)
{
    (void)state;
    struct knit_identity id;
    make_identity(&id, 3);
    struct knit_record_cache *c = cache_new(0);
    size_t memory = knit_record_cache_memory(c);
    assert_true(memory < 5 * 1024);   /* 4 KiB of tags, and the header */
    enum { RECORDS = 4 * KNIT_RECORD_CACHE_DEFAULT_SLOTS };
    static uint8_t env[RECORDS][KNIT_RECORD_MAX_BYTES];
    size_t len[RECORDS];
    struct knit_peer_record rec;
    for (int i = 0; i < RECORDS; i++) {
        len[i] = make_envelope(&id, (uint16_t)(1000 + i), env[i],
                               sizeof env[i]);
        assert_int_equal(knit_record_verify_cached(c, &rec, env[i], len[i]),
                         0);
    }
    assert_int_equal(hits_of(c), 0);
    for (int i = 0; i < RECORDS; i++)
        assert_int_equal(knit_record_verify_cached(c, &rec, env[i], len[i]),
                         0);
    assert_true(hits_of(c) > 0);
    assert_true(hits_of(c) <= KNIT_RECORD_CACHE_DEFAULT_SLOTS);
    assert_int_equal(knit_record_cache_memory(c), memory);
    knit_record_cache_free(c);
    /* Sizes: rounded up, bounded. */
    uint8_t key[32] = {1};
    assert_int_equal(knit_record_cache_new(&c, KNIT_RECORD_CACHE_MAX_SLOTS + 1,
                                           key),
                     KNIT_E_INVAL);
    assert_int_equal(knit_record_cache_new(&c, 1000, key), 0);
    assert_true(knit_record_cache_memory(c) >=
                1024 * KNIT_RECORD_CACHE_TAG_LEN);
    knit_record_cache_free(c);
}

static void test_key_cache(void **state)
{
    (void)state;
    const uint8_t key[16] = {3};
    struct knit_key_cache *c;
    assert_int_equal(knit_key_cache_new(&c, 0, key), KNIT_E_INVAL);
    assert_int_equal(knit_key_cache_new(&c, 8, key), 0);
    uint64_t hits, misses;
    for (uint8_t round = 0; round < 2; round++)
        for (uint8_t i = 1; i <= 20; i++) {
            struct knit_identity id;
            make_identity(&id, i);
            uint8_t x[32], plain[32];
            assert_int_equal(knit_key_cache_convert(c, x, id.id.pubkey), 0);
            assert_int_equal(knit_key_cache_convert(NULL, plain,
                                                    id.id.pubkey), 0);
            /* The X25519 form is the identity's own Noise key. */
            assert_memory_equal(x, id.x_public, 32);
            assert_memory_equal(plain, id.x_public, 32);
        }
    knit_key_cache_stats(c, &hits, &misses);
    assert_int_equal(hits + misses, 40);
    assert_true(hits > 0 && hits <= 8);   /* 8 slots: bounded */
    /* A key that does not convert fails every time and is not kept. */
    uint8_t zero[32] = {0}, x[32];
    assert_int_equal(knit_key_cache_convert(c, x, zero), KNIT_E_KEY_MISMATCH);
    assert_int_equal(knit_key_cache_convert(c, x, zero), KNIT_E_KEY_MISMATCH);
    assert_int_equal(knit_key_cache_convert(NULL, x, zero),
                     KNIT_E_KEY_MISMATCH);
    knit_key_cache_free(c);
}

static struct knit_addr v4(uint8_t d)
{
    struct knit_addr a;
    const uint8_t ip[4] = {198, 51, 100, d};
    knit_addr_set(&a, ip, 4, 4001);
    return a;
}

static void test_table_sizes(void **state)
{
    (void)state;
    const uint8_t key[16] = {9};
    struct knit_ratelimit_table *t;
    assert_int_equal(knit_ratelimit_table_new(&t, 0, key, 0, 0), 0);
    size_t full = knit_ratelimit_table_memory(t);
    assert_true(full >= KNIT_RATELIMIT_SLOTS * sizeof(struct knit_ratelimit_slot));
    knit_ratelimit_table_free(t);
    /* Rounded up to a power of two, at least the probe count. */
    assert_int_equal(knit_ratelimit_table_new(&t, 1, key, 0, 0), 0);
    size_t small = knit_ratelimit_table_memory(t);
    knit_ratelimit_table_free(t);
    assert_int_equal(knit_ratelimit_table_new(&t, 100, key, 0, 0), 0);
    size_t hundred = knit_ratelimit_table_memory(t);
    knit_ratelimit_table_free(t);
    assert_true(hundred - small ==
                (128 - KNIT_RATELIMIT_PROBES) *
                    sizeof(struct knit_ratelimit_slot));
    assert_true(small < 1024 && full > 64 * 1024);
    assert_int_equal(knit_ratelimit_table_new(&t, KNIT_RATELIMIT_MAX_SLOTS + 1,
                                              key, 0, 0),
                     KNIT_E_INVAL);
    assert_int_equal(knit_ratelimit_table_new(NULL, 8, key, 0, 0),
                     KNIT_E_INVAL);
}

/* A small table limits one source exactly as the full one does, and a
 * crowd of other sources, more than it has slots, never gets a source
 * refused that the full table would let through. */
static void test_small_table_limits_the_same(void **state)
{
    (void)state;
    const uint8_t key[16] = {5};
    struct knit_ratelimit_table *small, *big;
    assert_int_equal(knit_ratelimit_table_new(&small, 8, key, 0, 0), 0);
    assert_int_equal(knit_ratelimit_table_new(&big, 0, key, 0, 0), 0);
    uint64_t now = 1000000000;
    struct knit_addr heavy = v4(1);
    for (int i = 0; i < KNIT_RATELIMIT_DEFAULT_BURST; i++) {
        assert_true(knit_ratelimit_table_allow(small, &heavy, now));
        assert_true(knit_ratelimit_table_allow(big, &heavy, now));
    }
    assert_false(knit_ratelimit_table_allow(small, &heavy, now));
    assert_false(knit_ratelimit_table_allow(big, &heavy, now));
    for (int round = 0; round < 3; round++)
        for (uint8_t d = 2; d < 100; d++) {
            struct knit_addr a = v4(d);
            bool s = knit_ratelimit_table_allow(small, &a, now);
            bool b = knit_ratelimit_table_allow(big, &a, now);
            assert_true(s || !b);
        }
    /* After a second everyone has room again. */
    now += 1000000;
    assert_true(knit_ratelimit_table_allow(small, &heavy, now));
    knit_ratelimit_table_free(small);
    knit_ratelimit_table_free(big);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_verify_hits),
        cmocka_unit_test(test_altered_envelope_still_fails),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_table_sizes),
        cmocka_unit_test(test_small_table_limits_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
