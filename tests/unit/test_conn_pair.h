/* Two conns wired back to back for the conn tests (test_conn*.c): what one
 * builds with knit_conn_build_packet the other receives with the same packet
 * number, over a virtual link with a fixed one-way delay that can drop,
 * hold back or duplicate packets, on a clock the test advances itself.
 * Every stream's bytes are a pattern of (stream id, offset), checked as they
 * are read. Header-only (static functions), included by each test file. */
#ifndef TEST_CONN_PAIR_H
#define TEST_CONN_PAIR_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/conn.h"
#include "proto/frame.h"
#include "transport/error.h"
#include "transport/io.h"

#define MS 1000ull
#define SECOND 1000000ull
#define DELAY (10 * MS)          /* one-way link delay */
#define MAX_EVENTS 64
#define MAX_QUEUE 4096
#define PKT_MAX 2048

struct rx_stream {
    uint64_t id;
    uint64_t read;               /* bytes read (the header excluded) */
    bool fin;
};

struct pair;

struct side {
    struct knit_conn *conn;
    struct pair *pair;
    /* called from stream_closed, after it is recorded */
    void (*on_closed)(struct side *s, uint64_t id);
    struct knit_conn_config cfg;
    const char *name;
    bool auto_read;              /* read every readable stream at once */
    bool refuse_streams;         /* reset every stream the peer opens */
    /* what the callbacks saw */
    uint64_t opened[MAX_EVENTS];
    char opened_proto[MAX_EVENTS][KNIT_CONN_PROTOCOL_MAX + 1];
    int n_opened;
    uint64_t reset_id[MAX_EVENTS], reset_code[MAX_EVENTS];
    int n_reset;
    uint64_t closed[MAX_EVENTS];
    int n_closed;
    int n_readable, n_writable;
    uint8_t challenge[8], response[8];
    int n_challenge, n_response;
    bool peer_closed;
    uint64_t peer_close_error;
    char peer_close_reason[KNIT_CONN_CLOSE_REASON_MAX + 1];
    struct rx_stream rx[MAX_EVENTS];
    int n_rx;
    /* frames this side sent, by type */
    int sent_frames[0x20];
    int ack_only_packets, packets;
    uint32_t last_ack_ranges;    /* in the last ACK frame sent */
    uint32_t max_ack_ranges;     /* in any ACK frame sent */
    int last_error;              /* of knit_conn_on_packet */
};

struct packet {
    uint8_t data[PKT_MAX];
    size_t len;
    uint64_t pn;
    uint64_t arrive;
    bool to_b;
};

struct pair {
    struct side a, b;            /* a has the lower peer ID */
    uint64_t now;
    struct packet *queue;        /* in flight, in no particular order */
    size_t queued;
    /* Link behaviour. drop_every counts the ack-eliciting packets of each
     * direction, drop_acks_every the ACK-only ones: a single count could
     * fall into step with "two probes, one ACK" after every probe timeout
     * and drop every ACK forever, which no real link does. */
    unsigned drop_every, drop_acks_every;
    unsigned sent_count[2][2];   /* [to_b][ack_only] */
    /* Seeded pseudo-random loss, for traffic whose own rhythm (streams
     * taking turns) a fixed period would fall into step with. */
    unsigned loss_percent;
    uint64_t rng;
    bool drop_all;
    bool drop_to_b, drop_to_a;
    bool duplicate;
};

static inline uint8_t pat(uint64_t id, uint64_t o)
{
    return (uint8_t)(o * 131 + (o >> 8) * 7 + id * 29 + 1);
}

static inline struct rx_stream *rx_find(struct side *s, uint64_t id)
{
    for (int i = 0; i < s->n_rx; i++)
        if (s->rx[i].id == id)
            return &s->rx[i];
    assert_true(s->n_rx < MAX_EVENTS);
    s->rx[s->n_rx] = (struct rx_stream){.id = id};
    return &s->rx[s->n_rx++];
}

/* Reads everything readable on id and checks it is the pattern, in order. */
static inline size_t read_all(struct side *s, uint64_t id)
{
    struct rx_stream *r = rx_find(s, id);
    uint8_t buf[3000];
    size_t total = 0;
    for (;;) {
        size_t n;
        bool fin;
        int err = knit_conn_stream_read(s->conn, id, buf, sizeof buf, &n,
                                        &fin);
        if (err)
            break;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(buf[i], pat(id, r->read + i));
        r->read += n;
        total += n;
        if (fin)
            r->fin = true;
        if (n == 0 || fin)
            break;
    }
    return total;
}

/* Writes the pattern from offset *written on, as much as the conn takes. */
static inline size_t write_some(struct side *s, uint64_t id, uint64_t *written,
                                size_t len)
{
    uint8_t buf[4096];
    size_t total = 0;
    while (len > 0) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(id, *written + i);
        size_t accepted;
        if (knit_conn_stream_write(s->conn, id, buf, n, &accepted) != KNIT_OK)
            break;
        *written += accepted;
        total += accepted;
        len -= accepted;
        if (accepted < n)
            break;
    }
    return total;
}

static inline void cb_opened(void *ctx, uint64_t id, const char *protocol)
{
    struct side *s = ctx;
    assert_true(s->n_opened < MAX_EVENTS);
    s->opened[s->n_opened] = id;
    snprintf(s->opened_proto[s->n_opened], sizeof s->opened_proto[0], "%s",
             protocol);
    s->n_opened++;
    if (s->refuse_streams)
        assert_int_equal(knit_conn_stream_reset(s->conn, id, 4), KNIT_OK);
    else if (s->auto_read)
        read_all(s, id);
}

static inline void cb_readable(void *ctx, uint64_t id)
{
    struct side *s = ctx;
    s->n_readable++;
    if (s->auto_read)
        read_all(s, id);
}

static inline void cb_writable(void *ctx, uint64_t id)
{
    (void)id;
    ((struct side *)ctx)->n_writable++;
}

static inline void cb_reset(void *ctx, uint64_t id, uint64_t code)
{
    struct side *s = ctx;
    assert_true(s->n_reset < MAX_EVENTS);
    s->reset_id[s->n_reset] = id;
    s->reset_code[s->n_reset] = code;
    s->n_reset++;
}

static inline void cb_closed(void *ctx, uint64_t id)
{
    struct side *s = ctx;
    assert_true(s->n_closed < MAX_EVENTS);
    s->closed[s->n_closed++] = id;
    if (s->on_closed)
        s->on_closed(s, id);
}

static inline void cb_challenge(void *ctx, const uint8_t data[8])
{
    struct side *s = ctx;
    memcpy(s->challenge, data, 8);
    s->n_challenge++;
}

static inline void cb_response(void *ctx, const uint8_t data[8])
{
    struct side *s = ctx;
    memcpy(s->response, data, 8);
    s->n_response++;
}

static inline void cb_peer_closed(void *ctx, uint64_t error, const char *reason)
{
    struct side *s = ctx;
    s->peer_closed = true;
    s->peer_close_error = error;
    snprintf(s->peer_close_reason, sizeof s->peer_close_reason, "%s", reason);
}

static inline void side_init(struct side *s, const char *name,
                             const struct knit_conn_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->auto_read = true;
    if (cfg)
        s->cfg = *cfg;
    else
        knit_conn_config_default(&s->cfg);
}

static inline void side_new_conn(struct side *s, const struct side *peer,
                                 bool lower)
{
    struct knit_conn_callbacks cb = {
        .ctx = s, .stream_opened = cb_opened, .stream_readable = cb_readable,
        .stream_writable = cb_writable, .stream_reset = cb_reset,
        .stream_closed = cb_closed, .path_challenge = cb_challenge,
        .path_response = cb_response, .peer_closed = cb_peer_closed,
    };
    struct knit_conn_peer_params pp = {
        .max_data = peer->cfg.max_data,
        .stream_window = peer->cfg.stream_window,
        .max_streams = peer->cfg.max_streams,
    };
    assert_int_equal(knit_conn_new(&s->conn, &s->cfg, &pp, lower, &cb),
                     KNIT_OK);
}

/* cfg_a / cfg_b may be NULL for the defaults; each side's peer parameters
 * are the other's configuration, as the hellos would carry them. */
static inline void pair_init(struct pair *p,
                             const struct knit_conn_config *cfg_a,
                             const struct knit_conn_config *cfg_b)
{
    memset(p, 0, sizeof *p);
    side_init(&p->a, "a", cfg_a);
    side_init(&p->b, "b", cfg_b);
    side_new_conn(&p->a, &p->b, true);
    side_new_conn(&p->b, &p->a, false);
    p->a.pair = p->b.pair = p;
    p->queue = calloc(MAX_QUEUE, sizeof *p->queue);
    assert_non_null(p->queue);
    p->now = 1 * SECOND;
    p->rng = 0x9e3779b97f4a7c15ull;
}

static inline void pair_free(struct pair *p)
{
    knit_conn_free(p->a.conn);
    knit_conn_free(p->b.conn);
    free(p->queue);
}

/* Tallies the frames of a packet a side sent. */
static inline void classify(struct side *s, const uint8_t *pkt, size_t len)
{
    bool ack_only = true;
    size_t off = 0;
    while (off < len) {
        struct knit_frame f;
        size_t used;
        assert_int_equal(knit_frame_decode(pkt + off, len - off, &f, &used),
                         KNIT_OK);
        if (f.type < 0x20)
            s->sent_frames[f.type]++;
        if (f.type == KNIT_FRAME_ACK) {
            s->last_ack_ranges = f.u.ack.count;
            if (f.u.ack.count > s->max_ack_ranges)
                s->max_ack_ranges = f.u.ack.count;
        }
        if (f.type != KNIT_FRAME_ACK && f.type != KNIT_FRAME_PADDING)
            ack_only = false;
        off += used;
    }
    s->packets++;
    if (ack_only)
        s->ack_only_packets++;
}

static inline int frames_sent(const struct side *s, uint8_t type)
{
    return s->sent_frames[type];
}

static inline void enqueue(struct pair *p, const struct packet *pk)
{
    assert_true(p->queued < MAX_QUEUE);
    p->queue[p->queued++] = *pk;
}

/* Builds one packet from side s at now; false when there is none. The
 * packet goes onto the link unless the link drops it. */
static inline bool send_one(struct pair *p, struct side *s)
{
    struct packet pk;
    int err = knit_conn_build_packet(s->conn, p->now, pk.data, sizeof pk.data,
                                     &pk.len, &pk.pn);
    if (err == KNIT_E_AGAIN)
        return false;
    assert_int_equal(err, KNIT_OK);
    assert_true(pk.len > 0 && pk.len <= s->cfg.max_payload);
    int ack_only = s->ack_only_packets;
    classify(s, pk.data, pk.len);
    ack_only = s->ack_only_packets != ack_only;
    pk.to_b = s == &p->a;
    pk.arrive = p->now + DELAY;
    unsigned count = ++p->sent_count[pk.to_b][ack_only];
    unsigned every = ack_only ? p->drop_acks_every : p->drop_every;
    bool drop = p->drop_all || (pk.to_b ? p->drop_to_b : p->drop_to_a) ||
                (every && count % every == 0);
    if (p->loss_percent) {
        p->rng ^= p->rng << 13;   /* xorshift64 */
        p->rng ^= p->rng >> 7;
        p->rng ^= p->rng << 17;
        drop |= p->rng % 100 < p->loss_percent;
    }
    if (!drop) {
        enqueue(p, &pk);
        if (p->duplicate) {
            pk.arrive += 1;
            enqueue(p, &pk);
        }
    }
    return true;
}

static inline int send_all(struct pair *p, struct side *s)
{
    int n = 0;
    while (send_one(p, s)) {
        n++;
        assert_true(n < 100000);
    }
    return n;
}

static inline struct side *dest(struct pair *p, const struct packet *pk)
{
    return pk->to_b ? &p->b : &p->a;
}

static inline void deliver(struct pair *p, const struct packet *pk)
{
    struct side *to = dest(p, pk);
    to->last_error = knit_conn_on_packet(to->conn, pk->pn, pk->data, pk->len,
                                         p->now);
}

/* Delivers every packet due by now, earliest first. */
static inline void deliver_due(struct pair *p)
{
    for (;;) {
        size_t best = p->queued;
        for (size_t i = 0; i < p->queued; i++)
            if (p->queue[i].arrive <= p->now &&
                (best == p->queued ||
                 p->queue[i].arrive < p->queue[best].arrive))
                best = i;
        if (best == p->queued)
            return;
        struct packet pk = p->queue[best];
        p->queue[best] = p->queue[--p->queued];
        deliver(p, &pk);
    }
}

static inline uint64_t min_u64(uint64_t x, uint64_t y)
{
    return x < y ? x : y;
}

static inline uint64_t next_event(const struct pair *p)
{
    uint64_t t = min_u64(knit_conn_next_deadline(p->a.conn),
                         knit_conn_next_deadline(p->b.conn));
    for (size_t i = 0; i < p->queued; i++)
        t = min_u64(t, p->queue[i].arrive);
    return t;
}

/* Runs the link and both conns until nothing is pending or until the clock
 * passes limit. A deadline that fires without letting the clock move on,
 * time after time, is a busy loop and fails the test. */
static inline void run_until(struct pair *p, uint64_t limit)
{
    int stuck = 0;
    for (;;) {
        send_all(p, &p->a);
        send_all(p, &p->b);
        uint64_t t = next_event(p);
        if (t == KNIT_NO_DEADLINE || t > limit)
            return;
        if (t <= p->now) {
            assert_true(++stuck < 1000);
        } else {
            stuck = 0;
            p->now = t;
        }
        deliver_due(p);
        knit_conn_on_timeout(p->a.conn, p->now);
        knit_conn_on_timeout(p->b.conn, p->now);
    }
}

static inline void run(struct pair *p)
{
    run_until(p, p->now + 600 * SECOND);
}

static inline uint32_t streams_open(const struct side *s)
{
    struct knit_conn_stats st;
    knit_conn_get_stats(s->conn, &st);
    return st.streams_open;
}

static inline struct knit_conn_stats stats(const struct side *s)
{
    struct knit_conn_stats st;
    knit_conn_get_stats(s->conn, &st);
    return st;
}

/* A packet of hand-made frames, as a misbehaving peer would send it. */
struct crafted {
    uint8_t buf[PKT_MAX];
    size_t len;
};

static inline void craft(struct crafted *c, const struct knit_frame *f)
{
    size_t n;
    assert_int_equal(knit_frame_encode(f, c->buf + c->len,
                                       sizeof c->buf - c->len, &n),
                     KNIT_OK);
    c->len += n;
}

static inline void craft_stream(struct crafted *c, uint64_t id, uint64_t offset,
                                const uint8_t *data, size_t len, bool fin)
{
    struct knit_frame f = {.type = KNIT_FRAME_STREAM};
    f.u.stream.stream_id = id;
    f.u.stream.offset = offset;
    f.u.stream.data = data;
    f.u.stream.len = len;
    f.u.stream.fin = fin;
    craft(c, &f);
}

#endif
