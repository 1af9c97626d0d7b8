/* The DHT inside the node: carries dht/dht.h's messages over sessions
 * (our record, bootstrap and lookups are node/node_record.c).
 *
 * One stream per request (/knit/dht/1): we open it, write the request and
 * finish; the server reads one message, answers and finishes. A request
 * for a peer without a session dials it (not wanted: the session idles out
 * when the DHT stops using it) and waits in a queue until the session is
 * up, as do requests beyond NODE_MAX_DHT_REQUESTS_PER_PEER in flight to
 * one peer. Anything malformed resets the stream; the session and the
 * node carry on. Everything is bounded: NODE_MAX_DHT_STREAMS streams with
 * buffers of one message each, NODE_MAX_DHT_STREAMS_PER_PEER for one
 * peer's requests, NODE_MAX_DHT_QUEUED waiting requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define DHT_FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_DHT_MAX_MESSAGE)

/* ---- streams ------------------------------------------------------------------ */

/* The first buffer for a message being read; it doubles as the message
 * needs, up to DHT_FRAME_MAX. Most requests and answers are far smaller. */
#define DHT_IN_FIRST 1024

static struct dht_stream *stream_at(const struct knit_node *node, uint32_t i)
{
    return &node->dht_stream_chunks[i / NODE_DHT_STREAM_CHUNK]
                                   [i % NODE_DHT_STREAM_CHUNK];
}

static uint32_t stream_slots(const struct knit_node *node)
{
    return node->dht_stream_chunk_count * NODE_DHT_STREAM_CHUNK;
}

static struct dht_stream *stream_find(struct knit_node *node,
                                      const struct knit_session *s,
                                      uint64_t id)
{
    for (uint32_t i = 0; i < stream_slots(node); i++) {
        struct dht_stream *st = stream_at(node, i);
        if (st->session == s && st->stream_id == id)
            return st;
    }
    return NULL;
}

void node_dht_count_streams(const struct knit_node *node, uint32_t *out,
                            uint32_t *in)
{
    for (uint32_t i = 0; i < stream_slots(node); i++) {
        const struct dht_stream *st = stream_at(node, i);
        if (!st->session)
            continue;
        if (st->outgoing)
            (*out)++;
        else
            (*in)++;
    }
}

static struct dht_stream *stream_new(struct knit_node *node,
                                     struct knit_session *s, uint64_t id,
                                     bool outgoing)
{
    int from_peer = 0, incoming = 0;
    struct dht_stream *slot = NULL;
    for (uint32_t i = 0; i < stream_slots(node); i++) {
        struct dht_stream *st = stream_at(node, i);
        if (!st->session && !slot)
            slot = st;
        else if (st->session && !st->outgoing) {
            incoming++;
            if (st->session == s)
                from_peer++;
        }
    }
    /* Answering others never takes the slots our own lookups need: a busy
     * node (a bootstrap node everyone asks) must still find peers. */
    if (!outgoing && (from_peer >= NODE_MAX_DHT_STREAMS_PER_PEER ||
                      incoming >= NODE_MAX_DHT_STREAMS_IN))
        return NULL;
    if (!slot) {
        if (node->dht_stream_chunk_count == NODE_DHT_STREAM_CHUNKS)
            return NULL;
        struct dht_stream *chunk =
            calloc(NODE_DHT_STREAM_CHUNK, sizeof *chunk);
        if (!chunk)
            return NULL;
        node->dht_stream_chunks[node->dht_stream_chunk_count++] = chunk;
        slot = chunk;
    }
    slot->in = malloc(DHT_IN_FIRST);
    if (!slot->in)
        return NULL;
    slot->in_cap = DHT_IN_FIRST;
    slot->session = s;
    slot->stream_id = id;
    slot->outgoing = outgoing;
    return slot;
}

static void stream_release(struct dht_stream *st)
{
    free(st->in);
    free(st->out);
    memset(st, 0, sizeof *st);
}

/* Writes what is left of st->out, then FIN; resumes on STREAM_WRITABLE. */
static void stream_push(struct knit_conn *c, struct dht_stream *st)
{
    if (!st->out)
        return;
    while (st->out_off < st->out_len) {
        size_t accepted;
        if (knit_conn_stream_write(c, st->stream_id, st->out + st->out_off,
                                   st->out_len - st->out_off,
                                   &accepted) != KNIT_OK)
            return;
        if (accepted == 0)
            return;
        st->out_off += accepted;
    }
    knit_conn_stream_finish(c, st->stream_id);
    free(st->out);
    st->out = NULL;
}

static void fail_request(struct knit_node *node, struct dht_stream *st,
                         int err)
{
    if (st->outgoing && !st->done) {
        st->done = true;
        knit_dht_on_failure(node->dht, knit_session_peer(st->session),
                            st->request_id, err, node->now);
    }
}

/* Resets a stream we will not serve and forgets it; the conn reports
 * nothing more of it (knit_conn_stream_refuse), so nothing strays to the
 * embedder either. */
static void refuse(struct knit_conn *c, struct dht_stream *st)
{
    knit_conn_stream_refuse(c, st->stream_id,
                            KNIT_CONN_PROTOCOL_VIOLATION);
    stream_release(st);
}

/* Both sides of a request: one message in, then the peer's FIN. */
static void on_message(struct knit_node *node, struct knit_conn *c,
                       struct dht_stream *st, const uint8_t *body,
                       size_t len)
{
    struct knit_session *s = st->session;
    st->done = true;
    if (st->outgoing) {
        knit_dht_on_response(node->dht, knit_session_peer(s), st->request_id,
                             body, len, node->now);
        return;
    }
    st->out = malloc(DHT_FRAME_MAX);
    int err = st->out ? KNIT_OK : KNIT_E_NOMEM;
    if (err == KNIT_OK) {
        struct knit_addr path = knit_session_path_addr(s);
        err = knit_dht_handle_request(
            node->dht, knit_session_peer(s), &path,
            knit_session_peer_serves(s, KNIT_DHT_PROTOCOL), body, len,
            node->now, st->out, DHT_FRAME_MAX, &st->out_len);
    }
    if (err == KNIT_OK) {
        /* Held until the peer has it all: keep only what it takes. */
        uint8_t *fit = realloc(st->out, st->out_len ? st->out_len : 1);
        if (fit)
            st->out = fit;
    }
    if (err) {
        node_log(node, node->now, KNIT_LOG_DEBUG,
                 "dht: refused a request: %s", knit_strerror(err));
        refuse(c, st);
        return;
    }
    st->out_off = 0;
    stream_push(c, st);
}

static void read_stream(struct knit_node *node, struct knit_conn *c,
                        struct dht_stream *st)
{
    for (;;) {
        uint8_t scrap[512];
        if (!st->done && st->in_len == st->in_cap &&
            st->in_cap < DHT_FRAME_MAX) {
            size_t cap = st->in_cap * 2 < DHT_FRAME_MAX ? st->in_cap * 2
                                                         : DHT_FRAME_MAX;
            uint8_t *in = realloc(st->in, cap);
            if (!in) {
                fail_request(node, st, KNIT_E_NOMEM);
                refuse(c, st);
                return;
            }
            st->in = in;
            st->in_cap = cap;
        }
        uint8_t *into = st->done ? scrap : st->in + st->in_len;
        size_t room = st->done ? sizeof scrap : st->in_cap - st->in_len;
        size_t n;
        bool fin;
        if (knit_conn_stream_read(c, st->stream_id, into, room, &n, &fin) !=
            KNIT_OK)
            return;
        if (!st->done) {
            st->in_len += n;
            struct knit_msg_frame f;
            int err = knit_msg_deframe(st->in, st->in_len,
                                       KNIT_DHT_MAX_MESSAGE, &f);
            if (err == KNIT_OK && f.len == st->in_len) {
                on_message(node, c, st, f.body, f.body_len);
                if (!st->session)
                    return;   /* refused and released */
            } else if ((err != KNIT_E_AGAIN && err != KNIT_OK) ||
                       (err == KNIT_OK && f.len != st->in_len) ||
                       (err == KNIT_E_AGAIN && fin)) {
                /* Oversized, empty, more than one message, or cut short:
                 * this stream is beyond repair, the session is not. */
                fail_request(node, st, KNIT_E_MALFORMED);
                refuse(c, st);
                return;
            }
        }
        if (fin || n == 0)
            return;
    }
}

/* Reading the FIN may close the stream at once, from inside the read: the
 * CLOSED (or a RESET) that arrives meanwhile is noted and acted on here,
 * after the message has been handled. */
static void pump(struct knit_node *node, struct knit_conn *c,
                 struct dht_stream *st)
{
    st->busy = true;
    read_stream(node, c, st);
    if (!st->session)
        return;   /* released by read_stream */
    st->busy = false;
    if (st->closed) {
        fail_request(node, st, KNIT_E_TRUNCATED);
        stream_release(st);
    }
}

bool node_dht_open(struct knit_node *node, struct knit_session *s,
                   uint64_t stream_id, const char *protocol)
{
    if (strcmp(protocol, KNIT_DHT_PROTOCOL) != 0)
        return false;
    struct knit_conn *c = knit_session_conn(s);
    struct dht_stream *st = stream_new(node, s, stream_id, false);
    if (!st) {
        knit_conn_stream_refuse(c, stream_id, KNIT_CONN_REFUSED);
        return true;
    }
    pump(node, c, st);
    return true;
}

static void flush_queue(struct knit_node *node, struct knit_session *s,
                        bool up);

bool node_dht_event(struct knit_node *node, struct knit_session *s,
                    const struct knit_session_event *sev)
{
    struct dht_stream *st = stream_find(node, s, sev->stream_id);
    if (!st)
        return false;
    bool ours = st->outgoing;
    struct knit_conn *c = knit_session_conn(s);
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
        if (c)
            pump(node, c, st);
        break;
    case KNIT_SESSION_STREAM_WRITABLE:
        if (c)
            stream_push(c, st);
        break;
    case KNIT_SESSION_STREAM_RESET:
        fail_request(node, st, KNIT_E_REFUSED);
        if (c)
            knit_conn_stream_reset(c, sev->stream_id, KNIT_CONN_CANCELLED);
        if (st->busy)
            st->closed = true;
        else
            stream_release(st);
        break;
    case KNIT_SESSION_STREAM_CLOSED:
        if (st->busy) {
            st->closed = true;
            break;
        }
        fail_request(node, st, KNIT_E_TRUNCATED);
        stream_release(st);
        break;
    default:
        break;
    }
    /* One of our requests to this peer ended (its slot was released, in
     * a chunk that never moves): one waiting for that peer may go. The
     * queue is not looked at for any other stream event. */
    if (ours && !st->session && node->dht_queued && knit_session_is_up(s))
        flush_queue(node, s, true);
    return true;
}

/* ---- sending requests ------------------------------------------------------------ */

static int start_request(struct knit_node *node, struct knit_session *s,
                         uint64_t request_id, const uint8_t *frame,
                         size_t len)
{
    struct knit_conn *c = knit_session_conn(s);
    if (!c)
        return KNIT_E_NOT_FOUND;
    uint64_t stream_id;
    int err = knit_conn_open_stream(c, KNIT_DHT_PROTOCOL, &stream_id);
    if (err)
        return err;
    struct dht_stream *st = stream_new(node, s, stream_id, true);
    if (st)
        st->out = malloc(len);
    if (!st || !st->out) {
        if (st)
            stream_release(st);
        knit_conn_stream_reset(c, stream_id, KNIT_CONN_CANCELLED);
        return KNIT_E_LIMIT;
    }
    memcpy(st->out, frame, len);
    st->out_len = len;
    st->request_id = request_id;
    stream_push(c, st);
    knit_session_flush(s, node->now);
    return KNIT_OK;
}

/* Our requests in flight to s's peer. A peer answers at most
 * NODE_MAX_DHT_STREAMS_PER_PEER of them at once and refuses the rest
 * (stream_new), so we send at most NODE_MAX_DHT_REQUESTS_PER_PEER: the
 * others wait in the queue. A server handing a newcomer its records sends
 * up to 64 PUTs at once. */
static uint32_t requests_to(const struct knit_node *node,
                            const struct knit_session *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < stream_slots(node); i++) {
        const struct dht_stream *st = stream_at(node, i);
        n += st->session == s && st->outgoing;
    }
    return n;
}

static int queue_request(struct knit_node *node,
                         const struct knit_peer_id *peer, uint64_t id,
                         const uint8_t *frame, size_t len)
{
    if (node->dht_queued == NODE_MAX_DHT_QUEUED)
        return KNIT_E_LIMIT;
    if (node->dht_queued == node->dht_queue_cap) {
        size_t cap = node->dht_queue_cap ? node->dht_queue_cap * 2 : 8;
        if (cap > NODE_MAX_DHT_QUEUED)
            cap = NODE_MAX_DHT_QUEUED;
        struct dht_queued *q = realloc(node->dht_queue, cap * sizeof *q);
        if (!q)
            return KNIT_E_NOMEM;
        node->dht_queue = q;
        node->dht_queue_cap = cap;
    }
    struct dht_queued *q = &node->dht_queue[node->dht_queued];
    q->frame = malloc(len);
    if (!q->frame)
        return KNIT_E_NOMEM;
    memcpy(q->frame, frame, len);
    q->len = len;
    q->peer = *peer;
    q->request_id = id;
    node->dht_queued++;
    return KNIT_OK;
}

static int send_request(void *ctx, const struct knit_peer_id *peer,
                        const struct knit_addr *addr, uint64_t id,
                        const uint8_t *frame, size_t len, uint64_t now)
{
    struct knit_node *node = ctx;
    struct knit_session *s = node_find_session(node, peer);
    if (s && knit_session_is_up(s))
        return requests_to(node, s) < NODE_MAX_DHT_REQUESTS_PER_PEER
                   ? start_request(node, s, id, frame, len)
                   : queue_request(node, peer, id, frame, len);
    int err = queue_request(node, peer, id, frame, len);
    if (err)
        return err;
    /* Dials, or adds addr as a candidate path to the dial under way. */
    err = node_dial(node, peer, addr, now, false);
    if (err) {
        node->dht_queued--;
        free(node->dht_queue[node->dht_queued].frame);
    }
    return err;
}

/* Sends (up: as many as the peer answers at once, the rest wait for
 * those to end) or fails (down) the requests waiting for peer's session. */
static void flush_queue(struct knit_node *node, struct knit_session *s,
                        bool up)
{
    const struct knit_peer_id *peer = knit_session_peer(s);
    for (size_t i = 0; i < node->dht_queued;) {
        struct dht_queued q = node->dht_queue[i];
        if (!knit_peer_id_equal(&q.peer, peer)) {
            i++;
            continue;
        }
        if (up && requests_to(node, s) >= NODE_MAX_DHT_REQUESTS_PER_PEER)
            return;
        node->dht_queue[i] = node->dht_queue[--node->dht_queued];
        int err = up ? start_request(node, s, q.request_id, q.frame, q.len)
                     : KNIT_E_IO;
        free(q.frame);
        if (err)
            knit_dht_on_failure(node->dht, peer, q.request_id, err, node->now);
        /* Failure handling may queue again (a retry elsewhere): the queue
         * may have changed, so start over; entries for peer only shrink. */
        i = 0;
    }
}

void node_dht_session_up(struct knit_node *node, struct knit_session *s)
{
    if (knit_session_peer_serves(s, KNIT_DHT_PROTOCOL)) {
        struct knit_addr path = knit_session_path_addr(s);
        knit_dht_peer_seen(node->dht, knit_session_peer(s), &path,
                           node->now);
    }
    flush_queue(node, s, true);
}

void node_dht_session_down(struct knit_node *node, struct knit_session *s)
{
    for (uint32_t i = 0; i < stream_slots(node); i++) {
        struct dht_stream *st = stream_at(node, i);
        if (st->session != s)
            continue;
        fail_request(node, st, KNIT_E_IO);
        stream_release(st);
    }
    flush_queue(node, s, false);
}

/* ---- engine callbacks -------------------------------------------------------------- */

static void dht_random(void *ctx, uint8_t *buf, size_t len)
{
    struct knit_node *node = ctx;
    node->io.random(node->io.ctx, buf, len);
}

static uint64_t dht_unix_time(void *ctx, uint64_t now)
{
    struct knit_node *node = ctx;
    return (node->unix_time_at_start + (now - node->created)) / SECOND;
}

static void dht_found(void *ctx, const struct knit_dht_result *r)
{
    struct knit_node *node = ctx;
    struct knit_event ev = {.type = KNIT_EVENT_FOUND, .now = node->now,
                            .peer = &r->target};
    ev.u.found.handle = r->handle;
    ev.u.found.error = r->error;
    ev.u.found.record = r->record;
    ev.u.found.hops = r->hops;
    ev.u.found.queries = r->queries;
    ev.u.found.elapsed_us = r->elapsed_us;
    node_emit(node, &ev);
}

static void dht_log_line(void *ctx, uint64_t now, const char *message)
{
    node_log(ctx, now, KNIT_LOG_DEBUG, "%s", message);
}

int node_dht_init(struct knit_node *node, const struct knit_node_config *cfg,
                  uint64_t now)
{
    struct knit_dht_env env = {
        .ctx = node, .send_request = send_request, .random = dht_random,
        .unix_time_s = dht_unix_time, .found = dht_found,
        .log = dht_log_line, .records = node->record_cache,
    };
    node->dht_mode = cfg->dht_mode;
    node->bootstrap_at = KNIT_NO_DEADLINE;
    int err = knit_dht_new(&node->dht, &node->identity.id, cfg->dht, &env,
                           now);
    if (err == KNIT_OK)
        knit_dht_set_serving(node->dht, cfg->dht_mode == KNIT_DHT_MODE_SERVER);
    return err;
}

void node_dht_free(struct knit_node *node)
{
    for (uint32_t i = 0; i < stream_slots(node); i++)
        stream_release(stream_at(node, i));
    for (uint32_t i = 0; i < node->dht_stream_chunk_count; i++)
        free(node->dht_stream_chunks[i]);
    for (size_t i = 0; i < node->dht_queued; i++)
        free(node->dht_queue[i].frame);
    free(node->dht_queue);
    free(node->bootstrap);
    free(node->record);
    knit_dht_free(node->dht);
}
