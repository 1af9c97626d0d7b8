/* The dht.state codec: round trips, the exact bytes of a header, every
 * rejection the reader promises (with where it stops and what it delivered
 * before), a valid file cut at every byte, the item limits, and the
 * writer's sticky errors. Bad files are built frame by frame with the msg
 * writer, behind a valid header where the error needs one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/state.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "transport/error.h"

/* ---- a sink that logs --------------------------------------------------- */

struct item {
    bool is_peer;
    struct knit_dht_state_peer peer;
    const uint8_t *env;
    size_t len;
};

struct log {
    struct item it[16];
    size_t n;              /* items seen (only the first 16 kept) */
    size_t peers, records;
    size_t stop_at;        /* return stop_code for this item (1-based) */
    int stop_code;
};

static int log_item(struct log *lg, const struct item *it)
{
    if (lg->n < 16)
        lg->it[lg->n] = *it;
    lg->n++;
    return lg->n == lg->stop_at ? lg->stop_code : 0;
}

static int on_peer(void *ctx, const struct knit_dht_state_peer *p)
{
    struct log *lg = ctx;
    struct item it = {.is_peer = true, .peer = *p};
    lg->peers++;
    return log_item(lg, &it);
}

static int on_record(void *ctx, const uint8_t *env, size_t len)
{
    struct log *lg = ctx;
    struct item it = {.env = env, .len = len};
    lg->records++;
    return log_item(lg, &it);
}

static int read_log(const uint8_t *in, size_t len, struct log *lg,
                    uint64_t *saved_at, size_t *bad_offset)
{
    struct knit_dht_state_sink sink = {lg, on_peer, on_record};
    return knit_dht_state_read(in, len, &sink, saved_at, bad_offset);
}

/* ---- fixtures ----------------------------------------------------------- */

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

static uint8_t big_record[KNIT_RECORD_MAX_BYTES + 1];

static void fill_record(void)
{
    for (size_t i = 0; i < sizeof big_record; i++)
        big_record[i] = (uint8_t)(i * 7 + 1);
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

/* A file under construction: whole frames appended one after another. */
struct file {
    uint8_t b[16384];
    size_t n;
    size_t frames[8];      /* where each appended frame starts */
    size_t nframes;
};

static void file_add(struct file *f, struct knit_msg_writer *mw)
{
    size_t n;
    assert_int_equal(knit_msg_end(mw, &n), 0);
    assert_true(f->n + n <= sizeof f->b);
    if (f->nframes < 8)
        f->frames[f->nframes++] = f->n;
    memcpy(f->b + f->n, mw->buf, n);
    f->n += n;
}

/* Raw bytes as one more (usually broken) frame. */
static void add_raw(struct file *f, const void *p, size_t n)
{
    f->frames[f->nframes++] = f->n;
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static uint8_t frame_buf[8192];

static struct knit_msg_writer *begin(uint64_t type, uint32_t fields)
{
    static struct knit_msg_writer mw;
    knit_msg_writer_init(&mw, frame_buf, sizeof frame_buf);
    assert_int_equal(knit_msg_begin(&mw, type, fields), 0);
    return &mw;
}

static void add_header(struct file *f, uint64_t version)
{
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_HEADER, 2);
    knit_msg_put_uint(mw, 1, version);
    knit_msg_put_uint(mw, 2, 1234);
    file_add(f, mw);
}

static void add_peer_raw(struct file *f, const void *id, size_t id_len,
                         const void *addr, size_t addr_len)
{
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_PEER, 3);
    knit_msg_put_bin(mw, 1, id, id_len);
    knit_msg_put_bin(mw, 2, addr, addr_len);
    knit_msg_put_uint(mw, 3, 99);
    file_add(f, mw);
}

static size_t ma_bytes(const char *text, uint8_t *out)
{
    struct knit_multiaddr ma;
    size_t n;
    assert_int_equal(knit_multiaddr_parse(&ma, text, strlen(text)), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, out, KNIT_MA_BINARY_MAX, &n),
                     0);
    return n;
}

static const uint8_t good_id[KNIT_PEER_ID_BYTES] = {
    0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
};

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
        cmocka_unit_test(test_header_rejections),
        cmocka_unit_test(test_frame_rejections),
        cmocka_unit_test(test_peer_rejections),
        cmocka_unit_test(test_record_rejections),
        cmocka_unit_test(test_sink_stops),
        cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_peer_limit),
        cmocka_unit_test(test_record_limit),
        cmocka_unit_test(test_writer_errors_stick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
