/* The /knit/relay/{hop,stop}/1 messages to and from their msgpack bodies,
 * one schema per message type, and the length framing of circuit
 * datagrams. */
#include "relay/relay_msg.h"

#include <string.h>

#include "proto/msg.h"
#include "transport/error.h"

/* The worst STATUS must fit the frame limit: map header, type, status
 * (uint16), expires (uint32), limit_bytes (uint64), limit_seconds (uint32),
 * then the addrs key, array header and 8 bin8 of the longest binary
 * multiaddr. A CONNECT (38-byte peer and two limits) is smaller. */
_Static_assert(1 + 2 + (1 + 3) + (1 + 5) + (1 + 9) + (1 + 5) + 1 + 1 +
                       KNIT_RELAY_MAX_ADDRS * (2 + KNIT_MA_BINARY_MAX) <=
                   KNIT_RELAY_MAX_MESSAGE,
               "KNIT_RELAY_MAX_MESSAGE too small for a full STATUS");
_Static_assert(KNIT_RELAY_MAX_DATAGRAM <= UINT16_MAX,
               "a circuit datagram length must fit 2 bytes");

/* ---- schemas ------------------------------------------------------------ */

#define F_LIMIT_BYTES(k) KNIT_MSG_F_UINT(k, KNIT_MSG_OPTIONAL, UINT64_MAX)
#define F_LIMIT_SECONDS(k) KNIT_MSG_F_UINT(k, KNIT_MSG_OPTIONAL, UINT32_MAX)

static const struct knit_msg_field connect_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, KNIT_PEER_ID_BYTES,
                   KNIT_PEER_ID_BYTES),
    F_LIMIT_BYTES(2),
    F_LIMIT_SECONDS(3),
};
static const struct knit_msg_field status_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT16_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_OPTIONAL, UINT32_MAX),
    F_LIMIT_BYTES(3),
    F_LIMIT_SECONDS(4),
    KNIT_MSG_F_ARRAY_OF_BIN(5, KNIT_MSG_OPTIONAL, 0, KNIT_RELAY_MAX_ADDRS, 1,
                            KNIT_MA_BINARY_MAX),
};

static const struct knit_msg_schema reserve_schema = { NULL, 0 };
static const struct knit_msg_schema connect_schema =
    KNIT_MSG_SCHEMA(connect_fields);
static const struct knit_msg_schema status_schema =
    KNIT_MSG_SCHEMA(status_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_RELAY_RESERVE:
        return &reserve_schema;
    case KNIT_RELAY_CONNECT:
        return &connect_schema;
    case KNIT_RELAY_STATUS:
        return &status_schema;
    default:
        return NULL;
    }
}

const char *knit_relay_status_name(uint16_t status)
{
    switch (status) {
    case KNIT_RELAY_OK:
        return "OK";
    case KNIT_RELAY_RESERVATION_REFUSED:
        return "RESERVATION_REFUSED";
    case KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED:
        return "RESOURCE_LIMIT_EXCEEDED";
    case KNIT_RELAY_PERMISSION_DENIED:
        return "PERMISSION_DENIED";
    case KNIT_RELAY_CONNECTION_FAILED:
        return "CONNECTION_FAILED";
    case KNIT_RELAY_NO_RESERVATION:
        return "NO_RESERVATION";
    case KNIT_RELAY_MALFORMED_MESSAGE:
        return "MALFORMED_MESSAGE";
    case KNIT_RELAY_UNEXPECTED_MESSAGE:
        return "UNEXPECTED_MESSAGE";
    default:
        return "UNKNOWN";
    }
}

bool knit_relay_status_known(uint16_t status)
{
    return strcmp(knit_relay_status_name(status), "UNKNOWN") != 0;
}

/* A relay's own address: a UDP endpoint, possibly naming the relay with
 * /p2p. Never a circuit: a relay reached through another relay would stack
 * circuits. */
static int check_relay_addr(const struct knit_multiaddr *ma)
{
    struct knit_addr sock;
    if (knit_multiaddr_is_circuit(ma) ||
        knit_multiaddr_to_socket(ma, &sock) != KNIT_OK)
        return KNIT_E_SHAPE;
    return KNIT_OK;
}

/* ---- encoding ----------------------------------------------------------- */

static uint32_t limit_field_count(const struct knit_relay_msg *m)
{
    if (!m->has_limit)
        return 0;
    return (m->limit.bytes != 0) + (m->limit.seconds != 0);
}

static void put_limit(struct knit_msg_writer *w, const struct knit_relay_msg *m,
                      unsigned bytes_key, unsigned seconds_key)
{
    if (!m->has_limit)
        return;
    if (m->limit.bytes)
        knit_msg_put_uint(w, bytes_key, m->limit.bytes);
    if (m->limit.seconds)
        knit_msg_put_uint(w, seconds_key, m->limit.seconds);
}

/* Checked before anything is written, so that the writer's errors are only
 * about room, and every address encoded once into addr_bin. */
static int check_for_encode(const struct knit_relay_msg *m,
                            uint8_t addr_bin[][KNIT_MA_BINARY_MAX],
                            size_t addr_len[])
{
    if (!schema_of(m->type))
        return KNIT_E_INVAL;
    if (m->type == KNIT_RELAY_CONNECT && !m->has_peer)
        return KNIT_E_INVAL;
    if (m->type != KNIT_RELAY_STATUS)
        return KNIT_OK;
    if (!knit_relay_status_known(m->status) ||
        m->addr_count > KNIT_RELAY_MAX_ADDRS)
        return KNIT_E_INVAL;
    for (size_t i = 0; i < m->addr_count; i++) {
        if (check_relay_addr(&m->addrs[i]) != KNIT_OK ||
            knit_multiaddr_encode(&m->addrs[i], addr_bin[i],
                                  KNIT_MA_BINARY_MAX, &addr_len[i]) != KNIT_OK)
            return KNIT_E_INVAL;
    }
    return KNIT_OK;
}

int knit_relay_msg_encode(const struct knit_relay_msg *m, uint8_t *buf,
                          size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    *frame_len = 0;
    uint8_t addr_bin[KNIT_RELAY_MAX_ADDRS][KNIT_MA_BINARY_MAX];
    size_t addr_len[KNIT_RELAY_MAX_ADDRS];
    int err = check_for_encode(m, addr_bin, addr_len);
    if (err)
        return err;

    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    switch (m->type) {
    case KNIT_RELAY_RESERVE:
        knit_msg_begin(&w, m->type, 0);
        break;
    case KNIT_RELAY_CONNECT:
    {
        uint8_t id[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&m->peer, id);
        knit_msg_begin(&w, m->type, 1 + limit_field_count(m));
        knit_msg_put_bin(&w, 1, id, sizeof id);
        put_limit(&w, m, 2, 3);
        break;
    }
    default:   /* STATUS */
        knit_msg_begin(&w, m->type,
                       1 + (uint32_t)m->has_expires + limit_field_count(m) +
                           (m->addr_count > 0));
        knit_msg_put_uint(&w, 1, m->status);
        if (m->has_expires)
            knit_msg_put_uint(&w, 2, m->expires_s);
        put_limit(&w, m, 3, 4);
        if (m->addr_count > 0) {
            knit_msg_put_array_begin(&w, 5, m->addr_count);
            for (size_t i = 0; i < m->addr_count; i++)
                knit_msg_add_bin(&w, addr_bin[i], addr_len[i]);
            knit_msg_array_end(&w);
        }
        break;
    }
    return knit_msg_end(&w, frame_len);
}

/* ---- decoding ----------------------------------------------------------- */

/* Limits present with value 0 are refused: 0 is written by omission. */
static int decode_limit(struct knit_relay_msg *m, const struct knit_msg *top,
                        unsigned bytes_key, unsigned seconds_key)
{
    bool has_bytes = knit_msg_has(top, bytes_key);
    bool has_seconds = knit_msg_has(top, seconds_key);
    m->limit.bytes = knit_msg_uint(top, bytes_key);
    m->limit.seconds = (uint32_t)knit_msg_uint(top, seconds_key);
    if ((has_bytes && m->limit.bytes == 0) ||
        (has_seconds && m->limit.seconds == 0))
        return KNIT_E_MALFORMED;
    m->has_limit = has_bytes || has_seconds;
    return KNIT_OK;
}

static int decode_addrs(struct knit_relay_msg *m, const struct knit_msg *top)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    int err = knit_msg_iter_init(&it, top, 5);
    if (err)
        return err;
    while ((err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        /* The schema bounds the count; this guards the array. */
        if (m->addr_count >= KNIT_RELAY_MAX_ADDRS)
            return KNIT_E_TOO_BIG;
        struct knit_multiaddr *ma = &m->addrs[m->addr_count];
        if ((err = knit_multiaddr_decode(ma, p, len)) ||
            (err = check_relay_addr(ma)))
            return err;
        m->addr_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_relay_msg *m = out;
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_RELAY_MAX_MESSAGE, schema_of, &type,
                                    &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    if (type == KNIT_RELAY_CONNECT) {
        size_t n;
        const uint8_t *p = knit_msg_bytes(&top, 1, &n);
        if ((err = knit_peer_id_from_bytes(&m->peer, p, n)))
            return err;
        m->has_peer = true;
        return decode_limit(m, &top, 2, 3);
    }
    if (type == KNIT_RELAY_STATUS) {
        m->status = (uint16_t)knit_msg_uint(&top, 1);
        if (!knit_relay_status_known(m->status))
            return KNIT_E_UNSUPPORTED;
        m->has_expires = knit_msg_has(&top, 2);
        m->expires_s = (uint32_t)knit_msg_uint(&top, 2);
        if ((err = decode_limit(m, &top, 3, 4)))
            return err;
        return decode_addrs(m, &top);
    }
    return KNIT_OK;
}

int knit_relay_msg_decode(const uint8_t *body, size_t len,
                          struct knit_relay_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}

/* ---- circuit datagrams -------------------------------------------------- */

int knit_relay_datagram_frame(const uint8_t *pkt, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len)
{
    if (!out_len)
        return KNIT_E_INVAL;
    *out_len = 0;
    if (!pkt || !out || len == 0)
        return KNIT_E_INVAL;
    if (len > KNIT_RELAY_MAX_DATAGRAM)
        return KNIT_E_TOO_BIG;
    if (cap < KNIT_RELAY_DATAGRAM_HEADER + len)
        return KNIT_E_NO_SPACE;
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memmove(out + KNIT_RELAY_DATAGRAM_HEADER, pkt, len);
    *out_len = KNIT_RELAY_DATAGRAM_HEADER + len;
    return KNIT_OK;
}

int knit_relay_datagram_next(const uint8_t *buf, size_t len,
                             const uint8_t **pkt, size_t *pkt_len,
                             size_t *consumed)
{
    if (!pkt || !pkt_len || !consumed)
        return KNIT_E_INVAL;
    *pkt = NULL;
    *pkt_len = 0;
    *consumed = 0;
    if (!buf && len)
        return KNIT_E_INVAL;
    if (len < KNIT_RELAY_DATAGRAM_HEADER) {
        *consumed = KNIT_RELAY_DATAGRAM_HEADER;
        return KNIT_E_AGAIN;
    }
    size_t n = (size_t)buf[0] << 8 | buf[1];
    if (n == 0 || n > KNIT_RELAY_MAX_DATAGRAM)
        return KNIT_E_MALFORMED;
    if (len < KNIT_RELAY_DATAGRAM_HEADER + n) {
        *consumed = KNIT_RELAY_DATAGRAM_HEADER + n;
        return KNIT_E_AGAIN;
    }
    *pkt = buf + KNIT_RELAY_DATAGRAM_HEADER;
    *pkt_len = n;
    *consumed = KNIT_RELAY_DATAGRAM_HEADER + n;
    return KNIT_OK;
}
