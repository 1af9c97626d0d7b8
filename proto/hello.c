#include "proto/hello.h"

#include <string.h>

#include "proto/msg.h"
#include "proto/record.h"
#include "transport/error.h"

#define HELLO_TYPE 1

static const struct knit_msg_field hello_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, KNIT_PUBKEY_LEN, KNIT_PUBKEY_LEN),
    KNIT_MSG_F_STR(2, KNIT_MSG_REQUIRED, 0, KNIT_HELLO_AGENT_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(3, KNIT_MSG_REQUIRED, 0, KNIT_HELLO_MAX_PROTOCOLS,
                            1, KNIT_HELLO_PROTOCOL_MAX),
    /* Earlier nodes' record: accepted within its bound, then ignored. */
    KNIT_MSG_F_BIN(4, KNIT_MSG_OPTIONAL, 1, KNIT_RECORD_MAX_BYTES),
    KNIT_MSG_F_UINT(5, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(6, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(7, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(8, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(9, KNIT_MSG_REQUIRED, UINT32_MAX),
};
static const struct knit_msg_schema hello_schema = KNIT_MSG_SCHEMA(hello_fields);

static int encode(const struct knit_hello *h, uint8_t *out, size_t cap,
                  size_t *out_len)
{
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_HELLO_MAX_BYTES];
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, frame, sizeof frame);
    knit_msg_begin(&w, HELLO_TYPE, 8);
    knit_msg_put_bin(&w, 1, h->peer.pubkey, KNIT_PUBKEY_LEN);
    knit_msg_put_str(&w, 2, h->agent, strlen(h->agent));
    knit_msg_put_array_begin(&w, 3, h->protocol_count);
    for (uint8_t i = 0; i < h->protocol_count; i++)
        knit_msg_add_str(&w, h->protocols[i], strlen(h->protocols[i]));
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 5, h->instance);
    knit_msg_put_uint(&w, 6, h->timestamp_us);
    knit_msg_put_uint(&w, 7, h->max_data);
    knit_msg_put_uint(&w, 8, h->stream_window);
    knit_msg_put_uint(&w, 9, h->max_streams);
    int err = knit_msg_end(&w, &len);
    if (err)
        return err;
    len -= KNIT_MSG_HEADER_LEN;
    if (len > cap)
        return KNIT_E_NO_SPACE;
    memcpy(out, frame + KNIT_MSG_HEADER_LEN, len);
    *out_len = len;
    return KNIT_OK;
}

int knit_hello_encode(const struct knit_hello *h, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    /* Refuse what the peer's decode would refuse, so a bad hello fails
     * here with a reason rather than as a silent handshake failure. */
    if (h->protocol_count > KNIT_HELLO_MAX_PROTOCOLS || !h->max_data ||
        !h->stream_window || !h->max_streams)
        return KNIT_E_INVAL;
    if (strnlen(h->agent, sizeof h->agent) > KNIT_HELLO_AGENT_MAX)
        return KNIT_E_INVAL;
    for (uint8_t i = 0; i < h->protocol_count; i++) {
        size_t n = strnlen(h->protocols[i], sizeof h->protocols[i]);
        if (n == 0 || n > KNIT_HELLO_PROTOCOL_MAX)
            return KNIT_E_INVAL;
    }
    return encode(h, out, cap, out_len);
}

/* The schema bounds len below cap. A NUL inside would cut the C string
 * short ("/a\0b" read as "/a"), so it is refused. */
static int copy_text(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    if (len >= cap || memchr(src, 0, len))
        return KNIT_E_MALFORMED;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return KNIT_OK;
}

int knit_hello_decode(struct knit_hello *h, const uint8_t *in, size_t len)
{
    struct knit_msg m;
    uint64_t type;
    memset(h, 0, sizeof *h);
    if (len > KNIT_HELLO_MAX_BYTES)
        return KNIT_E_TOO_BIG;
    int err = knit_msg_peek_type(in, len, &type);
    if (err)
        return err;
    if (type != HELLO_TYPE)
        return KNIT_E_UNSUPPORTED;
    err = knit_msg_decode(in, len, &hello_schema, &m);
    if (err)
        return err;
    size_t n;
    const uint8_t *p = knit_msg_bytes(&m, 1, &n);
    memcpy(h->peer.pubkey, p, KNIT_PUBKEY_LEN);
    p = knit_msg_bytes(&m, 2, &n);
    err = copy_text(h->agent, sizeof h->agent, p, n);
    struct knit_msg_iter it;
    knit_msg_iter_init(&it, &m, 3);
    while (err == KNIT_OK && h->protocol_count < KNIT_HELLO_MAX_PROTOCOLS &&
           knit_msg_next_bytes(&it, &p, &n) == KNIT_OK)
        err = copy_text(h->protocols[h->protocol_count++],
                        sizeof h->protocols[0], p, n);
    if (err) {
        memset(h, 0, sizeof *h);
        return err;
    }
    h->instance = knit_msg_uint(&m, 5);
    h->timestamp_us = knit_msg_uint(&m, 6);
    h->max_data = knit_msg_uint(&m, 7);
    h->stream_window = knit_msg_uint(&m, 8);
    h->max_streams = (uint32_t)knit_msg_uint(&m, 9);
    if (h->max_streams == 0 || h->stream_window == 0 || h->max_data == 0)
        return KNIT_E_MALFORMED;
    return KNIT_OK;
}
