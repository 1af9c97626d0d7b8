#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/stream_recv.h"
#include "proto/stream_send.h"
#include "transport/error.h"

#define BLOCK KNIT_STREAM_BLOCK
/* What one block of the receive buffer may cost: bytes and a bit per byte,
 * with room for a little bookkeeping. */
#define BLOCK_COST (BLOCK + BLOCK / 4)

static uint8_t pat(uint64_t o)
{
    return (uint8_t)(o * 131 + (o >> 8) * 7 + (o >> 16));
}

/* Hands in the pattern bytes [offset, offset + len). */
static int give(struct knit_stream_recv *r, uint64_t offset, size_t len,
                bool fin, uint64_t *new_bytes)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = pat(offset + i);
    uint64_t dummy;
    int err = knit_stream_recv_on_data(r, offset, buf, len, fin,
                                       new_bytes ? new_bytes : &dummy);
    free(buf);
    return err;
}

/* Reads up to cap bytes and checks they are the pattern at the read offset. */
static size_t take(struct knit_stream_recv *r, size_t cap)
{
    uint64_t from = knit_stream_recv_read_offset(r);
    uint8_t *buf = malloc(cap ? cap : 1);
    assert_non_null(buf);
    size_t n = knit_stream_recv_read(r, buf, cap);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf[i], pat(from + i));
    free(buf);
    assert_int_equal(knit_stream_recv_read_offset(r), from + n);
    return n;
}

static void test_init_rejects(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb = 99;
    assert_int_equal(knit_stream_recv_init(&r, 0), KNIT_E_INVAL);
    assert_int_equal(knit_stream_recv_init(&r, KNIT_STREAM_RECV_MAX_WINDOW + 1u),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_stream_recv_init(&r, 1000), 0);
    assert_int_equal(knit_stream_recv_limit(&r), 1000);
    assert_int_equal(knit_stream_recv_memory(&r), 0);
    assert_false(knit_stream_recv_is_readable(&r));
    assert_false(knit_stream_recv_at_end(&r));
    assert_int_equal(knit_stream_recv_on_data(&r, 0, NULL, 5, false, &nb),
                     KNIT_E_INVAL);
    assert_int_equal(nb, 0);
    assert_int_equal(knit_stream_recv_on_data(&r, 0, NULL, 0, false, &nb), 0);
    knit_stream_recv_free(&r);
    knit_stream_recv_free(&r);
}

static void test_in_order(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    for (uint64_t off = 0; off < 20000; off += 1000) {
        assert_int_equal(give(&r, off, 1000, false, &nb), 0);
        assert_int_equal(nb, 1000);
        assert_true(knit_stream_recv_is_readable(&r));
    }
    assert_int_equal(knit_stream_recv_highest_offset(&r), 20000);
    assert_int_equal(take(&r, 7000), 7000);
    assert_int_equal(take(&r, 100000), 13000);
    assert_false(knit_stream_recv_is_readable(&r));
    assert_int_equal(take(&r, 100), 0);
    assert_false(knit_stream_recv_at_end(&r));
    knit_stream_recv_free(&r);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    /* Back to front: the highest offset jumps once, then never grows. */
    assert_int_equal(give(&r, 9000, 1000, false, &nb), 0);
    assert_int_equal(nb, 10000);
    for (uint64_t off = 8000; off > 0; off -= 1000) {
        assert_int_equal(give(&r, off, 1000, false, &nb), 0);
        assert_int_equal(nb, 0);
        assert_false(knit_stream_recv_is_readable(&r));
        assert_int_equal(take(&r, 100), 0);
    }
    assert_int_equal(give(&r, 0, 1000, false, &nb), 0);
    assert_true(knit_stream_recv_is_readable(&r));
    assert_int_equal(take(&r, 100000), 10000);

    /* A hole stops the reader exactly at its start. */
    assert_int_equal(give(&r, 10000, 500, false, NULL), 0);
    assert_int_equal(give(&r, 10600, 500, false, NULL), 0);
    assert_int_equal(take(&r, 100000), 500);
    assert_false(knit_stream_recv_is_readable(&r));
    assert_int_equal(give(&r, 10500, 100, false, NULL), 0);
    assert_int_equal(take(&r, 100000), 600);
    knit_stream_recv_free(&r);
}

static void test_duplicates_and_overlaps(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    assert_int_equal(give(&r, 0, 3000, false, &nb), 0);
    assert_int_equal(nb, 3000);
    assert_int_equal(give(&r, 0, 3000, false, &nb), 0);
    assert_int_equal(nb, 0);
    /* Overlapping both ends of what is there, across a block boundary. */
    assert_int_equal(give(&r, 2000, 3000, false, &nb), 0);
    assert_int_equal(nb, 2000);
    assert_int_equal(give(&r, 7000, 1000, false, &nb), 0);
    assert_int_equal(nb, 3000);
    assert_int_equal(give(&r, 4500, 3000, false, &nb), 0);
    assert_int_equal(nb, 0);
    assert_int_equal(take(&r, 4000), 4000);
    /* Old data below the read offset, partly new: only the new part counts. */
    assert_int_equal(give(&r, 1000, 3000, false, &nb), 0);
    assert_int_equal(give(&r, 3000, 6000, false, &nb), 0);
    assert_int_equal(nb, 1000);
    assert_int_equal(take(&r, 100000), 5000);
    assert_int_equal(give(&r, 0, 9000, false, &nb), 0);
    assert_int_equal(nb, 0);
    assert_false(knit_stream_recv_is_readable(&r));
    assert_int_equal(take(&r, 100000), 0);
    knit_stream_recv_free(&r);
}

static void test_fin(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    assert_int_equal(give(&r, 1000, 500, true, &nb), 0);
    assert_int_equal(nb, 1500);
    assert_false(knit_stream_recv_at_end(&r));
    /* The same FIN again, and data ending exactly at it, are fine. */
    assert_int_equal(give(&r, 1000, 500, true, &nb), 0);
    assert_int_equal(give(&r, 1400, 100, false, &nb), 0);
    assert_int_equal(give(&r, 1500, 0, true, &nb), 0);
    assert_int_equal(give(&r, 0, 1000, false, &nb), 0);
    assert_int_equal(nb, 0);
    assert_false(knit_stream_recv_at_end(&r));
    uint64_t limit;
    assert_false(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(take(&r, 1499), 1499);
    assert_false(knit_stream_recv_at_end(&r));
    assert_int_equal(take(&r, 10), 1);
    assert_true(knit_stream_recv_at_end(&r));
    assert_false(knit_stream_recv_is_readable(&r));
    assert_false(knit_stream_recv_is_reset(&r));
    /* Late duplicates after the end are still fine. */
    assert_int_equal(give(&r, 500, 1000, true, &nb), 0);
    assert_true(knit_stream_recv_at_end(&r));
    knit_stream_recv_free(&r);

    /* An empty stream. */
    assert_int_equal(knit_stream_recv_init(&r, 1000), 0);
    assert_int_equal(give(&r, 0, 0, true, &nb), 0);
    assert_int_equal(nb, 0);
    assert_true(knit_stream_recv_at_end(&r));
    knit_stream_recv_free(&r);
}

static void test_final_size_errors(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    assert_int_equal(give(&r, 0, 2000, false, &nb), 0);
    /* A FIN below bytes already received. */
    assert_int_equal(give(&r, 1000, 500, true, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(nb, 0);
    assert_int_equal(give(&r, 0, 1999, true, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 2000, 1000, true, &nb), 0);
    assert_int_equal(nb, 1000);
    /* A different final size, larger or smaller. */
    assert_int_equal(give(&r, 3000, 1, true, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 2000, 999, true, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 3001, 0, true, &nb), KNIT_E_FINAL_SIZE);
    /* Data past the known final size, even without FIN. */
    assert_int_equal(give(&r, 2500, 501, false, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 3000, 1, false, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 5000, 0, false, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(nb, 0);
    assert_int_equal(knit_stream_recv_on_reset(&r, 3001), KNIT_E_FINAL_SIZE);
    assert_int_equal(knit_stream_recv_on_reset(&r, 2999), KNIT_E_FINAL_SIZE);
    /* None of the rejected frames changed anything. */
    assert_int_equal(knit_stream_recv_highest_offset(&r), 3000);
    assert_int_equal(take(&r, 100000), 3000);
    assert_true(knit_stream_recv_at_end(&r));
    knit_stream_recv_free(&r);
}

static void test_reset(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 64 * 1024), 0);
    assert_int_equal(give(&r, 0, 5000, false, &nb), 0);
    assert_int_equal(give(&r, 8000, 1000, false, &nb), 0);
    assert_int_equal(take(&r, 100), 100);
    /* Below what was received. */
    assert_int_equal(knit_stream_recv_on_reset(&r, 8999), KNIT_E_FINAL_SIZE);
    /* Beyond the limit we advertised. */
    assert_int_equal(knit_stream_recv_on_reset(&r, 64 * 1024 + 1),
                     KNIT_E_FLOW_CONTROL);
    assert_false(knit_stream_recv_is_reset(&r));
    assert_int_equal(knit_stream_recv_on_reset(&r, 12000), 0);
    assert_true(knit_stream_recv_is_reset(&r));
    assert_int_equal(knit_stream_recv_highest_offset(&r), 12000);
    assert_int_equal(knit_stream_recv_memory(&r), 0);
    assert_false(knit_stream_recv_is_readable(&r));
    assert_false(knit_stream_recv_at_end(&r));
    assert_int_equal(take(&r, 100), 0);
    /* The same reset again is fine, another final size is not. */
    assert_int_equal(knit_stream_recv_on_reset(&r, 12000), 0);
    assert_int_equal(knit_stream_recv_on_reset(&r, 12001), KNIT_E_FINAL_SIZE);
    /* Late data is checked against the final size and dropped. */
    assert_int_equal(give(&r, 11000, 1000, true, &nb), 0);
    assert_int_equal(nb, 0);
    assert_int_equal(give(&r, 11000, 1001, false, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(give(&r, 100, 1000, true, &nb), KNIT_E_FINAL_SIZE);
    assert_int_equal(knit_stream_recv_memory(&r), 0);
    assert_int_equal(take(&r, 100), 0);
    knit_stream_recv_free(&r);

    /* A reset after a FIN must agree with it. */
    assert_int_equal(knit_stream_recv_init(&r, 1000), 0);
    assert_int_equal(give(&r, 0, 10, true, &nb), 0);
    assert_int_equal(knit_stream_recv_on_reset(&r, 11), KNIT_E_FINAL_SIZE);
    assert_int_equal(knit_stream_recv_on_reset(&r, 10), 0);
    knit_stream_recv_free(&r);
}

static void test_flow_control(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t nb;
    assert_int_equal(knit_stream_recv_init(&r, 1000), 0);
    assert_int_equal(give(&r, 990, 11, false, &nb), KNIT_E_FLOW_CONTROL);
    assert_int_equal(nb, 0);
    assert_int_equal(give(&r, 1001, 0, false, &nb), KNIT_E_FLOW_CONTROL);
    assert_int_equal(give(&r, 5000, 10, true, &nb), KNIT_E_FLOW_CONTROL);
    assert_int_equal(give(&r, UINT64_MAX - 5, 10, false, &nb),
                     KNIT_E_FLOW_CONTROL);
    assert_int_equal(give(&r, UINT64_MAX, 0, true, &nb),
                     KNIT_E_FLOW_CONTROL);
    assert_int_equal(knit_stream_recv_highest_offset(&r), 0);
    assert_int_equal(knit_stream_recv_memory(&r), 0);
    /* Up to the limit exactly is fine. */
    assert_int_equal(give(&r, 990, 10, false, &nb), 0);
    assert_int_equal(nb, 1000);
    assert_int_equal(give(&r, 0, 990, false, &nb), 0);
    assert_int_equal(take(&r, 2000), 1000);
    /* Reading alone does not move the limit: only window_sent() does. */
    assert_int_equal(give(&r, 1000, 1, false, &nb), KNIT_E_FLOW_CONTROL);
    knit_stream_recv_free(&r);
}

static void test_window_update(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    uint64_t limit;
    assert_int_equal(knit_stream_recv_init(&r, 1000), 0);
    assert_false(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(give(&r, 0, 1000, false, NULL), 0);
    assert_int_equal(take(&r, 499), 499);
    assert_false(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(limit, 1000);
    assert_int_equal(take(&r, 1), 1);
    assert_true(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(limit, 1500);
    /* Asking again changes nothing until the frame is sent. */
    assert_true(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(give(&r, 1000, 1, false, NULL), KNIT_E_FLOW_CONTROL);
    knit_stream_recv_window_sent(&r, limit);
    assert_int_equal(knit_stream_recv_limit(&r), 1500);
    assert_false(knit_stream_recv_should_update_window(&r, &limit));
    assert_int_equal(give(&r, 1000, 500, false, NULL), 0);
    assert_int_equal(give(&r, 1500, 1, false, NULL), KNIT_E_FLOW_CONTROL);
    /* Older (smaller) values are ignored; larger ones clamp to the window. */
    knit_stream_recv_window_sent(&r, 1200);
    assert_int_equal(knit_stream_recv_limit(&r), 1500);
    knit_stream_recv_window_sent(&r, 1000000);
    assert_int_equal(knit_stream_recv_limit(&r), 1500);
    assert_int_equal(take(&r, 2000), 1000);
    knit_stream_recv_window_sent(&r, 1000000);
    assert_int_equal(knit_stream_recv_limit(&r), 2500);
    /* Once the final size is known no more credit is needed. */
    assert_int_equal(give(&r, 1500, 0, true, NULL), 0);
    assert_false(knit_stream_recv_should_update_window(&r, &limit));
    knit_stream_recv_free(&r);
}

/* The window bounds what is buffered, whatever the peer does. */
static void test_memory_within_window(void **state)
{
    (void)state;
    struct knit_stream_recv r;
    const size_t window = 64 * 1024 + 100;
    const size_t bound = (window / BLOCK + 2) * BLOCK_COST;
    assert_int_equal(knit_stream_recv_init(&r, window), 0);
    /* Single bytes at every other offset: the worst fragmentation. */
    for (uint64_t off = 1; off < window; off += 2)
        assert_int_equal(give(&r, off, 1, false, NULL), 0);
    assert_true(knit_stream_recv_memory(&r) <= bound);
    assert_true(knit_stream_recv_memory(&r) >= window);
    assert_int_equal(give(&r, window, 1, false, NULL), KNIT_E_FLOW_CONTROL);
    for (uint64_t off = 0; off < window; off += 2)
        assert_int_equal(give(&r, off, 1, false, NULL), 0);
    assert_int_equal(take(&r, window), window);
    assert_int_equal(knit_stream_recv_memory(&r), 0);

    /* Slide the window many times over with scattered frames. */
    for (int round = 0; round < 20; round++) {
        uint64_t limit;
        assert_true(knit_stream_recv_should_update_window(&r, &limit));
        knit_stream_recv_window_sent(&r, limit);
        assert_int_equal(limit, knit_stream_recv_read_offset(&r) + window);
        uint64_t base = knit_stream_recv_read_offset(&r);
        const uint64_t frames = (window + 999) / 1000;   /* 66 */
        for (uint64_t k = 0; k < frames; k++) {
            /* 17 is coprime with 66: a scattered order covering them all. */
            uint64_t off = base + (k * 17) % frames * 1000;
            size_t len = off + 1000 <= limit ? 1000 : (size_t)(limit - off);
            assert_int_equal(give(&r, off, len, false, NULL), 0);
            assert_true(knit_stream_recv_memory(&r) <= bound);
        }
        assert_int_equal(take(&r, window + 1), window);
        assert_int_equal(knit_stream_recv_memory(&r), 0);
    }
    assert_true(knit_stream_recv_read_offset(&r) > 10 * window);
    knit_stream_recv_free(&r);
}

/* ---- send -> lossy, reordering, duplicating network -> receive ------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: fixed seed, so every run is the same run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

struct packet {
    uint64_t offset;
    size_t len;
    bool fin;
    uint8_t *data;
};

struct transfer {
    size_t total;
    size_t capacity;
    size_t window;
    size_t max_chunk;
    size_t max_in_flight;
};

static void deliver(struct knit_stream_recv *r, const struct packet *p,
                    uint64_t *received)
{
    uint64_t nb;
    assert_int_equal(knit_stream_recv_on_data(r, p->offset, p->data, p->len,
                                              p->fin, &nb), 0);
    *received += nb;
}

static void run_transfer(const struct transfer *t, uint64_t seed)
{
    rng_state = seed;
    uint8_t *src = malloc(t->total);
    uint8_t *out = malloc(t->total);
    struct packet *net = calloc(t->max_in_flight, sizeof *net);
    uint8_t *chunk = malloc(t->max_chunk);
    assert_non_null(src);
    assert_non_null(out);
    assert_non_null(net);
    assert_non_null(chunk);
    for (size_t i = 0; i < t->total; i++)
        src[i] = (uint8_t)(rnd() >> 56);

    struct knit_stream_send s;
    struct knit_stream_recv r;
    assert_int_equal(knit_stream_send_init(&s, t->capacity), 0);
    assert_int_equal(knit_stream_recv_init(&r, t->window), 0);
    uint64_t flow_limit = t->window;   /* the peer's initial MAX_STREAM_DATA */
    uint64_t pending_limit = 0;        /* a MAX_STREAM_DATA on its way */
    size_t in_flight = 0;
    uint64_t received = 0, nread = 0, sent_new = 0;
    uint64_t losses = 0, dups = 0, chunks = 0;
    const size_t send_bound = (t->capacity / BLOCK + 2) * (BLOCK + BLOCK / 4);
    const size_t recv_bound = (t->window / BLOCK + 2) * BLOCK_COST;

    for (uint64_t step = 0;; step++) {
        assert_true(step < 50u * 1000 * 1000);   /* it must finish */
        if (knit_stream_recv_at_end(&r) && knit_stream_send_all_acked(&s) &&
            in_flight == 0)
            break;
        switch (rnd_below(6)) {
        case 0: {   /* the application writes */
            uint64_t w = knit_stream_send_written(&s);
            size_t n = rnd_below(20000);
            if (n > t->total - w)
                n = (size_t)(t->total - w);
            size_t got = knit_stream_send_write(&s, src + w, n);
            assert_true(got <= n);
            if (got < n)
                assert_int_equal(knit_stream_send_space(&s), 0);
            if (knit_stream_send_written(&s) == t->total)
                assert_int_equal(knit_stream_send_finish(&s), 0);
            break;
        }
        case 1:
        case 2: {   /* the connection sends a chunk */
            if (in_flight == t->max_in_flight ||
                !knit_stream_send_has_data(&s, flow_limit))
                break;
            uint64_t before = knit_stream_send_max_sent_offset(&s);
            struct packet *p = &net[in_flight];
            size_t max = 1 + rnd_below(t->max_chunk);
            assert_int_equal(knit_stream_send_next_copy(&s, flow_limit, chunk,
                                                        max, &p->offset,
                                                        &p->len, &p->fin), 0);
            assert_true(p->len <= max);
            assert_true(p->len > 0 || p->fin);
            assert_true(p->offset + p->len <= t->total);
            assert_memory_equal(chunk, src + p->offset, p->len);
            uint64_t after = knit_stream_send_max_sent_offset(&s);
            if (p->offset + p->len > before) {
                /* New bytes: straight after the old ones, within credit. */
                assert_int_equal(p->offset, before);
                assert_int_equal(after, p->offset + p->len);
                assert_true(after <= flow_limit);
            } else {
                assert_int_equal(after, before);
            }
            sent_new += after - before;
            p->data = malloc(p->len ? p->len : 1);
            assert_non_null(p->data);
            memcpy(p->data, chunk, p->len);
            in_flight++;
            chunks++;
            break;
        }
        case 3:
        case 4: {   /* the network delivers, drops or repeats one packet */
            if (in_flight == 0)
                break;
            size_t i = rnd_below(in_flight);
            struct packet p = net[i];
            net[i] = net[--in_flight];
            unsigned fate = (unsigned)rnd_below(100);
            if (fate < 12) {                  /* lost */
                knit_stream_send_on_lost(&s, p.offset, p.len, p.fin);
                losses++;
            } else if (fate < 20) {           /* arrived, its ack lost */
                deliver(&r, &p, &received);
                knit_stream_send_on_lost(&s, p.offset, p.len, p.fin);
                losses++;
            } else if (fate < 25) {           /* declared lost, acked late */
                deliver(&r, &p, &received);
                knit_stream_send_on_lost(&s, p.offset, p.len, p.fin);
                knit_stream_send_on_acked(&s, p.offset, p.len, p.fin);
            } else {
                deliver(&r, &p, &received);
                if (fate < 30) {              /* duplicated on the way */
                    deliver(&r, &p, &received);
                    dups++;
                }
                knit_stream_send_on_acked(&s, p.offset, p.len, p.fin);
            }
            free(p.data);
            break;
        }
        case 5: {   /* the application reads; credit flows back */
            size_t cap = 1 + rnd_below(30000);
            if (cap > t->total - nread)
                cap = (size_t)(t->total - nread);
            size_t n = knit_stream_recv_read(&r, out + nread, cap);
            assert_true(n <= cap);
            assert_memory_equal(out + nread, src + nread, n);
            nread += n;
            uint64_t limit;
            if (pending_limit > flow_limit && rnd_below(2) == 0)
                flow_limit = pending_limit;
            if (knit_stream_recv_should_update_window(&r, &limit)) {
                knit_stream_recv_window_sent(&r, limit);
                pending_limit = limit;
            }
            break;
        }
        }
        assert_true(knit_stream_recv_memory(&r) <= recv_bound);
        assert_true(knit_stream_send_memory(&s) <= send_bound);
        assert_true(knit_stream_send_written(&s) - nread <=
                    t->capacity + t->window);
    }
    assert_int_equal(nread, t->total);
    assert_memory_equal(out, src, t->total);
    assert_int_equal(received, t->total);
    assert_int_equal(sent_new, t->total);
    assert_int_equal(knit_stream_send_max_sent_offset(&s), t->total);
    assert_int_equal(knit_stream_recv_highest_offset(&r), t->total);
    assert_int_equal(knit_stream_send_memory(&s), 0);
    assert_int_equal(knit_stream_recv_memory(&r), 0);
    /* The network really was hostile. */
    assert_true(losses > chunks / 20);
    assert_true(dups > chunks / 50);

    knit_stream_send_free(&s);
    knit_stream_recv_free(&r);
    free(chunk);
    free(net);
    free(out);
    free(src);
}

static void test_random_transfer(void **state)
{
    (void)state;
    const struct transfer big = {
        .total = 4 * 1024 * 1024 + 12345,
        .capacity = 100000,
        .window = 70000,
        .max_chunk = 1500,
        .max_in_flight = 64,
    };
    run_transfer(&big, UINT64_C(0x9e3779b97f4a7c15));
}

/* Tiny buffers and chunks: block boundaries and slot reuse all the time. */
static void test_random_transfer_small(void **state)
{
    (void)state;
    const struct transfer small = {
        .total = 300000,
        .capacity = 5000,
        .window = 3000,
        .max_chunk = 300,
        .max_in_flight = 32,
    };
    run_transfer(&small, 12345);
    run_transfer(&small, 67890);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_duplicates_and_overlaps),
        cmocka_unit_test(test_fin),
        cmocka_unit_test(test_final_size_errors),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_window_update),
        cmocka_unit_test(test_memory_within_window),
        cmocka_unit_test(test_random_transfer),
        cmocka_unit_test(test_random_transfer_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
