/* Coordinated hole punching (DESIGN.md §4): a session that runs over a
 * relay circuit gets a direct path of its own.
 *
 * node_punch.c runs the /knit/punch/1 exchange (punch_msg.h) and each
 * attempt's life: the peer with the lower ID opens a stream and sends
 * CONNECT (its candidates and NAT), times the answer, sends SYNC and
 * starts probing half a round trip later; the other side starts as SYNC
 * arrives (two attempts that cross: the lower ID's goes on; the higher
 * ID opens one itself only when the session has been relayed for 2 s
 * without one). Both derive the same plan (punch_plan.h). An attempt ends when
 * the session's active path is direct (success) or after the plan's window
 * and PUNCH_SETTLE_US (failure, with the reason kept per peer). Failures are
 * retried with a fresh round-trip measurement after 5 s, 15 s and 45 s,
 * then every 10 minutes while the session stays relayed; a session that
 * falls back to the relay (its direct path broke) punches again at once.
 *
 * node_punch_probe.c sends the probes (PUNCH packets carrying the peer's
 * token), opens and closes the hard side's birthday sockets, and takes
 * PUNCH packets in: a probe with one of our tokens came from a working
 * (socket, address), which the session then proves with its own
 * PATH_CHALLENGE (knit_session_try_path). A birthday socket that carries
 * the session's path is kept while the session uses it. */
#ifndef KNIT_NODE_PUNCH_H
#define KNIT_NODE_PUNCH_H

#include <stdbool.h>
#include <stdint.h>

#include "node/punch_msg.h"
#include "node/punch_plan.h"
#include "proto/msg.h"
#include "proto/session.h"

#define NODE_MAX_PUNCHES 16
#define NODE_PUNCH_HISTORY 64
#define NODE_PUNCH_KEPT 64
/* How often kept birthday sockets are checked for a path still using them. */
#define NODE_PUNCH_KEPT_CHECK_US 10000000ull
/* try_path calls per attempt: each sends a full-size challenge. */
#define NODE_PUNCH_MAX_TRIES 8
/* CONNECT or SYNC that does not come in this long ends the attempt. */
#define NODE_PUNCH_ANSWER_US 5000000ull
#define NODE_PUNCH_REASON_MAX 160

enum punch_state {
    PUNCH_FREE = 0,
    PUNCH_CONNECT_SENT,          /* opener: waiting for the peer's CONNECT */
    PUNCH_WAIT_SYNC,             /* answerer: waiting for SYNC */
    PUNCH_WAIT_START,            /* opener: half a round trip to go */
    PUNCH_PROBING,
};

struct punch {
    enum punch_state state;
    struct knit_session *session;
    bool opener;
    uint64_t stream_id;
    bool stream_live;            /* ours to read, write and end */
    uint32_t attempt;
    uint8_t my_token[KNIT_PUNCH_TOKEN_LEN];
    uint8_t peer_token[KNIT_PUNCH_TOKEN_LEN];
    struct knit_punch_msg peer;  /* the peer's CONNECT */
    struct punch_side self_side;
    enum punch_plan_kind plan;
    uint64_t began;              /* CONNECT sent or received */
    uint64_t rtt_us;             /* opener: CONNECT to answer */
    uint64_t deadline;           /* of the state */
    uint64_t started;            /* probing began */
    uint64_t next_round, next_spray, next_batch;
    uint32_t rounds;
    uint32_t tries;
    uint32_t probes;
    /* birthday, hard side: sockets opened so far (the handles) */
    int *socks;
    uint16_t sock_count;
    /* birthday, easy side */
    struct punch_spray spray;
    struct knit_addr spray_ip;   /* the hard side's IP (port unused) */
    bool has_spray_ip;
    uint16_t spray_unrefreshed;  /* probes since the last filter refresh */
    /* the stream's bytes read and not yet a whole message */
    uint8_t buf[2 * (KNIT_MSG_HEADER_LEN + KNIT_PUNCH_MAX_MESSAGE)];
    size_t len;
};

/* What the last attempts with a peer came to. */
struct punch_history {
    struct knit_peer_id peer;
    uint64_t seen;
    uint32_t attempts, failures, successes;
    uint64_t retry_at;           /* 0: no retry planned */
    uint64_t time_to_direct_us;  /* of the last success */
    char reason[NODE_PUNCH_REASON_MAX];   /* of the last failure */
};

struct punch_kept {
    struct knit_session *session;   /* NULL = free */
    int sock;
};

/* Attempts and history entries are allocated as they are first needed
 * (NULL until then), then reused: a node rarely has more than one or two
 * attempts at once, and holding the full tables cost every node that ever
 * punched 38 KiB. */
struct node_punch {
    struct punch *punches[NODE_MAX_PUNCHES];
    struct punch_history *history[NODE_PUNCH_HISTORY];
    struct punch_kept kept[NODE_PUNCH_KEPT];
    uint32_t next_attempt;
    uint64_t kept_check_at;
    struct punch_stats {
        uint64_t attempts, direct, failed;
        uint64_t probes, sockets;
    } stats;
};

struct knit_node;

void node_punch_free(struct knit_node *node);
/* The session came up or its active path changed: punch if it runs over
 * a circuit and we open, note a success if it went direct. */
void punch_path_changed(struct knit_node *node, struct knit_session *s);
void punch_session_down(struct knit_node *node, struct knit_session *s);
bool punch_open(struct knit_node *node, struct knit_session *s,
                uint64_t stream_id, const char *protocol);
bool punch_event(struct knit_node *node, struct knit_session *s,
                 const struct knit_session_event *sev);
uint64_t punch_deadline(const struct knit_node *node);
void punch_timeout(struct knit_node *node, uint64_t now);
/* The history entry of peer (NULL: none yet and add false). */
struct punch_history *punch_history_of(struct knit_node *node,
                                       const struct knit_peer_id *peer,
                                       bool add);

struct knit_node_traversal;
void punch_stats(struct knit_node *node, struct knit_node_traversal *out);

/* node_punch_probe.c */
/* Probing begins (both sides, at the agreed moment). */
void punch_probe_start(struct knit_node *node, struct punch *p);
/* Sends what is due; returns when next to call. */
uint64_t punch_probe_due(struct knit_node *node, struct punch *p,
                         uint64_t now);
/* Closes the attempt's birthday sockets, except one the session's paths
 * use, which is kept; frees the spray. */
void punch_probe_end(struct knit_node *node, struct punch *p);
/* A PUNCH packet: KNIT_OK if it was one of ours, else why not. */
int punch_receive(struct knit_node *node, int sock,
                  const struct knit_addr *from, const uint8_t *pkt,
                  size_t len);
/* Closes kept sockets no path uses any more (s: only that session's;
 * NULL: all sessions). */
void punch_kept_sweep(struct knit_node *node, struct knit_session *s,
                      bool session_gone);
/* What our CONNECT says of our NAT (as our record has it). */
void punch_self_side(struct knit_node *node, struct punch_side *out);
/* Our candidates for CONNECT. */
uint8_t punch_candidates(struct knit_node *node, struct knit_addr *out,
                         uint8_t cap);

#endif
