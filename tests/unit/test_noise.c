/* The Noise IK handshake beyond what the cacophony vectors check
 * (test_noise_vectors.c has those): a full round trip into transport
 * ciphers and the explicit-nonce AEAD; every flipped bit, a wrong remote
 * static, a different prologue, a cut or overlong message and a low-order
 * point are all refused, and a failed read leaves the state unusable;
 * output and payload buffers that are too small; messages out of turn and bad
 * arguments; which keys each pattern's init requires; and the cipher's
 * nonce rules (a forgery does not advance it, 2^64-1 is never used). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/noise.h"
#include "transport/error.h"

static uint8_t i_static[32], r_static[32], r_public[32], i_public[32];
static uint8_t i_eph[32], r_eph[32], other_static[32], other_public[32];
static const uint8_t prologue[] = "knit/1";

static int setup_keys(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        i_static[i] = (uint8_t)(1 + i);
        r_static[i] = (uint8_t)(101 + i);
        i_eph[i] = (uint8_t)(51 + i);
        r_eph[i] = (uint8_t)(151 + i);
        other_static[i] = (uint8_t)(201 + i);
    }
    crypto_scalarmult_base(i_public, i_static);
    crypto_scalarmult_base(r_public, r_static);
    crypto_scalarmult_base(other_public, other_static);
    return 0;
}

static void ik_pair(struct knit_noise_handshake *ini,
                    struct knit_noise_handshake *res, const uint8_t *rs)
{
    assert_int_equal(knit_noise_init(ini, KNIT_NOISE_IK, true, prologue,
                                     sizeof prologue - 1, i_static, rs, i_eph,
                                     NULL), 0);
    assert_int_equal(knit_noise_init(res, KNIT_NOISE_IK, false, prologue,
                                     sizeof prologue - 1, r_static, NULL, r_eph,
                                     NULL), 0);
}

static const uint8_t hello[] = "hello, responder";

/* Writes IK message 1 with the payload hello. */
static size_t ik_msg1(struct knit_noise_handshake *ini, uint8_t *out, size_t cap)
{
    size_t len;
    assert_int_equal(knit_noise_write(ini, hello, sizeof hello, out, cap, &len),
                     0);
    assert_int_equal(len, KNIT_NOISE_IK_MSG1_OVERHEAD + sizeof hello);
    return len;
}

static void test_ik_round_trip_and_transport(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], m2[256], pl[256], ct[64], pt[64];
    size_t m1_len, m2_len, pl_len;
    ik_pair(&ini, &res, r_public);

    assert_null(knit_noise_remote_static(&res));
    assert_memory_equal(knit_noise_remote_static(&ini), r_public, 32);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len), 0);
    assert_int_equal(pl_len, sizeof hello);
    assert_memory_equal(pl, hello, pl_len);
    assert_memory_equal(knit_noise_remote_static(&res), i_public, 32);
    assert_false(knit_noise_is_done(&res));
    assert_true(knit_noise_my_turn_to_write(&res));

    /* An empty payload is allowed (payload NULL, cap 0 on the reading side). */
    assert_int_equal(knit_noise_write(&res, NULL, 0, m2, sizeof m2, &m2_len), 0);
    assert_int_equal(m2_len, KNIT_NOISE_IK_MSG2_OVERHEAD);
    assert_int_equal(knit_noise_read(&ini, m2, m2_len, NULL, 0, &pl_len), 0);
    assert_int_equal(pl_len, 0);
    assert_true(knit_noise_is_done(&ini));
    assert_true(knit_noise_is_done(&res));
    assert_false(knit_noise_my_turn_to_write(&ini));
    assert_false(knit_noise_my_turn_to_write(&res));

    uint8_t h1[64], h2[64];
    knit_noise_handshake_hash(&ini, h1);
    knit_noise_handshake_hash(&res, h2);
    assert_memory_equal(h1, h2, 64);

    struct knit_noise_cipher is, ir, rsend, rrecv;
    assert_int_equal(knit_noise_split(&ini, &is, &ir), 0);
    assert_int_equal(knit_noise_split(&res, &rsend, &rrecv), 0);
    assert_memory_equal(is.k, rrecv.k, 32);
    assert_memory_equal(ir.k, rsend.k, 32);
    assert_memory_not_equal(is.k, ir.k, 32);
    /* split wipes the handshake. */
    assert_false(knit_noise_is_done(&ini));
    assert_null(knit_noise_remote_static(&ini));
    struct knit_noise_handshake zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&ini, &zero, sizeof zero);
    assert_int_equal(knit_noise_split(&ini, &is, &ir), KNIT_E_INVAL);

    /* The explicit-nonce AEAD is the same cipher at nonce n. */
    static const uint8_t ad[16] = {4};
    assert_int_equal(knit_noise_cipher_encrypt(&is, ad, sizeof ad, hello, 5, ct), 0);
    assert_int_equal(is.n, 1);
    assert_int_equal(knit_noise_aead_decrypt(rrecv.k, 0, ad, sizeof ad, ct,
                                             5 + 16, pt), 0);
    assert_memory_equal(pt, hello, 5);
    assert_int_equal(knit_noise_aead_decrypt(rrecv.k, 1, ad, sizeof ad, ct,
                                             5 + 16, pt), KNIT_E_DECRYPT);
    assert_int_equal(knit_noise_aead_decrypt(rrecv.k, 0, ad, sizeof ad - 1, ct,
                                             5 + 16, pt), KNIT_E_DECRYPT);
    uint8_t ct2[64];
    assert_int_equal(knit_noise_aead_encrypt(is.k, 0, ad, sizeof ad, hello, 5,
                                             ct2), 0);
    assert_memory_equal(ct, ct2, 5 + 16);

    /* In place works. */
    memcpy(pt, hello, 5);
    assert_int_equal(knit_noise_cipher_encrypt(&rsend, NULL, 0, pt, 5, pt), 0);
    assert_int_equal(knit_noise_cipher_decrypt(&ir, NULL, 0, pt, 21, pt), 0);
    assert_memory_equal(pt, hello, 5);
}

static void test_tampered_message1_fails(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], pl[256];
    size_t m1_len, pl_len;
    ik_pair(&ini, &res, r_public);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    knit_noise_wipe(&res);

    /* Every byte is covered: the ephemeral key through h, the rest by tags. */
    for (size_t i = 0; i < m1_len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            struct knit_noise_handshake r;
            assert_int_equal(knit_noise_init(&r, KNIT_NOISE_IK, false, prologue,
                                             sizeof prologue - 1, r_static,
                                             NULL, r_eph, NULL), 0);
            m1[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(knit_noise_read(&r, m1, m1_len, pl, sizeof pl,
                                             &pl_len), KNIT_E_DECRYPT);
            m1[i] ^= (uint8_t)(1u << bit);
            /* A failed read leaves the state unusable. */
            assert_false(knit_noise_my_turn_to_write(&r));
            assert_null(knit_noise_remote_static(&r));
            assert_int_equal(knit_noise_read(&r, m1, m1_len, pl, sizeof pl,
                                             &pl_len), KNIT_E_INVAL);
        }
    }
    /* A different prologue also breaks it. */
    assert_int_equal(knit_noise_init(&res, KNIT_NOISE_IK, false,
                                     (const uint8_t *)"knit/2", 6, r_static,
                                     NULL, r_eph, NULL), 0);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_DECRYPT);
}

static void test_tampered_message2_fails(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], m2[256], pl[256];
    size_t m1_len, m2_len, pl_len;
    ik_pair(&ini, &res, r_public);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len), 0);
    assert_int_equal(knit_noise_write(&res, hello, 3, m2, sizeof m2, &m2_len), 0);
    for (size_t i = 0; i < m2_len; i++) {
        struct knit_noise_handshake copy = ini;  /* a plain value */
        m2[i] ^= 0x40;
        assert_int_equal(knit_noise_read(&copy, m2, m2_len, pl, sizeof pl,
                                         &pl_len), KNIT_E_DECRYPT);
        m2[i] ^= 0x40;
        assert_false(knit_noise_is_done(&copy));
    }
    /* The untouched original still completes. */
    assert_int_equal(knit_noise_read(&ini, m2, m2_len, pl, sizeof pl, &pl_len), 0);
    assert_true(knit_noise_is_done(&ini));
}

static void test_wrong_remote_static(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], pl[256];
    size_t m1_len, pl_len;
    /* The initiator believes the responder is another key. */
    ik_pair(&ini, &res, other_public);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_DECRYPT);
    assert_null(knit_noise_remote_static(&res));
}

static void test_truncated_message(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], pl[256];
    size_t m1_len, pl_len;
    ik_pair(&ini, &res, r_public);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    for (size_t cut = 0; cut < m1_len; cut++) {
        assert_int_equal(knit_noise_init(&res, KNIT_NOISE_IK, false, prologue,
                                         sizeof prologue - 1, r_static, NULL,
                                         r_eph, NULL), 0);
        int want = cut < KNIT_NOISE_IK_MSG1_OVERHEAD ? KNIT_E_TRUNCATED
                                                     : KNIT_E_DECRYPT;
        assert_int_equal(knit_noise_read(&res, m1, cut, pl, sizeof pl, &pl_len),
                         want);
    }
    /* One byte too many is just as wrong. */
    assert_int_equal(knit_noise_init(&res, KNIT_NOISE_IK, false, prologue,
                                     sizeof prologue - 1, r_static, NULL, r_eph,
                                     NULL), 0);
    m1[m1_len] = 0;
    assert_int_equal(knit_noise_read(&res, m1, m1_len + 1, pl, sizeof pl,
                                     &pl_len), KNIT_E_DECRYPT);
    /* Over the Noise maximum. */
    static uint8_t huge[KNIT_NOISE_MAX_MSG + 1];
    assert_int_equal(knit_noise_init(&res, KNIT_NOISE_IK, false, prologue,
                                     sizeof prologue - 1, r_static, NULL, r_eph,
                                     NULL), 0);
    assert_int_equal(knit_noise_read(&res, huge, sizeof huge, huge, sizeof huge,
                                     &pl_len), KNIT_E_TOO_BIG);
}

static void test_buffers(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], pl[256];
    size_t m1_len = 0, pl_len;
    ik_pair(&ini, &res, r_public);
    size_t need = KNIT_NOISE_IK_MSG1_OVERHEAD + sizeof hello;
    /* Too small an output changes nothing: the retry gives the same bytes. */
    assert_int_equal(knit_noise_write(&ini, hello, sizeof hello, m1, need - 1,
                                      &m1_len), KNIT_E_NO_SPACE);
    assert_true(knit_noise_my_turn_to_write(&ini));
    m1_len = ik_msg1(&ini, m1, need);

    /* A payload that does not fit in cap on the reading side. */
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof hello - 1,
                                     &pl_len), KNIT_E_NO_SPACE);
    /* Like every read failure but INVAL, that leaves the state unusable. */
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_INVAL);

    /* A message over KNIT_NOISE_MAX_MSG is refused before anything moves. */
    static uint8_t big[KNIT_NOISE_MAX_MSG + 1], big_out[KNIT_NOISE_MAX_MSG + 64];
    size_t big_len;
    ik_pair(&ini, &res, r_public);
    size_t most = KNIT_NOISE_MAX_MSG - KNIT_NOISE_IK_MSG1_OVERHEAD;
    assert_int_equal(knit_noise_write(&ini, big, most + 1, big_out,
                                      sizeof big_out, &big_len), KNIT_E_TOO_BIG);
    assert_int_equal(knit_noise_write(&ini, big, most, big_out, sizeof big_out,
                                      &big_len), 0);
    assert_int_equal(big_len, KNIT_NOISE_MAX_MSG);
    assert_int_equal(knit_noise_read(&res, big_out, big_len, big, sizeof big,
                                     &pl_len), 0);
    assert_int_equal(pl_len, most);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t m1[256], m2[256], pl[256];
    size_t m1_len, m2_len, pl_len;
    struct knit_noise_cipher a, b;
    ik_pair(&ini, &res, r_public);

    /* The responder cannot speak first, the initiator cannot listen first. */
    assert_int_equal(knit_noise_write(&res, hello, 3, m2, sizeof m2, &m2_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&ini, m1, 100, pl, sizeof pl, &pl_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_split(&ini, &a, &b), KNIT_E_INVAL);
    /* Those refusals changed nothing. */
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    assert_int_equal(knit_noise_write(&ini, hello, 3, m2, sizeof m2, &m2_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len), 0);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_split(&res, &a, &b), KNIT_E_INVAL);
    assert_int_equal(knit_noise_write(&res, NULL, 0, m2, sizeof m2, &m2_len), 0);
    assert_int_equal(knit_noise_read(&ini, m2, m2_len, pl, sizeof pl, &pl_len), 0);
    /* Done: no more handshake messages either way. */
    assert_int_equal(knit_noise_write(&ini, hello, 3, m2, sizeof m2, &m2_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&ini, m2, m2_len, pl, sizeof pl, &pl_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_split(&ini, &a, &a), KNIT_E_INVAL);
    assert_int_equal(knit_noise_split(&ini, &a, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_noise_split(&ini, &a, &b), 0);

    /* Arguments. */
    ik_pair(&ini, &res, r_public);
    assert_int_equal(knit_noise_write(NULL, hello, 3, m1, sizeof m1, &m1_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_write(&ini, NULL, 3, m1, sizeof m1, &m1_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_write(&ini, hello, 3, NULL, sizeof m1, &m1_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_write(&ini, hello, 3, m1, sizeof m1, NULL),
                     KNIT_E_INVAL);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    assert_int_equal(knit_noise_read(&res, NULL, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, NULL, sizeof pl, &pl_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len), 0);
    assert_false(knit_noise_is_done(NULL));
    assert_false(knit_noise_my_turn_to_write(NULL));
    assert_null(knit_noise_remote_static(NULL));
    knit_noise_wipe(NULL);
}

static void test_init_rules(void **state)
{
    (void)state;
    struct knit_noise_handshake hs;
    uint8_t psk[32] = {7};
#define INIT(pat, ini, s, rs, e, psk_) \
    knit_noise_init(&hs, pat, ini, prologue, sizeof prologue - 1, s, rs, e, psk_)
    assert_int_equal(INIT(KNIT_NOISE_IK, true, i_static, r_public, i_eph, NULL), 0);
    assert_int_equal(INIT(KNIT_NOISE_IK, true, i_static, NULL, i_eph, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IK, true, NULL, r_public, i_eph, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IK, true, i_static, r_public, NULL, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IK, true, i_static, r_public, i_eph, psk),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IK, false, r_static, i_public, r_eph, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IKPSK2, true, i_static, r_public, i_eph,
                          NULL), KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_IKPSK2, false, r_static, NULL, r_eph, psk), 0);
    assert_int_equal(INIT(KNIT_NOISE_XX, true, i_static, r_public, i_eph, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_XX, true, i_static, NULL, i_eph, NULL), 0);
    assert_int_equal(INIT(KNIT_NOISE_XK, true, i_static, NULL, i_eph, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(INIT(KNIT_NOISE_XK, false, r_static, NULL, r_eph, NULL), 0);
    assert_int_equal(INIT((enum knit_noise_pattern)0, true, i_static, NULL,
                          i_eph, NULL), KNIT_E_INVAL);
    assert_int_equal(INIT((enum knit_noise_pattern)5, true, i_static, NULL,
                          i_eph, NULL), KNIT_E_INVAL);
#undef INIT
    assert_int_equal(knit_noise_init(&hs, KNIT_NOISE_XX, true, NULL, 1,
                                     i_static, NULL, i_eph, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_noise_init(&hs, KNIT_NOISE_XX, true, NULL, 0,
                                     i_static, NULL, i_eph, NULL), 0);
    assert_int_equal(knit_noise_init(NULL, KNIT_NOISE_XX, true, NULL, 0,
                                     i_static, NULL, i_eph, NULL), KNIT_E_INVAL);
}

static void test_low_order_points(void **state)
{
    (void)state;
    struct knit_noise_handshake ini, res;
    uint8_t zero[32] = {0}, m1[256], pl[256];
    size_t m1_len, pl_len;
    /* An initiator told to reach the zero point cannot derive es. */
    assert_int_equal(knit_noise_init(&ini, KNIT_NOISE_IK, true, NULL, 0,
                                     i_static, zero, i_eph, NULL), 0);
    assert_int_equal(knit_noise_write(&ini, NULL, 0, m1, sizeof m1, &m1_len),
                     KNIT_E_CRYPTO);
    assert_false(knit_noise_my_turn_to_write(&ini));
    /* A responder sent the zero point as ephemeral. */
    ik_pair(&ini, &res, r_public);
    m1_len = ik_msg1(&ini, m1, sizeof m1);
    memset(m1, 0, 32);
    assert_int_equal(knit_noise_read(&res, m1, m1_len, pl, sizeof pl, &pl_len),
                     KNIT_E_CRYPTO);
}

static void test_cipher_limits(void **state)
{
    (void)state;
    struct knit_noise_cipher c, d;
    uint8_t ct[64], pt[64];
    memset(&c, 0, sizeof c);
    assert_int_equal(knit_noise_cipher_encrypt(&c, NULL, 0, hello, 4, ct),
                     KNIT_E_INVAL);
    for (int i = 0; i < 32; i++)
        c.k[i] = (uint8_t)i;
    c.has_key = true;
    d = c;

    /* A forged packet does not move the receiver's nonce. */
    assert_int_equal(knit_noise_cipher_encrypt(&c, NULL, 0, hello, 4, ct), 0);
    ct[0] ^= 1;
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 20, pt),
                     KNIT_E_DECRYPT);
    assert_int_equal(d.n, 0);
    ct[0] ^= 1;
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 20, pt), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 15, pt),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 20, pt),
                     KNIT_E_DECRYPT);  /* a replay under the next nonce */

    /* 2^64-1 is reserved: the last usable nonce is 2^64-2. */
    c.n = UINT64_MAX - 1;
    d.n = UINT64_MAX - 1;
    assert_int_equal(knit_noise_cipher_encrypt(&c, NULL, 0, NULL, 0, ct), 0);
    assert_int_equal(c.n, UINT64_MAX);
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 16, NULL), 0);
    assert_int_equal(knit_noise_cipher_encrypt(&c, NULL, 0, hello, 4, ct),
                     KNIT_E_TOO_BIG);
    assert_int_equal(c.n, UINT64_MAX);
    assert_int_equal(knit_noise_cipher_decrypt(&d, NULL, 0, ct, 16, NULL),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_noise_aead_encrypt(c.k, UINT64_MAX, NULL, 0, hello, 4,
                                             ct), KNIT_E_TOO_BIG);
    assert_int_equal(knit_noise_aead_decrypt(c.k, UINT64_MAX, NULL, 0, ct, 20,
                                             pt), KNIT_E_TOO_BIG);
    assert_int_equal(knit_noise_aead_encrypt(NULL, 0, NULL, 0, hello, 4, ct),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_aead_encrypt(c.k, 0, NULL, 3, hello, 4, ct),
                     KNIT_E_INVAL);
    assert_int_equal(knit_noise_aead_decrypt(c.k, 0, NULL, 0, ct, 20, NULL),
                     KNIT_E_INVAL);

    /* The nonce is 4 zero bytes then n little-endian: check against
     * libsodium directly. */
    uint8_t npub[12] = {0, 0, 0, 0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    uint8_t direct[64];
    assert_int_equal(knit_noise_aead_encrypt(c.k, 0x0102030405060708ull,
                                             hello, 3, hello, 7, ct), 0);
    crypto_aead_chacha20poly1305_ietf_encrypt(direct, NULL, hello, 7, hello, 3,
                                              NULL, npub, c.k);
    assert_memory_equal(ct, direct, 7 + 16);
}

static void test_error_sentence(void **state)
{
    (void)state;
    assert_string_equal(knit_strerror(KNIT_E_DECRYPT),
                        "authentication failed: packet or message was forged "
                        "or corrupted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ik_round_trip_and_transport),
        cmocka_unit_test(test_tampered_message1_fails),
        cmocka_unit_test(test_tampered_message2_fails),
        cmocka_unit_test(test_wrong_remote_static),
        cmocka_unit_test(test_truncated_message),
        cmocka_unit_test(test_buffers),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_init_rules),
        cmocka_unit_test(test_low_order_points),
        cmocka_unit_test(test_cipher_limits),
        cmocka_unit_test(test_error_sentence),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
