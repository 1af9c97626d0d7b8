/* The relay streams of a node (node/node_relay.h) and the relay's side of
 * them: reservations, and circuits spliced from one stream into the other
 * (node/node_relay_splice.c, which reads only the datagrams' lengths: the
 * datagrams are an end-to-end Noise session between the two ends). */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "transport/error.h"

/* ---- the stream table ------------------------------------------------------ */

struct relay_stream *relay_stream_at(struct knit_node *node, int i)
{
    struct node_relay *r = node->relay;
    if (!r || i < 0 || (uint32_t)i >= r->stream_count ||
        !r->streams[i].session)
        return NULL;
    return &r->streams[i];
}

static int relay_stream_find(struct knit_node *node,
                             const struct knit_session *s, uint64_t id)
{
    struct node_relay *r = node->relay;
    for (uint32_t i = 0; r && i < r->stream_count; i++)
        if (r->streams[i].session == s && r->streams[i].stream_id == id)
            return (int)i;
    return -1;
}

/* Returns the new stream's index, or a negative error. The table grows by
 * doubling up to NODE_MAX_RELAY_STREAMS, so callers keep indices, never
 * pointers, across a call that may add a stream. */
int relay_stream_new(struct knit_node *node, struct knit_session *s,
                     uint64_t stream_id, uint8_t kind)
{
    struct node_relay *r = node->relay;
    uint32_t i = 0;
    while (i < r->stream_count && r->streams[i].session)
        i++;
    if (i == r->stream_count) {
        if (r->stream_count == NODE_MAX_RELAY_STREAMS)
            return KNIT_E_LIMIT;
        uint32_t cap = r->stream_count ? r->stream_count * 2 : 8;
        struct relay_stream *grown =
            realloc(r->streams, cap * sizeof *grown);
        if (!grown)
            return KNIT_E_NOMEM;
        memset(grown + r->stream_count, 0,
               (cap - r->stream_count) * sizeof *grown);
        r->streams = grown;
        r->stream_count = cap;
    }
    struct relay_stream *st = &r->streams[i];
    memset(st, 0, sizeof *st);
    st->session = s;
    st->stream_id = stream_id;
    st->kind = kind;
    st->state = RS_READING;
    st->other = -1;
    st->deadline = node->now + NODE_RELAY_MESSAGE_TIMEOUT;
    return (int)i;
}

static void close_circuit(struct knit_node *node, struct relay_stream *st)
{
    if (st->circuit && node->relay->hop)
        knit_relay_hop_close(node->relay->hop, st->circuit);
    st->circuit = 0;
}

void relay_stream_release(struct knit_node *node, int i)
{
    struct relay_stream *st = relay_stream_at(node, i);
    if (!st)
        return;
    if (st->busy) {
        st->closed = true;   /* released when the read is over */
        return;
    }
    int other = st->other;
    close_circuit(node, st);
    free(st->body);
    memset(st, 0, sizeof *st);
    struct relay_stream *o = relay_stream_at(node, other);
    if (o && o->other == i) {
        o->other = -1;
        o->circuit = 0;   /* closed once, above */
    }
}

void relay_stream_abort(struct knit_node *node, int i, uint64_t code)
{
    struct relay_stream *st = relay_stream_at(node, i);
    if (!st)
        return;
    int other = st->other;
    struct knit_session *s = st->session;
    struct knit_conn *c = knit_session_conn(s);
    if (c) {
        knit_conn_stream_reset(c, st->stream_id, code);
        knit_session_flush(s, node->now);
    }
    relay_stream_release(node, i);
    if (other >= 0)
        relay_stream_abort(node, other, code);
}

int relay_stream_send(struct knit_node *node, int i,
                      const struct knit_relay_msg *m, bool fin)
{
    struct relay_stream *st = relay_stream_at(node, i);
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_RELAY_MAX_MESSAGE];
    size_t len, accepted = 0;
    struct knit_conn *c = st ? knit_session_conn(st->session) : NULL;
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_relay_msg_encode(m, frame, sizeof frame, &len);
    if (err == KNIT_OK)
        err = knit_conn_stream_write(c, st->stream_id, frame, len, &accepted);
    if (err == KNIT_OK && accepted < len)
        err = KNIT_E_NO_SPACE;
    if (err == KNIT_OK && fin)
        err = knit_conn_stream_finish(c, st->stream_id);
    knit_session_flush(st->session, node->now);
    return err;
}

/* Reads into st->hdr then st->body, never past the message. */
int relay_stream_read_msg(struct knit_node *node, int i,
                          struct knit_relay_msg *m)
{
    struct relay_stream *st = relay_stream_at(node, i);
    struct knit_conn *c = st ? knit_session_conn(st->session) : NULL;
    if (!c)
        return KNIT_E_NOT_FOUND;
    size_t n;
    bool fin = false;
    while (st->hdr_have < KNIT_MSG_HEADER_LEN) {
        int err = knit_conn_stream_read(c, st->stream_id,
                                        st->hdr + st->hdr_have,
                                        KNIT_MSG_HEADER_LEN - st->hdr_have,
                                        &n, &fin);
        if (err)
            return err;
        st->hdr_have += (uint32_t)n;
        if (n == 0)
            return fin ? KNIT_E_TRUNCATED : KNIT_E_AGAIN;
        if (st->hdr_have == KNIT_MSG_HEADER_LEN) {
            uint32_t len = (uint32_t)st->hdr[0] << 24 |
                           (uint32_t)st->hdr[1] << 16 |
                           (uint32_t)st->hdr[2] << 8 | st->hdr[3];
            if (len == 0)
                return KNIT_E_MALFORMED;
            if (len > KNIT_RELAY_MAX_MESSAGE)
                return KNIT_E_TOO_BIG;
            if (!(st->body = malloc(len)))
                return KNIT_E_NOMEM;
            st->body_len = len;
            st->body_have = 0;
        }
    }
    while (st->body_have < st->body_len) {
        int err = knit_conn_stream_read(c, st->stream_id,
                                        st->body + st->body_have,
                                        st->body_len - st->body_have, &n,
                                        &fin);
        if (err)
            return err;
        st->body_have += (uint32_t)n;
        if (n == 0)
            return fin ? KNIT_E_TRUNCATED : KNIT_E_AGAIN;
    }
    int err = knit_relay_msg_decode(st->body, st->body_len, m);
    free(st->body);
    st->body = NULL;
    st->hdr_have = st->body_len = st->body_have = 0;
    knit_session_flush(st->session, node->now);   /* window update */
    return err;
}

/* ---- the relay's side -------------------------------------------------------- */

static bool session_is_relayed(struct knit_session *s)
{
    return circuit_is_sock(knit_session_path_sock(s));
}

static int answer(struct knit_node *node, int i, uint16_t status)
{
    struct knit_relay_msg m = {.type = KNIT_RELAY_STATUS, .status = status};
    struct relay_stream *st = relay_stream_at(node, i);
    st->state = RS_DONE;
    return relay_stream_send(node, i, &m, true);
}

static void on_reserve(struct knit_node *node, int i)
{
    struct node_relay *r = node->relay;
    struct relay_stream *st = relay_stream_at(node, i);
    struct knit_session_stats stats;
    knit_session_get_stats(st->session, &stats);
    struct knit_relay_msg m = {.type = KNIT_RELAY_STATUS};
    uint64_t expires_at = 0;
    m.status = knit_relay_hop_reserve(r->hop, knit_session_peer(st->session),
                                      &stats.path, node->now, &expires_at,
                                      &m.limit);
    if (m.status == KNIT_RELAY_OK) {
        m.has_expires = true;
        m.expires_s = (uint32_t)((expires_at - node->now) / 1000000);
        m.has_limit = true;
        for (size_t k = 0; k < node->record_addr_count &&
                           m.addr_count < KNIT_RELAY_MAX_ADDRS;
             k++)
            if (knit_addr_is_global(&node->record_addrs[k]) &&
                knit_multiaddr_from_socket(&m.addrs[m.addr_count],
                                           &node->record_addrs[k],
                                           NULL) == KNIT_OK)
                m.addr_count++;
        node_log(node, node->now, KNIT_LOG_INFO,
                 "relay: reservation for a peer, %u s",
                 (unsigned)m.expires_s);
    }
    st->state = RS_DONE;
    relay_stream_send(node, i, &m, true);
}

static void on_connect(struct knit_node *node, int i,
                       const struct knit_relay_msg *req)
{
    struct node_relay *r = node->relay;
    struct relay_stream *st = relay_stream_at(node, i);
    struct knit_session_stats stats;
    knit_session_get_stats(st->session, &stats);
    if (!req->has_peer) {
        answer(node, i, KNIT_RELAY_MALFORMED_MESSAGE);
        return;
    }
    struct knit_session *target = node_find_session(node, &req->peer);
    if (!target || !knit_session_is_up(target) ||
        session_is_relayed(target)) {
        answer(node, i, KNIT_RELAY_NO_RESERVATION);
        return;
    }
    uint32_t circuit = 0;
    struct knit_relay_limit limit = {0};
    uint16_t status = knit_relay_hop_open(
        r->hop, knit_session_peer(st->session), &stats.path, &req->peer,
        node->now, &circuit, &limit);
    if (status != KNIT_RELAY_OK) {
        answer(node, i, status);
        return;
    }
    uint64_t sid;
    int j = KNIT_E_NOT_FOUND;
    struct knit_conn *tc = knit_session_conn(target);
    if (tc && knit_conn_open_stream(tc, KNIT_RELAY_STOP_PROTOCOL, &sid) ==
                  KNIT_OK)
        j = relay_stream_new(node, target, sid, RS_STOP_OUT);
    st = relay_stream_at(node, i);   /* the table may have moved */
    if (j < 0) {
        if (tc && j != KNIT_E_NOT_FOUND)
            knit_conn_stream_reset(tc, sid, KNIT_CONN_CANCELLED);
        knit_relay_hop_close(r->hop, circuit);
        answer(node, i, KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
        return;
    }
    struct relay_stream *stop = relay_stream_at(node, j);
    st->other = j;
    stop->other = i;
    st->circuit = circuit;   /* closed by whichever is released first */
    st->peer = req->peer;
    stop->peer = *knit_session_peer(st->session);
    st->state = RS_WAITING;
    struct knit_relay_msg m = {
        .type = KNIT_RELAY_CONNECT, .has_peer = true,
        .peer = *knit_session_peer(st->session), .has_limit = true,
        .limit = limit,
    };
    if (relay_stream_send(node, j, &m, false) != KNIT_OK)
        relay_stream_abort(node, j, KNIT_CONN_CANCELLED);
}

/* The hop stream i waits for a target that will not answer (it refused,
 * vanished or stayed silent): drop the stop stream and say so. */
static void give_up_waiting(struct knit_node *node, int i)
{
    struct relay_stream *st = relay_stream_at(node, i);
    int other = st->other;
    struct relay_stream *o = relay_stream_at(node, other);
    st->other = -1;
    if (o) {
        o->other = -1;
        relay_stream_abort(node, other, KNIT_CONN_NO_ERROR);
    }
    close_circuit(node, relay_stream_at(node, i));
    answer(node, i, KNIT_RELAY_CONNECTION_FAILED);
}

/* The target answered our stop CONNECT. */
static void on_stop_status(struct knit_node *node, int j,
                           const struct knit_relay_msg *m)
{
    struct relay_stream *stop = relay_stream_at(node, j);
    int i = stop->other;
    if (!relay_stream_at(node, i)) {
        relay_stream_abort(node, j, KNIT_CONN_NO_ERROR);
        return;
    }
    if (m->type != KNIT_RELAY_STATUS || m->status != KNIT_RELAY_OK) {
        give_up_waiting(node, i);
        return;
    }
    struct knit_relay_msg ok = {.type = KNIT_RELAY_STATUS,
                                .status = KNIT_RELAY_OK};
    if (relay_stream_send(node, i, &ok, false) != KNIT_OK) {
        relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
        return;
    }
    /* From here on the streams carry datagram frames, read afresh. */
    for (int k = 0; k < 2; k++) {
        struct relay_stream *sp = relay_stream_at(node, k ? j : i);
        sp->state = RS_SPLICED;
        sp->hdr_have = sp->body_len = sp->body_have = 0;
        sp->dropping = false;
    }
    node_log(node, node->now, KNIT_LOG_INFO, "relay: circuit open");
}

static void on_relay_message(struct knit_node *node, int i,
                             const struct knit_relay_msg *m)
{
    struct relay_stream *st = relay_stream_at(node, i);
    switch (st->kind) {
    case RS_HOP_IN:
        if (!node->relay->hop || !node->relay->serving ||
            session_is_relayed(st->session))
            answer(node, i, KNIT_RELAY_PERMISSION_DENIED);
        else if (m->type == KNIT_RELAY_RESERVE)
            on_reserve(node, i);
        else if (m->type == KNIT_RELAY_CONNECT)
            on_connect(node, i, m);
        else
            answer(node, i, KNIT_RELAY_UNEXPECTED_MESSAGE);
        break;
    case RS_STOP_OUT:
        on_stop_status(node, i, m);
        break;
    case RS_RESERVE_OUT:
        relay_client_on_status(node, i, m);
        break;
    case RS_CONNECT_OUT:
    case RS_STOP_IN:
        circuit_on_message(node, i, m);
        break;
    }
}

/* Anything after the last message of a finished exchange is not allowed;
 * reading it is how the stream's FIN is noticed. */
static void drain(struct knit_node *node, int i)
{
    struct relay_stream *st = relay_stream_at(node, i);
    uint8_t junk[64];
    size_t n;
    bool fin;
    if (knit_conn_stream_read(knit_session_conn(st->session), st->stream_id,
                              junk, sizeof junk, &n, &fin) == KNIT_OK &&
        n > 0)
        relay_stream_abort(node, i, KNIT_CONN_PROTOCOL_VIOLATION);
}

static void readable(struct knit_node *node, int i)
{
    struct relay_stream *st = relay_stream_at(node, i);
    switch (st->state) {
    case RS_READING: {
        struct knit_relay_msg m;
        int err = relay_stream_read_msg(node, i, &m);
        if (err == KNIT_E_AGAIN)
            return;
        if (err) {
            node_log(node, node->now, KNIT_LOG_DEBUG,
                     "relay: bad message: %s", knit_strerror(err));
            if (st->kind == RS_CONNECT_OUT)
                circuit_failed(node, &st->peer, "bad answer from the relay");
            relay_stream_abort(node, i, KNIT_CONN_PROTOCOL_VIOLATION);
            return;
        }
        on_relay_message(node, i, &m);
        return;
    }
    case RS_SPLICED:
        relay_splice_pump(node, i);
        return;
    case RS_CIRCUIT:
        circuit_readable(node, i);
        return;
    default:
        drain(node, i);
        return;
    }
}

bool node_relay_open(struct knit_node *node, struct knit_session *s,
                     uint64_t stream_id, const char *protocol)
{
    uint8_t kind;
    if (strcmp(protocol, KNIT_RELAY_HOP_PROTOCOL) == 0)
        kind = RS_HOP_IN;
    else if (strcmp(protocol, KNIT_RELAY_STOP_PROTOCOL) == 0)
        kind = RS_STOP_IN;
    else
        return false;
    struct knit_conn *c = knit_session_conn(s);
    if ((kind == RS_HOP_IN && !node->relay->serving) ||
        session_is_relayed(s) ||
        relay_stream_new(node, s, stream_id, kind) < 0)
        knit_conn_stream_refuse(c, stream_id, KNIT_CONN_UNKNOWN_PROTOCOL);
    return true;
}

bool node_relay_event(struct knit_node *node, struct knit_session *s,
                      const struct knit_session_event *sev)
{
    int i = relay_stream_find(node, s, sev->stream_id);
    if (i < 0)
        return false;
    struct relay_stream *st = relay_stream_at(node, i);
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
        st->busy = true;
        readable(node, i);
        st = relay_stream_at(node, i);
        if (st) {
            st->busy = false;
            if (st->closed)
                relay_stream_release(node, i);
        }
        break;
    case KNIT_SESSION_STREAM_WRITABLE:
        if (st->state == RS_SPLICED && st->other >= 0)
            relay_splice_pump(node, st->other);
        break;
    case KNIT_SESSION_STREAM_RESET: {
        struct relay_stream *o = relay_stream_at(node, st->other);
        if (st->kind == RS_STOP_OUT && o && o->state == RS_WAITING) {
            give_up_waiting(node, st->other);   /* and drops this one */
            break;
        }
        if (st->kind == RS_CONNECT_OUT && st->state == RS_READING)
            circuit_failed(node, &st->peer, "the relay reset the request");
        relay_stream_abort(node, i, KNIT_CONN_NO_ERROR);
        break;
    }
    case KNIT_SESSION_STREAM_CLOSED:
        relay_stream_release(node, i);
        break;
    default:
        break;
    }
    return true;
}

/* ---- lifetime and timers -------------------------------------------------------- */

int node_relay_init(struct knit_node *node,
                    const struct knit_relay_config *cfg)
{
    struct node_relay *r = calloc(1, sizeof *r);
    if (!r)
        return KNIT_E_NOMEM;
    node->relay = r;
    if (!cfg) {
        knit_relay_config_default(&r->config);
        return KNIT_OK;
    }
    r->config = *cfg;
    r->config.allow = NULL;
    r->config.allow_count = 0;
    if (cfg->allow_count) {
        if (!cfg->allow ||
            !(r->allow = malloc(cfg->allow_count * sizeof *r->allow)))
            return cfg->allow ? KNIT_E_NOMEM : KNIT_E_INVAL;
        memcpy(r->allow, cfg->allow, cfg->allow_count * sizeof *r->allow);
        r->config.allow = r->allow;
        r->config.allow_count = cfg->allow_count;
    }
    return KNIT_OK;
}

void node_relay_free(struct knit_node *node)
{
    struct node_relay *r = node->relay;
    if (!r)
        return;
    for (uint32_t i = 0; i < r->stream_count; i++)
        free(r->streams[i].body);
    free(r->streams);
    knit_relay_hop_free(r->hop);
    knit_relay_client_free(r->client);
    free(r->allow);
    free(r);
    node->relay = NULL;
}

void knit_node_set_relay_tap(struct knit_node *node,
                             knit_node_relay_tap_fn tap, void *ctx)
{
    node->relay->tap = tap;
    node->relay->tap_ctx = ctx;
}

void node_relay_set_serving(struct knit_node *node, bool serving)
{
    struct node_relay *r = node->relay;
    if (serving && !r->hop && knit_relay_hop_new(&r->hop, &r->config) !=
                                  KNIT_OK)
        return;
    r->serving = serving && r->hop;
}

void node_relay_session_up(struct knit_node *node, struct knit_session *s)
{
    circuit_send_pending(node, s);
    relay_client_session_up(node, s);
}

void node_relay_session_down(struct knit_node *node, struct knit_session *s)
{
    struct node_relay *r = node->relay;
    for (uint32_t i = 0; i < r->stream_count; i++) {
        if (r->streams[i].session != s)
            continue;
        int other = r->streams[i].other;
        r->streams[i].busy = false;   /* its session is gone for good */
        relay_stream_release(node, (int)i);
        if (other >= 0)
            relay_stream_abort(node, other, KNIT_CONN_NO_ERROR);
    }
    if (r->hop)
        knit_relay_hop_unreserve(r->hop, knit_session_peer(s));
    relay_client_session_down(node, s);
}

uint64_t node_relay_deadline(const struct knit_node *node)
{
    const struct node_relay *r = node->relay;
    uint64_t next = relay_client_deadline(node);
    if (r->hop) {
        uint64_t t = knit_relay_hop_next_deadline(r->hop);
        if (t < next)
            next = t;
    }
    for (uint32_t i = 0; i < r->stream_count; i++) {
        const struct relay_stream *st = &r->streams[i];
        if (st->session && (st->state == RS_READING ||
                            st->state == RS_WAITING) &&
            st->deadline < next)
            next = st->deadline;
    }
    for (uint32_t k = 0; k < r->pending_count; k++)
        if (r->pending[k].deadline < next)
            next = r->pending[k].deadline;
    return next;
}

static void circuit_over(void *ctx, uint32_t circuit)
{
    struct knit_node *node = ctx;
    struct node_relay *r = node->relay;
    for (uint32_t i = 0; i < r->stream_count; i++)
        if (r->streams[i].session && r->streams[i].circuit == circuit) {
            node_log(node, node->now, KNIT_LOG_INFO,
                     "relay: circuit reached its time limit, closed");
            relay_stream_abort(node, (int)i, KNIT_CONN_NO_ERROR);
            return;
        }
}

void node_relay_timeout(struct knit_node *node, uint64_t now)
{
    struct node_relay *r = node->relay;
    if (r->hop)
        knit_relay_hop_expire(r->hop, now, circuit_over, node);
    for (uint32_t i = 0; i < r->stream_count; i++) {
        struct relay_stream *st = &r->streams[i];
        if (!st->session || st->deadline > now ||
            (st->state != RS_READING && st->state != RS_WAITING))
            continue;
        if (st->kind == RS_HOP_IN && st->state == RS_WAITING) {
            give_up_waiting(node, (int)i);
            continue;
        }
        if (st->kind == RS_CONNECT_OUT)
            circuit_failed(node, &st->peer, "the relay did not answer");
        relay_stream_abort(node, (int)i, KNIT_CONN_NO_ERROR);
    }
    circuit_expire_pending(node, now);
    relay_client_timeout(node, now);
}

void node_relay_served(const struct knit_node *node, uint32_t *reservations,
                       uint32_t *circuits, uint64_t *circuits_total,
                       uint64_t *bytes_total)
{
    struct knit_relay_hop_stats st = {0};
    if (node->relay->hop)
        knit_relay_hop_get_stats(node->relay->hop, &st);
    *reservations = st.reservations;
    *circuits = st.circuits;
    *circuits_total = st.circuits_total;
    *bytes_total = st.bytes_relayed;
}
