/* WireGuard-style protection of the handshake against floods (whitepaper
 * 5.4.4 and 5.4.7): the two MACs that end every handshake packet (types 1
 * and 2 of the data-plane design) and the cookie reply (type 3).
 *
 * mac1 proves the sender knows our static public key, which costs a flood
 * nothing but keeps scanners out. Under load the responder wants mac2 too:
 * a keyed hash under a cookie that only a sender able to receive at its
 * source address can hold. Cookies come from a secret that rotates every
 * 120 s, so the responder keeps no per-source state.
 *
 * The checker is the responder side (one per node), the maker the initiator
 * side (one per peer). The session layer calls them; both are plain values,
 * sans-IO: time and the random secret and nonces are passed in. Wipe them
 * with the _wipe functions when dropped. */
#ifndef KNIT_COOKIE_H
#define KNIT_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_COOKIE_MAC_LEN 16
#define KNIT_COOKIE_MACS_LEN 32          /* mac1 || mac2 at a message's end */
#define KNIT_COOKIE_NONCE_LEN 24
/* type, 3 zero bytes, receiver index (LE), nonce, encrypted cookie + tag */
#define KNIT_COOKIE_REPLY_LEN (8 + 24 + 32)
#define KNIT_COOKIE_REPLY_TYPE 3
/* A responder secret, and a cookie at the initiator, last this long (µs). */
#define KNIT_COOKIE_LIFETIME (UINT64_C(120) * 1000000)

struct knit_cookie_checker {
    uint8_t mac1_key[32];     /* BLAKE2b-256("mac1----" || our static) */
    uint8_t reply_key[32];    /* BLAKE2b-256("cookie--" || our static) */
    uint8_t secret[32];
    uint64_t secret_birth;
    bool has_secret;
};

enum knit_cookie_verdict {
    KNIT_COOKIE_BAD_MAC1 = 0,   /* drop silently */
    KNIT_COOKIE_MAC1_ONLY,      /* fine when not under load; else reply */
    KNIT_COOKIE_MAC2_OK,        /* the sender holds a cookie for src */
};

void knit_cookie_checker_init(struct knit_cookie_checker *c,
                              const uint8_t local_static_pub[32]);
void knit_cookie_checker_wipe(struct knit_cookie_checker *c);

/* Judges a handshake message of len bytes, the 32 MAC bytes included, that
 * came from src. The secret is replaced by fresh_secret (32 random bytes)
 * when it is missing or KNIT_COOKIE_LIFETIME old; if that is needed and
 * fresh_secret is NULL, no mac2 can verify. A message shorter than the MACs,
 * or a src that is not IPv4 or IPv6, cannot reach MAC2_OK either. */
enum knit_cookie_verdict knit_cookie_check(struct knit_cookie_checker *c,
                                           const uint8_t *msg, size_t len,
                                           const struct knit_addr *src,
                                           uint64_t now,
                                           const uint8_t fresh_secret[32]);

/* Writes the cookie reply (KNIT_COOKIE_REPLY_LEN bytes) to the message msg
 * from src, with the caller's random nonce and the receiver index taken from
 * the message (the sender index of the initiator). The secret rotates as in
 * knit_cookie_check. Call it for messages whose mac1 verified: it checks
 * again and refuses others with KNIT_E_DECRYPT, so it can never be made to
 * reflect forged packets. KNIT_E_TRUNCATED if msg is shorter than the MACs,
 * KNIT_E_NO_SPACE if cap is too small, KNIT_E_INVAL for a NULL argument, a
 * src that is not IPv4 or IPv6, or a needed but missing fresh_secret. */
int knit_cookie_reply(struct knit_cookie_checker *c, const uint8_t *msg,
                      size_t len, const struct knit_addr *src, uint64_t now,
                      const uint8_t fresh_secret[32],
                      const uint8_t nonce[KNIT_COOKIE_NONCE_LEN],
                      uint32_t receiver_index, uint8_t *out, size_t cap,
                      size_t *out_len);

struct knit_cookie_maker {
    uint8_t mac1_key[32];     /* from the peer's static public key */
    uint8_t reply_key[32];    /* opens the peer's cookie replies */
    uint8_t cookie[16];
    uint64_t cookie_birth;    /* when it arrived */
    bool has_cookie;
    uint8_t last_mac1[16];    /* what a genuine reply must be bound to */
    bool has_last_mac1;
};

void knit_cookie_maker_init(struct knit_cookie_maker *m,
                            const uint8_t peer_static_pub[32]);
void knit_cookie_maker_wipe(struct knit_cookie_maker *m);

/* Fills the last 32 bytes of msg (len bytes in all) with mac1 and mac2;
 * mac2 is zeros unless a cookie younger than KNIT_COOKIE_LIFETIME is held.
 * Remembers mac1 for the reply it may draw. Does nothing if len < 32. */
void knit_cookie_add_macs(struct knit_cookie_maker *m, uint8_t *msg,
                          size_t len, uint64_t now);

/* Takes the cookie out of a cookie reply (the caller found this maker by the
 * reply's receiver index). KNIT_E_LENGTH unless len is KNIT_COOKIE_REPLY_LEN,
 * KNIT_E_MALFORMED for a wrong type or non-zero reserved bytes,
 * KNIT_E_DECRYPT if it does not open under our last mac1 (forged, meant for
 * another message, or already used: each mac1 accepts one reply). */
int knit_cookie_consume_reply(struct knit_cookie_maker *m,
                              const uint8_t *reply, size_t len, uint64_t now);

#endif
