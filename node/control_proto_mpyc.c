/* Control messages of `knit mpyc` (node/control_proto.h, types 24..26):
 * the CLI's request, the daemon's progress and its ready answer. */
#include "control_proto.h"

#include "node/party_msg.h"
#include "proto/peer_id.h"

static const struct knit_msg_field mpyc_request_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PARTY_SESSION_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(2, KNIT_MSG_REQUIRED, 2, KNIT_PARTY_MAX, 1,
                            KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, KNIT_PARTY_MAX - 1),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, KNIT_CONTROL_MPYC_MAX_TIMEOUT_MS),
};
const struct knit_msg_schema knit_control_mpyc_request =
    KNIT_MSG_SCHEMA(mpyc_request_fields);

static const struct knit_msg_field mpyc_party_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, KNIT_PARTY_MAX - 1),
    KNIT_MSG_F_STR(2, KNIT_MSG_REQUIRED, 1, KNIT_CONTROL_MPYC_STATE_MAX),
};
const struct knit_msg_schema knit_control_mpyc_party =
    KNIT_MSG_SCHEMA(mpyc_party_fields);

static const struct knit_msg_field mpyc_ready_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, KNIT_PARTY_MAX - 1),
    KNIT_MSG_F_ARRAY_OF_UINT(2, KNIT_MSG_REQUIRED, 2, KNIT_PARTY_MAX,
                             UINT16_MAX),
};
const struct knit_msg_schema knit_control_mpyc_ready =
    KNIT_MSG_SCHEMA(mpyc_ready_fields);
