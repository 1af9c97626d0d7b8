#include "record_builder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>

/* ---- the fixture -------------------------------------------------------- */

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

int knit_test_record_setup(void **state)
{
    static struct knit_test_record_fixture f;
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

int knit_test_record_teardown(void **state)
{
    struct knit_test_record_fixture *f = *state;
    knit_identity_wipe(&f->self);
    knit_identity_wipe(&f->relay);
    knit_identity_wipe(&f->other);
    return 0;
}

/* ---- CBOR pieces -------------------------------------------------------- */

void knit_test_cbor_done(struct knit_test_cbor *b, size_t n)
{
    assert_true(n > 0);
    b->n += n;
}

void knit_test_cbor_uint(struct knit_test_cbor *b, uint64_t v)
{
    knit_test_cbor_done(b, cbor_encode_uint(v, b->b + b->n,
                                            sizeof b->b - b->n));
}

void knit_test_cbor_map(struct knit_test_cbor *b, size_t n)
{
    knit_test_cbor_done(b, cbor_encode_map_start(n, b->b + b->n,
                                                 sizeof b->b - b->n));
}

void knit_test_cbor_array(struct knit_test_cbor *b, size_t n)
{
    knit_test_cbor_done(b, cbor_encode_array_start(n, b->b + b->n,
                                                   sizeof b->b - b->n));
}

void knit_test_cbor_raw(struct knit_test_cbor *b, const void *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->n);
    if (n > 0)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}

void knit_test_cbor_bytes(struct knit_test_cbor *b, const void *p, size_t n)
{
    knit_test_cbor_done(b, cbor_encode_bytestring_start(n, b->b + b->n,
                                                        sizeof b->b - b->n));
    knit_test_cbor_raw(b, p, n);
}

/* ---- record payloads and envelopes -------------------------------------- */

void knit_test_record_nat(struct knit_test_cbor *b, uint64_t mapping,
                          uint64_t filtering, uint64_t reachability)
{
    knit_test_cbor_uint(b, 5);
    knit_test_cbor_map(b, 3);
    knit_test_cbor_uint(b, 1);
    knit_test_cbor_uint(b, mapping);
    knit_test_cbor_uint(b, 2);
    knit_test_cbor_uint(b, filtering);
    knit_test_cbor_uint(b, 3);
    knit_test_cbor_uint(b, reachability);
}

static void addrs_entry(struct knit_test_cbor *b,
                        const struct knit_peer_record *rec)
{
    knit_test_cbor_uint(b, 4);
    knit_test_cbor_array(b, rec->addr_count);
    for (size_t i = 0; i < rec->addr_count; i++) {
        uint8_t ma[KNIT_MA_BINARY_MAX];
        size_t n;
        assert_int_equal(knit_multiaddr_encode(&rec->addrs[i], ma, sizeof ma,
                                               &n), 0);
        knit_test_cbor_bytes(b, ma, n);
    }
}

static void field_entry(struct knit_test_cbor *b,
                        const struct knit_peer_record *rec, char field)
{
    uint8_t raw[KNIT_PEER_ID_BYTES];
    switch (field) {
    case '1':
        knit_peer_id_to_bytes(&rec->peer, raw);
        knit_test_cbor_uint(b, 1);
        knit_test_cbor_bytes(b, raw, sizeof raw);
        break;
    case '2':
        knit_test_cbor_uint(b, 2);
        knit_test_cbor_uint(b, rec->seq);
        break;
    case '3':
        knit_test_cbor_uint(b, 3);
        knit_test_cbor_uint(b, rec->issued);
        break;
    case '4':
        addrs_entry(b, rec);
        break;
    case '5':
        knit_test_record_nat(b, rec->nat.mapping, rec->nat.filtering,
                             rec->nat.reachability);
        break;
    default:
        fail_msg("no record field '%c'", field);
    }
}

void knit_test_record_payload(struct knit_test_cbor *b,
                              const struct knit_peer_record *rec,
                              const char *head, const char *fields,
                              const void *mid, size_t mid_len)
{
    b->n = 0;
    knit_test_cbor_raw(b, head, strlen(head));
    for (const char *c = fields; *c; c++) {
        if (*c == '*')
            knit_test_cbor_raw(b, mid, mid_len);
        else
            field_entry(b, rec, *c);
    }
}

void knit_test_record_envelope(struct knit_test_cbor *env,
                               const struct knit_identity *signer,
                               const void *payload, size_t len)
{
    uint8_t sig[KNIT_SIGNATURE_LEN];
    assert_int_equal(knit_sign(signer, KNIT_RECORD_DOMAIN, payload, len, sig),
                     0);
    env->n = 0;
    knit_test_cbor_array(env, 3);
    knit_test_cbor_bytes(env, signer->id.pubkey, KNIT_PUBKEY_LEN);
    knit_test_cbor_bytes(env, payload, len);
    knit_test_cbor_bytes(env, sig, sizeof sig);
}

void knit_test_record_expect(const struct knit_test_record_fixture *f,
                             const struct knit_test_cbor *payload, int err)
{
    struct knit_peer_record out;
    struct knit_test_cbor env;
    knit_test_record_envelope(&env, &f->self, payload->b, payload->n);
    assert_int_equal(knit_record_verify(&out, env.b, env.n), err);
    assert_int_equal(knit_record_decode_payload(&out, payload->b, payload->n),
                     err);
}
