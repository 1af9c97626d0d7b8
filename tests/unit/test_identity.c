#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/identity.h"
#include "transport/error.h"

#define DOMAIN "knit-test-v1"

static const uint8_t seed_a[KNIT_SEED_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};
static const uint8_t seed_b[KNIT_SEED_LEN] = {
    32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
};

static void test_from_seed_matches_libsodium(void **state)
{
    (void)state;
    struct knit_identity ident;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t xpk[32], xsk[32], derived[32];
    assert_int_equal(knit_identity_from_seed(&ident, seed_a), 0);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed_a), 0);
    assert_memory_equal(ident.id.pubkey, pk, sizeof pk);
    assert_memory_equal(ident.ed_secret, sk, sizeof sk);

    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, pk), 0);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sk), 0);
    assert_memory_equal(ident.x_public, xpk, sizeof xpk);
    assert_memory_equal(ident.x_secret, xsk, sizeof xsk);
    /* The Curve25519 pair must be a pair, or Noise fails to agree. */
    assert_int_equal(crypto_scalarmult_base(derived, ident.x_secret), 0);
    assert_memory_equal(derived, ident.x_public, sizeof derived);

    struct knit_identity again;
    assert_int_equal(knit_identity_from_seed(&again, seed_a), 0);
    assert_memory_equal(&again, &ident, sizeof ident);
    assert_int_equal(knit_identity_from_seed(&again, seed_b), 0);
    assert_memory_not_equal(again.id.pubkey, ident.id.pubkey, KNIT_PUBKEY_LEN);
    knit_identity_wipe(&ident);
    knit_identity_wipe(&again);
}

static void test_wipe(void **state)
{
    (void)state;
    struct knit_identity ident, zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(knit_identity_from_seed(&ident, seed_a), 0);
    knit_identity_wipe(&ident);
    assert_memory_equal(&ident, &zero, sizeof zero);
    knit_identity_wipe(NULL);
}

/* Signs and verifies msg of length len, then checks each way it must fail. */
static void check_sign_verify(const uint8_t *msg, size_t len)
{
    struct knit_identity a, b;
    uint8_t sig[KNIT_SIGNATURE_LEN], direct[KNIT_SIGNATURE_LEN];
    assert_int_equal(knit_identity_from_seed(&a, seed_a), 0);
    assert_int_equal(knit_identity_from_seed(&b, seed_b), 0);

    assert_int_equal(knit_sign(&a, DOMAIN, msg, len, sig), 0);
    assert_int_equal(knit_verify(&a.id, DOMAIN, msg, len, sig), 0);

    /* The signed bytes are exactly domain || 0x00 || msg. */
    size_t dlen = strlen(DOMAIN) + 1;
    uint8_t *cat = malloc(dlen + len + 1);
    assert_non_null(cat);
    memcpy(cat, DOMAIN, dlen);
    if (len)
        memcpy(cat + dlen, msg, len);
    assert_int_equal(crypto_sign_detached(direct, NULL, cat, dlen + len,
                                          a.ed_secret), 0);
    assert_memory_equal(sig, direct, sizeof sig);
    free(cat);

    assert_int_equal(knit_verify(&a.id, "knit-other-v1", msg, len, sig),
                     KNIT_E_SIGNATURE);
    assert_int_equal(knit_verify(&a.id, "", msg, len, sig), KNIT_E_SIGNATURE);
    assert_int_equal(knit_verify(&b.id, DOMAIN, msg, len, sig),
                     KNIT_E_SIGNATURE);
    if (len) {
        uint8_t *tampered = malloc(len);
        assert_non_null(tampered);
        memcpy(tampered, msg, len);
        tampered[len / 2] ^= 0x01;
        assert_int_equal(knit_verify(&a.id, DOMAIN, tampered, len, sig),
                         KNIT_E_SIGNATURE);
        assert_int_equal(knit_verify(&a.id, DOMAIN, msg, len - 1, sig),
                         KNIT_E_SIGNATURE);
        free(tampered);
    }
    uint8_t bad[KNIT_SIGNATURE_LEN];
    memcpy(bad, sig, sizeof bad);
    bad[0] ^= 0x01;
    assert_int_equal(knit_verify(&a.id, DOMAIN, msg, len, bad),
                     KNIT_E_SIGNATURE);

    uint8_t sig_b[KNIT_SIGNATURE_LEN];
    assert_int_equal(knit_sign(&b, DOMAIN, msg, len, sig_b), 0);
    assert_int_equal(knit_verify(&b.id, DOMAIN, msg, len, sig_b), 0);
    assert_int_equal(knit_verify(&a.id, DOMAIN, msg, len, sig_b),
                     KNIT_E_SIGNATURE);
    knit_identity_wipe(&a);
    knit_identity_wipe(&b);
}

static void test_sign_short(void **state)
{
    (void)state;
    const uint8_t msg[] = "a peer record, say";
    check_sign_verify(msg, sizeof msg - 1);
}

static void test_sign_empty(void **state)
{
    (void)state;
    struct knit_identity a;
    uint8_t sig[KNIT_SIGNATURE_LEN];
    assert_int_equal(knit_identity_from_seed(&a, seed_a), 0);
    assert_int_equal(knit_sign(&a, DOMAIN, NULL, 0, sig), 0);
    assert_int_equal(knit_verify(&a.id, DOMAIN, NULL, 0, sig), 0);
    knit_identity_wipe(&a);
    const uint8_t one[1] = {0};
    check_sign_verify(one, 0);
}

/* Around and far past the size where the buffer moves to the heap. */
static void test_sign_long(void **state)
{
    (void)state;
    static const size_t sizes[] = {490, 499, 500, 501, 512, 1000, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *msg = malloc(sizes[i]);
        assert_non_null(msg);
        for (size_t j = 0; j < sizes[i]; j++)
            msg[j] = (uint8_t)(j * 31 + 7);
        check_sign_verify(msg, sizes[i]);
        free(msg);
    }
}

/* With plain domain || msg, "knit-a" signing "b..." would equal "knit-ab"
 * signing "...": the signed NUL rules that out. */
static void test_domain_prefix_cannot_forge(void **state)
{
    (void)state;
    struct knit_identity a;
    assert_int_equal(knit_identity_from_seed(&a, seed_a), 0);
    uint8_t sig[KNIT_SIGNATURE_LEN];
    const uint8_t msg[] = "bcd";
    assert_int_equal(knit_sign(&a, "knit-a", msg, 3, sig), 0);
    assert_int_equal(knit_verify(&a.id, "knit-ab", msg + 1, 2, sig),
                     KNIT_E_SIGNATURE);
    knit_identity_wipe(&a);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    struct knit_identity a;
    uint8_t sig[KNIT_SIGNATURE_LEN] = {0};
    const uint8_t msg[4] = {1, 2, 3, 4};
    assert_int_equal(knit_identity_from_seed(NULL, seed_a), KNIT_E_INVAL);
    assert_int_equal(knit_identity_from_seed(&a, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_identity_from_seed(&a, seed_a), 0);
    assert_int_equal(knit_sign(&a, NULL, msg, 4, sig), KNIT_E_INVAL);
    assert_int_equal(knit_sign(&a, DOMAIN, NULL, 4, sig), KNIT_E_INVAL);
    assert_int_equal(knit_verify(&a.id, NULL, msg, 4, sig), KNIT_E_INVAL);
    assert_int_equal(knit_verify(NULL, DOMAIN, msg, 4, sig), KNIT_E_INVAL);
    knit_identity_wipe(&a);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_seed_matches_libsodium),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_sign_short),
        cmocka_unit_test(test_domain_prefix_cannot_forge),
        cmocka_unit_test(test_sign_empty),
        cmocka_unit_test(test_sign_long),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
