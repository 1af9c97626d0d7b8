/* node/control_proto: the control messages of the DHT commands decode as
 * the CLI expects, their bounds hold (too many peers or buckets, a bucket
 * index past 255), and the largest answer the schemas allow, a peers
 * response of KNIT_CONTROL_MAX_PEERS entries at full length, fits in
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_peers_response_fits),
        cmocka_unit_test(test_peers_response_bounds),
        cmocka_unit_test(test_find_response),
        cmocka_unit_test(test_dht_table_response_bounds),
        cmocka_unit_test(test_bare_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
