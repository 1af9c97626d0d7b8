/* Fuzzes the signed peer record decoder.
 *
 * The first byte picks what the rest is:
 *   0  an envelope, for knit_record_verify (mostly stops at the signature);
 *   1  a bare payload, for knit_record_decode_payload;
 *   2  a payload that is signed here with a fixed key and wrapped in an
 *      envelope, so verify's whole path runs on fuzzed payloads.
 * Whatever is accepted must re-encode to exactly the bytes it came from:
 * record.h promises only the canonical encoding is accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cbor.h>

#include "proto/record.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* The record must re-encode to payload (when given) and decode back to
 * itself. */
static void check_round_trip(const struct knit_peer_record *rec,
                             const uint8_t *payload, size_t len)
{
    uint8_t enc[KNIT_RECORD_MAX_BYTES];
    uint8_t enc2[KNIT_RECORD_MAX_BYTES];
    size_t enc_len, enc2_len;
    struct knit_peer_record again;

    check(knit_record_encode_payload(rec, enc, sizeof enc, &enc_len) == 0);
    if (payload)
        check(enc_len == len && memcmp(enc, payload, len) == 0);
    check(knit_record_decode_payload(&again, enc, enc_len) == 0);
    check(knit_record_encode_payload(&again, enc2, sizeof enc2,
                                     &enc2_len) == 0);
    check(enc2_len == enc_len && memcmp(enc2, enc, enc_len) == 0);
}

static const struct knit_identity *fixed_identity(void)
{
    static struct knit_identity ident;
    static int ready;
    if (!ready) {
        uint8_t seed[KNIT_SEED_LEN];
        memset(seed, 0x42, sizeof seed);
        check(knit_identity_from_seed(&ident, seed) == 0);
        ready = 1;
    }
    return &ident;
}

static void fuzz_signed_payload(const uint8_t *payload, size_t len)
{
    const struct knit_identity *ident = fixed_identity();
    uint8_t env[KNIT_RECORD_MAX_BYTES + 128];
    uint8_t sig[KNIT_SIGNATURE_LEN];
    size_t n = 0, h;
    struct knit_peer_record rec;

    if (len > KNIT_RECORD_MAX_BYTES)
        return;
    check(knit_sign(ident, KNIT_RECORD_DOMAIN, payload, len, sig) == 0);
    h = cbor_encode_array_start(3, env, sizeof env);
    check(h > 0);
    n += h;
    h = cbor_encode_bytestring_start(KNIT_PUBKEY_LEN, env + n,
                                     sizeof env - n);
    check(h > 0);
    n += h;
    memcpy(env + n, ident->id.pubkey, KNIT_PUBKEY_LEN);
    n += KNIT_PUBKEY_LEN;
    h = cbor_encode_bytestring_start(len, env + n, sizeof env - n);
    check(h > 0);
    n += h;
    if (len)
        memcpy(env + n, payload, len);
    n += len;
    h = cbor_encode_bytestring_start(sizeof sig, env + n, sizeof env - n);
    check(h > 0);
    n += h;
    memcpy(env + n, sig, sizeof sig);
    n += sizeof sig;

    int err = knit_record_verify(&rec, env, n);
    /* The payload decoder alone must agree with verify about the payload. */
    struct knit_peer_record bare;
    int bare_err = knit_record_decode_payload(&bare, payload, len);
    if (n > KNIT_RECORD_MAX_BYTES) {
        check(err == KNIT_E_TOO_BIG);
        return;
    }
    if (bare_err) {
        check(err == bare_err);
        return;
    }
    if (!knit_peer_id_equal(&bare.peer, &ident->id)) {
        check(err == KNIT_E_KEY_MISMATCH);
        return;
    }
    check(err == 0);
    check(knit_peer_id_equal(&rec.peer, &ident->id));
    check_round_trip(&rec, payload, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_peer_record rec;

    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        if (knit_record_verify(&rec, data + 1, size - 1) == 0)
            check_round_trip(&rec, NULL, 0);
        break;
    case 1:
        if (knit_record_decode_payload(&rec, data + 1, size - 1) == 0)
            check_round_trip(&rec, data + 1, size - 1);
        break;
    default:
        fuzz_signed_payload(data + 1, size - 1);
        break;
    }
    return 0;
}
