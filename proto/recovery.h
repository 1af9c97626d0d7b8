/* Loss detection and probe timeouts, RFC 9002 §6 and Appendix A, for the
 * single packet-number space of a knit session (the AEAD counter doubles as
 * the packet number; no Initial/Handshake spaces, no ECN).
 *
 * The conn (proto/conn.c) owns one knit_recovery. It reports every packet it
 * sends (knit_recovery_on_packet_sent), every ACK frame it receives
 * (knit_recovery_on_ack_received) and every expiry of the deadline
 * knit_recovery_timer gives (knit_recovery_on_timeout). In return it learns,
 * through callbacks, which packets were delivered and which were lost, so it
 * can retire or resend what they carried. The RTT estimator (proto/rtt.h) and
 * the NewReno controller (proto/congestion.h) live inside and can be read
 * through accessors.
 *
 * Memory is bounded: the table of packets awaiting acknowledgement starts at
 * 8 records and doubles on demand up to KNIT_RECOVERY_MAX_TRACKED records of
 * 32 bytes, 256 KiB at most per session. */
#ifndef KNIT_RECOVERY_H
#define KNIT_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/congestion.h"
#include "proto/frame.h"   /* struct knit_ack_range */
#include "proto/rtt.h"

#define KNIT_RECOVERY_MAX_TRACKED 8192
/* Records kept back for the two probes of a PTO, so a table full of lost
 * packets can still send what elicits the ACKs that empty it. */
#define KNIT_RECOVERY_PROBE_RESERVE 2
/* RFC 9002 constants: kPacketThreshold, kPersistentCongestionThreshold,
 * kTimeThreshold = 9/8. */
#define KNIT_RECOVERY_PACKET_THRESHOLD 3
#define KNIT_RECOVERY_PC_THRESHOLD 3
#define KNIT_RECOVERY_TIME_THRESHOLD_NUM 9
#define KNIT_RECOVERY_TIME_THRESHOLD_DEN 8
#define KNIT_RECOVERY_MAX_PTO_US 60000000     /* backed-off PTO cap: 60 s */
#define KNIT_RECOVERY_DEFAULT_MAX_ACK_DELAY_US 25000

struct knit_sent_packet {
    uint64_t pn;
    uint64_t time_sent;
    uint32_t size;          /* bytes counted in flight if in_flight */
    bool ack_eliciting;
    bool in_flight;         /* counts toward bytes_in_flight and cwnd */
    uint32_t ref;           /* the caller's handle to the packet's contents */
};

/* Called synchronously, in increasing packet-number order, with a record
 * that lives only during the call. A callback must not call back into the
 * same knit_recovery (those calls fail with KNIT_E_INVAL). Either pointer
 * may be NULL. */
struct knit_recovery_callbacks {
    void *ctx;
    void (*on_acked)(void *ctx, const struct knit_sent_packet *p);
    void (*on_lost)(void *ctx, const struct knit_sent_packet *p);
};

struct knit_recovery;

/* mds: max_datagram_size for congestion control (0 = 1200). max_ack_delay_us:
 * the peer's maximum ACK delay, used to cap reported delays and in the PTO
 * (KNIT_RECOVERY_DEFAULT_MAX_ACK_DELAY_US when unsure). KNIT_E_INVAL for a
 * NULL out, KNIT_E_NOMEM. */
int knit_recovery_new(struct knit_recovery **out, uint32_t mds,
                      uint64_t max_ack_delay_us);
void knit_recovery_free(struct knit_recovery *r);

/* Whether one more ack-eliciting or in-flight packet may be sent. When
 * false the caller sends only PTO probes (they use the reserve) and ACK-only
 * packets until ACKs or losses free records. */
bool knit_recovery_can_track(const struct knit_recovery *r);

/* Records a packet just sent. Every packet of the session must be reported,
 * ACK-only ones included, in increasing packet-number order: an ACK of a
 * number never reported is a protocol violation. p->time_sent is ignored;
 * the packet is recorded as sent at now (held monotonic). An in-flight
 * packet adds p->size to bytes_in_flight; an ack-eliciting one restarts the
 * PTO. When knit_recovery_can_track is false an ACK-only packet (neither
 * ack-eliciting nor in flight) is counted as sent but not recorded, so its
 * acknowledgement is ignored. Errors: KNIT_E_INVAL (NULL, pn not above every earlier one, or
 * called from a callback), KNIT_E_NO_SPACE (table full, reserve included;
 * nothing changed). */
int knit_recovery_on_packet_sent(struct knit_recovery *r,
                                 const struct knit_sent_packet *p,
                                 uint64_t now);

/* Applies one ACK frame: ranges in descending order, ranges[0].hi the
 * largest acknowledged; ack_delay_us as the peer reported it. In order:
 * on_acked for each newly acknowledged packet; an RTT sample if the largest
 * acknowledged is newly acknowledged and so is an ack-eliciting packet;
 * packet- and time-threshold loss detection with on_lost for each lost
 * packet; congestion control (losses, then acknowledgements); persistent
 * congestion; pto_count reset. An ACK that newly acknowledges nothing only
 * raises the largest acknowledged. Errors, all before any change:
 * KNIT_E_INVAL (NULL, count 0, or called from a callback), KNIT_E_MALFORMED
 * (a range with lo > hi, ranges not descending and disjoint, or a packet
 * number above the largest or below the first ever sent). */
int knit_recovery_on_ack_received(struct knit_recovery *r,
                                  const struct knit_ack_range *ranges,
                                  size_t count, uint64_t ack_delay_us,
                                  uint64_t now,
                                  const struct knit_recovery_callbacks *cb);

/* When knit_recovery_on_timeout should next be called: the time-threshold
 * loss time if one is pending; else, with ack-eliciting packets in flight,
 * the PTO: last ack-eliciting send time + knit_rtt_pto() * 2^pto_count,
 * the period capped at KNIT_RECOVERY_MAX_PTO_US; else KNIT_NO_DEADLINE. */
uint64_t knit_recovery_timer(const struct knit_recovery *r);

/* Handles the deadline at now (a call before it does nothing). A loss-time
 * expiry declares packets lost (on_lost, congestion control, persistent
 * congestion). A PTO expiry raises pto_count and sets *probes_to_send to 2:
 * the caller sends two ack-eliciting packets (new data, else a resend, else a
 * PING) regardless of cwnd, and reports them as usual; nothing is declared
 * lost and cwnd is unchanged. *probes_to_send is 0 otherwise. Errors:
 * KNIT_E_INVAL (NULL r or probes_to_send, or called from a callback). */
int knit_recovery_on_timeout(struct knit_recovery *r, uint64_t now,
                             const struct knit_recovery_callbacks *cb,
                             uint32_t *probes_to_send);

/* Traffic moved to a new path (RFC 9000 §9.4): congestion control and the
 * round-trip estimate start afresh, as for a new connection. Packets sent
 * before stay tracked (acknowledged, lost and resent as usual, and they
 * keep the PTO armed) but no longer count against the new window nor feed
 * the new estimates. */
void knit_recovery_new_path(struct knit_recovery *r);

const struct knit_rtt *knit_recovery_rtt(const struct knit_recovery *r);
const struct knit_cc *knit_recovery_cc(const struct knit_recovery *r);
/* Every path's, so that nothing in flight is overlooked. */
uint64_t knit_recovery_bytes_in_flight(const struct knit_recovery *r);
/* False until some ACK arrived; otherwise *pn is the largest acknowledged. */
bool knit_recovery_largest_acked(const struct knit_recovery *r, uint64_t *pn);
/* PTO expiries since the last ACK that acknowledged something new. */
uint32_t knit_recovery_pto_count(const struct knit_recovery *r);
/* Records in use (packets awaiting acknowledgement, plus acknowledged or
 * lost ones not yet reclaimed behind an older outstanding packet). */
size_t knit_recovery_tracked(const struct knit_recovery *r);

#endif
