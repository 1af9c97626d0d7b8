/* The identify message of /knit/id/1: what a peer tells us about itself and
 * about us.
 *
 * After every session comes up each side opens a stream named
 * KNIT_IDENTIFY_PROTOCOL, writes one IDENTIFY message (proto/msg.h frame)
 * and finishes. When its addresses change a node sends it again with
 * push = true (identify push).
 *
 *   type 1 IDENTIFY, fields (msgpack map keys):
 *   1 observed   bin, optional: binary multiaddr of the UDP endpoint the
 *                sender sees us at (absent over a relay)
 *   2 listen     array of 0..KNIT_RECORD_MAX_ADDRS bin: binary multiaddrs
 *                the sender is reachable at (direct or /p2p-circuit)
 *   3 protocols  array of 0..KNIT_IDENTIFY_MAX_PROTOCOLS str, 1..64 bytes
 *   4 agent      str, 1..64 bytes
 *   5 record     bin, optional, 1..KNIT_RECORD_MAX_BYTES: the sender's
 *                signed peer record envelope
 *   6 push       bool, optional (absent = false)
 *   7 alt_port   uint, optional, 1..65535: the port of the sender's
 *                alternate socket, which answers AutoNAT observation probes
 *
 * listen, protocols and agent are required. The record is only bounded
 * here; verifying it (and that it is the sender's) is the node's job. */
#ifndef KNIT_IDENTIFY_MSG_H
#define KNIT_IDENTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/multiaddr.h"
#include "proto/record.h"
#include "transport/io.h"

#define KNIT_IDENTIFY_PROTOCOL "/knit/id/1"
#define KNIT_IDENTIFY_TYPE 1
#define KNIT_IDENTIFY_MAX_PROTOCOLS 32
#define KNIT_IDENTIFY_MAX_PROTOCOL_LEN 64
#define KNIT_IDENTIFY_MAX_AGENT_LEN 64
/* Body limit. The fullest message (16 circuit addresses of 105 bytes, 32
 * protocol names of 64 bytes, a 64-byte agent and a 2048-byte record) takes
 * about 6 KiB, so 4 KiB would refuse some valid messages; 8 KiB holds them
 * all (a static assertion in identify_msg.c checks it). */
#define KNIT_IDENTIFY_MAX_MESSAGE (8 * 1024)

struct knit_identify_msg {
    bool push;
    bool has_observed;
    struct knit_addr observed;            /* a UDP endpoint */
    uint8_t listen_count;
    struct knit_multiaddr listen[KNIT_RECORD_MAX_ADDRS];
    uint16_t alt_port;                    /* 0 = none */
    uint8_t protocol_count;
    const char *protocols[KNIT_IDENTIFY_MAX_PROTOCOLS];  /* not NUL-ended */
    uint8_t protocol_len[KNIT_IDENTIFY_MAX_PROTOCOLS];
    const char *agent;                    /* not NUL-terminated */
    size_t agent_len;
    const uint8_t *record;                /* NULL / 0 = none */
    size_t record_len;
};

/* Writes m as one frame (length header and body) into buf. KNIT_E_INVAL for
 * a message the decoder would refuse: an observed address that is not an
 * IPv4/IPv6 endpoint with a port (or is unspecified), more than
 * KNIT_RECORD_MAX_ADDRS listen addresses or one that is a bare /p2p/<id>,
 * more than KNIT_IDENTIFY_MAX_PROTOCOLS protocols, a protocol name or agent
 * of 0 or over 64 bytes or not UTF-8, a record over KNIT_RECORD_MAX_BYTES or
 * with a NULL pointer; KNIT_E_NO_SPACE if cap is too small (a buffer of
 * KNIT_MSG_HEADER_LEN + KNIT_IDENTIFY_MAX_MESSAGE bytes always suffices).
 * Multiaddr errors for a listen address a hand-built struct got wrong. */
int knit_identify_encode(const struct knit_identify_msg *m, uint8_t *buf,
                         size_t cap, size_t *frame_len);

/* Decodes one body (after knit_msg_deframe). Strings and the record point
 * into body, which must outlive out. Errors: those of knit_msg_decode (bad
 * msgpack, wrong types, lengths or counts, unknown fields, trailing bytes),
 * KNIT_E_TOO_BIG for a body over KNIT_IDENTIFY_MAX_MESSAGE,
 * KNIT_E_UNSUPPORTED for a type other than IDENTIFY, multiaddr errors,
 * KNIT_E_SHAPE for an observed address that is not a bare UDP endpoint or a
 * listen address that is a bare /p2p/<id>, KNIT_E_BAD_IP for an unspecified
 * observed IP, KNIT_E_BAD_PORT for an observed port or alt_port of 0.
 * out is cleared on error. */
int knit_identify_decode(const uint8_t *body, size_t len,
                         struct knit_identify_msg *out);

#endif
