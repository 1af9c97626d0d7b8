/* A session's life under a long transfer: rekeys by age and by volume
 * (also under loss, colliding, with one side's handshakes filtered, and
 * with none getting through), and a NAT that rebinds mid-transfer or while
 * idle, without the stream above noticing. Also: a datagram copied to
 * another address cannot move the session's path, nor make it flood that
 * address with challenges. Two unmodified nodes on virtual time
 * (tests/support/sim_pair.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/handshake.h"
#include "tests/support/sim_pair.h"
#include "transport/error.h"

#define A 0
#define B 1

static bool transfer0_done(struct sim_world *w)
{
    return sim_transfer_done(w, 0);
}

static bool transfer1_done(struct sim_world *w)
{
    return sim_transfer_done(w, 1);
}

static struct sim_world *make_world(const struct sim_world_config *cfg)
{
    struct sim_world *w = NULL;
    assert_int_equal(sim_world_new(&w, cfg), KNIT_OK);
    return w;
}

static void end_world(struct sim_world *w)
{
    assert_false(w->over_budget);
    sim_world_free(w);
}

static uint32_t handshakes(struct sim_world *w, int i, int j)
{
    struct knit_session_stats st;
    assert_int_equal(knit_node_peer_stats(sim_node(w, i), &w->id[j], &st),
                     KNIT_OK);
    return st.handshakes;
}

/* ---- rekeying ------------------------------------------------------------------ */

/* 200 kB/s with a 20 ms delay: 3 MB take about 15 s. */
static const struct knit_sim_link_config slow_link = {
    .delay_us = 20000, .rate_bps = 200000, .queue_bytes = 32768,
};

static void run_rekey_transfer(const struct knit_session_config *session,
                               uint64_t seed, uint32_t min_handshakes)
{
    struct sim_world_config cfg = {
        .hosts = 2, .seed = seed, .link = slow_link, .session = session,
    };
    struct sim_world *w = make_world(&cfg);
    sim_transfer_start(w, 0, A, B, 3000000);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 120 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    /* Long enough for several key lifetimes. */
    assert_true(w->xfer[0].done_at > 10 * SIM_SECOND);
    uint32_t ha = handshakes(w, A, B), hb = handshakes(w, B, A);
    printf("    %.1f s virtual, %u handshakes at A, %u at B\n",
           (double)w->xfer[0].done_at / SIM_SECOND, ha, hb);
    assert_true(ha >= min_handshakes);
    assert_true(hb >= min_handshakes);
    assert_int_equal(w->log[A].down, 0);
    assert_int_equal(w->log[B].down, 0);
    assert_int_equal(w->log[A].up, 1);
    assert_int_equal(w->log[B].up, 1);
    /* The session carries on after the transfer. Idle, it renews no keys
     * (WireGuard's rule: keys are renewed when used); they expire unused,
     * and the next data waits for a handshake instead. */
    sim_run(w, sim_now(w) + 10 * SIM_SECOND, NULL);
    assert_true(knit_node_peer_is_up(sim_node(w, A), &w->id[B]));
    assert_true(knit_node_peer_is_up(sim_node(w, B), &w->id[A]));
    uint32_t idle_ha = handshakes(w, A, B);
    assert_true(idle_ha <= ha + 1);   /* one may have been under way */
    sim_transfer_start(w, 1, B, A, 20000);
    assert_true(sim_run(w, sim_now(w) + 5 * SIM_SECOND, transfer1_done));
    assert_true(sim_transfer_intact(w, 1));
    if (session->reject_after_us < 10 * SIM_SECOND)
        assert_true(handshakes(w, A, B) > idle_ha);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

static void test_rekey_by_age(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.rekey_after_us = 2 * SIM_SECOND;
    s.reject_after_us = 3 * SIM_SECOND;
    run_rekey_transfer(&s, 11, 4);
}

static void test_rekey_by_volume(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.rekey_after_packets = 300;
    /* 3 MB are some 2600 packets: a rekey every 300 of them. */
    run_rekey_transfer(&s, 12, 4);
}

/* Rekeys by age and by volume on a lossy, reordering link: the handshakes
 * themselves get lost and retried, and packets of old keys arrive late. */
static void test_rekey_under_loss(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.rekey_after_us = 2 * SIM_SECOND;
    s.reject_after_us = 3 * SIM_SECOND;
    s.rekey_after_packets = 500;
    s.handshake_retry_us = SIM_SECOND / 4;
    struct sim_world_config cfg = {
        .hosts = 2, .seed = 13, .session = &s,
        .link = {.delay_us = 20000, .jitter_us = 10000, .reorder = true,
                 .loss = 0.05, .duplicate = 0.02, .rate_bps = 300000,
                 .queue_bytes = 32768},
    };
    struct sim_world *w = make_world(&cfg);
    sim_transfer_start(w, 0, A, B, 2000000);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 300 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    printf("    %.1f s virtual, %u handshakes\n",
           (double)w->xfer[0].done_at / SIM_SECOND, handshakes(w, A, B));
    assert_true(handshakes(w, A, B) >= 4);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

/* Both sides start a rekey at the same moment: with a retry base of 5 ms
 * the responder's rekey age is only 50 ms past the initiator's, while its
 * keys are a one-way delay older, so each side's initiation crosses the
 * other's in flight, every time. */
static void test_rekey_collisions(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.rekey_after_us = 2 * SIM_SECOND;
    s.reject_after_us = 3 * SIM_SECOND;
    s.handshake_retry_us = 5000;
    struct sim_world_config cfg = {
        .hosts = 2, .seed = 16, .session = &s,
        .link = {.delay_us = 50000, .rate_bps = 400000,
                 .queue_bytes = 16384},
    };
    struct sim_world *w = make_world(&cfg);
    sim_transfer_start(w, 0, A, B, 4000000);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 120 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    printf("    %.1f s virtual, %u handshakes at A, %u at B\n",
           (double)w->xfer[0].done_at / SIM_SECOND, handshakes(w, A, B),
           handshakes(w, B, A));
    /* 10 s at the link's rate. Each collision costs a few hundred ms:
     * every retry (far shorter than the round trip here) replaces the
     * initiation in flight, until the backoff outgrows the round trip. */
    assert_true(w->xfer[0].done_at < 25 * SIM_SECOND);
    assert_true(handshakes(w, A, B) >= 4);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

/* ---- rekeys that cannot happen as planned ------------------------------------ */

struct hs_filter {
    bool drop_from_a;      /* A's initiations */
    bool drop_all;         /* every handshake packet, both ways */
    uint64_t dropped;
};

static bool drop_handshakes(struct sim_world *w, int from,
                            const struct knit_addr *src,
                            const struct knit_addr *dst, const uint8_t *pkt,
                            size_t len)
{
    (void)src, (void)dst;
    struct hs_filter *f = w->user;
    bool hs = len > 0 && (pkt[0] == KNIT_PACKET_INITIATION ||
                          pkt[0] == KNIT_PACKET_RESPONSE);
    if ((f->drop_all && hs) ||
        (f->drop_from_a && from == A && pkt[0] == KNIT_PACKET_INITIATION)) {
        f->dropped++;
        return false;
    }
    return true;
}

static void short_keys(struct knit_session_config *s)
{
    knit_session_config_default(s);
    s->rekey_after_us = 2 * SIM_SECOND;
    s->reject_after_us = 3 * SIM_SECOND;
}

static bool both_up(struct sim_world *w)
{
    return knit_node_peer_is_up(sim_node(w, A), &w->id[B]) &&
           knit_node_peer_is_up(sim_node(w, B), &w->id[A]);
}

/* The side that rekeys first cannot get its initiations through (a
 * filter, a one-way problem): the other side rekeys before the keys
 * expire, and the session carries on. */
static void test_rekey_when_initiator_cannot(void **state)
{
    (void)state;
    struct knit_session_config s;
    short_keys(&s);
    struct hs_filter f = {0};
    struct sim_world_config cfg = {
        .hosts = 2, .seed = 14, .link = slow_link, .session = &s,
    };
    struct sim_world *w = make_world(&cfg);
    w->user = &f;
    w->tap = drop_handshakes;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    f.drop_from_a = true;
    sim_transfer_start(w, 0, A, B, 2000000);
    assert_true(sim_run(w, 120 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    printf("    %llu initiations from A dropped; %u handshakes\n",
           (unsigned long long)f.dropped, handshakes(w, B, A));
    assert_true(f.dropped > 0);
    assert_true(handshakes(w, B, A) >= 4);
    /* No stall while the keys ran out: about 10 s at the link's rate. */
    assert_true(w->xfer[0].done_at < 14 * SIM_SECOND);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

/* No handshake gets through at all: the keys expire, nothing can be sent,
 * and the session ends when the idle timeout says so, quietly (no timer
 * firing over and over at one instant while blocked). */
static void test_keys_expire_without_rekey(void **state)
{
    (void)state;
    struct knit_session_config s;
    short_keys(&s);
    s.idle_timeout_us = 10 * SIM_SECOND;
    s.keepalive_us = SIM_SECOND;
    struct hs_filter f = {0};
    struct sim_world_config cfg = {
        .hosts = 2, .seed = 15, .link = slow_link, .session = &s,
    };
    struct sim_world *w = make_world(&cfg);
    w->user = &f;
    w->tap = drop_handshakes;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    uint64_t up_at = sim_now(w);
    f.drop_all = true;
    sim_transfer_start(w, 0, A, B, 10000000);
    sim_run(w, up_at + 60 * SIM_SECOND, NULL);
    assert_false(w->over_budget);
    printf("    down at %.3f s and %.3f s: %s\n",
           (double)(w->log[A].last_down_at - up_at) / SIM_SECOND,
           (double)(w->log[B].last_down_at - up_at) / SIM_SECOND,
           w->log[A].last_down_reason);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w->log[i].down, 1);
        /* Data stops when the keys do (3 s); silence ends it 10 s on. */
        assert_true(w->log[i].last_down_at <=
                    up_at + s.reject_after_us + s.idle_timeout_us +
                        SIM_SECOND);
        struct knit_node_stats st;
        knit_node_get_stats(sim_node(w, i), &st);
        assert_int_equal(st.sessions, 0);
    }
    assert_false(sim_transfer_done(w, 0));
    end_world(w);
}

/* ---- NAT rebinding --------------------------------------------------------------- */

struct rebind {
    struct knit_addr nat_new;       /* A's address after the rebinding */
    struct knit_addr attacker;
    /* a copy of one of A's data datagrams, for the replay */
    uint8_t copy[2048];
    size_t copy_len;
    bool want_copy;
    /* a copy sent ahead of its original from the attacker's address */
    bool race_next;
    size_t race_min_len, race_max_len;   /* which datagram to copy */
    uint8_t race[2048];
    size_t race_len;
    uint64_t to_attacker;           /* datagrams B sent to the attacker */
    uint64_t to_attacker_bytes;
};

static void deliver_race(void *ctx, uint64_t arg)
{
    (void)arg;
    struct sim_world *w = ctx;
    struct rebind *r = w->user;
    knit_sim_host_deliver(w->host[B], &r->attacker, r->race, r->race_len);
}

static bool rebind_tap(struct sim_world *w, int from,
                       const struct knit_addr *src,
                       const struct knit_addr *dst, const uint8_t *pkt,
                       size_t len)
{
    (void)src;
    struct rebind *r = w->user;
    if (from == B && knit_addr_equal(dst, &r->attacker)) {
        r->to_attacker++;
        r->to_attacker_bytes += len;
    }
    if (from != A || len > sizeof r->copy || pkt[0] != KNIT_PACKET_DATA)
        return true;
    if (r->want_copy) {
        memcpy(r->copy, pkt, len);
        r->copy_len = len;
        r->want_copy = false;
    }
    if (r->race_next && len >= r->race_min_len && len <= r->race_max_len) {
        /* An on-path attacker copies the datagram and gets its copy to B
         * first, from its own address. */
        memcpy(r->race, pkt, len);
        r->race_len = len;
        r->race_next = false;
        knit_sim_schedule(w->engine, sim_now(w) + 1, deliver_race, w, 0);
    }
    return true;
}

static bool third_received(struct sim_world *w)
{
    return w->xfer[0].received >= w->xfer[0].total / 3;
}

/* Is host i's path to host j at addr? *paths: how many it holds. */
static bool path_is(struct sim_world *w, int i, int j,
                    const struct knit_addr *addr, uint32_t *paths)
{
    struct knit_session_stats st;
    assert_int_equal(knit_node_peer_stats(sim_node(w, i), &w->id[j], &st),
                     KNIT_OK);
    if (paths)
        *paths = st.paths;
    return knit_addr_equal(&st.path, addr);
}

static void test_nat_rebinding(void **state)
{
    (void)state;
    struct rebind r = {
        .nat_new = sim_addr(203, 0, 113, 77, 61000),
        .attacker = sim_addr(192, 0, 2, 66, 4444),
    };
    struct sim_world_config cfg = {.hosts = 2, .seed = 21, .link = slow_link};
    struct sim_world *w = make_world(&cfg);
    w->user = &r;
    w->tap = rebind_tap;
    sim_transfer_start(w, 0, A, B, 2000000);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 60 * SIM_SECOND, third_received));
    struct knit_addr old = w->addr[A];
    assert_true(knit_addr_equal(&old, &w->src[A]));
    assert_true(path_is(w, B, A, &old, NULL));

    /* The NAT loses its mapping: A's datagrams now come from another
     * address, and only that address reaches A. */
    w->src[A] = r.nat_new;
    w->addr[A] = r.nat_new;
    uint64_t rebound_at = sim_now(w);
    assert_true(sim_run(w, 120 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    assert_int_equal(w->log[B].path_changed, 1);
    assert_true(w->log[B].last_path_changed_at > rebound_at);
    /* Validation takes a round trip or so, not a timeout. */
    assert_true(w->log[B].last_path_changed_at < rebound_at + SIM_SECOND);
    assert_true(path_is(w, B, A, &r.nat_new, NULL));
    assert_int_equal(w->log[A].path_changed, 0);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    printf("    path moved %.3f s after the rebinding; done at %.1f s\n",
           (double)(w->log[B].last_path_changed_at - rebound_at) / SIM_SECOND,
           (double)w->xfer[0].done_at / SIM_SECOND);

    /* A second transfer to have traffic to copy. */
    r.want_copy = true;
    sim_transfer_start(w, 1, A, B, 300000);
    sim_run(w, sim_now(w) + SIM_SECOND, NULL);
    assert_true(r.copy_len > 0);
    uint32_t paths_before;
    assert_true(path_is(w, B, A, &r.nat_new, &paths_before));

    /* Replayed later from a third address: the replay window refuses it
     * before it can count as a sign of life from there. */
    knit_sim_host_deliver(w->host[B], &r.attacker, r.copy, r.copy_len);
    sim_run(w, sim_now(w) + 3 * SIM_SECOND, NULL);
    assert_int_equal(r.to_attacker, 0);
    assert_true(path_is(w, B, A, &r.nat_new, NULL));

    /* Copied in flight and delivered first from the third address: the
     * packet authenticates, so B challenges the new address; nobody
     * answers there, and the path stays where A really is. */
    r.race_next = true;
    r.race_min_len = 1000;
    r.race_max_len = SIZE_MAX;
    sim_transfer_start(w, 1, A, B, 300000);
    sim_run(w, sim_now(w) + 5 * SIM_SECOND, NULL);
    assert_true(r.race_len > 0);
    printf("    %llu challenges (%llu bytes) to the copying address for a "
           "%zu-byte copy\n",
           (unsigned long long)r.to_attacker,
           (unsigned long long)r.to_attacker_bytes, r.race_len);
    assert_true(r.to_attacker >= 1);
    /* No amplification beyond one challenge (1200 bytes on the wire) and
     * three times the copy. */
    assert_true(r.to_attacker_bytes <= 1200 + 3 * r.race_len);
    assert_int_equal(w->log[B].path_changed, 1);
    uint32_t paths_after;
    assert_true(path_is(w, B, A, &r.nat_new, &paths_after));
    /* The unanswered path was given up. */
    assert_true(paths_after <= paths_before);
    assert_true(sim_transfer_intact(w, 1));

    /* The same with a small packet (a keepalive, once the session is
     * idle): one challenge, not a stream of full-size ones. */
    r.to_attacker = r.to_attacker_bytes = 0;
    r.race_len = 0;
    r.race_next = true;
    r.race_min_len = 0;
    r.race_max_len = 100;
    sim_run(w, sim_now(w) + 40 * SIM_SECOND, NULL);
    assert_true(r.race_len > 0);
    printf("    %llu challenge(s) for a %zu-byte copy\n",
           (unsigned long long)r.to_attacker, r.race_len);
    assert_int_equal(r.to_attacker, 1);
    assert_true(path_is(w, B, A, &r.nat_new, NULL));
    assert_int_equal(w->log[B].path_changed, 1);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

/* The NAT rebinds while the session is idle: the next keepalive comes from
 * the new address, and the path follows. Then again mid-transfer on a
 * lossy link, where challenges and responses get lost too. */
static void test_nat_rebinding_idle_and_lossy(void **state)
{
    (void)state;
    struct sim_world_config cfg = {
        .hosts = 2, .seed = 22,
        .link = {.delay_us = 15000, .loss = 0.1, .rate_bps = 500000,
                 .queue_bytes = 32768},
    };
    struct sim_world *w = make_world(&cfg);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    sim_run(w, 10 * SIM_SECOND, NULL);
    assert_true(both_up(w));
    struct knit_addr nat1 = sim_addr(203, 0, 113, 5, 40001);
    struct knit_addr nat2 = sim_addr(203, 0, 113, 5, 40002);
    w->src[A] = w->addr[A] = nat1;
    uint64_t at = sim_now(w);
    /* Within a keepalive interval or two (a lost keepalive or challenge
     * waits for the next one). */
    sim_run(w, at + 60 * SIM_SECOND, NULL);
    assert_int_equal(w->log[B].path_changed, 1);
    assert_true(path_is(w, B, A, &nat1, NULL));
    printf("    idle: path moved %.3f s after the rebinding\n",
           (double)(w->log[B].last_path_changed_at - at) / SIM_SECOND);

    sim_transfer_start(w, 0, A, B, 3000000);
    sim_run(w, sim_now(w) + 2 * SIM_SECOND, NULL);
    assert_false(sim_transfer_done(w, 0));
    w->src[A] = w->addr[A] = nat2;
    at = sim_now(w);
    assert_true(sim_run(w, at + 120 * SIM_SECOND, transfer0_done));
    assert_true(sim_transfer_intact(w, 0));
    assert_int_equal(w->log[B].path_changed, 2);
    assert_true(path_is(w, B, A, &nat2, NULL));
    printf("    lossy: path moved %.3f s after the rebinding\n",
           (double)(w->log[B].last_path_changed_at - at) / SIM_SECOND);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);   /* one scenario, for debugging */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rekey_by_age),
        cmocka_unit_test(test_rekey_by_volume),
        cmocka_unit_test(test_rekey_under_loss),
        cmocka_unit_test(test_rekey_collisions),
        cmocka_unit_test(test_rekey_when_initiator_cannot),
        cmocka_unit_test(test_keys_expire_without_rekey),
        cmocka_unit_test(test_nat_rebinding),
        cmocka_unit_test(test_nat_rebinding_idle_and_lossy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
