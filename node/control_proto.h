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
    KNIT_CTL_ERROR = 127,          /* 1: KNIT_E_* code negated, 2: text */
};

extern const struct knit_msg_schema knit_control_id_request;
extern const struct knit_msg_schema knit_control_id_response;
extern const struct knit_msg_schema knit_control_error;

#endif
