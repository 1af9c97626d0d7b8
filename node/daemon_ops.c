#include "daemon_ops.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench_stream.h"
#include "control_proto.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define PING_SIZE 32
#define PING_ECHO_TIMEOUT_US 10000000ull
/* Session set-up may take the node's whole connect timeout (30 s). */
#define CONNECT_TIMEOUT_US 35000000ull
/* A DHT lookup gives up by itself after 60 s. */
#define FIND_TIMEOUT_US 65000000ull
#define BENCH_CHUNK 65536

enum op_kind { OP_PING = 1, OP_BENCH, OP_FIND };

/* What a bench sends (node/bench_stream.h): the stream of a seed of its
 * own, made a chunk at a time, and the digest of what the stream took.
 * The digest's hash state wants 64-byte alignment: aligned_alloc. */
struct bench_sender {
    struct knit_bench_digest sent;
    uint64_t seed;
    uint64_t made;                  /* bytes of the stream made so far */
    size_t chunk_len, chunk_off;    /* chunk[chunk_off..chunk_len) unsent */
    uint8_t chunk[BENCH_CHUNK];
};

struct op {
    enum op_kind kind;              /* 0 = free slot */
    struct knit_control_client *client;
    struct knit_peer_id peer;
    bool up;
    bool finding;                   /* waiting for the DHT's answer */
    uint64_t find_handle;
    bool stream_open;
    uint64_t stream;
    uint64_t started;               /* request arrived */
    uint64_t connect_us;            /* set-up time, 0 if already up */
    uint64_t deadline;              /* give up at */
    /* ping */
    uint32_t count, sent, received;
    uint64_t interval_us;
    uint64_t sent_at;
    uint64_t next_at;               /* next ping due (0: waiting for echo) */
    uint8_t echo[PING_SIZE];
    size_t echo_len;
    /* bench */
    uint64_t total;
    uint64_t bench_start;
    bool finished;
    struct bench_sender *bench;     /* while the stream is open */
    uint8_t answer[KNIT_BENCH_ANSWER_LEN];
    size_t answer_len;
};

struct knit_daemon_ops {
    uv_timer_t timer;
    struct knit_node *node;
    struct knit_uv_driver *drv;
    bool closing;
    struct op ops[KNIT_DAEMON_MAX_OPS];
};

static uint64_t now_us(const struct knit_daemon_ops *ops)
{
    return knit_uv_driver_now(ops->drv);
}

static void rearm(struct knit_daemon_ops *ops);

static void send_frame(struct op *op, struct knit_msg_writer *w)
{
    size_t len;
    if (op->client && knit_msg_end(w, &len) == KNIT_OK)
        knit_control_send(op->client, w->buf, len);
}

static void finish(struct knit_daemon_ops *ops, struct op *op, int err,
                   const char *text)
{
    uint64_t now = now_us(ops);
    if (op->stream_open) {
        if (err)
            knit_node_stream_reset(ops->node, &op->peer, op->stream,
                                   KNIT_CONN_CANCELLED, now);
        else
            knit_node_stream_finish(ops->node, &op->peer, op->stream, now);
    }
    if (err && op->client)
        knit_control_send_error(op->client, err, text);
    free(op->bench);
    memset(op, 0, sizeof *op);
    knit_uv_driver_rearm(ops->drv);
}

static void send_ping(struct knit_daemon_ops *ops, struct op *op, uint64_t now)
{
    uint8_t payload[PING_SIZE] = {0};
    uint64_t seq = op->sent + 1;
    for (int i = 0; i < 8; i++)
        payload[i] = (uint8_t)(seq >> (56 - 8 * i));
    size_t accepted;
    knit_node_stream_write(ops->node, &op->peer, op->stream, payload,
                           sizeof payload, now, &accepted);
    op->sent++;
    op->sent_at = now;
    op->next_at = 0;
    op->deadline = now + PING_ECHO_TIMEOUT_US;
}

static void ping_done(struct knit_daemon_ops *ops, struct op *op)
{
    uint8_t buf[256];
    struct knit_msg_writer w;
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&op->peer, id, sizeof id);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_PING_DONE, 4);
    knit_msg_put_str(&w, 1, id, strlen(id));
    knit_msg_put_uint(&w, 2, op->sent);
    knit_msg_put_uint(&w, 3, op->received);
    knit_msg_put_uint(&w, 4, op->connect_us);
    send_frame(op, &w);
    finish(ops, op, KNIT_OK, NULL);
}

static void bench_pump(struct knit_daemon_ops *ops, struct op *op,
                       uint64_t now)
{
    struct bench_sender *b = op->bench;
    while (b->sent.count < op->total) {
        if (b->chunk_off == b->chunk_len) {
            size_t n = BENCH_CHUNK;
            if (op->total - b->made < n)
                n = (size_t)(op->total - b->made);
            knit_bench_data(b->seed, b->made, b->chunk, n);
            b->made += n;
            b->chunk_len = n;
            b->chunk_off = 0;
        }
        size_t accepted = 0;
        if (knit_node_stream_write(ops->node, &op->peer, op->stream,
                                   b->chunk + b->chunk_off,
                                   b->chunk_len - b->chunk_off, now,
                                   &accepted) != 0 ||
            accepted == 0)
            return;   /* resumes on STREAM_WRITABLE */
        /* The digest covers exactly what the stream took, in order. */
        knit_bench_digest_add(&b->sent, b->chunk + b->chunk_off, accepted);
        b->chunk_off += accepted;
    }
    if (!op->finished) {
        op->finished = true;
        knit_node_stream_finish(ops->node, &op->peer, op->stream, now);
    }
}

static void start_streams(struct knit_daemon_ops *ops, struct op *op,
                          uint64_t now)
{
    const char *proto = op->kind == OP_PING ? KNIT_PROTOCOL_PING
                                            : KNIT_PROTOCOL_BENCH;
    if (op->kind == OP_BENCH) {
        op->bench = aligned_alloc(alignof(struct bench_sender),
                                  sizeof *op->bench);
        if (!op->bench) {
            finish(ops, op, KNIT_E_NOMEM, "out of memory");
            return;
        }
        memset(op->bench, 0, sizeof *op->bench);
        /* A fresh seed per run: no two runs send the same bytes. */
        randombytes_buf(&op->bench->seed, sizeof op->bench->seed);
        knit_bench_digest_init(&op->bench->sent);
    }
    int err = knit_node_open_stream(ops->node, &op->peer, proto, now,
                                    &op->stream);
    if (err) {
        finish(ops, op, err, "cannot open a stream to the peer");
        return;
    }
    op->stream_open = true;
    op->up = true;
    if (op->kind == OP_PING) {
        send_ping(ops, op, now);
    } else {
        op->bench_start = now;
        /* A bench has no overall deadline beyond the session's liveness. */
        op->deadline = UINT64_MAX;
        bench_pump(ops, op, now);
    }
}

static struct op *new_op(struct knit_daemon_ops *ops)
{
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++)
        if (!ops->ops[i].kind)
            return &ops->ops[i];
    return NULL;
}

/* start_find answered the client itself: the op ends without a reply. */
#define ANSWERED 1

/* Asks the DHT for op->peer's record; the op goes on at KNIT_EVENT_FOUND. */
static int start_find(struct knit_daemon_ops *ops, struct op *op,
                      uint64_t now)
{
    int err = knit_node_find(ops->node, &op->peer, now, &op->find_handle);
    if (err == KNIT_E_NOT_FOUND) {
        knit_control_send_error(op->client, err,
                                "the DHT knows no peers yet: start the "
                                "daemon with --bootstrap, or wait until a "
                                "bootstrap peer answers");
        return ANSWERED;
    }
    if (err)
        return err;
    op->finding = true;
    op->deadline = now + FIND_TIMEOUT_US;
    return KNIT_OK;
}

/* Parses the target and connects; the op starts when the peer is up. A
 * bare /p2p/<id> is looked up in the DHT first. */
static int begin(struct knit_daemon_ops *ops, struct op *op,
                 struct knit_control_client *client, const uint8_t *text,
                 size_t text_len)
{
    struct knit_multiaddr ma;
    struct knit_addr addr;
    int err = knit_multiaddr_parse(&ma, (const char *)text, text_len);
    if (err)
        return err;
    bool bare = ma.count == 1 && ma.c[0].protocol == KNIT_MA_P2P;
    if (knit_multiaddr_peer(&ma, &op->peer) != KNIT_OK ||
        knit_multiaddr_is_circuit(&ma) ||
        (!bare && knit_multiaddr_to_socket(&ma, &addr) != KNIT_OK))
        return KNIT_E_SHAPE;
    if (knit_peer_id_equal(&op->peer, knit_node_peer_id(ops->node)))
        return KNIT_E_INVAL;
    uint64_t now = now_us(ops);
    op->client = client;
    op->started = now;
    op->deadline = now + CONNECT_TIMEOUT_US;
    if (knit_node_peer_is_up(ops->node, &op->peer)) {
        start_streams(ops, op, now);
    } else if (bare) {
        err = start_find(ops, op, now);
        if (err)
            return err;
    } else {
        err = knit_node_connect(ops->node, &op->peer, &addr, now);
        if (err)
            return err;
    }
    rearm(ops);
    knit_uv_driver_rearm(ops->drv);
    return KNIT_OK;
}

static void find_answer(struct knit_daemon_ops *ops, struct op *op,
                        const struct knit_event *ev)
{
    uint8_t buf[8192];   /* 16 addresses of at most 256 bytes */
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&op->peer, id, sizeof id);
    const struct knit_peer_record *rec = ev->u.found.record;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_RESPONSE, 5);
    knit_msg_put_str(&w, 1, id, strlen(id));
    knit_msg_put_array_begin(&w, 2, rec->addr_count);
    for (uint8_t i = 0; i < rec->addr_count; i++) {
        /* The record's addresses, with the peer appended: dialable text. */
        struct knit_multiaddr ma = rec->addrs[i];
        char text[KNIT_MA_TEXT_MAX];
        if (ma.count < KNIT_MA_MAX_COMPONENTS &&
            ma.c[ma.count - 1].protocol != KNIT_MA_P2P) {
            ma.c[ma.count].protocol = KNIT_MA_P2P;
            ma.c[ma.count].v.peer = op->peer;
            ma.count++;
        }
        if (knit_multiaddr_format(&ma, text, sizeof text) != KNIT_OK)
            snprintf(text, sizeof text, "?");
        knit_msg_add_str(&w, text, strlen(text));
    }
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 3, ev->u.found.hops);
    knit_msg_put_uint(&w, 4, ev->u.found.queries);
    knit_msg_put_uint(&w, 5, ev->u.found.elapsed_us);
    send_frame(op, &w);
    finish(ops, op, KNIT_OK, NULL);
}

/* The DHT answered: report it (find), or dial the peer by its record
 * (ping, bench): every direct address and up to two of its relays at
 * once; the session takes the first path that answers. */
static void on_found(struct knit_daemon_ops *ops, struct op *op,
                     const struct knit_event *ev, uint64_t now)
{
    op->finding = false;
    if (ev->u.found.error) {
        char text[160];
        snprintf(text, sizeof text, "%s: %s",
                 ev->u.found.error == KNIT_E_TIMEOUT
                     ? "the lookup timed out" : "peer not found in the DHT",
                 knit_strerror(ev->u.found.error));
        finish(ops, op, ev->u.found.error, text);
        return;
    }
    if (op->kind == OP_FIND) {
        find_answer(ops, op, ev);
        return;
    }
    /* The DHT may have brought a session up while we looked. */
    if (knit_node_peer_is_up(ops->node, &op->peer)) {
        op->connect_us = now - op->started;
        start_streams(ops, op, now);
        return;
    }
    size_t dialled = 0;
    knit_node_connect_record(ops->node, ev->u.found.record, now, &dialled);
    if (!dialled) {
        finish(ops, op, KNIT_E_UNSUPPORTED,
               "the peer's record has no address we can dial");
        return;
    }
    op->deadline = now + CONNECT_TIMEOUT_US;
}

int knit_daemon_ops_find(struct knit_daemon_ops *ops,
                         struct knit_control_client *client,
                         const uint8_t *body, size_t len)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, &knit_control_find_request, &m);
    if (err)
        return err;
    size_t tlen;
    const uint8_t *text = knit_msg_bytes(&m, 1, &tlen);
    struct op *op = new_op(ops);
    if (!op)
        return KNIT_E_TOO_BIG;
    err = knit_peer_id_from_text(&op->peer, (const char *)text, tlen);
    if (err == KNIT_OK &&
        knit_peer_id_equal(&op->peer, knit_node_peer_id(ops->node)))
        err = KNIT_E_INVAL;
    uint64_t now = now_us(ops);
    if (err == KNIT_OK) {
        op->kind = OP_FIND;
        op->client = client;
        op->started = now;
        err = start_find(ops, op, now);
    }
    if (err) {
        memset(op, 0, sizeof *op);
        return err == ANSWERED ? KNIT_OK : err;
    }
    rearm(ops);
    knit_uv_driver_rearm(ops->drv);
    return KNIT_OK;
}

/* Both requests carry the target in field 1; the rest is per kind. */
static int start_op(struct knit_daemon_ops *ops,
                    struct knit_control_client *client, enum op_kind kind,
                    const struct knit_msg *m)
{
    struct op *op = new_op(ops);
    if (!op)
        return KNIT_E_TOO_BIG;
    size_t tlen;
    const uint8_t *text = knit_msg_bytes(m, 1, &tlen);
    op->kind = kind;
    if (kind == OP_PING) {
        op->count = (uint32_t)knit_msg_uint(m, 2);
        op->interval_us = knit_msg_uint(m, 3) * 1000;
        if (op->count == 0)
            op->count = 1;
    } else {
        op->total = knit_msg_uint(m, 2);
    }
    int err = begin(ops, op, client, text, tlen);
    if (err)
        memset(op, 0, sizeof *op);
    return err == ANSWERED ? KNIT_OK : err;
}

int knit_daemon_ops_ping(struct knit_daemon_ops *ops,
                         struct knit_control_client *client,
                         const uint8_t *body, size_t len)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, &knit_control_ping_request, &m);
    return err ? err : start_op(ops, client, OP_PING, &m);
}

int knit_daemon_ops_bench(struct knit_daemon_ops *ops,
                          struct knit_control_client *client,
                          const uint8_t *body, size_t len)
{
    struct knit_msg m;
    int err = knit_msg_decode(body, len, &knit_control_bench_request, &m);
    return err ? err : start_op(ops, client, OP_BENCH, &m);
}

static void on_ping_readable(struct knit_daemon_ops *ops, struct op *op,
                             uint64_t now)
{
    for (;;) {
        size_t n;
        bool fin;
        if (knit_node_stream_read(ops->node, &op->peer, op->stream,
                                  op->echo + op->echo_len,
                                  PING_SIZE - op->echo_len, &n, &fin,
                                  now) != KNIT_OK || n == 0)
            return;
        op->echo_len += n;
        if (op->echo_len < PING_SIZE)
            continue;
        op->echo_len = 0;
        op->received++;
        uint8_t buf[128];
        struct knit_msg_writer w;
        knit_msg_writer_init(&w, buf, sizeof buf);
        knit_msg_begin(&w, KNIT_CTL_PING_REPLY, 2);
        knit_msg_put_uint(&w, 1, op->sent);
        knit_msg_put_uint(&w, 2, now - op->sent_at);
        send_frame(op, &w);
        if (op->sent >= op->count) {
            ping_done(ops, op);
            return;
        }
        op->next_at = op->sent_at + op->interval_us;
        if (op->next_at <= now)
            send_ping(ops, op, now);
        rearm(ops);
    }
}

/* Reads the service's answer (node/bench_stream.h) and reports the run;
 * the CLI compares the two digests and gives the verdict. */
static void on_bench_readable(struct knit_daemon_ops *ops, struct op *op,
                              uint64_t now)
{
    bool fin = false;
    while (op->answer_len < sizeof op->answer && !fin) {
        size_t n;
        if (knit_node_stream_read(ops->node, &op->peer, op->stream,
                                  op->answer + op->answer_len,
                                  sizeof op->answer - op->answer_len, &n,
                                  &fin, now) != KNIT_OK)
            return;
        op->answer_len += n;
        if (n == 0)
            break;
    }
    /* The service answers after our FIN, never before. */
    if ((op->answer_len || fin) && !op->finished) {
        finish(ops, op, KNIT_E_MALFORMED,
               "the peer answered before all the data was sent");
        return;
    }
    uint64_t count;
    uint8_t peer_hash[KNIT_BENCH_HASH_LEN];
    int err = knit_bench_answer_parse(op->answer, op->answer_len, &count,
                                      peer_hash);
    if (err == KNIT_E_TRUNCATED && fin) {
        char text[160];
        snprintf(text, sizeof text, "the peer's answer ended after %zu of "
                 "the %d bytes it should have%s", op->answer_len,
                 KNIT_BENCH_ANSWER_LEN,
                 op->answer_len == 8 ? " (a knit from before the hash check "
                                       "answers the count alone)" : "");
        op->stream_open = false;
        finish(ops, op, KNIT_E_TRUNCATED, text);
        return;
    }
    if (err)
        return;   /* more to come */
    uint64_t sent;
    uint8_t sent_hash[KNIT_BENCH_HASH_LEN];
    knit_bench_digest_final(&op->bench->sent, sent_hash, &sent);
    struct knit_session_stats st;
    knit_node_peer_stats(ops->node, &op->peer, &st);
    uint8_t buf[512];
    struct knit_msg_writer w;
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&op->peer, id, sizeof id);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_BENCH_DONE, 10);
    knit_msg_put_str(&w, 1, id, strlen(id));
    knit_msg_put_uint(&w, 2, count);
    knit_msg_put_uint(&w, 3, now - op->bench_start);
    knit_msg_put_uint(&w, 4, st.conn.srtt_us);
    knit_msg_put_uint(&w, 5, st.conn.packets_lost);
    knit_msg_put_uint(&w, 6, op->connect_us);
    knit_msg_put_uint(&w, 7, st.conn.packets_sent);
    knit_msg_put_uint(&w, 8, sent);
    knit_msg_put_bin(&w, 9, sent_hash, sizeof sent_hash);
    knit_msg_put_bin(&w, 10, peer_hash, sizeof peer_hash);
    send_frame(op, &w);
    /* The stream already carried our FIN: just forget it. */
    op->stream_open = false;
    finish(ops, op, KNIT_OK, NULL);
}

void knit_daemon_ops_on_event(struct knit_daemon_ops *ops,
                              const struct knit_event *ev)
{
    if (ops->closing || !ev->peer)
        return;
    uint64_t now = ev->now ? ev->now : now_us(ops);
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++) {
        struct op *op = &ops->ops[i];
        if (!op->kind || !knit_peer_id_equal(&op->peer, ev->peer))
            continue;
        switch (ev->type) {
        case KNIT_EVENT_FOUND:
            if (op->finding && ev->u.found.handle == op->find_handle)
                on_found(ops, op, ev, now);
            break;
        case KNIT_EVENT_PEER_UP:
            if (op->kind == OP_FIND || op->finding)
                break;
            if (!op->up) {
                op->connect_us = now - op->started;
                start_streams(ops, op, now);
            }
            break;
        case KNIT_EVENT_PEER_DOWN:
            if (op->kind == OP_FIND || op->finding)
                break;
            op->stream_open = false;
            finish(ops, op, ev->u.down.error ? ev->u.down.error : KNIT_E_IO,
                   ev->u.down.reason);
            break;
        case KNIT_EVENT_STREAM_READABLE:
            if (op->stream_open && ev->stream_id == op->stream) {
                if (op->kind == OP_PING)
                    on_ping_readable(ops, op, now);
                else
                    on_bench_readable(ops, op, now);
            }
            break;
        case KNIT_EVENT_STREAM_WRITABLE:
            if (op->kind == OP_BENCH && op->stream_open &&
                ev->stream_id == op->stream)
                bench_pump(ops, op, now);
            break;
        case KNIT_EVENT_STREAM_RESET:
            if (op->stream_open && ev->stream_id == op->stream) {
                op->stream_open = false;
                finish(ops, op, KNIT_E_IO, "the peer reset the stream");
            }
            break;
        default:
            break;
        }
    }
    rearm(ops);
}

static void on_timer(uv_timer_t *timer)
{
    struct knit_daemon_ops *ops = timer->data;
    uint64_t now = now_us(ops);
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++) {
        struct op *op = &ops->ops[i];
        if (!op->kind)
            continue;
        if (now >= op->deadline) {
            if (op->kind == OP_PING && op->up)
                ping_done(ops, op);   /* the echo is overdue: report */
            else if (op->finding)
                finish(ops, op, KNIT_E_TIMEOUT, "the DHT lookup timed out");
            else
                finish(ops, op, KNIT_E_AGAIN,
                       "no session with the peer: it did not answer");
        } else if (op->kind == OP_PING && op->next_at && now >= op->next_at) {
            send_ping(ops, op, now);
        }
    }
    rearm(ops);
    knit_uv_driver_rearm(ops->drv);
}

static void rearm(struct knit_daemon_ops *ops)
{
    if (ops->closing)
        return;
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++) {
        const struct op *op = &ops->ops[i];
        if (!op->kind)
            continue;
        if (op->deadline < next)
            next = op->deadline;
        if (op->next_at && op->next_at < next)
            next = op->next_at;
    }
    if (next == UINT64_MAX) {
        uv_timer_stop(&ops->timer);
        return;
    }
    uint64_t now = now_us(ops);
    uv_timer_start(&ops->timer, on_timer,
                   next > now ? (next - now + 999) / 1000 : 0, 0);
}

void knit_daemon_ops_client_closed(struct knit_daemon_ops *ops,
                                   struct knit_control_client *client)
{
    /* Nobody waits for the answer any more: stop. */
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++) {
        if (ops->ops[i].kind && ops->ops[i].client == client) {
            ops->ops[i].client = NULL;
            finish(ops, &ops->ops[i], KNIT_E_IO, NULL);
        }
    }
    rearm(ops);
}

int knit_daemon_ops_new(struct knit_daemon_ops **out, uv_loop_t *loop,
                        struct knit_node *node, struct knit_uv_driver *drv)
{
    struct knit_daemon_ops *ops = calloc(1, sizeof *ops);
    if (!ops)
        return KNIT_E_NOMEM;
    ops->node = node;
    ops->drv = drv;
    uv_timer_init(loop, &ops->timer);
    ops->timer.data = ops;
    *out = ops;
    return KNIT_OK;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void knit_daemon_ops_close(struct knit_daemon_ops *ops)
{
    if (!ops || ops->closing)
        return;
    for (int i = 0; i < KNIT_DAEMON_MAX_OPS; i++)
        if (ops->ops[i].kind)
            finish(ops, &ops->ops[i], KNIT_E_IO,
                   "the daemon is shutting down");
    ops->closing = true;
    uv_close((uv_handle_t *)&ops->timer, on_timer_closed);
}
