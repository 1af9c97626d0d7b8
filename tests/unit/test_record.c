/* Signed peer records: round trips, and every rejection record.h promises.
 *
 * Bad payloads are built by hand with libcbor's encoders and signed for real,
 * so each one gets past the signature and fails for the reason under test.
 * A hand-built canonical payload is checked to verify first, so the builder
 * itself is known to be right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>

#include "proto/record.h"
#include "transport/error.h"

/* ---- fixtures ------------------------------------------------------------ */

static void make_ident(struct knit_identity *ident, uint8_t fill)
{
    uint8_t seed[KNIT_SEED_LEN];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(fill + i);
    assert_int_equal(knit_identity_from_seed(ident, seed), 0);
}

/* Parses text with '@' standing for the relay's ID and '#' for the
 * target's. */
static void parse_ma(struct knit_multiaddr *ma, const char *shape,
                     const struct knit_peer_id *relay,
                     const struct knit_peer_id *target)
{
    char tr[KNIT_PEER_ID_TEXT_MAX], tt[KNIT_PEER_ID_TEXT_MAX];
    char text[KNIT_MA_TEXT_MAX];
    size_t n = 0;
    assert_int_equal(knit_peer_id_to_text(relay, tr, sizeof tr), 0);
    assert_int_equal(knit_peer_id_to_text(target, tt, sizeof tt), 0);
    for (const char *s = shape; *s; s++) {
        const char *put = *s == '@' ? tr : *s == '#' ? tt : NULL;
        size_t len = put ? strlen(put) : 1;
        assert_true(len < sizeof text - n);
        memcpy(text + n, put ? put : s, len);
        n += len;
    }
    assert_int_equal(knit_multiaddr_parse(ma, text, n), 0);
}

/* A record with one address of every accepted shape. */
static void make_record(struct knit_peer_record *rec,
                        const struct knit_identity *self,
                        const struct knit_identity *relay)
{
    static const char *const shapes[] = {
        "/ip4/203.0.113.7/udp/4001",
        "/ip6/2001:db8::7/udp/4001",
        "/ip4/203.0.113.7/udp/4001/p2p/#",
        "/p2p/#",
        "/ip4/198.51.100.1/udp/4001/p2p/@/p2p-circuit",
        "/ip6/2001:db8::1/udp/443/p2p/@/p2p-circuit/p2p/#",
        "/p2p/@/p2p-circuit",
        "/p2p/@/p2p-circuit/p2p/#",
    };
    memset(rec, 0, sizeof *rec);
    rec->peer = self->id;
    rec->seq = 7;
    rec->issued = 1700000000;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        parse_ma(&rec->addrs[rec->addr_count++], shapes[i], &relay->id,
                 &self->id);
    rec->nat.mapping = KNIT_MAPPING_ADDRESS_PORT_DEPENDENT;
    rec->nat.filtering = KNIT_FILTERING_ADDRESS_DEPENDENT;
    rec->nat.reachability = KNIT_REACHABILITY_PRIVATE;
}

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

struct fixture {
    struct knit_identity self, relay, other;
    struct knit_peer_record rec;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t env_len;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    make_ident(&f.self, 0x10);
    make_ident(&f.relay, 0x40);
    make_ident(&f.other, 0x70);
    make_record(&f.rec, &f.self, &f.relay);
    assert_int_equal(knit_record_sign(&f.rec, &f.self, f.env, sizeof f.env,
                                      &f.env_len), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    knit_identity_wipe(&f->self);
    knit_identity_wipe(&f->relay);
    knit_identity_wipe(&f->other);
    return 0;
}

/* ---- a hand builder for payloads and envelopes --------------------------- */

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void b_done(struct buf *b, size_t n)
{
    assert_true(n > 0);
    b->n += n;
}

static void b_uint(struct buf *b, uint64_t v)
{
    b_done(b, cbor_encode_uint(v, b->b + b->n, sizeof b->b - b->n));
}

static void b_map(struct buf *b, size_t n)
{
    b_done(b, cbor_encode_map_start(n, b->b + b->n, sizeof b->b - b->n));
}

static void b_array(struct buf *b, size_t n)
{
    b_done(b, cbor_encode_array_start(n, b->b + b->n, sizeof b->b - b->n));
}

static void b_raw(struct buf *b, const uint8_t *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void b_bytes(struct buf *b, const uint8_t *p, size_t n)
{
    b_done(b, cbor_encode_bytestring_start(n, b->b + b->n,
                                           sizeof b->b - b->n));
    b_raw(b, p, n);
}

static void f_peer(struct buf *b, const struct knit_peer_id *id)
{
    uint8_t raw[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(id, raw);
    b_uint(b, 1);
    b_bytes(b, raw, sizeof raw);
}

static void f_seq(struct buf *b, uint64_t seq)
{
    b_uint(b, 2);
    b_uint(b, seq);
}

static void f_issued(struct buf *b, uint64_t t)
{
    b_uint(b, 3);
    b_uint(b, t);
}

static void f_addrs(struct buf *b, const struct knit_peer_record *rec)
{
    b_uint(b, 4);
    b_array(b, rec->addr_count);
    for (size_t i = 0; i < rec->addr_count; i++) {
        uint8_t ma[KNIT_MA_BINARY_MAX];
        size_t n;
        assert_int_equal(knit_multiaddr_encode(&rec->addrs[i], ma, sizeof ma,
                                               &n), 0);
        b_bytes(b, ma, n);
    }
}

static void f_nat(struct buf *b, uint64_t m, uint64_t fl, uint64_t r)
{
    b_uint(b, 5);
    b_map(b, 3);
    b_uint(b, 1);
    b_uint(b, m);
    b_uint(b, 2);
    b_uint(b, fl);
    b_uint(b, 3);
    b_uint(b, r);
}

static void f_nat_of(struct buf *b, const struct knit_peer_record *rec)
{
    f_nat(b, rec->nat.mapping, rec->nat.filtering, rec->nat.reachability);
}

/* A correctly signed envelope around any payload bytes. */
static void envelope(struct buf *env, const struct knit_identity *signer,
                     const uint8_t *payload, size_t len)
{
    uint8_t sig[KNIT_SIGNATURE_LEN];
    assert_int_equal(knit_sign(signer, KNIT_RECORD_DOMAIN, payload, len, sig),
                     0);
    env->n = 0;
    b_array(env, 3);
    b_bytes(env, signer->id.pubkey, KNIT_PUBKEY_LEN);
    b_bytes(env, payload, len);
    b_bytes(env, sig, sizeof sig);
}

/* Signs payload with f->self, and checks both entry points give err. */
static void expect_payload(struct fixture *f, const struct buf *payload,
                           int err)
{
    struct knit_peer_record out;
    struct buf env;
    envelope(&env, &f->self, payload->b, payload->n);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), err);
    assert_int_equal(knit_record_decode_payload(&out, payload->b, payload->n),
                     err);
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
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
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    uint8_t enc[KNIT_RECORD_MAX_BYTES];
    size_t enc_len;

    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, f->rec.seq);
    f_issued(&p, f->rec.issued);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    assert_int_equal(knit_record_encode_payload(&f->rec, enc, sizeof enc,
                                                &enc_len), 0);
    assert_int_equal(enc_len, p.n);
    assert_memory_equal(enc, p.b, p.n);
    expect_payload(f, &p, 0);
}

static void test_integer_widths(void **state)
{
    struct fixture *f = *state;
    static const uint64_t values[] = {
        0, 23, 24, 255, 256, 65535, 65536, 0xffffffffu, 0x100000000u,
        UINT64_MAX,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct knit_peer_record rec = f->rec, out;
        uint8_t env[KNIT_RECORD_MAX_BYTES];
        size_t len;
        rec.seq = values[i];
        rec.issued = values[sizeof values / sizeof values[0] - 1 - i];
        assert_int_equal(knit_record_sign(&rec, &f->self, env, sizeof env,
                                          &len), 0);
        assert_int_equal(knit_record_verify(&out, env, len), 0);
        assert_record_equal(&out, &rec);
    }
}

static void test_no_addrs(void **state)
{
    struct fixture *f = *state;
    struct knit_peer_record rec = f->rec, out;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len;
    rec.addr_count = 0;
    memset(&rec.nat, 0, sizeof rec.nat);
    assert_int_equal(knit_record_sign(&rec, &f->self, env, sizeof env, &len),
                     0);
    assert_int_equal(knit_record_verify(&out, env, len), 0);
    assert_record_equal(&out, &rec);
}

static void test_max_addrs_fit(void **state)
{
    struct fixture *f = *state;
    struct knit_peer_record rec = f->rec, out;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t len;
    /* The longest shape, everywhere: the limit must hold a full record. */
    for (size_t i = 0; i < KNIT_RECORD_MAX_ADDRS; i++)
        rec.addrs[i] = f->rec.addrs[5];
    rec.addr_count = KNIT_RECORD_MAX_ADDRS;
    rec.seq = UINT64_MAX;
    rec.issued = UINT64_MAX;
    assert_int_equal(knit_record_sign(&rec, &f->self, env, sizeof env, &len),
                     0);
    assert_int_equal(knit_record_verify(&out, env, len), 0);
    assert_record_equal(&out, &rec);
}

/* ---- sign's own refusals -------------------------------------------------- */

static void test_sign_refusals(void **state)
{
    struct fixture *f = *state;
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

/* ---- tampering with a signed envelope ------------------------------------- */

static void expect_flip(struct fixture *f, size_t at, int err)
{
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    struct knit_peer_record out;
    memcpy(env, f->env, f->env_len);
    env[at] ^= 0x01;
    assert_int_equal(knit_record_verify(&out, env, f->env_len), err);
}

static void test_flipped_bits(void **state)
{
    struct fixture *f = *state;
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
    struct fixture *f = *state;
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
    struct fixture *f = *state;
    struct knit_peer_record rec = f->rec, out;
    uint8_t payload[KNIT_RECORD_MAX_BYTES];
    size_t len;
    struct buf env;

    /* A payload naming "other", signed by "self". */
    rec.peer = f->other.id;
    assert_int_equal(knit_record_encode_payload(&rec, payload, sizeof payload,
                                                &len), 0);
    envelope(&env, &f->self, payload, len);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_KEY_MISMATCH);
    /* The same payload signed by its own peer is fine. */
    envelope(&env, &f->other, payload, len);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), 0);
    assert_true(knit_peer_id_equal(&out.peer, &f->other.id));
}

static void test_every_truncation_fails(void **state)
{
    struct fixture *f = *state;
    struct knit_peer_record out;
    for (size_t n = 0; n < f->env_len; n++)
        assert_int_equal(knit_record_verify(&out, f->env, n),
                         KNIT_E_TRUNCATED);
}

static void test_oversized(void **state)
{
    struct fixture *f = *state;
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
    struct fixture *f = *state;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    struct knit_peer_record out;
    struct buf p = { .n = 0 };

    memcpy(env, f->env, f->env_len);
    env[f->env_len] = 0x00;
    assert_int_equal(knit_record_verify(&out, env, f->env_len + 1),
                     KNIT_E_TRAILING);

    /* Inside the signed payload, after the map. */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 1);
    f_issued(&p, 2);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    b_uint(&p, 0);
    expect_payload(f, &p, KNIT_E_TRAILING);
}

static void test_rec_untouched_on_failure(void **state)
{
    struct fixture *f = *state;
    struct knit_peer_record out, before;
    memset(&out, 0xa5, sizeof out);
    before = out;
    assert_int_equal(knit_record_verify(&out, f->env, f->env_len - 1),
                     KNIT_E_TRUNCATED);
    assert_memory_equal(&out, &before, sizeof out);
}

/* ---- envelope shape ------------------------------------------------------- */

static void test_envelope_shape(void **state)
{
    struct fixture *f = *state;
    struct knit_peer_record out;
    uint8_t payload[KNIT_RECORD_MAX_BYTES], sig[KNIT_SIGNATURE_LEN];
    size_t len;
    struct buf env;

    assert_int_equal(knit_record_encode_payload(&f->rec, payload,
                                                sizeof payload, &len), 0);
    assert_int_equal(knit_sign(&f->self, KNIT_RECORD_DOMAIN, payload, len,
                               sig), 0);

    env.n = 0;                                  /* two elements */
    b_array(&env, 2);
    b_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    b_bytes(&env, payload, len);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_MALFORMED);

    env.n = 0;                                  /* a map, not an array */
    b_map(&env, 1);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_TYPE);

    env.n = 0;                                  /* indefinite array */
    b_raw(&env, (const uint8_t[]){ 0x9f }, 1);
    b_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    b_bytes(&env, payload, len);
    b_bytes(&env, sig, sizeof sig);
    b_raw(&env, (const uint8_t[]){ 0xff }, 1);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_NONCANONICAL);

    env.n = 0;                                  /* short key */
    b_array(&env, 3);
    b_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN - 1);
    b_bytes(&env, payload, len);
    b_bytes(&env, sig, sizeof sig);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_LENGTH);

    env.n = 0;                                  /* short signature */
    b_array(&env, 3);
    b_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    b_bytes(&env, payload, len);
    b_bytes(&env, sig, sizeof sig - 1);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_LENGTH);

    env.n = 0;                                  /* key written as text */
    b_array(&env, 3);
    b_done(&env, cbor_encode_string_start(KNIT_PUBKEY_LEN, env.b + env.n,
                                          sizeof env.b - env.n));
    b_raw(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), KNIT_E_TYPE);

    env.n = 0;                                  /* payload length padded */
    b_array(&env, 3);
    b_bytes(&env, f->self.id.pubkey, KNIT_PUBKEY_LEN);
    b_raw(&env, (const uint8_t[]){ 0x5a, 0, 0, (uint8_t)(len >> 8),
                                   (uint8_t)len }, 5);
    b_raw(&env, payload, len);
    b_bytes(&env, sig, sizeof sig);
    assert_int_equal(knit_record_verify(&out, env.b, env.n),
                     KNIT_E_NONCANONICAL);

    /* A reserved head byte. */
    assert_int_equal(knit_record_verify(&out, (const uint8_t[]){ 0x1c }, 1),
                     KNIT_E_MALFORMED);
}

/* ---- signed payloads that break the canonical rules ------------------------ */

static void test_noncanonical_integer(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };

    b_map(&p, 5);                               /* seq 5 as uint16 */
    f_peer(&p, &f->rec.peer);
    b_uint(&p, 2);
    b_raw(&p, (const uint8_t[]){ 0x19, 0x00, 0x05 }, 3);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* seq 5 as uint8 */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    b_uint(&p, 2);
    b_raw(&p, (const uint8_t[]){ 0x18, 0x05 }, 2);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* issued 2^32-1 as uint64 */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    b_uint(&p, 3);
    b_raw(&p, (const uint8_t[]){ 0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff },
          9);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* a key as uint8 */
    b_map(&p, 5);
    b_raw(&p, (const uint8_t[]){ 0x18, 0x01 }, 2);
    {
        uint8_t raw[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&f->rec.peer, raw);
        b_bytes(&p, raw, sizeof raw);
    }
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* map head as uint8 */
    b_raw(&p, (const uint8_t[]){ 0xb8, 0x05 }, 2);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* peer ID length as uint16 */
    b_map(&p, 5);
    b_uint(&p, 1);
    {
        uint8_t raw[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&f->rec.peer, raw);
        b_raw(&p, (const uint8_t[]){ 0x59, 0x00, KNIT_PEER_ID_BYTES }, 3);
        b_raw(&p, raw, sizeof raw);
    }
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);
}

static void test_keys_out_of_order(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_issued(&p, 1);
    f_seq(&p, 5);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* inside the NAT map */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    b_uint(&p, 5);
    b_map(&p, 3);
    b_uint(&p, 2);
    b_uint(&p, 0);
    b_uint(&p, 1);
    b_uint(&p, 0);
    b_uint(&p, 3);
    b_uint(&p, 0);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);
}

static void test_duplicate_key(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    b_map(&p, 6);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_DUPLICATE);

    p.n = 0;                                    /* inside the NAT map */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    b_uint(&p, 5);
    b_map(&p, 3);
    b_uint(&p, 1);
    b_uint(&p, 0);
    b_uint(&p, 1);
    b_uint(&p, 0);
    b_uint(&p, 3);
    b_uint(&p, 0);
    expect_payload(f, &p, KNIT_E_DUPLICATE);
}

static void test_indefinite_lengths(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };

    b_raw(&p, (const uint8_t[]){ 0xbf }, 1);    /* the record map */
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    b_raw(&p, (const uint8_t[]){ 0xff }, 1);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* the address array */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_raw(&p, (const uint8_t[]){ 0x9f, 0xff }, 2);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);

    p.n = 0;                                    /* the peer ID bytes */
    b_map(&p, 5);
    b_uint(&p, 1);
    {
        uint8_t raw[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&f->rec.peer, raw);
        b_raw(&p, (const uint8_t[]){ 0x5f }, 1);
        b_bytes(&p, raw, sizeof raw);
        b_raw(&p, (const uint8_t[]){ 0xff }, 1);
    }
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_NONCANONICAL);
}

static void test_unknown_key(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    b_map(&p, 6);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    b_uint(&p, 6);
    b_uint(&p, 0);
    expect_payload(f, &p, KNIT_E_UNKNOWN_FIELD);

    p.n = 0;                                    /* key 0 */
    b_map(&p, 6);
    b_uint(&p, 0);
    b_uint(&p, 0);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_UNKNOWN_FIELD);

    p.n = 0;                                    /* inside the NAT map */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    b_uint(&p, 5);
    b_map(&p, 4);
    for (uint64_t k = 1; k <= 4; k++) {
        b_uint(&p, k);
        b_uint(&p, 0);
    }
    expect_payload(f, &p, KNIT_E_UNKNOWN_FIELD);
}

static void test_missing_key(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    b_map(&p, 4);                               /* no issued */
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_MISSING);

    p.n = 0;                                    /* no NAT */
    b_map(&p, 4);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_MISSING);

    p.n = 0;                                    /* NAT without filtering */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    b_uint(&p, 5);
    b_map(&p, 2);
    b_uint(&p, 1);
    b_uint(&p, 0);
    b_uint(&p, 3);
    b_uint(&p, 0);
    expect_payload(f, &p, KNIT_E_MISSING);

    p.n = 0;                                    /* empty map */
    b_map(&p, 0);
    expect_payload(f, &p, KNIT_E_MISSING);
}

static void test_too_many_addrs(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    uint8_t ma[KNIT_MA_BINARY_MAX];
    size_t n;
    assert_int_equal(knit_multiaddr_encode(&f->rec.addrs[0], ma, sizeof ma,
                                           &n), 0);
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_array(&p, KNIT_RECORD_MAX_ADDRS + 1);
    for (size_t i = 0; i < KNIT_RECORD_MAX_ADDRS + 1; i++)
        b_bytes(&p, ma, n);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TOO_BIG);
}

static void test_enum_out_of_range(void **state)
{
    struct fixture *f = *state;
    static const uint64_t bad[][3] = {
        { KNIT_MAPPING_ADDRESS_PORT_DEPENDENT + 1, 0, 0 },
        { 0, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT + 1, 0 },
        { 0, 0, KNIT_REACHABILITY_PRIVATE + 1 },
        { 256, 0, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf p = { .n = 0 };
        b_map(&p, 5);
        f_peer(&p, &f->rec.peer);
        f_seq(&p, 5);
        f_issued(&p, 1);
        f_addrs(&p, &f->rec);
        f_nat(&p, bad[i][0], bad[i][1], bad[i][2]);
        expect_payload(f, &p, KNIT_E_MALFORMED);
    }
}

static void test_wrong_types(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };

    b_map(&p, 5);                               /* seq negative */
    f_peer(&p, &f->rec.peer);
    b_uint(&p, 2);
    b_done(&p, cbor_encode_negint(4, p.b + p.n, sizeof p.b - p.n));
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* issued as a float */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    b_uint(&p, 3);
    b_done(&p, cbor_encode_double(1.0, p.b + p.n, sizeof p.b - p.n));
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* a tagged seq */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    b_uint(&p, 2);
    b_done(&p, cbor_encode_tag(2, p.b + p.n, sizeof p.b - p.n));
    b_bytes(&p, (const uint8_t[]){ 5 }, 1);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* a text key */
    b_map(&p, 5);
    b_done(&p, cbor_encode_string_start(1, p.b + p.n, sizeof p.b - p.n));
    b_raw(&p, (const uint8_t *)"a", 1);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* addrs a map */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_map(&p, 0);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* an address as a uint */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_array(&p, 1);
    b_uint(&p, 4);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* payload not a map */
    b_array(&p, 0);
    expect_payload(f, &p, KNIT_E_TYPE);

    p.n = 0;                                    /* null as NAT */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    b_uint(&p, 5);
    b_done(&p, cbor_encode_null(p.b + p.n, sizeof p.b - p.n));
    expect_payload(f, &p, KNIT_E_TYPE);
}

static void test_bad_peer_id_and_address(void **state)
{
    struct fixture *f = *state;
    struct buf p = { .n = 0 };
    uint8_t raw[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(&f->rec.peer, raw);

    b_map(&p, 5);                               /* peer ID one byte short */
    b_uint(&p, 1);
    b_bytes(&p, raw, sizeof raw - 1);
    f_seq(&p, 5);
    f_issued(&p, 1);
    f_addrs(&p, &f->rec);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_LENGTH);

    p.n = 0;                                    /* /tcp (code 6): not ours */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_array(&p, 1);
    b_bytes(&p, (const uint8_t[]){ 0x06, 0x0f, 0xa1 }, 3);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_UNKNOWN_PROTOCOL);

    p.n = 0;                                    /* an empty address */
    b_map(&p, 5);
    f_peer(&p, &f->rec.peer);
    f_seq(&p, 5);
    f_issued(&p, 1);
    b_uint(&p, 4);
    b_array(&p, 1);
    b_bytes(&p, raw, 0);
    f_nat_of(&p, &f->rec);
    expect_payload(f, &p, KNIT_E_TRUNCATED);
}

static void test_null_arguments(void **state)
{
    struct fixture *f = *state;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hand_built_matches_encoder),
        cmocka_unit_test(test_integer_widths),
        cmocka_unit_test(test_no_addrs),
        cmocka_unit_test(test_max_addrs_fit),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_every_bit_flip_fails),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_rec_untouched_on_failure),
        cmocka_unit_test(test_envelope_shape),
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
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
