#include "rtt.h"

void knit_rtt_init(struct knit_rtt *rtt)
{
    rtt->latest = 0;
    rtt->min = 0;
    rtt->smoothed = KNIT_RTT_INITIAL_US;
    rtt->var = KNIT_RTT_INITIAL_US / 2;
    rtt->has_sample = false;
}

void knit_rtt_update(struct knit_rtt *rtt, uint64_t sample,
                     uint64_t ack_delay, uint64_t max_ack_delay)
{
    rtt->latest = sample;
    if (!rtt->has_sample) {
        /* The first sample replaces the made-up initial RTT outright, so no
         * trace of kInitialRtt lingers in the estimate. */
        rtt->min = sample;
        rtt->smoothed = sample;
        rtt->var = sample / 2;
        rtt->has_sample = true;
        return;
    }

    /* min_rtt uses raw samples only, so a peer cannot talk it down. */
    if (sample < rtt->min)
        rtt->min = sample;
    if (ack_delay > max_ack_delay)
        ack_delay = max_ack_delay;
    uint64_t adjusted = sample;
    if (sample >= rtt->min && sample - rtt->min >= ack_delay)
        adjusted = sample - ack_delay;

    uint64_t dev = rtt->smoothed > adjusted ? rtt->smoothed - adjusted
                                            : adjusted - rtt->smoothed;
    rtt->var = (3 * rtt->var + dev) / 4;
    rtt->smoothed = (7 * rtt->smoothed + adjusted) / 8;
}

uint64_t knit_rtt_pto(const struct knit_rtt *rtt, uint64_t max_ack_delay)
{
    uint64_t var4 = 4 * rtt->var;
    if (var4 < KNIT_RTT_GRANULARITY_US)
        var4 = KNIT_RTT_GRANULARITY_US;
    return rtt->smoothed + var4 + max_ack_delay;
}
