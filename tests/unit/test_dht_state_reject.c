/* Every rejection the dht.state reader promises: a missing or bad header,
 * broken frames, bad peers and records, each with where the read stops and
 * what it delivered before. Bad files are built frame by frame with the msg
 * writer, behind a valid header where the error needs one. Valid files are
 * in test_dht_state.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dht/state.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "tests/support/dht_state_fixtures.h"
#include "transport/error.h"

/* ---- bad files ---------------------------------------------------------- */

/* Raw bytes as one more (usually broken) frame. */
static void add_raw(struct file *f, const void *p, size_t n)
{
    f->frames[f->nframes++] = f->n;
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void add_header(struct file *f, uint64_t version)
{
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_HEADER, 2);
    knit_msg_put_uint(mw, 1, version);
    knit_msg_put_uint(mw, 2, 1234);
    file_add(f, mw);
}

/* A valid header, one valid peer, then whatever the test appends: frames[2]
 * is where the bad frame starts. */
static void good_start(struct file *f)
{
    memset(f, 0, sizeof *f);
    add_header(f, 1);
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n = ma_bytes("/ip4/198.51.100.1/udp/4001", ma);
    add_peer_raw(f, good_id, sizeof good_id, ma, n);
}

/* The read stops with err at the third frame, the peer delivered. */
static void expect_bad_third(const struct file *f, int err)
{
    struct log lg = {0};
    size_t off = 0;
    uint64_t saved = 0;
    assert_int_equal(read_log(f->b, f->n, &lg, &saved, &off), err);
    assert_int_equal(off, f->frames[2]);
    assert_int_equal(lg.n, 1);
    assert_true(lg.it[0].is_peer);
    assert_true(saved == 1234);
}

static void expect_bad_first(const struct file *f, int err)
{
    struct log lg = {0};
    size_t off = 99;
    uint64_t saved = 99;
    assert_int_equal(read_log(f->b, f->n, &lg, &saved, &off), err);
    assert_int_equal(off, 0);
    assert_int_equal(lg.n, 0);
    assert_true(saved == 0);
}

/* ---- rejections --------------------------------------------------------- */

static void test_header_rejections(void **state)
{
    (void)state;
    struct file f;
    struct log lg = {0};
    size_t off = 99;

    /* Nothing at all. */
    assert_int_equal(read_log(NULL, 0, &lg, NULL, &off), KNIT_E_MISSING);
    assert_int_equal(off, 0);
    assert_int_equal(read_log(f.b, 0, &lg, NULL, &off), KNIT_E_MISSING);
    assert_int_equal(knit_dht_state_read(NULL, 5, NULL, NULL, &off),
                     KNIT_E_INVAL);

    /* Items before any header. */
    good_start(&f);
    expect_bad_first(&(struct file){0}, KNIT_E_MISSING);
    struct file g = {0};
    memcpy(g.b, f.b + f.frames[1], f.n - f.frames[1]);
    g.n = f.n - f.frames[1];
    expect_bad_first(&g, KNIT_E_MISSING);
    memset(&g, 0, sizeof g);
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_RECORD, 1);
    knit_msg_put_bin(mw, 1, "x", 1);
    file_add(&g, mw);
    expect_bad_first(&g, KNIT_E_MISSING);
    memset(&g, 0, sizeof g);
    file_add(&g, begin(9, 0));
    add_header(&g, 1);
    expect_bad_first(&g, KNIT_E_MISSING);

    /* Versions other than 1. */
    for (uint64_t v = 0; v < 4; v += 2) {
        memset(&g, 0, sizeof g);
        add_header(&g, v);
        expect_bad_first(&g, KNIT_E_UNSUPPORTED);
    }
    memset(&g, 0, sizeof g);
    add_header(&g, UINT64_MAX);
    expect_bad_first(&g, KNIT_E_UNSUPPORTED);

    /* A header that breaks its schema. */
    memset(&g, 0, sizeof g);
    mw = begin(KNIT_DHT_STATE_HEADER, 1);
    knit_msg_put_uint(mw, 1, 1);
    file_add(&g, mw);
    expect_bad_first(&g, KNIT_E_MISSING);
    memset(&g, 0, sizeof g);
    mw = begin(KNIT_DHT_STATE_HEADER, 3);
    knit_msg_put_uint(mw, 1, 1);
    knit_msg_put_uint(mw, 2, 1);
    knit_msg_put_uint(mw, 3, 1);
    file_add(&g, mw);
    expect_bad_first(&g, KNIT_E_UNKNOWN_FIELD);
    memset(&g, 0, sizeof g);
    mw = begin(KNIT_DHT_STATE_HEADER, 2);
    knit_msg_put_uint(mw, 1, 1);
    knit_msg_put_bin(mw, 2, "t", 1);
    file_add(&g, mw);
    expect_bad_first(&g, KNIT_E_TYPE);

    /* A second header, even an identical one. */
    good_start(&f);
    add_header(&f, 1);
    expect_bad_third(&f, KNIT_E_DUPLICATE);
    good_start(&f);
    add_header(&f, 2);
    expect_bad_third(&f, KNIT_E_DUPLICATE);
}

static void test_frame_rejections(void **state)
{
    (void)state;
    struct file f;

    /* Unknown frame types after the header. */
    good_start(&f);
    file_add(&f, begin(4, 0));
    expect_bad_third(&f, KNIT_E_UNSUPPORTED);
    good_start(&f);
    file_add(&f, begin(0, 0));
    expect_bad_third(&f, KNIT_E_UNSUPPORTED);

    /* A zero-length frame; a body that is not a map; trailing bytes. */
    good_start(&f);
    add_raw(&f, "\0\0\0\0", 4);
    expect_bad_third(&f, KNIT_E_MALFORMED);
    good_start(&f);
    add_raw(&f, "\0\0\0\1\x01", 5);
    expect_bad_third(&f, KNIT_E_TYPE);
    good_start(&f);
    add_raw(&f, "\0\0\0\x08\x82\x00\x03\x01\xc4\x01\x41\x00", 12);
    expect_bad_third(&f, KNIT_E_TRAILING);

    /* A body of exactly the limit gets past the framing (to the record's
     * own limit, or to the duplicate-header check); one more byte is
     * refused from the frame header alone, before any body arrives. */
    static uint8_t pad[KNIT_DHT_STATE_MAX_FRAME];
    good_start(&f);
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_RECORD, 1);
    /* map(2) + 0:3 + key 1 + bin16 header (3) = 7 bytes around the bin. */
    knit_msg_put_bin(mw, 1, pad, KNIT_DHT_STATE_MAX_FRAME - 7);
    file_add(&f, mw);
    assert_int_equal(f.n - f.frames[2],
                     KNIT_MSG_HEADER_LEN + KNIT_DHT_STATE_MAX_FRAME);
    expect_bad_third(&f, KNIT_E_TOO_BIG);
    good_start(&f);
    mw = begin(KNIT_DHT_STATE_HEADER, 1);
    knit_msg_put_bin(mw, 9, pad, KNIT_DHT_STATE_MAX_FRAME - 7);
    file_add(&f, mw);
    expect_bad_third(&f, KNIT_E_DUPLICATE);
    good_start(&f);
    add_raw(&f, "\0\0\x10\x01", 4);
    expect_bad_third(&f, KNIT_E_TOO_BIG);

    /* A partial last frame. */
    good_start(&f);
    add_raw(&f, "\0\0\0\x09\x83", 5);
    expect_bad_third(&f, KNIT_E_TRUNCATED);
    good_start(&f);
    add_raw(&f, "\0\0", 2);
    expect_bad_third(&f, KNIT_E_TRUNCATED);
}

static void test_peer_rejections(void **state)
{
    (void)state;
    struct file f;
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n = ma_bytes("/ip6/2001:db8::7/udp/9", ma);
    char id_text[KNIT_PEER_ID_TEXT_MAX];
    struct knit_peer_id pid;
    assert_int_equal(knit_peer_id_from_bytes(&pid, good_id, sizeof good_id),
                     0);
    assert_int_equal(knit_peer_id_to_text(&pid, id_text, sizeof id_text), 0);

    /* Peer ID: short, and with the wrong prefix. */
    good_start(&f);
    add_peer_raw(&f, good_id, sizeof good_id - 1, ma, n);
    expect_bad_third(&f, KNIT_E_LENGTH);
    uint8_t bad_id[KNIT_PEER_ID_BYTES];
    memcpy(bad_id, good_id, sizeof bad_id);
    bad_id[3] = 2;
    good_start(&f);
    add_peer_raw(&f, bad_id, sizeof bad_id, ma, n);
    expect_bad_third(&f, KNIT_E_PREFIX);

    /* Addresses that are valid multiaddrs but not a bare endpoint. */
    const char *shapes[] = {
        "/ip4/192.0.2.1/udp/4001/p2p/", "/p2p/",
        "/ip4/192.0.2.1/udp/4001/p2p/%s/p2p-circuit",
        "/p2p/%s/p2p-circuit/p2p/",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char text[KNIT_MA_TEXT_MAX];
        if (strstr(shapes[i], "%s"))
            snprintf(text, sizeof text, shapes[i], id_text);
        else
            snprintf(text, sizeof text, "%s", shapes[i]);
        if (text[strlen(text) - 1] == '/')
            strcat(text, id_text);
        uint8_t bad[KNIT_MA_BINARY_MAX];
        size_t bn = ma_bytes(text, bad);
        good_start(&f);
        add_peer_raw(&f, good_id, sizeof good_id, bad, bn);
        expect_bad_third(&f, KNIT_E_SHAPE);
    }
    /* Bytes that are no multiaddr at all: the multiaddr's own error. */
    static const uint8_t junk[] = {0x04, 0x01, 0x02};
    struct knit_multiaddr tmp;
    int junk_err = knit_multiaddr_decode(&tmp, junk, sizeof junk);
    assert_true(junk_err < 0);
    good_start(&f);
    add_peer_raw(&f, good_id, sizeof good_id, junk, sizeof junk);
    expect_bad_third(&f, junk_err);
    good_start(&f);
    add_peer_raw(&f, good_id, sizeof good_id, ma, 0);
    expect_bad_third(&f, KNIT_E_LENGTH);

    /* Missing and mistyped fields. */
    good_start(&f);
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_PEER, 2);
    knit_msg_put_bin(mw, 1, good_id, sizeof good_id);
    knit_msg_put_bin(mw, 2, ma, n);
    file_add(&f, mw);
    expect_bad_third(&f, KNIT_E_MISSING);
    good_start(&f);
    mw = begin(KNIT_DHT_STATE_PEER, 3);
    knit_msg_put_bin(mw, 1, good_id, sizeof good_id);
    knit_msg_put_bin(mw, 2, ma, n);
    knit_msg_put_str(mw, 3, "1", 1);
    file_add(&f, mw);
    expect_bad_third(&f, KNIT_E_TYPE);
}

static void test_record_rejections(void **state)
{
    (void)state;
    fill_record();
    struct file f;
    good_start(&f);
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_RECORD, 1);
    knit_msg_put_bin(mw, 1, big_record, 0);
    file_add(&f, mw);
    expect_bad_third(&f, KNIT_E_LENGTH);
    good_start(&f);
    mw = begin(KNIT_DHT_STATE_RECORD, 1);
    knit_msg_put_bin(mw, 1, big_record, KNIT_RECORD_MAX_BYTES + 1);
    file_add(&f, mw);
    expect_bad_third(&f, KNIT_E_TOO_BIG);
    good_start(&f);
    file_add(&f, begin(KNIT_DHT_STATE_RECORD, 0));
    expect_bad_third(&f, KNIT_E_MISSING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_rejections),
        cmocka_unit_test(test_frame_rejections),
        cmocka_unit_test(test_peer_rejections),
        cmocka_unit_test(test_record_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
