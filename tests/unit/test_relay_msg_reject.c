/* The relay message decoder's refusals of bodies written by hand with the
 * message writer: unknown and ill-typed types, fields foreign to a type,
 * missing fields, peer IDs of the wrong length or prefix, unknown status
 * codes, limits of 0 or past their range, too many addresses and addresses
 * that are not a relay's endpoint, oversized bodies, trailing bytes and
 * every truncation of valid bodies. Valid messages are in test_relay_msg.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/relay_msg_fixtures.h"

/* The body must be refused with want, and the message left cleared. */
static void expect_decode(const uint8_t *body, size_t len, int want)
{
    static const struct knit_relay_msg zero;
    struct knit_relay_msg *out = test_malloc(sizeof *out);
    memset(out, 0xa5, sizeof *out);
    assert_int_equal(knit_relay_msg_decode(body, len, out), want);
    assert_memory_equal(out, &zero, sizeof *out);
    test_free(out);
}

static uint8_t scratch[2 * RELAY_FRAME_MAX];

static void start(struct knit_msg_writer *w, uint64_t type, uint32_t fields)
{
    knit_msg_writer_init(w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(w, type, fields), 0);
}

static void expect_writer_decode(struct knit_msg_writer *w, int want)
{
    size_t len;
    assert_int_equal(knit_msg_end(w, &len), 0);
    expect_decode(w->buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                  want);
}

static void put_peer(struct knit_msg_writer *w, unsigned key, uint8_t seed)
{
    struct knit_peer_id id;
    uint8_t b[KNIT_PEER_ID_BYTES];
    set_peer_id(&id, seed);
    knit_peer_id_to_bytes(&id, b);
    knit_msg_put_bin(w, key, b, sizeof b);
}

static void test_type(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    static const uint64_t unknown[] = { 0, 4, 9, 256 + KNIT_RELAY_RESERVE,
                                        UINT64_MAX };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        start(&w, unknown[i], 0);
        expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    }
    static const uint8_t not_map[] = { 0x91, 0x01 };
    expect_decode(not_map, sizeof not_map, KNIT_E_TYPE);
    static const uint8_t str_type[] = { 0x81, 0x00, 0xa1, 'x' };
    expect_decode(str_type, sizeof str_type, KNIT_E_TYPE);
    static const uint8_t no_type[] = { 0x81, 0x01, 0x01 };
    expect_decode(no_type, sizeof no_type, KNIT_E_MISSING);
    static const uint8_t neg_type[] = { 0x81, 0x00, 0xff };
    expect_decode(neg_type, sizeof neg_type, KNIT_E_TYPE);
    expect_decode(not_map, 0, KNIT_E_TRUNCATED);
    expect_decode(NULL, 0, KNIT_E_TRUNCATED);
    assert_int_equal(knit_relay_msg_decode(not_map, sizeof not_map, NULL),
                     KNIT_E_INVAL);
}

static void test_reserve(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    /* RESERVE carries nothing: any field is foreign. */
    for (unsigned key = 1; key <= 6; key++) {
        start(&w, KNIT_RELAY_RESERVE, 1);
        knit_msg_put_uint(&w, key, 1);
        expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    }
    start(&w, KNIT_RELAY_RESERVE, 1);
    put_peer(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
}

static void test_connect(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t id[KNIT_PEER_ID_BYTES + 1];
    struct knit_peer_id peer;
    set_peer_id(&peer, 1);
    knit_peer_id_to_bytes(&peer, id);
    id[KNIT_PEER_ID_BYTES] = 0;

    start(&w, KNIT_RELAY_CONNECT, 0);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_RELAY_CONNECT, 1);   /* only a limit */
    knit_msg_put_uint(&w, 2, 100);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_RELAY_CONNECT, 2);
    put_peer(&w, 1, 1);
    knit_msg_put_uint(&w, 4, 1);        /* STATUS's limit_seconds key */
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_RELAY_CONNECT, 2);
    put_peer(&w, 1, 1);
    knit_msg_put_array_begin(&w, 5, 0); /* STATUS's addrs */
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);

    /* Peer ID of the wrong length, type or prefix. */
    size_t lens[] = { 0, 1, 32, 37, 39 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        start(&w, KNIT_RELAY_CONNECT, 1);
        knit_msg_put_bin(&w, 1, id, lens[i]);
        expect_writer_decode(&w, KNIT_E_LENGTH);   /* a fixed size */
    }
    start(&w, KNIT_RELAY_CONNECT, 1);
    knit_msg_put_uint(&w, 1, 7);
    expect_writer_decode(&w, KNIT_E_TYPE);
    start(&w, KNIT_RELAY_CONNECT, 1);
    knit_msg_put_str(&w, 1, "12D3KooW", 8);
    expect_writer_decode(&w, KNIT_E_TYPE);
    id[3] ^= 1;
    start(&w, KNIT_RELAY_CONNECT, 1);
    knit_msg_put_bin(&w, 1, id, KNIT_PEER_ID_BYTES);
    expect_writer_decode(&w, KNIT_E_PREFIX);

    /* Limits: 0 is written by omission; seconds fit 32 bits. */
    start(&w, KNIT_RELAY_CONNECT, 2);
    put_peer(&w, 1, 1);
    knit_msg_put_uint(&w, 2, 0);
    expect_writer_decode(&w, KNIT_E_MALFORMED);
    start(&w, KNIT_RELAY_CONNECT, 3);
    put_peer(&w, 1, 1);
    knit_msg_put_uint(&w, 2, 5);
    knit_msg_put_uint(&w, 3, 0);
    expect_writer_decode(&w, KNIT_E_MALFORMED);
    start(&w, KNIT_RELAY_CONNECT, 2);
    put_peer(&w, 1, 1);
    knit_msg_put_uint(&w, 3, UINT64_C(1) << 32);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_RELAY_CONNECT, 2);
    put_peer(&w, 1, 1);
    knit_msg_put_bool(&w, 2, true);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_status_codes(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    start(&w, KNIT_RELAY_STATUS, 0);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_RELAY_STATUS, 1);
    knit_msg_put_uint(&w, 2, 3600);     /* expires without status */
    expect_writer_decode(&w, KNIT_E_MISSING);
    static const uint64_t unknown[] = { 0, 1, 99, 101, 199, 205, 300, 402,
                                        UINT16_MAX };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        start(&w, KNIT_RELAY_STATUS, 1);
        knit_msg_put_uint(&w, 1, unknown[i]);
        expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    }
    /* Not cut to 16 bits into a known code. */
    start(&w, KNIT_RELAY_STATUS, 1);
    knit_msg_put_uint(&w, 1, 65536 + KNIT_RELAY_OK);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_RELAY_STATUS, 1);
    knit_msg_put_bool(&w, 1, true);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_status_fields(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    put_peer(&w, 6, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 63, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 2, UINT64_C(1) << 32);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 3, 0);
    expect_writer_decode(&w, KNIT_E_MALFORMED);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 4, 0);
    expect_writer_decode(&w, KNIT_E_MALFORMED);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 4, UINT64_C(1) << 32);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_uint(&w, 5, 1);        /* addrs not an array */
    expect_writer_decode(&w, KNIT_E_TYPE);

    /* A duplicate key, written past the writer's own check. */
    static const uint8_t dup[] = { 0x83, 0x00, 0x03, 0x01, 0x64, 0x01, 0x64 };
    expect_decode(dup, sizeof dup, KNIT_E_DUPLICATE);
    /* Trailing bytes after a valid body. */
    static const uint8_t trailing[] = { 0x82, 0x00, 0x03, 0x01, 0x64, 0x00 };
    expect_decode(trailing, sizeof trailing, KNIT_E_TRAILING);
}

static void put_addrs(struct knit_msg_writer *w, uint32_t n,
                      const struct knit_multiaddr *ma)
{
    uint8_t b[KNIT_MA_BINARY_MAX];
    size_t len;
    assert_int_equal(knit_multiaddr_encode(ma, b, sizeof b, &len), 0);
    knit_msg_put_array_begin(w, 5, n);
    for (uint32_t i = 0; i < n; i++)
        knit_msg_add_bin(w, b, len);
    knit_msg_array_end(w);
}

static void expect_status_addr(const struct knit_multiaddr *ma, int want)
{
    struct knit_msg_writer w;
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    put_addrs(&w, 1, ma);
    expect_writer_decode(&w, want);
}

static void test_status_addrs(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    struct knit_multiaddr ma;
    set_relay_addr(&ma, false, 1, false);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    put_addrs(&w, KNIT_RELAY_MAX_ADDRS + 1, &ma);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);

    /* Shapes that are valid multiaddrs but not a relay's endpoint. */
    set_relay_addr(&ma, true, 1, true);
    ma.c[ma.count++].protocol = KNIT_MA_P2P_CIRCUIT;
    expect_status_addr(&ma, KNIT_E_SHAPE);
    ma.c[0] = ma.c[2];
    ma.count = 1;
    expect_status_addr(&ma, KNIT_E_SHAPE);

    /* Not multiaddrs at all, or empty. */
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_array_begin(&w, 5, 1);
    knit_msg_add_bin(&w, "\x04\x01\x02", 3);   /* /ip4 cut short */
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_TRUNCATED);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_array_begin(&w, 5, 1);
    knit_msg_add_bin(&w, "\x7f", 1);           /* unknown protocol 127 */
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_PROTOCOL);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_array_begin(&w, 5, 1);
    knit_msg_add_bin(&w, "", 0);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_LENGTH);
    static const uint8_t long_addr[KNIT_MA_BINARY_MAX + 1] = { 4 };
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_array_begin(&w, 5, 1);
    knit_msg_add_bin(&w, long_addr, sizeof long_addr);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_RELAY_STATUS, 2);
    knit_msg_put_uint(&w, 1, KNIT_RELAY_OK);
    knit_msg_put_array_begin(&w, 5, 1);
    knit_msg_add_str(&w, "/ip4/1.2.3.4", 12);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_oversized_body(void **state)
{
    (void)state;
    /* A valid STATUS padded into an over-long body is refused for its
     * length before anything is read. */
    static uint8_t body[KNIT_RELAY_MAX_MESSAGE + 1];
    body[0] = 0x82, body[1] = 0x00, body[2] = 0x03, body[3] = 0x01;
    body[4] = 0x64;
    expect_decode(body, sizeof body, KNIT_E_TOO_BIG);
    struct knit_relay_msg out;
    assert_int_equal(knit_relay_msg_decode(body, 5, &out), 0);
    assert_int_equal(out.status, KNIT_RELAY_OK);
}

/* Every proper prefix of a valid body is refused as truncated. */
static void expect_every_truncation(const struct knit_relay_msg *m)
{
    size_t len = encode_frame(m);
    const uint8_t *body = frame + KNIT_MSG_HEADER_LEN;
    struct knit_relay_msg out;
    assert_int_equal(knit_relay_msg_decode(body, len, &out), 0);
    for (size_t cut = 0; cut < len; cut++)
        expect_decode(body, cut, KNIT_E_TRUNCATED);
}

static void test_truncation(void **state)
{
    (void)state;
    struct knit_relay_msg m = { .type = KNIT_RELAY_RESERVE };
    expect_every_truncation(&m);
    m = (struct knit_relay_msg){ .type = KNIT_RELAY_CONNECT, .has_peer = true,
                                 .has_limit = true,
                                 .limit = { UINT64_C(1) << 40, 3600 } };
    set_peer_id(&m.peer, 4);
    expect_every_truncation(&m);
    m = (struct knit_relay_msg){
        .type = KNIT_RELAY_STATUS, .status = KNIT_RELAY_OK,
        .has_expires = true, .expires_s = 3600, .has_limit = true,
        .limit = { 1000000, 7200 }, .addr_count = 3,
    };
    set_relay_addr(&m.addrs[0], false, 1, true);
    set_relay_addr(&m.addrs[1], true, 2, true);
    set_relay_addr(&m.addrs[2], true, 3, false);
    expect_every_truncation(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_status_fields),
        cmocka_unit_test(test_status_addrs),
        cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
