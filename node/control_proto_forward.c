/* Schemas of the control messages for `knit expose`, `knit forward` and
 * `knit forwards` (types 16..23 of node/control_proto.h). */
#include "control_proto.h"

#include "node/forward.h"
#include "node/service_msg.h"
#include "proto/peer_id.h"

_Static_assert(KNIT_CONTROL_FORWARD_MAX_ALLOW == KNIT_FORWARD_MAX_ALLOW,
               "the control protocol carries every allowed peer");
_Static_assert(KNIT_CONTROL_FORWARD_MAX_ENTRIES >= KNIT_FORWARD_MAX_EXPOSES &&
                   KNIT_CONTROL_FORWARD_MAX_ENTRIES >=
                       KNIT_FORWARD_MAX_LISTENERS,
               "a forwards response lists every expose and forward");
/* Worst forwards response: 64 exposes of 64 peer IDs (str8, at most 66
 * bytes each) and 64 forwards, a few hundred bytes per entry besides. */
_Static_assert(KNIT_CONTROL_FORWARD_MAX_ENTRIES *
                       (KNIT_CONTROL_FORWARD_MAX_ALLOW *
                            (2 + KNIT_PEER_ID_TEXT_MAX) + 256) +
                   KNIT_CONTROL_FORWARD_MAX_ENTRIES * 256 <=
                   KNIT_CONTROL_MAX_MSG,
               "a full forwards response fits a control message");

const struct knit_msg_schema knit_control_ok = {NULL, 0};

#define F_SERVICE(k) \
    KNIT_MSG_F_STR(k, KNIT_MSG_REQUIRED, 1, KNIT_SERVICE_NAME_MAX)
#define F_PEER(k) \
    KNIT_MSG_F_STR(k, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX)

static const struct knit_msg_field expose_request_fields[] = {
    F_SERVICE(1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, 65535),
    KNIT_MSG_F_ARRAY_OF_STR(3, KNIT_MSG_REQUIRED, 0,
                            KNIT_CONTROL_FORWARD_MAX_ALLOW, 1,
                            KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_BOOL(4, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_BOOL(5, KNIT_MSG_OPTIONAL),
};
const struct knit_msg_schema knit_control_expose_request =
    KNIT_MSG_SCHEMA(expose_request_fields);

static const struct knit_msg_field unexpose_request_fields[] = {
    F_SERVICE(1),
};
const struct knit_msg_schema knit_control_unexpose_request =
    KNIT_MSG_SCHEMA(unexpose_request_fields);

static const struct knit_msg_field forward_request_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 65535),
    F_PEER(2),
    F_SERVICE(3),
    KNIT_MSG_F_BOOL(4, KNIT_MSG_OPTIONAL),
};
const struct knit_msg_schema knit_control_forward_request =
    KNIT_MSG_SCHEMA(forward_request_fields);

static const struct knit_msg_field forward_response_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 65535),
};
const struct knit_msg_schema knit_control_forward_response =
    KNIT_MSG_SCHEMA(forward_response_fields);

static const struct knit_msg_field unforward_request_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 65535),
};
const struct knit_msg_schema knit_control_unforward_request =
    KNIT_MSG_SCHEMA(unforward_request_fields);

const struct knit_msg_schema knit_control_forwards_request = {NULL, 0};

static const struct knit_msg_field expose_entry_fields[] = {
    F_SERVICE(1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, 65535),
    KNIT_MSG_F_ARRAY_OF_STR(3, KNIT_MSG_REQUIRED, 0,
                            KNIT_CONTROL_FORWARD_MAX_ALLOW, 1,
                            KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_BOOL(4, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT32_MAX),
};
static const struct knit_msg_schema expose_entry =
    KNIT_MSG_SCHEMA(expose_entry_fields);

static const struct knit_msg_field forward_entry_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 65535),
    F_PEER(2),
    F_SERVICE(3),
    KNIT_MSG_F_BOOL(4, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT32_MAX),
};
static const struct knit_msg_schema forward_entry =
    KNIT_MSG_SCHEMA(forward_entry_fields);

static const struct knit_msg_field forwards_response_fields[] = {
    KNIT_MSG_F_ARRAY_OF_MAP(1, KNIT_MSG_REQUIRED, 0,
                            KNIT_CONTROL_FORWARD_MAX_ENTRIES, &expose_entry),
    KNIT_MSG_F_ARRAY_OF_MAP(2, KNIT_MSG_REQUIRED, 0,
                            KNIT_CONTROL_FORWARD_MAX_ENTRIES, &forward_entry),
};
const struct knit_msg_schema knit_control_forwards_response =
    KNIT_MSG_SCHEMA(forwards_response_fields);
