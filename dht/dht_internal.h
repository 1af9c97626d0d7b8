/* Shared internals of dht/dht.c (requests, the server side, timers) and
 * dht/dht_lookups.c (lookups, publishing, refresh). */
#ifndef KNIT_DHT_INTERNAL_H
#define KNIT_DHT_INTERNAL_H

#include "dht/dht.h"

/* Buckets deeper than this are never refreshed on a schedule: reaching
 * them would take 2^64 peers; our own lookups cover the deep end. */
#define DHT_REFRESH_BUCKETS 64

enum lookup_purpose {
    PURPOSE_FIND = 1,     /* a peer's record, for the embedder */
    PURPOSE_PUBLISH,      /* our own key; then PUT our record at the closest */
    PURPOSE_REFRESH,      /* a random key in a bucket */
};

enum request_purpose {
    REQ_LOOKUP = 1,
    REQ_CHECK,            /* liveness check of a table entry */
    REQ_PUT,
};

/* A record lookup does not end at the first record: copies at servers
 * that missed the owner's last publish (they were among the closest when
 * an older record went out, or were handed an older one) would win every
 * race they happen to be first in. It ends once this many servers have
 * answered with a record, or when the lookup is over anyway, and keeps the
 * newest. */
#define DHT_FIND_QUORUM 3

struct dht_lookup {
    uint8_t purpose;
    bool kick;                         /* to be pumped at the next timeout */
    bool widened;                      /* PURPOSE_FIND: asking on to the k
                                        * closest (widen_if_missed) */
    uint64_t handle;
    struct knit_peer_id target;        /* PURPOSE_FIND */
    struct knit_dht_lookup l;
    /* the newest verified record seen (PURPOSE_FIND) */
    size_t record_len;
    uint8_t record[KNIT_RECORD_MAX_BYTES];
    uint64_t record_seq;
    uint16_t record_hop;
    /* The servers that answered with a record of the target, and its
     * sequence number: those holding an older one than the newest, and
     * the closest that held none, are sent the newest when the lookup
     * ends (read repair, repair_holders). */
    uint8_t holders;
    struct knit_peer_id holder[DHT_FIND_QUORUM];
    uint64_t holder_seq[DHT_FIND_QUORUM];
};

struct dht_request {
    uint64_t id;                       /* 0 = free slot */
    uint8_t purpose;                   /* enum request_purpose */
    uint8_t expect;                    /* the answer's message type */
    struct knit_peer_id peer;
    struct dht_lookup *lookup;         /* REQ_LOOKUP */
    uint64_t deadline;
};

struct knit_dht {
    struct knit_dht_config cfg;
    struct knit_dht_env env;
    struct knit_peer_id self;
    struct knit_dht_key self_key;
    struct knit_dht_table table;
    struct knit_dht_store store;
    bool serving;
    bool joined;                       /* a self-lookup ran since the table
                                          was last empty */
    struct dht_lookup **lookups;       /* cfg.max_lookups slots */
    struct dht_request *requests;      /* grows up to cfg.max_requests */
    uint32_t request_cap;
    uint64_t next_id;
    uint64_t next_handle;
    uint8_t *own_record;               /* own_record_len bytes, heap */
    size_t own_record_len;
    uint64_t publish_at;               /* KNIT_NO_DEADLINE: not due */
    /* When our last publishing lookup ended (0: not since we joined), when
     * the last lookup of our own key ended (that one, or the refresh's),
     * and which servers have our current record: a server's publish
     * within the refresh interval of the latter, and the republish
     * interval of the former, PUTs to the others of the k closest in the
     * table, without a lookup (dht_publish.c). */
    uint64_t published_at;
    uint64_t closest_found_at;
    struct knit_peer_id put_to[KNIT_DHT_K];
    uint8_t put_to_count;
    uint64_t refresh_at;
    /* Per bucket, the last lookup into it or the last sign of life from a
     * server in it (an answer, a request, a session): the refresh skips a
     * bucket with either in the refresh interval, as BEP 5 does. */
    uint64_t bucket_fresh[DHT_REFRESH_BUCKETS];
    struct knit_dht_stats stats;
    /* knit_dht_next_deadline's answer, kept until a call that can move it:
     * every entry point that changes anything marks it stale first (the
     * DHT is sans-IO, so nothing else changes it). The node asks after
     * every packet, and most packets never reach the DHT; the walk over
     * its requests and lookups was 1 % of a simulated join. */
    uint64_t deadline;
    bool deadline_stale;
};

void dht_log(struct knit_dht *dht, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends msg to peer; registers the request. 0 or a failure now. */
int dht_send(struct knit_dht *dht, const struct knit_peer_id *peer,
             const struct knit_addr *addr, struct knit_dht_msg *msg,
             uint8_t purpose, struct dht_lookup *lookup, uint64_t now);
/* A PUT_RECORD of envelope to peer, through dht_send. */
int dht_send_put(struct knit_dht *dht, const struct knit_peer_id *peer,
                 const struct knit_addr *addr, const uint8_t *envelope,
                 size_t len, uint64_t now);
/* Whether peer is among the n ids. */
bool dht_peer_among(const struct knit_peer_id *ids, size_t n,
                    const struct knit_peer_id *peer);
/* A request failed (timeout, refusal, broken stream): tell the table. */
void dht_peer_failed(struct knit_dht *dht, const struct knit_peer_id *peer);

/* dht_lookups.c */
int dht_lookup_start(struct knit_dht *dht, uint8_t purpose,
                     const struct knit_dht_key *target,
                     const struct knit_peer_id *target_peer, uint64_t now,
                     struct dht_lookup **out);
void dht_lookup_answer(struct knit_dht *dht, struct dht_lookup *lk,
                       const struct knit_peer_id *peer,
                       const struct knit_dht_msg *msg, uint64_t now);
void dht_lookup_peer_failed(struct knit_dht *dht, struct dht_lookup *lk,
                            const struct knit_peer_id *peer, uint64_t now);
/* Sends what the lookup wants sent and ends it if it is over. */
void dht_lookup_pump(struct knit_dht *dht, struct dht_lookup *lk,
                     uint64_t now);
void dht_lookups_timeout(struct knit_dht *dht, uint64_t now);
uint64_t dht_lookups_deadline(const struct knit_dht *dht);
void dht_lookups_free(struct knit_dht *dht);
/* A lookup went into key's bucket, or a server there showed it is alive. */
void dht_note_bucket_fresh(struct knit_dht *dht,
                          const struct knit_dht_key *key, uint64_t now);
/* dht_publish.c */
/* Publishes our record: on a server that looked its own key up lately,
 * PUT straight to the k closest in the table that lack it; else a lookup
 * of our own key that PUTs when it ends. */
int dht_publish(struct knit_dht *dht, uint64_t now);
/* The publishing lookup lk ended: PUT the record at the closest. */
void dht_publish_lookup_done(struct knit_dht *dht, struct dht_lookup *lk,
                             uint64_t now);
/* A lookup of our own key other than a publishing one (the refresh's)
 * ended: the table knows the closest afresh. */
void dht_publish_own_key_looked_up(struct knit_dht *dht, uint64_t now);
/* Our record changed: every server is to be sent it again. */
void dht_publish_record_changed(struct knit_dht *dht);
/* The next publish looks up our key again (a join, an emptied table). */
void dht_publish_forget_closest(struct knit_dht *dht);
void dht_refresh(struct knit_dht *dht, uint64_t now);

#endif
