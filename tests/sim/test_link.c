#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/engine.h"
#include "sim/link.h"
#include "transport/error.h"

/* Packets carry their number in the first 8 bytes and a pattern derived from
 * it after, so the sink can tell which packet arrived and that it arrived
 * whole. */
static void make_packet(uint8_t *buf, size_t len, uint64_t id)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = i < 8 ? (uint8_t)(id >> (8 * i)) : (uint8_t)(id * 31 + i);
}

struct sink {
    struct knit_sim_engine *e;
    struct knit_sim_link *free_on_first; /* freed by the first delivery */
    size_t n, cap;
    uint64_t *ids, *times;
    uint64_t bytes;
    uint64_t hash;
    bool corrupt;
};

static void sink_init(struct sink *s, struct knit_sim_engine *e, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->cap = cap;
    s->ids = calloc(cap, sizeof *s->ids);
    s->times = calloc(cap, sizeof *s->times);
    s->hash = 0xcbf29ce484222325ULL;
    assert_non_null(s->ids);
    assert_non_null(s->times);
}

static void sink_done(struct sink *s)
{
    free(s->ids);
    free(s->times);
}

static void mix(uint64_t *h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ULL;
    }
}

static void deliver(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sink *s = ctx;
    uint64_t id = 0;
    for (size_t i = 0; i < 8 && i < len; i++)
        id |= (uint64_t)pkt[i] << (8 * i);
    for (size_t i = 8; i < len; i++)
        if (pkt[i] != (uint8_t)(id * 31 + i))
            s->corrupt = true;
    uint64_t now = knit_sim_now(s->e);
    assert_true(s->n < s->cap);
    s->ids[s->n] = id;
    s->times[s->n] = now;
    s->n++;
    s->bytes += len;
    mix(&s->hash, now);
    mix(&s->hash, id);
    mix(&s->hash, len);
    if (s->free_on_first) {
        knit_sim_link_free(s->free_on_first);
        s->free_on_first = NULL;
    }
}

static struct knit_sim_engine *engine(void)
{
    struct knit_sim_engine *e = NULL;
    assert_int_equal(knit_sim_engine_new(&e), 0);
    return e;
}

static struct knit_sim_link *link_with(struct knit_sim_engine *e,
                                       const struct knit_sim_link_config *c,
                                       uint64_t seed, struct sink *s)
{
    struct knit_sim_link *l = NULL;
    assert_int_equal(knit_sim_link_new(&l, e, c, seed, deliver, s), 0);
    assert_non_null(l);
    return l;
}

/* Sends n packets numbered first.., one every interval microseconds from
 * the current time, running the engine in between. */
static void send_spaced(struct knit_sim_engine *e, struct knit_sim_link *l,
                        uint64_t first, uint64_t n, uint64_t interval,
                        size_t len)
{
    uint8_t buf[2048];
    assert_true(len <= sizeof buf);
    for (uint64_t i = 0; i < n; i++) {
        make_packet(buf, len, first + i);
        knit_sim_link_send(l, buf, len);
        knit_sim_run_until(e, knit_sim_now(e) + interval, UINT64_MAX);
    }
}

static void send_burst(struct knit_sim_link *l, uint64_t n, size_t len)
{
    uint8_t buf[2048];
    assert_true(len <= sizeof buf);
    for (uint64_t i = 0; i < n; i++) {
        make_packet(buf, len, i);
        knit_sim_link_send(l, buf, len);
    }
}

static void drain(struct knit_sim_engine *e)
{
    knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
}

static struct knit_sim_link_stats stats_of(const struct knit_sim_link *l)
{
    struct knit_sim_link_stats st;
    knit_sim_link_get_stats(l, &st);
    return st;
}

static void test_new_rejects(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 1);
    struct knit_sim_link_config c = {.delay_us = 10};
    struct knit_sim_link *l = (struct knit_sim_link *)&s;

    assert_int_equal(knit_sim_link_new(NULL, e, &c, 1, deliver, &s),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_link_new(&l, NULL, &c, 1, deliver, &s),
                     KNIT_E_INVAL);
    assert_null(l);
    assert_int_equal(knit_sim_link_new(&l, e, NULL, 1, deliver, &s),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_link_new(&l, e, &c, 1, NULL, &s), KNIT_E_INVAL);

    const double bad[] = {-0.01, 1.01, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.loss = bad[i];
        c.duplicate = 0;
        assert_int_equal(knit_sim_link_new(&l, e, &c, 1, deliver, &s),
                         KNIT_E_INVAL);
        c.loss = 0;
        c.duplicate = bad[i];
        assert_int_equal(knit_sim_link_new(&l, e, &c, 1, deliver, &s),
                         KNIT_E_INVAL);
    }
    c.loss = 1.0;
    c.duplicate = 1.0;
    assert_int_equal(knit_sim_link_new(&l, e, &c, 1, deliver, &s), 0);
    knit_sim_link_free(l);
    knit_sim_link_free(NULL);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_delay_exact(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100);
    struct knit_sim_link_config c = {.delay_us = 5000};
    struct knit_sim_link *l = link_with(e, &c, 1, &s);

    send_spaced(e, l, 0, 20, 100, 300);
    assert_true(knit_sim_link_in_flight(l) > 0);
    drain(e);
    assert_int_equal(s.n, 20);
    assert_false(s.corrupt);
    for (size_t i = 0; i < 20; i++) {
        assert_true(s.ids[i] == i);
        assert_true(s.times[i] == i * 100 + 5000);
    }
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.sent == 20 && st.delivered == 20);
    assert_true(st.lost == 0 && st.duplicated == 0 && st.queue_dropped == 0);
    assert_int_equal(knit_sim_link_in_flight(l), 0);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_loss_rate(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100000);
    struct knit_sim_link_config c = {.delay_us = 1000, .loss = 0.05};
    struct knit_sim_link *l = link_with(e, &c, 3, &s);

    send_spaced(e, l, 0, 100000, 10, 64);
    drain(e);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.sent == 100000);
    /* 5 % +- 0.5 %: about 7 standard deviations wide. */
    assert_true(st.lost >= 4500 && st.lost <= 5500);
    assert_true(st.delivered == st.sent - st.lost);
    assert_int_equal(s.n, st.delivered);
    assert_true(st.queue_dropped == 0 && st.duplicated == 0);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_duplication(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 200000);
    struct knit_sim_link_config c = {.delay_us = 2000, .duplicate = 0.1};
    struct knit_sim_link *l = link_with(e, &c, 4, &s);

    send_spaced(e, l, 0, 100000, 10, 64);
    drain(e);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.duplicated >= 9500 && st.duplicated <= 10500);
    assert_true(st.delivered == st.sent + st.duplicated);
    assert_int_equal(s.n, st.delivered);
    assert_false(s.corrupt);

    /* Each packet arrives once or twice; originals arrive in order and on
     * time, and a copy trails its original by 1..DUP_SPREAD_US. */
    uint64_t *first = calloc(100000, sizeof *first);
    uint8_t *seen = calloc(100000, 1);
    assert_non_null(first);
    assert_non_null(seen);
    uint64_t copies = 0, last_original = 0, late_copies = 0;
    for (size_t i = 0; i < s.n; i++) {
        uint64_t id = s.ids[i];
        assert_true(id < 100000);
        if (seen[id]++ == 0) {
            assert_true(id == 0 || id > last_original);
            last_original = id;
            first[id] = s.times[i];
            assert_true(s.times[i] == id * 10 + 2000);
        } else {
            copies++;
            uint64_t gap = s.times[i] - first[id];
            assert_true(gap >= 1 && gap <= KNIT_SIM_LINK_DUP_SPREAD_US);
            late_copies += id < last_original;
        }
    }
    for (size_t id = 0; id < 100000; id++)
        assert_true(seen[id] == 1 || seen[id] == 2);
    assert_true(copies == st.duplicated);
    /* Packets 10 us apart, copies up to 100 us late: most land among later
     * packets rather than holding them back. */
    assert_true(late_copies > copies / 2);
    free(first);
    free(seen);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* Sends 10 000 packets 50 us apart over 1 ms + up to 5 ms of jitter and
 * returns how many arrived after a packet sent later. */
static uint64_t jitter_run(bool reorder, uint64_t *late)
{
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 10000);
    struct knit_sim_link_config c = {
        .delay_us = 1000, .jitter_us = 5000, .reorder = reorder};
    struct knit_sim_link *l = link_with(e, &c, 5, &s);

    send_spaced(e, l, 0, 10000, 50, 100);
    drain(e);
    assert_int_equal(s.n, 10000);
    uint64_t inversions = 0, max_id = 0;
    *late = 0;
    for (size_t i = 0; i < s.n; i++) {
        uint64_t sent_at = s.ids[i] * 50;
        assert_true(s.times[i] >= sent_at + 1000);
        assert_true(s.times[i] <= sent_at + 1000 + 5000);
        *late += s.times[i] > sent_at + 1000;
        if (i > 0 && s.ids[i] < max_id)
            inversions++;
        if (s.ids[i] > max_id)
            max_id = s.ids[i];
    }
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
    return inversions;
}

static void test_jitter_without_reorder(void **state)
{
    (void)state;
    uint64_t late;
    assert_true(jitter_run(false, &late) == 0);
    assert_true(late > 9000); /* jitter did act */
}

static void test_jitter_with_reorder(void **state)
{
    (void)state;
    uint64_t late;
    assert_true(jitter_run(true, &late) > 1000);
    assert_true(late > 9000);
}

/* 1200-byte packets at 1 MB/s leave 1200 us apart. */
static void test_bandwidth_spacing(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100);
    struct knit_sim_link_config c = {
        .delay_us = 10000, .rate_bps = 1000000, .queue_bytes = 1000000};
    struct knit_sim_link *l = link_with(e, &c, 6, &s);

    send_burst(l, 100, 1200);
    drain(e);
    assert_int_equal(s.n, 100);
    for (size_t i = 0; i < 100; i++) {
        assert_true(s.ids[i] == i);
        assert_true(s.times[i] == 10000 + 1200 * (i + 1));
    }
    assert_true(stats_of(l).queue_dropped == 0);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* A rate that does not divide a second: 7 packets of 1000 bytes at
 * 7000 B/s take exactly one second, with no rounding drift. */
static void test_bandwidth_fractional_rate(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 7);
    struct knit_sim_link_config c = {.rate_bps = 7000, .queue_bytes = 7000};
    struct knit_sim_link *l = link_with(e, &c, 6, &s);

    send_burst(l, 7, 1000);
    drain(e);
    assert_int_equal(s.n, 7);
    for (uint64_t k = 1; k <= 7; k++)
        assert_true(s.times[k - 1] == (k * 1000000 + 6) / 7); /* ceil */
    assert_true(s.times[6] == 1000000);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* Offered twice the capacity for two seconds: the link carries its rate and
 * drops the rest at the queue. */
static void test_bandwidth_throughput(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 4000);
    struct knit_sim_link_config c = {
        .delay_us = 20000, .rate_bps = 1000000, .queue_bytes = 12000};
    struct knit_sim_link *l = link_with(e, &c, 7, &s);

    send_spaced(e, l, 0, 3334, 600, 1200);
    drain(e);
    struct knit_sim_link_stats st = stats_of(l);
    /* 2 s at 1 MB/s is 1666.7 packets, plus what the queue held at the end
     * (10 packets of 12000 bytes). */
    assert_true(st.delivered >= 1666 && st.delivered <= 1678);
    assert_true(st.queue_dropped == st.sent - st.delivered);
    for (size_t i = 1; i < s.n; i++)
        assert_true(s.times[i] - s.times[i - 1] >= 1200);
    /* Once the queue is standing, arrivals are back to back. */
    assert_true(s.times[1000] - s.times[999] == 1200);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_queue_overflow(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100);
    struct knit_sim_link_config c = {
        .delay_us = 500, .rate_bps = 1000000, .queue_bytes = 12000};
    struct knit_sim_link *l = link_with(e, &c, 8, &s);

    /* The queue (wire included) holds ten 1200-byte packets. */
    send_burst(l, 100, 1200);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.queue_dropped == 90);
    drain(e);
    assert_int_equal(s.n, 10);
    for (size_t i = 0; i < 10; i++)
        assert_true(s.ids[i] == i);
    assert_true(knit_sim_now(e) == 500 + 12000);

    /* Drained, the link takes packets again and sends at once. */
    uint8_t buf[1200];
    make_packet(buf, sizeof buf, 500);
    knit_sim_link_send(l, buf, sizeof buf);
    drain(e);
    assert_int_equal(s.n, 11);
    assert_true(s.ids[10] == 500);
    assert_true(s.times[10] == 12500 + 1200 + 500);
    st = stats_of(l);
    assert_true(st.sent == 101 && st.delivered == 11 &&
                st.queue_dropped == 90);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* With no queue only a packet that finds the link idle gets through. */
static void test_zero_queue(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 10);
    struct knit_sim_link_config c = {.rate_bps = 1000000};
    struct knit_sim_link *l = link_with(e, &c, 9, &s);

    send_burst(l, 3, 1000);
    knit_sim_run_until(e, 1000, UINT64_MAX); /* idle again at 1000 */
    send_burst(l, 1, 1000);
    drain(e);
    assert_int_equal(s.n, 2);
    assert_true(s.times[0] == 1000 && s.times[1] == 2000);
    assert_true(stats_of(l).queue_dropped == 2);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* Loss is drawn past the bottleneck: lost packets still filled the queue. */
static void test_lost_packets_use_bottleneck(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 10);
    struct knit_sim_link_config c = {
        .loss = 1.0, .rate_bps = 1000000, .queue_bytes = 2400};
    struct knit_sim_link *l = link_with(e, &c, 10, &s);

    send_burst(l, 5, 1200);
    drain(e);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.lost == 2 && st.queue_dropped == 3 && st.delivered == 0);
    assert_int_equal(s.n, 0);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_in_flight_cap(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, KNIT_SIM_LINK_MAX_IN_FLIGHT);
    struct knit_sim_link_config c = {.delay_us = 1000000};
    struct knit_sim_link *l = link_with(e, &c, 11, &s);

    send_burst(l, KNIT_SIM_LINK_MAX_IN_FLIGHT + 1000, 16);
    assert_int_equal(knit_sim_link_in_flight(l), KNIT_SIM_LINK_MAX_IN_FLIGHT);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.queue_dropped == 1000);
    drain(e);
    assert_int_equal(s.n, KNIT_SIM_LINK_MAX_IN_FLIGHT);
    assert_int_equal(knit_sim_link_in_flight(l), 0);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_packet_sizes(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 10);
    struct knit_sim_link_config c = {.delay_us = 10};
    struct knit_sim_link *l = link_with(e, &c, 12, &s);

    uint8_t *big = malloc(KNIT_SIM_LINK_MAX_PACKET + 1);
    assert_non_null(big);
    make_packet(big, KNIT_SIM_LINK_MAX_PACKET + 1, 7);
    knit_sim_link_send(l, big, KNIT_SIM_LINK_MAX_PACKET + 1);
    assert_true(stats_of(l).queue_dropped == 1);
    knit_sim_link_send(l, big, KNIT_SIM_LINK_MAX_PACKET);
    knit_sim_link_send(l, NULL, 0);   /* an empty datagram is a datagram */
    knit_sim_link_send(l, NULL, 10);  /* refused */
    knit_sim_link_send(NULL, big, 10); /* ignored */
    drain(e);
    assert_int_equal(s.n, 2);
    assert_true(s.ids[0] == 7);
    assert_true(s.bytes == KNIT_SIM_LINK_MAX_PACKET);
    assert_false(s.corrupt);
    struct knit_sim_link_stats st = stats_of(l);
    assert_true(st.sent == 4 && st.delivered == 2 && st.queue_dropped == 2);
    free(big);
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* Freeing a link cancels its deliveries and frees its packets (ASan checks
 * the latter). */
static void test_free_with_packets_in_flight(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100);
    struct knit_sim_link_config c = {.delay_us = 1000, .duplicate = 0.5};
    struct knit_sim_link *l = link_with(e, &c, 13, &s);

    send_burst(l, 100, 500);
    assert_true(knit_sim_pending(e) > 100);
    knit_sim_link_free(l);
    assert_int_equal(knit_sim_pending(e), 0);
    drain(e);
    assert_int_equal(s.n, 0);
    sink_done(&s);
    knit_sim_engine_free(e);
}

static void test_free_from_deliver(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 100);
    struct knit_sim_link_config c = {.delay_us = 1000, .jitter_us = 100};
    struct knit_sim_link *l = link_with(e, &c, 14, &s);
    s.free_on_first = l;

    send_burst(l, 50, 200);
    drain(e);
    assert_int_equal(s.n, 1);
    assert_null(s.free_on_first);
    assert_int_equal(knit_sim_pending(e), 0);
    sink_done(&s);
    knit_sim_engine_free(e);
}

/* Everything at once, hashed: arrival times, order, ids and sizes. */
static uint64_t busy_run(uint64_t seed, struct knit_sim_link_stats *st)
{
    struct knit_sim_engine *e = engine();
    struct sink s;
    sink_init(&s, e, 40000);
    struct knit_sim_link_config c = {
        .delay_us = 3000,
        .jitter_us = 2000,
        .loss = 0.1,
        .duplicate = 0.05,
        .reorder = true,
        .rate_bps = 2000000,
        .queue_bytes = 30000,
    };
    struct knit_sim_link *l = link_with(e, &c, seed, &s);
    send_spaced(e, l, 0, 20000, 400, 1000);
    drain(e);
    *st = stats_of(l);
    uint64_t h = s.hash;
    knit_sim_link_free(l);
    sink_done(&s);
    knit_sim_engine_free(e);
    return h;
}

static void test_determinism(void **state)
{
    (void)state;
    struct knit_sim_link_stats a, b, c;
    uint64_t h1 = busy_run(77, &a);
    uint64_t h2 = busy_run(77, &b);
    uint64_t h3 = busy_run(78, &c);
    assert_true(h1 == h2);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(h1 != h3);
    /* The run exercised every path. */
    assert_true(a.lost > 0 && a.duplicated > 0 && a.queue_dropped > 0);
    assert_true(a.delivered == a.sent - a.lost - a.queue_dropped +
                                   a.duplicated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_delay_exact),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_duplication),
        cmocka_unit_test(test_jitter_without_reorder),
        cmocka_unit_test(test_jitter_with_reorder),
        cmocka_unit_test(test_bandwidth_spacing),
        cmocka_unit_test(test_bandwidth_fractional_rate),
        cmocka_unit_test(test_bandwidth_throughput),
        cmocka_unit_test(test_queue_overflow),
        cmocka_unit_test(test_zero_queue),
        cmocka_unit_test(test_lost_packets_use_bottleneck),
        cmocka_unit_test(test_in_flight_cap),
        cmocka_unit_test(test_packet_sizes),
        cmocka_unit_test(test_free_with_packets_in_flight),
        cmocka_unit_test(test_free_from_deliver),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
