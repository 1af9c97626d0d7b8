/* node/node.c: the sans-IO node core skeleton, driven by a fake io. This
 * test links the core without libuv, which is itself part of what it shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/event.h"
#include "node/node.h"
#include "transport/error.h"

struct fake_io {
    int sends;
    int events;
    enum knit_log_level last_level;
    char last_message[256];
};

static int fake_send(void *ctx, int sock, const struct knit_addr *to,
                     const uint8_t *pkt, size_t len)
{
    (void)sock, (void)to, (void)pkt, (void)len;
    ((struct fake_io *)ctx)->sends++;
    return KNIT_OK;
}

static void fake_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0x5a, len);
}

static void fake_event(void *ctx, const struct knit_event *ev)
{
    struct fake_io *f = ctx;
    f->events++;
    if (ev->type == KNIT_EVENT_LOG) {
        f->last_level = ev->u.log.level;
        snprintf(f->last_message, sizeof f->last_message, "%s",
                 ev->u.log.message);
    }
}

static struct knit_node *make_node(struct fake_io *f)
{
    uint8_t seed[KNIT_SEED_LEN];
    memset(seed, 7, sizeof seed);
    struct knit_identity ident;
    assert_int_equal(knit_identity_from_seed(&ident, seed), KNIT_OK);
    struct knit_io io = {.ctx = f, .send = fake_send, .random = fake_random,
                         .event = fake_event};
    struct knit_node_config cfg = {.identity = &ident};
    struct knit_node *node = NULL;
    assert_int_equal(knit_node_new(&node, &cfg, &io, 1000), KNIT_OK);
    assert_true(knit_peer_id_equal(knit_node_peer_id(node), &ident.id));
    knit_identity_wipe(&ident);
    return node;
}

static void test_new_rejects_missing_io(void **state)
{
    (void)state;
    struct knit_identity ident;
    uint8_t seed[KNIT_SEED_LEN] = {1};
    knit_identity_from_seed(&ident, seed);
    struct knit_node_config cfg = {.identity = &ident};
    struct knit_io io = {0};
    struct knit_node *node = NULL;
    assert_int_equal(knit_node_new(&node, &cfg, &io, 0), KNIT_E_INVAL);
    assert_null(node);
    knit_identity_wipe(&ident);
}

static void test_unknown_packet_dropped_and_reported(void **state)
{
    (void)state;
    struct fake_io f = {0};
    struct knit_node *node = make_node(&f);
    struct knit_addr local = {.family = KNIT_AF_IP4, .port = 4001};
    assert_int_equal(knit_node_add_socket(node, 0, &local), KNIT_OK);

    const uint8_t ip[4] = {198, 51, 100, 9};
    struct knit_addr from;
    knit_addr_set(&from, ip, 4, 5555);
    const uint8_t pkt[] = "garbage";
    assert_int_equal(knit_node_receive(node, 2000, 0, &from, pkt, sizeof pkt),
                     KNIT_E_UNSUPPORTED);
    struct knit_node_stats stats;
    knit_node_get_stats(node, &stats);
    assert_int_equal(stats.packets_received, 1);
    assert_int_equal(stats.bytes_received, sizeof pkt);
    assert_int_equal(stats.packets_dropped, 1);
    assert_int_equal(f.events, 1);
    assert_int_equal(f.last_level, KNIT_LOG_DEBUG);
    assert_non_null(strstr(f.last_message, "198.51.100.9:5555"));
    assert_int_equal(f.sends, 0);   /* a dropped packet is never answered */
    knit_node_free(node);
}

static void test_no_deadline_when_idle(void **state)
{
    (void)state;
    struct fake_io f = {0};
    struct knit_node *node = make_node(&f);
    assert_true(knit_node_next_deadline(node) == KNIT_NO_DEADLINE);
    knit_node_timeout(node, 5000);
    assert_true(knit_node_next_deadline(node) == KNIT_NO_DEADLINE);
    knit_node_free(node);
}

static void test_socket_limit(void **state)
{
    (void)state;
    struct fake_io f = {0};
    struct knit_node *node = make_node(&f);
    struct knit_addr local = {.family = KNIT_AF_IP4};
    for (int i = 0; i < KNIT_NODE_MAX_SOCKETS; i++)
        assert_int_equal(knit_node_add_socket(node, i, &local), KNIT_OK);
    assert_int_equal(knit_node_add_socket(node, 99, &local), KNIT_E_TOO_BIG);
    knit_node_free(node);
}

static void test_many_nodes_are_independent(void **state)
{
    (void)state;
    /* No global state: two nodes count their own traffic. */
    struct fake_io f1 = {0}, f2 = {0};
    struct knit_node *a = make_node(&f1), *b = make_node(&f2);
    struct knit_addr from = {.family = KNIT_AF_IP4, .port = 1};
    const uint8_t pkt[1] = {0};
    knit_node_receive(a, 1, 0, &from, pkt, 1);
    struct knit_node_stats sa, sb;
    knit_node_get_stats(a, &sa);
    knit_node_get_stats(b, &sb);
    assert_int_equal(sa.packets_received, 1);
    assert_int_equal(sb.packets_received, 0);
    knit_node_free(a);
    knit_node_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_missing_io),
        cmocka_unit_test(test_unknown_packet_dropped_and_reported),
        cmocka_unit_test(test_no_deadline_when_idle),
        cmocka_unit_test(test_socket_limit),
        cmocka_unit_test(test_many_nodes_are_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
