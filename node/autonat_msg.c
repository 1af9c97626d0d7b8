/* The /knit/autonat/1 messages and the PROBE/DIAL packets: one schema per
 * message type, every field required, so a message carries exactly what its
 * type says and nothing else. Addresses are struct knit_addr here and
 * binary multiaddrs on the wire. */
#include "node/autonat_msg.h"

#include <string.h>

#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

/* The fullest message, DIAL_FOR: map header, type, id (uint64), nonce
 * (bin8 of 16), an IPv6 endpoint (bin8 of 21), one byte per key. */
_Static_assert(1 + 2 + (1 + 9) + (1 + 2 + KNIT_AUTONAT_NONCE_LEN) +
                   (1 + 2 + 21) <= KNIT_AUTONAT_MAX_MESSAGE,
               "KNIT_AUTONAT_MAX_MESSAGE too small for DIAL_FOR");

#define F_ID KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT64_MAX)
#define F_NONCE KNIT_MSG_F_BIN(2, KNIT_MSG_REQUIRED, KNIT_AUTONAT_NONCE_LEN, \
                               KNIT_AUTONAT_NONCE_LEN)
#define F_ADDR(k) KNIT_MSG_F_BIN(k, KNIT_MSG_REQUIRED, 1, KNIT_MA_BINARY_MAX)

static const struct knit_msg_field observe_fields[] = { F_ID, F_NONCE };
static const struct knit_msg_field observed_fields[] = { F_ID, F_ADDR(2) };
static const struct knit_msg_field dial_back_fields[] = {
    F_ID, F_NONCE,
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, KNIT_AUTONAT_KIND_OTHER_IP),
};
static const struct knit_msg_field dial_for_fields[] = {
    F_ID, F_NONCE, F_ADDR(3),
};
static const struct knit_msg_field result_fields[] = {
    F_ID, KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, KNIT_AUTONAT_STATUS_MAX),
};

static const struct knit_msg_schema observe = KNIT_MSG_SCHEMA(observe_fields);
static const struct knit_msg_schema observed =
    KNIT_MSG_SCHEMA(observed_fields);
static const struct knit_msg_schema dial_back =
    KNIT_MSG_SCHEMA(dial_back_fields);
static const struct knit_msg_schema dial_for = KNIT_MSG_SCHEMA(dial_for_fields);
static const struct knit_msg_schema result = KNIT_MSG_SCHEMA(result_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_AUTONAT_OBSERVE:
        return &observe;
    case KNIT_AUTONAT_OBSERVED:
        return &observed;
    case KNIT_AUTONAT_DIAL_BACK:
        return &dial_back;
    case KNIT_AUTONAT_DIAL_FOR:
        return &dial_for;
    case KNIT_AUTONAT_RESULT:
        return &result;
    default:
        return NULL;
    }
}

bool knit_autonat_type_has_nonce(uint8_t type)
{
    return type == KNIT_AUTONAT_OBSERVE || type == KNIT_AUTONAT_DIAL_BACK ||
           type == KNIT_AUTONAT_DIAL_FOR;
}

bool knit_autonat_type_has_addr(uint8_t type)
{
    return type == KNIT_AUTONAT_OBSERVED || type == KNIT_AUTONAT_DIAL_FOR;
}

/* ---- encoding ------------------------------------------------------------ */

static int check_for_encode(const struct knit_autonat_msg *m)
{
    if (!schema_of(m->type))
        return KNIT_E_INVAL;
    if (knit_autonat_type_has_nonce(m->type) && !m->has_nonce)
        return KNIT_E_INVAL;
    if (knit_autonat_type_has_addr(m->type) &&
        (!m->has_addr || knit_endpoint_check(&m->addr)))
        return KNIT_E_INVAL;
    if (m->type == KNIT_AUTONAT_DIAL_BACK &&
        m->kind != KNIT_AUTONAT_KIND_OTHER_PORT &&
        m->kind != KNIT_AUTONAT_KIND_OTHER_IP)
        return KNIT_E_INVAL;
    if (m->type == KNIT_AUTONAT_RESULT && m->status > KNIT_AUTONAT_STATUS_MAX)
        return KNIT_E_INVAL;
    return KNIT_OK;
}

int knit_autonat_encode(const struct knit_autonat_msg *m, uint8_t *buf,
                        size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    *frame_len = 0;
    int err = check_for_encode(m);
    if (err)
        return err;
    uint8_t addr[KNIT_MA_BINARY_MAX];
    size_t addr_len = 0;
    if (knit_autonat_type_has_addr(m->type)) {
        struct knit_multiaddr ma;
        if ((err = knit_multiaddr_from_socket(&ma, &m->addr, NULL)) ||
            (err = knit_multiaddr_encode(&ma, addr, sizeof addr, &addr_len)))
            return err;
    }

    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, m->type, (uint32_t)schema_of(m->type)->count);
    knit_msg_put_uint(&w, 1, m->id);
    switch (m->type) {
    case KNIT_AUTONAT_OBSERVE:
        knit_msg_put_bin(&w, 2, m->nonce, sizeof m->nonce);
        break;
    case KNIT_AUTONAT_OBSERVED:
        knit_msg_put_bin(&w, 2, addr, addr_len);
        break;
    case KNIT_AUTONAT_DIAL_BACK:
        knit_msg_put_bin(&w, 2, m->nonce, sizeof m->nonce);
        knit_msg_put_uint(&w, 3, m->kind);
        break;
    case KNIT_AUTONAT_DIAL_FOR:
        knit_msg_put_bin(&w, 2, m->nonce, sizeof m->nonce);
        knit_msg_put_bin(&w, 3, addr, addr_len);
        break;
    default:   /* RESULT */
        knit_msg_put_uint(&w, 2, m->status);
        break;
    }
    return knit_msg_end(&w, frame_len);
}

/* ---- decoding ------------------------------------------------------------ */

static int decode_addr(struct knit_addr *out, const uint8_t *p, size_t len)
{
    int err = knit_multiaddr_decode_endpoint(out, p, len);
    return err ? err : knit_endpoint_check(out);
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_autonat_msg *m = out;
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_AUTONAT_MAX_MESSAGE, schema_of, &type,
                                    &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    m->id = knit_msg_uint(&top, 1);

    size_t n;
    const uint8_t *p;
    if (knit_autonat_type_has_nonce(m->type)) {
        p = knit_msg_bytes(&top, 2, &n);
        if (!p || n != sizeof m->nonce)
            return KNIT_E_LENGTH;
        memcpy(m->nonce, p, n);
        m->has_nonce = true;
    }
    if (knit_autonat_type_has_addr(m->type)) {
        unsigned key = m->type == KNIT_AUTONAT_OBSERVED ? 2 : 3;
        p = knit_msg_bytes(&top, key, &n);
        if ((err = decode_addr(&m->addr, p, n)))
            return err;
        m->has_addr = true;
    }
    if (m->type == KNIT_AUTONAT_DIAL_BACK) {
        m->kind = (uint8_t)knit_msg_uint(&top, 3);
        if (m->kind == 0)
            return KNIT_E_MALFORMED;
    }
    if (m->type == KNIT_AUTONAT_RESULT)
        m->status = (uint8_t)knit_msg_uint(&top, 2);
    return KNIT_OK;
}

int knit_autonat_decode(const uint8_t *body, size_t len,
                        struct knit_autonat_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}

/* ---- raw packets --------------------------------------------------------- */

int knit_autonat_packet_build(uint8_t type,
                              const uint8_t nonce[KNIT_AUTONAT_NONCE_LEN],
                              uint8_t out[KNIT_AUTONAT_PACKET_LEN])
{
    if (!nonce || !out ||
        (type != KNIT_PACKET_PROBE && type != KNIT_PACKET_DIAL))
        return KNIT_E_INVAL;
    out[0] = type;
    out[1] = out[2] = out[3] = 0;
    memcpy(out + 4, nonce, KNIT_AUTONAT_NONCE_LEN);
    return KNIT_OK;
}

int knit_autonat_packet_parse(const uint8_t *pkt, size_t len, uint8_t *type,
                              uint8_t nonce[KNIT_AUTONAT_NONCE_LEN])
{
    if (!type || !nonce || (!pkt && len))
        return KNIT_E_INVAL;
    if (len != KNIT_AUTONAT_PACKET_LEN)
        return KNIT_E_LENGTH;
    if (pkt[0] != KNIT_PACKET_PROBE && pkt[0] != KNIT_PACKET_DIAL)
        return KNIT_E_UNSUPPORTED;
    /* Reserved bytes stay 0 so a later version can give them meaning. */
    if (pkt[1] || pkt[2] || pkt[3])
        return KNIT_E_MALFORMED;
    *type = pkt[0];
    memcpy(nonce, pkt + 4, KNIT_AUTONAT_NONCE_LEN);
    return KNIT_OK;
}
