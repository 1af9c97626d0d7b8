/* A simulated host: one unmodified node core driven by the simulator.
 *
 * This is the simulator's struct knit_io. The host owns the node's timer
 * (one engine event, moved whenever the node's deadline moves), its
 * randomness (a seeded PRNG, so a seed gives the same run) and its wall
 * clock (virtual). Datagrams leave through the send hook the network
 * installs and arrive through knit_sim_host_deliver(). Node events go to
 * the embedder's hook, as they would to the daemon.
 *
 * Sockets: handle 0 is the host's main socket, at cfg.addr. Like the real
 * driver (transport/uv_driver.c), the host opens extra UDP sockets when
 * the node asks (io.open_socket) or the embedder does
 * (knit_sim_host_open_socket): handles 1..KNIT_SIM_HOST_MAX_SOCKETS, all
 * at the host's one IP, each on a port of its own. Port 0 means any free
 * port: one drawn from the ephemeral range 32768..60999 by a generator
 * seeded from the host's seed and boot (its own stream, so opening
 * sockets does not shift the node's randomness), then the next ones up,
 * wrapping, until one is free on the host and at the network. A datagram
 * the node sends on a socket goes to the send hook with that socket's
 * address as src; one arriving at it is handed to the node with its handle
 * (knit_sim_host_deliver_on). The network (sim/net.h) installs bind and
 * unbind hooks that give each extra socket an address of its own there,
 * behind the host's NAT box if it has one. A new socket takes the lowest
 * free handle, and a closed one's handle is free again at once. The
 * socket table costs nothing until the first extra socket opens; it then
 * grows by doubling and shrinks back once the high handles close, so a
 * host that opened hundreds for a hole punch does not keep paying for
 * them (the simulator runs up to 100 000 hosts). */
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
/* Claims addr (the host's IP, the socket's port) for socket sock of host
 * at the network: 0, or KNIT_E_ADDR_IN_USE when something else holds it,
 * or another negative code (the socket is then not opened). */
typedef int (*knit_sim_bind_fn)(void *ctx, struct knit_sim_host *host,
                                int sock, const struct knit_addr *addr);
/* Gives addr back when socket sock closes. Not called while the host is
 * being freed: whoever frees it forgets its sockets itself. */
typedef void (*knit_sim_unbind_fn)(void *ctx, struct knit_sim_host *host,
                                   int sock, const struct knit_addr *addr);
/* Sees a datagram the host hands its node, with the handle of the socket
 * it arrived at (0: the main one). */
typedef void (*knit_sim_host_tap_fn)(void *ctx, struct knit_sim_host *host,
                                     int sock, const struct knit_addr *src,
                                     const uint8_t *pkt, size_t len);

/* Extra sockets a host can have open at once, besides its main one: as
 * many as the node listens on itself (KNIT_NODE_MAX_SOCKETS, 8: the
 * alternate port, the AutoNAT dial-back socket...), plus the 256 that the
 * hard side of a birthday hole punch across an endpoint-dependent NAT
 * opens for a few seconds, plus 16 to spare so a punch under way does not
 * starve the node's other opens. Like the real driver's
 * KNIT_UV_MAX_SOCKETS, which leaves room beyond this. */
#define KNIT_SIM_HOST_MAX_SOCKETS (8 + 256 + 16)
/* Where a port-0 socket's port is drawn from (Linux's default range). */
#define KNIT_SIM_EPHEMERAL_MIN 32768
#define KNIT_SIM_EPHEMERAL_MAX 60999

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
    /* Ed25519-to-X25519 conversions shared by all the run's nodes
     * (proto/key_cache.h; NULL: each node converts every key itself). The
     * conversion is a function of a public key, so sharing it changes
     * nothing a node sends or accepts. */
    struct knit_key_cache *key_cache;
    /* Record envelopes whose signature verified, shared by all the run's
     * nodes (proto/record_cache.h; NULL: the node keeps its own 4 KiB
     * one). A verdict is a function of the envelope's bytes alone, so
     * sharing it changes nothing a node sends or accepts: each distinct
     * signature is still verified, once per run rather than once per
     * node that is given it. */
    struct knit_record_cache *record_cache;
    /* Sign a record with addr and publish it (knit_node_set_addresses). */
    bool advertise;
    knit_sim_send_fn send;
    knit_sim_event_fn event;
    /* Optional (NULL: the host keeps its extra sockets to itself, and
     * whoever delivers to it picks the handle). */
    knit_sim_bind_fn bind;
    knit_sim_unbind_fn unbind;
    void *ctx;                      /* of send, event, bind and unbind */
};

int knit_sim_host_new(struct knit_sim_host **out, struct knit_sim_engine *e,
                      const struct knit_sim_host_config *cfg);
void knit_sim_host_free(struct knit_sim_host *h);

struct knit_node *knit_sim_host_node(struct knit_sim_host *h);
const struct knit_addr *knit_sim_host_addr(const struct knit_sim_host *h);
const struct knit_peer_id *knit_sim_host_id(const struct knit_sim_host *h);
/* A datagram from src arrives at the host's main socket now. */
void knit_sim_host_deliver(struct knit_sim_host *h,
                           const struct knit_addr *src, const uint8_t *pkt,
                           size_t len);
/* The same at socket sock; a datagram for a socket that is not open is
 * dropped (the network does not deliver to closed sockets in the first
 * place: it blackholes what was in flight to one). */
void knit_sim_host_deliver_on(struct knit_sim_host *h, int sock,
                              const struct knit_addr *src, const uint8_t *pkt,
                              size_t len);

/* Opens an extra socket on port (0: any free port, see above) and tells
 * the node about it (knit_node_add_socket), so it is one the node listens
 * on; *sock gets its handle. Returns 0, KNIT_E_INVAL (NULL argument),
 * KNIT_E_ADDR_IN_USE (port taken on the host or at the network, or no
 * free ephemeral port), KNIT_E_LIMIT (KNIT_SIM_HOST_MAX_SOCKETS open), what
 * the bind hook returns, or what knit_node_add_socket returns (the node
 * listens on at most KNIT_NODE_MAX_SOCKETS; the socket is then closed
 * again). */
int knit_sim_host_open_socket(struct knit_sim_host *h, uint16_t port,
                              int *sock);
/* Closes an extra socket, as io.close_socket does; what was in flight to
 * it is lost. No-op for handle 0 or one not open. The node core has no
 * call to forget a socket, so one it was told about stays in its list:
 * its sends there then fail (lost packets). */
void knit_sim_host_close_socket(struct knit_sim_host *h, int sock);
/* Sends one datagram from socket sock (0: the main one), as an
 * application writing to that socket would, beside the node: a test's or
 * an embedder's own traffic (opening a NAT mapping, say). Returns 0 or
 * KNIT_E_INVAL (NULL argument, socket not open). */
int knit_sim_host_send(struct knit_sim_host *h, int sock,
                       const struct knit_addr *to, const uint8_t *pkt,
                       size_t len);
/* The address of socket sock (0: the main one, cfg.addr). Returns 0,
 * KNIT_E_INVAL (NULL argument) or KNIT_E_NOT_FOUND (not open). */
int knit_sim_host_socket_addr(const struct knit_sim_host *h, int sock,
                              struct knit_addr *out);
/* The lowest open extra socket's handle above after (0 to start), or 0
 * when there is none: walks a host's extra sockets in handle order,
 * touching only the table the host has. */
int knit_sim_host_next_socket(const struct knit_sim_host *h, int after);
/* The io the host gave its node. Its open_socket, close_socket and send
 * act as the node's own calls do: a socket opened through it is the
 * host's, not added to the node's listening list (knit_sim_host_open_socket
 * does that). For tests and embedders that stand in for the node, such as
 * a hole punch opening hundreds of sockets. */
void knit_sim_host_io(struct knit_sim_host *h, struct knit_io *out);
/* Watches every datagram the host hands its node (NULL tap: none). It
 * only looks: for tests and traces that need the socket handle, which the
 * network's tap does not see. */
void knit_sim_host_set_tap(struct knit_sim_host *h, knit_sim_host_tap_fn tap,
                           void *ctx);
/* Re-arms the node's timer; call after calling into the node directly. */
void knit_sim_host_rearm(struct knit_sim_host *h);

#endif
