/* One forwarded connection: a TCP socket on 127.0.0.1 joined to one
 * /knit/forward/1 stream. The handshake (OPEN, ANSWER) comes first, read a
 * frame at a time and never a byte further, since what follows belongs to
 * the application. Then bytes flow both ways with bounded buffers: the
 * socket is read only while the stream takes what was read (a refused rest
 * waits in `in` until STREAM_WRITABLE), and the stream only while the
 * socket's queued writes stay under FWD_TCP_PENDING_MAX.
 *
 * Closing follows TCP: EOF on the socket finishes the stream, the stream's
 * FIN shuts the socket's write side down, and once both directions are
 * over the socket closes. A socket error resets the stream; a stream reset
 * or the session's end resets the socket (RST), so neither application
 * waits on a dead path.
 *
 * Any call into the node may report events at once, and one of them may
 * close this bridge: after each call, `closing` says whether to go on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"
#include "forward_internal.h"
#include "transport/error.h"

struct wreq {
    uv_write_t req;
    struct bridge *b;
    size_t len;
    uint8_t data[];
};

static uint64_t now_of(const struct knit_forwarder *f)
{
    return knit_uv_driver_now(f->drv);
}

static void peer_text(const struct bridge *b, char *out, size_t cap)
{
    knit_peer_id_to_text(&b->peer, out, cap);
}

static void on_tcp_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void fwd_bridge_close(struct bridge *b, bool abort)
{
    if (b->closing)
        return;
    struct knit_forwarder *f = b->f;
    /* Out of the table first: the calls below may report events. */
    b->closing = true;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++)
        if (f->bridges[i] == b)
            f->bridges[i] = NULL;
    if (b->phase == B_REACHING)
        knit_daemon_reach_cancel(f->reach, b);
    if (abort && b->stream_live)
        knit_node_stream_reset(f->node, &b->peer, b->stream,
                               KNIT_CONN_CANCELLED, now_of(f));
    b->stream_live = false;
    /* SO_LINGER 0 makes close send a RST; libuv refuses it while a
     * shutdown is pending, and then a plain close must do. */
    if (!abort || uv_tcp_close_reset(&b->tcp, on_tcp_closed) != 0)
        uv_close((uv_handle_t *)&b->tcp, on_tcp_closed);
    knit_uv_driver_rearm(f->drv);
}

static struct bridge *bridge_new(struct knit_forwarder *f)
{
    size_t slot = KNIT_FORWARD_MAX_CONNECTIONS;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++)
        if (!f->bridges[i]) {
            slot = i;
            break;
        }
    if (slot == KNIT_FORWARD_MAX_CONNECTIONS)
        return NULL;
    struct bridge *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (uv_tcp_init(f->loop, &b->tcp) != 0) {
        free(b);
        return NULL;
    }
    b->f = f;
    b->tcp.data = b;
    f->bridges[slot] = b;
    return b;
}

static void check_done(struct bridge *b)
{
    if (!b->closing && b->phase == B_BRIDGING && b->tcp_eof && b->fin_sent &&
        b->fin_read && b->shutdown_done)
        fwd_bridge_close(b, false);
}

/* ---- stream to socket ------------------------------------------------------ */

static void pump_stream(struct bridge *b);

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct bridge *b = w->b;
    b->tcp_pending -= w->len;
    free(w);
    if (b->closing)
        return;
    if (status < 0) {
        fwd_bridge_close(b, true);
        return;
    }
    pump_stream(b);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct bridge *b = req->handle->data;
    if (b->closing)
        return;
    if (status < 0) {
        fwd_bridge_close(b, true);
        return;
    }
    b->shutdown_done = true;
    check_done(b);
}

static void pump_stream(struct bridge *b)
{
    struct knit_forwarder *f = b->f;
    uint8_t buf[FWD_CHUNK];
    while (b->stream_live && !b->fin_read &&
           b->tcp_pending < FWD_TCP_PENDING_MAX) {
        size_t n;
        bool fin;
        int err = knit_node_stream_read(f->node, &b->peer, b->stream, buf,
                                        sizeof buf, &n, &fin, now_of(f));
        if (b->closing)
            return;
        if (err) {
            fwd_bridge_close(b, true);
            return;
        }
        if (n) {
            struct wreq *w = malloc(sizeof *w + n);
            if (!w) {
                fwd_bridge_close(b, true);
                return;
            }
            w->b = b;
            w->len = n;
            memcpy(w->data, buf, n);
            uv_buf_t ub = uv_buf_init((char *)w->data, (unsigned)n);
            if (uv_write(&w->req, (uv_stream_t *)&b->tcp, &ub, 1,
                         on_written) != 0) {
                free(w);
                fwd_bridge_close(b, true);
                return;
            }
            b->tcp_pending += n;
        }
        if (fin)
            b->fin_read = true;
        if (n == 0)
            break;
    }
    knit_uv_driver_rearm(f->drv);
    /* The shutdown waits for the queued writes, then sends our FIN. */
    if (b->fin_read && !b->shutdown_started) {
        b->shutdown_started = true;
        if (uv_shutdown(&b->shutdown, (uv_stream_t *)&b->tcp,
                        on_shutdown) != 0) {
            fwd_bridge_close(b, true);
            return;
        }
    }
    check_done(b);
}

/* ---- socket to stream ------------------------------------------------------ */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct bridge *b = handle->data;
    /* Reading runs only while `in` is empty. */
    *buf = uv_buf_init((char *)b->in, sizeof b->in);
}

static void start_reading(struct bridge *b);

static void push_to_stream(struct bridge *b)
{
    struct knit_forwarder *f = b->f;
    while (b->in_off < b->in_len) {
        size_t accepted = 0;
        int err = knit_node_stream_write(f->node, &b->peer, b->stream,
                                         b->in + b->in_off,
                                         b->in_len - b->in_off, now_of(f),
                                         &accepted);
        if (b->closing)
            return;
        if (err) {
            fwd_bridge_close(b, true);
            return;
        }
        if (accepted == 0)
            break;   /* resumes on STREAM_WRITABLE */
        b->in_off += accepted;
    }
    knit_uv_driver_rearm(f->drv);
    if (b->in_off < b->in_len) {
        if (b->tcp_reading) {
            uv_read_stop((uv_stream_t *)&b->tcp);
            b->tcp_reading = false;
        }
        return;
    }
    b->in_len = b->in_off = 0;
    start_reading(b);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct bridge *b = stream->data;
    if (b->closing || nread == 0)
        return;
    if (nread == UV_EOF) {
        uv_read_stop(stream);
        b->tcp_reading = false;
        b->tcp_eof = true;
        struct knit_forwarder *f = b->f;
        int err = knit_node_stream_finish(f->node, &b->peer, b->stream,
                                          now_of(f));
        if (b->closing)
            return;
        knit_uv_driver_rearm(f->drv);
        if (err) {
            fwd_bridge_close(b, true);
            return;
        }
        b->fin_sent = true;
        check_done(b);
        return;
    }
    if (nread < 0) {
        fwd_bridge_close(b, true);
        return;
    }
    b->in_len = (size_t)nread;
    b->in_off = 0;
    push_to_stream(b);
}

static void start_reading(struct bridge *b)
{
    if (b->tcp_reading || b->tcp_eof || b->closing)
        return;
    if (uv_read_start((uv_stream_t *)&b->tcp, on_alloc, on_read) != 0) {
        fwd_bridge_close(b, true);
        return;
    }
    b->tcp_reading = true;
}

static void start_bridging(struct bridge *b)
{
    b->phase = B_BRIDGING;
    b->deadline = 0;
    start_reading(b);
    if (!b->closing)
        pump_stream(b);
}

/* ---- the handshake --------------------------------------------------------- */

/* Reads the handshake frame into b->msg, never past its end. 1: whole (in
 * *msg), 0: more to come, negative: give up (KNIT_E_TRUNCATED at FIN). */
static int read_handshake(struct bridge *b, struct knit_service_msg *msg)
{
    struct knit_forwarder *f = b->f;
    for (;;) {
        size_t want = KNIT_MSG_HEADER_LEN;
        struct knit_msg_frame fr;
        if (b->msg_have >= KNIT_MSG_HEADER_LEN) {
            int err = knit_msg_deframe(b->msg, b->msg_have,
                                       KNIT_SERVICE_MAX_MESSAGE, &fr);
            if (err == KNIT_OK)
                return knit_service_decode(fr.body, fr.body_len, msg) ?
                           KNIT_E_MALFORMED : 1;
            if (err != KNIT_E_AGAIN)
                return err;
            want = fr.len;
        }
        size_t n;
        bool fin;
        int err = knit_node_stream_read(f->node, &b->peer, b->stream,
                                        b->msg + b->msg_have,
                                        want - b->msg_have, &n, &fin,
                                        now_of(f));
        if (b->closing)
            return KNIT_E_CANCELED;
        if (err)
            return err;
        b->msg_have += n;
        if (fin)
            b->fin_read = true;
        if (n == 0 || (fin && b->msg_have < want))
            return fin ? KNIT_E_TRUNCATED : 0;
    }
}

static int write_frame(struct bridge *b, const struct knit_service_msg *m)
{
    uint8_t frame[KNIT_SERVICE_FRAME_MAX];
    size_t len, accepted = 0;
    int err = knit_service_encode(m, frame, sizeof frame, &len);
    if (err == KNIT_OK)
        err = knit_node_stream_write(b->f->node, &b->peer, b->stream, frame,
                                     len, now_of(b->f), &accepted);
    /* A new stream's send buffer (1 MiB) always has room for one frame. */
    if (err == KNIT_OK && accepted != len)
        err = KNIT_E_NO_SPACE;
    knit_uv_driver_rearm(b->f->drv);
    return err;
}

/* in: answers status with text, finishes the stream and lets it go. */
static void refuse(struct bridge *b, uint8_t status, const char *text)
{
    struct knit_service_msg m = {.type = KNIT_SERVICE_ANSWER,
                                 .status = status};
    knit_control_clean_text(m.text, sizeof m.text, text);
    if (write_frame(b, &m) != KNIT_OK || b->closing) {
        fwd_bridge_close(b, true);
        return;
    }
    knit_node_stream_finish(b->f->node, &b->peer, b->stream, now_of(b->f));
    if (b->closing)
        return;
    /* Not reset: the answer must arrive. The opener resets its side. */
    b->stream_live = false;
    fwd_bridge_close(b, false);
}

static void log_refusal(struct bridge *b, const char *why)
{
    char id[KNIT_PEER_ID_TEXT_MAX];
    peer_text(b, id, sizeof id);
    fwd_warn(b->f, "refused %s for service %s: %s\n", id,
            b->service, why);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct bridge *b = req->handle->data;
    if (b->closing)
        return;
    if (status < 0) {
        char text[KNIT_SERVICE_TEXT_MAX + 1];
        snprintf(text, sizeof text, "127.0.0.1:%u refused the connection "
                 "(%s)", b->service_port, uv_strerror(status));
        log_refusal(b, text);
        refuse(b, KNIT_SERVICE_PORT_REFUSED, text);
        return;
    }
    struct knit_service_msg ok = {.type = KNIT_SERVICE_ANSWER,
                                  .status = KNIT_SERVICE_OK};
    if (write_frame(b, &ok) != KNIT_OK) {
        if (!b->closing)
            fwd_bridge_close(b, true);
        return;
    }
    if (!b->closing)
        start_bridging(b);
}

/* in: the OPEN arrived; check it and connect to the service's port. */
static void on_open(struct bridge *b, const struct knit_service_msg *m)
{
    struct knit_forwarder *f = b->f;
    if (m->type != KNIT_SERVICE_OPEN) {
        fwd_bridge_close(b, true);
        return;
    }
    snprintf(b->service, sizeof b->service, "%s", m->service);
    const struct expose *e = fwd_find_expose(f, m->service);
    if (!e) {
        log_refusal(b, "no such service");
        refuse(b, KNIT_SERVICE_NO_SUCH_SERVICE, "no such service");
        return;
    }
    if (!fwd_expose_allows(e, &b->peer)) {
        log_refusal(b, "not allowed");
        refuse(b, KNIT_SERVICE_NOT_ALLOWED, "not allowed");
        return;
    }
    b->service_port = e->port;
    b->owner = e->owner;
    b->phase = B_CONNECTING;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", e->port, &sa);
    int err = uv_tcp_connect(&b->connect, &b->tcp,
                             (const struct sockaddr *)&sa, on_connected);
    if (err)
        on_connected(&b->connect, err);
}

static void on_answer(struct bridge *b, const struct knit_service_msg *m)
{
    if (m->type != KNIT_SERVICE_ANSWER) {
        fwd_bridge_close(b, true);
        return;
    }
    if (m->status == KNIT_SERVICE_OK) {
        start_bridging(b);
        return;
    }
    char id[KNIT_PEER_ID_TEXT_MAX], text[KNIT_SERVICE_TEXT_MAX + 1];
    peer_text(b, id, sizeof id);
    knit_control_clean_text(text, sizeof text, m->text);
    fwd_warn(b->f, "forward 127.0.0.1:%u: %s refused service "
            "%s: %s%s%s\n", b->listen_port, id, b->service,
            knit_service_status_text(m->status), text[0] ? ": " : "", text);
    fwd_bridge_close(b, true);
}

static void on_handshake_readable(struct bridge *b)
{
    struct knit_service_msg m;
    int rc = read_handshake(b, &m);
    if (b->closing || rc == 0)
        return;
    if (rc < 0) {
        char id[KNIT_PEER_ID_TEXT_MAX];
        peer_text(b, id, sizeof id);
        fwd_warn(b->f, "forward stream with %s: bad %s: %s\n",
                id, b->outgoing ? "ANSWER" : "OPEN", knit_strerror(rc));
        fwd_bridge_close(b, true);
        return;
    }
    if (b->outgoing)
        on_answer(b, &m);
    else
        on_open(b, &m);
}

/* out: the session is up (or will not be). */
static void on_reached(void *ctx, const struct knit_peer_id *peer, int err,
                       const char *reason)
{
    (void)peer;
    struct bridge *b = ctx;
    struct knit_forwarder *f = b->f;
    char id[KNIT_PEER_ID_TEXT_MAX];
    peer_text(b, id, sizeof id);
    if (err) {
        fwd_warn(b->f, "forward 127.0.0.1:%u: cannot reach %s: "
                "%s\n", b->listen_port, id, reason);
        /* Not reaching any more: nothing to cancel. */
        b->phase = B_AWAIT_ANSWER;
        fwd_bridge_close(b, true);
        return;
    }
    b->phase = B_AWAIT_ANSWER;
    b->deadline = now_of(f) + FWD_HANDSHAKE_US;
    err = knit_node_open_stream(f->node, &b->peer, KNIT_FORWARD_PROTOCOL,
                                now_of(f), &b->stream);
    if (err == KNIT_OK) {
        b->stream_live = true;
        struct knit_service_msg open = {.type = KNIT_SERVICE_OPEN};
        snprintf(open.service, sizeof open.service, "%s", b->service);
        err = write_frame(b, &open);
    }
    if (b->closing)
        return;
    if (err) {
        fwd_warn(b->f, "forward 127.0.0.1:%u: cannot open a "
                "stream to %s: %s\n", b->listen_port, id,
                knit_strerror(err));
        fwd_bridge_close(b, true);
        return;
    }
    fwd_need_timer(f);
}

/* ---- entry points ------------------------------------------------------------ */

void fwd_bridge_accept(struct knit_forwarder *f, struct listener *l)
{
    struct bridge *b = bridge_new(f);
    if (!b) {
        /* Take it off the backlog and reset it at once. */
        uv_tcp_t *t = malloc(sizeof *t);
        if (!t)
            return;
        uv_tcp_init(f->loop, t);
        t->data = t;
        if (uv_accept((uv_stream_t *)&l->h->tcp, (uv_stream_t *)t) != 0 ||
            uv_tcp_close_reset(t, on_tcp_closed) != 0)
            uv_close((uv_handle_t *)t, on_tcp_closed);
        fwd_warn(f, "forward 127.0.0.1:%u: %u forwarded "
                "connections already; refused one\n", l->port,
                KNIT_FORWARD_MAX_CONNECTIONS);
        return;
    }
    b->outgoing = true;
    b->phase = B_REACHING;
    b->peer = l->peer;
    b->owner = l->owner;
    b->listen_port = l->port;
    snprintf(b->service, sizeof b->service, "%s", l->service);
    if (uv_accept((uv_stream_t *)&l->h->tcp, (uv_stream_t *)&b->tcp) != 0) {
        b->phase = B_AWAIT_ANSWER;
        fwd_bridge_close(b, false);
        return;
    }
    int err = knit_daemon_reach_peer(f->reach, &b->peer, FWD_REACH_MS,
                                     on_reached, b);
    if (err && !b->closing) {
        on_reached(b, &b->peer, err, knit_strerror(err));
    }
}

void fwd_bridge_incoming(struct knit_forwarder *f,
                         const struct knit_peer_id *peer, uint64_t stream)
{
    struct bridge *b = bridge_new(f);
    if (!b) {
        knit_node_stream_reset(f->node, peer, stream, KNIT_CONN_CANCELLED,
                               now_of(f));
        char id[KNIT_PEER_ID_TEXT_MAX];
        knit_peer_id_to_text(peer, id, sizeof id);
        fwd_warn(f, "refused a forward stream from %s: %u "
                "forwarded connections already\n", id,
                KNIT_FORWARD_MAX_CONNECTIONS);
        return;
    }
    b->phase = B_AWAIT_OPEN;
    b->peer = *peer;
    b->stream = stream;
    b->stream_live = true;
    b->deadline = now_of(f) + FWD_HANDSHAKE_US;
    fwd_need_timer(f);
    /* The OPEN may have come in the stream's first packet. */
    on_handshake_readable(b);
}

void fwd_bridge_on_event(struct bridge *b, const struct knit_event *ev)
{
    switch (ev->type) {
    case KNIT_EVENT_STREAM_READABLE:
        if (b->phase == B_AWAIT_ANSWER || b->phase == B_AWAIT_OPEN)
            on_handshake_readable(b);
        else if (b->phase == B_BRIDGING)
            pump_stream(b);
        break;
    case KNIT_EVENT_STREAM_WRITABLE:
        if (b->phase == B_BRIDGING)
            push_to_stream(b);
        break;
    case KNIT_EVENT_STREAM_RESET:
        /* The peer gave up; the node resets our side by itself. */
        b->stream_live = false;
        fwd_bridge_close(b, true);
        break;
    case KNIT_EVENT_STREAM_CLOSED:
        /* Both directions are over; the socket closes once its own
         * shutdown is done (check_done). Before bridging it means the
         * peer finished without an answer. */
        b->stream_live = false;
        if (b->phase != B_BRIDGING)
            fwd_bridge_close(b, true);
        else
            check_done(b);
        break;
    case KNIT_EVENT_PEER_DOWN:
        b->stream_live = false;
        fwd_bridge_close(b, true);
        break;
    default:
        break;
    }
}

void fwd_bridge_check_deadline(struct bridge *b, uint64_t now)
{
    if (!b->deadline || now < b->deadline)
        return;
    char id[KNIT_PEER_ID_TEXT_MAX];
    peer_text(b, id, sizeof id);
    fwd_warn(b->f, "forward stream with %s: no %s in %llu s\n",
            id, b->outgoing ? "ANSWER" : "OPEN",
            (unsigned long long)(FWD_HANDSHAKE_US / 1000000));
    fwd_bridge_close(b, true);
}
