/* Handshake packets: Noise IK wrapped in knit's datagram layout.
 *
 *   initiation (type 1): 1 | 000 | sender index (4, LE) | Noise message 1 |
 *                        mac1 (16) | mac2 (16)
 *   response   (type 2): 2 | 000 | sender index | receiver index |
 *                        Noise message 2 | mac1 | mac2
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2b with prologue "knit/1": the initiator
 * dials a peer ID, so it knows the responder's static key and one round
 * trip sets up the session. Each Noise payload is the sender's hello
 * (proto/hello.h). mac1/mac2 are WireGuard's (proto/cookie.h): mac1 proves
 * the sender knows whom it addresses, mac2 that it holds a fresh cookie for
 * its source address when the responder is under load.
 *
 * These functions only build and parse; proto/session.c decides when. */
#ifndef KNIT_HANDSHAKE_H
#define KNIT_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/cookie.h"
#include "proto/identity.h"
#include "proto/noise.h"

#define KNIT_PACKET_INITIATION 1
#define KNIT_PACKET_RESPONSE 2
#define KNIT_PACKET_COOKIE 3
#define KNIT_PACKET_DATA 4

#define KNIT_PROLOGUE "knit/1"
#define KNIT_HANDSHAKE_MACS 32
#define KNIT_INITIATION_HEADER 8
#define KNIT_RESPONSE_HEADER 12
/* The largest handshake packet: header, Noise overhead, hello, macs. */
#define KNIT_HANDSHAKE_MAX 1280

/* Reads the receiver index of a type 2, 3 or 4 packet. */
int knit_packet_receiver_index(const uint8_t *pkt, size_t len, uint32_t *index);

/* Initiator: starts hs and writes the initiation packet. rs is derived from
 * the peer's ID; e_priv is 32 fresh random bytes. */
int knit_handshake_initiation(struct knit_noise_handshake *hs,
                              const struct knit_identity *self,
                              const struct knit_peer_id *peer,
                              const uint8_t e_priv[32], uint32_t sender_index,
                              const uint8_t *hello, size_t hello_len,
                              struct knit_cookie_maker *cookies, uint64_t now,
                              uint8_t *out, size_t cap, size_t *out_len);

/* The same towards rs, the responder's X25519 static key when the caller
 * has it already (a session converts its peer's key once). */
int knit_handshake_initiation_to(struct knit_noise_handshake *hs,
                                 const struct knit_identity *self,
                                 const uint8_t rs[32],
                                 const uint8_t e_priv[32],
                                 uint32_t sender_index, const uint8_t *hello,
                                 size_t hello_len,
                                 struct knit_cookie_maker *cookies,
                                 uint64_t now, uint8_t *out, size_t cap,
                                 size_t *out_len);

/* Responder: reads an initiation (whose macs the caller has checked). On
 * success hs is ready to write the response, *sender_index and the hello
 * (decrypted into hello_out) are the initiator's, and
 * knit_noise_remote_static(hs) is its static key. */
int knit_handshake_read_initiation(struct knit_noise_handshake *hs,
                                   const struct knit_identity *self,
                                   const uint8_t e_priv[32],
                                   const uint8_t *pkt, size_t len,
                                   uint32_t *sender_index, uint8_t *hello_out,
                                   size_t hello_cap, size_t *hello_len);

/* Responder: writes the response; cookies is keyed to the initiator. */
int knit_handshake_response(struct knit_noise_handshake *hs,
                            uint32_t sender_index, uint32_t receiver_index,
                            const uint8_t *hello, size_t hello_len,
                            struct knit_cookie_maker *cookies, uint64_t now,
                            uint8_t *out, size_t cap, size_t *out_len);

/* Initiator: reads the response to the handshake in hs (the caller found
 * hs by the response's receiver index and checked its mac1). */
int knit_handshake_read_response(struct knit_noise_handshake *hs,
                                 const uint8_t *pkt, size_t len,
                                 uint32_t *sender_index, uint8_t *hello_out,
                                 size_t hello_cap, size_t *hello_len);

#endif
