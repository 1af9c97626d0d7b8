/* Peer IDs: the public-key identity of a node.
 *
 * knit only uses Ed25519 keys, so a peer ID is the 32-byte public key. Its
 * wire form is the libp2p identity-multihash of the protobuf-encoded key,
 * 00 24 08 01 12 20 || pubkey (38 bytes), and its text form that in
 * base58btc, "12D3KooW...", so a key gives the same ID here as in libp2p.
 * The DHT key of a peer is SHA-256 of the 38 wire bytes. */
#ifndef KNIT_PEER_ID_H
#define KNIT_PEER_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_PUBKEY_LEN 32
#define KNIT_PEER_ID_BYTES 38
/* 52 base58 characters for 38 bytes, plus NUL, with room to spare. */
#define KNIT_PEER_ID_TEXT_MAX 64
#define KNIT_DHT_KEY_LEN 32

struct knit_peer_id {
    uint8_t pubkey[KNIT_PUBKEY_LEN];
};

void knit_peer_id_to_bytes(const struct knit_peer_id *id,
                           uint8_t out[KNIT_PEER_ID_BYTES]);
/* KNIT_E_LENGTH for a length other than 38, KNIT_E_PREFIX when the first six
 * bytes are not the Ed25519 identity-multihash prefix. */
int knit_peer_id_from_bytes(struct knit_peer_id *id, const uint8_t *in,
                            size_t len);
/* Writes NUL-terminated base58btc text; cap >= KNIT_PEER_ID_TEXT_MAX is
 * always enough. */
int knit_peer_id_to_text(const struct knit_peer_id *id, char *out, size_t cap);
/* KNIT_E_BASE58 for a character outside the alphabet, KNIT_E_LENGTH or
 * KNIT_E_PREFIX as for the byte form. len is the text length (no NUL
 * needed). */
int knit_peer_id_from_text(struct knit_peer_id *id, const char *text,
                           size_t len);
bool knit_peer_id_equal(const struct knit_peer_id *a,
                        const struct knit_peer_id *b);
int knit_peer_id_cmp(const struct knit_peer_id *a,
                     const struct knit_peer_id *b);
void knit_peer_id_dht_key(const struct knit_peer_id *id,
                          uint8_t out[KNIT_DHT_KEY_LEN]);

#endif
