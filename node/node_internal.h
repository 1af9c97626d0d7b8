/* Shared internals of node/node*.c and node/services.c. */
#ifndef KNIT_NODE_INTERNAL_H
#define KNIT_NODE_INTERNAL_H

#include "node/event.h"
#include "node/index_table.h"
#include "node/node.h"
#include "proto/cookie.h"
#include "proto/hello.h"
#include "proto/ratelimit.h"

/* Streams of the built-in services in progress, across all sessions. */
#define NODE_MAX_SERVICE_STREAMS 64

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

struct knit_node {
    struct knit_io io;
    struct knit_identity identity;
    struct knit_hello hello;
    struct knit_session_config session_cfg;
    const char *const *served;      /* the embedder's protocols */
    struct node_socket sockets[KNIT_NODE_MAX_SOCKETS];
    size_t socket_count;
    struct knit_session **sessions;
    size_t session_count, session_cap;
    uint32_t max_sessions;
    uint64_t receive_budget;
    struct knit_index_table indices;
    struct knit_cookie_checker cookie_checker;
    struct knit_ratelimit *ratelimit;   /* allocated on first initiation */
    uint8_t ratelimit_key[16];
    uint32_t load_threshold;
    uint64_t load_window_start;
    uint32_t initiations_in_window;
    uint64_t created, unix_time_at_start;
    struct service_stream services[NODE_MAX_SERVICE_STREAMS];
    struct knit_node_stats stats;
    uint32_t in_event;              /* depth of session events under way */
};

void node_log(struct knit_node *node, uint64_t now, enum knit_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void node_emit(struct knit_node *node, struct knit_event *ev);
struct knit_session *node_find_session(const struct knit_node *node,
                                       const struct knit_peer_id *peer);

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

#endif
