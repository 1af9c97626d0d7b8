/* The transport keys of one completed handshake, and the data packets they
 * seal and open:
 *
 *   data (type 4): 4 | 000 | receiver index (4, LE) | counter (8, LE) |
 *                  ChaCha20-Poly1305(frames), the 16-byte header as AD
 *
 * The counter is the conn's packet number (proto/conn.h); it never repeats
 * under one key. Received counters pass a sliding replay window
 * (proto/replay.h) before the work of decrypting and are recorded only
 * after the packet authenticates, so forged packets cannot move it.
 * Owned by proto/session.c, which keeps up to three keypairs per peer
 * (previous, current, next) while a rekey is under way. */
#ifndef KNIT_KEYPAIR_H
#define KNIT_KEYPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/noise.h"
#include "proto/replay.h"

#define KNIT_DATA_HEADER 16
#define KNIT_DATA_OVERHEAD (KNIT_DATA_HEADER + KNIT_NOISE_TAG_LEN)

struct knit_keypair {
    uint8_t send_key[KNIT_NOISE_KEY_LEN];
    uint8_t recv_key[KNIT_NOISE_KEY_LEN];
    uint32_t local_index;     /* what the peer puts in its packets to us */
    uint32_t remote_index;    /* what we put in ours */
    uint64_t created;         /* when the handshake completed */
    uint64_t packets_sent;
    bool initiator;
    /* A responder's keypair is confirmed by the first data packet that
     * opens with it; until then it sends nothing (the initiator may never
     * have received the response). */
    bool confirmed;
    struct knit_replay replay;
};

/* Takes the keys out of a finished handshake (wiping it). */
int knit_keypair_from_handshake(struct knit_keypair *kp,
                                struct knit_noise_handshake *hs,
                                bool initiator, uint32_t local_index,
                                uint32_t remote_index, uint64_t now);
void knit_keypair_wipe(struct knit_keypair *kp);

/* Writes a data packet with the given counter; cap >= len +
 * KNIT_DATA_OVERHEAD. */
int knit_keypair_seal(struct knit_keypair *kp, uint64_t counter,
                      const uint8_t *plain, size_t len, uint8_t *out,
                      size_t cap, size_t *out_len);
/* Opens a data packet addressed to this keypair. KNIT_E_DUPLICATE for a
 * replayed or too old counter, KNIT_E_DECRYPT for a forgery. */
int knit_keypair_open(struct knit_keypair *kp, const uint8_t *pkt, size_t len,
                      uint8_t *plain, size_t cap, size_t *plain_len,
                      uint64_t *counter);

#endif
