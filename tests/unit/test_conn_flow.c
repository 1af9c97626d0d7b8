/* proto/conn: flow control and a misbehaving peer. A receiver that never
 * reads stops the sender at the stream window and at the session window,
 * with nothing beyond them buffered, and reading reopens them; a peer that
 * sends past a limit, an unknown or malformed frame, or names a stream
 * badly gets what the header promises. Two conns back to back
 * (tests/unit/test_conn_pair.h). */
#include "test_conn_pair.h"

#define PROTO "/test/flow/1"

/* Delivers a hand-made payload to `to` under a packet number `from` really
 * used (its real packet is dropped), so that `to` acknowledging it is no
 * violation on the other side. Returns what knit_conn_on_packet said. */
static int inject(struct pair *p, struct side *from, struct side *to,
                  const struct crafted *c)
{
    struct packet pk;
    knit_conn_ping(from->conn);
    assert_int_equal(knit_conn_build_packet(from->conn, p->now, pk.data,
                                            sizeof pk.data, &pk.len, &pk.pn),
                     KNIT_OK);
    to->last_error = knit_conn_on_packet(to->conn, pk.pn, c->buf, c->len,
                                         p->now);
    return to->last_error;
}

/* Builds what `s` sends next and tallies its frames, delivering nothing. */
static int build_and_drop(struct pair *p, struct side *s)
{
    bool to_b = p->drop_to_b, to_a = p->drop_to_a;
    p->drop_to_b = p->drop_to_a = true;
    int n = send_all(p, s);
    p->drop_to_b = to_b;
    p->drop_to_a = to_a;
    return n;
}

/* The conn is closed with a CLOSE carrying code, and the other side hears
 * it through peer_closed. */
static void expect_closed_with(struct pair *p, struct side *victim,
                               struct side *other, uint64_t code)
{
    assert_true(send_one(p, victim));
    assert_int_equal(frames_sent(victim, KNIT_FRAME_CLOSE), 1);
    assert_true(knit_conn_is_closed(victim->conn));
    run(p);
    assert_true(other->peer_closed);
    assert_int_equal(other->peer_close_error, code);
    assert_true(other->peer_close_reason[0] != '\0');
}

/* The stream header a well-behaved opener writes first. */
static size_t header(uint8_t *out, const char *name)
{
    size_t n = strlen(name);
    out[0] = (uint8_t)n;
    memcpy(out + 1, name, n);
    return n + 1;
}

static void test_stream_window_stops_sender(void **state)
{
    (void)state;
    struct knit_conn_config ca, cb;
    knit_conn_config_default(&ca);
    knit_conn_config_default(&cb);
    ca.stream_send_buffer = 64 * 1024;
    cb.stream_window = 16 * 1024;
    struct pair p;
    pair_init(&p, &ca, &cb);
    p.b.auto_read = false;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    /* fill the send buffer again and again until acks free nothing more */
    int rounds = 0;
    while (write_some(&p.a, id, &w, 1 << 20) > 0) {
        run(&p);
        assert_true(++rounds < 10);
    }
    run(&p);
    assert_int_equal(stats(&p.b).stream_bytes_received, 16 * 1024);
    assert_int_equal(stats(&p.a).stream_bytes_sent, 16 * 1024);
    assert_int_equal(knit_conn_stream_send_space(p.a.conn, id), 0);
    size_t n;
    assert_int_equal(knit_conn_stream_write(p.a.conn, id,
                                            (const uint8_t *)"x", 1, &n),
                     KNIT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAM_DATA), 0);
    /* reading under half the window grants nothing yet */
    uint8_t buf[8192];
    bool fin;
    size_t hdr = 1 + strlen(PROTO);
    assert_int_equal(knit_conn_stream_read(p.b.conn, id, buf, 8192 - hdr - 1,
                                           &n, &fin),
                     KNIT_OK);
    run(&p);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAM_DATA), 0);
    assert_int_equal(stats(&p.b).stream_bytes_received, 16 * 1024);
    /* one byte more reaches half: the window moves to read + window */
    assert_int_equal(knit_conn_stream_read(p.b.conn, id, buf, 1, &n, &fin),
                     KNIT_OK);
    run(&p);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAM_DATA), 1);
    assert_int_equal(stats(&p.b).stream_bytes_received, 8192 + 16 * 1024);
    assert_true(p.a.n_writable > 0);
    /* a reader that keeps up gets everything */
    p.b.auto_read = true;
    rx_find(&p.b, id)->read = 8192 - hdr;
    read_all(&p.b, id);
    for (int i = 0; w < 300000; i++) {
        assert_true(i < 100);
        write_some(&p.a, id, &w, 300000 - w);
        run(&p);
    }
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    run(&p);
    assert_int_equal(rx_find(&p.b, id)->read, w);
    assert_true(rx_find(&p.b, id)->fin);
    pair_free(&p);
}

static void test_session_window_stops_sender(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_data = 32 * 1024;
    struct pair p;
    pair_init(&p, NULL, &cb);
    p.b.auto_read = false;
    uint64_t ids[3], w[3] = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &ids[i]),
                         KNIT_OK);
        assert_int_equal(write_some(&p.a, ids[i], &w[i], 20000), 20000);
    }
    run(&p);
    assert_int_equal(stats(&p.b).stream_bytes_received, 32 * 1024);
    assert_int_equal(stats(&p.a).stream_bytes_sent, 32 * 1024);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_DATA), 0);
    /* the streams took turns; reading everything frees the whole window,
     * and the grant made when half was read lets another window in */
    assert_int_equal(p.b.n_opened, 3);
    uint64_t consumed = 0;
    for (int i = 0; i < 3; i++)
        consumed += 1 + strlen(PROTO) + read_all(&p.b, ids[i]);
    assert_int_equal(consumed, 32 * 1024);
    run(&p);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_DATA), 1);
    uint64_t got = stats(&p.b).stream_bytes_received;
    assert_true(got >= 32 * 1024 + 16 * 1024);
    assert_true(got <= 2 * 32 * 1024);
    assert_int_equal(stats(&p.a).stream_bytes_sent, got);
    p.b.auto_read = true;
    for (int i = 0; i < 3; i++) {
        read_all(&p.b, ids[i]);
        assert_int_equal(knit_conn_stream_finish(p.a.conn, ids[i]), KNIT_OK);
    }
    run(&p);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rx_find(&p.b, ids[i])->read, 20000);
        assert_true(rx_find(&p.b, ids[i])->fin);
    }
    pair_free(&p);
}

static void test_stream_limit_violation_closes(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.stream_window = 1000;
    struct pair p;
    pair_init(&p, NULL, &cb);
    uint8_t data[40];
    memset(data, 'x', sizeof data);
    header(data, PROTO);
    struct crafted c = {0};
    craft_stream(&c, 0, 970, data, 31, false);   /* ends at 1001 */
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_FLOW_CONTROL);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_FLOW_CONTROL);
    pair_free(&p);
}

static void test_session_limit_violation_closes(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_data = 2000;
    struct pair p;
    pair_init(&p, NULL, &cb);
    p.b.auto_read = false;   /* reading would grant more */
    uint8_t data[1200];
    memset(data, 'x', sizeof data);
    header(data, PROTO);
    struct crafted c = {0};
    craft_stream(&c, 0, 0, data, 1000, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    c.len = 0;
    craft_stream(&c, 2, 0, data, 1001, false);   /* 2001 in all */
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_FLOW_CONTROL);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_FLOW_CONTROL);
    pair_free(&p);
}

static void test_unknown_frame_closes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    struct crafted c = {.buf = {KNIT_FRAME_PING, 0x1d}, .len = 2};
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_UNSUPPORTED);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_PROTOCOL_VIOLATION);
    pair_free(&p);
}

static void test_malformed_frame_closes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    /* STREAM with LEN 16 but one byte of data */
    struct crafted c = {.buf = {0x0a, 0x00, 0x10, 'a'}, .len = 4};
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_TRUNCATED);
    assert_int_equal(p.b.n_opened, 0);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_PROTOCOL_VIOLATION);
    pair_free(&p);
}

static void test_ack_of_unsent_packet_closes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    struct crafted c = {0};
    struct knit_frame f = {.type = KNIT_FRAME_ACK};
    f.u.ack.count = 1;
    f.u.ack.ranges[0].lo = f.u.ack.ranges[0].hi = 5000;
    craft(&c, &f);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_MALFORMED);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_PROTOCOL_VIOLATION);
    pair_free(&p);
}

/* Frames about our own stream ids that we never opened. */
static void test_unopened_local_stream_closes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    struct crafted c = {0};
    struct knit_frame f = {.type = KNIT_FRAME_MAX_STREAM_DATA};
    f.u.max_stream_data.stream_id = 0;   /* a's first id */
    f.u.max_stream_data.max = 1 << 20;
    craft(&c, &f);
    assert_int_equal(inject(&p, &p.b, &p.a, &c), KNIT_E_MALFORMED);
    expect_closed_with(&p, &p.a, &p.b, KNIT_CONN_PROTOCOL_VIOLATION);
    pair_free(&p);
}

static void test_peer_over_stream_limit_closes(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_streams = 2;
    struct pair p;
    pair_init(&p, NULL, &cb);
    uint8_t data[20];
    size_t n = header(data, PROTO);
    struct crafted c = {0};
    craft_stream(&c, 2, 0, data, n, false);   /* the second: fine */
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(streams_open(&p.b), 2);   /* 0 opened implicitly */
    c.len = 0;
    craft_stream(&c, 4, 0, data, n, false);   /* a third */
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_TOO_BIG);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_STREAM_LIMIT);
    pair_free(&p);
}

static void test_duplicate_packets_ignored(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    p.duplicate = true;
    uint64_t id, w = 0;
    assert_int_equal(knit_conn_open_stream(p.a.conn, PROTO, &id), KNIT_OK);
    write_some(&p.a, id, &w, 50000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    run(&p);
    assert_int_equal(rx_find(&p.b, id)->read, 50000);
    assert_true(rx_find(&p.b, id)->fin);
    struct knit_conn_stats sa = stats(&p.a), sb = stats(&p.b);
    assert_int_equal(sb.packets_received, sa.packets_sent);
    assert_int_equal(sa.packets_received, sb.packets_sent);
    assert_int_equal(sb.stream_bytes_received, 50000 + 1 + strlen(PROTO));
    assert_int_equal(sa.packets_lost, 0);
    /* by hand: the same number twice, the second time with other frames */
    struct crafted c = {0};
    uint8_t data[20];
    size_t n = header(data, PROTO);
    craft_stream(&c, 2, 0, data, n, false);
    struct packet pk;
    knit_conn_ping(p.a.conn);
    assert_int_equal(knit_conn_build_packet(p.a.conn, p.now, pk.data,
                                            sizeof pk.data, &pk.len, &pk.pn),
                     KNIT_OK);
    assert_int_equal(knit_conn_on_packet(p.b.conn, pk.pn, pk.data, pk.len,
                                         p.now),
                     KNIT_OK);
    uint64_t before = stats(&p.b).packets_received;
    assert_int_equal(knit_conn_on_packet(p.b.conn, pk.pn, c.buf, c.len, p.now),
                     KNIT_OK);
    assert_int_equal(stats(&p.b).packets_received, before);
    assert_int_equal(p.b.n_opened, 1);
    pair_free(&p);
}

/* A bad protocol header resets the stream (RESET_STREAM and STOP_SENDING
 * with PROTOCOL_VIOLATION); the conn lives on and the stream is never
 * announced. */
static void expect_header_reset(const uint8_t *data, size_t len)
{
    struct pair p;
    pair_init(&p, NULL, NULL);
    struct crafted c = {0};
    craft_stream(&c, 0, 0, data, len, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(p.b.n_opened, 0);
    assert_false(knit_conn_is_closed(p.b.conn));
    p.b.sent_frames[KNIT_FRAME_RESET_STREAM] = 0;
    build_and_drop(&p, &p.b);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_RESET_STREAM), 1);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_STOP_SENDING), 1);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_CLOSE), 0);
    size_t n;
    bool fin;
    uint8_t buf[8];
    assert_int_equal(knit_conn_stream_read(p.b.conn, 0, buf, 8, &n, &fin),
                     KNIT_E_NOT_FOUND);
    pair_free(&p);
}

static void test_protocol_header_rejects(void **state)
{
    (void)state;
    uint8_t data[80];
    memset(data, 'p', sizeof data);
    data[0] = 0;
    expect_header_reset(data, 10);
    data[0] = KNIT_CONN_PROTOCOL_MAX + 1;
    expect_header_reset(data, sizeof data);
    data[0] = 255;
    expect_header_reset(data, 1);
    /* a name that would be cut short at a NUL byte */
    data[0] = 4;
    memcpy(data + 1, "/a\0b", 4);
    expect_header_reset(data, 5);
}

/* The header may arrive a byte at a time and out of order; the longest
 * name is fine. */
static void test_protocol_header_in_pieces(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    char name[KNIT_CONN_PROTOCOL_MAX + 1];
    memset(name, 'n', KNIT_CONN_PROTOCOL_MAX);
    name[KNIT_CONN_PROTOCOL_MAX] = '\0';
    uint8_t data[KNIT_CONN_PROTOCOL_MAX + 1 + 3];
    size_t n = header(data, name);
    memcpy(data + n, "abc", 3);
    struct crafted c = {0};
    craft_stream(&c, 0, 40, data + 40, n + 3 - 40, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(p.b.n_opened, 0);
    c.len = 0;
    craft_stream(&c, 0, 0, data, 1, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(p.b.n_opened, 0);
    c.len = 0;
    craft_stream(&c, 0, 1, data + 1, 39, false);
    p.b.auto_read = false;
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(p.b.n_opened, 1);
    assert_string_equal(p.b.opened_proto[0], name);
    uint8_t buf[8];
    bool fin;
    assert_int_equal(knit_conn_stream_read(p.b.conn, 0, buf, sizeof buf, &n,
                                           &fin),
                     KNIT_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "abc", 3);
    pair_free(&p);
}

/* A stream we refused keeps no bytes, but what the peer sends on it is
 * still held to the limits, and its session credit comes back. */
static void test_abandoned_stream_checked_and_credited(void **state)
{
    (void)state;
    struct knit_conn_config cb;
    knit_conn_config_default(&cb);
    cb.max_data = 4096;
    cb.stream_window = 2048;
    struct pair p;
    pair_init(&p, NULL, &cb);
    p.b.refuse_streams = true;
    uint8_t data[2048];
    memset(data, 'd', sizeof data);
    size_t hdr = header(data, "/x");
    struct crafted c = {0};
    craft_stream(&c, 0, 0, data, hdr + 10, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    assert_int_equal(p.b.n_opened, 1);
    /* behind a gap, up to the stream's limit: fine, and credited */
    c.len = 0;
    craft_stream(&c, 0, 1000, data, 1048, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    build_and_drop(&p, &p.b);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_DATA), 1);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_MAX_STREAM_DATA), 0);
    assert_int_equal(p.b.n_readable, 0);
    /* a FIN below what arrived is a final size violation */
    c.len = 0;
    craft_stream(&c, 0, 100, data, 10, true);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_FINAL_SIZE);
    pair_free(&p);

    pair_init(&p, NULL, &cb);
    p.b.refuse_streams = true;
    c.len = 0;
    craft_stream(&c, 0, 0, data, hdr + 10, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    /* past the stream's limit */
    c.len = 0;
    craft_stream(&c, 0, 2000, data, 49, false);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_FLOW_CONTROL);
    expect_closed_with(&p, &p.b, &p.a, KNIT_CONN_FLOW_CONTROL);
    pair_free(&p);

    pair_init(&p, NULL, &cb);
    p.b.refuse_streams = true;
    c.len = 0;
    craft_stream(&c, 0, 0, data, hdr + 10, true);   /* final size 13 */
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_OK);
    c.len = 0;
    struct knit_frame f = {.type = KNIT_FRAME_RESET_STREAM};
    f.u.reset.stream_id = 0;
    f.u.reset.final_size = 14;
    craft(&c, &f);
    assert_int_equal(inject(&p, &p.a, &p.b, &c), KNIT_E_FINAL_SIZE);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_window_stops_sender),
        cmocka_unit_test(test_session_window_stops_sender),
        cmocka_unit_test(test_stream_limit_violation_closes),
        cmocka_unit_test(test_session_limit_violation_closes),
        cmocka_unit_test(test_unknown_frame_closes),
        cmocka_unit_test(test_malformed_frame_closes),
        cmocka_unit_test(test_ack_of_unsent_packet_closes),
        cmocka_unit_test(test_unopened_local_stream_closes),
        cmocka_unit_test(test_peer_over_stream_limit_closes),
        cmocka_unit_test(test_duplicate_packets_ignored),
        cmocka_unit_test(test_protocol_header_rejects),
        cmocka_unit_test(test_protocol_header_in_pieces),
        cmocka_unit_test(test_abandoned_stream_checked_and_credited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
