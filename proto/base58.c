#include "base58.h"

#include <string.h>

#include "transport/error.h"

static const char alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* log(256)/log(58) < 1.38: digits needed per input byte, rounded up below. */
#define DIGITS_MAX (KNIT_BASE58_MAX_BYTES * 138 / 100 + 1)
/* log(58)/log(256) < 0.733: bytes produced per input character. */
#define BYTES_MAX (KNIT_BASE58_MAX_TEXT * 733 / 1000 + 1)

static int digit_value(char c)
{
    /* The alphabet is tiny; a linear search keeps the table obviously right. */
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

int knit_base58_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                       size_t *out_len)
{
    if ((!in && len) || !out || !out_len)
        return KNIT_E_INVAL;
    /* Empty input would encode to empty text, which decode refuses; refusing
     * both keeps every successful encode decodable. */
    if (len == 0)
        return KNIT_E_LENGTH;
    if (len > KNIT_BASE58_MAX_BYTES)
        return KNIT_E_TOO_BIG;

    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0)
        zeros++;

    /* Big-endian base58 digits of the number after the leading zeros;
     * used counts the low-order digits touched so far. */
    uint8_t digits[DIGITS_MAX];
    size_t size = (len - zeros) * 138 / 100 + 1;
    size_t used = 0;
    memset(digits, 0, size);
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = in[i];
        size_t j = 0;
        for (size_t k = size; k-- > 0 && (carry || j < used); j++) {
            carry += 256u * digits[k];
            digits[k] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        used = j;
    }

    size_t skip = 0;
    while (skip < size && digits[skip] == 0)
        skip++;
    size_t n = zeros + (size - skip);
    if (n + 1 > cap)
        return KNIT_E_NO_SPACE;
    memset(out, '1', zeros);
    for (size_t i = skip; i < size; i++)
        out[zeros + i - skip] = alphabet[digits[i]];
    out[n] = '\0';
    *out_len = n;
    return 0;
}

int knit_base58_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                       size_t *out_len)
{
    if ((!in && len) || (!out && cap) || !out_len)
        return KNIT_E_INVAL;
    if (len == 0)
        return KNIT_E_LENGTH;
    if (len > KNIT_BASE58_MAX_TEXT)
        return KNIT_E_TOO_BIG;

    size_t ones = 0;
    while (ones < len && in[ones] == '1')
        ones++;

    uint8_t bytes[BYTES_MAX];
    size_t size = (len - ones) * 733 / 1000 + 1;
    size_t used = 0;
    memset(bytes, 0, size);
    for (size_t i = ones; i < len; i++) {
        int v = digit_value(in[i]);
        if (v < 0)
            return KNIT_E_BASE58;
        unsigned carry = (unsigned)v;
        size_t j = 0;
        for (size_t k = size; k-- > 0 && (carry || j < used); j++) {
            carry += 58u * bytes[k];
            bytes[k] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        used = j;
    }

    size_t skip = 0;
    while (skip < size && bytes[skip] == 0)
        skip++;
    size_t n = ones + (size - skip);
    if (n > cap)
        return KNIT_E_NO_SPACE;
    memset(out, 0, ones);
    memcpy(out + ones, bytes + skip, size - skip);
    *out_len = n;
    return 0;
}
