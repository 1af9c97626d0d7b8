/* Loss recovery's probe timeout and persistent congestion: the PTO fires at
 * its deadline, asks for two probes and doubles each time up to
 * KNIT_RECOVERY_MAX_PTO_US; an ACK of something new resets the backoff and
 * a duplicate does not; and a run of losses spanning more than three PTOs
 * collapses the window to its minimum, unless a packet inside the run was
 * delivered or no RTT sample existed when they were sent. Acknowledgement
 * and loss bookkeeping is test_recovery.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/recovery.h"

#include "tests/support/recovery_fixtures.h"

static void test_pto_fires_and_backs_off(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    const uint64_t pto = 1024 * MS;    /* initial RTT, max_ack_delay 25 ms */
    assert_int_equal(knit_recovery_timer(f->r), pto);

    uint32_t probes = 0;
    assert_int_equal(knit_recovery_on_timeout(f->r, pto - 1, &f->cb, &probes),
                     0);
    assert_int_equal(probes, 0);
    assert_int_equal(knit_recovery_pto_count(f->r), 0);

    assert_int_equal(knit_recovery_on_timeout(f->r, pto, &f->cb, &probes), 0);
    assert_int_equal(probes, 2);
    assert_int_equal(knit_recovery_pto_count(f->r), 1);
    /* Nothing lost, window unchanged, the period doubled. */
    assert_int_equal(f->log->n_lost, 0);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), MDS);
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 12000);
    assert_int_equal(knit_recovery_timer(f->r), 2 * pto);

    assert_int_equal(knit_recovery_on_timeout(f->r, 2 * pto, &f->cb, &probes),
                     0);
    assert_int_equal(knit_recovery_pto_count(f->r), 2);
    assert_int_equal(knit_recovery_timer(f->r), 4 * pto);

    /* Probes restart the timer from their send time, still backed off. */
    send_data(f, 2, 4 * pto);
    send_data(f, 3, 4 * pto);
    assert_int_equal(knit_recovery_timer(f->r), 4 * pto + 4 * pto);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 3 * MDS);
}

static void test_pto_count_reset_on_ack(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    uint32_t probes = 0;
    uint64_t t = knit_recovery_timer(f->r);
    assert_int_equal(knit_recovery_on_timeout(f->r, t, &f->cb, &probes), 0);
    send_data(f, 2, t);
    send_data(f, 3, t);
    assert_int_equal(knit_recovery_pto_count(f->r), 1);

    /* The original packet's late ACK still acknowledges something new. */
    assert_int_equal(ack1(f, 1, 1, 0, t + 10 * MS), 0);
    assert_int_equal(knit_recovery_pto_count(f->r), 0);
    /* The RTT sample 1 took (t + 10 ms) and the PTO now uses it. */
    const struct knit_rtt *rtt = knit_recovery_rtt(f->r);
    assert_int_equal(rtt->latest, t + 10 * MS);
    assert_int_equal(knit_recovery_timer(f->r),
                     t + knit_rtt_pto(rtt, MAD));
}

static void test_duplicate_ack_keeps_pto_count(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    send_data(f, 2, 0);
    assert_int_equal(ack1(f, 1, 1, 0, 100 * MS), 0);
    uint32_t probes = 0;
    uint64_t t = knit_recovery_timer(f->r);
    assert_int_equal(knit_recovery_on_timeout(f->r, t, &f->cb, &probes), 0);
    assert_int_equal(probes, 2);
    assert_int_equal(knit_recovery_pto_count(f->r), 1);
    assert_int_equal(ack1(f, 1, 1, 0, t + 1), 0);
    assert_int_equal(knit_recovery_pto_count(f->r), 1);
}

static void test_pto_backoff_capped(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    uint32_t probes = 0;
    for (int i = 0; i < 40; i++) {
        uint64_t t = knit_recovery_timer(f->r);
        assert_true(t <= KNIT_RECOVERY_MAX_PTO_US);
        assert_int_equal(knit_recovery_on_timeout(f->r, t, &f->cb, &probes),
                         0);
        assert_int_equal(probes, 2);
    }
    assert_int_equal(knit_recovery_pto_count(f->r), 40);
    assert_int_equal(knit_recovery_timer(f->r), KNIT_RECOVERY_MAX_PTO_US);
}

static void test_persistent_congestion(void **state)
{
    struct fixture *f = *state;
    /* One RTT sample: srtt 100 ms, rttvar 50 ms, so the PTO is
     * 100 + 200 + 25 = 325 ms and the persistent-congestion duration
     * 975 ms. */
    send_data(f, 1, 0);
    assert_int_equal(ack1(f, 1, 1, 0, 100 * MS), 0);
    /* Packets 2..8 from 200 ms to 1400 ms (1200 ms apart), 9 at 1500 ms. */
    for (uint64_t pn = 2; pn <= 8; pn++)
        send_data(f, pn, 200 * MS + (pn - 2) * 200 * MS);
    send_data(f, 9, 1500 * MS);
    /* At 1650 ms: sample 150 ms, smoothed 106.25 ms, rttvar 50 ms, so the
     * duration is 3 * 331.25 = 993.75 ms < 1200 ms; 2..8 are all older
     * than 9/8 * 150 ms. */
    assert_int_equal(ack1(f, 9, 9, 0, 1650 * MS), 0);
    assert_int_equal(f->log->n_lost, 7);
    /* cwnd went to the 2400-byte minimum; then, as Appendix A processes
     * acknowledgements after losses, packet 9 (no longer covered by a
     * recovery period) grew it in slow start by its 1200 bytes. */
    const struct knit_cc *cc = knit_recovery_cc(f->r);
    assert_int_equal(cc->cwnd, 2400 + 1200);
    assert_int_equal(cc->ssthresh, 6000);
    assert_false(cc->in_recovery_epoch);
    /* min_rtt restarts from the newest sample. */
    assert_int_equal(knit_recovery_rtt(f->r)->min, 150 * MS);
}

static void test_no_persistent_congestion_across_an_ack(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    assert_int_equal(ack1(f, 1, 1, 0, 100 * MS), 0);
    for (uint64_t pn = 2; pn <= 8; pn++)
        send_data(f, pn, 200 * MS + (pn - 2) * 200 * MS);
    send_data(f, 9, 1500 * MS);
    /* Packet 5 (sent at 800 ms) was delivered: the lost runs 2..4 and
     * 6..8 span only 400 ms each. */
    struct knit_ack_range r[] = {{9, 9}, {5, 5}};
    assert_int_equal(knit_recovery_on_ack_received(f->r, r, 2, 0, 1600 * MS,
                                                   &f->cb), 0);
    assert_int_equal(f->log->n_lost, 6);
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 6000);   /* halved */
}

static void test_no_persistent_congestion_before_rtt_sample(void **state)
{
    struct fixture *f = *state;
    /* Same spread of losses, but no RTT sample existed when they were
     * sent. */
    for (uint64_t pn = 2; pn <= 8; pn++)
        send_data(f, pn, (pn - 2) * 400 * MS);
    send_data(f, 9, 3000 * MS);
    assert_int_equal(ack1(f, 9, 9, 0, 3100 * MS), 0);
    assert_int_equal(f->log->n_lost, 7);
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 6000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pto_fires_and_backs_off),
        T(test_pto_count_reset_on_ack),
        T(test_duplicate_ack_keeps_pto_count),
        T(test_pto_backoff_capped),
        T(test_persistent_congestion),
        T(test_no_persistent_congestion_across_an_ack),
        T(test_no_persistent_congestion_before_rtt_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
