/* The receiver's record of the packet numbers it has received in a session:
 * what goes into our ACK frames, and whether a packet is a duplicate. The
 * session layer adds each authenticated packet's number, turns the record
 * into an ACK frame when it acknowledges, and trims it once the peer has
 * seen an ACK covering the old part (RFC 9000 §13.2.4).
 *
 * Memory is bounded: at most KNIT_ACK_MAX_RANGES ranges, exactly what one
 * ACK frame carries. When a new packet number would need one range more, the
 * lowest range is dropped. Dropped and trimmed numbers are not forgotten
 * blindly: a floor rises above them, and anything below the floor counts as
 * already seen, so a packet is never accepted twice (RFC 9000 §13.2.3,
 * "maintaining a minimum packet number"). A very late packet below the floor
 * is therefore refused as a duplicate; its sender has long declared it lost
 * and resent its data.
 *
 * Without loss or reordering a record is one range, so the first
 * KNIT_ACK_FEW_RANGES live in the struct and the full KNIT_ACK_MAX_RANGES
 * go to the heap only when a gap needs more (every session carried 1 KiB
 * for ranges most never used). If that allocation fails, the record keeps
 * to the few, by the same rule as at the maximum. */
#ifndef KNIT_ACK_RANGES_H
#define KNIT_ACK_RANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/frame.h"

#define KNIT_ACK_FEW_RANGES 4

struct knit_ack_ranges {
    /* descending, disjoint and non-adjacent: [0] holds the largest; in
     * few, or in many once allocated */
    struct knit_ack_range few[KNIT_ACK_FEW_RANGES];
    struct knit_ack_range *many;   /* KNIT_ACK_MAX_RANGES, or NULL */
    uint32_t count;
    uint64_t floor; /* numbers below this count as seen */
};

/* Empties the record; an all-zero struct is empty too. */
void knit_ack_ranges_init(struct knit_ack_ranges *a);
/* Frees what the record holds on the heap; it is empty afterwards. */
void knit_ack_ranges_free(struct knit_ack_ranges *a);

/* Records packet number pn. Returns 1 if it is new, 0 if it was already
 * seen or lies below the floor (a duplicate as far as the caller is
 * concerned: drop the packet), KNIT_E_TOO_BIG if pn is over KNIT_VARINT_MAX
 * (an ACK frame could not carry it), KNIT_E_INVAL if a is NULL. When pn needs
 * a new range and all are in use, the lowest of the ranges, pn's own
 * included, is dropped and the floor rises above it: if that is pn's, pn is
 * refused with 0. */
int knit_ack_ranges_add(struct knit_ack_ranges *a, uint64_t pn);

/* Whether add(pn) would call pn a duplicate: recorded, or below the floor. */
bool knit_ack_ranges_contains(const struct knit_ack_ranges *a, uint64_t pn);

/* Forgets every number below pn (the peer has seen them acknowledged) and
 * raises the floor to pn, so they stay duplicates. */
void knit_ack_ranges_remove_below(struct knit_ack_ranges *a, uint64_t pn);

/* The ranges, count of them, largest first. */
const struct knit_ack_range *
knit_ack_ranges_get(const struct knit_ack_ranges *a);

/* The largest number recorded; 0 when the record is empty (check count). */
uint64_t knit_ack_ranges_largest(const struct knit_ack_ranges *a);

/* Fills *out with an ACK frame of every range held. With count 0 the frame
 * has count 0, which knit_frame_encode() refuses: there is nothing to
 * acknowledge. */
void knit_ack_ranges_to_frame(const struct knit_ack_ranges *a,
                              uint64_t ack_delay_us, struct knit_frame *out);

#endif
