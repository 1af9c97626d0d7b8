#include "ack_ranges.h"

#include <string.h>

#include "proto/varint.h"
#include "transport/error.h"

void knit_ack_ranges_init(struct knit_ack_ranges *a)
{
    memset(a, 0, sizeof *a);
}

static void remove_at(struct knit_ack_ranges *a, uint32_t i)
{
    memmove(&a->r[i], &a->r[i + 1], (a->count - i - 1) * sizeof a->r[0]);
    a->count--;
}

int knit_ack_ranges_add(struct knit_ack_ranges *a, uint64_t pn)
{
    if (!a)
        return KNIT_E_INVAL;
    if (pn > KNIT_VARINT_MAX)
        return KNIT_E_TOO_BIG;
    if (pn < a->floor)
        return 0;
    /* Packets mostly arrive in order, so searching from the top usually
     * stops at once. */
    uint32_t i = 0;
    while (i < a->count && a->r[i].lo > pn)
        i++;
    if (i < a->count && pn <= a->r[i].hi)
        return 0;
    /* pn lies strictly between r[i - 1] (above) and r[i] (below). */
    bool joins_above = i > 0 && pn + 1 == a->r[i - 1].lo;
    bool joins_below = i < a->count && a->r[i].hi + 1 == pn;
    if (joins_above && joins_below) {
        a->r[i - 1].lo = a->r[i].lo;
        remove_at(a, i);
    } else if (joins_above) {
        a->r[i - 1].lo = pn;
    } else if (joins_below) {
        a->r[i].hi = pn;
    } else {
        if (a->count == KNIT_ACK_MAX_RANGES) {
            if (i == a->count) {
                a->floor = pn + 1;
                return 0;
            }
            a->floor = a->r[a->count - 1].hi + 1;
            a->count--;
        }
        memmove(&a->r[i + 1], &a->r[i], (a->count - i) * sizeof a->r[0]);
        a->r[i].lo = pn;
        a->r[i].hi = pn;
        a->count++;
    }
    return 1;
}

bool knit_ack_ranges_contains(const struct knit_ack_ranges *a, uint64_t pn)
{
    if (pn < a->floor)
        return true;
    for (uint32_t i = 0; i < a->count && a->r[i].hi >= pn; i++) {
        if (a->r[i].lo <= pn)
            return true;
    }
    return false;
}

void knit_ack_ranges_remove_below(struct knit_ack_ranges *a, uint64_t pn)
{
    while (a->count > 0 && a->r[a->count - 1].hi < pn)
        a->count--;
    if (a->count > 0 && a->r[a->count - 1].lo < pn)
        a->r[a->count - 1].lo = pn;
    if (pn > a->floor)
        a->floor = pn;
}

uint64_t knit_ack_ranges_largest(const struct knit_ack_ranges *a)
{
    return a->count > 0 ? a->r[0].hi : 0;
}

void knit_ack_ranges_to_frame(const struct knit_ack_ranges *a,
                              uint64_t ack_delay_us, struct knit_frame *out)
{
    out->type = KNIT_FRAME_ACK;
    out->u.ack.ack_delay_us = ack_delay_us;
    out->u.ack.count = a->count;
    memcpy(out->u.ack.ranges, a->r, a->count * sizeof a->r[0]);
}
