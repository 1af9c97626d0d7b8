/* The node core: one knit node as a value, with no I/O of its own.
 *
 * A driver (transport/uv_driver.c for the daemon, sim/ for the simulator)
 * owns the sockets and the clock. It creates the node with a struct knit_io,
 * tells it which sockets it listens on, and then only ever calls three
 * functions: knit_node_receive() for each datagram, knit_node_timeout() when
 * the deadline from knit_node_next_deadline() has passed, and the latter to
 * re-arm its timer after either. Many nodes can live in one process; there
 * is no global state. */
#ifndef KNIT_NODE_H
#define KNIT_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/identity.h"
#include "transport/io.h"

#define KNIT_NODE_MAX_SOCKETS 8

struct knit_node_config {
    /* The node keeps its own copy and wipes it when freed. */
    const struct knit_identity *identity;
};

struct knit_node_stats {
    uint64_t packets_received;
    uint64_t bytes_received;
    uint64_t packets_dropped;     /* malformed or of an unknown type */
};

struct knit_node;

int knit_node_new(struct knit_node **out, const struct knit_node_config *cfg,
                  const struct knit_io *io, uint64_t now);
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

#endif
