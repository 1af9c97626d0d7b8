/* Helpers shared by the routing table tests (test_dht_table.c,
 * test_dht_table_diversity.c): deterministic randomness, peers placed in a
 * chosen bucket, IPv4 addresses, and a table built from a seed.
 *
 * Header-only, all static inline: they call dht/ functions, and the support
 * library links knit_proto alone, so they cannot live in a support .c file.
 * Include after <cmocka.h>. */
#ifndef KNIT_TEST_DHT_TABLE_FIXTURES_H
#define KNIT_TEST_DHT_TABLE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "dht/table.h"

#define SEC UINT64_C(1000000)

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void random_id(uint64_t *s, struct knit_peer_id *id)
{
    for (size_t i = 0; i < sizeof id->pubkey; i++)
        id->pubkey[i] = (uint8_t)rng_next(s);
}

static inline unsigned bucket_of(const struct knit_dht_table *t,
                                 const struct knit_peer_id *id)
{
    struct knit_dht_key k;
    knit_dht_key_of_peer(&k, id);
    return knit_dht_key_common_prefix(&t->self_key, &k);
}

/* A random peer whose key falls in the given bucket of t. */
static inline void peer_in(uint64_t *s, const struct knit_dht_table *t,
                           unsigned bucket, struct knit_peer_id *id)
{
    for (;;) {
        random_id(s, id);
        if (bucket_of(t, id) == bucket)
            return;
    }
}

static inline struct knit_addr ip4(uint8_t a, uint8_t b, uint8_t c,
                                   uint8_t d, uint16_t port)
{
    struct knit_addr x;
    uint8_t ip[4] = {a, b, c, d};
    assert_int_equal(knit_addr_set(&x, ip, 4, port), 0);
    return x;
}

static inline void make_table(struct knit_dht_table *t, uint64_t seed,
                              const struct knit_dht_table_config *cfg)
{
    struct knit_peer_id self;
    uint64_t s = seed;
    random_id(&s, &self);
    knit_dht_table_init(t, &self, cfg);
}

static inline int update(struct knit_dht_table *t,
                         const struct knit_peer_id *id, struct knit_addr a,
                         uint64_t now)
{
    return knit_dht_table_update(t, id, &a, now, NULL, NULL);
}

#endif
