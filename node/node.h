/* The node core: one knit node as a value, with no I/O of its own.
 *
 * A driver (transport/uv_driver.c for the daemon, sim/ for the simulator)
 * owns the sockets and the clock. It creates the node with a struct knit_io,
 * tells it which sockets it listens on, and then calls knit_node_receive()
 * for each datagram, knit_node_timeout() when the deadline from
 * knit_node_next_deadline() has passed, and the latter again to re-arm its
 * timer after any call into the node. Many nodes can live in one process;
 * there is no global state.
 *
 * The node keeps one secure session (proto/session.h) per peer and serves
 * protocols itself: /knit/ping/1 (echo), /knit/bench/1 (a sink that
 * answers with the byte count) and, in DHT server mode, /knit/dht/1
 * (dht/dht.h, carried by node/node_dht.c). Streams of the protocols the
 * embedder registered reach it as events; any other stream is refused. */
#ifndef KNIT_NODE_H
#define KNIT_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "node/bootstrap_list.h"
#include "node/observed.h"
#include "relay/hop.h"
#include "proto/identity.h"
#include "proto/session.h"
#include "transport/io.h"

#define KNIT_NODE_MAX_SOCKETS 8
#define KNIT_PROTOCOL_PING "/knit/ping/1"
#define KNIT_PROTOCOL_BENCH "/knit/bench/1"
#define KNIT_NODE_MIN_WINDOW (64u << 10)

struct knit_node_config {
    /* The node keeps its own copy and wipes it when freed. */
    const struct knit_identity *identity;
    /* Wall clock at creation, µs since the Unix epoch (hello timestamps). */
    uint64_t unix_time_us;
    /* Protocols the embedder serves (NULL-terminated list, or NULL). */
    const char *const *protocols;
    /* NULL: knit_session_config_default(). */
    const struct knit_session_config *session;
    /* Handshake initiations per second above which a cookie round trip is
     * demanded first (0: 100). */
    uint32_t handshake_load_threshold;
    /* Slots of the per-source handshake rate limit (proto/ratelimit.h),
     * 16 bytes each, allocated when the first initiation arrives. 0: 4096
     * (64 KiB), enough to tell apart the sources of a flood; rounded up to
     * a power of two, at least 8; over KNIT_RATELIMIT_MAX_SLOTS is
     * KNIT_E_INVAL. A simulator running thousands of nodes, none of them
     * flooded, picks a small one (64 slots: 1 KiB). */
    uint32_t handshake_ratelimit_slots;
    /* Most sessions at once (0: 4096); new initiations beyond are ignored. */
    uint32_t max_sessions;
    /* Unread received data the node may hold across all its sessions
     * (0: 256 MiB). Each new session is granted what is left of it, never
     * less than KNIT_NODE_MIN_WINDOW, so the total stays below budget +
     * max_sessions * KNIT_NODE_MIN_WINDOW whatever the peers do. */
    uint64_t receive_budget;
    /* DHT server or client (KNIT_DHT_MODE_AUTO: a server once
     * knit_node_set_addresses gave it a global address). */
    enum knit_dht_mode dht_mode;
    /* NULL: the DHT's defaults. */
    const struct knit_dht_config *dht;
    /* Caches an embedder running many nodes in one process (the
     * simulator) may share between them; the node never frees them, and
     * they must outlive it. Neither changes what a node accepts or sends.
     * record_cache (proto/record_cache.h): record envelopes whose
     * signature verified, shared so that a record is checked once per
     * process rather than once per node. NULL: the node keeps one of its
     * own, KNIT_RECORD_CACHE_DEFAULT_SLOTS (4 KiB), for the records it
     * meets again (hello, then PUT, then lookup answers).
     * key_cache (proto/key_cache.h): Ed25519 to X25519 key conversions,
     * one per handshake on each side. NULL: every conversion is made. */
    struct knit_record_cache *record_cache;
    struct knit_key_cache *key_cache;
    /* The relay hop service's limits per peer class and its allow list
     * (relay/hop.h), used when the node is public; NULL: the defaults.
     * The allow list is copied. */
    const struct knit_relay_config *relay;
    /* Distinct observer IPs that must report an address before we trust
     * it (node/observed.h; 0: 3). Fewer will do in a network that has
     * fewer, with low confidence. */
    uint32_t min_observers;
};

struct knit_node_stats {
    uint64_t packets_received;
    uint64_t bytes_received;
    uint64_t packets_dropped;     /* malformed, unknown, failed to open */
    uint64_t cookies_sent;
    uint64_t handshakes_rate_limited;
    uint32_t sessions;
    uint32_t dht_streams_in, dht_streams_out;   /* DHT requests under way */
};

struct knit_node;

int knit_node_new(struct knit_node **out, const struct knit_node_config *cfg,
                  const struct knit_io *io, uint64_t now);
/* Makes no io call: sockets the node opened through io->open_socket (the
 * alternate port, the AutoNAT dial-back socket) are the driver's to close
 * with the rest of its sockets, before or after. */
void knit_node_free(struct knit_node *node);

/* Tells the node about a socket the driver listens on, and its local
 * address (possibly unspecified, 0.0.0.0 / ::). */
int knit_node_add_socket(struct knit_node *node, int sock,
                         const struct knit_addr *local);

/* Hands the node one datagram that arrived on sock. Returns 0 when it was
 * accepted or a negative code saying why it was dropped; either way the
 * driver simply carries on. */
int knit_node_receive(struct knit_node *node, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len);
/* Runs whatever timers have expired by now. */
void knit_node_timeout(struct knit_node *node, uint64_t now);
/* When the node next wants knit_node_timeout(), in the same clock as now;
 * KNIT_NO_DEADLINE when it has nothing pending. */
uint64_t knit_node_next_deadline(const struct knit_node *node);

const struct knit_peer_id *knit_node_peer_id(const struct knit_node *node);
void knit_node_get_stats(const struct knit_node *node,
                         struct knit_node_stats *out);

/* ---- peers and streams (for the embedder) ---------------------------------- */

/* Opens (or keeps) a session to peer at addr; KNIT_EVENT_PEER_UP follows
 * when it is established. The session is kept alive while wanted. */
int knit_node_connect(struct knit_node *node, const struct knit_peer_id *peer,
                      const struct knit_addr *addr, uint64_t now);
/* Closes the session to peer (a CLOSE, then KNIT_EVENT_PEER_DOWN). */
int knit_node_disconnect(struct knit_node *node,
                         const struct knit_peer_id *peer, uint64_t now);
bool knit_node_peer_is_up(const struct knit_node *node,
                          const struct knit_peer_id *peer);
/* Whether the session with peer runs through a relay circuit now. */
bool knit_node_peer_is_relayed(const struct knit_node *node,
                               const struct knit_peer_id *peer);
int knit_node_peer_stats(const struct knit_node *node,
                         const struct knit_peer_id *peer,
                         struct knit_session_stats *out);

/* Stream calls; KNIT_E_NOT_FOUND when there is no session up with peer or
 * no such stream. Writes and finishes are sent at once. */
int knit_node_open_stream(struct knit_node *node,
                          const struct knit_peer_id *peer,
                          const char *protocol, uint64_t now,
                          uint64_t *stream_id);
int knit_node_stream_write(struct knit_node *node,
                           const struct knit_peer_id *peer, uint64_t stream_id,
                           const uint8_t *data, size_t len, uint64_t now,
                           size_t *accepted);
int knit_node_stream_finish(struct knit_node *node,
                            const struct knit_peer_id *peer,
                            uint64_t stream_id, uint64_t now);
int knit_node_stream_read(struct knit_node *node,
                          const struct knit_peer_id *peer, uint64_t stream_id,
                          uint8_t *buf, size_t cap, size_t *n, bool *fin,
                          uint64_t now);
int knit_node_stream_reset(struct knit_node *node,
                           const struct knit_peer_id *peer, uint64_t stream_id,
                           uint64_t code, uint64_t now);

/* ---- addresses, the DHT, peers by ID ----------------------------------------- */

/* The addresses others can reach us at (no /p2p): signs a fresh peer record
 * (sequence number above every earlier one, also across restarts: it is
 * the wall-clock time in µs), carries it in new handshakes and publishes it
 * in the DHT. In auto mode, decides whether we serve the DHT. At most
 * KNIT_RECORD_MAX_ADDRS. */
int knit_node_set_addresses(struct knit_node *node,
                            const struct knit_addr *addrs, size_t n,
                            uint64_t now);
/* Our signed record (NULL, 0 before knit_node_set_addresses). */
const uint8_t *knit_node_record(const struct knit_node *node, size_t *len);
/* Joins the DHT through these peers: dials 4 of them, picked at random,
 * looks up our own key through the first that serves, and dials the next
 * 4 (with backoff, from 5 s to 5 min) whenever the routing table is
 * empty. */
int knit_node_bootstrap(struct knit_node *node,
                        const struct knit_bootstrap_peer *peers, size_t n,
                        uint64_t now);
/* Looks up peer's signed record in the DHT; KNIT_EVENT_FOUND follows with
 * the same handle. KNIT_E_NOT_FOUND at once when we know no DHT server. */
int knit_node_find(struct knit_node *node, const struct knit_peer_id *peer,
                   uint64_t now, uint64_t *handle);
bool knit_node_dht_serving(const struct knit_node *node);

/* What the node knows of how the Internet sees it (identify, AutoNAT,
 * relays): for `knit status`. Enum values of proto/record.h; confidences
 * 0 (none) upwards, as node/observed.h and node/reachability.h define. */
struct knit_node_traversal {
    uint8_t reachability, reachability_confidence;
    uint32_t autonat_servers;          /* distinct server IPs that answered */
    uint8_t mapping, mapping_confidence;
    bool behind_nat, sequential;
    uint8_t filtering, filtering_confidence;
    size_t observed_count;
    struct knit_observed_entry observed[8];
    size_t relay_count;                /* our relayed addresses */
    struct knit_multiaddr relays[4];
    uint16_t alt_port;                 /* 0: no alternate socket */
    uint32_t reservations_served, circuits_served;
    /* Since the node started, as a relay: circuits opened through us and
     * circuit bytes we copied. */
    uint64_t circuits_relayed_total, bytes_relayed_total;
    /* Hole punching since the node started: attempts (ours and the
     * peers'), those that ended on a direct path, those that failed;
     * probes sent and birthday sockets opened. */
    uint64_t punch_attempts, punch_direct, punch_failed;
    uint64_t punch_probes, punch_sockets;
    /* The gateway's port mapping of our main socket (knit_node_set_mapped),
     * family 0 if none. */
    struct knit_addr mapped;
};
void knit_node_traversal_status(struct knit_node *node, uint64_t now,
                                struct knit_node_traversal *out);

/* What hole punching with peer came to: attempts, failures, successes,
 * the time from the start of the last successful attempt to the direct
 * path, whether one is under way and why the last one failed ("" if none
 * did). KNIT_E_NOT_FOUND if the node never punched with peer (or has
 * forgotten: it remembers the last 64 peers). */
struct knit_node_punch {
    uint32_t attempts, failures, successes;
    uint64_t time_to_direct_us;
    bool in_progress;
    char reason[160];
};
int knit_node_punch_info(struct knit_node *node,
                         const struct knit_peer_id *peer,
                         struct knit_node_punch *out);

/* The gateway mapped our main socket's port (UPnP-IGD, NAT-PMP or PCP) to
 * mapped; NULL: the mapping is gone. The address is offered to peers as a
 * hole-punching candidate at once. */
void knit_node_set_mapped(struct knit_node *node,
                          const struct knit_addr *mapped, uint64_t now);

/* Dials peer by its signed record (from knit_node_find): every direct
 * address at once, and, when the record lists relayed addresses, a
 * circuit through up to two of its relays as well; the session keeps
 * whichever path answers first. *attempts says how many were started
 * (0: nothing in the record could be dialled). */
int knit_node_connect_record(struct knit_node *node,
                             const struct knit_peer_record *rec,
                             uint64_t now, size_t *attempts);

/* Diagnostics and tests: tap is called with every chunk of circuit bytes
 * this node copies as a relay, that is, all a relay can see of the
 * circuits it carries; NULL stops it. */
typedef void (*knit_node_relay_tap_fn)(void *ctx, const uint8_t *bytes,
                                       size_t len);
void knit_node_set_relay_tap(struct knit_node *node,
                             knit_node_relay_tap_fn tap, void *ctx);

/* Opens (or adds a path to) a session with peer through a circuit on
 * relay, which must hold a reservation of peer's (its record lists
 * /p2p/<relay>/p2p-circuit). The relay is dialed at relay_addr first
 * unless a session with it is up. KNIT_EVENT_PEER_UP follows, or
 * KNIT_EVENT_PEER_DOWN with KNIT_E_REFUSED and the relay's reason. The
 * end-to-end session runs inside the circuit: the relay sees only its
 * ciphertext. */
int knit_node_connect_relayed(struct knit_node *node,
                              const struct knit_peer_id *peer,
                              const struct knit_peer_id *relay,
                              const struct knit_addr *relay_addr,
                              uint64_t now);
/* The DHT engine, to read its table, store and statistics. */
const struct knit_dht *knit_node_dht(const struct knit_node *node);

/* The routing table and the record store as bytes for the daemon's
 * dht.state file (dht/state.h), and back: restored peers are unverified
 * (one failed request removes them) and restored records are checked
 * again. A damaged file stops the read at the damage with its error; what
 * came before it is kept. knit_node_bootstrap then starts from them. */
struct knit_dht_state_writer;
int knit_node_save_dht(const struct knit_node *node, uint64_t now,
                       struct knit_dht_state_writer *w);
int knit_node_restore_dht(struct knit_node *node, const uint8_t *state,
                          size_t len, uint64_t now, size_t *peers,
                          size_t *records);

struct knit_node_peer {
    struct knit_peer_id id;
    struct knit_addr addr;        /* the active path */
    uint64_t srtt_us;             /* 0: not measured yet */
    bool dht_server;              /* its hello lists /knit/dht/1 */
    bool relayed;                 /* the active path is a relay circuit */
    struct knit_peer_id relay;    /* ...through this relay (addr is its) */
};
/* The peers with a session up, at most cap of them; returns how many were
 * written. */
size_t knit_node_peers(const struct knit_node *node,
                       struct knit_node_peer *out, size_t cap);

#endif
