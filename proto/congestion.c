#include "congestion.h"

void knit_cc_init(struct knit_cc *cc, uint32_t mds)
{
    if (mds == 0)
        mds = KNIT_CC_DEFAULT_MDS;
    uint64_t ten = 10 * (uint64_t)mds;
    uint64_t limit = 2 * (uint64_t)mds;
    if (limit < KNIT_CC_INITIAL_WINDOW_LIMIT)
        limit = KNIT_CC_INITIAL_WINDOW_LIMIT;
    cc->cwnd = ten < limit ? ten : limit;
    cc->bytes_in_flight = 0;
    cc->ssthresh = KNIT_CC_SSTHRESH_INFINITE;
    cc->recovery_start = 0;
    cc->in_recovery_epoch = false;
    cc->ca_acked = 0;
    cc->mds = mds;
}

uint64_t knit_cc_min_window(const struct knit_cc *cc)
{
    return 2 * (uint64_t)cc->mds;
}

bool knit_cc_can_send(const struct knit_cc *cc, uint64_t bytes)
{
    return cc->bytes_in_flight <= cc->cwnd &&
           bytes <= cc->cwnd - cc->bytes_in_flight;
}

void knit_cc_on_sent(struct knit_cc *cc, uint64_t bytes)
{
    cc->bytes_in_flight += bytes;
}

bool knit_cc_is_cwnd_limited(const struct knit_cc *cc)
{
    if (cc->cwnd < cc->ssthresh)
        return cc->bytes_in_flight > cc->cwnd / 2;
    return cc->bytes_in_flight + cc->mds > cc->cwnd;
}

static void remove_from_flight(struct knit_cc *cc, uint64_t bytes)
{
    /* The recovery module keeps the books balanced; saturating keeps a
     * caller's accounting slip from turning into a huge window of flight. */
    cc->bytes_in_flight = bytes < cc->bytes_in_flight
                              ? cc->bytes_in_flight - bytes : 0;
}

static bool in_recovery(const struct knit_cc *cc, uint64_t time_sent)
{
    return cc->in_recovery_epoch && time_sent <= cc->recovery_start;
}

void knit_cc_on_acked(struct knit_cc *cc, uint64_t bytes, uint64_t time_sent,
                      uint64_t now, bool cwnd_limited)
{
    (void)now;
    remove_from_flight(cc, bytes);
    if (!cwnd_limited || in_recovery(cc, time_sent))
        return;
    if (cc->cwnd < cc->ssthresh) {
        cc->cwnd += bytes;
        return;
    }
    /* Counting acked bytes instead of adding mds * bytes / cwnd per packet
     * keeps integer division from eating most of the growth. */
    cc->ca_acked += bytes;
    if (cc->ca_acked >= cc->cwnd) {
        cc->ca_acked -= cc->cwnd;
        cc->cwnd += cc->mds;
    }
}

void knit_cc_on_lost(struct knit_cc *cc, uint64_t bytes,
                     uint64_t largest_lost_time_sent, uint64_t now)
{
    remove_from_flight(cc, bytes);
    /* One reduction per round trip: losses of packets sent before the
     * period began belong to the congestion event already answered. */
    if (in_recovery(cc, largest_lost_time_sent))
        return;
    cc->recovery_start = now;
    cc->in_recovery_epoch = true;
    cc->ssthresh = cc->cwnd / 2;
    uint64_t min = knit_cc_min_window(cc);
    cc->cwnd = cc->ssthresh > min ? cc->ssthresh : min;
    cc->ca_acked = 0;
}

void knit_cc_on_persistent_congestion(struct knit_cc *cc)
{
    cc->cwnd = knit_cc_min_window(cc);
    cc->in_recovery_epoch = false;
    cc->recovery_start = 0;
    cc->ca_acked = 0;
}

void knit_cc_discard(struct knit_cc *cc, uint64_t bytes)
{
    remove_from_flight(cc, bytes);
}
