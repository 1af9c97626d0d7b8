#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/stream_send.h"
#include "transport/error.h"

#define BLOCK KNIT_STREAM_BLOCK
#define NO_LIMIT UINT64_MAX

/* The stream's byte at offset o: varies within and across blocks, so a
 * chunk taken from the wrong place or block does not compare equal. */
static uint8_t pat(uint64_t o)
{
    return (uint8_t)(o * 131 + (o >> 8) * 7 + (o >> 16));
}

static void fill(uint8_t *buf, uint64_t from, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pat(from + i);
}

/* Writes len bytes of the pattern from the stream's current end. */
static size_t write_pat(struct knit_stream_send *s, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    fill(buf, knit_stream_send_written(s), len);
    size_t n = knit_stream_send_write(s, buf, len);
    free(buf);
    return n;
}

struct chunk {
    uint64_t offset;
    size_t len, len1, len2;
    bool fin;
};

/* Takes the next chunk and checks its bytes against the pattern. */
static int take(struct knit_stream_send *s, uint64_t limit, size_t max,
                struct chunk *c)
{
    const uint8_t *p1, *p2;
    int err = knit_stream_send_next(s, limit, max, &c->offset, &p1, &c->len1,
                                    &p2, &c->len2, &c->fin);
    c->len = c->len1 + c->len2;
    if (err)
        return err;
    assert_true(c->len <= max);
    assert_true(c->len1 > 0 || c->len2 == 0);
    assert_true((p1 != NULL) == (c->len1 > 0));
    assert_true((p2 != NULL) == (c->len2 > 0));
    for (size_t i = 0; i < c->len1; i++)
        assert_int_equal(p1[i], pat(c->offset + i));
    for (size_t i = 0; i < c->len2; i++)
        assert_int_equal(p2[i], pat(c->offset + c->len1 + i));
    return 0;
}

static void expect_chunk(struct knit_stream_send *s, uint64_t limit,
                         size_t max, uint64_t offset, size_t len, bool fin)
{
    struct chunk c;
    assert_int_equal(take(s, limit, max, &c), 0);
    assert_int_equal(c.offset, offset);
    assert_int_equal(c.len, len);
    assert_int_equal(c.fin, fin);
}

static void expect_nothing(struct knit_stream_send *s, uint64_t limit)
{
    struct chunk c;
    assert_false(knit_stream_send_has_data(s, limit));
    assert_int_equal(take(s, limit, 1000, &c), KNIT_E_NOT_FOUND);
    assert_int_equal(c.len, 0);
}

static void test_init_rejects(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 0), KNIT_E_INVAL);
    assert_int_equal(knit_stream_send_init(&s,
                                           KNIT_STREAM_SEND_MAX_CAPACITY + 1u),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(knit_stream_send_space(&s), 1000);
    assert_int_equal(knit_stream_send_memory(&s), 0);
    expect_nothing(&s, NO_LIMIT);
    knit_stream_send_free(&s);
    knit_stream_send_free(&s);
}

static void test_in_order(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 64 * 1024), 0);
    assert_int_equal(write_pat(&s, 10000), 10000);
    assert_int_equal(knit_stream_send_written(&s), 10000);
    assert_int_equal(knit_stream_send_space(&s), 64 * 1024 - 10000);
    assert_true(knit_stream_send_memory(&s) >= 10000);
    for (uint64_t off = 0; off < 10000; off += 1200) {
        assert_true(knit_stream_send_has_data(&s, NO_LIMIT));
        expect_chunk(&s, NO_LIMIT, 1200, off,
                     off + 1200 <= 10000 ? 1200 : 10000 - off, false);
        assert_int_equal(knit_stream_send_max_sent_offset(&s),
                         off + 1200 <= 10000 ? off + 1200 : 10000);
    }
    expect_nothing(&s, NO_LIMIT);
    for (uint64_t off = 0; off < 10000; off += 1200)
        knit_stream_send_on_acked(&s, off,
                                  off + 1200 <= 10000 ? 1200 : 10000 - off,
                                  false);
    /* Everything acked: all space back, no block held. */
    assert_int_equal(knit_stream_send_space(&s), 64 * 1024);
    assert_int_equal(knit_stream_send_memory(&s), 0);
    assert_false(knit_stream_send_all_acked(&s));
    expect_nothing(&s, NO_LIMIT);
    knit_stream_send_free(&s);
}

static void test_loss_before_new_data(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 64 * 1024), 0);
    assert_int_equal(write_pat(&s, 8000), 8000);
    expect_chunk(&s, NO_LIMIT, 1000, 0, 1000, false);
    expect_chunk(&s, NO_LIMIT, 1000, 1000, 1000, false);
    expect_chunk(&s, NO_LIMIT, 1000, 2000, 1000, false);
    expect_chunk(&s, NO_LIMIT, 1000, 3000, 1000, false);

    /* Lost out of order; resent lowest first, before any new byte. */
    knit_stream_send_on_lost(&s, 2000, 1000, false);
    knit_stream_send_on_lost(&s, 0, 1000, false);
    expect_chunk(&s, NO_LIMIT, 600, 0, 600, false);
    expect_chunk(&s, NO_LIMIT, 5000, 600, 400, false);  /* the run ends */
    expect_chunk(&s, NO_LIMIT, 5000, 2000, 1000, false);
    expect_chunk(&s, NO_LIMIT, 500, 4000, 500, false);
    assert_int_equal(knit_stream_send_max_sent_offset(&s), 4500);

    /* Adjacent lost chunks come back as one run. */
    knit_stream_send_on_lost(&s, 1000, 1000, false);
    knit_stream_send_on_lost(&s, 2000, 1000, false);
    expect_chunk(&s, NO_LIMIT, 5000, 1000, 2000, false);

    /* A lost chunk partly acked by another copy: only the rest is resent. */
    knit_stream_send_on_acked(&s, 3000, 1000, false);
    knit_stream_send_on_lost(&s, 2500, 1500, false);
    expect_chunk(&s, NO_LIMIT, 5000, 2500, 500, false);

    /* Losing what is already acked changes nothing. */
    knit_stream_send_on_lost(&s, 3000, 1000, false);
    expect_chunk(&s, NO_LIMIT, 5000, 4500, 3500, false);
    expect_nothing(&s, NO_LIMIT);

    /* A late ack of a range declared lost cancels the retransmission. */
    knit_stream_send_on_lost(&s, 5000, 1000, false);
    assert_true(knit_stream_send_has_data(&s, NO_LIMIT));
    knit_stream_send_on_acked(&s, 5000, 1000, false);
    expect_nothing(&s, NO_LIMIT);
    knit_stream_send_free(&s);
}

static void test_out_of_order_acks(void **state)
{
    (void)state;
    struct knit_stream_send s;
    const size_t cap = 5 * BLOCK;
    const size_t total = 3 * BLOCK + 100;
    assert_int_equal(knit_stream_send_init(&s, cap), 0);
    assert_int_equal(write_pat(&s, total), total);
    size_t chunks = 0;
    struct chunk c;
    while (take(&s, NO_LIMIT, 1000, &c) == 0)
        chunks++;
    assert_int_equal(chunks, (total + 999) / 1000);
    size_t mem = knit_stream_send_memory(&s);
    assert_true(mem >= 4 * BLOCK);

    /* Every chunk but the first: nothing can be released yet. */
    for (size_t i = chunks - 1; i >= 1; i--) {
        uint64_t off = i * 1000;
        knit_stream_send_on_acked(&s, off, off + 1000 <= total ? 1000
                                                               : total - off,
                                  false);
        assert_int_equal(knit_stream_send_space(&s), cap - total);
        assert_int_equal(knit_stream_send_memory(&s), mem);
    }
    /* Acking one range twice is harmless. */
    knit_stream_send_on_acked(&s, 2000, 1000, false);
    knit_stream_send_on_acked(&s, 0, 1000, false);
    assert_int_equal(knit_stream_send_space(&s), cap);
    assert_int_equal(knit_stream_send_memory(&s), 0);
    expect_nothing(&s, NO_LIMIT);

    /* Odd slices acked in a scattered order release exactly the prefix. */
    assert_int_equal(write_pat(&s, 1000), 1000);
    expect_chunk(&s, NO_LIMIT, 1000, total, 1000, false);
    knit_stream_send_on_acked(&s, total + 1, 998, false);
    knit_stream_send_on_acked(&s, total + 999, 1, false);
    assert_int_equal(knit_stream_send_space(&s), cap - 1000);
    knit_stream_send_on_acked(&s, total, 1, false);
    assert_int_equal(knit_stream_send_space(&s), cap);
    knit_stream_send_free(&s);
}

static void test_two_pieces(void **state)
{
    (void)state;
    struct knit_stream_send s;
    struct chunk c;
    assert_int_equal(knit_stream_send_init(&s, 64 * 1024), 0);
    assert_int_equal(write_pat(&s, 5 * BLOCK), 5 * BLOCK);
    assert_int_equal(take(&s, NO_LIMIT, 3000, &c), 0);
    assert_int_equal(c.len1, 3000);
    assert_int_equal(c.len2, 0);
    /* Crosses the first block boundary: two pieces, in order. */
    assert_int_equal(take(&s, NO_LIMIT, 3000, &c), 0);
    assert_int_equal(c.offset, 3000);
    assert_int_equal(c.len1, BLOCK - 3000);
    assert_int_equal(c.len2, 3000 - (BLOCK - 3000));
    /* An unbounded max_len stops at the end of the following block. */
    assert_int_equal(take(&s, NO_LIMIT, SIZE_MAX, &c), 0);
    assert_int_equal(c.offset, 6000);
    assert_int_equal(c.len1, 2 * BLOCK - 6000);
    assert_int_equal(c.len2, BLOCK);
    /* A retransmitted run crossing a boundary comes back in two pieces. */
    knit_stream_send_on_lost(&s, 0, 3000, false);
    knit_stream_send_on_lost(&s, 3000, 3000, false);
    knit_stream_send_on_lost(&s, 6000, 3 * BLOCK - 6000, false);
    assert_int_equal(take(&s, NO_LIMIT, SIZE_MAX, &c), 0);
    assert_int_equal(c.offset, 0);
    assert_int_equal(c.len1, BLOCK);
    assert_int_equal(c.len2, BLOCK);
    assert_int_equal(take(&s, NO_LIMIT, 100, &c), 0);
    assert_int_equal(c.offset, 2 * BLOCK);
    assert_int_equal(c.len, 100);
    assert_int_equal(take(&s, NO_LIMIT, BLOCK, &c), 0);
    assert_int_equal(c.offset, 2 * BLOCK + 100);
    assert_int_equal(c.len1, BLOCK - 100);
    assert_int_equal(c.len2, 0);
    /* The copying variant gives the same bytes in one buffer. */
    uint8_t buf[6000], want[6000];
    uint64_t off;
    size_t len;
    bool fin;
    assert_int_equal(knit_stream_send_next_copy(&s, NO_LIMIT, buf, sizeof buf,
                                                &off, &len, &fin), 0);
    assert_int_equal(off, 3 * BLOCK);
    assert_int_equal(len, 6000);
    assert_false(fin);
    fill(want, off, len);
    assert_memory_equal(buf, want, len);
    knit_stream_send_free(&s);
}

/* Streams far more than the capacity through it, so block slots are reused
 * many times; every chunk is checked against the pattern by take(). */
static void test_slot_reuse(void **state)
{
    (void)state;
    struct knit_stream_send s;
    const size_t cap = 2 * BLOCK + 123;
    assert_int_equal(knit_stream_send_init(&s, cap), 0);
    uint64_t acked = 0;
    while (acked < 200000) {
        write_pat(&s, 3000);
        assert_true(knit_stream_send_written(&s) - acked <= cap);
        struct chunk c;
        while (take(&s, NO_LIMIT, 1777, &c) == 0) {
            knit_stream_send_on_acked(&s, c.offset, c.len, false);
            acked += c.len;
        }
        assert_true(knit_stream_send_memory(&s) <=
                    (cap / BLOCK + 2) * (BLOCK + BLOCK / 4));
    }
    assert_int_equal(acked, knit_stream_send_written(&s));
    knit_stream_send_free(&s);
}

static void test_capacity_bound(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 10000), 0);
    assert_int_equal(write_pat(&s, 15000), 10000);
    assert_int_equal(knit_stream_send_space(&s), 0);
    assert_int_equal(write_pat(&s, 1), 0);
    expect_chunk(&s, NO_LIMIT, 4000, 0, 4000, false);
    /* Sent or lost is not released: only acknowledged bytes are. */
    assert_int_equal(write_pat(&s, 1), 0);
    knit_stream_send_on_lost(&s, 0, 4000, false);
    assert_int_equal(knit_stream_send_space(&s), 0);
    expect_chunk(&s, NO_LIMIT, 4000, 0, 4000, false);
    knit_stream_send_on_acked(&s, 0, 4000, false);
    assert_int_equal(knit_stream_send_space(&s), 4000);
    assert_int_equal(write_pat(&s, 5000), 4000);
    assert_int_equal(knit_stream_send_written(&s), 14000);
    assert_int_equal(knit_stream_send_write(&s, NULL, 10), 0);
    knit_stream_send_free(&s);
}

static void test_flow_limit(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 64 * 1024), 0);
    assert_int_equal(write_pat(&s, 10000), 10000);
    assert_false(knit_stream_send_has_data(&s, 0));
    expect_chunk(&s, 2500, 1000, 0, 1000, false);
    expect_chunk(&s, 2500, 1000, 1000, 1000, false);
    expect_chunk(&s, 2500, 1000, 2000, 500, false);
    expect_nothing(&s, 2500);
    assert_int_equal(knit_stream_send_max_sent_offset(&s), 2500);
    /* A smaller limit than what was sent is no reason to misbehave. */
    expect_nothing(&s, 100);
    /* Retransmission was paid for already: the limit does not apply. */
    knit_stream_send_on_lost(&s, 1000, 1000, false);
    assert_true(knit_stream_send_has_data(&s, 0));
    expect_chunk(&s, 0, 1000, 1000, 1000, false);
    assert_int_equal(knit_stream_send_max_sent_offset(&s), 2500);
    assert_true(knit_stream_send_has_data(&s, 2501));
    expect_chunk(&s, 2501, 1000, 2500, 1, false);
    knit_stream_send_free(&s);
}

static void test_fin_alone(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(knit_stream_send_finish(&s), 0);
    assert_int_equal(knit_stream_send_finish(&s), 0);
    assert_int_equal(knit_stream_send_space(&s), 0);
    assert_int_equal(write_pat(&s, 10), 0);
    /* A bare FIN needs no flow credit and no room in the packet. */
    assert_true(knit_stream_send_has_data(&s, 0));
    expect_chunk(&s, 0, 0, 0, 0, true);
    expect_nothing(&s, NO_LIMIT);
    assert_false(knit_stream_send_all_acked(&s));
    knit_stream_send_on_lost(&s, 0, 0, true);
    assert_true(knit_stream_send_has_data(&s, 0));
    expect_chunk(&s, 0, 1000, 0, 0, true);
    knit_stream_send_on_acked(&s, 0, 0, true);
    assert_true(knit_stream_send_all_acked(&s));
    /* A late loss report of the first copy does not re-arm it. */
    knit_stream_send_on_lost(&s, 0, 0, true);
    expect_nothing(&s, NO_LIMIT);
    assert_true(knit_stream_send_all_acked(&s));
    knit_stream_send_free(&s);
}

static void test_fin_with_data(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(write_pat(&s, 300), 300);
    assert_int_equal(knit_stream_send_finish(&s), 0);
    /* FIN rides on the chunk that reaches the end, and only on it. */
    expect_chunk(&s, NO_LIMIT, 200, 0, 200, false);
    expect_chunk(&s, NO_LIMIT, 200, 200, 100, true);
    expect_nothing(&s, NO_LIMIT);

    /* The data is acked but not the FIN: not done. */
    knit_stream_send_on_acked(&s, 0, 200, false);
    knit_stream_send_on_acked(&s, 200, 100, false);
    assert_false(knit_stream_send_all_acked(&s));
    /* The final chunk is lost: its bytes are acked, so a bare FIN goes. */
    knit_stream_send_on_lost(&s, 200, 100, true);
    expect_chunk(&s, NO_LIMIT, 200, 300, 0, true);
    knit_stream_send_on_acked(&s, 300, 0, true);
    assert_true(knit_stream_send_all_acked(&s));
    knit_stream_send_free(&s);
}

static void test_all_acked_needs_everything(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(write_pat(&s, 300), 300);
    expect_chunk(&s, NO_LIMIT, 300, 0, 300, false);
    knit_stream_send_on_acked(&s, 0, 300, false);
    assert_false(knit_stream_send_all_acked(&s));   /* no finish() yet */
    assert_int_equal(knit_stream_send_finish(&s), 0);
    assert_true(knit_stream_send_has_data(&s, 0));
    expect_chunk(&s, 0, 100, 300, 0, true);
    assert_false(knit_stream_send_all_acked(&s));
    /* A FIN ack that does not end at the final size does not count. */
    knit_stream_send_on_acked(&s, 100, 100, true);
    assert_false(knit_stream_send_all_acked(&s));
    knit_stream_send_on_acked(&s, 300, 0, true);
    assert_true(knit_stream_send_all_acked(&s));
    knit_stream_send_free(&s);

    /* FIN acked while a byte in the middle is still missing. */
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(write_pat(&s, 300), 300);
    assert_int_equal(knit_stream_send_finish(&s), 0);
    expect_chunk(&s, NO_LIMIT, 150, 0, 150, false);
    expect_chunk(&s, NO_LIMIT, 150, 150, 150, true);
    knit_stream_send_on_acked(&s, 150, 150, true);
    assert_false(knit_stream_send_all_acked(&s));
    /* The lost first chunk is resent without FIN: it does not end there. */
    knit_stream_send_on_lost(&s, 0, 150, false);
    expect_chunk(&s, NO_LIMIT, 1000, 0, 150, false);
    expect_nothing(&s, NO_LIMIT);
    knit_stream_send_on_acked(&s, 0, 150, false);
    assert_true(knit_stream_send_all_acked(&s));
    assert_int_equal(knit_stream_send_memory(&s), 0);
    knit_stream_send_free(&s);
}

static void test_lost_fin_resent_with_data(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(write_pat(&s, 300), 300);
    assert_int_equal(knit_stream_send_finish(&s), 0);
    expect_chunk(&s, NO_LIMIT, 1000, 0, 300, true);
    knit_stream_send_on_lost(&s, 0, 300, true);
    expect_chunk(&s, NO_LIMIT, 100, 0, 100, false);
    expect_chunk(&s, NO_LIMIT, 1000, 100, 200, true);
    expect_nothing(&s, NO_LIMIT);   /* no extra bare FIN */
    knit_stream_send_free(&s);
}

static void test_reports_out_of_range(void **state)
{
    (void)state;
    struct knit_stream_send s;
    assert_int_equal(knit_stream_send_init(&s, 1000), 0);
    assert_int_equal(write_pat(&s, 500), 500);
    expect_chunk(&s, NO_LIMIT, 100, 0, 100, false);
    /* Bytes never sent cannot be acked or lost; huge lengths clip. */
    knit_stream_send_on_acked(&s, 100, 400, false);
    knit_stream_send_on_lost(&s, 100, 400, false);
    knit_stream_send_on_acked(&s, UINT64_MAX, SIZE_MAX, true);
    knit_stream_send_on_lost(&s, UINT64_MAX - 1, SIZE_MAX, true);
    knit_stream_send_on_lost(&s, 50, SIZE_MAX, false);
    assert_int_equal(knit_stream_send_space(&s), 500);
    expect_chunk(&s, NO_LIMIT, 1000, 50, 50, false);
    expect_chunk(&s, NO_LIMIT, 1000, 100, 400, false);
    knit_stream_send_on_acked(&s, 0, SIZE_MAX, false);
    assert_int_equal(knit_stream_send_space(&s), 1000);
    assert_false(knit_stream_send_all_acked(&s));
    knit_stream_send_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_loss_before_new_data),
        cmocka_unit_test(test_out_of_order_acks),
        cmocka_unit_test(test_two_pieces),
        cmocka_unit_test(test_slot_reuse),
        cmocka_unit_test(test_capacity_bound),
        cmocka_unit_test(test_flow_limit),
        cmocka_unit_test(test_fin_alone),
        cmocka_unit_test(test_fin_with_data),
        cmocka_unit_test(test_all_acked_needs_everything),
        cmocka_unit_test(test_lost_fin_resent_with_data),
        cmocka_unit_test(test_reports_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
