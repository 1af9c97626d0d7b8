#include "ratelimit.h"

#include <string.h>

#include <sodium.h>

#define USEC_PER_SEC UINT64_C(1000000)

void knit_ratelimit_init(struct knit_ratelimit *rl, const uint8_t key[16],
                         uint32_t per_second, uint32_t burst)
{
    memset(rl, 0, sizeof *rl);
    memcpy(rl->key, key, sizeof rl->key);
    if (per_second == 0)
        per_second = KNIT_RATELIMIT_DEFAULT_RATE;
    if (burst == 0)
        burst = KNIT_RATELIMIT_DEFAULT_BURST;
    rl->interval = USEC_PER_SEC / per_second;
    if (rl->interval == 0)
        rl->interval = 1;
    rl->tolerance = (uint64_t)(burst - 1) * rl->interval;
}

/* What identifies a source: the IPv4 address, or the /64 of an IPv6 one.
 * An IPv4-mapped IPv6 address is the IPv4 address it carries. */
static size_t source_key(const struct knit_addr *src, uint8_t out[9])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (src->family == KNIT_AF_IP4) {
        out[0] = KNIT_AF_IP4;
        memcpy(out + 1, src->ip, 4);
        return 5;
    }
    if (src->family == KNIT_AF_IP6) {
        if (memcmp(src->ip, mapped, sizeof mapped) == 0) {
            out[0] = KNIT_AF_IP4;
            memcpy(out + 1, src->ip + 12, 4);
            return 5;
        }
        out[0] = KNIT_AF_IP6;
        memcpy(out + 1, src->ip, 8);
        return 9;
    }
    return 0;
}

/* The slot for tag: its own, else one to take over. The victim is the
 * probed slot that is full soonest: an empty or already full bucket (a new
 * one is full too, so nothing is lost), else the one whose owner loses the
 * least, which keeps the heavy senders, the ones worth limiting. */
static struct knit_ratelimit_slot *find_slot(struct knit_ratelimit *rl,
                                             uint64_t tag, uint64_t now)
{
    struct knit_ratelimit_slot *victim = NULL;
    uint64_t victim_at = UINT64_MAX;
    for (unsigned i = 0; i < KNIT_RATELIMIT_PROBES; i++) {
        struct knit_ratelimit_slot *s =
            &rl->slots[(tag + i) & (KNIT_RATELIMIT_SLOTS - 1)];
        if (s->tag == tag)
            return s;
        uint64_t at = s->tag == 0 ? 0 : s->full_at;
        if (!victim || at < victim_at) {
            victim = s;
            victim_at = at;
        }
    }
    victim->tag = tag;
    victim->full_at = now;
    return victim;
}

bool knit_ratelimit_allow(struct knit_ratelimit *rl,
                          const struct knit_addr *src, uint64_t now)
{
    uint8_t key[9];
    size_t len = src ? source_key(src, key) : 0;
    if (len == 0)
        return false;
    uint64_t tag;
    uint8_t hash[crypto_shorthash_BYTES];
    crypto_shorthash(hash, key, len, rl->key);
    memcpy(&tag, hash, sizeof tag);
    if (tag == 0)
        tag = 1;

    /* GCRA: a bucket that is full at full_at has room now unless full_at
     * lies more than tolerance (burst - 1 handshakes) ahead. */
    struct knit_ratelimit_slot *s = find_slot(rl, tag, now);
    uint64_t start = s->full_at > now ? s->full_at : now;
    if (start - now > rl->tolerance)
        return false;
    s->full_at = start + rl->interval;
    return true;
}
