/* The two ends of a relayed circuit (node/node_relay.h): the dialer, which
 * asks a relay for a circuit to a peer, and the target, which accepts the
 * relay's stop stream. Once open, a circuit is a virtual socket: the inner
 * session's datagrams go into the stream framed as [2-byte length][packet]
 * and come out of it into knit_node_receive() under the circuit's handle,
 * from the relay's address. A datagram that would leave more than
 * NODE_CIRCUIT_QUEUE_MAX bytes waiting in the stream is dropped like a lost
 * UDP packet; the inner session recovers it and slows down. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "proto/conn.h"
#include "transport/error.h"

#define CIRCUIT_INDEX_BITS 10    /* NODE_MAX_RELAY_STREAMS = 1 << 10 */
#define CIRCUIT_PENDING_TIMEOUT (30 * 1000000ull)

bool circuit_is_sock(int sock)
{
    return sock >= NODE_CIRCUIT_SOCK_BASE;
}

/* A handle carries a generation beside the stream index, so that a
 * session still holding the handle of a closed circuit never sends into
 * the next circuit to reuse the slot. */
static struct relay_stream *circuit_of(struct knit_node *node, int sock,
                                       int *index)
{
    if (!circuit_is_sock(sock))
        return NULL;
    int i = (sock - NODE_CIRCUIT_SOCK_BASE) & (NODE_MAX_RELAY_STREAMS - 1);
    struct relay_stream *st = relay_stream_at(node, i);
    if (!st || st->state != RS_CIRCUIT || st->circuit_sock != sock)
        return NULL;
    if (index)
        *index = i;
    return st;
}

bool circuit_relay_of(const struct knit_node *node, int sock,
                      struct knit_peer_id *relay)
{
    const struct relay_stream *st =
        circuit_of((struct knit_node *)node, sock, NULL);
    if (!st)
        return false;
    *relay = *knit_session_peer(st->session);
    return true;
}

int circuit_send(struct knit_node *node, int sock, const uint8_t *pkt,
                 size_t len)
{
    struct relay_stream *st = circuit_of(node, sock, NULL);
    if (!st)
        return KNIT_E_NOT_FOUND;
    struct knit_conn *c = knit_session_conn(st->session);
    uint8_t frame[2 + KNIT_RELAY_MAX_DATAGRAM];
    size_t frame_len, accepted;
    int err = knit_relay_datagram_frame(pkt, len, frame, sizeof frame,
                                        &frame_len);
    if (err)
        return err;
    if (!c || knit_conn_stream_send_space(c, st->stream_id) < frame_len ||
        knit_conn_stream_unsent(c, st->stream_id) + frame_len >
            NODE_CIRCUIT_QUEUE_MAX) {
        node->relay->datagrams_dropped++;
        return KNIT_E_AGAIN;
    }
    err = knit_conn_stream_write(c, st->stream_id, frame, frame_len,
                                 &accepted);
    knit_session_flush(st->session, node->now);
    return err;
}

void circuit_opened(struct knit_node *node, int i)
{
    struct relay_stream *st = relay_stream_at(node, i);
    struct knit_session_stats stats;
    knit_session_get_stats(st->session, &stats);
    st->state = RS_CIRCUIT;
    st->relay_addr = stats.path;
    uint32_t gen = ++node->relay->circuit_generation &
                   ((1u << (30 - CIRCUIT_INDEX_BITS)) - 1);
    st->circuit_sock = NODE_CIRCUIT_SOCK_BASE +
                       (int)(gen << CIRCUIT_INDEX_BITS) + i;
    if (!(st->body = malloc(KNIT_RELAY_MAX_DATAGRAM))) {
        relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
        return;
    }
    st->body_len = st->body_have = st->hdr_have = 0;
}

/* Reads whole datagrams (header, then exactly its length) and hands each
 * to the node as if it had come in on a socket. */
void circuit_readable(struct knit_node *node, int i)
{
    for (;;) {
        struct relay_stream *st = relay_stream_at(node, i);
        if (!st || st->state != RS_CIRCUIT || st->closed)
            return;
        struct knit_conn *c = knit_session_conn(st->session);
        size_t n;
        bool fin = false;
        if (st->hdr_have < KNIT_RELAY_DATAGRAM_HEADER) {
            size_t want = KNIT_RELAY_DATAGRAM_HEADER - st->hdr_have;
            if (knit_conn_stream_read(c, st->stream_id, st->hdr + st->hdr_have,
                                      want, &n, &fin) != KNIT_OK)
                return;
            st->hdr_have += (uint32_t)n;
            if (st->hdr_have == KNIT_RELAY_DATAGRAM_HEADER) {
                /* The header alone: the codec says the frame's length,
                 * or that it is out of bounds. */
                const uint8_t *pkt;
                size_t pkt_len, frame;
                if (knit_relay_datagram_next(st->hdr, st->hdr_have, &pkt,
                                             &pkt_len, &frame) !=
                    KNIT_E_AGAIN) {
                    relay_stream_abort(node, i, KNIT_CONN_PROTOCOL_VIOLATION);
                    return;
                }
                st->body_len = (uint32_t)(frame - KNIT_RELAY_DATAGRAM_HEADER);
                st->body_have = 0;
            }
        } else {
            if (knit_conn_stream_read(c, st->stream_id,
                                      st->body + st->body_have,
                                      st->body_len - st->body_have, &n,
                                      &fin) != KNIT_OK)
                return;
            st->body_have += (uint32_t)n;
            if (st->body_have == st->body_len) {
                struct knit_addr from = st->relay_addr;
                int sock = st->circuit_sock;
                st->hdr_have = 0;
                knit_node_receive(node, node->now, sock, &from, st->body,
                                  st->body_len);
                knit_session_flush(relay_stream_at(node, i)->session,
                                   node->now);
                continue;
            }
        }
        if (fin) {
            /* The far end is done with the circuit: so are we. */
            knit_conn_stream_finish(c, st->stream_id);
            knit_session_flush(st->session, node->now);
            return;
        }
        if (n == 0)
            return;
    }
}

bool circuit_accepts(struct knit_node *node, const struct knit_peer_id *relay)
{
    return node->relay->client &&
           knit_relay_client_is_relay(node->relay->client, relay);
}

void circuit_failed(struct knit_node *node,
                           const struct knit_peer_id *target,
                           const char *why)
{
    node_log(node, node->now, KNIT_LOG_INFO, "relay circuit failed: %s",
             why);
    if (node_find_session(node, target))
        return;   /* its own timers end it, with their own event */
    struct knit_event ev = {
        .type = KNIT_EVENT_PEER_DOWN, .now = node->now, .peer = target,
    };
    ev.u.down.error = KNIT_E_REFUSED;
    ev.u.down.reason = why;
    node_emit(node, &ev);
}

void circuit_on_message(struct knit_node *node, int i,
                        const struct knit_relay_msg *m)
{
    struct relay_stream *st = relay_stream_at(node, i);
    if (st->kind == RS_CONNECT_OUT) {
        struct knit_peer_id target = st->peer;
        if (m->type != KNIT_RELAY_STATUS || m->status != KNIT_RELAY_OK) {
            st->state = RS_DONE;
            knit_conn_stream_finish(knit_session_conn(st->session),
                                    st->stream_id);
            knit_session_flush(st->session, node->now);
            circuit_failed(node, &target,
                           m->type == KNIT_RELAY_STATUS
                               ? knit_relay_status_name(m->status)
                               : "unexpected answer from the relay");
            return;
        }
        circuit_opened(node, i);
        st = relay_stream_at(node, i);
        if (!st || st->state != RS_CIRCUIT)
            return;
        int err = node_dial_on(node, &target, st->circuit_sock,
                               &st->relay_addr, node->now, true);
        if (err)
            relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
        return;
    }
    /* RS_STOP_IN: a relay says a peer wants us. */
    const struct knit_peer_id *relay = knit_session_peer(st->session);
    struct knit_relay_msg answer = {.type = KNIT_RELAY_STATUS};
    if (m->type != KNIT_RELAY_CONNECT || !m->has_peer) {
        answer.status = KNIT_RELAY_UNEXPECTED_MESSAGE;
    } else if (!circuit_accepts(node, relay)) {
        answer.status = KNIT_RELAY_PERMISSION_DENIED;
    } else {
        answer.status = KNIT_RELAY_OK;
        st->peer = m->peer;
    }
    bool ok = answer.status == KNIT_RELAY_OK;
    if (!ok)
        st->state = RS_DONE;
    if (relay_stream_send(node, i, &answer, !ok) != KNIT_OK) {
        relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
        return;
    }
    if (ok)
        circuit_opened(node, i);   /* the dialer's initiation comes next */
}

static int start_connect(struct knit_node *node, struct knit_session *relay,
                         const struct knit_peer_id *target)
{
    struct knit_conn *c = knit_session_conn(relay);
    uint64_t sid;
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_open_stream(c, KNIT_RELAY_HOP_PROTOCOL, &sid);
    if (err)
        return err;
    int i = relay_stream_new(node, relay, sid, RS_CONNECT_OUT);
    if (i < 0) {
        knit_conn_stream_reset(c, sid, KNIT_CONN_CANCELLED);
        return i;
    }
    relay_stream_at(node, i)->peer = *target;
    struct knit_relay_msg m = {
        .type = KNIT_RELAY_CONNECT, .has_peer = true, .peer = *target,
    };
    err = relay_stream_send(node, i, &m, false);
    if (err)
        relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
    return err;
}

void circuit_send_pending(struct knit_node *node, struct knit_session *s)
{
    struct node_relay *r = node->relay;
    const struct knit_peer_id *peer = knit_session_peer(s);
    for (uint32_t k = 0; k < r->pending_count;) {
        if (!knit_peer_id_equal(&r->pending[k].relay, peer)) {
            k++;
            continue;
        }
        struct knit_peer_id target = r->pending[k].target;
        r->pending[k] = r->pending[--r->pending_count];
        int err = start_connect(node, s, &target);
        if (err)
            circuit_failed(node, &target, knit_strerror(err));
    }
}

int knit_node_connect_relayed(struct knit_node *node,
                              const struct knit_peer_id *peer,
                              const struct knit_peer_id *relay,
                              const struct knit_addr *relay_addr,
                              uint64_t now)
{
    node->now = now;
    if (knit_peer_id_equal(peer, &node->identity.id) ||
        knit_peer_id_equal(relay, &node->identity.id) ||
        knit_peer_id_equal(peer, relay))
        return KNIT_E_INVAL;
    struct knit_session *s = node_find_session(node, relay);
    if (s && knit_session_is_up(s))
        return start_connect(node, s, peer);
    struct node_relay *r = node->relay;
    if (r->pending_count == sizeof r->pending / sizeof r->pending[0])
        return KNIT_E_LIMIT;
    if (!s) {
        if (!relay_addr)
            return KNIT_E_NOT_FOUND;
        node->in_event++;
        int err = node_dial(node, relay, relay_addr, now, false);
        node->in_event--;
        if (err)
            return err;
    }
    r->pending[r->pending_count].relay = *relay;
    r->pending[r->pending_count].target = *peer;
    r->pending[r->pending_count].deadline = now + CIRCUIT_PENDING_TIMEOUT;
    r->pending_count++;
    return KNIT_OK;
}

void circuit_expire_pending(struct knit_node *node, uint64_t now)
{
    struct node_relay *r = node->relay;
    for (uint32_t k = 0; k < r->pending_count;) {
        if (r->pending[k].deadline > now) {
            k++;
            continue;
        }
        struct knit_peer_id target = r->pending[k].target;
        r->pending[k] = r->pending[--r->pending_count];
        circuit_failed(node, &target, "the relay could not be reached");
    }
}

int knit_node_connect_record(struct knit_node *node,
                             const struct knit_peer_record *rec,
                             uint64_t now, size_t *attempts)
{
    size_t started = 0, relays = 0;
    for (uint8_t i = 0; i < rec->addr_count; i++) {
        const struct knit_multiaddr *ma = &rec->addrs[i];
        struct knit_addr addr;
        if (knit_multiaddr_to_socket(ma, &addr) != KNIT_OK)
            continue;
        if (!knit_multiaddr_is_circuit(ma)) {
            if (knit_node_connect(node, &rec->peer, &addr, now) == KNIT_OK)
                started++;
            continue;
        }
        struct knit_peer_id relay;
        if (relays < 2 && knit_multiaddr_relay(ma, &relay) == KNIT_OK &&
            knit_node_connect_relayed(node, &rec->peer, &relay, &addr,
                                      now) == KNIT_OK) {
            relays++;
            started++;
        }
    }
    *attempts = started;
    return started ? KNIT_OK : KNIT_E_UNSUPPORTED;
}
