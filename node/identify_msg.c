/* The /knit/id/1 message: struct knit_identify_msg to and from its msgpack
 * body. Addresses are checked here, once, so the node only ever sees an
 * observed address that is a real UDP endpoint and listen addresses it can
 * dial or relay through. */
#include "node/identify_msg.h"

#include <string.h>

#include "proto/msg.h"
#include "transport/error.h"

enum {
    K_OBSERVED = 1,
    K_LISTEN = 2,
    K_PROTOCOLS = 3,
    K_AGENT = 4,
    K_RECORD = 5,
    K_PUSH = 6,
    K_ALT_PORT = 7,
};

/* The fullest message must fit the body limit, so that no valid message is
 * refused for its size: map header and type, observed (bin8 of an IPv6
 * endpoint, 21 bytes), listen (array16 of bin8 at the multiaddr limit),
 * protocols (array16 of str8 of 64), agent (str8), record (bin16), push,
 * alt_port (uint16). Each field adds one byte for its key. */
_Static_assert(1 + 2 + (1 + 2 + 21) +
                   (1 + 3 + KNIT_RECORD_MAX_ADDRS * (2 + KNIT_MA_BINARY_MAX)) +
                   (1 + 3 + KNIT_IDENTIFY_MAX_PROTOCOLS *
                                (2 + KNIT_IDENTIFY_MAX_PROTOCOL_LEN)) +
                   (1 + 2 + KNIT_IDENTIFY_MAX_AGENT_LEN) +
                   (1 + 3 + KNIT_RECORD_MAX_BYTES) + 2 + (1 + 3) <=
                   KNIT_IDENTIFY_MAX_MESSAGE,
               "KNIT_IDENTIFY_MAX_MESSAGE too small for a full IDENTIFY");

static const struct knit_msg_field identify_fields[] = {
    KNIT_MSG_F_BIN(K_OBSERVED, KNIT_MSG_OPTIONAL, 1, KNIT_MA_BINARY_MAX),
    KNIT_MSG_F_ARRAY_OF_BIN(K_LISTEN, KNIT_MSG_REQUIRED, 0,
                            KNIT_RECORD_MAX_ADDRS, 1, KNIT_MA_BINARY_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(K_PROTOCOLS, KNIT_MSG_REQUIRED, 0,
                            KNIT_IDENTIFY_MAX_PROTOCOLS, 1,
                            KNIT_IDENTIFY_MAX_PROTOCOL_LEN),
    KNIT_MSG_F_STR(K_AGENT, KNIT_MSG_REQUIRED, 1, KNIT_IDENTIFY_MAX_AGENT_LEN),
    KNIT_MSG_F_BIN(K_RECORD, KNIT_MSG_OPTIONAL, 1, KNIT_RECORD_MAX_BYTES),
    KNIT_MSG_F_BOOL(K_PUSH, KNIT_MSG_OPTIONAL),
    KNIT_MSG_F_UINT(K_ALT_PORT, KNIT_MSG_OPTIONAL, UINT16_MAX),
};
static const struct knit_msg_schema identify_schema =
    KNIT_MSG_SCHEMA(identify_fields);

/* A bare /p2p/<id> says who, not where: it is no listen address. */
static bool is_bare_peer(const struct knit_multiaddr *ma)
{
    return ma->count == 1 && ma->c[0].protocol == KNIT_MA_P2P;
}

/* ---- encoding ------------------------------------------------------------ */

struct listen_bins {
    uint8_t b[KNIT_RECORD_MAX_ADDRS][KNIT_MA_BINARY_MAX];
    size_t len[KNIT_RECORD_MAX_ADDRS];
};

/* Everything is checked (and the listen addresses encoded) before a byte
 * is written, so the writer's only remaining error is lack of room. */
static int check_for_encode(const struct knit_identify_msg *m,
                            struct listen_bins *bins)
{
    if (m->has_observed && knit_endpoint_check(&m->observed))
        return KNIT_E_INVAL;
    if (m->listen_count > KNIT_RECORD_MAX_ADDRS ||
        m->protocol_count > KNIT_IDENTIFY_MAX_PROTOCOLS)
        return KNIT_E_INVAL;
    for (size_t i = 0; i < m->listen_count; i++) {
        if (is_bare_peer(&m->listen[i]))
            return KNIT_E_INVAL;
        int err = knit_multiaddr_encode(&m->listen[i], bins->b[i],
                                        sizeof bins->b[i], &bins->len[i]);
        if (err)
            return err;
    }
    for (size_t i = 0; i < m->protocol_count; i++)
        if (!m->protocols[i] || m->protocol_len[i] == 0 ||
            m->protocol_len[i] > KNIT_IDENTIFY_MAX_PROTOCOL_LEN)
            return KNIT_E_INVAL;
    if (!m->agent || m->agent_len == 0 ||
        m->agent_len > KNIT_IDENTIFY_MAX_AGENT_LEN)
        return KNIT_E_INVAL;
    if (m->record_len > KNIT_RECORD_MAX_BYTES ||
        (m->record_len > 0 && !m->record))
        return KNIT_E_INVAL;
    return KNIT_OK;
}

int knit_identify_encode(const struct knit_identify_msg *m, uint8_t *buf,
                         size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    *frame_len = 0;
    struct listen_bins bins;
    int err = check_for_encode(m, &bins);
    if (err)
        return err;

    uint8_t observed[KNIT_MA_BINARY_MAX];
    size_t observed_len = 0;
    if (m->has_observed) {
        struct knit_multiaddr ma;
        if ((err = knit_multiaddr_from_socket(&ma, &m->observed, NULL)) ||
            (err = knit_multiaddr_encode(&ma, observed, sizeof observed,
                                         &observed_len)))
            return err;
    }

    uint32_t fields = 3 + (m->has_observed ? 1 : 0) +
                      (m->record_len ? 1 : 0) + (m->push ? 1 : 0) +
                      (m->alt_port ? 1 : 0);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_IDENTIFY_TYPE, fields);
    if (m->has_observed)
        knit_msg_put_bin(&w, K_OBSERVED, observed, observed_len);
    knit_msg_put_array_begin(&w, K_LISTEN, m->listen_count);
    for (size_t i = 0; i < m->listen_count; i++)
        knit_msg_add_bin(&w, bins.b[i], bins.len[i]);
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, K_PROTOCOLS, m->protocol_count);
    for (size_t i = 0; i < m->protocol_count; i++)
        knit_msg_add_str(&w, m->protocols[i], m->protocol_len[i]);
    knit_msg_array_end(&w);
    knit_msg_put_str(&w, K_AGENT, m->agent, m->agent_len);
    if (m->record_len)
        knit_msg_put_bin(&w, K_RECORD, m->record, m->record_len);
    if (m->push)
        knit_msg_put_bool(&w, K_PUSH, true);
    if (m->alt_port)
        knit_msg_put_uint(&w, K_ALT_PORT, m->alt_port);
    return knit_msg_end(&w, frame_len);
}

/* ---- decoding ------------------------------------------------------------ */

/* Only a bare UDP endpoint: the observer speaks of the socket our packets
 * left from, so a /p2p or circuit part would be meaningless. */
static int decode_observed(struct knit_addr *out, const uint8_t *p,
                           size_t len)
{
    int err = knit_multiaddr_decode_endpoint(out, p, len);
    return err ? err : knit_endpoint_check(out);
}

static int decode_listen(struct knit_identify_msg *m,
                         const struct knit_msg *top)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    int err = knit_msg_iter_init(&it, top, K_LISTEN);
    if (err)
        return err;
    while ((err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        /* The schema bounds the count; this guards the array. */
        if (m->listen_count >= KNIT_RECORD_MAX_ADDRS)
            return KNIT_E_TOO_BIG;
        struct knit_multiaddr *ma = &m->listen[m->listen_count];
        if ((err = knit_multiaddr_decode(ma, p, len)))
            return err;
        if (is_bare_peer(ma))
            return KNIT_E_SHAPE;
        m->listen_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_protocols(struct knit_identify_msg *m,
                            const struct knit_msg *top)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    int err = knit_msg_iter_init(&it, top, K_PROTOCOLS);
    if (err)
        return err;
    while ((err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        if (m->protocol_count >= KNIT_IDENTIFY_MAX_PROTOCOLS)
            return KNIT_E_TOO_BIG;
        m->protocols[m->protocol_count] = (const char *)p;
        m->protocol_len[m->protocol_count] = (uint8_t)len;
        m->protocol_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_identify_msg *m = out;
    if (len > KNIT_IDENTIFY_MAX_MESSAGE)
        return KNIT_E_TOO_BIG;
    uint64_t type;
    int err = knit_msg_peek_type(body, len, &type);
    if (err)
        return err;
    if (type != KNIT_IDENTIFY_TYPE)
        return KNIT_E_UNSUPPORTED;
    struct knit_msg top;
    if ((err = knit_msg_decode(body, len, &identify_schema, &top)))
        return err;

    size_t n;
    const uint8_t *p = knit_msg_bytes(&top, K_OBSERVED, &n);
    if (p) {
        if ((err = decode_observed(&m->observed, p, n)))
            return err;
        m->has_observed = true;
    }
    if ((err = decode_listen(m, &top)) || (err = decode_protocols(m, &top)))
        return err;
    m->agent = (const char *)knit_msg_bytes(&top, K_AGENT, &m->agent_len);
    m->record = knit_msg_bytes(&top, K_RECORD, &m->record_len);
    m->push = knit_msg_uint(&top, K_PUSH) != 0;
    if (knit_msg_has(&top, K_ALT_PORT)) {
        uint64_t port = knit_msg_uint(&top, K_ALT_PORT);
        if (port == 0)
            return KNIT_E_BAD_PORT;
        m->alt_port = (uint16_t)port;
    }
    return KNIT_OK;
}

int knit_identify_decode(const uint8_t *body, size_t len,
                         struct knit_identify_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}
