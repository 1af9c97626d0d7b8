#include "noise.h"

#include <string.h>

#include <sodium.h>

#include "noise_crypto.h"
#include "transport/error.h"

/* ---- CipherState ---------------------------------------------------------- */

static void make_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int knit_noise_aead_encrypt(const uint8_t key[KNIT_NOISE_KEY_LEN],
                            uint64_t nonce, const uint8_t *ad, size_t adlen,
                            const uint8_t *plain, size_t len, uint8_t *out)
{
    if (!key || !out || (len && !plain) || (adlen && !ad))
        return KNIT_E_INVAL;
    if (nonce == UINT64_MAX ||
        len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return KNIT_E_TOO_BIG;
    uint8_t npub[12];
    make_nonce(npub, nonce);
    /* libsodium allows out == plain; an empty message still gets its tag. */
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, ad, adlen,
                                              NULL, npub, key);
    return 0;
}

int knit_noise_aead_decrypt(const uint8_t key[KNIT_NOISE_KEY_LEN],
                            uint64_t nonce, const uint8_t *ad, size_t adlen,
                            const uint8_t *cipher, size_t len, uint8_t *out)
{
    if (!key || !cipher || (adlen && !ad) || (len > KNIT_NOISE_TAG_LEN && !out))
        return KNIT_E_INVAL;
    if (len < KNIT_NOISE_TAG_LEN)
        return KNIT_E_TRUNCATED;
    if (nonce == UINT64_MAX)
        return KNIT_E_TOO_BIG;
    uint8_t npub[12];
    make_nonce(npub, nonce);
    /* The tag is checked before anything is written, and a failure zeroes
     * out, so a forged packet never leaves attacker-chosen plaintext. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, cipher, len,
                                                  ad, adlen, npub, key) != 0)
        return KNIT_E_DECRYPT;
    return 0;
}

int knit_noise_cipher_encrypt(struct knit_noise_cipher *c, const uint8_t *ad,
                              size_t adlen, const uint8_t *plain, size_t len,
                              uint8_t *out)
{
    if (!c || !c->has_key)
        return KNIT_E_INVAL;
    int err = knit_noise_aead_encrypt(c->k, c->n, ad, adlen, plain, len, out);
    if (err == 0)
        c->n++;
    return err;
}

int knit_noise_cipher_decrypt(struct knit_noise_cipher *c, const uint8_t *ad,
                              size_t adlen, const uint8_t *cipher, size_t len,
                              uint8_t *out)
{
    if (!c || !c->has_key)
        return KNIT_E_INVAL;
    int err = knit_noise_aead_decrypt(c->k, c->n, ad, adlen, cipher, len, out);
    if (err == 0)
        c->n++;
    return err;
}

static void cipher_init_key(struct knit_noise_cipher *c,
                            const uint8_t key[KNIT_NOISE_KEY_LEN])
{
    memcpy(c->k, key, KNIT_NOISE_KEY_LEN);
    c->n = 0;
    c->has_key = true;
}

/* ---- SymmetricState (the ck, h and cs fields of the handshake) -------------- */

static void mix_hash(struct knit_noise_handshake *hs, const uint8_t *data,
                     size_t len)
{
    knit_noise_hash2(hs->h, sizeof hs->h, data, len, hs->h);
}

static void mix_key(struct knit_noise_handshake *hs, const uint8_t *ikm,
                    size_t len)
{
    uint8_t temp_k[KNIT_NOISE_HASH_LEN];
    knit_noise_hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
    /* HASHLEN is 64, so the key is the first 32 bytes (spec 5.2). */
    cipher_init_key(&hs->cs, temp_k);
    sodium_memzero(temp_k, sizeof temp_k);
}

static void mix_key_and_hash(struct knit_noise_handshake *hs,
                             const uint8_t *ikm, size_t len)
{
    uint8_t temp_h[KNIT_NOISE_HASH_LEN], temp_k[KNIT_NOISE_HASH_LEN];
    knit_noise_hkdf(hs->ck, ikm, len, hs->ck, temp_h, temp_k);
    mix_hash(hs, temp_h, sizeof temp_h);
    cipher_init_key(&hs->cs, temp_k);
    sodium_memzero(temp_h, sizeof temp_h);
    sodium_memzero(temp_k, sizeof temp_k);
}

/* out gets len (+ 16 once keyed) bytes; the caller checked the space. */
static int encrypt_and_hash(struct knit_noise_handshake *hs,
                            const uint8_t *plain, size_t len, uint8_t *out,
                            size_t *out_len)
{
    if (!hs->cs.has_key) {
        if (len)
            memmove(out, plain, len);
        *out_len = len;
    } else {
        int err = knit_noise_cipher_encrypt(&hs->cs, hs->h, sizeof hs->h,
                                            plain, len, out);
        if (err)
            return err;
        *out_len = len + KNIT_NOISE_TAG_LEN;
    }
    mix_hash(hs, out, *out_len);
    return 0;
}

/* in holds len bytes, the tag included once keyed. */
static int decrypt_and_hash(struct knit_noise_handshake *hs, const uint8_t *in,
                            size_t len, uint8_t *out)
{
    if (!hs->cs.has_key) {
        if (len)
            memmove(out, in, len);
    } else {
        int err = knit_noise_cipher_decrypt(&hs->cs, hs->h, sizeof hs->h, in,
                                            len, out);
        if (err)
            return err;
    }
    /* h absorbs the ciphertext, so out must not overlap in. */
    mix_hash(hs, in, len);
    return 0;
}

/* ---- patterns ------------------------------------------------------------- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

struct pattern {
    const char *name;           /* the protocol name, hashed into h */
    bool pre_responder_static;  /* "<- s" before the first message */
    bool psk;                   /* psk modifier: "e" also calls MixKey */
    uint8_t msg_count;
    uint8_t msgs[3][5];
};

/* Noise spec section 7.5; IKpsk2 is IK with psk appended to message 2. */
static const struct pattern patterns[] = {
    [KNIT_NOISE_IK] = {"Noise_IK_25519_ChaChaPoly_BLAKE2b", true, false, 2,
                       {{T_E, T_ES, T_S, T_SS}, {T_E, T_EE, T_SE}}},
    [KNIT_NOISE_XX] = {"Noise_XX_25519_ChaChaPoly_BLAKE2b", false, false, 3,
                       {{T_E}, {T_E, T_EE, T_S, T_ES}, {T_S, T_SE}}},
    [KNIT_NOISE_XK] = {"Noise_XK_25519_ChaChaPoly_BLAKE2b", true, false, 3,
                       {{T_E, T_ES}, {T_E, T_EE}, {T_S, T_SE}}},
    [KNIT_NOISE_IKPSK2] = {"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b", true, true,
                           2, {{T_E, T_ES, T_S, T_SS},
                               {T_E, T_EE, T_SE, T_PSK}}},
};

static const struct pattern *pattern_of(const struct knit_noise_handshake *hs)
{
    if (hs->pattern < KNIT_NOISE_IK || hs->pattern > KNIT_NOISE_IKPSK2)
        return NULL;
    return &patterns[hs->pattern];
}

/* The next message is ours to write: initiators write the even ones. */
static bool writes_next(const struct knit_noise_handshake *hs)
{
    return (hs->next_msg % 2 == 0) == hs->initiator;
}

/* Usable and still in the handshake. */
static bool in_progress(const struct knit_noise_handshake *hs)
{
    return hs && pattern_of(hs) && hs->next_msg < hs->msg_count;
}

/* Bytes the next message adds around its payload: keys, the tag of an
 * encrypted s, and the payload's tag once a key is mixed in. Knowing it up
 * front lets every length check come before any state changes. */
static size_t message_overhead(const struct knit_noise_handshake *hs)
{
    const struct pattern *pat = pattern_of(hs);
    const uint8_t *tok = pat->msgs[hs->next_msg];
    bool keyed = hs->cs.has_key;
    size_t n = 0;
    for (int i = 0; i < 5 && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E:
            n += 32;
            if (pat->psk)
                keyed = true;
            break;
        case T_S:
            n += 32 + (keyed ? KNIT_NOISE_TAG_LEN : 0);
            break;
        default:
            keyed = true;
            break;
        }
    }
    return n + (keyed ? KNIT_NOISE_TAG_LEN : 0);
}

/* MixKey(DH(priv, pub)); an all-zero result (a low-order point) is refused,
 * since it would make the key public knowledge. */
static int mix_dh(struct knit_noise_handshake *hs, const uint8_t priv[32],
                  const uint8_t pub[32])
{
    uint8_t shared[32];
    int err = 0;
    if (crypto_scalarmult(shared, priv, pub) != 0)
        err = KNIT_E_CRYPTO;
    else
        mix_key(hs, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return err;
}

/* The DH tokens: es is DH(e, rs) for the initiator and DH(s, re) for the
 * responder; se the mirror image. */
static int dh_token(struct knit_noise_handshake *hs, enum token t)
{
    bool i = hs->initiator;
    switch (t) {
    case T_EE:
        return mix_dh(hs, hs->e_priv, hs->re);
    case T_ES:
        return i ? mix_dh(hs, hs->e_priv, hs->rs) : mix_dh(hs, hs->s_priv, hs->re);
    case T_SE:
        return i ? mix_dh(hs, hs->s_priv, hs->re) : mix_dh(hs, hs->e_priv, hs->rs);
    case T_SS:
        return mix_dh(hs, hs->s_priv, hs->rs);
    case T_PSK:
        mix_key_and_hash(hs, hs->psk, sizeof hs->psk);
        return 0;
    default:
        return KNIT_E_INVAL;
    }
}

/* ---- HandshakeState ----------------------------------------------------------- */

int knit_noise_init(struct knit_noise_handshake *hs,
                    enum knit_noise_pattern p, bool initiator,
                    const uint8_t *prologue, size_t prologue_len,
                    const uint8_t s_priv[32], const uint8_t rs[32],
                    const uint8_t e_priv[32], const uint8_t psk[32])
{
    return knit_noise_init_static(hs, p, initiator, prologue, prologue_len,
                                  s_priv, NULL, rs, e_priv, psk);
}

/* s_pub NULL: derived from s_priv here. */
int knit_noise_init_static(struct knit_noise_handshake *hs,
                           enum knit_noise_pattern p, bool initiator,
                           const uint8_t *prologue, size_t prologue_len,
                           const uint8_t s_priv[32], const uint8_t s_pub[32],
                           const uint8_t rs[32], const uint8_t e_priv[32],
                           const uint8_t psk[32])
{
    if (!hs)
        return KNIT_E_INVAL;
    if ((int)p < KNIT_NOISE_IK || (int)p > KNIT_NOISE_IKPSK2)
        return KNIT_E_INVAL;
    const struct pattern *pat = &patterns[p];
    bool wants_rs = initiator && pat->pre_responder_static;
    if (!s_priv || !e_priv || (prologue_len && !prologue) ||
        (rs != NULL) != wants_rs || (psk != NULL) != pat->psk)
        return KNIT_E_INVAL;
    if (sodium_init() < 0)
        return KNIT_E_CRYPTO;

    memset(hs, 0, sizeof *hs);
    hs->pattern = (uint8_t)p;
    hs->initiator = initiator;
    hs->msg_count = pat->msg_count;
    memcpy(hs->s_priv, s_priv, 32);
    memcpy(hs->e_priv, e_priv, 32);
    if (s_pub)
        memcpy(hs->s_pub, s_pub, 32);
    if ((!s_pub && crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0) ||
        crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) {
        knit_noise_wipe(hs);
        return KNIT_E_CRYPTO;
    }
    hs->has_s = true;
    if (rs) {
        memcpy(hs->rs, rs, 32);
        hs->has_rs = true;
    }
    if (psk) {
        memcpy(hs->psk, psk, 32);
        hs->has_psk = true;
    }

    /* InitializeSymmetric: every name here fits in HASHLEN, so h is the
     * name padded with zeros. */
    size_t name_len = strlen(pat->name);
    memcpy(hs->h, pat->name, name_len);
    memcpy(hs->ck, hs->h, sizeof hs->ck);
    mix_hash(hs, prologue, prologue_len);
    if (pat->pre_responder_static)
        mix_hash(hs, initiator ? hs->rs : hs->s_pub, 32);
    return 0;
}

/* Runs the tokens of the next message and encrypts the payload; the caller
 * checked that out has room for everything. */
static int write_tokens(struct knit_noise_handshake *hs, const uint8_t *payload,
                        size_t len, uint8_t *out, size_t *out_len)
{
    const struct pattern *pat = pattern_of(hs);
    const uint8_t *tok = pat->msgs[hs->next_msg];
    size_t pos = 0, n;
    int err;
    for (int i = 0; i < 5 && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E:
            memcpy(out + pos, hs->e_pub, 32);
            pos += 32;
            mix_hash(hs, hs->e_pub, 32);
            if (pat->psk)
                mix_key(hs, hs->e_pub, 32);
            break;
        case T_S:
            err = encrypt_and_hash(hs, hs->s_pub, 32, out + pos, &n);
            if (err)
                return err;
            pos += n;
            break;
        default:
            err = dh_token(hs, (enum token)tok[i]);
            if (err)
                return err;
            break;
        }
    }
    err = encrypt_and_hash(hs, payload, len, out + pos, &n);
    if (err)
        return err;
    *out_len = pos + n;
    return 0;
}

int knit_noise_write(struct knit_noise_handshake *hs, const uint8_t *payload,
                     size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!in_progress(hs) || !writes_next(hs) || !out || !out_len ||
        (len && !payload))
        return KNIT_E_INVAL;
    size_t overhead = message_overhead(hs);
    if (len > KNIT_NOISE_MAX_MSG - overhead)
        return KNIT_E_TOO_BIG;
    if (cap < overhead + len)
        return KNIT_E_NO_SPACE;
    int err = write_tokens(hs, payload, len, out, out_len);
    if (err) {
        knit_noise_wipe(hs);
        return err;
    }
    hs->next_msg++;
    return 0;
}

static int read_tokens(struct knit_noise_handshake *hs, const uint8_t *msg,
                       size_t len, uint8_t *payload)
{
    const struct pattern *pat = pattern_of(hs);
    const uint8_t *tok = pat->msgs[hs->next_msg];
    size_t pos = 0, n;
    int err;
    for (int i = 0; i < 5 && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E:
            memcpy(hs->re, msg + pos, 32);
            hs->has_re = true;
            pos += 32;
            mix_hash(hs, hs->re, 32);
            if (pat->psk)
                mix_key(hs, hs->re, 32);
            break;
        case T_S:
            n = 32 + (hs->cs.has_key ? KNIT_NOISE_TAG_LEN : 0);
            err = decrypt_and_hash(hs, msg + pos, n, hs->rs);
            if (err)
                return err;
            hs->has_rs = true;
            pos += n;
            break;
        default:
            err = dh_token(hs, (enum token)tok[i]);
            if (err)
                return err;
            break;
        }
    }
    return decrypt_and_hash(hs, msg + pos, len - pos, payload);
}

int knit_noise_read(struct knit_noise_handshake *hs, const uint8_t *msg,
                    size_t len, uint8_t *payload, size_t cap,
                    size_t *payload_len)
{
    if (!in_progress(hs) || writes_next(hs) || !msg || !payload_len ||
        (cap && !payload))
        return KNIT_E_INVAL;
    size_t overhead = message_overhead(hs);
    int err = 0;
    if (len > KNIT_NOISE_MAX_MSG)
        err = KNIT_E_TOO_BIG;
    else if (len < overhead)
        err = KNIT_E_TRUNCATED;
    else if (cap < len - overhead)
        err = KNIT_E_NO_SPACE;
    else
        err = read_tokens(hs, msg, len, payload);
    if (err) {
        knit_noise_wipe(hs);
        return err;
    }
    *payload_len = len - overhead;
    hs->next_msg++;
    return 0;
}

bool knit_noise_is_done(const struct knit_noise_handshake *hs)
{
    return hs && pattern_of(hs) && hs->next_msg == hs->msg_count;
}

bool knit_noise_my_turn_to_write(const struct knit_noise_handshake *hs)
{
    return in_progress(hs) && writes_next(hs);
}

const uint8_t *knit_noise_remote_static(const struct knit_noise_handshake *hs)
{
    return hs && pattern_of(hs) && hs->has_rs ? hs->rs : NULL;
}

void knit_noise_handshake_hash(const struct knit_noise_handshake *hs,
                               uint8_t out[KNIT_NOISE_HASH_LEN])
{
    if (!out)
        return;
    if (hs)
        memcpy(out, hs->h, KNIT_NOISE_HASH_LEN);
    else
        memset(out, 0, KNIT_NOISE_HASH_LEN);
}

int knit_noise_split(struct knit_noise_handshake *hs,
                     struct knit_noise_cipher *send,
                     struct knit_noise_cipher *recv)
{
    if (!knit_noise_is_done(hs) || !send || !recv || send == recv)
        return KNIT_E_INVAL;
    uint8_t k1[KNIT_NOISE_HASH_LEN], k2[KNIT_NOISE_HASH_LEN];
    knit_noise_hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    memset(send, 0, sizeof *send);
    memset(recv, 0, sizeof *recv);
    cipher_init_key(hs->initiator ? send : recv, k1);
    cipher_init_key(hs->initiator ? recv : send, k2);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    knit_noise_wipe(hs);
    return 0;
}

void knit_noise_wipe(struct knit_noise_handshake *hs)
{
    if (hs)
        sodium_memzero(hs, sizeof *hs);
}
