#include "control_proto.h"

#include "proto/multiaddr.h"
#include "proto/peer_id.h"

/* The request carries only its type. */
const struct knit_msg_schema knit_control_id_request = {NULL, 0};

static const struct knit_msg_field id_response_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(2, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_ADDRS,
                            1, KNIT_MA_TEXT_MAX - 1),
};
const struct knit_msg_schema knit_control_id_response =
    KNIT_MSG_SCHEMA(id_response_fields);

static const struct knit_msg_field error_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 1000),
    KNIT_MSG_F_STR(2, KNIT_MSG_REQUIRED, 0, 512),
};
const struct knit_msg_schema knit_control_error =
    KNIT_MSG_SCHEMA(error_fields);
