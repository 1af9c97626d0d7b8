/* A simulated host: one unmodified node core driven by the simulator.
 *
 * This is the simulator's struct knit_io. The host owns the node's timer
 * (one engine event, moved whenever the node's deadline moves), its
 * randomness (a seeded PRNG, so a seed gives the same run) and its wall
 * clock (virtual). Datagrams leave through the send hook the network
 * installs and arrive through knit_sim_host_deliver(). Node events go to
 * the embedder's hook, as they would to the daemon. */
#ifndef KNIT_SIM_HOST_H
#define KNIT_SIM_HOST_H

#include <stdint.h>

#include "node/event.h"
#include "node/node.h"
#include "sim/engine.h"
#include "sim/rng.h"

struct knit_sim_host;

typedef void (*knit_sim_send_fn)(void *ctx, struct knit_sim_host *from,
                                 const struct knit_addr *src,
                                 const struct knit_addr *dst,
                                 const uint8_t *pkt, size_t len);
typedef void (*knit_sim_event_fn)(void *ctx, struct knit_sim_host *host,
                                  const struct knit_event *ev);

struct knit_sim_host_config {
    struct knit_addr addr;          /* the host's one address and port */
    uint64_t seed;                  /* identity and randomness */
    /* Which run of this identity (a restarted host keeps its seed, hence
     * its identity, but must not replay its earlier randomness). */
    uint64_t boot;
    const char *const *protocols;   /* served by the embedder */
    const struct knit_session_config *session;   /* NULL = defaults */
    uint32_t handshake_load_threshold;  /* 0 = the node's default */
    uint64_t receive_budget;            /* 0 = the node's default */
    uint32_t handshake_ratelimit_slots; /* 0 = the node's default */
    /* DHT mode and settings (NULL: defaults). Unless advertise is set the
     * node has no record, so auto mode stays a client. */
    enum knit_dht_mode dht_mode;
    const struct knit_dht_config *dht;
    /* Sign a record with addr and publish it (knit_node_set_addresses). */
    bool advertise;
    knit_sim_send_fn send;
    knit_sim_event_fn event;
    void *ctx;
};

int knit_sim_host_new(struct knit_sim_host **out, struct knit_sim_engine *e,
                      const struct knit_sim_host_config *cfg);
void knit_sim_host_free(struct knit_sim_host *h);

struct knit_node *knit_sim_host_node(struct knit_sim_host *h);
const struct knit_addr *knit_sim_host_addr(const struct knit_sim_host *h);
const struct knit_peer_id *knit_sim_host_id(const struct knit_sim_host *h);
/* A datagram from src arrives at the host now. */
void knit_sim_host_deliver(struct knit_sim_host *h,
                           const struct knit_addr *src, const uint8_t *pkt,
                           size_t len);
/* Re-arms the node's timer; call after calling into the node directly. */
void knit_sim_host_rearm(struct knit_sim_host *h);

#endif
