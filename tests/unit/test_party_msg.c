/* The /knit/mpyc/1 messages (node/party_msg.h): HELLO (with and without
 * the listening flag) and ANSWER encoded and decoded back, the encoder's
 * refusals, the decoder's refusals of bodies written by hand (each by its
 * exact code, with the output cleared), the session-name alphabet, and the
 * party-list digest: equal for equal inputs, different for another order,
 * another name or another member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/party_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_PARTY_MAX_MESSAGE)

static const struct knit_party_msg zero;

static struct knit_peer_id id_of(uint8_t seed)
{
    struct knit_peer_id id;
    for (size_t k = 0; k < sizeof id.pubkey; k++)
        id.pubkey[k] = (uint8_t)(seed * 31 + k);
    return id;
}

static struct knit_party_msg sample_hello(bool listening)
{
    struct knit_party_msg m;
    memset(&m, 0, sizeof m);
    m.type = KNIT_PARTY_HELLO;
    strcpy(m.session, "run-1.a_B");
    for (size_t k = 0; k < sizeof m.digest; k++)
        m.digest[k] = (uint8_t)(0xa0 ^ k);
    m.index = 2;
    m.count = 3;
    m.listening = listening;
    return m;
}

/* Encodes m, deframes it and decodes the body; the result must equal m. */
static void roundtrip(const struct knit_party_msg *m)
{
    uint8_t frame[FRAME_MAX];
    size_t len = 0;
    assert_int_equal(knit_party_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_PARTY_MAX_MESSAGE,
                                      &fr), 0);
    assert_int_equal(fr.len, len);
    struct knit_party_msg back;
    assert_int_equal(knit_party_decode(fr.body, fr.body_len, &back), 0);
    assert_memory_equal(&back, m, sizeof back);
}

static void test_roundtrips(void **state)
{
    (void)state;
    struct knit_party_msg m = sample_hello(false);
    roundtrip(&m);
    m = sample_hello(true);
    roundtrip(&m);
    m.count = KNIT_PARTY_MAX;
    m.index = KNIT_PARTY_MAX - 1;
    memset(m.session, 'z', KNIT_PARTY_SESSION_MAX);
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = KNIT_PARTY_ANSWER;
    roundtrip(&m);                       /* agreed, empty text */
    m.status = KNIT_PARTY_DIFFERENT_LIST;
    memset(m.text, 'x', KNIT_PARTY_TEXT_MAX);
    roundtrip(&m);                       /* the longest text */
}

static void test_encode_refusals(void **state)
{
    (void)state;
    uint8_t frame[FRAME_MAX];
    size_t len;
    struct knit_party_msg m = sample_hello(false);
    m.type = 3;
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    m.session[0] = '/';
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    m.session[0] = '\0';
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    m.index = 3;
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    m.count = 1;
    m.index = 0;
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    m.count = KNIT_PARTY_MAX + 1;
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    memset(&m, 0, sizeof m);
    m.type = KNIT_PARTY_ANSWER;
    m.status = 4;
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m.status = 0;
    strcpy(m.text, "\xff\xfe not UTF-8");
    assert_int_equal(knit_party_encode(&m, frame, sizeof frame, &len),
                     KNIT_E_INVAL);
    m = sample_hello(false);
    assert_int_equal(knit_party_encode(&m, frame, 20, &len),
                     KNIT_E_NO_SPACE);
}

/* A HELLO body written field by field, so the decoder sees exactly what a
 * broken or hostile peer could send. */
static size_t hello_body(uint8_t *out, size_t cap, const char *session,
                         size_t digest_len, uint64_t index, uint64_t count)
{
    uint8_t digest[64] = {0};
    struct knit_msg_writer w;
    size_t len = 0;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_PARTY_HELLO, 4);
    knit_msg_put_str(&w, 1, session, strlen(session));
    knit_msg_put_bin(&w, 2, digest, digest_len);
    knit_msg_put_uint(&w, 3, index);
    knit_msg_put_uint(&w, 4, count);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    return len;
}

static void expect_refused(const uint8_t *frame, size_t len, int code)
{
    struct knit_party_msg m;
    memset(&m, 0x5a, sizeof m);
    assert_int_equal(knit_party_decode(frame + KNIT_MSG_HEADER_LEN,
                                       len - KNIT_MSG_HEADER_LEN, &m), code);
    assert_memory_equal(&m, &zero, sizeof m);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    uint8_t f[FRAME_MAX];
    size_t n = hello_body(f, sizeof f, "ok", 32, 1, 3);
    struct knit_party_msg m;
    assert_int_equal(knit_party_decode(f + 4, n - 4, &m), 0);
    assert_string_equal(m.session, "ok");
    assert_false(m.listening);

    expect_refused(f, hello_body(f, sizeof f, "a b", 32, 1, 3), KNIT_E_INVAL);
    expect_refused(f, hello_body(f, sizeof f, "a/b", 32, 1, 3), KNIT_E_INVAL);
    expect_refused(f, hello_body(f, sizeof f, "", 32, 1, 3), KNIT_E_LENGTH);
    expect_refused(f, hello_body(f, sizeof f,
                                 "123456789012345678901234567890123", 32, 1,
                                 3), KNIT_E_TOO_BIG);
    expect_refused(f, hello_body(f, sizeof f, "ok", 31, 1, 3), KNIT_E_LENGTH);
    expect_refused(f, hello_body(f, sizeof f, "ok", 33, 1, 3), KNIT_E_LENGTH);
    expect_refused(f, hello_body(f, sizeof f, "ok", 32, 3, 3),
                   KNIT_E_MALFORMED);
    expect_refused(f, hello_body(f, sizeof f, "ok", 32, 0, 1), KNIT_E_LENGTH);
    expect_refused(f, hello_body(f, sizeof f, "ok", 32, 1, KNIT_PARTY_MAX + 1),
                   KNIT_E_TOO_BIG);
    expect_refused(f, hello_body(f, sizeof f, "ok", 32, KNIT_PARTY_MAX, 3),
                   KNIT_E_TOO_BIG);

    /* An ANSWER whose text hides a NUL, one with an unknown status, one
     * without its text, and a type nobody defined. */
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, f, sizeof f);
    knit_msg_begin(&w, KNIT_PARTY_ANSWER, 2);
    knit_msg_put_uint(&w, 1, 0);
    knit_msg_put_str(&w, 2, "a\0b", 3);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    expect_refused(f, n, KNIT_E_MALFORMED);
    knit_msg_writer_init(&w, f, sizeof f);
    knit_msg_begin(&w, KNIT_PARTY_ANSWER, 2);
    knit_msg_put_uint(&w, 1, 4);
    knit_msg_put_str(&w, 2, "", 0);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    expect_refused(f, n, KNIT_E_TOO_BIG);
    knit_msg_writer_init(&w, f, sizeof f);
    knit_msg_begin(&w, KNIT_PARTY_ANSWER, 1);
    knit_msg_put_uint(&w, 1, 1);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    expect_refused(f, n, KNIT_E_MISSING);
    knit_msg_writer_init(&w, f, sizeof f);
    knit_msg_begin(&w, 9, 0);
    assert_int_equal(knit_msg_end(&w, &n), 0);
    expect_refused(f, n, KNIT_E_UNSUPPORTED);
    /* Bytes after the map. */
    n = hello_body(f, sizeof f, "ok", 32, 1, 3);
    f[n] = 0xc0;
    struct knit_party_msg t;
    assert_int_equal(knit_party_decode(f + 4, n - 4 + 1, &t),
                     KNIT_E_TRAILING);
    assert_int_equal(knit_party_decode(NULL, 0, &t), KNIT_E_TRUNCATED);
}

static void test_session_names(void **state)
{
    (void)state;
    assert_true(knit_party_session_valid("default", 7));
    assert_true(knit_party_session_valid("A-z_0.9", 7));
    assert_true(knit_party_session_valid("12345678901234567890123456789012",
                                         32));
    assert_false(knit_party_session_valid("123456789012345678901234567890123",
                                          33));
    assert_false(knit_party_session_valid("", 0));
    assert_false(knit_party_session_valid("a/b", 3));
    assert_false(knit_party_session_valid("a b", 3));
    assert_false(knit_party_session_valid("\xc3\xa9", 2));
    assert_false(knit_party_session_valid(NULL, 3));
}

static void test_digest(void **state)
{
    (void)state;
    struct knit_peer_id ids[3] = {id_of(1), id_of(2), id_of(3)};
    struct knit_peer_id swapped[3] = {id_of(2), id_of(1), id_of(3)};
    struct knit_peer_id other[3] = {id_of(1), id_of(2), id_of(4)};
    uint8_t a[32], b[32], c[32];
    assert_int_equal(knit_party_digest("s", ids, 3, a), 0);
    assert_int_equal(knit_party_digest("s", ids, 3, b), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(knit_party_digest("s", swapped, 3, c), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(knit_party_digest("s", other, 3, c), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(knit_party_digest("t", ids, 3, c), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(knit_party_digest("s", ids, 2, c), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(knit_party_digest("s", ids, 1, c), KNIT_E_INVAL);
    assert_int_equal(knit_party_digest("s/x", ids, 3, c), KNIT_E_INVAL);
    assert_int_equal(knit_party_digest("", ids, 3, c), KNIT_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_session_names),
        cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
