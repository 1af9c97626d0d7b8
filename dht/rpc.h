/* DHT messages: the requests and responses of /knit/dht/1.
 *
 * One request per stream: the asker opens a stream named KNIT_DHT_PROTOCOL,
 * writes one framed message (proto/msg.h) and finishes; the server answers
 * with one framed message and finishes. Anything a decoder refuses closes
 * the stream (a reset), never the session or the node.
 *
 *   type  message             fields (msgpack map keys)
 *   1     PING                1 id
 *   2     PONG                1 id
 *   3     FIND_NODE           1 id, 2 key (32 bytes)
 *   4     NODES               1 id, 2 peers
 *   5     GET_RECORD          1 id, 2 key (32 bytes)
 *   6     RECORD              1 id, 2 peers, 3 record (optional, a signed
 *                             peer record envelope)
 *   7     PUT_RECORD          1 id, 2 record
 *   8     PUT_RESULT          1 id, 2 status (enum knit_dht_status)
 *   9     ERROR               1 id, 2 status
 *
 * peers: an array of at most KNIT_DHT_MAX_PEERS maps {1: peer ID bytes (38),
 * 2: [binary multiaddr of a UDP endpoint], 1..KNIT_DHT_MAX_PEER_ADDRS}.
 * id: chosen by the asker and echoed; it ties an answer to its request.
 * A body is at most KNIT_DHT_MAX_MESSAGE bytes. */
#ifndef KNIT_DHT_RPC_H
#define KNIT_DHT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "dht/key.h"
#include "proto/peer_id.h"
#include "proto/record.h"
#include "transport/io.h"

#define KNIT_DHT_PROTOCOL "/knit/dht/1"
#define KNIT_DHT_MAX_PEERS 20
#define KNIT_DHT_MAX_PEER_ADDRS 4
/* 20 peers with 4 IPv6 addresses each and a full record fit well within. */
#define KNIT_DHT_MAX_MESSAGE (8 * 1024)

enum knit_dht_msg_type {
    KNIT_DHT_PING = 1,
    KNIT_DHT_PONG = 2,
    KNIT_DHT_FIND_NODE = 3,
    KNIT_DHT_NODES = 4,
    KNIT_DHT_GET_RECORD = 5,
    KNIT_DHT_RECORD = 6,
    KNIT_DHT_PUT_RECORD = 7,
    KNIT_DHT_PUT_RESULT = 8,
    KNIT_DHT_ERROR = 9,
};

/* Why a server said no (PUT_RESULT, ERROR). */
enum knit_dht_status {
    KNIT_DHT_OK = 0,
    KNIT_DHT_BAD_RECORD = 1,    /* does not verify, or malformed */
    KNIT_DHT_STALE = 2,         /* we hold a newer one (higher seq) */
    KNIT_DHT_EXPIRED = 3,       /* issued too long ago, or in the future */
    KNIT_DHT_TOO_BIG = 4,
    KNIT_DHT_LIMIT = 5,         /* the store's per-peer or total limit */
    KNIT_DHT_NOT_SERVING = 6,   /* we are a DHT client */
    KNIT_DHT_BUSY = 7,          /* rate limited */
    KNIT_DHT_STATUS_MAX = 7,
};

struct knit_dht_peer_info {
    struct knit_peer_id id;
    uint8_t addr_count;
    struct knit_addr addrs[KNIT_DHT_MAX_PEER_ADDRS];
};

struct knit_dht_msg {
    uint8_t type;                 /* enum knit_dht_msg_type */
    uint64_t id;
    struct knit_dht_key key;      /* FIND_NODE, GET_RECORD */
    uint8_t peer_count;           /* NODES, RECORD */
    struct knit_dht_peer_info peers[KNIT_DHT_MAX_PEERS];
    const uint8_t *record;        /* RECORD (optional), PUT_RECORD; on
                                     decode, points into the input */
    size_t record_len;
    uint8_t status;               /* PUT_RESULT, ERROR */
};

/* Writes m as one frame (length header and body) into out; only the fields
 * of m's type are written. KNIT_E_INVAL for an unknown type, more peers or
 * addresses than allowed, a peer without addresses, an address that is not
 * IPv4 or IPv6, a PUT_RECORD without a record, a record over
 * KNIT_RECORD_MAX_BYTES or a status over KNIT_DHT_STATUS_MAX;
 * KNIT_E_NO_SPACE if cap is too small (a buffer of KNIT_MSG_HEADER_LEN +
 * KNIT_DHT_MAX_MESSAGE bytes always suffices). */
int knit_dht_msg_encode(const struct knit_dht_msg *m, uint8_t *out,
                        size_t cap, size_t *out_len);
/* Decodes one body (the frame's payload, after knit_msg_deframe) and checks
 * it against its type's schema: every length, count and value, and every
 * address a UDP endpoint multiaddr (no /p2p, no circuit). The record is
 * only bounded here (1..KNIT_RECORD_MAX_BYTES); its signature is the
 * store's business. Errors: those of knit_msg_decode, KNIT_E_UNSUPPORTED
 * for an unknown type, peer ID and multiaddr errors, KNIT_E_SHAPE for an
 * address that is not a bare UDP endpoint. m is cleared on error. */
int knit_dht_msg_decode(struct knit_dht_msg *m, const uint8_t *body,
                        size_t len);
/* True for the types a server answers (PING, FIND_NODE, GET_RECORD,
 * PUT_RECORD). */
bool knit_dht_msg_is_request(uint8_t type);

#endif
