#include "pacer.h"

/* Bounds that keep every product below 2^64: a bucket holds at most
 * 10 * 65535 < 2^20 bytes (mds is at most a UDP payload in practice, and is
 * clamped here), srtt is clamped to about 71 minutes (2^32 us) and cwnd to
 * 2^40 bytes, far beyond anything a real path reaches. */
#define MDS_MAX 65535u
#define SRTT_MAX ((uint64_t)1 << 32)
#define CWND_MAX ((uint64_t)1 << 40)

void knit_pacer_init(struct knit_pacer *p, uint32_t mds)
{
    if (mds == 0)
        mds = 1200;
    if (mds > MDS_MAX)
        mds = MDS_MAX;
    p->burst = (uint64_t)KNIT_PACER_BURST_PACKETS * mds;
    p->tokens = p->burst;
    p->last = 0;
}

static void clamp_rate(uint64_t *cwnd, uint64_t *srtt)
{
    if (*cwnd > CWND_MAX)
        *cwnd = CWND_MAX;
    if (*srtt > SRTT_MAX)
        *srtt = SRTT_MAX;
}

/* Microseconds for the bucket to gain bytes tokens, rounded up so that the
 * bucket really holds them by then. */
static uint64_t time_for(uint64_t bytes, uint64_t cwnd, uint64_t srtt)
{
    uint64_t num = bytes * KNIT_PACER_N_DEN * srtt;
    uint64_t den = KNIT_PACER_N_NUM * cwnd;
    return (num + den - 1) / den;
}

/* Tokens in the bucket at now. */
static uint64_t tokens_at(const struct knit_pacer *p, uint64_t now,
                          uint64_t cwnd, uint64_t srtt)
{
    if (p->tokens >= p->burst)
        return p->burst;
    uint64_t elapsed = now > p->last ? now - p->last : 0;
    uint64_t missing = p->burst - p->tokens;
    /* Checking against the fill time first keeps elapsed * rate from
     * overflowing after a long idle period. */
    if (elapsed >= time_for(missing, cwnd, srtt))
        return p->burst;
    uint64_t gained = elapsed * KNIT_PACER_N_NUM * cwnd /
                      (KNIT_PACER_N_DEN * srtt);
    return p->tokens + gained;
}

uint64_t knit_pacer_next_send_time(const struct knit_pacer *p, uint64_t now,
                                   uint64_t cwnd, uint64_t srtt, size_t bytes)
{
    if (cwnd == 0 || srtt == 0)
        return now;
    clamp_rate(&cwnd, &srtt);
    uint64_t need = bytes < p->burst ? bytes : p->burst;
    uint64_t have = tokens_at(p, now, cwnd, srtt);
    if (have >= need)
        return now;
    /* Counted from last, the one time tokens was exact, this is the first
     * microsecond at which tokens_at() reaches need; counting the deficit
     * from now would add the credit truncated there. */
    uint64_t t = p->last + time_for(need - p->tokens, cwnd, srtt);
    return t > now ? t : now;
}

void knit_pacer_on_sent(struct knit_pacer *p, uint64_t now, uint64_t cwnd,
                        uint64_t srtt, size_t bytes)
{
    uint64_t have = p->burst;
    if (cwnd != 0 && srtt != 0) {
        clamp_rate(&cwnd, &srtt);
        have = tokens_at(p, now, cwnd, srtt);
    }
    p->tokens = have > bytes ? have - bytes : 0;
    if (now > p->last)
        p->last = now;
}
