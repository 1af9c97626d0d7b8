/* transport/addr.c: the knit_addr value type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/error.h"
#include "transport/io.h"

static void test_set_and_format_ip4(void **state)
{
    (void)state;
    const uint8_t ip[4] = {203, 0, 113, 7};
    struct knit_addr a;
    assert_int_equal(knit_addr_set(&a, ip, 4, 4001), KNIT_OK);
    assert_int_equal(a.family, KNIT_AF_IP4);
    char text[KNIT_ADDR_TEXT_MAX];
    assert_int_equal(knit_addr_format(&a, text, sizeof text), KNIT_OK);
    assert_string_equal(text, "203.0.113.7:4001");
}

static void test_set_and_format_ip6(void **state)
{
    (void)state;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip[15] = 1;
    struct knit_addr a;
    assert_int_equal(knit_addr_set(&a, ip, 16, 65535), KNIT_OK);
    char text[KNIT_ADDR_TEXT_MAX];
    assert_int_equal(knit_addr_format(&a, text, sizeof text), KNIT_OK);
    assert_string_equal(text, "[2001:db8::1]:65535");
    /* The longest IPv6 text plus port fits in KNIT_ADDR_TEXT_MAX. */
    memset(ip, 0xff, 12);
    memcpy(ip + 12, "\xff\xff\xff\xff", 4);
    knit_addr_set(&a, ip, 16, 65535);
    assert_int_equal(knit_addr_format(&a, text, sizeof text), KNIT_OK);
}

static void test_format_too_small(void **state)
{
    (void)state;
    const uint8_t ip[4] = {10, 0, 0, 1};
    struct knit_addr a;
    knit_addr_set(&a, ip, 4, 1);
    char text[8];
    assert_int_equal(knit_addr_format(&a, text, sizeof text), KNIT_E_NO_SPACE);
}

static void test_bad_length(void **state)
{
    (void)state;
    const uint8_t ip[5] = {0};
    struct knit_addr a;
    assert_int_equal(knit_addr_set(&a, ip, 5, 1), KNIT_E_LENGTH);
}

static void test_equal(void **state)
{
    (void)state;
    const uint8_t ip[4] = {10, 0, 0, 1};
    struct knit_addr a, b;
    knit_addr_set(&a, ip, 4, 1);
    knit_addr_set(&b, ip, 4, 1);
    assert_true(knit_addr_equal(&a, &b));
    b.port = 2;
    assert_false(knit_addr_equal(&a, &b));
    b.port = 1;
    b.ip[3] = 2;
    assert_false(knit_addr_equal(&a, &b));
}

static struct knit_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct knit_addr x = {.family = KNIT_AF_IP4, .ip = {a, b, c, d}};
    return x;
}

static void test_global(void **state)
{
    (void)state;
    struct knit_addr yes[] = {ip4(203, 0, 113, 7), ip4(8, 8, 8, 8),
                              ip4(100, 63, 0, 1), ip4(172, 32, 0, 1)};
    struct knit_addr no[] = {ip4(0, 0, 0, 0), ip4(10, 1, 2, 3),
                             ip4(127, 0, 0, 1), ip4(100, 64, 0, 1),
                             ip4(169, 254, 1, 1), ip4(172, 16, 0, 1),
                             ip4(172, 31, 255, 1), ip4(192, 168, 1, 1),
                             ip4(224, 0, 0, 1)};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(knit_addr_is_global(&yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(knit_addr_is_global(&no[i]));
    struct knit_addr g6 = {.family = KNIT_AF_IP6,
                           .ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    assert_true(knit_addr_is_global(&g6));
    struct knit_addr lo6 = {.family = KNIT_AF_IP6, .ip = {[15] = 1}};
    struct knit_addr ula = {.family = KNIT_AF_IP6, .ip = {0xfd, 1, [15] = 1}};
    struct knit_addr ll = {.family = KNIT_AF_IP6, .ip = {0xfe, 0x80, [15] = 1}};
    struct knit_addr mapped = {.family = KNIT_AF_IP6,
                               .ip = {[10] = 0xff, [11] = 0xff, 192, 168, 0, 1}};
    assert_false(knit_addr_is_global(&lo6));
    assert_false(knit_addr_is_global(&ula));
    assert_false(knit_addr_is_global(&ll));
    assert_false(knit_addr_is_global(&mapped));
    struct knit_addr unset = {0};
    assert_false(knit_addr_is_global(&unset));
}

static void test_unspecified(void **state)
{
    (void)state;
    struct knit_addr any4 = {.family = KNIT_AF_IP4};
    struct knit_addr any6 = {.family = KNIT_AF_IP6};
    assert_true(knit_addr_is_unspecified(&any4));
    assert_true(knit_addr_is_unspecified(&any6));
    any6.ip[15] = 1;    /* ::1 */
    assert_false(knit_addr_is_unspecified(&any6));
}

static void test_strerror_covers_codes(void **state)
{
    (void)state;
    for (int code = 0; code >= KNIT_E_LOWEST; code--)
        assert_string_not_equal(knit_strerror(code), "unknown error");
    assert_string_equal(knit_strerror(-10000), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_format_ip4),
        cmocka_unit_test(test_set_and_format_ip6),
        cmocka_unit_test(test_format_too_small),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_unspecified),
        cmocka_unit_test(test_global),
        cmocka_unit_test(test_strerror_covers_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
