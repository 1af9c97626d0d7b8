/* proto/handshake: initiation and response packets between two identities
 * (Noise IK with the hello as payload, mac1/mac2 from proto/cookie.h), and
 * what a tampered, forged, truncated or misaddressed packet gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cookie.h"
#include "proto/handshake.h"
#include "proto/identity.h"
#include "proto/keypair.h"
#include "proto/noise.h"
#include "transport/error.h"

#define NOW 5000000ull
#define I_INDEX 0x11223344u
#define R_INDEX 0x55667788u
#define MIN_INITIATION (KNIT_INITIATION_HEADER + KNIT_NOISE_IK_MSG1_OVERHEAD + \
                        KNIT_HANDSHAKE_MACS)
#define MIN_RESPONSE (KNIT_RESPONSE_HEADER + KNIT_NOISE_IK_MSG2_OVERHEAD + \
                      KNIT_HANDSHAKE_MACS)

struct party {
    struct knit_identity ident;
    struct knit_cookie_checker checker;   /* checks what is sent to us */
    uint8_t e[32];
};

struct world {
    struct party a, b, c;                 /* a dials b; c is a stranger */
    struct knit_cookie_maker a_to_b, b_to_a;
    struct knit_addr a_addr;
    uint8_t hello_a[40], hello_b[30];
};

static void party_init(struct party *p, uint8_t seed_byte)
{
    uint8_t seed[KNIT_SEED_LEN];
    memset(seed, seed_byte, sizeof seed);
    assert_int_equal(knit_identity_from_seed(&p->ident, seed), KNIT_OK);
    knit_cookie_checker_init(&p->checker, p->ident.x_public);
    memset(p->e, seed_byte ^ 0x77, sizeof p->e);
}

static int setup(void **state)
{
    static struct world w;
    memset(&w, 0, sizeof w);
    party_init(&w.a, 1);
    party_init(&w.b, 2);
    party_init(&w.c, 3);
    knit_cookie_maker_init(&w.a_to_b, w.b.ident.x_public);
    knit_cookie_maker_init(&w.b_to_a, w.a.ident.x_public);
    uint8_t ip[4] = {192, 0, 2, 1};
    knit_addr_set(&w.a_addr, ip, 4, 4001);
    memset(w.hello_a, 'A', sizeof w.hello_a);
    memset(w.hello_b, 'B', sizeof w.hello_b);
    *state = &w;
    return 0;
}

static size_t initiation(struct world *w, struct knit_noise_handshake *hs,
                         const struct knit_peer_id *to, uint8_t *pkt)
{
    size_t len;
    assert_int_equal(knit_handshake_initiation(hs, &w->a.ident, to, w->a.e,
                                               I_INDEX, w->hello_a,
                                               sizeof w->hello_a, &w->a_to_b,
                                               NOW, pkt, KNIT_HANDSHAKE_MAX,
                                               &len),
                     KNIT_OK);
    return len;
}

static size_t response(struct world *w, struct knit_noise_handshake *hs,
                       uint8_t *pkt)
{
    size_t len;
    assert_int_equal(knit_handshake_response(hs, R_INDEX, I_INDEX, w->hello_b,
                                             sizeof w->hello_b, &w->b_to_a,
                                             NOW, pkt, KNIT_HANDSHAKE_MAX,
                                             &len),
                     KNIT_OK);
    return len;
}

/* What the last read_init / read_resp decrypted. */
static uint8_t hello[KNIT_HANDSHAKE_MAX];
static size_t hello_len;
static uint32_t sender;

static int read_init(struct knit_noise_handshake *hs, struct party *p,
                     const uint8_t *pkt, size_t len, size_t cap)
{
    return knit_handshake_read_initiation(hs, &p->ident, p->e, pkt, len,
                                          &sender, hello, cap, &hello_len);
}

static int read_resp(struct knit_noise_handshake *hs, const uint8_t *pkt,
                     size_t len, size_t cap)
{
    return knit_handshake_read_response(hs, pkt, len, &sender, hello, cap,
                                        &hello_len);
}

static void test_full_handshake(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi, hr;
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len = initiation(w, &hi, &w->b.ident.id, pkt);
    assert_int_equal(len, KNIT_INITIATION_HEADER + KNIT_NOISE_IK_MSG1_OVERHEAD +
                              sizeof w->hello_a + KNIT_HANDSHAKE_MACS);
    assert_int_equal(pkt[0], KNIT_PACKET_INITIATION);
    assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0);
    /* mac1 is there and keyed to b */
    assert_int_equal(knit_cookie_check(&w->b.checker, pkt, len, &w->a_addr,
                                       NOW, NULL),
                     KNIT_COOKIE_MAC1_ONLY);
    assert_int_equal(knit_cookie_check(&w->c.checker, pkt, len, &w->a_addr,
                                       NOW, NULL),
                     KNIT_COOKIE_BAD_MAC1);
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello), KNIT_OK);
    assert_int_equal(sender, I_INDEX);
    assert_int_equal(hello_len, sizeof w->hello_a);
    assert_memory_equal(hello, w->hello_a, hello_len);
    /* the responder learns the initiator's static key, authenticated */
    assert_non_null(knit_noise_remote_static(&hr));
    assert_memory_equal(knit_noise_remote_static(&hr), w->a.ident.x_public, 32);

    uint8_t rsp[KNIT_HANDSHAKE_MAX];
    size_t rlen = response(w, &hr, rsp);
    assert_int_equal(rlen, KNIT_RESPONSE_HEADER + KNIT_NOISE_IK_MSG2_OVERHEAD +
                               sizeof w->hello_b + KNIT_HANDSHAKE_MACS);
    assert_int_equal(knit_cookie_check(&w->a.checker, rsp, rlen, &w->a_addr,
                                       NOW, NULL),
                     KNIT_COOKIE_MAC1_ONLY);
    uint32_t index;
    assert_int_equal(knit_packet_receiver_index(rsp, rlen, &index), KNIT_OK);
    assert_int_equal(index, I_INDEX);
    assert_int_equal(read_resp(&hi, rsp, rlen, sizeof hello), KNIT_OK);
    assert_int_equal(sender, R_INDEX);
    assert_int_equal(hello_len, sizeof w->hello_b);
    assert_memory_equal(hello, w->hello_b, hello_len);
    assert_true(knit_noise_is_done(&hi));
    assert_true(knit_noise_is_done(&hr));

    /* both ends derive matching transport keys */
    struct knit_keypair ka, kb;
    assert_int_equal(knit_keypair_from_handshake(&ka, &hi, true, I_INDEX,
                                                 R_INDEX, NOW),
                     KNIT_OK);
    assert_int_equal(knit_keypair_from_handshake(&kb, &hr, false, R_INDEX,
                                                 I_INDEX, NOW),
                     KNIT_OK);
    assert_memory_equal(ka.send_key, kb.recv_key, KNIT_NOISE_KEY_LEN);
    assert_memory_equal(ka.recv_key, kb.send_key, KNIT_NOISE_KEY_LEN);
    assert_memory_not_equal(ka.send_key, ka.recv_key, KNIT_NOISE_KEY_LEN);
    knit_keypair_wipe(&ka);
    knit_keypair_wipe(&kb);
}

static void test_tampered_initiation(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi, hr;
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len = initiation(w, &hi, &w->b.ident.id, pkt);
    /* every byte of the Noise message is covered */
    for (size_t i = KNIT_INITIATION_HEADER; i < len - KNIT_HANDSHAKE_MACS;
         i += 13) {
        pkt[i] ^= 0x01;
        assert_int_equal(knit_cookie_check(&w->b.checker, pkt, len,
                                           &w->a_addr, NOW, NULL),
                         KNIT_COOKIE_BAD_MAC1);
        int err = read_init(&hr, &w->b, pkt, len, sizeof hello);
        /* flipping a bit of e can still give a point; the AEAD fails */
        assert_true(err == KNIT_E_DECRYPT || err == KNIT_E_CRYPTO);
        pkt[i] ^= 0x01;
    }
    /* the header: wrong type, reserved bytes */
    pkt[0] = KNIT_PACKET_RESPONSE;
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello),
                     KNIT_E_MALFORMED);
    pkt[0] = KNIT_PACKET_INITIATION;
    pkt[2] = 1;
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello),
                     KNIT_E_MALFORMED);
    pkt[2] = 0;
    /* truncated */
    assert_int_equal(read_init(&hr, &w->b, pkt, MIN_INITIATION - 1, 64),
                     KNIT_E_TRUNCATED);
    assert_int_equal(read_init(&hr, &w->b, pkt, len - 1, sizeof hello),
                     KNIT_E_DECRYPT);
    /* the hello does not fit the caller's buffer */
    assert_int_equal(read_init(&hr, &w->b, pkt, len, 10), KNIT_E_NO_SPACE);
    /* and the untouched packet still reads */
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello), KNIT_OK);
    knit_noise_wipe(&hi);
    knit_noise_wipe(&hr);
}

/* An initiation meant for c: b cannot read it, and its mac1 says so. */
static void test_wrong_responder(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi, hr;
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len = initiation(w, &hi, &w->c.ident.id, pkt);
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello),
                     KNIT_E_DECRYPT);
    /* a_to_b is keyed to b, so mac1 fits b's checker... */
    assert_int_equal(knit_cookie_check(&w->b.checker, pkt, len, &w->a_addr,
                                       NOW, NULL),
                     KNIT_COOKIE_MAC1_ONLY);
    /* ...but c, the one addressed, reads it */
    assert_int_equal(read_init(&hr, &w->c, pkt, len, sizeof hello), KNIT_OK);
    assert_memory_equal(knit_noise_remote_static(&hr), w->a.ident.x_public, 32);
    /* a response from c to a handshake a began with b fails */
    struct knit_noise_handshake hb;
    initiation(w, &hb, &w->b.ident.id, pkt);
    uint8_t rsp[KNIT_HANDSHAKE_MAX];
    size_t rlen = response(w, &hr, rsp);
    assert_int_equal(read_resp(&hb, rsp, rlen, sizeof hello), KNIT_E_DECRYPT);
    knit_noise_wipe(&hi);
    knit_noise_wipe(&hb);
    knit_noise_wipe(&hr);
}

/* A key that is no Curve25519 point cannot be dialled. */
static void test_bad_peer_key(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi;
    struct knit_peer_id bad = {{1}};   /* the Ed25519 identity: small order */
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len;
    assert_int_equal(knit_handshake_initiation(&hi, &w->a.ident, &bad, w->a.e,
                                               I_INDEX, w->hello_a,
                                               sizeof w->hello_a, &w->a_to_b,
                                               NOW, pkt, sizeof pkt, &len),
                     KNIT_E_KEY_MISMATCH);
    assert_int_equal(knit_handshake_initiation(&hi, &w->a.ident, &w->b.ident.id,
                                               w->a.e, I_INDEX, w->hello_a,
                                               sizeof w->hello_a, &w->a_to_b,
                                               NOW, pkt, 100, &len),
                     KNIT_E_NO_SPACE);
}

/* A forged response fails without spoiling the handshake: the real one,
 * arriving after it, still completes it. */
static void test_forged_response_harmless(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi, hr;
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len = initiation(w, &hi, &w->b.ident.id, pkt);
    assert_int_equal(read_init(&hr, &w->b, pkt, len, sizeof hello), KNIT_OK);
    uint8_t rsp[KNIT_HANDSHAKE_MAX];
    size_t rlen = response(w, &hr, rsp);
    struct knit_noise_handshake before;
    memcpy(&before, &hi, sizeof hi);

    uint8_t forged[KNIT_HANDSHAKE_MAX];
    memcpy(forged, rsp, rlen);
    forged[KNIT_RESPONSE_HEADER + 40] ^= 0x80;   /* in the payload */
    assert_int_equal(read_resp(&hi, forged, rlen, sizeof hello),
                     KNIT_E_DECRYPT);
    memset(forged + KNIT_RESPONSE_HEADER, 0x42, rlen - KNIT_RESPONSE_HEADER);
    int err = read_resp(&hi, forged, rlen, sizeof hello);
    assert_true(err == KNIT_E_DECRYPT || err == KNIT_E_CRYPTO);
    forged[0] = KNIT_PACKET_INITIATION;
    assert_int_equal(read_resp(&hi, forged, rlen, sizeof hello),
                     KNIT_E_MALFORMED);
    assert_int_equal(read_resp(&hi, rsp, MIN_RESPONSE - 1, sizeof hello),
                     KNIT_E_TRUNCATED);
    /* too small a hello buffer fails too, and spoils nothing either */
    assert_int_equal(read_resp(&hi, rsp, rlen, 4), KNIT_E_NO_SPACE);
    assert_memory_equal(&hi, &before, sizeof hi);

    assert_int_equal(read_resp(&hi, rsp, rlen, sizeof hello), KNIT_OK);
    assert_int_equal(sender, R_INDEX);
    assert_true(knit_noise_is_done(&hi));
    /* once done, a replay of the response is refused */
    assert_int_equal(read_resp(&hi, rsp, rlen, sizeof hello), KNIT_E_INVAL);
    knit_noise_wipe(&hi);
    knit_noise_wipe(&hr);
    knit_noise_wipe(&before);
}

/* With a cookie from b, a's next initiation carries mac2. */
static void test_mac2_after_cookie(void **state)
{
    struct world *w = *state;
    struct knit_noise_handshake hi;
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t len = initiation(w, &hi, &w->b.ident.id, pkt);
    uint8_t secret[32], nonce[KNIT_COOKIE_NONCE_LEN], reply[128];
    memset(secret, 9, sizeof secret);
    memset(nonce, 8, sizeof nonce);
    size_t reply_len;
    assert_int_equal(knit_cookie_reply(&w->b.checker, pkt, len, &w->a_addr,
                                       NOW, secret, nonce, I_INDEX, reply,
                                       sizeof reply, &reply_len),
                     KNIT_OK);
    uint32_t index;
    assert_int_equal(knit_packet_receiver_index(reply, reply_len, &index),
                     KNIT_OK);
    assert_int_equal(index, I_INDEX);
    assert_int_equal(knit_cookie_consume_reply(&w->a_to_b, reply, reply_len,
                                               NOW),
                     KNIT_OK);
    len = initiation(w, &hi, &w->b.ident.id, pkt);
    assert_int_equal(knit_cookie_check(&w->b.checker, pkt, len, &w->a_addr,
                                       NOW, secret),
                     KNIT_COOKIE_MAC2_OK);
    knit_noise_wipe(&hi);
}

static void test_receiver_index(void **state)
{
    (void)state;
    uint8_t pkt[16] = {0};
    uint32_t index = 0;
    pkt[4] = 0x01;
    pkt[8] = 0x02;
    pkt[11] = 0x80;
    pkt[0] = KNIT_PACKET_DATA;
    assert_int_equal(knit_packet_receiver_index(pkt, 16, &index), KNIT_OK);
    assert_int_equal(index, 0x01);
    pkt[0] = KNIT_PACKET_COOKIE;
    assert_int_equal(knit_packet_receiver_index(pkt, 8, &index), KNIT_OK);
    assert_int_equal(index, 0x01);
    pkt[0] = KNIT_PACKET_RESPONSE;
    assert_int_equal(knit_packet_receiver_index(pkt, 12, &index), KNIT_OK);
    assert_int_equal(index, 0x80000002u);
    assert_int_equal(knit_packet_receiver_index(pkt, 11, &index),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_packet_receiver_index(pkt, 7, &index),
                     KNIT_E_TRUNCATED);
    pkt[0] = KNIT_PACKET_INITIATION;
    assert_int_equal(knit_packet_receiver_index(pkt, 16, &index),
                     KNIT_E_UNSUPPORTED);
    pkt[0] = 9;
    assert_int_equal(knit_packet_receiver_index(pkt, 16, &index),
                     KNIT_E_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_full_handshake, setup),
        cmocka_unit_test_setup(test_tampered_initiation, setup),
        cmocka_unit_test_setup(test_wrong_responder, setup),
        cmocka_unit_test_setup(test_bad_peer_key, setup),
        cmocka_unit_test_setup(test_forged_response_harmless, setup),
        cmocka_unit_test_setup(test_mac2_after_cookie, setup),
        cmocka_unit_test_setup(test_receiver_index, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
