#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ack_ranges.h"
#include "proto/frame.h"
#include "proto/varint.h"
#include "transport/error.h"

static void assert_range(const struct knit_ack_ranges *a, uint32_t i,
                         uint64_t lo, uint64_t hi)
{
    assert_true(i < a->count);
    const struct knit_ack_range *r = knit_ack_ranges_get(a);
    assert_true(r[i].lo == lo);
    assert_true(r[i].hi == hi);
}

/* Descending, disjoint, non-adjacent, within bounds, above the floor. */
static void assert_well_formed(const struct knit_ack_ranges *a)
{
    assert_true(a->count <= KNIT_ACK_MAX_RANGES);
    const struct knit_ack_range *r = knit_ack_ranges_get(a);
    for (uint32_t i = 0; i < a->count; i++) {
        assert_true(r[i].lo <= r[i].hi);
        assert_true(r[i].lo >= a->floor);
        if (i > 0)
            assert_true(r[i].hi + 1 < r[i - 1].lo);
    }
}

static void test_in_order(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    assert_int_equal(a.count, 0);
    assert_false(knit_ack_ranges_contains(&a, 0));
    for (uint64_t pn = 0; pn < 100; pn++)
        assert_int_equal(knit_ack_ranges_add(&a, pn), 1);
    assert_int_equal(a.count, 1);
    assert_range(&a, 0, 0, 99);
    assert_true(knit_ack_ranges_largest(&a) == 99);
    assert_true(knit_ack_ranges_contains(&a, 0));
    assert_true(knit_ack_ranges_contains(&a, 99));
    assert_false(knit_ack_ranges_contains(&a, 100));
    knit_ack_ranges_free(&a);
}

static void test_gaps_and_merging(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    assert_int_equal(knit_ack_ranges_add(&a, 5), 1);
    assert_int_equal(knit_ack_ranges_add(&a, 1), 1);
    assert_int_equal(knit_ack_ranges_add(&a, 3), 1);
    assert_int_equal(a.count, 3);
    assert_range(&a, 0, 5, 5);
    assert_range(&a, 1, 3, 3);
    assert_range(&a, 2, 1, 1);
    for (uint64_t pn = 0; pn <= 6; pn++)
        assert_int_equal(knit_ack_ranges_contains(&a, pn), pn % 2 == 1);

    /* 4 joins the ranges on both sides. */
    assert_int_equal(knit_ack_ranges_add(&a, 4), 1);
    assert_int_equal(a.count, 2);
    assert_range(&a, 0, 3, 5);
    assert_range(&a, 1, 1, 1);
    /* 6 extends the top range upward, 0 the bottom one downward. */
    assert_int_equal(knit_ack_ranges_add(&a, 6), 1);
    assert_int_equal(knit_ack_ranges_add(&a, 0), 1);
    assert_range(&a, 0, 3, 6);
    assert_range(&a, 1, 0, 1);
    /* 2 closes the last gap. */
    assert_int_equal(knit_ack_ranges_add(&a, 2), 1);
    assert_int_equal(a.count, 1);
    assert_range(&a, 0, 0, 6);
    /* A new range above everything goes first. */
    assert_int_equal(knit_ack_ranges_add(&a, 1000), 1);
    assert_range(&a, 0, 1000, 1000);
    assert_range(&a, 1, 0, 6);
    assert_true(knit_ack_ranges_largest(&a) == 1000);
    knit_ack_ranges_free(&a);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    const uint64_t pns[] = {10, 11, 12, 20, 30, 31};
    for (size_t i = 0; i < sizeof pns / sizeof pns[0]; i++)
        assert_int_equal(knit_ack_ranges_add(&a, pns[i]), 1);
    struct knit_ack_ranges before = a;
    for (size_t i = 0; i < sizeof pns / sizeof pns[0]; i++) {
        assert_int_equal(knit_ack_ranges_add(&a, pns[i]), 0);
        assert_true(knit_ack_ranges_contains(&a, pns[i]));
    }
    assert_int_equal(a.count, before.count);
    assert_memory_equal(knit_ack_ranges_get(&a), knit_ack_ranges_get(&before),
                        a.count * sizeof(struct knit_ack_range));
    knit_ack_ranges_free(&a);
}

static void test_overflow_drops_lowest(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    /* 0, 2, 4, ... each needs its own range: 64 fill the record. */
    for (uint64_t i = 0; i < KNIT_ACK_MAX_RANGES; i++)
        assert_int_equal(knit_ack_ranges_add(&a, 2 * i), 1);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_range(&a, KNIT_ACK_MAX_RANGES - 1, 0, 0);

    /* One more range: {0} goes, and 0 stays a duplicate. */
    assert_int_equal(knit_ack_ranges_add(&a, 2 * KNIT_ACK_MAX_RANGES), 1);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_range(&a, 0, 2 * KNIT_ACK_MAX_RANGES, 2 * KNIT_ACK_MAX_RANGES);
    assert_range(&a, KNIT_ACK_MAX_RANGES - 1, 2, 2);
    assert_true(a.floor == 1);
    assert_true(knit_ack_ranges_contains(&a, 0));
    assert_int_equal(knit_ack_ranges_add(&a, 0), 0);
    /* 1 is above the floor and was never seen: still new. */
    assert_false(knit_ack_ranges_contains(&a, 1));
    assert_int_equal(knit_ack_ranges_add(&a, 1), 1);
    assert_range(&a, KNIT_ACK_MAX_RANGES - 1, 1, 2);
    assert_well_formed(&a);

    /* Full again, and the newcomer would itself be the lowest range: it is
     * the one dropped, so it is refused. */
    knit_ack_ranges_free(&a);
    for (uint64_t i = 1; i <= KNIT_ACK_MAX_RANGES; i++)
        assert_int_equal(knit_ack_ranges_add(&a, 10 * i), 1);
    assert_int_equal(knit_ack_ranges_add(&a, 3), 0);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_range(&a, KNIT_ACK_MAX_RANGES - 1, 10, 10);
    assert_true(knit_ack_ranges_contains(&a, 3));
    assert_false(knit_ack_ranges_contains(&a, 5));
    /* Merging still works when full: no range is dropped for it. */
    assert_int_equal(knit_ack_ranges_add(&a, 9), 1);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_range(&a, KNIT_ACK_MAX_RANGES - 1, 9, 10);
    assert_well_formed(&a);
    knit_ack_ranges_free(&a);
}

static void test_remove_below(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    for (uint64_t pn = 1; pn <= 5; pn++)
        knit_ack_ranges_add(&a, pn);
    for (uint64_t pn = 10; pn <= 15; pn++)
        knit_ack_ranges_add(&a, pn);
    for (uint64_t pn = 20; pn <= 30; pn++)
        knit_ack_ranges_add(&a, pn);
    assert_int_equal(a.count, 3);

    knit_ack_ranges_remove_below(&a, 12);
    assert_int_equal(a.count, 2);
    assert_range(&a, 0, 20, 30);
    assert_range(&a, 1, 12, 15);
    /* Forgotten numbers, received or not, are duplicates from now on. */
    assert_true(knit_ack_ranges_contains(&a, 11));
    assert_true(knit_ack_ranges_contains(&a, 7));
    assert_int_equal(knit_ack_ranges_add(&a, 7), 0);
    assert_int_equal(knit_ack_ranges_add(&a, 16), 1);
    assert_range(&a, 1, 12, 16);

    /* A lower call later never lowers the floor. */
    knit_ack_ranges_remove_below(&a, 3);
    assert_int_equal(knit_ack_ranges_add(&a, 8), 0);

    knit_ack_ranges_remove_below(&a, 100);
    assert_int_equal(a.count, 0);
    assert_true(knit_ack_ranges_largest(&a) == 0);
    assert_true(knit_ack_ranges_contains(&a, 99));
    assert_false(knit_ack_ranges_contains(&a, 100));
    assert_int_equal(knit_ack_ranges_add(&a, 100), 1);
    assert_range(&a, 0, 100, 100);
    knit_ack_ranges_free(&a);
}

static void test_limits(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    assert_int_equal(knit_ack_ranges_add(&a, KNIT_VARINT_MAX + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_ack_ranges_add(&a, UINT64_MAX), KNIT_E_TOO_BIG);
    assert_int_equal(a.count, 0);
    assert_int_equal(knit_ack_ranges_add(&a, KNIT_VARINT_MAX), 1);
    assert_int_equal(knit_ack_ranges_add(&a, KNIT_VARINT_MAX - 1), 1);
    assert_range(&a, 0, KNIT_VARINT_MAX - 1, KNIT_VARINT_MAX);
    assert_int_equal(knit_ack_ranges_add(NULL, 1), KNIT_E_INVAL);
    knit_ack_ranges_free(&a);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void assert_frame_matches(const struct knit_ack_ranges *a)
{
    struct knit_frame f, back;
    knit_ack_ranges_to_frame(a, 1234, &f);
    assert_int_equal(f.type, KNIT_FRAME_ACK);
    uint8_t buf[2048];
    size_t n, used;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    assert_int_equal(knit_frame_decode(buf, n, &back, &used), 0);
    assert_int_equal(used, n);
    assert_int_equal(back.type, KNIT_FRAME_ACK);
    assert_true(back.u.ack.ack_delay_us == 1234);
    assert_int_equal(back.u.ack.count, a->count);
    assert_memory_equal(back.u.ack.ranges, knit_ack_ranges_get(a),
                        a->count * sizeof back.u.ack.ranges[0]);
}

/* Packets arrive out of order, some twice, some never, with the record
 * trimmed now and then; checked against a plain array of what add() called
 * new. Above the floor the two must agree exactly. */
static void test_against_model(void **state)
{
    (void)state;
    enum { N = 4000 };
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    uint32_t s = 42;
    uint64_t next = 0;
    uint32_t most = 0;
    for (int op = 0; op < 20000; op++) {
        uint32_t roll = lcg(&s) % 100;
        uint64_t pn;
        if (roll < 60 && next < N)
            pn = next++; /* in order */
        else if (roll < 70 && next > 0)
            pn = next - 1 - lcg(&s) % (next < 300 ? next : 300); /* late */
        else
            pn = lcg(&s) % N; /* anywhere, often far ahead */
        if (next < N && pn >= next)
            next = pn + 1 < N ? pn + 1 : N;
        uint64_t floor_before = a.floor;
        int r = knit_ack_ranges_add(&a, pn);
        assert_true(r == 0 || r == 1);
        if (pn < floor_before || seen[pn])
            assert_int_equal(r, 0);
        if (r == 1)
            seen[pn] = true;
        if (a.count > most)
            most = a.count;
        if (roll == 99 && next > 200)
            knit_ack_ranges_remove_below(&a, next - 200);
        if (op % 100 == 0 || op == 19999) {
            assert_well_formed(&a);
            for (uint64_t q = 0; q < N; q++) {
                bool want = q < a.floor || seen[q];
                assert_int_equal(knit_ack_ranges_contains(&a, q), want);
            }
            if (a.count)
                assert_frame_matches(&a);
        }
    }
    /* The run must have reached the cap, or it tested too little. */
    assert_int_equal(most, KNIT_ACK_MAX_RANGES);
    knit_ack_ranges_free(&a);
}

/* The first few ranges live in the struct; one more moves them all to the
 * heap, unchanged, and the full 64 are kept from then on. */
static void test_few_then_many(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    for (uint64_t i = 0; i < KNIT_ACK_FEW_RANGES; i++)
        assert_int_equal(knit_ack_ranges_add(&a, 10 * i), 1);
    assert_null(a.many);
    assert_ptr_equal(knit_ack_ranges_get(&a), a.few);
    /* Merging needs no new range: still no heap. */
    assert_int_equal(knit_ack_ranges_add(&a, 1), 1);
    assert_null(a.many);
    assert_int_equal(knit_ack_ranges_add(&a, 10 * KNIT_ACK_FEW_RANGES), 1);
    assert_non_null(a.many);
    assert_int_equal(a.count, KNIT_ACK_FEW_RANGES + 1);
    assert_range(&a, 0, 10 * KNIT_ACK_FEW_RANGES, 10 * KNIT_ACK_FEW_RANGES);
    assert_range(&a, KNIT_ACK_FEW_RANGES, 0, 1);
    assert_true(a.floor == 0);
    assert_well_formed(&a);
    for (uint64_t i = KNIT_ACK_FEW_RANGES + 1; i < KNIT_ACK_MAX_RANGES; i++)
        assert_int_equal(knit_ack_ranges_add(&a, 10 * i), 1);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_true(a.floor == 0);
    assert_true(knit_ack_ranges_contains(&a, 1));
    assert_false(knit_ack_ranges_contains(&a, 2));
    knit_ack_ranges_free(&a);
    assert_null(a.many);
    assert_int_equal(a.count, 0);
}

static void test_to_frame(void **state)
{
    (void)state;
    struct knit_ack_ranges a;
    knit_ack_ranges_init(&a);
    struct knit_frame f;
    knit_ack_ranges_to_frame(&a, 0, &f);
    assert_int_equal(f.u.ack.count, 0);
    uint8_t buf[64];
    size_t n;
    /* Nothing to acknowledge: the empty frame is not encodable. */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);

    const uint64_t pns[] = {100, 99, 98, 97, 96, 95, 90, 89, 88, 87, 86, 85,
                            84, 83, 82, 81, 80, 78};
    for (size_t i = 0; i < sizeof pns / sizeof pns[0]; i++)
        assert_int_equal(knit_ack_ranges_add(&a, pns[i]), 1);
    /* The same three ranges as the RFC-style example in test_frame.c. */
    assert_int_equal(a.count, 3);
    knit_ack_ranges_to_frame(&a, 25, &f);
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    const uint8_t want[] = {0x02, 0x40, 0x64, 0x19, 0x02,
                            0x05, 0x03, 0x0a, 0x00, 0x00};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, n);
    assert_frame_matches(&a);

    /* A full record still fits one frame. */
    knit_ack_ranges_free(&a);
    for (uint64_t i = 0; i < KNIT_ACK_MAX_RANGES; i++)
        knit_ack_ranges_add(&a, 1000000 * i);
    assert_int_equal(a.count, KNIT_ACK_MAX_RANGES);
    assert_frame_matches(&a);
    knit_ack_ranges_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_gaps_and_merging),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_overflow_drops_lowest),
        cmocka_unit_test(test_remove_below),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_few_then_many),
        cmocka_unit_test(test_to_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
