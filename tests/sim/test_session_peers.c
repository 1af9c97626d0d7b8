/* How sessions come and go between peers: cookies under handshake load,
 * expiry when the peer goes silent, keepalives that stop it, a peer that
 * restarts, two peers dialling each other at once, a dial nobody answers
 * (at either end), a disconnect; the packets a session's set-up costs;
 * and the handshake defences: mac1 on responses, cookies and the rate
 * limit against a flood of initiations.
 * Unmodified nodes on virtual time (tests/support/sim_pair.h). */
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

static const struct knit_sim_link_config lan = {.delay_us = 10000};

static struct sim_world *make_world(int hosts, uint64_t seed,
                                    const struct knit_session_config *s)
{
    struct sim_world_config cfg = {
        .hosts = hosts, .seed = seed, .link = lan, .session = s,
    };
    struct sim_world *w = NULL;
    assert_int_equal(sim_world_new(&w, &cfg), KNIT_OK);
    return w;
}

static void end_world(struct sim_world *w)
{
    assert_false(w->over_budget);
    sim_world_free(w);
}

static uint32_t sessions(struct sim_world *w, int i)
{
    struct knit_node_stats st;
    knit_node_get_stats(sim_node(w, i), &st);
    return st.sessions;
}

static bool up(struct sim_world *w, int i, int j)
{
    return knit_node_peer_is_up(sim_node(w, i), &w->id[j]);
}

static bool both_up(struct sim_world *w)
{
    return up(w, A, B) && up(w, B, A);
}

static bool transfers_done(struct sim_world *w)
{
    for (int k = 0; k < SIM_MAX_TRANSFERS; k++)
        if (w->xfer[k].active && !w->xfer[k].got_fin)
            return false;
    return true;
}

/* ---- cookies under load ------------------------------------------------------------ */

static bool all_up_at_0(struct sim_world *w)
{
    for (int i = 1; i < w->cfg.hosts; i++)
        if (!up(w, i, 0) || !up(w, 0, i))
            return false;
    return true;
}

static void test_cookie_under_load(void **state)
{
    (void)state;
    struct sim_world_config cfg = {
        .hosts = 4, .seed = 31, .link = lan, .handshake_load_threshold = 1,
    };
    struct sim_world *w = NULL;
    assert_int_equal(sim_world_new(&w, &cfg), KNIT_OK);
    for (int i = 1; i < 4; i++)
        assert_int_equal(sim_connect(w, i, 0), KNIT_OK);
    /* The initiations have arrived, the cookie replies not yet: only the
     * one initiation within the threshold made state at the responder. */
    sim_run(w, 15000, NULL);
    struct knit_node_stats st;
    knit_node_get_stats(sim_node(w, 0), &st);
    assert_int_equal(st.cookies_sent, 2);
    assert_int_equal(st.sessions, 1);
    /* The others come back with mac2 and get through. */
    assert_true(sim_run(w, 5 * SIM_SECOND, all_up_at_0));
    printf("    all up after %.3f s\n", (double)sim_now(w) / SIM_SECOND);
    assert_true(sim_now(w) < SIM_SECOND);   /* one extra round trip, no timeout */
    knit_node_get_stats(sim_node(w, 0), &st);
    assert_int_equal(st.sessions, 3);
    assert_true(st.cookies_sent >= 2);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(w->log[i].up, 1);
        assert_int_equal(w->log[i].down, 0);
    }
    assert_int_equal(w->log[0].up, 3);
    /* The sessions carry data. */
    sim_transfer_start(w, 0, 2, 0, 200000);
    sim_transfer_start(w, 1, 0, 3, 200000);
    assert_true(sim_run(w, 60 * SIM_SECOND, transfers_done));
    assert_true(sim_transfer_intact(w, 0));
    assert_true(sim_transfer_intact(w, 1));
    end_world(w);
}

/* ---- packets ------------------------------------------------------------------------- */

/* What the callbacks of one packet write (the session coming up opens
 * identify; identify's answer) leaves in one packet with that packet's
 * ACK, not in a packet per flush. A session set up with its identify
 * exchange costs each side 2 data packets; the initiator sent 3 when its
 * keys' PING and its identify left apart. */
static void test_setup_packets(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 7, NULL);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    sim_run(w, sim_now(w) + 2 * SIM_SECOND, NULL);
    struct knit_session_stats a, b;
    assert_int_equal(knit_node_peer_stats(sim_node(w, A), &w->id[B], &a),
                     KNIT_OK);
    assert_int_equal(knit_node_peer_stats(sim_node(w, B), &w->id[A], &b),
                     KNIT_OK);
    printf("    data packets sent: initiator %llu, responder %llu\n",
           (unsigned long long)a.conn.packets_sent,
           (unsigned long long)b.conn.packets_sent);
    assert_int_equal(a.conn.packets_sent, 2);
    assert_int_equal(b.conn.packets_sent, 2);
    end_world(w);
}

/* ---- expiry and keepalive ------------------------------------------------------------ */

static void test_idle_expiry(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.keepalive_us = 3 * SIM_SECOND;
    s.idle_timeout_us = 10 * SIM_SECOND;
    struct sim_world *w = make_world(2, 41, &s);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    sim_transfer_start(w, 0, A, B, 100000);
    assert_true(sim_run(w, 10 * SIM_SECOND, transfers_done));
    sim_run(w, sim_now(w) + 2 * SIM_SECOND, NULL);

    /* The network between them fails completely. */
    w->cut[A][B] = w->cut[B][A] = true;
    uint64_t cut_at = sim_now(w);
    sim_run(w, cut_at + 40 * SIM_SECOND, NULL);
    for (int i = 0; i < 2; i++) {
        struct sim_log *log = &w->log[i];
        assert_int_equal(log->down, 1);
        assert_true(log->last_down_error < 0);
        assert_non_null(strstr(log->last_down_reason, "silent"));
        /* Not before idle_timeout of silence, and not much after. */
        assert_true(log->last_down_at >= log->last_rx_at + s.idle_timeout_us);
        assert_true(log->last_down_at <=
                    cut_at + s.idle_timeout_us + SIM_SECOND);
        assert_int_equal(sessions(w, i), 0);
        assert_false(up(w, i, 1 - i));
    }
    printf("    down %.3f s and %.3f s after the cut\n",
           (double)(w->log[A].last_down_at - cut_at) / SIM_SECOND,
           (double)(w->log[B].last_down_at - cut_at) / SIM_SECOND);
    /* Nothing is left to wake the nodes up. */
    assert_true(knit_node_next_deadline(sim_node(w, A)) == KNIT_NO_DEADLINE);
    assert_true(knit_node_next_deadline(sim_node(w, B)) == KNIT_NO_DEADLINE);
    end_world(w);
}

static void test_keepalive(void **state)
{
    (void)state;
    struct knit_session_config s;
    knit_session_config_default(&s);
    struct sim_world *w = make_world(2, 42, &s);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    sim_world_reset_gaps(w);
    uint64_t start = sim_now(w);
    uint64_t rx_a = w->log[A].rx, rx_b = w->log[B].rx;
    sim_run(w, start + 600 * SIM_SECOND, NULL);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    assert_true(both_up(w));
    printf("    largest silence: %.3f s at A, %.3f s at B; %llu + %llu "
           "datagrams\n",
           (double)w->log[A].max_rx_gap / SIM_SECOND,
           (double)w->log[B].max_rx_gap / SIM_SECOND,
           (unsigned long long)(w->log[A].rx - rx_a),
           (unsigned long long)(w->log[B].rx - rx_b));
    /* Something crosses each way at least every keepalive interval (plus
     * the peer's ACK delay and the link delay). */
    uint64_t slack = SIM_SECOND / 10;
    for (int i = 0; i < 2; i++) {
        assert_true(w->log[i].max_rx_gap <= s.keepalive_us + slack);
        assert_true(sim_now(w) - w->log[i].last_rx_at <=
                    s.keepalive_us + slack);
    }
    /* ...and not much more often: an idle session stays quiet. */
    assert_true(w->log[B].rx - rx_b >= 600 / 25);
    assert_true(w->log[B].rx - rx_b <= 3 * 600 / 25);
    end_world(w);
}

/* ---- a peer restarts ----------------------------------------------------------------- */

struct redial {
    int down_seen;
    int redial_error;
};

/* A connection manager: a wanted peer that goes away is dialled again,
 * from inside the PEER_DOWN event. */
static void redial_on_down(struct sim_world *w, int host,
                           const struct knit_event *ev)
{
    struct redial *r = w->user;
    if (host != A || ev->type != KNIT_EVENT_PEER_DOWN)
        return;
    r->down_seen++;
    r->redial_error = sim_connect(w, A, B);
}

static void restart_scenario(bool restarted_dials, uint64_t seed)
{
    struct knit_session_config s;
    knit_session_config_default(&s);
    s.keepalive_us = 2 * SIM_SECOND;
    s.idle_timeout_us = 8 * SIM_SECOND;
    struct sim_world *w = make_world(2, seed, &s);
    struct redial r = {0};
    w->user = &r;
    w->on_event = redial_on_down;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    sim_transfer_start(w, 0, A, B, 200000);
    assert_true(sim_run(w, 20 * SIM_SECOND, transfers_done));
    assert_true(sim_transfer_intact(w, 0));
    struct knit_peer_id old_id = w->id[B];

    /* B restarts: same key, same address, nothing else remembered. */
    assert_int_equal(sim_restart_host(w, B), KNIT_OK);
    assert_true(knit_peer_id_equal(&w->id[B], &old_id));
    uint64_t restart_at = sim_now(w);
    if (restarted_dials)
        assert_int_equal(sim_connect(w, B, A), KNIT_OK);
    sim_transfer_start(w, 1, A, B, 200000);
    assert_true(sim_run(w, restart_at + 60 * SIM_SECOND, transfers_done));
    printf("    sent %llu received %llu of %llu, %u restarts\n",
           (unsigned long long)w->xfer[1].sent,
           (unsigned long long)w->xfer[1].received,
           (unsigned long long)w->xfer[1].total, w->xfer[1].restarts);
    assert_true(sim_transfer_intact(w, 1));
    printf("    A saw \"%s\" %.3f s after the restart; up again at %.3f s\n",
           w->log[A].last_down_reason,
           (double)(w->log[A].last_down_at - restart_at) / SIM_SECOND,
           (double)(w->log[A].last_up_at - restart_at) / SIM_SECOND);
    assert_int_equal(w->log[A].down, 1);
    assert_int_equal(w->log[A].up, 2);
    assert_true(w->log[A].last_up_at > w->log[A].last_down_at);
    if (restarted_dials) {
        /* The hello's new instance gives the restart away at once. */
        assert_non_null(strstr(w->log[A].last_down_reason, "restart"));
        assert_true(w->log[A].last_down_at < restart_at + SIM_SECOND);
    } else {
        assert_non_null(strstr(w->log[A].last_down_reason, "silent"));
        assert_true(w->log[A].last_down_at >= restart_at + s.idle_timeout_us -
                                                   s.keepalive_us);
        assert_int_equal(r.redial_error, KNIT_OK);
    }
    assert_int_equal(sessions(w, A), 1);
    assert_int_equal(sessions(w, B), 1);
    end_world(w);
}

static void test_restart_peer_redials(void **state)
{
    (void)state;
    restart_scenario(true, 51);
}

static void test_restart_peer_silent(void **state)
{
    (void)state;
    restart_scenario(false, 52);
}

/* ---- simultaneous open and a dial into the void ---------------------------------------- */

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 61, NULL);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_int_equal(sim_connect(w, B, A), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    assert_int_equal(sessions(w, A), 1);
    assert_int_equal(sessions(w, B), 1);
    sim_transfer_start(w, 0, A, B, 500000);
    sim_transfer_start(w, 1, B, A, 500000);
    assert_true(sim_run(w, 60 * SIM_SECOND, transfers_done));
    assert_true(sim_transfer_intact(w, 0));
    assert_true(sim_transfer_intact(w, 1));
    /* Still one session each, no flapping, and it lasts past a rekey. */
    sim_run(w, sim_now(w) + 300 * SIM_SECOND, NULL);
    assert_true(both_up(w));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w->log[i].up, 1);
        assert_int_equal(w->log[i].down, 0);
        assert_int_equal(sessions(w, i), 1);
    }
    sim_transfer_start(w, 0, B, A, 100000);
    assert_true(sim_run(w, sim_now(w) + 30 * SIM_SECOND, transfers_done));
    assert_true(sim_transfer_intact(w, 0));
    end_world(w);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 71, NULL);
    struct knit_session_config def;
    knit_session_config_default(&def);
    /* B is not there: its address leads nowhere. */
    sim_remove_host(w, B);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_int_equal(sessions(w, A), 1);
    sim_run(w, 120 * SIM_SECOND, NULL);
    struct sim_log *log = &w->log[A];
    printf("    PEER_DOWN at %.3f s: %s; %llu initiations sent\n",
           (double)log->last_down_at / SIM_SECOND, log->last_down_reason,
           (unsigned long long)log->tx);
    assert_int_equal(log->down, 1);
    assert_int_equal(log->up, 0);
    assert_true(log->last_down_error < 0);
    assert_true(log->last_down_reason[0] != '\0');
    assert_true(log->last_down_at >= def.connect_timeout_us);
    assert_true(log->last_down_at <= def.connect_timeout_us + SIM_SECOND / 10);
    /* Retried with backoff, not flooded. */
    assert_true(log->tx >= 4 && log->tx <= 10);
    assert_int_equal(sessions(w, A), 0);
    assert_true(knit_node_next_deadline(sim_node(w, A)) == KNIT_NO_DEADLINE);
    end_world(w);
}

/* The responder's answers never arrive: the dialler gives up, and the
 * responder, which has a session it answered for but that never came up,
 * gives it up too, after connect_timeout of silence, and tells nobody
 * (its embedder never saw it up). */
static void test_half_open_reaped(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 72, NULL);
    struct knit_session_config def;
    knit_session_config_default(&def);
    w->cut[B][A] = true;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    sim_run(w, 25 * SIM_SECOND, NULL);
    assert_int_equal(sessions(w, B), 1);
    assert_false(up(w, B, A));
    /* The last initiation came 23 s in (retries after 1, 2, 4, 8, 8 s). */
    uint64_t b_rx = w->log[B].last_rx_at;
    assert_true(b_rx > 20 * SIM_SECOND && b_rx < 25 * SIM_SECOND);
    sim_run(w, b_rx + def.connect_timeout_us - SIM_SECOND / 10, NULL);
    assert_int_equal(sessions(w, B), 1);
    sim_run(w, b_rx + def.connect_timeout_us + SIM_SECOND / 10, NULL);
    assert_int_equal(sessions(w, B), 0);
    sim_run(w, 200 * SIM_SECOND, NULL);
    assert_int_equal(w->log[A].down, 1);
    assert_int_equal(sessions(w, A), 0);
    assert_int_equal(sessions(w, B), 0);
    assert_int_equal(w->log[B].up + w->log[B].down, 0);
    assert_true(knit_node_next_deadline(sim_node(w, B)) == KNIT_NO_DEADLINE);
    /* A later dial works as if nothing happened. */
    w->cut[B][A] = false;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, sim_now(w) + 5 * SIM_SECOND, both_up));
    end_world(w);
}

/* ---- closing on purpose ------------------------------------------------------------ */

static void test_disconnect(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 74, NULL);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    uint64_t at = sim_now(w);
    assert_int_equal(knit_node_disconnect(sim_node(w, A), &w->id[B], at),
                     KNIT_OK);
    knit_sim_host_rearm(w->host[A]);
    /* A is done at once; B hears the CLOSE one link delay later. */
    assert_int_equal(w->log[A].down, 1);
    assert_int_equal(sessions(w, A), 0);
    assert_int_equal(knit_node_disconnect(sim_node(w, A), &w->id[B], at),
                     KNIT_E_NOT_FOUND);
    sim_run(w, at + SIM_SECOND, NULL);
    assert_int_equal(w->log[B].down, 1);
    assert_true(w->log[B].last_down_at <= at + 2 * lan.delay_us);
    assert_non_null(strstr(w->log[B].last_down_reason, "disconnected"));
    assert_int_equal(sessions(w, B), 0);
    /* Nothing lingers: no timers, and a new dial works. */
    assert_true(knit_node_next_deadline(sim_node(w, B)) == KNIT_NO_DEADLINE);
    assert_int_equal(sim_connect(w, B, A), KNIT_OK);
    assert_true(sim_run(w, sim_now(w) + 5 * SIM_SECOND, both_up));
    end_world(w);
}

/* ---- handshake packets are checked before any work ------------------------------------ */

struct tamper {
    bool done;
    struct knit_addr src;
    uint8_t pkt[2048];
    size_t len;
};

static void deliver_tampered(void *ctx, uint64_t arg)
{
    (void)arg;
    struct sim_world *w = ctx;
    struct tamper *t = w->user;
    knit_sim_host_deliver(w->host[A], &t->src, t->pkt, t->len);
}

/* The first response to A arrives with its mac1 damaged (the Noise part
 * intact), as corruption or a forger without A's public key would leave
 * it. */
static bool tamper_first_response(struct sim_world *w, int from,
                                  const struct knit_addr *src,
                                  const struct knit_addr *dst,
                                  const uint8_t *pkt, size_t len)
{
    (void)dst;
    struct tamper *t = w->user;
    if (from != B || t->done || len < 32 || len > sizeof t->pkt ||
        pkt[0] != KNIT_PACKET_RESPONSE)
        return true;
    t->done = true;
    t->src = *src;
    memcpy(t->pkt, pkt, len);
    t->len = len;
    t->pkt[len - 17] ^= 1;   /* the last byte of mac1 */
    knit_sim_schedule(w->engine, sim_now(w) + lan.delay_us, deliver_tampered,
                      w, 0);
    return false;
}

static void test_response_needs_mac1(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 73, NULL);
    struct tamper t = {0};
    w->user = &t;
    w->tap = tamper_first_response;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 10 * SIM_SECOND, both_up));
    assert_true(t.done);
    /* Not from the damaged response: from the answer to the retry. */
    assert_true(w->log[A].last_up_at >= SIM_SECOND);
    struct knit_node_stats st;
    knit_node_get_stats(sim_node(w, A), &st);
    assert_true(st.packets_dropped >= 1);
    end_world(w);
}

/* Someone floods B with copies of A's initiation from A's address: past
 * the load threshold B answers with cookies (no state, no public-key
 * work), below it the per-source rate limit caps the work, and the real
 * session between A and B carries on. */
struct flood {
    uint8_t init[2048];
    size_t len;
};

static bool capture_initiation(struct sim_world *w, int from,
                               const struct knit_addr *src,
                               const struct knit_addr *dst,
                               const uint8_t *pkt, size_t len)
{
    (void)src, (void)dst;
    struct flood *f = w->user;
    if (from == A && !f->len && len <= sizeof f->init &&
        pkt[0] == KNIT_PACKET_INITIATION) {
        memcpy(f->init, pkt, len);
        f->len = len;
    }
    return true;
}

static void replay_initiation(void *ctx, uint64_t arg)
{
    (void)arg;
    struct sim_world *w = ctx;
    struct flood *f = w->user;
    knit_sim_host_deliver(w->host[B], &w->addr[A], f->init, f->len);
}

static void test_initiation_flood(void **state)
{
    (void)state;
    struct sim_world *w = make_world(2, 75, NULL);
    struct flood f = {0};
    w->user = &f;
    w->tap = capture_initiation;
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    assert_true(f.len > 0);
    struct knit_node_stats before;
    knit_node_get_stats(sim_node(w, B), &before);
    const int copies = 2000;
    for (int i = 0; i < copies; i++)
        knit_sim_schedule(w->engine, sim_now(w) + 500 * (uint64_t)i,
                          replay_initiation, w, 0);
    sim_transfer_start(w, 0, A, B, 1000000);
    uint64_t flood_end = sim_now(w) + 500 * (uint64_t)copies;
    assert_true(sim_run(w, sim_now(w) + 30 * SIM_SECOND, transfers_done));
    assert_true(sim_transfer_intact(w, 0));
    sim_run(w, flood_end + SIM_SECOND, NULL);
    struct knit_node_stats st;
    knit_node_get_stats(sim_node(w, B), &st);
    uint64_t cookies = st.cookies_sent - before.cookies_sent;
    uint64_t limited =
        st.handshakes_rate_limited - before.handshakes_rate_limited;
    printf("    %d copies: %llu cookie replies, %llu rate-limited, %llu "
           "decrypted and refused as replays\n",
           copies, (unsigned long long)cookies, (unsigned long long)limited,
           (unsigned long long)(copies - cookies - limited));
    assert_true(cookies > 0);
    assert_true(limited > 0);
    /* Public-key work: the burst and 20 per second over one second. */
    assert_true(copies - cookies - limited <= 5 + 2 * 20);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    assert_int_equal(w->log[B].up, 1);
    end_world(w);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);   /* one scenario, for debugging */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_under_load),
        cmocka_unit_test(test_setup_packets),
        cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_restart_peer_redials),
        cmocka_unit_test(test_restart_peer_silent),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_half_open_reaped),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_response_needs_mac1),
        cmocka_unit_test(test_initiation_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
