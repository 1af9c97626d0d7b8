#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/base58.h"
#include "tests/support/vectors.h"
#include "transport/error.h"

/* The encode/decode pairs from Bitcoin Core's base58 tests: they pin the
 * alphabet, the digit order and the leading-zero rule. */
static const struct {
    const char *hex;
    const char *text;
} known[] = {
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67",
     "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647",
     "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00000000000000000000", "1111111111"},
};

static void test_known_pairs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint8_t bin[64], dec[64];
        long n = knit_test_hex_decode(known[i].hex, bin, sizeof bin);
        assert_true(n > 0);

        char text[128];
        size_t tlen = 0;
        assert_int_equal(knit_base58_encode(bin, (size_t)n, text, sizeof text,
                                            &tlen), 0);
        assert_string_equal(text, known[i].text);
        assert_int_equal(tlen, strlen(known[i].text));

        size_t dlen = 0;
        assert_int_equal(knit_base58_decode(known[i].text,
                                            strlen(known[i].text), dec,
                                            sizeof dec, &dlen), 0);
        assert_int_equal(dlen, (size_t)n);
        assert_memory_equal(dec, bin, dlen);
    }
}

static void test_leading_zeros(void **state)
{
    (void)state;
    const uint8_t zero[1] = {0};
    const uint8_t zz1[3] = {0, 0, 1};
    char text[16];
    size_t n;
    assert_int_equal(knit_base58_encode(zero, 1, text, sizeof text, &n), 0);
    assert_string_equal(text, "1");
    assert_int_equal(knit_base58_encode(zz1, 3, text, sizeof text, &n), 0);
    assert_string_equal(text, "112");

    uint8_t out[8];
    assert_int_equal(knit_base58_decode("112", 3, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, zz1, 3);
    assert_int_equal(knit_base58_decode("111", 3, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\0\0\0", 3);
}

/* Every length up to the limit, with and without leading zeros. */
static void test_round_trip(void **state)
{
    (void)state;
    uint8_t in[KNIT_BASE58_MAX_BYTES], out[KNIT_BASE58_MAX_BYTES];
    char text[KNIT_BASE58_MAX_TEXT + 1];
    uint32_t x = 2463534242u;
    for (size_t len = 1; len <= KNIT_BASE58_MAX_BYTES; len++) {
        for (int zeros = 0; zeros < 3; zeros++) {
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                in[i] = (uint8_t)x;
            }
            for (size_t i = 0; i < (size_t)zeros && i < len; i++)
                in[i] = 0;
            size_t tlen, dlen;
            assert_int_equal(knit_base58_encode(in, len, text, sizeof text,
                                                &tlen), 0);
            assert_int_equal(strlen(text), tlen);
            assert_int_equal(knit_base58_decode(text, tlen, out, sizeof out,
                                                &dlen), 0);
            assert_int_equal(dlen, len);
            assert_memory_equal(out, in, len);
        }
    }
}

static void test_largest_input(void **state)
{
    (void)state;
    uint8_t in[KNIT_BASE58_MAX_BYTES], out[KNIT_BASE58_MAX_BYTES];
    char text[KNIT_BASE58_MAX_TEXT + 1];
    size_t tlen, dlen;
    memset(in, 0xff, sizeof in);
    assert_int_equal(knit_base58_encode(in, sizeof in, text, sizeof text,
                                        &tlen), 0);
    assert_true(tlen <= KNIT_BASE58_MAX_TEXT);
    assert_int_equal(knit_base58_decode(text, tlen, out, sizeof out, &dlen), 0);
    assert_int_equal(dlen, sizeof in);
    assert_memory_equal(out, in, sizeof in);
}

static void test_rejects_bad_characters(void **state)
{
    (void)state;
    /* 0, O, I and l are left out of the alphabet on purpose. */
    const char *bad[] = {"0", "O", "I", "l", "2g0", "abcO", "+", "2g ",
                         " 2g", "2g\n", "\xc3\xa9", "-1"};
    uint8_t out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(knit_base58_decode(bad[i], strlen(bad[i]), out,
                                            sizeof out, &n), KNIT_E_BASE58);
    /* A NUL inside the given length is a character too. */
    assert_int_equal(knit_base58_decode("2g\0a", 4, out, sizeof out, &n),
                     KNIT_E_BASE58);
}

static void test_rejects_lengths(void **state)
{
    (void)state;
    uint8_t out[256];
    char text[KNIT_BASE58_MAX_TEXT + 2];
    size_t n;
    assert_int_equal(knit_base58_decode("", 0, out, sizeof out, &n),
                     KNIT_E_LENGTH);

    memset(text, '1', sizeof text);
    assert_int_equal(knit_base58_decode(text, KNIT_BASE58_MAX_TEXT, out,
                                        sizeof out, &n), 0);
    assert_int_equal(n, KNIT_BASE58_MAX_TEXT);
    assert_int_equal(knit_base58_decode(text, KNIT_BASE58_MAX_TEXT + 1, out,
                                        sizeof out, &n), KNIT_E_TOO_BIG);

    uint8_t in[KNIT_BASE58_MAX_BYTES + 1];
    char big[512];
    memset(in, 7, sizeof in);
    assert_int_equal(knit_base58_encode(in, 0, big, sizeof big, &n),
                     KNIT_E_LENGTH);
    assert_int_equal(knit_base58_encode(in, sizeof in, big, sizeof big, &n),
                     KNIT_E_TOO_BIG);
}

static void test_output_space(void **state)
{
    (void)state;
    const uint8_t in[3] = {0x62, 0x62, 0x62};
    char text[8];
    uint8_t out[3];
    size_t n;
    /* "a3gV" needs 5 bytes with its NUL. */
    assert_int_equal(knit_base58_encode(in, 3, text, 4, &n), KNIT_E_NO_SPACE);
    assert_int_equal(knit_base58_encode(in, 3, text, 5, &n), 0);
    assert_int_equal(knit_base58_decode("a3gV", 4, out, 2, &n),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_base58_decode("11", 2, out, 1, &n), KNIT_E_NO_SPACE);
    assert_int_equal(knit_base58_decode("a3gV", 4, out, 3, &n), 0);
    assert_memory_equal(out, in, 3);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    uint8_t out[8];
    char text[8];
    size_t n;
    assert_int_equal(knit_base58_encode(NULL, 1, text, sizeof text, &n),
                     KNIT_E_INVAL);
    assert_int_equal(knit_base58_encode(out, 1, NULL, 8, &n), KNIT_E_INVAL);
    assert_int_equal(knit_base58_decode(NULL, 1, out, sizeof out, &n),
                     KNIT_E_INVAL);
    assert_int_equal(knit_base58_decode("2g", 2, out, sizeof out, NULL),
                     KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_pairs),
        cmocka_unit_test(test_leading_zeros),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_largest_input),
        cmocka_unit_test(test_rejects_bad_characters),
        cmocka_unit_test(test_rejects_lengths),
        cmocka_unit_test(test_output_space),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
