/* A node's own identity: its Ed25519 key pair, the Curve25519 form of the
 * same key (the Noise static key), and the peer ID.
 *
 * The core never draws randomness itself, so an identity is made from a
 * 32-byte seed the caller supplies (the daemon takes it from the key file,
 * the simulator from its seeded generator). Wipe with knit_identity_wipe(). */
#ifndef KNIT_IDENTITY_H
#define KNIT_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "peer_id.h"

#define KNIT_SEED_LEN 32
#define KNIT_SIGNATURE_LEN 64

struct knit_identity {
    struct knit_peer_id id;       /* Ed25519 public key */
    uint8_t ed_secret[64];        /* libsodium's seed || public key form */
    uint8_t x_public[32];         /* Curve25519, for Noise */
    uint8_t x_secret[32];
};

int knit_identity_from_seed(struct knit_identity *ident,
                            const uint8_t seed[KNIT_SEED_LEN]);
void knit_identity_wipe(struct knit_identity *ident);

/* Ed25519 over domain || 0x00 || msg. The domain string separates the uses
 * of the one key (peer records, handshakes...), so a signature made for one
 * can never be replayed as another; its terminating NUL is signed too, so no
 * domain is a prefix of another. */
int knit_sign(const struct knit_identity *ident, const char *domain,
              const uint8_t *msg, size_t len,
              uint8_t sig[KNIT_SIGNATURE_LEN]);
/* 0 if sig is the signer's over domain || 0x00 || msg, KNIT_E_SIGNATURE
 * if not. */
int knit_verify(const struct knit_peer_id *signer, const char *domain,
                const uint8_t *msg, size_t len,
                const uint8_t sig[KNIT_SIGNATURE_LEN]);

#endif
