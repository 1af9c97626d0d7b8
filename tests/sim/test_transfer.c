/* Two nodes, the whole data plane, on virtual time: handshake, encryption,
 * reliable streams, loss recovery and congestion control over simulated
 * links with loss, reordering, duplication and a rate limit. Every byte of
 * a multi-megabyte transfer must arrive exactly once and in order (SHA-256
 * of what was sent == SHA-256 of what arrived). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/link.h"
#include "sim/rng.h"
#include "transport/error.h"

#define PROTO "/test/transfer/1"
#define SECOND 1000000ull

struct world {
    struct knit_sim_engine *engine;
    struct knit_sim_host *a, *b;
    struct knit_sim_link *a_to_b, *b_to_a;
    /* sender */
    struct knit_rng data_rng;
    uint64_t total, sent;
    bool finished;
    uint64_t stream;
    bool stream_open;
    crypto_hash_sha256_state sent_hash;
    /* receiver */
    uint64_t stream_at_b;
    uint64_t received;
    bool got_fin;
    crypto_hash_sha256_state recv_hash;
    uint64_t done_at;
    bool peer_down;
};

/* The links carry a datagram with its source address in front, so the
 * receiving host learns where it came from. */
struct wire_header {
    struct knit_addr src;
};

static void deliver(void *ctx, const uint8_t *pkt, size_t len)
{
    struct knit_sim_host *to = ctx;
    struct wire_header h;
    if (len < sizeof h)
        return;
    memcpy(&h, pkt, sizeof h);
    knit_sim_host_deliver(to, &h.src, pkt + sizeof h, len - sizeof h);
}

static void host_send(void *ctx, struct knit_sim_host *from,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      const uint8_t *pkt, size_t len)
{
    (void)dst;
    struct world *w = ctx;
    uint8_t buf[4096];
    struct wire_header h = {.src = *src};
    if (len + sizeof h > sizeof buf)
        return;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, pkt, len);
    knit_sim_link_send(from == w->a ? w->a_to_b : w->b_to_a, buf,
                       len + sizeof h);
}

static void pump_sender(struct world *w)
{
    struct knit_node *node = knit_sim_host_node(w->a);
    uint64_t now = knit_sim_now(w->engine);
    uint8_t chunk[8192];
    while (w->stream_open && w->sent < w->total) {
        size_t n = sizeof chunk;
        if (w->total - w->sent < n)
            n = (size_t)(w->total - w->sent);
        /* The data is regenerated from the PRNG's position, so a partial
         * write is resumed exactly where it stopped. */
        struct knit_rng saved = w->data_rng;
        knit_rng_fill(&w->data_rng, chunk, n);
        size_t accepted = 0;
        knit_node_stream_write(node, knit_sim_host_id(w->b), w->stream, chunk,
                               n, now, &accepted);
        if (accepted < n) {
            w->data_rng = saved;
            knit_rng_fill(&w->data_rng, chunk, accepted);
        }
        crypto_hash_sha256_update(&w->sent_hash, chunk, accepted);
        w->sent += accepted;
        if (accepted < n)
            break;
    }
    if (w->stream_open && w->sent == w->total && !w->finished) {
        w->finished = true;
        knit_node_stream_finish(node, knit_sim_host_id(w->b), w->stream, now);
    }
    knit_sim_host_rearm(w->a);
}

static void drain_receiver(struct world *w, uint64_t stream)
{
    struct knit_node *node = knit_sim_host_node(w->b);
    uint64_t now = knit_sim_now(w->engine);
    uint8_t buf[16384];
    for (;;) {
        size_t n;
        bool fin;
        if (knit_node_stream_read(node, knit_sim_host_id(w->a), stream, buf,
                                  sizeof buf, &n, &fin, now) != KNIT_OK)
            break;
        crypto_hash_sha256_update(&w->recv_hash, buf, n);
        w->received += n;
        if (fin && !w->got_fin) {
            w->got_fin = true;
            w->done_at = now;
        }
        if (n == 0)
            break;
    }
    knit_sim_host_rearm(w->b);
}

static void on_event(void *ctx, struct knit_sim_host *host,
                     const struct knit_event *ev)
{
    struct world *w = ctx;
    uint64_t now = knit_sim_now(w->engine);
    if (host == w->a) {
        if (ev->type == KNIT_EVENT_PEER_UP && !w->stream_open) {
            assert_int_equal(knit_node_open_stream(knit_sim_host_node(w->a),
                                                   ev->peer, PROTO, now,
                                                   &w->stream),
                             KNIT_OK);
            w->stream_open = true;
            pump_sender(w);
        } else if (ev->type == KNIT_EVENT_STREAM_WRITABLE) {
            pump_sender(w);
        } else if (ev->type == KNIT_EVENT_PEER_DOWN) {
            w->peer_down = true;
        }
    } else {
        if (ev->type == KNIT_EVENT_STREAM_OPENED) {
            assert_string_equal(ev->u.opened.protocol, PROTO);
            w->stream_at_b = ev->stream_id;
            drain_receiver(w, ev->stream_id);
        } else if (ev->type == KNIT_EVENT_STREAM_READABLE) {
            drain_receiver(w, ev->stream_id);
        }
    }
}

static struct knit_addr addr_of(uint8_t last)
{
    const uint8_t ip[4] = {198, 51, 100, last};
    struct knit_addr a;
    knit_addr_set(&a, ip, 4, 4001);
    return a;
}

/* Runs one transfer of total bytes over links with cfg; returns the
 * virtual time it took. */
static uint64_t run_transfer(const struct knit_sim_link_config *link,
                             uint64_t total, uint64_t seed)
{
    static const char *const served[] = {PROTO, NULL};
    struct world w = {.total = total};
    knit_rng_seed(&w.data_rng, seed ^ 0xdada);
    crypto_hash_sha256_init(&w.sent_hash);
    crypto_hash_sha256_init(&w.recv_hash);
    assert_int_equal(knit_sim_engine_new(&w.engine), KNIT_OK);
    struct knit_sim_host_config ha = {
        .addr = addr_of(1), .seed = seed, .send = host_send,
        .event = on_event, .ctx = &w,
    };
    struct knit_sim_host_config hb = ha;
    hb.addr = addr_of(2);
    hb.seed = seed + 1;
    hb.protocols = served;
    assert_int_equal(knit_sim_host_new(&w.a, w.engine, &ha), KNIT_OK);
    assert_int_equal(knit_sim_host_new(&w.b, w.engine, &hb), KNIT_OK);
    assert_int_equal(knit_sim_link_new(&w.a_to_b, w.engine, link, seed * 3,
                                       deliver, w.b),
                     KNIT_OK);
    assert_int_equal(knit_sim_link_new(&w.b_to_a, w.engine, link, seed * 5,
                                       deliver, w.a),
                     KNIT_OK);
    struct knit_addr b_addr = addr_of(2);
    assert_int_equal(knit_node_connect(knit_sim_host_node(w.a),
                                       knit_sim_host_id(w.b), &b_addr, 0),
                     KNIT_OK);
    knit_sim_host_rearm(w.a);
    /* Bounded in virtual time and in events: a stuck transfer fails. */
    while (!w.got_fin && knit_sim_now(w.engine) < 600 * SECOND &&
           knit_sim_step(w.engine))
        ;
    assert_false(w.peer_down);
    assert_true(w.got_fin);
    assert_true(w.received == total);
    uint8_t h1[32], h2[32];
    crypto_hash_sha256_final(&w.sent_hash, h1);
    crypto_hash_sha256_final(&w.recv_hash, h2);
    assert_memory_equal(h1, h2, 32);
    uint64_t took = w.done_at;
    knit_sim_link_free(w.a_to_b);
    knit_sim_link_free(w.b_to_a);
    knit_sim_host_free(w.a);
    knit_sim_host_free(w.b);
    knit_sim_engine_free(w.engine);
    printf("    %llu bytes in %.3f s virtual\n", (unsigned long long)total,
           (double)took / SECOND);
    return took;
}

static void test_clean_link(void **state)
{
    (void)state;
    struct knit_sim_link_config link = {.delay_us = 10000};
    run_transfer(&link, 4u << 20, 1);
}

static void test_loss_1_percent(void **state)
{
    (void)state;
    struct knit_sim_link_config link = {.delay_us = 10000, .loss = 0.01};
    run_transfer(&link, 4u << 20, 2);
}

static void test_loss_5_percent(void **state)
{
    (void)state;
    struct knit_sim_link_config link = {.delay_us = 10000, .loss = 0.05};
    run_transfer(&link, 4u << 20, 3);
}

static void test_loss_20_percent(void **state)
{
    (void)state;
    struct knit_sim_link_config link = {.delay_us = 10000, .loss = 0.20};
    run_transfer(&link, 2u << 20, 4);
}

static void test_reorder_and_duplicate(void **state)
{
    (void)state;
    struct knit_sim_link_config link = {
        .delay_us = 10000, .jitter_us = 8000, .reorder = true,
        .duplicate = 0.05, .loss = 0.01,
    };
    run_transfer(&link, 4u << 20, 5);
}

static void test_bandwidth_and_delay(void **state)
{
    (void)state;
    /* 10 Mbit/s, 40 ms one way, a 64 KiB bottleneck queue. */
    struct knit_sim_link_config link = {
        .delay_us = 40000, .rate_bps = 1250000, .queue_bytes = 65536,
    };
    uint64_t took = run_transfer(&link, 4u << 20, 6);
    /* 4 MiB at 1.25 MB/s needs 3.4 s; congestion control should get
     * within a modest factor of the link's capacity. */
    assert_true(took < 12 * SECOND);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_link),
        cmocka_unit_test(test_loss_1_percent),
        cmocka_unit_test(test_loss_5_percent),
        cmocka_unit_test(test_loss_20_percent),
        cmocka_unit_test(test_reorder_and_duplicate),
        cmocka_unit_test(test_bandwidth_and_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
