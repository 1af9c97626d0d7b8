/* Fuzzes the conn (proto/conn.h) with the plaintext of authenticated
 * packets, as a peer that holds the keys could send them. The input is a
 * run of packets, each
 *
 *   pn step (1 byte, added to the last packet number), length (2 bytes,
 *   little-endian, cut to what is left), payload
 *
 * and the first byte also picks which side of the ID order the conn is on.
 * An application reads every stream it is told of, echoes a little, and
 * finishes or resets now and then; after each packet the conn builds what
 * it has to send (bounded) and its timers run. Every packet it builds must
 * be within max_payload and hold only well-formed frames; the conn must
 * never crash, leak or loop. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/conn.h"
#include "proto/frame.h"
#include "transport/error.h"
#include "transport/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

struct app {
    struct knit_conn *conn;
    unsigned events;
};

static void app_read(struct app *a, uint64_t id)
{
    uint8_t buf[512];
    size_t n, accepted;
    bool fin;
    if (knit_conn_stream_read(a->conn, id, buf, sizeof buf, &n, &fin) !=
        KNIT_OK)
        return;
    if (n)
        knit_conn_stream_write(a->conn, id, buf, n < 64 ? n : 64, &accepted);
    if (fin)
        knit_conn_stream_finish(a->conn, id);
    else if (n && buf[0] == 0xee)
        knit_conn_stream_reset(a->conn, id, buf[0]);
}

static void on_opened(void *ctx, uint64_t id, const char *protocol)
{
    struct app *a = ctx;
    a->events++;
    CHECK(protocol[0] != '\0' && strlen(protocol) <= KNIT_CONN_PROTOCOL_MAX);
    app_read(a, id);
}

static void on_readable(void *ctx, uint64_t id)
{
    struct app *a = ctx;
    a->events++;
    app_read(a, id);
}

static void on_writable(void *ctx, uint64_t id)
{
    (void)id;
    ((struct app *)ctx)->events++;
}

static void on_reset(void *ctx, uint64_t id, uint64_t error)
{
    struct app *a = ctx;
    a->events++;
    knit_conn_stream_reset(a->conn, id, error);
}

static void on_closed(void *ctx, uint64_t id)
{
    struct app *a = ctx;
    a->events++;
    /* a closed id is gone */
    size_t n;
    CHECK(knit_conn_stream_write(a->conn, id, (const uint8_t *)"x", 1, &n) ==
          KNIT_E_NOT_FOUND);
}

static void on_path(void *ctx, const uint8_t d[8])
{
    (void)d;
    ((struct app *)ctx)->events++;
}

static void on_peer_closed(void *ctx, uint64_t error, const char *reason)
{
    (void)error;
    CHECK(strlen(reason) <= KNIT_CONN_CLOSE_REASON_MAX);
    ((struct app *)ctx)->events++;
}

static void check_packet(const uint8_t *p, size_t len, size_t max)
{
    CHECK(len > 0 && len <= max);
    size_t off = 0;
    while (off < len) {
        struct knit_frame f;
        size_t used;
        CHECK(knit_frame_decode(p + off, len - off, &f, &used) == KNIT_OK);
        off += used;
    }
}

/* Sends what the conn has, then lets its timers fire once. */
static void drain(struct knit_conn *c, uint64_t *now, size_t max)
{
    uint8_t out[1500];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 64; i++) {
            size_t len;
            uint64_t pn;
            int err = knit_conn_build_packet(c, *now, out, sizeof out, &len,
                                             &pn);
            if (err == KNIT_E_AGAIN)
                break;
            CHECK(err == KNIT_OK);
            check_packet(out, len, max);
        }
        uint64_t t = knit_conn_next_deadline(c);
        if (t == KNIT_NO_DEADLINE)
            return;
        if (t > *now)
            *now = t;
        knit_conn_on_timeout(c, *now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct knit_conn_config cfg;
    knit_conn_config_default(&cfg);
    /* windows and limits small enough for an input to reach them, and to
     * earn new credit by being read */
    cfg.max_data = 1024;
    cfg.stream_window = 512;
    cfg.stream_send_buffer = 4096;
    cfg.max_streams = 8;
    struct knit_conn_peer_params peer = {
        .max_data = 1024, .stream_window = 512, .max_streams = 8,
    };
    struct app a = {0};
    struct knit_conn_callbacks cb = {
        .ctx = &a, .stream_opened = on_opened, .stream_readable = on_readable,
        .stream_writable = on_writable, .stream_reset = on_reset,
        .stream_closed = on_closed, .path_challenge = on_path,
        .path_response = on_path, .peer_closed = on_peer_closed,
    };
    CHECK(knit_conn_new(&a.conn, &cfg, &peer, data[0] & 1, &cb) == KNIT_OK);
    uint64_t now = 1000000, id;
    /* a stream of ours too, so ACKs and credit have something to act on */
    if (data[0] & 2) {
        CHECK(knit_conn_open_stream(a.conn, "/fuzz/1", &id) == KNIT_OK);
        size_t n;
        knit_conn_stream_write(a.conn, id, data, size, &n);
    }
    drain(a.conn, &now, cfg.max_payload);
    uint64_t pn = 0;
    size_t off = 1;
    while (off + 3 <= size) {
        pn += data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        int err = knit_conn_on_packet(a.conn, pn, data + off, len, now);
        off += len;
        if (err)
            CHECK(knit_conn_next_deadline(a.conn) == 0 ||
                  knit_conn_is_closed(a.conn));
        now += 1000;
        drain(a.conn, &now, cfg.max_payload);
        struct knit_conn_stats st;
        knit_conn_get_stats(a.conn, &st);
        /* every stream was opened within the limits */
        CHECK(st.streams_open <= 2 * cfg.max_streams);
    }
    uint8_t out[1500];
    size_t len;
    uint64_t ppn;
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    if (knit_conn_build_path_packet(a.conn, now, true, d, out, sizeof out,
                                    &len, &ppn) == KNIT_OK)
        check_packet(out, len, cfg.max_payload);
    knit_conn_close(a.conn, KNIT_CONN_SHUTDOWN, "fuzz");
    drain(a.conn, &now, cfg.max_payload);
    CHECK(knit_conn_is_closed(a.conn));
    knit_conn_free(a.conn);
    return 0;
}
