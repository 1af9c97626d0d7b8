#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/msg.h"
#include "transport/error.h"

/* A test protocol shaped like the real ones: scalars, byte strings, lists,
 * a nested map, and a list of peers each with addresses and a nested map of
 * its own (four containers deep). */
enum { MSG_TEST = 7 };

static const struct knit_msg_field leaf_fields[] = {
    KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, 1000),
    KNIT_MSG_F_ARRAY_OF_STR(1, KNIT_MSG_OPTIONAL, 0, 4, 0, 16),
};
static const struct knit_msg_schema leaf_schema = KNIT_MSG_SCHEMA(leaf_fields);

static const struct knit_msg_field peer_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, 32, 32),
    KNIT_MSG_F_ARRAY_OF_BIN(2, KNIT_MSG_OPTIONAL, 0, 8, 1, 64),
    KNIT_MSG_F_MAP(3, KNIT_MSG_OPTIONAL, &leaf_schema),
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
static const struct knit_msg_schema top_schema = KNIT_MSG_SCHEMA(top_fields);

/* A schema that contains itself, to show depth is bounded all the same. */
static const struct knit_msg_schema self_schema;
static const struct knit_msg_field self_fields[] = {
    KNIT_MSG_F_MAP(1, KNIT_MSG_OPTIONAL, &self_schema),
};
static const struct knit_msg_schema self_schema = KNIT_MSG_SCHEMA(self_fields);

static const uint8_t id_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                                 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t id_b[32] = {0xee, [31] = 0xff};

/* Writes the full test message; returns knit_msg_end()'s result. */
static int write_full(uint8_t *buf, size_t cap, size_t *frame_len)
{
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, MSG_TEST, 10);
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
    knit_msg_add_map_begin(&w, 3);
    knit_msg_put_bin(&w, 1, id_a, 32);
    knit_msg_put_array_begin(&w, 2, 2);
    knit_msg_add_bin(&w, "addr-one", 8);
    knit_msg_add_bin(&w, "addr-two!", 9);
    knit_msg_array_end(&w);
    knit_msg_put_map_begin(&w, 3, 2);
    knit_msg_put_uint(&w, 0, 1000);
    knit_msg_put_array_begin(&w, 1, 2);
    knit_msg_add_str(&w, "", 0);
    knit_msg_add_str(&w, "deep", 4);
    knit_msg_array_end(&w);
    knit_msg_map_end(&w);
    knit_msg_map_end(&w);
    knit_msg_add_map_begin(&w, 1);
    knit_msg_put_bin(&w, 1, id_b, 32);
    knit_msg_map_end(&w);
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 63, 42);
    return knit_msg_end(&w, frame_len);
}

static void expect_bytes(const uint8_t *p, size_t len, const void *want,
                         size_t want_len)
{
    assert_int_equal(len, want_len);
    if (want_len > 0)
        assert_memory_equal(p, want, want_len);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(write_full(buf, sizeof buf, &frame_len), 0);

    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(buf, frame_len, KNIT_MSG_MAX_DEFAULT,
                                      &fr), 0);
    assert_int_equal(fr.len, frame_len);
    assert_ptr_equal(fr.body, buf + KNIT_MSG_HEADER_LEN);
    assert_int_equal(fr.body_len, frame_len - KNIT_MSG_HEADER_LEN);

    uint64_t type;
    assert_int_equal(knit_msg_peek_type(fr.body, fr.body_len, &type), 0);
    assert_int_equal(type, MSG_TEST);

    struct knit_msg m;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len, &top_schema, &m),
                     0);
    assert_int_equal(knit_msg_uint(&m, 0), MSG_TEST);
    assert_int_equal(knit_msg_uint(&m, 1), 999999);
    assert_true(knit_msg_has(&m, 2));
    assert_int_equal(knit_msg_uint(&m, 2), 1);
    size_t len;
    const uint8_t *p = knit_msg_bytes(&m, 3, &len);
    expect_bytes(p, len, "\x00\x01\x02", 3);
    p = knit_msg_bytes(&m, 4, &len);
    expect_bytes(p, len, "h\xc3\xa9llo", 6);
    assert_false(knit_msg_has(&m, 10));
    assert_null(knit_msg_bytes(&m, 10, &len));
    assert_int_equal(len, 0);
    assert_int_equal(knit_msg_uint(&m, 63), 42);

    struct knit_msg_iter it;
    uint64_t u;
    assert_int_equal(knit_msg_iter_init(&it, &m, 5), 0);
    assert_int_equal(knit_msg_next_uint(&it, &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(knit_msg_next_uint(&it, &u), 0);
    assert_int_equal(u, 70000);
    assert_int_equal(knit_msg_next_uint(&it, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(knit_msg_next_uint(&it, &u), KNIT_E_NOT_FOUND);

    assert_int_equal(knit_msg_iter_init(&it, &m, 6), 0);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), 0);
    expect_bytes(p, len, "xyz", 3);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), KNIT_E_NOT_FOUND);

    assert_int_equal(knit_msg_iter_init(&it, &m, 7), 0);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), 0);
    expect_bytes(p, len, "/knit/dht/1", 11);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), KNIT_E_NOT_FOUND);

    struct knit_msg inner;
    assert_int_equal(knit_msg_get_map(&m, 8, &inner), 0);
    assert_true(knit_msg_has(&inner, 2));
    assert_int_equal(knit_msg_uint(&inner, 2), 0);
    p = knit_msg_bytes(&inner, 1, &len);
    expect_bytes(p, len, "agent", 5);

    struct knit_msg peer, leaf;
    struct knit_msg_iter addrs, strs;
    assert_int_equal(knit_msg_iter_init(&it, &m, 9), 0);
    assert_int_equal(knit_msg_next_map(&it, &peer), 0);
    p = knit_msg_bytes(&peer, 1, &len);
    expect_bytes(p, len, id_a, 32);
    assert_int_equal(knit_msg_iter_init(&addrs, &peer, 2), 0);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), 0);
    expect_bytes(p, len, "addr-one", 8);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), 0);
    expect_bytes(p, len, "addr-two!", 9);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_get_map(&peer, 3, &leaf), 0);
    assert_int_equal(knit_msg_uint(&leaf, 0), 1000);
    assert_int_equal(knit_msg_iter_init(&strs, &leaf, 1), 0);
    assert_int_equal(knit_msg_next_bytes(&strs, &p, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(knit_msg_next_bytes(&strs, &p, &len), 0);
    expect_bytes(p, len, "deep", 4);

    assert_int_equal(knit_msg_next_map(&it, &peer), 0);
    p = knit_msg_bytes(&peer, 1, &len);
    expect_bytes(p, len, id_b, 32);
    assert_false(knit_msg_has(&peer, 2));
    /* An absent optional array walks as empty. */
    assert_int_equal(knit_msg_iter_init(&addrs, &peer, 2), 0);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_get_map(&peer, 3, &leaf), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_next_map(&it, &peer), KNIT_E_NOT_FOUND);
}

static void test_accessor_misuse(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(write_full(buf, sizeof buf, &frame_len), 0);
    struct knit_msg m, sub;
    assert_int_equal(knit_msg_decode(buf + 4, frame_len - 4, &top_schema, &m),
                     0);
    struct knit_msg_iter it;
    uint64_t u;
    const uint8_t *p;
    size_t len;
    assert_int_equal(knit_msg_iter_init(&it, &m, 1), KNIT_E_TYPE);
    assert_int_equal(knit_msg_iter_init(&it, &m, 64), KNIT_E_INVAL);
    assert_int_equal(knit_msg_get_map(&m, 9, &sub), KNIT_E_TYPE);
    assert_int_equal(knit_msg_get_map(&m, 0, &sub), KNIT_E_TYPE);
    assert_null(knit_msg_bytes(&m, 1, &len));
    assert_int_equal(knit_msg_uint(&m, 3), 0);
    assert_false(knit_msg_has(&m, 64));
    assert_int_equal(knit_msg_iter_init(&it, &m, 6), 0);
    assert_int_equal(knit_msg_next_uint(&it, &u), KNIT_E_TYPE);
    assert_int_equal(knit_msg_next_map(&it, &sub), KNIT_E_TYPE);
    assert_int_equal(knit_msg_iter_init(&it, &m, 5), 0);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), KNIT_E_TYPE);
}

/* ---- framing ------------------------------------------------------------ */

static void test_deframe_byte_by_byte(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(write_full(buf, sizeof buf, &frame_len), 0);
    struct knit_msg_frame fr;
    for (size_t have = 0; have < frame_len; have++) {
        assert_int_equal(knit_msg_deframe(buf, have, 1024, &fr), KNIT_E_AGAIN);
        assert_null(fr.body);
        assert_int_equal(fr.len, have < 4 ? 4 : frame_len);
    }
    assert_int_equal(knit_msg_deframe(buf, frame_len, 1024, &fr), 0);
    assert_int_equal(fr.len, frame_len);
}

static void test_deframe_back_to_back(void **state)
{
    (void)state;
    uint8_t one[512], both[1024];
    size_t n1, n2;
    assert_int_equal(write_full(one, sizeof one, &n1), 0);
    memcpy(both, one, n1);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, both + n1, sizeof both - n1);
    knit_msg_begin(&w, 99, 1);
    knit_msg_put_uint(&w, 1, 5);
    assert_int_equal(knit_msg_end(&w, &n2), 0);

    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(both, n1 + n2, 4096, &fr), 0);
    assert_int_equal(fr.len, n1);
    assert_memory_equal(fr.body, one + 4, n1 - 4);
    assert_int_equal(knit_msg_deframe(both + fr.len, n1 + n2 - fr.len, 4096,
                                      &fr), 0);
    assert_int_equal(fr.len, n2);
    struct knit_msg m;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len, &top_schema, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), 99);
    assert_int_equal(knit_msg_uint(&m, 1), 5);
    /* The second frame's body is the writer's: 82 00 63 01 05. */
    expect_bytes(fr.body, fr.body_len, "\x82\x00\x63\x01\x05", 5);
}

static void test_deframe_limits(void **state)
{
    (void)state;
    struct knit_msg_frame fr;
    /* Over the limit: rejected from the header alone, no body present. */
    const uint8_t over[4] = {0, 0, 0x01, 0x01};   /* 257 */
    assert_int_equal(knit_msg_deframe(over, 4, 256, &fr), KNIT_E_TOO_BIG);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(knit_msg_deframe(huge, 4, KNIT_MSG_MAX_CEILING, &fr),
                     KNIT_E_TOO_BIG);
    /* At the limit: fine, wait for the body. */
    const uint8_t at[4] = {0, 0, 0x01, 0x00};
    assert_int_equal(knit_msg_deframe(at, 4, 256, &fr), KNIT_E_AGAIN);
    assert_int_equal(fr.len, 4 + 256);
    const uint8_t zero[5] = {0, 0, 0, 0, 0x80};
    assert_int_equal(knit_msg_deframe(zero, 5, 256, &fr), KNIT_E_MALFORMED);
    assert_int_equal(knit_msg_deframe(at, 4, 0, &fr), KNIT_E_INVAL);
    assert_int_equal(knit_msg_deframe(at, 4, KNIT_MSG_MAX_CEILING + 1, &fr),
                     KNIT_E_INVAL);
    assert_int_equal(knit_msg_deframe(NULL, 0, 256, &fr), KNIT_E_AGAIN);
}

/* ---- decoder rejections ------------------------------------------------- */

static int decode_raw(const void *body, size_t len)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, &top_schema, &m);
    if (err < 0)
        assert_int_equal(m.present, 0);   /* cleared on error */
    return err;
}

#define RAW(s) decode_raw(s, sizeof(s) - 1)

static void test_reject_top_level_and_keys(void **state)
{
    (void)state;
    assert_int_equal(RAW("\x92\x00\x01"), KNIT_E_TYPE);         /* array */
    assert_int_equal(RAW("\x01"), KNIT_E_TYPE);                 /* uint */
    assert_int_equal(RAW("\xc0"), KNIT_E_TYPE);                 /* nil */
    assert_int_equal(RAW("\xc1"), KNIT_E_MALFORMED);
    assert_int_equal(decode_raw("", 0), KNIT_E_TRUNCATED);
    /* {"a": 1} and {-1: 1}: keys must be uints. */
    assert_int_equal(RAW("\x81\xa1" "a" "\x01"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x81\xff\x01"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x81\xc0\x01"), KNIT_E_TYPE);
    /* A key the schema lacks, and one past 63. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x0b\x00"),
                     KNIT_E_UNKNOWN_FIELD);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x40\x00"),
                     KNIT_E_UNKNOWN_FIELD);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\xcf\xff\xff\xff\xff\xff\xff"
                         "\xff\xff\x00"), KNIT_E_UNKNOWN_FIELD);
    /* Duplicates, including the type. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x01\x05"), KNIT_E_DUPLICATE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x00\x01"), KNIT_E_DUPLICATE);
    /* A key of a nested map outside its sub-schema. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x08\x82\x02\xc3\x03\x00"),
                     KNIT_E_UNKNOWN_FIELD);
    /* More entries than 64 distinct keys allow (map16 of 65). */
    assert_int_equal(RAW("\xde\x00\x41\x00\x01"), KNIT_E_TOO_BIG);
}

static void test_reject_value_types(void **state)
{
    (void)state;
    /* Key 1 (uint) given str, nil, float, ext, negative, bool. */
    assert_int_equal(RAW("\x82\x00\x01\x01\xa1" "5"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xc0"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xca\x40\xa0\x00\x00"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xcb\x40\x14\0\0\0\0\0\0"),
                     KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xd4\x01\x05"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xff"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xd0\xfb"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x82\x00\x01\x01\xc3"), KNIT_E_TYPE);
    /* The type itself must be a uint. */
    assert_int_equal(RAW("\x82\x00\xa1" "x" "\x01\x05"), KNIT_E_TYPE);
    /* Bin field given str, str field given bin, bool given uint. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x03\xa1" "a"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x04\xc4\x01" "a"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x02\x01"), KNIT_E_TYPE);
    /* An array field given a map and a map field given an array. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x05\x80"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x08\x90"), KNIT_E_TYPE);
    /* Array elements of the wrong type. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x05\x91\xc0"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x06\x91\xa0"), KNIT_E_TYPE);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x09\x91\x90"), KNIT_E_TYPE);
    /* A str that is not UTF-8: a lone continuation byte, an overlong, a
     * surrogate. */
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x04\xa1\x80"), KNIT_E_MALFORMED);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x04\xa2\xc0\xaf"),
                     KNIT_E_MALFORMED);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x04\xa3\xed\xa0\x80"),
                     KNIT_E_MALFORMED);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x04\xa3\xe2\x82\xac"), 0);
}

static void test_accept_any_width(void **state)
{
    (void)state;
    struct knit_msg m;
    /* map16 header; type as uint64; key 1 as uint32, value 5 as uint16;
     * key 63 as int8 with value 7 as int64. */
    static const uint8_t wide[] = {
        0xde, 0x00, 0x03,
        0xcf, 0, 0, 0, 0, 0, 0, 0, 0, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9,
        0xce, 0, 0, 0, 1, 0xcd, 0, 5,
        0xd0, 63, 0xd3, 0, 0, 0, 0, 0, 0, 0, 7,
    };
    assert_int_equal(knit_msg_decode(wide, sizeof wide, &top_schema, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), 9);
    assert_int_equal(knit_msg_uint(&m, 1), 5);
    assert_int_equal(knit_msg_uint(&m, 63), 7);
    /* bin16 and str8 and array16 where the short forms would do. */
    static const uint8_t wide2[] = {
        0x85, 0x00, 0x01, 0x01, 0x05,
        0x03, 0xc5, 0x00, 0x02, 'h', 'i',
        0x04, 0xd9, 0x02, 'o', 'k',
        0x05, 0xdc, 0x00, 0x01, 0xcc, 0x07,
    };
    assert_int_equal(knit_msg_decode(wide2, sizeof wide2, &top_schema, &m), 0);
    size_t len;
    const uint8_t *p = knit_msg_bytes(&m, 3, &len);
    expect_bytes(p, len, "hi", 2);
    p = knit_msg_bytes(&m, 4, &len);
    expect_bytes(p, len, "ok", 2);
}

/* Writes {0: MSG_TEST, 1: 5, key: <what fill writes>} and decodes it. */
typedef void (*fill_fn)(struct knit_msg_writer *w, unsigned key);

static int decode_written(unsigned key, fill_fn fill)
{
    uint8_t buf[2048];
    size_t n;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, MSG_TEST, 2);
    knit_msg_put_uint(&w, 1, 5);
    fill(&w, key);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    return decode_raw(buf + 4, n - 4);
}

static uint8_t zeros[256];

static void uint_1000001(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_uint(w, k, 1000001);
}
static void bin_0(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 0);
}
static void bin_31(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 31);
}
static void bin_32(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 32);
}
static void bin_33(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 33);
}
static void bin_64(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 64);
}
static void bin_65(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_bin(w, k, zeros, 65);
}
static void str_empty(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_str(w, k, "", 0);
}
static void str_33(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_str(w, k, "012345678901234567890123456789012", 33);
}
static void uints_9(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 9);
    for (int i = 0; i < 9; i++)
        knit_msg_add_uint(w, (uint64_t)i);
    knit_msg_array_end(w);
}
static void strs_0(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 0);
    knit_msg_array_end(w);
}
static void bins_elem_17(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 2);
    knit_msg_add_bin(w, zeros, 16);
    knit_msg_add_bin(w, zeros, 17);
    knit_msg_array_end(w);
}
static void inner_missing_bool(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_map_begin(w, k, 1);
    knit_msg_put_str(w, 1, "x", 1);
    knit_msg_map_end(w);
}
static void peer_short_id(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 1);
    knit_msg_add_map_begin(w, 1);
    knit_msg_put_bin(w, 1, zeros, 31);
    knit_msg_map_end(w);
    knit_msg_array_end(w);
}
static void peer_empty_addr(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 1);
    knit_msg_add_map_begin(w, 2);
    knit_msg_put_bin(w, 1, zeros, 32);
    knit_msg_put_array_begin(w, 2, 1);
    knit_msg_add_bin(w, zeros, 0);
    knit_msg_array_end(w);
    knit_msg_map_end(w);
    knit_msg_array_end(w);
}
static void leaf_over_max(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 1);
    knit_msg_add_map_begin(w, 2);
    knit_msg_put_bin(w, 1, zeros, 32);
    knit_msg_put_map_begin(w, 3, 1);
    knit_msg_put_uint(w, 0, 1001);
    knit_msg_map_end(w);
    knit_msg_map_end(w);
    knit_msg_array_end(w);
}
static void peers_21(struct knit_msg_writer *w, unsigned k)
{
    knit_msg_put_array_begin(w, k, 21);
    for (int i = 0; i < 21; i++) {
        knit_msg_add_map_begin(w, 1);
        knit_msg_put_bin(w, 1, zeros, 32);
        knit_msg_map_end(w);
    }
    knit_msg_array_end(w);
}

static void test_reject_bounds(void **state)
{
    (void)state;
    assert_int_equal(decode_written(63, uint_1000001), 0);
    assert_int_equal(decode_written(3, bin_0), 0);
    assert_int_equal(decode_written(3, bin_64), 0);
    assert_int_equal(decode_written(3, bin_65), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(10, bin_32), 0);
    assert_int_equal(decode_written(10, bin_31), KNIT_E_LENGTH);
    assert_int_equal(decode_written(10, bin_33), KNIT_E_LENGTH);
    assert_int_equal(decode_written(4, str_empty), KNIT_E_LENGTH);
    assert_int_equal(decode_written(4, str_33), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(5, uints_9), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(7, strs_0), KNIT_E_LENGTH);
    assert_int_equal(decode_written(6, bins_elem_17), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(9, peer_short_id), KNIT_E_LENGTH);
    assert_int_equal(decode_written(9, peer_empty_addr), KNIT_E_LENGTH);
    assert_int_equal(decode_written(9, leaf_over_max), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(9, peers_21), KNIT_E_TOO_BIG);
    assert_int_equal(decode_written(8, inner_missing_bool), KNIT_E_MISSING);

    /* Key 1's max_value is 1000000: the bound itself passes, one more not. */
    assert_int_equal(RAW("\x82\x00\x01\x01\xce\x00\x0f\x42\x40"), 0);
    assert_int_equal(RAW("\x82\x00\x01\x01\xce\x00\x0f\x42\x41"),
                     KNIT_E_TOO_BIG);
}

static void test_reject_missing_and_trailing(void **state)
{
    (void)state;
    assert_int_equal(RAW("\x82\x00\x01\x01\x05"), 0);
    assert_int_equal(RAW("\x81\x00\x01"), KNIT_E_MISSING);        /* no 1 */
    assert_int_equal(RAW("\x81\x01\x05"), KNIT_E_MISSING);        /* no type */
    assert_int_equal(RAW("\x80"), KNIT_E_MISSING);
    assert_int_equal(RAW("\x82\x00\x01\x01\x05\x00"), KNIT_E_TRAILING);
    assert_int_equal(RAW("\x82\x00\x01\x01\x05\x82\x00\x01\x01\x05"),
                     KNIT_E_TRAILING);
}

static void test_reject_truncation(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(write_full(buf, sizeof buf, &frame_len), 0);
    const uint8_t *body = buf + 4;
    size_t len = frame_len - 4;
    assert_int_equal(decode_raw(body, len), 0);
    /* Every proper prefix of a valid body ends inside some item. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(decode_raw(body, cut), KNIT_E_TRUNCATED);
    uint64_t type;
    assert_int_equal(knit_msg_peek_type(body, 1, &type), KNIT_E_TRUNCATED);
}

static void test_reject_huge_declared_sizes(void **state)
{
    (void)state;
    /* 10 bytes declaring an array of 2^32-1 elements: over the schema's
     * count limit, so rejected before a single element is looked at. */
    static const uint8_t arr[10] = {0x82, 0x00, 0x01, 0x05, 0xdd,
                                    0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(decode_raw(arr, sizeof arr), KNIT_E_TOO_BIG);
    /* With a schema that allows any count, the bytes run out instead. */
    static const struct knit_msg_field wide_fields[] = {
        KNIT_MSG_F_ARRAY_OF_UINT(5, KNIT_MSG_OPTIONAL, 0, UINT32_MAX, 1),
        KNIT_MSG_F_BIN(3, KNIT_MSG_OPTIONAL, 0, UINT32_MAX),
        KNIT_MSG_F_ARRAY_OF_MAP(7, KNIT_MSG_OPTIONAL, 0, UINT32_MAX,
                                &leaf_schema),
    };
    static const struct knit_msg_schema wide =
        KNIT_MSG_SCHEMA(wide_fields);
    struct knit_msg m;
    assert_int_equal(knit_msg_decode(arr, sizeof arr, &wide, &m),
                     KNIT_E_TRUNCATED);
    static const uint8_t arrm[10] = {0x82, 0x00, 0x01, 0x07, 0xdd,
                                     0xff, 0xff, 0xff, 0xff, 0x80};
    assert_int_equal(knit_msg_decode(arrm, sizeof arrm, &wide, &m),
                     KNIT_E_MISSING);   /* first element lacks leaf key 0 */
    /* bin32 of 2^32-1 bytes, likewise. */
    static const uint8_t bin[10] = {0x82, 0x00, 0x01, 0x03, 0xc6,
                                    0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(decode_raw(bin, sizeof bin), KNIT_E_TOO_BIG);
    assert_int_equal(knit_msg_decode(bin, sizeof bin, &wide, &m),
                     KNIT_E_TRUNCATED);
    /* A map32 of 2^32-1 entries. */
    static const uint8_t map[10] = {0xdf, 0xff, 0xff, 0xff, 0xff,
                                    0x00, 0x01, 0x01, 0x05, 0x00};
    assert_int_equal(decode_raw(map, sizeof map), KNIT_E_TOO_BIG);
    /* The type peek skips the huge array without walking it. */
    static const uint8_t peek[10] = {0x82, 0x05, 0xdd, 0xff, 0xff,
                                     0xff, 0xff, 0x00, 0x00, 0x01};
    uint64_t type;
    assert_int_equal(knit_msg_peek_type(peek, sizeof peek, &type),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_msg_peek_type(map, sizeof map, &type), 0);
    assert_int_equal(type, 1);
}

static void test_reject_depth(void **state)
{
    (void)state;
    /* Containers where the schema has scalars. */
    assert_int_equal(RAW("\x82\x00\x01\x01\x90"), KNIT_E_DEPTH);
    assert_int_equal(RAW("\x82\x00\x01\x01\x80"), KNIT_E_DEPTH);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x05\x91\x91\x01"),
                     KNIT_E_DEPTH);
    assert_int_equal(RAW("\x83\x00\x01\x01\x05\x08\x81\x02\x91\xc3"),
                     KNIT_E_DEPTH);
    /* 1000 nested arrays: rejected at the first extra level, no recursion. */
    uint8_t deep[1100];
    size_t n = 0;
    deep[n++] = 0x83;
    deep[n++] = 0x00;
    deep[n++] = 0x01;
    deep[n++] = 0x01;
    deep[n++] = 0x05;
    deep[n++] = 0x03;
    for (int i = 0; i < 1000; i++)
        deep[n++] = 0x91;
    deep[n++] = 0x00;
    assert_int_equal(decode_raw(deep, n), KNIT_E_DEPTH);

    /* A schema that refers to itself: input may follow it only to
     * KNIT_MSG_MAX_DEPTH. */
    struct knit_msg m;
    for (int levels = 1; levels <= KNIT_MSG_MAX_DEPTH + 2; levels++) {
        uint8_t b[64];
        n = 0;
        b[n++] = 0x82;
        b[n++] = 0x00;
        b[n++] = 0x00;
        b[n++] = 0x01;
        for (int i = 1; i < levels; i++) {
            b[n++] = 0x81;
            b[n++] = 0x01;
        }
        b[n++] = 0x80;
        int want = levels + 1 <= KNIT_MSG_MAX_DEPTH ? 0 : KNIT_E_DEPTH;
        assert_int_equal(knit_msg_decode(b, n, &self_schema, &m), want);
    }
}

static void test_peek_type(void **state)
{
    (void)state;
    uint64_t type = 77;
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x82\x00\x05\x01\x02",
                                        5, &type), 0);
    assert_int_equal(type, 5);
    /* The type last, after a nested container that must be skipped. */
    assert_int_equal(knit_msg_peek_type(
                         (const uint8_t *)"\x83\x09\x92\x81\x01\xa1x\xc4\x01z"
                                          "\x01\x02\x00\xcd\x01\x00", 16,
                         &type), 0);
    assert_int_equal(type, 256);
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x81\x01\x02", 3,
                                        &type), KNIT_E_MISSING);
    assert_int_equal(type, 0);
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x81\x00\xa1x", 4,
                                        &type), KNIT_E_TYPE);
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x91\x00", 2,
                                        &type), KNIT_E_TYPE);
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x81\xa1x\x00", 4,
                                        &type), KNIT_E_TYPE);
    assert_int_equal(knit_msg_peek_type((const uint8_t *)"\x82\x01\xc1\x00\x01",
                                        5, &type), KNIT_E_MALFORMED);
    assert_int_equal(knit_msg_peek_type(NULL, 0, &type), KNIT_E_TRUNCATED);
}

static void test_broken_schema(void **state)
{
    (void)state;
    static const struct knit_msg_field with_type[] = {
        KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, 5),
    };
    static const struct knit_msg_field dup[] = {
        KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 5),
        KNIT_MSG_F_BOOL(1, KNIT_MSG_OPTIONAL),
    };
    static const struct knit_msg_field backwards[] = {
        KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, 9, 8),
    };
    static const struct knit_msg_field no_sub[] = {
        KNIT_MSG_F_MAP(1, KNIT_MSG_REQUIRED, NULL),
    };
    static const struct knit_msg_field big_key[] = {
        KNIT_MSG_F_BOOL(64, KNIT_MSG_OPTIONAL),
    };
    static const struct knit_msg_schema bad[] = {
        KNIT_MSG_SCHEMA(with_type), KNIT_MSG_SCHEMA(dup),
        KNIT_MSG_SCHEMA(backwards), KNIT_MSG_SCHEMA(no_sub),
        KNIT_MSG_SCHEMA(big_key),
    };
    struct knit_msg m;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(knit_msg_decode((const uint8_t *)"\x81\x00\x01", 3,
                                         &bad[i], &m), KNIT_E_INVAL);
    assert_int_equal(knit_msg_decode((const uint8_t *)"\x81\x00\x01", 3, NULL,
                                     &m), KNIT_E_INVAL);
    /* An empty schema accepts a message of only a type. */
    static const struct knit_msg_schema empty = { NULL, 0 };
    assert_int_equal(knit_msg_decode((const uint8_t *)"\x81\x00\x01", 3,
                                     &empty, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), 1);
}

/* Every msgpack format as the value of a uint field, and skipped over by the
 * type peek. */
static void test_every_format(void **state)
{
    (void)state;
    static const struct {
        const char *enc;
        size_t len;
        int want;
    } cases[] = {
        {"\x05", 1, 0},
        {"\xcc\x05", 2, 0},
        {"\xcd\x00\x05", 3, 0},
        {"\xce\x00\x00\x00\x05", 5, 0},
        {"\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 9, 0},
        {"\xd0\x05", 2, 0},
        {"\xd1\x00\x05", 3, 0},
        {"\xd2\x00\x00\x00\x05", 5, 0},
        {"\xd3\x00\x00\x00\x00\x00\x00\x00\x05", 9, 0},
        {"\xe0", 1, KNIT_E_TYPE},
        {"\xd0\xff", 2, KNIT_E_TYPE},
        {"\xd1\xff\xfb", 3, KNIT_E_TYPE},
        {"\xd2\x80\x00\x00\x00", 5, KNIT_E_TYPE},
        {"\xd3\xff\xff\xff\xff\xff\xff\xff\xfb", 9, KNIT_E_TYPE},
        {"\xc0", 1, KNIT_E_TYPE},
        {"\xc2", 1, KNIT_E_TYPE},
        {"\xca\x40\xa0\x00\x00", 5, KNIT_E_TYPE},
        {"\xcb\x40\x14\x00\x00\x00\x00\x00\x00", 9, KNIT_E_TYPE},
        {"\xc4\x01\x05", 3, KNIT_E_TYPE},
        {"\xc5\x00\x01\x05", 4, KNIT_E_TYPE},
        {"\xc6\x00\x00\x00\x01\x05", 6, KNIT_E_TYPE},
        {"\xa1\x35", 2, KNIT_E_TYPE},
        {"\xd9\x01\x35", 3, KNIT_E_TYPE},
        {"\xda\x00\x01\x35", 4, KNIT_E_TYPE},
        {"\xdb\x00\x00\x00\x01\x35", 6, KNIT_E_TYPE},
        {"\xd4\x01\x05", 3, KNIT_E_TYPE},
        {"\xd5\x01\x05\x05", 4, KNIT_E_TYPE},
        {"\xd6\x01\x05\x05\x05\x05", 6, KNIT_E_TYPE},
        {"\xd7\x01" "12345678", 10, KNIT_E_TYPE},
        {"\xd8\x01" "1234567890123456", 18, KNIT_E_TYPE},
        {"\xc7\x01\x01\x05", 4, KNIT_E_TYPE},
        {"\xc8\x00\x01\x01\x05", 5, KNIT_E_TYPE},
        {"\xc9\x00\x00\x00\x01\x01\x05", 7, KNIT_E_TYPE},
        {"\x91\x05", 2, KNIT_E_DEPTH},
        {"\xdc\x00\x01\x05", 4, KNIT_E_DEPTH},
        {"\xdd\x00\x00\x00\x01\x05", 6, KNIT_E_DEPTH},
        {"\x81\x05\x05", 3, KNIT_E_DEPTH},
        {"\xde\x00\x01\x05\x05", 5, KNIT_E_DEPTH},
        {"\xdf\x00\x00\x00\x01\x05\x05", 7, KNIT_E_DEPTH},
        {"\xc1", 1, KNIT_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t body[32];
        size_t n = 0;
        body[n++] = 0x82;
        body[n++] = 0x00;
        body[n++] = 0x07;
        body[n++] = 0x01;
        memcpy(body + n, cases[i].enc, cases[i].len);
        n += cases[i].len;
        struct knit_msg m;
        assert_int_equal(knit_msg_decode(body, n, &top_schema, &m),
                         cases[i].want);
        if (cases[i].want == 0)
            assert_int_equal(knit_msg_uint(&m, 1), 5);
        /* A value missing its last byte is cut short. */
        if (cases[i].len > 1 && cases[i].want == 0)
            assert_int_equal(knit_msg_decode(body, n - 1, &top_schema, &m),
                             KNIT_E_TRUNCATED);

        /* The type after the value: the peek must skip it whole. */
        n = 0;
        body[n++] = 0x82;
        body[n++] = 0x09;
        memcpy(body + n, cases[i].enc, cases[i].len);
        n += cases[i].len;
        body[n++] = 0x00;
        body[n++] = 0x07;
        uint64_t type;
        int want = cases[i].want == KNIT_E_MALFORMED ? KNIT_E_MALFORMED : 0;
        assert_int_equal(knit_msg_peek_type(body, n, &type), want);
        if (want == 0)
            assert_int_equal(type, 7);
        assert_int_equal(knit_msg_peek_type(body, n - 1, &type),
                         want ? want : KNIT_E_TRUNCATED);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"plain", true},
        {"\xc2\x80", true},
        {"\xe0\xa0\x80", true},
        {"\xef\xbf\xbf", true},
        {"\xf0\x9f\x98\x80", true},
        {"\xf4\x8f\xbf\xbf", true},
        {"\xed\x9f\xbf", true},
        {"\x80", false},
        {"\xc1\xbf", false},              /* overlong */
        {"\xe0\x80\x80", false},          /* overlong */
        {"\xf0\x80\x80\x80", false},      /* overlong */
        {"\xed\xa0\x80", false},          /* surrogate */
        {"\xf4\x90\x80\x80", false},      /* past U+10FFFF */
        {"\xf5\x80\x80\x80", false},
        {"\xc3", false},                  /* cut short */
        {"\xe2\x82", false},
        {"\xe2\x28\xa1", false},          /* bad continuation */
        {"\xf0\x9f\x98\x28", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].s);
        uint8_t buf[64];
        size_t n;
        struct knit_msg_writer w;
        knit_msg_writer_init(&w, buf, sizeof buf);
        knit_msg_begin(&w, 1, 2);
        knit_msg_put_uint(&w, 1, 1);
        knit_msg_put_str(&w, 4, cases[i].s, len);
        assert_int_equal(knit_msg_end(&w, &n),
                         cases[i].valid ? 0 : KNIT_E_INVAL);
        /* The same string packed by hand reaches the decoder. */
        uint8_t body[32] = {0x83, 0x00, 0x01, 0x01, 0x01, 0x04,
                            (uint8_t)(0xa0 | len)};
        memcpy(body + 7, cases[i].s, len);
        assert_int_equal(decode_raw(body, 7 + len),
                         cases[i].valid ? 0 : KNIT_E_MALFORMED);
    }
}

/* ---- writer ------------------------------------------------------------- */

static void test_writer_no_space(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t need, n;
    assert_int_equal(write_full(buf, sizeof buf, &need), 0);
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t small[512];
        memset(small, 0xaa, sizeof small);
        assert_int_equal(write_full(small, cap, &n), KNIT_E_NO_SPACE);
        assert_int_equal(n, 0);
        for (size_t i = cap; i < sizeof small; i++)
            assert_int_equal(small[i], 0xaa);   /* nothing past cap */
    }
    assert_int_equal(write_full(buf, need, &n), 0);
    assert_int_equal(n, need);
}

static void test_writer_counts(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    struct knit_msg_writer w;

    /* Fewer fields than declared. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    assert_int_equal(knit_msg_begin(&w, 1, 2), 0);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), 0);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    assert_int_equal(n, 0);

    /* More fields than declared: caught at the extra put, and it sticks. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), 0);
    assert_int_equal(knit_msg_put_uint(&w, 2, 1), KNIT_E_INVAL);
    assert_int_equal(knit_msg_put_bool(&w, 3, true), KNIT_E_INVAL);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);

    /* An array one element short, then one element long. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_array_begin(&w, 1, 2);
    knit_msg_add_uint(&w, 1);
    assert_int_equal(knit_msg_array_end(&w), KNIT_E_INVAL);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_array_begin(&w, 1, 1);
    knit_msg_add_uint(&w, 1);
    assert_int_equal(knit_msg_add_uint(&w, 2), KNIT_E_INVAL);

    /* A nested map short a field; an unclosed container at the end. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_map_begin(&w, 1, 2);
    knit_msg_put_uint(&w, 0, 1);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_map_begin(&w, 1, 0);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    struct knit_msg_writer w;

    knit_msg_writer_init(&w, buf, sizeof buf);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), KNIT_E_INVAL); /* no begin */
    knit_msg_writer_init(&w, buf, sizeof buf);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 0);
    assert_int_equal(knit_msg_begin(&w, 1, 0), KNIT_E_INVAL);

    /* Key 0 is the type's; keys past 63 do not exist; a key twice. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 2);
    assert_int_equal(knit_msg_put_uint(&w, 0, 1), KNIT_E_DUPLICATE);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 2);
    assert_int_equal(knit_msg_put_uint(&w, 64, 1), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 2);
    knit_msg_put_uint(&w, 5, 1);
    assert_int_equal(knit_msg_put_bool(&w, 5, true), KNIT_E_DUPLICATE);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_DUPLICATE);
    assert_int_equal(knit_msg_put_uint(&w, 6, 1), KNIT_E_DUPLICATE);
    knit_msg_writer_init(&w, buf, sizeof buf);
    assert_int_equal(knit_msg_begin(&w, 1, 64), KNIT_E_INVAL);

    /* put in an array, add in a map, closing the wrong kind. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 2);
    assert_int_equal(knit_msg_add_uint(&w, 1), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_array_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_uint(&w, 2, 1), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    knit_msg_put_array_begin(&w, 1, 0);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 0);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);  /* the top */

    /* str must be UTF-8; NULL bytes need length 0. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_str(&w, 1, "\xff", 1), KNIT_E_INVAL);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_bin(&w, 1, NULL, 1), KNIT_E_INVAL);

    /* Nesting past the limit. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    int err = 0, open = 1;
    while (err == 0) {
        err = open % 2 ? knit_msg_put_array_begin(&w, 1, 1)
                       : knit_msg_add_map_begin(&w, 1);
        if (err == 0)
            open++;
    }
    assert_int_equal(open, KNIT_MSG_MAX_DEPTH);
    assert_int_equal(err, KNIT_E_DEPTH);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_DEPTH);

    /* Sizes past the ceiling, for one value and for the body. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_bin(&w, 1, zeros,
                                      (size_t)KNIT_MSG_MAX_CEILING + 1),
                     KNIT_E_TOO_BIG);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_map_begin(&w, 1, 65), KNIT_E_INVAL);
    knit_msg_writer_init(&w, NULL, 16);
    assert_int_equal(knit_msg_begin(&w, 1, 0), KNIT_E_INVAL);

    /* After a finished message the writer takes nothing more. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, 1, 0);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_accessor_misuse),
        cmocka_unit_test(test_deframe_byte_by_byte),
        cmocka_unit_test(test_deframe_back_to_back),
        cmocka_unit_test(test_deframe_limits),
        cmocka_unit_test(test_reject_top_level_and_keys),
        cmocka_unit_test(test_reject_value_types),
        cmocka_unit_test(test_accept_any_width),
        cmocka_unit_test(test_reject_bounds),
        cmocka_unit_test(test_reject_missing_and_trailing),
        cmocka_unit_test(test_reject_truncation),
        cmocka_unit_test(test_reject_huge_declared_sizes),
        cmocka_unit_test(test_reject_depth),
        cmocka_unit_test(test_peek_type),
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_broken_schema),
        cmocka_unit_test(test_writer_no_space),
        cmocka_unit_test(test_writer_counts),
        cmocka_unit_test(test_writer_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
