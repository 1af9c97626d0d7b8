/* The conn's packet engine: frames in, frames out, acknowledgements, loss
 * recovery and congestion control, timers. Streams are in conn_stream.c,
 * what each sent packet carried in conn_records.c. */
#include "proto/conn.h"

#include <stdlib.h>
#include <string.h>

#include "proto/conn_internal.h"
#include "transport/error.h"
#include "transport/io.h"

/* The bytes a packet costs on the wire beyond its plaintext: the 16-byte
 * data header and the 16-byte AEAD tag. Counted in congestion control so
 * that cwnd measures what the network carries. */
#define PACKET_OVERHEAD 32
/* Worst-case STREAM frame header: type, 8-byte id and offset, 2-byte len. */
#define STREAM_HEADER_MAX 19

void knit_conn_config_default(struct knit_conn_config *cfg)
{
    cfg->max_payload = 1200 - PACKET_OVERHEAD;
    cfg->max_data = 16u << 20;
    cfg->stream_window = 4u << 20;
    cfg->stream_send_buffer = 1u << 20;
    cfg->max_streams = 128;
    cfg->max_ack_delay_us = 25000;
    cfg->silence_probe_us = 1000000;
}

int knit_conn_new(struct knit_conn **out, const struct knit_conn_config *cfg,
                  const struct knit_conn_peer_params *peer, bool lower_id,
                  const struct knit_conn_callbacks *cb)
{
    if (!out || !cfg || !peer || !cb || cfg->max_payload < 64 ||
        !cfg->max_streams || !cfg->max_data || !cfg->stream_window ||
        cfg->stream_window > KNIT_STREAM_RECV_MAX_WINDOW ||
        !cfg->stream_send_buffer ||
        cfg->stream_send_buffer > KNIT_STREAM_SEND_MAX_CAPACITY)
        return KNIT_E_INVAL;
    struct knit_conn *c = calloc(1, sizeof *c);
    if (!c)
        return KNIT_E_NOMEM;
    c->cfg = *cfg;
    c->cb = *cb;
    c->lower_id = lower_id;
    c->next_local_id = lower_id ? 0 : 1;
    c->next_peer_id = lower_id ? 1 : 0;
    c->peer_max_streams = peer->max_streams;
    c->peer_stream_window = peer->stream_window;
    c->peer_max_data = peer->max_data;
    c->max_streams_granted = cfg->max_streams;
    c->max_streams_sent = cfg->max_streams;   /* in our hello */
    c->max_data_granted = cfg->max_data;
    c->ack_deadline = KNIT_NO_DEADLINE;
    uint32_t mds = cfg->max_payload + PACKET_OVERHEAD;
    int err = knit_recovery_new(&c->recovery, mds, cfg->max_ack_delay_us);
    if (err) {
        free(c);
        return err;
    }
    knit_pacer_init(&c->pacer, mds);
    *out = c;
    return KNIT_OK;
}

void knit_conn_free(struct knit_conn *c)
{
    if (!c)
        return;
    conn_free_streams(c);
    knit_recovery_free(c->recovery);
    knit_ack_ranges_free(&c->received);
    free(c->records);
    free(c->close_reason);
    free(c);
}

/* ---- receiving -------------------------------------------------------------- */

static void on_recovery_acked(void *ctx, const struct knit_sent_packet *p)
{
    conn_on_packet_acked(ctx, p->pn);
}

static void on_recovery_lost(void *ctx, const struct knit_sent_packet *p)
{
    conn_on_packet_lost(ctx, p->pn);
}

static const struct knit_recovery_callbacks recovery_cb_template = {
    .on_acked = on_recovery_acked,
    .on_lost = on_recovery_lost,
};

static int on_frame(struct knit_conn *c, const struct knit_frame *f,
                    uint64_t now)
{
    struct knit_recovery_callbacks rcb = recovery_cb_template;
    rcb.ctx = c;
    switch (f->type) {
    case KNIT_FRAME_PADDING:
    case KNIT_FRAME_PING:
        return KNIT_OK;
    case KNIT_FRAME_ACK: {
        int err = knit_recovery_on_ack_received(c->recovery, f->u.ack.ranges,
                                                f->u.ack.count,
                                                f->u.ack.ack_delay_us, now,
                                                &rcb);
        conn_after_recovery(c);
        return err;
    }
    case KNIT_FRAME_STREAM:
        return conn_on_stream_data(c, f);
    case KNIT_FRAME_RESET_STREAM:
        return conn_on_reset_stream(c, f);
    case KNIT_FRAME_STOP_SENDING:
        return conn_on_stop_sending(c, f);
    case KNIT_FRAME_MAX_DATA:
        if (f->u.max_data.max > c->peer_max_data)
            c->peer_max_data = f->u.max_data.max;
        return KNIT_OK;
    case KNIT_FRAME_MAX_STREAM_DATA:
        return conn_on_max_stream_data(c, f);
    case KNIT_FRAME_MAX_STREAMS:
        if (f->u.max_streams.max > c->peer_max_streams)
            c->peer_max_streams = f->u.max_streams.max;
        return KNIT_OK;
    case KNIT_FRAME_PATH_CHALLENGE:
        if (c->cb.path_challenge)
            c->cb.path_challenge(c->cb.ctx, f->u.path.data);
        return KNIT_OK;
    case KNIT_FRAME_PATH_RESPONSE:
        if (c->cb.path_response)
            c->cb.path_response(c->cb.ctx, f->u.path.data);
        return KNIT_OK;
    case KNIT_FRAME_CLOSE: {
        char reason[KNIT_CONN_CLOSE_REASON_MAX + 1];
        size_t n = f->u.close.reason_len;
        if (n > KNIT_CONN_CLOSE_REASON_MAX)
            n = KNIT_CONN_CLOSE_REASON_MAX;
        memcpy(reason, f->u.close.reason, n);
        reason[n] = '\0';
        c->closed = true;
        c->close_pending = false;
        if (c->cb.peer_closed)
            c->cb.peer_closed(c->cb.ctx, f->u.close.error_code, reason);
        return KNIT_OK;
    }
    }
    return KNIT_E_MALFORMED;
}

static uint64_t error_for(int err)
{
    switch (err) {
    case KNIT_E_FLOW_CONTROL:
        return KNIT_CONN_FLOW_CONTROL;
    case KNIT_E_TOO_BIG:
        return KNIT_CONN_STREAM_LIMIT;
    default:
        return KNIT_CONN_PROTOCOL_VIOLATION;
    }
}

int knit_conn_on_packet(struct knit_conn *c, uint64_t pn,
                        const uint8_t *payload, size_t len, uint64_t now)
{
    if (c->closed)
        return KNIT_OK;
    int fresh = knit_ack_ranges_add(&c->received, pn);
    if (fresh <= 0)
        return KNIT_OK;   /* a duplicate: its frames were handled once */
    c->stats.packets_received++;
    c->stats.bytes_received += len;
    if (pn == knit_ack_ranges_largest(&c->received))
        c->largest_received_time = now;
    bool eliciting = false;
    uint64_t new_before = c->recv_new_bytes;
    size_t off = 0;
    while (off < len) {
        struct knit_frame f;
        size_t used;
        int err = knit_frame_decode(payload + off, len - off, &f, &used);
        if (err == KNIT_OK) {
            eliciting |= knit_frame_is_ack_eliciting(f.type);
            err = on_frame(c, &f, now);
        }
        if (err) {
            knit_conn_close(c, error_for(err), knit_strerror(err));
            return err;
        }
        off += used;
        if (c->closed)
            return KNIT_OK;
    }
    if (c->recv_new_bytes != new_before)
        conn_silence_on_activity(c, now);
    c->ack_pending = true;
    if (eliciting) {
        /* ACK every second ack-eliciting packet at once, others within
         * max_ack_delay (RFC 9000 §13.2.2). */
        c->eliciting_unacked++;
        uint64_t due = c->eliciting_unacked >= 2
                           ? now
                           : now + c->cfg.max_ack_delay_us;
        if (due < c->ack_deadline)
            c->ack_deadline = due;
    }
    return KNIT_OK;
}

/* ---- sending ------------------------------------------------------------------ */

struct packer {
    uint8_t *out;
    size_t cap, len;
    bool eliciting;
    bool has_ack;
    uint64_t ack_largest;
    struct sent_record *record;
};

static bool put_frame(struct packer *pk, const struct knit_frame *f)
{
    size_t n;
    if (knit_frame_encode(f, pk->out + pk->len, pk->cap - pk->len, &n) != 0)
        return false;
    pk->len += n;
    pk->eliciting |= knit_frame_is_ack_eliciting(f->type);
    return true;
}

static bool record_control(struct packer *pk, uint8_t kind, uint64_t id)
{
    struct sent_record *r = pk->record;
    if (r->control_count == RECORD_CONTROLS)
        return false;
    r->controls[r->control_count].kind = kind;
    r->controls[r->control_count].stream_id = id;
    r->control_count++;
    return true;
}

static uint64_t session_credit(const struct knit_conn *c)
{
    return c->peer_max_data > c->sent_new_bytes
               ? c->peer_max_data - c->sent_new_bytes
               : 0;
}

/* How far a stream may send: its own limit, and no more new bytes than the
 * session-level credit allows. */
static uint64_t stream_flow_limit(const struct knit_conn *c,
                                  const struct conn_stream *s)
{
    uint64_t sent = knit_stream_send_max_sent_offset(&s->send);
    uint64_t by_session = sent + session_credit(c);
    return s->send_limit < by_session ? s->send_limit : by_session;
}

static bool stream_wants_to_send(const struct knit_conn *c,
                                 const struct conn_stream *s)
{
    return !s->reset_sent && !s->reset_pending && !s->send_done &&
           knit_stream_send_has_data(&s->send, stream_flow_limit(c, s));
}

static bool has_control_frames(const struct knit_conn *c)
{
    if (c->max_data_pending || c->max_streams_pending || c->ping_pending)
        return true;
    for (size_t i = 0; i < c->stream_count; i++) {
        const struct conn_stream *s = c->streams[i];
        if (s->reset_pending || s->stop_pending || s->max_stream_data_pending)
            return true;
    }
    return false;
}

static bool has_stream_data(const struct knit_conn *c)
{
    for (size_t i = 0; i < c->stream_count; i++)
        if (stream_wants_to_send(c, c->streams[i]))
            return true;
    return false;
}

static void pack_stream_controls(struct knit_conn *c, struct packer *pk)
{
    for (size_t i = 0; i < c->stream_count; i++) {
        struct conn_stream *s = c->streams[i];
        struct knit_frame f = {0};
        if (s->reset_pending &&
            record_control(pk, CONTROL_RESET_STREAM, s->id)) {
            f.type = KNIT_FRAME_RESET_STREAM;
            f.u.reset.stream_id = s->id;
            f.u.reset.error_code = s->reset_error;
            f.u.reset.final_size = knit_stream_send_max_sent_offset(&s->send);
            if (!put_frame(pk, &f)) {
                pk->record->control_count--;
                return;
            }
            s->reset_pending = false;
            s->reset_sent = true;
        }
        if (s->stop_pending && record_control(pk, CONTROL_STOP_SENDING, s->id)) {
            f.type = KNIT_FRAME_STOP_SENDING;
            f.u.stop.stream_id = s->id;
            f.u.stop.error_code = s->reset_error;
            if (!put_frame(pk, &f)) {
                pk->record->control_count--;
                return;
            }
            s->stop_pending = false;
        }
        if (s->max_stream_data_pending &&
            record_control(pk, CONTROL_MAX_STREAM_DATA, s->id)) {
            uint64_t limit = s->recv_consumed + c->cfg.stream_window;
            f.type = KNIT_FRAME_MAX_STREAM_DATA;
            f.u.max_stream_data.stream_id = s->id;
            f.u.max_stream_data.max = limit;
            if (!put_frame(pk, &f)) {
                pk->record->control_count--;
                return;
            }
            knit_stream_recv_window_sent(&s->recv, limit);
            s->max_stream_data_pending = false;
        }
    }
}

/* Streams take turns, so one busy stream cannot starve the others. */
static void pack_stream_data(struct knit_conn *c, struct packer *pk)
{
    uint8_t scratch[2048];
    size_t n = c->stream_count;
    for (size_t k = 0; k < n && pk->record->chunk_count < RECORD_CHUNKS; k++) {
        if (pk->cap - pk->len <= STREAM_HEADER_MAX + 1)
            return;
        struct conn_stream *s = c->streams[(c->rr_next + k) % n];
        if (!stream_wants_to_send(c, s))
            continue;
        uint64_t before = knit_stream_send_max_sent_offset(&s->send);
        size_t max_len = pk->cap - pk->len - STREAM_HEADER_MAX;
        if (max_len > sizeof scratch)
            max_len = sizeof scratch;
        uint64_t offset;
        const uint8_t *p1, *p2;
        size_t len1, len2;
        bool fin;
        if (knit_stream_send_next(&s->send, stream_flow_limit(c, s), max_len,
                                  &offset, &p1, &len1, &p2, &len2, &fin) != 0)
            continue;
        const uint8_t *data = p1;
        if (len2) {
            memcpy(scratch, p1, len1);
            memcpy(scratch + len1, p2, len2);
            data = scratch;
        }
        size_t taken, used;
        if (knit_frame_encode_stream_fit(s->id, offset, data, len1 + len2, fin,
                                         pk->out + pk->len, pk->cap - pk->len,
                                         &taken, &used) != 0)
            return;   /* cannot happen: max_len left room for the header */
        pk->len += used;
        pk->eliciting = true;
        struct sent_chunk *ch = &pk->record->chunks[pk->record->chunk_count++];
        ch->stream_id = s->id;
        ch->offset = offset;
        ch->len = (uint32_t)(len1 + len2);
        ch->fin = fin;
        uint64_t after = knit_stream_send_max_sent_offset(&s->send);
        c->sent_new_bytes += after - before;
        c->stats.stream_bytes_sent += after - before;
        c->rr_next = (c->rr_next + k + 1) % n;
    }
}

static void pack_eliciting(struct knit_conn *c, struct packer *pk)
{
    struct knit_frame f = {0};
    if (c->close_pending) {
        f.type = KNIT_FRAME_CLOSE;
        f.u.close.error_code = c->close_error;
        const char *reason = c->close_reason ? c->close_reason : "";
        f.u.close.reason = (const uint8_t *)reason;
        f.u.close.reason_len = strlen(reason);
        if (put_frame(pk, &f)) {
            pk->record->close = true;
            c->close_pending = false;
            c->closed = true;
        }
        return;   /* a closing conn sends nothing else */
    }
    if (c->max_data_pending) {
        f.type = KNIT_FRAME_MAX_DATA;
        f.u.max_data.max = c->max_data_granted;
        if (put_frame(pk, &f)) {
            pk->record->max_data = true;
            c->max_data_pending = false;
        }
    }
    if (c->max_streams_pending) {
        f.type = KNIT_FRAME_MAX_STREAMS;
        f.u.max_streams.max = c->max_streams_granted;
        if (put_frame(pk, &f)) {
            c->max_streams_sent = c->max_streams_granted;
            pk->record->max_streams = true;
            c->max_streams_pending = false;
        }
    }
    pack_stream_controls(c, pk);
    pack_stream_data(c, pk);
    if (c->ping_pending || (c->probes_pending && !pk->eliciting)) {
        f.type = KNIT_FRAME_PING;
        if (put_frame(pk, &f))
            c->ping_pending = false;
    }
}

static void pack_ack(struct knit_conn *c, struct packer *pk, uint64_t now)
{
    struct knit_frame f;
    uint64_t delay = now > c->largest_received_time
                         ? now - c->largest_received_time
                         : 0;
    knit_ack_ranges_to_frame(&c->received, delay, &f);
    if (f.u.ack.count == 0)
        return;
    /* In a small packet the oldest ranges give way: an ACK that never fits
     * would stay due forever. */
    while (!put_frame(pk, &f)) {
        if (f.u.ack.count == 1)
            return;
        f.u.ack.count--;
    }
    pk->has_ack = true;
    pk->ack_largest = f.u.ack.ranges[0].hi;
    c->ack_pending = false;
    c->eliciting_unacked = 0;
    c->ack_deadline = KNIT_NO_DEADLINE;
}

static bool may_send_eliciting(const struct knit_conn *c, uint64_t now)
{
    /* Probes go out regardless of cwnd and pacing, and so does a CLOSE:
     * nothing will follow it to wait for. */
    if (c->probes_pending || c->close_pending)
        return true;
    if (!knit_recovery_can_track(c->recovery))
        return false;   /* acks will free room */
    const struct knit_cc *cc = knit_recovery_cc(c->recovery);
    uint32_t mds = c->cfg.max_payload + PACKET_OVERHEAD;
    if (!knit_cc_can_send(cc, mds))
        return false;
    uint64_t srtt = knit_recovery_rtt(c->recovery)->smoothed;
    return knit_pacer_next_send_time(&c->pacer, now, cc->cwnd, srtt, mds) <=
           now;
}

static bool has_eliciting_work(const struct knit_conn *c)
{
    return c->close_pending || c->probes_pending || has_control_frames(c) ||
           has_stream_data(c);
}

static int finish_packet(struct knit_conn *c, struct packer *pk,
                         uint64_t now, size_t *len, uint64_t *pn)
{
    uint64_t p = c->next_pn++;
    struct knit_sent_packet sp = {
        .pn = p,
        .time_sent = now,
        .size = (uint32_t)(pk->len + PACKET_OVERHEAD),
        .ack_eliciting = pk->eliciting,
        .in_flight = pk->eliciting,
    };
    /* Recovery keeps an ACK-only packet only while it has room; one it
     * drops is never reported acked or lost, so it cannot be watched. */
    bool tracked = pk->eliciting || knit_recovery_can_track(c->recovery);
    if (knit_recovery_on_packet_sent(c->recovery, &sp, now) != KNIT_OK) {
        /* The table is full, probe reserve included (PTO after PTO). Not
         * recorded means not sent: the peer's ACK of a number recovery
         * never saw would read as a violation. What it carried is due
         * again, and the probes wait for ACKs to free room. */
        if (pk->eliciting)
            conn_on_packet_lost(c, p);   /* releases its record */
        else
            conn_record_release(c, pk->record);
        c->probes_pending = 0;
        if (pk->has_ack) {
            c->ack_pending = true;
            c->ack_deadline = now;
        }
        return KNIT_E_AGAIN;
    }
    if (pk->has_ack && tracked && !c->ack_watch) {
        c->ack_watch = true;
        c->ack_watch_pn = p;
        c->ack_watch_largest = pk->ack_largest;
    }
    if (pk->eliciting) {
        const struct knit_cc *cc = knit_recovery_cc(c->recovery);
        knit_pacer_on_sent(&c->pacer, now, cc->cwnd,
                           knit_recovery_rtt(c->recovery)->smoothed, sp.size);
        if (c->probes_pending)
            c->probes_pending--;
    } else {
        /* nothing to act on when acked or lost */
        conn_record_release(c, pk->record);
    }
    c->stats.packets_sent++;
    c->stats.bytes_sent += pk->len;
    *len = pk->len;
    *pn = p;
    return KNIT_OK;
}

int knit_conn_build_packet(struct knit_conn *c, uint64_t now, uint8_t *out,
                           size_t cap, size_t *len, uint64_t *pn)
{
    *len = 0;
    if (c->closed || cap < c->cfg.max_payload)
        return c->closed ? KNIT_E_AGAIN : KNIT_E_NO_SPACE;
    bool ack_due = c->ack_pending && c->ack_deadline <= now;
    bool eliciting = has_eliciting_work(c) && may_send_eliciting(c, now);
    /* An ACK-only packet needs no record of its contents. */
    struct sent_record spare = {0};
    struct packer pk = {.out = out, .cap = c->cfg.max_payload,
                        .record = &spare};
    if (eliciting) {
        if (conn_records_reserve(c, c->next_pn) == KNIT_OK)
            pk.record = conn_record(c, c->next_pn);
        else if (!c->close_pending)   /* a CLOSE alone needs no record */
            eliciting = false;
    }
    if (!ack_due && !eliciting)
        return KNIT_E_AGAIN;
    if (c->ack_pending)
        pack_ack(c, &pk, now);
    uint64_t sent_before = c->sent_new_bytes;
    if (eliciting)
        pack_eliciting(c, &pk);
    if (c->sent_new_bytes != sent_before)
        conn_silence_on_activity(c, now);
    if (pk.len == 0) {
        conn_record_release(c, pk.record);
        return KNIT_E_AGAIN;
    }
    int err = finish_packet(c, &pk, now, len, pn);
    /* Streams whose last frames just left may be complete now; only now,
     * with the packet accounted for, may callbacks run. */
    conn_close_finished_streams(c);
    return err;
}

int knit_conn_build_path_packet(struct knit_conn *c, uint64_t now,
                                bool response, const uint8_t data[8],
                                uint8_t *out, size_t cap, size_t *len,
                                uint64_t *pn)
{
    *len = 0;
    if (c->closed)
        return KNIT_E_AGAIN;
    if (cap < c->cfg.max_payload)
        return KNIT_E_NO_SPACE;
    if (!knit_recovery_can_track(c->recovery))
        return KNIT_E_AGAIN;
    struct knit_frame f = {.type = response ? KNIT_FRAME_PATH_RESPONSE
                                            : KNIT_FRAME_PATH_CHALLENGE};
    memcpy(f.u.path.data, data, 8);
    size_t n;
    int err = knit_frame_encode(&f, out, cap, &n);
    if (err)
        return err;
    /* Padding to full size shows the path carries full-size packets. */
    memset(out + n, 0, c->cfg.max_payload - n);
    /* Not in flight: a probe lost on a path that does not work says
     * nothing about congestion on the one that does. */
    uint64_t p = c->next_pn++;
    struct knit_sent_packet sp = {
        .pn = p, .time_sent = now,
        .size = c->cfg.max_payload + PACKET_OVERHEAD,
    };
    knit_recovery_on_packet_sent(c->recovery, &sp, now);
    c->stats.packets_sent++;
    c->stats.bytes_sent += c->cfg.max_payload;
    *len = c->cfg.max_payload;
    *pn = p;
    return KNIT_OK;
}

uint32_t knit_conn_pto_count(const struct knit_conn *c)
{
    return knit_recovery_pto_count(c->recovery);
}

void knit_conn_ping(struct knit_conn *c)
{
    c->ping_pending = true;
}

void knit_conn_close(struct knit_conn *c, uint64_t error, const char *reason)
{
    if (c->closed || c->close_pending)
        return;
    c->close_pending = true;
    c->close_error = error;
    size_t n = reason ? strlen(reason) : 0;
    if (n > KNIT_CONN_CLOSE_REASON_MAX)
        n = KNIT_CONN_CLOSE_REASON_MAX;
    /* Held only by conns that close, not by every conn; without memory
     * the CLOSE goes out with no reason, which is only text. */
    free(c->close_reason);
    c->close_reason = malloc(n + 1);
    if (c->close_reason) {
        memcpy(c->close_reason, reason ? reason : "", n);
        c->close_reason[n] = '\0';
    }
}

void knit_conn_on_new_path(struct knit_conn *c)
{
    knit_recovery_new_path(c->recovery);
    knit_pacer_init(&c->pacer, knit_recovery_cc(c->recovery)->mds);
}

bool knit_conn_is_closed(const struct knit_conn *c)
{
    return c->closed;
}

bool knit_conn_is_idle(const struct knit_conn *c)
{
    /* A pending ACK with no deadline only acknowledges ACKs: it rides on
     * the next packet if there is one, and is no reason to send. */
    bool ack_due = c->ack_pending && c->ack_deadline != KNIT_NO_DEADLINE;
    return knit_recovery_bytes_in_flight(c->recovery) == 0 && !ack_due &&
           !has_eliciting_work(c);
}

/* ---- timers ------------------------------------------------------------------- */

uint64_t knit_conn_next_deadline(const struct knit_conn *c)
{
    if (c->closed)
        return KNIT_NO_DEADLINE;
    uint64_t next = c->ack_pending ? c->ack_deadline : KNIT_NO_DEADLINE;
    uint64_t t = knit_recovery_timer(c->recovery);
    if (t < next)
        next = t;
    t = conn_silence_deadline(c);
    if (t < next)
        next = t;
    if (c->close_pending)
        return 0;   /* due now, whatever cwnd and pacing say */
    if (has_eliciting_work(c)) {
        const struct knit_cc *cc = knit_recovery_cc(c->recovery);
        uint32_t mds = c->cfg.max_payload + PACKET_OVERHEAD;
        /* Blocked by cwnd or a full packet table: an ACK (a packet event)
         * will unblock, no timer; one would only spin. */
        if (c->probes_pending ||
            (knit_cc_can_send(cc, mds) &&
             knit_recovery_can_track(c->recovery))) {
            t = knit_pacer_next_send_time(
                &c->pacer, 0, cc->cwnd,
                knit_recovery_rtt(c->recovery)->smoothed, mds);
            if (t < next)
                next = t;
        }
    }
    return next;
}

void knit_conn_on_timeout(struct knit_conn *c, uint64_t now)
{
    if (c->closed)
        return;
    conn_silence_on_timeout(c, now);
    if (now < knit_recovery_timer(c->recovery))
        return;
    struct knit_recovery_callbacks rcb = recovery_cb_template;
    rcb.ctx = c;
    uint32_t probes = 0;
    knit_recovery_on_timeout(c->recovery, now, &rcb, &probes);
    c->probes_pending += probes;
    conn_after_recovery(c);
}

void knit_conn_get_stats(const struct knit_conn *c,
                         struct knit_conn_stats *out)
{
    *out = c->stats;
    const struct knit_rtt *rtt = knit_recovery_rtt(c->recovery);
    out->srtt_us = rtt->smoothed;
    out->rttvar_us = rtt->var;
    out->min_rtt_us = rtt->min;
    out->cwnd = knit_recovery_cc(c->recovery)->cwnd;
    out->bytes_in_flight = knit_recovery_bytes_in_flight(c->recovery);
}
