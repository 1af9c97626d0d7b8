/* transport/uv_driver.c: the libuv driver on loopback (127.0.0.1 only). The
 * loop runs until the awaited callback stops it; a guard timer fails the
 * test instead of letting it hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "node/event.h"
#include "transport/error.h"
#include "transport/uv_driver.h"

struct harness {
    uv_loop_t loop;
    uv_timer_t guard;
    struct knit_uv_driver *drv;
    int packets;
    int last_sock;
    struct knit_addr last_from;
    uint8_t last_pkt[64];
    size_t last_len;
    uint64_t deadline;
    int timer_calls;
    int events;
    bool timed_out;
};

static void on_packet(void *ctx, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len)
{
    (void)now;
    struct harness *h = ctx;
    h->packets++;
    h->last_sock = sock;
    h->last_from = *from;
    h->last_len = len < sizeof h->last_pkt ? len : sizeof h->last_pkt;
    memcpy(h->last_pkt, pkt, h->last_len);
    uv_stop(&h->loop);
}

static void on_timer(void *ctx, uint64_t now)
{
    struct harness *h = ctx;
    h->timer_calls++;
    if (now >= h->deadline)
        h->deadline = KNIT_NO_DEADLINE;
    uv_stop(&h->loop);
}

static uint64_t next_deadline(void *ctx)
{
    return ((struct harness *)ctx)->deadline;
}

static void on_event(void *ctx, const struct knit_event *ev)
{
    (void)ev;
    ((struct harness *)ctx)->events++;
}

static void on_guard(uv_timer_t *t)
{
    struct harness *h = t->data;
    h->timed_out = true;
    uv_stop(&h->loop);
}

static void run_until_stopped(struct harness *h)
{
    h->timed_out = false;
    uv_timer_start(&h->guard, on_guard, 2000, 0);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&h->guard);
    assert_false(h->timed_out);
}

static int setup(void **state)
{
    static struct harness h;
    memset(&h, 0, sizeof h);
    h.deadline = KNIT_NO_DEADLINE;
    assert_int_equal(uv_loop_init(&h.loop), 0);
    uv_timer_init(&h.loop, &h.guard);
    h.guard.data = &h;
    struct knit_uv_callbacks cb = {
        .ctx = &h, .on_packet = on_packet, .on_timer = on_timer,
        .next_deadline = next_deadline, .on_event = on_event,
    };
    assert_int_equal(knit_uv_driver_new(&h.drv, &h.loop, &cb), KNIT_OK);
    *state = &h;
    return 0;
}

static int teardown(void **state)
{
    struct harness *h = *state;
    knit_uv_driver_close(h->drv);
    uv_close((uv_handle_t *)&h->guard, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    /* Every handle the driver opened has been released. */
    assert_int_equal(uv_loop_close(&h->loop), 0);
    return 0;
}

static struct knit_addr loopback(uint16_t port)
{
    const uint8_t ip[4] = {127, 0, 0, 1};
    struct knit_addr a;
    knit_addr_set(&a, ip, 4, port);
    return a;
}

static void test_send_and_receive(void **state)
{
    struct harness *h = *state;
    struct knit_addr want = loopback(0), a_addr, b_addr;
    int a = knit_uv_driver_listen(h->drv, &want, &a_addr);
    int b = knit_uv_driver_listen(h->drv, &want, &b_addr);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_true(a_addr.port != 0 && b_addr.port != 0);

    struct knit_io io;
    knit_uv_driver_io(h->drv, &io);
    assert_int_equal(io.send(io.ctx, a, &b_addr, (const uint8_t *)"knit", 4),
                     KNIT_OK);
    run_until_stopped(h);
    assert_int_equal(h->packets, 1);
    assert_int_equal(h->last_sock, b);
    assert_true(knit_addr_equal(&h->last_from, &a_addr));
    assert_int_equal(h->last_len, 4);
    assert_memory_equal(h->last_pkt, "knit", 4);
}

static void test_port_in_use(void **state)
{
    struct harness *h = *state;
    struct knit_addr want = loopback(0), got;
    assert_true(knit_uv_driver_listen(h->drv, &want, &got) >= 0);
    assert_int_equal(knit_uv_driver_listen(h->drv, &got, NULL),
                     KNIT_E_ADDR_IN_USE);
}

static void test_timer_follows_deadline(void **state)
{
    struct harness *h = *state;
    h->deadline = knit_uv_driver_now(h->drv) + 3000;   /* 3 ms */
    knit_uv_driver_rearm(h->drv);
    run_until_stopped(h);
    assert_int_equal(h->timer_calls, 1);
    assert_true(h->deadline == KNIT_NO_DEADLINE);
}

static void test_io_extras(void **state)
{
    struct harness *h = *state;
    struct knit_io io;
    knit_uv_driver_io(h->drv, &io);
    int s = io.open_socket(io.ctx, KNIT_AF_IP4, 0);
    assert_true(s >= 0);
    io.close_socket(io.ctx, s);
    assert_int_equal(io.open_socket(io.ctx, 99, 0), KNIT_E_INVAL);
    /* Sending on a closed or unknown socket is refused, not a crash. */
    struct knit_addr to = loopback(9);
    assert_int_equal(io.send(io.ctx, s, &to, (const uint8_t *)"x", 1),
                     KNIT_E_INVAL);
    assert_int_equal(io.send(io.ctx, -1, &to, (const uint8_t *)"x", 1),
                     KNIT_E_INVAL);
    uint8_t r1[32] = {0}, r2[32] = {0};
    io.random(io.ctx, r1, sizeof r1);
    io.random(io.ctx, r2, sizeof r2);
    assert_memory_not_equal(r1, r2, sizeof r1);
    struct knit_event ev = {.type = KNIT_EVENT_LOG};
    io.event(io.ctx, &ev);
    assert_int_equal(h->events, 1);
}

/* Makes sure the process may hold need more file descriptors; false if
 * its hard limit forbids it. */
static bool room_for_fds(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
            return false;
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return false;
    }
    return true;
}

#define MANY 300

/* The room a birthday hole punch needs: MANY sockets on 127.0.0.1 port 0,
 * each reached at its own handle, then up to the limit, where one more is
 * refused; a closed handle is taken again by the next open, and the io
 * interface closes them all. */
static void test_many_sockets(void **state)
{
    struct harness *h = *state;
    if (!room_for_fds(KNIT_UV_MAX_SOCKETS + 64))
        skip();
    static struct knit_addr bound[KNIT_UV_MAX_SOCKETS];
    struct knit_addr want = loopback(0);
    for (int k = 0; k < MANY; k++) {
        assert_int_equal(knit_uv_driver_listen(h->drv, &want, &bound[k]), k);
        assert_true(bound[k].port != 0);
        for (int j = 0; j < k; j++)
            assert_int_not_equal(bound[k].port, bound[j].port);
    }

    /* Handle 0 writes to every other one: each datagram arrives at the
     * handle of the socket it was sent to. */
    struct knit_io io;
    knit_uv_driver_io(h->drv, &io);
    for (int k = 1; k < MANY; k++) {
        uint8_t pkt[2] = {(uint8_t)(k & 0xff), (uint8_t)(k >> 8)};
        assert_int_equal(io.send(io.ctx, 0, &bound[k], pkt, sizeof pkt),
                         KNIT_OK);
        run_until_stopped(h);
        assert_int_equal(h->packets, k);
        assert_int_equal(h->last_sock, k);
        assert_true(knit_addr_equal(&h->last_from, &bound[0]));
        assert_int_equal(h->last_len, sizeof pkt);
        assert_memory_equal(h->last_pkt, pkt, sizeof pkt);
    }

    /* Up to the limit; one more is refused, by listen and by the io,
     * before anything is bound. */
    for (int k = MANY; k < KNIT_UV_MAX_SOCKETS; k++)
        assert_int_equal(knit_uv_driver_listen(h->drv, &want, &bound[k]), k);
    assert_int_equal(knit_uv_driver_listen(h->drv, &want, NULL),
                     KNIT_E_LIMIT);
    assert_int_equal(io.open_socket(io.ctx, KNIT_AF_IP4, 0), KNIT_E_LIMIT);

    /* A closed handle is free at once, for the next open. */
    int freed = 257;
    io.close_socket(io.ctx, freed);
    assert_int_equal(io.send(io.ctx, freed, &bound[0], (const uint8_t *)"x",
                             1),
                     KNIT_E_INVAL);
    assert_int_equal(knit_uv_driver_listen(h->drv, &want, &bound[freed]),
                     freed);
    assert_int_equal(knit_uv_driver_listen(h->drv, &want, NULL),
                     KNIT_E_LIMIT);

    /* The io closes them all (libuv releases them in teardown, which
     * checks that none is left); then handles count from 0 again. */
    for (int k = 0; k < KNIT_UV_MAX_SOCKETS; k++)
        io.close_socket(io.ctx, k);
    io.close_socket(io.ctx, KNIT_UV_MAX_SOCKETS);   /* out of range: no-op */
    assert_int_equal(knit_uv_driver_listen(h->drv, &want, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_and_receive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_follows_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_io_extras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sockets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
