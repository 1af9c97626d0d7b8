/* Fuzzes the relay codec (relay/relay_msg.h) three ways over one input:
 *   - as one body: a refused body must leave the message cleared; an
 *     accepted one must encode again, decode to the same message, and encode
 *     to the same bytes;
 *   - as a stream of frames (knit_msg_deframe with the relay's limit), each
 *     body checked the same way;
 *   - as circuit bytes: every datagram the deframer yields lies inside the
 *     input within the limits, and frames back to the bytes it came from. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "relay/relay_msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_RELAY_MAX_MESSAGE)

static struct knit_relay_msg m1, m2;
static const struct knit_relay_msg zero;
static uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];
static uint8_t dgram[KNIT_RELAY_DATAGRAM_HEADER + KNIT_RELAY_MAX_DATAGRAM];

static void same(const struct knit_relay_msg *a, const struct knit_relay_msg *b)
{
    CHECK(a->type == b->type && a->has_peer == b->has_peer);
    CHECK(knit_peer_id_equal(&a->peer, &b->peer));
    CHECK(a->status == b->status && a->has_expires == b->has_expires &&
          a->expires_s == b->expires_s);
    CHECK(a->has_limit == b->has_limit && a->limit.bytes == b->limit.bytes &&
          a->limit.seconds == b->limit.seconds);
    CHECK(a->addr_count == b->addr_count &&
          a->addr_count <= KNIT_RELAY_MAX_ADDRS);
    for (size_t i = 0; i < a->addr_count; i++)
        CHECK(knit_multiaddr_equal(&a->addrs[i], &b->addrs[i]));
}

static size_t encode(const struct knit_relay_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_relay_msg_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_RELAY_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

static void check_body(const uint8_t *body, size_t len)
{
    if (knit_relay_msg_decode(body, len, &m1) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return;
    }
    CHECK(len <= KNIT_RELAY_MAX_MESSAGE);
    CHECK(knit_relay_status_known(m1.status) ||
          m1.type != KNIT_RELAY_STATUS);
    CHECK(m1.has_peer == (m1.type == KNIT_RELAY_CONNECT));
    CHECK(!m1.has_limit || m1.limit.bytes || m1.limit.seconds);

    size_t n1 = encode(&m1, enc1);
    CHECK(knit_relay_msg_decode(enc1 + KNIT_MSG_HEADER_LEN,
                                n1 - KNIT_MSG_HEADER_LEN, &m2) == 0);
    same(&m1, &m2);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
}

static void check_frames(const uint8_t *data, size_t size)
{
    struct knit_msg_frame fr;
    while (size > 0) {
        int err = knit_msg_deframe(data, size, KNIT_RELAY_MAX_MESSAGE, &fr);
        if (err == KNIT_E_AGAIN) {
            CHECK(fr.len > size);
            return;
        }
        if (err != 0)
            return;
        CHECK(fr.len <= size && fr.body_len <= KNIT_RELAY_MAX_MESSAGE);
        check_body(fr.body, fr.body_len);
        data += fr.len;
        size -= fr.len;
    }
}

static void check_datagrams(const uint8_t *data, size_t size)
{
    while (size > 0) {
        const uint8_t *pkt;
        size_t len, used, out;
        int err = knit_relay_datagram_next(data, size, &pkt, &len, &used);
        if (err == KNIT_E_AGAIN) {
            CHECK(used > size &&
                  used <= KNIT_RELAY_DATAGRAM_HEADER +
                              KNIT_RELAY_MAX_DATAGRAM);
            return;
        }
        if (err != 0) {
            CHECK(err == KNIT_E_MALFORMED);
            return;
        }
        CHECK(len >= 1 && len <= KNIT_RELAY_MAX_DATAGRAM);
        CHECK(pkt == data + KNIT_RELAY_DATAGRAM_HEADER);
        CHECK(used == KNIT_RELAY_DATAGRAM_HEADER + len && used <= size);
        CHECK(knit_relay_datagram_frame(pkt, len, dgram, sizeof dgram,
                                        &out) == 0);
        CHECK(out == used && memcmp(dgram, data, used) == 0);
        data += used;
        size -= used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_body(data, size);
    check_frames(data, size);
    check_datagrams(data, size);
    return 0;
}
