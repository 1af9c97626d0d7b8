/* A small simulated world for session scenarios (tests/sim/test_session_*):
 * a few unmodified nodes (sim/host.h) on one virtual network of one-way
 * links (sim/link.h), all on virtual time.
 *
 * The network routes each datagram by its destination address to the host
 * that owns that address, stamping the sender's current source address on
 * it; a test can change the source a host's datagrams carry and the address
 * it is reached at (a NAT that rebinds), cut a direction, restart a host
 * with the same identity, and look at or copy every datagram (a tap).
 * Datagrams to an address nobody owns vanish (counted per destination).
 *
 * Node events are logged per host; a built-in bulk transfer (pseudo-random
 * bytes, SHA-256 on both ends) runs over the protocol SIM_PROTO, so that a
 * scenario only sets up its world and asserts. Only sim tests use this file
 * (it needs knit_sim); unit tests never reference it, so the static support
 * library does not pull it into them. */
#ifndef KNIT_TEST_SIM_PAIR_H
#define KNIT_TEST_SIM_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/link.h"
#include "sim/rng.h"

#define SIM_MAX_HOSTS 4
#define SIM_MAX_TRANSFERS 2
#define SIM_PROTO "/test/data/1"
#define SIM_SECOND 1000000ull
/* A scenario runs far fewer events than this; a node whose timer keeps
 * firing at one instant would run forever, so sim_run gives up here. */
#define SIM_EVENT_BUDGET 20000000ull

struct sim_world;

/* What a host's node reported. */
struct sim_log {
    uint32_t up, down, path_changed, stream_opened, stream_reset;
    uint32_t stream_closed;
    uint64_t last_up_at, last_down_at, last_path_changed_at;
    int last_down_error;
    char last_down_reason[128];
    uint64_t last_reset_stream, last_reset_code;
    /* datagrams delivered to the host */
    uint64_t rx, tx;
    uint64_t last_rx_at;
    uint64_t max_rx_gap;         /* since sim_world_reset_gaps */
};

/* A one-way bulk transfer from host `from` to host `to` on SIM_PROTO. If
 * the session goes down before the FIN arrives, it starts over on the next
 * session (counted in restarts). */
struct sim_transfer {
    bool active;
    int from, to;
    uint64_t total;
    uint32_t restarts;
    /* sender */
    struct knit_rng data;
    uint64_t sent;
    bool open, finished;
    uint64_t stream;
    int open_error;              /* last failed open/write, 0 if none */
    crypto_hash_sha256_state sent_hash;
    /* receiver */
    bool bound;
    uint64_t stream_at_to;
    uint64_t received;
    bool got_fin;
    uint64_t done_at;
    crypto_hash_sha256_state recv_hash;
};

/* Called for every datagram as it is sent (before routing); the tap may
 * copy it. Return false to drop it. */
typedef bool (*sim_tap_fn)(struct sim_world *w, int from,
                           const struct knit_addr *src,
                           const struct knit_addr *dst, const uint8_t *pkt,
                           size_t len);
/* Called for every node event after the world has logged it. */
typedef void (*sim_event_fn)(struct sim_world *w, int host,
                             const struct knit_event *ev);

struct sim_world_config {
    int hosts;                          /* 2..SIM_MAX_HOSTS */
    uint64_t seed;
    struct knit_sim_link_config link;   /* every direction */
    const struct knit_session_config *session;   /* NULL = defaults */
    uint32_t handshake_load_threshold;  /* 0 = node default */
    uint64_t receive_budget;            /* 0 = node default */
};

struct sim_world {
    struct knit_sim_engine *engine;
    struct sim_world_config cfg;
    struct knit_sim_host *host[SIM_MAX_HOSTS];
    struct knit_sim_host_config host_cfg[SIM_MAX_HOSTS];
    struct knit_peer_id id[SIM_MAX_HOSTS];
    struct knit_addr addr[SIM_MAX_HOSTS];   /* where the host is reached */
    struct knit_addr src[SIM_MAX_HOSTS];    /* stamped on its datagrams */
    bool cut[SIM_MAX_HOSTS][SIM_MAX_HOSTS]; /* drop everything from -> to */
    struct knit_sim_link *link[SIM_MAX_HOSTS][SIM_MAX_HOSTS];
    struct sim_log log[SIM_MAX_HOSTS];
    struct sim_transfer xfer[SIM_MAX_TRANSFERS];
    uint64_t blackholed;                /* datagrams to nobody */
    bool over_budget;                   /* sim_run hit SIM_EVENT_BUDGET */
    uint64_t gap_since;
    sim_tap_fn tap;
    sim_event_fn on_event;
    void *user;
    /* link delivery context per destination host */
    struct sim_port {
        struct sim_world *w;
        int to;
    } port[SIM_MAX_HOSTS];
};

/* Host i listens on 198.51.100.(i+1):4001 and serves SIM_PROTO; its seed
 * is cfg->seed + i. Returns 0 or a KNIT_E_* code. */
int sim_world_new(struct sim_world **out, const struct sim_world_config *cfg);
void sim_world_free(struct sim_world *w);

uint64_t sim_now(const struct sim_world *w);
struct knit_node *sim_node(struct sim_world *w, int i);
struct knit_addr sim_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                          uint16_t port);

/* Host i connects to host j at j's current address. */
int sim_connect(struct sim_world *w, int i, int j);
/* Runs until done(w) is true or the clock reaches until; returns done's
 * last verdict (true if done is NULL and until was reached). Returns false
 * and sets over_budget if the world has run SIM_EVENT_BUDGET events. */
bool sim_run(struct sim_world *w, uint64_t until,
             bool (*done)(struct sim_world *w));

/* Replaces host i by a fresh node with the same identity and address
 * (its sessions, streams and timers are gone). Returns 0 or an error. */
int sim_restart_host(struct sim_world *w, int i);
/* Host i stops existing (datagrams to it vanish) until restarted. */
void sim_remove_host(struct sim_world *w, int i);

/* Starts transfer k of total bytes from host `from` to `to`; the stream is
 * opened at once if the session is up, else on PEER_UP. */
void sim_transfer_start(struct sim_world *w, int k, int from, int to,
                        uint64_t total);
/* Both ends agree: everything arrived, FIN included, same SHA-256. */
bool sim_transfer_intact(struct sim_world *w, int k);
bool sim_transfer_done(const struct sim_world *w, int k);

/* Starts the largest-gap measurement of sim_log.max_rx_gap afresh. */
void sim_world_reset_gaps(struct sim_world *w);

#endif
