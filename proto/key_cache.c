#include "proto/key_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "transport/error.h"

struct key_pair {
    bool used;
    uint8_t ed[32];
    uint8_t x[32];
};

struct knit_key_cache {
    uint8_t key[crypto_shorthash_KEYBYTES];
    uint32_t set_mask;
    uint64_t hits, misses;
    struct key_pair pairs[];         /* sets * WAYS */
};

int knit_key_cache_new(struct knit_key_cache **out, uint32_t slots,
                       const uint8_t key[16])
{
    if (!out || !key || slots == 0 || slots > KNIT_KEY_CACHE_MAX_SLOTS)
        return KNIT_E_INVAL;
    uint32_t n = KNIT_KEY_CACHE_WAYS;
    while (n < slots)
        n *= 2;
    struct knit_key_cache *c = calloc(1, sizeof *c + n * sizeof c->pairs[0]);
    if (!c)
        return KNIT_E_NOMEM;
    memcpy(c->key, key, sizeof c->key);
    c->set_mask = n / KNIT_KEY_CACHE_WAYS - 1;
    *out = c;
    return KNIT_OK;
}

void knit_key_cache_free(struct knit_key_cache *c)
{
    free(c);
}

int knit_key_cache_convert(struct knit_key_cache *c, uint8_t x[32],
                           const uint8_t ed[32])
{
    struct key_pair *set = NULL;
    uint64_t h = 0;
    if (c) {
        uint8_t hash[crypto_shorthash_BYTES];
        crypto_shorthash(hash, ed, 32, c->key);
        memcpy(&h, hash, sizeof h);
        set = &c->pairs[(size_t)(h & c->set_mask) * KNIT_KEY_CACHE_WAYS];
        for (int w = 0; w < KNIT_KEY_CACHE_WAYS; w++)
            if (set[w].used && memcmp(set[w].ed, ed, 32) == 0) {
                memcpy(x, set[w].x, 32);
                c->hits++;
                return KNIT_OK;
            }
        c->misses++;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(x, ed) != 0)
        return KNIT_E_KEY_MISMATCH;
    if (set) {
        int way = (int)((h >> 32) % KNIT_KEY_CACHE_WAYS);
        for (int w = 0; w < KNIT_KEY_CACHE_WAYS; w++)
            if (!set[w].used) {
                way = w;
                break;
            }
        set[way].used = true;
        memcpy(set[way].ed, ed, 32);
        memcpy(set[way].x, x, 32);
    }
    return KNIT_OK;
}

void knit_key_cache_stats(const struct knit_key_cache *c, uint64_t *hits,
                          uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}
