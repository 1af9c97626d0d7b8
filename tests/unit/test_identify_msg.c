/* The identify message (node/identify_msg.h): round trips of the fullest
 * and emptiest messages, the encoder's refusals, and the decoder's refusals
 * of bodies written by hand (wrong type, missing and foreign fields, bad
 * addresses, out-of-range values, oversize, trailing bytes and every
 * truncation of a valid body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/identify_msg.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_IDENTIFY_MAX_MESSAGE)

static uint8_t frame[FRAME_MAX];
static uint8_t scratch[2 * FRAME_MAX];
static uint8_t record[KNIT_RECORD_MAX_BYTES];
static char names[KNIT_IDENTIFY_MAX_PROTOCOLS][KNIT_IDENTIFY_MAX_PROTOCOL_LEN];

/* ---- building ------------------------------------------------------------ */

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {a, b, c, d};
    knit_addr_set(&addr, ip, 4, port);
    return addr;
}

static struct knit_addr v6(uint8_t last, uint16_t port)
{
    struct knit_addr addr;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip[15] = last;
    knit_addr_set(&addr, ip, 16, port);
    return addr;
}

static struct knit_peer_id peer(uint8_t seed)
{
    struct knit_peer_id id;
    for (size_t k = 0; k < sizeof id.pubkey; k++)
        id.pubkey[k] = (uint8_t)(seed + k * 7);
    return id;
}

/* /ip6/.../udp/.../p2p/<relay>/p2p-circuit/p2p/<target>: the longest. */
static struct knit_multiaddr circuit(uint8_t seed)
{
    struct knit_multiaddr ma;
    struct knit_addr a = v6(seed, 4001);
    struct knit_peer_id relay = peer(seed);
    knit_multiaddr_from_socket(&ma, &a, &relay);
    ma.c[3].protocol = KNIT_MA_P2P_CIRCUIT;
    ma.c[4].protocol = KNIT_MA_P2P;
    ma.c[4].v.peer = peer((uint8_t)(seed + 1));
    ma.count = 5;
    return ma;
}

static void minimal(struct knit_identify_msg *m)
{
    memset(m, 0, sizeof *m);
    m->agent = "knit/0.1";
    m->agent_len = strlen(m->agent);
}

/* Every field at its fullest. */
static void fullest(struct knit_identify_msg *m)
{
    minimal(m);
    m->push = true;
    m->has_observed = true;
    m->observed = v6(9, 65535);
    m->listen_count = KNIT_RECORD_MAX_ADDRS;
    for (size_t i = 0; i < KNIT_RECORD_MAX_ADDRS; i++)
        m->listen[i] = circuit((uint8_t)(i * 3));
    m->alt_port = 65535;
    m->protocol_count = KNIT_IDENTIFY_MAX_PROTOCOLS;
    for (size_t i = 0; i < KNIT_IDENTIFY_MAX_PROTOCOLS; i++) {
        memset(names[i], 'a' + (int)(i % 26), sizeof names[i]);
        m->protocols[i] = names[i];
        m->protocol_len[i] = KNIT_IDENTIFY_MAX_PROTOCOL_LEN;
    }
    static char agent[KNIT_IDENTIFY_MAX_AGENT_LEN];
    memset(agent, 'z', sizeof agent);
    m->agent = agent;
    m->agent_len = sizeof agent;
    for (size_t i = 0; i < sizeof record; i++)
        record[i] = (uint8_t)(i * 13);
    m->record = record;
    m->record_len = sizeof record;
}

static size_t encode(const struct knit_identify_msg *m)
{
    size_t len = 0;
    assert_int_equal(knit_identify_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame f;
    assert_int_equal(
        knit_msg_deframe(frame, len, KNIT_IDENTIFY_MAX_MESSAGE, &f), 0);
    assert_int_equal(f.len, len);
    return f.body_len;
}

/* ---- checking ------------------------------------------------------------ */

static void expect_same(const struct knit_identify_msg *a,
                        const struct knit_identify_msg *b)
{
    assert_int_equal(a->push, b->push);
    assert_int_equal(a->has_observed, b->has_observed);
    if (a->has_observed)
        assert_true(knit_addr_equal(&a->observed, &b->observed));
    assert_int_equal(a->listen_count, b->listen_count);
    for (size_t i = 0; i < a->listen_count; i++)
        assert_true(knit_multiaddr_equal(&a->listen[i], &b->listen[i]));
    assert_int_equal(a->alt_port, b->alt_port);
    assert_int_equal(a->protocol_count, b->protocol_count);
    for (size_t i = 0; i < a->protocol_count; i++) {
        assert_int_equal(a->protocol_len[i], b->protocol_len[i]);
        assert_memory_equal(a->protocols[i], b->protocols[i],
                            a->protocol_len[i]);
    }
    assert_int_equal(a->agent_len, b->agent_len);
    assert_memory_equal(a->agent, b->agent, a->agent_len);
    assert_int_equal(a->record_len, b->record_len);
    if (a->record_len)
        assert_memory_equal(a->record, b->record, a->record_len);
    else
        assert_null(b->record);
}

static void round_trip(const struct knit_identify_msg *m)
{
    size_t body_len = encode(m);
    struct knit_identify_msg *out = test_malloc(sizeof *out);
    memset(out, 0xa5, sizeof *out);
    const uint8_t *body = frame + KNIT_MSG_HEADER_LEN;
    assert_int_equal(knit_identify_decode(body, body_len, out), 0);
    expect_same(m, out);
    /* Strings and the record point into the body. */
    if (out->record_len)
        assert_true(out->record > body && out->record < body + body_len);
    assert_true((const uint8_t *)out->agent > body &&
                (const uint8_t *)out->agent < body + body_len);
    test_free(out);
}

/* The body must be refused with want, and the message left cleared. */
static void expect_decode(const uint8_t *body, size_t len, int want)
{
    static const struct knit_identify_msg zero;
    struct knit_identify_msg *out = test_malloc(sizeof *out);
    memset(out, 0xa5, sizeof *out);
    assert_int_equal(knit_identify_decode(body, len, out), want);
    assert_memory_equal(out, &zero, sizeof *out);
    test_free(out);
}

static void expect_writer_decode(struct knit_msg_writer *w, int want)
{
    size_t len;
    assert_int_equal(knit_msg_end(w, &len), 0);
    expect_decode(w->buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                  want);
}

/* An IDENTIFY with the three required fields, extra more to come. */
static void start(struct knit_msg_writer *w, uint32_t extra)
{
    knit_msg_writer_init(w, scratch, sizeof scratch);
    assert_int_equal(knit_msg_begin(w, KNIT_IDENTIFY_TYPE, 3 + extra), 0);
    knit_msg_put_array_begin(w, 2, 0);
    knit_msg_array_end(w);
    knit_msg_put_array_begin(w, 3, 0);
    knit_msg_array_end(w);
    knit_msg_put_str(w, 4, "a", 1);
}

static size_t ma_bytes(const struct knit_multiaddr *ma, uint8_t *out)
{
    size_t len = 0;
    assert_int_equal(knit_multiaddr_encode(ma, out, KNIT_MA_BINARY_MAX, &len),
                     0);
    return len;
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trip_minimal(void **state)
{
    (void)state;
    struct knit_identify_msg m;
    minimal(&m);
    round_trip(&m);
    /* Absent optional fields are absent on the wire too: type, three
     * fields, nothing else. */
    size_t body_len = encode(&m);
    struct knit_msg top;
    static const struct knit_msg_field any_fields[] = {
        KNIT_MSG_F_ARRAY_OF_BIN(2, KNIT_MSG_REQUIRED, 0, 0, 0, 0),
        KNIT_MSG_F_ARRAY_OF_STR(3, KNIT_MSG_REQUIRED, 0, 0, 0, 0),
        KNIT_MSG_F_STR(4, KNIT_MSG_REQUIRED, 1, 64),
    };
    static const struct knit_msg_schema only_required =
        KNIT_MSG_SCHEMA(any_fields);
    assert_int_equal(knit_msg_decode(frame + KNIT_MSG_HEADER_LEN, body_len,
                                     &only_required, &top), 0);
}

static void test_round_trip_fullest(void **state)
{
    (void)state;
    struct knit_identify_msg *m = test_malloc(sizeof *m);
    fullest(m);
    size_t body_len = encode(m);
    assert_true(body_len <= KNIT_IDENTIFY_MAX_MESSAGE);
    assert_true(body_len > 4096);   /* why the limit is 8 KiB, not 4 */
    round_trip(m);
    test_free(m);
}

static void test_round_trip_mixed(void **state)
{
    (void)state;
    struct knit_identify_msg m;
    minimal(&m);
    m.has_observed = true;
    m.observed = v4(203, 0, 113, 7, 4001);
    m.listen_count = 3;
    knit_multiaddr_from_socket(&m.listen[0], &m.observed, NULL);
    struct knit_addr lan = v4(192, 168, 1, 5, 4001);
    struct knit_peer_id me = peer(42);
    knit_multiaddr_from_socket(&m.listen[1], &lan, &me);
    m.listen[2] = circuit(7);
    m.listen[2].c[0] = m.listen[2].c[2];   /* /p2p/<relay>/p2p-circuit/... */
    m.listen[2].c[1] = m.listen[2].c[3];
    m.listen[2].c[2] = m.listen[2].c[4];
    m.listen[2].count = 3;
    m.protocol_count = 2;
    m.protocols[0] = KNIT_IDENTIFY_PROTOCOL;
    m.protocol_len[0] = (uint8_t)strlen(KNIT_IDENTIFY_PROTOCOL);
    m.protocols[1] = "/knit/dht/1";
    m.protocol_len[1] = 11;
    m.alt_port = 4002;
    round_trip(&m);

    /* push alone, record alone. */
    minimal(&m);
    m.push = true;
    round_trip(&m);
    minimal(&m);
    static const uint8_t rec[] = {0x83, 0x58, 0x20};
    m.record = rec;
    m.record_len = sizeof rec;
    round_trip(&m);
}

/* ---- the encoder's refusals ---------------------------------------------- */

static void expect_encode(const struct knit_identify_msg *m, size_t cap,
                          int want)
{
    size_t len = 99;
    assert_int_equal(knit_identify_encode(m, frame, cap, &len), want);
    assert_int_equal(len, 0);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    struct knit_identify_msg m;
    size_t len;
    minimal(&m);
    assert_int_equal(knit_identify_encode(NULL, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_identify_encode(&m, NULL, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_identify_encode(&m, frame, sizeof frame, NULL),
                     KNIT_E_INVAL);

    m.has_observed = true;                       /* family unset */
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.observed = v4(0, 0, 0, 0, 4001);           /* unspecified */
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.observed = v4(203, 0, 113, 7, 0);          /* port 0 */
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    minimal(&m);
    m.listen_count = KNIT_RECORD_MAX_ADDRS + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.listen_count = 1;
    m.listen[0].count = 1;                       /* bare /p2p/<id> */
    m.listen[0].c[0].protocol = KNIT_MA_P2P;
    m.listen[0].c[0].v.peer = peer(1);
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.listen[0].c[0].protocol = KNIT_MA_UDP;     /* not a shape at all */
    expect_encode(&m, sizeof frame, KNIT_E_SHAPE);

    minimal(&m);
    m.protocol_count = KNIT_IDENTIFY_MAX_PROTOCOLS + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.protocol_count = 1;
    m.protocols[0] = "x";
    m.protocol_len[0] = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.protocol_len[0] = KNIT_IDENTIFY_MAX_PROTOCOL_LEN + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.protocols[0] = NULL;
    m.protocol_len[0] = 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.protocols[0] = "\xff";                     /* not UTF-8 */
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    minimal(&m);
    m.agent_len = 0;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.agent_len = KNIT_IDENTIFY_MAX_AGENT_LEN + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.agent = NULL;
    m.agent_len = 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);

    minimal(&m);
    m.record_len = 1;                            /* NULL record */
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
    m.record = record;
    m.record_len = KNIT_RECORD_MAX_BYTES + 1;
    expect_encode(&m, sizeof frame, KNIT_E_INVAL);
}

static void test_encode_no_space(void **state)
{
    (void)state;
    struct knit_identify_msg m;
    minimal(&m);
    m.has_observed = true;
    m.observed = v4(203, 0, 113, 7, 4001);
    m.alt_port = 4002;
    size_t need = KNIT_MSG_HEADER_LEN + encode(&m);
    for (size_t cap = 0; cap < need; cap++)
        expect_encode(&m, cap, KNIT_E_NO_SPACE);
    size_t len;
    assert_int_equal(knit_identify_encode(&m, frame, need, &len), 0);
    assert_int_equal(len, need);
}

/* ---- the decoder's refusals ---------------------------------------------- */

static void test_decode_type_and_shape(void **state)
{
    (void)state;
    struct knit_identify_msg m;
    struct knit_msg_writer w;
    assert_int_equal(knit_identify_decode(frame, 1, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_identify_decode(NULL, 1, &m), KNIT_E_INVAL);
    expect_decode(NULL, 0, KNIT_E_TRUNCATED);

    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, 2, 0);                    /* not IDENTIFY */
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, 256 + KNIT_IDENTIFY_TYPE, 0);
    expect_writer_decode(&w, KNIT_E_UNSUPPORTED);
    static const uint8_t not_map[] = {0x91, 0x01};
    expect_decode(not_map, sizeof not_map, KNIT_E_TYPE);

    /* Each required field missing in turn. */
    for (unsigned skip = 2; skip <= 4; skip++) {
        knit_msg_writer_init(&w, scratch, sizeof scratch);
        knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 2);
        if (skip != 2) {
            knit_msg_put_array_begin(&w, 2, 0);
            knit_msg_array_end(&w);
        }
        if (skip != 3) {
            knit_msg_put_array_begin(&w, 3, 0);
            knit_msg_array_end(&w);
        }
        if (skip != 4)
            knit_msg_put_str(&w, 4, "a", 1);
        expect_writer_decode(&w, KNIT_E_MISSING);
    }

    start(&w, 1);                                /* a foreign field */
    knit_msg_put_uint(&w, 8, 1);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_FIELD);
    start(&w, 1);                                /* push not a bool */
    knit_msg_put_uint(&w, 6, 1);
    expect_writer_decode(&w, KNIT_E_TYPE);
    start(&w, 1);                                /* alt_port as bin */
    knit_msg_put_bin(&w, 7, "a", 1);
    expect_writer_decode(&w, KNIT_E_TYPE);
}

static void test_decode_observed(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    struct knit_addr a = v4(203, 0, 113, 7, 4001);
    struct knit_peer_id id = peer(3);

    knit_multiaddr_from_socket(&ma, &a, &id);    /* with /p2p */
    start(&w, 1);
    knit_msg_put_bin(&w, 1, bin, ma_bytes(&ma, bin));
    expect_writer_decode(&w, KNIT_E_SHAPE);
    ma = circuit(1);                             /* a circuit */
    start(&w, 1);
    knit_msg_put_bin(&w, 1, bin, ma_bytes(&ma, bin));
    expect_writer_decode(&w, KNIT_E_SHAPE);
    ma.count = 1;                                /* no address at all */
    ma.c[0].protocol = KNIT_MA_P2P;
    ma.c[0].v.peer = id;
    start(&w, 1);
    knit_msg_put_bin(&w, 1, bin, ma_bytes(&ma, bin));
    expect_writer_decode(&w, KNIT_E_SHAPE);

    a = v4(0, 0, 0, 0, 4001);                    /* unspecified */
    knit_multiaddr_from_socket(&ma, &a, NULL);
    start(&w, 1);
    knit_msg_put_bin(&w, 1, bin, ma_bytes(&ma, bin));
    expect_writer_decode(&w, KNIT_E_BAD_IP);
    a = v4(203, 0, 113, 7, 0);                   /* port 0 */
    knit_multiaddr_from_socket(&ma, &a, NULL);
    start(&w, 1);
    knit_msg_put_bin(&w, 1, bin, ma_bytes(&ma, bin));
    expect_writer_decode(&w, KNIT_E_BAD_PORT);

    static const uint8_t junk[] = {0x63, 0x00};  /* unknown protocol 99 */
    start(&w, 1);
    knit_msg_put_bin(&w, 1, junk, sizeof junk);
    expect_writer_decode(&w, KNIT_E_UNKNOWN_PROTOCOL);
    start(&w, 1);                                /* /ip4 cut short */
    knit_msg_put_bin(&w, 1, (const uint8_t[]){0x04, 203, 0}, 3);
    expect_writer_decode(&w, KNIT_E_TRUNCATED);
}

static void test_decode_listen_and_values(void **state)
{
    (void)state;
    struct knit_msg_writer w;
    struct knit_multiaddr ma;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    struct knit_addr a = v4(203, 0, 113, 7, 4001);

    ma.count = 1;                                /* bare /p2p/<id> */
    ma.c[0].protocol = KNIT_MA_P2P;
    ma.c[0].v.peer = peer(5);
    size_t n = ma_bytes(&ma, bin);
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 3);
    knit_msg_put_array_begin(&w, 2, 1);
    knit_msg_add_bin(&w, bin, n);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 3, 0);
    knit_msg_array_end(&w);
    knit_msg_put_str(&w, 4, "a", 1);
    expect_writer_decode(&w, KNIT_E_SHAPE);

    /* 17 listen addresses, 33 protocols, a 65-byte name, an empty one. */
    knit_multiaddr_from_socket(&ma, &a, NULL);
    n = ma_bytes(&ma, bin);
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 3);
    knit_msg_put_array_begin(&w, 2, KNIT_RECORD_MAX_ADDRS + 1);
    for (size_t i = 0; i <= KNIT_RECORD_MAX_ADDRS; i++)
        knit_msg_add_bin(&w, bin, n);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 3, 0);
    knit_msg_array_end(&w);
    knit_msg_put_str(&w, 4, "a", 1);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);

    char name65[KNIT_IDENTIFY_MAX_PROTOCOL_LEN + 1];
    memset(name65, 'p', sizeof name65);
    for (int c = 0; c < 3; c++) {
        uint32_t count = c == 0 ? KNIT_IDENTIFY_MAX_PROTOCOLS + 1 : 1;
        size_t len = c == 1 ? sizeof name65 : c == 2 ? 0 : 1;
        knit_msg_writer_init(&w, scratch, sizeof scratch);
        knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 3);
        knit_msg_put_array_begin(&w, 2, 0);
        knit_msg_array_end(&w);
        knit_msg_put_array_begin(&w, 3, count);
        for (uint32_t i = 0; i < count; i++)
            knit_msg_add_str(&w, name65, len);
        knit_msg_array_end(&w);
        knit_msg_put_str(&w, 4, "a", 1);
        expect_writer_decode(&w, c == 2 ? KNIT_E_LENGTH : KNIT_E_TOO_BIG);
    }

    /* agent empty and too long; record empty and too long. */
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 3);
    knit_msg_put_array_begin(&w, 2, 0);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 3, 0);
    knit_msg_array_end(&w);
    knit_msg_put_str(&w, 4, name65, 0);
    expect_writer_decode(&w, KNIT_E_LENGTH);
    knit_msg_writer_init(&w, scratch, sizeof scratch);
    knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, 3);
    knit_msg_put_array_begin(&w, 2, 0);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 3, 0);
    knit_msg_array_end(&w);
    knit_msg_put_str(&w, 4, name65, sizeof name65);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
    start(&w, 1);
    knit_msg_put_bin(&w, 5, record, 0);
    expect_writer_decode(&w, KNIT_E_LENGTH);
    start(&w, 1);                                /* at the limit: fine */
    knit_msg_put_bin(&w, 5, record, sizeof record);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    struct knit_identify_msg *ok = test_malloc(sizeof *ok);
    assert_int_equal(knit_identify_decode(scratch + KNIT_MSG_HEADER_LEN,
                                          n - KNIT_MSG_HEADER_LEN, ok), 0);
    assert_int_equal(ok->record_len, sizeof record);
    test_free(ok);
    static uint8_t big_record[KNIT_RECORD_MAX_BYTES + 1];
    start(&w, 1);
    knit_msg_put_bin(&w, 5, big_record, sizeof big_record);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);

    /* alt_port 0 and 65536. */
    start(&w, 1);
    knit_msg_put_uint(&w, 7, 0);
    expect_writer_decode(&w, KNIT_E_BAD_PORT);
    start(&w, 1);
    knit_msg_put_uint(&w, 7, 65536);
    expect_writer_decode(&w, KNIT_E_TOO_BIG);
}

static void test_decode_size_trailing_truncated(void **state)
{
    (void)state;
    /* Over the body limit, whatever the content. */
    static uint8_t huge[KNIT_IDENTIFY_MAX_MESSAGE + 1];
    expect_decode(huge, sizeof huge, KNIT_E_TOO_BIG);

    struct knit_identify_msg m;
    minimal(&m);
    m.has_observed = true;
    m.observed = v6(1, 4001);
    m.listen_count = 1;
    m.listen[0] = circuit(2);
    m.protocol_count = 1;
    m.protocols[0] = KNIT_IDENTIFY_PROTOCOL;
    m.protocol_len[0] = (uint8_t)strlen(KNIT_IDENTIFY_PROTOCOL);
    m.record = record;
    m.record_len = 40;
    m.push = true;
    m.alt_port = 4002;
    size_t len = encode(&m);
    const uint8_t *body = frame + KNIT_MSG_HEADER_LEN;
    memcpy(scratch, body, len);
    scratch[len] = 0xc0;                         /* a trailing nil */
    expect_decode(scratch, len + 1, KNIT_E_TRAILING);
    for (size_t cut = 0; cut < len; cut++)
        expect_decode(scratch, cut, KNIT_E_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_round_trip_fullest),
        cmocka_unit_test(test_round_trip_mixed),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_encode_no_space),
        cmocka_unit_test(test_decode_type_and_shape),
        cmocka_unit_test(test_decode_observed),
        cmocka_unit_test(test_decode_listen_and_values),
        cmocka_unit_test(test_decode_size_trailing_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
