/* The control protocol: how the knit CLI talks to its running daemon.
 *
 * A Unix stream socket, <datadir>/control.sock (mode 0600, so only the
 * daemon's user can use it), carrying framed msgpack messages of the
 * proto/msg.h layer: one request, one response, repeated. Shared by the
 * daemon's server (node/control.c) and the CLI's client
 * (node/control_client.c), so both agree on types and schemas. */
#ifndef KNIT_CONTROL_PROTO_H
#define KNIT_CONTROL_PROTO_H

#include "proto/msg.h"

#define KNIT_CONTROL_SOCKET_NAME "control.sock"
#define KNIT_CONTROL_MAX_ADDRS 64
/* A peers response lists at most this many sessions, a DHT table response
 * at most one entry per bucket. */
#define KNIT_CONTROL_MAX_PEERS 1024
#define KNIT_CONTROL_MAX_BUCKETS 256
/* Bound on one entry of a peers response as the schema allows it: fixmap
 * header 1, four one-byte keys 4, peer ID str8 2+64, path fixstr 1+16,
 * address str8 2+255, RTT uint64 9 = 354 bytes (tests/unit/
 * test_control_proto.c encodes the worst case). */
#define KNIT_CONTROL_PEER_ENTRY_MAX 354
/* The largest body is a full peers response: 1024 entries of at most 354
 * bytes plus a few bytes around them, 362 503 bytes; rounded up, well under
 * KNIT_MSG_MAX_CEILING. Requests are far smaller. */
#define KNIT_CONTROL_MAX_MSG (384 * 1024)

/* Multiaddr text of a ping or bench target: a full /ip4|ip6/<ip>/udp/<port>
 * /p2p/<id>, or a bare /p2p/<id> that the daemon first finds in the DHT. */
enum knit_control_type {
    KNIT_CTL_ID_REQUEST = 1,       /* no fields */
    KNIT_CTL_ID_RESPONSE = 2,      /* 1: peer ID text, 2: [multiaddr text] */
    /* ping: one PING_REPLY per echo, then PING_DONE */
    KNIT_CTL_PING_REQUEST = 3,     /* 1: target multiaddr (see above),
                                      2: count, 3: interval ms */
    KNIT_CTL_PING_REPLY = 4,       /* 1: seq, 2: rtt µs */
    KNIT_CTL_PING_DONE = 5,        /* 1: peer ID, 2: sent, 3: received,
                                      4: µs to set up the session (0: it was
                                      up already) */
    KNIT_CTL_BENCH_REQUEST = 6,    /* 1: target multiaddr (see above),
                                      2: bytes */
    KNIT_CTL_BENCH_DONE = 7,       /* 1: peer ID, 2: bytes the peer read,
                                      3: µs from first byte written to the
                                      peer's answer read, 4: srtt µs,
                                      5: packets lost, 6: set-up µs,
                                      7: packets sent, 8: bytes sent,
                                      9: BLAKE2b-256 of the bytes sent,
                                      10: the peer's BLAKE2b-256 of the
                                      bytes it read (node/bench_stream.h);
                                      the CLI compares them */
    /* find: a DHT lookup of the peer's signed record */
    KNIT_CTL_FIND_REQUEST = 8,     /* 1: peer ID text */
    KNIT_CTL_FIND_RESPONSE = 9,    /* 1: peer ID text, 2: [multiaddr text],
                                      the addresses in the peer's signed
                                      record (may be empty), 3: hops,
                                      4: queries, 5: µs the lookup took */
    /* peers: the sessions the node has now */
    KNIT_CTL_PEERS_REQUEST = 10,   /* no fields */
    KNIT_CTL_PEERS_RESPONSE = 11,  /* 1: [{1: peer ID text, 2: path,
                                      "direct" or "relayed", 3: the active
                                      path's address as multiaddr text
                                      (/ip4/../udp/..; relayed: <relay
                                      endpoint>/p2p/<relay>/p2p-circuit),
                                      4: smoothed RTT µs,
                                      0 = not measured yet}], at most
                                      KNIT_CONTROL_MAX_PEERS */
    /* dht table: how full the routing table is */
    KNIT_CTL_DHT_TABLE_REQUEST = 12,  /* no fields */
    KNIT_CTL_DHT_TABLE_RESPONSE = 13, /* 1: mode, "server" or "client",
                                         2: peers in the table, 3: records
                                         stored, 4: [{1: bucket index,
                                         2: entries, 3: replacements}], the
                                         non-empty buckets only */
    /* status: how the Internet sees the node (identify, AutoNAT, relays) */
    KNIT_CTL_STATUS_REQUEST = 14,  /* no fields */
    KNIT_CTL_STATUS_RESPONSE = 15, /* 1: peer ID text, 2: reachability,
                                      3: its confidence 0..3, 4: AutoNAT
                                      server IPs that answered, 5: NAT
                                      mapping, 6: its confidence, 7: behind
                                      a NAT (bool), 8: sequential ports
                                      (bool), 9: NAT filtering, 10: its
                                      confidence, 11: [{1: observed address
                                      as multiaddr text (/ip4/../udp/..),
                                      2: distinct observers, 3: trusted
                                      (bool), 4: confidence}], 12: [our
                                      relayed multiaddr text], 13: alternate
                                      port (0: none), 14: reservations and
                                      15: circuits served as a relay.
                                      Enums as proto/record.h numbers them;
                                      confidences of mapping, filtering and
                                      addresses 0 none, 1 low, 2 high */
    KNIT_CTL_ERROR = 127,          /* 1: KNIT_E_* code negated, 2: text */
};

#define KNIT_CONTROL_PATH_DIRECT "direct"
#define KNIT_CONTROL_PATH_RELAYED "relayed"
/* A status response lists at most this many observed and relayed
 * addresses (the node reports fewer; node/daemon_status.c checks). */
#define KNIT_CONTROL_MAX_OBSERVED 16
#define KNIT_CONTROL_MAX_RELAYS 16
#define KNIT_CONTROL_MODE_SERVER "server"
#define KNIT_CONTROL_MODE_CLIENT "client"

#define KNIT_CONTROL_PING_MAX_COUNT 100000
#define KNIT_CONTROL_PING_MAX_INTERVAL_MS 60000
#define KNIT_CONTROL_BENCH_MAX_BYTES (64ull << 30)
/* How long the CLI waits for a lookup: a lookup's overall deadline is 60 s
 * (dht/lookup.h), plus room for the daemon to answer. A ping or bench of a
 * bare /p2p/<id> adds this to its wait for the session. */
#define KNIT_CONTROL_FIND_TIMEOUT_MS 75000

extern const struct knit_msg_schema knit_control_id_request;
extern const struct knit_msg_schema knit_control_id_response;
extern const struct knit_msg_schema knit_control_ping_request;
extern const struct knit_msg_schema knit_control_ping_reply;
extern const struct knit_msg_schema knit_control_ping_done;
extern const struct knit_msg_schema knit_control_bench_request;
extern const struct knit_msg_schema knit_control_bench_done;
extern const struct knit_msg_schema knit_control_find_request;
extern const struct knit_msg_schema knit_control_find_response;
extern const struct knit_msg_schema knit_control_peers_request;
extern const struct knit_msg_schema knit_control_peers_response;
extern const struct knit_msg_schema knit_control_dht_table_request;
extern const struct knit_msg_schema knit_control_dht_table_response;
extern const struct knit_msg_schema knit_control_status_request;
extern const struct knit_msg_schema knit_control_status_response;
extern const struct knit_msg_schema knit_control_error;

#endif
