/* Signed peer records: every rejection record.h promises for tampered
 * envelopes and for signed payloads that break the rules (non-canonical,
 * duplicate, unknown or missing keys, wrong types, bad values).
 *
 * Payloads are spelled as a head, the record's own fields in some order and
 * at most one stretch of raw bytes (see knit_test_record_payload), then
 * signed for real, so each one fails for the reason under test alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/record.h"
#include "tests/support/record_builder.h"
#include "transport/error.h"

/* The raw peer ID heads below spell its length, 38, as 0x26. */
_Static_assert(KNIT_PEER_ID_BYTES == 0x26, "peer ID length changed");

/* A byte string literal and its length, embedded NULs included. */
#define RAW(s) (s), sizeof(s) - 1

/* Signs the payload head, fields (of the test record with seq 5 and issued
 * 1) and mid, and expects err from verify and decode_payload alike. */
static void expect_parts(const struct knit_test_record_fixture *f,
                         const char *head, const char *fields,
                         const void *mid, size_t mid_len, int err)
{
    struct knit_peer_record rec = f->rec;
    struct knit_test_cbor p;
    rec.seq = 5;
    rec.issued = 1;
    knit_test_record_payload(&p, &rec, head, fields, mid, mid_len);
    knit_test_record_expect(f, &p, err);
}

/* The peer ID entry spelled by hand: pre, the ID's first id_len bytes, post. */
static void expect_peer_entry(const struct knit_test_record_fixture *f,
                              const char *pre, size_t pre_len, size_t id_len,
                              const char *post, int err)
{
    uint8_t raw[KNIT_PEER_ID_BYTES];
    struct knit_test_cbor e = { .n = 0 };
    knit_peer_id_to_bytes(&f->rec.peer, raw);
    knit_test_cbor_raw(&e, pre, pre_len);
    knit_test_cbor_raw(&e, raw, id_len);
    knit_test_cbor_raw(&e, post, strlen(post));
    expect_parts(f, "\xa5", "*2345", e.b, e.n, err);
}

/* ---- tampering with a signed envelope ----------------------------------- */

static void expect_flip(const struct knit_test_record_fixture *f, size_t at,
                        int err)
{
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    struct knit_peer_record out;
    memcpy(env, f->env, f->env_len);
    env[at] ^= 0x01;
    assert_int_equal(knit_record_verify(&out, env, f->env_len), err);
}

static void test_flipped_bits(void **state)
{
    struct knit_test_record_fixture *f = *state;
    /* Layout: 83, 58 20 key, 59 xx xx payload, 58 40 signature. */
    assert_int_equal(f->env[0], 0x83);
    assert_int_equal(f->env[1], 0x58);
    assert_int_equal(f->env[35], 0x59);
    assert_int_equal(f->env[f->env_len - 66], 0x58);
    expect_flip(f, 3, KNIT_E_SIGNATURE);                 /* key */
    expect_flip(f, 3 + 31, KNIT_E_SIGNATURE);            /* key */
    expect_flip(f, 40, KNIT_E_SIGNATURE);                /* payload */
    expect_flip(f, f->env_len - 70, KNIT_E_SIGNATURE);   /* payload */
    expect_flip(f, f->env_len - 64, KNIT_E_SIGNATURE);   /* signature */
    expect_flip(f, f->env_len - 1, KNIT_E_SIGNATURE);    /* signature */
}

static void test_every_bit_flip_fails(void **state)
{
    struct knit_test_record_fixture *f = *state;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    struct knit_peer_record out;
    for (size_t i = 0; i < f->env_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(env, f->env, f->env_len);
            env[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(knit_record_verify(&out, env, f->env_len), 0);
        }
    }
}

static void test_key_mismatch(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record rec = f->rec, out;
    uint8_t payload[KNIT_RECORD_MAX_BYTES];
    size_t len;
    struct knit_test_cbor env;

    /* A payload naming "other", signed by "self". */
    rec.peer = f->other.id;
    assert_int_equal(knit_record_encode_payload(&rec, payload, sizeof payload,
                                                &len), 0);
    knit_test_record_envelope(&env, &f->self, payload, len);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_KEY_MISMATCH);
    /* The same payload signed by its own peer is fine. */
    knit_test_record_envelope(&env, &f->other, payload, len);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), 0);
    assert_true(knit_peer_id_equal(&out.peer, &f->other.id));
}

static void test_every_truncation_fails(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record out;
    for (size_t n = 0; n < f->env_len; n++)
        assert_int_equal(knit_record_verify(&out, f->env, n),
                         KNIT_E_TRUNCATED);
}

static void test_oversized(void **state)
{
    struct knit_test_record_fixture *f = *state;
    static uint8_t big[KNIT_RECORD_MAX_BYTES + 1];
    struct knit_peer_record out;
    memcpy(big, f->env, f->env_len);
    assert_int_equal(knit_record_verify(&out, big, sizeof big),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_record_decode_payload(&out, big, sizeof big),
                     KNIT_E_TOO_BIG);
}

static void test_trailing(void **state)
{
    struct knit_test_record_fixture *f = *state;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    struct knit_peer_record out, rec = f->rec;
    struct knit_test_cbor p;

    memcpy(env, f->env, f->env_len);
    env[f->env_len] = 0x00;
    assert_int_equal(knit_record_verify(&out, env, f->env_len + 1),
                     KNIT_E_TRAILING);

    /* Inside the signed payload, after the map. */
    rec.seq = 1;
    rec.issued = 2;
    knit_test_record_payload(&p, &rec, "\xa5", "12345*", RAW("\x00"));
    knit_test_record_expect(f, &p, KNIT_E_TRAILING);
}

static void test_rec_untouched_on_failure(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record out, before;
    memset(&out, 0xa5, sizeof out);
    before = out;
    assert_int_equal(knit_record_verify(&out, f->env, f->env_len - 1),
                     KNIT_E_TRUNCATED);
    assert_memory_equal(&out, &before, sizeof out);
}

/* ---- signed payloads that break the canonical rules --------------------- */

static void test_noncanonical_integer(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_NONCANONICAL;
    expect_parts(f, "\xa5", "1*345", RAW("\x02\x19\x00\x05"), e); /* seq u16 */
    expect_parts(f, "\xa5", "1*345", RAW("\x02\x18\x05"), e);     /* seq u8 */
    /* issued 2^32-1 as uint64 */
    expect_parts(f, "\xa5", "12*45",
                 RAW("\x03\x1b\x00\x00\x00\x00\xff\xff\xff\xff"), e);
    /* the key 1 as uint8 */
    expect_peer_entry(f, RAW("\x18\x01\x58\x26"), KNIT_PEER_ID_BYTES, "", e);
    expect_parts(f, "\xb8\x05", "12345", NULL, 0, e);       /* map head as u8 */
    /* peer ID length as uint16 */
    expect_peer_entry(f, RAW("\x01\x59\x00\x26"), KNIT_PEER_ID_BYTES, "", e);
}

static void test_keys_out_of_order(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_NONCANONICAL;
    expect_parts(f, "\xa5", "13245", NULL, 0, e);
    /* inside the NAT map: 2, 1, 3 */
    expect_parts(f, "\xa5", "1234*",
                 RAW("\x05\xa3\x02\x00\x01\x00\x03\x00"), e);
}

static void test_duplicate_key(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_DUPLICATE;
    expect_parts(f, "\xa6", "122345", NULL, 0, e);
    /* inside the NAT map: 1, 1, 3 */
    expect_parts(f, "\xa5", "1234*",
                 RAW("\x05\xa3\x01\x00\x01\x00\x03\x00"), e);
}

static void test_indefinite_lengths(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_NONCANONICAL;
    expect_parts(f, "\xbf", "12345*", RAW("\xff"), e);      /* the record map */
    expect_parts(f, "\xa5", "123*5", RAW("\x04\x9f\xff"), e); /* the addrs */
    /* the peer ID bytes */
    expect_peer_entry(f, RAW("\x01\x5f\x58\x26"), KNIT_PEER_ID_BYTES, "\xff",
                      e);
}

static void test_unknown_key(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_UNKNOWN_FIELD;
    expect_parts(f, "\xa6", "12345*", RAW("\x06\x00"), e);  /* key 6 */
    expect_parts(f, "\xa6", "*12345", RAW("\x00\x00"), e);  /* key 0 */
    /* inside the NAT map: 1, 2, 3, 4 */
    expect_parts(f, "\xa5", "1234*",
                 RAW("\x05\xa4\x01\x00\x02\x00\x03\x00\x04\x00"), e);
}

static void test_missing_key(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_MISSING;
    expect_parts(f, "\xa4", "1245", NULL, 0, e);            /* no issued */
    expect_parts(f, "\xa4", "1234", NULL, 0, e);            /* no NAT */
    /* NAT without filtering */
    expect_parts(f, "\xa5", "1234*", RAW("\x05\xa2\x01\x00\x03\x00"), e);
    expect_parts(f, "\xa0", "", NULL, 0, e);                /* empty map */
}

static void test_too_many_addrs(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_test_cbor addrs = { .n = 0 };
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n;
    assert_int_equal(knit_multiaddr_encode(&f->rec.addrs[0], ma, sizeof ma,
                                           &n), 0);
    knit_test_cbor_uint(&addrs, 4);
    knit_test_cbor_array(&addrs, KNIT_RECORD_MAX_ADDRS + 1);
    for (size_t i = 0; i < KNIT_RECORD_MAX_ADDRS + 1; i++)
        knit_test_cbor_bytes(&addrs, ma, n);
    expect_parts(f, "\xa5", "123*5", addrs.b, addrs.n, KNIT_E_TOO_BIG);
}

static void test_enum_out_of_range(void **state)
{
    struct knit_test_record_fixture *f = *state;
    static const uint64_t bad[][3] = {
        { KNIT_MAPPING_ADDRESS_PORT_DEPENDENT + 1, 0, 0 },
        { 0, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT + 1, 0 },
        { 0, 0, KNIT_REACHABILITY_PRIVATE + 1 },
        { 256, 0, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct knit_test_cbor nat = { .n = 0 };
        knit_test_record_nat(&nat, bad[i][0], bad[i][1], bad[i][2]);
        expect_parts(f, "\xa5", "1234*", nat.b, nat.n, KNIT_E_MALFORMED);
    }
}

static void test_wrong_types(void **state)
{
    struct knit_test_record_fixture *f = *state;
    const int e = KNIT_E_TYPE;
    expect_parts(f, "\xa5", "1*345", RAW("\x02\x24"), e);   /* seq -5 */
    /* issued as the float 1.0 */
    expect_parts(f, "\xa5", "12*45",
                 RAW("\x03\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00"), e);
    expect_parts(f, "\xa5", "1*345", RAW("\x02\xc2\x41\x05"), e); /* tagged */
    expect_parts(f, "\xa5", "*", RAW("\x61" "a"), e);       /* a text key */
    expect_parts(f, "\xa5", "123*5", RAW("\x04\xa0"), e);   /* addrs a map */
    expect_parts(f, "\xa5", "123*5", RAW("\x04\x81\x04"), e); /* addr a uint */
    expect_parts(f, "\x80", "", NULL, 0, e);                /* not a map */
    expect_parts(f, "\xa5", "1234*", RAW("\x05\xf6"), e);   /* null as NAT */
}

static void test_bad_peer_id_and_address(void **state)
{
    struct knit_test_record_fixture *f = *state;
    /* peer ID one byte short */
    expect_peer_entry(f, RAW("\x01\x58\x25"), KNIT_PEER_ID_BYTES - 1, "",
                      KNIT_E_LENGTH);
    /* /tcp (code 6): not ours */
    expect_parts(f, "\xa5", "123*5", RAW("\x04\x81\x43\x06\x0f\xa1"),
                 KNIT_E_UNKNOWN_PROTOCOL);
    /* an empty address */
    expect_parts(f, "\xa5", "123*5", RAW("\x04\x81\x40"), KNIT_E_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_every_bit_flip_fails),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_rec_untouched_on_failure),
        cmocka_unit_test(test_noncanonical_integer),
        cmocka_unit_test(test_keys_out_of_order),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_indefinite_lengths),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_too_many_addrs),
        cmocka_unit_test(test_enum_out_of_range),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_peer_id_and_address),
    };
    return cmocka_run_group_tests(tests, knit_test_record_setup,
                                  knit_test_record_teardown);
}
