/* The virtual network (sim/net.h) between raw endpoints: its refusals,
 * routing by address, delay per pair, jitter that keeps order, loss,
 * the address table under churn, and blackholing. Real node cores on the
 * network are in test_net_hosts.c. All addresses are virtual. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/engine.h"
#include "sim/host.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "tests/support/sim_net_fixtures.h"
#include "tests/support/sim_sink_fixtures.h"
#include "transport/error.h"

static void drain(struct knit_sim_engine *e)
{
    knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
}

/* ---- raw endpoints ------------------------------------------------------------ */

/* Every datagram here is numbered (tests/support/sim_sink_fixtures.h) and
 * 16 bytes long. */
static void send_numbered(struct knit_sim_net *n, struct knit_sim_engine *e,
                          const struct knit_addr *src,
                          const struct knit_addr *dst, uint64_t id)
{
    uint8_t buf[16];
    put64(buf, id);
    put64(buf + 8, knit_sim_now(e));
    knit_sim_net_send(n, src, dst, buf, sizeof buf);
}

static void test_new_rejects(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct knit_sim_net *n = (struct knit_sim_net *)&n;
    struct knit_sim_net_config c = {.min_delay_us = 10, .max_delay_us = 20};
    assert_int_equal(knit_sim_net_new(NULL, e, &c), KNIT_E_INVAL);
    assert_int_equal(knit_sim_net_new(&n, NULL, &c), KNIT_E_INVAL);
    assert_null(n);
    assert_int_equal(knit_sim_net_new(&n, e, NULL), KNIT_E_INVAL);
    c.min_delay_us = 21;
    assert_int_equal(knit_sim_net_new(&n, e, &c), KNIT_E_INVAL);
    c.min_delay_us = 10;
    c.loss = 1.5;
    assert_int_equal(knit_sim_net_new(&n, e, &c), KNIT_E_INVAL);
    c.loss = NAN;
    assert_int_equal(knit_sim_net_new(&n, e, &c), KNIT_E_INVAL);
    c.loss = 0;
    c.jitter_us = KNIT_SIM_NET_MAX_JITTER_US + 1;
    assert_int_equal(knit_sim_net_new(&n, e, &c), KNIT_E_INVAL);
    c.jitter_us = KNIT_SIM_NET_MAX_JITTER_US;
    n = net_with(e, &c);

    struct sink s;
    sink_init(&s, e, 4);
    s.want_len = 16;
    struct knit_addr a = host_addr(0), bad = a;
    bad.family = 0;
    assert_int_equal(knit_sim_net_attach(n, &bad, sink_recv, &s),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_net_attach(n, &a, NULL, &s), KNIT_E_INVAL);
    assert_int_equal(knit_sim_net_attach(n, &a, sink_recv, &s), 0);
    assert_int_equal(knit_sim_net_attach(n, &a, sink_recv, &s),
                     KNIT_E_EXISTS);
    struct knit_sim_host_config hc = {.addr = a, .seed = 1};
    struct knit_sim_host *h = (struct knit_sim_host *)&h;
    assert_int_equal(knit_sim_net_add_host(n, &hc, NULL, NULL, &h),
                     KNIT_E_EXISTS);
    assert_null(h);
    hc.addr = bad;
    assert_int_equal(knit_sim_net_add_host(n, &hc, NULL, NULL, &h),
                     KNIT_E_INVAL);
    /* Same IP, another port: another endpoint. */
    hc.addr = a;
    hc.addr.port = 4002;
    assert_int_equal(knit_sim_net_add_host(n, &hc, NULL, NULL, &h), 0);
    assert_ptr_equal(knit_sim_net_find_host(n, &hc.addr), h);
    assert_null(knit_sim_net_find_host(n, &a));   /* raw, not a host */
    assert_int_equal(knit_sim_net_count(n), 2);
    assert_int_equal(knit_sim_net_detach(n, &bad), KNIT_E_NOT_FOUND);

    /* Oversized and NULL payloads are refused, and counted. */
    static uint8_t big[KNIT_SIM_NET_MAX_PACKET + 1];
    knit_sim_net_send(n, &hc.addr, &a, big, sizeof big);
    knit_sim_net_send(n, &hc.addr, &a, NULL, 3);
    assert_int_equal(stats_of(n).dropped, 2);
    assert_accounted(n);

    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

/* Every endpoint sends one datagram to every other: without jitter each
 * takes exactly its pair's delay, the same both ways, within bounds. */
static void test_delay_per_pair(void **state)
{
    (void)state;
    enum { N = 40 };
    struct knit_sim_engine *e = engine();
    struct knit_sim_net_config c = {.seed = 7, .min_delay_us = 10 * MS,
                                    .max_delay_us = 50 * MS};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, N * N);
    s.want_len = 16;
    struct knit_addr a[N];
    for (int i = 0; i < N; i++) {
        a[i] = host_addr(i * 7);
        assert_int_equal(knit_sim_net_attach(n, &a[i], sink_recv, &s), 0);
    }
    assert_int_equal(knit_sim_net_count(n), N);
    knit_sim_run_until(e, 123, UINT64_MAX);   /* not at time 0 */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j)
                send_numbered(n, e, &a[i], &a[j], (uint64_t)(i * N + j));
    drain(e);
    assert_int_equal(s.n, N * (N - 1));

    uint64_t took[N][N] = {{0}};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t k = 0; k < s.n; k++) {
        int i = (int)(s.log[k].id / N), j = (int)(s.log[k].id % N);
        assert_true(knit_addr_equal(&s.log[k].src, &a[i]));
        assert_true(knit_addr_equal(&s.log[k].dst, &a[j]));
        assert_int_equal(s.log[k].sent_at, 123);
        took[i][j] = s.log[k].at - s.log[k].sent_at;
        assert_int_equal(took[i][j], knit_sim_net_delay(n, &a[i], &a[j]));
        assert_true(took[i][j] >= c.min_delay_us);
        assert_true(took[i][j] <= c.max_delay_us);
        lo = took[i][j] < lo ? took[i][j] : lo;
        hi = took[i][j] > hi ? took[i][j] : hi;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j)
                assert_int_equal(took[i][j], took[j][i]);
    /* 780 pairs drawn uniformly from 40 ms: they spread over most of it. */
    assert_true(lo < c.min_delay_us + 2 * MS);
    assert_true(hi > c.max_delay_us - 2 * MS);

    /* The delay belongs to the IPs: another port, the same path. */
    struct knit_addr other_port = a[1];
    other_port.port = 9;
    assert_int_equal(knit_sim_net_delay(n, &a[0], &other_port),
                     knit_sim_net_delay(n, &a[0], &a[1]));
    /* min == max pins every pair. */
    struct knit_sim_net_config fixed = {.min_delay_us = 5, .max_delay_us = 5};
    struct knit_sim_net *f = net_with(e, &fixed);
    assert_int_equal(knit_sim_net_delay(f, &a[0], &a[1]), 5);
    knit_sim_net_free(f);

    struct knit_sim_net_host_stats hs;
    assert_int_equal(knit_sim_net_addr_stats(n, &a[3], &hs), 0);
    assert_int_equal(hs.tx_packets, N - 1);
    assert_int_equal(hs.rx_packets, N - 1);
    assert_int_equal(hs.rx_bytes, 16 * (N - 1));
    assert_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

/* A stream of datagrams on one pair under jitter: each arrives within
 * [delay, delay + jitter], none overtakes an earlier one, and the jitter
 * does move. */
static void test_jitter_keeps_order(void **state)
{
    (void)state;
    enum { COUNT = 4000 };
    struct knit_sim_engine *e = engine();
    struct knit_sim_net_config c = {.seed = 3, .min_delay_us = 20 * MS,
                                    .max_delay_us = 40 * MS,
                                    .jitter_us = 5 * MS};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, 2 * COUNT);
    s.want_len = 16;
    struct knit_addr a = host_addr(1), b = host_addr(2), a2 = a;
    a2.port = 5000;
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    uint64_t base = knit_sim_net_delay(n, &a, &b);
    /* Bursts of three and gaps, from two ports of one IP. */
    for (uint64_t i = 0; i < COUNT; i++) {
        send_numbered(n, e, i % 2 ? &a : &a2, &b, i);
        if (i % 3 == 2)
            knit_sim_run_until(e, knit_sim_now(e) + 1 + i % 97, UINT64_MAX);
    }
    drain(e);
    assert_int_equal(s.n, COUNT);
    uint64_t jlo = UINT64_MAX, jhi = 0, changes = 0, prev_j = 0;
    for (size_t k = 0; k < s.n; k++) {
        assert_int_equal(s.log[k].id, k);
        uint64_t j = s.log[k].at - s.log[k].sent_at - base;
        assert_true(s.log[k].at - s.log[k].sent_at >= base);
        assert_true(j <= c.jitter_us);
        jlo = j < jlo ? j : jlo;
        jhi = j > jhi ? j : jhi;
        changes += k > 0 && j != prev_j;
        prev_j = j;
    }
    assert_true(jhi - jlo > c.jitter_us / 4);
    assert_true(changes > COUNT / 4);
    assert_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

static void test_loss_rate(void **state)
{
    (void)state;
    enum { COUNT = 20000 };
    const double rates[] = {0.0, 0.2, 1.0};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        struct knit_sim_engine *e = engine();
        struct knit_sim_net_config c = {.seed = 11, .min_delay_us = MS,
                                        .max_delay_us = 2 * MS,
                                        .jitter_us = 100, .loss = rates[r]};
        struct knit_sim_net *n = net_with(e, &c);
        struct sink s;
        sink_init(&s, e, COUNT);
        s.want_len = 16;
        struct knit_addr a = host_addr(1), b = host_addr(2);
        assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
        for (uint64_t i = 0; i < COUNT; i++)
            send_numbered(n, e, &a, &b, i);
        assert_true(knit_sim_net_in_flight(n) > 0 || rates[r] == 1.0);
        drain(e);
        assert_int_equal(knit_sim_net_in_flight(n), 0);
        struct knit_sim_net_stats st = stats_of(n);
        assert_int_equal(st.sent, COUNT);
        assert_int_equal(st.delivered, s.n);
        assert_int_equal(st.bytes_sent, 16 * COUNT);
        assert_int_equal(st.bytes_delivered, 16 * s.n);
        /* Five standard deviations: sqrt(20000 * 0.2 * 0.8) is about 57. */
        double expect = COUNT * rates[r];
        double sd = sqrt(COUNT * rates[r] * (1 - rates[r]));
        assert_true(fabs((double)st.lost - expect) <= 5 * sd);
        assert_accounted(n);
        knit_sim_net_free(n);
        knit_sim_engine_free(e);
        free(s.log);
    }
}

/* The address table under churn: thousands of endpoints, IPv4 and IPv6,
 * attached and detached at random; every address is found exactly when it
 * should be. */
static void test_table_churn(void **state)
{
    (void)state;
    enum { N = 3000, ROUNDS = 20 };
    struct knit_sim_engine *e = engine();
    struct knit_sim_net_config c = {.min_delay_us = 1, .max_delay_us = 1};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, 1);
    s.want_len = 16;
    struct knit_addr *a = calloc(N, sizeof *a);
    bool *on = calloc(N, sizeof *on);
    assert_non_null(a);
    assert_non_null(on);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 2) {
            uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8};
            ip6[14] = (uint8_t)(i >> 8);
            ip6[15] = (uint8_t)i;
            assert_int_equal(knit_addr_set(&a[i], ip6, 16, 4001), 0);
        } else {
            /* Few IPs, many ports: clusters of near-identical keys. */
            a[i] = addr4(10, 1, 0, (uint8_t)(i % 7), (uint16_t)(1000 + i));
        }
    }
    struct knit_rng rng;
    knit_rng_seed(&rng, 1);
    size_t count = 0;
    struct knit_sim_net_host_stats hs;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < N; k++) {
            int i = (int)knit_rng_below(&rng, N);
            if (on[i]) {
                assert_int_equal(knit_sim_net_detach(n, &a[i]), 0);
                count--;
            } else {
                assert_int_equal(knit_sim_net_attach(n, &a[i], sink_recv,
                                                     &s),
                                 0);
                count++;
            }
            on[i] = !on[i];
        }
        knit_sim_run_until(e, knit_sim_now(e) + 1, UINT64_MAX);  /* reap */
        assert_int_equal(knit_sim_net_count(n), count);
        for (int i = 0; i < N; i++)
            assert_int_equal(knit_sim_net_addr_stats(n, &a[i], &hs),
                             on[i] ? 0 : KNIT_E_NOT_FOUND);
    }
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(a);
    free(on);
    free(s.log);
}

/* ---- blackholing and removal ----------------------------------------------------- */

static void test_blackhole_raw(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct knit_sim_net_config c = {.seed = 5, .min_delay_us = 10 * MS,
                                    .max_delay_us = 10 * MS};
    struct knit_sim_net *n = net_with(e, &c);
    struct sink s;
    sink_init(&s, e, 64);
    s.want_len = 16;
    struct knit_addr a = host_addr(1), b = host_addr(2);
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);

    /* Nobody at the address: gone at once, nothing scheduled. */
    send_numbered(n, e, &b, &a, 0);
    assert_int_equal(stats_of(n).blackholed, 1);
    assert_int_equal(knit_sim_net_in_flight(n), 0);

    /* In flight when the receiver leaves: gone on arrival. */
    for (uint64_t i = 0; i < 10; i++)
        send_numbered(n, e, &a, &b, i);
    knit_sim_run_until(e, 5 * MS, UINT64_MAX);
    assert_int_equal(knit_sim_net_detach(n, &b), 0);
    assert_int_equal(knit_sim_net_detach(n, &b), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_sim_net_count(n), 0);
    drain(e);
    assert_int_equal(s.n, 0);
    assert_int_equal(stats_of(n).blackholed, 11);

    /* Back at the same address, it receives again; datagrams sent before it
     * left but arriving after it returned reach the newcomer. */
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    send_numbered(n, e, &a, &b, 100);
    knit_sim_run_until(e, knit_sim_now(e) + MS, UINT64_MAX);
    assert_int_equal(knit_sim_net_detach(n, &b), 0);
    assert_int_equal(knit_sim_net_attach(n, &b, sink_recv, &s), 0);
    drain(e);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.log[0].id, 100);
    assert_int_equal(stats_of(n).delivered, 1);
    assert_accounted(n);
    knit_sim_net_free(n);
    knit_sim_engine_free(e);
    free(s.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_delay_per_pair),
        cmocka_unit_test(test_jitter_keeps_order),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_table_churn),
        cmocka_unit_test(test_blackhole_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
