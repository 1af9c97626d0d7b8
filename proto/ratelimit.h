/* Per-source rate limit for handshake initiations, in the manner of
 * WireGuard's ratelimiter: each source IP (each /64 for IPv6, which hands
 * out whole /64s) gets a token bucket of `burst` handshakes that refills at
 * `per_second`. It bounds the public-key work one address can cost us; the
 * cookie (cookie.h) is what proves the address real.
 *
 * The session layer asks knit_ratelimit_allow() for every initiation it is
 * about to process under load. Fixed memory: a hash table of
 * KNIT_RATELIMIT_SLOTS entries (or a chosen number, knit_ratelimit_table)
 * keyed by SipHash under a secret key, so no
 * sender can aim collisions, with a few probes per lookup. When all probed
 * slots are taken, a full bucket is recycled first (a new one is full too,
 * so nothing is lost), else the one with the least time left to refill.
 * Each bucket is one number (GCRA): the time at which it will be full. */
#ifndef KNIT_RATELIMIT_H
#define KNIT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_RATELIMIT_SLOTS 4096        /* a power of two */
#define KNIT_RATELIMIT_PROBES 8
#define KNIT_RATELIMIT_DEFAULT_RATE 20   /* handshakes per second */
#define KNIT_RATELIMIT_DEFAULT_BURST 5
#define KNIT_RATELIMIT_MAX_SLOTS (UINT32_C(1) << 24)   /* 256 MiB */

struct knit_ratelimit_slot {
    uint64_t tag;     /* keyed hash of the source; 0 = empty */
    uint64_t full_at; /* µs at which the bucket is full again */
};

/* 64 KiB: embed it in a long-lived object, not on the stack. */
struct knit_ratelimit {
    uint8_t key[16];
    uint64_t interval;   /* µs one handshake costs */
    uint64_t tolerance;  /* how far full_at may run ahead of now */
    struct knit_ratelimit_slot slots[KNIT_RATELIMIT_SLOTS];
};

/* key: 16 random bytes. per_second or burst 0 means the default. */
void knit_ratelimit_init(struct knit_ratelimit *rl, const uint8_t key[16],
                         uint32_t per_second, uint32_t burst);
/* True if one more handshake from src may be processed now (and counts it).
 * False when over the limit, or for a src that is not IPv4 or IPv6. */
bool knit_ratelimit_allow(struct knit_ratelimit *rl,
                          const struct knit_addr *src, uint64_t now);

/* The same limiter with a table of any size, on the heap: a node picks
 * its size (node.h, handshake_ratelimit_slots). A smaller table never
 * refuses more handshakes, since a recycled bucket starts full; it only
 * remembers fewer sources at once, so a flood from many addresses gets
 * through sooner. 16 bytes per slot. */
struct knit_ratelimit_table;

/* slots: rounded up to a power of two, at least KNIT_RATELIMIT_PROBES; 0
 * means KNIT_RATELIMIT_SLOTS. KNIT_E_INVAL (NULL out or key, slots over
 * KNIT_RATELIMIT_MAX_SLOTS), KNIT_E_NOMEM. */
int knit_ratelimit_table_new(struct knit_ratelimit_table **out,
                             uint32_t slots, const uint8_t key[16],
                             uint32_t per_second, uint32_t burst);
void knit_ratelimit_table_free(struct knit_ratelimit_table *t);
bool knit_ratelimit_table_allow(struct knit_ratelimit_table *t,
                                const struct knit_addr *src, uint64_t now);
/* Bytes it holds (for memory accounting). */
size_t knit_ratelimit_table_memory(const struct knit_ratelimit_table *t);

#endif
