/* A bounded memory of Ed25519 public keys converted to their X25519 form.
 *
 * Noise authenticates a peer's X25519 static key; the peer ID is its
 * Ed25519 key. Every handshake converts one to the other on both sides
 * (the initiator to address the responder, the responder to check the
 * initiator's hello), and libsodium's conversion, which also checks that
 * the key is a point of the right subgroup, costs about as much as a
 * Diffie-Hellman. The result is a function of the public key alone, so it
 * can be kept: a key converted once is looked up after that, with the same
 * result; a key that fails to convert is not kept and fails again.
 *
 * Nodes convert keys themselves unless their embedder gives them a cache
 * (knit_node_config.key_cache). The simulator can share one between all
 * its nodes: it holds no secret. Bounded: a set-associative table of
 * (Ed25519, X25519) pairs, sets of KNIT_KEY_CACHE_WAYS, placed by a keyed
 * hash so nobody can aim keys at one set. */
#ifndef KNIT_KEY_CACHE_H
#define KNIT_KEY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define KNIT_KEY_CACHE_MAX_SLOTS (UINT32_C(1) << 24)
#define KNIT_KEY_CACHE_WAYS 4

struct knit_key_cache;

/* slots: rounded up to a power of two, at least KNIT_KEY_CACHE_WAYS, 64
 * bytes each. key: 16 random bytes (placement only). KNIT_E_INVAL (NULL
 * out or key, 0 or too many slots), KNIT_E_NOMEM. */
int knit_key_cache_new(struct knit_key_cache **out, uint32_t slots,
                       const uint8_t key[16]);
void knit_key_cache_free(struct knit_key_cache *c);

/* crypto_sign_ed25519_pk_to_curve25519 through the cache (c may be NULL):
 * 0 and x, or KNIT_E_KEY_MISMATCH for a key that does not convert. */
int knit_key_cache_convert(struct knit_key_cache *c, uint8_t x[32],
                           const uint8_t ed[32]);

void knit_key_cache_stats(const struct knit_key_cache *c, uint64_t *hits,
                          uint64_t *misses);

#endif
