/* Protocol message framing: the deframer over partial, back-to-back and
 * oversized frames, and its own argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/msg.h"
#include "tests/support/msg_fixtures.h"
#include "transport/error.h"

static void test_deframe_byte_by_byte(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t frame_len;
    assert_int_equal(knit_test_msg_write_full(buf, sizeof buf, &frame_len), 0);
    struct knit_msg_frame fr;
    for (size_t have = 0; have < frame_len; have++) {
        assert_int_equal(knit_msg_deframe(buf, have, 1024, &fr), KNIT_E_AGAIN);
        assert_null(fr.body);
        assert_int_equal(fr.len, have < 4 ? 4 : frame_len);
    }
    assert_int_equal(knit_msg_deframe(buf, frame_len, 1024, &fr), 0);
    assert_int_equal(fr.len, frame_len);
}

static void test_deframe_back_to_back(void **state)
{
    (void)state;
    uint8_t one[512], both[1024];
    size_t n1, n2;
    assert_int_equal(knit_test_msg_write_full(one, sizeof one, &n1), 0);
    memcpy(both, one, n1);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, both + n1, sizeof both - n1);
    knit_msg_begin(&w, 99, 1);
    knit_msg_put_uint(&w, 1, 5);
    assert_int_equal(knit_msg_end(&w, &n2), 0);

    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(both, n1 + n2, 4096, &fr), 0);
    assert_int_equal(fr.len, n1);
    assert_memory_equal(fr.body, one + 4, n1 - 4);
    assert_int_equal(knit_msg_deframe(both + fr.len, n1 + n2 - fr.len, 4096,
                                      &fr), 0);
    assert_int_equal(fr.len, n2);
    struct knit_msg m;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len,
                                     &knit_test_msg_schema, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), 99);
    assert_int_equal(knit_msg_uint(&m, 1), 5);
    /* The second frame's body is the writer's: 82 00 63 01 05. */
    knit_test_expect_bytes(fr.body, fr.body_len, "\x82\x00\x63\x01\x05", 5);
}

static void test_deframe_limits(void **state)
{
    (void)state;
    struct knit_msg_frame fr;
    /* Over the limit: rejected from the header alone, no body present. */
    const uint8_t over[4] = {0, 0, 0x01, 0x01};   /* 257 */
    assert_int_equal(knit_msg_deframe(over, 4, 256, &fr), KNIT_E_TOO_BIG);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(knit_msg_deframe(huge, 4, KNIT_MSG_MAX_CEILING, &fr),
                     KNIT_E_TOO_BIG);
    /* At the limit: fine, wait for the body. */
    const uint8_t at[4] = {0, 0, 0x01, 0x00};
    assert_int_equal(knit_msg_deframe(at, 4, 256, &fr), KNIT_E_AGAIN);
    assert_int_equal(fr.len, 4 + 256);
    const uint8_t zero[5] = {0, 0, 0, 0, 0x80};
    assert_int_equal(knit_msg_deframe(zero, 5, 256, &fr), KNIT_E_MALFORMED);
    assert_int_equal(knit_msg_deframe(at, 4, 0, &fr), KNIT_E_INVAL);
    assert_int_equal(knit_msg_deframe(at, 4, KNIT_MSG_MAX_CEILING + 1, &fr),
                     KNIT_E_INVAL);
    assert_int_equal(knit_msg_deframe(NULL, 0, 256, &fr), KNIT_E_AGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deframe_byte_by_byte),
        cmocka_unit_test(test_deframe_back_to_back),
        cmocka_unit_test(test_deframe_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
