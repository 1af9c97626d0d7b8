/* xoshiro256** and splitmix64 as published by Blackman and Vigna
 * (https://prng.di.unimi.it/), written from their description. */
#include "sim/rng.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void knit_rng_seed(struct knit_rng *r, uint64_t seed)
{
    /* splitmix64's output is a bijection of its counter, so four successive
     * outputs are never all zero, the one state xoshiro cannot leave. */
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t knit_rng_next(struct knit_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t knit_rng_below(struct knit_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Reject the lowest 2^64 mod n outputs: what remains is a whole number
     * of copies of [0, n), so the modulo is unbiased. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = knit_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

double knit_rng_unit(struct knit_rng *r)
{
    return (double)(knit_rng_next(r) >> 11) * 0x1.0p-53;
}

bool knit_rng_chance(struct knit_rng *r, double p)
{
    if (!(p > 0.0))
        return false;
    if (p >= 1.0)
        return true;
    return knit_rng_unit(r) < p;
}

void knit_rng_fill(struct knit_rng *r, uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint64_t x = knit_rng_next(r);
        size_t n = len < 8 ? len : 8;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(x >> (8 * i));
        buf += n;
        len -= n;
    }
}
