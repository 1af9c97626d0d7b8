/* The data and the answer of /knit/bench/1, without any I/O, shared by the
 * sender (node/daemon_ops.c), the service (node/services.c) and the CLI's
 * check (node/cli_ping.c).
 *
 * The sender sends a pseudo-random stream from a seed chosen at random for
 * the run (SplitMix64, far cheaper than the hash; nothing here needs to be
 * secret, the session encrypts anyway): never the same twice, so data of
 * another run, or a repeated or misplaced piece, cannot pass for the right
 * bytes. Both ends feed what goes through the stream into a
 * knit_bench_digest, a count and a BLAKE2b-256 updated as the bytes pass,
 * so memory stays bounded at any size. After the sender's FIN the service
 * answers
 *     count (8 bytes, big-endian) || BLAKE2b-256 of the bytes (32 bytes)
 * and FIN, and the sender compares that with its own digest. */
#ifndef KNIT_BENCH_STREAM_H
#define KNIT_BENCH_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define KNIT_BENCH_HASH_LEN 32
#define KNIT_BENCH_ANSWER_LEN (8 + KNIT_BENCH_HASH_LEN)

/* Writes bytes [offset, offset + len) of the data stream of seed: byte j
 * is byte j % 8 (least significant first) of SplitMix64's output number
 * j / 8 + 1 from state seed. Any offset works; a whole stream made in
 * pieces equals one made at once. */
void knit_bench_data(uint64_t seed, uint64_t offset, uint8_t *out,
                     size_t len);

/* A count and a running BLAKE2b-256 of the bytes seen. The hash state
 * must be 64-byte aligned (libsodium's type says so): allocate a struct
 * holding one with aligned_alloc(), or keep it on the stack. */
struct knit_bench_digest {
    crypto_generichash_state hash;
    uint64_t count;
};

void knit_bench_digest_init(struct knit_bench_digest *d);
void knit_bench_digest_add(struct knit_bench_digest *d, const uint8_t *p,
                           size_t len);
/* Ends the digest: the 32-byte hash, and its count in *count. */
void knit_bench_digest_final(struct knit_bench_digest *d,
                             uint8_t hash[KNIT_BENCH_HASH_LEN],
                             uint64_t *count);

/* The service's answer for a finished digest. */
void knit_bench_answer_encode(uint64_t count,
                              const uint8_t hash[KNIT_BENCH_HASH_LEN],
                              uint8_t out[KNIT_BENCH_ANSWER_LEN]);
/* Reads an answer of len bytes: KNIT_OK, KNIT_E_TRUNCATED when it is
 * shorter than KNIT_BENCH_ANSWER_LEN (an older knit answered the count
 * alone, in 8 bytes), KNIT_E_TRAILING when it is longer. */
int knit_bench_answer_parse(const uint8_t *answer, size_t len,
                            uint64_t *count,
                            uint8_t hash[KNIT_BENCH_HASH_LEN]);

/* Compares what the peer read with what was sent: NULL when both the count
 * and the hash agree, else a sentence saying what differs. */
const char *knit_bench_verify(uint64_t sent,
                              const uint8_t sent_hash[KNIT_BENCH_HASH_LEN],
                              uint64_t peer_count,
                              const uint8_t peer_hash[KNIT_BENCH_HASH_LEN]);

#endif
