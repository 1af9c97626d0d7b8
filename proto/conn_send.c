/* Building the conn's packets: ACK frames, control frames, stream data
 * taking turns, and the records that say what each packet carried (for
 * conn_records.c to resend or release). The receiving side, recovery and
 * timers are conn.c's. */
#include "proto/conn.h"

#include <stdlib.h>
#include <string.h>

#include "proto/conn_internal.h"
#include "transport/error.h"
#include "transport/io.h"

/* Worst-case STREAM frame header: type, 8-byte id and offset, 2-byte len. */
#define STREAM_HEADER_MAX 19

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
    uint32_t mds = c->cfg.max_payload + CONN_PACKET_OVERHEAD;
    if (!knit_cc_can_send(cc, mds))
        return false;
    uint64_t srtt = knit_recovery_rtt(c->recovery)->smoothed;
    return knit_pacer_next_send_time(&c->pacer, now, cc->cwnd, srtt, mds) <=
           now;
}

bool conn_has_eliciting_work(const struct knit_conn *c)
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
        .size = (uint32_t)(pk->len + CONN_PACKET_OVERHEAD),
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
    bool eliciting = conn_has_eliciting_work(c) && may_send_eliciting(c, now);
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
        .size = c->cfg.max_payload + CONN_PACKET_OVERHEAD,
    };
    knit_recovery_on_packet_sent(c->recovery, &sp, now);
    c->stats.packets_sent++;
    c->stats.bytes_sent += c->cfg.max_payload;
    *len = c->cfg.max_payload;
    *pn = p;
    return KNIT_OK;
}
