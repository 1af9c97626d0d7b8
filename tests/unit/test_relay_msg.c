/* Relay messages that are valid: every type encoded and decoded back (fullest
 * and emptiest forms), the exact bytes of the small ones, fields of other
 * types left out, the encoder's refusals including every buffer too small,
 * status names, and the circuit datagram framing. The decoder's refusals are
 * in test_relay_msg_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/session_internal.h"
#include "tests/support/relay_msg_fixtures.h"

static void expect_same(const struct knit_relay_msg *a,
                        const struct knit_relay_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->has_peer, b->has_peer);
    assert_true(knit_peer_id_equal(&a->peer, &b->peer));
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->has_expires, b->has_expires);
    assert_int_equal(a->expires_s, b->expires_s);
    assert_int_equal(a->has_limit, b->has_limit);
    assert_true(a->limit.bytes == b->limit.bytes);
    assert_int_equal(a->limit.seconds, b->limit.seconds);
    assert_int_equal(a->addr_count, b->addr_count);
    for (size_t i = 0; i < a->addr_count; i++)
        assert_true(knit_multiaddr_equal(&a->addrs[i], &b->addrs[i]));
}

/* Encodes, decodes, compares, and encodes the decoded message again to the
 * same bytes. Returns the body length. */
static size_t round_trip(const struct knit_relay_msg *m)
{
    static uint8_t first[RELAY_FRAME_MAX];
    size_t body_len = encode_frame(m);
    size_t frame_len = KNIT_MSG_HEADER_LEN + body_len;
    memcpy(first, frame, frame_len);
    struct knit_relay_msg out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(knit_relay_msg_decode(frame + KNIT_MSG_HEADER_LEN,
                                           body_len, &out), 0);
    expect_same(m, &out);
    assert_int_equal(encode_frame(&out), body_len);
    assert_memory_equal(frame, first, frame_len);
    return body_len;
}

static void test_reserve(void **state)
{
    (void)state;
    struct knit_relay_msg m = { .type = KNIT_RELAY_RESERVE };
    assert_int_equal(round_trip(&m), 3);
    static const uint8_t want[] = { 0, 0, 0, 3, 0x81, 0x00, 0x01 };
    assert_memory_equal(frame, want, sizeof want);
}

static void test_connect(void **state)
{
    (void)state;
    struct knit_relay_msg m = { .type = KNIT_RELAY_CONNECT, .has_peer = true };
    set_peer_id(&m.peer, 3);
    /* {0: 2, 1: bin8(38)} */
    assert_int_equal(round_trip(&m), 1 + 2 + 1 + 2 + KNIT_PEER_ID_BYTES);
    uint8_t id[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(&m.peer, id);
    static const uint8_t head[] = { 0x82, 0x00, 0x02, 0x01, 0xc4, 38 };
    assert_memory_equal(frame + KNIT_MSG_HEADER_LEN, head, sizeof head);
    assert_memory_equal(frame + KNIT_MSG_HEADER_LEN + sizeof head, id,
                        sizeof id);

    /* With a limit (stop CONNECT): either half, and both at their maximum. */
    m.has_limit = true;
    m.limit = (struct knit_relay_limit){ UINT64_C(1) << 30, 0 };
    round_trip(&m);
    m.limit = (struct knit_relay_limit){ 0, 7200 };
    round_trip(&m);
    m.limit = (struct knit_relay_limit){ UINT64_MAX, UINT32_MAX };
    assert_int_equal(round_trip(&m),
                     1 + 2 + 1 + 2 + KNIT_PEER_ID_BYTES + 1 + 9 + 1 + 5);
}

static void test_status_every_code(void **state)
{
    (void)state;
    static const uint16_t codes[] = {
        KNIT_RELAY_OK, KNIT_RELAY_RESERVATION_REFUSED,
        KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED, KNIT_RELAY_PERMISSION_DENIED,
        KNIT_RELAY_CONNECTION_FAILED, KNIT_RELAY_NO_RESERVATION,
        KNIT_RELAY_MALFORMED_MESSAGE, KNIT_RELAY_UNEXPECTED_MESSAGE,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct knit_relay_msg m = { .type = KNIT_RELAY_STATUS,
                                    .status = codes[i] };
        /* {0: 3, 1: status}: a fixint, uint8 or uint16 status */
        assert_int_equal(round_trip(&m),
                         codes[i] < 128 ? 5 : codes[i] < 256 ? 6 : 7);
        assert_true(knit_relay_status_known(codes[i]));
    }
}

static void test_status_fullest(void **state)
{
    (void)state;
    struct knit_relay_msg m = {
        .type = KNIT_RELAY_STATUS, .status = KNIT_RELAY_OK,
        .has_expires = true, .expires_s = UINT32_MAX, .has_limit = true,
        .limit = { UINT64_MAX, UINT32_MAX },
        .addr_count = KNIT_RELAY_MAX_ADDRS,
    };
    for (uint8_t i = 0; i < KNIT_RELAY_MAX_ADDRS; i++)
        set_relay_addr(&m.addrs[i], true, (uint8_t)(i + 1), true);
    size_t len = round_trip(&m);
    assert_true(len <= KNIT_RELAY_MAX_MESSAGE);
    /* The frame needs no more than the documented buffer. */
    size_t out;
    assert_int_equal(knit_relay_msg_encode(&m, frame, RELAY_FRAME_MAX, &out),
                     0);
    assert_int_equal(out, KNIT_MSG_HEADER_LEN + len);
}

static void test_status_mixed(void **state)
{
    (void)state;
    struct knit_relay_msg m = { .type = KNIT_RELAY_STATUS,
                                .status = KNIT_RELAY_OK,
                                .has_expires = true, .expires_s = 3600,
                                .addr_count = 3 };
    set_relay_addr(&m.addrs[0], false, 1, false);
    set_relay_addr(&m.addrs[1], true, 2, false);
    set_relay_addr(&m.addrs[2], false, 3, true);
    round_trip(&m);
    /* expires 0 is a value like any other */
    m.expires_s = 0;
    m.addr_count = 1;
    round_trip(&m);
    m.has_limit = true;
    m.limit.seconds = 120;
    m.has_expires = false;
    round_trip(&m);
}

static void test_unlimited_and_foreign_fields_left_out(void **state)
{
    (void)state;
    struct knit_relay_msg out;
    /* has_limit with both 0: unlimited, written as no limit at all. */
    struct knit_relay_msg m = { .type = KNIT_RELAY_CONNECT, .has_peer = true,
                                .has_limit = true };
    set_peer_id(&m.peer, 9);
    size_t len = encode_frame(&m);
    assert_int_equal(len, 1 + 2 + 1 + 2 + KNIT_PEER_ID_BYTES);
    assert_int_equal(knit_relay_msg_decode(frame + KNIT_MSG_HEADER_LEN, len,
                                           &out), 0);
    assert_false(out.has_limit);

    /* A RESERVE writes nothing but its type, whatever else is set. */
    struct knit_relay_msg r = { .type = KNIT_RELAY_RESERVE, .has_peer = true,
                                .status = 7, .has_expires = true,
                                .has_limit = true, .limit = { 5, 5 },
                                .addr_count = 200 };
    assert_int_equal(encode_frame(&r), 3);
    /* A CONNECT writes no status, expiry or addresses. */
    m.status = 9999;
    m.has_expires = true;
    m.addr_count = 200;
    assert_int_equal(encode_frame(&m), 1 + 2 + 1 + 2 + KNIT_PEER_ID_BYTES);
    /* A STATUS writes no peer. */
    struct knit_relay_msg s = { .type = KNIT_RELAY_STATUS,
                                .status = KNIT_RELAY_OK, .has_peer = true };
    assert_int_equal(encode_frame(&s), 5);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    size_t len = 99;
    struct knit_relay_msg m = { .type = 0 };
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(len, 0);
    m.type = 4;
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.type = KNIT_RELAY_CONNECT;   /* without peer */
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);

    m = (struct knit_relay_msg){ .type = KNIT_RELAY_STATUS, .status = 0 };
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.status = 205;
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.status = KNIT_RELAY_OK;
    m.addr_count = KNIT_RELAY_MAX_ADDRS + 1;
    for (uint8_t i = 0; i < KNIT_RELAY_MAX_ADDRS; i++)
        set_relay_addr(&m.addrs[i], false, (uint8_t)(i + 1), false);
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);

    /* Addresses that are not a relay's UDP endpoint: a circuit through
     * the relay, a bare peer, a bare peer's circuit. */
    m.addr_count = 1;
    set_relay_addr(&m.addrs[0], false, 1, true);
    m.addrs[0].c[m.addrs[0].count++].protocol = KNIT_MA_P2P_CIRCUIT;
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.addrs[0].c[0] = m.addrs[0].c[2];
    m.addrs[0].count = 1;
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.addrs[0].c[1].protocol = KNIT_MA_P2P_CIRCUIT;
    m.addrs[0].count = 2;
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.addrs[0].count = 0;   /* empty, never produced by the parser */
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);

    m = (struct knit_relay_msg){ .type = KNIT_RELAY_RESERVE };
    assert_int_equal(knit_relay_msg_encode(NULL, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_relay_msg_encode(&m, NULL, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_relay_msg_encode(&m, frame, sizeof frame, NULL),
                     KNIT_E_INVAL);
}

/* Every buffer shorter than the frame is refused, and nothing is claimed. */
static void test_encode_no_space(void **state)
{
    (void)state;
    struct knit_relay_msg m = {
        .type = KNIT_RELAY_STATUS, .status = KNIT_RELAY_OK,
        .has_expires = true, .expires_s = 3600, .has_limit = true,
        .limit = { 1000, 60 }, .addr_count = 2,
    };
    set_relay_addr(&m.addrs[0], false, 1, true);
    set_relay_addr(&m.addrs[1], true, 2, false);
    size_t full = KNIT_MSG_HEADER_LEN + encode_frame(&m);
    for (size_t cap = 0; cap < full; cap++) {
        size_t len = 99;
        assert_int_equal(knit_relay_msg_encode(&m, frame, cap, &len),
                         KNIT_E_NO_SPACE);
        assert_int_equal(len, 0);
    }
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(knit_relay_status_name(100), "OK");
    assert_string_equal(knit_relay_status_name(200), "RESERVATION_REFUSED");
    assert_string_equal(knit_relay_status_name(201),
                        "RESOURCE_LIMIT_EXCEEDED");
    assert_string_equal(knit_relay_status_name(202), "PERMISSION_DENIED");
    assert_string_equal(knit_relay_status_name(203), "CONNECTION_FAILED");
    assert_string_equal(knit_relay_status_name(204), "NO_RESERVATION");
    assert_string_equal(knit_relay_status_name(400), "MALFORMED_MESSAGE");
    assert_string_equal(knit_relay_status_name(401), "UNEXPECTED_MESSAGE");
    static const uint16_t unknown[] = { 0, 1, 99, 101, 199, 205, 300, 399,
                                        402, 65535 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(knit_relay_status_name(unknown[i]), "UNKNOWN");
        assert_false(knit_relay_status_known(unknown[i]));
    }
}

/* ---- circuit datagrams ---------------------------------------------------- */

static uint8_t pkt[KNIT_RELAY_MAX_DATAGRAM + 1];
static uint8_t wire[2 * (KNIT_RELAY_DATAGRAM_HEADER + KNIT_RELAY_MAX_DATAGRAM)];

static void test_datagram_limit_is_the_session_s(void **state)
{
    (void)state;
    assert_int_equal(KNIT_RELAY_MAX_DATAGRAM, KNIT_SESSION_MAX_DATAGRAM);
}

static void test_datagram_frame(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)(i * 11 + 1);
    size_t len = 99;
    assert_int_equal(knit_relay_datagram_frame(pkt, 3, wire, sizeof wire,
                                               &len), 0);
    static const uint8_t small[] = { 0, 3, 1, 12, 23 };
    assert_int_equal(len, sizeof small);
    assert_memory_equal(wire, small, sizeof small);

    assert_int_equal(knit_relay_datagram_frame(pkt, KNIT_RELAY_MAX_DATAGRAM,
                                               wire, sizeof wire, &len), 0);
    assert_int_equal(len, KNIT_RELAY_DATAGRAM_HEADER + KNIT_RELAY_MAX_DATAGRAM);
    assert_int_equal(wire[0], KNIT_RELAY_MAX_DATAGRAM >> 8);
    assert_int_equal(wire[1], KNIT_RELAY_MAX_DATAGRAM & 0xff);
    assert_memory_equal(wire + 2, pkt, KNIT_RELAY_MAX_DATAGRAM);

    assert_int_equal(knit_relay_datagram_frame(pkt, 0, wire, sizeof wire,
                                               &len), KNIT_E_INVAL);
    assert_int_equal(len, 0);
    assert_int_equal(knit_relay_datagram_frame(pkt,
                                               KNIT_RELAY_MAX_DATAGRAM + 1,
                                               wire, sizeof wire, &len),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_relay_datagram_frame(pkt, 10, wire, 11, &len),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_relay_datagram_frame(pkt, 10, wire, 12, &len), 0);
    assert_int_equal(knit_relay_datagram_frame(NULL, 10, wire, 12, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_relay_datagram_frame(pkt, 10, NULL, 12, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_relay_datagram_frame(pkt, 10, wire, 12, NULL),
                     KNIT_E_INVAL);
}

static void test_datagram_next(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)(i * 5 + 3);
    size_t a = 0, b = 0;
    assert_int_equal(knit_relay_datagram_frame(pkt, 700, wire, sizeof wire,
                                               &a), 0);
    assert_int_equal(knit_relay_datagram_frame(pkt + 1, 1, wire + a,
                                               sizeof wire - a, &b), 0);

    const uint8_t *p;
    size_t n, used;
    /* Every prefix of the first datagram: wait, and say for how much. */
    for (size_t len = 0; len < a; len++) {
        assert_int_equal(knit_relay_datagram_next(wire, len, &p, &n, &used),
                         KNIT_E_AGAIN);
        assert_int_equal(used, len < 2 ? 2 : a);
        assert_null(p);
    }
    assert_int_equal(knit_relay_datagram_next(wire, a + b, &p, &n, &used), 0);
    assert_ptr_equal(p, wire + 2);
    assert_int_equal(n, 700);
    assert_int_equal(used, a);
    assert_memory_equal(p, pkt, 700);
    assert_int_equal(knit_relay_datagram_next(wire + a, b, &p, &n, &used), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], pkt[1]);
    assert_int_equal(used, 3);

    /* The largest datagram is whole; a length of 0 or past it is not. */
    assert_int_equal(knit_relay_datagram_frame(pkt, KNIT_RELAY_MAX_DATAGRAM,
                                               wire, sizeof wire, &a), 0);
    assert_int_equal(knit_relay_datagram_next(wire, a, &p, &n, &used), 0);
    assert_int_equal(n, KNIT_RELAY_MAX_DATAGRAM);
    static const uint8_t zero[] = { 0, 0, 1 };
    assert_int_equal(knit_relay_datagram_next(zero, sizeof zero, &p, &n,
                                              &used), KNIT_E_MALFORMED);
    uint8_t over[2] = { (KNIT_RELAY_MAX_DATAGRAM + 1) >> 8,
                        (KNIT_RELAY_MAX_DATAGRAM + 1) & 0xff };
    /* Known from the header alone: no waiting for a body that is never
     * accepted. */
    assert_int_equal(knit_relay_datagram_next(over, sizeof over, &p, &n,
                                              &used), KNIT_E_MALFORMED);
    static const uint8_t huge[] = { 0xff, 0xff };
    assert_int_equal(knit_relay_datagram_next(huge, sizeof huge, &p, &n,
                                              &used), KNIT_E_MALFORMED);
    assert_int_equal(knit_relay_datagram_next(NULL, 2, &p, &n, &used),
                     KNIT_E_INVAL);
    assert_int_equal(knit_relay_datagram_next(wire, 2, NULL, &n, &used),
                     KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_status_every_code),
        cmocka_unit_test(test_status_fullest),
        cmocka_unit_test(test_status_mixed),
        cmocka_unit_test(test_unlimited_and_foreign_fields_left_out),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_encode_no_space),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_datagram_limit_is_the_session_s),
        cmocka_unit_test(test_datagram_frame),
        cmocka_unit_test(test_datagram_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
