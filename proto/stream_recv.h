/* The receive half of one reliable stream: reassembles STREAM frame data
 * (any order, duplicated, overlapping) into the byte sequence the application
 * reads, enforces the stream's flow-control limit and final size, and says
 * when to grant more credit. Owned by the conn (proto/conn*.c); pure data.
 *
 * Memory: the peer may send only below the limit we advertised, which is at
 * most the read offset plus the window, so at most the window is buffered.
 * Bytes live in blocks of KNIT_STREAM_BLOCK allocated where data lands and
 * freed once read; a bitmap per block records which bytes arrived, so no
 * pattern of tiny out-of-order frames can make the bookkeeping grow. */
#ifndef KNIT_STREAM_RECV_H
#define KNIT_STREAM_RECV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stream_send.h"   /* KNIT_STREAM_BLOCK */

#define KNIT_STREAM_RECV_DEFAULT_WINDOW (256 * 1024)
#define KNIT_STREAM_RECV_MAX_WINDOW (1024 * 1024 * 1024)

struct knit_stream_recv_block;

/* Fields are private: use the functions. */
struct knit_stream_recv {
    struct knit_stream_recv_block **slots;  /* block n lives in n % nslots */
    size_t nslots;
    size_t nblocks;        /* allocated */
    size_t window;
    uint64_t read;         /* the application has read everything below */
    uint64_t highest;      /* end of the highest byte received */
    uint64_t limit;        /* the MAX_STREAM_DATA we advertised */
    uint64_t final_size;   /* valid when fin_known */
    bool fin_known;
    bool reset;
};

/* window 1..KNIT_STREAM_RECV_MAX_WINDOW (else KNIT_E_INVAL / KNIT_E_TOO_BIG)
 * is the buffer size and the initial limit (our initial MAX_STREAM_DATA);
 * KNIT_E_NOMEM. Allocates no data block yet. */
int knit_stream_recv_init(struct knit_stream_recv *r, size_t window);
/* Frees every block; the struct is left zeroed (a second free is harmless). */
void knit_stream_recv_free(struct knit_stream_recv *r);

/* One STREAM frame's data (data may be NULL when len is 0). Keeps the bytes
 * not yet read; *new_bytes is how far the highest received offset grew (the
 * conn's session-level flow-control count); it is 0 on error.
 *   KNIT_E_FINAL_SIZE    fin with a final size other than a known one, or
 *                        below bytes already received; data past a known
 *                        final size
 *   KNIT_E_FLOW_CONTROL  data past the advertised limit
 *   KNIT_E_NOMEM         (state unchanged; the frame may be processed again)
 *   KNIT_E_INVAL         data NULL with len > 0
 * After a reset the checks still apply but the bytes are dropped. */
int knit_stream_recv_on_data(struct knit_stream_recv *r, uint64_t offset,
                             const uint8_t *data, size_t len, bool fin,
                             uint64_t *new_bytes);
/* RESET_STREAM: the stream ends at final_size, buffered bytes are dropped and
 * read() returns nothing more. The same errors as on_data (KNIT_E_FINAL_SIZE,
 * KNIT_E_FLOW_CONTROL when final_size is past the limit). A repeated reset
 * with the same final size is accepted. The highest received offset becomes
 * final_size: the conn adds highest_offset() growth to its session count. */
int knit_stream_recv_on_reset(struct knit_stream_recv *r, uint64_t final_size);

/* Copies up to cap contiguous bytes from the read offset; returns how many. */
size_t knit_stream_recv_read(struct knit_stream_recv *r, uint8_t *out,
                             size_t cap);
/* read() would return at least one byte. */
bool knit_stream_recv_is_readable(const struct knit_stream_recv *r);
/* The FIN arrived and every byte before it was read (false after a reset). */
bool knit_stream_recv_at_end(const struct knit_stream_recv *r);
bool knit_stream_recv_is_reset(const struct knit_stream_recv *r);

/* True when the application has read enough (half the window) since the last
 * advertised limit that a MAX_STREAM_DATA is worth sending; *new_limit is the
 * value to send (read offset + window). False once the final size is known.
 * Tell window_sent() when the frame goes out; a lost frame is simply sent
 * again with limit(). */
bool knit_stream_recv_should_update_window(const struct knit_stream_recv *r,
                                           uint64_t *new_limit);
/* Raises the limit data is checked against; smaller values than the current
 * limit are ignored, larger ones are clamped to read offset + window. */
void knit_stream_recv_window_sent(struct knit_stream_recv *r, uint64_t limit);

/* The limit currently advertised. */
uint64_t knit_stream_recv_limit(const struct knit_stream_recv *r);
/* End of the highest byte received (the final size once reset). */
uint64_t knit_stream_recv_highest_offset(const struct knit_stream_recv *r);
/* Bytes read by the application so far. */
uint64_t knit_stream_recv_read_offset(const struct knit_stream_recv *r);
/* Bytes allocated for buffered data (whole blocks). */
size_t knit_stream_recv_memory(const struct knit_stream_recv *r);

#endif
