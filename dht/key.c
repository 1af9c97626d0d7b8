#include "key.h"

#include <string.h>

void knit_dht_key_of_peer(struct knit_dht_key *out,
                          const struct knit_peer_id *id)
{
    knit_peer_id_dht_key(id, out->b);
}

unsigned knit_dht_key_common_prefix(const struct knit_dht_key *a,
                                    const struct knit_dht_key *b)
{
    for (unsigned i = 0; i < KNIT_DHT_KEY_LEN; i++) {
        unsigned x = (unsigned)(a->b[i] ^ b->b[i]);
        if (x) {
            unsigned n = 0;
            while (!(x & 0x80u)) {
                x <<= 1;
                n++;
            }
            return i * 8 + n;
        }
    }
    return KNIT_DHT_KEY_BITS;
}

void knit_dht_key_distance(struct knit_dht_key *out,
                           const struct knit_dht_key *a,
                           const struct knit_dht_key *b)
{
    for (unsigned i = 0; i < KNIT_DHT_KEY_LEN; i++)
        out->b[i] = (uint8_t)(a->b[i] ^ b->b[i]);
}

int knit_dht_key_cmp_distance(const struct knit_dht_key *target,
                              const struct knit_dht_key *a,
                              const struct knit_dht_key *b)
{
    /* The first byte where a and b differ decides, and there the one
     * agreeing with the target in the top differing bit is closer; no need
     * to build both distances. */
    for (unsigned i = 0; i < KNIT_DHT_KEY_LEN; i++) {
        uint8_t da = (uint8_t)(a->b[i] ^ target->b[i]);
        uint8_t db = (uint8_t)(b->b[i] ^ target->b[i]);
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

void knit_dht_key_in_bucket(struct knit_dht_key *out,
                            const struct knit_dht_key *self, unsigned bucket,
                            const uint8_t random[KNIT_DHT_KEY_LEN])
{
    /* No key shares 256 bits but self itself. */
    if (bucket >= KNIT_DHT_KEY_BITS) {
        *out = *self;
        return;
    }
    unsigned byte = bucket / 8, bit = bucket % 8;
    memcpy(out->b, self->b, byte);
    /* Top `bit` bits from self, then bit `bucket` flipped, then random. */
    uint8_t keep = (uint8_t)(0xFFu << (8 - bit));   /* bit == 0: 0 */
    uint8_t flip = (uint8_t)(0x80u >> bit);
    uint8_t rest = (uint8_t)(flip - 1u);
    out->b[byte] = (uint8_t)((self->b[byte] & keep) |
                             (~self->b[byte] & flip) | (random[byte] & rest));
    memcpy(out->b + byte + 1, random + byte + 1, KNIT_DHT_KEY_LEN - byte - 1);
}
