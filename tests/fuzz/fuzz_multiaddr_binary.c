/* Multiaddr binary decoder: whatever decodes must encode back to exactly the
 * input bytes (the decoder accepts only the canonical form, so there is one
 * encoding per address), and must survive the text form unchanged. */
#include <stdint.h>
#include <string.h>

#include "proto/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct knit_multiaddr a, b, c;
    uint8_t bin[KNIT_MA_BINARY_MAX];
    char text[KNIT_MA_TEXT_MAX];
    size_t n;

    if (knit_multiaddr_decode(&a, data, size) != 0)
        return 0;
    if (knit_multiaddr_encode(&a, bin, sizeof bin, &n) != 0)
        __builtin_trap();
    if (n != size || memcmp(bin, data, n) != 0)
        __builtin_trap();
    if (knit_multiaddr_decode(&b, bin, n) != 0)
        __builtin_trap();
    if (!knit_multiaddr_equal(&a, &b))
        __builtin_trap();

    if (knit_multiaddr_format(&a, text, sizeof text) != 0)
        __builtin_trap();
    if (knit_multiaddr_parse(&c, text, strlen(text)) != 0)
        __builtin_trap();
    if (!knit_multiaddr_equal(&a, &c))
        __builtin_trap();
    return 0;
}
