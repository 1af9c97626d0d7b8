/* The send half of one reliable stream: the bytes the application wrote that
 * the peer has not yet acknowledged, and which of them are due (again).
 * Owned by the conn (proto/conn*.c), which takes chunks for STREAM frames,
 * and reports each chunk's acknowledgement or loss; pure data, no timers.
 *
 * Memory: bytes live in blocks of KNIT_STREAM_BLOCK bytes allocated as they
 * are written and freed as soon as every byte up to the block's end is
 * acknowledged, so an idle or small stream costs a block, not its capacity.
 * At most capacity bytes are buffered (written, not yet acknowledged from the
 * front); an acknowledged range in the middle waits for the front.
 *
 * Per byte: unsent (at or above max_sent_offset), in flight, lost (due for
 * retransmission), acknowledged. The conn reports acks and losses per chunk
 * it took, exactly as next() returned it (offset, length, fin). */
#ifndef KNIT_STREAM_SEND_H
#define KNIT_STREAM_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_STREAM_SEND_DEFAULT_CAPACITY (256 * 1024)
#define KNIT_STREAM_SEND_MAX_CAPACITY (1024 * 1024 * 1024)
/* Unit of allocation; a chunk from next() splits into two pieces only where
 * it crosses a multiple of this. */
#define KNIT_STREAM_BLOCK 4096
/* Largest stream offset the wire can carry (a QUIC varint). */
#define KNIT_STREAM_MAX_OFFSET ((UINT64_C(1) << 62) - 1)

struct knit_stream_send_block;

/* Fields are private: use the functions. */
struct knit_stream_send {
    struct knit_stream_send_block **slots;  /* block n lives in n % nslots */
    size_t nslots;
    size_t nblocks;        /* allocated */
    size_t capacity;
    uint64_t base;         /* every byte below is acked and released */
    uint64_t written;      /* end of what the application wrote */
    uint64_t sent;         /* end of what went out at least once */
    uint64_t lost_from;    /* no byte below is due for retransmission */
    uint64_t lost_bytes;   /* bytes due for retransmission */
    bool fin;              /* finish() called: written is the final size */
    bool fin_sent;
    bool fin_lost;         /* the last FIN sent was lost and not acked */
    bool fin_acked;
};

/* capacity 1..KNIT_STREAM_SEND_MAX_CAPACITY, else KNIT_E_INVAL /
 * KNIT_E_TOO_BIG; KNIT_E_NOMEM. Allocates no data block yet. */
int knit_stream_send_init(struct knit_stream_send *s, size_t capacity);
/* Frees every block; the struct is left zeroed (a second free is harmless). */
void knit_stream_send_free(struct knit_stream_send *s);

/* Copies as much of data as fits (min(len, space())) and returns how much;
 * 0 after finish(). It may return less than space() if a block cannot be
 * allocated. */
size_t knit_stream_send_write(struct knit_stream_send *s, const uint8_t *data,
                              size_t len);
/* The stream ends after the bytes written so far; later writes take nothing.
 * Calling it again is harmless (returns 0). */
int knit_stream_send_finish(struct knit_stream_send *s);

/* Whether next() with this flow limit (the peer's MAX_STREAM_DATA) and any
 * max_len > 0 returns a chunk: bytes due for retransmission, new bytes below
 * flow_limit, or a FIN not yet sent (or lost) once every byte has been sent. */
bool knit_stream_send_has_data(const struct knit_stream_send *s,
                               uint64_t flow_limit);

/* The next chunk, marked in flight: first the lowest range due for
 * retransmission, else new bytes from max_sent_offset() up to flow_limit,
 * else a bare FIN (length 0 at the final size). At most max_len bytes (less
 * when it would cross two block boundaries); max_len 0 yields only a bare
 * FIN. The bytes are returned in place as two pieces (*p2 is used when the
 * chunk crosses a block boundary; unused pieces are NULL with length 0),
 * valid until the next call that changes s. *fin is true when the chunk ends
 * at the final size. Returns 0, or KNIT_E_NOT_FOUND when nothing is due. */
int knit_stream_send_next(struct knit_stream_send *s, uint64_t flow_limit,
                          size_t max_len, uint64_t *offset,
                          const uint8_t **p1, size_t *len1,
                          const uint8_t **p2, size_t *len2, bool *fin);
/* next(), copied into buf (max_len = cap); *len is the chunk length. */
int knit_stream_send_next_copy(struct knit_stream_send *s, uint64_t flow_limit,
                               uint8_t *buf, size_t cap, uint64_t *offset,
                               size_t *len, bool *fin);

/* A chunk was acknowledged / declared lost. Parts never sent are ignored; a
 * lost byte that is already acknowledged stays acknowledged, the others become
 * due for retransmission; fin (the chunk ended the stream) acks or re-arms the
 * FIN. Acknowledgement frees blocks as soon as the front is acknowledged. */
void knit_stream_send_on_acked(struct knit_stream_send *s, uint64_t offset,
                               size_t len, bool fin);
void knit_stream_send_on_lost(struct knit_stream_send *s, uint64_t offset,
                              size_t len, bool fin);

/* finish() was called and every byte and the FIN are acknowledged. */
bool knit_stream_send_all_acked(const struct knit_stream_send *s);
/* Bytes written in total (after finish(), the final size). */
uint64_t knit_stream_send_written(const struct knit_stream_send *s);
/* How many bytes write() would take now: free capacity, 0 after finish(). */
size_t knit_stream_send_space(const struct knit_stream_send *s);
/* End of the bytes sent at least once: new data counts once towards
 * session-level flow control, so the conn adds how much this grew. */
uint64_t knit_stream_send_max_sent_offset(const struct knit_stream_send *s);
/* Bytes allocated for buffered data (whole blocks). */
size_t knit_stream_send_memory(const struct knit_stream_send *s);

#endif
