/* Protocol message writer: every value type written and decoded back, UTF-8
 * checks, running out of room, declared counts not kept, calls out of order,
 * and the limits on keys, nesting and sizes. The first error must stick. */
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

static uint8_t scratch[256];

/* A writer over scratch with a message of type 1 and `fields` fields begun. */
static void start(struct knit_msg_writer *w, uint32_t fields)
{
    knit_msg_writer_init(w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(w, 1, fields), 0);
}

/* Each takes the next element and checks it. */
static void expect_next_uint(struct knit_msg_iter *it, uint64_t want)
{
    uint64_t u;
    assert_int_equal(knit_msg_next_uint(it, &u), 0);
    assert_int_equal(u, want);
}

static void expect_next_bytes(struct knit_msg_iter *it, const void *want,
                              size_t want_len)
{
    const uint8_t *p;
    size_t len;
    assert_int_equal(knit_msg_next_bytes(it, &p, &len), 0);
    knit_test_expect_bytes(p, len, want, want_len);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(knit_test_msg_write_full(buf, sizeof buf, &frame_len), 0);

    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(buf, frame_len, KNIT_MSG_MAX_DEFAULT,
                                      &fr), 0);
    assert_int_equal(fr.len, frame_len);
    assert_ptr_equal(fr.body, buf + KNIT_MSG_HEADER_LEN);
    assert_int_equal(fr.body_len, frame_len - KNIT_MSG_HEADER_LEN);

    uint64_t type;
    assert_int_equal(knit_msg_peek_type(fr.body, fr.body_len, &type), 0);
    assert_int_equal(type, KNIT_TEST_MSG_TYPE);

    struct knit_msg m;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len,
                                     &knit_test_msg_schema, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), KNIT_TEST_MSG_TYPE);
    assert_int_equal(knit_msg_uint(&m, 1), 999999);
    assert_true(knit_msg_has(&m, 2));
    assert_int_equal(knit_msg_uint(&m, 2), 1);
    knit_test_msg_expect_field(&m, 3, "\x00\x01\x02", 3);
    knit_test_msg_expect_field(&m, 4, "h\xc3\xa9llo", 6);
    assert_false(knit_msg_has(&m, 10));
    size_t len;
    const uint8_t *p;
    assert_null(knit_msg_bytes(&m, 10, &len));
    assert_int_equal(len, 0);
    assert_int_equal(knit_msg_uint(&m, 63), 42);

    struct knit_msg_iter it;
    uint64_t u;
    assert_int_equal(knit_msg_iter_init(&it, &m, 5), 0);
    expect_next_uint(&it, 0);
    expect_next_uint(&it, 70000);
    expect_next_uint(&it, UINT64_MAX);
    assert_int_equal(knit_msg_next_uint(&it, &u), KNIT_E_NOT_FOUND);

    assert_int_equal(knit_msg_iter_init(&it, &m, 6), 0);
    expect_next_bytes(&it, "", 0);
    expect_next_bytes(&it, "xyz", 3);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), KNIT_E_NOT_FOUND);

    assert_int_equal(knit_msg_iter_init(&it, &m, 7), 0);
    expect_next_bytes(&it, "/knit/dht/1", 11);
    assert_int_equal(knit_msg_next_bytes(&it, &p, &len), KNIT_E_NOT_FOUND);

    struct knit_msg inner;
    assert_int_equal(knit_msg_get_map(&m, 8, &inner), 0);
    assert_true(knit_msg_has(&inner, 2));
    assert_int_equal(knit_msg_uint(&inner, 2), 0);
    knit_test_msg_expect_field(&inner, 1, "agent", 5);

    struct knit_msg peer, leaf;
    struct knit_msg_iter addrs, strs;
    assert_int_equal(knit_msg_iter_init(&it, &m, 9), 0);
    assert_int_equal(knit_msg_next_map(&it, &peer), 0);
    knit_test_msg_expect_field(&peer, 1, knit_test_msg_id_a, 32);
    assert_int_equal(knit_msg_iter_init(&addrs, &peer, 2), 0);
    expect_next_bytes(&addrs, "addr-one", 8);
    expect_next_bytes(&addrs, "addr-two!", 9);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_get_map(&peer, 3, &leaf), 0);
    assert_int_equal(knit_msg_uint(&leaf, 0), 1000);
    assert_int_equal(knit_msg_iter_init(&strs, &leaf, 1), 0);
    expect_next_bytes(&strs, "", 0);
    expect_next_bytes(&strs, "deep", 4);

    assert_int_equal(knit_msg_next_map(&it, &peer), 0);
    knit_test_msg_expect_field(&peer, 1, knit_test_msg_id_b, 32);
    assert_false(knit_msg_has(&peer, 2));
    /* An absent optional array walks as empty. */
    assert_int_equal(knit_msg_iter_init(&addrs, &peer, 2), 0);
    assert_int_equal(knit_msg_next_bytes(&addrs, &p, &len), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_get_map(&peer, 3, &leaf), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_msg_next_map(&it, &peer), KNIT_E_NOT_FOUND);
}

/* The writer refuses exactly the strings the decoder refuses. */
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
        struct knit_msg m;
        int err = knit_msg_decode(body, 7 + len, &knit_test_msg_schema, &m);
        if (err < 0)
            assert_int_equal(m.present, 0);   /* cleared on error */
        assert_int_equal(err, cases[i].valid ? 0 : KNIT_E_MALFORMED);
    }
}

static void test_writer_no_space(void **state)
{
    (void)state;
    uint8_t full[512];
    size_t need, n;
    assert_int_equal(knit_test_msg_write_full(full, sizeof full, &need), 0);
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t small[512];
        memset(small, 0xaa, sizeof small);
        assert_int_equal(knit_test_msg_write_full(small, cap, &n),
                         KNIT_E_NO_SPACE);
        assert_int_equal(n, 0);
        for (size_t i = cap; i < sizeof small; i++)
            assert_int_equal(small[i], 0xaa);   /* nothing past cap */
    }
    assert_int_equal(knit_test_msg_write_full(full, need, &n), 0);
    assert_int_equal(n, need);
}

static void test_writer_counts(void **state)
{
    (void)state;
    size_t n;
    struct knit_msg_writer w;

    /* Fewer fields than declared. */
    start(&w, 2);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), 0);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    assert_int_equal(n, 0);

    /* More fields than declared: caught at the extra put, and it sticks. */
    start(&w, 1);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), 0);
    assert_int_equal(knit_msg_put_uint(&w, 2, 1), KNIT_E_INVAL);
    assert_int_equal(knit_msg_put_bool(&w, 3, true), KNIT_E_INVAL);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);

    /* An array one element short, then one element long. */
    start(&w, 1);
    knit_msg_put_array_begin(&w, 1, 2);
    knit_msg_add_uint(&w, 1);
    assert_int_equal(knit_msg_array_end(&w), KNIT_E_INVAL);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    start(&w, 1);
    knit_msg_put_array_begin(&w, 1, 1);
    knit_msg_add_uint(&w, 1);
    assert_int_equal(knit_msg_add_uint(&w, 2), KNIT_E_INVAL);

    /* A nested map short a field; an unclosed container at the end. */
    start(&w, 1);
    knit_msg_put_map_begin(&w, 1, 2);
    knit_msg_put_uint(&w, 0, 1);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);
    start(&w, 1);
    knit_msg_put_map_begin(&w, 1, 0);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    static const uint8_t zeros[16];
    size_t n;
    struct knit_msg_writer w;

    knit_msg_writer_init(&w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), KNIT_E_INVAL); /* no begin */
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_INVAL);
    start(&w, 0);
    assert_int_equal(knit_msg_begin(&w, 1, 0), KNIT_E_INVAL);

    /* Key 0 is the type's; keys past 63 do not exist; a key twice. */
    start(&w, 2);
    assert_int_equal(knit_msg_put_uint(&w, 0, 1), KNIT_E_DUPLICATE);
    start(&w, 2);
    assert_int_equal(knit_msg_put_uint(&w, 64, 1), KNIT_E_INVAL);
    start(&w, 2);
    knit_msg_put_uint(&w, 5, 1);
    assert_int_equal(knit_msg_put_bool(&w, 5, true), KNIT_E_DUPLICATE);
    assert_int_equal(knit_msg_end(&w, &n), KNIT_E_DUPLICATE);
    assert_int_equal(knit_msg_put_uint(&w, 6, 1), KNIT_E_DUPLICATE);
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(&w, 1, 64), KNIT_E_INVAL);

    /* put in an array, add in a map, closing the wrong kind. */
    start(&w, 2);
    assert_int_equal(knit_msg_add_uint(&w, 1), KNIT_E_INVAL);
    start(&w, 1);
    knit_msg_put_array_begin(&w, 1, 1);
    assert_int_equal(knit_msg_put_uint(&w, 2, 1), KNIT_E_INVAL);
    start(&w, 1);
    knit_msg_put_array_begin(&w, 1, 0);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);
    start(&w, 0);
    assert_int_equal(knit_msg_map_end(&w), KNIT_E_INVAL);  /* the top */

    /* str must be UTF-8; NULL bytes need length 0. */
    start(&w, 1);
    assert_int_equal(knit_msg_put_str(&w, 1, "\xff", 1), KNIT_E_INVAL);
    start(&w, 1);
    assert_int_equal(knit_msg_put_bin(&w, 1, NULL, 1), KNIT_E_INVAL);

    /* Nesting past the limit. */
    start(&w, 1);
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

    /* Sizes past the ceiling, for one value and for the body; the length is
     * refused before a byte of zeros is read. */
    start(&w, 1);
    assert_int_equal(knit_msg_put_bin(&w, 1, zeros,
                                      (size_t)KNIT_MSG_MAX_CEILING + 1),
                     KNIT_E_TOO_BIG);
    start(&w, 1);
    assert_int_equal(knit_msg_put_map_begin(&w, 1, 65), KNIT_E_INVAL);
    knit_msg_writer_init(&w, NULL, 16);
    assert_int_equal(knit_msg_begin(&w, 1, 0), KNIT_E_INVAL);

    /* After a finished message the writer takes nothing more. */
    start(&w, 0);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(knit_msg_put_uint(&w, 1, 1), KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_writer_no_space),
        cmocka_unit_test(test_writer_counts),
        cmocka_unit_test(test_writer_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
