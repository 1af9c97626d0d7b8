/* base58btc (the Bitcoin alphabet), the text form of peer IDs.
 * Used by proto/peer_id.c; inputs are small (tens of bytes), so the simple
 * quadratic algorithm is the right one. */
#ifndef KNIT_BASE58_H
#define KNIT_BASE58_H

#include <stddef.h>
#include <stdint.h>

/* Longest input either function accepts, to keep the quadratic cost bounded. */
#define KNIT_BASE58_MAX_BYTES 128
#define KNIT_BASE58_MAX_TEXT 200

/* Writes the text and a terminating NUL; *out_len excludes the NUL. */
int knit_base58_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                       size_t *out_len);
/* Rejects characters outside the alphabet (KNIT_E_BASE58), empty or
 * over-long input (KNIT_E_LENGTH / KNIT_E_TOO_BIG). */
int knit_base58_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                       size_t *out_len);

#endif
