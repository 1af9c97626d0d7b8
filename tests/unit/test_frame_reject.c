/* What the frame codec refuses: frame types we do not speak, ACKs whose
 * ranges overflow, run below packet number 0 or number more than
 * KNIT_ACK_MAX_RANGES, STREAM frames that end past 2^62, CLOSE reasons that
 * are too long or not UTF-8, frames encode will not write (bad types,
 * unordered or overlapping ACK ranges, values past the varint limit,
 * missing data), and NULL arguments to decode. Well-formed input is
 * test_frame.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/varint.h"
#include "transport/error.h"

#include "tests/support/frame_fixtures.h"

static void test_unknown_types(void **state)
{
    (void)state;
    /* QUIC types we do not speak (ACK_ECN, CRYPTO, NEW_TOKEN, ...), gaps
     * in our numbering, a two-byte form of PING, and 0xff. */
    const uint8_t types[] = {0x03, 0x06, 0x07, 0x13, 0x14, 0x18, 0x19,
                             0x1d, 0x1e, 0x20, 0x3f, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t pkt[16] = {types[i], 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        struct knit_frame f;
        size_t used = 5;
        assert_int_equal(knit_frame_decode(pkt, sizeof pkt, &f, &used),
                         KNIT_E_UNSUPPORTED);
        assert_int_equal(used, 0);
    }
}

static void test_ack_rejects(void **state)
{
    (void)state;
    /* range_count 64 would make 65 ranges; refused before reading them. */
    const uint8_t too_many[] = {0x02, 0x40, 0x64, 0x00, 0x40, 0x40, 0x00};
    assert_int_equal(decode_bytes(too_many, sizeof too_many),
                     KNIT_E_MALFORMED);
    /* first_range past packet number 0. */
    const uint8_t first_below[] = {0x02, 0x05, 0x00, 0x00, 0x06};
    assert_int_equal(decode_bytes(first_below, sizeof first_below),
                     KNIT_E_MALFORMED);
    /* 2..5, then gap 0: 0..0 is fine; gap 1 would put the largest at -1. */
    const uint8_t gap_ok[] = {0x02, 0x05, 0x00, 0x01, 0x03, 0x00, 0x00};
    assert_int_equal(decode_bytes(gap_ok, sizeof gap_ok), 0);
    const uint8_t gap_below[] = {0x02, 0x05, 0x00, 0x01, 0x03, 0x01, 0x00};
    assert_int_equal(decode_bytes(gap_below, sizeof gap_below),
                     KNIT_E_MALFORMED);
    /* 2..5, gap 0 puts the next largest at 0: range_len 1 goes below. */
    const uint8_t len_below[] = {0x02, 0x05, 0x00, 0x01, 0x03, 0x00, 0x01};
    assert_int_equal(decode_bytes(len_below, sizeof len_below),
                     KNIT_E_MALFORMED);
    /* The largest possible gap and range_len must not wrap around. */
    const uint8_t huge_gap[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(decode_bytes(huge_gap, sizeof huge_gap),
                     KNIT_E_MALFORMED);
    const uint8_t huge_len[] = {0x02, 0x05, 0x00, 0x01, 0x00, 0x00, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(huge_len, sizeof huge_len),
                     KNIT_E_MALFORMED);

    /* range_count 63 (64 ranges, the most) is accepted. */
    uint8_t most[2 + 8 + 1 + 1 + 1 + 63 * 2];
    size_t n = 0, w;
    most[n++] = 0x02;
    assert_int_equal(knit_varint_encode(10000, most + n, 8, &w), 0);
    n += w;
    most[n++] = 0x00; /* delay */
    most[n++] = 63;   /* range_count */
    most[n++] = 0x00; /* first_range */
    for (int i = 0; i < 63; i++) {
        most[n++] = 0x00;
        most[n++] = 0x00;
    }
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(most, n, &f, &used), 0);
    assert_int_equal(used, n);
    assert_int_equal(f.u.ack.count, KNIT_ACK_MAX_RANGES);
    assert_true(f.u.ack.ranges[63].hi == 10000 - 63 * 2);
}

static void test_stream_end_limit(void **state)
{
    (void)state;
    /* offset 2^62 - 1 with no data ends exactly at the limit: accepted. */
    uint8_t pkt[32];
    size_t n = 0, w;
    pkt[n++] = 0x0e; /* OFF, LEN */
    pkt[n++] = 0x00;
    assert_int_equal(knit_varint_encode(KNIT_VARINT_MAX, pkt + n, 8, &w), 0);
    n += w;
    pkt[n++] = 0x00;
    assert_int_equal(decode_bytes(pkt, n), 0);
    /* One byte more reaches 2^62. */
    pkt[n - 1] = 0x01;
    pkt[n++] = 'x';
    assert_int_equal(decode_bytes(pkt, n), KNIT_E_TOO_BIG);
    /* The same without LEN: the trailing byte is the data. */
    pkt[0] = 0x0c;
    memmove(pkt + n - 2, pkt + n - 1, 1);
    assert_int_equal(decode_bytes(pkt, n - 1), KNIT_E_TOO_BIG);
}

static void test_close_rejects(void **state)
{
    (void)state;
    uint8_t pkt[300];
    memset(pkt, 'a', sizeof pkt);
    pkt[0] = 0x1c;
    pkt[1] = 0x00;
    /* 256 bytes is the most: 0x4100 is the two-byte varint 256. */
    pkt[2] = 0x41;
    pkt[3] = 0x00;
    assert_int_equal(decode_bytes(pkt, 4 + 256), 0);
    pkt[3] = 0x01;
    assert_int_equal(decode_bytes(pkt, 4 + 257), KNIT_E_MALFORMED);
    /* Even when the input stops short, an over-long reason is malformed. */
    assert_int_equal(decode_bytes(pkt, 10), KNIT_E_MALFORMED);

    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xff", 1},                 /* never in UTF-8 */
        {"\x80", 1},                 /* stray continuation */
        {"\xc0\x80", 2},             /* overlong NUL */
        {"\xe0\x80\xaf", 3},         /* overlong '/' */
        {"\xed\xa0\x80", 3},         /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4},     /* U+110000 */
        {"ok\xe2\x82", 4},           /* sequence cut short */
        {"\xc3" "a", 2},             /* continuation missing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t c[16] = {0x1c, 0x05, (uint8_t)bad[i].len};
        memcpy(c + 3, bad[i].bytes, bad[i].len);
        assert_int_equal(decode_bytes(c, 3 + bad[i].len), KNIT_E_MALFORMED);
    }
}

static void test_encode_rejects(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n;
    struct knit_frame f;

    memset(&f, 0, sizeof f);
    f.type = 0x03;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.type = 0x0a; /* STREAM must be given as KNIT_FRAME_STREAM */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);

    f.type = KNIT_FRAME_ACK;
    f.u.ack.count = 0;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.count = KNIT_ACK_MAX_RANGES + 1;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.count = 2;
    f.u.ack.ranges[0] = (struct knit_ack_range){10, 20};
    f.u.ack.ranges[1] = (struct knit_ack_range){0, 8};
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    f.u.ack.ranges[1].hi = 9; /* adjacent: must have been merged */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.ranges[1].hi = 15; /* overlapping */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.ranges[1] = (struct knit_ack_range){30, 40}; /* ascending */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.ranges[1] = (struct knit_ack_range){5, 4}; /* lo > hi */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.ack.count = 1;
    f.u.ack.ranges[0] = (struct knit_ack_range){0, KNIT_VARINT_MAX + 1};
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n),
                     KNIT_E_TOO_BIG);

    memset(&f, 0, sizeof f);
    f.type = KNIT_FRAME_STREAM;
    f.u.stream.len = 3; /* data NULL */
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.stream.data = payload;
    f.u.stream.offset = KNIT_VARINT_MAX - 2;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n),
                     KNIT_E_TOO_BIG);
    f.u.stream.offset = KNIT_VARINT_MAX - 3;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    f.u.stream.stream_id = KNIT_VARINT_MAX + 1;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n),
                     KNIT_E_TOO_BIG);

    memset(&f, 0, sizeof f);
    f.type = KNIT_FRAME_MAX_DATA;
    f.u.max_data.max = UINT64_MAX;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n),
                     KNIT_E_TOO_BIG);

    static const uint8_t long_reason[KNIT_FRAME_CLOSE_REASON_MAX + 1] = {0};
    memset(&f, 0, sizeof f);
    f.type = KNIT_FRAME_CLOSE;
    f.u.close.reason = long_reason;
    f.u.close.reason_len = KNIT_FRAME_CLOSE_REASON_MAX;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), 0);
    f.u.close.reason_len = KNIT_FRAME_CLOSE_REASON_MAX + 1;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.close.reason = (const uint8_t *)"\xc0\x80";
    f.u.close.reason_len = 2;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);
    f.u.close.reason = NULL;
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, &n), KNIT_E_INVAL);

    assert_int_equal(knit_frame_encode(NULL, buf, sizeof buf, &n),
                     KNIT_E_INVAL);
    f.type = KNIT_FRAME_PING;
    assert_int_equal(knit_frame_encode(&f, NULL, 0, &n), KNIT_E_INVAL);
    assert_int_equal(knit_frame_encode(&f, buf, sizeof buf, NULL),
                     KNIT_E_INVAL);
}

static void test_decode_invalid_arguments(void **state)
{
    (void)state;
    const uint8_t ping = 0x01;
    struct knit_frame f;
    size_t used;
    assert_int_equal(knit_frame_decode(NULL, 1, &f, &used), KNIT_E_INVAL);
    assert_int_equal(knit_frame_decode(&ping, 1, NULL, &used), KNIT_E_INVAL);
    assert_int_equal(knit_frame_decode(&ping, 1, &f, NULL), KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_ack_rejects),
        cmocka_unit_test(test_stream_end_limit),
        cmocka_unit_test(test_close_rejects),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_decode_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
