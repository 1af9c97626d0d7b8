/* The frames inside a session's transport packets (data-plane design),
 * QUIC-like (RFC 9000 §12.4, §19), every integer a QUIC varint: decode one
 * frame from decrypted packet bytes, encode one frame into a packet being
 * built, and size STREAM frames for packing. The session layer calls decode
 * on each received packet and encode while filling a packet; this module
 * keeps no state and allocates nothing.
 *
 * Wire forms (type byte first):
 *   0x00 PADDING          (a run of zero bytes decodes as one frame)
 *   0x01 PING
 *   0x02 ACK              largest, ack_delay_us, range_count, first_range,
 *                         range_count x (gap, range_len), as RFC 9000 §19.3
 *   0x04 RESET_STREAM     stream_id, error_code, final_size
 *   0x05 STOP_SENDING     stream_id, error_code
 *   0x08..0x0f STREAM     0x04 OFF, 0x02 LEN, 0x01 FIN; stream_id, [offset],
 *                         [length], data (no LEN: to the end of the packet)
 *   0x10 MAX_DATA         maximum
 *   0x11 MAX_STREAM_DATA  stream_id, maximum
 *   0x12 MAX_STREAMS      maximum
 *   0x1a PATH_CHALLENGE   8 bytes
 *   0x1b PATH_RESPONSE    8 bytes
 *   0x1c CLOSE            error_code, reason_len, reason (UTF-8, <= 256)
 *
 * In struct knit_frame every STREAM frame has type KNIT_FRAME_STREAM; the OFF
 * and LEN bits are wire details and FIN is the fin field. */
#ifndef KNIT_FRAME_H
#define KNIT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum knit_frame_type {
    KNIT_FRAME_PADDING = 0x00,
    KNIT_FRAME_PING = 0x01,
    KNIT_FRAME_ACK = 0x02,
    KNIT_FRAME_RESET_STREAM = 0x04,
    KNIT_FRAME_STOP_SENDING = 0x05,
    KNIT_FRAME_STREAM = 0x08,
    KNIT_FRAME_MAX_DATA = 0x10,
    KNIT_FRAME_MAX_STREAM_DATA = 0x11,
    KNIT_FRAME_MAX_STREAMS = 0x12,
    KNIT_FRAME_PATH_CHALLENGE = 0x1a,
    KNIT_FRAME_PATH_RESPONSE = 0x1b,
    KNIT_FRAME_CLOSE = 0x1c,
};

/* STREAM type bits (RFC 9000 §19.8). */
#define KNIT_FRAME_STREAM_FIN 0x01
#define KNIT_FRAME_STREAM_LEN 0x02
#define KNIT_FRAME_STREAM_OFF 0x04

/* Ranges carried in one ACK frame, including the first; a decoded ACK with
 * range_count >= this is refused. */
#define KNIT_ACK_MAX_RANGES 64
/* Longest CLOSE reason, in bytes. */
#define KNIT_FRAME_CLOSE_REASON_MAX 256

struct knit_ack_range {
    uint64_t lo, hi; /* inclusive packet-number range */
};

struct knit_frame {
    uint8_t type; /* enum knit_frame_type */
    union {
        struct {
            uint64_t ack_delay_us;
            uint32_t count; /* 1..KNIT_ACK_MAX_RANGES */
            /* descending: ranges[0] holds the largest */
            struct knit_ack_range ranges[KNIT_ACK_MAX_RANGES];
        } ack;
        struct {
            uint64_t stream_id, offset;
            const uint8_t *data; /* decode: points into the input */
            size_t len;
            bool fin;
        } stream;
        struct {
            uint64_t stream_id, error_code, final_size;
        } reset;
        struct {
            uint64_t stream_id, error_code;
        } stop;
        struct {
            uint64_t max;
        } max_data;
        struct {
            uint64_t stream_id, max;
        } max_stream_data;
        struct {
            uint64_t max;
        } max_streams;
        struct {
            uint8_t data[8];
        } path; /* PATH_CHALLENGE and PATH_RESPONSE */
        struct {
            uint64_t error_code;
            const uint8_t *reason; /* decode: points into the input */
            size_t reason_len;
        } close;
    } u;
};

/* Decodes the one frame at the start of in[0..len) into *f and sets
 * *consumed to its size; data and reason point into in. A run of zero bytes
 * is one PADDING frame covering all of them. On error *consumed is 0 and *f
 * holds nothing useful. Errors:
 *   KNIT_E_TRUNCATED    the frame runs past len (also len == 0)
 *   KNIT_E_UNSUPPORTED  a type byte not listed above; this includes first
 *                       bytes 0x40 and up (a multi-byte QUIC type, none of
 *                       which we speak)
 *   KNIT_E_MALFORMED    ACK with range_count >= KNIT_ACK_MAX_RANGES,
 *                       first_range > largest, or a gap/range_len that
 *                       would go below packet number 0; CLOSE reason longer
 *                       than KNIT_FRAME_CLOSE_REASON_MAX or not UTF-8
 *   KNIT_E_TOO_BIG      STREAM offset + length >= 2^62
 *   KNIT_E_INVAL        NULL pointers
 * The caller should close the session on any of these (a peer that sends a
 * frame we cannot parse cannot be followed past it). */
int knit_frame_decode(const uint8_t *in, size_t len, struct knit_frame *f,
                      size_t *consumed);

/* Encodes *f into out[0..cap) and sets *n to the bytes written. PADDING
 * writes one zero byte (write more zeros to pad further). STREAM always
 * carries LEN, so the frame can sit anywhere in a packet, and OFF only when
 * offset > 0. ACK writes ranges[0..count). Errors:
 *   KNIT_E_INVAL    NULL pointers, an unknown type, an ACK whose count is 0
 *                   or over KNIT_ACK_MAX_RANGES or whose ranges are not
 *                   descending, disjoint and non-adjacent with lo <= hi, a
 *                   CLOSE reason over KNIT_FRAME_CLOSE_REASON_MAX bytes or
 *                   not UTF-8, data or reason NULL with a non-zero length:
 *                   encode refuses everything decode would refuse
 *   KNIT_E_TOO_BIG  an integer over KNIT_VARINT_MAX, or STREAM
 *                   offset + len >= 2^62
 *   KNIT_E_NO_SPACE cap too small (out may hold a partial frame) */
int knit_frame_encode(const struct knit_frame *f, uint8_t *out, size_t cap,
                      size_t *n);

/* Header bytes (type, stream_id, offset, length) of the STREAM frame that
 * knit_frame_encode() writes for these values: LEN always, OFF when
 * offset > 0. The frame is this plus len bytes. 0 if a value is too big. */
size_t knit_frame_stream_overhead(uint64_t stream_id, uint64_t offset,
                                  size_t len);

/* Writes one STREAM frame (LEN always, OFF when offset > 0) holding as much
 * of data[0..len) as fits in cap; *data_taken is how much that was and *n the
 * frame's size. FIN is set only when fin is asked for and all len bytes fit.
 * A frame with no data is written only when len is 0 (e.g. a bare FIN);
 * otherwise at least one byte must fit. Errors: KNIT_E_NO_SPACE (nothing
 * written, *data_taken = 0), KNIT_E_TOO_BIG (stream_id or offset + taken
 * over the varint range), KNIT_E_INVAL (NULL pointers). */
int knit_frame_encode_stream_fit(uint64_t stream_id, uint64_t offset,
                                 const uint8_t *data, size_t len, bool fin,
                                 uint8_t *out, size_t cap, size_t *data_taken,
                                 size_t *n);

/* Whether a packet holding this frame type must be acknowledged (RFC 9002
 * §2): everything but ACK, PADDING and CLOSE. */
bool knit_frame_is_ack_eliciting(uint8_t type);

#endif
