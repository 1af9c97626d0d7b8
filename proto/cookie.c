#include "cookie.h"

#include <string.h>

#include <sodium.h>

#include "transport/error.h"

#define COOKIE_LEN 16

/* sodium_init() picks libsodium's fastest code; should it fail, the portable
 * code stays in place and every result is the same, so there is nothing to
 * report. */
static void sodium_ready(void)
{
    if (sodium_init() < 0)
        return;
}

/* BLAKE2b-256(label || pub): the labels keep the two keys of one static key
 * apart. */
static void derive_key(uint8_t out[32], const char label[8],
                       const uint8_t pub[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, 8);
    crypto_generichash_update(&st, pub, 32);
    crypto_generichash_final(&st, out, 32);
}

/* Keyed BLAKE2b-128. */
static void mac(uint8_t out[KNIT_COOKIE_MAC_LEN], const uint8_t *key,
                size_t keylen, const uint8_t *data, size_t len)
{
    crypto_generichash(out, KNIT_COOKIE_MAC_LEN, data, len, key, keylen);
}

static bool young(uint64_t birth, uint64_t now)
{
    return now >= birth && now - birth < KNIT_COOKIE_LIFETIME;
}

/* ---- responder ------------------------------------------------------------ */

void knit_cookie_checker_init(struct knit_cookie_checker *c,
                              const uint8_t local_static_pub[32])
{
    sodium_ready();
    memset(c, 0, sizeof *c);
    derive_key(c->mac1_key, "mac1----", local_static_pub);
    derive_key(c->reply_key, "cookie--", local_static_pub);
}

void knit_cookie_checker_wipe(struct knit_cookie_checker *c)
{
    if (c)
        sodium_memzero(c, sizeof *c);
}

/* The source address as bytes: family, the address, the port big-endian.
 * Returns the length, or 0 if src is not an IP address. */
static size_t addr_bytes(const struct knit_addr *src, uint8_t out[19])
{
    if (!src || (src->family != KNIT_AF_IP4 && src->family != KNIT_AF_IP6))
        return 0;
    size_t iplen = src->family == KNIT_AF_IP4 ? 4 : 16;
    out[0] = src->family;
    memcpy(out + 1, src->ip, iplen);
    out[1 + iplen] = (uint8_t)(src->port >> 8);
    out[2 + iplen] = (uint8_t)src->port;
    return 3 + iplen;
}

/* The cookie src must hold now; false if there is no usable secret or src
 * is not an IP address. */
static bool make_cookie(struct knit_cookie_checker *c,
                        const struct knit_addr *src, uint64_t now,
                        const uint8_t fresh_secret[32],
                        uint8_t cookie[COOKIE_LEN])
{
    uint8_t addr[19];
    size_t alen = addr_bytes(src, addr);
    if (alen == 0)
        return false;
    if (!c->has_secret || !young(c->secret_birth, now)) {
        if (!fresh_secret)
            return false;
        memcpy(c->secret, fresh_secret, sizeof c->secret);
        c->secret_birth = now;
        c->has_secret = true;
    }
    mac(cookie, c->secret, sizeof c->secret, addr, alen);
    return true;
}

static bool mac1_ok(const struct knit_cookie_checker *c, const uint8_t *msg,
                    size_t len)
{
    uint8_t want[KNIT_COOKIE_MAC_LEN];
    size_t body = len - KNIT_COOKIE_MACS_LEN;
    mac(want, c->mac1_key, sizeof c->mac1_key, msg, body);
    return crypto_verify_16(want, msg + body) == 0;
}

enum knit_cookie_verdict knit_cookie_check(struct knit_cookie_checker *c,
                                           const uint8_t *msg, size_t len,
                                           const struct knit_addr *src,
                                           uint64_t now,
                                           const uint8_t fresh_secret[32])
{
    if (!c || !msg || len < KNIT_COOKIE_MACS_LEN || !mac1_ok(c, msg, len))
        return KNIT_COOKIE_BAD_MAC1;
    uint8_t cookie[COOKIE_LEN], want[KNIT_COOKIE_MAC_LEN];
    enum knit_cookie_verdict v = KNIT_COOKIE_MAC1_ONLY;
    if (make_cookie(c, src, now, fresh_secret, cookie)) {
        size_t covered = len - KNIT_COOKIE_MAC_LEN;
        mac(want, cookie, sizeof cookie, msg, covered);
        if (crypto_verify_16(want, msg + covered) == 0)
            v = KNIT_COOKIE_MAC2_OK;
    }
    sodium_memzero(cookie, sizeof cookie);
    return v;
}

int knit_cookie_reply(struct knit_cookie_checker *c, const uint8_t *msg,
                      size_t len, const struct knit_addr *src, uint64_t now,
                      const uint8_t fresh_secret[32],
                      const uint8_t nonce[KNIT_COOKIE_NONCE_LEN],
                      uint32_t receiver_index, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    if (!c || !msg || !nonce || !out || !out_len)
        return KNIT_E_INVAL;
    if (len < KNIT_COOKIE_MACS_LEN)
        return KNIT_E_TRUNCATED;
    if (cap < KNIT_COOKIE_REPLY_LEN)
        return KNIT_E_NO_SPACE;
    if (!mac1_ok(c, msg, len))
        return KNIT_E_DECRYPT;
    uint8_t cookie[COOKIE_LEN];
    if (!make_cookie(c, src, now, fresh_secret, cookie))
        return KNIT_E_INVAL;

    out[0] = KNIT_COOKIE_REPLY_TYPE;
    out[1] = out[2] = out[3] = 0;
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(receiver_index >> (8 * i));
    memcpy(out + 8, nonce, KNIT_COOKIE_NONCE_LEN);
    /* Bound to the mac1 it answers, so it is no use for any other message
     * and an off-path attacker cannot plant cookies. */
    const uint8_t *mac1 = msg + len - KNIT_COOKIE_MACS_LEN;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 32, NULL, cookie,
                                               sizeof cookie, mac1,
                                               KNIT_COOKIE_MAC_LEN, NULL,
                                               nonce, c->reply_key);
    sodium_memzero(cookie, sizeof cookie);
    *out_len = KNIT_COOKIE_REPLY_LEN;
    return 0;
}

/* ---- initiator ------------------------------------------------------------ */

void knit_cookie_maker_init(struct knit_cookie_maker *m,
                            const uint8_t peer_static_pub[32])
{
    sodium_ready();
    memset(m, 0, sizeof *m);
    derive_key(m->mac1_key, "mac1----", peer_static_pub);
    derive_key(m->reply_key, "cookie--", peer_static_pub);
}

void knit_cookie_maker_wipe(struct knit_cookie_maker *m)
{
    if (m)
        sodium_memzero(m, sizeof *m);
}

void knit_cookie_add_macs(struct knit_cookie_maker *m, uint8_t *msg,
                          size_t len, uint64_t now)
{
    if (!m || !msg || len < KNIT_COOKIE_MACS_LEN)
        return;
    uint8_t *mac1 = msg + len - KNIT_COOKIE_MACS_LEN;
    uint8_t *mac2 = mac1 + KNIT_COOKIE_MAC_LEN;
    mac(mac1, m->mac1_key, sizeof m->mac1_key, msg, len - KNIT_COOKIE_MACS_LEN);
    memcpy(m->last_mac1, mac1, KNIT_COOKIE_MAC_LEN);
    m->has_last_mac1 = true;

    if (m->has_cookie && !young(m->cookie_birth, now)) {
        sodium_memzero(m->cookie, sizeof m->cookie);
        m->has_cookie = false;
    }
    if (m->has_cookie)
        mac(mac2, m->cookie, sizeof m->cookie, msg, len - KNIT_COOKIE_MAC_LEN);
    else
        memset(mac2, 0, KNIT_COOKIE_MAC_LEN);
}

int knit_cookie_consume_reply(struct knit_cookie_maker *m,
                              const uint8_t *reply, size_t len, uint64_t now)
{
    if (!m || !reply)
        return KNIT_E_INVAL;
    if (len != KNIT_COOKIE_REPLY_LEN)
        return KNIT_E_LENGTH;
    if (reply[0] != KNIT_COOKIE_REPLY_TYPE || reply[1] || reply[2] || reply[3])
        return KNIT_E_MALFORMED;
    if (!m->has_last_mac1)
        return KNIT_E_DECRYPT;
    uint8_t cookie[COOKIE_LEN];
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            cookie, NULL, NULL, reply + 32, KNIT_COOKIE_REPLY_LEN - 32,
            m->last_mac1, KNIT_COOKIE_MAC_LEN, reply + 8, m->reply_key) != 0)
        return KNIT_E_DECRYPT;
    memcpy(m->cookie, cookie, sizeof cookie);
    sodium_memzero(cookie, sizeof cookie);
    m->cookie_birth = now;
    m->has_cookie = true;
    /* One reply per message sent: a replayed reply finds nothing to open. */
    m->has_last_mac1 = false;
    return 0;
}
