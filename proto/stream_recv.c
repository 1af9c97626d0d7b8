/* The receive half of a stream. Every byte the peer may send lies in
 * [read, read + window), so block n can live in slot n % nslots without two
 * live blocks sharing a slot once nslots covers the window; a bitmap per
 * block says which bytes arrived. The slot table starts small and doubles
 * (up to that size) only when two live blocks would share a slot: most
 * streams carry a few KiB, and a table sized for a 4 MiB window costs 8 KiB
 * per stream, which thousands of simulated nodes cannot afford. */
#include <stdlib.h>
#include <string.h>

#include "proto/stream_recv.h"
#include "transport/error.h"

#define WORDS (KNIT_STREAM_BLOCK / 64)

/* The first slot table; it grows as blocks need it. */
#define INITIAL_SLOTS 4

struct knit_stream_recv_block {
    uint64_t n;                      /* which block of the stream */
    uint8_t data[KNIT_STREAM_BLOCK];
    uint64_t have[WORDS];
};

/* Bits lo..hi-1 of a word, 0 <= lo < hi <= 64. */
static uint64_t word_mask(size_t lo, size_t hi)
{
    uint64_t upper = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;
    return upper & ~((UINT64_C(1) << lo) - 1);
}

/* The slot table that no two blocks of a window can share. */
static size_t max_slots(size_t window)
{
    return window / KNIT_STREAM_BLOCK + 2;
}

/* Block n's slot, whoever holds it. */
static struct knit_stream_recv_block **slot_of(const struct knit_stream_recv *r,
                                               uint64_t n)
{
    return &r->slots[n % r->nslots];
}

/* The block holding offset off, or NULL if none was allocated. */
static struct knit_stream_recv_block *block_at(const struct knit_stream_recv *r,
                                               uint64_t off)
{
    uint64_t n = off / KNIT_STREAM_BLOCK;
    struct knit_stream_recv_block *b = *slot_of(r, n);
    return b && b->n == n ? b : NULL;
}

static void free_block(struct knit_stream_recv *r, uint64_t n)
{
    struct knit_stream_recv_block **b = slot_of(r, n);
    if (*b && (*b)->n == n) {
        free(*b);
        *b = NULL;
        r->nblocks--;
    }
}

/* A bigger table in which the live blocks and block n all have slots of
 * their own. At max_slots() they always do: live blocks lie within the
 * window. */
static int grow(struct knit_stream_recv *r, uint64_t n)
{
    size_t max = max_slots(r->window);
    for (size_t cap = r->nslots * 2;; cap *= 2) {
        if (cap > max)
            cap = max;
        struct knit_stream_recv_block **slots = calloc(cap, sizeof *slots);
        if (!slots)
            return KNIT_E_NOMEM;
        bool clash = false;
        for (size_t i = 0; i < r->nslots && !clash; i++) {
            struct knit_stream_recv_block *b = r->slots[i];
            if (!b)
                continue;
            if (slots[b->n % cap] || b->n % cap == n % cap)
                clash = true;
            else
                slots[b->n % cap] = b;
        }
        if (!clash) {
            free(r->slots);
            r->slots = slots;
            r->nslots = cap;
            return KNIT_OK;
        }
        free(slots);
        if (cap == max)
            return KNIT_E_FLOW_CONTROL;   /* outside the window: cannot be */
    }
}

int knit_stream_recv_init(struct knit_stream_recv *r, size_t window)
{
    memset(r, 0, sizeof *r);
    if (window == 0)
        return KNIT_E_INVAL;
    if (window > KNIT_STREAM_RECV_MAX_WINDOW)
        return KNIT_E_TOO_BIG;
    /* [read, read + window) touches at most max_slots() blocks; the table
     * grows to that only if the data needs it. */
    size_t nslots = max_slots(window);
    if (nslots > INITIAL_SLOTS)
        nslots = INITIAL_SLOTS;
    r->slots = calloc(nslots, sizeof *r->slots);
    if (!r->slots)
        return KNIT_E_NOMEM;
    r->nslots = nslots;
    r->window = window;
    r->limit = window;
    return KNIT_OK;
}

static void drop_blocks(struct knit_stream_recv *r)
{
    for (size_t i = 0; i < r->nslots; i++) {
        free(r->slots[i]);
        r->slots[i] = NULL;
    }
    r->nblocks = 0;
}

void knit_stream_recv_free(struct knit_stream_recv *r)
{
    drop_blocks(r);
    free(r->slots);
    memset(r, 0, sizeof *r);
}

/* The final-size and flow-control rules for a frame or reset ending at end;
 * fin says end is the final size. */
static int check_end(const struct knit_stream_recv *r, uint64_t end, bool fin)
{
    if (fin) {
        if (r->fin_known && end != r->final_size)
            return KNIT_E_FINAL_SIZE;
        if (end < r->highest)
            return KNIT_E_FINAL_SIZE;
    } else if (r->fin_known && end > r->final_size) {
        return KNIT_E_FINAL_SIZE;
    }
    if (end > r->limit)
        return KNIT_E_FLOW_CONTROL;
    return KNIT_OK;
}

/* Allocates every block [from, to) touches, so that storing cannot fail
 * half-way; blocks already there are kept. */
static int reserve(struct knit_stream_recv *r, uint64_t from, uint64_t to)
{
    for (uint64_t n = from / KNIT_STREAM_BLOCK;
         n <= (to - 1) / KNIT_STREAM_BLOCK; n++) {
        struct knit_stream_recv_block **b = slot_of(r, n);
        if (*b && (*b)->n == n)
            continue;
        if (*b) {
            int err = grow(r, n);
            if (err)
                return err;
            b = slot_of(r, n);
        }
        *b = calloc(1, sizeof **b);
        if (!*b)
            return KNIT_E_NOMEM;
        (*b)->n = n;
        r->nblocks++;
    }
    return KNIT_OK;
}

static void store(struct knit_stream_recv *r, uint64_t from, uint64_t to,
                  const uint8_t *data)
{
    while (from < to) {
        struct knit_stream_recv_block *b = block_at(r, from);
        size_t bit = (size_t)(from % KNIT_STREAM_BLOCK);
        size_t end = KNIT_STREAM_BLOCK;
        if (to - from < (uint64_t)(end - bit))
            end = bit + (size_t)(to - from);
        memcpy(b->data + bit, data, end - bit);
        data += end - bit;
        for (size_t i = bit; i < end;) {
            size_t w = i / 64;
            size_t hi = end - w * 64 < 64 ? end - w * 64 : 64;
            b->have[w] |= word_mask(i % 64, hi);
            i = w * 64 + hi;
        }
        from += end - bit;
    }
}

int knit_stream_recv_on_data(struct knit_stream_recv *r, uint64_t offset,
                             const uint8_t *data, size_t len, bool fin,
                             uint64_t *new_bytes)
{
    *new_bytes = 0;
    if (!r->slots || (len > 0 && !data))
        return KNIT_E_INVAL;
    if (len > UINT64_MAX - offset)
        return KNIT_E_FLOW_CONTROL;
    uint64_t end = offset + len;
    int err = check_end(r, end, fin);
    if (err)
        return err;
    /* Bytes already read are not kept again. */
    uint64_t from = offset > r->read ? offset : r->read;
    bool keep = !r->reset && from < end;
    if (keep) {
        err = reserve(r, from, end);
        if (err)
            return err;
    }
    if (fin) {
        r->fin_known = true;
        r->final_size = end;
    }
    if (end > r->highest) {
        *new_bytes = end - r->highest;
        r->highest = end;
    }
    if (keep)
        store(r, from, end, data + (from - offset));
    return KNIT_OK;
}

int knit_stream_recv_on_reset(struct knit_stream_recv *r, uint64_t final_size)
{
    if (!r->slots)
        return KNIT_E_INVAL;
    int err = check_end(r, final_size, true);
    if (err)
        return err;
    r->fin_known = true;
    r->final_size = final_size;
    r->highest = final_size;
    r->reset = true;
    drop_blocks(r);
    return KNIT_OK;
}

/* Length of the run of received bytes from bit, at most max, in one block. */
static size_t have_run(const struct knit_stream_recv_block *b, size_t bit,
                       size_t max)
{
    size_t end = max < KNIT_STREAM_BLOCK - bit ? bit + max : KNIT_STREAM_BLOCK;
    for (size_t i = bit; i < end; i = (i / 64 + 1) * 64) {
        uint64_t x = ~b->have[i / 64] & word_mask(i % 64, 64);
        if (x) {
            size_t stop = (i / 64) * 64 + (size_t)__builtin_ctzll(x);
            return (stop < end ? stop : end) - bit;
        }
    }
    return end - bit;
}

size_t knit_stream_recv_read(struct knit_stream_recv *r, uint8_t *out,
                             size_t cap)
{
    if (r->reset || !r->slots || !out)
        return 0;
    size_t done = 0;
    while (done < cap && r->read < r->highest) {
        struct knit_stream_recv_block *b = block_at(r, r->read);
        if (!b)
            break;
        size_t bit = (size_t)(r->read % KNIT_STREAM_BLOCK);
        size_t n = have_run(b, bit, cap - done);
        if (n == 0)
            break;
        memcpy(out + done, b->data + bit, n);
        done += n;
        r->read += n;
        /* Read past the block's end: nothing more can land in it. */
        if (r->read % KNIT_STREAM_BLOCK == 0)
            free_block(r, b->n);
    }
    /* All caught up: the block under read holds nothing unread, so an idle
     * stream keeps no memory; the next frame allocates a fresh block. */
    if (done > 0 && r->read == r->highest)
        free_block(r, r->read / KNIT_STREAM_BLOCK);
    return done;
}

bool knit_stream_recv_is_readable(const struct knit_stream_recv *r)
{
    if (r->reset || !r->slots || r->read >= r->highest)
        return false;
    const struct knit_stream_recv_block *b = block_at(r, r->read);
    size_t bit = (size_t)(r->read % KNIT_STREAM_BLOCK);
    return b && ((b->have[bit / 64] >> (bit % 64)) & 1);
}

bool knit_stream_recv_at_end(const struct knit_stream_recv *r)
{
    return r->fin_known && !r->reset && r->read == r->final_size;
}

bool knit_stream_recv_is_reset(const struct knit_stream_recv *r)
{
    return r->reset;
}

bool knit_stream_recv_should_update_window(const struct knit_stream_recv *r,
                                           uint64_t *new_limit)
{
    *new_limit = r->limit;
    if (!r->slots || r->fin_known)
        return false;
    uint64_t next = r->read + r->window;
    if (next <= r->limit || next - r->limit < (r->window + 1) / 2)
        return false;
    *new_limit = next;
    return true;
}

void knit_stream_recv_window_sent(struct knit_stream_recv *r, uint64_t limit)
{
    /* Beyond read + window a byte could land in a slot still in use. */
    if (limit > r->read + r->window)
        limit = r->read + r->window;
    if (limit > r->limit)
        r->limit = limit;
}

uint64_t knit_stream_recv_limit(const struct knit_stream_recv *r)
{
    return r->limit;
}

uint64_t knit_stream_recv_highest_offset(const struct knit_stream_recv *r)
{
    return r->highest;
}

uint64_t knit_stream_recv_read_offset(const struct knit_stream_recv *r)
{
    return r->read;
}

size_t knit_stream_recv_memory(const struct knit_stream_recv *r)
{
    return r->nblocks * sizeof(struct knit_stream_recv_block);
}
