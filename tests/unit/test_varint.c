#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/varint.h"
#include "transport/error.h"

/* RFC 9000 Appendix A.1; the last is a two-byte (non-minimal) form of 37. */
static const struct {
    uint8_t bytes[8];
    size_t len;
    uint64_t value;
    bool minimal;
} rfc[] = {
    {{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 8,
     UINT64_C(151288809941952652), true},
    {{0x9d, 0x7f, 0x3e, 0x7d}, 4, 494878333, true},
    {{0x7b, 0xbd}, 2, 15293, true},
    {{0x25}, 1, 37, true},
    {{0x40, 0x25}, 2, 37, false},
};

static void test_rfc_examples(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        uint64_t v = 0;
        size_t n = 0;
        assert_int_equal(knit_varint_decode(rfc[i].bytes, rfc[i].len, &v, &n),
                         0);
        assert_true(v == rfc[i].value);
        assert_int_equal(n, rfc[i].len);
        if (!rfc[i].minimal)
            continue;
        uint8_t out[8];
        assert_int_equal(knit_varint_encode(rfc[i].value, out, sizeof out,
                                            &n), 0);
        assert_int_equal(n, rfc[i].len);
        assert_memory_equal(out, rfc[i].bytes, n);
        assert_int_equal(knit_varint_size(rfc[i].value), rfc[i].len);
    }
}

static void test_encodes_minimally(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    assert_int_equal(knit_varint_encode(37, out, sizeof out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0x25);
    /* An eight-byte form of 37 still decodes: we accept longer forms. */
    const uint8_t long37[8] = {0xc0, 0, 0, 0, 0, 0, 0, 0x25};
    uint64_t v;
    assert_int_equal(knit_varint_decode(long37, 8, &v, &n), 0);
    assert_true(v == 37);
    assert_int_equal(n, 8);
}

static void test_boundaries(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        size_t size;
    } edges[] = {
        {0, 1},
        {63, 1},
        {64, 2},
        {16383, 2},
        {16384, 4},
        {(UINT64_C(1) << 30) - 1, 4},
        {UINT64_C(1) << 30, 8},
        {KNIT_VARINT_MAX, 8},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        uint8_t out[8];
        size_t n = 0;
        uint64_t back = 0;
        assert_int_equal(knit_varint_size(edges[i].v), edges[i].size);
        assert_int_equal(knit_varint_encode(edges[i].v, out, sizeof out, &n),
                         0);
        assert_int_equal(n, edges[i].size);
        assert_int_equal(knit_varint_decode(out, n, &back, &n), 0);
        assert_int_equal(n, edges[i].size);
        assert_true(back == edges[i].v);
    }
}

static void test_too_big(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    assert_int_equal(knit_varint_size(KNIT_VARINT_MAX + 1), 0);
    assert_int_equal(knit_varint_size(UINT64_MAX), 0);
    assert_int_equal(knit_varint_encode(KNIT_VARINT_MAX + 1, out, sizeof out,
                                        &n), KNIT_E_TOO_BIG);
    assert_int_equal(knit_varint_encode(UINT64_MAX, out, sizeof out, &n),
                     KNIT_E_TOO_BIG);
}

static void test_no_space(void **state)
{
    (void)state;
    const uint64_t values[] = {0, 64, 16384, KNIT_VARINT_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        size_t size = knit_varint_size(values[i]);
        for (size_t cap = 0; cap < size; cap++) {
            uint8_t out[8];
            memset(out, 0xaa, sizeof out);
            size_t n = 99;
            assert_int_equal(knit_varint_encode(values[i], out, cap, &n),
                             KNIT_E_NO_SPACE);
            assert_int_equal(n, 99);
            for (size_t k = 0; k < sizeof out; k++)
                assert_int_equal(out[k], 0xaa);
        }
    }
    size_t n;
    assert_int_equal(knit_varint_encode(0, NULL, 0, &n), KNIT_E_NO_SPACE);
}

static void test_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        for (size_t len = 0; len < rfc[i].len; len++) {
            uint64_t v;
            size_t n;
            assert_int_equal(knit_varint_decode(rfc[i].bytes, len, &v, &n),
                             KNIT_E_TRUNCATED);
        }
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    /* Every power of two and its neighbours up to the limit. */
    for (unsigned shift = 0; shift < 62; shift++) {
        uint64_t base = UINT64_C(1) << shift;
        uint64_t tries[3] = {base - 1, base, base + 1};
        for (size_t k = 0; k < 3; k++) {
            uint8_t buf[10];
            size_t n, m;
            uint64_t back;
            assert_int_equal(knit_varint_encode(tries[k], buf, sizeof buf, &n),
                             0);
            assert_int_equal(n, knit_varint_size(tries[k]));
            /* Bytes after the varint must not be read or change the value. */
            memset(buf + n, 0xff, sizeof buf - n);
            assert_int_equal(knit_varint_decode(buf, sizeof buf, &back, &m),
                             0);
            assert_int_equal(m, n);
            assert_true(back == tries[k]);
        }
    }
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    uint8_t buf[8] = {0};
    uint64_t v;
    size_t n;
    assert_int_equal(knit_varint_encode(1, buf, sizeof buf, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(knit_varint_encode(1, NULL, 8, &n), KNIT_E_INVAL);
    assert_int_equal(knit_varint_decode(NULL, 1, &v, &n), KNIT_E_INVAL);
    assert_int_equal(knit_varint_decode(buf, 1, NULL, &n), KNIT_E_INVAL);
    assert_int_equal(knit_varint_decode(buf, 1, &v, NULL), KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_encodes_minimally),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_no_space),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
