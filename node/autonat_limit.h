/* The AutoNAT server's rate limits.
 *
 * Every request costs the server a packet sent somewhere on the requester's
 * behalf, so it is limited three ways, each a token bucket (GCRA: one
 * number per bucket, the time at which it is full again):
 *   - per requesting peer, OBSERVE and DIAL_BACK: 1 per 10 s, burst 3
 *     (a client's round is an OBSERVE and a DIAL_BACK of each kind);
 *   - per delegating peer, DIAL_FOR (we act as another server's helper):
 *     1 per 2 s, burst 3;
 *   - globally, all of them together: 20 per second, burst 40.
 * A request passes only when its peer's bucket and the global bucket both
 * have room, and only then is it counted in both; a refused request costs
 * no token (but still counts as the peer's latest activity).
 *
 * Peers are keyed by peer ID (requests arrive over authenticated sessions),
 * in a fixed table (default 256 (peer, kind) entries). When a new peer needs
 * an entry: a free one, else the least recently active one whose bucket has
 * refilled (its owner would get a full bucket back anyway, so nothing is
 * given away), else the least recently active one, whose bucket the
 * newcomer takes over as it stands, debt included. Peer IDs cost nothing to
 * make, so a fresh ID must not mean a fresh burst: with this rule churning
 * IDs through the table mints no tokens beyond what its buckets refill on
 * their own, and the global bucket bounds the total whatever happens. An
 * honest newcomer pays the debt only while all entries are busy, that is
 * under a flood.
 *
 * Sans-IO: time comes in as now (µs). */
#ifndef KNIT_AUTONAT_LIMIT_H
#define KNIT_AUTONAT_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/peer_id.h"

#define KNIT_AUTONAT_LIMIT_DEFAULT_PEERS 256
#define KNIT_AUTONAT_LIMIT_MAX_PEERS 65536
#define KNIT_AUTONAT_LIMIT_REQUEST_INTERVAL (UINT64_C(10) * 1000000)
#define KNIT_AUTONAT_LIMIT_REQUEST_BURST 3
#define KNIT_AUTONAT_LIMIT_DIAL_FOR_INTERVAL (UINT64_C(2) * 1000000)
#define KNIT_AUTONAT_LIMIT_DIAL_FOR_BURST 3
#define KNIT_AUTONAT_LIMIT_GLOBAL_PER_SECOND 20
#define KNIT_AUTONAT_LIMIT_GLOBAL_BURST 40

enum knit_autonat_limit_kind {
    KNIT_AUTONAT_LIMIT_REQUEST = 0,    /* OBSERVE, DIAL_BACK */
    KNIT_AUTONAT_LIMIT_DIAL_FOR = 1,   /* DIAL_FOR */
};

/* Zero fields take the defaults above. */
struct knit_autonat_limit_config {
    uint64_t request_interval;     /* µs one request costs a peer */
    uint32_t request_burst;
    uint64_t dial_for_interval;
    uint32_t dial_for_burst;
    uint32_t global_per_second;
    uint32_t global_burst;
    uint32_t peers;                /* table entries */
};

struct knit_autonat_limit;

/* cfg NULL: defaults. KNIT_E_INVAL (NULL out, peers over
 * KNIT_AUTONAT_LIMIT_MAX_PEERS), KNIT_E_NOMEM. */
int knit_autonat_limit_new(struct knit_autonat_limit **out,
                           const struct knit_autonat_limit_config *cfg);
void knit_autonat_limit_free(struct knit_autonat_limit *lim);

/* True if one more request of this kind from peer may be served now (and
 * counts it). False when over a limit, and for NULL arguments or an
 * unknown kind. */
bool knit_autonat_limit_allow(struct knit_autonat_limit *lim,
                              const struct knit_peer_id *peer,
                              enum knit_autonat_limit_kind kind, uint64_t now);

#endif
