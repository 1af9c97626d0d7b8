#include "replay.h"

#include <string.h>

void knit_replay_init(struct knit_replay *r)
{
    memset(r, 0, sizeof *r);
}

static bool seen(const struct knit_replay *r, uint64_t counter)
{
    uint64_t bit = counter % KNIT_REPLAY_WINDOW;
    return (r->bits[bit / 64] >> (bit % 64)) & 1;
}

bool knit_replay_check(const struct knit_replay *r, uint64_t counter)
{
    if (!r->any || counter > r->top)
        return true;
    if (r->top - counter >= KNIT_REPLAY_WINDOW)
        return false;
    return !seen(r, counter);
}

/* Clears the bits of counters from .. from + count - 1 (count < WINDOW):
 * their slots still hold counters one lap older. Whole words are cleared at
 * once, so even the longest jump costs one pass over the bitmap. */
static void clear_range(struct knit_replay *r, uint64_t from, uint64_t count)
{
    uint64_t bit = from % KNIT_REPLAY_WINDOW;
    while (count > 0) {
        uint64_t word = bit / 64, offset = bit % 64;
        uint64_t n = 64 - offset;
        if (n > count)
            n = count;
        uint64_t mask = n == 64 ? UINT64_MAX : ((UINT64_C(1) << n) - 1) << offset;
        r->bits[word] &= ~mask;
        count -= n;
        bit = (bit + n) % KNIT_REPLAY_WINDOW;
    }
}

void knit_replay_commit(struct knit_replay *r, uint64_t counter)
{
    if (!knit_replay_check(r, counter))
        return;
    if (!r->any) {
        memset(r->bits, 0, sizeof r->bits);
        r->top = counter;
        r->any = true;
    } else if (counter > r->top) {
        uint64_t jump = counter - r->top;
        if (jump >= KNIT_REPLAY_WINDOW)
            memset(r->bits, 0, sizeof r->bits);
        else
            clear_range(r, r->top + 1, jump);
        r->top = counter;
    }
    uint64_t bit = counter % KNIT_REPLAY_WINDOW;
    r->bits[bit / 64] |= UINT64_C(1) << (bit % 64);
}
