/* A bounded memory of signed record envelopes already seen to verify.
 *
 * A node meets the same peer record again and again: in the PUTs of its
 * owner's publishes, in the answers of a lookup and again when the lookup
 * ends, in identify. Its Ed25519 signature check is the dearest step of
 * knit_record_verify, and for the same bytes its verdict cannot change. The cache keeps a keyed
 * 128-bit BLAKE2b tag of each envelope whose signature verified; an
 * envelope with a known tag skips only the signature check (its payload is
 * still decoded and its signer still matched against its peer ID). The key
 * is the cache's own secret, so nobody can make two envelopes share a tag
 * or aim them at one set.
 *
 * Each node has one of its own by default. An embedder running many nodes
 * in one process (the simulator) may give them one shared cache instead
 * (knit_node_config.record_cache): a record is then checked once for the
 * whole process rather than once per node, which a simulation of the
 * network can afford to assume and a real node never does.
 *
 * Bounded: a set-associative table of 16-byte tags, sets of
 * KNIT_RECORD_CACHE_WAYS, the slot to replace picked by the tag. */
#ifndef KNIT_RECORD_CACHE_H
#define KNIT_RECORD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 4 KiB: a node's own. 64 slots caught too few of the records a node
 * meets again: in the simulator (home-mix, 600 nodes) 256 slots verify
 * 30 % fewer signatures (274 000 to 191 000), 1 024 slots 42 % fewer. */
#define KNIT_RECORD_CACHE_DEFAULT_SLOTS 256
#define KNIT_RECORD_CACHE_MAX_SLOTS (UINT32_C(1) << 24)
#define KNIT_RECORD_CACHE_WAYS 4
#define KNIT_RECORD_CACHE_TAG_LEN 16

struct knit_record_cache;

/* slots: rounded up to a power of two, at least KNIT_RECORD_CACHE_WAYS; 0
 * means KNIT_RECORD_CACHE_DEFAULT_SLOTS. key: 32 secret bytes (drawn at
 * random, or derived from a secret). KNIT_E_INVAL (NULL out or key, slots
 * over the maximum), KNIT_E_NOMEM. */
int knit_record_cache_new(struct knit_record_cache **out, uint32_t slots,
                          const uint8_t key[32]);
/* Wipes the key too. NULL is a no-op. */
void knit_record_cache_free(struct knit_record_cache *c);

/* The tag of an envelope, and whether it is in the cache. */
bool knit_record_cache_lookup(struct knit_record_cache *c, const uint8_t *in,
                              size_t len,
                              uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN]);
/* Remembers a tag whose envelope's signature verified. */
void knit_record_cache_add(struct knit_record_cache *c,
                           const uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN]);

void knit_record_cache_stats(const struct knit_record_cache *c,
                             uint64_t *hits, uint64_t *misses);
size_t knit_record_cache_memory(const struct knit_record_cache *c);

#endif
