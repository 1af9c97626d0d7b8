/* Fuzzes the frame decoder: the input is a decrypted packet body, decoded
 * frame by frame until the end or the first error. Every decoded frame is
 * re-encoded and decoded again, and must come back equal (STREAM data and
 * CLOSE reasons compared byte for byte); the re-encoding is never longer than
 * the original except by the LEN field a STREAM frame may have lacked. The
 * error codes are limited to those the header promises. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/varint.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    return len == 0 || memcmp(a, b, len) == 0;
}

static bool frames_equal(const struct knit_frame *a, const struct knit_frame *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case KNIT_FRAME_ACK:
        if (a->u.ack.ack_delay_us != b->u.ack.ack_delay_us ||
            a->u.ack.count != b->u.ack.count)
            return false;
        return memcmp(a->u.ack.ranges, b->u.ack.ranges,
                      a->u.ack.count * sizeof a->u.ack.ranges[0]) == 0;
    case KNIT_FRAME_STREAM:
        return a->u.stream.stream_id == b->u.stream.stream_id &&
               a->u.stream.offset == b->u.stream.offset &&
               a->u.stream.fin == b->u.stream.fin &&
               a->u.stream.len == b->u.stream.len &&
               bytes_equal(a->u.stream.data, b->u.stream.data,
                           a->u.stream.len);
    case KNIT_FRAME_RESET_STREAM:
        return a->u.reset.stream_id == b->u.reset.stream_id &&
               a->u.reset.error_code == b->u.reset.error_code &&
               a->u.reset.final_size == b->u.reset.final_size;
    case KNIT_FRAME_STOP_SENDING:
        return a->u.stop.stream_id == b->u.stop.stream_id &&
               a->u.stop.error_code == b->u.stop.error_code;
    case KNIT_FRAME_MAX_DATA:
        return a->u.max_data.max == b->u.max_data.max;
    case KNIT_FRAME_MAX_STREAM_DATA:
        return a->u.max_stream_data.stream_id ==
                   b->u.max_stream_data.stream_id &&
               a->u.max_stream_data.max == b->u.max_stream_data.max;
    case KNIT_FRAME_MAX_STREAMS:
        return a->u.max_streams.max == b->u.max_streams.max;
    case KNIT_FRAME_PATH_CHALLENGE:
    case KNIT_FRAME_PATH_RESPONSE:
        return memcmp(a->u.path.data, b->u.path.data, 8) == 0;
    case KNIT_FRAME_CLOSE:
        return a->u.close.error_code == b->u.close.error_code &&
               a->u.close.reason_len == b->u.close.reason_len &&
               bytes_equal(a->u.close.reason, b->u.close.reason,
                           a->u.close.reason_len);
    case KNIT_FRAME_PADDING:
    case KNIT_FRAME_PING:
        return true;
    default:
        return false;
    }
}

#define MAX_INPUT (64 * 1024)
static uint8_t enc[MAX_INPUT + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    size_t off = 0;
    while (off < size) {
        struct knit_frame f, g;
        size_t used = 0, n = 0, used2 = 0;
        int err = knit_frame_decode(data + off, size - off, &f, &used);
        if (err < 0) {
            CHECK(err == KNIT_E_TRUNCATED || err == KNIT_E_UNSUPPORTED ||
                  err == KNIT_E_MALFORMED || err == KNIT_E_TOO_BIG);
            CHECK(used == 0);
            break;
        }
        CHECK(used > 0 && used <= size - off);
        if (f.type == KNIT_FRAME_ACK)
            CHECK(f.u.ack.count >= 1 && f.u.ack.count <= KNIT_ACK_MAX_RANGES);
        if (f.type == KNIT_FRAME_STREAM)
            CHECK(f.u.stream.offset + f.u.stream.len <= KNIT_VARINT_MAX);

        /* What decode accepts, encode must accept. */
        CHECK(knit_frame_encode(&f, enc, sizeof enc, &n) == 0);
        /* Minimal varints never grow a frame; a STREAM frame without LEN
         * gains one (at most 8 bytes); PADDING re-encodes as one byte. */
        CHECK(n <= used + (f.type == KNIT_FRAME_STREAM ? 8 : 0));
        CHECK(knit_frame_decode(enc, n, &g, &used2) == 0);
        CHECK(used2 == n);
        CHECK(frames_equal(&f, &g));
        /* Too little room is refused, never overrun. */
        CHECK(knit_frame_encode(&f, enc, n - 1, &used2) == KNIT_E_NO_SPACE);
        if (f.type == KNIT_FRAME_STREAM) {
            size_t taken = 0, m = 0;
            CHECK(knit_frame_encode_stream_fit(
                      f.u.stream.stream_id, f.u.stream.offset,
                      f.u.stream.data, f.u.stream.len, f.u.stream.fin, enc,
                      sizeof enc, &taken, &m) == 0);
            CHECK(taken == f.u.stream.len && m == n);
            CHECK(knit_frame_stream_overhead(f.u.stream.stream_id,
                                             f.u.stream.offset,
                                             f.u.stream.len) +
                      f.u.stream.len == n);
        }
        off += used;
    }
    return 0;
}
