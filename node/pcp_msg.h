/* PCP (RFC 6887) MAP requests and responses: the one opcode knit needs to
 * ask a gateway to forward an external UDP port to the node's socket.
 *
 * Sans-IO: bytes in, structs out. The daemon's port-mapping client
 * (node/portmap_pcp.c) sends what this encodes and decodes what comes back.
 *
 * Wire layout (all integers big-endian, addresses 16 bytes, IPv4 as the
 * IPv4-mapped IPv6 address ::ffff:a.b.c.d):
 *
 *   common header, 24 bytes
 *     0  version (2)   1  R bit (0x80 = response) | opcode (1 = MAP)
 *     request:  2..3 reserved, 4..7 requested lifetime, 8..23 client IP
 *     response: 2 reserved, 3 result code, 4..7 lifetime, 8..11 epoch
 *               time, 12..23 reserved
 *   MAP payload, 36 bytes
 *     24..35 mapping nonce, 36 protocol (17 = UDP), 37..39 reserved,
 *     40..41 internal port, 42..43 suggested (request) or assigned
 *     (response) external port, 44..59 suggested / assigned external IP
 *   options (responses only here): code, reserved, 16-bit length, data
 *     padded to 4 bytes; skipped after their framing is checked.
 *
 * A MAP packet is therefore 60 bytes; a response may be longer (options, up
 * to the 1100-byte PCP maximum) and an error response may carry the header
 * alone. */
#ifndef KNIT_PCP_MSG_H
#define KNIT_PCP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_PCP_PORT 5351
#define KNIT_PCP_VERSION 2
#define KNIT_PCP_OPCODE_MAP 1
#define KNIT_PCP_HEADER_LEN 24
#define KNIT_PCP_MAP_LEN 60
#define KNIT_PCP_MAX_LEN 1100
#define KNIT_PCP_NONCE_LEN 12
#define KNIT_PCP_PROTO_UDP 17

/* Result codes (RFC 6887 section 7.4). */
enum knit_pcp_result {
    KNIT_PCP_SUCCESS = 0,
    KNIT_PCP_UNSUPP_VERSION = 1,
    KNIT_PCP_NOT_AUTHORIZED = 2,
    KNIT_PCP_MALFORMED_REQUEST = 3,
    KNIT_PCP_UNSUPP_OPCODE = 4,
    KNIT_PCP_UNSUPP_OPTION = 5,
    KNIT_PCP_MALFORMED_OPTION = 6,
    KNIT_PCP_NETWORK_FAILURE = 7,
    KNIT_PCP_NO_RESOURCES = 8,
    KNIT_PCP_UNSUPP_PROTOCOL = 9,
    KNIT_PCP_USER_EX_QUOTA = 10,
    KNIT_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
    KNIT_PCP_ADDRESS_MISMATCH = 12,
    KNIT_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

struct knit_pcp_map_request {
    uint32_t lifetime_s;          /* 0 deletes the mapping */
    struct knit_addr client;      /* our address as the gateway sees it;
                                     the port is not sent */
    uint8_t nonce[KNIT_PCP_NONCE_LEN];
    uint8_t protocol;             /* KNIT_PCP_PROTO_UDP; never 0 here */
    uint16_t internal_port;       /* never 0 here */
    /* The external endpoint we would like: port 0 = any; family 0 = any
     * address of the client's family. */
    struct knit_addr suggested;
};

struct knit_pcp_map_response {
    uint8_t result;               /* enum knit_pcp_result, or another code */
    uint32_t lifetime_s;
    uint32_t epoch_s;
    /* The MAP payload; false for a header-only error response. */
    bool has_map;
    uint8_t nonce[KNIT_PCP_NONCE_LEN];
    uint8_t protocol;
    uint16_t internal_port;
    struct knit_addr external;    /* assigned external IP and port */
};

/* Writes a 60-byte MAP request into out. KNIT_E_INVAL for a client or
 * suggested address that is not IPv4/IPv6 (suggested may be unset), a
 * suggested address of the other family than the client's, protocol 0 or
 * internal port 0; KNIT_E_NO_SPACE if cap < 60. */
int knit_pcp_map_request_encode(const struct knit_pcp_map_request *req,
                                uint8_t *out, size_t cap, size_t *len);

/* Parses a MAP response. Refuses, leaving *out zeroed:
 *   KNIT_E_TRUNCATED    shorter than the header, or a success without the
 *                       MAP payload, or an option running past the end
 *   KNIT_E_TOO_BIG      longer than 1100 bytes
 *   KNIT_E_MALFORMED    length not a multiple of 4, R bit clear (a request),
 *                       a success granting a lifetime on port 0
 *   KNIT_E_UNSUPPORTED  version other than 2: a NAT-PMP gateway answers a
 *                       PCP request with version 0 (result 1, "unsupported
 *                       version"), which is how PCP support is told apart
 *   KNIT_E_TYPE         an opcode other than MAP
 * A result code other than success is not an error here: the caller reads
 * out->result. */
int knit_pcp_map_response_decode(const uint8_t *pkt, size_t len,
                                 struct knit_pcp_map_response *out);

/* Writes a response (header + MAP payload, no options): what a gateway
 * sends, for tests and the fuzz target. KNIT_E_INVAL if has_map is set and
 * the external address is not IPv4/IPv6. Header-only if !has_map. */
int knit_pcp_map_response_encode(const struct knit_pcp_map_response *resp,
                                 uint8_t *out, size_t cap, size_t *len);

/* True when a decoded response answers this request: a MAP payload with the
 * same nonce, protocol and internal port (RFC 6887 section 11.3). */
bool knit_pcp_map_response_matches(const struct knit_pcp_map_request *req,
                                   const struct knit_pcp_map_response *resp);

/* "SUCCESS", "NOT_AUTHORIZED"...; "UNKNOWN" for codes past 13. */
const char *knit_pcp_result_name(uint8_t result);

#endif
