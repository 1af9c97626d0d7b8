/* The virtual network's two scenario models (sim/net.h): a delay model of
 * the scenario's own (delay_fn: both directions, ports ignored, the cap,
 * knit_sim_net_delay agreeing) and per-host uplinks (exact serialisation
 * of a burst, the drop-tail queue, rate 0 unlimited, order kept across
 * rate changes and under jitter, against a model of the documented rule,
 * and the hop up to a NAT box). Every test checks that each datagram sent
 * is accounted for, queue drops included. All addresses are virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/nat.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "tests/support/sim_net_fixtures.h"
#include "tests/support/sim_sink_fixtures.h"
#include "transport/error.h"

static void drain(struct knit_sim_engine *e)
{
    knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
}

static void run_to(struct knit_sim_engine *e, uint64_t t)
{
    knit_sim_run_until(e, t, UINT64_MAX);
}

/* The invariant of struct knit_sim_net_stats, queue drops included. */
static void assert_all_accounted(const struct knit_sim_net *n)
{
    struct knit_sim_net_stats st = stats_of(n);
    assert_int_equal(st.sent, st.delivered + st.lost + st.blackholed +
                                  st.dropped + st.queue_dropped +
                                  knit_sim_net_in_flight(n));
}

/* ---- a sink of numbered datagrams -------------------------------------------- */


/* len >= 16 bytes: the id, the send time, then filler. */
static void send_sized(struct knit_sim_net *n, struct knit_sim_engine *e,
                       struct knit_sim_natbox *from_realm,
                       const struct knit_addr *src,
                       const struct knit_addr *dst, uint64_t id, size_t len)
{
    static uint8_t buf[KNIT_SIM_NET_MAX_PACKET];
    assert_true(len >= 16 && len <= sizeof buf);
    put64(buf, id);
    put64(buf + 8, knit_sim_now(e));
    memset(buf + 16, 0xa5, len - 16);
    knit_sim_net_send_from(n, from_realm, src, dst, buf, len);
}

static struct knit_sim_host *add_host(struct knit_sim_net *n,
                                      struct knit_addr addr,
                                      struct knit_sim_natbox *gateway)
{
    struct knit_sim_host_config hc = {.addr = addr, .seed = 40 + addr.ip[3]};
    struct knit_sim_host *h = NULL;
    assert_int_equal(knit_sim_net_add_host_behind(n, &hc, gateway, NULL,
                                                  NULL, &h),
                     0);
    return h;
}

static struct knit_sim_net_host_stats host_stats(struct knit_sim_net *n,
                                                 struct knit_sim_host *h)
{
    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_host_stats(n, h, &hs), 0);
    return hs;
}

/* ---- the delay model ---------------------------------------------------------- */

/* Symmetric in the two IPs and deliberately outside [min, max]; answers
 * `fixed` instead when that is set. Remembers whether it ever saw a port. */
struct model {
    uint64_t calls;
    bool saw_port;
    uint64_t fixed;
};

static uint64_t model_delay(void *ctx, const struct knit_addr *a,
                            const struct knit_addr *b)
{
    struct model *m = ctx;
    m->calls++;
    if (a->port != 0 || b->port != 0)
        m->saw_port = true;
    if (m->fixed)
        return m->fixed;
    return 1000 * (uint64_t)(a->ip[3] + b->ip[3]) + 7;
}

static void test_delay_fn_both_ways(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct model m = {0};
    struct knit_sim_net_config c = {.seed = 2, .min_delay_us = 100 * MS,
                                    .max_delay_us = 200 * MS,
                                    .delay_fn = model_delay, .delay_ctx = &m};
    /* min and max are still checked. */
    struct knit_sim_net *bad = NULL;
    c.min_delay_us = 300 * MS;
    assert_int_equal(knit_sim_net_new(&bad, e, &c), KNIT_E_INVAL);
    c.min_delay_us = 100 * MS;
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, 8);
    struct knit_addr a = host_addr(1), b = host_addr(2), a2 = a;  /* .2 .3 */
    a2.port = 5000;
    assert_int_equal(knit_sim_net_attach(n, &a, sink_recv, &s), 0);
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    assert_int_equal(knit_sim_net_attach(n, &a2, sink_recv, &s), 0);
    const uint64_t want = 1000 * (2 + 3) + 7;

    assert_int_equal(knit_sim_net_delay(n, &a, &b), want);
    assert_int_equal(knit_sim_net_delay(n, &b, &a), want);
    assert_int_equal(knit_sim_net_delay(n, &a2, &b), want);
    run_to(e, 777);
    send_sized(n, e, NULL, &a, &b, 0, 16);
    send_sized(n, e, NULL, &b, &a, 1, 16);
    send_sized(n, e, NULL, &a2, &b, 2, 16);
    send_sized(n, e, NULL, &b, &a2, 3, 16);
    drain(e);
    assert_int_equal(s.n, 4);
    for (size_t k = 0; k < s.n; k++)
        assert_int_equal(s.log[k].at - s.log[k].sent_at, want);
    assert_true(m.calls >= 4 + 3);
    assert_false(m.saw_port);
    assert_all_accounted(n);
    knit_sim_net_free(n);

    /* Jitter still comes on top of the model's delay. */
    c.jitter_us = 2 * MS;
    n = net_with(e, &c);
    s.n = 0;
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    for (uint64_t i = 0; i < 8; i++) {
        send_sized(n, e, NULL, &a, &b, i, 16);
        run_to(e, knit_sim_now(e) + 700);
    }
    drain(e);
    assert_int_equal(s.n, 8);
    for (size_t k = 0; k < s.n; k++) {
        assert_int_equal(s.log[k].id, k);
        uint64_t took = s.log[k].at - s.log[k].sent_at;
        assert_true(took >= want && took <= want + c.jitter_us);
    }
    assert_false(m.saw_port);
    assert_all_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

static void test_delay_fn_cap(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct model m = {.fixed = UINT64_MAX};
    struct knit_sim_net_config c = {.min_delay_us = 1, .max_delay_us = 1,
                                    .delay_fn = model_delay, .delay_ctx = &m};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, 4);
    struct knit_addr a = host_addr(1), b = host_addr(2);
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    assert_int_equal(knit_sim_net_delay(n, &a, &b), KNIT_SIM_NET_MAX_DELAY_US);
    m.fixed = KNIT_SIM_NET_MAX_DELAY_US + 1;
    assert_int_equal(knit_sim_net_delay(n, &a, &b), KNIT_SIM_NET_MAX_DELAY_US);
    m.fixed = KNIT_SIM_NET_MAX_DELAY_US - 1;
    assert_int_equal(knit_sim_net_delay(n, &a, &b),
                     KNIT_SIM_NET_MAX_DELAY_US - 1);

    m.fixed = UINT64_MAX;
    run_to(e, 5 * SECOND);
    send_sized(n, e, NULL, &a, &b, 9, 16);
    drain(e);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.log[0].at, 5 * SECOND + KNIT_SIM_NET_MAX_DELAY_US);
    assert_all_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

/* ---- uplinks ------------------------------------------------------------------ */

/* A host on the Internet, a sink, and a fixed 5 ms path between them. */
struct line {
    struct knit_sim_engine *e;
    struct knit_sim_net *n;
    struct knit_sim_host *h;
    struct knit_addr from, to;
    struct sink s;
};

static void line_new(struct line *l, uint64_t jitter_us, size_t cap)
{
    l->e = engine();
    struct knit_sim_net_config c = {.seed = 9, .min_delay_us = 5 * MS,
                                    .max_delay_us = 5 * MS,
                                    .jitter_us = jitter_us};
    l->n = net_with(l->e, &c);
    l->from = host_addr(1);
    l->to = host_addr(2);
    l->h = add_host(l->n, l->from, NULL);
    sink_init(&l->s, l->e, cap);
    assert_int_equal(knit_sim_net_attach(l->n, &l->to, sink_recv, &l->s), 0);
    run_to(l->e, 1 * SECOND);
    /* An idle node core sends nothing of its own, so the counts below are
     * the test's datagrams alone. */
    assert_int_equal(host_stats(l->n, l->h).tx_packets, 0);
}

static void line_free(struct line *l)
{
    assert_all_accounted(l->n);
    knit_sim_net_free(l->n);
    knit_sim_engine_free(l->e);
    free(l->s.log);
}

static void test_uplink_refusals(void **state)
{
    (void)state;
    struct line l;
    line_new(&l, 0, 1);
    assert_int_equal(knit_sim_net_set_uplink(NULL, l.h, 1, 1), KNIT_E_INVAL);
    assert_int_equal(knit_sim_net_set_uplink(l.n, NULL, 1, 1), KNIT_E_INVAL);
    /* A host of another net, and one removed. */
    struct knit_sim_net_config c = {.min_delay_us = 1, .max_delay_us = 1};
    struct knit_sim_net *other = net_with(l.e, &c);
    struct knit_sim_host *stranger = add_host(other, host_addr(7), NULL);
    assert_int_equal(knit_sim_net_set_uplink(l.n, stranger, 1, 1),
                     KNIT_E_NOT_FOUND);
    struct knit_sim_host *gone = add_host(l.n, host_addr(8), NULL);
    assert_int_equal(knit_sim_net_set_uplink(l.n, gone, 1, 1), 0);
    knit_sim_net_remove_host(l.n, gone);
    assert_int_equal(knit_sim_net_set_uplink(l.n, gone, 1, 1),
                     KNIT_E_NOT_FOUND);
    knit_sim_net_free(other);
    line_free(&l);
}

/* 10 x 1250 bytes at 1 Mbit/s: 10 ms each, so they arrive 10 ms apart, the
 * first after the path delay alone; the queue holds exactly the burst. */
static void test_uplink_burst_exact(void **state)
{
    (void)state;
    struct line l;
    line_new(&l, 0, 16);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 1000000, 12500), 0);
    uint64_t t0 = knit_sim_now(l.e);
    for (uint64_t i = 0; i < 10; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    drain(l.e);
    assert_int_equal(l.s.n, 10);
    for (size_t k = 0; k < 10; k++) {
        assert_int_equal(l.s.log[k].id, k);
        assert_int_equal(l.s.log[k].sent_at, t0);
        assert_int_equal(l.s.log[k].at, t0 + 5 * MS + k * 10 * MS);
        assert_true(knit_addr_equal(&l.s.log[k].src, &l.from));
    }
    struct knit_sim_net_stats st = stats_of(l.n);
    assert_int_equal(st.queue_dropped, 0);
    assert_int_equal(st.delivered, 10);
    struct knit_sim_net_host_stats hs = host_stats(l.n, l.h);
    assert_int_equal(hs.tx_packets, 10);
    assert_int_equal(hs.tx_bytes, 12500);
    assert_int_equal(hs.tx_queue_dropped, 0);

    /* The last one arrived 5 ms after it started out, so the link is busy
     * for another 5 ms. Then, rounding up: 16 bytes at 3 bit/s take
     * 42666666.67 us, so 42666667. */
    assert_int_equal(knit_sim_now(l.e), t0 + 95 * MS);
    run_to(l.e, t0 + 100 * MS);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 3, 100), 0);
    uint64_t t1 = knit_sim_now(l.e);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 100, 16);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 101, 16);
    drain(l.e);
    assert_int_equal(l.s.n, 12);
    assert_int_equal(l.s.log[10].at, t1 + 5 * MS);
    assert_int_equal(l.s.log[11].at, t1 + 5 * MS + (16 * 8000000ull + 2) / 3);
    line_free(&l);
}

/* A queue of 5000 bytes at 1 Mbit/s: four of a burst of ten go, six are
 * dropped and counted; 10 ms later one more fits. A datagram longer than
 * the queue never goes, even on an idle link. */
static void test_uplink_queue_overflow(void **state)
{
    (void)state;
    struct line l;
    line_new(&l, 0, 16);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 1000000, 5000), 0);
    uint64_t t0 = knit_sim_now(l.e);
    for (uint64_t i = 0; i < 10; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    struct knit_sim_net_stats st = stats_of(l.n);
    assert_int_equal(st.sent, 10);
    assert_int_equal(st.queue_dropped, 6);
    assert_int_equal(knit_sim_net_in_flight(l.n), 4);
    assert_all_accounted(l.n);

    run_to(l.e, t0 + 10 * MS);   /* one has gone: 3750 bytes queued */
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 10, 1250);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 11, 1250);
    drain(l.e);
    assert_int_equal(l.s.n, 5);
    const uint64_t ids[5] = {0, 1, 2, 3, 10};
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(l.s.log[k].id, ids[k]);
        assert_int_equal(l.s.log[k].at, t0 + 5 * MS + k * 10 * MS);
    }
    struct knit_sim_net_host_stats hs = host_stats(l.n, l.h);
    assert_int_equal(hs.tx_packets, 12);
    assert_int_equal(hs.tx_queue_dropped, 7);
    assert_int_equal(stats_of(l.n).queue_dropped, 7);

    /* Idle again once the last has gone (it arrived 5 ms after). */
    run_to(l.e, knit_sim_now(l.e) + 5 * MS);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 1000000, 1000), 0);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 20, 1001);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 21, 1000);
    drain(l.e);
    assert_int_equal(l.s.n, 6);
    assert_int_equal(l.s.log[5].id, 21);
    assert_int_equal(stats_of(l.n).queue_dropped, 8);
    line_free(&l);
}

/* No uplink set, or rate 0, is unlimited: a burst arrives all at once,
 * whatever the queue says. Switching the limit off leaves what is queued
 * where it was, and a later datagram does not overtake it; switching it
 * on again starts from there. */
static void test_uplink_unlimited_and_order(void **state)
{
    (void)state;
    struct line l;
    line_new(&l, 0, 64);
    uint64_t t0 = knit_sim_now(l.e);
    for (uint64_t i = 0; i < 10; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    drain(l.e);
    assert_int_equal(l.s.n, 10);
    for (size_t k = 0; k < 10; k++)
        assert_int_equal(l.s.log[k].at, t0 + 5 * MS);

    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 0, 0), 0);
    uint64_t t1 = knit_sim_now(l.e);
    for (uint64_t i = 10; i < 20; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    drain(l.e);
    assert_int_equal(l.s.n, 20);
    for (size_t k = 10; k < 20; k++)
        assert_int_equal(l.s.log[k].at, t1 + 5 * MS);

    /* Five queued at 1 Mbit/s (leaving at +0..+40 ms, the link busy until
     * +50 ms), then the limit comes off. */
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 1000000, 100000), 0);
    uint64_t t2 = knit_sim_now(l.e);
    for (uint64_t i = 20; i < 25; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 0, 0), 0);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 25, 1250);
    run_to(l.e, t2 + 60 * MS);
    send_sized(l.n, l.e, NULL, &l.from, &l.to, 26, 1250);
    /* On again at 10 Mbit/s: 1 ms per datagram. */
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, 10000000, 100000), 0);
    for (uint64_t i = 27; i < 30; i++)
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, 1250);
    drain(l.e);
    assert_int_equal(l.s.n, 30);
    const uint64_t want[10] = {0, 10, 20, 30, 40, 50, 60, 60, 61, 62};
    for (size_t k = 0; k < 10; k++) {
        assert_int_equal(l.s.log[20 + k].id, 20 + k);
        assert_int_equal(l.s.log[20 + k].at, t2 + 5 * MS + want[k] * MS);
    }
    assert_int_equal(stats_of(l.n).queue_dropped, 0);
    line_free(&l);
}

/* Random sizes and gaps against the documented rule, computed here: who
 * is dropped, and when each of the rest leaves. Without jitter each
 * arrives exactly at its leave time plus the path delay; with jitter,
 * within jitter_us of that and never out of order. */
static void uplink_against_model(uint64_t jitter_us)
{
    enum { COUNT = 3000 };
    const uint64_t rate = 3000000;   /* 8/3 us per byte: rounding matters */
    const uint32_t queue = 6000;
    struct line l;
    line_new(&l, jitter_us, COUNT);
    assert_int_equal(knit_sim_net_set_uplink(l.n, l.h, rate, queue), 0);
    uint64_t *leave = calloc(COUNT, sizeof *leave);
    bool *kept = calloc(COUNT, sizeof *kept);
    assert_non_null(leave);
    assert_non_null(kept);
    struct knit_rng rng;
    knit_rng_seed(&rng, 77);
    uint64_t busy = 0, dropped = 0;
    for (uint64_t i = 0; i < COUNT; i++) {
        size_t len = 16 + (size_t)knit_rng_below(&rng, 1485);
        uint64_t now = knit_sim_now(l.e);
        uint64_t start = busy > now ? busy : now;
        uint64_t backlog = (start - now) * rate / 8000000;
        kept[i] = backlog + len <= queue;
        if (kept[i]) {
            leave[i] = start;
            busy = start + (len * 8000000 + rate - 1) / rate;
        } else {
            dropped++;
        }
        send_sized(l.n, l.e, NULL, &l.from, &l.to, i, len);
        /* Bursts, then gaps of up to 14 ms: about 1.75 ms a datagram
         * against 2 ms of link for the average one, so the queue both
         * fills and empties. */
        if (knit_rng_below(&rng, 4) == 0)
            run_to(l.e, now + knit_rng_below(&rng, 14 * MS));
    }
    drain(l.e);
    assert_true(dropped > COUNT / 20);
    assert_true(dropped < COUNT / 2);
    assert_int_equal(stats_of(l.n).queue_dropped, dropped);
    assert_int_equal(host_stats(l.n, l.h).tx_queue_dropped, dropped);
    assert_int_equal(l.s.n, COUNT - dropped);
    uint64_t prev = 0;
    for (size_t k = 0; k < l.s.n; k++) {
        uint64_t id = l.s.log[k].id;
        assert_true(kept[id]);
        assert_true(k == 0 || id > prev);
        prev = id;
        uint64_t base = leave[id] + 5 * MS;
        if (jitter_us == 0)
            assert_int_equal(l.s.log[k].at, base);
        else
            assert_true(l.s.log[k].at >= base &&
                        l.s.log[k].at <= base + jitter_us);
    }
    free(leave);
    free(kept);
    line_free(&l);
}

static void test_uplink_model_exact(void **state)
{
    (void)state;
    uplink_against_model(0);
}

static void test_uplink_model_jitter(void **state)
{
    (void)state;
    uplink_against_model(3 * MS);
}

/* ---- behind a NAT box --------------------------------------------------------- */

#define HOME addr4(198, 51, 100, 1, 0)
#define PRIV addr4(192, 168, 1, 2, 4001)

struct home {
    struct knit_sim_engine *e;
    struct knit_sim_net *n;
    struct knit_sim_natbox *box;
    struct knit_sim_host *h;
    struct knit_addr priv, to;
    struct sink s;
};

static void home_new(struct home *w)
{
    w->e = engine();
    struct knit_sim_net_config c = {.seed = 4, .min_delay_us = 7 * MS,
                                    .max_delay_us = 7 * MS};
    w->n = net_with(w->e, &c);
    struct knit_sim_nat_config nc;
    memset(&nc, 0, sizeof nc);
    nc.public_ip = HOME;
    nc.mapping = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
    nc.filtering = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
    nc.allocation = KNIT_SIM_PORT_PRESERVING;
    assert_int_equal(knit_sim_natbox_new(&w->box, w->n, w->e, &nc, NULL,
                                         2 * MS),
                     0);
    w->priv = PRIV;
    w->h = add_host(w->n, w->priv, w->box);
    w->to = host_addr(2);
    sink_init(&w->s, w->e, 16);
    assert_int_equal(knit_sim_net_attach(w->n, &w->to, sink_recv, &w->s), 0);
}

static void home_free(struct home *w)
{
    assert_all_accounted(w->n);
    knit_sim_net_free(w->n);
    knit_sim_natbox_free(w->box);
    knit_sim_engine_free(w->e);
    free(w->s.log);
}

/* The private host's uplink paces the hop up to its box; the box then
 * forwards each at once, onto the Internet. */
static void test_uplink_behind_box(void **state)
{
    (void)state;
    struct home w;
    home_new(&w);
    assert_int_equal(knit_sim_net_set_uplink(w.n, w.h, 1000000, 12500), 0);
    run_to(w.e, SECOND);
    uint64_t t0 = knit_sim_now(w.e);
    for (uint64_t i = 0; i < 11; i++)
        send_sized(w.n, w.e, w.box, &w.priv, &w.to, i, 1250);
    drain(w.e);
    assert_int_equal(w.s.n, 10);
    struct knit_addr mapped = addr4(198, 51, 100, 1, 4001);
    for (size_t k = 0; k < 10; k++) {
        assert_int_equal(w.s.log[k].id, k);
        assert_true(knit_addr_equal(&w.s.log[k].src, &mapped));
        assert_int_equal(w.s.log[k].at, t0 + 2 * MS + 7 * MS + k * 10 * MS);
    }
    struct knit_sim_net_stats st = stats_of(w.n);
    assert_int_equal(st.queue_dropped, 1);
    assert_int_equal(st.sent, 11 + 10);   /* the hop up, then the Internet */
    struct knit_sim_net_host_stats hs = host_stats(w.n, w.h);
    assert_int_equal(hs.tx_packets, 11);
    assert_int_equal(hs.tx_queue_dropped, 1);
    /* The box's own side does not queue. */
    struct knit_addr home = HOME;
    assert_int_equal(knit_sim_net_addr_stats(w.n, &home, &hs), 0);
    assert_int_equal(hs.tx_packets, 10);
    assert_int_equal(hs.tx_queue_dropped, 0);
    home_free(&w);
}

/* The node core's own datagrams queue too: with a queue smaller than its
 * first handshake datagram nothing it sends gets out of its home; with the
 * limit off again its retries reach the public host. */
static void test_uplink_holds_node_traffic(void **state)
{
    (void)state;
    struct home w;
    home_new(&w);
    struct knit_addr pub = addr4(203, 0, 113, 10, 4001);
    struct knit_sim_host *p = add_host(w.n, pub, NULL);
    assert_int_equal(knit_sim_net_set_uplink(w.n, w.h, 1000000, 8), 0);
    assert_int_equal(knit_node_connect(knit_sim_host_node(w.h),
                                       knit_sim_host_id(p), &pub,
                                       knit_sim_now(w.e)),
                     0);
    knit_sim_host_rearm(w.h);
    run_to(w.e, 2 * SECOND);
    struct knit_sim_net_host_stats hs = host_stats(w.n, w.h);
    assert_true(hs.tx_packets > 0);
    assert_int_equal(hs.tx_queue_dropped, hs.tx_packets);
    assert_int_equal(host_stats(w.n, p).rx_packets, 0);
    struct knit_sim_nat_stats ns;
    knit_sim_nat_get_stats(knit_sim_natbox_nat(w.box), &ns);
    assert_int_equal(ns.forwarded_out, 0);

    assert_int_equal(knit_sim_net_set_uplink(w.n, w.h, 0, 0), 0);
    run_to(w.e, 30 * SECOND);
    assert_true(host_stats(w.n, p).rx_packets > 0);
    knit_sim_nat_get_stats(knit_sim_natbox_nat(w.box), &ns);
    assert_true(ns.forwarded_out > 0);
    assert_int_equal(host_stats(w.n, w.h).tx_queue_dropped,
                     hs.tx_queue_dropped);
    home_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_fn_both_ways),
        cmocka_unit_test(test_delay_fn_cap),
        cmocka_unit_test(test_uplink_refusals),
        cmocka_unit_test(test_uplink_burst_exact),
        cmocka_unit_test(test_uplink_queue_overflow),
        cmocka_unit_test(test_uplink_unlimited_and_order),
        cmocka_unit_test(test_uplink_model_exact),
        cmocka_unit_test(test_uplink_model_jitter),
        cmocka_unit_test(test_uplink_behind_box),
        cmocka_unit_test(test_uplink_holds_node_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
