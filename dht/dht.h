/* The DHT engine: Kademlia over knit sessions, with no I/O of its own.
 *
 * Owns the routing table (dht/table.h), the record store (dht/store.h) and
 * the lookups under way (dht/lookup.h); answers requests from other peers;
 * publishes our own signed peer record at the k peers closest to our key
 * and republishes it on a schedule; refreshes buckets. The node core
 * (node/node_dht.c) carries its messages: it opens a stream per request to
 * the peer named in send_request and hands back the answer or the failure,
 * and hands over the requests other peers send us.
 *
 * Modes: a server answers requests and may enter others' tables (the node
 * advertises KNIT_DHT_PROTOCOL in its hello); a client only asks. */
#ifndef KNIT_DHT_H
#define KNIT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/lookup.h"
#include "dht/rpc.h"
#include "dht/store.h"
#include "dht/table.h"

/* --dht-mode. auto is a server when the node has a public address (until
 * AutoNAT can tell), else a client. */
enum knit_dht_mode {
    KNIT_DHT_MODE_AUTO = 0,
    KNIT_DHT_MODE_SERVER,
    KNIT_DHT_MODE_CLIENT,
};

struct knit_dht_config {
    struct knit_dht_table_config table;
    struct knit_dht_store_config store;
    struct knit_dht_lookup_config lookup;  /* request_timeout_us is the
                                              timeout of every request */
    uint64_t refresh_interval_us;   /* buckets not looked into for this
                                       long get a lookup (0: 10 min) */
    uint64_t republish_interval_us; /* our record (0: 30 min) */
    uint32_t max_lookups;           /* at once (0: 32) */
    uint32_t max_requests;          /* outstanding (0: 256) */
};

/* How a lookup for a peer's record ended. */
struct knit_dht_result {
    uint64_t handle;                /* from knit_dht_find */
    struct knit_peer_id target;
    int error;                      /* 0: found; KNIT_E_NOT_FOUND: the
                                       lookup ended without a record;
                                       KNIT_E_TIMEOUT: at its deadline */
    const struct knit_peer_record *record;   /* when found */
    const uint8_t *envelope;        /* its signed bytes */
    size_t envelope_len;
    uint16_t hops;
    uint32_t queries;
    uint64_t elapsed_us;
};

struct knit_dht_env {
    void *ctx;
    /* Sends one framed request to peer (at addr when there is no session
     * yet). The answer comes back through knit_dht_on_response or
     * knit_dht_on_failure with the same id, later, never from inside this
     * call; a nonzero return is a failure now. */
    int (*send_request)(void *ctx, const struct knit_peer_id *peer,
                        const struct knit_addr *addr, uint64_t id,
                        const uint8_t *frame, size_t len, uint64_t now);
    void (*random)(void *ctx, uint8_t *buf, size_t len);
    /* Wall clock, seconds since the Unix epoch (record issue times). */
    uint64_t (*unix_time_s)(void *ctx, uint64_t now);
    /* A knit_dht_find finished. May call back into the engine. */
    void (*found)(void *ctx, const struct knit_dht_result *r);
    /* Something worth a debug line; may be NULL. */
    void (*log)(void *ctx, uint64_t now, const char *message);
    /* Records already seen to verify (proto/record_cache.h), shared with
     * the node's sessions; NULL: none. */
    struct knit_record_cache *records;
};

struct knit_dht_stats {
    uint64_t requests_sent, requests_failed, requests_served;
    uint64_t lookups_started, lookups_found;
    uint64_t publish_lookups;       /* of lookups_started: our own key's,
                                       to publish our record */
    uint64_t publish_direct;        /* publishes PUT to the closest we knew,
                                       without a lookup */
    uint64_t records_put_ok, records_put_refused;   /* PUTs we sent */
    uint64_t records_handed_over;   /* PUTs of others' records to newcomers */
    uint64_t records_repaired;      /* found records PUT to servers that
                                       answered a lookup with an older one,
                                       or to the closest that had none */
};

struct knit_dht;

int knit_dht_new(struct knit_dht **out, const struct knit_peer_id *self,
                 const struct knit_dht_config *cfg,
                 const struct knit_dht_env *env, uint64_t now);
void knit_dht_free(struct knit_dht *dht);

void knit_dht_set_serving(struct knit_dht *dht, bool serving);
bool knit_dht_is_serving(const struct knit_dht *dht);

/* Our own signed record: kept in our store, published at the k closest now
 * (or as soon as we know any peer) and every republish interval. */
int knit_dht_set_own_record(struct knit_dht *dht, const uint8_t *envelope,
                            size_t len, uint64_t now);

/* A DHT server is alive at addr (a session with it came up, or it sent us
 * a request). */
void knit_dht_peer_seen(struct knit_dht *dht, const struct knit_peer_id *peer,
                        const struct knit_addr *addr, uint64_t now);
/* Puts a peer saved on disk in the table (unverified) and a saved record
 * in the store; knit_dht_bootstrap then starts from them. */
int knit_dht_restore_peer(struct knit_dht *dht,
                          const struct knit_peer_id *peer,
                          const struct knit_addr *addr, uint64_t last_seen);
int knit_dht_restore_record(struct knit_dht *dht, const uint8_t *envelope,
                            size_t len, uint64_t now);
/* Joins: a lookup of our own key (publishing our record, if any) through
 * whoever is in the table. Happens by itself when the first peer enters an
 * empty table; KNIT_E_NOT_FOUND when the table is empty. */
int knit_dht_bootstrap(struct knit_dht *dht, uint64_t now);

/* A request from peer (a DHT server itself if from_server). Writes the
 * framed answer into out. A negative return means the request was
 * malformed: the caller resets the stream. */
int knit_dht_handle_request(struct knit_dht *dht,
                            const struct knit_peer_id *from,
                            const struct knit_addr *from_addr,
                            bool from_server, const uint8_t *body,
                            size_t len, uint64_t now, uint8_t *out,
                            size_t cap, size_t *out_len);
/* The answer (one frame body) to our request id, or its failure. Answers
 * to unknown ids (late, after the timeout) are ignored. */
void knit_dht_on_response(struct knit_dht *dht,
                          const struct knit_peer_id *peer, uint64_t id,
                          const uint8_t *body, size_t len, uint64_t now);
void knit_dht_on_failure(struct knit_dht *dht,
                         const struct knit_peer_id *peer, uint64_t id,
                         int error, uint64_t now);

/* Looks up target's signed record; the result comes through env.found.
 * KNIT_E_LIMIT with max_lookups under way, KNIT_E_NOT_FOUND when the table
 * is empty (the result would be known at once). */
int knit_dht_find(struct knit_dht *dht, const struct knit_peer_id *target,
                  uint64_t now, uint64_t *handle);

uint64_t knit_dht_next_deadline(const struct knit_dht *dht);
void knit_dht_timeout(struct knit_dht *dht, uint64_t now);

const struct knit_dht_table *knit_dht_get_table(const struct knit_dht *dht);
const struct knit_dht_store *knit_dht_get_store(const struct knit_dht *dht);
void knit_dht_get_stats(const struct knit_dht *dht,
                        struct knit_dht_stats *out);

#endif
