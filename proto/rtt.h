/* The round-trip time estimator of RFC 9002 §5, for one path.
 *
 * The recovery module (proto/recovery.c) owns one and feeds it a sample each
 * time an ACK newly acknowledges the largest acknowledged packet; the conn
 * and the pacer read it. All times are microseconds. Sessions start after
 * the Noise handshake, so the handshake counts as confirmed: the peer's
 * ack_delay is always capped at its max_ack_delay. */
#ifndef KNIT_RTT_H
#define KNIT_RTT_H

#include <stdbool.h>
#include <stdint.h>

#define KNIT_RTT_INITIAL_US 333000     /* kInitialRtt */
#define KNIT_RTT_GRANULARITY_US 1000   /* kGranularity */

struct knit_rtt {
    uint64_t latest;      /* latest_rtt: the last raw sample */
    uint64_t min;         /* min_rtt: smallest raw sample (no ack delay) */
    uint64_t smoothed;    /* smoothed_rtt */
    uint64_t var;         /* rttvar: mean deviation */
    bool has_sample;      /* false until the first sample */
};

/* smoothed = kInitialRtt, var = kInitialRtt / 2, latest = min = 0. */
void knit_rtt_init(struct knit_rtt *rtt);

/* One RTT sample (ack time minus send time of the largest acknowledged
 * packet) with the ACK Delay the peer reported for it. The first sample
 * resets the estimator and ignores ack_delay; later ones use
 * min(ack_delay, max_ack_delay), subtracted only when the result stays at or
 * above min_rtt. rttvar is updated from the previous smoothed_rtt, as in
 * RFC 6298, Appendix A.7 of RFC 9002 and its erratum 7539. */
void knit_rtt_update(struct knit_rtt *rtt, uint64_t sample,
                     uint64_t ack_delay, uint64_t max_ack_delay);

/* The un-backed-off probe timeout:
 * smoothed + max(4 * var, kGranularity) + max_ack_delay. */
uint64_t knit_rtt_pto(const struct knit_rtt *rtt, uint64_t max_ack_delay);

#endif
