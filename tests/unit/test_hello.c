/* proto/hello: the msgpack hello carried in the Noise handshake payloads.
 * Round trips, a hello too big to send, no record sent but an earlier
 * node's record accepted, and every rejection: missing fields, zero
 * limits, wrong types, oversize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/hello.h"
#include "proto/msg.h"
#include "transport/error.h"

static void sample(struct knit_hello *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < KNIT_PUBKEY_LEN; i++)
        h->peer.pubkey[i] = (uint8_t)(i * 7 + 1);
    snprintf(h->agent, sizeof h->agent, "knit/0.1.0");
    snprintf(h->protocols[0], sizeof h->protocols[0], "/knit/ping/1");
    snprintf(h->protocols[1], sizeof h->protocols[1], "/knit/bench/1");
    h->protocol_count = 2;
    h->instance = 0x0123456789abcdefull;
    h->timestamp_us = 1700000000000000ull;
    h->max_data = 16u << 20;
    h->stream_window = 4u << 20;
    h->max_streams = 128;
}

static void expect_equal(const struct knit_hello *a, const struct knit_hello *b)
{
    assert_memory_equal(a->peer.pubkey, b->peer.pubkey, KNIT_PUBKEY_LEN);
    assert_string_equal(a->agent, b->agent);
    assert_int_equal(a->protocol_count, b->protocol_count);
    for (int i = 0; i < a->protocol_count; i++)
        assert_string_equal(a->protocols[i], b->protocols[i]);
    assert_int_equal(a->instance, b->instance);
    assert_int_equal(a->timestamp_us, b->timestamp_us);
    assert_int_equal(a->max_data, b->max_data);
    assert_int_equal(a->stream_window, b->stream_window);
    assert_int_equal(a->max_streams, b->max_streams);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct knit_hello h, d;
    uint8_t buf[KNIT_HELLO_MAX_BYTES];
    size_t len;
    sample(&h);
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len), KNIT_OK);
    assert_int_equal(knit_hello_decode(&d, buf, len), KNIT_OK);
    expect_equal(&h, &d);

    /* extreme values, and no protocols at all */
    h.protocol_count = 0;
    h.agent[0] = '\0';
    h.instance = UINT64_MAX;
    h.timestamp_us = 0;
    h.max_data = UINT64_MAX;
    h.stream_window = 1;
    h.max_streams = UINT32_MAX;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len), KNIT_OK);
    assert_int_equal(knit_hello_decode(&d, buf, len), KNIT_OK);
    expect_equal(&h, &d);
}

/* A large hello: n protocols of 64 bytes and a 64-byte agent. All 16 such
 * protocols do not fit in KNIT_HELLO_MAX_BYTES; 14 do. */
static void fill_big(struct knit_hello *h, uint8_t n)
{
    sample(h);
    memset(h->agent, 'a', KNIT_HELLO_AGENT_MAX);
    h->agent[KNIT_HELLO_AGENT_MAX] = '\0';
    for (int i = 0; i < KNIT_HELLO_MAX_PROTOCOLS; i++) {
        memset(h->protocols[i], 'p', KNIT_HELLO_PROTOCOL_MAX);
        h->protocols[i][0] = (char)('A' + i);
        h->protocols[i][KNIT_HELLO_PROTOCOL_MAX] = '\0';
    }
    h->protocol_count = n;
}

static void test_too_big(void **state)
{
    (void)state;
    struct knit_hello h, d;
    uint8_t buf[2 * KNIT_HELLO_MAX_BYTES];
    size_t len;
    fill_big(&h, KNIT_HELLO_MAX_PROTOCOLS);
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_NO_SPACE);
    fill_big(&h, 14);
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len), KNIT_OK);
    assert_true(len <= KNIT_HELLO_MAX_BYTES);
    assert_int_equal(knit_hello_decode(&d, buf, len), KNIT_OK);
    expect_equal(&h, &d);
}

static void test_encode_rejects(void **state)
{
    (void)state;
    struct knit_hello h;
    uint8_t buf[KNIT_HELLO_MAX_BYTES];
    size_t len;
    sample(&h);
    assert_int_equal(knit_hello_encode(&h, buf, 20, &len), KNIT_E_NO_SPACE);
    h.protocol_count = KNIT_HELLO_MAX_PROTOCOLS + 1;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
    /* encode refuses what decode would refuse */
    sample(&h);
    h.protocols[1][0] = '\0';
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
    sample(&h);
    h.max_streams = 0;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
    sample(&h);
    h.stream_window = 0;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
    sample(&h);
    h.max_data = 0;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
    sample(&h);
    memcpy(h.agent, "\xff\xfe", 3);   /* not UTF-8 */
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len),
                     KNIT_E_INVAL);
}

/* ---- hand-written hellos ------------------------------------------------- */

enum { F_PEER = 1 << 1, F_AGENT = 1 << 2, F_PROTOS = 1 << 3, F_RECORD = 1 << 4,
       F_INSTANCE = 1 << 5, F_TS = 1 << 6, F_MAX_DATA = 1 << 7,
       F_WINDOW = 1 << 8, F_STREAMS = 1 << 9, F_ALL = 0x3ee };

struct spec {
    unsigned fields;
    uint64_t type;
    size_t peer_len;
    const char *agent;
    const char *protocol;       /* one protocol */
    uint64_t max_data, window, streams;
    bool agent_as_uint;         /* key 2 holds a number */
    bool extra_key;             /* key 10 too */
};

static struct spec good(void)
{
    return (struct spec){
        .fields = F_ALL, .type = 1, .peer_len = 32, .agent = "knit/1",
        .protocol = "/p/1", .max_data = 1000, .window = 100, .streams = 4,
    };
}

static size_t write_hello(const struct spec *s, uint8_t *buf, size_t cap)
{
    uint8_t frame[4 + 2 * KNIT_HELLO_MAX_BYTES];
    uint8_t zeros[64] = {0};
    struct knit_msg_writer w;
    uint32_t n = 0;
    for (unsigned k = 1; k <= 9; k++)
        n += (s->fields >> k) & 1;
    knit_msg_writer_init(&w, frame, sizeof frame);
    knit_msg_begin(&w, s->type, n + s->extra_key);
    if (s->fields & F_PEER)
        knit_msg_put_bin(&w, 1, zeros, s->peer_len);
    if ((s->fields & F_AGENT) && s->agent_as_uint)
        knit_msg_put_uint(&w, 2, 7);
    else if (s->fields & F_AGENT)
        knit_msg_put_str(&w, 2, s->agent, strlen(s->agent));
    if (s->fields & F_PROTOS) {
        knit_msg_put_array_begin(&w, 3, 1);
        knit_msg_add_str(&w, s->protocol, strlen(s->protocol));
        knit_msg_array_end(&w);
    }
    if (s->fields & F_RECORD)
        knit_msg_put_bin(&w, 4, zeros, 10);
    if (s->fields & F_INSTANCE)
        knit_msg_put_uint(&w, 5, 1);
    if (s->fields & F_TS)
        knit_msg_put_uint(&w, 6, 2);
    if (s->fields & F_MAX_DATA)
        knit_msg_put_uint(&w, 7, s->max_data);
    if (s->fields & F_WINDOW)
        knit_msg_put_uint(&w, 8, s->window);
    if (s->fields & F_STREAMS)
        knit_msg_put_uint(&w, 9, s->streams);
    if (s->extra_key)
        knit_msg_put_uint(&w, 10, 0);
    size_t len;
    assert_int_equal(knit_msg_end(&w, &len), KNIT_OK);
    len -= KNIT_MSG_HEADER_LEN;
    assert_true(len <= cap);
    memcpy(buf, frame + KNIT_MSG_HEADER_LEN, len);
    return len;
}

static int decode_spec(const struct spec *s)
{
    uint8_t buf[2 * KNIT_HELLO_MAX_BYTES];
    struct knit_hello h;
    size_t len = write_hello(s, buf, sizeof buf);
    return knit_hello_decode(&h, buf, len);
}

static void test_hand_written_good(void **state)
{
    (void)state;
    struct spec s = good();
    assert_int_equal(decode_spec(&s), KNIT_OK);
    s.fields &= ~F_RECORD;   /* the record is optional */
    assert_int_equal(decode_spec(&s), KNIT_OK);
}

/* Our hello is exactly the hand-written one without key 4: no record is
 * sent (identify carries it), though an earlier node's is accepted. */
static void test_no_record_sent(void **state)
{
    (void)state;
    struct spec s = good();
    s.fields &= ~F_RECORD;
    uint8_t want[KNIT_HELLO_MAX_BYTES];
    size_t want_len = write_hello(&s, want, sizeof want);

    struct knit_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.agent, sizeof h.agent, "%s", s.agent);
    snprintf(h.protocols[0], sizeof h.protocols[0], "%s", s.protocol);
    h.protocol_count = 1;
    h.instance = 1;
    h.timestamp_us = 2;
    h.max_data = s.max_data;
    h.stream_window = s.window;
    h.max_streams = (uint32_t)s.streams;
    uint8_t buf[KNIT_HELLO_MAX_BYTES];
    size_t len;
    assert_int_equal(knit_hello_encode(&h, buf, sizeof buf, &len), KNIT_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);
}

static void test_missing_fields(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= 9; k++) {
        if (k == 4)
            continue;
        struct spec s = good();
        s.fields &= ~(1u << k);
        assert_int_equal(decode_spec(&s), KNIT_E_MISSING);
    }
}

static void test_zero_limits(void **state)
{
    (void)state;
    struct spec s = good();
    s.max_data = 0;
    assert_int_equal(decode_spec(&s), KNIT_E_MALFORMED);
    s = good();
    s.window = 0;
    assert_int_equal(decode_spec(&s), KNIT_E_MALFORMED);
    s = good();
    s.streams = 0;
    assert_int_equal(decode_spec(&s), KNIT_E_MALFORMED);
    s = good();
    s.streams = (uint64_t)UINT32_MAX + 1;
    assert_int_equal(decode_spec(&s), KNIT_E_TOO_BIG);
}

static void test_wrong_types_and_sizes(void **state)
{
    (void)state;
    struct spec s = good();
    s.type = 2;
    assert_int_equal(decode_spec(&s), KNIT_E_UNSUPPORTED);
    s = good();
    s.agent_as_uint = true;
    assert_int_equal(decode_spec(&s), KNIT_E_TYPE);
    s = good();
    s.peer_len = 31;
    assert_int_equal(decode_spec(&s), KNIT_E_LENGTH);
    s = good();
    s.extra_key = true;
    assert_int_equal(decode_spec(&s), KNIT_E_UNKNOWN_FIELD);
    s = good();
    s.protocol = "";
    assert_int_equal(decode_spec(&s), KNIT_E_LENGTH);
    char long_name[KNIT_HELLO_PROTOCOL_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    s = good();
    s.protocol = long_name;
    assert_int_equal(decode_spec(&s), KNIT_E_TOO_BIG);
    s = good();
    s.agent = long_name;
    assert_int_equal(decode_spec(&s), KNIT_E_TOO_BIG);
}

static uint8_t *find(uint8_t *buf, size_t len, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, text, n) == 0)
            return buf + i;
    return NULL;
}

/* Text with a NUL inside would be cut short when copied out: "/a\0b"
 * must not pass as the protocol "/a". */
static void test_nul_in_text(void **state)
{
    (void)state;
    uint8_t buf[KNIT_HELLO_MAX_BYTES];
    struct knit_hello h;
    struct spec s = good();
    size_t len = write_hello(&s, buf, sizeof buf);
    uint8_t *p = find(buf, len, "/p/1");
    assert_non_null(p);
    p[2] = '\0';
    assert_int_equal(knit_hello_decode(&h, buf, len), KNIT_E_MALFORMED);
    len = write_hello(&s, buf, sizeof buf);
    p = find(buf, len, "knit/1");
    assert_non_null(p);
    p[4] = '\0';
    assert_int_equal(knit_hello_decode(&h, buf, len), KNIT_E_MALFORMED);
}

static void test_oversize_truncated_trailing(void **state)
{
    (void)state;
    uint8_t buf[2 * KNIT_HELLO_MAX_BYTES];
    struct knit_hello h;
    struct spec s = good();
    size_t len = write_hello(&s, buf, sizeof buf);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(knit_hello_decode(&h, buf, n), KNIT_OK);
    assert_int_equal(knit_hello_decode(&h, buf, len - 1), KNIT_E_TRUNCATED);
    buf[len] = 0;
    assert_int_equal(knit_hello_decode(&h, buf, len + 1), KNIT_E_TRAILING);
    /* over the limit: refused before anything is read */
    memset(buf, 0, sizeof buf);
    assert_int_equal(knit_hello_decode(&h, buf, KNIT_HELLO_MAX_BYTES + 1),
                     KNIT_E_TOO_BIG);
    /* a large hello the encoder makes is fine */
    struct knit_hello big, d;
    fill_big(&big, 14);
    assert_int_equal(knit_hello_encode(&big, buf, sizeof buf, &len), KNIT_OK);
    assert_true(len <= KNIT_HELLO_MAX_BYTES);
    assert_int_equal(knit_hello_decode(&d, buf, len), KNIT_OK);
    expect_equal(&big, &d);
    /* not a map at all */
    buf[0] = 0x92;
    assert_int_equal(knit_hello_decode(&h, buf, 1), KNIT_E_TYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_hand_written_good),
        cmocka_unit_test(test_no_record_sent),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_zero_limits),
        cmocka_unit_test(test_wrong_types_and_sizes),
        cmocka_unit_test(test_nul_in_text),
        cmocka_unit_test(test_oversize_truncated_trailing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
