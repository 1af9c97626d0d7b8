/* The /knit/punch/1 messages and the PUNCH packet (node/punch_msg.h):
 * CONNECT (0, 1 and 8 candidates, IPv4 and IPv6) and SYNC encoded and
 * decoded back, the encoder's refusals, the decoder's refusals of bodies
 * written by hand (each asserted by its exact code and with the output
 * cleared), and the packet's build and every refusal of its parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/punch_msg.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_PUNCH_MAX_MESSAGE)

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

static void set_token(uint8_t token[KNIT_PUNCH_TOKEN_LEN], uint8_t seed)
{
    for (size_t k = 0; k < KNIT_PUNCH_TOKEN_LEN; k++)
        token[k] = (uint8_t)(seed ^ (k * 29));
}

/* A valid CONNECT with n candidates, IPv6 ones when ip6. */
static struct knit_punch_msg sample_connect(size_t n, bool ip6)
{
    struct knit_punch_msg m;
    memset(&m, 0, sizeof m);
    m.type = KNIT_PUNCH_CONNECT;
    m.attempt = 7;
    set_token(m.token, 0x5c);
    m.addr_count = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        m.addrs[i] = ip6 ? v6((uint8_t)(i + 1), (uint16_t)(65535 - i))
                         : v4(203, 0, 113, (uint8_t)(i + 1),
                              (uint16_t)(4001 + i));
    m.mapping = 3;
    m.filtering = 2;
    m.reach = 2;
    return m;
}

static struct knit_punch_msg sample_sync(uint32_t attempt)
{
    struct knit_punch_msg m;
    memset(&m, 0, sizeof m);
    m.type = KNIT_PUNCH_SYNC;
    m.attempt = attempt;
    return m;
}

static size_t encode(const struct knit_punch_msg *m)
{
    size_t len = 0;
    assert_int_equal(knit_punch_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame f;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_PUNCH_MAX_MESSAGE, &f),
                     0);
    assert_int_equal(f.len, len);
    return f.body_len;
}

static void round_trip(const struct knit_punch_msg *m)
{
    size_t len = encode(m);
    struct knit_punch_msg out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(knit_punch_decode(frame + KNIT_MSG_HEADER_LEN, len, &out),
                     0);
    /* Decoding fills exactly the fields of the type, the rest stay 0. */
    assert_memory_equal(&out, m, sizeof out);
}

static void expect_decode(const uint8_t *body, size_t len, int want)
{
    static const struct knit_punch_msg zero;
    struct knit_punch_msg out;
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(knit_punch_decode(body, len, &out), want);
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

/* Writes CONNECT's valid value for key (1..6). */
static void put_connect_field(struct knit_msg_writer *w, unsigned key)
{
    uint8_t token[KNIT_PUNCH_TOKEN_LEN] = {9};
    uint8_t bin[KNIT_MA_BINARY_MAX];
    struct knit_addr a = v4(198, 51, 100, 4, 5000);
    switch (key) {
    case 1:
        knit_msg_put_uint(w, 1, 1);
        break;
    case 2:
        knit_msg_put_bin(w, 2, token, sizeof token);
        break;
    case 3:
        knit_msg_put_array_begin(w, 3, 1);
        knit_msg_add_bin(w, bin, addr_bin(&a, NULL, bin));
        knit_msg_array_end(w);
        break;
    default:   /* 4 mapping, 5 filtering, 6 reach */
        knit_msg_put_uint(w, key, 1);
        break;
    }
}

/* Opens a CONNECT and writes every field but skip (0: none) with a valid
 * value; the caller then writes extra more fields. */
static void start_connect(struct knit_msg_writer *w, unsigned skip,
                          uint32_t extra)
{
    start(w, KNIT_PUNCH_CONNECT, (skip ? 5 : 6) + extra);
    for (unsigned k = 1; k <= 6; k++)
        if (k != skip)
            put_connect_field(w, k);
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trips(void **state)
{
    (void)state;
    static const size_t counts[] = {0, 1, KNIT_PUNCH_MAX_ADDRS};
    for (size_t i = 0; i < 3; i++) {
        struct knit_punch_msg m = sample_connect(counts[i], false);
        round_trip(&m);
        m = sample_connect(counts[i], true);
        round_trip(&m);
    }
    /* Mixed families, the extremes of attempt and port, every enum value. */
    struct knit_punch_msg m = sample_connect(KNIT_PUNCH_MAX_ADDRS, true);
    m.addrs[3] = v4(10, 0, 0, 1, 1);
    m.addrs[5] = v4(192, 168, 1, 2, 65535);
    m.attempt = 1;
    round_trip(&m);
    m.attempt = UINT32_MAX;
    round_trip(&m);
    for (uint8_t v = 0; v <= 3; v++) {
        m.mapping = v;
        m.filtering = (uint8_t)(3 - v);
        m.reach = v % 3;
        round_trip(&m);
    }

    m = sample_sync(1);
    round_trip(&m);
    m = sample_sync(UINT32_MAX);
    round_trip(&m);

    /* The fullest CONNECT fits the limit. */
    m = sample_connect(KNIT_PUNCH_MAX_ADDRS, true);
    m.attempt = UINT32_MAX;
    assert_true(encode(&m) <= KNIT_PUNCH_MAX_MESSAGE);

    /* CONNECT's fields are not written in a SYNC: they come back cleared. */
    m = sample_connect(2, false);
    m.type = KNIT_PUNCH_SYNC;
    size_t len = encode(&m);
    struct knit_punch_msg out;
    assert_int_equal(knit_punch_decode(frame + KNIT_MSG_HEADER_LEN, len, &out),
                     0);
    struct knit_punch_msg want = sample_sync(m.attempt);
    assert_memory_equal(&out, &want, sizeof out);
}

/* ---- the encoder's refusals ---------------------------------------------- */

static void expect_encode(const struct knit_punch_msg *m, size_t cap, int want)
{
    size_t len = 99;
    assert_int_equal(knit_punch_encode(m, frame, cap, &len), want);
    assert_int_equal(len, 0);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    size_t len;
    struct knit_punch_msg m = sample_connect(1, false);
    assert_int_equal(knit_punch_encode(NULL, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_punch_encode(&m, NULL, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_punch_encode(&m, frame, sizeof frame, NULL),
                     KNIT_E_INVAL);
    static const uint8_t bad_types[] = {0, 3, 255};
    for (size_t i = 0; i < sizeof bad_types; i++) {
        m.type = bad_types[i];
        expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    }
    m = sample_connect(1, false);
    m.attempt = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample_sync(0);
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    m = sample_connect(KNIT_PUNCH_MAX_ADDRS, false);
    m.addr_count = KNIT_PUNCH_MAX_ADDRS + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.addr_count = 255;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    /* Each bad address, last of three so every one is looked at. */
    struct knit_addr no_family = v4(203, 0, 113, 1, 4001);
    no_family.family = 0;
    struct knit_addr bad_addrs[] = {
        no_family,
        v4(0, 0, 0, 0, 4001),
        v6(0, 4001),
        v4(203, 0, 113, 1, 0),
        v6(1, 0),
    };
    memset(bad_addrs[2].ip, 0, sizeof bad_addrs[2].ip);
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        m = sample_connect(3, i % 2 == 0);
        m.addrs[2] = bad_addrs[i];
        expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    }

    m = sample_connect(1, false);
    m.mapping = 4;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample_connect(1, false);
    m.filtering = 4;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m = sample_connect(1, false);
    m.reach = 3;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    /* Every buffer too small, for the fullest CONNECT and for SYNC. */
    m = sample_connect(KNIT_PUNCH_MAX_ADDRS, true);
    size_t need = KNIT_MSG_HEADER_LEN + encode(&m);
    for (size_t cap = 0; cap < need; cap++)
        expect_encode(&m, cap, KNIT_E_NO_SPACE);
    m = sample_sync(UINT32_MAX);
    need = KNIT_MSG_HEADER_LEN + encode(&m);
    for (size_t cap = 0; cap < need; cap++)
        expect_encode(&m, cap, KNIT_E_NO_SPACE);
}

/* ---- the decoder's refusals ---------------------------------------------- */

static void test_decode_types_and_fields(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    struct knit_punch_msg out;
    assert_int_equal(knit_punch_decode(frame, 1, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_punch_decode(NULL, 1, &out), KNIT_E_INVAL);
    expect_decode(NULL, 0, KNIT_E_TRUNCATED);

    /* Unknown types. */
    static const uint64_t bad_types[] = {0, 3, 256 + KNIT_PUNCH_SYNC};
    for (size_t i = 0; i < 3; i++) {
        start(&w, bad_types[i], 1);
        knit_msg_put_uint(&w, 1, 1);
        expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    }

    /* Each field missing in turn. */
    for (unsigned k = 1; k <= 6; k++) {
        start_connect(&w, k, 0);
        expect_writer_decode(&w, KNIT_E_MISSING);
    }
    start(&w, KNIT_PUNCH_SYNC, 0);
    expect_writer_decode(&w, KNIT_E_MISSING);

    /* Unknown fields: a key CONNECT lacks, CONNECT's token in a SYNC. */
    start_connect(&w, 0, 1);
    knit_msg_put_uint(&w, 7, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_PUNCH_SYNC, 2);
    knit_msg_put_uint(&w, 1, 1);
    put_connect_field(&w, 2);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);

    /* Duplicate fields, which the writer refuses to produce: one more map
     * entry repeating a key, appended to a valid body by hand. */
    struct knit_punch_msg m = sample_connect(1, false);
    size_t len = encode(&m);
    memcpy(scratch, frame + KNIT_MSG_HEADER_LEN, len);
    assert_int_equal(scratch[0], 0x87);          /* fixmap: type + 6 */
    scratch[0] = 0x88;
    scratch[len] = 4;                            /* mapping again */
    scratch[len + 1] = 1;
    expect_decode(scratch, len + 2, KNIT_E_DUPLICATE);
    static const uint8_t sync_dup[] = {0x83, 0x00, KNIT_PUNCH_SYNC,
                                       0x01, 0x01, 0x01, 0x02};
    expect_decode(sync_dup, sizeof sync_dup, KNIT_E_DUPLICATE);
    static const uint8_t type_dup[] = {0x83, 0x00, KNIT_PUNCH_SYNC,
                                       0x01, 0x01, 0x00, KNIT_PUNCH_SYNC};
    expect_decode(type_dup, sizeof type_dup, KNIT_E_DUPLICATE);

    /* Wrong types. */
    start(&w, KNIT_PUNCH_SYNC, 1);
    knit_msg_put_bin(&w, 1, filler, 4);          /* attempt as bin */
    expect_writer_decode(&w, KNIT_E_TYPE);
    start_connect(&w, 2, 1);
    knit_msg_put_str(&w, 2, "0123456789abcdef", 16);   /* str, not bin */
    expect_writer_decode(&w, KNIT_E_TYPE);
    start_connect(&w, 3, 1);
    knit_msg_put_bin(&w, 3, filler, 8);          /* addrs not an array */
    expect_writer_decode(&w, KNIT_E_TYPE);
    start_connect(&w, 4, 1);
    knit_msg_put_bool(&w, 4, true);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_decode_values(void **state)
{
    (void)state;
    struct knit_msg_writer w;

    /* attempt: 0 names no attempt, over 2^32-1 is too big, in both types. */
    static const uint64_t attempts[] = {0, (uint64_t)UINT32_MAX + 1,
                                        UINT64_MAX};
    static const int attempt_err[] = {KNIT_E_MALFORMED, KNIT_E_TOO_BIG,
                                      KNIT_E_TOO_BIG};
    for (size_t i = 0; i < 3; i++) {
        start_connect(&w, 1, 1);
        knit_msg_put_uint(&w, 1, attempts[i]);
        expect_writer_decode(&w, attempt_err[i]);
        start(&w, KNIT_PUNCH_SYNC, 1);
        knit_msg_put_uint(&w, 1, attempts[i]);
        expect_writer_decode(&w, attempt_err[i]);
    }

    /* The token is exactly 16 bytes. */
    static const size_t token_lens[] = {0, 1, KNIT_PUNCH_TOKEN_LEN - 1,
                                        KNIT_PUNCH_TOKEN_LEN + 1, 255};
    for (size_t i = 0; i < sizeof token_lens / sizeof token_lens[0]; i++) {
        start_connect(&w, 2, 1);
        knit_msg_put_bin(&w, 2, filler, token_lens[i]);
        expect_writer_decode(&w, KNIT_E_LENGTH);
    }

    /* Enums one past their range, and far past it (not truncated). */
    static const uint64_t limits[] = {0, 0, 0, 0, 3, 3, 2};
    for (unsigned k = 4; k <= 6; k++) {
        start_connect(&w, k, 1);
        knit_msg_put_uint(&w, k, limits[k] + 1);
        expect_writer_decode(&w, KNIT_E_TOO_BIG);
        start_connect(&w, k, 1);
        knit_msg_put_uint(&w, k, 256 + limits[k]);
        expect_writer_decode(&w, KNIT_E_TOO_BIG);
    }
}

/* A CONNECT whose addrs are a good endpoint then bin (n bytes). */
static void expect_addr_refused(const uint8_t *bin, size_t n, int want)
{
    struct knit_msg_writer w;
    uint8_t good[KNIT_MA_BINARY_MAX];
    struct knit_addr a = v6(9, 4001);
    size_t good_len = addr_bin(&a, NULL, good);
    start_connect(&w, 3, 1);
    knit_msg_put_array_begin(&w, 3, 2);
    knit_msg_add_bin(&w, good, good_len);
    knit_msg_add_bin(&w, bin, n);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, want);
}

static void test_decode_addresses(void **state)
{
    (void)state;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    struct knit_peer_id id;
    memset(id.pubkey, 7, sizeof id.pubkey);
    struct knit_addr good4 = v4(203, 0, 113, 9, 4001);
    struct knit_addr good6 = v6(9, 4001);
    struct knit_addr unspec4 = v4(0, 0, 0, 0, 4001);
    struct knit_addr unspec6 = v6(0, 4001);
    memset(unspec6.ip, 0, sizeof unspec6.ip);
    struct knit_addr port0_4 = v4(203, 0, 113, 9, 0);
    struct knit_addr port0_6 = v6(9, 0);

    struct {
        const struct knit_addr *a;
        const struct knit_peer_id *peer;
        int want;
    } cases[] = {
        {&good4, &id, KNIT_E_SHAPE},             /* with /p2p */
        {&good6, &id, KNIT_E_SHAPE},
        {&unspec4, NULL, KNIT_E_BAD_IP},
        {&unspec6, NULL, KNIT_E_BAD_IP},
        {&port0_4, NULL, KNIT_E_BAD_PORT},
        {&port0_6, NULL, KNIT_E_BAD_PORT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = addr_bin(cases[i].a, cases[i].peer, bin);
        expect_addr_refused(bin, n, cases[i].want);
    }

    /* A bare /p2p/<id>, a circuit, bytes that are no multiaddr, an empty
     * element, one over the multiaddr limit. */
    struct knit_multiaddr ma = {.count = 1};
    ma.c[0].protocol = KNIT_MA_P2P;
    ma.c[0].v.peer = id;
    size_t n;
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    expect_addr_refused(bin, n, KNIT_E_SHAPE);
    assert_int_equal(knit_multiaddr_from_socket(&ma, &good4, &id), 0);
    ma.c[ma.count++].protocol = KNIT_MA_P2P_CIRCUIT;   /* via relay id */
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    expect_addr_refused(bin, n, KNIT_E_SHAPE);
    expect_addr_refused((const uint8_t[]){0x63}, 1, KNIT_E_UNKNOWN_PROTOCOL);
    expect_addr_refused(filler, 0, KNIT_E_LENGTH);
    expect_addr_refused(filler, KNIT_MA_BINARY_MAX + 1, KNIT_E_TOO_BIG);

    /* Nine candidates, each valid. */
    struct knit_msg_writer w;
    n = addr_bin(&good4, NULL, bin);
    start_connect(&w, 3, 1);
    knit_msg_put_array_begin(&w, 3, KNIT_PUNCH_MAX_ADDRS + 1);
    for (size_t i = 0; i < KNIT_PUNCH_MAX_ADDRS + 1; i++)
        knit_msg_add_bin(&w, bin, n);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    /* Eight of them are fine (the same one may repeat). */
    start_connect(&w, 3, 1);
    knit_msg_put_array_begin(&w, 3, KNIT_PUNCH_MAX_ADDRS);
    for (size_t i = 0; i < KNIT_PUNCH_MAX_ADDRS; i++)
        knit_msg_add_bin(&w, bin, n);
    knit_msg_array_end(&w);
    size_t len;
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_punch_msg out;
    assert_int_equal(knit_punch_decode(scratch + KNIT_MSG_HEADER_LEN,
                                       len - KNIT_MSG_HEADER_LEN, &out), 0);
    assert_int_equal(out.addr_count, KNIT_PUNCH_MAX_ADDRS);
    assert_true(knit_addr_equal(&out.addrs[7], &good4));
}

static void test_decode_size_trailing_truncated(void **state)
{
    (void)state;
    static uint8_t huge[KNIT_PUNCH_MAX_MESSAGE + 1];
    expect_decode(huge, sizeof huge, KNIT_E_TOO_BIG);

    /* A valid CONNECT padded with zeros: one byte over the limit is
     * refused for its size before anything is read, at the limit for the
     * trailing bytes. */
    struct knit_punch_msg m = sample_connect(KNIT_PUNCH_MAX_ADDRS, true);
    size_t len = encode(&m);
    memset(scratch, 0, sizeof scratch);
    memcpy(scratch, frame + KNIT_MSG_HEADER_LEN, len);
    expect_decode(scratch, KNIT_PUNCH_MAX_MESSAGE + 1, KNIT_E_TOO_BIG);
    expect_decode(scratch, KNIT_PUNCH_MAX_MESSAGE, KNIT_E_TRAILING);

    struct knit_punch_msg samples[] = {
        sample_connect(0, false),
        sample_connect(1, false),
        sample_connect(KNIT_PUNCH_MAX_ADDRS, true),
        sample_sync(UINT32_MAX),
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        len = encode(&samples[i]);
        memcpy(scratch, frame + KNIT_MSG_HEADER_LEN, len);
        scratch[len] = 0x00;
        expect_decode(scratch, len + 1, KNIT_E_TRAILING);
        for (size_t cut = 0; cut < len; cut++)
            expect_decode(scratch, cut, KNIT_E_TRUNCATED);
    }
}

/* ---- the PUNCH packet ---------------------------------------------------- */

static void test_packets(void **state)
{
    (void)state;
    uint8_t token[KNIT_PUNCH_TOKEN_LEN], got[KNIT_PUNCH_TOKEN_LEN];
    uint8_t pkt[KNIT_PUNCH_PACKET_LEN + 1];
    set_token(token, 77);
    knit_punch_packet_build(token, pkt);
    assert_int_equal(pkt[0], KNIT_PACKET_PUNCH);
    assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0);
    assert_memory_equal(pkt + 4, token, sizeof token);
    memset(got, 0, sizeof got);
    assert_int_equal(knit_punch_packet_parse(pkt, KNIT_PUNCH_PACKET_LEN, got),
                     0);
    assert_memory_equal(got, token, sizeof token);

    /* Every other length, every other first byte, each reserved byte. */
    for (size_t len = 0; len <= sizeof pkt; len++)
        if (len != KNIT_PUNCH_PACKET_LEN)
            assert_int_equal(knit_punch_packet_parse(pkt, len, got),
                             KNIT_E_LENGTH);
    for (unsigned t = 0; t < 256; t++) {
        if (t == KNIT_PACKET_PUNCH)
            continue;
        pkt[0] = (uint8_t)t;
        assert_int_equal(knit_punch_packet_parse(pkt, KNIT_PUNCH_PACKET_LEN,
                                                 got),
                         KNIT_E_UNSUPPORTED);
    }
    for (size_t r = 1; r < 4; r++) {
        knit_punch_packet_build(token, pkt);
        pkt[r] = 0x80;
        assert_int_equal(knit_punch_packet_parse(pkt, KNIT_PUNCH_PACKET_LEN,
                                                 got),
                         KNIT_E_MALFORMED);
    }
    assert_int_equal(knit_punch_packet_parse(NULL, KNIT_PUNCH_PACKET_LEN, got),
                     KNIT_E_INVAL);
    assert_int_equal(knit_punch_packet_parse(pkt, KNIT_PUNCH_PACKET_LEN, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(knit_punch_packet_parse(NULL, 0, got), KNIT_E_LENGTH);
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
