/* DHT keys: 256-bit positions in the Kademlia keyspace, and XOR distance.
 *
 * A peer's key is SHA-256 of its 38-byte peer ID (proto/peer_id.h), so a
 * peer cannot pick where it sits. Used by the routing table, lookups and the
 * record store; pure functions, no state. */
#ifndef KNIT_DHT_KEY_H
#define KNIT_DHT_KEY_H

#include <stdint.h>

#include "proto/peer_id.h"

#define KNIT_DHT_KEY_BITS 256

struct knit_dht_key {
    uint8_t b[KNIT_DHT_KEY_LEN];
};

void knit_dht_key_of_peer(struct knit_dht_key *out,
                          const struct knit_peer_id *id);
/* The number of leading bits a and b share, 0..256 (256: equal). Also the
 * routing-table bucket of b seen from a. */
unsigned knit_dht_key_common_prefix(const struct knit_dht_key *a,
                                    const struct knit_dht_key *b);
/* a XOR b. */
void knit_dht_key_distance(struct knit_dht_key *out,
                           const struct knit_dht_key *a,
                           const struct knit_dht_key *b);
/* < 0 when a is closer to target than b, 0 when equally far (a == b), > 0
 * when farther. */
int knit_dht_key_cmp_distance(const struct knit_dht_key *target,
                              const struct knit_dht_key *a,
                              const struct knit_dht_key *b);
/* A key sharing exactly `bucket` leading bits with self (bucket < 256), the
 * remaining bits taken from random: a target for refreshing that bucket. */
void knit_dht_key_in_bucket(struct knit_dht_key *out,
                            const struct knit_dht_key *self, unsigned bucket,
                            const uint8_t random[KNIT_DHT_KEY_LEN]);

#endif
