/* Fuzzes the /knit/forward/1 decoder (node/service_msg.h): the input is one
 * message body. A refused body must leave the message cleared; an accepted
 * one must hold only what the encoder takes (a valid name, a known status,
 * a bounded text), encode again, decode to the same message and encode to
 * the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/service_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static const struct knit_service_msg zero;

static size_t encode(const struct knit_service_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_service_encode(m, out, KNIT_SERVICE_FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_SERVICE_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_service_msg m1, m2;
    if (knit_service_decode(data, size, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    if (m1.type == KNIT_SERVICE_OPEN) {
        CHECK(knit_service_name_valid(m1.service, strlen(m1.service)));
        CHECK(m1.status == 0 && m1.text[0] == '\0');
    } else {
        CHECK(m1.type == KNIT_SERVICE_ANSWER);
        CHECK(m1.status <= KNIT_SERVICE_STATUS_MAX);
        CHECK(strlen(m1.text) <= KNIT_SERVICE_TEXT_MAX);
        CHECK(m1.service[0] == '\0');
    }
    uint8_t enc1[KNIT_SERVICE_FRAME_MAX], enc2[KNIT_SERVICE_FRAME_MAX];
    size_t n1 = encode(&m1, enc1);
    CHECK(knit_service_decode(enc1 + KNIT_MSG_HEADER_LEN,
                              n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    CHECK(memcmp(&m1, &m2, sizeof m1) == 0);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
