/* Streams over a live session, seen from the node's API: a protocol the
 * peer does not serve, a peer that never reads (memory stays bounded, the
 * session stays up), and the built-in /knit/ping/1 and /knit/bench/1
 * services. Unmodified nodes on virtual time (tests/support/sim_pair.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/bench_stream.h"
#include "proto/conn.h"
#include "tests/support/sim_pair.h"
#include "transport/error.h"

#define A 0
#define B 1

static const struct knit_sim_link_config lan = {.delay_us = 10000};

static struct sim_world *make_world(uint64_t seed)
{
    struct sim_world_config cfg = {.hosts = 2, .seed = seed, .link = lan};
    struct sim_world *w = NULL;
    assert_int_equal(sim_world_new(&w, &cfg), KNIT_OK);
    return w;
}

static void end_world(struct sim_world *w)
{
    assert_false(w->over_budget);
    sim_world_free(w);
}

static bool both_up(struct sim_world *w)
{
    return knit_node_peer_is_up(sim_node(w, A), &w->id[B]) &&
           knit_node_peer_is_up(sim_node(w, B), &w->id[A]);
}

static struct sim_world *connected_world(uint64_t seed)
{
    struct sim_world *w = make_world(seed);
    assert_int_equal(sim_connect(w, A, B), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, both_up));
    return w;
}

static struct knit_session_stats peer_stats(struct sim_world *w, int i,
                                            int j)
{
    struct knit_session_stats st;
    assert_int_equal(knit_node_peer_stats(sim_node(w, i), &w->id[j], &st),
                     KNIT_OK);
    return st;
}

/* ---- a stream client at A ------------------------------------------------------------ */

/* One stream A opened: what A writes (from a PRNG), and what comes back. */
struct client {
    bool open;
    uint64_t id;
    uint64_t to_send;           /* UINT64_MAX: as much as will go */
    bool finish;                /* FIN after to_send bytes */
    bool no_read;               /* A never reads what comes back */
    struct knit_rng data;
    uint64_t sent;
    crypto_generichash_state sent_hash;   /* BLAKE2b-256 of what was sent */
    bool fin_sent;
    uint8_t *echo;              /* what came back, up to echo_cap */
    size_t echo_cap;
    uint8_t *copy;              /* what was sent, up to echo_cap */
    uint64_t received;
    bool got_fin, got_reset, closed;
    uint64_t reset_code;
};

#define MAX_CLIENTS 72

struct streams {
    struct client c[MAX_CLIENTS];
    int count;
};

static struct client *client_of(struct streams *st, uint64_t id)
{
    for (int i = 0; i < st->count; i++)
        if (st->c[i].open && st->c[i].id == id)
            return &st->c[i];
    return NULL;
}

static void client_pump(struct sim_world *w, struct client *c)
{
    struct knit_node *node = sim_node(w, A);
    uint64_t now = sim_now(w);
    uint8_t chunk[8192];
    while (!c->got_reset && c->sent < c->to_send) {
        size_t n = sizeof chunk;
        if (c->to_send - c->sent < n)
            n = (size_t)(c->to_send - c->sent);
        struct knit_rng saved = c->data;
        knit_rng_fill(&c->data, chunk, n);
        size_t accepted = 0;
        if (knit_node_stream_write(node, &w->id[B], c->id, chunk, n, now,
                                   &accepted) != KNIT_OK)
            break;
        if (accepted < n) {
            c->data = saved;
            knit_rng_fill(&c->data, chunk, accepted);
        }
        if (c->copy && c->sent + accepted <= c->echo_cap)
            memcpy(c->copy + c->sent, chunk, accepted);
        crypto_generichash_update(&c->sent_hash, chunk, accepted);
        c->sent += accepted;
        if (accepted < n)
            break;
    }
    if (c->finish && !c->fin_sent && c->sent == c->to_send &&
        knit_node_stream_finish(node, &w->id[B], c->id, now) == KNIT_OK)
        c->fin_sent = true;
    knit_sim_host_rearm(w->host[A]);
}

static void client_read(struct sim_world *w, struct client *c)
{
    uint8_t buf[16384];
    for (;;) {
        size_t n;
        bool fin;
        if (knit_node_stream_read(sim_node(w, A), &w->id[B], c->id, buf,
                                  sizeof buf, &n, &fin,
                                  sim_now(w)) != KNIT_OK)
            break;
        if (c->received < c->echo_cap) {
            size_t keep = c->echo_cap - c->received < n
                              ? (size_t)(c->echo_cap - c->received)
                              : n;
            memcpy(c->echo + c->received, buf, keep);
        }
        c->received += n;
        if (fin)
            c->got_fin = true;
        if (n == 0 || fin)
            break;
    }
    knit_sim_host_rearm(w->host[A]);
}

static void client_event(struct sim_world *w, int host,
                         const struct knit_event *ev)
{
    struct streams *st = w->user;
    if (host != A)
        return;
    struct client *c = client_of(st, ev->stream_id);
    if (!c)
        return;
    switch (ev->type) {
    case KNIT_EVENT_STREAM_WRITABLE:
        client_pump(w, c);
        break;
    case KNIT_EVENT_STREAM_READABLE:
        if (!c->no_read)
            client_read(w, c);
        break;
    case KNIT_EVENT_STREAM_RESET:
        c->got_reset = true;
        c->reset_code = ev->u.reset.code;
        break;
    case KNIT_EVENT_STREAM_CLOSED:
        c->closed = true;
        break;
    default:
        break;
    }
}

static struct client *client_open(struct sim_world *w, const char *protocol,
                                  uint64_t to_send, bool finish)
{
    struct streams *st = w->user;
    assert_true(st->count < MAX_CLIENTS);
    struct client *c = &st->c[st->count++];
    memset(c, 0, sizeof *c);
    c->to_send = to_send;
    c->finish = finish;
    knit_rng_seed(&c->data, 0x5eed + (uint64_t)st->count);
    crypto_generichash_init(&c->sent_hash, NULL, 0, KNIT_BENCH_HASH_LEN);
    assert_int_equal(knit_node_open_stream(sim_node(w, A), &w->id[B],
                                           protocol, sim_now(w), &c->id),
                     KNIT_OK);
    c->open = true;
    client_pump(w, c);
    return c;
}

static struct sim_world *client_world(uint64_t seed, struct streams *st)
{
    struct sim_world *w = connected_world(seed);
    memset(st, 0, sizeof *st);
    w->user = st;
    w->on_event = client_event;
    return w;
}

/* ---- a protocol nobody serves ------------------------------------------------------------ */

static void test_unknown_protocol(void **state)
{
    (void)state;
    struct streams st;
    struct sim_world *w = client_world(81, &st);
    struct client *c = client_open(w, "/nobody/serves/this/1", 1000, false);
    sim_run(w, sim_now(w) + 2 * SIM_SECOND, NULL);
    assert_true(c->got_reset);
    assert_int_equal(c->reset_code, KNIT_CONN_UNKNOWN_PROTOCOL);
    assert_int_equal(w->log[A].stream_reset, 1);
    assert_true(w->log[A].last_reset_stream == c->id);
    /* B's embedder never heard of it. */
    assert_int_equal(w->log[B].stream_opened, 0);
    /* The stream is gone at both ends; writing to it is refused. */
    assert_true(c->closed);
    assert_int_equal(peer_stats(w, A, B).conn.streams_open, 0);
    assert_int_equal(peer_stats(w, B, A).conn.streams_open, 0);
    size_t accepted = 1;
    const uint8_t byte = 1;
    assert_int_equal(knit_node_stream_write(sim_node(w, A), &w->id[B], c->id,
                                            &byte, 1, sim_now(w), &accepted),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(accepted, 0);
    /* The session is unharmed and carries the next stream. */
    assert_true(both_up(w));
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    sim_transfer_start(w, 0, A, B, 100000);
    sim_run(w, sim_now(w) + 5 * SIM_SECOND, NULL);
    assert_true(sim_transfer_intact(w, 0));
    end_world(w);
}

/* ---- a receiver that never reads ------------------------------------------------------------ */

/* A tries to write more every 100 ms besides on WRITABLE, so that being
 * blocked is the peer's doing, not a missed event. */
static void keep_pushing(void *ctx, uint64_t arg)
{
    struct sim_world *w = ctx;
    struct streams *st = w->user;
    (void)arg;
    for (int i = 0; i < st->count; i++)
        client_pump(w, &st->c[i]);
    knit_sim_schedule(w->engine, sim_now(w) + SIM_SECOND / 10, keep_pushing,
                      w, 0);
}

static void test_receiver_never_reads(void **state)
{
    (void)state;
    struct knit_conn_config conn;
    knit_conn_config_default(&conn);
    struct streams st;
    /* B's embedder is told of the streams and never reads them. */
    struct sim_world *w = client_world(82, &st);
    /* One stream, then six more: together they could buffer far more than
     * the session-level window if only the stream windows held them. */
    client_open(w, SIM_PROTO, UINT64_MAX, false);
    knit_sim_schedule(w->engine, sim_now(w), keep_pushing, w, 0);
    sim_run(w, sim_now(w) + 60 * SIM_SECOND, NULL);
    uint64_t one = st.c[0].sent;
    printf("    one stream: %llu bytes accepted at A, %llu received at B\n",
           (unsigned long long)one,
           (unsigned long long)peer_stats(w, B, A).conn.stream_bytes_received);
    /* The stream window plus A's own send buffer, and a protocol header. */
    assert_true(one >= conn.stream_window);
    assert_true(one <= conn.stream_window + conn.stream_send_buffer + 100);
    /* ...plus what other streams brought: the protocol header and the
     * identify message (a few dozen bytes of protocol names). */
    assert_true(peer_stats(w, B, A).conn.stream_bytes_received <=
                conn.stream_window + 256);
    /* A is blocked: nothing more goes in. */
    sim_run(w, sim_now(w) + 10 * SIM_SECOND, NULL);
    assert_true(st.c[0].sent == one);

    for (int i = 0; i < 6; i++)
        client_open(w, SIM_PROTO, UINT64_MAX, false);
    sim_run(w, sim_now(w) + 60 * SIM_SECOND, NULL);
    uint64_t total = 0;
    for (int i = 0; i < st.count; i++)
        total += st.c[i].sent;
    uint64_t at_b = peer_stats(w, B, A).conn.stream_bytes_received;
    printf("    seven streams: %llu bytes accepted at A, %llu received at "
           "B\n",
           (unsigned long long)total, (unsigned long long)at_b);
    assert_int_equal(w->log[B].stream_opened, 7);   /* all got through */
    assert_true(at_b <= conn.max_data);
    assert_true(at_b >= conn.max_data - conn.stream_window);
    assert_true(total <= conn.max_data + 7 * conn.stream_send_buffer + 1000);
    /* Blocked for minutes, past the idle timeout: the keepalives hold the
     * session, which is still there for other work. */
    sim_run(w, sim_now(w) + 200 * SIM_SECOND, NULL);
    assert_true(both_up(w));
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    assert_true(peer_stats(w, B, A).conn.stream_bytes_received == at_b);
    end_world(w);
}

/* ---- built-in services ------------------------------------------------------------ */

static bool client_done(struct sim_world *w)
{
    struct streams *st = w->user;
    for (int i = 0; i < st->count; i++)
        if (!st->c[i].got_fin && !st->c[i].got_reset)
            return false;
    return true;
}

static void test_ping_echoes(void **state)
{
    (void)state;
    struct streams st;
    struct sim_world *w = client_world(83, &st);
    /* Small, then larger than any buffer on the way, so the echo must
     * flow while we still write. */
    const uint64_t sizes[] = {13, 9 << 20};
    for (int k = 0; k < 2; k++) {
        uint64_t n = sizes[k];
        uint8_t *echo = malloc(n), *copy = malloc(n);
        assert_non_null(echo);
        assert_non_null(copy);
        struct client *c = client_open(w, KNIT_PROTOCOL_PING, 0, false);
        c->echo = echo;
        c->copy = copy;
        c->echo_cap = n;
        c->to_send = n;
        c->finish = true;
        client_pump(w, c);
        bool done = sim_run(w, sim_now(w) + 60 * SIM_SECOND, client_done);
        printf("    %llu bytes: sent %llu%s, echoed %llu%s at %.3f s\n",
               (unsigned long long)n, (unsigned long long)c->sent,
               c->fin_sent ? "+FIN" : "", (unsigned long long)c->received,
               c->got_fin ? "+FIN" : "", (double)sim_now(w) / SIM_SECOND);
        assert_true(done);
        assert_false(c->got_reset);
        assert_true(c->got_fin);
        assert_int_equal(c->received, n);
        /* Exactly the bytes sent, in order. */
        assert_memory_equal(echo, copy, n);
        c->echo = c->copy = NULL;
        free(echo);
        free(copy);
    }
    /* The service's streams are closed and released at both ends. */
    sim_run(w, sim_now(w) + SIM_SECOND, NULL);
    assert_int_equal(peer_stats(w, A, B).conn.streams_open, 0);
    assert_int_equal(peer_stats(w, B, A).conn.streams_open, 0);
    /* The embedder at B never saw them: the node served them itself. */
    assert_int_equal(w->log[B].stream_opened, 0);
    end_world(w);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The bench service's answer to client c: the count of what c sent and
 * the BLAKE2b-256 of it, as c hashed it while writing. */
static void assert_bench_answer(struct client *c, const uint8_t *answer)
{
    assert_int_equal(c->received, KNIT_BENCH_ANSWER_LEN);
    uint64_t count;
    uint8_t hash[KNIT_BENCH_HASH_LEN], want[KNIT_BENCH_HASH_LEN];
    assert_int_equal(knit_bench_answer_parse(answer, c->received, &count,
                                             hash),
                     KNIT_OK);
    assert_int_equal(count, c->sent);
    assert_int_equal(be64(answer), c->sent);
    crypto_generichash_final(&c->sent_hash, want, sizeof want);
    assert_memory_equal(hash, want, sizeof want);
}

static void test_bench_counts(void **state)
{
    (void)state;
    struct streams st;
    struct sim_world *w = client_world(84, &st);
    const uint64_t sizes[] = {0, 1, 3000000};
    for (int k = 0; k < 3; k++) {
        uint8_t answer[KNIT_BENCH_ANSWER_LEN + 8];
        struct client *c = client_open(w, KNIT_PROTOCOL_BENCH, sizes[k],
                                       true);
        c->echo = answer;
        c->echo_cap = sizeof answer;
        assert_true(sim_run(w, sim_now(w) + 60 * SIM_SECOND, client_done));
        assert_true(c->got_fin);
        assert_false(c->got_reset);
        assert_int_equal(c->sent, sizes[k]);
        assert_bench_answer(c, answer);
        c->echo = NULL;
    }
    assert_int_equal(w->log[A].down + w->log[B].down, 0);
    end_world(w);
}

/* The echo reads only what it can send back: a client that never reads
 * its echo stalls its own stream, bounded, and nothing else. */
static void test_ping_unread_echo_is_bounded(void **state)
{
    (void)state;
    struct knit_conn_config conn;
    knit_conn_config_default(&conn);
    struct streams st;
    struct sim_world *w = client_world(85, &st);
    struct client *c = client_open(w, KNIT_PROTOCOL_PING, UINT64_MAX, false);
    c->no_read = true;
    knit_sim_schedule(w->engine, sim_now(w), keep_pushing, w, 0);
    sim_run(w, sim_now(w) + 30 * SIM_SECOND, NULL);
    uint64_t sent = c->sent;
    printf("    %llu bytes accepted into an echo nobody reads\n",
           (unsigned long long)sent);
    /* Our window for the echo, the service's send buffer, its window for
     * us, and our send buffer. */
    assert_true(sent <= 2 * (conn.stream_window + conn.stream_send_buffer) +
                            1000);
    sim_run(w, sim_now(w) + 10 * SIM_SECOND, NULL);
    assert_true(c->sent == sent);
    /* Meanwhile another ping stream works. */
    struct client *d = client_open(w, KNIT_PROTOCOL_PING, 1000, true);
    uint8_t echo[1000];
    d->echo = echo;
    d->echo_cap = sizeof echo;
    sim_run(w, sim_now(w) + 2 * SIM_SECOND, NULL);
    assert_true(d->got_fin);
    assert_int_equal(d->received, 1000);
    d->echo = NULL;
    assert_true(both_up(w));
    end_world(w);
}

/* The services keep a bounded table of streams in progress (64 per node):
 * streams beyond it are refused, the others are unaffected, and the
 * slots come back when their streams end. */
static void test_service_streams_bounded(void **state)
{
    (void)state;
    struct streams st;
    struct sim_world *w = client_world(86, &st);
    const int tries = 66, slots = 64;
    for (int i = 0; i < tries; i++)
        client_open(w, KNIT_PROTOCOL_BENCH, 100, false);
    sim_run(w, sim_now(w) + SIM_SECOND, NULL);
    int refused = 0;
    for (int i = 0; i < tries; i++) {
        struct client *c = &st.c[i];
        if (!c->got_reset)
            continue;
        assert_int_equal(c->reset_code, KNIT_CONN_REFUSED);
        refused++;
    }
    assert_int_equal(refused, tries - slots);
    /* The rest finish and get their counts. */
    static uint8_t answers[MAX_CLIENTS][KNIT_BENCH_ANSWER_LEN + 8];
    for (int i = 0; i < tries; i++) {
        if (st.c[i].got_reset)
            continue;
        st.c[i].echo = answers[i];
        st.c[i].echo_cap = sizeof answers[i];
        st.c[i].finish = true;
        client_pump(w, &st.c[i]);
    }
    assert_true(sim_run(w, sim_now(w) + 10 * SIM_SECOND, client_done));
    for (int i = 0; i < tries; i++) {
        if (st.c[i].got_reset)
            continue;
        assert_true(st.c[i].got_fin);
        assert_int_equal(st.c[i].sent, 100);
        assert_bench_answer(&st.c[i], answers[i]);
        st.c[i].echo = NULL;
    }
    /* All slots are free again: a new stream is served. */
    st.count = 0;
    uint8_t answer[KNIT_BENCH_ANSWER_LEN + 8];
    struct client *c = client_open(w, KNIT_PROTOCOL_BENCH, 5, true);
    c->echo = answer;
    c->echo_cap = sizeof answer;
    assert_true(sim_run(w, sim_now(w) + 2 * SIM_SECOND, client_done));
    assert_false(c->got_reset);
    assert_int_equal(c->sent, 5);
    assert_bench_answer(c, answer);
    c->echo = NULL;
    end_world(w);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);   /* one scenario, for debugging */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_protocol),
        cmocka_unit_test(test_receiver_never_reads),
        cmocka_unit_test(test_ping_echoes),
        cmocka_unit_test(test_bench_counts),
        cmocka_unit_test(test_ping_unread_echo_is_bounded),
        cmocka_unit_test(test_service_streams_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
