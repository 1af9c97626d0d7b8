/* proto/conn_silence.c: a side the peer may still send to, with nothing of
 * its own in flight, sends one PING after silence_probe_us without new
 * stream data; no more until data moves again; none once the peer has
 * finished; and a PING that goes unanswered arms the probe timeout, which
 * is what moves a session off a dead path. Two conns back to back
 * (tests/unit/test_conn_pair.h). */
#include "test_conn_pair.h"

#define PROTO "/test/silence/1"

/* a opens a stream and sends len bytes on it, without a FIN; the link
 * delivers them and both sides have nothing left in flight. */
static uint64_t send_unfinished(struct pair *p, size_t len)
{
    uint64_t id, written = 0;
    assert_int_equal(knit_conn_open_stream(p->a.conn, PROTO, &id), KNIT_OK);
    write_some(&p->a, id, &written, len);
    assert_int_equal(written, len);
    run_until(p, p->now + 200 * MS);
    assert_int_equal(rx_find(&p->b, id)->read, len);
    return id;
}

static void test_one_ping_per_silence(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id = send_unfinished(&p, 20000);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 0);
    /* b: the data came 200 ms ago; the probe is due 1 s after it */
    uint64_t due = knit_conn_next_deadline(p.b.conn);
    assert_true(due > p.now && due <= p.now + 1 * SECOND);
    run_until(&p, p.now + 2 * SECOND);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 1);
    /* a waits for b's side of the stream as well: one PING from it too */
    assert_int_equal(frames_sent(&p.a, KNIT_FRAME_PING), 1);
    /* answered, and nothing more while nothing moves */
    assert_int_equal(knit_conn_next_deadline(p.b.conn), KNIT_NO_DEADLINE);
    run_until(&p, p.now + 60 * SECOND);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 1);
    /* new data starts a new silence, and a new probe */
    uint64_t written = 20000;
    write_some(&p.a, id, &written, 1000);
    run_until(&p, p.now + 2 * SECOND);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 2);
    pair_free(&p);
}

static void test_no_ping_once_the_peer_finished(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    uint64_t id = send_unfinished(&p, 20000);
    assert_int_equal(knit_conn_stream_finish(p.a.conn, id), KNIT_OK);
    run_until(&p, p.now + 200 * MS);
    assert_true(rx_find(&p.b, id)->fin);
    run_until(&p, p.now + 10 * SECOND);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 0);
    pair_free(&p);
}

static void test_off_when_zero(void **state)
{
    (void)state;
    struct knit_conn_config cfg;
    knit_conn_config_default(&cfg);
    cfg.silence_probe_us = 0;
    struct pair p;
    pair_init(&p, NULL, &cfg);
    send_unfinished(&p, 20000);
    run_until(&p, p.now + 10 * SECOND);
    assert_int_equal(frames_sent(&p.b, KNIT_FRAME_PING), 0);
    pair_free(&p);
}

/* b's path broke: nothing reaches a any more. The one PING goes
 * unanswered, so b's probe timeouts count up, as the session's fallback
 * rule needs (session_path_check_active), where before b, having nothing
 * in flight, would never have noticed. */
static void test_an_unanswered_ping_arms_the_probe_timeout(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, NULL, NULL);
    send_unfinished(&p, 20000);
    p.drop_to_a = true;
    assert_int_equal(knit_conn_pto_count(p.b.conn), 0);
    run_until(&p, p.now + 5 * SECOND);
    assert_true(frames_sent(&p.b, KNIT_FRAME_PING) >= 1);
    assert_true(knit_conn_pto_count(p.b.conn) >= 2);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_ping_per_silence),
        cmocka_unit_test(test_no_ping_once_the_peer_finished),
        cmocka_unit_test(test_off_when_zero),
        cmocka_unit_test(test_an_unanswered_ping_arms_the_probe_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
