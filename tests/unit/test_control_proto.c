/* node/control_proto: the control messages of the DHT commands and of
 * `knit status` decode as the CLI expects, their bounds hold (too many
 * peers, buckets, observed or relayed addresses, a bucket index past 255,
 * an enum or confidence past its last value, a port past 65535), and the
 * largest answer the schemas allow, a peers response of
 * KNIT_CONTROL_MAX_PEERS entries at full length, fits in
 * KNIT_CONTROL_MAX_MSG with exactly the size the header computes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/control_proto.h"
#include "node/observed.h"
#include "proto/record.h"
#include "proto/multiaddr.h"
#include "proto/peer_id.h"
#include "transport/error.h"

#define ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"

/* Writes a peers response of n entries, every string as long as the schema
 * allows; returns knit_msg_end()'s result. */
static int write_peers(uint8_t *buf, size_t cap, uint32_t n, size_t *len)
{
    char id[KNIT_PEER_ID_TEXT_MAX], path[16], addr[KNIT_MA_TEXT_MAX - 1];
    memset(id, '1', sizeof id);
    memset(path, 'd', sizeof path);
    memset(addr, '/', sizeof addr);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_CTL_PEERS_RESPONSE, 1);
    knit_msg_put_array_begin(&w, 1, n);
    for (uint32_t i = 0; i < n; i++) {
        knit_msg_add_map_begin(&w, 4);
        knit_msg_put_str(&w, 1, id, sizeof id);
        knit_msg_put_str(&w, 2, path, sizeof path);
        knit_msg_put_str(&w, 3, addr, sizeof addr);
        knit_msg_put_uint(&w, 4, UINT64_MAX);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    return knit_msg_end(&w, len);
}

static void test_full_peers_response_fits(void **state)
{
    (void)state;
    size_t cap = KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len;
    assert_int_equal(write_peers(buf, cap, KNIT_CONTROL_MAX_PEERS, &len), 0);
    /* map, type key and value, key 1, array16 header: 7 bytes around. */
    assert_int_equal(len - KNIT_MSG_HEADER_LEN,
                     KNIT_CONTROL_MAX_PEERS * KNIT_CONTROL_PEER_ENTRY_MAX + 7);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(buf, len, KNIT_CONTROL_MAX_MSG, &fr), 0);
    struct knit_msg m, entry;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len,
                                     &knit_control_peers_response, &m), 0);
    struct knit_msg_iter it;
    uint32_t n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 1), 0);
    while (knit_msg_next_map(&it, &entry) == 0) {
        assert_int_equal(knit_msg_uint(&entry, 4), UINT64_MAX);
        n++;
    }
    assert_int_equal(n, KNIT_CONTROL_MAX_PEERS);
    free(buf);
}

static void test_peers_response_bounds(void **state)
{
    (void)state;
    size_t cap = 2 * KNIT_CONTROL_MAX_MSG;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len;
    struct knit_msg m;
    assert_int_equal(write_peers(buf, cap, 0, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_response, &m), 0);
    assert_int_equal(write_peers(buf, cap, KNIT_CONTROL_MAX_PEERS + 1, &len),
                     0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_response, &m),
                     KNIT_E_TOO_BIG);
    free(buf);
}

static void test_find_response(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    char addr[KNIT_MA_TEXT_MAX - 1];
    memset(addr, 'a', sizeof addr);
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_RESPONSE, 5);
    knit_msg_put_str(&w, 1, ID, strlen(ID));
    knit_msg_put_array_begin(&w, 2, KNIT_CONTROL_MAX_ADDRS);
    for (int i = 0; i < KNIT_CONTROL_MAX_ADDRS; i++)
        knit_msg_add_str(&w, addr, sizeof addr);
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 3, 4);
    knit_msg_put_uint(&w, 4, 11);
    knit_msg_put_uint(&w, 5, 12345);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_msg m;
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_response, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 3), 4);
    assert_int_equal(knit_msg_uint(&m, 4), 11);
    assert_int_equal(knit_msg_uint(&m, 5), 12345);

    /* The request: a peer ID, nothing else. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_REQUEST, 1);
    knit_msg_put_str(&w, 1, ID, strlen(ID));
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_request, &m), 0);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_request, &m),
                     KNIT_E_MISSING);
}

/* A table response with n buckets, the last of them at index last. */
static int table_decode(uint32_t n, uint64_t last)
{
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_DHT_TABLE_RESPONSE, 4);
    knit_msg_put_str(&w, 1, KNIT_CONTROL_MODE_SERVER,
                     strlen(KNIT_CONTROL_MODE_SERVER));
    knit_msg_put_uint(&w, 2, 20 * n);
    knit_msg_put_uint(&w, 3, 7);
    knit_msg_put_array_begin(&w, 4, n);
    for (uint32_t i = 0; i < n; i++) {
        knit_msg_add_map_begin(&w, 3);
        knit_msg_put_uint(&w, 1, i + 1 == n ? last : i);
        knit_msg_put_uint(&w, 2, 20);
        knit_msg_put_uint(&w, 3, 8);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_msg m;
    return knit_msg_decode(buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                           &knit_control_dht_table_response, &m);
}

static void test_dht_table_response_bounds(void **state)
{
    (void)state;
    assert_int_equal(table_decode(0, 0), 0);
    assert_int_equal(table_decode(KNIT_CONTROL_MAX_BUCKETS, 255), 0);
    assert_int_equal(table_decode(1, 256), KNIT_E_TOO_BIG);
    assert_int_equal(table_decode(KNIT_CONTROL_MAX_BUCKETS + 1, 3),
                     KNIT_E_TOO_BIG);
}

static void test_bare_requests(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct knit_msg_writer w;
    size_t len;
    struct knit_msg m;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_PEERS_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_request, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), KNIT_CTL_PEERS_REQUEST);
    /* A field where none is expected. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_DHT_TABLE_REQUEST, 1);
    knit_msg_put_uint(&w, 1, 1);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_dht_table_request, &m),
                     KNIT_E_UNKNOWN_FIELD);
}

/* ---- status ------------------------------------------------------------ */

/* A status response as the daemon writes it, with knobs to break it. */
struct status_case {
    uint64_t field[16];        /* keys 2..15; 7 and 8 are bools */
    uint32_t observed, relays; /* entries, each string at full length */
    uint64_t observed_confidence;
    bool observed_without_trusted;
    bool nat_as_uint;          /* key 7 (behind a NAT) as 1, not true */
    unsigned omit;             /* a top-level key left out; 0: none */
};

static void status_defaults(struct status_case *c)
{
    memset(c, 0, sizeof *c);
    c->field[2] = KNIT_REACHABILITY_PRIVATE;
    c->field[3] = 3;
    c->field[4] = 2;
    c->field[5] = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
    c->field[6] = KNIT_CONFIDENCE_HIGH;
    c->field[7] = 1;
    c->field[8] = 0;
    c->field[9] = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
    c->field[10] = KNIT_CONFIDENCE_LOW;
    c->field[13] = 4002;
    c->field[14] = 5;
    c->field[15] = UINT32_MAX;
    c->observed = 1;
    c->relays = 1;
    c->observed_confidence = KNIT_CONFIDENCE_HIGH;
}

static void put_status_scalar(struct knit_msg_writer *w,
                              const struct status_case *c, unsigned key)
{
    if ((key == 7 && !c->nat_as_uint) || key == 8)
        knit_msg_put_bool(w, key, c->field[key] != 0);
    else
        knit_msg_put_uint(w, key, c->field[key]);
}

static int status_decode(const struct status_case *c, uint8_t *buf,
                         size_t cap, struct knit_msg *m)
{
    char addr[KNIT_MA_TEXT_MAX - 1];
    memset(addr, '/', sizeof addr);
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_CTL_STATUS_RESPONSE, c->omit ? 14 : 15);
    for (unsigned key = 1; key <= 15; key++) {
        if (key == c->omit)
            continue;
        if (key == 1) {
            knit_msg_put_str(&w, 1, ID, strlen(ID));
        } else if (key == 11) {
            knit_msg_put_array_begin(&w, 11, c->observed);
            for (uint32_t i = 0; i < c->observed; i++) {
                knit_msg_add_map_begin(&w, c->observed_without_trusted ? 3 : 4);
                knit_msg_put_str(&w, 1, addr, sizeof addr);
                knit_msg_put_uint(&w, 2, 3 + i);
                if (!c->observed_without_trusted)
                    knit_msg_put_bool(&w, 3, i == 0);
                knit_msg_put_uint(&w, 4, c->observed_confidence);
                knit_msg_map_end(&w);
            }
            knit_msg_array_end(&w);
        } else if (key == 12) {
            knit_msg_put_array_begin(&w, 12, c->relays);
            for (uint32_t i = 0; i < c->relays; i++)
                knit_msg_add_str(&w, addr, sizeof addr);
            knit_msg_array_end(&w);
        } else {
            put_status_scalar(&w, c, key);
        }
    }
    assert_int_equal(knit_msg_end(&w, &len), 0);
    return knit_msg_decode(buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                           &knit_control_status_response, m);
}

static void test_status_round_trip(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m, e;
    status_defaults(&c);
    /* The largest response: every list full, every string at its limit. */
    c.observed = KNIT_CONTROL_MAX_OBSERVED;
    c.relays = KNIT_CONTROL_MAX_RELAYS;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), 0);
    size_t len;
    const uint8_t *id = knit_msg_bytes(&m, 1, &len);
    assert_int_equal(len, strlen(ID));
    assert_memory_equal(id, ID, len);
    for (unsigned key = 2; key <= 15; key++)
        if (key != 11 && key != 12)
            assert_int_equal(knit_msg_uint(&m, key), c.field[key]);
    struct knit_msg_iter it;
    uint32_t n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 11), 0);
    while (knit_msg_next_map(&it, &e) == 0) {
        knit_msg_bytes(&e, 1, &len);
        assert_int_equal(len, KNIT_MA_TEXT_MAX - 1);
        assert_int_equal(knit_msg_uint(&e, 2), 3 + n);
        assert_int_equal(knit_msg_uint(&e, 3), n == 0);
        assert_int_equal(knit_msg_uint(&e, 4), KNIT_CONFIDENCE_HIGH);
        n++;
    }
    assert_int_equal(n, KNIT_CONTROL_MAX_OBSERVED);
    const uint8_t *p;
    n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 12), 0);
    while (knit_msg_next_bytes(&it, &p, &len) == 0)
        n++;
    assert_int_equal(n, KNIT_CONTROL_MAX_RELAYS);
    /* Nothing observed and no relay yet is a valid answer too. */
    c.observed = c.relays = 0;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), 0);

    /* The request: its type alone. */
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_STATUS_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_status_request, &m), 0);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_STATUS_REQUEST, 1);
    knit_msg_put_uint(&w, 1, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_status_request, &m),
                     KNIT_E_UNKNOWN_FIELD);
}

/* One value past its bound in field key: refused as too big. */
static int status_with(unsigned key, uint64_t value)
{
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m;
    status_defaults(&c);
    c.field[key] = value;
    return status_decode(&c, buf, sizeof buf, &m);
}

static void test_status_refusals(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m;
    /* Enums and confidences end at their last value. */
    assert_int_equal(status_with(2, KNIT_REACHABILITY_PRIVATE), 0);
    assert_int_equal(status_with(2, KNIT_REACHABILITY_PRIVATE + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(3, 4), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(5, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(6, KNIT_CONFIDENCE_HIGH + 1), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(9, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(10, KNIT_CONFIDENCE_HIGH + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(4, (uint64_t)UINT32_MAX + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(13, 65535), 0);
    assert_int_equal(status_with(13, 65536), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(14, (uint64_t)UINT32_MAX + 1),
                     KNIT_E_TOO_BIG);

    status_defaults(&c);
    c.observed = KNIT_CONTROL_MAX_OBSERVED + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.relays = KNIT_CONTROL_MAX_RELAYS + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.observed_confidence = KNIT_CONFIDENCE_HIGH + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.observed_without_trusted = true;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_MISSING);
    status_defaults(&c);
    c.nat_as_uint = true;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TYPE);
    /* Every field is required. */
    for (unsigned key = 1; key <= 15; key++) {
        status_defaults(&c);
        c.omit = key;
        assert_int_equal(status_decode(&c, buf, sizeof buf, &m),
                         KNIT_E_MISSING);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_peers_response_fits),
        cmocka_unit_test(test_peers_response_bounds),
        cmocka_unit_test(test_find_response),
        cmocka_unit_test(test_dht_table_response_bounds),
        cmocka_unit_test(test_bare_requests),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_status_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
