/* The scenario runner's shared state (sim/run.c builds the world and runs
 * churn; sim/run_workload.c runs lookups and connection attempts). */
#ifndef KNIT_SIM_RUN_INTERNAL_H
#define KNIT_SIM_RUN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/peer_id.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/metrics.h"
#include "sim/natbox.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "sim/run.h"
#include "sim/scenario.h"

/* The stream protocol every simulated node echoes (connection attempts). */
#define SIM_ECHO_PROTOCOL "/knit/sim/echo/1"
/* Every node listens on this port, public or private. */
#define SIM_PORT 4001
/* A connection attempt that has no echo this long after it started fails. */
#define SIM_CONNECT_TIMEOUT_US (20ull * 1000000ull)
/* A connection whose first byte came through a relay waits this long for
 * hole punching to give it a direct path before it counts as relayed. */
#define SIM_DIRECT_WAIT_US (30ull * 1000000ull)
/* After the workload ends, how long answers still in flight may take. */
#define SIM_DRAIN_US (70ull * 1000000ull)
#define SIM_NO_OP UINT32_MAX
/* Handshake rate-limit slots per simulated node (node.h). */
#define SIM_RATELIMIT_SLOTS 64

struct run;

/* A lookup or a connection attempt under way at its dialer. */
enum sim_op_kind { SIM_OP_LOOKUP, SIM_OP_CONNECT };
enum sim_op_state {
    SIM_OP_FREE = 0,
    SIM_OP_FINDING,     /* knit_node_find under way */
    SIM_OP_DIALING,     /* waiting for the session */
    SIM_OP_ECHOING,     /* stream open, waiting for the first byte back */
    SIM_OP_UPGRADING,   /* echoed through a relay, waiting for a punch */
};

struct sim_op {
    uint8_t kind, state;
    uint32_t dialer, target;     /* node indexes */
    uint32_t next;               /* the dialer's next op, or the free list */
    uint64_t started;
    uint64_t find_handle;
    uint64_t stream_id;
    uint64_t timer;              /* engine handle of the connect timeout */
    uint64_t direct_us;          /* direct path, from started */
    uint64_t first_byte_us;      /* UPGRADING: the echo, from started */
};

struct sim_node {
    struct run *run;
    struct knit_sim_host *host;  /* NULL while offline */
    struct knit_peer_id id;
    struct knit_addr addr;       /* its own (private behind a box) */
    struct knit_sim_natbox *box; /* NULL: on the Internet */
    uint8_t class_index;         /* 0 public, 1 + NAT type */
    bool bootstrap;
    uint32_t online_pos;         /* in run->online, or UINT32_MAX */
    uint32_t ops;                /* first op under way, or SIM_NO_OP */
    uint32_t boots;              /* times started */
    uint64_t online_since;
    /* Totals of earlier sessions online (the net forgets a host's
     * counters when it leaves). */
    uint64_t online_us;
    uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
    uint64_t handshakes;
    uint64_t relay_circuits, relay_bytes;   /* carried as a relay */
};

struct run {
    const struct knit_scenario *s;
    struct knit_sim_engine *engine;
    struct knit_sim_net *net;
    struct knit_sim_metrics *metrics;
    struct knit_sim_run_report *report;
    struct knit_sim_natbox **boxes;
    uint32_t box_count;
    struct sim_node *nodes;
    uint32_t node_count;
    struct knit_bootstrap_peer *boot;
    uint32_t boot_count;
    uint32_t *online;            /* indexes of the nodes online */
    uint32_t online_count;
    struct sim_op *op;
    uint32_t op_cap, op_free;      /* ops allocated, and free of them */
    uint32_t op_free_head;         /* free list, SIM_NO_OP when empty */
    struct knit_rng churn_rng, workload_rng;
    /* Shared by every node (NULL: each keeps its own; see new_caches). */
    struct knit_key_cache *key_cache;
    struct knit_record_cache *record_cache;
    bool private_caches;
    uint64_t workload_start, workload_end;
    int error;                   /* first fatal error (no memory) */
};

/* sim/run.c */
void sim_node_start(struct run *r, uint32_t index);
void sim_node_stop(struct run *r, uint32_t index, bool for_good);
void sim_fail(struct run *r, int error);

/* sim/run_workload.c */
void sim_workload_start(struct run *r);
void sim_workload_event(struct run *r, struct sim_node *n,
                        const struct knit_event *ev);
/* The node is leaving: its ops end without a sample (counted abandoned),
 * and attempts targeting it fail. */
void sim_workload_node_leaving(struct run *r, uint32_t index);
/* Ends every op still under way (end of the run). */
void sim_workload_abandon_all(struct run *r);
int sim_ops_init(struct run *r, uint32_t cap);

/* sim/run_trace.c: with KNIT_SIM_TRACE=1, connection attempts told on
 * stderr (the record found, both ends' events, the state at a failure). */
struct knit_peer_record;
bool sim_trace_enabled(void);
void sim_trace_found(struct run *r, uint32_t op,
                     const struct knit_peer_record *rec);
void sim_trace_end(struct run *r, uint32_t op, const char *how);
void sim_trace_event(struct run *r, const struct sim_node *n,
                     const struct knit_event *ev);

#endif
