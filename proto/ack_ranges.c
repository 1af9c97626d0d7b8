#include "ack_ranges.h"

#include <stdlib.h>
#include <string.h>

#include "proto/varint.h"
#include "transport/error.h"

void knit_ack_ranges_init(struct knit_ack_ranges *a)
{
    memset(a, 0, sizeof *a);
}

void knit_ack_ranges_free(struct knit_ack_ranges *a)
{
    free(a->many);
    knit_ack_ranges_init(a);
}

static struct knit_ack_range *ranges(struct knit_ack_ranges *a)
{
    return a->many ? a->many : a->few;
}

const struct knit_ack_range *
knit_ack_ranges_get(const struct knit_ack_ranges *a)
{
    return a->many ? a->many : a->few;
}

/* Moves the ranges to the heap when the few are full and one more is
 * needed; returns how many fit now: all once on the heap, else the few
 * (also when that allocation failed). */
static uint32_t make_room(struct knit_ack_ranges *a)
{
    if (!a->many && a->count == KNIT_ACK_FEW_RANGES) {
        a->many = malloc(KNIT_ACK_MAX_RANGES * sizeof *a->many);
        if (a->many)
            memcpy(a->many, a->few, sizeof a->few);
    }
    return a->many ? KNIT_ACK_MAX_RANGES : KNIT_ACK_FEW_RANGES;
}

static void remove_at(struct knit_ack_ranges *a, uint32_t i)
{
    struct knit_ack_range *r = ranges(a);
    memmove(&r[i], &r[i + 1], (a->count - i - 1) * sizeof r[0]);
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
    struct knit_ack_range *r = ranges(a);
    /* Packets mostly arrive in order, so searching from the top usually
     * stops at once. */
    uint32_t i = 0;
    while (i < a->count && r[i].lo > pn)
        i++;
    if (i < a->count && pn <= r[i].hi)
        return 0;
    /* pn lies strictly between r[i - 1] (above) and r[i] (below). */
    bool joins_above = i > 0 && pn + 1 == r[i - 1].lo;
    bool joins_below = i < a->count && r[i].hi + 1 == pn;
    if (joins_above && joins_below) {
        r[i - 1].lo = r[i].lo;
        remove_at(a, i);
    } else if (joins_above) {
        r[i - 1].lo = pn;
    } else if (joins_below) {
        r[i].hi = pn;
    } else {
        uint32_t cap = make_room(a);
        r = ranges(a);   /* moved to the heap by make_room() */
        if (a->count == cap) {
            if (i == a->count) {
                a->floor = pn + 1;
                return 0;
            }
            a->floor = r[a->count - 1].hi + 1;
            a->count--;
        }
        memmove(&r[i + 1], &r[i], (a->count - i) * sizeof r[0]);
        r[i].lo = pn;
        r[i].hi = pn;
        a->count++;
    }
    return 1;
}

bool knit_ack_ranges_contains(const struct knit_ack_ranges *a, uint64_t pn)
{
    if (pn < a->floor)
        return true;
    const struct knit_ack_range *r = knit_ack_ranges_get(a);
    for (uint32_t i = 0; i < a->count && r[i].hi >= pn; i++) {
        if (r[i].lo <= pn)
            return true;
    }
    return false;
}

void knit_ack_ranges_remove_below(struct knit_ack_ranges *a, uint64_t pn)
{
    struct knit_ack_range *r = ranges(a);
    while (a->count > 0 && r[a->count - 1].hi < pn)
        a->count--;
    if (a->count > 0 && r[a->count - 1].lo < pn)
        r[a->count - 1].lo = pn;
    if (pn > a->floor)
        a->floor = pn;
}

uint64_t knit_ack_ranges_largest(const struct knit_ack_ranges *a)
{
    return a->count > 0 ? knit_ack_ranges_get(a)[0].hi : 0;
}

void knit_ack_ranges_to_frame(const struct knit_ack_ranges *a,
                              uint64_t ack_delay_us, struct knit_frame *out)
{
    out->type = KNIT_FRAME_ACK;
    out->u.ack.ack_delay_us = ack_delay_us;
    out->u.ack.count = a->count;
    memcpy(out->u.ack.ranges, knit_ack_ranges_get(a),
           a->count * sizeof out->u.ack.ranges[0]);
}
