#include "noise_crypto.h"

#include <string.h>

#include <sodium.h>

#define BLOCK_LEN 128   /* BLAKE2b's block, the HMAC block size */

/* out = BLAKE2b-512(a || b); out may alias a or b. */
void knit_noise_hash2(const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen, uint8_t out[KNIT_NOISE_HASH_LEN])
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, KNIT_NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, a, alen);
    crypto_generichash_blake2b_update(&st, b, blen);
    crypto_generichash_blake2b_final(&st, out, KNIT_NOISE_HASH_LEN);
    sodium_memzero(&st, sizeof st);
}

/* HMAC as RFC 2104 builds it, over BLAKE2b with a 128-byte block. Noise
 * asks for this rather than BLAKE2b's own keyed mode, and the two give
 * different bytes. The key is at most HASHLEN here, so it is only padded.
 * The data is d1 || d2 (HKDF feeds a previous output and a counter byte). */
void knit_noise_hmac(const uint8_t key[KNIT_NOISE_HASH_LEN], const uint8_t *d1,
                     size_t len1, const uint8_t *d2, size_t len2,
                     uint8_t out[KNIT_NOISE_HASH_LEN])
{
    uint8_t pad[BLOCK_LEN], inner[KNIT_NOISE_HASH_LEN];
    crypto_generichash_blake2b_state st;

    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < KNIT_NOISE_HASH_LEN; i++)
        pad[i] ^= key[i];
    crypto_generichash_blake2b_init(&st, NULL, 0, KNIT_NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, pad, sizeof pad);
    crypto_generichash_blake2b_update(&st, d1, len1);
    crypto_generichash_blake2b_update(&st, d2, len2);
    crypto_generichash_blake2b_final(&st, inner, sizeof inner);

    memset(pad, 0x5c, sizeof pad);
    for (size_t i = 0; i < KNIT_NOISE_HASH_LEN; i++)
        pad[i] ^= key[i];
    crypto_generichash_blake2b_init(&st, NULL, 0, KNIT_NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, pad, sizeof pad);
    crypto_generichash_blake2b_update(&st, inner, sizeof inner);
    crypto_generichash_blake2b_final(&st, out, KNIT_NOISE_HASH_LEN);

    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&st, sizeof st);
}

/* HKDF(ck, ikm) with two or three outputs (out3 NULL for two). out1 may be
 * ck itself: the temporary key is taken from ck before anything is
 * written. */
void knit_noise_hkdf(const uint8_t ck[KNIT_NOISE_HASH_LEN], const uint8_t *ikm,
                     size_t len, uint8_t out1[KNIT_NOISE_HASH_LEN],
                     uint8_t out2[KNIT_NOISE_HASH_LEN],
                     uint8_t out3[KNIT_NOISE_HASH_LEN])
{
    static const uint8_t one = 1, two = 2, three = 3;
    uint8_t temp_key[KNIT_NOISE_HASH_LEN];
    knit_noise_hmac(ck, ikm, len, NULL, 0, temp_key);
    knit_noise_hmac(temp_key, &one, 1, NULL, 0, out1);
    knit_noise_hmac(temp_key, out1, KNIT_NOISE_HASH_LEN, &two, 1, out2);
    if (out3)
        knit_noise_hmac(temp_key, out2, KNIT_NOISE_HASH_LEN, &three, 1, out3);
    sodium_memzero(temp_key, sizeof temp_key);
}
