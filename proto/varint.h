/* QUIC variable-length integers (RFC 9000 §16): a 2-bit length prefix in the
 * first byte selects 1, 2, 4 or 8 bytes, big-endian, so values run below 2^62.
 * Every integer inside a session packet's frames uses this form; the callers
 * are proto/frame.c and whoever sizes frames for packing.
 *
 * We always encode the shortest form. QUIC lets a sender pick a longer form
 * and most stacks accept it, so decode does too (interop habit): 0x4025 and
 * 0x25 both read as 37. Decode never reads past len. */
#ifndef KNIT_VARINT_H
#define KNIT_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The largest value a varint can carry, 2^62 - 1. */
#define KNIT_VARINT_MAX ((UINT64_C(1) << 62) - 1)
/* The longest encoding. */
#define KNIT_VARINT_MAX_LEN 8

/* Writes v in its shortest form to out[0..cap), sets *n to the bytes written.
 * KNIT_E_TOO_BIG if v > KNIT_VARINT_MAX, KNIT_E_NO_SPACE if cap is too
 * small (nothing written), KNIT_E_INVAL on NULL pointers. */
int knit_varint_encode(uint64_t v, uint8_t *out, size_t cap, size_t *n);

/* Reads one varint from in[0..len), sets *v and *n (bytes read).
 * KNIT_E_TRUNCATED if len is shorter than the length prefix announces
 * (including len == 0), KNIT_E_INVAL on NULL pointers. */
int knit_varint_decode(const uint8_t *in, size_t len, uint64_t *v, size_t *n);

/* Bytes knit_varint_encode() writes for v: 1, 2, 4 or 8; 0 if v is too big
 * to encode. */
size_t knit_varint_size(uint64_t v);

#endif
