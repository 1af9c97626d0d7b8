/* AutoNAT client verdicts (node/reachability.h): settling after three
 * agreeing answers, no flap on one failure, the flip after enough contrary
 * answers, one liar counted once, the small network's low confidence, and
 * each filtering verdict with its confidence, age and bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/reachability.h"
#include "proto/record.h"
#include "transport/error.h"

#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(1000) * SEC)

static struct knit_addr server(uint8_t i)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {198, 51, 100, i};
    knit_addr_set(&addr, ip, 4, 4001);
    return addr;
}

static struct knit_reach *reach_new(const struct knit_reach_config *cfg)
{
    struct knit_reach *r = NULL;
    assert_int_equal(knit_reach_new(&r, cfg), 0);
    assert_non_null(r);
    return r;
}

static void answer(struct knit_reach *r, uint8_t srv, uint8_t kind,
                   bool arrived)
{
    struct knit_addr a = server(srv);
    assert_int_equal(knit_reach_add(r, &a, kind, arrived, T0), 0);
}

static struct knit_reach_verdict get(const struct knit_reach *r, uint64_t now)
{
    struct knit_reach_verdict v;
    memset(&v, 0xa5, sizeof v);
    assert_int_equal(knit_reach_get(r, now, &v), 0);
    return v;
}

static void expect_reach(const struct knit_reach *r, uint8_t want,
                         uint8_t confidence)
{
    struct knit_reach_verdict v = get(r, T0);
    assert_int_equal(v.reachability, want);
    assert_int_equal(v.confidence, confidence);
}

static void expect_filtering(const struct knit_reach *r, uint64_t now,
                             uint8_t want, uint8_t confidence)
{
    struct knit_reach_verdict v = get(r, now);
    assert_int_equal(v.filtering, want);
    assert_int_equal(v.filtering_confidence, confidence);
}

/* ---- arguments ----------------------------------------------------------- */

static void test_arguments(void **state)
{
    (void)state;
    assert_int_equal(knit_reach_new(NULL, NULL), KNIT_E_INVAL);
    struct knit_reach *r = reach_new(NULL);
    struct knit_addr a = server(1), bad = a;
    bad.family = 0;
    assert_int_equal(knit_reach_add(r, &a, 0, true, T0), KNIT_E_INVAL);
    assert_int_equal(knit_reach_add(r, &a, 3, true, T0), KNIT_E_INVAL);
    assert_int_equal(knit_reach_add(r, &bad, 1, true, T0), KNIT_E_INVAL);
    assert_int_equal(knit_reach_add(r, NULL, 1, true, T0), KNIT_E_INVAL);
    assert_int_equal(knit_reach_add(NULL, &a, 1, true, T0), KNIT_E_INVAL);
    struct knit_reach_verdict v;
    assert_int_equal(knit_reach_get(NULL, T0, &v), KNIT_E_INVAL);
    assert_int_equal(knit_reach_get(r, T0, NULL), KNIT_E_INVAL);
    /* Nothing known, and the refused calls added nothing. */
    v = get(r, T0);
    assert_int_equal(v.reachability, KNIT_REACHABILITY_UNKNOWN);
    assert_int_equal(v.confidence, 0);
    assert_int_equal(v.filtering, KNIT_FILTERING_UNKNOWN);
    assert_int_equal(v.filtering_confidence, 0);
    assert_int_equal(v.servers, 0);
    knit_reach_free(r);
    knit_reach_free(NULL);
}

/* ---- reachability -------------------------------------------------------- */

static void test_settles_after_three(void **state)
{
    (void)state;
    struct knit_reach *r = reach_new(NULL);
    answer(r, 1, 2, true);
    expect_reach(r, KNIT_REACHABILITY_UNKNOWN, 0);
    answer(r, 2, 2, true);
    expect_reach(r, KNIT_REACHABILITY_UNKNOWN, 0);
    answer(r, 3, 2, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 2);
    assert_int_equal(get(r, T0).servers, 3);
    knit_reach_free(r);

    /* Three in a row: a contrary answer restarts the count. */
    r = reach_new(NULL);
    answer(r, 1, 2, false);
    answer(r, 2, 2, false);
    answer(r, 3, 2, true);
    answer(r, 4, 2, false);
    answer(r, 5, 2, false);
    expect_reach(r, KNIT_REACHABILITY_UNKNOWN, 0);
    answer(r, 6, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 2);
    knit_reach_free(r);

    /* With 3 servers known, a server counts once towards settling. */
    r = reach_new(NULL);
    answer(r, 1, 2, true);
    answer(r, 2, 2, false);
    answer(r, 3, 2, false);
    answer(r, 3, 2, false);
    answer(r, 2, 2, false);
    expect_reach(r, KNIT_REACHABILITY_UNKNOWN, 0);
    answer(r, 4, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 2);
    knit_reach_free(r);
}

static void test_no_flap_then_flip(void **state)
{
    (void)state;
    struct knit_reach *r = reach_new(NULL);
    for (uint8_t i = 1; i <= 3; i++)
        answer(r, i, 2, true);
    /* One failure: still public. */
    answer(r, 4, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    /* Agreeing answers raise confidence to 3 and no further. */
    for (uint8_t i = 1; i <= 5; i++)
        answer(r, i, 2, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 3);
    /* From 3 it takes four contrary answers to flip. */
    answer(r, 4, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 2);
    answer(r, 5, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    answer(r, 6, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 0);
    answer(r, 7, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 2);
    /* The new verdict does not flip back on one answer either. */
    answer(r, 1, 2, true);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 1);
    knit_reach_free(r);
}

static void test_liar_counted_once(void **state)
{
    (void)state;
    struct knit_reach *r = reach_new(NULL);
    for (int round = 0; round < 2; round++)
        for (uint8_t i = 1; i <= 3; i++)
            answer(r, i, 2, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 3);
    /* One server saying "private" over and over counts once. */
    for (int k = 0; k < 10; k++)
        answer(r, 66, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 2);
    /* An agreeing answer ends its run; its next lie counts again. */
    answer(r, 1, 2, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 3);
    answer(r, 66, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 2);
    knit_reach_free(r);
}

static void test_small_network(void **state)
{
    (void)state;
    /* One public peer and no helper: kind 1 only, repeated answers from it
     * settle, but never above confidence 1. */
    struct knit_reach *r = reach_new(NULL);
    answer(r, 1, 1, true);
    answer(r, 1, 1, true);
    expect_reach(r, KNIT_REACHABILITY_UNKNOWN, 0);
    answer(r, 1, 1, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    for (int k = 0; k < 5; k++)
        answer(r, 1, 1, true);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    /* Its one failure does not flap it (the kind-1 state is at 3). */
    answer(r, 1, 1, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    assert_int_equal(get(r, T0).servers, 1);

    /* Kind-2 answers take over once they settle something. */
    answer(r, 2, 2, false);
    answer(r, 3, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PUBLIC, 1);
    answer(r, 4, 2, false);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 2);
    knit_reach_free(r);

    /* Two servers, kind 1: repeats still count (fewer than 3 exist). */
    r = reach_new(NULL);
    answer(r, 1, 1, false);
    answer(r, 2, 1, false);
    answer(r, 2, 1, false);
    expect_reach(r, KNIT_REACHABILITY_PRIVATE, 1);
    knit_reach_free(r);
}

/* ---- filtering ----------------------------------------------------------- */

static void test_filtering_verdicts(void **state)
{
    (void)state;
    /* A packet from an IP we never sent to: endpoint-independent. */
    struct knit_reach *r = reach_new(NULL);
    answer(r, 1, 1, false);
    answer(r, 1, 2, true);
    expect_filtering(r, T0, KNIT_FILTERING_ENDPOINT_INDEPENDENT, 1);
    answer(r, 2, 2, true);
    expect_filtering(r, T0, KNIT_FILTERING_ENDPOINT_INDEPENDENT, 2);
    knit_reach_free(r);

    /* Other port yes, other IP no (twice): address-dependent. */
    r = reach_new(NULL);
    answer(r, 1, 1, true);
    answer(r, 1, 2, false);
    expect_filtering(r, T0, KNIT_FILTERING_UNKNOWN, 0);
    answer(r, 1, 2, false);
    expect_filtering(r, T0, KNIT_FILTERING_ADDRESS_DEPENDENT, 1);
    answer(r, 2, 2, false);
    expect_filtering(r, T0, KNIT_FILTERING_ADDRESS_DEPENDENT, 2);
    knit_reach_free(r);

    /* Other port no (twice), nothing ever arrived: address-and-port. */
    r = reach_new(NULL);
    answer(r, 1, 1, false);
    expect_filtering(r, T0, KNIT_FILTERING_UNKNOWN, 0);
    answer(r, 1, 1, false);
    expect_filtering(r, T0, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT, 1);
    answer(r, 2, 1, false);
    answer(r, 2, 2, false);
    expect_filtering(r, T0, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT, 2);
    /* One arrival from the other port ends that verdict. */
    answer(r, 3, 1, true);
    expect_filtering(r, T0, KNIT_FILTERING_UNKNOWN, 0);
    knit_reach_free(r);

    /* Kind 2 failing with no kind-1 answer tells nothing. */
    r = reach_new(NULL);
    answer(r, 1, 2, false);
    answer(r, 2, 2, false);
    expect_filtering(r, T0, KNIT_FILTERING_UNKNOWN, 0);
    knit_reach_free(r);
}

static void test_filtering_age_and_bound(void **state)
{
    (void)state;
    struct knit_reach_config cfg = {.max_age = 10 * SEC};
    struct knit_reach *r = reach_new(&cfg);
    answer(r, 1, 2, true);
    expect_filtering(r, T0 + 10 * SEC, KNIT_FILTERING_ENDPOINT_INDEPENDENT, 1);
    expect_filtering(r, T0 + 11 * SEC, KNIT_FILTERING_UNKNOWN, 0);
    assert_int_equal(get(r, T0 + 11 * SEC).servers, 0);
    knit_reach_free(r);

    /* Only the last KNIT_REACH_HISTORY answers are remembered. */
    r = reach_new(NULL);
    answer(r, 1, 2, true);
    for (int k = 0; k < KNIT_REACH_HISTORY - 1; k++)
        answer(r, 2, 1, false);
    expect_filtering(r, T0, KNIT_FILTERING_ENDPOINT_INDEPENDENT, 1);
    answer(r, 2, 1, false);
    expect_filtering(r, T0, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT, 1);
    assert_int_equal(get(r, T0).servers, 1);
    knit_reach_free(r);
}

static void test_servers_are_sources(void **state)
{
    (void)state;
    /* Hosts in one IPv6 /64 are one server; IPv4-mapped is IPv4. */
    struct knit_reach *r = reach_new(NULL);
    for (uint8_t i = 1; i <= 3; i++) {
        struct knit_addr a;
        uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 7};
        ip[15] = i;
        knit_addr_set(&a, ip, 16, 4001);
        assert_int_equal(knit_reach_add(r, &a, 2, true, T0), 0);
    }
    struct knit_addr mapped;
    uint8_t ip[16] = {[10] = 0xff, [11] = 0xff, 198, 51, 100, 1};
    knit_addr_set(&mapped, ip, 16, 4001);
    assert_int_equal(knit_reach_add(r, &mapped, 2, true, T0), 0);
    answer(r, 1, 2, true);
    struct knit_reach_verdict v = get(r, T0);
    assert_int_equal(v.servers, 2);
    assert_int_equal(v.filtering_confidence, 2);
    knit_reach_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_settles_after_three),
        cmocka_unit_test(test_no_flap_then_flip),
        cmocka_unit_test(test_liar_counted_once),
        cmocka_unit_test(test_small_network),
        cmocka_unit_test(test_filtering_verdicts),
        cmocka_unit_test(test_filtering_age_and_bound),
        cmocka_unit_test(test_servers_are_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
