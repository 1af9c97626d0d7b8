/* The port-mapping client's API edges (node/portmap.h) that send nothing:
 * refused configurations, stop of no client, status of no client, state
 * names. Everything that talks to a gateway is tested against miniupnpd in
 * tests/natlab/test_portmap_lab.sh (a unit test must not reach this
 * machine's real gateway). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "node/portmap.h"
#include "transport/error.h"

static void refuses_bad_config(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct knit_portmap *pm = (struct knit_portmap *)&loop; /* untouched */
    struct knit_portmap_config cfg = {.internal_port = 0};
    assert_int_equal(knit_portmap_start(&loop, &cfg, NULL, NULL, &pm),
                     KNIT_E_INVAL);
    cfg.internal_port = 4001;
    cfg.methods = 0x8; /* no such method */
    assert_int_equal(knit_portmap_start(&loop, &cfg, NULL, NULL, &pm),
                     KNIT_E_INVAL);
    cfg.methods = KNIT_PORTMAP_PCP;
    assert_int_equal(knit_portmap_start(NULL, &cfg, NULL, NULL, &pm),
                     KNIT_E_INVAL);
    assert_int_equal(knit_portmap_start(&loop, NULL, NULL, NULL, &pm),
                     KNIT_E_INVAL);
    assert_int_equal(knit_portmap_start(&loop, &cfg, NULL, NULL, NULL),
                     KNIT_E_INVAL);
    assert_ptr_equal(pm, (struct knit_portmap *)&loop);
    /* Nothing was queued or left open on the loop. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_done(void *ctx)
{
    (*(int *)ctx)++;
}

static void stop_and_status_of_nothing(void **state)
{
    (void)state;
    int done = 0;
    knit_portmap_stop(NULL, on_done, &done);
    assert_int_equal(done, 1);
    knit_portmap_stop(NULL, NULL, NULL);
    struct knit_portmap_status st;
    memset(&st, 0xff, sizeof st);
    knit_portmap_get_status(NULL, &st);
    assert_null(st.method);
    assert_int_equal(st.external.family, 0);
    assert_int_equal(st.lease_left_s, 0);
    assert_string_equal(st.last_error, "");
}

static void state_names(void **state)
{
    (void)state;
    assert_string_equal(knit_portmap_state_name(KNIT_PORTMAP_SEARCHING),
                        "searching");
    assert_string_equal(knit_portmap_state_name(KNIT_PORTMAP_MAPPED),
                        "mapped");
    assert_string_equal(knit_portmap_state_name(KNIT_PORTMAP_WAITING),
                        "waiting");
    assert_string_equal(knit_portmap_state_name(KNIT_PORTMAP_STOPPING),
                        "stopping");
    assert_string_equal(knit_portmap_state_name((enum knit_portmap_state)9),
                        "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refuses_bad_config),
        cmocka_unit_test(stop_and_status_of_nothing),
        cmocka_unit_test(state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
