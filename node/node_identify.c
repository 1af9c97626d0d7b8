/* identify (/knit/id/1): after every handshake the peers tell each other
 * the address each sees the other at, their listen addresses, protocols,
 * agent and signed record, on one stream: the peer with the lower ID
 * opens it with its IDENTIFY, the other answers on it with its own. When
 * our addresses change we send ours again on a stream of its own (push),
 * which is not answered. What peers tell us of our own address goes to
 * the observed-address book (node/observed.h), from which the node learns
 * its public address and its NAT's mapping behaviour. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "transport/error.h"

static struct id_stream *id_find(struct node_traversal *t,
                                 const struct knit_session *s, uint64_t id)
{
    for (uint32_t i = 0; i < t->id_stream_count; i++)
        if (t->id_streams[i].session == s && t->id_streams[i].stream_id == id)
            return &t->id_streams[i];
    return NULL;
}

static struct id_stream *id_new(struct node_traversal *t,
                                struct knit_session *s, uint64_t id,
                                bool outgoing)
{
    uint32_t i = 0;
    while (i < t->id_stream_count && t->id_streams[i].session)
        i++;
    if (i == t->id_stream_count) {
        if (t->id_stream_count >= NODE_MAX_ID_STREAMS)
            return NULL;
        uint32_t cap = t->id_stream_count ? t->id_stream_count * 2 : 4;
        struct id_stream *grown = realloc(t->id_streams, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + t->id_stream_count, 0,
               (cap - t->id_stream_count) * sizeof *grown);
        t->id_streams = grown;
        t->id_stream_count = cap;
    }
    struct id_stream *st = &t->id_streams[i];
    memset(st, 0, sizeof *st);
    st->session = s;
    st->stream_id = id;
    st->outgoing = outgoing;
    return st;
}

static void id_release(struct id_stream *st)
{
    if (st->busy) {
        /* Reading a FIN can close the stream from inside the read. */
        st->closed = true;
        return;
    }
    free(st->buf);
    memset(st, 0, sizeof *st);
}

/* Writes our IDENTIFY on stream sid of s, then finishes the stream. */
static int write_identify(struct knit_node *node, struct knit_session *s,
                          uint64_t sid, bool push)
{
    struct node_traversal *t = node->traversal;
    struct knit_conn *c = knit_session_conn(s);
    struct knit_identify_msg *m = calloc(1, sizeof *m);
    uint8_t *frame = malloc(KNIT_MSG_HEADER_LEN + KNIT_IDENTIFY_MAX_MESSAGE);
    int err = m && frame && c ? KNIT_OK : KNIT_E_NOMEM;
    if (err == KNIT_OK) {
        m->push = push;
        /* Where the peer's latest packet came from: after its NAT gave it
         * a new port, that is news to it before our path there is proven.
         * Over a relay we see only the relay's address: nothing to say. */
        int sock;
        if (knit_session_latest_source(s, &sock, &m->observed) != KNIT_OK) {
            /* No data yet (an initiator just up): the handshake's path. */
            sock = knit_session_path_sock(s);
            m->observed = knit_session_path_addr(s);
        }
        m->has_observed = sock >= 0 && !circuit_is_sock(sock);
        /* As our record has them (direct and relayed). */
        m->listen_count = t->listen_count;
        memcpy(m->listen, t->listen, t->listen_count * sizeof m->listen[0]);
        m->alt_port = t->alt_port;
        for (uint8_t k = 0; k < node->hello.protocol_count; k++) {
            m->protocols[k] = node->hello.protocols[k];
            m->protocol_len[k] = (uint8_t)strlen(node->hello.protocols[k]);
        }
        m->protocol_count = node->hello.protocol_count;
        m->agent = node->hello.agent;
        m->agent_len = strlen(node->hello.agent);
        m->record = node->record;
        m->record_len = node->record_len;
    }
    size_t len = 0, accepted = 0;
    if (err == KNIT_OK)
        err = knit_identify_encode(m, frame,
                                   KNIT_MSG_HEADER_LEN +
                                       KNIT_IDENTIFY_MAX_MESSAGE,
                                   &len);
    if (err == KNIT_OK)
        err = knit_conn_stream_write(c, sid, frame, len, &accepted);
    if (err == KNIT_OK && accepted < len)
        err = KNIT_E_NO_SPACE;
    if (err == KNIT_OK)
        err = knit_conn_stream_finish(c, sid);
    free(m);
    free(frame);
    return err;
}

/* One stream per session carries both sides: the peer with the lower ID
 * opens it and the other answers on it (a push is not answered), which
 * takes half the packets of a stream each way. */
void identify_session_up(struct knit_node *node, struct knit_session *s)
{
    const struct knit_peer_id *peer = knit_session_peer(s);
    if (memcmp(node->identity.id.pubkey, peer->pubkey,
               sizeof peer->pubkey) < 0)
        identify_send(node, s, false);
}

void identify_send(struct knit_node *node, struct knit_session *s, bool push)
{
    struct knit_conn *c = knit_session_conn(s);
    uint64_t sid;
    if (!c || knit_conn_open_stream(c, KNIT_IDENTIFY_PROTOCOL, &sid) !=
                  KNIT_OK)
        return;
    struct id_stream *st = id_new(node->traversal, s, sid, true);
    if (!st) {
        knit_conn_stream_reset(c, sid, KNIT_CONN_CANCELLED);
        return;
    }
    st->done = push;   /* a push gets no answer */
    if (write_identify(node, s, sid, push) != KNIT_OK) {
        knit_conn_stream_reset(c, sid, KNIT_CONN_CANCELLED);
        id_release(st);
    }
    knit_session_flush(s, node->now);
}

/* A whole IDENTIFY from the peer of session s. */
static void on_identify(struct knit_node *node, struct knit_session *s,
                        const struct knit_identify_msg *m)
{
    struct node_traversal *t = node->traversal;
    int sock = knit_session_path_sock(s);
    struct node_peer_info *info = traversal_peer(node, knit_session_peer(s),
                                                 true);
    if (info)
        info->alt_port = m->alt_port;
    if (!m->has_observed || sock < 0 || circuit_is_sock(sock))
        return;
    struct knit_addr path = knit_session_path_addr(s);
    if (knit_observed_add(t->observed, sock, &path, &m->observed,
                          node->now) == KNIT_OK)
        traversal_changed(node);
}

static void read_identify(struct knit_node *node, struct knit_session *s,
                          struct id_stream *st)
{
    struct knit_conn *c = knit_session_conn(s);
    for (int round = 0; round < 64; round++) {
        if (!st->buf &&
            !(st->buf = malloc(KNIT_MSG_HEADER_LEN +
                               KNIT_IDENTIFY_MAX_MESSAGE)))
            goto bad;
        size_t cap = KNIT_MSG_HEADER_LEN + KNIT_IDENTIFY_MAX_MESSAGE, n;
        bool fin = false;
        if (st->len == cap) {
            uint8_t extra;
            if (knit_conn_stream_read(c, st->stream_id, &extra, 1, &n,
                                      &fin) != KNIT_OK || n)
                goto bad;   /* more than one message */
        } else if (knit_conn_stream_read(c, st->stream_id, st->buf + st->len,
                                         cap - st->len, &n, &fin) != KNIT_OK) {
            goto bad;
        }
        st->len += n;
        if (fin) {
            struct knit_msg_frame f;
            struct knit_identify_msg m;
            if (knit_msg_deframe(st->buf, st->len, KNIT_IDENTIFY_MAX_MESSAGE,
                                 &f) != KNIT_OK ||
                f.len != st->len ||
                knit_identify_decode(f.body, f.body_len, &m) != KNIT_OK)
                goto bad;
            on_identify(node, s, &m);
            /* Our answer, on the stream the peer opened; after a push,
             * or on our own stream, only our side's end. */
            int err = KNIT_OK;
            if (!st->outgoing)
                err = m.push ? knit_conn_stream_finish(c, st->stream_id)
                             : write_identify(node, s, st->stream_id, false);
            if (err)
                goto bad;
            free(st->buf);
            st->buf = NULL;
            st->done = true;
            knit_session_flush(s, node->now);
            return;
        }
        if (n == 0)
            return;
    }
    return;
bad:
    node_log(node, node->now, KNIT_LOG_DEBUG, "identify: bad message");
    knit_conn_stream_reset(c, st->stream_id, KNIT_CONN_PROTOCOL_VIOLATION);
    knit_session_flush(s, node->now);
    id_release(st);
}

bool identify_open(struct knit_node *node, struct knit_session *s,
                   uint64_t stream_id, const char *protocol)
{
    if (strcmp(protocol, KNIT_IDENTIFY_PROTOCOL) != 0)
        return false;
    if (!id_new(node->traversal, s, stream_id, false))
        knit_conn_stream_refuse(knit_session_conn(s), stream_id,
                                KNIT_CONN_STREAM_LIMIT);
    return true;
}

bool identify_event(struct knit_node *node, struct knit_session *s,
                    const struct knit_session_event *sev)
{
    struct id_stream *st = id_find(node->traversal, s, sev->stream_id);
    if (!st)
        return false;
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
        if (st->done) {
            /* Only the peer's FIN may come. */
            uint8_t junk[16];
            size_t n;
            bool fin;
            if (knit_conn_stream_read(knit_session_conn(s), st->stream_id,
                                      junk, sizeof junk, &n, &fin) ==
                    KNIT_OK &&
                n) {
                knit_conn_stream_reset(knit_session_conn(s), st->stream_id,
                                       KNIT_CONN_PROTOCOL_VIOLATION);
                id_release(st);
            }
            knit_session_flush(s, node->now);
        } else {
            st->busy = true;
            read_identify(node, s, st);
            st->busy = false;
            if (st->closed)
                id_release(st);
        }
        break;
    case KNIT_SESSION_STREAM_RESET:
    case KNIT_SESSION_STREAM_CLOSED:
        id_release(st);
        break;
    default:
        break;
    }
    return true;
}

void identify_session_down(struct knit_node *node, struct knit_session *s)
{
    struct node_traversal *t = node->traversal;
    for (uint32_t i = 0; i < t->id_stream_count; i++)
        if (t->id_streams[i].session == s)
            id_release(&t->id_streams[i]);
}

void identify_push_all(struct knit_node *node)
{
    for (size_t i = 0; i < node->session_count; i++) {
        struct knit_session *s = node->sessions[i];
        if (!knit_session_is_dead(s) && knit_session_is_up(s))
            identify_send(node, s, true);
    }
}
