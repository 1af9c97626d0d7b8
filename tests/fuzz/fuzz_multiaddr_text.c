/* Multiaddr text parser: whatever parses must format, and the formatted text
 * must parse back to the same address and format identically again (the
 * first format may normalise IPv6 spelling; after that it is a fixed point).
 * Accepted addresses must also survive the binary form unchanged. */
#include <stdint.h>
#include <string.h>

#include "proto/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_multiaddr a, b, c;
    char text[KNIT_MA_TEXT_MAX], text2[KNIT_MA_TEXT_MAX];
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t n;

    if (knit_multiaddr_parse(&a, (const char *)data, size) != 0)
        return 0;
    if (knit_multiaddr_format(&a, text, sizeof text) != 0)
        __builtin_trap();
    if (knit_multiaddr_parse(&b, text, strlen(text)) != 0)
        __builtin_trap();
    if (!knit_multiaddr_equal(&a, &b))
        __builtin_trap();
    if (knit_multiaddr_format(&b, text2, sizeof text2) != 0 ||
        strcmp(text, text2) != 0)
        __builtin_trap();

    if (knit_multiaddr_encode(&a, bin, sizeof bin, &n) != 0)
        __builtin_trap();
    if (knit_multiaddr_decode(&c, bin, n) != 0)
        __builtin_trap();
    if (!knit_multiaddr_equal(&a, &c))
        __builtin_trap();
    return 0;
}
