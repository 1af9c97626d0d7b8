/* The NAT model (sim/nat.h) with more than one party behind it: several
 * hosts sharing one NAT, hairpinning, port exhaustion, and carrier-grade
 * NAT built by chaining two NAT objects by hand (inner outbound then outer
 * outbound; outer inbound then inner inbound), as the virtual network will.
 * The behaviours one at a time are in test_nat.c. */
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

static const uint8_t EIM = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
static const uint8_t ADM = KNIT_MAPPING_ADDRESS_DEPENDENT;
static const uint8_t APDM = KNIT_MAPPING_ADDRESS_PORT_DEPENDENT;
static const uint8_t EIF = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
static const uint8_t APDF = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;

static struct knit_sim_nat *nat_at(struct knit_addr public_ip,
                                   uint8_t mapping, uint8_t filtering,
                                   uint8_t allocation, bool hairpin)
{
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = public_ip;
    c.mapping = mapping;
    c.filtering = filtering;
    c.allocation = allocation;
    c.mapping_timeout_us = TIMEOUT;
    c.hairpin = hairpin;
    struct knit_sim_nat *n = NULL;
    assert_int_equal(knit_sim_nat_new(&n, &c), 0);
    return n;
}

static struct knit_sim_nat_stats nat_stats(const struct knit_sim_nat *n)
{
    struct knit_sim_nat_stats st;
    knit_sim_nat_get_stats(n, &st);
    return st;
}

#define PUB addr4(203, 0, 113, 1, 0)
#define Y1P1 addr4(198, 51, 100, 1, 7000)
#define Y1P2 addr4(198, 51, 100, 1, 7001)
#define Y2P1 addr4(198, 51, 100, 2, 7000)

static enum knit_sim_nat_verdict send_out(struct knit_sim_nat *n, uint64_t now,
                                          struct knit_addr src,
                                          struct knit_addr dst,
                                          struct knit_addr *osrc,
                                          struct knit_addr *odst)
{
    return knit_sim_nat_outbound(n, now, &src, &dst, osrc, odst);
}

/* The public source a forwarded datagram leaves with. */
static struct knit_addr out(struct knit_sim_nat *n, uint64_t now,
                            struct knit_addr src, struct knit_addr dst)
{
    struct knit_addr osrc, odst;
    assert_int_equal(send_out(n, now, src, dst, &osrc, &odst),
                     KNIT_SIM_NAT_FORWARD);
    return osrc;
}

/* Where an inbound datagram is delivered; family 0 when dropped. */
static struct knit_addr in(struct knit_sim_nat *n, uint64_t now,
                           struct knit_addr src, struct knit_addr dst)
{
    struct knit_addr odst;
    if (knit_sim_nat_inbound(n, now, &src, &dst, &odst) != KNIT_SIM_NAT_FORWARD)
        memset(&odst, 0, sizeof odst);
    return odst;
}

static void assert_addr(struct knit_addr got, struct knit_addr want)
{
    assert_true(knit_addr_equal(&got, &want));
}

/* ---- several hosts behind one NAT ---------------------------------------------------- */

/* Same private port on two hosts: two public ports, and replies find their
 * own host. */
static void test_two_hosts_same_private_port(void **state)
{
    (void)state;
    for (uint8_t alloc = KNIT_SIM_PORT_PRESERVING;
         alloc <= KNIT_SIM_PORT_RANDOM; alloc++) {
        struct knit_sim_nat *n = nat_at(PUB, EIM, APDF, alloc, false);
        struct knit_addr a = addr4(10, 0, 0, 1, 4000);
        struct knit_addr b = addr4(10, 0, 0, 2, 4000);
        struct knit_addr pa = out(n, 0, a, Y1P1), pb = out(n, 0, b, Y1P1);
        assert_int_not_equal(pa.port, pb.port);
        if (alloc == KNIT_SIM_PORT_PRESERVING)
            assert_int_equal(pa.port, 4000);
        assert_addr(in(n, 1, Y1P1, pa), a);
        assert_addr(in(n, 1, Y1P1, pb), b);
        knit_sim_nat_free(n);
    }
}

/* ---- hairpinning ------------------------------------------------------------------------ */

/* A reaches B at B's public endpoint and sees it from A's public one; B's
 * reply comes back the same way. */
static void test_hairpin_on(void **state)
{
    (void)state;
    struct knit_sim_nat *n = nat_at(PUB, EIM, EIF, KNIT_SIM_PORT_PRESERVING,
                                    true);
    struct knit_addr a = addr4(10, 0, 0, 1, 4000);
    struct knit_addr b = addr4(10, 0, 0, 2, 5000);
    struct knit_addr pb = out(n, 0, b, Y1P1), osrc, odst;
    assert_int_equal(send_out(n, 1, a, pb, &osrc, &odst), KNIT_SIM_NAT_HAIRPIN);
    assert_addr(odst, b);
    assert_addr(osrc, addr4(203, 0, 113, 1, 4000));
    assert_int_equal(send_out(n, 2, b, osrc, &osrc, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(odst, a);
    assert_addr(osrc, pb);
    /* To a public port nobody holds. */
    assert_int_equal(send_out(n, 3, a, addr4(203, 0, 113, 1, 9), &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.hairpinned, 2);
    assert_int_equal(st.dropped_no_mapping, 1);
    assert_int_equal(st.live_mappings, 2);
    knit_sim_nat_free(n);
}

/* Hairpinned datagrams meet the filter with their translated source: under
 * APDF, A and B punch a hole to each other's public endpoints. */
static void test_hairpin_filtered_by_translated_source(void **state)
{
    (void)state;
    struct knit_sim_nat *n = nat_at(PUB, EIM, APDF, KNIT_SIM_PORT_SEQUENTIAL,
                                    true);
    struct knit_addr a = addr4(10, 0, 0, 1, 4000);
    struct knit_addr b = addr4(10, 0, 0, 2, 4000);
    struct knit_addr pb = out(n, 0, b, Y1P1), pa = out(n, 0, a, Y1P1);
    struct knit_addr got_src, odst;
    assert_int_equal(send_out(n, 1, a, pb, &got_src, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(nat_stats(n).dropped_filtered, 1);
    assert_int_equal(send_out(n, 2, b, pa, &got_src, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(odst, a);
    assert_addr(got_src, pb);
    assert_int_equal(send_out(n, 3, a, pb, &got_src, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(odst, b);
    assert_addr(got_src, pa);
    knit_sim_nat_free(n);
}

static void test_hairpin_off(void **state)
{
    (void)state;
    struct knit_sim_nat *n = nat_at(PUB, EIM, EIF, KNIT_SIM_PORT_PRESERVING,
                                    false);
    struct knit_addr a = addr4(10, 0, 0, 1, 4000);
    struct knit_addr b = addr4(10, 0, 0, 2, 5000);
    struct knit_addr pb = out(n, 0, b, Y1P1), osrc, odst;
    assert_int_equal(send_out(n, 1, a, pb, &osrc, &odst), KNIT_SIM_NAT_DROP);
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.hairpin_refused, 1);
    assert_int_equal(st.hairpinned, 0);
    assert_int_equal(st.live_mappings, 1);  /* none made for A */
    /* From outside, B's mapping works as ever. */
    assert_addr(in(n, 2, Y2P1, pb), b);
    knit_sim_nat_free(n);
}

/* ---- port exhaustion ----------------------------------------------------------------------- */

static void test_port_exhaustion_and_recovery(void **state)
{
    (void)state;
    struct knit_sim_nat_config c;
    memset(&c, 0, sizeof c);
    c.public_ip = PUB;
    c.mapping = EIM;
    c.filtering = EIF;
    c.allocation = KNIT_SIM_PORT_SEQUENTIAL;
    c.port_min = 5000;
    c.port_max = 5002;
    c.mapping_timeout_us = TIMEOUT;
    struct knit_sim_nat *n = NULL;
    assert_int_equal(knit_sim_nat_new(&n, &c), 0);
    struct knit_addr h[4], osrc, odst;
    for (int i = 0; i < 4; i++)
        h[i] = addr4(10, 0, 0, (uint8_t)(i + 1), 4000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out(n, 0, h[i], Y1P1).port, 5000 + i);
    assert_int_equal(send_out(n, 1, h[3], Y1P1, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(send_out(n, 2, h[3], Y2P1, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    struct knit_sim_nat_stats st = nat_stats(n);
    assert_int_equal(st.dropped_no_port, 2);
    assert_int_equal(st.live_mappings, 3);
    /* Existing mappings keep working while full. */
    assert_int_equal(out(n, 5 * SECOND, h[0], Y2P1).port, 5000);
    /* h[1] and h[2] expire at TIMEOUT; h[0], refreshed, stays. */
    assert_int_equal(send_out(n, TIMEOUT - 1, h[3], Y1P1, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(out(n, TIMEOUT, h[3], Y1P1).port, 5001);
    st = nat_stats(n);
    assert_int_equal(st.dropped_no_port, 3);
    assert_int_equal(st.mappings_expired, 2);
    assert_int_equal(st.live_mappings, 2);
    knit_sim_nat_free(n);

    /* max_mappings caps the table before the range does. */
    c.port_min = c.port_max = 0;
    c.max_mappings = 2;
    assert_int_equal(knit_sim_nat_new(&n, &c), 0);
    out(n, 0, h[0], Y1P1);
    out(n, 0, h[1], Y1P1);
    assert_int_equal(send_out(n, 0, h[2], Y1P1, &osrc, &odst),
                     KNIT_SIM_NAT_DROP);
    assert_int_equal(nat_stats(n).dropped_no_port, 1);
    knit_sim_nat_free(n);
}

/* ---- carrier-grade NAT: a home NAT behind a provider's NAT ------------------------------------ */

struct cgn {
    struct knit_sim_nat *home, *isp;
};

static struct cgn cgn(uint8_t home_mapping, uint8_t home_filtering,
                      uint8_t isp_mapping, uint8_t isp_filtering)
{
    struct cgn c;
    c.home = nat_at(addr4(100, 64, 0, 1, 0), home_mapping, home_filtering,
                    KNIT_SIM_PORT_PRESERVING, false);
    c.isp = nat_at(PUB, isp_mapping, isp_filtering, KNIT_SIM_PORT_RANDOM,
                   true);
    return c;
}

static void cgn_free(struct cgn c)
{
    knit_sim_nat_free(c.home);
    knit_sim_nat_free(c.isp);
}

/* Through both NATs; returns the source as the Internet sees it. */
static struct knit_addr cgn_out(struct cgn c, uint64_t now,
                                struct knit_addr src, struct knit_addr dst)
{
    return out(c.isp, now, out(c.home, now, src, dst), dst);
}

/* Back through both; family 0 when either drops it. */
static struct knit_addr cgn_in(struct cgn c, uint64_t now,
                               struct knit_addr src, struct knit_addr dst)
{
    struct knit_addr mid = in(c.isp, now, src, dst);
    if (mid.family == 0)
        return mid;
    return in(c.home, now, src, mid);
}

#define HOST addr4(192, 168, 1, 10, 4000)

static void test_cgn_eim_inside_eim_stays_eim(void **state)
{
    (void)state;
    struct cgn c = cgn(EIM, EIF, EIM, EIF);
    struct knit_addr p = cgn_out(c, 0, HOST, Y1P1);
    assert_addr(cgn_out(c, 1, HOST, Y1P2), p);
    assert_addr(cgn_out(c, 2, HOST, Y2P1), p);
    /* Endpoint-independent filtering all the way: anyone gets in. */
    assert_addr(cgn_in(c, 3, addr4(198, 51, 100, 99, 1), p), HOST);
    cgn_free(c);
}

/* APDM at either level gives each destination its own public port. */
static void test_cgn_apdm_anywhere_is_endpoint_dependent(void **state)
{
    (void)state;
    const uint8_t levels[2][2] = {{APDM, EIM}, {EIM, APDM}};
    for (int i = 0; i < 2; i++) {
        struct cgn c = cgn(levels[i][0], EIF, levels[i][1], EIF);
        struct knit_addr p = cgn_out(c, 0, HOST, Y1P1);
        struct knit_addr q = cgn_out(c, 1, HOST, Y1P2);
        assert_int_not_equal(p.port, q.port);
        assert_addr(cgn_out(c, 2, HOST, Y1P1), p);
        assert_addr(cgn_in(c, 3, Y1P1, p), HOST);
        assert_addr(cgn_in(c, 3, Y1P2, q), HOST);
        cgn_free(c);
    }
    /* ADM inside APDM: still one port per destination endpoint. */
    struct cgn c = cgn(ADM, EIF, APDM, EIF);
    assert_int_not_equal(cgn_out(c, 0, HOST, Y1P1).port,
                         cgn_out(c, 1, HOST, Y1P2).port);
    cgn_free(c);
}

/* The chain filters as strictly as its strictest NAT. */
static void test_cgn_filtering_strictest_wins(void **state)
{
    (void)state;
    const uint8_t levels[2][2] = {{APDF, EIF}, {EIF, APDF}};
    for (int i = 0; i < 2; i++) {
        struct cgn c = cgn(EIM, levels[i][0], EIM, levels[i][1]);
        struct knit_addr p = cgn_out(c, 0, HOST, Y1P1);
        assert_addr(cgn_in(c, 1, Y1P1, p), HOST);
        assert_int_equal(cgn_in(c, 2, Y1P2, p).family, 0);
        assert_int_equal(cgn_in(c, 3, Y2P1, p).family, 0);
        struct knit_sim_nat_stats home = nat_stats(c.home);
        struct knit_sim_nat_stats isp = nat_stats(c.isp);
        assert_int_equal(home.dropped_filtered + isp.dropped_filtered, 2);
        assert_int_equal(i == 0 ? home.dropped_filtered : isp.dropped_filtered,
                         2);
        cgn_free(c);
    }
}

/* Two homes behind one provider NAT reach each other by its hairpin; the
 * inner NATs see an ordinary inbound datagram from the provider's address. */
static void test_cgn_hairpin_between_homes(void **state)
{
    (void)state;
    struct cgn c1 = cgn(EIM, APDF, EIM, EIF);
    struct knit_sim_nat *home2 = nat_at(addr4(100, 64, 0, 2, 0), EIM, EIF,
                                        KNIT_SIM_PORT_PRESERVING, false);
    struct knit_addr a = HOST, b = addr4(192, 168, 1, 20, 5000);
    struct knit_addr pb = out(c1.isp, 0, out(home2, 0, b, Y1P1), Y1P1);
    struct knit_addr pa = cgn_out(c1, 0, a, Y2P1);

    /* b -> pa: home2 forwards (not its own IP), the ISP hairpins to home1,
     * whose APDF has not seen a send to pb yet. */
    struct knit_addr mid = out(home2, 1, b, pa), osrc, odst;
    assert_int_equal(send_out(c1.isp, 1, mid, pa, &osrc, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(osrc, pb);
    assert_addr(odst, addr4(100, 64, 0, 1, a.port));
    assert_int_equal(in(c1.home, 1, osrc, odst).family, 0);

    /* a -> pb opens home1's filter and arrives at b. */
    mid = out(c1.home, 2, a, pb);
    assert_int_equal(send_out(c1.isp, 2, mid, pb, &osrc, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(osrc, pa);
    assert_addr(in(home2, 2, osrc, odst), b);

    /* Now b -> pa gets through to a. */
    mid = out(home2, 3, b, pa);
    assert_int_equal(send_out(c1.isp, 3, mid, pa, &osrc, &odst),
                     KNIT_SIM_NAT_HAIRPIN);
    assert_addr(in(c1.home, 3, osrc, odst), a);
    assert_int_equal(nat_stats(c1.isp).hairpinned, 3);
    knit_sim_nat_free(home2);
    cgn_free(c1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_hosts_same_private_port),
        cmocka_unit_test(test_hairpin_on),
        cmocka_unit_test(test_hairpin_filtered_by_translated_source),
        cmocka_unit_test(test_hairpin_off),
        cmocka_unit_test(test_port_exhaustion_and_recovery),
        cmocka_unit_test(test_cgn_eim_inside_eim_stays_eim),
        cmocka_unit_test(test_cgn_apdm_anywhere_is_endpoint_dependent),
        cmocka_unit_test(test_cgn_filtering_strictest_wins),
        cmocka_unit_test(test_cgn_hairpin_between_homes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
