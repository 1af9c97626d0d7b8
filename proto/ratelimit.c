#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "transport/error.h"

struct knit_ratelimit_table {
    uint8_t key[16];
    uint64_t interval;
    uint64_t tolerance;
    uint32_t mask;                          /* slots - 1 */
    struct knit_ratelimit_slot slots[];
};

#define USEC_PER_SEC UINT64_C(1000000)

/* GCRA parameters: the µs one handshake costs, and how far ahead of now
 * a bucket's full time may run (burst - 1 handshakes). */
static void rates(uint32_t per_second, uint32_t burst, uint64_t *interval,
                  uint64_t *tolerance)
{
    if (per_second == 0)
        per_second = KNIT_RATELIMIT_DEFAULT_RATE;
    if (burst == 0)
        burst = KNIT_RATELIMIT_DEFAULT_BURST;
    *interval = USEC_PER_SEC / per_second;
    if (*interval == 0)
        *interval = 1;
    *tolerance = (uint64_t)(burst - 1) * *interval;
}

void knit_ratelimit_init(struct knit_ratelimit *rl, const uint8_t key[16],
                         uint32_t per_second, uint32_t burst)
{
    memset(rl, 0, sizeof *rl);
    memcpy(rl->key, key, sizeof rl->key);
    rates(per_second, burst, &rl->interval, &rl->tolerance);
}

int knit_ratelimit_table_new(struct knit_ratelimit_table **out,
                             uint32_t slots, const uint8_t key[16],
                             uint32_t per_second, uint32_t burst)
{
    if (!out || !key || slots > KNIT_RATELIMIT_MAX_SLOTS)
        return KNIT_E_INVAL;
    uint32_t n = slots ? KNIT_RATELIMIT_PROBES : KNIT_RATELIMIT_SLOTS;
    while (n < slots)
        n *= 2;
    struct knit_ratelimit_table *t =
        calloc(1, sizeof *t + (size_t)n * sizeof t->slots[0]);
    if (!t)
        return KNIT_E_NOMEM;
    memcpy(t->key, key, sizeof t->key);
    rates(per_second, burst, &t->interval, &t->tolerance);
    t->mask = n - 1;
    *out = t;
    return KNIT_OK;
}

void knit_ratelimit_table_free(struct knit_ratelimit_table *t)
{
    free(t);
}

size_t knit_ratelimit_table_memory(const struct knit_ratelimit_table *t)
{
    return t ? sizeof *t + ((size_t)t->mask + 1) * sizeof t->slots[0] : 0;
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
static struct knit_ratelimit_slot *find_slot(struct knit_ratelimit_slot *slots,
                                             uint32_t mask, uint64_t tag,
                                             uint64_t now)
{
    struct knit_ratelimit_slot *victim = NULL;
    uint64_t victim_at = UINT64_MAX;
    for (unsigned i = 0; i < KNIT_RATELIMIT_PROBES; i++) {
        struct knit_ratelimit_slot *s = &slots[(tag + i) & mask];
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

static bool allow(const uint8_t key16[16], uint64_t interval,
                  uint64_t tolerance, struct knit_ratelimit_slot *slots,
                  uint32_t mask, const struct knit_addr *src, uint64_t now)
{
    uint8_t key[9];
    size_t len = src ? source_key(src, key) : 0;
    if (len == 0)
        return false;
    uint64_t tag;
    uint8_t hash[crypto_shorthash_BYTES];
    crypto_shorthash(hash, key, len, key16);
    memcpy(&tag, hash, sizeof tag);
    if (tag == 0)
        tag = 1;

    /* GCRA: a bucket that is full at full_at has room now unless full_at
     * lies more than tolerance (burst - 1 handshakes) ahead. */
    struct knit_ratelimit_slot *s = find_slot(slots, mask, tag, now);
    uint64_t start = s->full_at > now ? s->full_at : now;
    if (start - now > tolerance)
        return false;
    s->full_at = start + interval;
    return true;
}

bool knit_ratelimit_allow(struct knit_ratelimit *rl,
                          const struct knit_addr *src, uint64_t now)
{
    return allow(rl->key, rl->interval, rl->tolerance, rl->slots,
                 KNIT_RATELIMIT_SLOTS - 1, src, now);
}

bool knit_ratelimit_table_allow(struct knit_ratelimit_table *t,
                                const struct knit_addr *src, uint64_t now)
{
    return allow(t->key, t->interval, t->tolerance, t->slots, t->mask, src,
                 now);
}
