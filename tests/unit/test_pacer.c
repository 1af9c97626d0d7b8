#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/pacer.h"

#define MDS 1200u
#define CWND 12000u
#define SRTT 100000u      /* 100 ms */
#define T0 5000000u       /* arbitrary start of virtual time */
/* rate = 1.25 * 12000 B / 100 ms = 0.15 B/us: one 1200-byte packet per
 * 8000 us. */
#define GAP 8000u

static void send_burst(struct knit_pacer *p, uint64_t now, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(knit_pacer_next_send_time(p, now, CWND, SRTT, MDS),
                         now);
        knit_pacer_on_sent(p, now, CWND, SRTT, MDS);
    }
}

static void test_initial_burst_then_rate(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    send_burst(&p, T0, KNIT_PACER_BURST_PACKETS);
    /* The 11th datagram waits exactly one inter-packet gap. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0, CWND, SRTT, MDS),
                     T0 + GAP);
    assert_int_equal(knit_pacer_next_send_time(&p, T0 + GAP - 1, CWND, SRTT,
                                               MDS), T0 + GAP);
    assert_int_equal(knit_pacer_next_send_time(&p, T0 + GAP, CWND, SRTT, MDS),
                     T0 + GAP);
    knit_pacer_on_sent(&p, T0 + GAP, CWND, SRTT, MDS);
    assert_int_equal(knit_pacer_next_send_time(&p, T0 + GAP, CWND, SRTT, MDS),
                     T0 + 2 * GAP);
    /* Half a gap buys half a packet. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0 + GAP + GAP / 2, CWND,
                                               SRTT, MDS / 2),
                     T0 + GAP + GAP / 2);
}

static void test_rate_over_one_second(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    uint64_t t = T0;
    int sent = 0;
    for (;;) {
        t = knit_pacer_next_send_time(&p, t, CWND, SRTT, MDS);
        if (t > T0 + 1000000)
            break;
        knit_pacer_on_sent(&p, t, CWND, SRTT, MDS);
        sent++;
    }
    /* The burst of 10, then 1 s / 8 ms = 125 more: 1.25 windows per RTT. */
    assert_int_equal(sent, 10 + 125);
}

static void test_rate_follows_cwnd_and_srtt(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    send_burst(&p, T0, KNIT_PACER_BURST_PACKETS);
    /* Twice the window or half the RTT: half the gap. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0, 2 * CWND, SRTT, MDS),
                     T0 + GAP / 2);
    assert_int_equal(knit_pacer_next_send_time(&p, T0, CWND, SRTT / 2, MDS),
                     T0 + GAP / 2);
    /* No window or no RTT estimate: no pacing. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0, 0, SRTT, MDS), T0);
    assert_int_equal(knit_pacer_next_send_time(&p, T0, CWND, 0, MDS), T0);
}

static void test_burst_is_capped_after_idle(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    send_burst(&p, T0, KNIT_PACER_BURST_PACKETS);
    /* Ten seconds idle refill the bucket to 10 datagrams, not 1250. */
    uint64_t later = T0 + 10000000;
    send_burst(&p, later, KNIT_PACER_BURST_PACKETS);
    assert_int_equal(knit_pacer_next_send_time(&p, later, CWND, SRTT, MDS),
                     later + GAP);
    /* Even a huge idle gap with a huge window stays in range. */
    uint64_t much_later = UINT64_MAX / 2;
    assert_int_equal(knit_pacer_next_send_time(&p, much_later, UINT64_MAX,
                                               UINT64_MAX, MDS), much_later);
}

static void test_oversized_packet_waits_for_full_bucket(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    knit_pacer_on_sent(&p, T0, CWND, SRTT, MDS);
    /* Larger than the bucket: allowed once the bucket is full again. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0, CWND, SRTT, 100000),
                     T0 + GAP);
    knit_pacer_on_sent(&p, T0 + GAP, CWND, SRTT, 100000);
    /* The bucket empties; it does not go into debt. */
    assert_int_equal(knit_pacer_next_send_time(&p, T0 + GAP, CWND, SRTT, MDS),
                     T0 + 2 * GAP);
}

static void test_probe_beyond_tokens_does_not_create_debt(void **state)
{
    (void)state;
    struct knit_pacer p;
    knit_pacer_init(&p, MDS);
    send_burst(&p, T0, KNIT_PACER_BURST_PACKETS);
    /* Two probes sent regardless of the pacer. */
    knit_pacer_on_sent(&p, T0, CWND, SRTT, MDS);
    knit_pacer_on_sent(&p, T0, CWND, SRTT, MDS);
    assert_int_equal(knit_pacer_next_send_time(&p, T0, CWND, SRTT, MDS),
                     T0 + GAP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_burst_then_rate),
        cmocka_unit_test(test_rate_over_one_second),
        cmocka_unit_test(test_rate_follows_cwnd_and_srtt),
        cmocka_unit_test(test_burst_is_capped_after_idle),
        cmocka_unit_test(test_oversized_packet_waits_for_full_bucket),
        cmocka_unit_test(test_probe_beyond_tokens_does_not_create_debt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
