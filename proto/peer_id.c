#include "peer_id.h"

#include <string.h>

#include <sodium.h>

#include "base58.h"
#include "transport/error.h"

/* identity multihash (0x00), digest length 36, then the protobuf PublicKey:
 * field 1 KeyType = Ed25519 (08 01), field 2 Data of 32 bytes (12 20). */
static const uint8_t ed25519_prefix[KNIT_PEER_ID_BYTES - KNIT_PUBKEY_LEN] = {
    0x00, 0x24, 0x08, 0x01, 0x12, 0x20,
};

void knit_peer_id_to_bytes(const struct knit_peer_id *id,
                           uint8_t out[KNIT_PEER_ID_BYTES])
{
    memcpy(out, ed25519_prefix, sizeof ed25519_prefix);
    memcpy(out + sizeof ed25519_prefix, id->pubkey, KNIT_PUBKEY_LEN);
}

int knit_peer_id_from_bytes(struct knit_peer_id *id, const uint8_t *in,
                            size_t len)
{
    if (!id || (!in && len))
        return KNIT_E_INVAL;
    if (len != KNIT_PEER_ID_BYTES)
        return KNIT_E_LENGTH;
    if (memcmp(in, ed25519_prefix, sizeof ed25519_prefix) != 0)
        return KNIT_E_PREFIX;
    memcpy(id->pubkey, in + sizeof ed25519_prefix, KNIT_PUBKEY_LEN);
    return 0;
}

int knit_peer_id_to_text(const struct knit_peer_id *id, char *out, size_t cap)
{
    if (!id || !out)
        return KNIT_E_INVAL;
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    size_t n;
    knit_peer_id_to_bytes(id, bytes);
    return knit_base58_encode(bytes, sizeof bytes, out, cap, &n);
}

int knit_peer_id_from_text(struct knit_peer_id *id, const char *text,
                           size_t len)
{
    if (!id || (!text && len))
        return KNIT_E_INVAL;
    /* Decode into a buffer larger than a peer ID so that a too-long text is
     * told apart (KNIT_E_LENGTH) from a bad character, and so that from_bytes
     * judges the length and prefix of everything that does decode. */
    uint8_t bytes[KNIT_BASE58_MAX_BYTES];
    size_t n;
    int err = knit_base58_decode(text, len, bytes, sizeof bytes, &n);
    if (err == KNIT_E_TOO_BIG || err == KNIT_E_NO_SPACE)
        return KNIT_E_LENGTH;
    if (err < 0)
        return err;
    return knit_peer_id_from_bytes(id, bytes, n);
}

bool knit_peer_id_equal(const struct knit_peer_id *a,
                        const struct knit_peer_id *b)
{
    return memcmp(a->pubkey, b->pubkey, KNIT_PUBKEY_LEN) == 0;
}

int knit_peer_id_cmp(const struct knit_peer_id *a,
                     const struct knit_peer_id *b)
{
    int c = memcmp(a->pubkey, b->pubkey, KNIT_PUBKEY_LEN);
    return (c > 0) - (c < 0);
}

void knit_peer_id_dht_key(const struct knit_peer_id *id,
                          uint8_t out[KNIT_DHT_KEY_LEN])
{
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(id, bytes);
    crypto_hash_sha256(out, bytes, sizeof bytes);
}
