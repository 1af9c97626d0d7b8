/* Signed peer records: round trips, the hand builder against the encoder,
 * sign's own refusals and the shape of the envelope. The rejections of
 * tampered and badly built payloads are in test_record_reject.c.
 *
 * A hand-built canonical payload is checked to verify first, so the builder
 * the reject tests rely on is known to be right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>

#include "proto/record.h"
#include "tests/support/record_builder.h"
#include "transport/error.h"

static void assert_record_equal(const struct knit_peer_record *a,
                                const struct knit_peer_record *b)
{
    assert_true(knit_peer_id_equal(&a->peer, &b->peer));
    assert_true(a->seq == b->seq);
    assert_true(a->issued == b->issued);
    assert_int_equal(a->addr_count, b->addr_count);
    for (size_t i = 0; i < a->addr_count; i++)
        assert_true(knit_multiaddr_equal(&a->addrs[i], &b->addrs[i]));
    assert_int_equal(a->nat.mapping, b->nat.mapping);
    assert_int_equal(a->nat.filtering, b->nat.filtering);
    assert_int_equal(a->nat.reachability, b->nat.reachability);
}

/* Signs rec with self; it must verify back to the same record. */
static void expect_round_trip(const struct knit_test_record_fixture *f,
                              const struct knit_peer_record *rec)
{
    struct knit_peer_record out;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len;
    assert_int_equal(knit_record_sign(rec, &f->self, env, sizeof env, &len),
                     0);
    assert_int_equal(knit_record_verify(&out, env, len), 0);
    assert_record_equal(&out, rec);
}

/* ---- round trips -------------------------------------------------------- */

static void test_round_trip(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record out;
    uint8_t again[KNIT_RECORD_MAX_BYTES];
    size_t again_len;

    memset(&out, 0, sizeof out);
    assert_int_equal(knit_record_verify(&out, f->env, f->env_len), 0);
    assert_record_equal(&out, &f->rec);
    assert_true(knit_multiaddr_is_circuit(&out.addrs[4]));
    assert_false(knit_multiaddr_is_circuit(&out.addrs[0]));

    /* Ed25519 is deterministic, so the same record signs to the same bytes. */
    assert_int_equal(knit_record_sign(&out, &f->self, again, sizeof again,
                                      &again_len), 0);
    assert_int_equal(again_len, f->env_len);
    assert_memory_equal(again, f->env, f->env_len);
}

static void test_hand_built_matches_encoder(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_test_cbor p;
    uint8_t enc[KNIT_RECORD_MAX_BYTES];
    size_t enc_len;

    knit_test_record_payload(&p, &f->rec, "\xa5", "12345", NULL, 0);
    assert_int_equal(knit_record_encode_payload(&f->rec, enc, sizeof enc,
                                                &enc_len), 0);
    assert_int_equal(enc_len, p.n);
    assert_memory_equal(enc, p.b, p.n);
    knit_test_record_expect(f, &p, 0);
}

static void test_integer_widths(void **state)
{
    struct knit_test_record_fixture *f = *state;
    static const uint64_t values[] = {
        0, 23, 24, 255, 256, 65535, 65536, 0xffffffffu, 0x100000000u,
        UINT64_MAX,
    };
    const size_t count = sizeof values / sizeof values[0];
    for (size_t i = 0; i < count; i++) {
        struct knit_peer_record rec = f->rec;
        rec.seq = values[i];
        rec.issued = values[count - 1 - i];
        expect_round_trip(f, &rec);
    }
}

static void test_no_addrs(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record rec = f->rec;
    rec.addr_count = 0;
    memset(&rec.nat, 0, sizeof rec.nat);
    expect_round_trip(f, &rec);
}

static void test_max_addrs_fit(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record rec = f->rec;
    /* The longest shape, everywhere: the limit must hold a full record. */
    for (size_t i = 0; i < KNIT_RECORD_MAX_ADDRS; i++)
        rec.addrs[i] = f->rec.addrs[5];
    rec.addr_count = KNIT_RECORD_MAX_ADDRS;
    rec.seq = UINT64_MAX;
    rec.issued = UINT64_MAX;
    expect_round_trip(f, &rec);
}

/* ---- sign's own refusals ------------------------------------------------ */

static void test_sign_refusals(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record rec = f->rec;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len;

    assert_int_equal(knit_record_sign(&rec, &f->other, env, sizeof env, &len),
                     KNIT_E_KEY_MISMATCH);
    assert_int_equal(knit_record_sign(&rec, &f->self, env, f->env_len - 1,
                                      &len), KNIT_E_NO_SPACE);
    assert_int_equal(knit_record_sign(&rec, &f->self, env, f->env_len, &len),
                     0);
    assert_int_equal(len, f->env_len);

    rec.addr_count = KNIT_RECORD_MAX_ADDRS + 1;
    assert_int_equal(knit_record_sign(&rec, &f->self, env, sizeof env, &len),
                     KNIT_E_INVAL);
    rec = f->rec;
    rec.nat.mapping = KNIT_MAPPING_ADDRESS_PORT_DEPENDENT + 1;
    assert_int_equal(knit_record_sign(&rec, &f->self, env, sizeof env, &len),
                     KNIT_E_INVAL);
    rec = f->rec;
    rec.nat.reachability = KNIT_REACHABILITY_PRIVATE + 1;
    assert_int_equal(knit_record_encode_payload(&rec, env, sizeof env, &len),
                     KNIT_E_INVAL);
}

static void test_null_arguments(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record out;
    size_t len;
    assert_int_equal(knit_record_verify(NULL, f->env, f->env_len),
                     KNIT_E_INVAL);
    assert_int_equal(knit_record_verify(&out, NULL, 1), KNIT_E_INVAL);
    assert_int_equal(knit_record_verify(&out, NULL, 0), KNIT_E_TRUNCATED);
    assert_int_equal(knit_record_decode_payload(&out, NULL, 0),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_record_sign(&f->rec, &f->self, NULL, 10, &len),
                     KNIT_E_INVAL);
}

/* ---- envelope shape ----------------------------------------------------- */

struct parts {
    uint8_t payload[KNIT_RECORD_MAX_BYTES], sig[KNIT_SIGNATURE_LEN];
    size_t len;
};

/* An envelope of head, then self's key, the payload and the signature cut to
 * key_len and sig_len bytes (no signature at all for 0), then tail; verify
 * must give err. */
static void expect_envelope(const struct knit_test_record_fixture *f,
                            const struct parts *pp, const char *head,
                            size_t key_len, size_t sig_len, const char *tail,
                            int err)
{
    struct knit_peer_record out;
    struct knit_test_cbor env = { .n = 0 };
    knit_test_cbor_raw(&env, head, strlen(head));
    knit_test_cbor_bytes(&env, f->self.id.pubkey, key_len);
    knit_test_cbor_bytes(&env, pp->payload, pp->len);
    if (sig_len > 0)
        knit_test_cbor_bytes(&env, pp->sig, sig_len);
    knit_test_cbor_raw(&env, tail, strlen(tail));
    assert_int_equal(knit_record_verify(&out, env.b, env.n), err);
}

static void test_envelope_shape(void **state)
{
    struct knit_test_record_fixture *f = *state;
    struct knit_peer_record out;
    struct knit_test_cbor env = { .n = 0 };
    struct parts pp;

    assert_int_equal(knit_record_encode_payload(&f->rec, pp.payload,
                                                sizeof pp.payload, &pp.len),
                     0);
    assert_int_equal(knit_sign(&f->self, KNIT_RECORD_DOMAIN, pp.payload,
                               pp.len, pp.sig), 0);

    /* Two elements; an indefinite array; a short key; a short signature. */
    expect_envelope(f, &pp, "\x82", KNIT_PUBKEY_LEN, 0, "", KNIT_E_MALFORMED);
    expect_envelope(f, &pp, "\x9f", KNIT_PUBKEY_LEN, KNIT_SIGNATURE_LEN,
                    "\xff", KNIT_E_NONCANONICAL);
    expect_envelope(f, &pp, "\x83", KNIT_PUBKEY_LEN - 1, KNIT_SIGNATURE_LEN,
                    "", KNIT_E_LENGTH);
    expect_envelope(f, &pp, "\x83", KNIT_PUBKEY_LEN, KNIT_SIGNATURE_LEN - 1,
                    "", KNIT_E_LENGTH);

    knit_test_cbor_map(&env, 1);                /* a map, not an array */
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_TYPE);

    env.n = 0;                                  /* key written as text */
    knit_test_cbor_array(&env, 3);
    knit_test_cbor_done(&env, cbor_encode_string_start(KNIT_PUBKEY_LEN,
                                                       env.b + env.n,
                                                       sizeof env.b - env.n));
    knit_test_cbor_raw(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_TYPE);

    env.n = 0;                                  /* payload length padded */
    knit_test_cbor_array(&env, 3);
    knit_test_cbor_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    knit_test_cbor_raw(&env, (const uint8_t[]){ 0x5a, 0, 0,
                                                (uint8_t)(pp.len >> 8),
                                                (uint8_t)pp.len }, 5);
    knit_test_cbor_raw(&env, pp.payload, pp.len);
    knit_test_cbor_bytes(&env, pp.sig, sizeof pp.sig);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_NONCANONICAL);

    /* A reserved head byte. */
    assert_int_equal(knit_record_verify(&out, (const uint8_t[]){ 0x1c }, 1),
                     KNIT_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hand_built_matches_encoder),
        cmocka_unit_test(test_integer_widths),
        cmocka_unit_test(test_no_addrs),
        cmocka_unit_test(test_max_addrs_fit),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_envelope_shape),
    };
    return cmocka_run_group_tests(tests, knit_test_record_setup,
                                  knit_test_record_teardown);
}
