/* What a node knows of how the Internet sees it, and the protocols that
 * teach it: identify (node_identify.c), AutoNAT (node_autonat.c), and the
 * state both feed (node_traversal.c): the observed-address book and NAT
 * mapping (node/observed.h), reachability and filtering
 * (node/reachability.h), the alternate socket a public node answers
 * observation probes on, and what the node does about the verdicts (serve
 * the DHT and relays when public; keep relay reservations when not). */
#ifndef KNIT_NODE_TRAVERSAL_H
#define KNIT_NODE_TRAVERSAL_H

#include <stdbool.h>
#include <stdint.h>

#include "node/autonat_msg.h"
#include "node/identify_msg.h"
#include "node/observed.h"
#include "node/reachability.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/session.h"

#define NODE_MAX_ID_STREAMS 512
#define NODE_MAX_AUTONAT_STREAMS 64
#define NODE_PEER_INFO 64
#define NODE_AUTONAT_PENDING 16

struct id_stream {
    struct knit_session *session;     /* NULL = free */
    uint64_t stream_id;
    bool outgoing, done;
    bool busy, closed;                /* reading: CLOSED is deferred */
    uint8_t *buf;                     /* the peer's message so far */
    size_t len;
};

/* What identify told us of a peer (bounded, least recently seen goes). */
struct node_peer_info {
    struct knit_peer_id id;
    uint16_t alt_port;
    uint64_t seen;
    bool used;
};

enum an_role {
    AN_ASK = 1,        /* client: our request, waiting for its answer */
    AN_SERVE,          /* server: a peer's request */
    AN_FORWARD,        /* server: our DIAL_FOR to a helper */
};

struct an_stream {
    struct knit_session *session;     /* NULL = free */
    uint64_t stream_id;
    uint8_t role;
    bool answered;                    /* our one message is out */
    bool got;                         /* the peer's one message is in */
    bool busy, closed;                /* reading: CLOSED is deferred */
    uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_AUTONAT_MAX_MESSAGE];
    size_t len;
    struct knit_autonat_msg req;      /* what we asked, or were asked */
    int partner;                      /* AN_FORWARD <-> AN_SERVE */
    uint64_t deadline;
    /* client: what a DIAL_BACK tests */
    struct knit_addr server_ip;
};

/* A dial-back we wait for (client). */
struct an_pending {
    uint8_t nonce[KNIT_AUTONAT_NONCE_LEN];
    struct knit_addr server_ip;
    uint8_t kind;
    uint64_t deadline;                /* for SENT, then for the DIAL */
    bool sent;                        /* the server said SENT */
    bool used;
};

struct node_traversal {
    struct knit_observed *observed;
    struct knit_reach *reach;
    struct knit_mapping_verdict mapping;
    struct knit_reach_verdict verdict;
    struct knit_nat_info nat;         /* as our record says it */
    int alt_sock;                     /* -1: none */
    /* the gateway's port mapping of our main socket (knit_node_set_mapped) */
    bool has_mapped;
    struct knit_addr mapped;
    uint16_t alt_port;
    struct knit_multiaddr listen[KNIT_RECORD_MAX_ADDRS];
    uint8_t listen_count;
    struct id_stream *id_streams;
    uint32_t id_stream_count;
    struct node_peer_info peers[NODE_PEER_INFO];
    /* AutoNAT */
    /* Allocated as first needed (NULL until then), then reused; a free
     * one has no session. A whole table per node was 25 KiB, for the one
     * or two streams most nodes have at once. */
    struct an_stream *an_streams[NODE_MAX_AUTONAT_STREAMS];
    /* Slots are taken lowest first and kept until the node goes, so the
     * allocated ones are the first an_allocated: the walks (after every
     * packet, for the deadline) stop there rather than at 64. */
    int an_allocated;
    struct an_pending pending[NODE_AUTONAT_PENDING];
    int dial_sock[2];                 /* server: kind-1 dial-backs, IPv4
                                       * and IPv6; -1 until needed */
    uint64_t autonat_at;              /* next client round */
    uint64_t next_id;
    uint32_t rounds;
    struct knit_autonat_limit *limit; /* server: per peer and in all */
    bool serving_autonat;
    bool push_due;                    /* identify push at the next timeout */
    bool helpers_seen;                /* a kind-2 dial-back was sent */
    bool no_helper_said;              /* a server answered NO_HELPER */
    /* Endpoints of sessions gone lately: a NAT still lets them in. */
    struct {
        struct knit_addr addr;
        uint64_t at;
    } recent[64];
    uint32_t recent_next;
};
/* How long a closed session's endpoint still counts as one we sent to
 * (above the UDP timeouts of common NATs). */
#define NODE_RECENT_PATH_US (5 * 60 * 1000000ull)

struct knit_node;

int node_traversal_init(struct knit_node *node, uint32_t min_observers);
void node_traversal_free(struct knit_node *node);
/* Something changed what we know (an observation, a dial-back): work out
 * the verdicts and act on them. */
void traversal_changed(struct knit_node *node);
/* Serve (DHT in auto mode, relay, AutoNAT, alternate socket) or keep
 * reservations, by reachability. */
void traversal_apply(struct knit_node *node);
struct node_peer_info *traversal_peer(struct knit_node *node,
                                      const struct knit_peer_id *id,
                                      bool add);
/* Our observed addresses worth publishing (public behind a NAT). */
size_t traversal_public_addrs(struct knit_node *node,
                              struct knit_multiaddr *out, size_t cap);
/* Our addresses changed (node_resign_record): identify-push them. */
void traversal_addresses_changed(struct knit_node *node,
                                 const struct knit_multiaddr *addrs,
                                 uint8_t count);
/* Packets outside sessions (PROBE, DIAL) and anything arriving on the
 * alternate socket. Returns true when it took the packet. */
bool traversal_receive(struct knit_node *node, int sock,
                       const struct knit_addr *from, const uint8_t *pkt,
                       size_t len, int *err);
bool traversal_open(struct knit_node *node, struct knit_session *s,
                    uint64_t stream_id, const char *protocol);
bool traversal_event(struct knit_node *node, struct knit_session *s,
                     const struct knit_session_event *sev);
void traversal_session_up(struct knit_node *node, struct knit_session *s);
void traversal_session_down(struct knit_node *node, struct knit_session *s);
uint64_t traversal_deadline(const struct knit_node *node);
void traversal_timeout(struct knit_node *node, uint64_t now);

/* node_identify.c */
void identify_session_up(struct knit_node *node, struct knit_session *s);
void identify_send(struct knit_node *node, struct knit_session *s,
                   bool push);
bool identify_open(struct knit_node *node, struct knit_session *s,
                   uint64_t stream_id, const char *protocol);
bool identify_event(struct knit_node *node, struct knit_session *s,
                    const struct knit_session_event *sev);
void identify_session_down(struct knit_node *node, struct knit_session *s);
void identify_push_all(struct knit_node *node);

/* node_autonat.c */
bool autonat_open(struct knit_node *node, struct knit_session *s,
                  uint64_t stream_id, const char *protocol);
bool autonat_event(struct knit_node *node, struct knit_session *s,
                   const struct knit_session_event *sev);
void autonat_session_down(struct knit_node *node, struct knit_session *s);
bool autonat_packet(struct knit_node *node, int sock,
                    const struct knit_addr *from, uint8_t type,
                    const uint8_t nonce[KNIT_AUTONAT_NONCE_LEN]);
uint64_t autonat_deadline(const struct knit_node *node);
uint64_t jittered(struct knit_node *node, uint64_t interval);
/* Shared by node_autonat.c (streams, client) and node_autonat_server.c. */
struct an_stream *an_at(struct knit_node *node, int i);
int an_new(struct knit_node *node, struct knit_session *s, uint64_t id,
           uint8_t role);
void an_reset(struct knit_node *node, int i);
int an_send(struct knit_node *node, int i, const struct knit_autonat_msg *m);
void answer_status(struct knit_node *node, int i, uint8_t status);
bool is_relayed(struct knit_session *s);
void ip_of(const struct knit_addr *a, struct knit_addr *ip);
int main_sock(const struct knit_node *node, uint8_t family);
/* A peer's AutoNAT request (stream i) is whole: answer it. */
void autonat_serve(struct knit_node *node, int i);
void autonat_timeout(struct knit_node *node, uint64_t now);

#endif
