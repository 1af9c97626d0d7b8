/* The /knit/autonat/1 messages and the PROBE/DIAL packets
 * (node/autonat_msg.h): every type encoded and decoded back, the encoder's
 * refusals, the decoder's refusals of bodies written by hand (missing,
 * foreign and mistyped fields, kinds and statuses out of range, addresses
 * that are no UDP endpoint, oversize, trailing bytes, every truncation),
 * and the packets' every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/autonat_msg.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_AUTONAT_MAX_MESSAGE)

static uint8_t frame[FRAME_MAX];
static uint8_t scratch[1024];
static const uint8_t filler[256];   /* bytes to write, never written to */

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {a, b, c, d};
    knit_addr_set(&addr, ip, 4, port);
    return addr;
}

static struct knit_addr v6(uint8_t last, uint16_t port)
{
    struct knit_addr addr;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip[15] = last;
    knit_addr_set(&addr, ip, 16, port);
    return addr;
}

static void set_nonce(uint8_t nonce[KNIT_AUTONAT_NONCE_LEN], uint8_t seed)
{
    for (size_t k = 0; k < KNIT_AUTONAT_NONCE_LEN; k++)
        nonce[k] = (uint8_t)(seed ^ (k * 29));
}

/* A valid message of each type. */
static struct knit_autonat_msg sample(uint8_t type)
{
    struct knit_autonat_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.id = UINT64_MAX - type;
    m.has_nonce = knit_autonat_type_has_nonce(type);
    if (m.has_nonce)
        set_nonce(m.nonce, type);
    m.has_addr = knit_autonat_type_has_addr(type);
    if (m.has_addr)
        m.addr = type == KNIT_AUTONAT_DIAL_FOR ? v6(7, 65535)
                                               : v4(203, 0, 113, 9, 4001);
    if (type == KNIT_AUTONAT_DIAL_BACK)
        m.kind = KNIT_AUTONAT_KIND_OTHER_IP;
    if (type == KNIT_AUTONAT_RESULT)
        m.status = KNIT_AUTONAT_NO_HELPER;
    return m;
}

static size_t encode(const struct knit_autonat_msg *m)
{
    size_t len = 0;
    assert_int_equal(knit_autonat_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame f;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_AUTONAT_MAX_MESSAGE, &f),
                     0);
    assert_int_equal(f.len, len);
    return f.body_len;
}

static void round_trip(const struct knit_autonat_msg *m)
{
    size_t len = encode(m);
    struct knit_autonat_msg out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(knit_autonat_decode(frame + KNIT_MSG_HEADER_LEN, len,
                                         &out), 0);
    /* Decoding fills exactly the fields of the type, the rest stay 0. */
    assert_memory_equal(&out, m, sizeof out);
}

static void expect_decode(const uint8_t *body, size_t len, int want)
{
    static const struct knit_autonat_msg zero;
    struct knit_autonat_msg out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(knit_autonat_decode(body, len, &out), want);
    assert_memory_equal(&out, &zero, sizeof out);
}

static void expect_writer_decode(struct knit_msg_writer *w, int want)
{
    size_t len;
    assert_int_equal(knit_msg_end(w, &len), 0);
    expect_decode(w->buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                  want);
}

static void start(struct knit_msg_writer *w, uint64_t type, uint32_t fields)
{
    knit_msg_writer_init(w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(w, type, fields), 0);
}

static size_t addr_bin(const struct knit_addr *a,
                       const struct knit_peer_id *peer, uint8_t *out)
{
    struct knit_multiaddr ma;
    size_t len = 0;
    assert_int_equal(knit_multiaddr_from_socket(&ma, a, peer), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, out, KNIT_MA_BINARY_MAX, &len),
                     0);
    return len;
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trips(void **state)
{
    (void)state;
    for (uint8_t t = KNIT_AUTONAT_OBSERVE; t <= KNIT_AUTONAT_RESULT; t++) {
        struct knit_autonat_msg m = sample(t);
        round_trip(&m);
        m.id = 0;
        round_trip(&m);
    }
    struct knit_autonat_msg m = sample(KNIT_AUTONAT_DIAL_BACK);
    m.kind = KNIT_AUTONAT_KIND_OTHER_PORT;
    round_trip(&m);
    m = sample(KNIT_AUTONAT_OBSERVED);
    m.addr = v6(1, 1);
    round_trip(&m);
    m = sample(KNIT_AUTONAT_RESULT);
    for (uint8_t s = 0; s <= KNIT_AUTONAT_STATUS_MAX; s++) {
        m.status = s;
        round_trip(&m);
    }
    /* Fields of other types are not written: they come back cleared. */
    m = sample(KNIT_AUTONAT_RESULT);
    m.kind = 2;
    size_t len = encode(&m);
    struct knit_autonat_msg out;
    assert_int_equal(
        knit_autonat_decode(frame + KNIT_MSG_HEADER_LEN, len, &out), 0);
    assert_int_equal(out.kind, 0);
}

/* ---- the encoder's refusals ---------------------------------------------- */

static void expect_encode(const struct knit_autonat_msg *m, size_t cap,
                          int want)
{
    size_t len = 99;
    assert_int_equal(knit_autonat_encode(m, frame, cap, &len), want);
    assert_int_equal(len, 0);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    size_t len;
    struct knit_autonat_msg m = sample(KNIT_AUTONAT_OBSERVE);
    assert_int_equal(knit_autonat_encode(NULL, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_autonat_encode(&m, NULL, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_autonat_encode(&m, frame, sizeof frame, NULL),
                     KNIT_E_INVAL);
    m.type = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.type = 6;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    m = sample(KNIT_AUTONAT_OBSERVE);
    m.has_nonce = false;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample(KNIT_AUTONAT_DIAL_FOR);
    m.has_nonce = false;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample(KNIT_AUTONAT_DIAL_FOR);
    m.has_addr = false;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample(KNIT_AUTONAT_OBSERVED);
    m.addr.family = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.addr = v4(0, 0, 0, 0, 4001);
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.addr = v4(203, 0, 113, 9, 0);
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    m = sample(KNIT_AUTONAT_DIAL_BACK);
    m.kind = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.kind = 3;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample(KNIT_AUTONAT_RESULT);
    m.status = KNIT_AUTONAT_STATUS_MAX + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    /* Every buffer too small for the fullest message. */
    m = sample(KNIT_AUTONAT_DIAL_FOR);
    size_t need = KNIT_MSG_HEADER_LEN + encode(&m);
    for (size_t cap = 0; cap < need; cap++)
        expect_encode(&m, cap, KNIT_E_NO_SPACE);
}

/* ---- the decoder's refusals ---------------------------------------------- */

static void test_decode_types_and_fields(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN] = {1};
    struct knit_autonat_msg out;
    assert_int_equal(knit_autonat_decode(frame, 1, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_autonat_decode(NULL, 1, &out), KNIT_E_INVAL);
    expect_decode(NULL, 0, KNIT_E_TRUNCATED);

    start(&w, 0, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    start(&w, 6, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    start(&w, 256 + KNIT_AUTONAT_OBSERVE, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);

    /* Each type without its last field, and with a foreign one. */
    start(&w, KNIT_AUTONAT_OBSERVE, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_OBSERVE, 1);
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_OBSERVED, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_DIAL_BACK, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_DIAL_FOR, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_RESULT, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_AUTONAT_OBSERVE, 3);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
    knit_msg_put_uint(&w, 3, 1);                 /* kind: not OBSERVE's */
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_AUTONAT_RESULT, 3);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_uint(&w, 2, 0);
    knit_msg_put_uint(&w, 4, 0);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);

    /* Wrong types and sizes. */
    start(&w, KNIT_AUTONAT_OBSERVE, 2);
    knit_msg_put_bin(&w, 1, nonce, 1);           /* id as bin */
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
    expect_writer_decode(&w, KNIT_E_TYPE);
    start(&w, KNIT_AUTONAT_OBSERVE, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, nonce, sizeof nonce - 1);
    expect_writer_decode(&w, KNIT_E_LENGTH);
    start(&w, KNIT_AUTONAT_OBSERVE, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_str(&w, 2, "0123456789abcdef", 16);   /* str, not bin */
    expect_writer_decode(&w, KNIT_E_TYPE);
    start(&w, KNIT_AUTONAT_OBSERVE, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, filler, 17);        /* fixed size: any other */
    expect_writer_decode(&w, KNIT_E_LENGTH);
}

static void test_decode_values(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN] = {1};
    static const uint64_t kinds[] = {0, 3, 255};
    static const int kind_err[] = {KNIT_E_MALFORMED, KNIT_E_TOO_BIG,
                                   KNIT_E_TOO_BIG};
    for (size_t i = 0; i < 3; i++) {
        start(&w, KNIT_AUTONAT_DIAL_BACK, 3);
        knit_msg_put_uint(&w, 1, 1);
        knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
        knit_msg_put_uint(&w, 3, kinds[i]);
        expect_writer_decode(&w, kind_err[i]);
    }
    start(&w, KNIT_AUTONAT_RESULT, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_uint(&w, 2, KNIT_AUTONAT_STATUS_MAX + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_AUTONAT_RESULT, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_uint(&w, 2, 256);               /* not truncated to 0 */
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
}

static void test_decode_addresses(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN] = {1};
    uint8_t bin[KNIT_MA_BINARY_MAX];
    struct knit_peer_id id;
    memset(id.pubkey, 7, sizeof id.pubkey);
    struct knit_addr good = v4(203, 0, 113, 9, 4001);
    struct knit_addr unspec = v6(0, 4001);
    memset(unspec.ip, 0, sizeof unspec.ip);
    struct knit_addr port0 = v4(203, 0, 113, 9, 0);

    struct {
        const struct knit_addr *a;
        const struct knit_peer_id *peer;
        int want;
    } cases[] = {
        {&good, &id, KNIT_E_SHAPE},              /* with /p2p */
        {&unspec, NULL, KNIT_E_BAD_IP},
        {&port0, NULL, KNIT_E_BAD_PORT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = addr_bin(cases[i].a, cases[i].peer, bin);
        start(&w, KNIT_AUTONAT_OBSERVED, 2);
        knit_msg_put_uint(&w, 1, 1);
        knit_msg_put_bin(&w, 2, bin, n);
        expect_writer_decode(&w, cases[i].want);
        start(&w, KNIT_AUTONAT_DIAL_FOR, 3);
        knit_msg_put_uint(&w, 1, 1);
        knit_msg_put_bin(&w, 2, nonce, sizeof nonce);
        knit_msg_put_bin(&w, 3, bin, n);
        expect_writer_decode(&w, cases[i].want);
    }
    /* A bare /p2p/<id>, and bytes that are no multiaddr. */
    struct knit_multiaddr ma = {.count = 1};
    ma.c[0].protocol = KNIT_MA_P2P;
    ma.c[0].v.peer = id;
    size_t n;
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    start(&w, KNIT_AUTONAT_OBSERVED, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, bin, n);
    expect_writer_decode(&w, KNIT_E_SHAPE);
    start(&w, KNIT_AUTONAT_OBSERVED, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, (const uint8_t[]){0x63}, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_PROTOCOL);
    start(&w, KNIT_AUTONAT_OBSERVED, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, filler, KNIT_MA_BINARY_MAX + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
}

static void test_decode_size_trailing_truncated(void **state)
{
    (void)state;
    static uint8_t huge[KNIT_AUTONAT_MAX_MESSAGE + 1];
    expect_decode(huge, sizeof huge, KNIT_E_TOO_BIG);
    for (uint8_t t = KNIT_AUTONAT_OBSERVE; t <= KNIT_AUTONAT_RESULT; t++) {
        struct knit_autonat_msg m = sample(t);
        size_t len = encode(&m);
        memcpy(scratch, frame + KNIT_MSG_HEADER_LEN, len);
        scratch[len] = 0x00;
        expect_decode(scratch, len + 1, KNIT_E_TRAILING);
        for (size_t cut = 0; cut < len; cut++)
            expect_decode(scratch, cut, KNIT_E_TRUNCATED);
    }
}

/* ---- raw packets --------------------------------------------------------- */

static void test_packets(void **state)
{
    (void)state;
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN], got[KNIT_AUTONAT_NONCE_LEN];
    uint8_t pkt[KNIT_AUTONAT_PACKET_LEN + 1];
    uint8_t type = 0;
    set_nonce(nonce, 77);
    static const uint8_t types[] = {KNIT_PACKET_PROBE, KNIT_PACKET_DIAL};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(knit_autonat_packet_build(types[i], nonce, pkt), 0);
        assert_int_equal(pkt[0], types[i]);
        assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0);
        assert_memory_equal(pkt + 4, nonce, sizeof nonce);
        memset(got, 0, sizeof got);
        assert_int_equal(knit_autonat_packet_parse(pkt, sizeof pkt - 1, &type,
                                                   got), 0);
        assert_int_equal(type, types[i]);
        assert_memory_equal(got, nonce, sizeof nonce);
    }
    /* Build: only PROBE and DIAL. */
    for (unsigned t = 0; t < 256; t++)
        if (t != KNIT_PACKET_PROBE && t != KNIT_PACKET_DIAL)
            assert_int_equal(knit_autonat_packet_build((uint8_t)t, nonce, pkt),
                             KNIT_E_INVAL);
    assert_int_equal(knit_autonat_packet_build(KNIT_PACKET_DIAL, NULL, pkt),
                     KNIT_E_INVAL);
    assert_int_equal(knit_autonat_packet_build(KNIT_PACKET_DIAL, nonce, NULL),
                     KNIT_E_INVAL);

    /* Parse: every other length, every other type, each reserved byte. */
    knit_autonat_packet_build(KNIT_PACKET_PROBE, nonce, pkt);
    for (size_t len = 0; len <= sizeof pkt; len++)
        if (len != KNIT_AUTONAT_PACKET_LEN)
            assert_int_equal(knit_autonat_packet_parse(pkt, len, &type, got),
                             KNIT_E_LENGTH);
    for (unsigned t = 0; t < 256; t++) {
        if (t == KNIT_PACKET_PROBE || t == KNIT_PACKET_DIAL)
            continue;
        pkt[0] = (uint8_t)t;
        assert_int_equal(knit_autonat_packet_parse(pkt, KNIT_AUTONAT_PACKET_LEN,
                                                   &type, got),
                         KNIT_E_UNSUPPORTED);
    }
    for (size_t r = 1; r < 4; r++) {
        knit_autonat_packet_build(KNIT_PACKET_DIAL, nonce, pkt);
        pkt[r] = 0x80;
        assert_int_equal(knit_autonat_packet_parse(pkt, KNIT_AUTONAT_PACKET_LEN,
                                                   &type, got),
                         KNIT_E_MALFORMED);
    }
    assert_int_equal(knit_autonat_packet_parse(NULL, 20, &type, got),
                     KNIT_E_INVAL);
    assert_int_equal(knit_autonat_packet_parse(pkt, 20, NULL, got),
                     KNIT_E_INVAL);
    assert_int_equal(knit_autonat_packet_parse(pkt, 20, &type, NULL),
                     KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_types_and_fields),
        cmocka_unit_test(test_decode_values),
        cmocka_unit_test(test_decode_addresses),
        cmocka_unit_test(test_decode_size_trailing_truncated),
        cmocka_unit_test(test_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
