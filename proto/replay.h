/* The anti-replay window of a session's receive direction (RFC 6479 style):
 * which of the last KNIT_REPLAY_WINDOW packet counters have been seen.
 *
 * The session layer asks knit_replay_check() before it spends work on a
 * transport packet and calls knit_replay_commit() only once the packet has
 * authenticated, so a forged packet can never move the window. A plain value,
 * no heap; counters are the 64-bit packet numbers of the design, 0 included. */
#ifndef KNIT_REPLAY_H
#define KNIT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* Counters top - 2047 .. top are tracked exactly; older ones are refused. */
#define KNIT_REPLAY_WINDOW 2048

struct knit_replay {
    uint64_t top;      /* highest counter committed (valid when any) */
    bool any;          /* false until the first commit */
    uint64_t bits[KNIT_REPLAY_WINDOW / 64];  /* bit c % WINDOW: c was seen */
};

void knit_replay_init(struct knit_replay *r);
/* True if counter may be new: not seen yet and not older than the window
 * (top - counter < KNIT_REPLAY_WINDOW). Changes nothing. */
bool knit_replay_check(const struct knit_replay *r, uint64_t counter);
/* Records counter as seen, sliding the window forward if it is the new top.
 * A counter that check would refuse is ignored. */
void knit_replay_commit(struct knit_replay *r, uint64_t counter);

#endif
