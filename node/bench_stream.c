#include "node/bench_stream.h"

#include <endian.h>
#include <string.h>

#include "transport/error.h"

/* SplitMix64's output function (Steele, Lea and Flood 2014): word i of the
 * stream is mix(seed + (i + 1) * golden), so any offset is reached at once
 * and a byte costs a small fraction of what hashing it does. */
static uint64_t word_at(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Bytes [skip, skip + len) of word i, least significant first. */
static void put_part(uint64_t seed, uint64_t i, size_t skip, uint8_t *out,
                     size_t len)
{
    uint64_t w = word_at(seed, i);
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(w >> (8 * (skip + k)));
}

void knit_bench_data(uint64_t seed, uint64_t offset, uint8_t *out,
                     size_t len)
{
    uint64_t word = offset / 8;
    size_t skip = (size_t)(offset % 8);
    if (skip && len) {
        size_t n = 8 - skip < len ? 8 - skip : len;
        put_part(seed, word++, skip, out, n);
        out += n;
        len -= n;
    }
    for (; len >= 8; out += 8, len -= 8) {
        /* One store per word: byte by byte ran at a tenth of the speed. */
        uint64_t w = htole64(word_at(seed, word++));
        memcpy(out, &w, 8);
    }
    if (len)
        put_part(seed, word, 0, out, len);
}

void knit_bench_digest_init(struct knit_bench_digest *d)
{
    crypto_generichash_init(&d->hash, NULL, 0, KNIT_BENCH_HASH_LEN);
    d->count = 0;
}

void knit_bench_digest_add(struct knit_bench_digest *d, const uint8_t *p,
                           size_t len)
{
    if (len == 0)
        return;
    crypto_generichash_update(&d->hash, p, len);
    d->count += len;
}

void knit_bench_digest_final(struct knit_bench_digest *d,
                             uint8_t hash[KNIT_BENCH_HASH_LEN],
                             uint64_t *count)
{
    crypto_generichash_final(&d->hash, hash, KNIT_BENCH_HASH_LEN);
    *count = d->count;
}

void knit_bench_answer_encode(uint64_t count,
                              const uint8_t hash[KNIT_BENCH_HASH_LEN],
                              uint8_t out[KNIT_BENCH_ANSWER_LEN])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(count >> (56 - 8 * i));
    memcpy(out + 8, hash, KNIT_BENCH_HASH_LEN);
}

int knit_bench_answer_parse(const uint8_t *answer, size_t len,
                            uint64_t *count,
                            uint8_t hash[KNIT_BENCH_HASH_LEN])
{
    if (len < KNIT_BENCH_ANSWER_LEN)
        return KNIT_E_TRUNCATED;
    if (len > KNIT_BENCH_ANSWER_LEN)
        return KNIT_E_TRAILING;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | answer[i];
    *count = v;
    memcpy(hash, answer + 8, KNIT_BENCH_HASH_LEN);
    return KNIT_OK;
}

const char *knit_bench_verify(uint64_t sent,
                              const uint8_t sent_hash[KNIT_BENCH_HASH_LEN],
                              uint64_t peer_count,
                              const uint8_t peer_hash[KNIT_BENCH_HASH_LEN])
{
    if (peer_count < sent)
        return "the peer read fewer bytes than were sent: data was lost";
    if (peer_count > sent)
        return "the peer read more bytes than were sent: data was "
               "duplicated or came from elsewhere";
    if (memcmp(sent_hash, peer_hash, KNIT_BENCH_HASH_LEN) != 0)
        return "the peer's BLAKE2b-256 of the data differs from the "
               "sender's: the data arrived altered";
    return NULL;
}
