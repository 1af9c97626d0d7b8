/* One iterative Kademlia lookup, as a state machine with no I/O.
 *
 * The lookup keeps a shortlist of candidates ordered by XOR distance to the
 * target. The engine (dht/dht.c) asks it which peer to query next (at most
 * alpha in flight), sends the request, and reports the answer (with the
 * closer peers it named), a failure, or nothing: a request without an answer
 * after request_timeout_us counts as failed. The lookup is over when the
 * beta closest candidates not known to have failed have all answered (so
 * nobody closer is left to ask: DESIGN.md §5), when no candidate is left to
 * ask, or at the overall deadline; the engine may also stop it early (a
 * record was found).
 *
 * Hops: seeds (from our own table) are hop 1; a peer first named by an
 * answer from a hop-h peer is hop h+1. The lookup's hop count is the
 * largest hop among the answered peers that decided the result (the beta
 * closest; or the one that returned the record). Queries: requests sent.
 *
 * Status is re-decided by every call that changes a candidate, so after
 * answered() or failed() it is already DONE or EXHAUSTED where it should
 * be; only request timeouts wait for update(). Once over, the lookup ignores
 * everything but the read-only calls. */
#ifndef KNIT_DHT_LOOKUP_H
#define KNIT_DHT_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/key.h"
#include "dht/rpc.h"

/* Candidates kept: enough for k closest plus those being asked. */
#define KNIT_DHT_LOOKUP_MAX 64

struct knit_dht_lookup_config {
    uint32_t alpha;                 /* 0: 3 */
    uint32_t beta;                  /* 0: 3 */
    uint64_t request_timeout_us;    /* 0: 5 s */
    uint64_t deadline_us;           /* after start; 0: 60 s */
};

enum knit_dht_cand_state {
    KNIT_DHT_CAND_NEW = 0,
    KNIT_DHT_CAND_ASKING,
    KNIT_DHT_CAND_ANSWERED,
    KNIT_DHT_CAND_FAILED,
};

struct knit_dht_candidate {
    struct knit_dht_peer_info peer;
    struct knit_dht_key key;
    uint8_t state;                  /* enum knit_dht_cand_state */
    uint16_t hop;
    uint64_t sent_at;
};

enum knit_dht_lookup_status {
    KNIT_DHT_LOOKUP_RUNNING = 0,
    KNIT_DHT_LOOKUP_DONE,           /* the beta closest answered */
    KNIT_DHT_LOOKUP_EXHAUSTED,      /* nobody left to ask */
    KNIT_DHT_LOOKUP_TIMED_OUT,      /* the overall deadline passed */
};

struct knit_dht_lookup {
    struct knit_dht_lookup_config cfg;
    struct knit_dht_key target;
    struct knit_peer_id self;       /* never a candidate */
    struct knit_dht_candidate cand[KNIT_DHT_LOOKUP_MAX];
    size_t count;                   /* sorted by distance to target */
    uint64_t started;
    uint32_t queries, answers, failures;
    uint8_t status;                 /* enum knit_dht_lookup_status */
};

void knit_dht_lookup_init(struct knit_dht_lookup *l,
                          const struct knit_dht_key *target,
                          const struct knit_peer_id *self,
                          const struct knit_dht_lookup_config *cfg,
                          uint64_t now);
/* Adds a candidate (ignored: ourselves, one without an address, one already
 * there, or one farther than all KNIT_DHT_LOOKUP_MAX kept when the list is
 * full; then the farthest not being asked makes room). A peer already there
 * keeps the hop it was first added with. */
void knit_dht_lookup_add(struct knit_dht_lookup *l,
                         const struct knit_dht_peer_info *peer, uint16_t hop);
/* The next peer to ask, or NULL (alpha in flight, nobody left, or over).
 * The candidate is marked ASKING from now and counted as a query. */
const struct knit_dht_candidate *
knit_dht_lookup_next(struct knit_dht_lookup *l, uint64_t now);
/* peer answered, naming closer peers (each becomes a candidate at its hop
 * + 1). Ignored unless peer is ASKING. */
void knit_dht_lookup_answered(struct knit_dht_lookup *l,
                              const struct knit_peer_id *peer,
                              const struct knit_dht_peer_info *closer,
                              size_t n, uint64_t now);
/* peer will not answer (its session failed, or it refused). Ignored unless
 * peer is ASKING. */
void knit_dht_lookup_failed(struct knit_dht_lookup *l,
                            const struct knit_peer_id *peer, uint64_t now);
/* Fails requests older than request_timeout_us, applies the deadline and
 * returns the status. Call it after every other call and at
 * knit_dht_lookup_deadline(). Failed candidates are reported through
 * timed_out (may be NULL), at most cap of them; *n_timed_out (may be NULL)
 * the number written. At most alpha requests are ever in flight, so a cap
 * of alpha never loses one. */
enum knit_dht_lookup_status
knit_dht_lookup_update(struct knit_dht_lookup *l, uint64_t now,
                       struct knit_peer_id *timed_out, size_t cap,
                       size_t *n_timed_out);
/* Ends the lookup now, with status DONE (the engine found what it wanted). */
void knit_dht_lookup_finish(struct knit_dht_lookup *l);
/* Reopens a lookup that ended DONE without what the engine wanted, to go on
 * until the beta closest (a larger beta than before) have answered; the
 * status is decided again at once, so it may stay DONE or become
 * EXHAUSTED. Does nothing unless the lookup is DONE and beta is larger.
 * Call it as soon as the lookup turned DONE: answers that arrive while it
 * is over are dropped, not kept for later. */
void knit_dht_lookup_widen(struct knit_dht_lookup *l, uint32_t beta,
                           uint64_t now);
/* When update must next run: the earliest request timeout or the overall
 * deadline; UINT64_MAX when over. */
uint64_t knit_dht_lookup_deadline(const struct knit_dht_lookup *l);
/* The up to n answered candidates closest to the target, closest first. */
size_t knit_dht_lookup_closest(const struct knit_dht_lookup *l,
                               const struct knit_dht_candidate **out,
                               size_t n);
/* The hop count as defined above: the largest hop among the up to beta
 * closest answered candidates (0 when nobody answered). A lookup finished
 * on a record takes the hop of the peer that returned it instead, which the
 * engine reads from knit_dht_lookup_find(). */
uint16_t knit_dht_lookup_hops(const struct knit_dht_lookup *l);
/* The candidate for peer, or NULL. */
const struct knit_dht_candidate *
knit_dht_lookup_find(const struct knit_dht_lookup *l,
                     const struct knit_peer_id *peer);

#endif
