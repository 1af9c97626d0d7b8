/* HASH, HMAC and HKDF of the Noise spec (section 4.3) over BLAKE2b-512, for
 * noise.c only. They live apart so the handshake file reads as the state
 * machine it is. */
#ifndef KNIT_NOISE_CRYPTO_H
#define KNIT_NOISE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "noise.h"

/* out = BLAKE2b-512(a || b); out may alias a or b; NULL is fine for an
 * empty part. */
void knit_noise_hash2(const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen, uint8_t out[KNIT_NOISE_HASH_LEN]);

/* HMAC-BLAKE2b (RFC 2104, 128-byte block) with a HASHLEN key over
 * d1 || d2. */
void knit_noise_hmac(const uint8_t key[KNIT_NOISE_HASH_LEN], const uint8_t *d1,
                     size_t len1, const uint8_t *d2, size_t len2,
                     uint8_t out[KNIT_NOISE_HASH_LEN]);

/* HKDF(ck, ikm) with two or three outputs (out3 NULL for two); out1 may
 * be ck itself. */
void knit_noise_hkdf(const uint8_t ck[KNIT_NOISE_HASH_LEN], const uint8_t *ikm,
                     size_t len, uint8_t out1[KNIT_NOISE_HASH_LEN],
                     uint8_t out2[KNIT_NOISE_HASH_LEN],
                     uint8_t out3[KNIT_NOISE_HASH_LEN]);

#endif
