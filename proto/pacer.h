/* Pacing, RFC 9002 §7.7: a token bucket that spreads a window's worth of
 * packets over a round trip instead of sending them in one burst.
 *
 * The conn owns one next to its recovery state. Before sending an
 * ack-eliciting or in-flight packet it asks knit_pacer_next_send_time with
 * the current cwnd and smoothed RTT, and after sending it reports the packet
 * with knit_pacer_on_sent. ACK-only packets are not paced (RFC 9002 §7.7) and
 * are not reported. The bucket fills at N * cwnd / smoothed_rtt with
 * N = 5/4, holds at most KNIT_PACER_BURST_PACKETS datagrams (about the
 * initial window), and starts full. Integer arithmetic only, so a run is
 * repeatable to the microsecond. */
#ifndef KNIT_PACER_H
#define KNIT_PACER_H

#include <stddef.h>
#include <stdint.h>

#define KNIT_PACER_BURST_PACKETS 10
#define KNIT_PACER_N_NUM 5          /* N = 5/4 = 1.25 */
#define KNIT_PACER_N_DEN 4

struct knit_pacer {
    uint64_t tokens;     /* bytes that may leave now */
    uint64_t last;       /* time tokens was last brought up to date */
    uint64_t burst;      /* bucket capacity: 10 * mds */
};

/* mds 0 means 1200 bytes. */
void knit_pacer_init(struct knit_pacer *p, uint32_t mds);

/* The earliest time, at or after now, when a packet of bytes may be sent:
 * now itself if the bucket already holds bytes tokens. A packet larger than
 * the bucket waits for a full bucket. cwnd or srtt of 0 disables pacing
 * (returns now). */
uint64_t knit_pacer_next_send_time(const struct knit_pacer *p, uint64_t now,
                                   uint64_t cwnd, uint64_t srtt, size_t bytes);

/* A paced packet of bytes left at now: its tokens are spent (the bucket
 * never goes below empty, so a packet sent early, such as a PTO probe, does
 * not delay later ones beyond an empty bucket). */
void knit_pacer_on_sent(struct knit_pacer *p, uint64_t now, uint64_t cwnd,
                        uint64_t srtt, size_t bytes);

#endif
