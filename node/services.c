/* Protocols every node serves itself:
 *   /knit/ping/1   echoes every byte back, then FIN after the peer's FIN;
 *                  `knit ping` measures round trips with it.
 *   /knit/bench/1  reads everything, counting and hashing it, then after
 *                  the peer's FIN answers the count (8 bytes, big-endian)
 *                  and the BLAKE2b-256 of the bytes (32 bytes), and FIN
 *                  (node/bench_stream.h); `knit bench` measures throughput
 *                  with it and checks the data arrived whole.
 * Both are bounded: at most NODE_MAX_SERVICE_STREAMS at once (more are
 * refused), the bench hashes as it reads and keeps nothing, and the echo
 * reads only as much as it can write back, so a peer that never reads its
 * echo stalls its own stream, nothing else. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "node/bench_stream.h"
#include "node/node_internal.h"
#include "proto/conn.h"
#include "transport/error.h"

/* A bench stream's state besides its struct service_stream. */
struct bench_slot {
    struct knit_bench_digest digest;   /* of the bytes read */
    bool answered;                     /* the answer is written */
};

/* What node->services points at: the stream table as its first member, and
 * beside it one bench slot per stream. The slot (its digest is a 64-byte
 * aligned BLAKE2b state) lives here rather than in struct service_stream
 * so the node's shared header needs no libsodium type; this file alone
 * allocates and frees the block. */
struct service_table {
    struct service_stream streams[NODE_MAX_SERVICE_STREAMS];
    struct bench_slot bench[NODE_MAX_SERVICE_STREAMS];
};

static struct bench_slot *bench_of(struct knit_node *node,
                                   const struct service_stream *st)
{
    struct service_table *table = (struct service_table *)node->services;
    return &table->bench[st - node->services];
}

static struct service_stream *find(struct knit_node *node,
                                   const struct knit_session *s, uint64_t id)
{
    for (int i = 0; node->services && i < NODE_MAX_SERVICE_STREAMS; i++)
        if (node->services[i].session == s &&
            node->services[i].stream_id == id)
            return &node->services[i];
    return NULL;
}

static void release(struct service_stream *st)
{
    memset(st, 0, sizeof *st);
}

static void pump_ping(struct knit_conn *c, struct service_stream *st)
{
    uint8_t buf[4096];
    for (;;) {
        size_t room = knit_conn_stream_send_space(c, st->stream_id);
        if (room == 0) {
            /* The conn reports STREAM_WRITABLE only after a write it could
             * not take in full, and ours never exceed the room: without
             * this refused one-byte write (nothing is buffered), a full
             * send buffer stalled the echo for good once the peer's data
             * stopped too, which our unread window ensures. */
            size_t accepted;
            knit_conn_stream_write(c, st->stream_id, buf, 1, &accepted);
            return;   /* resumes on STREAM_WRITABLE */
        }
        size_t n, accepted;
        bool fin;
        if (knit_conn_stream_read(c, st->stream_id, buf,
                                  room < sizeof buf ? room : sizeof buf, &n,
                                  &fin) != KNIT_OK)
            return;
        if (n)
            knit_conn_stream_write(c, st->stream_id, buf, n, &accepted);
        if (fin) {
            knit_conn_stream_finish(c, st->stream_id);
            return;
        }
        if (n == 0)
            return;
    }
}

static void pump_bench(struct knit_node *node, struct knit_conn *c,
                       struct service_stream *st)
{
    struct bench_slot *b = bench_of(node, st);
    uint8_t buf[16384];
    /* A read after the FIN reports the FIN again: answer once. */
    while (!b->answered) {
        size_t n;
        bool fin;
        if (knit_conn_stream_read(c, st->stream_id, buf, sizeof buf, &n,
                                  &fin) != KNIT_OK)
            return;
        knit_bench_digest_add(&b->digest, buf, n);
        if (fin) {
            uint8_t hash[KNIT_BENCH_HASH_LEN], answer[KNIT_BENCH_ANSWER_LEN];
            uint64_t count;
            size_t accepted = 0;
            knit_bench_digest_final(&b->digest, hash, &count);
            b->answered = true;
            knit_bench_answer_encode(count, hash, answer);
            knit_conn_stream_write(c, st->stream_id, answer, sizeof answer,
                                   &accepted);
            /* Nothing else was ever written, so the send buffer takes it
             * all; were it not so, a reset beats a truncated answer. */
            if (accepted < sizeof answer)
                knit_conn_stream_reset(c, st->stream_id, KNIT_CONN_CANCELLED);
            else
                knit_conn_stream_finish(c, st->stream_id);
            return;
        }
        if (n == 0)
            return;
    }
}

static void pump(struct knit_node *node, struct knit_conn *c,
                 struct service_stream *st)
{
    if (st->bench)
        pump_bench(node, c, st);
    else
        pump_ping(c, st);
}

bool node_services_open(struct knit_node *node, struct knit_session *s,
                        uint64_t stream_id, const char *protocol)
{
    bool ping = strcmp(protocol, KNIT_PROTOCOL_PING) == 0;
    bool bench = strcmp(protocol, KNIT_PROTOCOL_BENCH) == 0;
    if (!ping && !bench)
        return false;
    struct knit_conn *c = knit_session_conn(s);
    if (!node->services) {
        struct service_table *table = aligned_alloc(
            alignof(struct service_table), sizeof(struct service_table));
        if (table) {
            memset(table, 0, sizeof *table);
            node->services = table->streams;
        }
    }
    struct service_stream *st = find(node, NULL, 0);
    if (!st) {
        knit_conn_stream_refuse(c, stream_id, KNIT_CONN_REFUSED);
        return true;
    }
    st->session = s;
    st->stream_id = stream_id;
    st->bench = bench;
    if (bench) {
        knit_bench_digest_init(&bench_of(node, st)->digest);
        bench_of(node, st)->answered = false;
    }
    pump(node, c, st);
    return true;
}

bool node_services_event(struct knit_node *node, struct knit_session *s,
                         const struct knit_session_event *sev)
{
    struct service_stream *st = find(node, s, sev->stream_id);
    if (!st)
        return false;
    struct knit_conn *c = knit_session_conn(s);
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
    case KNIT_SESSION_STREAM_WRITABLE:
        if (c)
            pump(node, c, st);
        break;
    case KNIT_SESSION_STREAM_RESET:
        if (c)
            knit_conn_stream_reset(c, sev->stream_id, KNIT_CONN_CANCELLED);
        release(st);
        break;
    case KNIT_SESSION_STREAM_CLOSED:
        release(st);
        break;
    default:
        break;
    }
    return true;
}

void node_services_forget(struct knit_node *node, struct knit_session *s)
{
    for (int i = 0; node->services && i < NODE_MAX_SERVICE_STREAMS; i++)
        if (node->services[i].session == s)
            release(&node->services[i]);
}

void node_services_free(struct knit_node *node)
{
    free(node->services);
    node->services = NULL;
}
