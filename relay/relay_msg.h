/* Circuit relay messages: /knit/relay/hop/1 and /knit/relay/stop/1.
 *
 * hop:  a private peer asks a relay for a reservation (RESERVE), or a dialer
 *       asks the relay for a circuit to a reserved peer (CONNECT); the relay
 *       answers each with one STATUS.
 * stop: the relay tells the target who connects (CONNECT, with the circuit's
 *       limit); the target answers with one STATUS.
 * After a CONNECT answered by STATUS OK both streams carry circuit data: the
 * endpoints put datagrams in them framed as [2-byte big-endian length][packet]
 * (knit_relay_datagram_*), and the relay copies whole frames between them,
 * reading only the lengths (node/node_relay_splice.c).
 *
 *   type  message   fields (msgpack map keys, proto/msg.h)
 *   1     RESERVE   none
 *   2     CONNECT   1 peer (38 bytes, peer ID), optional 2 limit_bytes,
 *                   3 limit_seconds (stop only; absent = unlimited)
 *   3     STATUS    1 status (enum knit_relay_status), optional 2 expires
 *                   (seconds of reservation left), 3 limit_bytes,
 *                   4 limit_seconds, 5 addrs (0..KNIT_RELAY_MAX_ADDRS binary
 *                   multiaddrs of the relay's UDP endpoints)
 *
 * A limit of 0 is "unlimited" and is written by leaving the field out, so a
 * limit field present with value 0 is refused: each message has one
 * encoding. A body is at most KNIT_RELAY_MAX_MESSAGE bytes. */
#ifndef KNIT_RELAY_MSG_H
#define KNIT_RELAY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/multiaddr.h"
#include "proto/peer_id.h"

#define KNIT_RELAY_HOP_PROTOCOL "/knit/relay/hop/1"
#define KNIT_RELAY_STOP_PROTOCOL "/knit/relay/stop/1"
/* A STATUS with 8 addresses of the longest accepted shape is under 1 KiB. */
#define KNIT_RELAY_MAX_MESSAGE 2048
#define KNIT_RELAY_MAX_ADDRS 8

/* Circuit datagrams: the largest a session sends or accepts
 * (KNIT_SESSION_MAX_DATAGRAM in proto/session_internal.h, which
 * test_relay_msg checks), behind a 2-byte length. */
#define KNIT_RELAY_MAX_DATAGRAM 2048
#define KNIT_RELAY_DATAGRAM_HEADER 2

enum knit_relay_msg_type {
    KNIT_RELAY_RESERVE = 1,
    KNIT_RELAY_CONNECT = 2,
    KNIT_RELAY_STATUS = 3,
};

/* libp2p's circuit relay v2 codes, with the same meanings. */
enum knit_relay_status {
    KNIT_RELAY_OK = 100,
    KNIT_RELAY_RESERVATION_REFUSED = 200,
    KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED = 201,
    KNIT_RELAY_PERMISSION_DENIED = 202,
    KNIT_RELAY_CONNECTION_FAILED = 203,
    KNIT_RELAY_NO_RESERVATION = 204,
    KNIT_RELAY_MALFORMED_MESSAGE = 400,
    KNIT_RELAY_UNEXPECTED_MESSAGE = 401,
};

/* What a circuit may carry before the relay closes it; 0 = unlimited.
 * bytes counts both directions together. */
struct knit_relay_limit {
    uint64_t bytes;
    uint32_t seconds;
};

/* Only the fields of type are written or read:
 *   RESERVE  nothing
 *   CONNECT  peer (has_peer must be true), limit when has_limit
 *   STATUS   status, expires_s when has_expires, limit when has_limit,
 *            addrs[0..addr_count)
 * On decode has_limit is true when either limit field is present, and the
 * absent one is 0. has_limit with both values 0 writes no limit. */
struct knit_relay_msg {
    uint8_t type;                       /* enum knit_relay_msg_type */
    bool has_peer;
    struct knit_peer_id peer;
    uint16_t status;                    /* enum knit_relay_status */
    bool has_expires;
    uint32_t expires_s;
    bool has_limit;
    struct knit_relay_limit limit;
    uint8_t addr_count;
    struct knit_multiaddr addrs[KNIT_RELAY_MAX_ADDRS];
};

/* Writes m as one frame (4-byte length header and body) into buf.
 * KNIT_E_INVAL for an unknown type, a CONNECT without peer, a STATUS with a
 * status not in enum knit_relay_status, more than KNIT_RELAY_MAX_ADDRS
 * addresses or one that is not a UDP endpoint (optionally followed by
 * /p2p/<id>); KNIT_E_NO_SPACE if cap is too small (KNIT_MSG_HEADER_LEN +
 * KNIT_RELAY_MAX_MESSAGE always suffices). */
int knit_relay_msg_encode(const struct knit_relay_msg *m, uint8_t *buf,
                          size_t cap, size_t *frame_len);
/* Decodes one frame's body (after knit_msg_deframe) against its type's
 * schema. Errors: those of knit_msg_decode (KNIT_E_UNKNOWN_FIELD for a key
 * the type lacks, KNIT_E_MISSING, KNIT_E_LENGTH for a peer ID not of 38
 * bytes, KNIT_E_TOO_BIG for more than KNIT_RELAY_MAX_ADDRS addresses or a
 * value past its range...), KNIT_E_TOO_BIG for a body over
 * KNIT_RELAY_MAX_MESSAGE, KNIT_E_UNSUPPORTED for an unknown type or status
 * code, KNIT_E_PREFIX for a bad peer ID, multiaddr errors, KNIT_E_SHAPE for
 * an address that is not a relay's UDP endpoint, KNIT_E_MALFORMED for a
 * limit of 0. *out is cleared on error. */
int knit_relay_msg_decode(const uint8_t *body, size_t len,
                          struct knit_relay_msg *out);
/* "OK", "RESERVATION_REFUSED", ...; "UNKNOWN" for any other code. */
const char *knit_relay_status_name(uint16_t status);
/* True for the codes of enum knit_relay_status. */
bool knit_relay_status_known(uint16_t status);

/* ---- circuit datagrams ------------------------------------------------------ */

/* Writes [len as 2 bytes big-endian][pkt] into out. KNIT_E_INVAL for an
 * empty packet, KNIT_E_TOO_BIG over KNIT_RELAY_MAX_DATAGRAM, KNIT_E_NO_SPACE
 * if cap < len + 2. */
int knit_relay_datagram_frame(const uint8_t *pkt, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len);
/* Looks at the circuit bytes received so far (only the first datagram):
 *   0                 *pkt, *pkt_len: the datagram (into buf); drop
 *                     *consumed bytes before the next call
 *   KNIT_E_AGAIN      incomplete; *consumed is how many bytes buf must hold
 *                     before the next call can succeed
 *   KNIT_E_MALFORMED  a length of 0 or over KNIT_RELAY_MAX_DATAGRAM: the
 *                     circuit is beyond repair */
int knit_relay_datagram_next(const uint8_t *buf, size_t len,
                             const uint8_t **pkt, size_t *pkt_len,
                             size_t *consumed);

#endif
