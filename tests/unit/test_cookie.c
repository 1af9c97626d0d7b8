#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/cookie.h"
#include "transport/error.h"

#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(5000) * SEC)

static uint8_t resp_pub[32], other_pub[32];
static uint8_t secret1[32], secret2[32], nonce[24];
static struct knit_addr src_a, src_b, src_a_port, src_v6;

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        resp_pub[i] = (uint8_t)(i * 7 + 1);
        other_pub[i] = (uint8_t)(i * 5 + 3);
        secret1[i] = (uint8_t)(0xa0 + i);
        secret2[i] = (uint8_t)(0x10 + i);
    }
    for (int i = 0; i < 24; i++)
        nonce[i] = (uint8_t)(0x55 ^ i);
    const uint8_t ip_a[4] = {192, 0, 2, 1}, ip_b[4] = {192, 0, 2, 2};
    uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip6[15] = 1;
    knit_addr_set(&src_a, ip_a, 4, 4001);
    knit_addr_set(&src_b, ip_b, 4, 4001);
    knit_addr_set(&src_a_port, ip_a, 4, 4002);
    knit_addr_set(&src_v6, ip6, 16, 4001);
    return 0;
}

/* A handshake-initiation-sized message with its 32 MAC bytes at the end. */
#define MSG_LEN 148
static void fill(uint8_t msg[MSG_LEN], uint8_t seed)
{
    for (int i = 0; i < MSG_LEN; i++)
        msg[i] = (uint8_t)(seed + i * 3);
}

static void test_macs_verify(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN], zero[16] = {0};
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    fill(msg, 1);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0);
    /* No cookie yet: mac2 is zeros and only mac1 verifies. */
    assert_memory_equal(msg + MSG_LEN - 16, zero, 16);
    assert_memory_not_equal(msg + MSG_LEN - 32, zero, 16);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0, secret1),
                     KNIT_COOKIE_MAC1_ONLY);

    /* mac1 is keyed BLAKE2b-128 under BLAKE2b-256("mac1----" || pub). */
    uint8_t label[40], key[32], want[16];
    memcpy(label, "mac1----", 8);
    memcpy(label + 8, resp_pub, 32);
    crypto_generichash(key, 32, label, sizeof label, NULL, 0);
    crypto_generichash(want, 16, msg, MSG_LEN - 32, key, 32);
    assert_memory_equal(want, msg + MSG_LEN - 32, 16);

    /* A maker for another responder key does not pass our mac1. */
    struct knit_cookie_maker wrong;
    knit_cookie_maker_init(&wrong, other_pub);
    knit_cookie_add_macs(&wrong, msg, sizeof msg, T0);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0, secret1),
                     KNIT_COOKIE_BAD_MAC1);
    knit_cookie_checker_wipe(&c);
    knit_cookie_maker_wipe(&m);
}

static void test_flipped_byte_fails_mac1(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN];
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    fill(msg, 2);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0);
    for (int i = 0; i < MSG_LEN - 16; i++) {
        msg[i] ^= 0x01;
        assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0,
                                           secret1), KNIT_COOKIE_BAD_MAC1);
        msg[i] ^= 0x01;
    }
    /* mac2 is not covered by mac1. */
    msg[MSG_LEN - 1] ^= 0x01;
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0, secret1),
                     KNIT_COOKIE_MAC1_ONLY);
    /* Too short to hold the MACs, or no message at all. */
    assert_int_equal(knit_cookie_check(&c, msg, 31, &src_a, T0, secret1),
                     KNIT_COOKIE_BAD_MAC1);
    assert_int_equal(knit_cookie_check(&c, NULL, 64, &src_a, T0, secret1),
                     KNIT_COOKIE_BAD_MAC1);
    /* An empty body is still a message. */
    uint8_t only_macs[32];
    knit_cookie_add_macs(&m, only_macs, sizeof only_macs, T0);
    assert_int_equal(knit_cookie_check(&c, only_macs, 32, &src_a, T0, secret1),
                     KNIT_COOKIE_MAC1_ONLY);
}

/* The whole dance: under load the responder answers a MAC1_ONLY message with
 * a cookie reply; the initiator resends with mac2; the responder accepts. */
static void get_cookie(struct knit_cookie_checker *c, struct knit_cookie_maker *m,
                       const struct knit_addr *src, uint64_t now)
{
    uint8_t msg[MSG_LEN], reply[KNIT_COOKIE_REPLY_LEN + 8];
    size_t reply_len;
    fill(msg, 3);
    knit_cookie_add_macs(m, msg, sizeof msg, now);
    assert_int_equal(knit_cookie_check(c, msg, sizeof msg, src, now, secret1),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_reply(c, msg, sizeof msg, src, now, secret1,
                                       nonce, 0x01020304, reply, sizeof reply,
                                       &reply_len), 0);
    assert_int_equal(reply_len, KNIT_COOKIE_REPLY_LEN);
    assert_int_equal(knit_cookie_consume_reply(m, reply, reply_len, now), 0);
}

static void test_full_flow(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN], reply[KNIT_COOKIE_REPLY_LEN];
    size_t reply_len;
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);

    fill(msg, 4);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0, secret1),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_a, T0, secret1,
                                       nonce, 0xa1b2c3d4, reply, sizeof reply,
                                       &reply_len), 0);
    /* Layout: type 3, three zeros, receiver index LE, the nonce, 32 bytes. */
    const uint8_t head[8] = {3, 0, 0, 0, 0xd4, 0xc3, 0xb2, 0xa1};
    assert_memory_equal(reply, head, 8);
    assert_memory_equal(reply + 8, nonce, 24);

    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0 + 5000),
                     0);
    fill(msg, 5);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0 + 10000);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0 + 20000,
                                       secret2), KNIT_COOKIE_MAC2_OK);
    /* The cookie is what the responder's secret gives for src_a. */
    uint8_t addr[7] = {4, 192, 0, 2, 1, 4001 >> 8, 4001 & 0xff}, cookie[16];
    crypto_generichash(cookie, 16, addr, sizeof addr, secret1, 32);
    assert_memory_equal(m.cookie, cookie, 16);
    /* A flipped mac2 byte falls back to MAC1_ONLY. */
    msg[MSG_LEN - 3] ^= 0x80;
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0 + 20000,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
}

static void test_cookie_bound_to_source(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN];
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    get_cookie(&c, &m, &src_a, T0);
    fill(msg, 6);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0 + SEC);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC2_OK);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_b, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a_port,
                                       T0 + SEC, secret2), KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_v6, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, NULL, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
    struct knit_addr unset;
    memset(&unset, 0, sizeof unset);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &unset, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
    /* IPv6 sources get cookies too. */
    struct knit_cookie_maker m6;
    knit_cookie_maker_init(&m6, resp_pub);
    get_cookie(&c, &m6, &src_v6, T0 + SEC);
    knit_cookie_add_macs(&m6, msg, sizeof msg, T0 + SEC);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_v6, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC2_OK);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a, T0 + SEC,
                                       secret2), KNIT_COOKIE_MAC1_ONLY);
}

static void test_cookie_expires_at_initiator(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN], zero[16] = {0};
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    get_cookie(&c, &m, &src_a, T0);
    fill(msg, 7);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0 + KNIT_COOKIE_LIFETIME - 1);
    assert_memory_not_equal(msg + MSG_LEN - 16, zero, 16);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_a,
                                       T0 + KNIT_COOKIE_LIFETIME - 1, secret2),
                     KNIT_COOKIE_MAC2_OK);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0 + KNIT_COOKIE_LIFETIME);
    assert_memory_equal(msg + MSG_LEN - 16, zero, 16);
    assert_false(m.has_cookie);
    /* A clock that ran backwards does not revive or keep it either. */
    get_cookie(&c, &m, &src_a, T0 + 200 * SEC);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0 + 100 * SEC);
    assert_memory_equal(msg + MSG_LEN - 16, zero, 16);
}

static void test_secret_rotation(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m, late;
    uint8_t msg[MSG_LEN], reply[KNIT_COOKIE_REPLY_LEN], zero[16] = {0};
    size_t reply_len;
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    knit_cookie_maker_init(&late, resp_pub);
    get_cookie(&c, &m, &src_a, T0);       /* secret1 is born at T0 */
    assert_memory_equal(c.secret, secret1, 32);
    /* A second initiator gets its cookie halfway through the secret's life:
     * the secret does not change, though a fresh one is offered. */
    get_cookie(&c, &late, &src_b, T0 + 60 * SEC);
    assert_memory_equal(c.secret, secret1, 32);
    assert_int_equal(c.secret_birth, T0);

    fill(msg, 8);
    uint64_t t = T0 + KNIT_COOKIE_LIFETIME - 1;
    knit_cookie_add_macs(&late, msg, sizeof msg, t);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_b, t, secret2),
                     KNIT_COOKIE_MAC2_OK);
    assert_memory_equal(c.secret, secret1, 32);

    /* At 120 s the secret rotates: the second initiator's cookie, 60 s old
     * and still sent, no longer verifies. */
    t = T0 + KNIT_COOKIE_LIFETIME;
    knit_cookie_add_macs(&late, msg, sizeof msg, t);
    assert_memory_not_equal(msg + MSG_LEN - 16, zero, 16);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_b, t, secret2),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_memory_equal(c.secret, secret2, 32);
    assert_int_equal(c.secret_birth, t);
    /* A new reply under the new secret restores MAC2_OK; no fresh secret is
     * needed while the current one is young. */
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_b, t, NULL,
                                       nonce, 1, reply, sizeof reply,
                                       &reply_len), 0);
    assert_int_equal(knit_cookie_consume_reply(&late, reply, reply_len, t), 0);
    knit_cookie_add_macs(&late, msg, sizeof msg, t + 1);
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_b, t + 1, NULL),
                     KNIT_COOKIE_MAC2_OK);

    /* When the secret is due and no fresh one is given, nothing passes mac2
     * and no reply can be made. */
    knit_cookie_add_macs(&late, msg, sizeof msg, t + KNIT_COOKIE_LIFETIME - 1);
    t += KNIT_COOKIE_LIFETIME;
    assert_int_equal(knit_cookie_check(&c, msg, sizeof msg, &src_b, t, NULL),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_b, t, NULL,
                                       nonce, 1, reply, sizeof reply,
                                       &reply_len), KNIT_E_INVAL);
    /* A fresh checker has no secret at all until given one. */
    struct knit_cookie_checker fresh;
    knit_cookie_checker_init(&fresh, resp_pub);
    assert_int_equal(knit_cookie_check(&fresh, msg, sizeof msg, &src_b, t, NULL),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_false(fresh.has_secret);
}

static void test_forged_reply_refused(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN], msg2[MSG_LEN], reply[KNIT_COOKIE_REPLY_LEN];
    size_t reply_len;
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);

    /* Nothing sent yet: nothing can be answered. */
    fill(msg, 9);
    struct knit_cookie_maker tmp;
    knit_cookie_maker_init(&tmp, resp_pub);
    knit_cookie_add_macs(&tmp, msg, sizeof msg, T0);
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_a, T0, secret1,
                                       nonce, 7, reply, sizeof reply,
                                       &reply_len), 0);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                     KNIT_E_DECRYPT);

    /* Every flipped bit after the header breaks the tag or the AD. */
    knit_cookie_add_macs(&m, msg, sizeof msg, T0);
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_a, T0, secret1,
                                       nonce, 7, reply, sizeof reply,
                                       &reply_len), 0);
    for (size_t i = 8; i < KNIT_COOKIE_REPLY_LEN; i++) {
        reply[i] ^= 0x04;
        assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                         KNIT_E_DECRYPT);
        reply[i] ^= 0x04;
    }
    assert_false(m.has_cookie);
    /* Header checks. */
    reply[0] = 4;
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                     KNIT_E_MALFORMED);
    reply[0] = 3;
    reply[2] = 1;
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                     KNIT_E_MALFORMED);
    reply[2] = 0;
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len - 1, T0),
                     KNIT_E_LENGTH);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len + 1, T0),
                     KNIT_E_LENGTH);
    assert_int_equal(knit_cookie_consume_reply(&m, NULL, reply_len, T0),
                     KNIT_E_INVAL);

    /* A reply to an earlier message is refused once a newer one went out. */
    fill(msg2, 10);
    knit_cookie_add_macs(&m, msg2, sizeof msg2, T0);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                     KNIT_E_DECRYPT);
    /* A reply bound to the right mac1 but sealed with another responder's
     * key (built by hand, as the API would not make it) is refused. */
    uint8_t label[40], other_key[32], fake_cookie[16] = {1, 2, 3};
    memcpy(label, "cookie--", 8);
    memcpy(label + 8, other_pub, 32);
    crypto_generichash(other_key, 32, label, sizeof label, NULL, 0);
    memcpy(reply, "\x03\0\0\0\x07\0\0\0", 8);
    memcpy(reply + 8, nonce, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(reply + 32, NULL, fake_cookie,
                                               16, m.last_mac1, 16, NULL, nonce,
                                               other_key);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, KNIT_COOKIE_REPLY_LEN,
                                               T0), KNIT_E_DECRYPT);
    /* The same construction with the right key is accepted, which shows the
     * hand-made reply differs from a genuine one only in the key. */
    memcpy(label + 8, resp_pub, 32);
    crypto_generichash(other_key, 32, label, sizeof label, NULL, 0);
    crypto_aead_xchacha20poly1305_ietf_encrypt(reply + 32, NULL, fake_cookie,
                                               16, m.last_mac1, 16, NULL, nonce,
                                               other_key);
    struct knit_cookie_maker spare = m;
    assert_int_equal(knit_cookie_consume_reply(&spare, reply,
                                               KNIT_COOKIE_REPLY_LEN, T0), 0);
    assert_memory_equal(spare.cookie, fake_cookie, 16);

    /* The genuine reply works once, then it is spent. */
    assert_int_equal(knit_cookie_reply(&c, msg2, sizeof msg2, &src_a, T0,
                                       secret1, nonce, 7, reply, sizeof reply,
                                       &reply_len), 0);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0), 0);
    assert_int_equal(knit_cookie_consume_reply(&m, reply, reply_len, T0),
                     KNIT_E_DECRYPT);
}

static void test_reply_arguments(void **state)
{
    (void)state;
    struct knit_cookie_checker c;
    struct knit_cookie_maker m;
    uint8_t msg[MSG_LEN], reply[KNIT_COOKIE_REPLY_LEN];
    size_t reply_len = 0;
    knit_cookie_checker_init(&c, resp_pub);
    knit_cookie_maker_init(&m, resp_pub);
    fill(msg, 11);
    knit_cookie_add_macs(&m, msg, sizeof msg, T0);
#define REPLY(msg_, len_, src_, cap_) \
    knit_cookie_reply(&c, msg_, len_, src_, T0, secret1, nonce, 1, reply, cap_, \
                      &reply_len)
    assert_int_equal(REPLY(msg, sizeof msg, &src_a, sizeof reply - 1),
                     KNIT_E_NO_SPACE);
    assert_int_equal(REPLY(msg, 31, &src_a, sizeof reply), KNIT_E_TRUNCATED);
    assert_int_equal(REPLY(NULL, sizeof msg, &src_a, sizeof reply),
                     KNIT_E_INVAL);
    assert_int_equal(REPLY(msg, sizeof msg, NULL, sizeof reply), KNIT_E_INVAL);
    /* Never a reply to a message whose mac1 fails: no reflection. */
    msg[0] ^= 1;
    assert_int_equal(REPLY(msg, sizeof msg, &src_a, sizeof reply),
                     KNIT_E_DECRYPT);
    msg[0] ^= 1;
    assert_int_equal(REPLY(msg, sizeof msg, &src_a, sizeof reply), 0);
#undef REPLY
    assert_int_equal(knit_cookie_reply(&c, msg, sizeof msg, &src_a, T0, secret1,
                                       NULL, 1, reply, sizeof reply, &reply_len),
                     KNIT_E_INVAL);
    /* add_macs leaves a too short buffer alone. */
    uint8_t small[31], copy[31];
    memset(small, 0x77, sizeof small);
    memcpy(copy, small, sizeof copy);
    knit_cookie_add_macs(&m, small, sizeof small, T0);
    assert_memory_equal(small, copy, sizeof small);

    struct knit_cookie_checker zero;
    memset(&zero, 0, sizeof zero);
    knit_cookie_checker_wipe(&c);
    assert_memory_equal(&c, &zero, sizeof c);
    knit_cookie_checker_wipe(NULL);
    knit_cookie_maker_wipe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_macs_verify),
        cmocka_unit_test(test_flipped_byte_fails_mac1),
        cmocka_unit_test(test_full_flow),
        cmocka_unit_test(test_cookie_bound_to_source),
        cmocka_unit_test(test_cookie_expires_at_initiator),
        cmocka_unit_test(test_secret_rotation),
        cmocka_unit_test(test_forged_reply_refused),
        cmocka_unit_test(test_reply_arguments),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
