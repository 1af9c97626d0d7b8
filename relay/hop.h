/* The hop service's bookkeeping: who holds a reservation on this relay, which
 * circuits run through it, and what each may still do. No I/O: the node glue
 * reads the hop streams, asks here, writes the answers and copies the
 * circuit bytes, calling knit_relay_hop_account() as it goes.
 *
 * Peer classes: a peer on the config's allow list is "allowed", every other
 * peer is "anyone"; each class has its own struct knit_relay_limits.
 *
 * Defaults (knit_relay_config_default), and why. This relay is not only the
 * rendezvous of a hole punch (libp2p's 2 minutes and 128 KiB): for peers
 * behind two hard NATs it is the permanent path, and MPyC computations over it
 * run for an hour or more. So:
 *   anyone:  reservation 3600 s (refreshed at 3/4, every 45 min: few
 *            messages, and a vanished peer's slot is back within the hour),
 *            16 circuits per peer (a party of a computation with a dozen
 *            peers, plus hole-punch attempts), 1 GiB and 2 h per circuit
 *            (an hour-long computation with margin, 1 GiB being over 2
 *            Mbit/s for the hour, while one stranger's circuit still costs
 *            the operator a bounded amount);
 *   allowed: reservation 3600 s, 64 circuits per peer, no byte or time limit
 *            (the operator vouches for these peers);
 *   totals:  256 reservations, 512 circuits; per IP 8 reservations and 32
 *            circuits, so one address (one NAT, one attacker) cannot take
 *            more than a small share of either table.
 * Memory: about 64 bytes per reservation and 160 per circuit slot, the
 * tables growing as needed up to the maxima (under 100 KiB with the
 * defaults), so an idle relay costs little.
 *
 * Rules:
 *   - A class with reservation_ttl_s 0 gets no reservations, and one with
 *     circuits_per_peer 0 opens no circuits (PERMISSION_DENIED): with both 0
 *     for anyone, the relay serves the allow list only.
 *   - Per-IP caps count anyone-class reservations and circuit ends only: an
 *     allowed peer is neither limited by nor counted against its IP, so many
 *     allowed peers behind one NAT are fine. IPv6 addresses count by /64,
 *     the block one host usually holds.
 *   - A circuit counts against both ends: its source's and its target's
 *     per-peer count and, once per distinct IP, their per-IP counts.
 *   - A circuit's limit is the stricter of the two ends' classes, field by
 *     field (0 = unlimited is the loosest): allowed limits apply only when
 *     both ends are allowed, because the relay pays for every byte it copies
 *     and an end off the list cannot be trusted to stop.
 *   - Reservations refused: RESERVATION_REFUSED (table full, per-IP cap),
 *     PERMISSION_DENIED (the class gets none). Circuits refused:
 *     PERMISSION_DENIED (src == dst, or either end's class opens none),
 *     NO_RESERVATION (the target holds none, or it expired),
 *     RESOURCE_LIMIT_EXCEEDED (a per-peer, per-IP or total cap).
 *   - Circuits outlive the reservation of their target; only their own limits
 *     end them.
 * Times are microseconds (the core's `now`); limits are in seconds. */
#ifndef KNIT_RELAY_HOP_H
#define KNIT_RELAY_HOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/peer_id.h"
#include "relay/relay_msg.h"
#include "transport/io.h"

/* Per peer class. */
struct knit_relay_limits {
    uint32_t reservation_ttl_s;     /* 0: the class gets no reservation */
    uint32_t circuits_per_peer;     /* 0: the class opens no circuit */
    uint64_t circuit_bytes;         /* both directions; 0 = unlimited */
    uint32_t circuit_seconds;       /* 0 = unlimited */
};

/* Upper bound on max_reservations and max_circuits (a sanity check on
 * configuration, far above any real relay). */
#define KNIT_RELAY_HOP_MAX_TABLE (1u << 20)

struct knit_relay_config {
    uint32_t max_reservations;
    uint32_t max_circuits;
    uint32_t reservations_per_ip;
    uint32_t circuits_per_ip;
    struct knit_relay_limits anyone;
    struct knit_relay_limits allowed;
    /* Copied by knit_relay_hop_new(); need not outlive it. */
    const struct knit_peer_id *allow;
    size_t allow_count;
};

void knit_relay_config_default(struct knit_relay_config *c);

struct knit_relay_hop;

/* KNIT_E_INVAL for a NULL argument, a table size of 0 or over
 * KNIT_RELAY_HOP_MAX_TABLE, or an allow list that is NULL with a count;
 * KNIT_E_NOMEM. */
int knit_relay_hop_new(struct knit_relay_hop **out,
                       const struct knit_relay_config *cfg);
void knit_relay_hop_free(struct knit_relay_hop *hop);

bool knit_relay_hop_is_allowed(const struct knit_relay_hop *hop,
                               const struct knit_peer_id *peer);

/* A new reservation, or a refresh of the peer's own (which keeps its one
 * slot, moves it to `from`'s IP and restarts its TTL). On OK, *expires_at
 * (microseconds) and *limit (the circuit limit of the peer's class: what a
 * circuit to it gets at best) are set; otherwise they are left alone and a
 * refusal code is returned. An expired reservation still in the table
 * counts as absent. */
uint16_t knit_relay_hop_reserve(struct knit_relay_hop *hop,
                                const struct knit_peer_id *peer,
                                const struct knit_addr *from, uint64_t now,
                                uint64_t *expires_at,
                                struct knit_relay_limit *limit);
bool knit_relay_hop_reserved(const struct knit_relay_hop *hop,
                             const struct knit_peer_id *peer, uint64_t now);
/* The peer's session is gone, or it asked: its reservation (if any) goes. */
void knit_relay_hop_unreserve(struct knit_relay_hop *hop,
                              const struct knit_peer_id *peer);

/* A circuit from src (seen at src_addr) to dst. On OK, *circuit is its
 * handle (never 0) and *limit what it may carry; otherwise a refusal code. */
uint16_t knit_relay_hop_open(struct knit_relay_hop *hop,
                             const struct knit_peer_id *src,
                             const struct knit_addr *src_addr,
                             const struct knit_peer_id *dst, uint64_t now,
                             uint32_t *circuit,
                             struct knit_relay_limit *limit);
/* Counts bytes about to be copied on circuit, in either direction. True if
 * they fit the circuit's byte limit; false if they would pass it (they are
 * not counted: the caller drops them and closes the circuit) or the circuit
 * is unknown. */
bool knit_relay_hop_account(struct knit_relay_hop *hop, uint32_t circuit,
                            size_t bytes);
/* Frees the circuit's slot; unknown handles are ignored. */
void knit_relay_hop_close(struct knit_relay_hop *hop, uint32_t circuit);

/* The earliest reservation expiry or circuit duration end still to be acted
 * on; KNIT_NO_DEADLINE if none. */
uint64_t knit_relay_hop_next_deadline(const struct knit_relay_hop *hop);
/* Drops the reservations expired at now, and reports each circuit past its
 * duration once through circuit_over (which may call knit_relay_hop_close;
 * the caller must close it, now or later). circuit_over may be NULL. */
void knit_relay_hop_expire(struct knit_relay_hop *hop, uint64_t now,
                           void (*circuit_over)(void *ctx, uint32_t circuit),
                           void *ctx);

struct knit_relay_hop_stats {
    uint32_t reservations;     /* held now */
    uint32_t circuits;         /* open now */
    uint64_t circuits_total;   /* opened since start */
    uint64_t bytes_relayed;    /* accepted by knit_relay_hop_account */
    uint64_t refused;          /* reservations and circuits refused */
};

void knit_relay_hop_get_stats(const struct knit_relay_hop *hop,
                              struct knit_relay_hop_stats *out);
/* The reservations held (expired ones included until the next
 * knit_relay_hop_expire), up to cap of them; returns how many were written. */
size_t knit_relay_hop_list(const struct knit_relay_hop *hop,
                           struct knit_peer_id *peers, uint64_t *expires_at,
                           size_t cap);

#endif
