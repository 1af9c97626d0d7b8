/* The simulator's deterministic pseudo-random numbers.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any
 * 64-bit seed, 0 included, gives a well-mixed state. Everything random in a
 * simulated run (link loss and jitter, churn, workload, the bytes a simulated
 * host's knit_io.random hands to its node core) is drawn from one of these,
 * so a seed fixes the run. Not for cryptographic use: the daemon draws real
 * randomness through transport/. The state is public so a generator can live
 * inside another struct by value; treat the fields as private. */
#ifndef KNIT_SIM_RNG_H
#define KNIT_SIM_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct knit_rng {
    uint64_t s[4];
};

void knit_rng_seed(struct knit_rng *r, uint64_t seed);
uint64_t knit_rng_next(struct knit_rng *r);
/* Uniform in [0, n), without modulo bias; returns 0 when n is 0. */
uint64_t knit_rng_below(struct knit_rng *r, uint64_t n);
/* Uniform in [0, 1), a multiple of 2^-53. */
double knit_rng_unit(struct knit_rng *r);
/* True with probability p; p <= 0 (or NaN) is never, p >= 1 always. */
bool knit_rng_chance(struct knit_rng *r, double p);
/* Bytes in little-endian order of successive outputs, so a seed gives the
 * same bytes on every platform. */
void knit_rng_fill(struct knit_rng *r, uint8_t *buf, size_t len);

#endif
