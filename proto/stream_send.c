/* The send half of a stream. Per-byte state is kept in two bitmaps beside
 * each block's bytes, so no ack or loss pattern can make the bookkeeping
 * grow or fail: whatever the peer acknowledges, memory is the blocks. */
#include <stdlib.h>
#include <string.h>

#include "proto/stream_send.h"
#include "transport/error.h"

#define WORDS (KNIT_STREAM_BLOCK / 64)

/* The first slot table. Live blocks are the contiguous run from base to
 * written, so a table as long as that run never has two of them share a
 * slot; it doubles (up to what the capacity can need) when the run
 * outgrows it. A table sized for the capacity up front costs 2 KiB per
 * stream for 1 MiB, mostly for streams that carry one small message. */
#define INITIAL_SLOTS 4

struct knit_stream_send_block {
    uint8_t data[KNIT_STREAM_BLOCK];
    uint64_t acked[WORDS];
    uint64_t lost[WORDS];
};

/* Bits lo..hi-1 of a word, 0 <= lo < hi <= 64. */
static uint64_t word_mask(size_t lo, size_t hi)
{
    uint64_t upper = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;
    return upper & ~((UINT64_C(1) << lo) - 1);
}

static struct knit_stream_send_block **slot(const struct knit_stream_send *s,
                                            uint64_t off)
{
    return &s->slots[(off / KNIT_STREAM_BLOCK) % s->nslots];
}

static struct knit_stream_send_block *block_at(const struct knit_stream_send *s,
                                               uint64_t off)
{
    return *slot(s, off);
}

static size_t max_slots(size_t capacity)
{
    return capacity / KNIT_STREAM_BLOCK + 2;
}

/* Doubles the slot table (up to max_slots()), moving every live block,
 * the run [base, written), to the slot of its number. */
static int grow(struct knit_stream_send *s)
{
    size_t cap = s->nslots * 2;
    if (cap > max_slots(s->capacity))
        cap = max_slots(s->capacity);
    if (cap <= s->nslots)
        return KNIT_E_NO_SPACE;   /* cannot be: the run fits the maximum */
    struct knit_stream_send_block **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return KNIT_E_NOMEM;
    if (s->base < s->written)
        for (uint64_t n = s->base / KNIT_STREAM_BLOCK;
             n <= (s->written - 1) / KNIT_STREAM_BLOCK; n++)
            slots[n % cap] = s->slots[n % s->nslots];
    free(s->slots);
    s->slots = slots;
    s->nslots = cap;
    return KNIT_OK;
}

int knit_stream_send_init(struct knit_stream_send *s, size_t capacity)
{
    memset(s, 0, sizeof *s);
    if (capacity == 0)
        return KNIT_E_INVAL;
    if (capacity > KNIT_STREAM_SEND_MAX_CAPACITY)
        return KNIT_E_TOO_BIG;
    /* Live bytes [base, written) span at most this many blocks. */
    size_t nslots = max_slots(capacity);
    if (nslots > INITIAL_SLOTS)
        nslots = INITIAL_SLOTS;
    s->slots = calloc(nslots, sizeof *s->slots);
    if (!s->slots)
        return KNIT_E_NOMEM;
    s->nslots = nslots;
    s->capacity = capacity;
    return KNIT_OK;
}

void knit_stream_send_free(struct knit_stream_send *s)
{
    for (size_t i = 0; i < s->nslots; i++)
        free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

size_t knit_stream_send_space(const struct knit_stream_send *s)
{
    if (s->fin || !s->slots)
        return 0;
    size_t space = s->capacity - (size_t)(s->written - s->base);
    if (space > KNIT_STREAM_MAX_OFFSET - s->written)
        space = (size_t)(KNIT_STREAM_MAX_OFFSET - s->written);
    return space;
}

size_t knit_stream_send_write(struct knit_stream_send *s, const uint8_t *data,
                              size_t len)
{
    size_t space = knit_stream_send_space(s);
    if (len > space)
        len = space;
    if (!data)
        return 0;
    size_t done = 0;
    while (done < len) {
        struct knit_stream_send_block **b = slot(s, s->written);
        /* At a block boundary the block is new, so whatever holds its
         * slot is an older live one: the run outgrew the table. (Inside a
         * block, the slot's holder is the block itself: it holds the byte
         * before written, unacknowledged or all was freed.) */
        if (*b && s->written % KNIT_STREAM_BLOCK == 0) {
            if (grow(s) != KNIT_OK)
                break;
            b = slot(s, s->written);
        }
        if (!*b) {
            *b = calloc(1, sizeof **b);
            if (!*b)
                break;
            s->nblocks++;
        }
        size_t at = (size_t)(s->written % KNIT_STREAM_BLOCK);
        size_t n = KNIT_STREAM_BLOCK - at;
        if (n > len - done)
            n = len - done;
        memcpy((*b)->data + at, data + done, n);
        done += n;
        s->written += n;
    }
    return done;
}

int knit_stream_send_finish(struct knit_stream_send *s)
{
    s->fin = true;
    return KNIT_OK;
}

static bool fin_due(const struct knit_stream_send *s)
{
    return s->fin && !s->fin_acked && s->sent == s->written &&
           (!s->fin_sent || s->fin_lost);
}

bool knit_stream_send_has_data(const struct knit_stream_send *s,
                               uint64_t flow_limit)
{
    return s->lost_bytes > 0 ||
           (s->sent < s->written && s->sent < flow_limit) || fin_due(s);
}

/* The first byte due for retransmission; the caller knows there is one. */
static uint64_t first_lost(struct knit_stream_send *s)
{
    uint64_t off = s->lost_from > s->base ? s->lost_from : s->base;
    while (off < s->sent) {
        const struct knit_stream_send_block *b = block_at(s, off);
        size_t bit = (size_t)(off % KNIT_STREAM_BLOCK);
        for (size_t w = bit / 64; w < WORDS; w++) {
            uint64_t x = b->lost[w] & word_mask(w == bit / 64 ? bit % 64 : 0,
                                                64);
            if (x) {
                off += w * 64 + (size_t)__builtin_ctzll(x) - bit;
                s->lost_from = off;
                return off;
            }
        }
        off += KNIT_STREAM_BLOCK - bit;
    }
    return s->sent;   /* lost_bytes disagrees with the bitmaps: cannot be */
}

/* Length of the run of lost bytes from off, at most max, within off's block. */
static size_t lost_run(const struct knit_stream_send_block *b, size_t bit,
                       size_t max)
{
    size_t end = max < KNIT_STREAM_BLOCK - bit ? bit + max : KNIT_STREAM_BLOCK;
    size_t i = bit;
    while (i < end) {
        uint64_t x = ~b->lost[i / 64] & word_mask(i % 64, 64);
        if (x) {
            size_t stop = (i / 64) * 64 + (size_t)__builtin_ctzll(x);
            return (stop < end ? stop : end) - bit;
        }
        i = (i / 64 + 1) * 64;
    }
    return end - bit;
}

/* Applies fn to every word of the bitmaps covering [from, to), which lies
 * within allocated blocks. */
typedef void (*word_fn)(struct knit_stream_send *s,
                        struct knit_stream_send_block *b, size_t w,
                        uint64_t mask);

static void for_words(struct knit_stream_send *s, uint64_t from, uint64_t to,
                      word_fn fn)
{
    while (from < to) {
        struct knit_stream_send_block *b = block_at(s, from);
        size_t bit = (size_t)(from % KNIT_STREAM_BLOCK);
        size_t end = KNIT_STREAM_BLOCK;
        if (to - from < (uint64_t)(end - bit))
            end = bit + (size_t)(to - from);
        while (bit < end) {
            size_t w = bit / 64;
            size_t hi = end - w * 64 < 64 ? end - w * 64 : 64;
            fn(s, b, w, word_mask(bit % 64, hi));
            bit = w * 64 + hi;
        }
        from = from - from % KNIT_STREAM_BLOCK + end;
    }
}

static void clear_lost(struct knit_stream_send *s,
                       struct knit_stream_send_block *b, size_t w,
                       uint64_t mask)
{
    s->lost_bytes -= (uint64_t)__builtin_popcountll(b->lost[w] & mask);
    b->lost[w] &= ~mask;
}

static void mark_acked(struct knit_stream_send *s,
                       struct knit_stream_send_block *b, size_t w,
                       uint64_t mask)
{
    clear_lost(s, b, w, mask);
    b->acked[w] |= mask;
}

static void mark_lost(struct knit_stream_send *s,
                      struct knit_stream_send_block *b, size_t w,
                      uint64_t mask)
{
    uint64_t fresh = mask & ~b->acked[w] & ~b->lost[w];
    s->lost_bytes += (uint64_t)__builtin_popcountll(fresh);
    b->lost[w] |= fresh;
}

/* A chunk of at most max bytes from off (all written), crossing at most one
 * block boundary: two pieces. */
static size_t pieces(const struct knit_stream_send *s, uint64_t off,
                     size_t max, const uint8_t **p1, size_t *len1,
                     const uint8_t **p2, size_t *len2)
{
    size_t at = (size_t)(off % KNIT_STREAM_BLOCK);
    size_t room = KNIT_STREAM_BLOCK - at;
    *p1 = block_at(s, off)->data + at;
    if (max <= room) {
        *len1 = max;
        return max;
    }
    *len1 = room;
    *len2 = max - room < KNIT_STREAM_BLOCK ? max - room : KNIT_STREAM_BLOCK;
    *p2 = block_at(s, off + room)->data;
    return *len1 + *len2;
}

int knit_stream_send_next(struct knit_stream_send *s, uint64_t flow_limit,
                          size_t max_len, uint64_t *offset,
                          const uint8_t **p1, size_t *len1,
                          const uint8_t **p2, size_t *len2, bool *fin)
{
    *offset = 0;
    *p1 = *p2 = NULL;
    *len1 = *len2 = 0;
    *fin = false;
    uint64_t off, end;

    if (max_len > 0 && s->lost_bytes > 0) {
        off = first_lost(s);
        if (off >= s->sent)
            return KNIT_E_NOT_FOUND;
        /* The run may continue into the next block: take both pieces' worth
         * of lost bits, block by block. */
        size_t at = (size_t)(off % KNIT_STREAM_BLOCK);
        size_t n = lost_run(block_at(s, off), at, max_len);
        if (at + n == KNIT_STREAM_BLOCK && n < max_len &&
            off + n < s->sent)
            n += lost_run(block_at(s, off + n), 0, max_len - n);
        if (n > s->sent - off)
            n = (size_t)(s->sent - off);
        pieces(s, off, n, p1, len1, p2, len2);
        end = off + n;
        for_words(s, off, end, clear_lost);
        s->lost_from = end;
    } else if (max_len > 0 && s->sent < s->written && s->sent < flow_limit) {
        off = s->sent;
        uint64_t stop = s->written < flow_limit ? s->written : flow_limit;
        size_t n = stop - off < max_len ? (size_t)(stop - off) : max_len;
        n = pieces(s, off, n, p1, len1, p2, len2);
        end = off + n;
        s->sent = end;
    } else if (fin_due(s)) {
        off = end = s->written;
    } else {
        return KNIT_E_NOT_FOUND;
    }
    *offset = off;
    if (s->fin && end == s->written) {
        *fin = true;
        s->fin_sent = true;
        s->fin_lost = false;
    }
    return KNIT_OK;
}

int knit_stream_send_next_copy(struct knit_stream_send *s, uint64_t flow_limit,
                               uint8_t *buf, size_t cap, uint64_t *offset,
                               size_t *len, bool *fin)
{
    const uint8_t *p1, *p2;
    size_t len1, len2;
    *len = 0;
    int err = knit_stream_send_next(s, flow_limit, buf ? cap : 0, offset, &p1,
                                    &len1, &p2, &len2, fin);
    if (err)
        return err;
    if (len1)
        memcpy(buf, p1, len1);
    if (len2)
        memcpy(buf + len1, p2, len2);
    *len = len1 + len2;
    return KNIT_OK;
}

/* Clips [offset, offset + len) to the bytes sent and still held. */
static bool clip(const struct knit_stream_send *s, uint64_t offset, size_t len,
                 uint64_t *from, uint64_t *to)
{
    if (offset >= s->sent)
        return false;
    *from = offset > s->base ? offset : s->base;
    *to = len > s->sent - offset ? s->sent : offset + len;
    return *from < *to;
}

/* Releases the acknowledged front, freeing each block it leaves behind. */
static void advance_base(struct knit_stream_send *s)
{
    uint64_t old = s->base;
    while (s->base < s->sent) {
        const struct knit_stream_send_block *b = block_at(s, s->base);
        size_t bit = (size_t)(s->base % KNIT_STREAM_BLOCK);
        uint64_t x = ~b->acked[bit / 64] & word_mask(bit % 64, 64);
        if (x) {
            s->base += (size_t)__builtin_ctzll(x) - bit % 64;
            break;
        }
        s->base += 64 - bit % 64;
    }
    if (s->base > s->sent)
        s->base = s->sent;
    /* With nothing left unacknowledged the block under base goes too, so an
     * idle stream holds no memory; a later write allocates a fresh one. */
    uint64_t stop = s->base / KNIT_STREAM_BLOCK + (s->base == s->written);
    for (uint64_t n = old / KNIT_STREAM_BLOCK; n < stop; n++) {
        struct knit_stream_send_block **b = &s->slots[n % s->nslots];
        if (*b) {
            free(*b);
            *b = NULL;
            s->nblocks--;
        }
    }
}

void knit_stream_send_on_acked(struct knit_stream_send *s, uint64_t offset,
                               size_t len, bool fin)
{
    if (!s->slots)
        return;
    uint64_t from, to;
    if (clip(s, offset, len, &from, &to)) {
        for_words(s, from, to, mark_acked);
        advance_base(s);
    }
    if (fin && s->fin && s->fin_sent && offset <= s->written &&
        len == s->written - offset) {
        s->fin_acked = true;
        s->fin_lost = false;
    }
}

void knit_stream_send_on_lost(struct knit_stream_send *s, uint64_t offset,
                              size_t len, bool fin)
{
    if (!s->slots)
        return;
    uint64_t from, to;
    if (clip(s, offset, len, &from, &to)) {
        for_words(s, from, to, mark_lost);
        if (from < s->lost_from)
            s->lost_from = from;
    }
    if (fin && s->fin && s->fin_sent && !s->fin_acked &&
        offset <= s->written && len == s->written - offset)
        s->fin_lost = true;
}

bool knit_stream_send_all_acked(const struct knit_stream_send *s)
{
    return s->fin && s->fin_acked && s->base == s->written;
}

uint64_t knit_stream_send_written(const struct knit_stream_send *s)
{
    return s->written;
}

uint64_t knit_stream_send_max_sent_offset(const struct knit_stream_send *s)
{
    return s->sent;
}

size_t knit_stream_send_memory(const struct knit_stream_send *s)
{
    return s->nblocks * sizeof(struct knit_stream_send_block);
}
