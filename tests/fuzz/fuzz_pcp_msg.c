/* Fuzzes the PCP MAP response decoder (node/pcp_msg.h) with the input as
 * one datagram from a gateway. A refused datagram must leave the response
 * cleared; an accepted one must have a length the format allows, encode
 * again and decode to the same response. The request encoder is fed the
 * first bytes as a request and must write exactly 60 bytes that carry its
 * fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/pcp_msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static const struct knit_pcp_map_response zero;

static void request_from(const uint8_t *data, size_t size)
{
    if (size < 40)
        return;
    struct knit_pcp_map_request req;
    memset(&req, 0, sizeof req);
    req.lifetime_s = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                     (uint32_t)data[2] << 8 | data[3];
    knit_addr_set(&req.client, data + 4, data[20] & 1 ? 16 : 4, 0);
    memcpy(req.nonce, data + 21, KNIT_PCP_NONCE_LEN);
    req.protocol = data[33];
    req.internal_port = (uint16_t)(data[34] << 8 | data[35]);
    if (data[36] & 1)
        knit_addr_set(&req.suggested, data + 4, data[20] & 1 ? 16 : 4,
                      (uint16_t)(data[37] << 8 | data[38]));
    uint8_t out[KNIT_PCP_MAP_LEN];
    size_t len = 0;
    int err = knit_pcp_map_request_encode(&req, out, sizeof out, &len);
    if (req.protocol == 0 || req.internal_port == 0) {
        CHECK(err == KNIT_E_INVAL);
        return;
    }
    CHECK(err == KNIT_OK && len == KNIT_PCP_MAP_LEN);
    CHECK(out[0] == KNIT_PCP_VERSION && out[1] == KNIT_PCP_OPCODE_MAP);
    CHECK(memcmp(out + 24, req.nonce, KNIT_PCP_NONCE_LEN) == 0);
    CHECK(out[36] == req.protocol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request_from(data, size);
    struct knit_pcp_map_response r1, r2;
    if (knit_pcp_map_response_decode(data, size, &r1) != 0) {
        CHECK(memcmp(&r1, &zero, sizeof r1) == 0);
        return 0;
    }
    CHECK(size >= KNIT_PCP_HEADER_LEN && size <= KNIT_PCP_MAX_LEN);
    CHECK(size % 4 == 0);
    CHECK(r1.has_map == (size >= KNIT_PCP_MAP_LEN));
    CHECK(r1.has_map || r1.result != KNIT_PCP_SUCCESS);
    CHECK(!r1.has_map || r1.external.family == KNIT_AF_IP4 ||
          r1.external.family == KNIT_AF_IP6);

    uint8_t enc[KNIT_PCP_MAP_LEN];
    size_t len = 0;
    CHECK(knit_pcp_map_response_encode(&r1, enc, sizeof enc, &len) == 0);
    CHECK(len <= size && enc[0] == data[0] && enc[1] == data[1] &&
          enc[3] == data[3]);
    CHECK(knit_pcp_map_response_decode(enc, len, &r2) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    return 0;
}
