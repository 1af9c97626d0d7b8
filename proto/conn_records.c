/* What each sent packet carried, kept until it is acknowledged or lost, so
 * that an acknowledgement releases stream data and a loss queues the same
 * information again (with current values, for flow-control frames). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/conn_internal.h"
#include "transport/error.h"

#define RECORDS_INITIAL 8

struct sent_record *conn_record(struct knit_conn *c, uint64_t pn)
{
    if (!c->records)
        return NULL;
    struct sent_record *r = &c->records[pn & (c->record_cap - 1)];
    return (r->used && r->pn == pn) ? r : NULL;
}

/* Packets in flight span less than the ring's size; when a new number would
 * land on a slot still in use, the ring doubles (rehashing by pn). */
static int grow(struct knit_conn *c)
{
    size_t cap = c->record_cap ? c->record_cap * 2 : RECORDS_INITIAL;
    if (cap > KNIT_RECOVERY_MAX_TRACKED * 2)
        return KNIT_E_TOO_BIG;
    struct sent_record *records = calloc(cap, sizeof *records);
    if (!records)
        return KNIT_E_NOMEM;
    for (size_t i = 0; i < c->record_cap; i++) {
        if (c->records[i].used)
            records[c->records[i].pn & (cap - 1)] = c->records[i];
    }
    free(c->records);
    c->records = records;
    c->record_cap = cap;
    return KNIT_OK;
}

int conn_records_reserve(struct knit_conn *c, uint64_t pn)
{
    while (!c->records || c->records[pn & (c->record_cap - 1)].used) {
        int err = grow(c);
        if (err)
            return err;
    }
    struct sent_record *r = &c->records[pn & (c->record_cap - 1)];
    memset(r, 0, sizeof *r);
    r->used = true;
    r->pn = pn;
    c->records_used++;
    return KNIT_OK;
}

void conn_record_release(struct knit_conn *c, struct sent_record *r)
{
    uintptr_t at = (uintptr_t)r, ring = (uintptr_t)c->records;
    bool in_ring = c->records && at >= ring &&
                   at < ring + c->record_cap * sizeof *r;
    if (!r->used || !in_ring) {
        r->used = false;
        return;
    }
    r->used = false;
    if (--c->records_used == 0) {
        free(c->records);
        c->records = NULL;
        c->record_cap = 0;
    }
}

/* Runs inside recovery's callbacks, which must not re-enter recovery (an
 * application reacting to "writable" would send). So this only records
 * what happened; conn_after_recovery() tells the application. */
void conn_on_packet_acked(struct knit_conn *c, uint64_t pn)
{
    if (c->ack_watch && c->ack_watch_pn == pn) {
        knit_ack_ranges_remove_below(&c->received, c->ack_watch_largest);
        c->ack_watch = false;
    }
    struct sent_record *r = conn_record(c, pn);
    if (!r)
        return;
    for (uint8_t i = 0; i < r->chunk_count; i++) {
        struct conn_stream *s = conn_find_stream(c, r->chunks[i].stream_id);
        if (!s || s->reset_sent)
            continue;
        knit_stream_send_on_acked(&s->send, r->chunks[i].offset,
                                  r->chunks[i].len, r->chunks[i].fin);
        s->check_after_recovery = true;
    }
    for (uint8_t i = 0; i < r->control_count; i++) {
        if (r->controls[i].kind != CONTROL_RESET_STREAM)
            continue;
        struct conn_stream *s = conn_find_stream(c, r->controls[i].stream_id);
        if (s) {
            /* A reset stream's send side ends when the reset is acked. */
            s->send_done = true;
            s->check_after_recovery = true;
        }
    }
    conn_record_release(c, r);
}

void conn_after_recovery(struct knit_conn *c)
{
    for (size_t i = 0; i < c->stream_count;) {
        struct conn_stream *s = c->streams[i];
        size_t count = c->stream_count;
        uint64_t id = s->id;
        if (s->check_after_recovery) {
            s->check_after_recovery = false;
            if (!s->send_done && knit_stream_send_all_acked(&s->send))
                s->send_done = true;
            if (s->was_writable_blocked &&
                knit_stream_send_space(&s->send) > 0) {
                s->was_writable_blocked = false;
                if (c->cb.stream_writable)
                    c->cb.stream_writable(c->cb.ctx, id);
            }
            /* The callback may have changed the table. */
            s = conn_find_stream(c, id);
            if (s)
                conn_stream_maybe_close(c, s);
        }
        if (c->stream_count == count && i < c->stream_count &&
            c->streams[i]->id == id)
            i++;
        else
            i = 0;   /* the table changed under us: start over */
    }
}

void conn_on_packet_lost(struct knit_conn *c, uint64_t pn)
{
    if (c->ack_watch && c->ack_watch_pn == pn)
        c->ack_watch = false;   /* the next ACK we send is watched instead */
    struct sent_record *r = conn_record(c, pn);
    if (!r)
        return;
    c->stats.packets_lost++;
    for (uint8_t i = 0; i < r->chunk_count; i++) {
        struct conn_stream *s = conn_find_stream(c, r->chunks[i].stream_id);
        if (s && !s->reset_sent)
            knit_stream_send_on_lost(&s->send, r->chunks[i].offset,
                                     r->chunks[i].len, r->chunks[i].fin);
    }
    /* Flow-control frames are not resent as they were but queued again,
     * so the peer gets the current, larger value. */
    if (r->max_data)
        c->max_data_pending = true;
    if (r->max_streams)
        c->max_streams_pending = true;
    if (r->close && !c->closed)
        c->close_pending = true;
    for (uint8_t i = 0; i < r->control_count; i++) {
        struct conn_stream *s = conn_find_stream(c, r->controls[i].stream_id);
        if (!s)
            continue;
        switch (r->controls[i].kind) {
        case CONTROL_MAX_STREAM_DATA:
            if (!s->recv_done)
                s->max_stream_data_pending = true;
            break;
        case CONTROL_RESET_STREAM:
            if (!s->send_done)
                s->reset_pending = true;
            break;
        case CONTROL_STOP_SENDING:
            /* recv_done is set when STOP_SENDING is queued; it is needed
             * until the peer's final size shows it stopped. */
            if (!s->recv_final)
                s->stop_pending = true;
            break;
        }
    }
    conn_record_release(c, r);
}
