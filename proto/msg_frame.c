/* The frame boundary of a message stream: a 4-byte big-endian length, then
 * the body. Stateless: the stream keeps the buffer, this only looks at it. */
#include "msg.h"

#include "transport/error.h"

int knit_msg_deframe(const uint8_t *buf, size_t len, size_t max,
                     struct knit_msg_frame *out)
{
    out->body = NULL;
    out->body_len = 0;
    out->len = KNIT_MSG_HEADER_LEN;
    if (max == 0 || max > KNIT_MSG_MAX_CEILING || (buf == NULL && len > 0))
        return KNIT_E_INVAL;
    if (len < KNIT_MSG_HEADER_LEN)
        return KNIT_E_AGAIN;

    uint32_t body_len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
                        (uint32_t)buf[2] << 8 | buf[3];
    /* Decided on the header alone: waiting for the body first would let a
     * peer make us hold as much as it announces. */
    if (body_len > max)
        return KNIT_E_TOO_BIG;
    if (body_len == 0)
        return KNIT_E_MALFORMED;
    out->len = KNIT_MSG_HEADER_LEN + (size_t)body_len;
    if (len < out->len)
        return KNIT_E_AGAIN;
    out->body = buf + KNIT_MSG_HEADER_LEN;
    out->body_len = body_len;
    return 0;
}
