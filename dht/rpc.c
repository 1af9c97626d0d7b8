/* The /knit/dht/1 messages: struct knit_dht_msg to and from its msgpack
 * body, one schema per message type. Addresses are struct knit_addr here
 * and binary multiaddrs on the wire, so the rest of the DHT never handles
 * multiaddrs. */
#include "dht/rpc.h"

#include <string.h>

#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

/* The longest wire address: /ip6 (1 + 16) then /udp (2 + 2). */
#define ADDR_WIRE_MAX 21

/* The worst message must fit the frame limit, so that no valid message is
 * ever refused for its size: a RECORD with every peer at its fullest and a
 * record at its limit. Per peer: map header, key, bin8 of 38, key, array
 * header, 4 x bin8 of 21; the rest: map header, type, id (uint64), array
 * header (array16), record (bin16). */
_Static_assert(1 + 1 + 1 + 9 + 1 + 3 + 1 + 3 + KNIT_RECORD_MAX_BYTES +
                   KNIT_DHT_MAX_PEERS *
                       (1 + 1 + 2 + KNIT_PEER_ID_BYTES + 1 + 1 +
                        KNIT_DHT_MAX_PEER_ADDRS * (2 + ADDR_WIRE_MAX)) <=
                   KNIT_DHT_MAX_MESSAGE,
               "KNIT_DHT_MAX_MESSAGE too small for a full RECORD");

/* ---- schemas ---------------------------------------------------------------- */

static const struct knit_msg_field peer_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, KNIT_PEER_ID_BYTES,
                   KNIT_PEER_ID_BYTES),
    KNIT_MSG_F_ARRAY_OF_BIN(2, KNIT_MSG_REQUIRED, 1, KNIT_DHT_MAX_PEER_ADDRS,
                            1, KNIT_MA_BINARY_MAX),
};
static const struct knit_msg_schema peer_schema = KNIT_MSG_SCHEMA(peer_fields);

#define F_ID KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT64_MAX)
#define F_KEY KNIT_MSG_F_BIN(2, KNIT_MSG_REQUIRED, KNIT_DHT_KEY_LEN, \
                             KNIT_DHT_KEY_LEN)
#define F_PEERS KNIT_MSG_F_ARRAY_OF_MAP(2, KNIT_MSG_REQUIRED, 0, \
                                        KNIT_DHT_MAX_PEERS, &peer_schema)
#define F_STATUS KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, KNIT_DHT_STATUS_MAX)
#define F_RECORD(k, req) KNIT_MSG_F_BIN(k, req, 1, KNIT_RECORD_MAX_BYTES)

static const struct knit_msg_field id_only_fields[] = { F_ID };
static const struct knit_msg_field keyed_fields[] = { F_ID, F_KEY };
static const struct knit_msg_field nodes_fields[] = { F_ID, F_PEERS };
static const struct knit_msg_field record_fields[] = {
    F_ID, F_PEERS, F_RECORD(3, KNIT_MSG_OPTIONAL),
};
static const struct knit_msg_field put_fields[] = {
    F_ID, F_RECORD(2, KNIT_MSG_REQUIRED),
};
static const struct knit_msg_field status_fields[] = { F_ID, F_STATUS };

static const struct knit_msg_schema id_only = KNIT_MSG_SCHEMA(id_only_fields);
static const struct knit_msg_schema keyed = KNIT_MSG_SCHEMA(keyed_fields);
static const struct knit_msg_schema nodes = KNIT_MSG_SCHEMA(nodes_fields);
static const struct knit_msg_schema record = KNIT_MSG_SCHEMA(record_fields);
static const struct knit_msg_schema put = KNIT_MSG_SCHEMA(put_fields);
static const struct knit_msg_schema status = KNIT_MSG_SCHEMA(status_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_DHT_PING:
    case KNIT_DHT_PONG:
        return &id_only;
    case KNIT_DHT_FIND_NODE:
    case KNIT_DHT_GET_RECORD:
        return &keyed;
    case KNIT_DHT_NODES:
        return &nodes;
    case KNIT_DHT_RECORD:
        return &record;
    case KNIT_DHT_PUT_RECORD:
        return &put;
    case KNIT_DHT_PUT_RESULT:
    case KNIT_DHT_ERROR:
        return &status;
    default:
        return NULL;
    }
}

bool knit_dht_msg_is_request(uint8_t type)
{
    return type == KNIT_DHT_PING || type == KNIT_DHT_FIND_NODE ||
           type == KNIT_DHT_GET_RECORD || type == KNIT_DHT_PUT_RECORD;
}

/* ---- encoding ------------------------------------------------------------------ */

/* Checked before anything is written, so a bad message never leaves half a
 * frame behind and the writer's errors are only about room. */
static int check_for_encode(const struct knit_dht_msg *m)
{
    if (!schema_of(m->type))
        return KNIT_E_INVAL;
    if (m->type == KNIT_DHT_NODES || m->type == KNIT_DHT_RECORD) {
        if (m->peer_count > KNIT_DHT_MAX_PEERS)
            return KNIT_E_INVAL;
        for (size_t i = 0; i < m->peer_count; i++) {
            const struct knit_dht_peer_info *p = &m->peers[i];
            if (p->addr_count < 1 || p->addr_count > KNIT_DHT_MAX_PEER_ADDRS)
                return KNIT_E_INVAL;
            for (size_t j = 0; j < p->addr_count; j++)
                if (p->addrs[j].family != KNIT_AF_IP4 &&
                    p->addrs[j].family != KNIT_AF_IP6)
                    return KNIT_E_INVAL;
        }
    }
    bool wants_record = m->type == KNIT_DHT_PUT_RECORD ||
                        (m->type == KNIT_DHT_RECORD && m->record_len > 0);
    if (wants_record && (m->record == NULL || m->record_len == 0 ||
                         m->record_len > KNIT_RECORD_MAX_BYTES))
        return KNIT_E_INVAL;
    if ((m->type == KNIT_DHT_PUT_RESULT || m->type == KNIT_DHT_ERROR) &&
        m->status > KNIT_DHT_STATUS_MAX)
        return KNIT_E_INVAL;
    return KNIT_OK;
}

static void put_peers(struct knit_msg_writer *w,
                      const struct knit_dht_msg *m)
{
    knit_msg_put_array_begin(w, 2, m->peer_count);
    for (size_t i = 0; i < m->peer_count; i++) {
        const struct knit_dht_peer_info *p = &m->peers[i];
        uint8_t id[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&p->id, id);
        knit_msg_add_map_begin(w, 2);
        knit_msg_put_bin(w, 1, id, sizeof id);
        knit_msg_put_array_begin(w, 2, p->addr_count);
        for (size_t j = 0; j < p->addr_count; j++) {
            struct knit_multiaddr ma;
            uint8_t bin[KNIT_MA_BINARY_MAX];
            size_t len = 0;
            /* Cannot fail: the family was checked. Should it ever, the
             * empty element leaves the array short and knit_msg_end()
             * refuses the frame. */
            if (knit_multiaddr_from_socket(&ma, &p->addrs[j], NULL) ||
                knit_multiaddr_encode(&ma, bin, sizeof bin, &len))
                continue;
            knit_msg_add_bin(w, bin, len);
        }
        knit_msg_array_end(w);
        knit_msg_map_end(w);
    }
    knit_msg_array_end(w);
}

int knit_dht_msg_encode(const struct knit_dht_msg *m, uint8_t *out,
                        size_t cap, size_t *out_len)
{
    if (!m || !out || !out_len)
        return KNIT_E_INVAL;
    *out_len = 0;
    int err = check_for_encode(m);
    if (err)
        return err;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    switch (m->type) {
    case KNIT_DHT_PING:
    case KNIT_DHT_PONG:
        knit_msg_begin(&w, m->type, 1);
        knit_msg_put_uint(&w, 1, m->id);
        break;
    case KNIT_DHT_FIND_NODE:
    case KNIT_DHT_GET_RECORD:
        knit_msg_begin(&w, m->type, 2);
        knit_msg_put_uint(&w, 1, m->id);
        knit_msg_put_bin(&w, 2, m->key.b, sizeof m->key.b);
        break;
    case KNIT_DHT_NODES:
    case KNIT_DHT_RECORD:
    {
        /* NODES never carries a record, whatever record_len says. */
        bool with_record = m->type == KNIT_DHT_RECORD && m->record_len;
        knit_msg_begin(&w, m->type, with_record ? 3 : 2);
        knit_msg_put_uint(&w, 1, m->id);
        put_peers(&w, m);
        if (with_record)
            knit_msg_put_bin(&w, 3, m->record, m->record_len);
        break;
    }
    case KNIT_DHT_PUT_RECORD:
        knit_msg_begin(&w, m->type, 2);
        knit_msg_put_uint(&w, 1, m->id);
        knit_msg_put_bin(&w, 2, m->record, m->record_len);
        break;
    default:   /* PUT_RESULT, ERROR */
        knit_msg_begin(&w, m->type, 2);
        knit_msg_put_uint(&w, 1, m->id);
        knit_msg_put_uint(&w, 2, m->status);
        break;
    }
    return knit_msg_end(&w, out_len);
}

/* ---- decoding ------------------------------------------------------------------ */

/* Only a bare UDP endpoint: the peer's ID travels beside its addresses, and
 * a relayed address in a routing answer would route DHT traffic through
 * someone's relay. */
static int decode_addr(struct knit_addr *out, const uint8_t *p, size_t len)
{
    return knit_multiaddr_decode_endpoint(out, p, len);
}

static int decode_peer(struct knit_dht_peer_info *out,
                       const struct knit_msg *pm)
{
    size_t len;
    const uint8_t *p = knit_msg_bytes(pm, 1, &len);
    int err = knit_peer_id_from_bytes(&out->id, p, len);
    if (err)
        return err;
    struct knit_msg_iter it;
    if ((err = knit_msg_iter_init(&it, pm, 2)))
        return err;
    while ((err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        /* The schema bounds the count; this guards the array. */
        if (out->addr_count >= KNIT_DHT_MAX_PEER_ADDRS)
            return KNIT_E_TOO_BIG;
        if ((err = decode_addr(&out->addrs[out->addr_count], p, len)))
            return err;
        out->addr_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_peers(struct knit_dht_msg *m, const struct knit_msg *top)
{
    struct knit_msg_iter it;
    struct knit_msg pm;
    int err = knit_msg_iter_init(&it, top, 2);
    if (err)
        return err;
    while ((err = knit_msg_next_map(&it, &pm)) == KNIT_OK) {
        if (m->peer_count >= KNIT_DHT_MAX_PEERS)
            return KNIT_E_TOO_BIG;
        if ((err = decode_peer(&m->peers[m->peer_count], &pm)))
            return err;
        m->peer_count++;
    }
    return err == KNIT_E_NOT_FOUND ? KNIT_OK : err;
}

static int decode_body(struct knit_dht_msg *m, const uint8_t *body,
                       size_t len)
{
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_DHT_MAX_MESSAGE, schema_of, &type,
                                    &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    m->id = knit_msg_uint(&top, 1);
    size_t n;
    const uint8_t *p;
    switch (type) {
    case KNIT_DHT_FIND_NODE:
    case KNIT_DHT_GET_RECORD:
        p = knit_msg_bytes(&top, 2, &n);
        if (!p || n != sizeof m->key.b)
            return KNIT_E_LENGTH;
        memcpy(m->key.b, p, n);
        break;
    case KNIT_DHT_NODES:
    case KNIT_DHT_RECORD:
        if ((err = decode_peers(m, &top)))
            return err;
        if (type == KNIT_DHT_RECORD)
            m->record = knit_msg_bytes(&top, 3, &m->record_len);
        break;
    case KNIT_DHT_PUT_RECORD:
        m->record = knit_msg_bytes(&top, 2, &m->record_len);
        break;
    case KNIT_DHT_PUT_RESULT:
    case KNIT_DHT_ERROR:
        m->status = (uint8_t)knit_msg_uint(&top, 2);
        break;
    default:
        break;
    }
    return KNIT_OK;
}

int knit_dht_msg_decode(struct knit_dht_msg *m, const uint8_t *body,
                        size_t len)
{
    if (!m)
        return KNIT_E_INVAL;
    memset(m, 0, sizeof *m);
    if (!body && len)
        return KNIT_E_INVAL;
    int err = decode_body(m, body, len);
    if (err)
        memset(m, 0, sizeof *m);
    return err;
}
