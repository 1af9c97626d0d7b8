/* The node's DHT state across restarts: the routing table and the record
 * store, as bytes (dht/state.h). The daemon reads and writes the file
 * (<datadir>/dht.state); the core only turns state into bytes and back. */
#include <string.h>

#include "dht/state.h"
#include "node/node_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull

static uint64_t unix_s(const struct knit_node *node, uint64_t now)
{
    return (node->unix_time_at_start + (now - node->created)) / SECOND;
}

int knit_node_save_dht(const struct knit_node *node, uint64_t now,
                       struct knit_dht_state_writer *w)
{
    uint64_t wall = unix_s(node, now);
    int err = knit_dht_state_writer_init(w, wall);
    const struct knit_dht_table *t = knit_dht_get_table(node->dht);
    for (unsigned b = 0; b < KNIT_DHT_KEY_BITS && err == KNIT_OK; b++) {
        size_t n = knit_dht_table_bucket_entries(t, b);
        for (size_t i = 0; i < n && err == KNIT_OK; i++) {
            const struct knit_dht_entry *e = knit_dht_table_bucket_entry(t, b, i);
            uint64_t age = (now - e->last_seen) / SECOND;
            struct knit_dht_state_peer p = {
                .id = e->id, .addr = e->addr,
                .last_seen_unix = wall > age ? wall - age : 0,
            };
            err = knit_dht_state_add_peer(w, &p);
        }
    }
    const struct knit_dht_store *s = knit_dht_get_store(node->dht);
    for (size_t i = 0; i < knit_dht_store_count(s) && err == KNIT_OK; i++) {
        const struct knit_dht_stored *r = knit_dht_store_at(s, i);
        if (r->expires > now)
            err = knit_dht_state_add_record(w, r->envelope, r->len);
    }
    return err;
}

struct restore_ctx {
    struct knit_node *node;
    uint64_t now, wall;
    size_t peers, records;
};

static int restore_peer(void *ctx, const struct knit_dht_state_peer *p)
{
    struct restore_ctx *r = ctx;
    uint64_t age = r->wall > p->last_seen_unix
                       ? (r->wall - p->last_seen_unix) * SECOND : 0;
    uint64_t last_seen = r->now > age ? r->now - age : 0;
    /* Ourselves (a copied data directory) or a full bucket: skip it. */
    if (knit_dht_restore_peer(r->node->dht, &p->id, &p->addr, last_seen) ==
        KNIT_OK)
        r->peers++;
    return KNIT_OK;
}

static int restore_record(void *ctx, const uint8_t *env, size_t len)
{
    struct restore_ctx *r = ctx;
    /* Expired, superseded or no longer valid records are simply left out. */
    if (knit_dht_restore_record(r->node->dht, env, len, r->now) == KNIT_OK)
        r->records++;
    return KNIT_OK;
}

int knit_node_restore_dht(struct knit_node *node, const uint8_t *state,
                          size_t len, uint64_t now, size_t *peers,
                          size_t *records)
{
    struct restore_ctx r = {.node = node, .now = now, .wall = unix_s(node, now)};
    struct knit_dht_state_sink sink = {
        .ctx = &r, .peer = restore_peer, .record = restore_record,
    };
    uint64_t saved_at;
    int err = knit_dht_state_read(state, len, &sink, &saved_at, NULL);
    *peers = r.peers;
    *records = r.records;
    return err;
}
