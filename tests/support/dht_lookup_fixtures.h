/* Deterministic peers for the lookup tests (test_dht_lookup.c,
 * test_dht_lookup_net.c): a splitmix64 generator and random peers at
 * 10.x.y.1:4001. Header-only, static inline, like the other DHT fixtures.
 * Include after <cmocka.h>. */
#ifndef KNIT_TEST_DHT_LOOKUP_FIXTURES_H
#define KNIT_TEST_DHT_LOOKUP_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dht/rpc.h"
#include "transport/io.h"

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void rng_fill(uint64_t *s, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rng_next(s);
}

static inline void random_peer(uint64_t *s, struct knit_dht_peer_info *p)
{
    memset(p, 0, sizeof *p);
    rng_fill(s, p->id.pubkey, sizeof p->id.pubkey);
    uint8_t ip[4] = {10, (uint8_t)rng_next(s), (uint8_t)rng_next(s), 1};
    assert_int_equal(knit_addr_set(&p->addrs[0], ip, 4, 4001), 0);
    p->addr_count = 1;
}

#endif
