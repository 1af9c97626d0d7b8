/* Fuzzes the DHT message decoder (dht/rpc.h): the input is one body. A
 * refused body must leave the message cleared; an accepted one must encode
 * again (whatever the decoder accepts, the encoder can write, within the
 * frame limit), decode to the same message, and encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/rpc.h"
#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_DHT_MAX_MESSAGE)

static struct knit_dht_msg m1, m2;
static const struct knit_dht_msg zero;
static uint8_t enc1[FRAME_MAX], enc2[FRAME_MAX];

static void same(const struct knit_dht_msg *a, const struct knit_dht_msg *b)
{
    CHECK(a->type == b->type && a->id == b->id && a->status == b->status);
    CHECK(memcmp(a->key.b, b->key.b, sizeof a->key.b) == 0);
    CHECK(a->peer_count == b->peer_count &&
          a->peer_count <= KNIT_DHT_MAX_PEERS);
    for (size_t i = 0; i < a->peer_count; i++) {
        const struct knit_dht_peer_info *pa = &a->peers[i], *pb = &b->peers[i];
        CHECK(knit_peer_id_equal(&pa->id, &pb->id));
        CHECK(pa->addr_count == pb->addr_count && pa->addr_count >= 1 &&
              pa->addr_count <= KNIT_DHT_MAX_PEER_ADDRS);
        for (size_t k = 0; k < pa->addr_count; k++)
            CHECK(knit_addr_equal(&pa->addrs[k], &pb->addrs[k]));
    }
    CHECK(a->record_len == b->record_len &&
          a->record_len <= KNIT_RECORD_MAX_BYTES);
    CHECK((a->record == NULL) == (a->record_len == 0));
    CHECK((b->record == NULL) == (b->record_len == 0));
    CHECK(a->record_len == 0 ||
          memcmp(a->record, b->record, a->record_len) == 0);
}

static size_t encode(const struct knit_dht_msg *m, uint8_t *out)
{
    size_t len = 0;
    CHECK(knit_dht_msg_encode(m, out, FRAME_MAX, &len) == 0);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(out, len, KNIT_DHT_MAX_MESSAGE, &fr) == 0);
    CHECK(fr.len == len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (knit_dht_msg_decode(&m1, data, size) != 0) {
        CHECK(memcmp(&m1, &zero, sizeof m1) == 0);
        return 0;
    }
    CHECK(size <= KNIT_DHT_MAX_MESSAGE);
    if (m1.record_len)
        CHECK(m1.record > data &&
              m1.record + m1.record_len <= data + size);

    size_t n1 = encode(&m1, enc1);
    CHECK(knit_dht_msg_decode(&m2, enc1 + KNIT_MSG_HEADER_LEN,
                              n1 - KNIT_MSG_HEADER_LEN) == 0);
    same(&m1, &m2);
    size_t n2 = encode(&m2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    return 0;
}
