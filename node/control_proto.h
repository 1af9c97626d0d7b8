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
/* The longest hole-punching failure reason a peers entry carries (the
 * node keeps 159 bytes: struct knit_node_punch). */
#define KNIT_CONTROL_PUNCH_REASON_MAX 159
/* Bound on one entry of a peers response as the schema allows it: fixmap
 * header 1, five one-byte keys 5, peer ID str8 2+64, path fixstr 1+16,
 * address str8 2+255, RTT uint64 9, and the punch map: fixmap header 1,
 * six keys 6, three uint32 15, a bool 1, a uint64 9, reason str8 2+159
 * = 548 bytes (tests/unit/test_control_proto.c encodes the worst case). */
#define KNIT_CONTROL_PEER_ENTRY_MAX 548
/* The largest body is a full peers response: 1024 entries of at most 548
 * bytes plus a few bytes around them, 561 159 bytes; rounded up, well under
 * KNIT_MSG_MAX_CEILING. Requests are far smaller. */
#define KNIT_CONTROL_MAX_MSG (576 * 1024)

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
                                      0 = not measured yet, 5: hole
                                      punching with the peer, absent if the
                                      node never punched with it: {1:
                                      attempts, 2: successes, 3: failures,
                                      4: one under way (bool), 5: µs from
                                      the start of the last successful
                                      attempt to the direct path (absent:
                                      none succeeded), 6: why the last one
                                      failed (absent: none did)}}], at most
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
                                      15: circuits served as a relay,
                                      16: the gateway port mapping {1: state
                                      KNIT_CONTROL_PORTMAP_*, 2: method
                                      "pcp", "nat-pmp" or "upnp" (absent:
                                      none), 3: external address as
                                      multiaddr text (absent: none), 4:
                                      lease seconds left (0: none), 5:
                                      seconds to the next search (0: none),
                                      6: the latest failure ("" if none)},
                                      17: hole punching since the start {1:
                                      attempts, 2: ended direct, 3: failed,
                                      4: probes sent, 5: birthday sockets
                                      opened}.
                                      Enums as proto/record.h numbers them;
                                      confidences of mapping, filtering and
                                      addresses 0 none, 1 low, 2 high */
    /* forward and expose (node/forward.h): types 16..23 */
    KNIT_CTL_OK = 16,              /* no fields: the request was done */
    KNIT_CTL_EXPOSE_REQUEST = 17,  /* 1: service name (1..64 bytes of
                                      [A-Za-z0-9._/:-]), 2: 127.0.0.1 port
                                      1..65535, 3: [allowed peer ID text]
                                      (0..KNIT_FORWARD_MAX_ALLOW), 4: any
                                      peer (bool; then 3 must be empty,
                                      else 3 must not be), 5 (optional):
                                      owned (bool): removed when this
                                      control connection closes; answer OK */
    KNIT_CTL_UNEXPOSE_REQUEST = 18,   /* 1: service name; answer OK */
    KNIT_CTL_FORWARD_REQUEST = 19, /* 1: local port (0: pick one), 2: peer
                                      ID text, 3: service name,
                                      4 (optional): owned (bool), as above */
    KNIT_CTL_FORWARD_RESPONSE = 20,   /* 1: the local port listening */
    KNIT_CTL_UNFORWARD_REQUEST = 21,  /* 1: local port; answer OK */
    KNIT_CTL_FORWARDS_REQUEST = 22,   /* no fields */
    KNIT_CTL_FORWARDS_RESPONSE = 23,  /* 1: exposes [{1: service, 2: port,
                                         3: [allowed peer ID text], empty
                                         for any peer, 4: any peer (bool),
                                         5: connections}], 2: forwards
                                         [{1: local port, 2: peer ID text,
                                         3: service, 4: listening (bool),
                                         5: connections}] */
    /* mpyc (node/mpyc_session.h): types 24..31. One request; MPYC_PARTY
       progress as it goes, then MPYC_READY (or an ERROR naming the
       party); the session lasts until the client closes the socket. */
    KNIT_CTL_MPYC_REQUEST = 24,    /* 1: session name (1..32 bytes of
                                      [A-Za-z0-9._-]), 2: [peer ID text]
                                      in party order (2..KNIT_PARTY_MAX),
                                      3: own index, 4: timeout ms */
    KNIT_CTL_MPYC_PARTY = 25,      /* 1: party index, 2: state text, e.g.
                                      "connected (direct)", "agreed",
                                      "listening" */
    KNIT_CTL_MPYC_READY = 26,      /* 1: own index, 2: [127.0.0.1 port per
                                      party in order: the forward listener
                                      of each other party, our own MPyC
                                      listener's port at our index] */
    KNIT_CTL_ERROR = 127,          /* 1: KNIT_E_* code negated, 2: text */
};

#define KNIT_CONTROL_PATH_DIRECT "direct"
#define KNIT_CONTROL_PATH_RELAYED "relayed"
/* A status response lists at most this many observed and relayed
 * addresses (the node reports fewer; node/daemon_status.c checks). */
#define KNIT_CONTROL_MAX_OBSERVED 16
#define KNIT_CONTROL_MAX_RELAYS 16
/* Port mapping states in a status response (field 16, key 1). */
enum knit_control_portmap_state {
    KNIT_CONTROL_PORTMAP_OFF = 0,       /* --no-port-mapping, nothing to
                                           map, or it could not start */
    KNIT_CONTROL_PORTMAP_SEARCHING = 1, /* asking the gateway */
    KNIT_CONTROL_PORTMAP_MAPPED = 2,    /* holding a mapping */
    KNIT_CONTROL_PORTMAP_WAITING = 3,   /* no gateway answered; retrying */
    KNIT_CONTROL_PORTMAP_STOPPING = 4,  /* deleting it at shutdown */
};
/* The longest failure text of a port mapping (KNIT_PORTMAP_ERROR_MAX - 1). */
#define KNIT_CONTROL_PORTMAP_ERROR_MAX 255
#define KNIT_CONTROL_MODE_SERVER "server"
#define KNIT_CONTROL_MODE_CLIENT "client"

#define KNIT_CONTROL_PING_MAX_COUNT 100000
#define KNIT_CONTROL_PING_MAX_INTERVAL_MS 60000
#define KNIT_CONTROL_BENCH_MAX_BYTES (64ull << 30)
/* How long the CLI waits for a lookup: a lookup's overall deadline is 60 s
 * (dht/lookup.h), plus room for the daemon to answer. A ping or bench of a
 * bare /p2p/<id> adds this to its wait for the session. */
#define KNIT_CONTROL_FIND_TIMEOUT_MS 75000

/* Copies the NUL-terminated text in into out (cap >= 1) for a str field,
 * cut to cap - 1 bytes, with every byte outside printable ASCII replaced
 * by '?': reasons that came from the network (a gateway's answer) are then
 * valid UTF-8 and print safely. Returns the length written. */
size_t knit_control_clean_text(char *out, size_t cap, const char *in);

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
/* node/control_proto_forward.c (bounds as node/forward.h sets them) */
#define KNIT_CONTROL_FORWARD_MAX_ALLOW 64
#define KNIT_CONTROL_FORWARD_MAX_ENTRIES 64
extern const struct knit_msg_schema knit_control_ok;
extern const struct knit_msg_schema knit_control_expose_request;
extern const struct knit_msg_schema knit_control_unexpose_request;
extern const struct knit_msg_schema knit_control_forward_request;
extern const struct knit_msg_schema knit_control_forward_response;
extern const struct knit_msg_schema knit_control_unforward_request;
extern const struct knit_msg_schema knit_control_forwards_request;
extern const struct knit_msg_schema knit_control_forwards_response;
/* node/control_proto_mpyc.c */
#define KNIT_CONTROL_MPYC_MAX_TIMEOUT_MS (3600u * 1000u)
#define KNIT_CONTROL_MPYC_STATE_MAX 200
extern const struct knit_msg_schema knit_control_mpyc_request;
extern const struct knit_msg_schema knit_control_mpyc_party;
extern const struct knit_msg_schema knit_control_mpyc_ready;

#endif
