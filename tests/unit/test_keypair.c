/* proto/keypair: data packets sealed and opened with the keys of a real
 * handshake. The header is authenticated; replays, forgeries and counters
 * too old for the window are refused, and a forgery never moves the
 * window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/handshake.h"
#include "proto/identity.h"
#include "proto/keypair.h"
#include "proto/noise.h"
#include "transport/error.h"

#define PKT_MAX 1500

struct pairing {
    struct knit_keypair i, r;   /* initiator's, responder's */
};

/* A real IK handshake between two fixed identities. */
static int setup(void **state)
{
    static struct pairing p;
    struct knit_identity a, b;
    uint8_t seed[KNIT_SEED_LEN], e[32], e2[32], pkt[KNIT_HANDSHAKE_MAX];
    uint8_t hello[64];
    struct knit_cookie_maker ma, mb;
    struct knit_noise_handshake hi, hr;
    size_t len, hello_len;
    uint32_t sender;
    memset(seed, 1, sizeof seed);
    knit_identity_from_seed(&a, seed);
    memset(seed, 2, sizeof seed);
    knit_identity_from_seed(&b, seed);
    knit_cookie_maker_init(&ma, b.x_public);
    knit_cookie_maker_init(&mb, a.x_public);
    memset(e, 3, sizeof e);
    memset(e2, 4, sizeof e2);
    if (knit_handshake_initiation(&hi, &a, &b.id, e, 10, NULL, 0, &ma, 0, pkt,
                                  sizeof pkt, &len) ||
        knit_handshake_read_initiation(&hr, &b, e2, pkt,
                                       len, &sender, hello, sizeof hello,
                                       &hello_len) ||
        knit_handshake_response(&hr, 20, 10, NULL, 0, &mb, 0, pkt, sizeof pkt,
                                &len) ||
        knit_handshake_read_response(&hi, pkt, len, &sender, hello,
                                     sizeof hello, &hello_len))
        return -1;
    /* an unfinished handshake has no keys to give */
    struct knit_noise_handshake fresh;
    knit_noise_init(&fresh, KNIT_NOISE_IK, true, NULL, 0, a.x_secret,
                    b.x_public, e, NULL);
    if (knit_keypair_from_handshake(&p.i, &fresh, true, 1, 2, 0) !=
        KNIT_E_INVAL)
        return -1;
    if (knit_keypair_from_handshake(&p.i, &hi, true, 10, 20, 1000) ||
        knit_keypair_from_handshake(&p.r, &hr, false, 20, 10, 1000))
        return -1;
    knit_identity_wipe(&a);
    knit_identity_wipe(&b);
    *state = &p;
    return 0;
}

static size_t seal(struct knit_keypair *kp, uint64_t counter, uint8_t *pkt,
                   const char *text)
{
    size_t len;
    assert_int_equal(knit_keypair_seal(kp, counter, (const uint8_t *)text,
                                       strlen(text), pkt, PKT_MAX, &len),
                     KNIT_OK);
    assert_int_equal(len, strlen(text) + KNIT_DATA_OVERHEAD);
    return len;
}

static int open_pkt(struct knit_keypair *kp, const uint8_t *pkt, size_t len,
                    uint64_t *counter)
{
    uint8_t plain[PKT_MAX];
    size_t plain_len;
    uint64_t c;
    return knit_keypair_open(kp, pkt, len, plain, sizeof plain, &plain_len,
                             counter ? counter : &c);
}

static void test_round_trip_with_header(void **state)
{
    struct pairing *p = *state;
    uint8_t pkt[PKT_MAX], plain[PKT_MAX];
    size_t len = seal(&p->i, 7, pkt, "hello over there");
    assert_int_equal(p->i.packets_sent, 1);
    /* header: type, zeros, the receiver's index, the counter */
    assert_int_equal(pkt[0], KNIT_PACKET_DATA);
    assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0);
    assert_int_equal(pkt[4], 20);
    assert_int_equal(pkt[8], 7);
    uint32_t index;
    assert_int_equal(knit_packet_receiver_index(pkt, len, &index), KNIT_OK);
    assert_int_equal(index, p->r.local_index);
    assert_false(p->r.confirmed);   /* a responder waits for proof */
    assert_true(p->i.confirmed);
    size_t plain_len;
    uint64_t counter;
    assert_int_equal(knit_keypair_open(&p->r, pkt, len, plain, sizeof plain,
                                       &plain_len, &counter),
                     KNIT_OK);
    assert_int_equal(counter, 7);
    assert_int_equal(plain_len, strlen("hello over there"));
    assert_memory_equal(plain, "hello over there", plain_len);
    assert_true(p->r.confirmed);
    /* and the other way, with an empty payload */
    len = seal(&p->r, 0, pkt, "");
    assert_int_equal(len, KNIT_DATA_OVERHEAD);
    assert_int_equal(knit_keypair_open(&p->i, pkt, len, plain, 0, &plain_len,
                                       &counter),
                     KNIT_OK);
    assert_int_equal(plain_len, 0);
    /* a key does not open its own direction */
    len = seal(&p->i, 8, pkt, "x");
    assert_int_equal(open_pkt(&p->i, pkt, len, NULL), KNIT_E_DECRYPT);
}

static void test_header_is_authenticated(void **state)
{
    struct pairing *p = *state;
    uint8_t pkt[PKT_MAX];
    size_t len = seal(&p->i, 100, pkt, "payload");
    for (size_t i = 4; i < KNIT_DATA_HEADER; i++) {
        pkt[i] ^= 0x10;
        int err = open_pkt(&p->r, pkt, len, NULL);
        /* a counter changed far into the future or past may be judged by
         * the window first; otherwise the tag fails */
        assert_true(err == KNIT_E_DECRYPT || err == KNIT_E_DUPLICATE);
        pkt[i] ^= 0x10;
    }
    pkt[0] = 5;
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_E_MALFORMED);
    pkt[0] = KNIT_PACKET_DATA;
    pkt[3] = 1;
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_E_MALFORMED);
    pkt[3] = 0;
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_OK);
}

static void test_replay_refused(void **state)
{
    struct pairing *p = *state;
    uint8_t pkt[PKT_MAX];
    size_t len = seal(&p->i, 5, pkt, "once");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_OK);
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_E_DUPLICATE);
    /* the same counter sealed again (as a replay would be) too */
    len = seal(&p->i, 5, pkt, "twice");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_E_DUPLICATE);
}

/* A forgery fails and leaves the window where it was: the real packet with
 * that counter still opens, and so do older ones a forged high counter
 * would have pushed out. */
static void test_forgery_does_not_move_window(void **state)
{
    struct pairing *p = *state;
    uint8_t pkt[PKT_MAX], forged[PKT_MAX];
    size_t len = seal(&p->i, 50, pkt, "real");
    memcpy(forged, pkt, len);
    forged[len - 1] ^= 1;
    assert_int_equal(open_pkt(&p->r, forged, len, NULL), KNIT_E_DECRYPT);
    forged[len - 1] ^= 1;
    forged[KNIT_DATA_HEADER] ^= 1;
    assert_int_equal(open_pkt(&p->r, forged, len, NULL), KNIT_E_DECRYPT);
    uint64_t counter;
    assert_int_equal(open_pkt(&p->r, pkt, len, &counter), KNIT_OK);
    assert_int_equal(counter, 50);

    /* a forged packet numbered far ahead */
    size_t flen = seal(&p->i, 1000000, forged, "far");
    forged[flen - 1] ^= 1;
    assert_int_equal(open_pkt(&p->r, forged, flen, NULL), KNIT_E_DECRYPT);
    len = seal(&p->i, 10, pkt, "older, still fine");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_OK);
}

static void test_window_out_of_order(void **state)
{
    struct pairing *p = *state;
    enum { N = 200 };
    static uint8_t pkts[N][64];
    size_t lens[N];
    for (int i = 0; i < N; i++)
        lens[i] = seal(&p->i, (uint64_t)i, pkts[i], "data");
    /* a fixed shuffle: evens descending, then odds ascending */
    for (int i = N - 2; i >= 0; i -= 2)
        assert_int_equal(open_pkt(&p->r, pkts[i], lens[i], NULL), KNIT_OK);
    for (int i = 1; i < N; i += 2)
        assert_int_equal(open_pkt(&p->r, pkts[i], lens[i], NULL), KNIT_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(open_pkt(&p->r, pkts[i], lens[i], NULL),
                         KNIT_E_DUPLICATE);
    /* the window moves on: far behind the top is too old, even unseen */
    uint8_t pkt[PKT_MAX];
    uint64_t top = N + KNIT_REPLAY_WINDOW + 10;
    size_t len = seal(&p->i, top, pkt, "top");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_OK);
    len = seal(&p->i, top - KNIT_REPLAY_WINDOW, pkt, "too old");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_E_DUPLICATE);
    len = seal(&p->i, top - KNIT_REPLAY_WINDOW + 1, pkt, "just in");
    assert_int_equal(open_pkt(&p->r, pkt, len, NULL), KNIT_OK);
}

static void test_sizes(void **state)
{
    struct pairing *p = *state;
    uint8_t pkt[PKT_MAX], plain[PKT_MAX];
    size_t len = seal(&p->i, 3, pkt, "0123456789"), out;
    uint64_t counter;
    /* truncated: shorter than header and tag, or the tag cut */
    for (size_t n = 0; n < KNIT_DATA_OVERHEAD; n++)
        assert_int_equal(open_pkt(&p->r, pkt, n, NULL), KNIT_E_TRUNCATED);
    assert_int_equal(open_pkt(&p->r, pkt, len - 1, NULL), KNIT_E_DECRYPT);
    assert_int_equal(knit_keypair_open(&p->r, pkt, len, plain, 9, &out,
                                       &counter),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_keypair_open(&p->r, pkt, len, plain, 10, &out,
                                       &counter),
                     KNIT_OK);
    assert_int_equal(knit_keypair_seal(&p->i, 4, plain, 10, pkt,
                                       10 + KNIT_DATA_OVERHEAD - 1, &out),
                     KNIT_E_NO_SPACE);
    /* Noise reserves the last nonce */
    assert_int_equal(knit_keypair_seal(&p->i, UINT64_MAX, plain, 10, pkt,
                                       sizeof pkt, &out),
                     KNIT_E_TOO_BIG);
}

static void test_wipe(void **state)
{
    struct pairing *p = *state;
    struct knit_keypair kp = p->i;
    knit_keypair_wipe(&kp);
    static const struct knit_keypair zero;
    assert_memory_equal(&kp, &zero, sizeof kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip_with_header, setup),
        cmocka_unit_test_setup(test_header_is_authenticated, setup),
        cmocka_unit_test_setup(test_replay_refused, setup),
        cmocka_unit_test_setup(test_forgery_does_not_move_window, setup),
        cmocka_unit_test_setup(test_window_out_of_order, setup),
        cmocka_unit_test_setup(test_sizes, setup),
        cmocka_unit_test_setup(test_wipe, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
