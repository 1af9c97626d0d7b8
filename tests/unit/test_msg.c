/* Protocol messages: decoding against a schema, the accessors, the type
 * peek and every rejection msg.h promises for a body. The writer and the
 * deframer have their own files (test_msg_writer.c, test_msg_frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/msg.h"
#include "tests/support/msg_fixtures.h"
#include "transport/error.h"

enum { MSG_TEST = KNIT_TEST_MSG_TYPE };
static const struct knit_msg_schema *const top_schema = &knit_test_msg_schema;

/* A schema that contains itself, to show depth is bounded all the same. */
static const struct knit_msg_schema self_schema;
static const struct knit_msg_field self_fields[] = {
    KNIT_MSG_F_MAP(1, KNIT_MSG_OPTIONAL, &self_schema),
};
static const struct knit_msg_schema self_schema = KNIT_MSG_SCHEMA(self_fields);

static void test_accessor_misuse(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(knit_test_msg_write_full(buf, sizeof buf, &frame_len), 0);
    struct knit_msg m, sub;
    assert_int_equal(knit_msg_decode(buf + 4, frame_len - 4, top_schema, &m),
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

/* ---- decoder rejections ------------------------------------------------- */

static int decode_raw(const void *body, size_t len)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, top_schema, &m);
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
    assert_int_equal(knit_msg_decode(wide, sizeof wide, top_schema, &m), 0);
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
    assert_int_equal(knit_msg_decode(wide2, sizeof wide2, top_schema, &m), 0);
    knit_test_msg_expect_field(&m, 3, "hi", 2);
    knit_test_msg_expect_field(&m, 4, "ok", 2);
}

/* ---- bounds, written with the writer ------------------------------------ */

static const uint8_t zeros[256];

/* What fill() writes as the field, with n its size or value. */
enum shape {
    UINT,           /* the uint n */
    BIN,            /* n bytes */
    STR,            /* n digits */
    UINTS,          /* an array of n uints */
    BINS_16_N,      /* an array of two bins, of 16 and n bytes */
    INNER_NO_BOOL,  /* the inner map with a str of n bytes, no bool */
    PEERS,          /* n peers of a 32-byte ID each */
    PEER_ID,        /* one peer of an n-byte ID */
    PEER_ADDR,      /* one peer, one address of n bytes */
    PEER_LEAF,      /* one peer, its leaf key 0 set to n */
};

static void fill(struct knit_msg_writer *w, unsigned k, enum shape s,
                 uint32_t n)
{
    switch (s) {
    case UINT:
        knit_msg_put_uint(w, k, n);
        return;
    case BIN:
        knit_msg_put_bin(w, k, zeros, n);
        return;
    case STR:
        knit_msg_put_str(w, k, "0123456789012345678901234567890123456789", n);
        return;
    case UINTS:
        knit_msg_put_array_begin(w, k, n);
        for (uint32_t i = 0; i < n; i++)
            knit_msg_add_uint(w, i);
        knit_msg_array_end(w);
        return;
    case BINS_16_N:
        knit_msg_put_array_begin(w, k, 2);
        knit_msg_add_bin(w, zeros, 16);
        knit_msg_add_bin(w, zeros, n);
        knit_msg_array_end(w);
        return;
    case INNER_NO_BOOL:
        knit_msg_put_map_begin(w, k, 1);
        knit_msg_put_str(w, 1, "x", n);
        knit_msg_map_end(w);
        return;
    case PEERS:
        knit_msg_put_array_begin(w, k, n);
        for (uint32_t i = 0; i < n; i++) {
            knit_msg_add_map_begin(w, 1);
            knit_msg_put_bin(w, 1, zeros, 32);
            knit_msg_map_end(w);
        }
        knit_msg_array_end(w);
        return;
    case PEER_ID:
    case PEER_ADDR:
    case PEER_LEAF:
        knit_msg_put_array_begin(w, k, 1);
        knit_msg_add_map_begin(w, s == PEER_ID ? 1 : 2);
        knit_msg_put_bin(w, 1, zeros, s == PEER_ID ? n : 32);
        if (s == PEER_ADDR) {
            knit_msg_put_array_begin(w, 2, 1);
            knit_msg_add_bin(w, zeros, n);
            knit_msg_array_end(w);
        } else if (s == PEER_LEAF) {
            knit_msg_put_map_begin(w, 3, 1);
            knit_msg_put_uint(w, 0, n);
            knit_msg_map_end(w);
        }
        knit_msg_map_end(w);
        knit_msg_array_end(w);
        return;
    }
}

static void test_reject_bounds(void **state)
{
    (void)state;
    static const struct {
        unsigned key;
        enum shape shape;
        uint32_t n;
        int want;
    } cases[] = {
        {63, UINT, 1000001, 0},
        {3, BIN, 0, 0},
        {3, BIN, 64, 0},
        {3, BIN, 65, KNIT_E_TOO_BIG},
        {10, BIN, 32, 0},
        {10, BIN, 31, KNIT_E_LENGTH},
        {10, BIN, 33, KNIT_E_LENGTH},
        {4, STR, 0, KNIT_E_LENGTH},
        {4, STR, 33, KNIT_E_TOO_BIG},
        {5, UINTS, 9, KNIT_E_TOO_BIG},
        {7, UINTS, 0, KNIT_E_LENGTH},      /* empty: under its min of 1 */
        {6, BINS_16_N, 17, KNIT_E_TOO_BIG},
        {9, PEER_ID, 31, KNIT_E_LENGTH},
        {9, PEER_ADDR, 0, KNIT_E_LENGTH},
        {9, PEER_LEAF, 1001, KNIT_E_TOO_BIG},
        {9, PEERS, 21, KNIT_E_TOO_BIG},
        {8, INNER_NO_BOOL, 1, KNIT_E_MISSING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* {0: MSG_TEST, 1: 5, key: what fill writes} */
        uint8_t buf[2048];
        size_t n;
        struct knit_msg_writer w;
        knit_msg_writer_init(&w, buf, sizeof buf);
        knit_msg_begin(&w, MSG_TEST, 2);
        knit_msg_put_uint(&w, 1, 5);
        fill(&w, cases[i].key, cases[i].shape, cases[i].n);
        assert_int_equal(knit_msg_end(&w, &n), 0);
        assert_int_equal(decode_raw(buf + 4, n - 4), cases[i].want);
    }

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
    assert_int_equal(knit_test_msg_write_full(buf, sizeof buf, &frame_len), 0);
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
                                &knit_test_msg_leaf_schema),
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
    uint8_t deep[1100] = {0x83, 0x00, 0x01, 0x01, 0x05, 0x03};
    size_t n = 6;
    for (int i = 0; i < 1000; i++)
        deep[n++] = 0x91;
    deep[n++] = 0x00;
    assert_int_equal(decode_raw(deep, n), KNIT_E_DEPTH);

    /* A schema that refers to itself: input may follow it only to
     * KNIT_MSG_MAX_DEPTH. */
    struct knit_msg m;
    for (int levels = 1; levels <= KNIT_MSG_MAX_DEPTH + 2; levels++) {
        uint8_t b[64] = {0x82, 0x00, 0x00, 0x01};
        n = 4;
        for (int i = 1; i < levels; i++) {
            b[n++] = 0x81;
            b[n++] = 0x01;
        }
        b[n++] = 0x80;
        int want = levels + 1 <= KNIT_MSG_MAX_DEPTH ? 0 : KNIT_E_DEPTH;
        assert_int_equal(knit_msg_decode(b, n, &self_schema, &m), want);
    }
}

/* Peeks at the type of a literal body, its length taken from the literal. */
#define PEEK(s, type) \
    knit_msg_peek_type((const uint8_t *)(s), sizeof(s) - 1, (type))

static void test_peek_type(void **state)
{
    (void)state;
    uint64_t type = 77;
    assert_int_equal(PEEK("\x82\x00\x05\x01\x02", &type), 0);
    assert_int_equal(type, 5);
    /* The type last, after a nested container that must be skipped. */
    assert_int_equal(PEEK("\x83\x09\x92\x81\x01\xa1x\xc4\x01z"
                          "\x01\x02\x00\xcd\x01\x00", &type), 0);
    assert_int_equal(type, 256);
    assert_int_equal(PEEK("\x81\x01\x02", &type), KNIT_E_MISSING);
    assert_int_equal(type, 0);
    assert_int_equal(PEEK("\x81\x00\xa1x", &type), KNIT_E_TYPE);
    assert_int_equal(PEEK("\x91\x00", &type), KNIT_E_TYPE);
    assert_int_equal(PEEK("\x81\xa1x\x00", &type), KNIT_E_TYPE);
    assert_int_equal(PEEK("\x82\x01\xc1\x00\x01", &type), KNIT_E_MALFORMED);
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
        uint8_t body[32] = {0x82, 0x00, 0x07, 0x01};
        size_t n = 4;
        memcpy(body + n, cases[i].enc, cases[i].len);
        n += cases[i].len;
        struct knit_msg m;
        assert_int_equal(knit_msg_decode(body, n, top_schema, &m),
                         cases[i].want);
        if (cases[i].want == 0)
            assert_int_equal(knit_msg_uint(&m, 1), 5);
        /* A value missing its last byte is cut short. */
        if (cases[i].len > 1 && cases[i].want == 0)
            assert_int_equal(knit_msg_decode(body, n - 1, top_schema, &m),
                             KNIT_E_TRUNCATED);

        /* The type after the value: the peek must skip it whole. */
        body[0] = 0x82;
        body[1] = 0x09;
        n = 2;
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

/* knit_msg_decode_whole: the wrapper every protocol's public decoder is.
 * The body decoder here fills half the message and then fails, as a real
 * one may; the caller must get zeros, not the half. */
struct two_fields {
    uint64_t a, b;
};

static int half_then_fail(const uint8_t *body, size_t len, void *out)
{
    struct two_fields *m = out;
    m->a = len;
    return body[0] ? KNIT_E_MALFORMED : KNIT_OK;
}

static void test_decode_whole(void **state)
{
    (void)state;
    struct two_fields m = {7, 7};
    const uint8_t ok[1] = {0}, bad[1] = {1};
    assert_int_equal(knit_msg_decode_whole(ok, 1, NULL, sizeof m,
                                           half_then_fail), KNIT_E_INVAL);
    assert_int_equal(knit_msg_decode_whole(NULL, 1, &m, sizeof m,
                                           half_then_fail), KNIT_E_INVAL);
    assert_true(m.a == 0 && m.b == 0);
    m.b = 7;
    assert_int_equal(knit_msg_decode_whole(bad, 1, &m, sizeof m,
                                           half_then_fail), KNIT_E_MALFORMED);
    assert_true(m.a == 0 && m.b == 0);
    m.b = 7;
    assert_int_equal(knit_msg_decode_whole(ok, 1, &m, sizeof m,
                                           half_then_fail), KNIT_OK);
    assert_true(m.a == 1 && m.b == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accessor_misuse),
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
        cmocka_unit_test(test_broken_schema),
        cmocka_unit_test(test_decode_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
