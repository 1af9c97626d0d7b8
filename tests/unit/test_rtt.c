#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/rtt.h"

#define MS 1000u

static void test_initial_values(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    assert_false(rtt.has_sample);
    assert_int_equal(rtt.smoothed, 333 * MS);
    assert_int_equal(rtt.var, 166500);
    assert_int_equal(rtt.min, 0);
    assert_int_equal(rtt.latest, 0);
    /* 333 + 4 * 166.5 + 25 ms: the 1 s initial PTO of RFC 9002 §6.2.2
     * plus max_ack_delay. */
    assert_int_equal(knit_rtt_pto(&rtt, 25 * MS), 1024 * MS);
    assert_int_equal(knit_rtt_pto(&rtt, 0), 999 * MS);
}

static void test_first_sample_resets(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    /* The ack delay of the first sample is not used at all. */
    knit_rtt_update(&rtt, 100 * MS, 10 * MS, 25 * MS);
    assert_true(rtt.has_sample);
    assert_int_equal(rtt.latest, 100 * MS);
    assert_int_equal(rtt.min, 100 * MS);
    assert_int_equal(rtt.smoothed, 100 * MS);
    assert_int_equal(rtt.var, 50 * MS);
    assert_int_equal(knit_rtt_pto(&rtt, 25 * MS), 325 * MS);
}

static void test_later_sample_with_ack_delay(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    knit_rtt_update(&rtt, 100 * MS, 0, 25 * MS);
    /* 120 ms raw, 10 ms of it the peer's delay: adjusted 110 ms.
     * rttvar from the previous smoothed_rtt (RFC 6298 order, erratum 7539):
     * 3/4 * 50 + 1/4 * |100 - 110| = 40 ms (the other order would give
     * 39.6875 ms); smoothed = 7/8 * 100 + 1/8 * 110 = 101.25 ms. */
    knit_rtt_update(&rtt, 120 * MS, 10 * MS, 25 * MS);
    assert_int_equal(rtt.latest, 120 * MS);
    assert_int_equal(rtt.min, 100 * MS);
    assert_int_equal(rtt.var, 40 * MS);
    assert_int_equal(rtt.smoothed, 101250);
    /* 101.25 + 160 + 25 */
    assert_int_equal(knit_rtt_pto(&rtt, 25 * MS), 286250);
}

static void test_ack_delay_capped_at_max(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    knit_rtt_update(&rtt, 100 * MS, 0, 25 * MS);
    /* A claimed 100 ms delay counts as only max_ack_delay = 25 ms:
     * adjusted 175 ms, smoothed = (700 + 175) / 8 = 109.375 ms,
     * var = (150 + 75) / 4 = 56.25 ms. */
    knit_rtt_update(&rtt, 200 * MS, 100 * MS, 25 * MS);
    assert_int_equal(rtt.smoothed, 109375);
    assert_int_equal(rtt.var, 56250);
}

static void test_ack_delay_not_below_min_rtt(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    knit_rtt_update(&rtt, 100 * MS, 0, 25 * MS);
    /* 105 - 10 would be below min_rtt = 100: the sample is used raw.
     * smoothed = (700 + 105) / 8 = 100.625, var = (150 + 5) / 4 = 38.75. */
    knit_rtt_update(&rtt, 105 * MS, 10 * MS, 25 * MS);
    assert_int_equal(rtt.smoothed, 100625);
    assert_int_equal(rtt.var, 38750);
    /* Exactly at the boundary (latest == min + ack_delay) it is subtracted. */
    struct knit_rtt b;
    knit_rtt_init(&b);
    knit_rtt_update(&b, 100 * MS, 0, 25 * MS);
    knit_rtt_update(&b, 110 * MS, 10 * MS, 25 * MS);
    assert_int_equal(b.smoothed, 100 * MS);
    assert_int_equal(b.var, 37500);
}

static void test_min_rtt_tracks_raw_minimum(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    knit_rtt_update(&rtt, 100 * MS, 0, 25 * MS);
    knit_rtt_update(&rtt, 80 * MS, 20 * MS, 25 * MS);
    /* min_rtt takes the raw 80 ms, not 60 ms; and since 80 < 80 + 20 the
     * delay is not subtracted: smoothed = (700 + 80) / 8 = 97.5 ms. */
    assert_int_equal(rtt.min, 80 * MS);
    assert_int_equal(rtt.smoothed, 97500);
    knit_rtt_update(&rtt, 150 * MS, 0, 25 * MS);
    assert_int_equal(rtt.min, 80 * MS);
    assert_int_equal(rtt.latest, 150 * MS);
}

static void test_pto_granularity_floor(void **state)
{
    (void)state;
    struct knit_rtt rtt;
    knit_rtt_init(&rtt);
    knit_rtt_update(&rtt, 10 * MS, 0, 0);
    for (int i = 0; i < 200; i++)
        knit_rtt_update(&rtt, 10 * MS, 0, 0);
    /* A steady RTT drives rttvar to 0; the PTO keeps kGranularity. */
    assert_int_equal(rtt.var, 0);
    assert_int_equal(knit_rtt_pto(&rtt, 0), 11 * MS);
    assert_int_equal(knit_rtt_pto(&rtt, 5 * MS), 16 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_values),
        cmocka_unit_test(test_first_sample_resets),
        cmocka_unit_test(test_later_sample_with_ack_delay),
        cmocka_unit_test(test_ack_delay_capped_at_max),
        cmocka_unit_test(test_ack_delay_not_below_min_rtt),
        cmocka_unit_test(test_min_rtt_tracks_raw_minimum),
        cmocka_unit_test(test_pto_granularity_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
