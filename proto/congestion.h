/* NewReno congestion control, RFC 9002 §7 and Appendix B, for one path,
 * with HyStart++ (RFC 9406) in the first slow start.
 *
 * The recovery module (proto/recovery.c) owns one and drives it: sends add
 * to bytes_in_flight, acknowledgements grow the window, losses shrink it once
 * per recovery period, persistent congestion collapses it to the minimum.
 * The conn asks knit_cc_can_send before building a packet and hands cwnd to
 * the pacer. Sizes are bytes, times microseconds. No ECN.
 *
 * Why HyStart++: a loss-based slow start grows until a queue overflows,
 * and the queues of home routers and of a busy relay's path hold seconds
 * of data. Measured in the natlab: a bulk transfer that fell back to a
 * relay drove the relayed path's round trip from 0.24 s to 1.7 s, and a
 * hole punch's CONNECT on the same session waited behind it. HyStart++
 * leaves slow start once the round trip grows by a few milliseconds. */
#ifndef KNIT_CONGESTION_H
#define KNIT_CONGESTION_H

#include <stdbool.h>
#include <stdint.h>

#define KNIT_CC_DEFAULT_MDS 1200            /* max_datagram_size */
#define KNIT_CC_INITIAL_WINDOW_LIMIT 14720  /* bytes, RFC 9002 §7.2 */
#define KNIT_CC_SSTHRESH_INFINITE UINT64_MAX

struct knit_cc {
    uint64_t cwnd;             /* congestion_window */
    uint64_t bytes_in_flight;
    uint64_t ssthresh;         /* KNIT_CC_SSTHRESH_INFINITE until a loss */
    uint64_t recovery_start;   /* congestion_recovery_start_time... */
    bool in_recovery_epoch;    /* ...valid only when this is true, so a
                                  recovery starting at time 0 is not
                                  confused with "never" */
    uint64_t ca_acked;         /* bytes acked toward the next +mds in
                                  congestion avoidance (RFC 3465 §2.1) */
    uint32_t mds;              /* max_datagram_size */

    /* HyStart++, while ssthresh is infinite. A round ends when the
     * packet that was next to be sent when it began is acknowledged
     * (windowEnd in RFC 9406 §4.2), and the next round begins then. */
    uint64_t next_pn;              /* SND.NXT: one past the last sent */
    uint64_t round_end_pn;
    uint64_t last_round_min_rtt;   /* UINT64_MAX: none */
    uint64_t round_min_rtt;        /* UINT64_MAX: no sample yet */
    uint32_t round_samples;
    uint64_t css_baseline_rtt;     /* UINT64_MAX: not in conservative
                                      slow start */
    uint32_t css_rounds;
};

/* RFC 9406 §4.3's constants. The sender paces, so L is infinite. */
#define KNIT_CC_HYSTART_MIN_RTT_THRESH_US 4000
#define KNIT_CC_HYSTART_MAX_RTT_THRESH_US 16000
#define KNIT_CC_HYSTART_MIN_RTT_DIVISOR 8
#define KNIT_CC_HYSTART_N_RTT_SAMPLE 8
#define KNIT_CC_HYSTART_CSS_GROWTH_DIVISOR 4
#define KNIT_CC_HYSTART_CSS_ROUNDS 5

/* Slow start with cwnd = min(10 * mds, max(14720, 2 * mds)), ssthresh
 * infinite. mds 0 means KNIT_CC_DEFAULT_MDS. */
void knit_cc_init(struct knit_cc *cc, uint32_t mds);

/* kMinimumWindow: 2 * mds. */
uint64_t knit_cc_min_window(const struct knit_cc *cc);

/* True when bytes_in_flight + bytes <= cwnd. Probes sent on a PTO skip this
 * check (RFC 9002 §7.5) but are still reported to knit_cc_on_sent. */
bool knit_cc_can_send(const struct knit_cc *cc, uint64_t bytes);

/* An in-flight packet of this size left. */
void knit_cc_on_sent(struct knit_cc *cc, uint64_t bytes);

/* Whether the sender is using its window, so that acknowledgements may grow
 * it (RFC 9002 §7.8). Evaluate it BEFORE removing the acknowledged bytes from
 * flight. In slow start: more than half the window is in flight (as Linux
 * does; pacing and ACK clocking rarely let a slow-start sender fill it all);
 * in congestion avoidance: not even one more full datagram fits. */
bool knit_cc_is_cwnd_limited(const struct knit_cc *cc);

/* An in-flight packet sent at time_sent was acknowledged: its bytes leave
 * flight; the window grows only if cwnd_limited (from
 * knit_cc_is_cwnd_limited before this ACK was applied; false means
 * application or flow-control limited) and the packet was sent after the
 * current recovery period began. Slow start adds the acked bytes; congestion
 * avoidance adds one mds per cwnd of acked bytes. now is unused by NewReno
 * and kept for controllers that need it. */
void knit_cc_on_acked(struct knit_cc *cc, uint64_t bytes, uint64_t time_sent,
                      uint64_t now, bool cwnd_limited);

/* In-flight packets totalling bytes were declared lost; the newest of them
 * was sent at largest_lost_time_sent. Unless that packet was sent before the
 * current recovery period began, a new period starts at now: ssthresh =
 * cwnd / 2, cwnd = max(ssthresh, 2 * mds). */
void knit_cc_on_lost(struct knit_cc *cc, uint64_t bytes,
                     uint64_t largest_lost_time_sent, uint64_t now);

/* Persistent congestion (RFC 9002 §7.6): cwnd = 2 * mds and the recovery
 * period ends, so the sender is in slow start again (cwnd < ssthresh). */
void knit_cc_on_persistent_congestion(struct knit_cc *cc);

/* A packet that counts towards congestion control left, numbered pn (for
 * HyStart++'s rounds). */
void knit_cc_on_sent_pn(struct knit_cc *cc, uint64_t pn);

/* An ACK raised the largest acknowledged packet number to largest_acked;
 * has_sample when it also gave a round-trip sample (latest_rtt, without
 * the peer's ack delay). In the first slow start (ssthresh infinite) this
 * is HyStart++: after 8 samples in a round whose smallest is at least
 * clamp(last round's smallest / 8, 4 ms, 16 ms) above the last round's,
 * the window grows at a quarter of the pace (conservative slow start);
 * a round whose smallest falls back below that baseline resumes slow start,
 * and 5 rounds of conservative growth end slow start (ssthresh = cwnd). */
void knit_cc_on_ack_progress(struct knit_cc *cc, uint64_t largest_acked,
                             bool has_sample, uint64_t latest_rtt);

/* Whether the window grows at the conservative pace (for tests and
 * statistics). */
bool knit_cc_in_css(const struct knit_cc *cc);

/* In-flight bytes forgotten without a congestion signal (the packets can no
 * longer be acknowledged, e.g. their state was dropped). */
void knit_cc_discard(struct knit_cc *cc, uint64_t bytes);

#endif
