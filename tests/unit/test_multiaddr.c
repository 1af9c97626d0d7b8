/* proto/multiaddr: text and binary forms, the accepted shapes, every
 * rejection the header promises, and the socket / peer helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/multiaddr.h"
#include "transport/error.h"

/* The libp2p peer-ID spec vector (Ed25519). */
#define ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
/* Same prefix, public key 32 x 0x11; a second, distinct peer. */
#define ID2 "12D3KooWAxzCBFVtEyKLnRm43gHxigCoe2d4UmkRTXhBNSv5bcCx"
/* 38 bytes, key type 2 (secp256k1) instead of 1: wrong prefix. */
#define ID_BAD_PREFIX "12D3KubAStDSxsJ5u2M7YE14xAyuQRbFH875wwTSEME8wdPbhNZj"
/* A sha256 multihash ID (34 bytes): wrong length for knit. */
#define ID_BAD_LENGTH "QmQQxawaqAL49npT2nysgceK67F6HXNxPWjPEfnx3XioAu"

static const uint8_t ed25519_prefix[6] = { 0x00, 0x24, 0x08, 0x01, 0x12, 0x20 };

static int parse(struct knit_multiaddr *ma, const char *text)
{
    return knit_multiaddr_parse(ma, text, strlen(text));
}

static void expect_parse(const char *text, int want)
{
    struct knit_multiaddr ma;
    int got = parse(&ma, text);
    if (got != want) {
        print_error("parse(\"%s\") = %d (%s), want %d (%s)\n", text, got,
                    knit_strerror(got), want, knit_strerror(want));
        fail();
    }
}

static void expect_decode(const uint8_t *in, size_t len, int want,
                          const char *what)
{
    struct knit_multiaddr ma;
    int got = knit_multiaddr_decode(&ma, in, len);
    if (got != want) {
        print_error("decode(%s) = %d (%s), want %d (%s)\n", what, got,
                    knit_strerror(got), want, knit_strerror(want));
        fail();
    }
}

#define EXPECT_DECODE(want, ...)                                          \
    do {                                                                  \
        const uint8_t bytes_[] = { __VA_ARGS__ };                         \
        expect_decode(bytes_, sizeof bytes_, want, #__VA_ARGS__);          \
    } while (0)

/* text -> struct -> binary -> struct -> text must give back `text`, and
 * both structs must be equal. Returns the parsed struct. */
static struct knit_multiaddr round_trip(const char *text, size_t components)
{
    struct knit_multiaddr a, b;
    char out[KNIT_MA_TEXT_MAX];
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n;

    if (parse(&a, text) != 0) {
        print_error("parse(\"%s\") failed\n", text);
        fail();
    }
    assert_int_equal(a.count, components);
    assert_int_equal(knit_multiaddr_encode(&a, bin, sizeof bin, &n), 0);
    assert_true(n > 0 && n <= KNIT_MA_BINARY_MAX);
    assert_int_equal(knit_multiaddr_decode(&b, bin, n), 0);
    assert_true(knit_multiaddr_equal(&a, &b));
    assert_int_equal(knit_multiaddr_format(&b, out, sizeof out), 0);
    assert_string_equal(out, text);

    /* Re-encoding the decoded struct gives the same bytes. */
    uint8_t bin2[KNIT_MA_BINARY_MAX];
    size_t n2;
    assert_int_equal(knit_multiaddr_encode(&b, bin2, sizeof bin2, &n2), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(bin, bin2, n);
    return a;
}

/* knit_multiaddr_decode_endpoint: a bare UDP endpoint and nothing else. */
static void test_decode_endpoint(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "/ip4/192.0.2.1/udp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
        "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
    };
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n;
    struct knit_multiaddr ma;
    struct knit_addr a;
    const char *ok = "/ip6/2001:db8::1/udp/443";
    assert_int_equal(knit_multiaddr_parse(&ma, ok, strlen(ok)), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    assert_int_equal(knit_multiaddr_decode_endpoint(&a, bin, n), 0);
    assert_int_equal(a.family, KNIT_AF_IP6);
    assert_int_equal(a.port, 443);
    assert_int_not_equal(knit_multiaddr_decode_endpoint(&a, bin, n - 1), 0);
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(knit_multiaddr_parse(&ma, refused[k],
                                              strlen(refused[k])), 0);
        assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
        assert_int_equal(knit_multiaddr_decode_endpoint(&a, bin, n),
                         KNIT_E_SHAPE);
    }
}

/* ---- accepted shapes ---------------------------------------------------- */

static void test_endpoint_ip4(void **state)
{
    (void)state;
    struct knit_multiaddr ma = round_trip("/ip4/192.0.2.1/udp/4001", 2);
    assert_int_equal(ma.c[0].protocol, KNIT_MA_IP4);
    assert_memory_equal(ma.c[0].v.ip4, ((uint8_t[]){ 192, 0, 2, 1 }), 4);
    assert_int_equal(ma.c[1].protocol, KNIT_MA_UDP);
    assert_int_equal(ma.c[1].v.port, 4001);
    round_trip("/ip4/0.0.0.0/udp/0", 2);
    round_trip("/ip4/255.255.255.255/udp/65535", 2);
}

static void test_endpoint_ip6(void **state)
{
    (void)state;
    struct knit_multiaddr ma = round_trip("/ip6/2001:db8::1/udp/4001", 2);
    assert_int_equal(ma.c[0].protocol, KNIT_MA_IP6);
    const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    assert_memory_equal(ma.c[0].v.ip6, want, 16);
    round_trip("/ip6/::/udp/1", 2);
    round_trip("/ip6/::1/udp/65535", 2);
    round_trip("/ip6/fe80::1:2:3:4/udp/9", 2);
}

static void test_ip6_is_formatted_canonically(void **state)
{
    (void)state;
    /* RFC 5952: lower case, longest zero run compressed, no leading zeros. */
    struct knit_multiaddr ma;
    char out[KNIT_MA_TEXT_MAX];
    assert_int_equal(parse(&ma, "/ip6/2001:0DB8:0:0:0:0:0:0001/udp/1"), 0);
    assert_int_equal(knit_multiaddr_format(&ma, out, sizeof out), 0);
    assert_string_equal(out, "/ip6/2001:db8::1/udp/1");
}

static void test_endpoint_with_peer(void **state)
{
    (void)state;
    struct knit_multiaddr ma =
        round_trip("/ip4/203.0.113.7/udp/4001/p2p/" ID, 3);
    assert_int_equal(ma.c[2].protocol, KNIT_MA_P2P);
    round_trip("/ip6/2001:db8::7/udp/4001/p2p/" ID, 3);
    assert_false(knit_multiaddr_is_circuit(&ma));
}

static void test_bare_peer(void **state)
{
    (void)state;
    struct knit_multiaddr ma = round_trip("/p2p/" ID, 1);
    assert_int_equal(ma.c[0].protocol, KNIT_MA_P2P);
    struct knit_multiaddr other = round_trip("/p2p/" ID2, 1);
    assert_false(knit_multiaddr_equal(&ma, &other));
    for (size_t i = 0; i < KNIT_PUBKEY_LEN; i++)
        assert_int_equal(other.c[0].v.peer.pubkey[i], 0x11);
}

static void test_circuit_shapes(void **state)
{
    (void)state;
    round_trip("/ip4/203.0.113.7/udp/4001/p2p/" ID "/p2p-circuit", 4);
    round_trip("/ip4/203.0.113.7/udp/4001/p2p/" ID "/p2p-circuit/p2p/" ID2,
               5);
    round_trip("/ip6/2001:db8::7/udp/4001/p2p/" ID "/p2p-circuit/p2p/" ID2,
               5);
    round_trip("/p2p/" ID "/p2p-circuit", 2);
    round_trip("/p2p/" ID "/p2p-circuit/p2p/" ID2, 3);
}

/* ---- binary form -------------------------------------------------------- */

static void test_binary_known_bytes(void **state)
{
    (void)state;
    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n;

    /* ip4 = 4, udp = 273 = varint 91 02, port big-endian. */
    const uint8_t ep[] = { 0x04, 1, 2, 3, 4, 0x91, 0x02, 0x0f, 0xa1 };
    assert_int_equal(parse(&ma, "/ip4/1.2.3.4/udp/4001"), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    assert_int_equal(n, sizeof ep);
    assert_memory_equal(bin, ep, sizeof ep);

    /* ip6 = 41 = 0x29. */
    const uint8_t ep6[] = { 0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            0, 1, 0x91, 0x02, 0x00, 0x35 };
    assert_int_equal(parse(&ma, "/ip6/::1/udp/53"), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    assert_int_equal(n, sizeof ep6);
    assert_memory_equal(bin, ep6, sizeof ep6);

    /* p2p = 421 = varint a5 03, length 38 = 0x26, then the ID bytes;
     * p2p-circuit = 290 = varint a2 02 with no value. */
    assert_int_equal(parse(&ma, "/p2p/" ID "/p2p-circuit"), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    assert_int_equal(n, 3 + 38 + 2);
    assert_memory_equal(bin, ((uint8_t[]){ 0xa5, 0x03, 0x26 }), 3);
    assert_memory_equal(bin + 3, ed25519_prefix, 6);
    assert_memory_equal(bin + 9, ma.c[0].v.peer.pubkey, KNIT_PUBKEY_LEN);
    assert_memory_equal(bin + 41, ((uint8_t[]){ 0xa2, 0x02 }), 2);

    struct knit_multiaddr back;
    assert_int_equal(knit_multiaddr_decode(&back, bin, n), 0);
    assert_true(knit_multiaddr_equal(&ma, &back));
}

static void test_binary_longest_fits(void **state)
{
    (void)state;
    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n;
    assert_int_equal(
        parse(&ma, "/ip6/2001:db8::7/udp/4001/p2p/" ID "/p2p-circuit/p2p/" ID2),
        0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n), 0);
    /* 1+16 (ip6) + 2+2 (udp) + 2*(2+1+38) (p2p) + 2 (circuit) */
    assert_int_equal(n, 105);
    assert_true(n <= KNIT_MA_BINARY_MAX);

    /* One byte short of room. */
    assert_int_equal(knit_multiaddr_encode(&ma, bin, n - 1, &n),
                     KNIT_E_NO_SPACE);
}

/* ---- text rejections ------------------------------------------------------ */

static void test_reject_bad_ip(void **state)
{
    (void)state;
    expect_parse("/ip4/256.1.1.1/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip4/1.2.3/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip4/1.2.3.4.5/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip4/01.2.3.4/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip4/::1/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip4/ 1.2.3.4/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip6/::g/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip6/fe80::1%eth0/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip6/1.2.3.4/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip6/1:2:3:4:5:6:7:8:9/udp/1", KNIT_E_BAD_IP);
    expect_parse("/ip6/0000000000000000000000000000000000000000000000001/udp/1",
                 KNIT_E_BAD_IP);

    /* An embedded NUL must not cut the value short for inet_pton. */
    struct knit_multiaddr ma;
    static const char nul[] = "/ip4/1.2.3.4\0x/udp/1";
    assert_int_equal(knit_multiaddr_parse(&ma, nul, sizeof nul - 1),
                     KNIT_E_BAD_IP);
}

static void test_reject_bad_port(void **state)
{
    (void)state;
    expect_parse("/ip4/1.2.3.4/udp/65536", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/-1", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/+1", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/0x10", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/04001", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/00", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/1a", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/ 1", KNIT_E_BAD_PORT);
    expect_parse("/ip4/1.2.3.4/udp/4294967297", KNIT_E_BAD_PORT);
}

static void test_reject_unknown_protocol(void **state)
{
    (void)state;
    expect_parse("/tcp/80", KNIT_E_UNKNOWN_PROTOCOL);
    expect_parse("/dns4/x", KNIT_E_UNKNOWN_PROTOCOL);
    expect_parse("/ip4/1.2.3.4/tcp/80", KNIT_E_UNKNOWN_PROTOCOL);
    expect_parse("/ip4/1.2.3.4/udp/1/quic-v1", KNIT_E_UNKNOWN_PROTOCOL);
    expect_parse("/IP4/1.2.3.4/udp/1", KNIT_E_UNKNOWN_PROTOCOL);
    expect_parse("/ipfs/" ID, KNIT_E_UNKNOWN_PROTOCOL);
}

static void test_reject_bad_peer_id(void **state)
{
    (void)state;
    expect_parse("/p2p/0OIl", KNIT_E_BASE58);
    expect_parse("/ip4/1.2.3.4/udp/1/p2p/12D3KooW+", KNIT_E_BASE58);
    expect_parse("/p2p/" ID_BAD_LENGTH, KNIT_E_LENGTH);
    expect_parse("/p2p/1" ID, KNIT_E_LENGTH);
    expect_parse("/p2p/" ID_BAD_PREFIX, KNIT_E_PREFIX);
    expect_parse("/p2p/" ID "/p2p-circuit/p2p/" ID_BAD_PREFIX, KNIT_E_PREFIX);
}

static void test_reject_missing_value(void **state)
{
    (void)state;
    expect_parse("/ip4", KNIT_E_TRUNCATED);
    expect_parse("/ip4/", KNIT_E_TRUNCATED);
    expect_parse("/ip4/1.2.3.4/udp", KNIT_E_TRUNCATED);
    expect_parse("/ip4/1.2.3.4/udp/", KNIT_E_TRUNCATED);
    expect_parse("/ip4/1.2.3.4/udp/1/p2p", KNIT_E_TRUNCATED);
    expect_parse("/p2p", KNIT_E_TRUNCATED);
    expect_parse("/p2p/" ID "/p2p-circuit/p2p", KNIT_E_TRUNCATED);
}

static void test_reject_malformed(void **state)
{
    (void)state;
    expect_parse("", KNIT_E_MALFORMED);
    expect_parse("/", KNIT_E_MALFORMED);
    expect_parse("ip4/1.2.3.4/udp/1", KNIT_E_MALFORMED);
    expect_parse(" /ip4/1.2.3.4/udp/1", KNIT_E_MALFORMED);
    expect_parse("//ip4/1.2.3.4/udp/1", KNIT_E_MALFORMED);
    expect_parse("/ip4//1.2.3.4/udp/1", KNIT_E_MALFORMED);
    expect_parse("/ip4/1.2.3.4//udp/1", KNIT_E_MALFORMED);
    expect_parse("/ip4/1.2.3.4/udp//p2p/" ID, KNIT_E_MALFORMED);
    expect_parse("/p2p/" ID "//p2p-circuit", KNIT_E_MALFORMED);
}

static void test_reject_trailing(void **state)
{
    (void)state;
    expect_parse("/ip4/1.2.3.4/udp/1/", KNIT_E_TRAILING);
    expect_parse("/p2p/" ID "/", KNIT_E_TRAILING);
    expect_parse("/p2p/" ID "/p2p-circuit/", KNIT_E_TRAILING);
    /* Nothing may follow a circuit target. */
    expect_parse("/p2p/" ID "/p2p-circuit/p2p/" ID2 "/p2p-circuit",
                 KNIT_E_TRAILING);
    expect_parse("/ip4/1.2.3.4/udp/1/p2p/" ID "/p2p-circuit/p2p/" ID2
                 "/p2p/" ID,
                 KNIT_E_TRAILING);
}

static void test_reject_shape(void **state)
{
    (void)state;
    expect_parse("/udp/1", KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4", KNIT_E_SHAPE);
    expect_parse("/ip6/::1", KNIT_E_SHAPE);
    expect_parse("/udp/1/ip4/1.2.3.4", KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4/ip6/::1/udp/1", KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4/udp/1/udp/2", KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4/udp/1/ip4/1.2.3.4/udp/1", KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4/p2p/" ID, KNIT_E_SHAPE);
    expect_parse("/p2p/" ID "/p2p/" ID2, KNIT_E_SHAPE);
    expect_parse("/p2p/" ID "/udp/1", KNIT_E_SHAPE);
    expect_parse("/p2p/" ID "/ip4/1.2.3.4/udp/1", KNIT_E_SHAPE);
    expect_parse("/p2p-circuit", KNIT_E_SHAPE);
    expect_parse("/p2p-circuit/p2p/" ID, KNIT_E_SHAPE);
    expect_parse("/ip4/1.2.3.4/udp/1/p2p-circuit", KNIT_E_SHAPE);
    expect_parse("/p2p/" ID "/p2p-circuit/p2p-circuit", KNIT_E_SHAPE);
}

static void test_reject_too_long(void **state)
{
    (void)state;
    char text[KNIT_MA_TEXT_MAX + 8];
    struct knit_multiaddr ma;

    /* A valid address padded past the limit: length alone decides. */
    memset(text, '1', sizeof text);
    memcpy(text, "/ip4/1.2.3.4/udp/", 17);
    assert_int_equal(knit_multiaddr_parse(&ma, text, KNIT_MA_TEXT_MAX),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_multiaddr_parse(&ma, text, sizeof text),
                     KNIT_E_TOO_BIG);
    /* One under the limit is judged on content instead. */
    assert_int_equal(knit_multiaddr_parse(&ma, text, KNIT_MA_TEXT_MAX - 1),
                     KNIT_E_BAD_PORT);
}

/* ---- binary rejections ------------------------------------------------------ */

static void test_decode_reject_noncanonical(void **state)
{
    (void)state;
    /* ip4 code 4 as 84 00. */
    EXPECT_DECODE(KNIT_E_NONCANONICAL, 0x84, 0x00, 1, 2, 3, 4, 0x91, 0x02, 0,
                  1);
    /* udp 273 as 91 82 00. */
    EXPECT_DECODE(KNIT_E_NONCANONICAL, 0x04, 1, 2, 3, 4, 0x91, 0x82, 0x00, 0,
                  1);
    /* p2p length 38 as a6 00. */
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n = 0;
    bin[n++] = 0xa5;
    bin[n++] = 0x03;
    bin[n++] = 0xa6;
    bin[n++] = 0x00;
    memcpy(bin + n, ed25519_prefix, 6);
    n += 6;
    memset(bin + n, 0x11, 32);
    n += 32;
    expect_decode(bin, n, KNIT_E_NONCANONICAL, "p2p length a6 00");
    /* The same bytes with a minimal length decode. */
    memmove(bin + 3, bin + 4, n - 4);
    bin[2] = 0x26;
    expect_decode(bin, n - 1, 0, "p2p length 26");
}

static void test_decode_reject_long_varint(void **state)
{
    (void)state;
    EXPECT_DECODE(KNIT_E_MALFORMED, 0x80, 0x80, 0x80, 0x01, 1, 2, 3, 4);
    EXPECT_DECODE(KNIT_E_MALFORMED, 0x84, 0x80, 0x80, 0x00);
    EXPECT_DECODE(KNIT_E_MALFORMED, 0xa5, 0x03, 0xa6, 0x80, 0x80, 0x00);
}

static void test_decode_reject_truncated(void **state)
{
    (void)state;
    expect_decode(NULL, 0, KNIT_E_TRUNCATED, "empty");
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0x91);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0x04, 1, 2, 3);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                  0, 0, 1);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0x04, 1, 2, 3, 4, 0x91);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0x04, 1, 2, 3, 4, 0x91, 0x02, 0x0f);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0xa5, 0x03);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0xa5, 0x03, 0x26, 0x00, 0x24, 0x08);
    EXPECT_DECODE(KNIT_E_TRUNCATED, 0xa5, 0x03, 0xff, 0x7f, 0x00);
}

static void test_decode_reject_too_big(void **state)
{
    (void)state;
    uint8_t bin[KNIT_MA_BINARY_MAX + 1];
    memset(bin, 0x04, sizeof bin);
    expect_decode(bin, sizeof bin, KNIT_E_TOO_BIG, "129 bytes");
    /* At the limit the content decides. */
    expect_decode(bin, KNIT_MA_BINARY_MAX, KNIT_E_SHAPE, "128 bytes");
}

static void test_decode_reject_unknown_protocol(void **state)
{
    (void)state;
    EXPECT_DECODE(KNIT_E_UNKNOWN_PROTOCOL, 0x06, 0x00, 0x50);   /* tcp */
    EXPECT_DECODE(KNIT_E_UNKNOWN_PROTOCOL, 0x00);
    EXPECT_DECODE(KNIT_E_UNKNOWN_PROTOCOL, 0x04, 1, 2, 3, 4, 0x91, 0x02, 0,
                  1, 0xcc, 0x03);                                /* quic */
    EXPECT_DECODE(KNIT_E_UNKNOWN_PROTOCOL, 0xff, 0xff, 0x7f);
}

static void test_decode_reject_shape_and_trailing(void **state)
{
    (void)state;
    EXPECT_DECODE(KNIT_E_SHAPE, 0x91, 0x02, 0x0f, 0xa1);
    EXPECT_DECODE(KNIT_E_SHAPE, 0x04, 1, 2, 3, 4);
    EXPECT_DECODE(KNIT_E_SHAPE, 0x04, 1, 2, 3, 4, 0x04, 1, 2, 3, 4);
    EXPECT_DECODE(KNIT_E_SHAPE, 0xa2, 0x02);

    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX + 8];
    size_t n;
    assert_int_equal(parse(&ma, "/p2p/" ID "/p2p-circuit/p2p/" ID2), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, KNIT_MA_BINARY_MAX, &n),
                     0);
    bin[n] = 0xa2;
    bin[n + 1] = 0x02;
    expect_decode(bin, n + 2, KNIT_E_TRAILING, "circuit after target");
}

static void test_decode_peer_id_errors(void **state)
{
    (void)state;
    uint8_t bin[64] = { 0xa5, 0x03, 0x25 };
    memcpy(bin + 3, ed25519_prefix, 6);
    expect_decode(bin, 3 + 37, KNIT_E_LENGTH, "p2p of 37 bytes");
    bin[2] = 0x26;
    bin[3 + 3] = 0x02;   /* key type secp256k1 */
    expect_decode(bin, 3 + 38, KNIT_E_PREFIX, "p2p with wrong key type");
}

/* ---- hand-built structs ------------------------------------------------------ */

static void test_encode_refuses_bad_shapes(void **state)
{
    (void)state;
    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    char text[KNIT_MA_TEXT_MAX];
    size_t n;

    memset(&ma, 0, sizeof ma);
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n),
                     KNIT_E_SHAPE);
    assert_int_equal(knit_multiaddr_format(&ma, text, sizeof text),
                     KNIT_E_SHAPE);

    ma.count = 1;
    ma.c[0].protocol = KNIT_MA_UDP;
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n),
                     KNIT_E_SHAPE);
    assert_int_equal(knit_multiaddr_format(&ma, text, sizeof text),
                     KNIT_E_SHAPE);

    ma.c[0].protocol = 6;   /* tcp */
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n),
                     KNIT_E_UNKNOWN_PROTOCOL);
    assert_int_equal(knit_multiaddr_format(&ma, text, sizeof text),
                     KNIT_E_UNKNOWN_PROTOCOL);

    assert_int_equal(parse(&ma, "/p2p/" ID "/p2p-circuit/p2p/" ID2), 0);
    ma.c[1].protocol = KNIT_MA_P2P;
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n),
                     KNIT_E_SHAPE);

    assert_int_equal(parse(&ma, "/ip4/1.2.3.4/udp/1/p2p/" ID
                                "/p2p-circuit/p2p/" ID2), 0);
    ma.count = KNIT_MA_MAX_COMPONENTS + 1;
    assert_int_equal(knit_multiaddr_encode(&ma, bin, sizeof bin, &n),
                     KNIT_E_TRAILING);
    assert_int_equal(knit_multiaddr_format(&ma, text, sizeof text),
                     KNIT_E_TRAILING);
}

static void test_format_no_space(void **state)
{
    (void)state;
    static const char want[] = "/ip4/1.2.3.4/udp/4001/p2p/" ID;
    struct knit_multiaddr ma;
    char out[sizeof want];
    assert_int_equal(parse(&ma, want), 0);
    assert_int_equal(knit_multiaddr_format(&ma, out, sizeof want - 1),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_multiaddr_format(&ma, out, sizeof want), 0);
    assert_string_equal(out, want);
}

/* ---- helpers ----------------------------------------------------------------- */

static void test_equal(void **state)
{
    (void)state;
    struct knit_multiaddr a, b;
    assert_int_equal(parse(&a, "/ip4/1.2.3.4/udp/1"), 0);
    assert_int_equal(parse(&b, "/ip4/1.2.3.4/udp/1"), 0);
    assert_true(knit_multiaddr_equal(&a, &b));
    assert_int_equal(parse(&b, "/ip4/1.2.3.4/udp/2"), 0);
    assert_false(knit_multiaddr_equal(&a, &b));
    assert_int_equal(parse(&b, "/ip4/1.2.3.5/udp/1"), 0);
    assert_false(knit_multiaddr_equal(&a, &b));
    assert_int_equal(parse(&b, "/ip6/::ffff:1.2.3.4/udp/1"), 0);
    assert_false(knit_multiaddr_equal(&a, &b));
    assert_int_equal(parse(&b, "/ip4/1.2.3.4/udp/1/p2p/" ID), 0);
    assert_false(knit_multiaddr_equal(&a, &b));

    /* Garbage in the unused union bytes of a hand-built struct is ignored. */
    memset(&a, 0xaa, sizeof a);
    memset(&b, 0x55, sizeof b);
    a.count = b.count = 2;
    a.c[0].protocol = b.c[0].protocol = KNIT_MA_IP4;
    memcpy(a.c[0].v.ip4, "\x01\x02\x03\x04", 4);
    memcpy(b.c[0].v.ip4, "\x01\x02\x03\x04", 4);
    a.c[1].protocol = b.c[1].protocol = KNIT_MA_UDP;
    a.c[1].v.port = b.c[1].v.port = 7;
    assert_true(knit_multiaddr_equal(&a, &b));
}

static void test_socket_round_trip(void **state)
{
    (void)state;
    struct knit_addr in, out;
    struct knit_multiaddr ma, want;
    struct knit_peer_id peer;
    char text[KNIT_MA_TEXT_MAX];

    const uint8_t ip4[4] = { 203, 0, 113, 7 };
    assert_int_equal(knit_addr_set(&in, ip4, 4, 4001), 0);
    assert_int_equal(knit_multiaddr_from_socket(&ma, &in, NULL), 0);
    assert_int_equal(knit_multiaddr_format(&ma, text, sizeof text), 0);
    assert_string_equal(text, "/ip4/203.0.113.7/udp/4001");
    assert_int_equal(knit_multiaddr_to_socket(&ma, &out), 0);
    assert_true(knit_addr_equal(&in, &out));
    assert_int_equal(out.family, KNIT_AF_IP4);
    assert_int_equal(out.port, 4001);

    assert_int_equal(parse(&want, "/p2p/" ID), 0);
    peer = want.c[0].v.peer;
    const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
    assert_int_equal(knit_addr_set(&in, ip6, 16, 65535), 0);
    assert_int_equal(knit_multiaddr_from_socket(&ma, &in, &peer), 0);
    assert_int_equal(parse(&want, "/ip6/2001:db8::7/udp/65535/p2p/" ID), 0);
    assert_true(knit_multiaddr_equal(&ma, &want));
    assert_int_equal(knit_multiaddr_to_socket(&ma, &out), 0);
    assert_true(knit_addr_equal(&in, &out));
    assert_int_equal(out.family, KNIT_AF_IP6);

    /* A circuit address with an endpoint still has one to dial: the relay. */
    assert_int_equal(parse(&ma, "/ip4/203.0.113.7/udp/4001/p2p/" ID
                                "/p2p-circuit/p2p/" ID2), 0);
    assert_int_equal(knit_multiaddr_to_socket(&ma, &out), 0);
    assert_int_equal(out.port, 4001);

    assert_int_equal(parse(&ma, "/p2p/" ID), 0);
    assert_int_equal(knit_multiaddr_to_socket(&ma, &out), KNIT_E_NOT_FOUND);

    memset(&in, 0, sizeof in);
    assert_int_equal(knit_multiaddr_from_socket(&ma, &in, NULL),
                     KNIT_E_INVAL);
}

static void test_peer_relay_circuit(void **state)
{
    (void)state;
    struct knit_multiaddr ma, ids;
    struct knit_peer_id p;
    assert_int_equal(parse(&ids, "/p2p/" ID "/p2p-circuit/p2p/" ID2), 0);
    const struct knit_peer_id *id1 = &ids.c[0].v.peer, *id2 = &ids.c[2].v.peer;

    assert_int_equal(parse(&ma, "/ip4/1.2.3.4/udp/1"), 0);
    assert_int_equal(knit_multiaddr_peer(&ma, &p), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_multiaddr_relay(&ma, &p), KNIT_E_NOT_FOUND);
    assert_false(knit_multiaddr_is_circuit(&ma));

    assert_int_equal(parse(&ma, "/ip4/1.2.3.4/udp/1/p2p/" ID), 0);
    assert_int_equal(knit_multiaddr_peer(&ma, &p), 0);
    assert_true(knit_peer_id_equal(&p, id1));
    assert_int_equal(knit_multiaddr_relay(&ma, &p), KNIT_E_NOT_FOUND);

    /* The peer of a circuit address is its target, not the relay. */
    assert_int_equal(parse(&ma, "/ip4/1.2.3.4/udp/1/p2p/" ID
                                "/p2p-circuit/p2p/" ID2), 0);
    assert_true(knit_multiaddr_is_circuit(&ma));
    assert_int_equal(knit_multiaddr_peer(&ma, &p), 0);
    assert_true(knit_peer_id_equal(&p, id2));
    assert_int_equal(knit_multiaddr_relay(&ma, &p), 0);
    assert_true(knit_peer_id_equal(&p, id1));

    /* Without a target, the only peer named is the relay. */
    assert_int_equal(parse(&ma, "/p2p/" ID2 "/p2p-circuit"), 0);
    assert_true(knit_multiaddr_is_circuit(&ma));
    assert_int_equal(knit_multiaddr_relay(&ma, &p), 0);
    assert_true(knit_peer_id_equal(&p, id2));
    assert_int_equal(knit_multiaddr_peer(&ma, &p), 0);
    assert_true(knit_peer_id_equal(&p, id2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_ip4),
        cmocka_unit_test(test_endpoint_ip6),
        cmocka_unit_test(test_ip6_is_formatted_canonically),
        cmocka_unit_test(test_endpoint_with_peer),
        cmocka_unit_test(test_bare_peer),
        cmocka_unit_test(test_circuit_shapes),
        cmocka_unit_test(test_binary_known_bytes),
        cmocka_unit_test(test_binary_longest_fits),
        cmocka_unit_test(test_reject_bad_ip),
        cmocka_unit_test(test_reject_bad_port),
        cmocka_unit_test(test_reject_unknown_protocol),
        cmocka_unit_test(test_reject_bad_peer_id),
        cmocka_unit_test(test_reject_missing_value),
        cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_reject_trailing),
        cmocka_unit_test(test_reject_shape),
        cmocka_unit_test(test_reject_too_long),
        cmocka_unit_test(test_decode_reject_noncanonical),
        cmocka_unit_test(test_decode_reject_long_varint),
        cmocka_unit_test(test_decode_reject_truncated),
        cmocka_unit_test(test_decode_reject_too_big),
        cmocka_unit_test(test_decode_reject_unknown_protocol),
        cmocka_unit_test(test_decode_reject_shape_and_trailing),
        cmocka_unit_test(test_decode_peer_id_errors),
        cmocka_unit_test(test_encode_refuses_bad_shapes),
        cmocka_unit_test(test_format_no_space),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_socket_round_trip),
        cmocka_unit_test(test_peer_relay_circuit),
        cmocka_unit_test(test_decode_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
