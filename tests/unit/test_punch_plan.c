/* The punch plan both peers derive from their CONNECTs, its budget, and
 * the spray's port chooser (node/punch_plan.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/punch_plan.h"
#include "proto/record.h"

static struct punch_side side(uint8_t mapping, uint8_t reach)
{
    return (struct punch_side){.mapping = mapping,
                               .filtering = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT,
                               .reach = reach};
}

static void test_hardness(void **state)
{
    (void)state;
    struct punch_side s = side(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                               KNIT_REACHABILITY_PRIVATE);
    assert_false(punch_side_is_hard(&s));
    s = side(KNIT_MAPPING_UNKNOWN, KNIT_REACHABILITY_UNKNOWN);
    assert_false(punch_side_is_hard(&s));
    s = side(KNIT_MAPPING_ADDRESS_DEPENDENT, KNIT_REACHABILITY_PRIVATE);
    assert_true(punch_side_is_hard(&s));
    s = side(KNIT_MAPPING_ADDRESS_PORT_DEPENDENT, KNIT_REACHABILITY_PRIVATE);
    assert_true(punch_side_is_hard(&s));
    /* A port mapping or a full cone makes a per-destination NAT public. */
    s = side(KNIT_MAPPING_ADDRESS_PORT_DEPENDENT, KNIT_REACHABILITY_PUBLIC);
    assert_false(punch_side_is_hard(&s));
}

static void test_plans_agree_from_both_sides(void **state)
{
    (void)state;
    struct punch_side easy = side(KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                                  KNIT_REACHABILITY_PRIVATE);
    struct punch_side hard = side(KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                                  KNIT_REACHABILITY_PRIVATE);
    struct punch_side pub = side(KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                                 KNIT_REACHABILITY_PUBLIC);
    assert_int_equal(punch_plan(&easy, &easy), PUNCH_PLAN_DIRECT);
    assert_int_equal(punch_plan(&easy, &hard), PUNCH_PLAN_SPRAY);
    assert_int_equal(punch_plan(&hard, &easy), PUNCH_PLAN_SOCKETS);
    assert_int_equal(punch_plan(&hard, &hard), PUNCH_PLAN_LAN_ONLY);
    assert_int_equal(punch_plan(&hard, &pub), PUNCH_PLAN_SOCKETS);
    assert_int_equal(punch_plan(&pub, &hard), PUNCH_PLAN_SPRAY);
    assert_int_equal(punch_plan(&pub, &pub), PUNCH_PLAN_DIRECT);
}

static void test_budget(void **state)
{
    (void)state;
    /* The spray lasts 1024 x 4 ms plus the hard side's 16 batches. */
    assert_int_equal(punch_plan_window_us(PUNCH_PLAN_SPRAY),
                     4096000 + 160000);
    assert_int_equal(punch_plan_window_us(PUNCH_PLAN_SOCKETS),
                     punch_plan_window_us(PUNCH_PLAN_SPRAY));
    assert_int_equal(punch_plan_window_us(PUNCH_PLAN_DIRECT), 3000000);
    assert_string_equal(punch_plan_name(PUNCH_PLAN_LAN_ONLY), "lan only");
}

static void test_spray_never_repeats_and_stops_at_budget(void **state)
{
    (void)state;
    struct punch_spray sp = {0};
    uint8_t seen[65536 / 8] = {0};
    uint32_t x = 12345;
    uint32_t n = 0;
    for (;;) {
        uint16_t draws[4];
        for (int i = 0; i < 4; i++) {
            x = x * 1103515245u + 12345u;
            draws[i] = (uint16_t)(x >> 16);
        }
        uint16_t port = punch_spray_next(&sp, draws, 4001);
        if (!port)
            break;
        assert_true(port >= PUNCH_SPRAY_PORT_MIN);
        assert_int_not_equal(port, 4001);   /* probed as a candidate */
        assert_false(seen[port >> 3] & (1u << (port & 7)));
        seen[port >> 3] |= (uint8_t)(1u << (port & 7));
        n++;
    }
    /* the candidate's port counts against the budget */
    assert_int_equal(n, PUNCH_SPRAY_PROBES - 1);
    punch_spray_free(&sp);
    assert_null(sp.used);
}

static void test_spray_falls_back_when_every_draw_is_used(void **state)
{
    (void)state;
    struct punch_spray sp = {0};
    const uint16_t same[4] = {7, 7, 7, 7};
    uint16_t first = punch_spray_next(&sp, same, 0);
    assert_int_equal(first, PUNCH_SPRAY_PORT_MIN + 7);
    /* every draw names the used port: the next free one up is taken */
    assert_int_equal(punch_spray_next(&sp, same, 0), first + 1);
    assert_int_equal(punch_spray_next(&sp, same, 0), first + 2);
    /* wrapping from the top of the range */
    const uint16_t top[4] = {64511, 64511, 64511, 64511};
    assert_int_equal(punch_spray_next(&sp, top, 0), 65535);
    assert_int_equal(punch_spray_next(&sp, top, 0), PUNCH_SPRAY_PORT_MIN);
    punch_spray_free(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hardness),
        cmocka_unit_test(test_plans_agree_from_both_sides),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_spray_never_repeats_and_stops_at_budget),
        cmocka_unit_test(test_spray_falls_back_when_every_draw_is_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
