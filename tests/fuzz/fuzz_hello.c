/* Fuzzes the hello decoder (proto/hello.h): the input is a hello body as it
 * comes out of a Noise handshake payload. Whatever decodes must encode
 * again, within KNIT_HELLO_MAX_BYTES and no longer than its input (an
 * earlier node's record in it is dropped), and decode to the same fields;
 * the error codes are those the decoder can give. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/hello.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static bool same(const struct knit_hello *a, const struct knit_hello *b)
{
    if (memcmp(a->peer.pubkey, b->peer.pubkey, KNIT_PUBKEY_LEN) != 0 ||
        strcmp(a->agent, b->agent) != 0 ||
        a->protocol_count != b->protocol_count ||
        a->instance != b->instance ||
        a->timestamp_us != b->timestamp_us || a->max_data != b->max_data ||
        a->stream_window != b->stream_window ||
        a->max_streams != b->max_streams)
        return false;
    for (int i = 0; i < a->protocol_count; i++)
        if (strcmp(a->protocols[i], b->protocols[i]) != 0)
            return false;
    return true;
}

static bool expected_error(int err)
{
    switch (err) {
    case KNIT_E_TOO_BIG: case KNIT_E_TRUNCATED: case KNIT_E_MALFORMED:
    case KNIT_E_TYPE: case KNIT_E_MISSING: case KNIT_E_UNSUPPORTED:
    case KNIT_E_DEPTH: case KNIT_E_UNKNOWN_FIELD: case KNIT_E_DUPLICATE:
    case KNIT_E_LENGTH: case KNIT_E_TRAILING:
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_hello h, again;
    int err = knit_hello_decode(&h, data, size);
    if (err) {
        CHECK(expected_error(err));
        return 0;
    }
    CHECK(h.protocol_count <= KNIT_HELLO_MAX_PROTOCOLS);
    CHECK(h.max_data && h.stream_window && h.max_streams);
    /* Our encoding is never longer than what decoded (smallest widths, and
     * no record). */
    uint8_t buf[KNIT_HELLO_MAX_BYTES];
    size_t len;
    CHECK(knit_hello_encode(&h, buf, sizeof buf, &len) == KNIT_OK);
    CHECK(len <= size);
    CHECK(knit_hello_decode(&again, buf, len) == KNIT_OK);
    CHECK(same(&h, &again));
    return 0;
}
