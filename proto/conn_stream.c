/* The conn's streams: the table, opening (ours and the peer's), the protocol
 * header that names a stream, the peer's stream frames (data, resets, stops,
 * credit), session credit coming back, and the application-facing stream
 * calls. */
#include <stdlib.h>
#include <string.h>

#include "proto/conn_internal.h"
#include "transport/error.h"

struct conn_stream *conn_find_stream(const struct knit_conn *c, uint64_t id)
{
    for (size_t i = 0; i < c->stream_count; i++)
        if (c->streams[i]->id == id)
            return c->streams[i];
    return NULL;
}

static int add_stream(struct knit_conn *c, uint64_t id, bool local,
                      struct conn_stream **out)
{
    if (c->stream_count == c->stream_cap) {
        size_t cap = c->stream_cap ? c->stream_cap * 2 : 8;
        struct conn_stream **streams =
            realloc(c->streams, cap * sizeof *streams);
        if (!streams)
            return KNIT_E_NOMEM;
        c->streams = streams;
        c->stream_cap = cap;
    }
    struct conn_stream *s = calloc(1, sizeof *s);
    if (!s)
        return KNIT_E_NOMEM;
    if (knit_stream_send_init(&s->send, c->cfg.stream_send_buffer) != 0) {
        free(s);
        return KNIT_E_NOMEM;
    }
    if (knit_stream_recv_init(&s->recv, c->cfg.stream_window) != 0) {
        knit_stream_send_free(&s->send);
        free(s);
        return KNIT_E_NOMEM;
    }
    s->id = id;
    s->local = local;
    s->send_limit = c->peer_stream_window;
    c->streams[c->stream_count++] = s;
    c->stats.streams_open++;
    *out = s;
    return KNIT_OK;
}

static void remove_stream(struct knit_conn *c, struct conn_stream *s)
{
    for (size_t i = 0; i < c->stream_count; i++) {
        if (c->streams[i] == s) {
            c->streams[i] = c->streams[--c->stream_count];
            break;
        }
    }
    knit_stream_send_free(&s->send);
    knit_stream_recv_free(&s->recv);
    free(s);
    c->stats.streams_open--;
}

void conn_free_streams(struct knit_conn *c)
{
    while (c->stream_count)
        remove_stream(c, c->streams[0]);
    free(c->streams);
    c->streams = NULL;
    c->stream_cap = 0;
}

/* Stream credit goes back to the peer once it has used half of what it
 * was told it may open, as QUIC stacks do, rather than after every stream
 * that closes: a session that carries a few requests then needs no
 * MAX_STREAMS at all (one per closed stream was 16 % of the simulator's
 * packets, each also acknowledged). Checked as peer streams open and as
 * they close, so a peer that keeps many streams open still gets the
 * credit of those that closed. */
static void maybe_grant_streams(struct knit_conn *c)
{
    uint64_t opened = c->next_peer_id / 2;
    uint64_t left = c->max_streams_sent > opened ? c->max_streams_sent - opened
                                                 : 0;
    if (c->max_streams_granted > c->max_streams_sent &&
        left <= c->cfg.max_streams / 2)
        c->max_streams_pending = true;
}

/* A stream whose both directions are over leaves the table; a peer stream
 * that leaves makes room for another (MAX_STREAMS credit). */
void conn_stream_maybe_close(struct knit_conn *c, struct conn_stream *s)
{
    /* Frames still to send about it keep it in the table until they go. */
    if (!s->send_done || !s->recv_done || s->reset_pending || s->stop_pending)
        return;
    if (s->recv_abandoned && !s->recv_final)
        return;
    uint64_t id = s->id;
    /* The application never heard of a peer stream whose name did not
     * arrive, so it hears nothing of its end either. */
    bool announced = s->announced;
    if (!s->local) {
        c->peer_streams_closed++;
        c->max_streams_granted = c->peer_streams_closed + c->cfg.max_streams;
        maybe_grant_streams(c);
    }
    remove_stream(c, s);
    if (announced && c->cb.stream_closed)
        c->cb.stream_closed(c->cb.ctx, id);
}

/* Runs after a packet is complete, never while one is being packed: the
 * stream_closed callback may well make the application send. */
void conn_close_finished_streams(struct knit_conn *c)
{
    for (size_t i = 0; i < c->stream_count;) {
        struct conn_stream *s = c->streams[i];
        uint64_t id = s->id;
        size_t before = c->stream_count;
        conn_stream_maybe_close(c, s);
        if (c->stream_count == before && i < c->stream_count &&
            c->streams[i]->id == id)
            i++;
        else
            i = 0;   /* the table changed under us: start over */
    }
}

/* Session credit is granted again once half the window is consumed. */
void conn_maybe_grant_data(struct knit_conn *c)
{
    if (c->recv_consumed + c->cfg.max_data - c->max_data_granted >=
        c->cfg.max_data / 2) {
        c->max_data_granted = c->recv_consumed + c->cfg.max_data;
        c->max_data_pending = true;
    }
}

/* Bytes of a stream nobody will read (reset by either side) count as
 * consumed up to the highest offset the peer reached, so the session window
 * they took comes back. Gaps below that count too: the peer charged them
 * to its credit all the same. */
static void release_to(struct knit_conn *c, struct conn_stream *s,
                       uint64_t end)
{
    if (end <= s->recv_consumed)
        return;
    c->recv_consumed += end - s->recv_consumed;
    s->recv_consumed = end;
    conn_maybe_grant_data(c);
}

/* We stop reading: the buffer goes, its bytes' credit comes back, and only
 * what the checks need stays. */
static void abandon_recv(struct knit_conn *c, struct conn_stream *s)
{
    s->recv_abandoned = true;
    s->max_stream_data_pending = false;
    s->abandoned_limit = knit_stream_recv_limit(&s->recv);
    s->abandoned_highest = knit_stream_recv_highest_offset(&s->recv);
    knit_stream_recv_free(&s->recv);
    release_to(c, s, s->abandoned_highest);
}

/* Data (or, with fin, a final size from FIN or RESET_STREAM) for an
 * abandoned stream ending at end: the same checks knit_stream_recv makes,
 * the same session accounting, and nothing kept. */
static int abandoned_data(struct knit_conn *c, struct conn_stream *s,
                          uint64_t end, bool fin)
{
    if (end > s->abandoned_limit)
        return KNIT_E_FLOW_CONTROL;
    if (s->recv_final ? end > s->abandoned_highest ||
                            (fin && end != s->abandoned_highest)
                      : fin && end < s->abandoned_highest)
        return KNIT_E_FINAL_SIZE;
    if (end > s->abandoned_highest) {
        c->recv_new_bytes += end - s->abandoned_highest;
        c->stats.stream_bytes_received += end - s->abandoned_highest;
        s->abandoned_highest = end;
        if (c->recv_new_bytes > c->max_data_granted)
            return KNIT_E_FLOW_CONTROL;
        release_to(c, s, end);
    }
    if (fin)
        s->recv_final = true;
    conn_stream_maybe_close(c, s);
    return KNIT_OK;
}

static bool is_local_id(const struct knit_conn *c, uint64_t id)
{
    return (id & 1) == (c->lower_id ? 0u : 1u);
}

/* The peer's streams open implicitly in order: a frame for id N opens every
 * lower peer id not yet seen. An id below that which is not in the table
 * was closed; its late frames are ignored (*out = NULL, no error). */
int conn_peer_stream(struct knit_conn *c, uint64_t id,
                     struct conn_stream **out)
{
    *out = conn_find_stream(c, id);
    if (*out)
        return KNIT_OK;
    if (is_local_id(c, id))
        return id < c->next_local_id ? KNIT_OK : KNIT_E_MALFORMED;
    if (id < c->next_peer_id)
        return KNIT_OK;
    if (id / 2 >= c->max_streams_granted)
        return KNIT_E_TOO_BIG;
    while (c->next_peer_id <= id) {
        struct conn_stream *s;
        int err = add_stream(c, c->next_peer_id, false, &s);
        if (err)
            return err;
        c->next_peer_id += 2;
        *out = s;
    }
    maybe_grant_streams(c);
    return KNIT_OK;
}

/* Reads the "length, name" header of an incoming stream as its bytes come
 * in, and announces the stream once the name is complete. */
static int read_protocol_header(struct knit_conn *c, struct conn_stream *s)
{
    while (s->header_len < PROTOCOL_HEADER_MAX) {
        size_t want = s->header_len == 0 ? 1 : 1 + s->header[0] - s->header_len;
        if (s->header_len > 0 && s->header_len == 1u + s->header[0])
            break;
        size_t n = knit_stream_recv_read(&s->recv, s->header + s->header_len,
                                         want);
        if (n == 0)
            return KNIT_E_AGAIN;
        s->header_len += n;
        s->recv_consumed += n;
        c->recv_consumed += n;
        if (s->header_len == 1 &&
            (s->header[0] == 0 || s->header[0] > KNIT_CONN_PROTOCOL_MAX))
            return KNIT_E_MALFORMED;
    }
    /* A NUL would cut the name short: "/a\0b" must not pass as "/a". */
    if (memchr(s->header + 1, 0, s->header[0]))
        return KNIT_E_MALFORMED;
    memcpy(s->protocol, s->header + 1, s->header[0]);
    s->protocol[s->header[0]] = '\0';
    s->announced = true;
    if (c->cb.stream_opened)
        c->cb.stream_opened(c->cb.ctx, s->id, s->protocol);
    return KNIT_OK;
}

/* New bytes are readable: announce the stream first if it is the peer's and
 * its name has just completed, then tell the application. */
void conn_deliver_readable(struct knit_conn *c, struct conn_stream *s)
{
    uint64_t id = s->id;
    if (!s->local && !s->announced) {
        int err = read_protocol_header(c, s);
        if (err == KNIT_E_AGAIN)
            return;
        if (err) {
            knit_conn_stream_reset(c, id, KNIT_CONN_PROTOCOL_VIOLATION);
            return;
        }
        s = conn_find_stream(c, id);   /* the callback may have reset it */
        if (!s || s->recv_abandoned)
            return;
    }
    if ((knit_stream_recv_is_readable(&s->recv) ||
         knit_stream_recv_at_end(&s->recv)) && c->cb.stream_readable)
        c->cb.stream_readable(c->cb.ctx, id);
}

/* ---- the peer's stream frames -------------------------------------------- */

int conn_on_stream_data(struct knit_conn *c, const struct knit_frame *f)
{
    struct conn_stream *s;
    int err = conn_peer_stream(c, f->u.stream.stream_id, &s);
    if (err || !s)
        return err;
    if (s->recv_abandoned)
        return abandoned_data(c, s, f->u.stream.offset + f->u.stream.len,
                              f->u.stream.fin);
    /* Even a finished receive side checks the limits and the final size,
     * and counts the peer's bytes against the session window. */
    uint64_t new_bytes = 0;
    err = knit_stream_recv_on_data(&s->recv, f->u.stream.offset,
                                   f->u.stream.data, f->u.stream.len,
                                   f->u.stream.fin, &new_bytes);
    if (err)
        return err;
    c->recv_new_bytes += new_bytes;
    c->stats.stream_bytes_received += new_bytes;
    if (c->recv_new_bytes > c->max_data_granted)
        return KNIT_E_FLOW_CONTROL;
    if (f->u.stream.fin)
        s->recv_final = true;
    if (!s->recv_done)
        conn_deliver_readable(c, s);
    return KNIT_OK;
}

int conn_on_reset_stream(struct knit_conn *c, const struct knit_frame *f)
{
    struct conn_stream *s;
    int err = conn_peer_stream(c, f->u.reset.stream_id, &s);
    if (err || !s)
        return err;
    if (s->recv_abandoned)
        return abandoned_data(c, s, f->u.reset.final_size, true);
    /* The final size is what the peer charged to its session credit, read
     * or not: count it against the window, then give back what will never
     * be read. */
    uint64_t before = knit_stream_recv_highest_offset(&s->recv);
    err = knit_stream_recv_on_reset(&s->recv, f->u.reset.final_size);
    if (err)
        return err;
    c->recv_new_bytes += knit_stream_recv_highest_offset(&s->recv) - before;
    if (c->recv_new_bytes > c->max_data_granted)
        return KNIT_E_FLOW_CONTROL;
    s->recv_final = true;
    release_to(c, s, knit_stream_recv_highest_offset(&s->recv));
    if (s->recv_done) {
        /* We had read its FIN already. */
        conn_stream_maybe_close(c, s);
        return KNIT_OK;
    }
    s->recv_done = true;
    s->max_stream_data_pending = false;
    uint64_t id = s->id;
    if (s->announced && c->cb.stream_reset)
        c->cb.stream_reset(c->cb.ctx, id, f->u.reset.error_code);
    s = conn_find_stream(c, id);
    if (s) {
        /* Whatever we were sending is unwanted now too. */
        if (!s->send_done && !s->reset_sent) {
            s->reset_pending = true;
            s->reset_error = KNIT_CONN_CANCELLED;
        }
        conn_stream_maybe_close(c, s);
    }
    return KNIT_OK;
}

int conn_on_stop_sending(struct knit_conn *c, const struct knit_frame *f)
{
    struct conn_stream *s;
    int err = conn_peer_stream(c, f->u.stop.stream_id, &s);
    if (err || !s)
        return err;
    if (!s->send_done && !s->reset_sent) {
        s->reset_pending = true;
        s->reset_error = f->u.stop.error_code;
    }
    return KNIT_OK;
}

int conn_on_max_stream_data(struct knit_conn *c, const struct knit_frame *f)
{
    struct conn_stream *s;
    int err = conn_peer_stream(c, f->u.max_stream_data.stream_id, &s);
    if (err || !s)
        return err;
    if (f->u.max_stream_data.max > s->send_limit)
        s->send_limit = f->u.max_stream_data.max;
    return KNIT_OK;
}

/* ---- the application's side ------------------------------------------------ */

int knit_conn_open_stream(struct knit_conn *c, const char *protocol,
                          uint64_t *stream_id)
{
    size_t plen = strlen(protocol);
    if (plen == 0 || plen > KNIT_CONN_PROTOCOL_MAX)
        return KNIT_E_INVAL;
    if (c->closed || c->close_pending)
        return KNIT_E_INVAL;
    if (c->local_opened >= c->peer_max_streams)
        return KNIT_E_TOO_BIG;
    struct conn_stream *s;
    int err = add_stream(c, c->next_local_id, true, &s);
    if (err)
        return err;
    c->next_local_id += 2;
    c->local_opened++;
    s->announced = true;
    memcpy(s->protocol, protocol, plen + 1);
    /* The name travels as the stream's first bytes; the send buffer is far
     * larger than a header, so it always fits in a new stream. */
    uint8_t header[PROTOCOL_HEADER_MAX];
    header[0] = (uint8_t)plen;
    memcpy(header + 1, protocol, plen);
    knit_stream_send_write(&s->send, header, plen + 1);
    *stream_id = s->id;
    return KNIT_OK;
}

int knit_conn_stream_write(struct knit_conn *c, uint64_t stream_id,
                           const uint8_t *data, size_t len, size_t *accepted)
{
    *accepted = 0;
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s || s->reset_pending || s->reset_sent || s->send_done)
        return KNIT_E_NOT_FOUND;
    *accepted = knit_stream_send_write(&s->send, data, len);
    if (*accepted < len)
        s->was_writable_blocked = true;
    return KNIT_OK;
}

int knit_conn_stream_finish(struct knit_conn *c, uint64_t stream_id)
{
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s || s->reset_pending || s->reset_sent || s->send_done)
        return KNIT_E_NOT_FOUND;
    return knit_stream_send_finish(&s->send);
}

int knit_conn_stream_refuse(struct knit_conn *c, uint64_t stream_id,
                            uint64_t error)
{
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s)
        return KNIT_E_NOT_FOUND;
    s->announced = false;   /* no stream_closed for it, ever */
    return knit_conn_stream_reset(c, stream_id, error);
}

size_t knit_conn_stream_send_space(const struct knit_conn *c,
                                   uint64_t stream_id)
{
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s || s->reset_pending || s->reset_sent || s->send_done)
        return 0;
    return knit_stream_send_space(&s->send);
}

size_t knit_conn_stream_unsent(const struct knit_conn *c,
                               uint64_t stream_id)
{
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s)
        return 0;
    return (size_t)(knit_stream_send_written(&s->send) -
                    knit_stream_send_max_sent_offset(&s->send));
}

int knit_conn_stream_read(struct knit_conn *c, uint64_t stream_id,
                          uint8_t *buf, size_t cap, size_t *n, bool *fin)
{
    *n = 0;
    *fin = false;
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s || !s->announced || s->recv_abandoned)
        return KNIT_E_NOT_FOUND;
    *n = knit_stream_recv_read(&s->recv, buf, cap);
    s->recv_consumed += *n;
    c->recv_consumed += *n;
    uint64_t limit;
    if (knit_stream_recv_should_update_window(&s->recv, &limit))
        s->max_stream_data_pending = true;
    conn_maybe_grant_data(c);
    if (knit_stream_recv_at_end(&s->recv)) {
        *fin = true;
        if (!s->recv_done) {
            s->recv_done = true;
            conn_stream_maybe_close(c, s);
        }
    }
    return KNIT_OK;
}

int knit_conn_stream_reset(struct knit_conn *c, uint64_t stream_id,
                           uint64_t error)
{
    struct conn_stream *s = conn_find_stream(c, stream_id);
    if (!s)
        return KNIT_E_NOT_FOUND;
    if (!s->send_done && !s->reset_sent) {
        s->reset_pending = true;
        s->reset_error = error;
    }
    if (!s->recv_done) {
        s->stop_pending = true;
        s->reset_error = error;
        s->recv_done = true;
        abandon_recv(c, s);
    }
    conn_stream_maybe_close(c, s);
    return KNIT_OK;
}
