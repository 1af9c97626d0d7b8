/* Loss recovery's bookkeeping for acknowledgements and losses: the state
 * before anything is sent, which sends are accepted, ACKs in order and out
 * of order, packet- and time-threshold loss detection, when an ACK yields
 * an RTT sample, ACKs naming packets never sent (refused, nothing changed),
 * the bound on tracked packets and how records are freed, callbacks that
 * try to re-enter, and a long random walk that checks every packet is
 * reported once and bytes in flight always add up. The probe timeout and
 * persistent congestion are test_recovery_pto.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/recovery.h"
#include "transport/error.h"
#include "transport/io.h"

#include "tests/support/recovery_fixtures.h"

static void test_new_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(knit_recovery_new(NULL, MDS, MAD), KNIT_E_INVAL);
    knit_recovery_free(NULL);
}

static void test_initial_state(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(knit_recovery_timer(f->r), KNIT_NO_DEADLINE);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
    uint64_t pn = 77;
    assert_false(knit_recovery_largest_acked(f->r, &pn));
    assert_int_equal(pn, 77);
    assert_true(knit_recovery_can_track(f->r));
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 12000);
    assert_int_equal(knit_recovery_rtt(f->r)->smoothed, 333 * MS);
    /* Nothing sent: any ACK is for a packet never sent. */
    assert_int_equal(ack1(f, 0, 0, 0, 1000), KNIT_E_MALFORMED);
    uint32_t probes = 9;
    assert_int_equal(knit_recovery_on_timeout(f->r, 5000000, &f->cb, &probes),
                     0);
    assert_int_equal(probes, 0);
}

static void test_send_validation(void **state)
{
    struct fixture *f = *state;
    send_data(f, 5, 1000);
    struct knit_sent_packet p = {.pn = 5, .size = MDS, .ack_eliciting = true,
                                 .in_flight = true};
    assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, 2000),
                     KNIT_E_INVAL);
    p.pn = 4;
    assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, 2000),
                     KNIT_E_INVAL);
    assert_int_equal(knit_recovery_on_packet_sent(f->r, NULL, 2000),
                     KNIT_E_INVAL);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), MDS);
    assert_int_equal(knit_recovery_tracked(f->r), 1);
    /* Gaps in the numbering are fine. */
    send_data(f, 9, 2000);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 2 * MDS);
}

static void test_in_order_ack(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 1; pn <= 5; pn++)
        send_data(f, pn, pn * MS);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 5 * MDS);
    /* Initial PTO from the last ack-eliciting send: 5 ms + 1024 ms. */
    assert_int_equal(knit_recovery_timer(f->r), 5 * MS + 1024 * MS);

    assert_int_equal(ack1(f, 1, 5, 0, 105 * MS), 0);
    assert_int_equal(f->log->n_acked, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(f->log->acked[i], i + 1);
    assert_int_equal(f->log->last_ref, 50);
    assert_int_equal(f->log->n_lost, 0);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
    assert_int_equal(knit_recovery_timer(f->r), KNIT_NO_DEADLINE);
    assert_int_equal(knit_recovery_tracked(f->r), 0);
    uint64_t largest = 0;
    assert_true(knit_recovery_largest_acked(f->r, &largest));
    assert_int_equal(largest, 5);

    /* The sample is measured on the largest acknowledged packet. */
    const struct knit_rtt *rtt = knit_recovery_rtt(f->r);
    assert_true(rtt->has_sample);
    assert_int_equal(rtt->latest, 100 * MS);
    assert_int_equal(rtt->smoothed, 100 * MS);
    /* Five packets from a 10-packet window: app-limited, no growth. */
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 12000);

    /* A duplicate ACK changes nothing and reports nothing. */
    assert_int_equal(ack1(f, 1, 5, 0, 300 * MS), 0);
    assert_int_equal(f->log->n_acked, 5);
    assert_int_equal(rtt->latest, 100 * MS);
}

static void test_full_window_ack_grows_cwnd(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 0; pn < 10; pn++)
        send_data(f, pn, 0);            /* virtual time starts at 0 */
    assert_false(knit_cc_can_send(knit_recovery_cc(f->r), 1));
    assert_int_equal(ack1(f, 0, 9, 0, 50 * MS), 0);
    /* Slow start: the window grew by all it had in flight. */
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 24000);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
}

static void test_ack_ranges_out_of_order(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 10; pn <= 20; pn++)
        send_data(f, pn, pn * MS);
    struct knit_ack_range ranges[] = {{18, 20}, {15, 16}, {11, 11}};
    assert_int_equal(knit_recovery_on_ack_received(f->r, ranges, 3, 0,
                                                   50 * MS, &f->cb), 0);
    /* Reported lowest first. */
    uint64_t want_acked[] = {11, 15, 16, 18, 19, 20};
    assert_int_equal(f->log->n_acked, 6);
    assert_memory_equal(f->log->acked, want_acked, sizeof want_acked);
    /* 10 (20 - 10 >= 3), 12, 13, 14 (all >= 3 below 20) are lost;
     * 17 is only 3 below 20 as well: lost. */
    uint64_t want_lost[] = {10, 12, 13, 14, 17};
    assert_int_equal(f->log->n_lost, 5);
    assert_memory_equal(f->log->lost, want_lost, sizeof want_lost);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
    assert_int_equal(knit_recovery_tracked(f->r), 0);
}

static void test_packet_threshold_loss(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 1; pn <= 4; pn++)
        send_data(f, pn, pn * MS);
    /* 2..3 acknowledged: packet 1 is only 2 below the largest, and not old
     * enough yet: not lost, a loss timer instead. */
    assert_int_equal(ack1(f, 2, 3, 0, 20 * MS), 0);
    assert_int_equal(f->log->n_lost, 0);
    assert_int_not_equal(knit_recovery_timer(f->r), KNIT_NO_DEADLINE);
    /* Packet 4 acknowledged with 1 still missing: 4 - 1 >= 3, lost. */
    assert_int_equal(ack1(f, 4, 4, 0, 21 * MS), 0);
    assert_int_equal(f->log->n_lost, 1);
    assert_int_equal(f->log->lost[0], 1);
    assert_int_equal(f->log->last_ref, 10);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
    /* The loss started a recovery period: the window halved. */
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 6000);
    assert_int_equal(knit_recovery_cc(f->r)->ssthresh, 6000);
    assert_int_equal(knit_recovery_timer(f->r), KNIT_NO_DEADLINE);
    /* A late ACK of the lost packet is ignored. */
    assert_int_equal(ack1(f, 1, 1, 0, 30 * MS), 0);
    assert_int_equal(f->log->n_acked, 3);
}

static void test_time_threshold_loss(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    send_data(f, 2, 10 * MS);
    /* Ack of 2 at 110 ms: RTT 100 ms, packet 1 not yet 9/8 RTT old. */
    assert_int_equal(ack1(f, 2, 2, 0, 110 * MS), 0);
    assert_int_equal(f->log->n_lost, 0);
    /* Loss delay 9/8 * max(100, 100) = 112.5 ms after packet 1 was sent. */
    assert_int_equal(knit_recovery_timer(f->r), 112500);

    uint32_t probes = 7;
    assert_int_equal(knit_recovery_on_timeout(f->r, 112499, &f->cb, &probes),
                     0);
    assert_int_equal(probes, 0);
    assert_int_equal(f->log->n_lost, 0);
    assert_int_equal(knit_recovery_timer(f->r), 112500);

    assert_int_equal(knit_recovery_on_timeout(f->r, 112500, &f->cb, &probes),
                     0);
    assert_int_equal(probes, 0);
    assert_int_equal(f->log->n_lost, 1);
    assert_int_equal(f->log->lost[0], 1);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
    assert_int_equal(knit_recovery_timer(f->r), KNIT_NO_DEADLINE);
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 6000);
}

static void test_time_threshold_uses_latest_rtt(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    assert_int_equal(ack1(f, 1, 1, 0, 100 * MS), 0);   /* srtt 100 ms */
    send_data(f, 2, 200 * MS);
    send_data(f, 3, 201 * MS);
    /* Ack of 3 at 401 ms: latest 200 ms > smoothed 112.5 ms, so the loss
     * delay is 225 ms and packet 2 is not lost until 425 ms. */
    assert_int_equal(ack1(f, 3, 3, 0, 401 * MS), 0);
    assert_int_equal(knit_recovery_rtt(f->r)->smoothed, 112500);
    assert_int_equal(f->log->n_lost, 0);
    assert_int_equal(knit_recovery_timer(f->r), 425 * MS);
}

static void test_rtt_sample_rules(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    send_data(f, 2, 10 * MS);
    send_data(f, 3, 20 * MS);
    /* Largest (3) newly acknowledged: a sample, ack delay ignored on the
     * first one. */
    assert_int_equal(ack1(f, 3, 3, 5 * MS, 120 * MS), 0);
    const struct knit_rtt *rtt = knit_recovery_rtt(f->r);
    assert_int_equal(rtt->latest, 100 * MS);
    /* Largest (3) already acknowledged, only 2 is new: no sample. */
    struct knit_ack_range r2[] = {{2, 3}};
    assert_int_equal(knit_recovery_on_ack_received(f->r, r2, 1, 0, 500 * MS,
                                                   &f->cb), 0);
    assert_int_equal(rtt->latest, 100 * MS);
    assert_int_equal(rtt->smoothed, 100 * MS);

    /* Only a non-ack-eliciting packet newly acknowledged: no sample. */
    send_pkt(f, 4, 600 * MS, false, false);
    assert_int_equal(ack1(f, 4, 4, 0, 900 * MS), 0);
    assert_int_equal(rtt->latest, 100 * MS);
    assert_int_equal(f->log->acked[f->log->n_acked - 1], 4);

    /* A later sample with ack delay: 130 ms raw, 10 ms delay. */
    send_data(f, 5, 1000 * MS);
    assert_int_equal(ack1(f, 5, 5, 10 * MS, 1130 * MS), 0);
    assert_int_equal(rtt->latest, 130 * MS);
    assert_int_equal(rtt->smoothed, (7 * 100 * MS + 120 * MS) / 8);
    assert_int_equal(rtt->min, 100 * MS);
}

static void test_unsent_pn_rejected_without_change(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 3; pn <= 6; pn++)
        send_data(f, pn, pn * MS);
    uint64_t timer = knit_recovery_timer(f->r);

    struct knit_ack_range above[] = {{7, 7}, {3, 5}};
    struct knit_ack_range below[] = {{4, 5}, {1, 2}};
    struct knit_ack_range inverted[] = {{6, 4}};
    struct knit_ack_range overlap[] = {{5, 6}, {3, 5}};
    struct knit_ack_range ascending[] = {{3, 3}, {5, 6}};
    struct {
        const struct knit_ack_range *r;
        size_t n;
    } bad[] = {{above, 2}, {below, 2}, {inverted, 1}, {overlap, 2},
               {ascending, 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(knit_recovery_on_ack_received(f->r, bad[i].r,
                                                       bad[i].n, 0, 50 * MS,
                                                       &f->cb),
                         KNIT_E_MALFORMED);
    }
    assert_int_equal(knit_recovery_on_ack_received(f->r, above, 0, 0, 50 * MS,
                                                   &f->cb), KNIT_E_INVAL);
    assert_int_equal(knit_recovery_on_ack_received(f->r, NULL, 1, 0, 50 * MS,
                                                   &f->cb), KNIT_E_INVAL);
    /* Nothing happened. */
    assert_int_equal(f->log->n_acked, 0);
    assert_int_equal(f->log->n_lost, 0);
    assert_false(knit_recovery_largest_acked(f->r, NULL));
    assert_false(knit_recovery_rtt(f->r)->has_sample);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 4 * MDS);
    assert_int_equal(knit_recovery_timer(f->r), timer);
    assert_int_equal(knit_recovery_tracked(f->r), 4);
    /* And the same ACK without the bad part works. */
    assert_int_equal(knit_recovery_on_ack_received(f->r, above + 1, 1, 0,
                                                   50 * MS, &f->cb), 0);
    assert_int_equal(f->log->n_acked, 3);
}

static void test_tracked_table_bound(void **state)
{
    struct fixture *f = *state;
    const uint64_t usable = KNIT_RECOVERY_MAX_TRACKED -
                            KNIT_RECOVERY_PROBE_RESERVE;
    uint64_t pn = 0;
    while (knit_recovery_can_track(f->r)) {
        send_data(f, pn, pn);
        pn++;
        assert_true(pn <= usable);
    }
    assert_int_equal(pn, usable);
    assert_int_equal(knit_recovery_tracked(f->r), usable);

    /* An ACK-only packet still goes out, unrecorded, leaving the reserve
     * alone; acknowledging it later is legal and reports nothing. */
    send_pkt(f, pn, pn, false, false);
    assert_int_equal(knit_recovery_tracked(f->r), usable);
    uint64_t ack_only = pn++;

    /* The PTO probes fit in the reserve; then the table is full and
     * anything else that needs a record is refused, nothing changed. */
    send_data(f, pn, pn);
    pn++;
    send_data(f, pn, pn);
    pn++;
    assert_int_equal(knit_recovery_tracked(f->r), KNIT_RECOVERY_MAX_TRACKED);
    uint64_t bif = knit_recovery_bytes_in_flight(f->r);
    struct knit_sent_packet p = {.pn = pn, .size = MDS, .ack_eliciting = true,
                                 .in_flight = true};
    assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, pn),
                     KNIT_E_NO_SPACE);
    p.ack_eliciting = false;
    assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, pn),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), bif);
    assert_int_equal(knit_recovery_tracked(f->r), KNIT_RECOVERY_MAX_TRACKED);

    /* Acknowledging the oldest packets frees records. */
    assert_int_equal(ack1(f, 0, 9, 0, 100 * MS), 0);
    assert_int_equal(knit_recovery_tracked(f->r),
                     KNIT_RECOVERY_MAX_TRACKED - 10);
    assert_true(knit_recovery_can_track(f->r));
    send_data(f, pn, 100 * MS);
    assert_int_equal(knit_recovery_tracked(f->r),
                     KNIT_RECOVERY_MAX_TRACKED - 9);

    size_t before = f->log->n_acked;
    assert_int_equal(ack1(f, ack_only, ack_only, 0, 101 * MS), 0);
    assert_int_equal(f->log->n_acked, before);
}

static void test_holes_reclaimed_behind_oldest(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 0; pn < 5; pn++)
        send_data(f, pn, 0);
    /* 1..2 acknowledged: 0 is still outstanding, so their records stay
     * until 0 goes. */
    assert_int_equal(ack1(f, 1, 2, 0, 10 * MS), 0);
    assert_int_equal(knit_recovery_tracked(f->r), 5);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 3 * MDS);
    assert_int_equal(ack1(f, 0, 0, 0, 11 * MS), 0);
    assert_int_equal(knit_recovery_tracked(f->r), 2);
}

static void reenter(void *ctx, const struct knit_sent_packet *p)
{
    struct log *l = ctx;
    struct knit_sent_packet q = *p;
    q.pn = 1000;
    l->reentry_rc = knit_recovery_on_packet_sent(l->r, &q, 0);
}

static void test_callbacks_cannot_reenter(void **state)
{
    struct fixture *f = *state;
    send_data(f, 1, 0);
    f->log->r = f->r;
    f->log->reentry_rc = 1;
    struct knit_recovery_callbacks cb = {.ctx = f->log, .on_acked = reenter};
    struct knit_ack_range r = {1, 1};
    assert_int_equal(knit_recovery_on_ack_received(f->r, &r, 1, 0, 10 * MS,
                                                   &cb), 0);
    assert_int_equal(f->log->reentry_rc, KNIT_E_INVAL);
    assert_int_equal(knit_recovery_tracked(f->r), 0);
    /* Usable again after the call; NULL callbacks are allowed. */
    send_data(f, 2, 20 * MS);
    assert_int_equal(knit_recovery_on_ack_received(f->r, &(struct
                     knit_ack_range){2, 2}, 1, 0, 30 * MS, NULL), 0);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
}

/* A deterministic random walk of sends, ACKs (with holes and reordering)
 * and timeouts, checking the books: every packet is reported at most once,
 * acked or lost, and bytes in flight always equal what was sent in flight
 * minus what was reported. */
struct walk {
    uint8_t state[1 << 16];      /* 0 unsent, 1 outstanding, 2 acked, 3 lost */
    bool in_flight[1 << 16];
    uint64_t outstanding_bytes;
};

static void walk_acked(void *ctx, const struct knit_sent_packet *p)
{
    struct walk *w = ctx;
    assert_true(p->pn < (1 << 16));
    assert_int_equal(w->state[p->pn], 1);
    w->state[p->pn] = 2;
    if (w->in_flight[p->pn])
        w->outstanding_bytes -= p->size;
}

static void walk_lost(void *ctx, const struct knit_sent_packet *p)
{
    struct walk *w = ctx;
    assert_true(p->pn < (1 << 16));
    assert_int_equal(w->state[p->pn], 1);
    w->state[p->pn] = 3;
    if (w->in_flight[p->pn])
        w->outstanding_bytes -= p->size;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_random_walk_keeps_books(void **state)
{
    struct fixture *f = *state;
    struct walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    struct knit_recovery_callbacks cb = {w, walk_acked, walk_lost};
    uint64_t seed = 0x9e3779b97f4a7c15u, now = 0, next_pn = 0, last_pn = 0;
    uint32_t probes;

    for (int step = 0; step < 200000 && next_pn < (1 << 16) - 1; step++) {
        now += rng_next(&seed) % 3000;
        uint64_t choice = rng_next(&seed) % 10;
        if (choice < 5 && knit_recovery_can_track(f->r)) {
            uint64_t pn = next_pn;
            last_pn = pn;
            next_pn += 1 + (rng_next(&seed) % 8 == 0);   /* some gaps */
            bool ae = rng_next(&seed) % 4 != 0;
            bool inf = ae || rng_next(&seed) % 2;
            uint32_t size = 100 + (uint32_t)(rng_next(&seed) % 1100);
            struct knit_sent_packet p = {.pn = pn, .size = size,
                                         .ack_eliciting = ae,
                                         .in_flight = inf};
            assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, now), 0);
            w->state[pn] = 1;
            w->in_flight[pn] = inf;
            if (inf)
                w->outstanding_bytes += size;
        } else if (choice < 9 && next_pn > 0) {
            /* Up to 4 descending ranges below the last sent number. */
            struct knit_ack_range r[4];
            size_t n = 0;
            uint64_t hi = last_pn - rng_next(&seed) % 16 % (last_pn + 1);
            while (n < 4) {
                uint64_t len = rng_next(&seed) % 6;
                uint64_t lo = hi >= len ? hi - len : 0;
                r[n++] = (struct knit_ack_range){lo, hi};
                uint64_t gap = 2 + rng_next(&seed) % 5;
                if (lo < gap)
                    break;
                hi = lo - gap;
            }
            int rc = knit_recovery_on_ack_received(f->r, r, n,
                                                   rng_next(&seed) % 30000,
                                                   now, &cb);
            assert_int_equal(rc, 0);
        } else {
            uint64_t t = knit_recovery_timer(f->r);
            if (t != KNIT_NO_DEADLINE) {
                if (t > now)
                    now = t;
                assert_int_equal(knit_recovery_on_timeout(f->r, now, &cb,
                                                          &probes), 0);
            }
        }
        assert_int_equal(knit_recovery_bytes_in_flight(f->r),
                         w->outstanding_bytes);
        const struct knit_cc *cc = knit_recovery_cc(f->r);
        assert_true(cc->cwnd >= knit_cc_min_window(cc));
        assert_true(knit_recovery_tracked(f->r) <= KNIT_RECOVERY_MAX_TRACKED);
        uint64_t timer = knit_recovery_timer(f->r);
        if (timer != KNIT_NO_DEADLINE && knit_recovery_pto_count(f->r) > 0 &&
            knit_recovery_rtt(f->r)->has_sample)
            assert_true(timer <= now + KNIT_RECOVERY_MAX_PTO_US);
    }
    free(w);
}

/* RFC 9000 §9.4: on a new path the window and the round-trip estimate
 * start over; packets still out from the old path are resent as usual
 * but feed neither, and stay counted in flight until they are settled. */
static void test_a_new_path_starts_afresh(void **state)
{
    struct fixture *f = *state;
    for (uint64_t pn = 0; pn < 10; pn++)
        send_data(f, pn, 0);
    assert_int_equal(ack1(f, 0, 9, 0, 20 * MS), 0);
    assert_int_equal(knit_recovery_cc(f->r)->cwnd, 24000);
    assert_int_equal(knit_recovery_rtt(f->r)->smoothed, 20 * MS);
    for (uint64_t pn = 10; pn < 20; pn++)
        send_data(f, pn, 30 * MS);
    knit_recovery_new_path(f->r);
    const struct knit_cc *cc = knit_recovery_cc(f->r);
    assert_int_equal(cc->cwnd, 12000);
    assert_int_equal(cc->bytes_in_flight, 0);
    assert_false(knit_recovery_rtt(f->r)->has_sample);
    /* still in flight, for whoever asks whether anything is */
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 10 * MDS);
    /* the new path's first packets */
    for (uint64_t pn = 20; pn < 30; pn++)
        send_data(f, pn, 40 * MS);
    assert_int_equal(cc->bytes_in_flight, 10 * MDS);
    /* An old packet's late ACK: no sample, no growth. */
    assert_int_equal(ack1(f, 10, 10, 0, 500 * MS), 0);
    assert_false(knit_recovery_rtt(f->r)->has_sample);
    assert_int_equal(cc->cwnd, 12000);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 19 * MDS);
    /* The new path's ACK, 3 above the rest of the old packets: they are
     * lost, resent by the caller, and cost the new window nothing. */
    assert_int_equal(ack1(f, 20, 29, 0, 540 * MS), 0);
    assert_int_equal(f->log->n_lost, 9);
    assert_int_equal(knit_recovery_rtt(f->r)->latest, 500 * MS);
    assert_int_equal(cc->ssthresh, KNIT_CC_SSTHRESH_INFINITE);
    assert_int_equal(cc->cwnd, 24000);
    assert_int_equal(knit_recovery_bytes_in_flight(f->r), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_null),
        T(test_a_new_path_starts_afresh),
        T(test_initial_state),
        T(test_send_validation),
        T(test_in_order_ack),
        T(test_full_window_ack_grows_cwnd),
        T(test_ack_ranges_out_of_order),
        T(test_packet_threshold_loss),
        T(test_time_threshold_loss),
        T(test_time_threshold_uses_latest_rtt),
        T(test_rtt_sample_rules),
        T(test_unsent_pn_rejected_without_change),
        T(test_tracked_table_bound),
        T(test_holes_reclaimed_behind_oldest),
        T(test_callbacks_cannot_reenter),
        T(test_random_walk_keeps_books),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
