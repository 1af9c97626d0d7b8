/* Fuzzes what a node reads from strangers before any session exists. Every
 * input is used four ways, all with fixed keys:
 *   1  an IK responder reads it as handshake message 1; if that succeeds the
 *      handshake is finished with an initiator holding the fixed keys, and
 *      both ends must agree on the transport keys;
 *   2  an IK initiator that sent a fixed message 1 reads it as message 2;
 *   3  the cookie checker judges it as a handshake packet (and answers it
 *      when mac1 verifies);
 *   4  a cookie maker that sent a fixed packet takes it as a cookie reply.
 * Whatever the bytes, nothing may crash, read out of bounds or report a
 * success that does not hold together. The seeds are a valid message 1 and
 * its truncations, a valid message 2, a packet with good MACs and a valid
 * cookie reply. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "proto/cookie.h"
#include "proto/noise.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static const uint8_t prologue[] = "knit/1";

/* Fixed keys: a value, so every run starts from the same state. */
struct keys {
    uint8_t i_static[32], i_public[32], i_eph[32];
    uint8_t r_static[32], r_public[32], r_eph[32];
    uint8_t secret[32], nonce[24];
    struct knit_addr src;
    /* message 1 as the fixed initiator sends it, and its state after */
    uint8_t msg1[KNIT_NOISE_IK_MSG1_OVERHEAD];
    struct knit_noise_handshake sent1;
    /* the packet the cookie maker sent, MACs included */
    uint8_t packet[80];
};

static const struct keys *keys(void)
{
    static struct keys k;
    static bool ready;
    if (ready)
        return &k;
    check(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        k.i_static[i] = (uint8_t)(0x10 + i);
        k.i_eph[i] = (uint8_t)(0x30 + i);
        k.r_static[i] = (uint8_t)(0x50 + i);
        k.r_eph[i] = (uint8_t)(0x70 + i);
        k.secret[i] = (uint8_t)(0x90 + i);
    }
    memset(k.nonce, 0x24, sizeof k.nonce);
    crypto_scalarmult_base(k.i_public, k.i_static);
    crypto_scalarmult_base(k.r_public, k.r_static);
    const uint8_t ip[4] = {198, 51, 100, 1};
    check(knit_addr_set(&k.src, ip, 4, 4001) == 0);

    size_t len;
    check(knit_noise_init(&k.sent1, KNIT_NOISE_IK, true, prologue,
                          sizeof prologue - 1, k.i_static, k.r_public, k.i_eph,
                          NULL) == 0);
    check(knit_noise_write(&k.sent1, NULL, 0, k.msg1, sizeof k.msg1, &len) == 0);
    check(len == sizeof k.msg1);
    for (size_t i = 0; i < sizeof k.packet; i++)
        k.packet[i] = (uint8_t)i;
    ready = true;
    return &k;
}

static void responder_init(const struct keys *k, struct knit_noise_handshake *hs)
{
    check(knit_noise_init(hs, KNIT_NOISE_IK, false, prologue,
                          sizeof prologue - 1, k->r_static, NULL, k->r_eph,
                          NULL) == 0);
}

/* Both ends hold matching transport keys: what one seals the other opens. */
static void check_pair(struct knit_noise_handshake *ini,
                       struct knit_noise_handshake *res)
{
    uint8_t h1[64], h2[64], ct[5 + 16], pt[5];
    knit_noise_handshake_hash(ini, h1);
    knit_noise_handshake_hash(res, h2);
    check(memcmp(h1, h2, 64) == 0);
    struct knit_noise_cipher is, ir, rs, rr;
    check(knit_noise_split(ini, &is, &ir) == 0);
    check(knit_noise_split(res, &rs, &rr) == 0);
    check(knit_noise_cipher_encrypt(&is, NULL, 0, (const uint8_t *)"knit!", 5,
                                    ct) == 0);
    check(knit_noise_cipher_decrypt(&rr, NULL, 0, ct, sizeof ct, pt) == 0);
    check(memcmp(pt, "knit!", 5) == 0);
    check(knit_noise_cipher_encrypt(&rs, NULL, 0, pt, 5, ct) == 0);
    check(knit_noise_cipher_decrypt(&ir, NULL, 0, ct, sizeof ct, pt) == 0);
}

static void as_message1(const struct keys *k, const uint8_t *data, size_t size)
{
    static uint8_t payload[KNIT_NOISE_MAX_MSG];
    struct knit_noise_handshake res;
    size_t plen = 0;
    responder_init(k, &res);
    int err = knit_noise_read(&res, data, size, payload, sizeof payload, &plen);
    if (err) {
        check(err < 0 && err >= KNIT_E_LOWEST);
        /* A failed read leaves nothing usable behind. */
        check(knit_noise_remote_static(&res) == NULL);
        check(knit_noise_read(&res, data, size, payload, sizeof payload,
                              &plen) == KNIT_E_INVAL);
        return;
    }
    check(plen + KNIT_NOISE_IK_MSG1_OVERHEAD == size);
    check(knit_noise_remote_static(&res) != NULL);
    check(knit_noise_my_turn_to_write(&res));

    uint8_t msg2[KNIT_NOISE_IK_MSG2_OVERHEAD + 4], back[8];
    size_t len2, blen;
    check(knit_noise_write(&res, (const uint8_t *)"pong", 4, msg2, sizeof msg2,
                           &len2) == 0);
    check(knit_noise_is_done(&res));

    /* Only the fixed initiator can have written it (nobody else holds its
     * static key), and writing the same payload must give the same bytes. */
    check(memcmp(knit_noise_remote_static(&res), k->i_public, 32) == 0);
    struct knit_noise_handshake ini;
    static uint8_t again[KNIT_NOISE_MAX_MSG];
    size_t alen;
    check(knit_noise_init(&ini, KNIT_NOISE_IK, true, prologue,
                          sizeof prologue - 1, k->i_static, k->r_public,
                          k->i_eph, NULL) == 0);
    check(knit_noise_write(&ini, payload, plen, again, sizeof again, &alen) == 0);
    check(alen == size && memcmp(again, data, size) == 0);
    check(knit_noise_read(&ini, msg2, len2, back, sizeof back, &blen) == 0);
    check(blen == 4 && memcmp(back, "pong", 4) == 0);
    check_pair(&ini, &res);
}

static void as_message2(const struct keys *k, const uint8_t *data, size_t size)
{
    static uint8_t payload[KNIT_NOISE_MAX_MSG];
    struct knit_noise_handshake ini = k->sent1;
    size_t plen = 0;
    int err = knit_noise_read(&ini, data, size, payload, sizeof payload, &plen);
    if (err) {
        check(err < 0 && err >= KNIT_E_LOWEST);
        check(!knit_noise_is_done(&ini));
        return;
    }
    check(plen + KNIT_NOISE_IK_MSG2_OVERHEAD == size);
    check(knit_noise_is_done(&ini));
    /* Only the fixed responder can have answered: replay its side. */
    struct knit_noise_handshake res;
    static uint8_t again[KNIT_NOISE_MAX_MSG];
    uint8_t p1[1];
    size_t alen, p1len;
    responder_init(k, &res);
    check(knit_noise_read(&res, k->msg1, sizeof k->msg1, p1, sizeof p1,
                          &p1len) == 0);
    check(knit_noise_write(&res, payload, plen, again, sizeof again, &alen) == 0);
    check(alen == size && memcmp(again, data, size) == 0);
    check_pair(&ini, &res);
}

static void as_handshake_packet(const struct keys *k, const uint8_t *data,
                                size_t size)
{
    struct knit_cookie_checker c;
    knit_cookie_checker_init(&c, k->r_public);
    enum knit_cookie_verdict v =
        knit_cookie_check(&c, data, size, &k->src, 1000, k->secret);
    check(v == KNIT_COOKIE_BAD_MAC1 || v == KNIT_COOKIE_MAC1_ONLY ||
          v == KNIT_COOKIE_MAC2_OK);
    uint8_t reply[KNIT_COOKIE_REPLY_LEN];
    size_t rlen = 0;
    int err = knit_cookie_reply(&c, data, size, &k->src, 1000, k->secret,
                                k->nonce, 7, reply, sizeof reply, &rlen);
    /* A reply exactly when mac1 verified. */
    check((err == 0) == (v != KNIT_COOKIE_BAD_MAC1));
    if (err == 0)
        check(rlen == KNIT_COOKIE_REPLY_LEN);
    knit_cookie_checker_wipe(&c);
}

static void as_cookie_reply(const struct keys *k, const uint8_t *data,
                            size_t size)
{
    struct knit_cookie_maker m;
    uint8_t packet[sizeof k->packet];
    memcpy(packet, k->packet, sizeof packet);
    knit_cookie_maker_init(&m, k->r_public);
    knit_cookie_add_macs(&m, packet, sizeof packet, 1000);
    int err = knit_cookie_consume_reply(&m, data, size, 1000);
    check(err == 0 || err == KNIT_E_LENGTH || err == KNIT_E_MALFORMED ||
          err == KNIT_E_DECRYPT);
    if (err == 0) {
        /* The reply is spent; the cookie now rides in mac2 and mac1 still
         * verifies. */
        static const uint8_t zero[KNIT_COOKIE_MAC_LEN];
        struct knit_cookie_checker c;
        check(knit_cookie_consume_reply(&m, data, size, 1001) ==
              KNIT_E_DECRYPT);
        knit_cookie_checker_init(&c, k->r_public);
        knit_cookie_add_macs(&m, packet, sizeof packet, 1001);
        check(memcmp(packet + sizeof packet - KNIT_COOKIE_MAC_LEN, zero,
                     KNIT_COOKIE_MAC_LEN) != 0);
        check(knit_cookie_check(&c, packet, sizeof packet, &k->src, 1001,
                                k->secret) != KNIT_COOKIE_BAD_MAC1);
        knit_cookie_checker_wipe(&c);
    }
    knit_cookie_maker_wipe(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct keys *k = keys();
    as_message1(k, data, size);
    as_message2(k, data, size);
    as_handshake_packet(k, data, size);
    as_cookie_reply(k, data, size);
    return 0;
}
