/* The /knit/forward/1 messages (node/service_msg.h): OPEN and ANSWER
 * encoded and decoded back, the name alphabet, the encoder's refusals and
 * the decoder's refusals of bodies written by hand, each by its exact code
 * and with the output cleared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/service_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

static const struct knit_service_msg zero;

static size_t encode(const struct knit_service_msg *m, uint8_t *frame)
{
    size_t len = 0;
    assert_int_equal(knit_service_encode(m, frame, KNIT_SERVICE_FRAME_MAX,
                                         &len), KNIT_OK);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_SERVICE_MAX_MESSAGE,
                                      &fr), KNIT_OK);
    assert_int_equal(fr.len, len);
    return len;
}

static void round_trip(const struct knit_service_msg *m)
{
    uint8_t frame[KNIT_SERVICE_FRAME_MAX];
    size_t len = encode(m, frame);
    struct knit_service_msg got;
    assert_int_equal(knit_service_decode(frame + KNIT_MSG_HEADER_LEN,
                                         len - KNIT_MSG_HEADER_LEN, &got),
                     KNIT_OK);
    assert_memory_equal(&got, m, sizeof got);
}

/* A body written by hand must be refused with want and leave out cleared. */
static void expect_refused(const uint8_t *body, size_t len, int want)
{
    struct knit_service_msg got;
    memset(&got, 0x55, sizeof got);
    assert_int_equal(knit_service_decode(body, len, &got), want);
    assert_memory_equal(&got, &zero, sizeof got);
}

static struct knit_service_msg open_msg(const char *name)
{
    struct knit_service_msg m = zero;
    m.type = KNIT_SERVICE_OPEN;
    strcpy(m.service, name);
    return m;
}

static struct knit_service_msg answer_msg(uint8_t status, const char *text)
{
    struct knit_service_msg m = zero;
    m.type = KNIT_SERVICE_ANSWER;
    m.status = status;
    strcpy(m.text, text);
    return m;
}

static void test_round_trips(void **state)
{
    (void)state;
    char longest[KNIT_SERVICE_NAME_MAX + 1];
    memset(longest, 'z', KNIT_SERVICE_NAME_MAX);
    longest[KNIT_SERVICE_NAME_MAX] = '\0';
    const char *names[] = {"a", "mpyc/party-1", "web_8080", "x.y:z/0-9",
                           longest};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct knit_service_msg m = open_msg(names[i]);
        round_trip(&m);
    }
    char text[KNIT_SERVICE_TEXT_MAX + 1];
    memset(text, 't', KNIT_SERVICE_TEXT_MAX);
    text[KNIT_SERVICE_TEXT_MAX] = '\0';
    for (uint8_t s = 0; s <= KNIT_SERVICE_STATUS_MAX; s++) {
        struct knit_service_msg m = answer_msg(s, "");
        round_trip(&m);
        m = answer_msg(s, "not allowed: ask the owner \xc3\xa9");
        round_trip(&m);
        m = answer_msg(s, text);
        round_trip(&m);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_true(knit_service_name_valid("ssh", 3));
    assert_true(knit_service_name_valid("A-Z.a_z/0:9", 11));
    assert_false(knit_service_name_valid("", 0));
    assert_false(knit_service_name_valid(NULL, 0));
    assert_false(knit_service_name_valid("a b", 3));
    assert_false(knit_service_name_valid("a\0b", 3));
    assert_false(knit_service_name_valid("caf\xc3\xa9", 5));
    assert_false(knit_service_name_valid("a;rm", 4));
    char longer[KNIT_SERVICE_NAME_MAX + 1];
    memset(longer, 'a', sizeof longer);
    assert_true(knit_service_name_valid(longer, KNIT_SERVICE_NAME_MAX));
    assert_false(knit_service_name_valid(longer, KNIT_SERVICE_NAME_MAX + 1));
    assert_string_equal(knit_service_status_text(KNIT_SERVICE_NOT_ALLOWED),
                        "not allowed");
    assert_string_equal(knit_service_status_text(99), "unknown status");
}

static void test_encode_refusals(void **state)
{
    (void)state;
    uint8_t frame[KNIT_SERVICE_FRAME_MAX];
    size_t len = 99;
    struct knit_service_msg m = open_msg("");
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    assert_int_equal(len, 0);
    m = open_msg("bad name");
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = zero;
    m.type = KNIT_SERVICE_OPEN;
    memset(m.service, 'a', sizeof m.service);   /* no NUL: 65 bytes */
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = answer_msg(KNIT_SERVICE_STATUS_MAX + 1, "");
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = answer_msg(0, "\xff\xfe");
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = zero;
    m.type = 3;
    assert_int_equal(knit_service_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = open_msg("ssh");
    assert_int_equal(knit_service_encode(&m, frame, 6, &len),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_service_encode(NULL, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    /* {0: 1, 1: "ssh"} is a good OPEN; each case changes one thing. */
    static const uint8_t good_open[] = {0x82, 0x00, 0x01, 0x01, 0xa3,
                                        's', 's', 'h'};
    struct knit_service_msg got;
    assert_int_equal(knit_service_decode(good_open, sizeof good_open, &got),
                     KNIT_OK);
    assert_string_equal(got.service, "ssh");

    static const uint8_t space[] = {0x82, 0x00, 0x01, 0x01, 0xa3,
                                    's', ' ', 'h'};
    expect_refused(space, sizeof space, KNIT_E_MALFORMED);
    static const uint8_t empty_name[] = {0x82, 0x00, 0x01, 0x01, 0xa0};
    expect_refused(empty_name, sizeof empty_name, KNIT_E_LENGTH);
    static const uint8_t bin_name[] = {0x82, 0x00, 0x01, 0x01, 0xc4, 0x03,
                                       's', 's', 'h'};
    expect_refused(bin_name, sizeof bin_name, KNIT_E_TYPE);
    static const uint8_t no_name[] = {0x81, 0x00, 0x01};
    expect_refused(no_name, sizeof no_name, KNIT_E_MISSING);
    static const uint8_t extra[] = {0x83, 0x00, 0x01, 0x01, 0xa1, 'a',
                                    0x02, 0x00};
    expect_refused(extra, sizeof extra, KNIT_E_UNKNOWN_FIELD);
    static const uint8_t dup[] = {0x83, 0x00, 0x01, 0x01, 0xa1, 'a',
                                  0x01, 0xa1, 'b'};
    expect_refused(dup, sizeof dup, KNIT_E_DUPLICATE);
    static const uint8_t type3[] = {0x81, 0x00, 0x03};
    expect_refused(type3, sizeof type3, KNIT_E_UNSUPPORTED);
    static const uint8_t truncated[] = {0x82, 0x00, 0x01, 0x01, 0xa3,
                                        's', 's'};
    expect_refused(truncated, sizeof truncated, KNIT_E_TRUNCATED);
    static const uint8_t trailing[] = {0x82, 0x00, 0x01, 0x01, 0xa1, 'a',
                                       0x00};
    expect_refused(trailing, sizeof trailing, KNIT_E_TRAILING);
    static const uint8_t not_map[] = {0x91, 0x01};
    expect_refused(not_map, sizeof not_map, KNIT_E_TYPE);
    expect_refused(NULL, 0, KNIT_E_TRUNCATED);
    uint8_t name65[6 + 65] = {0x82, 0x00, 0x01, 0x01, 0xd9, 65};
    memset(name65 + 6, 'a', 65);
    expect_refused(name65, sizeof name65, KNIT_E_TOO_BIG);

    /* {0: 2, 1: status, 2: text} */
    static const uint8_t good_answer[] = {0x83, 0x00, 0x02, 0x01, 0x02,
                                          0x02, 0xa2, 'n', 'o'};
    assert_int_equal(knit_service_decode(good_answer, sizeof good_answer,
                                         &got), KNIT_OK);
    assert_int_equal(got.status, KNIT_SERVICE_NOT_ALLOWED);
    assert_string_equal(got.text, "no");
    static const uint8_t status4[] = {0x83, 0x00, 0x02, 0x01, 0x04,
                                      0x02, 0xa0};
    expect_refused(status4, sizeof status4, KNIT_E_TOO_BIG);
    static const uint8_t negative[] = {0x83, 0x00, 0x02, 0x01, 0xff,
                                       0x02, 0xa0};
    expect_refused(negative, sizeof negative, KNIT_E_TYPE);
    static const uint8_t nul_text[] = {0x83, 0x00, 0x02, 0x01, 0x00,
                                       0x02, 0xa2, 'a', 0x00};
    expect_refused(nul_text, sizeof nul_text, KNIT_E_MALFORMED);
    static const uint8_t bad_utf8[] = {0x83, 0x00, 0x02, 0x01, 0x00,
                                       0x02, 0xa1, 0xff};
    expect_refused(bad_utf8, sizeof bad_utf8, KNIT_E_MALFORMED);
    static const uint8_t no_text[] = {0x82, 0x00, 0x02, 0x01, 0x00};
    expect_refused(no_text, sizeof no_text, KNIT_E_MISSING);
    static const uint8_t nil_status[] = {0x83, 0x00, 0x02, 0x01, 0xc0,
                                         0x02, 0xa0};
    expect_refused(nil_status, sizeof nil_status, KNIT_E_TYPE);
    uint8_t text201[8 + 201] = {0x83, 0x00, 0x02, 0x01, 0x00, 0x02,
                                0xd9, 201};
    memset(text201 + 8, 'x', 201);
    expect_refused(text201, sizeof text201, KNIT_E_TOO_BIG);
    /* A body over the protocol's limit is refused before it is read. */
    uint8_t big[KNIT_SERVICE_MAX_MESSAGE + 1];
    memset(big, 0, sizeof big);
    expect_refused(big, sizeof big, KNIT_E_TOO_BIG);
    assert_int_equal(knit_service_decode(good_open, sizeof good_open, NULL),
                     KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
