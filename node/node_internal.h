/* Shared internals of node/node*.c and node/services.c. */
#ifndef KNIT_NODE_INTERNAL_H
#define KNIT_NODE_INTERNAL_H

#include "node/event.h"
#include "node/index_table.h"
#include "node/session_timers.h"
#include "node/node.h"
#include "proto/cookie.h"
#include "proto/hello.h"
#include "proto/key_cache.h"
#include "proto/ratelimit.h"

/* Streams of the built-in services in progress, across all sessions. */
#define NODE_MAX_SERVICE_STREAMS 64
/* DHT streams (requests we sent and requests we answer) at once, and per
 * session the requests a peer may have us answer at once. */
#define NODE_MAX_DHT_STREAMS 256
/* The DHT stream table grows in chunks that never move (handlers hold a
 * stream across calls that may open others), so a node that asks and
 * answers little pays for a chunk, not for the whole table. */
#define NODE_DHT_STREAM_CHUNK 16
#define NODE_DHT_STREAM_CHUNKS (NODE_MAX_DHT_STREAMS / NODE_DHT_STREAM_CHUNK)
#define NODE_MAX_DHT_STREAMS_PER_PEER 16
#define NODE_MAX_DHT_STREAMS_IN 192     /* of them, requests we answer */
/* Our requests in flight to one peer: half of what it answers at once, as
 * it holds a stream a little past our seeing its answer (until its FIN is
 * acknowledged) and a new request must not arrive before that. */
#define NODE_MAX_DHT_REQUESTS_PER_PEER (NODE_MAX_DHT_STREAMS_PER_PEER / 2)
/* DHT requests waiting for their session to come up, or for one of the
 * requests in flight to their peer to end. */
#define NODE_MAX_DHT_QUEUED 256
#define NODE_MAX_BOOTSTRAP 64
/* Protocols the node may list in its hello besides the embedder's: ping,
 * bench, dht, relay hop, identify, autonat, punch. */
#define NODE_BUILTIN_PROTOCOLS 7

struct node_socket {
    int handle;
    struct knit_addr local;
};

struct service_stream {
    struct knit_session *session;   /* NULL = free slot */
    uint64_t stream_id;
    bool bench;                     /* else ping */
    uint64_t count;                 /* bench: bytes received */
};

struct dht_stream {
    struct knit_session *session;   /* NULL = free slot */
    uint64_t stream_id;
    bool outgoing;                  /* a request of ours, else the peer's */
    bool done;                      /* the one message in has been handled */
    bool busy;                      /* being read: do not release */
    bool closed;                    /* CLOSED or RESET came while busy */
    uint64_t request_id;            /* outgoing */
    uint8_t *in;                    /* the message being read */
    size_t in_len, in_cap;          /* in grows up to one whole message */
    uint8_t *out;                   /* what is left to write, then FIN */
    size_t out_len, out_off;
};

struct dht_queued {
    struct knit_peer_id peer;
    uint64_t request_id;
    uint8_t *frame;
    size_t len;
};

struct knit_node {
    struct knit_io io;
    struct knit_identity identity;
    struct knit_hello hello;
    struct knit_session_config session_cfg;
    const char *const *served;      /* the embedder's protocols */
    struct node_socket sockets[KNIT_NODE_MAX_SOCKETS];
    size_t socket_count;
    struct knit_session **sessions;
    /* The first 8 bytes of each session's peer key, at the session's
     * index: finding a peer's session compares these before touching any
     * session. A bootstrap node holds thousands of sessions, and a walk
     * that read each one's peer ID was 2.5 % of a 100 000-node join. */
    uint64_t *session_tags;
    size_t session_count, session_cap;
    size_t dead_sessions;           /* died and not yet reaped */
    uint64_t granted;               /* receive windows of live sessions */
    struct session_timers timers;   /* the sessions by deadline */
    uint32_t max_sessions;
    uint64_t receive_budget;
    struct knit_index_table indices;
    struct knit_cookie_checker cookie_checker;
    struct knit_record_cache *record_cache;  /* verified records seen */
    bool own_record_cache;                   /* else the embedder's */
    struct knit_key_cache *key_cache;        /* the embedder's, or NULL */
    struct knit_ratelimit_table *ratelimit;   /* on the first initiation */
    uint32_t ratelimit_slots;
    uint8_t ratelimit_key[16];
    uint32_t load_threshold;
    uint64_t load_window_start;
    uint32_t initiations_in_window;
    uint64_t created, unix_time_at_start;
    /* NODE_MAX_SERVICE_STREAMS, allocated by the first ping or bench
     * stream: few nodes of a simulation ever serve one. */
    struct service_stream *services;
    struct knit_node_stats stats;
    uint32_t in_event;              /* depth of session events under way */
    uint64_t now;                   /* of the call under way */

    /* our signed record (node/node_dht.c), record_len bytes on the heap */
    uint8_t *record;
    size_t record_len;
    uint64_t record_seq;
    struct knit_addr record_addrs[KNIT_RECORD_MAX_ADDRS];
    size_t record_addr_count;
    uint64_t resign_at;              /* sign afresh (issue time) */
    uint64_t signed_at;              /* when the record was last signed */
    /* the DHT and what carries it (node/node_dht.c) */
    enum knit_dht_mode dht_mode;
    struct knit_dht *dht;
    /* NODE_DHT_STREAM_CHUNK streams each, allocated as needed */
    struct dht_stream *dht_stream_chunks[NODE_DHT_STREAM_CHUNKS];
    uint32_t dht_stream_chunk_count;
    struct dht_queued *dht_queue;    /* grows up to NODE_MAX_DHT_QUEUED */
    size_t dht_queued, dht_queue_cap;
    struct knit_bootstrap_peer *bootstrap;   /* bootstrap_count, shuffled */
    size_t bootstrap_count;
    size_t bootstrap_next;                   /* the next to dial */
    uint64_t bootstrap_at, bootstrap_backoff;
    /* circuit relay: hop service, circuit ends, reservations */
    struct node_relay *relay;
    /* identify, AutoNAT, what they taught us (node/node_traversal.h) */
    struct node_traversal *traversal;
    /* hole punching (node/node_punch.h), allocated by the first attempt */
    struct node_punch *punch;
};

void node_log(struct knit_node *node, uint64_t now, enum knit_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void node_emit(struct knit_node *node, struct knit_event *ev);

/* node_sessions.c: the session table. node_find_session skips dead
 * sessions; node_new_session adds one for peer (peer_x: its X25519 key
 * when already converted, else NULL); node_reap_sessions frees the dead,
 * only between calls (never from inside an event). */
struct knit_session *node_find_session(const struct knit_node *node,
                                       const struct knit_peer_id *peer);
int node_new_session(struct knit_node *node, const struct knit_peer_id *peer,
                     const uint8_t *peer_x, uint64_t now,
                     struct knit_session **out);
void node_reap_sessions(struct knit_node *node);

/* node_streams.c */
void node_on_session_event(struct knit_node *node, struct knit_session *s,
                           const struct knit_session_event *sev);

/* services.c: true if the stream belongs to a built-in service, which then
 * handles the event itself. */
bool node_services_open(struct knit_node *node, struct knit_session *s,
                        uint64_t stream_id, const char *protocol);
bool node_services_event(struct knit_node *node, struct knit_session *s,
                         const struct knit_session_event *sev);
void node_services_forget(struct knit_node *node, struct knit_session *s);
void node_services_free(struct knit_node *node);

/* node.c: the hello's protocol list (after the DHT mode changed) */
void node_build_hello(struct knit_node *node);
/* Dials peer at addr without marking the session wanted (node_dht.c). */
int node_dial(struct knit_node *node, const struct knit_peer_id *peer,
              const struct knit_addr *addr, uint64_t now, bool wanted);
/* The same through a given socket (a circuit's, say). */
int node_dial_on(struct knit_node *node, const struct knit_peer_id *peer,
                 int sock, const struct knit_addr *addr, uint64_t now,
                 bool wanted);
/* Sends a datagram on a socket of the driver's or on a circuit. */
int node_send(struct knit_node *node, int sock, const struct knit_addr *to,
              const uint8_t *pkt, size_t len);

/* node_dht.c */
/* Signs our record afresh from the addresses last given, our relayed
 * addresses and what we know of our NAT, and publishes it. */
int node_resign_record(struct knit_node *node, uint64_t now);
/* The same soon, coalescing changes and spacing new records out. */
void node_resign_soon(struct knit_node *node, bool urgent);
int node_dht_init(struct knit_node *node, const struct knit_node_config *cfg,
                  uint64_t now);
void node_dht_free(struct knit_node *node);
bool node_dht_open(struct knit_node *node, struct knit_session *s,
                   uint64_t stream_id, const char *protocol);
bool node_dht_event(struct knit_node *node, struct knit_session *s,
                    const struct knit_session_event *sev);
void node_dht_session_up(struct knit_node *node, struct knit_session *s);
void node_dht_session_down(struct knit_node *node, struct knit_session *s);
uint64_t node_dht_deadline(const struct knit_node *node);
void node_dht_timeout(struct knit_node *node, uint64_t now);
/* DHT streams under way: requests of ours and requests we answer. */
void node_dht_count_streams(const struct knit_node *node, uint32_t *out,
                            uint32_t *in);

#endif
