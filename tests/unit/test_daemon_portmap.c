/* node/daemon_portmap: which socket's port the daemon maps (the first
 * IPv4 one off loopback; none for loopback or IPv6 alone), and that port
 * mapping stays off, starting nothing on the loop, with
 * --no-port-mapping or with nothing to map; "off" is what status then
 * reports. A client that actually starts would talk to the real gateway,
 * so that path is left to tests/natlab/test_portmap_lab.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "node/control_proto.h"
#include "node/daemon_portmap.h"
#include "transport/error.h"

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr x = {.family = KNIT_AF_IP4, .port = port};
    x.ip[0] = a;
    x.ip[1] = b;
    x.ip[2] = c;
    x.ip[3] = d;
    return x;
}

static struct knit_addr v6_any(uint16_t port)
{
    struct knit_addr x = {.family = KNIT_AF_IP6, .port = port};
    return x;
}

static void test_port_choice(void **state)
{
    (void)state;
    struct knit_addr b[3];
    b[0] = v4(127, 0, 0, 1, 4001);
    assert_int_equal(knit_daemon_portmap_port(b, 1), 0);
    b[0] = v4(127, 255, 3, 9, 4001);
    assert_int_equal(knit_daemon_portmap_port(b, 1), 0);
    b[0] = v6_any(4001);
    assert_int_equal(knit_daemon_portmap_port(b, 1), 0);
    assert_int_equal(knit_daemon_portmap_port(b, 0), 0);
    /* The defaults: 0.0.0.0 and :: on one port. */
    b[0] = v4(0, 0, 0, 0, 4001);
    b[1] = v6_any(4001);
    assert_int_equal(knit_daemon_portmap_port(b, 2), 4001);
    /* Loopback and IPv6 first: the first IPv4 socket beyond them. */
    b[0] = v4(127, 0, 0, 1, 5000);
    b[1] = v6_any(5001);
    b[2] = v4(192, 168, 1, 20, 5002);
    assert_int_equal(knit_daemon_portmap_port(b, 3), 5002);
    b[2] = v4(10, 0, 0, 2, 5003);
    b[0] = v4(203, 0, 113, 7, 5004);
    assert_int_equal(knit_daemon_portmap_port(b, 3), 5004);
}

/* Starts with these sockets; checks that nothing runs on the loop and that
 * the info says off, then closes. */
static void check_off(const struct knit_addr *bound, size_t n, bool enabled)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct knit_daemon_portmap *dp = NULL;
    /* The node and driver are used only once a gateway answers. */
    assert_int_equal(knit_daemon_portmap_start(&dp, &loop, NULL, NULL, bound,
                                               n, enabled, KNIT_LOG_INFO),
                     KNIT_OK);
    assert_non_null(dp);
    assert_false(uv_loop_alive(&loop));
    struct knit_daemon_portmap_info info;
    memset(&info, 0xa5, sizeof info);
    knit_daemon_portmap_info(dp, &info);
    assert_int_equal(info.state, KNIT_CONTROL_PORTMAP_OFF);
    assert_string_equal(info.method, "");
    assert_int_equal(info.external.family, 0);
    assert_int_equal(info.lease_left_s, 0);
    assert_int_equal(info.next_try_s, 0);
    assert_string_equal(info.error, "");
    knit_daemon_portmap_close(dp);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_off(void **state)
{
    (void)state;
    struct knit_addr loopback = v4(127, 0, 0, 1, 4001);
    struct knit_addr lan[2] = {v4(0, 0, 0, 0, 4001), v6_any(4001)};
    struct knit_addr v6 = v6_any(4001);
    /* --no-port-mapping, with an address a gateway could forward to. */
    check_off(lan, 2, false);
    /* Nothing to map: loopback alone, IPv6 alone, no socket. */
    check_off(&loopback, 1, true);
    check_off(&v6, 1, true);
    check_off(NULL, 0, true);
}

static void test_null(void **state)
{
    (void)state;
    struct knit_daemon_portmap_info info;
    memset(&info, 0xa5, sizeof info);
    knit_daemon_portmap_info(NULL, &info);
    assert_int_equal(info.state, KNIT_CONTROL_PORTMAP_OFF);
    assert_string_equal(info.error, "");
    knit_daemon_portmap_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_choice),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
