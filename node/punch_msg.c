/* The /knit/punch/1 messages and the PUNCH packet: one schema per message
 * type, every field required, so a message carries exactly what its type
 * says and nothing else. Candidate addresses are struct knit_addr here and
 * binary multiaddrs on the wire; each is checked once, here, so the
 * traversal code only ever sees UDP endpoints it can send a probe to. */
#include "node/punch_msg.h"

#include <string.h>

#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "transport/error.h"

enum {
    K_ATTEMPT = 1,
    K_TOKEN = 2,
    K_ADDRS = 3,
    K_MAPPING = 4,
    K_FILTERING = 5,
    K_REACH = 6,
};

/* The binary multiaddr of an IPv6 UDP endpoint: code 41 (1 byte), 16 bytes
 * of IP, code 273 (2-byte varint), 2 bytes of port. */
#define IP6_ENDPOINT_LEN (1 + 16 + 2 + 2)

/* The fullest message, CONNECT with KNIT_PUNCH_MAX_ADDRS IPv6 endpoints, as
 * the encoder writes it: map header, type, attempt (uint32), token (bin8 of
 * 16), addrs (an array header of at most 3 bytes, each element a bin8 of an
 * endpoint), the three enums. One byte per key. No valid message may be
 * refused for its size. */
_Static_assert(1 + 2 + (1 + 5) + (1 + 2 + KNIT_PUNCH_TOKEN_LEN) +
                   (1 + 3 + KNIT_PUNCH_MAX_ADDRS * (2 + IP6_ENDPOINT_LEN)) +
                   3 * 2 <=
                   KNIT_PUNCH_MAX_MESSAGE,
               "KNIT_PUNCH_MAX_MESSAGE too small for a full CONNECT");
_Static_assert(IP6_ENDPOINT_LEN <= KNIT_MA_BINARY_MAX,
               "an endpoint must fit a binary multiaddr");
_Static_assert(KNIT_PUNCH_PACKET_LEN == 4 + KNIT_PUNCH_TOKEN_LEN,
               "PUNCH packet is type, 3 reserved bytes and the token");

#define F_ATTEMPT KNIT_MSG_F_UINT(K_ATTEMPT, KNIT_MSG_REQUIRED, UINT32_MAX)

static const struct knit_msg_field connect_fields[] = {
    F_ATTEMPT,
    KNIT_MSG_F_BIN(K_TOKEN, KNIT_MSG_REQUIRED, KNIT_PUNCH_TOKEN_LEN,
                   KNIT_PUNCH_TOKEN_LEN),
    KNIT_MSG_F_ARRAY_OF_BIN(K_ADDRS, KNIT_MSG_REQUIRED, 0,
                            KNIT_PUNCH_MAX_ADDRS, 1, KNIT_MA_BINARY_MAX),
    KNIT_MSG_F_UINT(K_MAPPING, KNIT_MSG_REQUIRED,
                    KNIT_MAPPING_ADDRESS_PORT_DEPENDENT),
    KNIT_MSG_F_UINT(K_FILTERING, KNIT_MSG_REQUIRED,
                    KNIT_FILTERING_ADDRESS_PORT_DEPENDENT),
    KNIT_MSG_F_UINT(K_REACH, KNIT_MSG_REQUIRED, KNIT_REACHABILITY_PRIVATE),
};
static const struct knit_msg_field sync_fields[] = { F_ATTEMPT };

static const struct knit_msg_schema connect_schema =
    KNIT_MSG_SCHEMA(connect_fields);
static const struct knit_msg_schema sync_schema = KNIT_MSG_SCHEMA(sync_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_PUNCH_CONNECT:
        return &connect_schema;
    case KNIT_PUNCH_SYNC:
        return &sync_schema;
    default:
        return NULL;
    }
}

/* ---- encoding ------------------------------------------------------------ */

struct addr_bins {
    uint8_t b[KNIT_PUNCH_MAX_ADDRS][KNIT_MA_BINARY_MAX];
    size_t len[KNIT_PUNCH_MAX_ADDRS];
};

/* Everything is checked (and the addresses encoded) before a byte is
 * written, so the writer's only remaining error is lack of room. */
static int check_for_encode(const struct knit_punch_msg *m,
                            struct addr_bins *bins)
{
    if (!schema_of(m->type) || m->attempt == 0)
        return KNIT_E_INVAL;
    if (m->type != KNIT_PUNCH_CONNECT)
        return KNIT_OK;
    if (m->addr_count > KNIT_PUNCH_MAX_ADDRS ||
        m->mapping > KNIT_MAPPING_ADDRESS_PORT_DEPENDENT ||
        m->filtering > KNIT_FILTERING_ADDRESS_PORT_DEPENDENT ||
        m->reach > KNIT_REACHABILITY_PRIVATE)
        return KNIT_E_INVAL;
    for (size_t i = 0; i < m->addr_count; i++) {
        if (knit_endpoint_check(&m->addrs[i]))
            return KNIT_E_INVAL;
        struct knit_multiaddr ma;
        int err = knit_multiaddr_from_socket(&ma, &m->addrs[i], NULL);
        if (err || (err = knit_multiaddr_encode(&ma, bins->b[i],
                                                sizeof bins->b[i],
                                                &bins->len[i])))
            return err;
    }
    return KNIT_OK;
}

int knit_punch_encode(const struct knit_punch_msg *m, uint8_t *buf,
                      size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    *frame_len = 0;
    struct addr_bins bins;
    int err = check_for_encode(m, &bins);
    if (err)
        return err;

    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, m->type, (uint32_t)schema_of(m->type)->count);
    knit_msg_put_uint(&w, K_ATTEMPT, m->attempt);
    if (m->type == KNIT_PUNCH_CONNECT) {
        knit_msg_put_bin(&w, K_TOKEN, m->token, sizeof m->token);
        knit_msg_put_array_begin(&w, K_ADDRS, m->addr_count);
        for (size_t i = 0; i < m->addr_count; i++)
            knit_msg_add_bin(&w, bins.b[i], bins.len[i]);
        knit_msg_array_end(&w);
        knit_msg_put_uint(&w, K_MAPPING, m->mapping);
        knit_msg_put_uint(&w, K_FILTERING, m->filtering);
        knit_msg_put_uint(&w, K_REACH, m->reach);
    }
    return knit_msg_end(&w, frame_len);
}

/* ---- decoding ------------------------------------------------------------ */

/* Only a bare UDP endpoint: a candidate is somewhere to send probes, so a
 * /p2p or circuit part would be meaningless. */
static int decode_addr(struct knit_addr *out, const uint8_t *p, size_t len)
{
    int err = knit_multiaddr_decode_endpoint(out, p, len);
    return err ? err : knit_endpoint_check(out);
}

static int decode_addrs(struct knit_punch_msg *m, const struct knit_msg *top)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    int err = knit_msg_iter_init(&it, top, K_ADDRS);
    if (err)
        return err;
    while ((err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        /* The schema bounds the count; this guards the array. */
        if (m->addr_count >= KNIT_PUNCH_MAX_ADDRS)
            return KNIT_E_TOO_BIG;
        if ((err = decode_addr(&m->addrs[m->addr_count], p, len)))
            return err;
        m->addr_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_punch_msg *m = out;
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_PUNCH_MAX_MESSAGE,
                                    schema_of, &type, &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    /* The schema bounds it by UINT32_MAX; 0 names no attempt. */
    m->attempt = (uint32_t)knit_msg_uint(&top, K_ATTEMPT);
    if (m->attempt == 0)
        return KNIT_E_MALFORMED;
    if (m->type != KNIT_PUNCH_CONNECT)
        return KNIT_OK;

    size_t n;
    const uint8_t *p = knit_msg_bytes(&top, K_TOKEN, &n);
    if (!p || n != sizeof m->token)
        return KNIT_E_LENGTH;
    memcpy(m->token, p, n);
    if ((err = decode_addrs(m, &top)))
        return err;
    /* The schema bounds each enum to its range. */
    m->mapping = (uint8_t)knit_msg_uint(&top, K_MAPPING);
    m->filtering = (uint8_t)knit_msg_uint(&top, K_FILTERING);
    m->reach = (uint8_t)knit_msg_uint(&top, K_REACH);
    return KNIT_OK;
}

int knit_punch_decode(const uint8_t *body, size_t len,
                      struct knit_punch_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}

/* ---- the PUNCH packet ---------------------------------------------------- */

void knit_punch_packet_build(const uint8_t token[KNIT_PUNCH_TOKEN_LEN],
                             uint8_t out[KNIT_PUNCH_PACKET_LEN])
{
    out[0] = KNIT_PACKET_PUNCH;
    out[1] = out[2] = out[3] = 0;
    memcpy(out + 4, token, KNIT_PUNCH_TOKEN_LEN);
}

int knit_punch_packet_parse(const uint8_t *pkt, size_t len,
                            uint8_t token[KNIT_PUNCH_TOKEN_LEN])
{
    if (!token || (!pkt && len))
        return KNIT_E_INVAL;
    if (len != KNIT_PUNCH_PACKET_LEN)
        return KNIT_E_LENGTH;
    if (pkt[0] != KNIT_PACKET_PUNCH)
        return KNIT_E_UNSUPPORTED;
    /* Reserved bytes stay 0 so a later version can give them meaning. */
    if (pkt[1] || pkt[2] || pkt[3])
        return KNIT_E_MALFORMED;
    memcpy(token, pkt + 4, KNIT_PUNCH_TOKEN_LEN);
    return KNIT_OK;
}
