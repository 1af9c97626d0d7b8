/* The relay's copy of a circuit from one of its streams into the other
 * (node/node_relay.h). A circuit carries the ends' datagrams framed as
 * [2-byte length][packet]; the relay reads the lengths and never the
 * packets, which are an end-to-end Noise session.
 *
 * Why frames and not bytes: copying bytes with backpressure made the
 * circuit a queue as deep as the outbound stream's send buffer plus the
 * inbound stream's receive window (5 MiB), and the inner session's
 * congestion control, seeing no loss, filled it: a relayed path's round
 * trip reached 1-2 s under a transfer in the natlab. Now everything that
 * arrives is read at once, and a frame that would leave more than
 * NODE_CIRCUIT_QUEUE_MAX bytes waiting to be sent towards the other end is
 * dropped whole, as a router drops a datagram; the inner session sees the
 * loss and slows down. */
#include "node/node_internal.h"
#include "node/node_relay.h"
#include "proto/conn.h"
#include "relay/relay_msg.h"
#include "transport/error.h"

/* Whether a frame of len bytes may go into stream b now. */
static bool has_room(struct knit_conn *cb, uint64_t stream_id, size_t len)
{
    return knit_conn_stream_send_space(cb, stream_id) >= len &&
           knit_conn_stream_unsent(cb, stream_id) + len <=
               NODE_CIRCUIT_QUEUE_MAX;
}

/* A frame's header is complete in a->hdr: forward it (header now, body
 * as it comes) or drop it. False when the circuit was closed. */
static bool start_frame(struct knit_node *node, int from,
                        struct relay_stream *a, struct relay_stream *b,
                        struct knit_conn *cb)
{
    /* The codec's own reading of a header: with the header alone it says
     * how long the frame is, or that the length is out of bounds. */
    const uint8_t *pkt;
    size_t pkt_len, frame;
    if (knit_relay_datagram_next(a->hdr, KNIT_RELAY_DATAGRAM_HEADER, &pkt,
                                 &pkt_len, &frame) != KNIT_E_AGAIN) {
        relay_stream_abort(node, from, KNIT_CONN_PROTOCOL_VIOLATION);
        return false;
    }
    a->body_len = (uint32_t)(frame - KNIT_RELAY_DATAGRAM_HEADER);
    a->body_have = 0;
    a->dropping = !has_room(cb, b->stream_id, frame);
    if (a->dropping) {
        node->relay->datagrams_dropped++;
        return true;
    }
    /* Counted before it goes: a frame that would pass the circuit's byte
     * limit is not forwarded at all. */
    uint32_t circuit = a->circuit ? a->circuit : b->circuit;
    if (node->relay->hop &&
        !knit_relay_hop_account(node->relay->hop, circuit, frame)) {
        node_log(node, node->now, KNIT_LOG_INFO,
                 "relay: circuit over its byte limit, closed");
        relay_stream_abort(node, from, KNIT_CONN_NO_ERROR);
        return false;
    }
    size_t accepted;
    knit_conn_stream_write(cb, b->stream_id, a->hdr,
                           KNIT_RELAY_DATAGRAM_HEADER, &accepted);
    if (node->relay->tap)
        node->relay->tap(node->relay->tap_ctx, a->hdr,
                         KNIT_RELAY_DATAGRAM_HEADER);
    return true;
}

void relay_splice_pump(struct knit_node *node, int from)
{
    struct relay_stream *a = relay_stream_at(node, from);
    struct relay_stream *b = a ? relay_stream_at(node, a->other) : NULL;
    if (!b || a->state != RS_SPLICED || b->state != RS_SPLICED)
        return;
    struct knit_conn *ca = knit_session_conn(a->session);
    struct knit_conn *cb = knit_session_conn(b->session);
    if (!ca || !cb)
        return;
    uint8_t buf[4096];
    /* Bounded per call; what is left is read at the next event. */
    for (int round = 0; round < 256; round++) {
        bool in_header = a->hdr_have < KNIT_RELAY_DATAGRAM_HEADER;
        size_t want = in_header ? KNIT_RELAY_DATAGRAM_HEADER - a->hdr_have
                                : a->body_len - a->body_have;
        uint8_t *into = in_header ? a->hdr + a->hdr_have : buf;
        if (want > sizeof buf)
            want = sizeof buf;
        size_t n = 0;
        bool fin = false;
        if (knit_conn_stream_read(ca, a->stream_id, into, want, &n, &fin) !=
            KNIT_OK)
            break;
        if (in_header) {
            a->hdr_have += (uint32_t)n;
            if (a->hdr_have == KNIT_RELAY_DATAGRAM_HEADER &&
                !start_frame(node, from, a, b, cb))
                return;
        } else if (n) {
            if (!a->dropping) {
                size_t accepted;
                knit_conn_stream_write(cb, b->stream_id, buf, n, &accepted);
                if (node->relay->tap)
                    node->relay->tap(node->relay->tap_ctx, buf, n);
            }
            a->body_have += (uint32_t)n;
            if (a->body_have == a->body_len)
                a->hdr_have = 0;   /* the next frame */
        }
        if (fin) {
            knit_conn_stream_finish(cb, b->stream_id);
            break;
        }
        if (n == 0)
            break;
    }
    knit_session_flush(a->session, node->now);
    knit_session_flush(b->session, node->now);
}
