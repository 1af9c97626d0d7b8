/* proto/conn: loss, duplication and reordering, when ACKs go out, probe
 * timeouts. Two conns back to back over a virtual link
 * (tests/unit/test_conn_pair.h). */
#include "test_conn_pair.h"

#define PROTO "/test/loss/1"

/* a -> b and b -> a on streams each side opens, finished both ways. */
static void transfer_both_ways(struct pair *p, size_t len_a, size_t len_b)
{
    uint64_t ia, ib, wa = 0, wb = 0;
    assert_int_equal(knit_conn_open_stream(p->a.conn, PROTO, &ia), KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p->b.conn, PROTO, &ib), KNIT_OK);
    for (int i = 0; wa < len_a || wb < len_b; i++) {
        assert_true(i < 1000);
        write_some(&p->a, ia, &wa, len_a - wa);
        write_some(&p->b, ib, &wb, len_b - wb);
        run_until(p, p->now + 50 * MS);
    }
    assert_int_equal(knit_conn_stream_finish(p->a.conn, ia), KNIT_OK);
    assert_int_equal(knit_conn_stream_finish(p->b.conn, ib), KNIT_OK);
    /* the answers: each side closes the other's stream with an empty FIN */
    run(p);
    assert_int_equal(knit_conn_stream_finish(p->b.conn, ia), KNIT_OK);
    assert_int_equal(knit_conn_stream_finish(p->a.conn, ib), KNIT_OK);
    run(p);
    assert_int_equal(rx_find(&p->b, ia)->read, len_a);
    assert_true(rx_find(&p->b, ia)->fin);
    assert_int_equal(rx_find(&p->a, ib)->read, len_b);
    assert_true(rx_find(&p->a, ib)->fin);
    assert_int_equal(streams_open(&p->a), 0);
    assert_int_equal(streams_open(&p->b), 0);
    assert_true(knit_conn_is_idle(p->a.conn));
    assert_true(knit_conn_is_idle(p->b.conn));
}

static void test_every_third_packet_lost(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.drop_every = 3;
    p.drop_acks_every = 4;
    transfer_both_ways(&p, 400000, 150000);
    assert_true(stats(&p.a).packets_lost > 0);
    assert_true(stats(&p.b).packets_lost > 0);
    pair_free(&p);
}

/* Flow-control credit travels in frames that get lost too; they must be
 * sent again or the transfer stalls at the first window. */
static void test_loss_with_small_windows(void **state)
{
    (void)state;
    struct knit_conn_config c;
    knit_conn_config_default(&c);
    c.max_data = 24 * 1024;
    c.stream_window = 8 * 1024;
    struct pair p;
    pair_init(&p, &c, &c);
    p.drop_every = 3;
    p.drop_acks_every = 4;
    transfer_both_ways(&p, 200000, 100000);
    assert_true(frames_sent(&p.b, KNIT_FRAME_MAX_DATA) > 1);
    assert_true(frames_sent(&p.b, KNIT_FRAME_MAX_STREAM_DATA) > 1);
    pair_free(&p);
}

static void test_duplication_and_loss(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.drop_every = 5;
    p.drop_acks_every = 5;
    p.duplicate = true;
    transfer_both_ways(&p, 300000, 300000);
    pair_free(&p);
}

/* Streams reset by either side while a quarter of the packets are lost:
 * every reset, stop and FIN gets through in the end, both tables empty and
 * the session window is whole again. */
static void test_resets_under_loss(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.loss_percent = 25;
    enum { N = 6, LEN = 200000 };
    uint64_t ids[N], w[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &ids[i]),
                         KNIT_OK);
        write_some(&p.a, ids[i], &w[i], LEN);
    }
    for (int i = 0; p.b.n_opened < N; i++) {
        assert_true(i < 100);
        run_until(&p, p.now + 10 * MS);
    }
    assert_true(stats(&p.b).stream_bytes_received < N * LEN);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            assert_int_equal(knit_conn_stream_reset(p.a.conn, ids[i], 1),
                             KNIT_OK);
        } else if (i % 3 == 1) {
            assert_int_equal(knit_conn_stream_reset(p.b.conn, ids[i], 2),
                             KNIT_OK);
        } else {
            assert_int_equal(knit_conn_stream_finish(p.a.conn, ids[i]),
                             KNIT_OK);
            assert_int_equal(knit_conn_stream_finish(p.b.conn, ids[i]),
                             KNIT_OK);
        }
    }
    run(&p);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 2) {
            assert_int_equal(rx_find(&p.b, ids[i])->read, LEN);
            assert_true(rx_find(&p.b, ids[i])->fin);
        }
    }
    assert_int_equal(p.b.n_reset, N / 3);      /* a's resets */
    assert_int_equal(p.a.n_reset, N / 3);      /* b's resets */
    assert_int_equal(streams_open(&p.a), 0);
    assert_int_equal(streams_open(&p.b), 0);
    /* the session window is whole again: a new stream gets everything */
    uint64_t id, wn = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    for (int i = 0; wn < 100000; i++) {
        assert_true(i < 100);
        write_some(&p.a, id, &wn, 100000 - wn);
        run(&p);
    }
    assert_int_equal(rx_find(&p.b, id)->read, 100000);
    pair_free(&p);
}

/* One ack-eliciting packet is acknowledged after max_ack_delay, by an
 * ACK-only packet; the second of two at once. ACK-only packets are not
 * acknowledged themselves. */
static void test_ack_delay_and_every_second(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t delay = p.b.cfg.max_ack_delay_us;
    knit_conn_ping(p.a.conn);
    assert_true(send_one(&p, &p.a));
    p.now += DELAY;
    deliver_due(&p);
    uint64_t got = p.now;
    assert_false(send_one(&p, &p.b));
    assert_int_equal(knit_conn_next_deadline(p.b.conn), got + delay);
    p.now = got + delay - 1;
    knit_conn_on_timeout(p.b.conn, p.now);
    assert_false(send_one(&p, &p.b));
    p.now = got + delay;
    knit_conn_on_timeout(p.b.conn, p.now);
    assert_true(send_one(&p, &p.b));
    assert_int_equal(p.b.ack_only_packets, 1);
    assert_false(send_one(&p, &p.b));
    assert_int_equal(knit_conn_next_deadline(p.b.conn), KNIT_NO_DEADLINE);
    /* a gets the ACK: nothing in flight, nothing to answer */
    p.now += DELAY;
    deliver_due(&p);
    assert_false(send_one(&p, &p.a));
    assert_int_equal(knit_conn_next_deadline(p.a.conn), KNIT_NO_DEADLINE);
    assert_true(stats(&p.a).srtt_us > 0);
    /* two eliciting packets: the ACK leaves at once */
    knit_conn_ping(p.a.conn);
    assert_true(send_one(&p, &p.a));
    knit_conn_ping(p.a.conn);
    assert_true(send_one(&p, &p.a));
    p.now += DELAY;
    deliver_due(&p);
    assert_true(send_one(&p, &p.b));
    assert_int_equal(p.b.ack_only_packets, 2);
    assert_false(send_one(&p, &p.b));
    pair_free(&p);
}

/* A bulk transfer draws at most one ACK-only packet per two data packets.
 * b's silence probe is off: the stream stays open after the transfer, and
 * its one PING (test_conn_silence.c) is not what this counts. */
static void test_ack_only_rate(void **state)
{
    (void)state;
    struct knit_conn_config quiet;
    knit_conn_config_default(&quiet);
    quiet.silence_probe_us = 0;
    struct pair p;
    pair_init(&p, NULL, &quiet);
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 500000);
    run(&p);
    assert_int_equal(rx_find(&p.b, id)->read, 500000);
    assert_int_equal(p.b.packets, p.b.ack_only_packets);   /* b sent no data */
    /* packets arriving together are acknowledged together, so fewer */
    assert_true(p.b.ack_only_packets >= p.a.packets / 4);
    assert_true(p.b.ack_only_packets <= p.a.packets / 2 + 2);
    assert_int_equal(p.a.ack_only_packets, 0);
    pair_free(&p);
}

static void test_pto_probes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.drop_all = true;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 100);
    uint64_t t0 = p.now;
    assert_int_equal(send_all(&p, &p.a), 1);
    uint64_t d1 = knit_conn_next_deadline(p.a.conn);
    assert_true(d1 > t0 && d1 != KNIT_NO_DEADLINE);
    p.now = d1 - 1;
    knit_conn_on_timeout(p.a.conn, p.now);
    assert_false(send_one(&p, &p.a));
    p.now = d1;
    knit_conn_on_timeout(p.a.conn, p.now);
    int probes = send_all(&p, &p.a);
    assert_true(probes >= 1 && probes <= 2);
    /* the probe timer backs off */
    uint64_t d2 = knit_conn_next_deadline(p.a.conn);
    assert_true(d2 - d1 >= 2 * (d1 - t0));
    p.now = d2;
    knit_conn_on_timeout(p.a.conn, p.now);
    assert_true(send_all(&p, &p.a) >= 1);
    uint64_t d3 = knit_conn_next_deadline(p.a.conn);
    assert_true(d3 - d2 >= 2 * (d2 - d1));
    assert_int_equal(stats(&p.a).packets_received, 0);
    /* the link heals: the data gets through */
    p.drop_all = false;
    run(&p);
    assert_int_equal(rx_find(&p.b, id)->read, 100);
    pair_free(&p);
}

/* A conn whose every packet is lost keeps probing at growing intervals;
 * its timers never spin. */
static void test_blackhole_backs_off(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.drop_all = true;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 1 << 20);
    uint64_t start = p.now;
    run_until(&p, start + 120 * SECOND);
    /* about a dozen probe rounds, not thousands of packets */
    assert_true(p.a.packets < 100);
    assert_true(p.a.packets > 10);
    pair_free(&p);
}

/* Once the peer has seen an ACK, the numbers below its largest need no
 * acknowledging: after a lossy stretch the ACK frames shrink again. */
static void test_ack_ranges_trimmed(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    p.drop_every = 2;
    write_some(&p.a, id, &w, 300000);
    run(&p);
    assert_true(p.b.max_ack_ranges > 8);
    p.drop_every = 0;
    write_some(&p.a, id, &w, 300000);
    run(&p);
    assert_int_equal(rx_find(&p.b, id)->read, 600000);
    assert_true(p.b.last_ack_ranges <= 2);
    pair_free(&p);
}

/* With tiny packets a full ACK frame does not fit: its oldest ranges give
 * way rather than the ACK never leaving. */
static void test_tiny_packets_under_loss(void **state)
{
    (void)state;
    struct knit_conn_config c;
    knit_conn_config_default(&c);
    c.max_payload = 64;
    struct pair p;
    pair_init(&p, &c, &c);
    p.drop_every = 2;
    p.drop_acks_every = 3;
    transfer_both_ways(&p, 30000, 30000);
    pair_free(&p);
}

/* An application that reacts to stream_closed by writing and sending at
 * once (a session flush) re-enters the conn; the packet being built when
 * the stream closed must not be disturbed by it. */
static int sent_from_callback;

static void send_from_callback(struct side *s, uint64_t id)
{
    (void)id;
    struct pair *p = s->pair;
    uint64_t nid, w = 0;
    if (knit_conn_open_stream(s->conn, PROTO, &nid) != KNIT_OK)
        return;
    write_some(s, nid, &w, 3000);
    knit_conn_stream_finish(s->conn, nid);
    sent_from_callback += send_all(p, s);
}

static void test_reentrant_send_from_closed(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t x, y, w = 0, wy = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &x), KNIT_OK);
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &y), KNIT_OK);
    write_some(&p.a, x, &w, 2000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, x), KNIT_OK);
    /* b finishes x; a has its FIN but abandons x unread, so x closes as
     * soon as a's STOP_SENDING leaves, in the same packet as y's data */
    p.a.auto_read = false;
    run(&p);
    assert_int_equal(knit_conn_stream_finish(p.b.conn, x), KNIT_OK);
    run(&p);
    assert_int_equal(knit_conn_stream_reset(p.a.conn, x, 3), KNIT_OK);
    write_some(&p.a, y, &wy, 1000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, y), KNIT_OK);
    assert_int_equal(p.a.n_closed, 0);
    p.a.auto_read = true;
    p.a.on_closed = send_from_callback;
    run(&p);
    assert_int_equal(p.a.n_closed, 1);
    assert_int_equal(p.a.closed[0], x);
    assert_true(sent_from_callback >= 3);   /* it could send at once */
    /* the stream sent from the callback arrived whole */
    assert_int_equal(p.b.n_opened, 3);
    assert_int_equal(rx_find(&p.b, y + 2)->read, 3000);
    assert_true(rx_find(&p.b, y + 2)->fin);
    /* and y, packed with the STOP_SENDING, was accounted for: once b
     * finishes it too, it closes on both sides */
    assert_int_equal(rx_find(&p.b, y)->read, 1000);
    p.a.on_closed = NULL;
    assert_int_equal(knit_conn_stream_finish(p.b.conn, y), KNIT_OK);
    run(&p);
    assert_int_equal(p.a.n_closed, 2);
    assert_int_equal(p.a.closed[1], y);
    assert_int_equal(streams_open(&p.a), 1);   /* the callback's stream */
    assert_int_equal(p.a.last_error, KNIT_OK);
    assert_int_equal(p.b.last_error, KNIT_OK);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_third_packet_lost),
        cmocka_unit_test(test_loss_with_small_windows),
        cmocka_unit_test(test_duplication_and_loss),
        cmocka_unit_test(test_resets_under_loss),
        cmocka_unit_test(test_ack_delay_and_every_second),
        cmocka_unit_test(test_ack_only_rate),
        cmocka_unit_test(test_pto_probes),
        cmocka_unit_test(test_blackhole_backs_off),
        cmocka_unit_test(test_ack_ranges_trimmed),
        cmocka_unit_test(test_tiny_packets_under_loss),
        cmocka_unit_test(test_reentrant_send_from_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
