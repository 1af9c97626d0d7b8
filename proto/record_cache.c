#include "proto/record_cache.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "transport/error.h"

struct knit_record_cache {
    uint8_t key[32];
    uint32_t set_mask;               /* sets - 1 */
    uint64_t hits, misses;
    uint8_t tags[][KNIT_RECORD_CACHE_TAG_LEN];   /* sets * WAYS */
};

int knit_record_cache_new(struct knit_record_cache **out, uint32_t slots,
                          const uint8_t key[32])
{
    if (!out || !key || slots > KNIT_RECORD_CACHE_MAX_SLOTS)
        return KNIT_E_INVAL;
    uint32_t n = slots ? KNIT_RECORD_CACHE_WAYS
                       : KNIT_RECORD_CACHE_DEFAULT_SLOTS;
    while (n < slots)
        n *= 2;
    struct knit_record_cache *c =
        calloc(1, sizeof *c + (size_t)n * KNIT_RECORD_CACHE_TAG_LEN);
    if (!c)
        return KNIT_E_NOMEM;
    memcpy(c->key, key, sizeof c->key);
    c->set_mask = n / KNIT_RECORD_CACHE_WAYS - 1;
    *out = c;
    return KNIT_OK;
}

void knit_record_cache_free(struct knit_record_cache *c)
{
    if (!c)
        return;
    sodium_memzero(c->key, sizeof c->key);
    free(c);
}

/* The first slot of the set a tag belongs to. */
static uint8_t (*set_of(struct knit_record_cache *c,
                        const uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN]))
    [KNIT_RECORD_CACHE_TAG_LEN]
{
    uint32_t h;
    memcpy(&h, tag, sizeof h);
    return &c->tags[(size_t)(h & c->set_mask) * KNIT_RECORD_CACHE_WAYS];
}

bool knit_record_cache_lookup(struct knit_record_cache *c, const uint8_t *in,
                              size_t len,
                              uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN])
{
    crypto_generichash(tag, KNIT_RECORD_CACHE_TAG_LEN, in, len, c->key,
                       sizeof c->key);
    uint8_t(*set)[KNIT_RECORD_CACHE_TAG_LEN] = set_of(c, tag);
    for (int w = 0; w < KNIT_RECORD_CACHE_WAYS; w++)
        if (memcmp(set[w], tag, KNIT_RECORD_CACHE_TAG_LEN) == 0) {
            c->hits++;
            return true;
        }
    c->misses++;
    return false;
}

void knit_record_cache_add(struct knit_record_cache *c,
                           const uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN])
{
    /* An empty way if the set has one, else the one the tag's own (keyed,
     * so unforeseeable) bytes pick: no bookkeeping. */
    static const uint8_t empty[KNIT_RECORD_CACHE_TAG_LEN];
    uint8_t(*set)[KNIT_RECORD_CACHE_TAG_LEN] = set_of(c, tag);
    int way = tag[4] % KNIT_RECORD_CACHE_WAYS;
    for (int w = 0; w < KNIT_RECORD_CACHE_WAYS; w++)
        if (memcmp(set[w], empty, sizeof empty) == 0) {
            way = w;
            break;
        }
    memcpy(set[way], tag, KNIT_RECORD_CACHE_TAG_LEN);
}

void knit_record_cache_stats(const struct knit_record_cache *c,
                             uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

size_t knit_record_cache_memory(const struct knit_record_cache *c)
{
    return sizeof *c + ((size_t)c->set_mask + 1) * KNIT_RECORD_CACHE_WAYS *
                           KNIT_RECORD_CACHE_TAG_LEN;
}
