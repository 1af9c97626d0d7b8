/* Fuzzes the identify decoder (node/identify_msg.h): the input is one body.
 * A refused body must leave the message cleared; an accepted one must keep
 * its pointers inside the input, encode again within the frame limit (what
 * the decoder accepts the encoder can write), decode to the same message
 * and encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/identify_msg.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_IDENTIFY_MAX_MESSAGE)

static struct knit_identify_msg m1, m2;
static const struct knit_identify_msg zero;
static uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];

static bool inside(const void *p, size_t len, const uint8_t *buf, size_t size)
{
    const uint8_t *b = p;
    return b >= buf && len <= size && b - buf <= (ptrdiff_t)(size - len);
}

static void same(const struct knit_identify_msg *a,
                 const struct knit_identify_msg *b)
{
    CHECK(a->push == b->push && a->has_observed == b->has_observed);
    CHECK(!a->has_observed || knit_addr_equal(&a->observed, &b->observed));
    CHECK(a->listen_count == b->listen_count &&
          a->listen_count <= KNIT_RECORD_MAX_ADDRS);
    for (size_t i = 0; i < a->listen_count; i++)
        CHECK(knit_multiaddr_equal(&a->listen[i], &b->listen[i]));
    CHECK(a->alt_port == b->alt_port);
    CHECK(a->protocol_count == b->protocol_count &&
          a->protocol_count <= KNIT_IDENTIFY_MAX_PROTOCOLS);
    for (size_t i = 0; i < a->protocol_count; i++) {
        CHECK(a->protocol_len[i] == b->protocol_len[i]);
        CHECK(a->protocol_len[i] >= 1 &&
              a->protocol_len[i] <= KNIT_IDENTIFY_MAX_PROTOCOL_LEN);
        CHECK(memcmp(a->protocols[i], b->protocols[i], a->protocol_len[i]) ==
              0);
    }
    CHECK(a->agent_len == b->agent_len && a->agent_len >= 1 &&
          a->agent_len <= KNIT_IDENTIFY_MAX_AGENT_LEN);
    CHECK(memcmp(a->agent, b->agent, a->agent_len) == 0);
    CHECK(a->record_len == b->record_len &&
          a->record_len <= KNIT_RECORD_MAX_BYTES);
    CHECK((a->record == NULL) == (a->record_len == 0));
    CHECK(a->record_len == 0 ||
          memcmp(a->record, b->record, a->record_len) == 0);
}

static size_t encode(const struct knit_identify_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_identify_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_IDENTIFY_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (knit_identify_decode(data, size, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    CHECK(size <= KNIT_IDENTIFY_MAX_MESSAGE);
    CHECK(inside(m1.agent, m1.agent_len, data, size));
    for (size_t i = 0; i < m1.protocol_count; i++)
        CHECK(inside(m1.protocols[i], m1.protocol_len[i], data, size));
    if (m1.record_len)
        CHECK(inside(m1.record, m1.record_len, data, size));

    size_t n1 = encode(&m1, enc1);
    CHECK(knit_identify_decode(enc1 + KNIT_MSG_HEADER_LEN,
                               n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    same(&m1, &m2);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
