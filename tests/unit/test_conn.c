/* proto/conn: streams between two conns wired back to back
 * (tests/unit/test_conn_pair.h): opening with a protocol name, data in
 * order, both sides opening at once, FIN, RESET_STREAM and STOP_SENDING,
 * the stream limit, CLOSE and path packets. Flow control and peer
 * violations are in test_conn_flow.c, loss and timers in
 * test_conn_recovery.c. */
#include "test_conn_pair.h"

#define PROTO "/test/echo/1"

static void test_config_rejects(void **state)
{
    (void)state;
    struct knit_conn_config cfg;
    struct knit_conn_peer_params pp = {1 << 20, 1 << 16, 8};
    struct knit_conn_callbacks cb = {0};
    struct knit_conn *c = NULL;
    knit_conn_config_default(&cfg);
    cfg.max_payload = 63;
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_E_INVAL);
    knit_conn_config_default(&cfg);
    cfg.max_streams = 0;
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_E_INVAL);
    knit_conn_config_default(&cfg);
    cfg.stream_window = 0;
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_E_INVAL);
    knit_conn_config_default(&cfg);
    cfg.stream_send_buffer = 0;
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_E_INVAL);
    knit_conn_config_default(&cfg);
    cfg.max_data = 0;
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_E_INVAL);
    assert_null(c);
    knit_conn_config_default(&cfg);
    assert_int_equal(knit_conn_new(&c, &cfg, &pp, true, &cb), KNIT_OK);
    knit_conn_free(c);
}

static void test_open_rejects(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id;
    char name[KNIT_CONN_PROTOCOL_MAX + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(knit_conn_open_stream(p.a.conn, "", &id), KNIT_E_INVAL);
    assert_int_equal(knit_conn_open_stream(p.a.conn, name, &id), KNIT_E_INVAL);
    name[KNIT_CONN_PROTOCOL_MAX] = '\0';   /* 64 bytes: the longest */
    assert_int_equal(knit_conn_open_stream(p.a.conn, name, &id), KNIT_OK);
    /* unknown ids */
    uint8_t buf[8];
    size_t n;
    bool fin;
    assert_int_equal(knit_conn_stream_write(p.a.conn, 2, buf, 8, &n),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_conn_stream_read(p.a.conn, 2, buf, 8, &n, &fin),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, 2), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_conn_stream_reset(p.a.conn, 2, 0), KNIT_E_NOT_FOUND);
    assert_int_equal(knit_conn_stream_send_space(p.a.conn, 2), 0);
    run(&p);
    assert_int_equal(p.b.n_opened, 1);
    assert_string_equal(p.b.opened_proto[0], name);
    pair_free(&p);
}

static void test_open_delivers_protocol_and_data(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id, written = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    assert_int_equal(id, 0);   /* the lower peer ID opens even ids */
    assert_int_equal(write_some(&p.a, id, &written, 100000), 100000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    /* finishing twice is harmless; writing after it is not possible */
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    assert_int_equal(knit_conn_stream_send_space(p.a.conn, id), 0);
    run(&p);
    assert_int_equal(p.b.n_opened, 1);
    assert_int_equal(p.b.opened[0], id);
    assert_string_equal(p.b.opened_proto[0], PROTO);
    struct rx_stream *r = rx_find(&p.b, id);
    assert_int_equal(r->read, 100000);
    assert_true(r->fin);
    assert_true(p.b.n_readable > 0);
    assert_int_equal(p.a.n_opened, 0);
    /* b's side of the stream is still open: nothing closed yet */
    assert_int_equal(p.a.n_closed, 0);
    assert_int_equal(streams_open(&p.a), 1);
    assert_int_equal(streams_open(&p.b), 1);
    pair_free(&p);
}

/* Both directions of n streams opened by each side at once. */
static void test_concurrent_streams_fin_both_ways(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    enum { N = 5, LEN = 20000 };
    uint64_t ids_a[N], ids_b[N], wa[N] = {0}, wb[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(knit_conn_open_stream(p.a.conn, "/a/1", &ids_a[i]),
                         KNIT_OK);
        assert_int_equal(knit_conn_open_stream(p.b.conn, "/b/1", &ids_b[i]),
                         KNIT_OK);
        assert_int_equal(ids_a[i], 2 * (uint64_t)i);
        assert_int_equal(ids_b[i], 2 * (uint64_t)i + 1);
        write_some(&p.a, ids_a[i], &wa[i], LEN);
        write_some(&p.b, ids_b[i], &wb[i], LEN);
    }
    run(&p);
    assert_int_equal(p.a.n_opened, N);
    assert_int_equal(p.b.n_opened, N);
    for (int i = 0; i < N; i++) {
        assert_string_equal(p.a.opened_proto[i], "/b/1");
        assert_string_equal(p.b.opened_proto[i], "/a/1");
        assert_true(p.a.opened[i] % 2 == 1);
        assert_true(p.b.opened[i] % 2 == 0);
        /* each side answers on the streams the other opened */
        uint64_t w = 0;
        write_some(&p.a, ids_b[i], &w, LEN);
        w = 0;
        write_some(&p.b, ids_a[i], &w, LEN);
    }
    assert_int_equal(streams_open(&p.a), 2 * N);
    assert_int_equal(streams_open(&p.b), 2 * N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(knit_conn_stream_finish(p.a.conn, ids_a[i]), KNIT_OK);
        assert_int_equal(knit_conn_stream_finish(p.a.conn, ids_b[i]), KNIT_OK);
        assert_int_equal(knit_conn_stream_finish(p.b.conn, ids_a[i]), KNIT_OK);
        assert_int_equal(knit_conn_stream_finish(p.b.conn, ids_b[i]), KNIT_OK);
    }
    run(&p);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rx_find(&p.b, ids_a[i])->read, LEN);
        assert_int_equal(rx_find(&p.a, ids_b[i])->read, LEN);
        assert_int_equal(rx_find(&p.a, ids_a[i])->read, LEN);
        assert_int_equal(rx_find(&p.b, ids_b[i])->read, LEN);
        assert_true(rx_find(&p.a, ids_a[i])->fin);
        assert_true(rx_find(&p.b, ids_a[i])->fin);
    }
    assert_int_equal(p.a.n_closed, 2 * N);
    assert_int_equal(p.b.n_closed, 2 * N);
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    assert_int_equal(p.a.n_reset + p.b.n_reset, 0);
    assert_true(knit_conn_is_idle(p.a.conn));
    assert_true(knit_conn_is_idle(p.b.conn));
    /* a closed id is gone */
    size_t n;
    assert_int_equal(knit_conn_stream_write(p.a.conn, ids_a[0],
                                            (const uint8_t *)"x", 1, &n),
                     KNIT_E_NOT_FOUND);
    pair_free(&p);
}

static void test_reset_reaches_peer(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 5000);
    run(&p);
    assert_int_equal(p.b.n_opened, 1);
    assert_int_equal(knit_conn_stream_reset(p.a.conn, id, 42), KNIT_OK);
    /* the stream takes nothing more from us */
    size_t n;
    assert_int_equal(knit_conn_stream_write(p.a.conn, id,
                                            (const uint8_t *)"x", 1, &n),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_E_NOT_FOUND);
    run(&p);
    assert_true(frames_sent(&p.a, KNIT_FRAME_RESET_STREAM) >= 1);
    assert_true(frames_sent(&p.a, KNIT_FRAME_STOP_SENDING) >= 1);
    assert_int_equal(p.b.n_reset, 1);
    assert_int_equal(p.b.reset_id[0], id);
    assert_int_equal(p.b.reset_code[0], 42);
    /* a reset its own stream; it hears of no reset from b */
    assert_int_equal(p.a.n_reset, 0);
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    assert_int_equal(p.b.n_closed, 1);
    pair_free(&p);
}

/* A stream the peer opened and reset before its name arrived was never
 * announced, so the application hears nothing of it. */
static void test_reset_before_announce_is_silent(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    assert_int_equal(knit_conn_stream_reset(p.a.conn, id, 9), KNIT_OK);
    run(&p);
    assert_int_equal(p.b.n_opened, 0);
    assert_int_equal(p.b.n_reset, 0);
    assert_int_equal(p.b.n_closed, 0);
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    pair_free(&p);
}

/* The receiver gives up on a stream the sender is still filling: its
 * STOP_SENDING makes the sender reset, and the flow-control credit of the
 * abandoned bytes comes back, so another stream can use it. */
static void test_stop_sending_and_credit_returns(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_data = 64 * 1024;
    cb.stream_window = 64 * 1024;
    struct pair p;
    pair_init(&p, NULL, &cb);
    p.b.auto_read = false;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 200000);
    run(&p);
    assert_int_equal(p.b.n_opened, 1);
    assert_int_equal(stats(&p.b).stream_bytes_received, 64 * 1024);
    /* b reads a little, then abandons the stream */
    uint8_t buf[100];
    size_t n;
    bool fin;
    assert_int_equal(knit_conn_stream_read(p.b.conn, id, buf, sizeof buf, &n,
                                           &fin),
                     KNIT_OK);
    assert_int_equal(n, sizeof buf);
    assert_int_equal(knit_conn_stream_reset(p.b.conn, id, 77), KNIT_OK);
    assert_int_equal(knit_conn_stream_read(p.b.conn, id, buf, sizeof buf, &n,
                                           &fin),
                     KNIT_E_NOT_FOUND);
    run(&p);
    assert_true(frames_sent(&p.b, KNIT_FRAME_STOP_SENDING) >= 1);
    assert_int_equal(p.a.n_reset, 1);
    assert_int_equal(p.a.reset_id[0], id);
    assert_int_equal(p.a.reset_code[0], 77);
    assert_int_equal(knit_conn_stream_write(p.a.conn, id, buf, 1, &n),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    /* the whole session window is usable again */
    p.b.auto_read = true;
    uint64_t id2;
    w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id2), KNIT_OK);
    write_some(&p.a, id2, &w, 150000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id2), KNIT_OK);
    run(&p);
    assert_int_equal(rx_find(&p.b, id2)->read, 150000);
    assert_true(rx_find(&p.b, id2)->fin);
    pair_free(&p);
}

/* A hand-made STOP_SENDING alone: the sender answers with RESET_STREAM
 * carrying the same code. */
/* A stream refused from inside stream_opened, its FIN already there, gets
 * no further callbacks; the opener hears of the refusal. */
static void test_refused_in_opened_callback(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.b.refuse_streams = true;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 500);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    run(&p);
    assert_int_equal(p.b.n_opened, 1);
    assert_int_equal(p.b.n_readable, 0);
    assert_int_equal(p.b.n_reset, 0);
    assert_int_equal(p.a.n_reset, 1);
    assert_int_equal(p.a.reset_code[0], 4);
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    pair_free(&p);
}

static void test_stop_sending_frame_resets_sender(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 3000);
    run(&p);
    struct crafted c = {0};
    struct knit_frame f = {.type = KNIT_FRAME_STOP_SENDING};
    f.u.stop.stream_id = id;
    f.u.stop.error_code = 5;
    craft(&c, &f);
    assert_int_equal(knit_conn_on_packet(p.a.conn, 1000, c.buf, c.len, p.now),
                     KNIT_OK);
    size_t n;
    assert_int_equal(knit_conn_stream_write(p.a.conn, id,
                                            (const uint8_t *)"x", 1, &n),
                     KNIT_E_NOT_FOUND);
    struct packet pk;
    assert_int_equal(knit_conn_build_packet(p.a.conn, p.now, pk.data,
                                            sizeof pk.data, &pk.len, &pk.pn),
                     KNIT_OK);
    classify(&p.a, pk.data, pk.len);
    assert_int_equal(frames_sent(&p.a, KNIT_FRAME_RESET_STREAM), 1);
    /* only the RESET_STREAM goes to b: a's ACK covers 1000, a number b
     * never sent */
    size_t off = 0;
    while (off < pk.len) {
        struct knit_frame g;
        size_t used;
        assert_int_equal(knit_frame_decode(pk.data + off, pk.len - off, &g,
                                           &used),
                         KNIT_OK);
        if (g.type == KNIT_FRAME_RESET_STREAM) {
            assert_int_equal(g.u.reset.error_code, 5);
            assert_int_equal(g.u.reset.final_size, w + 1 + strlen(PROTO));
            assert_int_equal(knit_conn_on_packet(p.b.conn, pk.pn, pk.data + off,
                                                 used, p.now),
                             KNIT_OK);
        }
        off += used;
    }
    assert_int_equal(p.b.n_reset, 1);
    assert_int_equal(p.b.reset_code[0], 5);
    pair_free(&p);
}

static void finish_both(struct pair *p, uint64_t id)
{
    knit_conn_stream_finish(p->a.conn, id);
    knit_conn_stream_finish(p->b.conn, id);
}

/* A session that carries a few requests, each a stream opened and closed,
 * never needs MAX_STREAMS: the peer still holds more than half of its
 * credit. */
static void test_few_streams_need_no_max_streams(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);   /* 128 streams each way */
    for (int i = 0; i < 40; i++) {
        uint64_t id;
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
        run(&p);
        finish_both(&p, id);
        run(&p);
    }
    assert_int_equal(p.b.n_closed, 40);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAMS), 0);
    pair_free(&p);
}

/* A peer keeping more than half its credit in long-lived streams still
 * gets the credit of the ones that closed before, once it runs low, not
 * only when one of the long-lived ones ends. */
static void test_long_lived_streams_get_credit(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_streams = 8;
    struct pair p;
    pair_init(&p, NULL, &cb);
    uint64_t id;
    for (int i = 0; i < 2; i++) {   /* two short ones: credit 10 at b */
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
        run(&p);
        finish_both(&p, id);
        run(&p);
    }
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAMS), 0);
    for (int i = 0; i < 6; i++)     /* six that stay open: a at its limit */
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    run(&p);
    assert_true(frames_sent(&p.b, KNIT_FRAME_MAX_STREAMS) >= 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id),
                     KNIT_E_TOO_BIG);
    run(&p);
    assert_int_equal(p.b.n_opened, 10);
    pair_free(&p);
}

static void test_stream_limit_and_max_streams(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_streams = 3;
    struct pair p;
    pair_init(&p, NULL, &cb);
    uint64_t ids[3], extra;
    for (int i = 0; i < 3; i++)
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &ids[i]),
                         KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &extra),
                     KNIT_E_TOO_BIG);
    run(&p);
    assert_int_equal(p.b.n_opened, 3);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &extra),
                     KNIT_E_TOO_BIG);
    /* b's own limit toward a is a's default, far higher */
    uint64_t bid;
    assert_int_equal(knit_conn_open_stream(p.b.conn, PROTO, &bid), KNIT_OK);
    finish_both(&p, ids[0]);
    finish_both(&p, ids[1]);
    run(&p);
    assert_true(frames_sent(&p.b, KNIT_FRAME_MAX_STREAMS) >= 1);
    assert_int_equal(p.b.n_closed, 2);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &extra), KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &extra), KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &extra),
                     KNIT_E_TOO_BIG);
    run(&p);
    assert_int_equal(p.b.n_opened, 5);
    assert_int_equal(streams_open(&p.b), 4);   /* 3 of a's, 1 of b's */
    pair_free(&p);
}

static void test_close_reaches_peer(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 1000);
    run(&p);
    knit_conn_close(p.a.conn, KNIT_CONN_SHUTDOWN, "bye");
    assert_false(knit_conn_is_closed(p.a.conn));
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id),
                     KNIT_E_INVAL);
    assert_true(send_one(&p, &p.a));
    assert_int_equal(frames_sent(&p.a, KNIT_FRAME_CLOSE), 1);
    assert_true(knit_conn_is_closed(p.a.conn));
    assert_int_equal(knit_conn_next_deadline(p.a.conn), KNIT_NO_DEADLINE);
    assert_false(send_one(&p, &p.a));
    run(&p);
    assert_true(p.b.peer_closed);
    assert_int_equal(p.b.peer_close_error, KNIT_CONN_SHUTDOWN);
    assert_string_equal(p.b.peer_close_reason, "bye");
    assert_true(knit_conn_is_closed(p.b.conn));
    assert_false(send_one(&p, &p.b));
    assert_int_equal(knit_conn_next_deadline(p.b.conn), KNIT_NO_DEADLINE);
    /* a closed conn ignores what still arrives */
    assert_int_equal(knit_conn_on_packet(p.b.conn, 500, (const uint8_t *)"\x01",
                                         1, p.now),
                     KNIT_OK);
    pair_free(&p);
}

/* A CLOSE is not held back by a full congestion window. */
static void test_close_ignores_cwnd(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.drop_all = true;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 500000);
    send_all(&p, &p.a);
    assert_true(stats(&p.a).bytes_in_flight > 0);
    knit_conn_close(p.a.conn, KNIT_CONN_CANCELLED, NULL);
    assert_true(send_one(&p, &p.a));
    assert_int_equal(frames_sent(&p.a, KNIT_FRAME_CLOSE), 1);
    assert_true(knit_conn_is_closed(p.a.conn));
    pair_free(&p);
}

static void test_path_packets(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct packet pk;
    assert_int_equal(knit_conn_build_path_packet(p.a.conn, p.now, false, data,
                                                 pk.data, 10, &pk.len, &pk.pn),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_conn_build_path_packet(p.a.conn, p.now, false, data,
                                                 pk.data, sizeof pk.data,
                                                 &pk.len, &pk.pn),
                     KNIT_OK);
    assert_int_equal(pk.len, p.a.cfg.max_payload);
    classify(&p.a, pk.data, pk.len);
    assert_int_equal(frames_sent(&p.a, KNIT_FRAME_PATH_CHALLENGE), 1);
    assert_int_equal(knit_conn_on_packet(p.b.conn, pk.pn, pk.data, pk.len,
                                         p.now),
                     KNIT_OK);
    assert_int_equal(p.b.n_challenge, 1);
    assert_memory_equal(p.b.challenge, data, 8);
    /* the answer, as the session would send it */
    struct packet rsp;
    assert_int_equal(knit_conn_build_path_packet(p.b.conn, p.now, true,
                                                 p.b.challenge, rsp.data,
                                                 sizeof rsp.data, &rsp.len,
                                                 &rsp.pn),
                     KNIT_OK);
    assert_int_equal(rsp.len, p.b.cfg.max_payload);
    assert_int_equal(knit_conn_on_packet(p.a.conn, rsp.pn, rsp.data, rsp.len,
                                         p.now),
                     KNIT_OK);
    assert_int_equal(p.a.n_response, 1);
    assert_memory_equal(p.a.response, data, 8);
    assert_int_equal(p.a.n_challenge, 0);
    /* both packets are acknowledged as usual afterwards */
    run(&p);
    assert_true(knit_conn_is_idle(p.a.conn));
    assert_true(knit_conn_is_idle(p.b.conn));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_rejects),
        cmocka_unit_test(test_open_rejects),
        cmocka_unit_test(test_open_delivers_protocol_and_data),
        cmocka_unit_test(test_concurrent_streams_fin_both_ways),
        cmocka_unit_test(test_reset_reaches_peer),
        cmocka_unit_test(test_reset_before_announce_is_silent),
        cmocka_unit_test(test_stop_sending_and_credit_returns),
        cmocka_unit_test(test_refused_in_opened_callback),
        cmocka_unit_test(test_stop_sending_frame_resets_sender),
        cmocka_unit_test(test_stream_limit_and_max_streams),
        cmocka_unit_test(test_few_streams_need_no_max_streams),
        cmocka_unit_test(test_long_lived_streams_get_credit),
        cmocka_unit_test(test_close_reaches_peer),
        cmocka_unit_test(test_close_ignores_cwnd),
        cmocka_unit_test(test_path_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
