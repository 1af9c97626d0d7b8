/* Peer ID text is what users paste and peers send: any text that parses must
 * format back to exactly itself, or two spellings would name one peer. The
 * same holds one layer down for base58 itself. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/base58.h"
#include "proto/peer_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_base58(const uint8_t *data, size_t size)
{
    uint8_t bytes[KNIT_BASE58_MAX_BYTES];
    char text[KNIT_BASE58_MAX_TEXT + 1];
    size_t n, tlen;
    if (knit_base58_decode((const char *)data, size, bytes, sizeof bytes,
                           &n) != 0)
        return;
    if (knit_base58_encode(bytes, n, text, sizeof text, &tlen) != 0)
        __builtin_trap();
    if (tlen != size || memcmp(text, data, size) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_base58(data, size);

    struct knit_peer_id id;
    if (knit_peer_id_from_text(&id, (const char *)data, size) != 0)
        return 0;
    char text[KNIT_PEER_ID_TEXT_MAX];
    if (knit_peer_id_to_text(&id, text, sizeof text) != 0)
        __builtin_trap();
    if (strlen(text) != size || memcmp(text, data, size) != 0)
        __builtin_trap();

    uint8_t bytes[KNIT_PEER_ID_BYTES];
    struct knit_peer_id back;
    knit_peer_id_to_bytes(&id, bytes);
    if (knit_peer_id_from_bytes(&back, bytes, sizeof bytes) != 0 ||
        !knit_peer_id_equal(&id, &back))
        __builtin_trap();
    return 0;
}
