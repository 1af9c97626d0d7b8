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
/* Bodies are small; a list of addresses is the largest today. */
#define KNIT_CONTROL_MAX_MSG (16 * 1024)
#define KNIT_CONTROL_MAX_ADDRS 64

enum knit_control_type {
    KNIT_CTL_ID_REQUEST = 1,       /* no fields */
    KNIT_CTL_ID_RESPONSE = 2,      /* 1: peer ID text, 2: [multiaddr text] */
    /* ping: one PING_REPLY per echo, then PING_DONE */
    KNIT_CTL_PING_REQUEST = 3,     /* 1: multiaddr, 2: count, 3: interval ms */
    KNIT_CTL_PING_REPLY = 4,       /* 1: seq, 2: rtt µs */
    KNIT_CTL_PING_DONE = 5,        /* 1: peer ID, 2: sent, 3: received,
                                      4: µs to set up the session (0: it was
                                      up already) */
    KNIT_CTL_BENCH_REQUEST = 6,    /* 1: multiaddr, 2: bytes */
    KNIT_CTL_BENCH_DONE = 7,       /* 1: peer ID, 2: bytes, 3: µs from first
                                      byte written to the peer's count read,
                                      4: srtt µs, 5: packets lost, 6: set-up
                                      µs, 7: packets sent */
    KNIT_CTL_ERROR = 127,          /* 1: KNIT_E_* code negated, 2: text */
};

#define KNIT_CONTROL_PING_MAX_COUNT 100000
#define KNIT_CONTROL_PING_MAX_INTERVAL_MS 60000
#define KNIT_CONTROL_BENCH_MAX_BYTES (64ull << 30)

extern const struct knit_msg_schema knit_control_id_request;
extern const struct knit_msg_schema knit_control_id_response;
extern const struct knit_msg_schema knit_control_ping_request;
extern const struct knit_msg_schema knit_control_ping_reply;
extern const struct knit_msg_schema knit_control_ping_done;
extern const struct knit_msg_schema knit_control_bench_request;
extern const struct knit_msg_schema knit_control_bench_done;
extern const struct knit_msg_schema knit_control_error;

#endif
