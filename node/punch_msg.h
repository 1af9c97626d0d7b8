/* The messages of /knit/punch/1 and the raw PUNCH probe packet.
 *
 * Two peers whose session runs over a relay circuit coordinate a hole
 * punch on a stream of that session (DESIGN.md §4). The peer with the
 * lower peer ID opens a stream named KNIT_PUNCH_PROTOCOL per attempt and
 * writes CONNECT; the other answers with its own CONNECT on the same
 * stream; the opener, having timed the round trip, writes SYNC and starts
 * probing half a round trip later, the other side as SYNC arrives. Both
 * then finish the stream.
 *
 *   type 1 CONNECT, fields (msgpack map keys), all required:
 *   1 attempt    uint, 1..2^32-1: the opener's attempt number (the answer
 *                repeats it)
 *   2 token      bin, exactly KNIT_PUNCH_TOKEN_LEN bytes: probes sent TO
 *                the writer of this CONNECT carry it, so the writer knows
 *                them for this session's
 *   3 addrs      array of 0..KNIT_PUNCH_MAX_ADDRS bin: binary multiaddrs,
 *                each a bare UDP endpoint (/ip4|ip6/.../udp/<port>, port
 *                1..65535, IP not unspecified): the writer's candidates
 *                (observed public address, mapped address, LAN addresses)
 *   4 mapping    uint 0..3 (enum knit_nat_mapping) of the writer's NAT
 *   5 filtering  uint 0..3 (enum knit_nat_filtering)
 *   6 reach      uint 0..2 (enum knit_reachability)
 *
 *   type 2 SYNC, fields:
 *   1 attempt    uint, 1..2^32-1
 *
 * The PUNCH packet, outside sessions (like AutoNAT's PROBE):
 *   7 | 0 0 0 | token (16)      20 bytes
 * It only says "this (socket, source) reaches me"; the session then proves
 * the path with its own authenticated PATH_CHALLENGE before data moves. */
#ifndef KNIT_PUNCH_MSG_H
#define KNIT_PUNCH_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_PUNCH_PROTOCOL "/knit/punch/1"
#define KNIT_PUNCH_CONNECT 1
#define KNIT_PUNCH_SYNC 2
#define KNIT_PUNCH_TOKEN_LEN 16
#define KNIT_PUNCH_MAX_ADDRS 8
/* Body limit: CONNECT with 8 IPv6 endpoints is about 230 bytes. */
#define KNIT_PUNCH_MAX_MESSAGE 512

#define KNIT_PACKET_PUNCH 7
#define KNIT_PUNCH_PACKET_LEN 20

struct knit_punch_msg {
    uint8_t type;                          /* KNIT_PUNCH_CONNECT or _SYNC */
    uint32_t attempt;
    /* CONNECT only: */
    uint8_t token[KNIT_PUNCH_TOKEN_LEN];
    uint8_t addr_count;
    struct knit_addr addrs[KNIT_PUNCH_MAX_ADDRS];   /* UDP endpoints */
    uint8_t mapping, filtering, reach;
};

/* Writes m as one frame (length header and body) into buf. KNIT_E_INVAL
 * for a message the decoder would refuse (unknown type, attempt 0, more
 * than KNIT_PUNCH_MAX_ADDRS addresses, an address that is not an IPv4 or
 * IPv6 endpoint with a port, or is unspecified, an enum out of range);
 * KNIT_E_NO_SPACE if cap is too small (KNIT_MSG_HEADER_LEN +
 * KNIT_PUNCH_MAX_MESSAGE always suffices). */
int knit_punch_encode(const struct knit_punch_msg *m, uint8_t *buf,
                      size_t cap, size_t *frame_len);

/* Decodes one body (after knit_msg_deframe). Errors: those of
 * knit_msg_decode_typed (bad msgpack, wrong types, lengths, counts,
 * unknown fields, trailing bytes, KNIT_E_TOO_BIG over
 * KNIT_PUNCH_MAX_MESSAGE, KNIT_E_UNSUPPORTED for another type), multiaddr
 * errors, KNIT_E_SHAPE for an address that is not a bare UDP endpoint,
 * KNIT_E_BAD_IP for an unspecified IP, KNIT_E_BAD_PORT for port 0.
 * out is cleared on error. */
int knit_punch_decode(const uint8_t *body, size_t len,
                      struct knit_punch_msg *out);

/* The PUNCH packet carrying token. */
void knit_punch_packet_build(const uint8_t token[KNIT_PUNCH_TOKEN_LEN],
                             uint8_t out[KNIT_PUNCH_PACKET_LEN]);
/* Reads a PUNCH packet: KNIT_E_LENGTH unless exactly KNIT_PUNCH_PACKET_LEN
 * bytes, KNIT_E_UNSUPPORTED for another first byte, KNIT_E_MALFORMED for
 * non-zero reserved bytes. */
int knit_punch_packet_parse(const uint8_t *pkt, size_t len,
                            uint8_t token[KNIT_PUNCH_TOKEN_LEN]);

#endif
