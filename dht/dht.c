/* The DHT engine: outstanding requests and their timeouts, the server side
 * (answering FIND_NODE, GET_RECORD, PUT_RECORD and PING), the routing
 * table's liveness checks, and the timers. Lookups and refresh are in
 * dht/dht_lookups.c, publishing our own record in dht/dht_publish.c. */
#include "dht/dht.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht_internal.h"
#include "proto/msg.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define MINUTE (60 * SECOND)
#define NEIGHBOUR_PUBLISH_DELAY (5 * SECOND)
/* Records handed to one newcomer at most (hand_over). */
#define HANDOVER_MAX 64

void dht_log(struct knit_dht *dht, uint64_t now, const char *fmt, ...)
{
    if (!dht->env.log)
        return;
    char message[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    dht->env.log(dht->env.ctx, now, message);
}

static void apply_defaults(struct knit_dht_config *c)
{
    if (!c->lookup.request_timeout_us)
        c->lookup.request_timeout_us = 5 * SECOND;
    if (!c->lookup.deadline_us)
        c->lookup.deadline_us = 60 * SECOND;
    if (!c->refresh_interval_us)
        c->refresh_interval_us = 10 * MINUTE;
    if (!c->republish_interval_us)
        c->republish_interval_us = 30 * MINUTE;
    if (!c->max_lookups)
        c->max_lookups = 32;
    if (!c->max_requests)
        c->max_requests = 256;
}

int knit_dht_new(struct knit_dht **out, const struct knit_peer_id *self,
                 const struct knit_dht_config *cfg,
                 const struct knit_dht_env *env, uint64_t now)
{
    /* k sizes the closest-peer arrays on the stack (KNIT_DHT_K). */
    if (!out || !self || !env || !env->send_request || !env->random ||
        !env->unix_time_s || (cfg && cfg->table.k > KNIT_DHT_K))
        return KNIT_E_INVAL;
    struct knit_dht *dht = calloc(1, sizeof *dht);
    if (!dht)
        return KNIT_E_NOMEM;
    if (cfg)
        dht->cfg = *cfg;
    apply_defaults(&dht->cfg);
    dht->env = *env;
    dht->self = *self;
    knit_dht_key_of_peer(&dht->self_key, self);
    dht->lookups = calloc(dht->cfg.max_lookups, sizeof *dht->lookups);
    if (!dht->lookups) {
        free(dht);
        return KNIT_E_NOMEM;
    }
    knit_dht_table_init(&dht->table, self, &dht->cfg.table);
    knit_dht_store_init(&dht->store, &dht->cfg.store);
    dht->store.verified = env->records;
    dht->next_id = 1;
    dht->next_handle = 1;
    dht->publish_at = KNIT_NO_DEADLINE;
    dht->refresh_at = KNIT_NO_DEADLINE;
    dht->deadline_stale = true;
    (void)now;
    *out = dht;
    return KNIT_OK;
}

void knit_dht_free(struct knit_dht *dht)
{
    if (!dht)
        return;
    dht_lookups_free(dht);
    free(dht->lookups);
    free(dht->requests);
    free(dht->own_record);
    knit_dht_table_free(&dht->table);
    knit_dht_store_free(&dht->store);
    free(dht);
}

void knit_dht_set_serving(struct knit_dht *dht, bool serving)
{
    dht->deadline_stale = true;
    dht->serving = serving;
}

bool knit_dht_is_serving(const struct knit_dht *dht)
{
    return dht->serving;
}

const struct knit_dht_table *knit_dht_get_table(const struct knit_dht *dht)
{
    return &dht->table;
}

const struct knit_dht_store *knit_dht_get_store(const struct knit_dht *dht)
{
    return &dht->store;
}

void knit_dht_get_stats(const struct knit_dht *dht, struct knit_dht_stats *out)
{
    *out = dht->stats;
}

/* ---- requests ------------------------------------------------------------ */

static uint8_t expected_answer(uint8_t request)
{
    switch (request) {
    case KNIT_DHT_PING: return KNIT_DHT_PONG;
    case KNIT_DHT_FIND_NODE: return KNIT_DHT_NODES;
    case KNIT_DHT_GET_RECORD: return KNIT_DHT_RECORD;
    default: return KNIT_DHT_PUT_RESULT;
    }
}

/* The request table grows as needed up to max_requests, so a node that
 * asks little (most of the simulator's) costs little. It may move: code
 * holds slot indices across calls that send, never pointers. */
static struct dht_request *free_request(struct knit_dht *dht)
{
    for (uint32_t i = 0; i < dht->request_cap; i++)
        if (dht->requests[i].id == 0)
            return &dht->requests[i];
    if (dht->request_cap >= dht->cfg.max_requests)
        return NULL;
    uint32_t cap = dht->request_cap ? dht->request_cap * 2 : 8;
    if (cap > dht->cfg.max_requests)
        cap = dht->cfg.max_requests;
    struct dht_request *r = realloc(dht->requests, cap * sizeof *r);
    if (!r)
        return NULL;
    memset(r + dht->request_cap, 0, (cap - dht->request_cap) * sizeof *r);
    dht->requests = r;
    struct dht_request *slot = &r[dht->request_cap];
    dht->request_cap = cap;
    return slot;
}

int dht_send(struct knit_dht *dht, const struct knit_peer_id *peer,
             const struct knit_addr *addr, struct knit_dht_msg *msg,
             uint8_t purpose, struct dht_lookup *lookup, uint64_t now)
{
    if (!free_request(dht))
        return KNIT_E_LIMIT;
    msg->id = dht->next_id++;
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_DHT_MAX_MESSAGE];
    size_t len;
    int err = knit_dht_msg_encode(msg, frame, sizeof frame, &len);
    if (err)
        return err;
    dht->stats.requests_sent++;
    err = dht->env.send_request(dht->env.ctx, peer, addr, msg->id, frame, len,
                                now);
    if (err) {
        dht->stats.requests_failed++;
        return err;
    }
    /* Found again: nothing in send_request may call into the engine, but
     * the slot is only claimed now. */
    struct dht_request *slot = free_request(dht);
    if (!slot)
        return KNIT_E_LIMIT;
    slot->id = msg->id;
    slot->purpose = purpose;
    slot->expect = expected_answer(msg->type);
    slot->peer = *peer;
    slot->lookup = lookup;
    slot->deadline = now + dht->cfg.lookup.request_timeout_us;
    return KNIT_OK;
}

int dht_send_put(struct knit_dht *dht, const struct knit_peer_id *peer,
                 const struct knit_addr *addr, const uint8_t *envelope,
                 size_t len, uint64_t now)
{
    struct knit_dht_msg put = {
        .type = KNIT_DHT_PUT_RECORD, .record = envelope, .record_len = len,
    };
    return dht_send(dht, peer, addr, &put, REQ_PUT, NULL, now);
}

bool dht_peer_among(const struct knit_peer_id *ids, size_t n,
                    const struct knit_peer_id *peer)
{
    for (size_t i = 0; i < n; i++)
        if (knit_peer_id_equal(&ids[i], peer))
            return true;
    return false;
}

static struct dht_request *find_request(struct knit_dht *dht,
                                        const struct knit_peer_id *peer,
                                        uint64_t id)
{
    if (id == 0)
        return NULL;
    for (uint32_t i = 0; i < dht->request_cap; i++)
        if (dht->requests[i].id == id &&
            knit_peer_id_equal(&dht->requests[i].peer, peer))
            return &dht->requests[i];
    return NULL;
}

static void check_liveness(struct knit_dht *dht,
                           const struct knit_dht_entry *entry, uint64_t now)
{
    struct knit_dht_msg ping = {.type = KNIT_DHT_PING};
    int err = dht_send(dht, &entry->id, &entry->addr, &ping, REQ_CHECK, NULL,
                       now);
    /* Unable to ask (our own limits): no verdict, so the entry stays, as
     * if it had answered; the next newcomer asks again. */
    if (err)
        knit_dht_table_update(&dht->table, &entry->id, &entry->addr, now,
                              NULL, NULL);
}

/* Is peer among the DHT_FIND_QUORUM closest to our own key that we know?
 * Those are the servers a lookup of our record asks last and stops at (it
 * ends once that many have answered with a record, or once the closest
 * have answered): a newcomer there must hold our record at once. One
 * further out is asked only on the way, and gets the record at our next
 * publish (a change of our record, a newcomer nearer still, or the
 * republish). Publishing again for every newcomer among the k closest was
 * about half of all publishing while a network grows, each a lookup and its
 * handshakes (measured on the scale mix at 1 000 nodes). */
static bool is_near(const struct knit_dht *dht,
                    const struct knit_peer_id *peer)
{
    struct knit_dht_entry closest[DHT_FIND_QUORUM];
    size_t n = knit_dht_table_closest(&dht->table, &dht->self_key, closest,
                                      DHT_FIND_QUORUM);
    for (size_t i = 0; i < n; i++)
        if (knit_peer_id_equal(&closest[i].id, peer))
            return true;
    return false;
}

/* Is a record at key ours to hand to the newcomer at key pk? The newcomer
 * must be among the k closest to key that we know, and we the closest of
 * the others: each of the k servers holding a record learns of the
 * newcomer, and without the second rule each would send it the same
 * record (Kademlia §2.5 asks the same; measured on home-mix at 300 nodes,
 * hand-over PUTs were 44 % of all DHT requests). */
static bool ours_to_hand_over(const struct knit_dht *dht,
                              const struct knit_dht_key *key,
                              const struct knit_peer_id *newcomer,
                              const struct knit_dht_key *pk)
{
    struct knit_dht_entry closest[KNIT_DHT_K];
    size_t k = dht->table.cfg.k;
    size_t n = knit_dht_table_closest(&dht->table, key, closest, k);
    if (n == k) {
        struct knit_dht_key last;
        knit_dht_key_of_peer(&last, &closest[n - 1].id);
        if (knit_dht_key_cmp_distance(key, pk, &last) > 0)
            return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (knit_peer_id_equal(&closest[i].id, newcomer))
            continue;
        struct knit_dht_key other;
        knit_dht_key_of_peer(&other, &closest[i].id);
        return knit_dht_key_cmp_distance(key, &dht->self_key, &other) < 0;
    }
    return true;
}

/* Kademlia §2.5: a server that joins near a key should hold its record,
 * and whoever stores it tells it. We hand over each record we hold whose
 * key the newcomer is closer to than we are, when it is among the k
 * closest we know and we are the closest holder we know: without this, a
 * record put while the network was smaller stays away from the servers
 * that joined near it since, until its owner's next republish (measured:
 * 0.8-1.5 % of NATed records unfound in a growing network; docs/dht.md).
 * Bounded per newcomer. */
static void hand_over(struct knit_dht *dht, const struct knit_peer_id *peer,
                      const struct knit_addr *addr, uint64_t now)
{
    struct knit_dht_key pk;
    knit_dht_key_of_peer(&pk, peer);
    size_t sent = 0;
    for (size_t i = 0; i < knit_dht_store_count(&dht->store) &&
                       sent < HANDOVER_MAX;
         i++) {
        const struct knit_dht_stored *r = knit_dht_store_at(&dht->store, i);
        if (!r || knit_peer_id_equal(&r->peer, peer) ||
            knit_dht_key_cmp_distance(&r->key, &pk, &dht->self_key) >= 0 ||
            !ours_to_hand_over(dht, &r->key, peer, &pk))
            continue;
        if (dht_send_put(dht, peer, addr, r->envelope, r->len, now))
            break;   /* out of request slots */
        sent++;
        dht->stats.records_handed_over++;
    }
}

static void table_seen(struct knit_dht *dht, const struct knit_peer_id *peer,
                       const struct knit_addr *addr, uint64_t now)
{
    bool was_empty = knit_dht_table_size(&dht->table) == 0;
    bool need_check = false;
    struct knit_dht_entry check;
    int result = knit_dht_table_update(&dht->table, peer, addr, now,
                                       &need_check, &check);
    if (result != KNIT_DHT_REFUSED) {
        struct knit_dht_key pk;
        knit_dht_key_of_peer(&pk, peer);
        dht_note_bucket_fresh(dht, &pk, now);
    }
    if (need_check)
        check_liveness(dht, &check, now);
    if ((result == KNIT_DHT_ADDED || result == KNIT_DHT_DISPLACED) &&
        dht->joined && dht->own_record_len && is_near(dht, peer))
        /* A new neighbour should hold our record too (Kademlia §2.5: the
         * network grew around us). A few seconds' wait gathers the others
         * joining at the same time into one publish. */
        if (dht->publish_at > now + NEIGHBOUR_PUBLISH_DELAY)
            dht->publish_at = now + NEIGHBOUR_PUBLISH_DELAY;
    if ((result == KNIT_DHT_ADDED || result == KNIT_DHT_DISPLACED) &&
        dht->serving)
        hand_over(dht, peer, addr, now);
    /* The first peer: join through it. */
    if (was_empty && !dht->joined && knit_dht_table_size(&dht->table) > 0)
        knit_dht_bootstrap(dht, now);
}

void dht_peer_failed(struct knit_dht *dht, const struct knit_peer_id *peer)
{
    knit_dht_table_failed(&dht->table, peer);
    if (knit_dht_table_size(&dht->table) == 0) {
        dht->joined = false;   /* rejoin with the next peer we meet */
        dht_publish_forget_closest(dht);
    }
}

void knit_dht_peer_seen(struct knit_dht *dht, const struct knit_peer_id *peer,
                        const struct knit_addr *addr, uint64_t now)
{
    dht->deadline_stale = true;
    table_seen(dht, peer, addr, now);
}

/* Acts on a request already out of the table (r is a copy): what follows
 * may send requests, and so move the table. */
static void end_request(struct knit_dht *dht, const struct dht_request *req,
                        const struct knit_dht_msg *answer, int error,
                        uint64_t now)
{
    struct dht_request r = *req;
    if (error) {
        dht_log(dht, now, "dht: request %llu failed: %s",
                (unsigned long long)r.id, knit_strerror(error));
        dht->stats.requests_failed++;
        /* A refusal (busy, or a stream limit) is an answer: the peer is
         * alive and stays in the table. */
        if (error != KNIT_E_REFUSED)
            dht_peer_failed(dht, &r.peer);
        if (r.purpose == REQ_LOOKUP)
            dht_lookup_peer_failed(dht, r.lookup, &r.peer, now);
        return;
    }
    if (r.purpose == REQ_LOOKUP)
        dht_lookup_answer(dht, r.lookup, &r.peer, answer, now);
    else if (r.purpose == REQ_PUT) {
        if (answer->status == KNIT_DHT_OK)
            dht->stats.records_put_ok++;
        else
            dht->stats.records_put_refused++;
    }
}

void knit_dht_on_response(struct knit_dht *dht,
                          const struct knit_peer_id *peer, uint64_t id,
                          const uint8_t *body, size_t len, uint64_t now)
{
    dht->deadline_stale = true;
    struct dht_request *slot = find_request(dht, peer, id);
    if (!slot)
        return;
    struct dht_request copy = *slot, *req = &copy;
    memset(slot, 0, sizeof *slot);
    struct knit_dht_msg *msg = malloc(sizeof *msg);
    if (!msg) {
        end_request(dht, req, NULL, KNIT_E_NOMEM, now);
        return;
    }
    int err = knit_dht_msg_decode(msg, body, len);
    if (err == KNIT_OK && msg->id != id)
        err = KNIT_E_MALFORMED;
    if (err == KNIT_OK && msg->type == KNIT_DHT_ERROR)
        err = KNIT_E_REFUSED;
    else if (err == KNIT_OK && msg->type != req->expect)
        err = KNIT_E_TYPE;
    if (err) {
        dht_log(dht, now, "dht: bad answer to request %llu: %s",
                (unsigned long long)id, knit_strerror(err));
        end_request(dht, req, NULL, err, now);
    } else {
        /* It answered: it serves, and it is alive. The address stays the
         * one we know it by. */
        const struct knit_dht_entry *e = knit_dht_table_find(&dht->table,
                                                             peer);
        if (e)
            table_seen(dht, peer, &e->addr, now);
        else if (req->purpose == REQ_LOOKUP) {
            const struct knit_dht_candidate *c =
                knit_dht_lookup_find(&req->lookup->l, peer);
            if (c && c->peer.addr_count)
                table_seen(dht, peer, &c->peer.addrs[0], now);
        }
        end_request(dht, req, msg, KNIT_OK, now);
    }
    free(msg);
}

void knit_dht_on_failure(struct knit_dht *dht,
                         const struct knit_peer_id *peer, uint64_t id,
                         int error, uint64_t now)
{
    dht->deadline_stale = true;
    struct dht_request *slot = find_request(dht, peer, id);
    if (!slot)
        return;
    struct dht_request req = *slot;
    memset(slot, 0, sizeof *slot);
    end_request(dht, &req, NULL, error ? error : KNIT_E_IO, now);
}

/* ---- the server side ------------------------------------------------------ */

static void fill_peers(struct knit_dht *dht, const struct knit_dht_key *key,
                       const struct knit_peer_id *asker,
                       struct knit_dht_msg *out)
{
    struct knit_dht_entry closest[KNIT_DHT_MAX_PEERS + 1];
    size_t n = knit_dht_table_closest(&dht->table, key, closest,
                                      KNIT_DHT_MAX_PEERS + 1);
    out->peer_count = 0;
    for (size_t i = 0; i < n && out->peer_count < KNIT_DHT_MAX_PEERS; i++) {
        /* The asker knows where it is. */
        if (knit_peer_id_equal(&closest[i].id, asker))
            continue;
        struct knit_dht_peer_info *p = &out->peers[out->peer_count++];
        memset(p, 0, sizeof *p);
        p->id = closest[i].id;
        p->addr_count = 1;
        p->addrs[0] = closest[i].addr;
    }
}

static void answer(struct knit_dht *dht, const struct knit_dht_msg *req,
                   const struct knit_peer_id *from, uint64_t now,
                   struct knit_dht_msg *out)
{
    memset(out, 0, sizeof *out);
    out->id = req->id;
    if (!dht->serving) {
        out->type = KNIT_DHT_ERROR;
        out->status = KNIT_DHT_NOT_SERVING;
        return;
    }
    switch (req->type) {
    case KNIT_DHT_PING:
        out->type = KNIT_DHT_PONG;
        break;
    case KNIT_DHT_FIND_NODE:
        out->type = KNIT_DHT_NODES;
        fill_peers(dht, &req->key, from, out);
        break;
    case KNIT_DHT_GET_RECORD: {
        out->type = KNIT_DHT_RECORD;
        fill_peers(dht, &req->key, from, out);
        const struct knit_dht_stored *rec =
            knit_dht_store_get(&dht->store, &req->key, now);
        if (rec) {
            out->record = rec->envelope;
            out->record_len = rec->len;
        }
        break;
    }
    default: {   /* PUT_RECORD */
        out->type = KNIT_DHT_PUT_RESULT;
        int err = knit_dht_store_put(&dht->store, from, req->record,
                                     req->record_len, now,
                                     dht->env.unix_time_s(dht->env.ctx, now),
                                     NULL);
        out->status = knit_dht_status_of_error(err);
        break;
    }
    }
}

int knit_dht_handle_request(struct knit_dht *dht,
                            const struct knit_peer_id *from,
                            const struct knit_addr *from_addr,
                            bool from_server, const uint8_t *body,
                            size_t len, uint64_t now, uint8_t *out,
                            size_t cap, size_t *out_len)
{
    dht->deadline_stale = true;
    struct knit_dht_msg *req = malloc(2 * sizeof *req);
    if (!req)
        return KNIT_E_NOMEM;
    struct knit_dht_msg *resp = req + 1;
    int err = knit_dht_msg_decode(req, body, len);
    if (err == KNIT_OK && !knit_dht_msg_is_request(req->type))
        err = KNIT_E_UNSUPPORTED;
    if (err == KNIT_OK) {
        dht->stats.requests_served++;
        answer(dht, req, from, now, resp);
        err = knit_dht_msg_encode(resp, out, cap, out_len);
        /* A server that asks is alive; a client never enters the table. */
        if (err == KNIT_OK && from_server && from_addr)
            table_seen(dht, from, from_addr, now);
    }
    free(req);
    return err;
}

/* ---- restoring and joining ------------------------------------------------ */

int knit_dht_restore_peer(struct knit_dht *dht,
                          const struct knit_peer_id *peer,
                          const struct knit_addr *addr, uint64_t last_seen)
{
    dht->deadline_stale = true;
    return knit_dht_table_restore(&dht->table, peer, addr, last_seen);
}

int knit_dht_restore_record(struct knit_dht *dht, const uint8_t *envelope,
                            size_t len, uint64_t now)
{
    dht->deadline_stale = true;
    struct knit_peer_record rec;
    int err = knit_record_verify_cached(dht->env.records, &rec, envelope,
                                        len);
    if (err)
        return err;
    /* Attributed to its own peer, so the per-sender limit does not cap a
     * restart at a handful of records. */
    return knit_dht_store_put(&dht->store, &rec.peer, envelope, len, now,
                              dht->env.unix_time_s(dht->env.ctx, now), NULL);
}

int knit_dht_bootstrap(struct knit_dht *dht, uint64_t now)
{
    dht->deadline_stale = true;
    if (knit_dht_table_size(&dht->table) == 0)
        return KNIT_E_NOT_FOUND;
    dht_publish_forget_closest(dht);   /* a join is a lookup */
    int err = dht_publish(dht, now);
    if (err == KNIT_OK) {
        dht->joined = true;
        /* Kademlia's join: after the lookup of our own key, which fills
         * the near buckets, a refresh of the far ones, which nothing else
         * fills until peers there happen to call. */
        dht->refresh_at = now + dht->cfg.lookup.request_timeout_us;
    }
    return err;
}

int knit_dht_set_own_record(struct knit_dht *dht, const uint8_t *envelope,
                            size_t len, uint64_t now)
{
    dht->deadline_stale = true;
    if (len == 0 || len > KNIT_RECORD_MAX_BYTES)
        return KNIT_E_TOO_BIG;
    struct knit_peer_record rec;
    int err = knit_record_verify_cached(dht->env.records, &rec, envelope,
                                        len);
    if (err)
        return err;
    if (!knit_peer_id_equal(&rec.peer, &dht->self))
        return KNIT_E_KEY_MISMATCH;
    err = knit_dht_store_put(&dht->store, &dht->self, envelope, len, now,
                             dht->env.unix_time_s(dht->env.ctx, now), NULL);
    if (err && err != KNIT_E_STALE)
        return err;
    uint8_t *copy = malloc(len);
    if (!copy)
        return KNIT_E_NOMEM;
    memcpy(copy, envelope, len);
    free(dht->own_record);
    dht->own_record = copy;
    dht->own_record_len = len;
    dht_publish_record_changed(dht);
    /* Publish now if we are part of the network, else when we join. */
    if (dht->joined)
        dht->publish_at = now;
    return KNIT_OK;
}

/* ---- timers ------------------------------------------------------------------ */

uint64_t knit_dht_next_deadline(const struct knit_dht *dht)
{
    if (!dht->deadline_stale)
        return dht->deadline;
    uint64_t next = dht_lookups_deadline(dht);
    for (uint32_t i = 0; i < dht->request_cap; i++)
        if (dht->requests[i].id && dht->requests[i].deadline < next)
            next = dht->requests[i].deadline;
    if (dht->joined) {
        if (dht->publish_at < next)
            next = dht->publish_at;
        if (dht->refresh_at < next)
            next = dht->refresh_at;
    }
    uint64_t expiry = knit_dht_store_next_expiry(&dht->store);
    if (expiry < next)
        next = expiry;
    /* The cache is not part of the DHT's value (the const is the
     * caller's promise that nothing it can see changes). */
    struct knit_dht *cache = (struct knit_dht *)dht;
    cache->deadline = next;
    cache->deadline_stale = false;
    return next;
}

void knit_dht_timeout(struct knit_dht *dht, uint64_t now)
{
    dht->deadline_stale = true;
    for (uint32_t i = 0; i < dht->request_cap; i++) {
        if (!dht->requests[i].id || dht->requests[i].deadline > now)
            continue;
        struct dht_request req = dht->requests[i];
        memset(&dht->requests[i], 0, sizeof req);
        end_request(dht, &req, NULL, KNIT_E_TIMEOUT, now);
    }
    dht_lookups_timeout(dht, now);
    knit_dht_store_expire(&dht->store, now);
    /* Our own record must outlive the store's expiry in our own store. */
    if (dht->own_record_len &&
        !knit_dht_store_get(&dht->store, &dht->self_key, now))
        knit_dht_store_put(&dht->store, &dht->self, dht->own_record,
                           dht->own_record_len, now,
                           dht->env.unix_time_s(dht->env.ctx, now), NULL);
    if (!dht->joined)
        return;
    if (dht->publish_at <= now) {
        dht->publish_at = KNIT_NO_DEADLINE;
        if (dht_publish(dht, now) != KNIT_OK)
            dht->publish_at = now + 10 * SECOND;   /* lookups were full */
    }
    if (dht->refresh_at <= now) {
        dht->refresh_at = now + dht->cfg.refresh_interval_us;
        dht_refresh(dht, now);
    }
}
