/* Fuzzes the hole-punch decoders (node/punch_msg.h): the input is one
 * message body, and also a raw PUNCH packet. A refused body must leave the
 * message cleared; an accepted one must hold only values the encoder takes,
 * encode again, decode to the same message and encode to the same bytes. A
 * packet parses only at exactly 20 bytes with type 7 and zero reserved
 * bytes, and builds back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/punch_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_PUNCH_MAX_MESSAGE)

static const struct knit_punch_msg zero;

static size_t encode(const struct knit_punch_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_punch_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_PUNCH_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

static void packet(const uint8_t *data, size_t size)
{
    uint8_t token[KNIT_PUNCH_TOKEN_LEN], again[KNIT_PUNCH_PACKET_LEN];
    if (knit_punch_packet_parse(data, size, token) != 0)
        return;
    CHECK(size == KNIT_PUNCH_PACKET_LEN);
    knit_punch_packet_build(token, again);
    CHECK(memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    packet(data, size);
    struct knit_punch_msg m1, m2;
    if (knit_punch_decode(data, size, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    CHECK(m1.type == KNIT_PUNCH_CONNECT || m1.type == KNIT_PUNCH_SYNC);
    CHECK(m1.attempt != 0);
    CHECK(m1.addr_count <= KNIT_PUNCH_MAX_ADDRS);
    CHECK(m1.mapping <= 3 && m1.filtering <= 3 && m1.reach <= 2);
    for (size_t i = 0; i < m1.addr_count; i++)
        CHECK(m1.addrs[i].port != 0 &&
              (m1.addrs[i].family == KNIT_AF_IP4 ||
               m1.addrs[i].family == KNIT_AF_IP6) &&
              !knit_addr_is_unspecified(&m1.addrs[i]));

    uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];
    size_t n1 = encode(&m1, enc1);
    CHECK(knit_punch_decode(enc1 + KNIT_MSG_HEADER_LEN,
                            n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    CHECK(memcmp(&m1, &m2, sizeof m1) == 0);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
