/* The hello: what each side of a handshake says about itself, carried
 * encrypted in the Noise handshake payloads (proto/handshake.h).
 *
 * A msgpack message (proto/msg.h, type 1) with:
 *   1 peer ID (32-byte Ed25519 key; must convert to the Noise static key)
 *   2 agent version (text)           3 protocols served (array of text)
 *   4 no longer sent: a signed peer record, which earlier nodes put here.
 *     It is still accepted (bounded, not verified) and ignored, so those
 *     nodes can still connect. Nothing read it: identify carries the
 *     record to whoever needs it, and checking the signature cost every
 *     handshake two Ed25519 verifications.
 *   5 instance: random per conn, so a peer that restarted is told apart
 *   from one that rekeys
 *   6 timestamp, µs since the Unix epoch: an initiation older than the last
 *     one seen from this peer is a replay and ignored
 *   7 max_data  8 stream_window  9 max_streams: what we grant the peer
 * Built and read by proto/session.c. */
#ifndef KNIT_HELLO_H
#define KNIT_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "proto/peer_id.h"

#define KNIT_HELLO_AGENT_MAX 64
#define KNIT_HELLO_MAX_PROTOCOLS 16
#define KNIT_HELLO_PROTOCOL_MAX 64
/* Keeps a handshake packet within one 1280-byte IPv6 datagram, even an
 * earlier node's hello with its record in it. */
#define KNIT_HELLO_MAX_BYTES 1100

struct knit_hello {
    struct knit_peer_id peer;
    char agent[KNIT_HELLO_AGENT_MAX + 1];
    uint8_t protocol_count;
    char protocols[KNIT_HELLO_MAX_PROTOCOLS][KNIT_HELLO_PROTOCOL_MAX + 1];
    uint64_t instance;
    uint64_t timestamp_us;
    uint64_t max_data;
    uint64_t stream_window;
    uint32_t max_streams;
};

/* Encodes the hello body (no length prefix). */
int knit_hello_encode(const struct knit_hello *h, uint8_t *out, size_t cap,
                      size_t *out_len);
/* Decodes and checks a hello body. */
int knit_hello_decode(struct knit_hello *h, const uint8_t *in, size_t len);

#endif
