/* The messages of /knit/autonat/1 and the raw PROBE and DIAL packets.
 *
 * One request per stream, one answer, like the DHT (proto/msg.h frames):
 *
 *   type  message     fields (msgpack map keys)
 *   1     OBSERVE     1 id, 2 nonce (16)               client -> server
 *   2     OBSERVED    1 id, 2 addr                     server -> client
 *   3     DIAL_BACK   1 id, 2 nonce, 3 kind (1 | 2)    client -> server
 *   4     DIAL_FOR    1 id, 2 nonce, 3 addr            server -> helper
 *   5     RESULT      1 id, 2 status (0..5)            answers DIAL_BACK
 *                                                      and DIAL_FOR
 *
 * addr: the binary multiaddr of a UDP endpoint (no /p2p, no circuit), never
 * unspecified, never port 0. After OBSERVE the client sends a PROBE packet
 * carrying the nonce to the server's alternate port and the server answers
 * OBSERVED with the source address the probe came from. DIAL_BACK asks for
 * a DIAL packet to the client's observed address from another port of the
 * server (kind 1) or, through a helper asked with DIAL_FOR, from another IP
 * (kind 2). A DIAL is never answered on the wire.
 *
 * Raw packets, outside sessions, beside types 1..4 of proto/handshake.h:
 *   PROBE  5 | 0 0 0 | nonce (16)      20 bytes
 *   DIAL   6 | 0 0 0 | nonce (16)      20 bytes */
#ifndef KNIT_AUTONAT_MSG_H
#define KNIT_AUTONAT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_AUTONAT_PROTOCOL "/knit/autonat/1"
#define KNIT_AUTONAT_NONCE_LEN 16
/* The largest message is about 60 bytes; this leaves room and no more. */
#define KNIT_AUTONAT_MAX_MESSAGE 256

#define KNIT_PACKET_PROBE 5
#define KNIT_PACKET_DIAL 6
#define KNIT_AUTONAT_PACKET_LEN 20

enum knit_autonat_msg_type {
    KNIT_AUTONAT_OBSERVE = 1,
    KNIT_AUTONAT_OBSERVED = 2,
    KNIT_AUTONAT_DIAL_BACK = 3,
    KNIT_AUTONAT_DIAL_FOR = 4,
    KNIT_AUTONAT_RESULT = 5,
};

/* Where a DIAL_BACK's packet comes from. */
enum knit_autonat_kind {
    KNIT_AUTONAT_KIND_OTHER_PORT = 1,   /* the server's IP, another port */
    KNIT_AUTONAT_KIND_OTHER_IP = 2,     /* a helper with another IP */
};

enum knit_autonat_status {
    KNIT_AUTONAT_SENT = 0,
    KNIT_AUTONAT_REFUSED_RATE = 1,      /* rate limit */
    KNIT_AUTONAT_REFUSED_RELAYED = 2,   /* asked over a relayed session */
    KNIT_AUTONAT_NO_HELPER = 3,         /* kind 2 without another IP */
    KNIT_AUTONAT_BAD_REQUEST = 4,
    KNIT_AUTONAT_INTERNAL = 5,
    KNIT_AUTONAT_STATUS_MAX = 5,
};

struct knit_autonat_msg {
    uint8_t type;                         /* enum knit_autonat_msg_type */
    uint64_t id;                          /* chosen by the asker, echoed */
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN];
    bool has_nonce;                       /* OBSERVE, DIAL_BACK, DIAL_FOR */
    uint8_t kind;                         /* DIAL_BACK */
    bool has_addr;                        /* OBSERVED, DIAL_FOR */
    struct knit_addr addr;
    uint8_t status;                       /* RESULT */
};

/* True when type carries a nonce, an address. */
bool knit_autonat_type_has_nonce(uint8_t type);
bool knit_autonat_type_has_addr(uint8_t type);

/* Writes m as one frame (header and body); only the fields of m's type are
 * written. KNIT_E_INVAL for an unknown type, a field the type carries but
 * m does not mark present (has_nonce, has_addr), a kind other than 1 or 2,
 * a status over KNIT_AUTONAT_STATUS_MAX, an address that is not an IPv4 or
 * IPv6 endpoint with a port or is unspecified; KNIT_E_NO_SPACE if cap is
 * too small (KNIT_MSG_HEADER_LEN + KNIT_AUTONAT_MAX_MESSAGE always does). */
int knit_autonat_encode(const struct knit_autonat_msg *m, uint8_t *buf,
                        size_t cap, size_t *frame_len);

/* Decodes one body against its type's schema: exactly the type's fields,
 * all required. Errors: those of knit_msg_decode, KNIT_E_TOO_BIG for a body
 * over KNIT_AUTONAT_MAX_MESSAGE (or a kind or status out of range),
 * KNIT_E_UNSUPPORTED for an unknown type, KNIT_E_MALFORMED for kind 0,
 * multiaddr errors, KNIT_E_SHAPE for an address that is not a bare UDP
 * endpoint, KNIT_E_BAD_IP (unspecified), KNIT_E_BAD_PORT (port 0). Sets
 * has_nonce and has_addr by type. out is cleared on error. */
int knit_autonat_decode(const uint8_t *body, size_t len,
                        struct knit_autonat_msg *out);

/* Builds a PROBE or DIAL packet; KNIT_E_INVAL for another type. */
int knit_autonat_packet_build(uint8_t type,
                              const uint8_t nonce[KNIT_AUTONAT_NONCE_LEN],
                              uint8_t out[KNIT_AUTONAT_PACKET_LEN]);
/* Reads a PROBE or DIAL packet. KNIT_E_LENGTH unless exactly
 * KNIT_AUTONAT_PACKET_LEN bytes, KNIT_E_UNSUPPORTED for another first byte,
 * KNIT_E_MALFORMED when a reserved byte is not 0. */
int knit_autonat_packet_parse(const uint8_t *pkt, size_t len, uint8_t *type,
                              uint8_t nonce[KNIT_AUTONAT_NONCE_LEN]);

#endif
