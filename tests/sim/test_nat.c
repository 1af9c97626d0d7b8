/* The NAT model (sim/nat.h) on its own, one RFC 4787 behaviour per test:
 * mapping, filtering, port allocation, timeouts and refresh, expiry, and
 * the refusals. Several hosts behind one NAT, hairpinning, port exhaustion
 * and NAT behind NAT are in test_nat_chain.c. All addresses are virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/record.h"
#include "sim/nat.h"
#include "tests/support/sim_net_fixtures.h"
#include "transport/error.h"

#define TIMEOUT (10 * SECOND)

static struct knit_sim_nat_config config(uint8_t mapping, uint8_t filtering)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = addr4(203, 0, 113, 1, 0);
    c.mapping = mapping;
    c.filtering = filtering;
    c.allocation = KNIT_SIM_PORT_SEQUENTIAL;
    c.mapping_timeout_us = TIMEOUT;
    return c;
}

static struct knit_sim_nat *nat_with(const struct knit_sim_nat_config *c)
{
    struct knit_sim_nat *n = NULL;
    assert_int_equal(knit_sim_nat_new(&n, c), 0);
    assert_non_null(n);
    return n;
}

static struct knit_sim_nat_stats nat_stats(const struct knit_sim_nat *n)
{
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(n, &st);
    return st;
}

/* Sends src -> dst out through the NAT, which must forward it; returns the
 * public port it went out from. */
static uint16_t out(struct knit_sim_nat *n, uint64_t now,
                    struct knit_addr src, struct knit_addr dst)
{
    struct knit_addr osrc, odst;
    assert_int_equal(knit_sim_nat_outbound(n, now, &src, &dst, &osrc, &odst),
                     KNIT_SIM_NAT_FORWARD);
    assert_true(knit_addr_equal(&odst, &dst));
    struct knit_addr pub = addr4(203, 0, 113, 1, osrc.port);
    assert_true(knit_addr_equal(&osrc, &pub));
    return osrc.port;
}

/* Whether a datagram from src to the NAT's public port reaches priv. */
static bool in(struct knit_sim_nat *n, uint64_t now, struct knit_addr src,
               uint16_t port, struct knit_addr priv)
{
    struct knit_addr dst = addr4(203, 0, 113, 1, port), odst;
    if (knit_sim_nat_inbound(n, now, &src, &dst, &odst) != KNIT_SIM_NAT_FORWARD)
        return false;
    assert_true(knit_addr_equal(&odst, &priv));
    return true;
}

static const uint8_t EIM = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
static const uint8_t ADM = KNIT_MAPPING_ADDRESS_DEPENDENT;
static const uint8_t APDM = KNIT_MAPPING_ADDRESS_PORT_DEPENDENT;
static const uint8_t EIF = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
static const uint8_t ADF = KNIT_FILTERING_ADDRESS_DEPENDENT;
static const uint8_t APDF = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;

/* The host and three destinations: Y1:y1, Y1:y2 (same IP, other port),
 * Y2:y1 (other IP). */
#define HOST addr4(10, 0, 0, 1, 4000)
#define Y1P1 addr4(198, 51, 100, 1, 7000)
#define Y1P2 addr4(198, 51, 100, 1, 7001)
#define Y2P1 addr4(198, 51, 100, 2, 7000)

/* ---- configuration -------------------------------------------------------------- */

static void test_new_rejects_bad_config(void **state)
{
    (void)state;
    struct knit_sim_nat *n = NULL;
    struct knit_sim_nat_config c = config(EIM, EIF);
    assert_int_equal(knit_sim_nat_new(NULL, &c), KNIT_E_INVAL);
    assert_int_equal(knit_sim_nat_new(&n, NULL), KNIT_E_INVAL);

    struct knit_sim_nat_config bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = c;
    bad[0].public_ip.family = KNIT_AF_IP6;
    bad[1].mapping = KNIT_MAPPING_UNKNOWN;
    bad[2].mapping = 4;
    bad[3].filtering = KNIT_FILTERING_UNKNOWN;
    bad[4].filtering = 4;
    bad[5].allocation = 3;
    bad[6].port_max = 2000;             /* port_min 0 alone */
    bad[7].port_min = 3000;
    bad[7].port_max = 2999;
    for (int i = 0; i < 8; i++) {
        n = (struct knit_sim_nat *)&c;  /* must be cleared */
        assert_int_equal(knit_sim_nat_new(&n, &bad[i]), KNIT_E_INVAL);
        assert_null(n);
    }
    knit_sim_nat_free(NULL);
}

/* Zero means 1024..65535, 120 s and port preservation (allocation 0). */
static void test_defaults(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    c.allocation = KNIT_SIM_PORT_PRESERVING;
    c.mapping_timeout_us = 0;
    struct knit_sim_nat *n = nat_with(&c);
    assert_int_equal(knit_sim_nat_next_expiry(n), KNIT_NO_DEADLINE);
    assert_int_equal(out(n, 5, addr4(10, 0, 0, 1, 80), Y1P1), 1024);
    assert_int_equal(out(n, 5, addr4(10, 0, 0, 1, 65535), Y1P1), 65535);
    assert_int_equal(knit_sim_nat_next_expiry(n), 5 + 120 * SECOND);
    knit_sim_nat_free(n);
}

/* Only IPv4 is translated, and only datagrams to its own IP come in. */
static void test_invalid_datagrams_dropped(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    struct knit_addr v6 = HOST, osrc, odst, other = addr4(203, 0, 113, 2, p);
    v6.family = KNIT_AF_IP6;
    struct knit_addr h = HOST, y = Y1P1;
    assert_int_equal(knit_sim_nat_outbound(n, 1, &v6, &y, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(knit_sim_nat_outbound(n, 1, &h, &v6, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(knit_sim_nat_inbound(n, 1, &y, &other, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(knit_sim_nat_outbound(n, 1, &h, &y, NULL, &odst),
                     KNIT_SIM_NAT_DROP);
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.dropped_invalid, 3);
    assert_int_equal(st.forwarded_out, 1);
    assert_int_equal(st.mappings_created, 1);
    knit_sim_nat_free(n);
}

/* ---- mapping behaviour ----------------------------------------------------------- */

static void test_mapping_endpoint_independent(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    assert_int_equal(out(n, 1, HOST, Y1P2), p);
    assert_int_equal(out(n, 2, HOST, Y2P1), p);
    assert_int_equal(out(n, 3, HOST, Y1P1), p);
    assert_int_equal(nat_stats(n).mappings_created, 1);
    /* Another private port of the same host is another endpoint. */
    assert_int_not_equal(out(n, 4, addr4(10, 0, 0, 1, 4001), Y1P1), p);
    knit_sim_nat_free(n);
}

static void test_mapping_address_dependent(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(ADM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    assert_int_equal(out(n, 1, HOST, Y1P2), p);
    uint16_t q = out(n, 2, HOST, Y2P1);
    assert_int_not_equal(q, p);
    assert_int_equal(out(n, 3, HOST, Y1P1), p);
    assert_int_equal(out(n, 4, HOST, Y2P1), q);
    assert_int_equal(nat_stats(n).mappings_created, 2);
    knit_sim_nat_free(n);
}

static void test_mapping_address_port_dependent(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(APDM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    uint16_t q = out(n, 1, HOST, Y1P2);
    uint16_t r = out(n, 2, HOST, Y2P1);
    assert_int_not_equal(p, q);
    assert_int_not_equal(p, r);
    assert_int_not_equal(q, r);
    assert_int_equal(out(n, 3, HOST, Y1P1), p);
    assert_int_equal(out(n, 4, HOST, Y1P2), q);
    assert_int_equal(nat_stats(n).mappings_created, 3);
    knit_sim_nat_free(n);
}

/* ---- filtering behaviour ---------------------------------------------------------- */

/* After the host sent to Y1:y1 only: from Y1:y1, Y1:y2 and Y2:y1. */
static void filtering_case(uint8_t filtering, bool same_ip_other_port,
                           bool other_ip)
{
    struct knit_sim_nat_config c = config(EIM, filtering);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    assert_true(in(n, 1, Y1P1, p, HOST));
    assert_int_equal(in(n, 2, Y1P2, p, HOST), same_ip_other_port);
    assert_int_equal(in(n, 3, Y2P1, p, HOST), other_ip);
    /* No mapping at another port, whatever the filter. */
    assert_false(in(n, 4, Y1P1, (uint16_t)(p + 1), HOST));
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.dropped_no_mapping, 1);
    assert_int_equal(st.dropped_filtered, !same_ip_other_port + !other_ip);
    assert_int_equal(st.forwarded_in, 1 + same_ip_other_port + other_ip);
    knit_sim_nat_free(n);
}

static void test_filtering_endpoint_independent(void **state)
{
    (void)state;
    filtering_case(EIF, true, true);
}

static void test_filtering_address_dependent(void **state)
{
    (void)state;
    filtering_case(ADF, true, false);
}

static void test_filtering_address_port_dependent(void **state)
{
    (void)state;
    filtering_case(APDF, false, false);
}

/* Filtering looks at what was sent through this mapping, not by the host:
 * under APDM each destination has its own mapping, and Y2 may not come in
 * through the mapping made for Y1 even under ADF. */
static void test_filtering_per_mapping(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(APDM, ADF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    uint16_t q = out(n, 1, HOST, Y2P1);
    assert_true(in(n, 2, Y1P2, p, HOST));
    assert_false(in(n, 3, Y2P1, p, HOST));
    assert_true(in(n, 4, Y2P1, q, HOST));
    knit_sim_nat_free(n);
}

/* Past KNIT_SIM_NAT_MAX_REMOTES, the remote sent to longest ago is
 * forgotten and filtered. */
static void test_filtering_remote_cap(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, APDF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = 0;
    for (int i = 0; i <= KNIT_SIM_NAT_MAX_REMOTES; i++)
        p = out(n, (uint64_t)i, HOST, addr4(198, 51, 100, (uint8_t)(i + 1), 7000));
    uint64_t t = 1000;
    assert_false(in(n, t, addr4(198, 51, 100, 1, 7000), p, HOST));
    for (int i = 1; i <= KNIT_SIM_NAT_MAX_REMOTES; i++)
        assert_true(in(n, t, addr4(198, 51, 100, (uint8_t)(i + 1), 7000), p,
                       HOST));
    /* Sending again brings it back, evicting the next oldest. */
    out(n, t, HOST, addr4(198, 51, 100, 1, 7000));
    assert_true(in(n, t, addr4(198, 51, 100, 1, 7000), p, HOST));
    assert_false(in(n, t, addr4(198, 51, 100, 2, 7000), p, HOST));
    knit_sim_nat_free(n);
}

/* ---- port allocation --------------------------------------------------------------- */

static void test_port_preserving(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    c.allocation = KNIT_SIM_PORT_PRESERVING;
    c.port_min = 4000;
    c.port_max = 4999;
    struct knit_sim_nat *n = nat_with(&c);
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 1, 4500), Y1P1), 4500);
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 1, 4999), Y1P1), 4999);
    /* Taken by another host: the next free one above, wrapping. */
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 2, 4500), Y1P1), 4501);
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 3, 4500), Y1P1), 4502);
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 2, 4999), Y1P1), 4000);
    /* Out of range: from the bottom of the range. */
    assert_int_equal(out(n, 0, addr4(10, 0, 0, 1, 80), Y1P1), 4001);
    /* A port freed by expiry is preserved again. */
    assert_int_equal(out(n, TIMEOUT, addr4(10, 0, 0, 3, 4500), Y1P1), 4500);
    knit_sim_nat_free(n);
}

static void test_port_sequential(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(APDM, EIF);
    c.port_min = 6000;
    c.port_max = 6004;
    struct knit_sim_nat *n = nat_with(&c);
    for (int i = 0; i < 5; i++)
        assert_int_equal(out(n, 0, HOST, addr4(198, 51, 100, 1, (uint16_t)i)),
                         6000 + i);
    /* Free two (6001 and 6003 expire; the others are refreshed), then the
     * cursor wraps past the ones still taken. */
    for (int i = 0; i < 5; i += 2)
        out(n, SECOND, HOST, addr4(198, 51, 100, 1, (uint16_t)i));
    assert_int_equal(knit_sim_nat_expire(n, TIMEOUT), 2);
    assert_int_equal(out(n, TIMEOUT, HOST, Y1P1), 6001);
    assert_int_equal(out(n, TIMEOUT, HOST, Y1P2), 6003);
    knit_sim_nat_free(n);
}

static void random_ports(uint64_t seed, uint16_t *ports, int count)
{
    struct knit_sim_nat_config c = config(EIM, EIF);
    c.allocation = KNIT_SIM_PORT_RANDOM;
    c.seed = seed;
    struct knit_sim_nat *n = nat_with(&c);
    for (int i = 0; i < count; i++)
        ports[i] = out(n, 0, addr4(10, 0, (uint8_t)(i / 250),
                                   (uint8_t)(i % 250 + 1), 4000), Y1P1);
    knit_sim_nat_free(n);
}

static void test_port_random(void **state)
{
    (void)state;
    enum { COUNT = 1024, BINS = 16 };
    static uint16_t a[COUNT], b[COUNT], d[COUNT];
    random_ports(1, a, COUNT);
    random_ports(1, b, COUNT);
    random_ports(2, d, COUNT);
    assert_memory_equal(a, b, sizeof a);
    int same = 0, steps = 0, bins[BINS] = {0};
    for (int i = 0; i < COUNT; i++) {
        same += a[i] == d[i];
        assert_true(a[i] >= 1024);
        bins[(a[i] - 1024) * BINS / (65536 - 1024)]++;
        if (i > 0)
            steps += a[i] == a[i - 1] + 1;
    }
    assert_true(same < 8);
    assert_true(steps < 8);
    /* 64 expected per bin: a chi-squared-ish band a uniform draw keeps. */
    for (int i = 0; i < BINS; i++) {
        assert_true(bins[i] > 32);
        assert_true(bins[i] < 100);
    }
}

/* Filling a small range draws every port once: the fallback past the
 * rejection tries still finds the last free ones. */
static void test_port_random_fills_range(void **state)
{
    (void)state;
    enum { RANGE = 2000 };
    struct knit_sim_nat_config c = config(APDM, EIF);
    c.allocation = KNIT_SIM_PORT_RANDOM;
    c.port_min = 20000;
    c.port_max = 20000 + RANGE - 1;
    struct knit_sim_nat *n = nat_with(&c);
    static bool seen[RANGE];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < RANGE; i++) {
        uint16_t p = out(n, 0, HOST, addr4(198, 51, 100, (uint8_t)(i / 200),
                                           (uint16_t)i));
        assert_true(p >= 20000 && p < 20000 + RANGE);
        assert_false(seen[p - 20000]);
        seen[p - 20000] = true;
    }
    struct knit_addr h = HOST, y = Y1P1, osrc, odst;
    assert_int_equal(knit_sim_nat_outbound(n, 0, &h, &y, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(nat_stats(n).dropped_no_port, 1);
    knit_sim_nat_free(n);
}

/* ---- timeouts ----------------------------------------------------------------------- */

/* Outbound traffic refreshes; the mapping lasts TIMEOUT after the last. */
static void test_timeout_refreshed_by_outbound(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    assert_int_equal(out(n, 9 * SECOND, HOST, Y2P1), p);
    assert_true(in(n, 18 * SECOND, Y1P1, p, HOST));
    assert_true(in(n, 19 * SECOND - 1, Y1P1, p, HOST));
    assert_false(in(n, 19 * SECOND, Y1P1, p, HOST));
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.mappings_expired, 1);
    assert_int_equal(st.live_mappings, 0);
    assert_int_equal(st.dropped_no_mapping, 1);
    /* A new mapping, on the next sequential port. */
    assert_int_equal(out(n, 20 * SECOND, HOST, Y1P1), p + 1);
    assert_int_equal(nat_stats(n).mappings_created, 2);
    knit_sim_nat_free(n);
}

static void test_timeout_not_refreshed_by_inbound(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    assert_true(in(n, 9 * SECOND, Y1P1, p, HOST));
    assert_int_equal(knit_sim_nat_next_expiry(n), TIMEOUT);
    assert_false(in(n, TIMEOUT, Y1P1, p, HOST));
    knit_sim_nat_free(n);
}

/* With refresh_on_inbound, admitted inbound traffic keeps the mapping; it
 * does not renew the filter's memory of whom the host sent to. */
static void test_timeout_refreshed_by_inbound_when_configured(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(EIM, EIF);
    c.refresh_on_inbound = true;
    struct knit_sim_nat *n = nat_with(&c);
    uint16_t p = out(n, 0, HOST, Y1P1);
    for (uint64_t t = 9; t <= 45; t += 9)
        assert_true(in(n, t * SECOND, Y2P1, p, HOST));
    assert_int_equal(knit_sim_nat_next_expiry(n), 55 * SECOND);
    knit_sim_nat_free(n);

    c.filtering = ADF;
    n = nat_with(&c);
    p = out(n, 0, HOST, Y1P1);
    assert_true(in(n, 9 * SECOND, Y1P2, p, HOST));
    assert_int_equal(knit_sim_nat_next_expiry(n), 19 * SECOND);
    assert_false(in(n, 12 * SECOND, Y1P1, p, HOST));
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.live_mappings, 1);
    assert_int_equal(st.dropped_filtered, 1);
    /* A filtered datagram refreshes nothing. */
    assert_int_equal(knit_sim_nat_next_expiry(n), 19 * SECOND);
    knit_sim_nat_free(n);
}

/* expire() frees what is due and next_expiry() follows refreshes. A time
 * going backwards counts as the latest seen. */
static void test_expire_and_next_expiry(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(APDM, EIF);
    struct knit_sim_nat *n = nat_with(&c);
    out(n, 0, HOST, Y1P1);
    out(n, SECOND, HOST, Y1P2);
    out(n, 2 * SECOND, HOST, Y2P1);
    assert_int_equal(knit_sim_nat_next_expiry(n), TIMEOUT);
    out(n, 3 * SECOND, HOST, Y1P1);
    assert_int_equal(knit_sim_nat_next_expiry(n), TIMEOUT + SECOND);
    out(n, 0, HOST, Y1P2);              /* late caller: counts as 3 s */
    assert_int_equal(knit_sim_nat_next_expiry(n), TIMEOUT + 2 * SECOND);
    assert_int_equal(knit_sim_nat_expire(n, TIMEOUT + 2 * SECOND - 1), 0);
    assert_int_equal(knit_sim_nat_expire(n, TIMEOUT + 2 * SECOND), 1);
    assert_int_equal(knit_sim_nat_next_expiry(n), TIMEOUT + 3 * SECOND);
    assert_int_equal(nat_stats(n).live_mappings, 2);
    assert_int_equal(knit_sim_nat_expire(n, 100 * SECOND), 2);
    assert_int_equal(knit_sim_nat_next_expiry(n), KNIT_NO_DEADLINE);
    assert_int_equal(knit_sim_nat_expire(n, 200 * SECOND), 0);
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.live_mappings, 0);
    assert_int_equal(st.mappings_expired, 3);
    assert_int_equal(st.mappings_created, 3);
    /* A lone mapping refreshed late keeps the later time. */
    out(n, 300 * SECOND, HOST, Y1P1);
    out(n, 250 * SECOND, HOST, Y1P1);
    assert_int_equal(knit_sim_nat_next_expiry(n), 300 * SECOND + TIMEOUT);
    knit_sim_nat_free(n);
}

/* Many mappings come and go: the tables grow, shrink and keep finding
 * every live one (ASan checks the memory). */
static void test_churn_keeps_tables_right(void **state)
{
    (void)state;
    struct knit_sim_nat_config c = config(APDM, APDF);
    struct knit_sim_nat *n = nat_with(&c);
    enum { COUNT = 5000 };
    static uint16_t ports[COUNT];
    for (int round = 0; round < 3; round++) {
        uint64_t t = (uint64_t)round * 2 * TIMEOUT;
        for (int i = 0; i < COUNT; i++)
            ports[i] = out(n, t, HOST, addr4(198, 51, 100, (uint8_t)(i % 7),
                                             (uint16_t)i));
        for (int i = 0; i < COUNT; i += 3)
            assert_true(in(n, t + 1, addr4(198, 51, 100, (uint8_t)(i % 7),
                                          (uint16_t)i), ports[i], HOST));
        assert_int_equal(nat_stats(n).live_mappings, COUNT);
        assert_int_equal(knit_sim_nat_expire(n, t + TIMEOUT), COUNT);
    }
    assert_int_equal(nat_stats(n).mappings_expired, 3 * COUNT);
    knit_sim_nat_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_invalid_datagrams_dropped),
        cmocka_unit_test(test_mapping_endpoint_independent),
        cmocka_unit_test(test_mapping_address_dependent),
        cmocka_unit_test(test_mapping_address_port_dependent),
        cmocka_unit_test(test_filtering_endpoint_independent),
        cmocka_unit_test(test_filtering_address_dependent),
        cmocka_unit_test(test_filtering_address_port_dependent),
        cmocka_unit_test(test_filtering_per_mapping),
        cmocka_unit_test(test_filtering_remote_cap),
        cmocka_unit_test(test_port_preserving),
        cmocka_unit_test(test_port_sequential),
        cmocka_unit_test(test_port_random),
        cmocka_unit_test(test_port_random_fills_range),
        cmocka_unit_test(test_timeout_refreshed_by_outbound),
        cmocka_unit_test(test_timeout_not_refreshed_by_inbound),
        cmocka_unit_test(test_timeout_refreshed_by_inbound_when_configured),
        cmocka_unit_test(test_expire_and_next_expiry),
        cmocka_unit_test(test_churn_keeps_tables_right),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
