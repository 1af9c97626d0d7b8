#include "control_proto.h"

#include "node/bench_stream.h"
#include "node/observed.h"
#include "node/reachability.h"
#include "proto/multiaddr.h"
#include "proto/peer_id.h"
#include "proto/record.h"

size_t knit_control_clean_text(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (; in[n] && n + 1 < cap; n++) {
        unsigned char c = (unsigned char)in[n];
        out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    return n;
}

/* The request carries only its type. */
const struct knit_msg_schema knit_control_id_request = {NULL, 0};

static const struct knit_msg_field id_response_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(2, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_ADDRS,
                            1, KNIT_MA_TEXT_MAX - 1),
};
const struct knit_msg_schema knit_control_id_response =
    KNIT_MSG_SCHEMA(id_response_fields);

static const struct knit_msg_field ping_request_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, KNIT_CONTROL_PING_MAX_COUNT),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, KNIT_CONTROL_PING_MAX_INTERVAL_MS),
};
const struct knit_msg_schema knit_control_ping_request =
    KNIT_MSG_SCHEMA(ping_request_fields);

static const struct knit_msg_field ping_reply_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT64_MAX),
};
const struct knit_msg_schema knit_control_ping_reply =
    KNIT_MSG_SCHEMA(ping_reply_fields);

static const struct knit_msg_field ping_done_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT64_MAX),
};
const struct knit_msg_schema knit_control_ping_done =
    KNIT_MSG_SCHEMA(ping_done_fields);

static const struct knit_msg_field bench_request_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, KNIT_CONTROL_BENCH_MAX_BYTES),
};
const struct knit_msg_schema knit_control_bench_request =
    KNIT_MSG_SCHEMA(bench_request_fields);

static const struct knit_msg_field bench_done_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(6, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(7, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(8, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_BIN(9, KNIT_MSG_REQUIRED, KNIT_BENCH_HASH_LEN,
                   KNIT_BENCH_HASH_LEN),
    KNIT_MSG_F_BIN(10, KNIT_MSG_REQUIRED, KNIT_BENCH_HASH_LEN,
                   KNIT_BENCH_HASH_LEN),
};
const struct knit_msg_schema knit_control_bench_done =
    KNIT_MSG_SCHEMA(bench_done_fields);

static const struct knit_msg_field find_request_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
};
const struct knit_msg_schema knit_control_find_request =
    KNIT_MSG_SCHEMA(find_request_fields);

/* A record holds at most KNIT_RECORD_MAX_ADDRS addresses; the wider bound
 * leaves the record format room to grow without a protocol change. */
static const struct knit_msg_field find_response_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(2, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_ADDRS,
                            1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT64_MAX),
};
const struct knit_msg_schema knit_control_find_response =
    KNIT_MSG_SCHEMA(find_response_fields);

const struct knit_msg_schema knit_control_peers_request = {NULL, 0};

/* KNIT_CONTROL_PEER_ENTRY_MAX is computed from these bounds. */
static const struct knit_msg_field punch_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_BOOL(4, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_UINT(5, KNIT_MSG_OPTIONAL, UINT64_MAX),
    KNIT_MSG_F_STR(6, KNIT_MSG_OPTIONAL, 1, KNIT_CONTROL_PUNCH_REASON_MAX),
};
static const struct knit_msg_schema punch_entry =
    KNIT_MSG_SCHEMA(punch_fields);

static const struct knit_msg_field peer_entry_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_STR(2, KNIT_MSG_REQUIRED, 1, 16),
    KNIT_MSG_F_STR(3, KNIT_MSG_REQUIRED, 1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_MAP(5, KNIT_MSG_OPTIONAL, &punch_entry),
};
static const struct knit_msg_schema peer_entry =
    KNIT_MSG_SCHEMA(peer_entry_fields);

static const struct knit_msg_field peers_response_fields[] = {
    KNIT_MSG_F_ARRAY_OF_MAP(1, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_PEERS,
                            &peer_entry),
};
const struct knit_msg_schema knit_control_peers_response =
    KNIT_MSG_SCHEMA(peers_response_fields);

_Static_assert(KNIT_CONTROL_MAX_PEERS * KNIT_CONTROL_PEER_ENTRY_MAX + 64 <=
                   KNIT_CONTROL_MAX_MSG,
               "a full peers response must fit in one control message");
_Static_assert(KNIT_CONTROL_MAX_MSG <= KNIT_MSG_MAX_CEILING,
               "the message layer refuses larger limits");

const struct knit_msg_schema knit_control_dht_table_request = {NULL, 0};

static const struct knit_msg_field bucket_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, KNIT_CONTROL_MAX_BUCKETS - 1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT32_MAX),
};
static const struct knit_msg_schema bucket = KNIT_MSG_SCHEMA(bucket_fields);

static const struct knit_msg_field dht_table_response_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, 16),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_ARRAY_OF_MAP(4, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_BUCKETS,
                            &bucket),
};
const struct knit_msg_schema knit_control_dht_table_response =
    KNIT_MSG_SCHEMA(dht_table_response_fields);

const struct knit_msg_schema knit_control_status_request = {NULL, 0};

static const struct knit_msg_field observed_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_BOOL(3, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, KNIT_CONFIDENCE_HIGH),
};
static const struct knit_msg_schema observed_entry =
    KNIT_MSG_SCHEMA(observed_fields);

static const struct knit_msg_field portmap_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, KNIT_CONTROL_PORTMAP_STOPPING),
    KNIT_MSG_F_STR(2, KNIT_MSG_OPTIONAL, 1, 16),
    KNIT_MSG_F_STR(3, KNIT_MSG_OPTIONAL, 1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_STR(6, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_PORTMAP_ERROR_MAX),
};
static const struct knit_msg_schema portmap_status =
    KNIT_MSG_SCHEMA(portmap_fields);

static const struct knit_msg_field punching_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT64_MAX),
};
static const struct knit_msg_schema punching_status =
    KNIT_MSG_SCHEMA(punching_fields);

/* The enums are bounded by their last value, so a CLI never has to name a
 * value it does not know. */
static const struct knit_msg_field status_response_fields[] = {
    KNIT_MSG_F_STR(1, KNIT_MSG_REQUIRED, 1, KNIT_PEER_ID_TEXT_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, KNIT_REACHABILITY_PRIVATE),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, KNIT_REACH_MAX_CONFIDENCE),
    KNIT_MSG_F_UINT(4, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT),
    KNIT_MSG_F_UINT(6, KNIT_MSG_REQUIRED, KNIT_CONFIDENCE_HIGH),
    KNIT_MSG_F_BOOL(7, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_BOOL(8, KNIT_MSG_REQUIRED),
    KNIT_MSG_F_UINT(9, KNIT_MSG_REQUIRED,
                    KNIT_FILTERING_ADDRESS_PORT_DEPENDENT),
    KNIT_MSG_F_UINT(10, KNIT_MSG_REQUIRED, KNIT_CONFIDENCE_HIGH),
    KNIT_MSG_F_ARRAY_OF_MAP(11, KNIT_MSG_REQUIRED, 0,
                            KNIT_CONTROL_MAX_OBSERVED, &observed_entry),
    KNIT_MSG_F_ARRAY_OF_STR(12, KNIT_MSG_REQUIRED, 0, KNIT_CONTROL_MAX_RELAYS,
                            1, KNIT_MA_TEXT_MAX - 1),
    KNIT_MSG_F_UINT(13, KNIT_MSG_REQUIRED, UINT16_MAX),
    KNIT_MSG_F_UINT(14, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_UINT(15, KNIT_MSG_REQUIRED, UINT32_MAX),
    KNIT_MSG_F_MAP(16, KNIT_MSG_REQUIRED, &portmap_status),
    KNIT_MSG_F_MAP(17, KNIT_MSG_REQUIRED, &punching_status),
};
const struct knit_msg_schema knit_control_status_response =
    KNIT_MSG_SCHEMA(status_response_fields);

static const struct knit_msg_field error_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, 1000),
    KNIT_MSG_F_STR(2, KNIT_MSG_REQUIRED, 0, 512),
};
const struct knit_msg_schema knit_control_error =
    KNIT_MSG_SCHEMA(error_fields);
