/* The dht.state codec. Each frame is built in a fixed buffer by the msg
 * writer and appended to the growing file buffer; reading walks the frames
 * in place and hands items out as they are checked, so neither direction
 * holds more than one frame besides the file itself. */
#include "dht/state.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "transport/error.h"

#define INITIAL_CAP 4096

static const struct knit_msg_field header_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_UINT(2, KNIT_MSG_REQUIRED, UINT64_MAX),
};
static const struct knit_msg_schema header_schema =
    KNIT_MSG_SCHEMA(header_fields);

static const struct knit_msg_field peer_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, KNIT_PEER_ID_BYTES,
                   KNIT_PEER_ID_BYTES),
    KNIT_MSG_F_BIN(2, KNIT_MSG_REQUIRED, 1, KNIT_MA_BINARY_MAX),
    KNIT_MSG_F_UINT(3, KNIT_MSG_REQUIRED, UINT64_MAX),
};
static const struct knit_msg_schema peer_schema = KNIT_MSG_SCHEMA(peer_fields);

static const struct knit_msg_field record_fields[] = {
    KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, 1, KNIT_RECORD_MAX_BYTES),
};
static const struct knit_msg_schema record_schema =
    KNIT_MSG_SCHEMA(record_fields);

/* ---- writing ------------------------------------------------------------ */

static int fail(struct knit_dht_state_writer *w, int err)
{
    w->err = err;
    return err;
}

static int append(struct knit_dht_state_writer *w, const uint8_t *p,
                  size_t n)
{
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : INITIAL_CAP;
        while (n > cap - w->len) {
            if (cap > SIZE_MAX / 2)
                return fail(w, KNIT_E_NOMEM);
            cap *= 2;
        }
        uint8_t *b = realloc(w->buf, cap);
        if (!b)
            return fail(w, KNIT_E_NOMEM);
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return KNIT_OK;
}

/* Ends the frame in mw and appends it. */
static int finish_frame(struct knit_dht_state_writer *w,
                        struct knit_msg_writer *mw)
{
    size_t n;
    int err = knit_msg_end(mw, &n);
    if (err)
        return fail(w, err);
    return append(w, mw->buf, n);
}

int knit_dht_state_writer_init(struct knit_dht_state_writer *w,
                               uint64_t saved_at_unix)
{
    if (!w)
        return KNIT_E_INVAL;
    memset(w, 0, sizeof *w);
    uint8_t frame[64];
    struct knit_msg_writer mw;
    knit_msg_writer_init(&mw, frame, sizeof frame);
    knit_msg_begin(&mw, KNIT_DHT_STATE_HEADER, 2);
    knit_msg_put_uint(&mw, 1, KNIT_DHT_STATE_VERSION);
    knit_msg_put_uint(&mw, 2, saved_at_unix);
    return finish_frame(w, &mw);
}

int knit_dht_state_add_peer(struct knit_dht_state_writer *w,
                            const struct knit_dht_state_peer *p)
{
    if (!w)
        return KNIT_E_INVAL;
    if (w->err)
        return w->err;
    if (!p)
        return fail(w, KNIT_E_INVAL);
    if (w->peers >= KNIT_DHT_STATE_MAX_PEERS)
        return fail(w, KNIT_E_TOO_BIG);

    struct knit_multiaddr ma;
    uint8_t ma_bin[KNIT_MA_BINARY_MAX];
    size_t ma_len;
    int err = knit_multiaddr_from_socket(&ma, &p->addr, NULL);
    if (!err)
        err = knit_multiaddr_encode(&ma, ma_bin, sizeof ma_bin, &ma_len);
    if (err)
        return fail(w, KNIT_E_INVAL);

    uint8_t id[KNIT_PEER_ID_BYTES];
    knit_peer_id_to_bytes(&p->id, id);
    uint8_t frame[KNIT_MSG_HEADER_LEN + 256];
    struct knit_msg_writer mw;
    knit_msg_writer_init(&mw, frame, sizeof frame);
    knit_msg_begin(&mw, KNIT_DHT_STATE_PEER, 3);
    knit_msg_put_bin(&mw, 1, id, sizeof id);
    knit_msg_put_bin(&mw, 2, ma_bin, ma_len);
    knit_msg_put_uint(&mw, 3, p->last_seen_unix);
    if ((err = finish_frame(w, &mw)) == KNIT_OK)
        w->peers++;
    return err;
}

int knit_dht_state_add_record(struct knit_dht_state_writer *w,
                              const uint8_t *env, size_t len)
{
    if (!w)
        return KNIT_E_INVAL;
    if (w->err)
        return w->err;
    if (!env || len == 0)
        return fail(w, KNIT_E_INVAL);
    if (len > KNIT_RECORD_MAX_BYTES ||
        w->records >= KNIT_DHT_STATE_MAX_RECORDS)
        return fail(w, KNIT_E_TOO_BIG);

    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_DHT_STATE_MAX_FRAME];
    struct knit_msg_writer mw;
    knit_msg_writer_init(&mw, frame, sizeof frame);
    knit_msg_begin(&mw, KNIT_DHT_STATE_RECORD, 1);
    knit_msg_put_bin(&mw, 1, env, len);
    int err = finish_frame(w, &mw);
    if (err == KNIT_OK)
        w->records++;
    return err;
}

void knit_dht_state_writer_free(struct knit_dht_state_writer *w)
{
    if (!w)
        return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* ---- reading ------------------------------------------------------------ */

static int read_peer(const uint8_t *body, size_t len,
                     struct knit_dht_state_peer *p)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, &peer_schema, &m);
    if (err)
        return err;
    memset(p, 0, sizeof *p);
    size_t n;
    const uint8_t *b = knit_msg_bytes(&m, 1, &n);
    if ((err = knit_peer_id_from_bytes(&p->id, b, n)) != KNIT_OK)
        return err;
    struct knit_multiaddr ma;
    b = knit_msg_bytes(&m, 2, &n);
    if ((err = knit_multiaddr_decode(&ma, b, n)) != KNIT_OK)
        return err;
    /* Only a bare endpoint: a relayed or /p2p-suffixed address has no
     * place in a routing table entry, which is dialled directly. */
    if (ma.count != 2 || knit_multiaddr_to_socket(&ma, &p->addr) != KNIT_OK)
        return KNIT_E_SHAPE;
    p->last_seen_unix = knit_msg_uint(&m, 3);
    return KNIT_OK;
}

struct reader {
    const struct knit_dht_state_sink *sink;
    uint64_t *saved_at;
    bool have_header;
    uint32_t peers, records;
};

static int read_frame(struct reader *r, const uint8_t *body, size_t len)
{
    uint64_t type;
    struct knit_msg m;
    int err = knit_msg_peek_type(body, len, &type);
    if (err)
        return err;
    if (!r->have_header && type != KNIT_DHT_STATE_HEADER)
        return KNIT_E_MISSING;

    switch (type) {
    case KNIT_DHT_STATE_HEADER:
        if (r->have_header)
            return KNIT_E_DUPLICATE;
        if ((err = knit_msg_decode(body, len, &header_schema, &m)) != 0)
            return err;
        if (knit_msg_uint(&m, 1) != KNIT_DHT_STATE_VERSION)
            return KNIT_E_UNSUPPORTED;
        r->have_header = true;
        if (r->saved_at)
            *r->saved_at = knit_msg_uint(&m, 2);
        return KNIT_OK;

    case KNIT_DHT_STATE_PEER: {
        struct knit_dht_state_peer p;
        if (r->peers >= KNIT_DHT_STATE_MAX_PEERS)
            return KNIT_E_TOO_BIG;
        if ((err = read_peer(body, len, &p)) != KNIT_OK)
            return err;
        r->peers++;
        if (r->sink && r->sink->peer)
            return r->sink->peer(r->sink->ctx, &p);
        return KNIT_OK;
    }

    case KNIT_DHT_STATE_RECORD: {
        if (r->records >= KNIT_DHT_STATE_MAX_RECORDS)
            return KNIT_E_TOO_BIG;
        if ((err = knit_msg_decode(body, len, &record_schema, &m)) != 0)
            return err;
        r->records++;
        size_t n;
        const uint8_t *env = knit_msg_bytes(&m, 1, &n);
        if (r->sink && r->sink->record)
            return r->sink->record(r->sink->ctx, env, n);
        return KNIT_OK;
    }

    default:
        return KNIT_E_UNSUPPORTED;
    }
}

int knit_dht_state_read(const uint8_t *in, size_t len,
                        const struct knit_dht_state_sink *sink,
                        uint64_t *saved_at, size_t *bad_offset)
{
    struct reader r = {.sink = sink, .saved_at = saved_at};
    size_t off = 0;
    int err = KNIT_OK;
    if (saved_at)
        *saved_at = 0;
    if (!in && len > 0)
        err = KNIT_E_INVAL;
    while (err == KNIT_OK && off < len) {
        struct knit_msg_frame fr;
        err = knit_msg_deframe(in + off, len - off, KNIT_DHT_STATE_MAX_FRAME,
                               &fr);
        if (err == KNIT_E_AGAIN)
            err = KNIT_E_TRUNCATED;
        if (err == KNIT_OK)
            err = read_frame(&r, fr.body, fr.body_len);
        if (err == KNIT_OK)
            off += fr.len;
    }
    if (err == KNIT_OK && !r.have_header)
        err = KNIT_E_MISSING;
    if (bad_offset)
        *bad_offset = off;
    return err;
}
