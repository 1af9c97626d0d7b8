/* The reliable connection inside a secure session: multiplexed streams with
 * flow control, acknowledgements, loss recovery and congestion control.
 *
 * A conn knows nothing of keys or addresses. The session (proto/session.c)
 * asks it for the plaintext of the next packet, whose packet number the conn
 * picks, encrypts it with that number as the AEAD counter and sends it; and
 * it hands the conn every authenticated packet it receives. Everything else
 * happens here: frames (proto/frame.h), ACK ranges (proto/ack_ranges.h),
 * RFC 9002 recovery (proto/recovery.h), stream buffers
 * (proto/stream_send.h, proto/stream_recv.h). A conn survives rekeys and path
 * changes: those are the session's business, and streams never notice them.
 *
 * Memory is bounded: receive buffers by the session-level window we grant
 * (MAX_DATA), send buffers by a per-stream capacity times the stream limit,
 * in-flight records by KNIT_CONN_MAX_TRACKED. */
#ifndef KNIT_CONN_H
#define KNIT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_CONN_PROTOCOL_MAX 64     /* bytes of a stream's protocol name */
#define KNIT_CONN_CLOSE_REASON_MAX 256

/* Error codes carried in RESET_STREAM, STOP_SENDING and CLOSE. */
enum knit_conn_error {
    KNIT_CONN_NO_ERROR = 0,
    KNIT_CONN_PROTOCOL_VIOLATION = 1,
    KNIT_CONN_FLOW_CONTROL = 2,
    KNIT_CONN_STREAM_LIMIT = 3,
    KNIT_CONN_UNKNOWN_PROTOCOL = 4,   /* stream protocol nobody serves */
    KNIT_CONN_REFUSED = 5,            /* not allowed for this peer */
    KNIT_CONN_CANCELLED = 6,          /* the application gave up */
    KNIT_CONN_IDLE = 7,               /* session expired */
    KNIT_CONN_SHUTDOWN = 8,           /* the node is stopping */
};

struct knit_conn_config {
    uint32_t max_payload;        /* plaintext bytes per packet */
    uint64_t max_data;           /* session-level receive window we grant */
    uint64_t stream_window;      /* per-stream receive window we grant */
    size_t stream_send_buffer;   /* bytes buffered per stream for sending */
    uint32_t max_streams;        /* streams the peer may have open at once */
    uint64_t max_ack_delay_us;   /* how long we may delay an ACK */
    /* A stream the peer may still send on, and nothing of ours awaiting
     * acknowledgement: after this long without new stream data either
     * way, one PING checks the path (conn_silence.c). 0: never. */
    uint64_t silence_probe_us;
};

/* Sensible defaults: 1200-byte packets, 16 MiB session window, 4 MiB per
 * stream, 1 MiB send buffer per stream, 128 streams, 25 ms ACK delay, a
 * silence probe after 1 s. */
void knit_conn_config_default(struct knit_conn_config *cfg);

/* Everything the conn reports; called synchronously from knit_conn_*. The
 * stream may be used (read, written, reset) from inside the callbacks. */
struct knit_conn_callbacks {
    void *ctx;
    /* The peer opened a stream and named its protocol. Not answering is
     * fine: a stream nobody reads is bounded by flow control. */
    void (*stream_opened)(void *ctx, uint64_t stream_id, const char *protocol);
    void (*stream_readable)(void *ctx, uint64_t stream_id);
    void (*stream_writable)(void *ctx, uint64_t stream_id);
    /* The peer reset its side; no more data will come. Like stream_closed,
     * only for our streams and those stream_opened announced: a peer
     * stream whose name never arrived passes unnoticed. */
    void (*stream_reset)(void *ctx, uint64_t stream_id, uint64_t error);
    /* Both directions are finished and acknowledged; the id is gone. */
    void (*stream_closed)(void *ctx, uint64_t stream_id);
    /* Path validation frames, for the session to answer or match. */
    void (*path_challenge)(void *ctx, const uint8_t data[8]);
    void (*path_response)(void *ctx, const uint8_t data[8]);
    /* The peer closed the connection. */
    void (*peer_closed)(void *ctx, uint64_t error, const char *reason);
};

struct knit_conn_stats {
    uint64_t packets_sent, packets_received, packets_lost;
    uint64_t bytes_sent, bytes_received;        /* plaintext packet bytes */
    uint64_t stream_bytes_sent, stream_bytes_received;
    uint64_t srtt_us, rttvar_us, min_rtt_us, cwnd, bytes_in_flight;
    uint32_t streams_open;
};

/* What the peer grants us, from its hello (proto/hello.h). */
struct knit_conn_peer_params {
    uint64_t max_data;
    uint64_t stream_window;
    uint32_t max_streams;
};

struct knit_conn;

/* lower_id: our peer ID is the lower of the two, so we open even streams. */
int knit_conn_new(struct knit_conn **out, const struct knit_conn_config *cfg,
                  const struct knit_conn_peer_params *peer, bool lower_id,
                  const struct knit_conn_callbacks *cb);
void knit_conn_free(struct knit_conn *conn);

/* An authenticated packet's plaintext. A negative return is a protocol
 * violation: the conn has queued a CLOSE and the session should end. */
int knit_conn_on_packet(struct knit_conn *conn, uint64_t pn,
                        const uint8_t *payload, size_t len, uint64_t now);

/* Builds the next packet if there is anything to send and congestion
 * control and pacing allow it: *len bytes of plaintext in out, to be sent
 * with packet number *pn. KNIT_E_AGAIN when there is nothing to send now
 * (knit_conn_next_deadline says when to try again). cap must be at least
 * max_payload. */
int knit_conn_build_packet(struct knit_conn *conn, uint64_t now, uint8_t *out,
                           size_t cap, size_t *len, uint64_t *pn);

/* A packet carrying only a PATH_CHALLENGE or PATH_RESPONSE (and PADDING to
 * full size, so the path is known to carry full packets), for the session
 * to send on one particular path. */
int knit_conn_build_path_packet(struct knit_conn *conn, uint64_t now,
                                bool response, const uint8_t data[8],
                                uint8_t *out, size_t cap, size_t *len,
                                uint64_t *pn);

/* Adds a PING to the next packet (keepalive, or to elicit an ACK). */
void knit_conn_ping(struct knit_conn *conn);

uint64_t knit_conn_next_deadline(const struct knit_conn *conn);
/* Probe timeouts in a row with nothing acknowledged (RFC 9002 pto_count):
 * how long the peer has been silent to what we sent. */
uint32_t knit_conn_pto_count(const struct knit_conn *conn);
void knit_conn_on_timeout(struct knit_conn *conn, uint64_t now);

/* The session moved its traffic to another path: congestion control,
 * the round-trip estimate and pacing start over (knit_recovery_new_path). */
void knit_conn_on_new_path(struct knit_conn *conn);

/* Streams. Ids are the conn's; errors: KNIT_E_NOT_FOUND for an unknown or
 * closed id, KNIT_E_TOO_BIG when the peer's stream limit is reached. */
int knit_conn_open_stream(struct knit_conn *conn, const char *protocol,
                          uint64_t *stream_id);
/* Buffers up to len bytes, *accepted tells how many (0 when the send
 * buffer is full: wait for stream_writable). */
int knit_conn_stream_write(struct knit_conn *conn, uint64_t stream_id,
                           const uint8_t *data, size_t len, size_t *accepted);
/* No more data from us on this stream (FIN after the buffered bytes). */
int knit_conn_stream_finish(struct knit_conn *conn, uint64_t stream_id);
/* Reads in-order bytes; *fin is true once everything up to the peer's FIN
 * has been read. */
int knit_conn_stream_read(struct knit_conn *conn, uint64_t stream_id,
                          uint8_t *buf, size_t cap, size_t *n, bool *fin);
/* Abandons both directions: RESET_STREAM and STOP_SENDING to the peer.
 * Reads and writes fail with KNIT_E_NOT_FOUND from then on, and what the
 * peer still sends is dropped but gives its session credit back; the id
 * stays taken until the peer's final size arrives (stream_closed). */
int knit_conn_stream_reset(struct knit_conn *conn, uint64_t stream_id,
                           uint64_t error);
/* A reset for a peer stream the application refused from inside
 * stream_opened (unknown protocol, no room): the conn then reports nothing
 * more of it, not even stream_closed, so the application never hears of a
 * stream it did not take. */
int knit_conn_stream_refuse(struct knit_conn *conn, uint64_t stream_id,
                            uint64_t error);
size_t knit_conn_stream_send_space(const struct knit_conn *conn,
                                   uint64_t stream_id);
/* Bytes written to the stream and not yet sent once: what waits behind
 * the congestion window and pacing (0 for an unknown stream). */
size_t knit_conn_stream_unsent(const struct knit_conn *conn,
                               uint64_t stream_id);

/* Queues a CLOSE frame; after it is sent, the conn sends nothing more. */
void knit_conn_close(struct knit_conn *conn, uint64_t error,
                     const char *reason);
bool knit_conn_is_closed(const struct knit_conn *conn);
/* True when nothing is in flight or buffered to send (for idle checks). */
bool knit_conn_is_idle(const struct knit_conn *conn);

void knit_conn_get_stats(const struct knit_conn *conn,
                         struct knit_conn_stats *out);

#endif
