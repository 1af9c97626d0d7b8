/* The Noise Protocol Framework (revision 34) for 25519 / ChaChaPoly / BLAKE2b:
 * CipherState, SymmetricState and HandshakeState, driven by the token lists
 * of the patterns IK (what knit speaks), XX, XK and IKpsk2 (kept so the whole
 * machinery is checked against the cacophony vectors).
 *
 * Sans-IO and heap-free: a handshake is a plain value, the caller passes in
 * every key, including the ephemeral private key (32 random bytes it drew),
 * and moves the messages itself. The session layer calls this to build and
 * read handshake packets, then uses the split cipher states, or the explicit
 * nonce AEAD below, for transport packets. Secrets are wiped with
 * sodium_memzero; call knit_noise_wipe() on a handshake that is abandoned. */
#ifndef KNIT_NOISE_H
#define KNIT_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_NOISE_KEY_LEN 32
#define KNIT_NOISE_HASH_LEN 64
#define KNIT_NOISE_TAG_LEN 16
#define KNIT_NOISE_MAX_MSG 65535

/* IK message 1 is e (32) + encrypted s (48) + payload + tag (16); message 2
 * is e (32) + payload + tag (16). */
#define KNIT_NOISE_IK_MSG1_OVERHEAD 96
#define KNIT_NOISE_IK_MSG2_OVERHEAD 48

enum knit_noise_pattern {
    KNIT_NOISE_IK = 1,
    KNIT_NOISE_XX,
    KNIT_NOISE_XK,
    KNIT_NOISE_IKPSK2,
};

/* ChaCha20-Poly1305 (IETF) with nonce = 4 zero bytes || n, little-endian. */
struct knit_noise_cipher {
    uint8_t k[KNIT_NOISE_KEY_LEN];
    uint64_t n;
    bool has_key;
};

/* out gets len + 16 bytes and may be plain itself. Uses nonce n, then n++.
 * KNIT_E_INVAL without a key; KNIT_E_TOO_BIG once n has reached 2^64-1,
 * which Noise reserves (so 2^64-1 messages at most per key). */
int knit_noise_cipher_encrypt(struct knit_noise_cipher *c, const uint8_t *ad,
                              size_t adlen, const uint8_t *plain, size_t len,
                              uint8_t *out);
/* cipher holds len >= 16 bytes (KNIT_E_TRUNCATED if fewer); out gets len - 16
 * bytes and may be cipher itself. KNIT_E_DECRYPT if the tag does not verify;
 * n moves on only on success, so a forged packet costs nothing. */
int knit_noise_cipher_decrypt(struct knit_noise_cipher *c, const uint8_t *ad,
                              size_t adlen, const uint8_t *cipher, size_t len,
                              uint8_t *out);

/* The same AEAD with the nonce given explicitly, for transport packets that
 * carry their counter and may arrive out of order. Nonce 2^64-1 is refused
 * with KNIT_E_TOO_BIG, as above. Same buffer rules as the cipher calls. */
int knit_noise_aead_encrypt(const uint8_t key[KNIT_NOISE_KEY_LEN],
                            uint64_t nonce, const uint8_t *ad, size_t adlen,
                            const uint8_t *plain, size_t len, uint8_t *out);
int knit_noise_aead_decrypt(const uint8_t key[KNIT_NOISE_KEY_LEN],
                            uint64_t nonce, const uint8_t *ad, size_t adlen,
                            const uint8_t *cipher, size_t len, uint8_t *out);

/* Everything a handshake needs, in one value; read it only through the
 * functions below. */
struct knit_noise_handshake {
    uint8_t ck[KNIT_NOISE_HASH_LEN];
    uint8_t h[KNIT_NOISE_HASH_LEN];
    struct knit_noise_cipher cs;
    uint8_t s_priv[32], s_pub[32];
    uint8_t e_priv[32], e_pub[32];
    uint8_t rs[32], re[32];
    uint8_t psk[32];
    bool has_s, has_rs, has_re, has_psk;
    bool initiator;
    uint8_t pattern;       /* enum knit_noise_pattern; 0 = unusable */
    uint8_t next_msg;      /* index of the next handshake message */
    uint8_t msg_count;     /* messages in the pattern */
};

/* Starts a handshake. s_priv is needed by all four patterns; rs (the remote
 * static public key) by an initiator of IK, IKpsk2 and XK, and must be NULL
 * otherwise; psk by IKpsk2 only, NULL otherwise; e_priv always. The public
 * keys are derived here. prologue may be NULL when prologue_len is 0.
 * KNIT_E_INVAL for a key given or missing against these rules or an unknown
 * pattern. */
int knit_noise_init(struct knit_noise_handshake *hs,
                    enum knit_noise_pattern p, bool initiator,
                    const uint8_t *prologue, size_t prologue_len,
                    const uint8_t s_priv[32], const uint8_t rs[32],
                    const uint8_t e_priv[32], const uint8_t psk[32]);

/* The same with our static public key already at hand (s_pub must be the
 * public key of s_priv: it is trusted, not checked). Saves a scalar
 * multiplication per handshake for a node whose static key never changes. */
int knit_noise_init_static(struct knit_noise_handshake *hs,
                           enum knit_noise_pattern p, bool initiator,
                           const uint8_t *prologue, size_t prologue_len,
                           const uint8_t s_priv[32], const uint8_t s_pub[32],
                           const uint8_t rs[32], const uint8_t e_priv[32],
                           const uint8_t psk[32]);

/* Writes the next handshake message, carrying payload (NULL if len is 0),
 * into out, which must not overlap payload. KNIT_E_INVAL if it is not our
 * turn, the handshake is done or unusable; KNIT_E_TOO_BIG if the message
 * would pass KNIT_NOISE_MAX_MSG; KNIT_E_NO_SPACE if cap is too small. Those
 * three leave hs as it was. KNIT_E_CRYPTO if a Diffie-Hellman result is zero
 * (the remote key is a low-order point): hs is then wiped and unusable. */
int knit_noise_write(struct knit_noise_handshake *hs, const uint8_t *payload,
                     size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Reads the next handshake message and copies its payload out (payload may
 * be NULL if cap is 0; it must not overlap msg).
 * KNIT_E_INVAL (bad arguments, not our turn to read, done or unusable) leaves
 * hs as it was. Any other failure leaves hs wiped and unusable, and the
 * caller discards it: KNIT_E_TOO_BIG (over KNIT_NOISE_MAX_MSG),
 * KNIT_E_TRUNCATED (shorter than the pattern's keys and tags), KNIT_E_NO_SPACE
 * (payload does not fit in cap), KNIT_E_DECRYPT (a tag does not verify:
 * forged, corrupted, or sent to the wrong static key), KNIT_E_CRYPTO (a zero
 * Diffie-Hellman result). A caller that must survive forged messages (an
 * initiator waiting for its response) reads into a copy of hs and keeps the
 * original on failure: the state is a plain value. */
int knit_noise_read(struct knit_noise_handshake *hs, const uint8_t *msg,
                    size_t len, uint8_t *payload, size_t cap,
                    size_t *payload_len);

/* True once the last handshake message was written or read (until split). */
bool knit_noise_is_done(const struct knit_noise_handshake *hs);
/* True if the next call should be knit_noise_write (false when done). */
bool knit_noise_my_turn_to_write(const struct knit_noise_handshake *hs);
/* The peer's static public key (32 bytes) once it is known (IK responder:
 * after message 1; known from the start for an IK initiator); NULL before.
 * Copy it before knit_noise_split, which wipes hs. */
const uint8_t *knit_noise_remote_static(const struct knit_noise_handshake *hs);
/* The handshake hash h; it binds the whole transcript once the handshake is
 * done (channel binding). Read it before knit_noise_split. */
void knit_noise_handshake_hash(const struct knit_noise_handshake *hs,
                               uint8_t out[KNIT_NOISE_HASH_LEN]);
/* Derives the two transport cipher states: send and recv are the initiator's
 * c1 and c2, swapped for the responder. KNIT_E_INVAL if the handshake is not
 * done. Wipes hs on success. */
int knit_noise_split(struct knit_noise_handshake *hs,
                     struct knit_noise_cipher *send,
                     struct knit_noise_cipher *recv);
void knit_noise_wipe(struct knit_noise_handshake *hs);

#endif
