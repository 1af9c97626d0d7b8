/* DHT messages that are valid: every type encoded and decoded back
 * (fullest and emptiest forms, IPv4 and IPv6), foreign fields left out,
 * which types are requests, and the encoder's refusals, including every
 * buffer too small for the frame. The decoder's refusals are in
 * test_dht_rpc_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/rpc.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "tests/support/dht_rpc_fixtures.h"
#include "transport/error.h"

/* ---- building messages ------------------------------------------------------ */

static void set_key(struct knit_dht_key *key, uint8_t seed)
{
    for (size_t k = 0; k < sizeof key->b; k++)
        key->b[k] = (uint8_t)(seed ^ (k * 31));
}

/* ---- checking ---------------------------------------------------------------- */

static void expect_same(const struct knit_dht_msg *a,
                        const struct knit_dht_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(a->id == b->id);
    if (a->type == KNIT_DHT_FIND_NODE || a->type == KNIT_DHT_GET_RECORD)
        assert_memory_equal(a->key.b, b->key.b, sizeof a->key.b);
    if (a->type == KNIT_DHT_NODES || a->type == KNIT_DHT_RECORD) {
        assert_int_equal(a->peer_count, b->peer_count);
        for (size_t i = 0; i < a->peer_count; i++) {
            const struct knit_dht_peer_info *pa = &a->peers[i],
                                            *pb = &b->peers[i];
            assert_true(knit_peer_id_equal(&pa->id, &pb->id));
            assert_int_equal(pa->addr_count, pb->addr_count);
            for (size_t k = 0; k < pa->addr_count; k++)
                assert_true(knit_addr_equal(&pa->addrs[k], &pb->addrs[k]));
        }
    }
    if (a->type == KNIT_DHT_RECORD || a->type == KNIT_DHT_PUT_RECORD) {
        assert_int_equal(a->record_len, b->record_len);
        if (a->record_len)
            assert_memory_equal(a->record, b->record, a->record_len);
        else
            assert_null(b->record);
    }
    if (a->type == KNIT_DHT_PUT_RESULT || a->type == KNIT_DHT_ERROR)
        assert_int_equal(a->status, b->status);
}

static void round_trip(const struct knit_dht_msg *m)
{
    size_t body_len = encode(m);
    struct knit_dht_msg *out = test_malloc(sizeof *out);
    memset(out, 0xa5, sizeof *out);
    assert_int_equal(
        knit_dht_msg_decode(out, frame + KNIT_MSG_HEADER_LEN, body_len), 0);
    expect_same(m, out);
    /* The record is not copied: it points into the body. */
    if (out->record_len)
        assert_true(out->record > frame && out->record < frame + sizeof frame);
    test_free(out);
}

/* ---- round trips -------------------------------------------------------------- */

static void test_round_trip_small(void **state)
{
    (void)state;
    struct knit_dht_msg m;

    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_PING;
    round_trip(&m);
    m.type = KNIT_DHT_PONG;
    m.id = UINT64_MAX;
    round_trip(&m);

    for (uint8_t t = KNIT_DHT_FIND_NODE; t <= KNIT_DHT_GET_RECORD; t += 2) {
        memset(&m, 0, sizeof m);
        m.type = t;
        m.id = 0x1234567890ull;
        set_key(&m.key, t);
        round_trip(&m);
    }

    for (uint8_t t = KNIT_DHT_PUT_RESULT; t <= KNIT_DHT_ERROR; t++) {
        for (uint8_t st = 0; st <= KNIT_DHT_STATUS_MAX; st++) {
            memset(&m, 0, sizeof m);
            m.type = t;
            m.id = st;
            m.status = st;
            round_trip(&m);
        }
    }
}

static void test_round_trip_peers(void **state)
{
    (void)state;
    struct knit_dht_msg m;

    /* No peers at all: an empty answer is a valid one. */
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_NODES;
    m.id = 9;
    round_trip(&m);

    /* One IPv4-only and one IPv6-only peer. */
    m.peer_count = 2;
    set_peer(&m.peers[0], 1, 1, false);
    set_peer(&m.peers[1], 2, 1, true);
    round_trip(&m);

    /* The most peers, each with the most addresses. */
    m.peer_count = KNIT_DHT_MAX_PEERS;
    for (uint8_t i = 0; i < KNIT_DHT_MAX_PEERS; i++)
        set_peer(&m.peers[i], i, KNIT_DHT_MAX_PEER_ADDRS, i % 2 == 0);
    round_trip(&m);
}

static void test_round_trip_record(void **state)
{
    (void)state;
    struct knit_dht_msg m;

    /* RECORD without a record, with and without peers. */
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_RECORD;
    m.id = 77;
    round_trip(&m);
    m.peer_count = 3;
    for (uint8_t i = 0; i < 3; i++)
        set_peer(&m.peers[i], i, (uint8_t)(i + 1), true);
    round_trip(&m);

    /* The largest message there is: every peer at its fullest, all IPv6,
     * and a record at its limit. It must fit the frame limit. */
    fill_record(KNIT_RECORD_MAX_BYTES);
    m.peer_count = KNIT_DHT_MAX_PEERS;
    for (uint8_t i = 0; i < KNIT_DHT_MAX_PEERS; i++) {
        set_peer(&m.peers[i], i, KNIT_DHT_MAX_PEER_ADDRS, true);
        for (size_t k = 0; k < KNIT_DHT_MAX_PEER_ADDRS; k++)
            set_addr(&m.peers[i].addrs[k], true, (uint8_t)(i * 4 + k));
    }
    m.record = big_record;
    m.record_len = KNIT_RECORD_MAX_BYTES;
    m.id = UINT64_MAX;
    assert_true(encode(&m) <= KNIT_DHT_MAX_MESSAGE);
    round_trip(&m);

    /* A small record, no peers. */
    m.peer_count = 0;
    m.record_len = 1;
    round_trip(&m);

    /* PUT_RECORD at both ends of the record's size. */
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_PUT_RECORD;
    m.id = 3;
    m.record = big_record;
    m.record_len = 1;
    round_trip(&m);
    m.record_len = KNIT_RECORD_MAX_BYTES;
    round_trip(&m);
}

/* Fields that do not belong to the type are not written. */
static void test_foreign_fields_ignored(void **state)
{
    (void)state;
    struct knit_dht_msg m, out;
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_NODES;
    m.id = 5;
    set_key(&m.key, 1);
    m.peer_count = 1;
    set_peer(&m.peers[0], 1, 1, false);
    fill_record(10);
    m.record = big_record;
    m.record_len = 10;
    m.status = 200;
    size_t len = encode(&m);
    assert_int_equal(knit_dht_msg_decode(&out, frame + KNIT_MSG_HEADER_LEN,
                                         len), 0);
    assert_int_equal(out.record_len, 0);
    assert_null(out.record);
    assert_int_equal(out.status, 0);
    assert_int_equal(out.peer_count, 1);
    struct knit_dht_key zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(out.key.b, zero.b, sizeof zero.b);
}

static void test_is_request(void **state)
{
    (void)state;
    for (unsigned t = 0; t < 256; t++) {
        bool want = t == KNIT_DHT_PING || t == KNIT_DHT_FIND_NODE ||
                    t == KNIT_DHT_GET_RECORD || t == KNIT_DHT_PUT_RECORD;
        assert_int_equal(knit_dht_msg_is_request((uint8_t)t), want);
    }
}

/* ---- the encoder's refusals ------------------------------------------------------ */

static void expect_encode(const struct knit_dht_msg *m, int want)
{
    size_t len = 99;
    memset(frame, 0x5a, sizeof frame);
    assert_int_equal(knit_dht_msg_encode(m, frame, sizeof frame, &len), want);
    assert_int_equal(len, 0);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    struct knit_dht_msg m;

    memset(&m, 0, sizeof m);
    expect_encode(&m, KNIT_E_INVAL);   /* type 0 */
    m.type = 10;
    expect_encode(&m, KNIT_E_INVAL);

    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_NODES;
    m.peer_count = KNIT_DHT_MAX_PEERS + 1;
    for (uint8_t i = 0; i < KNIT_DHT_MAX_PEERS; i++)
        set_peer(&m.peers[i], i, 1, false);
    expect_encode(&m, KNIT_E_INVAL);
    m.peer_count = 1;
    m.peers[0].addr_count = KNIT_DHT_MAX_PEER_ADDRS + 1;
    expect_encode(&m, KNIT_E_INVAL);
    m.peers[0].addr_count = 0;
    expect_encode(&m, KNIT_E_INVAL);
    m.peers[0].addr_count = 1;
    m.peers[0].addrs[0].family = 0;
    expect_encode(&m, KNIT_E_INVAL);
    m.peers[0].addrs[0].family = 5;
    expect_encode(&m, KNIT_E_INVAL);

    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_RECORD;
    m.record = big_record;
    m.record_len = KNIT_RECORD_MAX_BYTES + 1;
    expect_encode(&m, KNIT_E_INVAL);
    m.record = NULL;
    m.record_len = 10;
    expect_encode(&m, KNIT_E_INVAL);

    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_PUT_RECORD;
    expect_encode(&m, KNIT_E_INVAL);   /* no record */
    m.record = big_record;
    m.record_len = KNIT_RECORD_MAX_BYTES + 1;
    expect_encode(&m, KNIT_E_INVAL);

    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_PUT_RESULT;
    m.status = KNIT_DHT_STATUS_MAX + 1;
    expect_encode(&m, KNIT_E_INVAL);
    m.type = KNIT_DHT_ERROR;
    expect_encode(&m, KNIT_E_INVAL);
}

/* Every buffer smaller than the frame is refused, and nothing is written
 * past its end. */
static void test_encode_no_space(void **state)
{
    (void)state;
    struct knit_dht_msg m;
    memset(&m, 0, sizeof m);
    m.type = KNIT_DHT_RECORD;
    m.id = 1000000;
    m.peer_count = 2;
    set_peer(&m.peers[0], 1, 2, true);
    set_peer(&m.peers[1], 2, 3, false);
    fill_record(40);
    m.record = big_record;
    m.record_len = 40;
    size_t need = encode(&m) + KNIT_MSG_HEADER_LEN;
    for (size_t cap = 0; cap < need; cap++) {
        size_t len = 1;
        memset(frame, 0x5a, sizeof frame);
        assert_int_equal(knit_dht_msg_encode(&m, frame, cap, &len),
                         KNIT_E_NO_SPACE);
        assert_int_equal(len, 0);
        for (size_t k = cap; k < need; k++)
            assert_int_equal(frame[k], 0x5a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_small),
        cmocka_unit_test(test_round_trip_peers),
        cmocka_unit_test(test_round_trip_record),
        cmocka_unit_test(test_foreign_fields_ignored),
        cmocka_unit_test(test_is_request),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_encode_no_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
