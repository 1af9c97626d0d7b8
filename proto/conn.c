/* The conn's packet engine: frames in, acknowledgements, loss recovery and
 * congestion control, timers. Packets out are built in conn_send.c,
 * streams are in conn_stream.c, what each sent packet carried in
 * conn_records.c. */
#include "proto/conn.h"

#include <stdlib.h>
#include <string.h>

#include "proto/conn_internal.h"
#include "transport/error.h"
#include "transport/io.h"


void knit_conn_config_default(struct knit_conn_config *cfg)
{
    cfg->max_payload = 1200 - CONN_PACKET_OVERHEAD;
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
    uint32_t mds = cfg->max_payload + CONN_PACKET_OVERHEAD;
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
           !conn_has_eliciting_work(c);
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
    if (conn_has_eliciting_work(c)) {
        const struct knit_cc *cc = knit_recovery_cc(c->recovery);
        uint32_t mds = c->cfg.max_payload + CONN_PACKET_OVERHEAD;
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
