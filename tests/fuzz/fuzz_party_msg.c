/* Fuzzes the /knit/mpyc/1 decoder (node/party_msg.h): the input is one
 * message body. A refused body must leave the message cleared; an accepted
 * one must hold only values the encoder takes (a valid session name, an
 * index below a count of 2..KNIT_PARTY_MAX, a known status, a text without
 * NUL), encode again, decode to the same message and encode to the same
 * bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/party_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_PARTY_MAX_MESSAGE)

static const struct knit_party_msg zero;

static size_t encode(const struct knit_party_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_party_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_PARTY_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_party_msg m1, m2;
    if (knit_party_decode(data, size, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    if (m1.type == KNIT_PARTY_HELLO) {
        CHECK(knit_party_session_valid(m1.session, strlen(m1.session)));
        CHECK(m1.count >= 2 && m1.count <= KNIT_PARTY_MAX);
        CHECK(m1.index < m1.count);
    } else {
        CHECK(m1.type == KNIT_PARTY_ANSWER);
        CHECK(m1.status <= KNIT_PARTY_WRONG_INDEX);
        CHECK(strlen(m1.text) <= KNIT_PARTY_TEXT_MAX);
    }
    uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];
    size_t n1 = encode(&m1, enc1);
    CHECK(knit_party_decode(enc1 + KNIT_MSG_HEADER_LEN,
                            n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    CHECK(memcmp(&m1, &m2, sizeof m1) == 0);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
