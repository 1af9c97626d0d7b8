#include "varint.h"

#include "transport/error.h"

size_t knit_varint_size(uint64_t v)
{
    if (v < (UINT64_C(1) << 6))
        return 1;
    if (v < (UINT64_C(1) << 14))
        return 2;
    if (v < (UINT64_C(1) << 30))
        return 4;
    if (v <= KNIT_VARINT_MAX)
        return 8;
    return 0;
}

int knit_varint_encode(uint64_t v, uint8_t *out, size_t cap, size_t *n)
{
    if (!n || (!out && cap))
        return KNIT_E_INVAL;
    size_t size = knit_varint_size(v);
    if (size == 0)
        return KNIT_E_TOO_BIG;
    if (size > cap)
        return KNIT_E_NO_SPACE;
    for (size_t i = size; i-- > 0;) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
    /* log2 of the size is the prefix: 1 -> 00, 2 -> 01, 4 -> 10, 8 -> 11. */
    static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
    out[0] |= prefix[size];
    *n = size;
    return 0;
}

int knit_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *n)
{
    if ((!in && len) || !v || !n)
        return KNIT_E_INVAL;
    if (len == 0)
        return KNIT_E_TRUNCATED;
    size_t size = (size_t)1 << (in[0] >> 6);
    if (size > len)
        return KNIT_E_TRUNCATED;
    uint64_t x = in[0] & 0x3f;
    for (size_t i = 1; i < size; i++)
        x = (x << 8) | in[i];
    *v = x;
    *n = size;
    return 0;
}
