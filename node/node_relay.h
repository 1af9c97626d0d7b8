/* Circuit relay inside the node core: the streams of /knit/relay/hop/1 and
 * /knit/relay/stop/1 at all three places a circuit touches.
 *
 *   relay   (node_relay.c)    serves hop: reservations, and circuits it
 *                             splices by copying one stream into the other;
 *   dialer  (node_circuit.c)  asks a relay for a circuit to a peer;
 *   target  (node_circuit.c)  accepts a relay's stop stream for a peer
 *                             whose reservation it holds.
 *
 * At both ends a circuit is a virtual socket: the node sends an inner
 * session's datagrams into the stream ([2-byte length][packet]) and feeds
 * what comes out to knit_node_receive() under the same socket handle. So
 * the end-to-end session is an ordinary session with a path whose socket
 * happens to be a circuit; the relay sees only its ciphertext, and a
 * direct path found later (hole punching) is just another path.
 *
 * Circuits never nest: hop and stop are refused over a relayed session. */
#ifndef KNIT_NODE_RELAY_H
#define KNIT_NODE_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "node/node.h"
#include "proto/peer_id.h"
#include "proto/session.h"
#include "relay/client.h"
#include "relay/hop.h"
#include "relay/relay_msg.h"

/* Socket handles at and above this are circuits (relay_stream index
 * added); real sockets are the driver's small integers. */
#define NODE_CIRCUIT_SOCK_BASE 0x40000000
/* Relay streams of a node at once: two per circuit it relays, one per
 * circuit it is an end of, and the control streams. */
#define NODE_MAX_RELAY_STREAMS 1024
/* A relay stream's message or datagram must arrive whole within this. */
#define NODE_RELAY_MESSAGE_TIMEOUT (10 * 1000000ull)

enum relay_stream_kind {
    RS_HOP_IN = 1,     /* relay: a peer's hop stream (RESERVE or CONNECT) */
    RS_STOP_OUT,       /* relay: our stop stream to a circuit's target */
    RS_RESERVE_OUT,    /* private node: our RESERVE on a relay */
    RS_CONNECT_OUT,    /* dialer: our CONNECT on a relay */
    RS_STOP_IN,        /* target: a relay's stop stream to us */
};

enum relay_stream_state {
    RS_READING = 1,    /* the one control message is coming in */
    RS_WAITING,        /* relay, hop side: for the target's answer */
    RS_SPLICED,        /* relay: copying to and from `other` */
    RS_CIRCUIT,        /* an end: datagrams of an inner session */
    RS_DONE,           /* answered and finished; waiting for CLOSED */
};

struct relay_stream {
    struct knit_session *session;     /* the carrier; NULL = free slot */
    uint64_t stream_id;
    uint8_t kind, state;
    bool busy;                        /* being read: do not release */
    bool closed;                      /* CLOSED or RESET came while busy */
    uint8_t hdr[4];                   /* length prefix being read */
    uint32_t hdr_have, body_len, body_have;
    uint8_t *body;                    /* message or datagram being read */
    bool dropping;                    /* relay: this frame is not copied */
    int other;                        /* paired stream (relay), else -1 */
    uint32_t circuit;                 /* relay: the hop's circuit id */
    uint64_t deadline;                /* READING/WAITING: give up then */
    struct knit_peer_id peer;         /* the far end of the circuit */
    struct knit_addr relay_addr;      /* ends: the carrier's path */
    int circuit_sock;                 /* ends: the virtual socket */
};

/* Bytes a circuit may have waiting to be sent on a carrier stream, at an
 * end or at the relay: a datagram beyond it is dropped, as a router drops
 * one, so that the inner session's congestion control sees a queue of a
 * few milliseconds and not a buffer of seconds (node/node_relay_splice.c). */
#define NODE_CIRCUIT_QUEUE_MAX (64 * 1024)

struct node_relay {
    struct relay_stream *streams;     /* NODE_MAX_RELAY_STREAMS at most */
    uint32_t stream_count;            /* slots allocated */
    struct knit_relay_hop *hop;       /* the hop service, when serving */
    struct knit_relay_config config;  /* its limits; allow list copied */
    struct knit_peer_id *allow;
    struct knit_relay_client *client; /* reservations we hold */
    bool serving;                     /* offer hop (public nodes) */
    bool want_reservations;           /* we are (likely) unreachable */
    uint64_t datagrams_dropped;       /* circuit full: the inner session
                                       * retransmits */
    uint32_t circuit_generation;      /* of circuit socket handles */
    knit_node_relay_tap_fn tap;       /* sees what we copy (tests) */
    void *tap_ctx;
    /* CONNECTs waiting for their relay's session to come up. */
    struct relay_pending {
        struct knit_peer_id relay, target;
        uint64_t deadline;
    } pending[16];
    uint32_t pending_count;
};

struct knit_node;

/* node_relay.c: the stream table and the relay's side. */
int node_relay_init(struct knit_node *node,
                    const struct knit_relay_config *cfg);
void node_relay_free(struct knit_node *node);
bool node_relay_open(struct knit_node *node, struct knit_session *s,
                     uint64_t stream_id, const char *protocol);
bool node_relay_event(struct knit_node *node, struct knit_session *s,
                      const struct knit_session_event *sev);
void node_relay_session_up(struct knit_node *node, struct knit_session *s);
void node_relay_session_down(struct knit_node *node, struct knit_session *s);
uint64_t node_relay_deadline(const struct knit_node *node);
void node_relay_timeout(struct knit_node *node, uint64_t now);
void node_relay_served(const struct knit_node *node, uint32_t *reservations,
                       uint32_t *circuits, uint64_t *circuits_total,
                       uint64_t *bytes_total);
/* Whether we offer the hop service (public nodes do). */
void node_relay_set_serving(struct knit_node *node, bool serving);

/* Shared by the three files. */
int relay_stream_new(struct knit_node *node, struct knit_session *s,
                     uint64_t stream_id, uint8_t kind);
struct relay_stream *relay_stream_at(struct knit_node *node, int i);
void relay_stream_release(struct knit_node *node, int i);
/* Ends stream i with a reset (and its pair, if any). */
void relay_stream_abort(struct knit_node *node, int i, uint64_t code);
/* Writes one control message (all of it fits: it is small and the stream
 * is fresh). fin: finish the stream after it. */
int relay_stream_send(struct knit_node *node, int i,
                      const struct knit_relay_msg *m, bool fin);
/* Reads the control message of stream i: KNIT_OK with *m when whole,
 * KNIT_E_AGAIN when more must come, another error when it is bad. Never
 * reads past the message (circuit data may follow it). */
int relay_stream_read_msg(struct knit_node *node, int i,
                          struct knit_relay_msg *m);

/* node_relay_splice.c: copies what stream `from` has to its pair, whole
 * frames or none. */
void relay_splice_pump(struct knit_node *node, int from);

/* node_circuit.c: the ends. */
bool circuit_is_sock(int sock);
/* Whether sock is an open circuit, and the relay it runs through. */
bool circuit_relay_of(const struct knit_node *node, int sock,
                      struct knit_peer_id *relay);
int circuit_send(struct knit_node *node, int sock, const uint8_t *pkt,
                 size_t len);
/* Stream i became a circuit end (state RS_CIRCUIT). */
void circuit_opened(struct knit_node *node, int i);
/* Data arrived on an end: deliver its datagrams. */
void circuit_readable(struct knit_node *node, int i);
/* A control message arrived on an end's stream (CONNECT_OUT, STOP_IN). */
void circuit_on_message(struct knit_node *node, int i,
                        const struct knit_relay_msg *m);
/* Whether a stop stream from relay for source may be accepted. */
bool circuit_accepts(struct knit_node *node, const struct knit_peer_id *relay);
void circuit_send_pending(struct knit_node *node, struct knit_session *relay);
/* A circuit we asked for will not come: tell the embedder (PEER_DOWN)
 * unless a session to target exists, whose own end reports it. */
void circuit_failed(struct knit_node *node, const struct knit_peer_id *target,
                    const char *why);
/* CONNECTs whose relay never came up in time fail. */
void circuit_expire_pending(struct knit_node *node, uint64_t now);

/* node_relay_client.c: reservations of a private node. */
void relay_client_on_status(struct knit_node *node, int i,
                            const struct knit_relay_msg *m);
void relay_client_session_up(struct knit_node *node, struct knit_session *s);
void relay_client_session_down(struct knit_node *node,
                               struct knit_session *s);
uint64_t relay_client_deadline(const struct knit_node *node);
/* Keep reservations (we are, or may be, unreachable) or drop them. */
void node_relay_want_reservations(struct knit_node *node, bool want);
size_t node_relay_client_count(const struct knit_node *node);
/* Our relayed addresses (/<relay endpoint>/p2p/<relay>/p2p-circuit). */
size_t node_relay_client_addrs(const struct knit_node *node,
                               struct knit_multiaddr *out, size_t cap);
void relay_client_timeout(struct knit_node *node, uint64_t now);

#endif
