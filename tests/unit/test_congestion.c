#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/congestion.h"

#define MDS 1200u
#define RTT 100000u   /* 100 ms of virtual time per round */

static void test_initial_window(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, 0);   /* default mds */
    assert_int_equal(cc.mds, 1200);
    assert_int_equal(cc.cwnd, 12000);          /* 10 * 1200 < 14720 */
    assert_int_equal(cc.ssthresh, KNIT_CC_SSTHRESH_INFINITE);
    assert_int_equal(cc.bytes_in_flight, 0);
    assert_int_equal(knit_cc_min_window(&cc), 2400);

    knit_cc_init(&cc, 1500);
    assert_int_equal(cc.cwnd, 14720);          /* 15000 capped at 14720 */
    knit_cc_init(&cc, 9000);
    assert_int_equal(cc.cwnd, 18000);          /* the cap is 2 * mds */
}

static void test_can_send_and_discard(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    assert_true(knit_cc_can_send(&cc, 12000));
    assert_false(knit_cc_can_send(&cc, 12001));
    knit_cc_on_sent(&cc, 11000);
    assert_int_equal(cc.bytes_in_flight, 11000);
    assert_true(knit_cc_can_send(&cc, 1000));
    assert_false(knit_cc_can_send(&cc, 1001));
    assert_false(knit_cc_can_send(&cc, UINT64_MAX));
    /* Probes may overshoot the window; then nothing else fits. */
    knit_cc_on_sent(&cc, 2400);
    assert_false(knit_cc_can_send(&cc, 1));
    knit_cc_discard(&cc, 2400);
    assert_int_equal(cc.bytes_in_flight, 11000);
    assert_int_equal(cc.cwnd, 12000);   /* no signal, no change */
    knit_cc_discard(&cc, 99999);        /* never below zero */
    assert_int_equal(cc.bytes_in_flight, 0);
}

/* Sends a full window at t in mds packets, then acknowledges them all one
 * RTT later in one ACK, judging cwnd-limitedness once before applying it as
 * the recovery module does. */
static void one_round(struct knit_cc *cc, uint64_t t)
{
    uint64_t n = cc->cwnd / MDS;
    for (uint64_t i = 0; i < n; i++)
        knit_cc_on_sent(cc, MDS);
    bool limited = knit_cc_is_cwnd_limited(cc);
    assert_true(limited);
    for (uint64_t i = 0; i < n; i++)
        knit_cc_on_acked(cc, MDS, t, t + RTT, limited);
}

static void test_slow_start_doubles_per_rtt(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t expect = 12000;
    for (int round = 0; round < 5; round++) {
        /* Packets sent at time 0 must count: a recovery period that never
         * started does not cover time 0. */
        one_round(&cc, (uint64_t)round * RTT);
        expect *= 2;
        assert_int_equal(cc.cwnd, expect);
        assert_int_equal(cc.bytes_in_flight, 0);
    }
}

static void test_no_growth_when_app_limited(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    /* Two packets in a 12000-byte window: not cwnd-limited. */
    knit_cc_on_sent(&cc, MDS);
    knit_cc_on_sent(&cc, MDS);
    assert_false(knit_cc_is_cwnd_limited(&cc));
    knit_cc_on_acked(&cc, MDS, 0, RTT, false);
    knit_cc_on_acked(&cc, MDS, 0, RTT, false);
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.bytes_in_flight, 0);

    /* Slow start: more than half the window in flight counts as limited. */
    for (int i = 0; i < 5; i++)
        knit_cc_on_sent(&cc, MDS);
    assert_false(knit_cc_is_cwnd_limited(&cc));   /* exactly half */
    knit_cc_on_sent(&cc, MDS);
    assert_true(knit_cc_is_cwnd_limited(&cc));
}

/* Loss of a packet sent at t_sent, detected at now, from a window that
 * is all in flight. */
static void lose(struct knit_cc *cc, uint64_t t_sent, uint64_t now)
{
    knit_cc_on_lost(cc, MDS, t_sent, now);
}

static void test_loss_halves_once_per_recovery_period(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    one_round(&cc, 0);                      /* cwnd 24000 */
    for (int i = 0; i < 20; i++)
        knit_cc_on_sent(&cc, MDS);
    lose(&cc, 1000, 200000);
    assert_int_equal(cc.ssthresh, 12000);
    assert_int_equal(cc.cwnd, 12000);
    assert_true(cc.in_recovery_epoch);
    assert_int_equal(cc.recovery_start, 200000);
    assert_int_equal(cc.bytes_in_flight, 19 * MDS);

    /* More losses of packets sent before the period began: no new cut. */
    lose(&cc, 2000, 210000);
    lose(&cc, 200000, 220000);              /* sent at the start: still in */
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.recovery_start, 200000);
    assert_int_equal(cc.bytes_in_flight, 17 * MDS);

    /* A packet sent after the period began is a new congestion event. */
    lose(&cc, 200001, 300000);
    assert_int_equal(cc.ssthresh, 6000);
    assert_int_equal(cc.cwnd, 6000);
    assert_int_equal(cc.recovery_start, 300000);
}

static void test_no_growth_for_packets_sent_before_recovery(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    for (int i = 0; i < 10; i++)
        knit_cc_on_sent(&cc, MDS);
    lose(&cc, 0, 50000);                    /* cwnd 6000, recovery at 50 ms */
    assert_int_equal(cc.cwnd, 6000);
    /* Acks of packets sent at or before 50 ms: bytes leave flight only. */
    knit_cc_on_acked(&cc, MDS, 10000, 60000, true);
    knit_cc_on_acked(&cc, MDS, 50000, 60000, true);
    assert_int_equal(cc.cwnd, 6000);
    assert_int_equal(cc.bytes_in_flight, 7 * MDS);
    /* A packet sent during recovery ends it: congestion avoidance, which
     * grows by 1 mds only once a whole cwnd has been acknowledged. */
    knit_cc_on_acked(&cc, MDS, 50001, 150000, true);
    assert_int_equal(cc.cwnd, 6000);
    assert_int_equal(cc.ca_acked, MDS);
}

static void test_congestion_avoidance_one_mds_per_window(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    for (int i = 0; i < 10; i++)
        knit_cc_on_sent(&cc, MDS);
    lose(&cc, 0, 1000);                     /* cwnd = ssthresh = 6000 */
    knit_cc_discard(&cc, cc.bytes_in_flight);

    /* ssthresh 6000: acking 6000 bytes sent after recovery adds 1200. */
    uint64_t t = 2000;
    for (int i = 0; i < 4; i++)
        knit_cc_on_acked(&cc, 1500, t, t, true);
    assert_int_equal(cc.cwnd, 7200);
    assert_int_equal(cc.ca_acked, 0);
    /* The next increment needs a full 7200 bytes. */
    for (int i = 0; i < 5; i++)
        knit_cc_on_acked(&cc, 1200, t, t, true);
    assert_int_equal(cc.cwnd, 7200);
    knit_cc_on_acked(&cc, 1199, t, t, true);
    assert_int_equal(cc.cwnd, 7200);
    knit_cc_on_acked(&cc, 1, t, t, true);
    assert_int_equal(cc.cwnd, 8400);
    /* Not cwnd-limited: no progress even in congestion avoidance. */
    for (int i = 0; i < 20; i++)
        knit_cc_on_acked(&cc, 1200, t, t, false);
    assert_int_equal(cc.cwnd, 8400);
    assert_int_equal(cc.ca_acked, 0);

    /* In congestion avoidance "limited" means one more mds does not fit. */
    knit_cc_on_sent(&cc, 8400 - 1200);
    assert_false(knit_cc_is_cwnd_limited(&cc));
    knit_cc_on_sent(&cc, 1);
    assert_true(knit_cc_is_cwnd_limited(&cc));
}

static void test_minimum_window_floor(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t t = 0;
    for (int i = 0; i < 10; i++) {
        t += 1000;
        lose(&cc, t, t);                    /* each a new event */
        t += 1;
    }
    assert_int_equal(cc.cwnd, 2400);
    assert_true(cc.ssthresh < 2400);        /* halved below the floor */
}

static void test_persistent_congestion(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    one_round(&cc, 0);
    one_round(&cc, RTT);                    /* cwnd 48000 */
    for (int i = 0; i < 40; i++)
        knit_cc_on_sent(&cc, MDS);
    lose(&cc, 300000, 400000);              /* cwnd 24000 = ssthresh */
    assert_int_equal(cc.cwnd, 24000);
    knit_cc_on_persistent_congestion(&cc);
    assert_int_equal(cc.cwnd, 2400);
    assert_int_equal(cc.ssthresh, 24000);
    assert_false(cc.in_recovery_epoch);
    /* Back in slow start, and old packets may grow the window again. */
    knit_cc_on_acked(&cc, MDS, 300000, 500000, true);
    assert_int_equal(cc.cwnd, 3600);
    /* The next loss is a new event whatever its send time. */
    lose(&cc, 100, 600000);
    assert_int_equal(cc.cwnd, 2400);
    assert_int_equal(cc.ssthresh, 1800);
}

/* HyStart++ (RFC 9406): one round of a full window, numbered from *pn,
 * each packet acknowledged on its own with an RTT sample of rtt, in the
 * order the recovery module calls: the round's progress, then the ACK. */
static void hystart_round(struct knit_cc *cc, uint64_t *pn, uint64_t rtt)
{
    uint64_t first = *pn;
    uint64_t n = cc->cwnd / MDS;
    for (uint64_t i = 0; i < n; i++) {
        knit_cc_on_sent(cc, MDS);
        knit_cc_on_sent_pn(cc, (*pn)++);
    }
    bool limited = knit_cc_is_cwnd_limited(cc);   /* once, as one_round */
    for (uint64_t k = first; k < *pn; k++) {
        knit_cc_on_ack_progress(cc, k, true, rtt);
        knit_cc_on_acked(cc, MDS, 0, rtt, limited);
    }
}

static void test_hystart_leaves_slow_start_when_the_rtt_grows(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t pn = 0;
    /* Steady round trips: plain slow start, the window doubles. */
    for (int round = 0; round < 3; round++)
        hystart_round(&cc, &pn, RTT);
    assert_int_equal(cc.cwnd, 96000);
    assert_false(knit_cc_in_css(&cc));
    /* A queue builds: 100 ms + 13 ms is above 100 ms + 100 ms / 8. */
    uint64_t before = cc.cwnd;
    hystart_round(&cc, &pn, RTT + 13000);
    assert_true(knit_cc_in_css(&cc));
    /* The first 8 samples grew it at full pace, the rest at a quarter. */
    uint64_t n = before / MDS;
    assert_int_equal(cc.cwnd,
                     before + 8 * MDS + (n - 8) * (MDS / 4));
    assert_int_equal(cc.ssthresh, KNIT_CC_SSTHRESH_INFINITE);
    /* Five rounds of conservative growth, then congestion avoidance. */
    for (int round = 0; round < KNIT_CC_HYSTART_CSS_ROUNDS; round++) {
        uint64_t w = cc.cwnd;
        hystart_round(&cc, &pn, RTT + 13000);
        assert_true(cc.cwnd < w + w / 2);
    }
    /* The fifth round began with the last burst's first ACK: slow start
     * ended there, with ssthresh at the window of that moment. */
    assert_false(knit_cc_in_css(&cc));
    assert_true(cc.ssthresh != KNIT_CC_SSTHRESH_INFINITE);
    assert_true(cc.cwnd >= cc.ssthresh && cc.cwnd <= cc.ssthresh + MDS);
}

static void test_hystart_ignores_a_rise_below_the_threshold(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t pn = 0;
    hystart_round(&cc, &pn, 10000);
    hystart_round(&cc, &pn, 10000);
    /* 10 ms / 8 is below the 4 ms floor: 3 ms more is noise. */
    hystart_round(&cc, &pn, 13000);
    assert_false(knit_cc_in_css(&cc));
    assert_int_equal(cc.cwnd, 96000);
}

static void test_hystart_returns_to_slow_start_after_a_false_alarm(
    void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t pn = 0;
    hystart_round(&cc, &pn, RTT);
    hystart_round(&cc, &pn, RTT);
    hystart_round(&cc, &pn, RTT + 20000);
    assert_true(knit_cc_in_css(&cc));
    /* The next round's round trips fall below the baseline again. */
    hystart_round(&cc, &pn, RTT);
    assert_false(knit_cc_in_css(&cc));
    assert_int_equal(cc.ssthresh, KNIT_CC_SSTHRESH_INFINITE);
}

static void test_hystart_only_in_the_first_slow_start(void **state)
{
    (void)state;
    struct knit_cc cc;
    knit_cc_init(&cc, MDS);
    uint64_t pn = 0;
    hystart_round(&cc, &pn, RTT);
    lose(&cc, 1000, 2 * RTT);   /* ssthresh is set: HyStart++ is done */
    uint64_t ss = cc.ssthresh;
    hystart_round(&cc, &pn, RTT);
    hystart_round(&cc, &pn, 2 * RTT);
    assert_false(knit_cc_in_css(&cc));
    assert_int_equal(cc.ssthresh, ss);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_window),
        cmocka_unit_test(test_can_send_and_discard),
        cmocka_unit_test(test_slow_start_doubles_per_rtt),
        cmocka_unit_test(test_no_growth_when_app_limited),
        cmocka_unit_test(test_loss_halves_once_per_recovery_period),
        cmocka_unit_test(test_no_growth_for_packets_sent_before_recovery),
        cmocka_unit_test(test_congestion_avoidance_one_mds_per_window),
        cmocka_unit_test(test_minimum_window_floor),
        cmocka_unit_test(test_persistent_congestion),
        cmocka_unit_test(test_hystart_leaves_slow_start_when_the_rtt_grows),
        cmocka_unit_test(test_hystart_ignores_a_rise_below_the_threshold),
        cmocka_unit_test(
            test_hystart_returns_to_slow_start_after_a_false_alarm),
        cmocka_unit_test(test_hystart_only_in_the_first_slow_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
