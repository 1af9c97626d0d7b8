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
    cc->next_pn = 0;
    cc->round_end_pn = 0;
    cc->last_round_min_rtt = UINT64_MAX;
    cc->round_min_rtt = UINT64_MAX;
    cc->round_samples = 0;
    cc->css_baseline_rtt = UINT64_MAX;
    cc->css_rounds = 0;
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
        cc->cwnd += knit_cc_in_css(cc)
                        ? bytes / KNIT_CC_HYSTART_CSS_GROWTH_DIVISOR
                        : bytes;
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

/* HyStart++ runs only in the first slow start: after a loss, ssthresh
 * already says where slow start ends. */
static bool hystart_active(const struct knit_cc *cc)
{
    return cc->ssthresh == KNIT_CC_SSTHRESH_INFINITE;
}

bool knit_cc_in_css(const struct knit_cc *cc)
{
    return hystart_active(cc) && cc->css_baseline_rtt != UINT64_MAX;
}

void knit_cc_on_sent_pn(struct knit_cc *cc, uint64_t pn)
{
    if (pn >= cc->next_pn)
        cc->next_pn = pn + 1;
}

static void start_round(struct knit_cc *cc)
{
    cc->round_end_pn = cc->next_pn;
    cc->last_round_min_rtt = cc->round_min_rtt;
    cc->round_min_rtt = UINT64_MAX;
    cc->round_samples = 0;
    if (knit_cc_in_css(cc) &&
        ++cc->css_rounds >= KNIT_CC_HYSTART_CSS_ROUNDS) {
        cc->ssthresh = cc->cwnd;     /* on to congestion avoidance */
        cc->css_baseline_rtt = UINT64_MAX;
    }
}

static uint64_t rtt_thresh(uint64_t last_round_min)
{
    uint64_t t = last_round_min / KNIT_CC_HYSTART_MIN_RTT_DIVISOR;
    if (t < KNIT_CC_HYSTART_MIN_RTT_THRESH_US)
        return KNIT_CC_HYSTART_MIN_RTT_THRESH_US;
    return t > KNIT_CC_HYSTART_MAX_RTT_THRESH_US
               ? KNIT_CC_HYSTART_MAX_RTT_THRESH_US : t;
}

void knit_cc_on_ack_progress(struct knit_cc *cc, uint64_t largest_acked,
                             bool has_sample, uint64_t latest_rtt)
{
    if (!hystart_active(cc))
        return;
    if (has_sample) {
        if (latest_rtt < cc->round_min_rtt)
            cc->round_min_rtt = latest_rtt;
        cc->round_samples++;
        if (cc->round_samples >= KNIT_CC_HYSTART_N_RTT_SAMPLE) {
            if (!knit_cc_in_css(cc)) {
                if (cc->last_round_min_rtt != UINT64_MAX &&
                    cc->round_min_rtt >= cc->last_round_min_rtt +
                                         rtt_thresh(cc->last_round_min_rtt)) {
                    cc->css_baseline_rtt = cc->round_min_rtt;
                    cc->css_rounds = 0;
                }
            } else if (cc->round_min_rtt < cc->css_baseline_rtt) {
                /* The rise was noise: back to slow start. */
                cc->css_baseline_rtt = UINT64_MAX;
            }
        }
    }
    if (largest_acked >= cc->round_end_pn)
        start_round(cc);
}

void knit_cc_discard(struct knit_cc *cc, uint64_t bytes)
{
    remove_from_flight(cc, bytes);
}
