/* The Noise handshakes against the cacophony test vectors
 * (noise-25519-chachapoly-blake2b.json): for each of IK, XX, XK and IKpsk2,
 * initiator and responder are fed the vector's keys, prologue and psk, and
 * every handshake and transport message they produce must match the
 * vector's bytes, both sides must end with the same transcript hash, and
 * that hash must agree with the one cacophony records. Behaviour the
 * vectors do not reach (tampering, truncation, state rules, nonce limits)
 * is test_noise.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/noise.h"
#include "tests/support/vectors.h"
#include "transport/error.h"

#define VECTOR_FILE "noise-25519-chachapoly-blake2b.json"
#define HEX_MAX 4096
#define BIN_MAX 2048


/* One vector's fields, decoded. */
struct vector {
    char name[128];
    enum knit_noise_pattern pattern;
    uint8_t prologue[256];
    size_t prologue_len;
    uint8_t init_static[32], init_ephemeral[32], init_remote_static[32];
    uint8_t resp_static[32], resp_ephemeral[32];
    uint8_t psk[32];
    bool has_init_rs, has_psk;
    uint8_t handshake_hash[64];
};

/* Decodes the hex value of key in the (NUL-bounded) vector text into out.
 * Returns the length, or -1 when the key is absent. */
static long field(const char *text, const char *key, uint8_t *out, size_t cap)
{
    char hex[HEX_MAX];
    if (!knit_test_json_string(text, key, hex, sizeof hex))
        return -1;
    long n = knit_test_hex_decode(hex, out, cap);
    assert_true(n >= 0);
    return n;
}

/* Like field, for a key that must be there with exactly len bytes. */
static void need(const char *text, const char *key, uint8_t *out, size_t len)
{
    assert_int_equal(field(text, key, out, len), (long)len);
}

static enum knit_noise_pattern pattern_named(const char *name)
{
    if (strcmp(name, "Noise_IK_25519_ChaChaPoly_BLAKE2b") == 0)
        return KNIT_NOISE_IK;
    if (strcmp(name, "Noise_XX_25519_ChaChaPoly_BLAKE2b") == 0)
        return KNIT_NOISE_XX;
    if (strcmp(name, "Noise_XK_25519_ChaChaPoly_BLAKE2b") == 0)
        return KNIT_NOISE_XK;
    if (strcmp(name, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b") == 0)
        return KNIT_NOISE_IKPSK2;
    fail_msg("vector for an unexpected protocol %s", name);
    return 0;
}

static void parse_vector(const char *text, struct vector *v)
{
    uint8_t other[256];
    memset(v, 0, sizeof *v);
    assert_non_null(knit_test_json_string(text, "protocol_name", v->name,
                                          sizeof v->name));
    v->pattern = pattern_named(v->name);
    long n = field(text, "init_prologue", v->prologue, sizeof v->prologue);
    assert_true(n >= 0);
    v->prologue_len = (size_t)n;
    /* Both sides must be given the same prologue and psk, or nothing would
     * match. */
    need(text, "resp_prologue", other, v->prologue_len);
    assert_memory_equal(other, v->prologue, v->prologue_len);
    need(text, "init_static", v->init_static, 32);
    need(text, "init_ephemeral", v->init_ephemeral, 32);
    need(text, "resp_static", v->resp_static, 32);
    need(text, "resp_ephemeral", v->resp_ephemeral, 32);
    need(text, "handshake_hash", v->handshake_hash, 64);
    v->has_init_rs = field(text, "init_remote_static", v->init_remote_static,
                           32) == 32;
    v->has_psk = field(text, "init_psk", v->psk, 32) == 32;
    if (v->has_psk) {
        need(text, "resp_psk", other, 32);
        assert_memory_equal(other, v->psk, 32);
    }
}

/* BLAKE2b-512(a || b), Noise's MixHash, computed here with libsodium alone. */
static void mix(const uint8_t h[64], const uint8_t *data, size_t len,
                uint8_t out[64])
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, 64);
    crypto_generichash_blake2b_update(&st, h, 64);
    crypto_generichash_blake2b_update(&st, data, len);
    crypto_generichash_blake2b_final(&st, out, 64);
}

/* cacophony's handshake_hash is not the final h of the spec (GetHandshakeHash
 * after the last message): it is h as it stood two MixHash calls before the
 * end. The last message of IK (e, payload), XX and XK (s, payload) mixes two
 * things, so that is h after the penultimate message; the last message of
 * IKpsk2 mixes three (e, the psk's temp_h, payload), so it is that h mixed
 * with the responder's ephemeral key. For the first three, the final h must
 * also follow from the vector's value by the last message's two MixHash
 * calls, which ties the vector to our final h byte for byte. (Our final h was
 * also checked by hand against noise-c's IK vector, whose handshake_hash is
 * the spec's.) */
static void check_handshake_hash(const struct vector *v,
                                 const uint8_t penultimate_h[64],
                                 const uint8_t *last, size_t last_len,
                                 const uint8_t final_h[64])
{
    uint8_t want[64], step[64], end[64];
    /* The last message opens with e (IK, IKpsk2) or an encrypted s (XX, XK). */
    size_t first = v->pattern == KNIT_NOISE_XX || v->pattern == KNIT_NOISE_XK
                       ? 32 + KNIT_NOISE_TAG_LEN : 32;
    assert_true(last_len >= first);
    if (v->pattern == KNIT_NOISE_IKPSK2) {
        mix(penultimate_h, last, 32, want);
        assert_memory_equal(want, v->handshake_hash, 64);
    } else {
        assert_memory_equal(penultimate_h, v->handshake_hash, 64);
        mix(v->handshake_hash, last, first, step);
        mix(step, last + first, last_len - first, end);
        assert_memory_equal(end, final_h, 64);
    }
}

/* Runs one vector: initiator and responder talk through its messages, every
 * byte checked. Messages alternate initiator, responder, initiator... from
 * the first handshake message through the transport messages after split,
 * as cacophony generates them for two-way patterns (all four here; a one-way
 * pattern would send everything from the initiator). Returns the number of
 * messages checked. */
static int run_vector(const char *text)
{
    struct vector v;
    parse_vector(text, &v);

    struct knit_noise_handshake ini, res;
    assert_int_equal(knit_noise_init(&ini, v.pattern, true, v.prologue,
                                     v.prologue_len, v.init_static,
                                     v.has_init_rs ? v.init_remote_static : NULL,
                                     v.init_ephemeral,
                                     v.has_psk ? v.psk : NULL), 0);
    assert_int_equal(knit_noise_init(&res, v.pattern, false, v.prologue,
                                     v.prologue_len, v.resp_static, NULL,
                                     v.resp_ephemeral,
                                     v.has_psk ? v.psk : NULL), 0);

    struct knit_noise_cipher ini_send, ini_recv, res_send, res_recv;
    const char *p = strstr(text, "\"messages\"");
    assert_non_null(p);
    int index = 0;
    bool split = false;
    char hex[HEX_MAX];
    uint8_t payload[BIN_MAX], expect[BIN_MAX], out[BIN_MAX], back[BIN_MAX];
    uint8_t prev_h[64], cur_h[64], other_h[64];
    size_t out_len, back_len;

    knit_noise_handshake_hash(&ini, cur_h);
    while ((p = knit_test_json_string(p, "payload", hex, sizeof hex)) != NULL) {
        long plen = knit_test_hex_decode(hex, payload, sizeof payload);
        assert_true(plen >= 0);
        p = knit_test_json_string(p, "ciphertext", hex, sizeof hex);
        assert_non_null(p);
        long clen = knit_test_hex_decode(hex, expect, sizeof expect);
        assert_true(clen >= 0);

        bool from_initiator = index % 2 == 0;
        if (!split) {
            struct knit_noise_handshake *w = from_initiator ? &ini : &res;
            struct knit_noise_handshake *r = from_initiator ? &res : &ini;
            assert_true(knit_noise_my_turn_to_write(w));
            assert_false(knit_noise_my_turn_to_write(r));
            assert_int_equal(knit_noise_write(w, payload, (size_t)plen, out,
                                              sizeof out, &out_len), 0);
            assert_int_equal(out_len, (size_t)clen);
            assert_memory_equal(out, expect, out_len);
            assert_int_equal(knit_noise_read(r, out, out_len, back,
                                             sizeof back, &back_len), 0);
            assert_int_equal(back_len, (size_t)plen);
            assert_memory_equal(back, payload, back_len);
            /* Both sides hold the same transcript hash after every message. */
            memcpy(prev_h, cur_h, 64);
            knit_noise_handshake_hash(&ini, cur_h);
            knit_noise_handshake_hash(&res, other_h);
            assert_memory_equal(cur_h, other_h, 64);
            if (knit_noise_is_done(&ini)) {
                assert_true(knit_noise_is_done(&res));
                check_handshake_hash(&v, prev_h, out, out_len, cur_h);
                /* Each side learned, or was given, the other's static. */
                uint8_t pub[32];
                crypto_scalarmult_base(pub, v.resp_static);
                assert_memory_equal(knit_noise_remote_static(&ini), pub, 32);
                crypto_scalarmult_base(pub, v.init_static);
                assert_memory_equal(knit_noise_remote_static(&res), pub, 32);
                assert_int_equal(knit_noise_split(&ini, &ini_send, &ini_recv), 0);
                assert_int_equal(knit_noise_split(&res, &res_send, &res_recv), 0);
                split = true;
            }
        } else {
            struct knit_noise_cipher *send = from_initiator ? &ini_send : &res_send;
            struct knit_noise_cipher *recv = from_initiator ? &res_recv : &ini_recv;
            assert_int_equal(knit_noise_cipher_encrypt(send, NULL, 0, payload,
                                                       (size_t)plen, out), 0);
            assert_int_equal((size_t)plen + KNIT_NOISE_TAG_LEN, (size_t)clen);
            assert_memory_equal(out, expect, (size_t)clen);
            assert_int_equal(knit_noise_cipher_decrypt(recv, NULL, 0, out,
                                                       (size_t)clen, back), 0);
            assert_memory_equal(back, payload, (size_t)plen);
        }
        index++;
    }
    assert_true(split);
    print_message("  %-40s all %d messages match, handshake hash as cacophony "
                  "records it\n", v.name, index);
    return index;
}

static void test_cacophony_vectors(void **state)
{
    (void)state;
    char *file = knit_test_read_vector_file(VECTOR_FILE, NULL);
    assert_non_null(file);
    int vectors = 0, seen[KNIT_NOISE_IKPSK2 + 1] = {0};
    const char *mark = "\"protocol_name\"";
    char *p = strstr(file, mark);
    while (p) {
        /* Bound the text to this vector, so a field it lacks (XX has no
         * remote static) is not found in the next one. */
        char *next = strstr(p + 1, mark);
        size_t len = next ? (size_t)(next - p) : strlen(p);
        char *text = malloc(len + 1);
        assert_non_null(text);
        memcpy(text, p, len);
        text[len] = '\0';
        char name[128];
        assert_non_null(knit_test_json_string(text, "protocol_name", name,
                                              sizeof name));
        seen[pattern_named(name)]++;
        assert_true(run_vector(text) >= 3);
        free(text);
        vectors++;
        p = next;
    }
    free(file);
    assert_int_equal(vectors, 4);
    for (int i = KNIT_NOISE_IK; i <= KNIT_NOISE_IKPSK2; i++)
        assert_int_equal(seen[i], 1);
}

static int setup_sodium(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cacophony_vectors),
    };
    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}
