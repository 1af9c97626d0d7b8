/* node/bench_stream.c: the /knit/bench/1 data stream, the digests of both
 * ends, the service's answer and the sender's check of it; a transfer that
 * loses, adds, alters or reorders bytes, or an answer cut short, fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/bench_stream.h"
#include "transport/error.h"

#define SIZE 200000

/* Seed 0: the first outputs of the reference SplitMix64 (Vigna's
 * splitmix64.c), each least significant byte first, here from offset 3. */
static void test_data_is_splitmix64(void **state)
{
    (void)state;
    static const uint64_t words[] = {0xe220a8397b1dcdafull,
                                     0x6e789e6aa1b965f4ull,
                                     0x06c45d188009454full};
    uint8_t want[24], out[21];
    for (int i = 0; i < 24; i++)
        want[i] = (uint8_t)(words[i / 8] >> (8 * (i % 8)));
    knit_bench_data(0, 0, out, 8);
    assert_memory_equal(out, want, 8);
    knit_bench_data(0, 3, out, sizeof out);
    assert_memory_equal(out, want + 3, sizeof out);
}

/* Made in pieces of any size from any offset, the stream is the same. */
static void test_data_in_pieces(void **state)
{
    (void)state;
    uint64_t seed = 0x0123456789abcdefull;
    uint8_t *whole = malloc(SIZE), *pieces = malloc(SIZE);
    assert_non_null(whole);
    assert_non_null(pieces);
    knit_bench_data(seed, 0, whole, SIZE);
    static const size_t sizes[] = {1, 63, 64, 65, 0, 3, 4096, 100, 65536, 7};
    size_t off = 0;
    for (size_t i = 0; off < SIZE; i++) {
        size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
        if (n > SIZE - off)
            n = SIZE - off;
        memset(pieces + off, 0xAA, n);
        knit_bench_data(seed, off, pieces + off, n);
        off += n;
    }
    assert_memory_equal(whole, pieces, SIZE);
    /* Another seed, another stream. */
    knit_bench_data(seed + 1, 0, pieces, SIZE);
    assert_memory_not_equal(whole, pieces, 64);
    free(whole);
    free(pieces);
}

/* The digest is BLAKE2b-256 of the bytes and their count, however they
 * were cut into pieces. */
static void test_digest(void **state)
{
    (void)state;
    struct knit_bench_digest d;
    uint8_t hash[KNIT_BENCH_HASH_LEN], want[KNIT_BENCH_HASH_LEN];
    char hex[2 * KNIT_BENCH_HASH_LEN + 1];
    uint64_t count = 99;
    knit_bench_digest_init(&d);
    knit_bench_digest_add(&d, NULL, 0);
    knit_bench_digest_final(&d, hash, &count);
    assert_int_equal(count, 0);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    assert_string_equal(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f77"
                             "87faab45cdf12fe3a8");   /* BLAKE2b-256("") */

    uint8_t *data = malloc(SIZE);
    assert_non_null(data);
    knit_bench_data(1, 0, data, SIZE);
    crypto_generichash(want, sizeof want, data, SIZE, NULL, 0);
    knit_bench_digest_init(&d);
    for (size_t off = 0, n = 1; off < SIZE; off += n, n = n * 3 + 1)
        knit_bench_digest_add(&d, data + off,
                              n < SIZE - off ? n : SIZE - off);
    knit_bench_digest_final(&d, hash, &count);
    assert_int_equal(count, SIZE);
    assert_memory_equal(hash, want, sizeof want);
    free(data);
}

static void test_answer_round_trip(void **state)
{
    (void)state;
    uint8_t hash[KNIT_BENCH_HASH_LEN], back[KNIT_BENCH_HASH_LEN];
    uint8_t answer[KNIT_BENCH_ANSWER_LEN];
    for (int i = 0; i < KNIT_BENCH_HASH_LEN; i++)
        hash[i] = (uint8_t)(i * 7 + 1);
    knit_bench_answer_encode(0x0102030405060708ull, hash, answer);
    /* The count first, big-endian, then the hash. */
    static const uint8_t count_be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(answer, count_be, 8);
    assert_memory_equal(answer + 8, hash, sizeof hash);
    uint64_t count = 0;
    assert_int_equal(knit_bench_answer_parse(answer, sizeof answer, &count,
                                             back),
                     KNIT_OK);
    assert_true(count == 0x0102030405060708ull);
    assert_memory_equal(back, hash, sizeof hash);
}

/* An answer cut short (an older knit answers the 8-byte count alone) or
 * running long is refused, never read past. */
static void test_answer_wrong_length(void **state)
{
    (void)state;
    uint8_t buf[KNIT_BENCH_ANSWER_LEN + 1] = {0}, hash[KNIT_BENCH_HASH_LEN];
    uint64_t count = 77;
    assert_int_equal(knit_bench_answer_parse(buf, 0, &count, hash),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_bench_answer_parse(buf, 8, &count, hash),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_bench_answer_parse(buf, KNIT_BENCH_ANSWER_LEN - 1,
                                             &count, hash),
                     KNIT_E_TRUNCATED);
    assert_int_equal(knit_bench_answer_parse(buf, sizeof buf, &count, hash),
                     KNIT_E_TRAILING);
    assert_int_equal(count, 77);   /* untouched */
}

/* A transfer end to end without the network: the sender makes the stream
 * in chunks and digests what it sends, the service digests what it reads
 * in other pieces and answers, the sender checks the answer. `mangle`
 * changes the bytes on their way; the verdict comes back. */
typedef size_t (*mangle_fn)(uint8_t *data, size_t len);

static const char *transfer(mangle_fn mangle)
{
    uint64_t seed;
    randombytes_buf(&seed, sizeof seed);
    uint8_t *wire = malloc(SIZE + 1);
    assert_non_null(wire);
    struct knit_bench_digest sender, service;
    knit_bench_digest_init(&sender);
    for (size_t off = 0; off < SIZE; off += 65536) {
        size_t n = SIZE - off < 65536 ? SIZE - off : 65536;
        knit_bench_data(seed, off, wire + off, n);
        knit_bench_digest_add(&sender, wire + off, n);
    }
    size_t len = mangle ? mangle(wire, SIZE) : SIZE;
    knit_bench_digest_init(&service);
    for (size_t off = 0; off < len; off += 16384)
        knit_bench_digest_add(&service, wire + off,
                              len - off < 16384 ? len - off : 16384);
    free(wire);

    uint8_t hash[KNIT_BENCH_HASH_LEN], answer[KNIT_BENCH_ANSWER_LEN];
    uint64_t count;
    knit_bench_digest_final(&service, hash, &count);
    knit_bench_answer_encode(count, hash, answer);

    uint8_t sent_hash[KNIT_BENCH_HASH_LEN], peer_hash[KNIT_BENCH_HASH_LEN];
    uint64_t sent, peer_count;
    knit_bench_digest_final(&sender, sent_hash, &sent);
    assert_int_equal(sent, SIZE);
    assert_int_equal(knit_bench_answer_parse(answer, sizeof answer,
                                             &peer_count, peer_hash),
                     KNIT_OK);
    return knit_bench_verify(sent, sent_hash, peer_count, peer_hash);
}

static size_t flip_one_bit(uint8_t *data, size_t len)
{
    data[len / 2] ^= 0x10;
    return len;
}

static size_t drop_last_byte(uint8_t *data, size_t len)
{
    (void)data;
    return len - 1;
}

static size_t add_a_byte(uint8_t *data, size_t len)
{
    data[len] = 0;
    return len + 1;
}

/* Two equal-sized pieces arrive in the wrong order: the count is right,
 * only the hash can tell. */
static size_t swap_pieces(uint8_t *data, size_t len)
{
    uint8_t tmp[1000];
    memcpy(tmp, data, sizeof tmp);
    memcpy(data, data + 5000, sizeof tmp);
    memcpy(data + 5000, tmp, sizeof tmp);
    return len;
}

static void test_transfer_intact(void **state)
{
    (void)state;
    assert_null(transfer(NULL));
}

static void test_transfer_damaged(void **state)
{
    (void)state;
    const char *why = transfer(flip_one_bit);
    assert_non_null(why);
    assert_non_null(strstr(why, "altered"));
    why = transfer(swap_pieces);
    assert_non_null(why);
    assert_non_null(strstr(why, "altered"));
    why = transfer(drop_last_byte);
    assert_non_null(why);
    assert_non_null(strstr(why, "fewer bytes"));
    why = transfer(add_a_byte);
    assert_non_null(why);
    assert_non_null(strstr(why, "more bytes"));
}

/* Every byte of the hash counts, and the count alone fails too. */
static void test_verify_each_field(void **state)
{
    (void)state;
    uint8_t a[KNIT_BENCH_HASH_LEN], b[KNIT_BENCH_HASH_LEN];
    randombytes_buf(a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_null(knit_bench_verify(1000, a, 1000, b));
    assert_non_null(knit_bench_verify(1000, a, 999, b));
    assert_non_null(knit_bench_verify(1000, a, 1001, b));
    assert_non_null(knit_bench_verify(0, a, UINT64_MAX, b));
    for (int i = 0; i < KNIT_BENCH_HASH_LEN; i++) {
        b[i] ^= 1;
        assert_non_null(knit_bench_verify(1000, a, 1000, b));
        b[i] ^= 1;
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_is_splitmix64),
        cmocka_unit_test(test_data_in_pieces),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_answer_round_trip),
        cmocka_unit_test(test_answer_wrong_length),
        cmocka_unit_test(test_transfer_intact),
        cmocka_unit_test(test_transfer_damaged),
        cmocka_unit_test(test_verify_each_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
