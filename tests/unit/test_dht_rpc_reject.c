/* The DHT message decoder's refusals of bodies written by hand with the
 * message writer: unknown types, missing and foreign fields, wrong lengths
 * and counts, bad peer IDs, addresses that are not bare UDP endpoints,
 * oversized records and statuses, trailing bytes and every truncation of a
 * valid body. Valid messages are in test_dht_rpc.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dht/rpc.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "tests/support/dht_rpc_fixtures.h"
#include "transport/error.h"

/* The body must be refused with want, and the message left cleared. */
static void expect_decode(const uint8_t *body, size_t len, int want)
{
    static const struct knit_dht_msg zero;
    struct knit_dht_msg *out = test_malloc(sizeof *out);
    memset(out, 0xa5, sizeof *out);
    assert_int_equal(knit_dht_msg_decode(out, body, len), want);
    assert_memory_equal(out, &zero, sizeof *out);
    test_free(out);
}

static void expect_writer_decode(struct knit_msg_writer *w, int want)
{
    size_t len;
    assert_int_equal(knit_msg_end(w, &len), 0);
    expect_decode(w->buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                  want);
}

/* ---- the decoder's refusals ---------------------------------------------------------- */

static uint8_t scratch[FRAME_MAX];

static void start(struct knit_msg_writer *w, uint64_t type, uint32_t fields)
{
    knit_msg_writer_init(w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(w, type, fields), 0);
}

static void test_decode_unknown_type(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    start(&w, 0, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    start(&w, 10, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    start(&w, 256 + KNIT_DHT_PING, 1);   /* not truncated to a known type */
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);

    /* Not a map, and empty. */
    static const uint8_t not_map[] = { 0x91, 0x01 };
    expect_decode(not_map, sizeof not_map, KNIT_E_TYPE);
    expect_decode(not_map, 0, KNIT_E_TRUNCATED);
}

static void test_decode_missing_and_foreign(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t key[KNIT_DHT_KEY_LEN] = {0};

    start(&w, KNIT_DHT_PING, 0);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_DHT_FIND_NODE, 1);
    knit_msg_put_bin(&w, 2, key, sizeof key);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_DHT_FIND_NODE, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_DHT_NODES, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_DHT_PUT_RECORD, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);
    start(&w, KNIT_DHT_PUT_RESULT, 1);
    knit_msg_put_uint(&w, 1, 1);
    expect_writer_decode(&w, KNIT_E_MISSING);

    /* A key where PING has none; a record in NODES. */
    start(&w, KNIT_DHT_PING, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, key, sizeof key);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, KNIT_DHT_NODES, 3);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_array_begin(&w, 2, 0);
    knit_msg_array_end(&w);
    knit_msg_put_bin(&w, 3, key, sizeof key);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);

    /* The id as bytes. */
    start(&w, KNIT_DHT_PING, 1);
    knit_msg_put_bin(&w, 1, key, 8);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_decode_key_length(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    uint8_t key[KNIT_DHT_KEY_LEN + 1] = {0};
    static const size_t lens[] = { 0, 1, KNIT_DHT_KEY_LEN - 1,
                                   KNIT_DHT_KEY_LEN + 1 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        start(&w, KNIT_DHT_GET_RECORD, 2);
        knit_msg_put_uint(&w, 1, 1);
        knit_msg_put_bin(&w, 2, key, lens[i]);
        expect_writer_decode(&w, KNIT_E_LENGTH);
    }
}

/* Writes a peer map with the given ID bytes and address bytes. */
static void put_peer(struct knit_msg_writer *w, const uint8_t *id,
                     size_t id_len, const uint8_t *const *addrs,
                     const size_t *addr_lens, uint32_t naddrs)
{
    knit_msg_add_map_begin(w, 2);
    knit_msg_put_bin(w, 1, id, id_len);
    knit_msg_put_array_begin(w, 2, naddrs);
    for (uint32_t i = 0; i < naddrs; i++)
        knit_msg_add_bin(w, addrs[i], addr_lens[i]);
    knit_msg_array_end(w);
    knit_msg_map_end(w);
}

struct wire_peer {
    uint8_t id[KNIT_PEER_ID_BYTES];
    uint8_t addr[KNIT_MA_BINARY_MAX];
    size_t addr_len;
};

static void make_wire_peer(struct wire_peer *wp, uint8_t i)
{
    struct knit_dht_peer_info p;
    set_peer(&p, i, 1, false);
    knit_peer_id_to_bytes(&p.id, wp->id);
    struct knit_multiaddr ma;
    assert_int_equal(knit_multiaddr_from_socket(&ma, &p.addrs[0], NULL), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, wp->addr, sizeof wp->addr,
                                           &wp->addr_len), 0);
}

/* A NODES message of npeers peers, each with naddrs copies of its
 * address. */
static void write_nodes(struct knit_msg_writer *w, uint32_t npeers,
                        uint32_t naddrs)
{
    const uint8_t *addrs[KNIT_DHT_MAX_PEER_ADDRS + 2];
    size_t lens[KNIT_DHT_MAX_PEER_ADDRS + 2];
    start(w, KNIT_DHT_NODES, 2);
    knit_msg_put_uint(w, 1, 1);
    knit_msg_put_array_begin(w, 2, npeers);
    for (uint32_t i = 0; i < npeers; i++) {
        struct wire_peer wp;
        make_wire_peer(&wp, (uint8_t)i);
        for (uint32_t k = 0; k < naddrs; k++)
            addrs[k] = wp.addr, lens[k] = wp.addr_len;
        put_peer(w, wp.id, sizeof wp.id, addrs, lens, naddrs);
    }
    knit_msg_array_end(w);
}

static void test_decode_counts(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    size_t len;

    /* The limits themselves pass... */
    write_nodes(&w, KNIT_DHT_MAX_PEERS, KNIT_DHT_MAX_PEER_ADDRS);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_dht_msg m;
    assert_int_equal(knit_dht_msg_decode(&m, scratch + KNIT_MSG_HEADER_LEN,
                                         len - KNIT_MSG_HEADER_LEN), 0);
    assert_int_equal(m.peer_count, KNIT_DHT_MAX_PEERS);
    assert_int_equal(m.peers[19].addr_count, KNIT_DHT_MAX_PEER_ADDRS);

    /* ...one more does not, and neither does a peer without addresses. */
    write_nodes(&w, KNIT_DHT_MAX_PEERS + 1, 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    write_nodes(&w, 1, KNIT_DHT_MAX_PEER_ADDRS + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    write_nodes(&w, 1, 0);
    expect_writer_decode(&w, KNIT_E_LENGTH);
}

/* A NODES message holding one peer with this ID and one address. */
static void expect_peer_refused(const uint8_t *id, size_t id_len,
                                const uint8_t *addr, size_t addr_len,
                                int want)
{
    struct knit_msg_writer w;
    start(&w, KNIT_DHT_NODES, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_array_begin(&w, 2, 1);
    put_peer(&w, id, id_len, &addr, &addr_len, 1);
    knit_msg_array_end(&w);
    expect_writer_decode(&w, want);
}

static size_t ma_bytes(const char *text, uint8_t *out)
{
    struct knit_multiaddr ma;
    size_t len;
    assert_int_equal(knit_multiaddr_parse(&ma, text, strlen(text)), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, out, KNIT_MA_BINARY_MAX,
                                           &len), 0);
    return len;
}

static void test_decode_bad_peer(void **state)
{
    (void)state;
    struct wire_peer wp;
    make_wire_peer(&wp, 3);

    /* Unchanged, this peer passes (test_decode_counts). */
    /* Peer ID: wrong prefix, wrong length. */
    uint8_t id[KNIT_PEER_ID_BYTES + 1];
    memcpy(id, wp.id, sizeof wp.id);
    id[3] ^= 1;
    expect_peer_refused(id, KNIT_PEER_ID_BYTES, wp.addr, wp.addr_len,
                        KNIT_E_PREFIX);
    memcpy(id, wp.id, sizeof wp.id);
    expect_peer_refused(id, KNIT_PEER_ID_BYTES - 1, wp.addr, wp.addr_len,
                        KNIT_E_LENGTH);
    expect_peer_refused(id, KNIT_PEER_ID_BYTES + 1, wp.addr, wp.addr_len,
                        KNIT_E_LENGTH);

    /* Addresses that are valid multiaddrs but not bare UDP endpoints. */
    char text[KNIT_MA_TEXT_MAX], relay[KNIT_PEER_ID_TEXT_MAX];
    struct knit_dht_peer_info p;
    set_peer(&p, 9, 1, false);
    assert_int_equal(knit_peer_id_to_text(&p.id, relay, sizeof relay), 0);
    static const char *const shapes[] = {
        "/ip4/203.0.113.5/udp/4001/p2p/%s",
        "/ip6/2001:db8::5/udp/4001/p2p/%s",
        "/p2p/%s",
        "/p2p/%s/p2p-circuit",
        "/ip4/203.0.113.5/udp/4001/p2p/%s/p2p-circuit",
    };
    uint8_t bin[KNIT_MA_BINARY_MAX];
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        snprintf(text, sizeof text, shapes[i], relay);
        size_t n = ma_bytes(text, bin);
        expect_peer_refused(wp.id, sizeof wp.id, bin, n, KNIT_E_SHAPE);
    }

    /* A lone /ip4, and an address cut short or with junk after it. */
    static const uint8_t lone_ip4[] = { 0x04, 203, 0, 113, 5 };
    expect_peer_refused(wp.id, sizeof wp.id, lone_ip4, sizeof lone_ip4,
                        KNIT_E_SHAPE);
    expect_peer_refused(wp.id, sizeof wp.id, wp.addr, wp.addr_len - 1,
                        KNIT_E_TRUNCATED);
    memcpy(bin, wp.addr, wp.addr_len);
    bin[wp.addr_len] = 0x04;   /* a second /ip4 */
    expect_peer_refused(wp.id, sizeof wp.id, bin, wp.addr_len + 1,
                        KNIT_E_SHAPE);
    /* An address over the multiaddr limit is the schema's to refuse. */
    uint8_t huge[KNIT_MA_BINARY_MAX + 1];
    memset(huge, 0x04, sizeof huge);
    expect_peer_refused(wp.id, sizeof wp.id, huge, sizeof huge,
                        KNIT_E_TOO_BIG);
}

static void test_decode_record_size(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    fill_record(KNIT_RECORD_MAX_BYTES + 1);

    start(&w, KNIT_DHT_PUT_RECORD, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, big_record, KNIT_RECORD_MAX_BYTES + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_DHT_PUT_RECORD, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_bin(&w, 2, big_record, 0);
    expect_writer_decode(&w, KNIT_E_LENGTH);

    start(&w, KNIT_DHT_RECORD, 3);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_array_begin(&w, 2, 0);
    knit_msg_array_end(&w);
    knit_msg_put_bin(&w, 3, big_record, KNIT_RECORD_MAX_BYTES + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);

    /* Over the frame limit, whatever the body holds. */
    memset(scratch, 0, sizeof scratch);
    expect_decode(scratch, KNIT_DHT_MAX_MESSAGE + 1, KNIT_E_TOO_BIG);
}

static void test_decode_status(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    start(&w, KNIT_DHT_PUT_RESULT, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_uint(&w, 2, KNIT_DHT_STATUS_MAX + 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, KNIT_DHT_ERROR, 2);
    knit_msg_put_uint(&w, 1, 1);
    knit_msg_put_uint(&w, 2, 256 + KNIT_DHT_OK);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
}

/* A full RECORD message: with a byte after it, and cut at every length. */
static void test_decode_trailing_and_truncated(void **state)
{
    (void)state;
    struct knit_dht_msg m;
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_RECORD;
    m.id = UINT64_MAX - 1;
    m.peer_count = 3;
    for (uint8_t i = 0; i < 3; i++)
        set_peer(&m.peers[i], i, (uint8_t)(i + 2), i == 1);
    fill_record(300);
    m.record = big_record;
    m.record_len = 300;
    size_t len = encode(&m);
    uint8_t *body = test_malloc(len + 1);
    memcpy(body, frame + KNIT_MSG_HEADER_LEN, len);
    body[len] = 0xc0;
    expect_decode(body, len + 1, KNIT_E_TRAILING);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past it. */
        uint8_t *cut = test_malloc(n ? n : 1);
        memcpy(cut, body, n);
        struct knit_dht_msg out;
        int err = knit_dht_msg_decode(&out, cut, n);
        assert_true(err < 0);
        assert_int_equal(out.type, 0);
        assert_int_equal(out.peer_count, 0);
        test_free(cut);
    }
    test_free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_unknown_type),
        cmocka_unit_test(test_decode_missing_and_foreign),
        cmocka_unit_test(test_decode_key_length),
        cmocka_unit_test(test_decode_counts),
        cmocka_unit_test(test_decode_bad_peer),
        cmocka_unit_test(test_decode_record_size),
        cmocka_unit_test(test_decode_status),
        cmocka_unit_test(test_decode_trailing_and_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
