#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/base58.h"
#include "proto/identity.h"
#include "proto/peer_id.h"
#include "tests/support/vectors.h"
#include "transport/error.h"

/* The libp2p Ed25519 vector, read from ../shared/vectors at run time. */
struct vector {
    uint8_t seed[KNIT_SEED_LEN];
    uint8_t pubkey[KNIT_PUBKEY_LEN];
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    char text[KNIT_PEER_ID_TEXT_MAX];
};

static int load_vector(void **state)
{
    static struct vector v;
    char *json = knit_test_read_vector_file("peer-id-ed25519.json", NULL);
    if (!json)
        return -1;
    char hex[256];
    int ok =
        knit_test_json_string(json, "ed25519_seed_hex", hex, sizeof hex) &&
        knit_test_hex_decode(hex, v.seed, sizeof v.seed) == KNIT_SEED_LEN &&
        knit_test_json_string(json, "ed25519_public_hex", hex, sizeof hex) &&
        knit_test_hex_decode(hex, v.pubkey, sizeof v.pubkey) == KNIT_PUBKEY_LEN &&
        knit_test_json_string(json, "peer_id_bytes_hex", hex, sizeof hex) &&
        knit_test_hex_decode(hex, v.bytes, sizeof v.bytes) == KNIT_PEER_ID_BYTES &&
        knit_test_json_string(json, "peer_id", v.text, sizeof v.text);
    free(json);
    if (!ok || sodium_init() < 0)
        return -1;
    *state = &v;
    return 0;
}

static void test_seed_to_pubkey(void **state)
{
    const struct vector *v = *state;
    struct knit_identity ident;
    assert_int_equal(knit_identity_from_seed(&ident, v->seed), 0);
    assert_memory_equal(ident.id.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    knit_identity_wipe(&ident);
}

static void test_pubkey_to_bytes(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    memcpy(id.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    knit_peer_id_to_bytes(&id, bytes);
    assert_memory_equal(bytes, v->bytes, KNIT_PEER_ID_BYTES);

    struct knit_peer_id back;
    assert_int_equal(knit_peer_id_from_bytes(&back, v->bytes,
                                             KNIT_PEER_ID_BYTES), 0);
    assert_memory_equal(back.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
}

static void test_text(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    char text[KNIT_PEER_ID_TEXT_MAX];
    memcpy(id.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    assert_int_equal(knit_peer_id_to_text(&id, text, sizeof text), 0);
    assert_string_equal(text, v->text);
    assert_memory_equal(text, "12D3KooW", 8);

    struct knit_peer_id back;
    memset(&back, 0, sizeof back);
    assert_int_equal(knit_peer_id_from_text(&back, v->text, strlen(v->text)),
                     0);
    assert_memory_equal(back.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(&back, bytes);
    assert_memory_equal(bytes, v->bytes, KNIT_PEER_ID_BYTES);

    /* The length argument is what counts, not a terminating NUL. */
    char padded[KNIT_PEER_ID_TEXT_MAX + 8];
    snprintf(padded, sizeof padded, "%sXYZ", v->text);
    assert_int_equal(knit_peer_id_from_text(&back, padded, strlen(v->text)),
                     0);
    assert_memory_equal(back.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
}

static void test_text_space(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    char text[KNIT_PEER_ID_TEXT_MAX];
    size_t len = strlen(v->text);
    memcpy(id.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    assert_int_equal(knit_peer_id_to_text(&id, text, len), KNIT_E_NO_SPACE);
    assert_int_equal(knit_peer_id_to_text(&id, text, len + 1), 0);
    assert_string_equal(text, v->text);

    /* The largest key must still fit in KNIT_PEER_ID_TEXT_MAX. */
    memset(id.pubkey, 0xff, KNIT_PUBKEY_LEN);
    assert_int_equal(knit_peer_id_to_text(&id, text, sizeof text), 0);
}

static void test_dht_key(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    uint8_t key[KNIT_DHT_KEY_LEN], want[KNIT_DHT_KEY_LEN],
        of_pubkey[KNIT_DHT_KEY_LEN];
    memcpy(id.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    knit_peer_id_dht_key(&id, key);
    crypto_hash_sha256(want, v->bytes, KNIT_PEER_ID_BYTES);
    assert_memory_equal(key, want, KNIT_DHT_KEY_LEN);
    /* Hashing the bare key instead of the 38 bytes would be a different
     * DHT, incompatible with every other node. */
    crypto_hash_sha256(of_pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    assert_memory_not_equal(key, of_pubkey, KNIT_DHT_KEY_LEN);
}

static void test_bytes_rejects(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    uint8_t buf[KNIT_PEER_ID_BYTES + 1];
    memcpy(buf, v->bytes, KNIT_PEER_ID_BYTES);
    buf[KNIT_PEER_ID_BYTES] = 0;
    assert_int_equal(knit_peer_id_from_bytes(&id, buf, 0), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_bytes(&id, buf, 37), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_bytes(&id, buf, 39), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_bytes(&id, buf, 32), KNIT_E_LENGTH);
    for (size_t i = 0; i < 6; i++) {
        memcpy(buf, v->bytes, KNIT_PEER_ID_BYTES);
        buf[i] ^= 0x01;
        assert_int_equal(knit_peer_id_from_bytes(&id, buf, KNIT_PEER_ID_BYTES),
                         KNIT_E_PREFIX);
    }
    /* A secp256k1 key type (08 02) is a libp2p ID we do not accept. */
    memcpy(buf, v->bytes, KNIT_PEER_ID_BYTES);
    buf[3] = 0x02;
    assert_int_equal(knit_peer_id_from_bytes(&id, buf, KNIT_PEER_ID_BYTES),
                     KNIT_E_PREFIX);
    assert_int_equal(knit_peer_id_from_bytes(NULL, buf, KNIT_PEER_ID_BYTES),
                     KNIT_E_INVAL);
}

static void test_text_rejects_length(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    size_t len = strlen(v->text);
    char buf[512];

    assert_int_equal(knit_peer_id_from_text(&id, "", 0), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_text(&id, v->text, len - 1),
                     KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_text(&id, v->text, 8), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_text(&id, "1", 1), KNIT_E_LENGTH);

    snprintf(buf, sizeof buf, "%sz", v->text);
    assert_int_equal(knit_peer_id_from_text(&id, buf, strlen(buf)),
                     KNIT_E_LENGTH);
    /* An extra leading '1' is an extra leading zero byte. */
    snprintf(buf, sizeof buf, "1%s", v->text);
    assert_int_equal(knit_peer_id_from_text(&id, buf, strlen(buf)),
                     KNIT_E_LENGTH);

    /* Over-long texts, within and beyond what base58 decodes at all. */
    memset(buf, 'z', sizeof buf);
    assert_int_equal(knit_peer_id_from_text(&id, buf, 60), KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_text(&id, buf, KNIT_BASE58_MAX_TEXT),
                     KNIT_E_LENGTH);
    assert_int_equal(knit_peer_id_from_text(&id, buf, sizeof buf),
                     KNIT_E_LENGTH);
}

static void test_text_rejects_prefix(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    uint8_t bytes[KNIT_PEER_ID_BYTES];
    char text[KNIT_PEER_ID_TEXT_MAX];
    size_t n;
    memcpy(bytes, v->bytes, sizeof bytes);
    bytes[3] = 0x02;
    assert_int_equal(knit_base58_encode(bytes, sizeof bytes, text, sizeof text,
                                        &n), 0);
    assert_int_equal(knit_peer_id_from_text(&id, text, n), KNIT_E_PREFIX);

    /* A sha2-256 multihash of the same length is not an identity hash. */
    memcpy(bytes, v->bytes, sizeof bytes);
    bytes[0] = 0x12;
    assert_int_equal(knit_base58_encode(bytes, sizeof bytes, text, sizeof text,
                                        &n), 0);
    assert_int_equal(knit_peer_id_from_text(&id, text, n), KNIT_E_PREFIX);
}

static void test_text_rejects_characters(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id id;
    size_t len = strlen(v->text);
    const char bad[] = {'0', 'O', 'I', 'l', '+', '/', ' ', '\0', '\n'};
    const size_t where[] = {0, 10, len - 1};
    char text[KNIT_PEER_ID_TEXT_MAX];
    for (size_t i = 0; i < sizeof bad; i++) {
        for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
            memcpy(text, v->text, len + 1);
            text[where[w]] = bad[i];
            assert_int_equal(knit_peer_id_from_text(&id, text, len),
                             KNIT_E_BASE58);
        }
    }
}

static void test_equal_and_cmp(void **state)
{
    const struct vector *v = *state;
    struct knit_peer_id a, b;
    memcpy(a.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    memcpy(b.pubkey, v->pubkey, KNIT_PUBKEY_LEN);
    assert_true(knit_peer_id_equal(&a, &b));
    assert_int_equal(knit_peer_id_cmp(&a, &b), 0);
    b.pubkey[KNIT_PUBKEY_LEN - 1] ^= 0x80;
    assert_false(knit_peer_id_equal(&a, &b));
    int ab = knit_peer_id_cmp(&a, &b), ba = knit_peer_id_cmp(&b, &a);
    assert_true(ab == -1 || ab == 1);
    assert_int_equal(ab, -ba);
    /* Ordered as the bytes are, so every node sorts peers the same way. */
    memset(a.pubkey, 0, KNIT_PUBKEY_LEN);
    memset(b.pubkey, 0, KNIT_PUBKEY_LEN);
    b.pubkey[0] = 1;
    a.pubkey[1] = 0xff;
    assert_int_equal(knit_peer_id_cmp(&a, &b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_to_pubkey),
        cmocka_unit_test(test_pubkey_to_bytes),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_space),
        cmocka_unit_test(test_dht_key),
        cmocka_unit_test(test_bytes_rejects),
        cmocka_unit_test(test_text_rejects_length),
        cmocka_unit_test(test_text_rejects_prefix),
        cmocka_unit_test(test_text_rejects_characters),
        cmocka_unit_test(test_equal_and_cmp),
    };
    return cmocka_run_group_tests(tests, load_vector, NULL);
}
