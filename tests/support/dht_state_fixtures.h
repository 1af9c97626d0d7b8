/* Helpers shared by the dht.state codec tests (test_dht_state.c,
 * test_dht_state_reject.c): a sink that logs what the reader delivers, a
 * filler for record bytes, and a file built frame by frame with the msg
 * writer (a header, peers with raw ID and address bytes, any frame).
 *
 * Header-only, all static inline: they call dht/ functions, and the support
 * library links knit_proto alone, so they cannot live in a support .c file.
 * Each test file gets its own copy of the buffers below. Include after
 * <cmocka.h>. */
#ifndef KNIT_TEST_DHT_STATE_FIXTURES_H
#define KNIT_TEST_DHT_STATE_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dht/state.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"

/* ---- a sink that logs --------------------------------------------------- */

struct item {
    bool is_peer;
    struct knit_dht_state_peer peer;
    const uint8_t *env;
    size_t len;
};

struct log {
    struct item it[16];
    size_t n;              /* items seen (only the first 16 kept) */
    size_t peers, records;
    size_t stop_at;        /* return stop_code for this item (1-based) */
    int stop_code;
};

static inline int log_item(struct log *lg, const struct item *it)
{
    if (lg->n < 16)
        lg->it[lg->n] = *it;
    lg->n++;
    return lg->n == lg->stop_at ? lg->stop_code : 0;
}

static inline int on_peer(void *ctx, const struct knit_dht_state_peer *p)
{
    struct log *lg = ctx;
    struct item it = {.is_peer = true, .peer = *p};
    lg->peers++;
    return log_item(lg, &it);
}

static inline int on_record(void *ctx, const uint8_t *env, size_t len)
{
    struct log *lg = ctx;
    struct item it = {.env = env, .len = len};
    lg->records++;
    return log_item(lg, &it);
}

static inline int read_log(const uint8_t *in, size_t len, struct log *lg,
                           uint64_t *saved_at, size_t *bad_offset)
{
    struct knit_dht_state_sink sink = {lg, on_peer, on_record};
    return knit_dht_state_read(in, len, &sink, saved_at, bad_offset);
}

/* ---- fixtures ----------------------------------------------------------- */

static uint8_t big_record[KNIT_RECORD_MAX_BYTES + 1];

static inline void fill_record(void)
{
    for (size_t i = 0; i < sizeof big_record; i++)
        big_record[i] = (uint8_t)(i * 7 + 1);
}

/* A file under construction: whole frames appended one after another. */
struct file {
    uint8_t b[16384];
    size_t n;
    size_t frames[8];      /* where each appended frame starts */
    size_t nframes;
};

static inline void file_add(struct file *f, struct knit_msg_writer *mw)
{
    size_t n;
    assert_int_equal(knit_msg_end(mw, &n), 0);
    assert_true(f->n + n <= sizeof f->b);
    if (f->nframes < 8)
        f->frames[f->nframes++] = f->n;
    memcpy(f->b + f->n, mw->buf, n);
    f->n += n;
}

/* A writer over one frame buffer, its message begun; the next begin()
 * reuses both. */
static uint8_t frame_buf[8192];

static inline struct knit_msg_writer *begin(uint64_t type, uint32_t fields)
{
    static struct knit_msg_writer mw;
    knit_msg_writer_init(&mw, frame_buf, sizeof frame_buf);
    assert_int_equal(knit_msg_begin(&mw, type, fields), 0);
    return &mw;
}

static inline void add_peer_raw(struct file *f, const void *id,
                                size_t id_len, const void *addr,
                                size_t addr_len)
{
    struct knit_msg_writer *mw = begin(KNIT_DHT_STATE_PEER, 3);
    knit_msg_put_bin(mw, 1, id, id_len);
    knit_msg_put_bin(mw, 2, addr, addr_len);
    knit_msg_put_uint(mw, 3, 99);
    file_add(f, mw);
}

static inline size_t ma_bytes(const char *text, uint8_t *out)
{
    struct knit_multiaddr ma;
    size_t n;
    assert_int_equal(knit_multiaddr_parse(&ma, text, strlen(text)), 0);
    assert_int_equal(knit_multiaddr_encode(&ma, out, KNIT_MA_BINARY_MAX, &n),
                     0);
    return n;
}

static const uint8_t good_id[KNIT_PEER_ID_BYTES] = {
    0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
};

#endif
