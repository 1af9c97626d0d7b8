/* The frame codec on well-formed input: every frame type and wire variant
 * survives encode then decode, alone and packed into one packet; a cut
 * anywhere reads as truncated; padding runs, the RFC 9000 ACK gap rule and
 * the STREAM decode forms read as they should; encode refuses any buffer too
 * small without touching it; and the STREAM sizing helpers (stream_overhead,
 * encode_stream_fit) agree with what encode writes. Malformed or
 * out-of-range input is test_frame_reject.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/varint.h"
#include "transport/error.h"

#include "tests/support/frame_fixtures.h"

static const char reason_utf8[] = "bye \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

static void assert_frames_equal(const struct knit_frame *a,
                                const struct knit_frame *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case KNIT_FRAME_ACK:
        assert_true(a->u.ack.ack_delay_us == b->u.ack.ack_delay_us);
        assert_int_equal(a->u.ack.count, b->u.ack.count);
        for (uint32_t i = 0; i < a->u.ack.count; i++) {
            assert_true(a->u.ack.ranges[i].lo == b->u.ack.ranges[i].lo);
            assert_true(a->u.ack.ranges[i].hi == b->u.ack.ranges[i].hi);
        }
        break;
    case KNIT_FRAME_STREAM:
        assert_true(a->u.stream.stream_id == b->u.stream.stream_id);
        assert_true(a->u.stream.offset == b->u.stream.offset);
        assert_int_equal(a->u.stream.len, b->u.stream.len);
        assert_int_equal(a->u.stream.fin, b->u.stream.fin);
        if (a->u.stream.len)
            assert_memory_equal(a->u.stream.data, b->u.stream.data,
                                a->u.stream.len);
        break;
    case KNIT_FRAME_RESET_STREAM:
        assert_true(a->u.reset.stream_id == b->u.reset.stream_id);
        assert_true(a->u.reset.error_code == b->u.reset.error_code);
        assert_true(a->u.reset.final_size == b->u.reset.final_size);
        break;
    case KNIT_FRAME_STOP_SENDING:
        assert_true(a->u.stop.stream_id == b->u.stop.stream_id);
        assert_true(a->u.stop.error_code == b->u.stop.error_code);
        break;
    case KNIT_FRAME_MAX_DATA:
        assert_true(a->u.max_data.max == b->u.max_data.max);
        break;
    case KNIT_FRAME_MAX_STREAM_DATA:
        assert_true(a->u.max_stream_data.stream_id ==
                    b->u.max_stream_data.stream_id);
        assert_true(a->u.max_stream_data.max == b->u.max_stream_data.max);
        break;
    case KNIT_FRAME_MAX_STREAMS:
        assert_true(a->u.max_streams.max == b->u.max_streams.max);
        break;
    case KNIT_FRAME_PATH_CHALLENGE:
    case KNIT_FRAME_PATH_RESPONSE:
        assert_memory_equal(a->u.path.data, b->u.path.data, 8);
        break;
    case KNIT_FRAME_CLOSE:
        assert_true(a->u.close.error_code == b->u.close.error_code);
        assert_int_equal(a->u.close.reason_len, b->u.close.reason_len);
        if (a->u.close.reason_len)
            assert_memory_equal(a->u.close.reason, b->u.close.reason,
                                a->u.close.reason_len);
        break;
    default:
        break;
    }
}

/* One of each frame type, plus the variants whose wire form differs
 * (STREAM with and without OFF and FIN, empty data, ACK of one range and of
 * the most ranges, CLOSE with and without a reason, integers of every size).
 * Returns the number written to out. */
#define SAMPLE_MAX 24
static size_t samples(struct knit_frame *out)
{
    size_t n = 0;
    memset(out, 0, SAMPLE_MAX * sizeof *out);
    out[n++].type = KNIT_FRAME_PADDING;
    out[n++].type = KNIT_FRAME_PING;

    out[n].type = KNIT_FRAME_ACK;
    out[n].u.ack.ack_delay_us = 25000;
    out[n].u.ack.count = 1;
    out[n].u.ack.ranges[0] = (struct knit_ack_range){0, 0};
    n++;
    out[n].type = KNIT_FRAME_ACK;
    out[n].u.ack.ack_delay_us = 0;
    out[n].u.ack.count = 3;
    out[n].u.ack.ranges[0] = (struct knit_ack_range){1000, 1005};
    out[n].u.ack.ranges[1] = (struct knit_ack_range){500, 998};
    out[n].u.ack.ranges[2] = (struct knit_ack_range){0, 0};
    n++;
    out[n].type = KNIT_FRAME_ACK;
    out[n].u.ack.ack_delay_us = KNIT_VARINT_MAX;
    out[n].u.ack.count = KNIT_ACK_MAX_RANGES;
    for (uint32_t i = 0; i < KNIT_ACK_MAX_RANGES; i++) {
        /* Ranges of varying width with gaps of varying width. */
        uint64_t hi = KNIT_VARINT_MAX - (uint64_t)i * 100000;
        out[n].u.ack.ranges[i] = (struct knit_ack_range){hi - i * 7, hi};
    }
    n++;

    out[n].type = KNIT_FRAME_STREAM;
    out[n].u.stream.stream_id = 0;
    out[n].u.stream.offset = 0;
    out[n].u.stream.data = payload;
    out[n].u.stream.len = sizeof payload - 1;
    n++;
    out[n].type = KNIT_FRAME_STREAM;
    out[n].u.stream.stream_id = 7;
    out[n].u.stream.offset = 123456789;
    out[n].u.stream.data = payload;
    out[n].u.stream.len = 5;
    out[n].u.stream.fin = true;
    n++;
    out[n].type = KNIT_FRAME_STREAM;
    out[n].u.stream.stream_id = KNIT_VARINT_MAX;
    out[n].u.stream.offset = KNIT_VARINT_MAX;
    out[n].u.stream.data = NULL;
    out[n].u.stream.len = 0;
    out[n].u.stream.fin = true;
    n++;

    out[n].type = KNIT_FRAME_RESET_STREAM;
    out[n].u.reset.stream_id = 4;
    out[n].u.reset.error_code = 16384;
    out[n].u.reset.final_size = UINT64_C(1) << 40;
    n++;
    out[n].type = KNIT_FRAME_STOP_SENDING;
    out[n].u.stop.stream_id = 63;
    out[n].u.stop.error_code = 64;
    n++;
    out[n].type = KNIT_FRAME_MAX_DATA;
    out[n].u.max_data.max = 1 << 20;
    n++;
    out[n].type = KNIT_FRAME_MAX_STREAM_DATA;
    out[n].u.max_stream_data.stream_id = 9;
    out[n].u.max_stream_data.max = KNIT_VARINT_MAX;
    n++;
    out[n].type = KNIT_FRAME_MAX_STREAMS;
    out[n].u.max_streams.max = 100;
    n++;
    out[n].type = KNIT_FRAME_PATH_CHALLENGE;
    memcpy(out[n].u.path.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    n++;
    out[n].type = KNIT_FRAME_PATH_RESPONSE;
    memcpy(out[n].u.path.data, "\xff\x00\xfe\x01\xfd\x02\xfc\x03", 8);
    n++;
    out[n].type = KNIT_FRAME_CLOSE;
    out[n].u.close.error_code = 0;
    n++;
    out[n].type = KNIT_FRAME_CLOSE;
    out[n].u.close.error_code = 0x1234;
    out[n].u.close.reason = (const uint8_t *)reason_utf8;
    out[n].u.close.reason_len = sizeof reason_utf8 - 1;
    n++;
    return n;
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    struct knit_frame s[SAMPLE_MAX];
    size_t count = samples(s);
    for (size_t i = 0; i < count; i++) {
        uint8_t buf[2048];
        size_t n = 0, used = 0;
        struct knit_frame back;
        assert_int_equal(knit_frame_encode(&s[i], buf, sizeof buf, &n), 0);
        assert_true(n > 0);
        assert_int_equal(knit_frame_decode(buf, n, &back, &used), 0);
        assert_int_equal(used, n);
        assert_frames_equal(&s[i], &back);
        /* Decoded data and reasons point into the input, not a copy. */
        if (back.type == KNIT_FRAME_STREAM && back.u.stream.len)
            assert_ptr_equal(back.u.stream.data,
                             buf + n - back.u.stream.len);
        if (back.type == KNIT_FRAME_CLOSE && back.u.close.reason_len)
            assert_ptr_equal(back.u.close.reason,
                             buf + n - back.u.close.reason_len);
    }
}

static void test_packet_of_frames(void **state)
{
    (void)state;
    struct knit_frame s[SAMPLE_MAX];
    size_t count = samples(s);
    uint8_t pkt[4096];
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n;
        assert_int_equal(knit_frame_encode(&s[i], pkt + len, sizeof pkt - len,
                                           &n), 0);
        len += n;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        struct knit_frame back;
        size_t used;
        assert_int_equal(knit_frame_decode(pkt + off, len - off, &back, &used),
                         0);
        assert_frames_equal(&s[i], &back);
        off += used;
    }
    assert_int_equal(off, len);
}

static void test_truncation_at_every_byte(void **state)
{
    (void)state;
    struct knit_frame s[SAMPLE_MAX];
    size_t count = samples(s);
    for (size_t i = 0; i < count; i++) {
        uint8_t buf[2048];
        size_t n;
        assert_int_equal(knit_frame_encode(&s[i], buf, sizeof buf, &n), 0);
        for (size_t cut = 0; cut < n; cut++) {
            /* A fresh heap copy of exactly cut bytes lets ASan catch any
             * read past the end. */
            uint8_t *part = malloc(cut ? cut : 1);
            assert_non_null(part);
            memcpy(part, buf, cut);
            struct knit_frame back;
            size_t used = 77;
            assert_int_equal(knit_frame_decode(part, cut, &back, &used),
                             KNIT_E_TRUNCATED);
            assert_int_equal(used, 0);
            free(part);
        }
    }
}

static void test_padding_run(void **state)
{
    (void)state;
    const uint8_t pkt[] = {0, 0, 0, 0x01, 0};
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(pkt, sizeof pkt, &f, &used), 0);
    assert_int_equal(f.type, KNIT_FRAME_PADDING);
    assert_int_equal(used, 3);
    assert_int_equal(knit_frame_decode(pkt + 3, 2, &f, &used), 0);
    assert_int_equal(f.type, KNIT_FRAME_PING);
    assert_int_equal(used, 1);
    assert_int_equal(knit_frame_decode(pkt + 4, 1, &f, &used), 0);
    assert_int_equal(f.type, KNIT_FRAME_PADDING);
    assert_int_equal(used, 1);
}

/* The RFC 9000 §19.3.1 rule worked by hand: largest 100, first_range 5
 * covers 95..100; gap 3, range_len 10: largest = 95 - 3 - 2 = 90, so
 * 80..90; gap 0, range_len 0: largest = 80 - 0 - 2 = 78, so 78..78. */
static const uint8_t hand_ack[] = {
    0x02,       /* ACK */
    0x40, 0x64, /* largest 100 (two-byte varint) */
    0x19,       /* ack delay 25 */
    0x02,       /* range_count */
    0x05,       /* first_range */
    0x03, 0x0a, /* gap, range_len */
    0x00, 0x00, /* gap, range_len */
};

static void test_ack_gap_arithmetic(void **state)
{
    (void)state;
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(hand_ack, sizeof hand_ack, &f, &used),
                     0);
    assert_int_equal(used, sizeof hand_ack);
    assert_int_equal(f.type, KNIT_FRAME_ACK);
    assert_true(f.u.ack.ack_delay_us == 25);
    assert_int_equal(f.u.ack.count, 3);
    const uint64_t want[3][2] = {{95, 100}, {80, 90}, {78, 78}};
    for (int i = 0; i < 3; i++) {
        assert_true(f.u.ack.ranges[i].lo == want[i][0]);
        assert_true(f.u.ack.ranges[i].hi == want[i][1]);
    }
    uint8_t buf[64];
    size_t n;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    assert_int_equal(n, sizeof hand_ack);
    assert_memory_equal(buf, hand_ack, n);
}

static void test_stream_decode_forms(void **state)
{
    (void)state;
    /* OFF and FIN, no LEN: the data runs to the end of the packet. */
    const uint8_t no_len[] = {0x0d, 0x04, 0x10, 'h', 'e', 'l', 'l', 'o'};
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(no_len, sizeof no_len, &f, &used), 0);
    assert_int_equal(used, sizeof no_len);
    assert_int_equal(f.type, KNIT_FRAME_STREAM);
    assert_true(f.u.stream.stream_id == 4 && f.u.stream.offset == 16);
    assert_int_equal(f.u.stream.len, 5);
    assert_true(f.u.stream.fin);
    assert_memory_equal(f.u.stream.data, "hello", 5);

    /* LEN shorter than what follows: the rest is the next frame. */
    const uint8_t with_len[] = {0x0a, 0x01, 0x02, 'h', 'i', 0x01};
    assert_int_equal(knit_frame_decode(with_len, sizeof with_len, &f, &used),
                     0);
    assert_int_equal(used, 5);
    assert_false(f.u.stream.fin);
    assert_true(f.u.stream.offset == 0);
    assert_int_equal(f.u.stream.len, 2);

    /* LEN past the end. */
    const uint8_t long_len[] = {0x0a, 0x01, 0x05, 'h', 'i'};
    assert_int_equal(decode_bytes(long_len, sizeof long_len),
                     KNIT_E_TRUNCATED);
}

static void test_encode_no_space(void **state)
{
    (void)state;
    struct knit_frame s[SAMPLE_MAX];
    size_t count = samples(s);
    for (size_t i = 0; i < count; i++) {
        uint8_t buf[2048];
        size_t need;
        assert_int_equal(knit_frame_encode(&s[i], buf, sizeof buf, &need), 0);
        for (size_t cap = 0; cap < need; cap++) {
            /* A frame that does not fit leaves the buffer untouched. */
            memset(buf, 0xaa, sizeof buf);
            size_t n = 99;
            assert_int_equal(knit_frame_encode(&s[i], buf, cap, &n),
                             KNIT_E_NO_SPACE);
            assert_int_equal(n, 99);
            for (size_t k = 0; k < need; k++)
                assert_int_equal(buf[k], 0xaa);
        }
        size_t n;
        assert_int_equal(knit_frame_encode(&s[i], buf, need, &n), 0);
        assert_int_equal(n, need);
    }
}

static void test_stream_overhead(void **state)
{
    (void)state;
    assert_int_equal(knit_frame_stream_overhead(0, 0, 0), 3);
    assert_int_equal(knit_frame_stream_overhead(4, 100, 1000), 1 + 1 + 2 + 2);
    assert_int_equal(knit_frame_stream_overhead(64, 1 << 30, 16384),
                     1 + 2 + 8 + 4);
    assert_int_equal(knit_frame_stream_overhead(KNIT_VARINT_MAX + 1, 0, 0), 0);
    assert_int_equal(knit_frame_stream_overhead(0, KNIT_VARINT_MAX + 1, 0), 0);

    /* It is exactly the header encode writes. */
    struct knit_frame f;
    memset(&f, 0, sizeof f);
    f.type = KNIT_FRAME_STREAM;
    f.u.stream.stream_id = 77;
    f.u.stream.offset = 9999;
    f.u.stream.data = payload;
    f.u.stream.len = 10;
    uint8_t buf[64];
    size_t n;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    assert_int_equal(n, knit_frame_stream_overhead(77, 9999, 10) + 10);
}

static void check_fit(uint64_t id, uint64_t offset, const uint8_t *data,
                      size_t len, bool fin, uint8_t *buf, size_t cap)
{
    size_t taken = 99, n = 99;
    int err = knit_frame_encode_stream_fit(id, offset, data, len, fin, buf, cap,
                                           &taken, &n);
    if (err == KNIT_E_NO_SPACE) {
        assert_int_equal(taken, 0);
        /* Not even one byte (or, for len 0, the bare frame) fits. */
        size_t least = len ? 1 : 0;
        assert_true(knit_frame_stream_overhead(id, offset, least) + least >
                    cap);
        return;
    }
    assert_int_equal(err, 0);
    assert_true(n <= cap);
    assert_true(taken <= len);
    assert_true(len == 0 || taken > 0);
    assert_int_equal(n, knit_frame_stream_overhead(id, offset, taken) + taken);
    /* Greedy: one byte more would not have fitted. */
    if (taken < len)
        assert_true(knit_frame_stream_overhead(id, offset, taken + 1) + taken +
                    1 > cap);
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(buf, n, &f, &used), 0);
    assert_int_equal(used, n);
    assert_int_equal(f.type, KNIT_FRAME_STREAM);
    assert_true(f.u.stream.stream_id == id && f.u.stream.offset == offset);
    assert_int_equal(f.u.stream.len, taken);
    if (taken)
        assert_memory_equal(f.u.stream.data, data, taken);
    assert_int_equal(f.u.stream.fin, fin && taken == len);
}

static void test_encode_stream_fit(void **state)
{
    (void)state;
    enum { DATA = 17000 };
    uint8_t *data = malloc(DATA);
    uint8_t *buf = malloc(DATA + 64);
    assert_non_null(data);
    assert_non_null(buf);
    for (size_t i = 0; i < DATA; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    const uint64_t ids[] = {0, 100, KNIT_VARINT_MAX};
    const uint64_t offsets[] = {0, 1, 70000};
    /* Every capacity where the LEN field steps from 1 to 2 bytes (64) and
     * from 2 to 4 (16384), and around the whole frame. */
    static const size_t spans[][2] = {
        {0, 120}, {16360, 16420}, {DATA - 20, DATA + 30}};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t s = 0; s < 3; s++)
                for (size_t cap = spans[s][0]; cap <= spans[s][1]; cap++)
                    check_fit(ids[a], offsets[b], data, DATA, true, buf, cap);
    /* Small data with and without FIN, and an empty FIN-only frame. */
    for (size_t cap = 0; cap < 64; cap++) {
        check_fit(4, 0, data, 40, true, buf, cap);
        check_fit(5, 12345, data, 40, false, buf, cap);
        check_fit(6, 10, NULL, 0, true, buf, cap);
    }

    size_t taken, n;
    assert_int_equal(knit_frame_encode_stream_fit(KNIT_VARINT_MAX + 1, 0, data,
                                                  1, false, buf, 100, &taken,
                                                  &n), KNIT_E_TOO_BIG);
    assert_int_equal(knit_frame_encode_stream_fit(0, KNIT_VARINT_MAX, data, 1,
                                                  false, buf, 100, &taken, &n),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_frame_encode_stream_fit(0, 0, NULL, 1, false, buf,
                                                  100, &taken, &n),
                     KNIT_E_INVAL);
    free(data);
    free(buf);
}

static void test_ack_eliciting(void **state)
{
    (void)state;
    assert_false(knit_frame_is_ack_eliciting(KNIT_FRAME_ACK));
    assert_false(knit_frame_is_ack_eliciting(KNIT_FRAME_PADDING));
    assert_false(knit_frame_is_ack_eliciting(KNIT_FRAME_CLOSE));
    const uint8_t yes[] = {KNIT_FRAME_PING, KNIT_FRAME_RESET_STREAM,
                           KNIT_FRAME_STOP_SENDING, KNIT_FRAME_STREAM,
                           KNIT_FRAME_MAX_DATA, KNIT_FRAME_MAX_STREAM_DATA,
                           KNIT_FRAME_MAX_STREAMS, KNIT_FRAME_PATH_CHALLENGE,
                           KNIT_FRAME_PATH_RESPONSE};
    for (size_t i = 0; i < sizeof yes; i++)
        assert_true(knit_frame_is_ack_eliciting(yes[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_packet_of_frames),
        cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_padding_run),
        cmocka_unit_test(test_ack_gap_arithmetic),
        cmocka_unit_test(test_stream_decode_forms),
        cmocka_unit_test(test_encode_no_space),
        cmocka_unit_test(test_stream_overhead),
        cmocka_unit_test(test_encode_stream_fit),
        cmocka_unit_test(test_ack_eliciting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
