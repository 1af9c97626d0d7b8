/* The private node's reservation keeper: which relays to hold reservations
 * on, when to refresh them, and whom to avoid for a while. Pure decisions:
 * the node glue reports what happens (a public peer offering hop, an answer
 * to RESERVE, a session gone) and asks knit_relay_client_next() which
 * RESERVE to send.
 *
 * Policy:
 *   - Keep `want` reservations (2: one relay lost leaves one while a
 *     replacement is found). New ones go to the lowest-RTT candidate that is
 *     neither backed off nor already asked; an unknown RTT (0) sorts last,
 *     ties by peer ID.
 *   - Refresh a reservation once 3/4 of its TTL has passed, so a lost
 *     refresh still leaves time for another relay before it lapses.
 *   - A relay that refuses, or does not answer within request_timeout_us, is
 *     backed off for retry_us, doubling on each failure up to retry_max_us;
 *     PERMISSION_DENIED (it will never serve us) backs off for retry_max_us
 *     at once. Success clears the backoff. A failed refresh loses the
 *     reservation, so a replacement is sought at once.
 *   - A forgotten relay (session gone) loses its reservation and stops being
 *     a candidate until added again; its backoff, if still running, is kept
 *     so that a flapping session does not reset it.
 * Memory: an entry of about 250 bytes per relay known, at most
 * max_candidates, the table growing as relays turn up.
 * Times are microseconds. */
#ifndef KNIT_RELAY_CLIENT_H
#define KNIT_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/multiaddr.h"
#include "proto/peer_id.h"
#include "relay/relay_msg.h"
#include "transport/io.h"

#define KNIT_RELAY_CLIENT_MAX_CANDIDATES 4096

/* 0 in a field: its default, given in parentheses. */
struct knit_relay_client_config {
    uint32_t want;                  /* reservations to keep (2) */
    uint32_t max_candidates;        /* relays remembered (32) */
    uint64_t retry_us;              /* first backoff (60 s) */
    uint64_t retry_max_us;          /* backoff cap (30 min) */
    uint64_t request_timeout_us;    /* RESERVE unanswered: failed (20 s) */
};

void knit_relay_client_config_default(struct knit_relay_client_config *c);

struct knit_relay_client;

/* cfg NULL, or any field of it 0: the defaults. KNIT_E_INVAL for
 * max_candidates over KNIT_RELAY_CLIENT_MAX_CANDIDATES or retry_max_us <
 * retry_us; KNIT_E_NOMEM. (A node that wants no reservation has no
 * client.) */
int knit_relay_client_new(struct knit_relay_client **out,
                          const struct knit_relay_client_config *cfg);
void knit_relay_client_free(struct knit_relay_client *c);

/* A peer offering hop (a public peer whose identify lists
 * KNIT_RELAY_HOP_PROTOCOL), with its RTT (0 = unknown; a known RTT is kept
 * over a later 0). When the table is full, it takes the place of a forgotten
 * entry, or else of the worst idle candidate if it is better; otherwise it is
 * not remembered. */
void knit_relay_client_candidate(struct knit_relay_client *c,
                                 const struct knit_peer_id *relay,
                                 uint64_t rtt_us, uint64_t now);
/* The session to relay is gone: its reservation (and any request) is lost. */
void knit_relay_client_forget(struct knit_relay_client *c,
                              const struct knit_peer_id *relay, uint64_t now);
/* STATUS OK to a RESERVE: held until expires_at (microseconds), reachable
 * at relay_addrs (UDP endpoints; any naming another peer with /p2p is
 * skipped; at most KNIT_RELAY_MAX_ADDRS are kept). Ignored for a relay not
 * (or no longer) a candidate; an expires_at not after now counts as a
 * failure. */
void knit_relay_client_reserved(struct knit_relay_client *c,
                                const struct knit_peer_id *relay,
                                uint64_t expires_at,
                                const struct knit_multiaddr *relay_addrs,
                                size_t n, uint64_t now);
/* Any other STATUS to a RESERVE (or an unusable answer): back off. */
void knit_relay_client_refused(struct knit_relay_client *c,
                               const struct knit_peer_id *relay,
                               uint16_t status, uint64_t now);

/* The next RESERVE to send now: a refresh of a reservation past 3/4 of its
 * TTL first, else a new relay if fewer than `want` are held or asked. True
 * with *relay set, and that relay marked pending until
 * reserved/refused/forget or request_timeout_us. Call until false. */
bool knit_relay_client_next(struct knit_relay_client *c, uint64_t now,
                            struct knit_peer_id *relay);
/* When knit_relay_client_next() may next have something to do (a refresh,
 * a request timeout, an expiry, a backoff ending while reservations are
 * missing); possibly already past. KNIT_NO_DEADLINE if nothing. */
uint64_t knit_relay_client_deadline(const struct knit_relay_client *c);

/* The relays holding a reservation for us, best RTT first (at most cap);
 * returns how many were written. */
size_t knit_relay_client_active(const struct knit_relay_client *c,
                                struct knit_peer_id *relays, size_t cap);
bool knit_relay_client_is_relay(const struct knit_relay_client *c,
                                const struct knit_peer_id *relay);
/* The UDP endpoints of a relay holding a reservation for us (at most cap);
 * returns how many were written, 0 if it holds none. */
size_t knit_relay_client_addrs(const struct knit_relay_client *c,
                               const struct knit_peer_id *relay,
                               struct knit_addr *out, size_t cap);

/* /ipX/<ip>/udp/<port>/p2p/<relay>/p2p-circuit/p2p/<target>: the address
 * at which target is reached through relay, for its record and identify. */
int knit_relay_circuit_addr(struct knit_multiaddr *out,
                            const struct knit_addr *relay_addr,
                            const struct knit_peer_id *relay,
                            const struct knit_peer_id *target);

#endif
