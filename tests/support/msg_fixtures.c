#include "msg_fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>

#include <cmocka.h>

static const struct knit_msg_field leaf_fields[] = {
    KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, 1000),
    KNIT_MSG_F_ARRAY_OF_STR(1, KNIT_MSG_OPTIONAL, 0, 4, 0, 16),
};
const struct knit_msg_schema knit_test_msg_leaf_schema =
    KNIT_MSG_SCHEMA(leaf_fields);

static const struct knit_msg_field peer_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, 32, 32),
    KNIT_MSG_F_ARRAY_OF_BIN(2, KNIT_MSG_OPTIONAL, 0, 8, 1, 64),
    KNIT_MSG_F_MAP(3, KNIT_MSG_OPTIONAL, &knit_test_msg_leaf_schema),
};
static const struct knit_msg_schema peer_schema = KNIT_MSG_SCHEMA(peer_fields);

static const struct knit_msg_field inner_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_OPTIONAL, 0, 32),
    KNIT_MSG_F_BOOL(2, KNIT_MSG_REQUIRED),
};
static const struct knit_msg_schema inner_schema =
    KNIT_MSG_SCHEMA(inner_fields);

static const struct knit_msg_field top_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 1000000),
    KNIT_MSG_F_BOOL(2, KNIT_MSG_OPTIONAL),
    KNIT_MSG_F_BIN(3, KNIT_MSG_OPTIONAL, 0, 64),
    KNIT_MSG_F_STR(4, KNIT_MSG_OPTIONAL, 1, 32),
    KNIT_MSG_F_ARRAY_OF_UINT(5, KNIT_MSG_OPTIONAL, 0, 8, UINT64_MAX),
    KNIT_MSG_F_ARRAY_OF_BIN(6, KNIT_MSG_OPTIONAL, 0, 8, 0, 16),
    KNIT_MSG_F_ARRAY_OF_STR(7, KNIT_MSG_OPTIONAL, 1, 8, 0, 16),
    KNIT_MSG_F_MAP(8, KNIT_MSG_OPTIONAL, &inner_schema),
    KNIT_MSG_F_ARRAY_OF_MAP(9, KNIT_MSG_OPTIONAL, 0, 20, &peer_schema),
    KNIT_MSG_F_BIN(10, KNIT_MSG_OPTIONAL, 32, 32),
    KNIT_MSG_F_UINT(63, KNIT_MSG_OPTIONAL, UINT64_MAX),
};
const struct knit_msg_schema knit_test_msg_schema =
    KNIT_MSG_SCHEMA(top_fields);

const uint8_t knit_test_msg_id_a[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};
const uint8_t knit_test_msg_id_b[32] = {0xee, [31] = 0xff};

/* The first peer of key 9: an ID, two addresses and a leaf map. */
static void write_peer_a(struct knit_msg_writer *w)
{
    knit_msg_add_map_begin(w, 3);
    knit_msg_put_bin(w, 1, knit_test_msg_id_a, 32);
    knit_msg_put_array_begin(w, 2, 2);
    knit_msg_add_bin(w, "addr-one", 8);
    knit_msg_add_bin(w, "addr-two!", 9);
    knit_msg_array_end(w);
    knit_msg_put_map_begin(w, 3, 2);
    knit_msg_put_uint(w, 0, 1000);
    knit_msg_put_array_begin(w, 1, 2);
    knit_msg_add_str(w, "", 0);
    knit_msg_add_str(w, "deep", 4);
    knit_msg_array_end(w);
    knit_msg_map_end(w);
    knit_msg_map_end(w);
}

int knit_test_msg_write_full(uint8_t *buf, size_t cap, size_t *frame_len)
{
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_TEST_MSG_TYPE, 10);
    knit_msg_put_uint(&w, 1, 999999);
    knit_msg_put_bool(&w, 2, true);
    knit_msg_put_bin(&w, 3, "\x00\x01\x02", 3);
    knit_msg_put_str(&w, 4, "h\xc3\xa9llo", 6);
    knit_msg_put_array_begin(&w, 5, 3);
    knit_msg_add_uint(&w, 0);
    knit_msg_add_uint(&w, 70000);
    knit_msg_add_uint(&w, UINT64_MAX);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 6, 2);
    knit_msg_add_bin(&w, NULL, 0);
    knit_msg_add_bin(&w, "xyz", 3);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 7, 1);
    knit_msg_add_str(&w, "/knit/dht/1", 11);
    knit_msg_array_end(&w);
    knit_msg_put_map_begin(&w, 8, 2);
    knit_msg_put_bool(&w, 2, false);
    knit_msg_put_str(&w, 1, "agent", 5);
    knit_msg_map_end(&w);
    knit_msg_put_array_begin(&w, 9, 2);
    write_peer_a(&w);
    knit_msg_add_map_begin(&w, 1);
    knit_msg_put_bin(&w, 1, knit_test_msg_id_b, 32);
    knit_msg_map_end(&w);
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 63, 42);
    return knit_msg_end(&w, frame_len);
}

void knit_test_expect_bytes(const uint8_t *p, size_t len, const void *want,
                            size_t want_len)
{
    assert_int_equal(len, want_len);
    if (want_len > 0)
        assert_memory_equal(p, want, want_len);
}

void knit_test_msg_expect_field(const struct knit_msg *m, unsigned key,
                                const void *want, size_t want_len)
{
    size_t len;
    const uint8_t *p = knit_msg_bytes(m, key, &len);
    knit_test_expect_bytes(p, len, want, want_len);
}
