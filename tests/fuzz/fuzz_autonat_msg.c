/* Fuzzes the AutoNAT decoders (node/autonat_msg.h): the input is one
 * message body, and also a raw PROBE/DIAL packet. A refused body must
 * leave the message cleared; an accepted one must encode again, decode to
 * the same message and encode to the same bytes. A packet parses only at
 * exactly 20 bytes with zero reserved bytes, and builds back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/autonat_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_AUTONAT_MAX_MESSAGE)

static const struct knit_autonat_msg zero;

static size_t encode(const struct knit_autonat_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_autonat_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_AUTONAT_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

static void packet(const uint8_t *data, size_t size)
{
    uint8_t type = 0, nonce[KNIT_AUTONAT_NONCE_LEN], again[20];
    if (knit_autonat_packet_parse(data, size, &type, nonce) != 0)
        return;
    CHECK(size == KNIT_AUTONAT_PACKET_LEN);
    CHECK(type == KNIT_PACKET_PROBE || type == KNIT_PACKET_DIAL);
    CHECK(knit_autonat_packet_build(type, nonce, again) == 0);
    CHECK(memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    packet(data, size);
    struct knit_autonat_msg m1, m2;
    if (knit_autonat_decode(data, size, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    CHECK(m1.type >= KNIT_AUTONAT_OBSERVE && m1.type <= KNIT_AUTONAT_RESULT);
    CHECK(m1.has_nonce == knit_autonat_type_has_nonce(m1.type));
    CHECK(m1.has_addr == knit_autonat_type_has_addr(m1.type));
    CHECK(m1.type != KNIT_AUTONAT_DIAL_BACK || m1.kind == 1 || m1.kind == 2);
    CHECK(m1.status <= KNIT_AUTONAT_STATUS_MAX);

    uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];
    size_t n1 = encode(&m1, enc1);
    CHECK(knit_autonat_decode(enc1 + KNIT_MSG_HEADER_LEN,
                              n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    CHECK(memcmp(&m1, &m2, sizeof m1) == 0);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
