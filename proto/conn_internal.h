/* Shared internals of proto/conn*.c; nothing outside the conn includes it. */
#ifndef KNIT_CONN_INTERNAL_H
#define KNIT_CONN_INTERNAL_H

#include "proto/ack_ranges.h"
#include "proto/conn.h"
#include "proto/frame.h"
#include "proto/pacer.h"
#include "proto/recovery.h"
#include "proto/stream_recv.h"
#include "proto/stream_send.h"

/* A stream's protocol header: one length byte, then the name. */
#define PROTOCOL_HEADER_MAX (1 + KNIT_CONN_PROTOCOL_MAX)

struct conn_stream {
    uint64_t id;
    bool local;                     /* we opened it */
    bool announced;                 /* incoming: stream_opened was called */
    char protocol[KNIT_CONN_PROTOCOL_MAX + 1];
    uint8_t header[PROTOCOL_HEADER_MAX];
    size_t header_len;              /* incoming header bytes read so far */
    struct knit_stream_send send;
    struct knit_stream_recv recv;
    uint64_t send_limit;            /* the peer's MAX_STREAM_DATA */
    uint64_t recv_consumed;         /* bytes the application has taken */
    bool send_done;                 /* all acked, or reset and acked */
    bool recv_done;                 /* FIN read, peer reset, or we gave up */
    /* We gave up reading (our reset, a bad protocol header): recv is freed
     * and what arrives is only checked against the limit we granted and
     * the final size, then counted as consumed for session-level credit.
     * Nothing is kept, or a peer could strand a window of bytes behind a
     * gap in every abandoned stream while its credit comes back. */
    bool recv_abandoned;
    uint64_t abandoned_limit;       /* our MAX_STREAM_DATA when abandoned */
    uint64_t abandoned_highest;     /* highest offset (the final size once
                                     * recv_final) */
    /* The peer's final size is known (FIN or RESET_STREAM). Until then an
     * abandoned stream stays in the table: only the final size tells how
     * much session credit the peer spent on it. */
    bool recv_final;
    bool reset_pending;             /* RESET_STREAM to send */
    bool reset_sent;
    bool stop_pending;              /* STOP_SENDING to send */
    uint64_t reset_error;
    bool max_stream_data_pending;
    bool was_writable_blocked;      /* report stream_writable when freed */
    bool check_after_recovery;      /* acked data: see conn_after_recovery */
};

/* What one sent packet carried, to act on its acknowledgement or loss. A
 * packet carries at most this many stream chunks and stream control
 * frames; the packer stops adding them when the record is full. */
#define RECORD_CHUNKS 6
#define RECORD_CONTROLS 4

struct sent_chunk {
    uint64_t stream_id;
    uint64_t offset;
    uint32_t len;
    bool fin;
};

enum record_control {
    CONTROL_MAX_STREAM_DATA = 1,
    CONTROL_RESET_STREAM = 2,
    CONTROL_STOP_SENDING = 3,
};

struct sent_record {
    uint64_t pn;
    bool used;
    uint8_t chunk_count;
    uint8_t control_count;
    bool max_data;
    bool max_streams;
    bool close;
    struct sent_chunk chunks[RECORD_CHUNKS];
    struct {
        uint8_t kind;
        uint64_t stream_id;
    } controls[RECORD_CONTROLS];
};

struct knit_conn {
    struct knit_conn_config cfg;
    struct knit_conn_callbacks cb;
    bool lower_id;

    /* streams */
    struct conn_stream **streams;
    size_t stream_count, stream_cap;
    uint64_t next_local_id;
    uint64_t next_peer_id;          /* peer streams below it were opened */
    uint64_t peer_max_streams;      /* how many we may open (cumulative) */
    uint64_t peer_stream_window;    /* initial MAX_STREAM_DATA of our streams */
    uint64_t local_opened;
    uint64_t max_streams_granted;   /* how many the peer may open */
    uint64_t max_streams_sent;      /* the most we told it (hello or frame) */
    uint64_t peer_streams_closed;
    bool max_streams_pending;
    size_t rr_next;                 /* round-robin position for sending */

    /* session-level flow control */
    uint64_t peer_max_data;         /* we may send up to this many new bytes */
    uint64_t sent_new_bytes;        /* stream bytes sent for the first time */
    uint64_t max_data_granted;
    uint64_t recv_new_bytes;        /* highest offsets received, summed */
    uint64_t recv_consumed;
    bool max_data_pending;

    /* packets */
    uint64_t next_pn;
    struct knit_ack_ranges received;
    bool ack_pending;               /* an ACK frame has news */
    uint32_t eliciting_unacked;     /* ack-eliciting packets since our ACK */
    uint64_t ack_deadline;
    uint64_t largest_received_time;
    /* A packet of ours that carried an ACK frame: once the peer
     * acknowledges it, it has seen that ACK, and numbers below the ACK's
     * largest need no acknowledging any more (RFC 9000 §13.2.4), so ACK
     * frames stay small after loss instead of carrying every old gap. */
    bool ack_watch;
    uint64_t ack_watch_pn, ack_watch_largest;
    struct knit_recovery *recovery;
    struct knit_pacer pacer;
    uint32_t probes_pending;
    bool ping_pending;
    /* the silence probe (conn_silence.c) */
    uint64_t activity_at;           /* new stream bytes last sent or came */
    bool has_activity;
    bool silence_probed;            /* the PING for this silence went */

    /* sent records: a ring indexed by pn, grown as packets fly and freed
     * when none is in use, so an idle conn (most of a DHT node's) keeps
     * none */
    struct sent_record *records;
    size_t record_cap;              /* a power of two */
    size_t records_used;

    /* closing */
    bool close_pending;
    bool closed;
    uint64_t close_error;
    char *close_reason;             /* NUL-terminated, set by close */

    struct knit_conn_stats stats;
};

/* conn_stream.c */
struct conn_stream *conn_find_stream(const struct knit_conn *c, uint64_t id);
int conn_peer_stream(struct knit_conn *c, uint64_t id,
                     struct conn_stream **out);
void conn_stream_maybe_close(struct knit_conn *c, struct conn_stream *s);
void conn_free_streams(struct knit_conn *c);
void conn_close_finished_streams(struct knit_conn *c);
void conn_maybe_grant_data(struct knit_conn *c);
int conn_on_stream_data(struct knit_conn *c, const struct knit_frame *f);
int conn_on_reset_stream(struct knit_conn *c, const struct knit_frame *f);
int conn_on_stop_sending(struct knit_conn *c, const struct knit_frame *f);
int conn_on_max_stream_data(struct knit_conn *c, const struct knit_frame *f);
void conn_deliver_readable(struct knit_conn *c, struct conn_stream *s);

/* conn_records.c */
int conn_records_reserve(struct knit_conn *c, uint64_t pn);
/* Done with r, a record of the ring or one outside it (a spare for a
 * packet that needed none); the ring may be freed. */
void conn_record_release(struct knit_conn *c, struct sent_record *r);
struct sent_record *conn_record(struct knit_conn *c, uint64_t pn);
void conn_on_packet_acked(struct knit_conn *c, uint64_t pn);
void conn_on_packet_lost(struct knit_conn *c, uint64_t pn);
void conn_after_recovery(struct knit_conn *c);

/* The bytes a packet costs on the wire beyond its plaintext: the 16-byte
 * data header and the 16-byte AEAD tag. Counted in congestion control so
 * that cwnd measures what the network carries. */
#define CONN_PACKET_OVERHEAD 32

/* conn_send.c: whether anything ack-eliciting waits to be sent (frames,
 * stream data, a PING or probes). */
bool conn_has_eliciting_work(const struct knit_conn *c);

/* conn_silence.c: new stream bytes moved at now (either way); when the
 * silence probe is due (KNIT_NO_DEADLINE: not armed); send it if due. */
void conn_silence_on_activity(struct knit_conn *c, uint64_t now);
uint64_t conn_silence_deadline(const struct knit_conn *c);
void conn_silence_on_timeout(struct knit_conn *c, uint64_t now);

#endif
