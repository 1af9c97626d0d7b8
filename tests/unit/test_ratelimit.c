#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ratelimit.h"

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(1000) * SEC)

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                15, 16};

/* 64 KiB each: static rather than on the stack. */
static struct knit_ratelimit rl;

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {a, b, c, d};
    knit_addr_set(&addr, ip, 4, port);
    return addr;
}

static struct knit_addr v6(uint16_t w3, uint16_t w7, uint16_t port)
{
    struct knit_addr addr;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip[6] = (uint8_t)(w3 >> 8);
    ip[7] = (uint8_t)w3;
    ip[14] = (uint8_t)(w7 >> 8);
    ip[15] = (uint8_t)w7;
    knit_addr_set(&addr, ip, 16, port);
    return addr;
}

/* How many of n back-to-back attempts at time now get through. */
static int burst_at(const struct knit_addr *a, uint64_t now, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += knit_ratelimit_allow(&rl, a, now);
    return ok;
}

static void test_burst_then_limited(void **state)
{
    (void)state;
    knit_ratelimit_init(&rl, key, 0, 0);   /* defaults: 20/s, burst 5 */
    struct knit_addr a = v4(192, 0, 2, 1, 4001);
    for (int i = 0; i < KNIT_RATELIMIT_DEFAULT_BURST; i++)
        assert_true(knit_ratelimit_allow(&rl, &a, T0));
    assert_false(knit_ratelimit_allow(&rl, &a, T0));
    assert_false(knit_ratelimit_allow(&rl, &a, T0 + 49 * MS));
    /* The port does not make a new source. */
    struct knit_addr a2 = v4(192, 0, 2, 1, 9999);
    assert_false(knit_ratelimit_allow(&rl, &a2, T0 + 49 * MS));
}

static void test_refill(void **state)
{
    (void)state;
    knit_ratelimit_init(&rl, key, 0, 0);
    struct knit_addr a = v4(192, 0, 2, 1, 4001);
    assert_int_equal(burst_at(&a, T0, 10), 5);
    /* One handshake per 50 ms comes back. */
    assert_int_equal(burst_at(&a, T0 + 50 * MS, 10), 1);
    assert_int_equal(burst_at(&a, T0 + 99 * MS, 10), 0);
    assert_int_equal(burst_at(&a, T0 + 100 * MS, 10), 1);
    assert_int_equal(burst_at(&a, T0 + 250 * MS, 10), 3);
    /* A long pause refills to the burst, not beyond. */
    assert_int_equal(burst_at(&a, T0 + 10 * SEC, 100), 5);
    /* Steady hammering gets 20 per second: over 10 s of an attempt every
     * millisecond, the burst plus 200. */
    knit_ratelimit_init(&rl, key, 0, 0);
    int ok = 0;
    for (uint64_t t = 0; t < 10 * SEC; t += MS)
        ok += knit_ratelimit_allow(&rl, &a, T0 + t);
    assert_in_range(ok, 5 + 199, 5 + 200);
}

static void test_configurable(void **state)
{
    (void)state;
    struct knit_addr a = v4(198, 51, 100, 7, 1);
    knit_ratelimit_init(&rl, key, 1, 1);
    assert_int_equal(burst_at(&a, T0, 10), 1);
    assert_int_equal(burst_at(&a, T0 + SEC - 1, 10), 0);
    assert_int_equal(burst_at(&a, T0 + SEC, 10), 1);
    knit_ratelimit_init(&rl, key, 100, 50);
    assert_int_equal(burst_at(&a, T0, 1000), 50);
    assert_int_equal(burst_at(&a, T0 + 100 * MS, 1000), 10);
    /* Absurd rates do not break it. */
    knit_ratelimit_init(&rl, key, UINT32_MAX, UINT32_MAX);
    assert_int_equal(burst_at(&a, T0, 1000), 1000);
}

static void test_distinct_sources_independent(void **state)
{
    (void)state;
    knit_ratelimit_init(&rl, key, 0, 0);
    struct knit_addr a = v4(192, 0, 2, 1, 1), b = v4(192, 0, 2, 2, 1);
    struct knit_addr c = v6(0, 1, 1);
    assert_int_equal(burst_at(&a, T0, 10), 5);
    assert_int_equal(burst_at(&b, T0, 10), 5);
    assert_int_equal(burst_at(&c, T0, 10), 5);
    assert_int_equal(burst_at(&a, T0, 10), 0);
    /* Not an IP address: refused outright. */
    struct knit_addr unset;
    memset(&unset, 0, sizeof unset);
    assert_false(knit_ratelimit_allow(&rl, &unset, T0));
    assert_false(knit_ratelimit_allow(&rl, NULL, T0));
}

static void test_ipv6_per_64(void **state)
{
    (void)state;
    knit_ratelimit_init(&rl, key, 0, 0);
    struct knit_addr a = v6(0, 1, 1), same64 = v6(0, 0xffff, 2);
    struct knit_addr next64 = v6(1, 1, 1);
    assert_int_equal(burst_at(&a, T0, 3), 3);
    assert_int_equal(burst_at(&same64, T0, 10), 2);
    assert_int_equal(burst_at(&next64, T0, 10), 5);
    /* An IPv4-mapped IPv6 address is the IPv4 address. */
    struct knit_addr four = v4(203, 0, 113, 9, 1), mapped;
    uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9};
    knit_addr_set(&mapped, ip, 16, 1);
    assert_int_equal(burst_at(&four, T0, 3), 3);
    assert_int_equal(burst_at(&mapped, T0, 10), 2);
}

static void test_saturation(void **state)
{
    (void)state;
    knit_ratelimit_init(&rl, key, 0, 0);
    struct knit_addr hammer = v6(0x77, 1, 1);
    uint64_t now = T0;
    int hammer_ok = 0;
    /* 200 000 distinct sources (50 times the table) with a hammering one in
     * between, over 2 s. Each newcomer gets its burst; the hammerer stays
     * limited because the table evicts the lightest buckets first. */
    for (uint32_t i = 0; i < 200000; i++) {
        struct knit_addr a = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                                (uint8_t)i, 1);
        assert_true(knit_ratelimit_allow(&rl, &a, now));
        if (i % 100 == 0)
            hammer_ok += burst_at(&hammer, now, 10);
        now += 10;
    }
    assert_in_range(hammer_ok, 1, 5 + 2 * 20 + 1);
    /* The table is full of live buckets. */
    size_t used = 0;
    for (size_t i = 0; i < KNIT_RATELIMIT_SLOTS; i++)
        used += rl.slots[i].tag != 0;
    assert_int_equal(used, KNIT_RATELIMIT_SLOTS);
    /* A source that just used its burst is still limited after the flood
     * of newcomers... */
    struct knit_addr a = v4(10, 0, 0, 5, 1);
    assert_int_equal(burst_at(&a, now, 10), 5);
    for (uint32_t i = 0; i < 3000; i++) {
        struct knit_addr b = v6((uint16_t)(i + 1000), 1, 1);
        knit_ratelimit_allow(&rl, &b, now);
    }
    assert_int_equal(burst_at(&a, now, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_limited),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_configurable),
        cmocka_unit_test(test_distinct_sources_independent),
        cmocka_unit_test(test_ipv6_per_64),
        cmocka_unit_test(test_saturation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
