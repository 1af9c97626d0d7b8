/* The dht.state codec on valid input: round trips, the exact bytes of a
 * header, a sink that stops the read, a valid file cut at every byte, the
 * item limits, and the writer's sticky errors. Every rejection of a bad
 * file is in test_dht_state_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/state.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "tests/support/dht_state_fixtures.h"
#include "transport/error.h"

/* ---- peers and checks --------------------------------------------------- */

static struct knit_dht_state_peer peer4(uint8_t tag, uint16_t port)
{
    struct knit_dht_state_peer p = {.last_seen_unix = 1700000000u + tag};
    memset(p.id.pubkey, tag, sizeof p.id.pubkey);
    uint8_t ip[4] = {192, 0, 2, tag};
    assert_int_equal(knit_addr_set(&p.addr, ip, 4, port), 0);
    return p;
}

static struct knit_dht_state_peer peer6(uint8_t tag, uint16_t port)
{
    struct knit_dht_state_peer p = {.last_seen_unix = UINT64_MAX - tag};
    memset(p.id.pubkey, 0x80 | tag, sizeof p.id.pubkey);
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = tag};
    assert_int_equal(knit_addr_set(&p.addr, ip, 16, port), 0);
    return p;
}

static void expect_peer(const struct item *it,
                        const struct knit_dht_state_peer *p)
{
    assert_true(it->is_peer);
    assert_true(knit_peer_id_equal(&it->peer.id, &p->id));
    assert_true(knit_addr_equal(&it->peer.addr, &p->addr));
    assert_true(it->peer.last_seen_unix == p->last_seen_unix);
}

static void expect_record(const struct item *it, const uint8_t *env,
                          size_t len)
{
    assert_false(it->is_peer);
    assert_int_equal(it->len, len);
    assert_memory_equal(it->env, env, len);
}

/* ---- round trips -------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    fill_record();
    struct knit_dht_state_peer p[4] = {peer4(1, 4001), peer6(2, 65535),
                                       peer4(3, 0), peer6(4, 1)};
    p[2].last_seen_unix = 0;
    struct knit_dht_state_writer w;
    assert_int_equal(knit_dht_state_writer_init(&w, UINT64_C(1) << 40), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, &p[0]), 0);
    assert_int_equal(knit_dht_state_add_record(&w, big_record, 1), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, &p[1]), 0);
    assert_int_equal(knit_dht_state_add_record(&w, big_record,
                                               KNIT_RECORD_MAX_BYTES), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, &p[2]), 0);
    assert_int_equal(knit_dht_state_add_record(&w, big_record + 5, 300), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, &p[3]), 0);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.peers, 4);
    assert_int_equal(w.records, 3);

    struct log lg = {0};
    uint64_t saved;
    size_t off;
    assert_int_equal(read_log(w.buf, w.len, &lg, &saved, &off), 0);
    assert_true(saved == UINT64_C(1) << 40);
    assert_int_equal(off, w.len);
    assert_int_equal(lg.n, 7);
    expect_peer(&lg.it[0], &p[0]);
    expect_record(&lg.it[1], big_record, 1);
    expect_peer(&lg.it[2], &p[1]);
    expect_record(&lg.it[3], big_record, KNIT_RECORD_MAX_BYTES);
    expect_peer(&lg.it[4], &p[2]);
    expect_record(&lg.it[5], big_record + 5, 300);
    expect_peer(&lg.it[6], &p[3]);
    /* Records point into the input, not into a copy. */
    assert_true(lg.it[1].env > w.buf && lg.it[1].env < w.buf + w.len);

    /* NULL sink, callbacks and outputs: everything checked, nothing told. */
    assert_int_equal(knit_dht_state_read(w.buf, w.len, NULL, NULL, NULL), 0);
    struct knit_dht_state_sink half = {&lg, on_peer, NULL};
    lg = (struct log){0};
    assert_int_equal(knit_dht_state_read(w.buf, w.len, &half, NULL, NULL), 0);
    assert_int_equal(lg.n, 4);
    assert_int_equal(lg.peers, 4);

    knit_dht_state_writer_free(&w);
    assert_null(w.buf);
    assert_int_equal(w.len, 0);
    knit_dht_state_writer_free(&w);
}

static void test_empty_state(void **state)
{
    (void)state;
    struct knit_dht_state_writer w;
    assert_int_equal(knit_dht_state_writer_init(&w, 1700000000), 0);
    /* The header's exact bytes: {0: 1, 1: 1, 2: 1700000000}. */
    static const uint8_t want[] = {0, 0, 0, 11, 0x83, 0x00, 0x01, 0x01, 0x01,
                                   0x02, 0xce, 0x65, 0x53, 0xf1, 0x00};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);

    struct log lg = {0};
    uint64_t saved;
    size_t off;
    assert_int_equal(read_log(w.buf, w.len, &lg, &saved, &off), 0);
    assert_true(saved == 1700000000);
    assert_int_equal(off, w.len);
    assert_int_equal(lg.n, 0);
    knit_dht_state_writer_free(&w);

    assert_int_equal(knit_dht_state_writer_init(&w, UINT64_MAX), 0);
    assert_int_equal(knit_dht_state_read(w.buf, w.len, NULL, &saved, NULL), 0);
    assert_true(saved == UINT64_MAX);
    knit_dht_state_writer_free(&w);
}

static void test_sink_stops(void **state)
{
    (void)state;
    struct knit_dht_state_writer w;
    struct knit_dht_state_peer p = peer4(1, 1);
    assert_int_equal(knit_dht_state_writer_init(&w, 5), 0);
    size_t starts[4];
    for (size_t i = 0; i < 4; i++) {
        starts[i] = w.len;
        if (i % 2)
            knit_dht_state_add_record(&w, (const uint8_t *)"rec", 3);
        else
            knit_dht_state_add_peer(&w, &p);
    }
    assert_int_equal(w.err, 0);
    for (size_t stop = 1; stop <= 4; stop++) {
        struct log lg = {.stop_at = stop, .stop_code = KNIT_E_LIMIT};
        size_t off;
        assert_int_equal(read_log(w.buf, w.len, &lg, NULL, &off),
                         KNIT_E_LIMIT);
        assert_int_equal(lg.n, stop);
        assert_int_equal(off, starts[stop - 1]);
    }
    /* Any nonzero code is passed on as it is. */
    struct log lg = {.stop_at = 2, .stop_code = 7};
    assert_int_equal(read_log(w.buf, w.len, &lg, NULL, NULL), 7);
    knit_dht_state_writer_free(&w);
}

/* ---- truncation --------------------------------------------------------- */

static void test_truncation_at_every_byte(void **state)
{
    (void)state;
    fill_record();
    struct knit_dht_state_writer w;
    struct knit_dht_state_peer p4 = peer4(9, 4001), p6 = peer6(3, 4002);
    size_t ends[5];
    assert_int_equal(knit_dht_state_writer_init(&w, 77), 0);
    ends[0] = w.len;
    knit_dht_state_add_peer(&w, &p4);
    ends[1] = w.len;
    knit_dht_state_add_record(&w, big_record, 200);
    ends[2] = w.len;
    knit_dht_state_add_peer(&w, &p6);
    ends[3] = w.len;
    knit_dht_state_add_record(&w, big_record, 1);
    ends[4] = w.len;
    assert_int_equal(w.err, 0);

    for (size_t cut = 0; cut <= w.len; cut++) {
        /* A copy of exactly cut bytes, so ASan sees any read past it. */
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, w.buf, cut);
        struct log lg = {0};
        size_t off;
        int err = read_log(copy, cut, &lg, NULL, &off);
        size_t whole = 0;
        while (whole < 5 && ends[whole] <= cut)
            whole++;
        size_t start = whole ? ends[whole - 1] : 0;
        if (cut == 0) {
            assert_int_equal(err, KNIT_E_MISSING);
        } else if (cut == start) {
            assert_int_equal(err, 0);
        } else {
            assert_int_equal(err, KNIT_E_TRUNCATED);
        }
        assert_int_equal(off, start);
        assert_int_equal(lg.n, whole ? whole - 1 : 0);
        free(copy);
    }
    knit_dht_state_writer_free(&w);
}

/* ---- limits ------------------------------------------------------------- */

static void test_peer_limit(void **state)
{
    (void)state;
    struct knit_dht_state_writer w;
    assert_int_equal(knit_dht_state_writer_init(&w, 1), 0);
    for (uint32_t i = 0; i < KNIT_DHT_STATE_MAX_PEERS; i++) {
        struct knit_dht_state_peer p = peer4((uint8_t)i, (uint16_t)i);
        p.id.pubkey[0] = (uint8_t)(i >> 8);
        assert_int_equal(knit_dht_state_add_peer(&w, &p), 0);
    }
    struct knit_dht_state_peer extra = peer6(1, 1);
    size_t full = w.len;
    assert_int_equal(knit_dht_state_add_peer(&w, &extra), KNIT_E_TOO_BIG);
    assert_int_equal(knit_dht_state_add_record(&w, (const uint8_t *)"r", 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(w.len, full);
    assert_int_equal(w.peers, KNIT_DHT_STATE_MAX_PEERS);

    struct log lg = {0};
    assert_int_equal(read_log(w.buf, w.len, &lg, NULL, NULL), 0);
    assert_int_equal(lg.peers, KNIT_DHT_STATE_MAX_PEERS);

    /* One more, written by hand, is refused where it starts. */
    uint8_t *more = malloc(full + 128);
    assert_non_null(more);
    memcpy(more, w.buf, full);
    struct file f = {0};
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n = ma_bytes("/ip4/192.0.2.200/udp/1", ma);
    add_peer_raw(&f, good_id, sizeof good_id, ma, n);
    memcpy(more + full, f.b, f.n);
    lg = (struct log){0};
    size_t off;
    assert_int_equal(read_log(more, full + f.n, &lg, NULL, &off),
                     KNIT_E_TOO_BIG);
    assert_int_equal(off, full);
    assert_int_equal(lg.peers, KNIT_DHT_STATE_MAX_PEERS);
    free(more);
    knit_dht_state_writer_free(&w);
}

static void test_record_limit(void **state)
{
    (void)state;
    struct knit_dht_state_writer w;
    assert_int_equal(knit_dht_state_writer_init(&w, 1), 0);
    for (uint32_t i = 0; i < KNIT_DHT_STATE_MAX_RECORDS; i++)
        assert_int_equal(knit_dht_state_add_record(
                             &w, (const uint8_t *)&i, sizeof i), 0);
    size_t full = w.len;
    assert_int_equal(knit_dht_state_add_record(&w, (const uint8_t *)"r", 1),
                     KNIT_E_TOO_BIG);
    struct knit_dht_state_peer p = peer4(1, 1);
    assert_int_equal(knit_dht_state_add_peer(&w, &p), KNIT_E_TOO_BIG);
    assert_int_equal(w.len, full);

    struct log lg = {0};
    assert_int_equal(read_log(w.buf, w.len, &lg, NULL, NULL), 0);
    assert_int_equal(lg.records, KNIT_DHT_STATE_MAX_RECORDS);

    /* Peers still fit after the records are full: the limits are apart. */
    struct file f = {0};
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n = ma_bytes("/ip4/192.0.2.200/udp/1", ma);
    add_peer_raw(&f, good_id, sizeof good_id, ma, n);
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_RECORD, 1);
    knit_msg_put_bin(mw, 1, "z", 1);
    file_add(&f, mw);
    uint8_t *more = malloc(full + f.n);
    assert_non_null(more);
    memcpy(more, w.buf, full);
    memcpy(more + full, f.b, f.n);
    lg = (struct log){0};
    size_t off;
    assert_int_equal(read_log(more, full + f.n, &lg, NULL, &off),
                     KNIT_E_TOO_BIG);
    assert_int_equal(off, full + f.frames[1]);
    assert_int_equal(lg.peers, 1);
    assert_int_equal(lg.records, KNIT_DHT_STATE_MAX_RECORDS);
    free(more);
    knit_dht_state_writer_free(&w);
}

/* ---- writer errors ------------------------------------------------------ */

static void test_writer_errors_stick(void **state)
{
    (void)state;
    fill_record();
    struct knit_dht_state_writer w;
    struct knit_dht_state_peer good = peer4(1, 1);

    assert_int_equal(knit_dht_state_writer_init(NULL, 1), KNIT_E_INVAL);
    assert_int_equal(knit_dht_state_add_peer(NULL, &good), KNIT_E_INVAL);
    assert_int_equal(knit_dht_state_add_record(NULL, big_record, 1),
                     KNIT_E_INVAL);
    knit_dht_state_writer_free(NULL);

    struct knit_dht_state_peer unset = good;
    unset.addr.family = 0;
    assert_int_equal(knit_dht_state_writer_init(&w, 1), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, &good), 0);
    size_t len = w.len;
    assert_int_equal(knit_dht_state_add_peer(&w, &unset), KNIT_E_INVAL);
    assert_int_equal(knit_dht_state_add_peer(&w, &good), KNIT_E_INVAL);
    assert_int_equal(knit_dht_state_add_record(&w, big_record, 1),
                     KNIT_E_INVAL);
    assert_int_equal(w.err, KNIT_E_INVAL);
    assert_int_equal(w.len, len);
    assert_int_equal(w.peers, 1);
    knit_dht_state_writer_free(&w);

    struct { const uint8_t *env; size_t len; int err; } bad[] = {
        {big_record, 0, KNIT_E_INVAL},
        {NULL, 5, KNIT_E_INVAL},
        {big_record, KNIT_RECORD_MAX_BYTES + 1, KNIT_E_TOO_BIG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(knit_dht_state_writer_init(&w, 1), 0);
        assert_int_equal(knit_dht_state_add_record(&w, bad[i].env,
                                                   bad[i].len), bad[i].err);
        assert_int_equal(knit_dht_state_add_peer(&w, &good), bad[i].err);
        assert_int_equal(w.records + w.peers, 0);
        knit_dht_state_writer_free(&w);
    }
    assert_int_equal(knit_dht_state_writer_init(&w, 1), 0);
    assert_int_equal(knit_dht_state_add_peer(&w, NULL), KNIT_E_INVAL);
    knit_dht_state_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_state),
        cmocka_unit_test(test_sink_stops),
        cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_peer_limit),
        cmocka_unit_test(test_record_limit),
        cmocka_unit_test(test_writer_errors_stick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
