/* The simulator's virtual network: many endpoints on one flat address space.
 *
 * The net owns a table of endpoints keyed by address (IPv4 or IPv6 plus
 * port) and carries datagrams between them as engine events. An endpoint is
 * either a host (sim/host.h: a node core the net creates, feeds and frees) or
 * a raw endpoint, a receive callback at an address, for whatever is not a
 * node (tests, and later the public side of NAT boxes). Scenarios (the DHT
 * tests, the full simulator) create the net, add hosts and run the engine.
 *
 * There are no per-pair objects, so thousands of hosts (100 000 later) cost
 * one table slot and one small record each. A datagram is sent as a copy
 * scheduled on the engine; whoever holds its destination address when it
 * arrives gets it. Per datagram, in this order: over KNIT_SIM_NET_MAX_PACKET
 * (or out of memory) it is dropped; to an address nobody holds it is
 * blackholed; it is lost with probability loss; otherwise it arrives after
 * the delay of its pair of IP addresses plus a jitter. A datagram whose
 * destination is gone by the time it arrives is blackholed then.
 * Just after the size check, a datagram from an endpoint with an uplink
 * (below) queues for it, or is queue_dropped when its queue is full; it
 * then meets the other fates from the time it leaves the uplink.
 *
 * Delay: fixed per unordered pair of IP addresses (ports play no part, so
 * every port of a machine, and later every mapping of a NAT, sees the same
 * path), symmetric, drawn from a hash of the two IPs and the seed, uniform
 * in [min_delay_us, max_delay_us]. knit_sim_net_delay() says what it is.
 * A scenario with a delay model of its own (a geography, say) sets
 * delay_fn instead: the pair's delay is then delay_fn(delay_ctx, a, b),
 * called per datagram with both ports zeroed, capped at
 * KNIT_SIM_NET_MAX_DELAY_US; min and max are ignored (but still checked).
 * delay_fn must be a pure function of the two IPs, symmetric and the same
 * at every call, or the promises below on order and determinism break.
 *
 * Uplink: by default an endpoint sends at no cost. knit_sim_net_set_uplink
 * gives a host a serialising link of rate_bps with a drop-tail queue of
 * queue_bytes: each datagram it sends (payload bytes only, no header
 * overhead) leaves at max(now, busy_until), when its first bit goes (so
 * a lone datagram on an idle link is not delayed), and busy_until moves
 * on by ceil(len * 8e6 / rate_bps) microseconds (integer arithmetic, so
 * runs stay exact). A datagram is queue_dropped, and costs the link nothing, if
 * the backlog, floor((busy_until - now) * rate_bps / 8e6) bytes, plus its
 * len would exceed queue_bytes; so one longer than queue_bytes never
 * goes. The path delay (and jitter, taken at the leave time) counts from
 * the leave time; the tap's sent_at stays the time it was handed over. A host on the Internet queues for the Internet; a host
 * behind a box queues for its hop onto the LAN (up to its box or across to
 * a host of the same box, then the box's LAN delay), and what the box
 * forwards on does not queue again. The uplink
 * applies to every datagram counted as the host's tx, those sent with
 * knit_sim_net_send(_from) from its address included. Datagrams from one
 * host leave in send order, even across a change of rate.
 *
 * Jitter: an extra 0..jitter_us that drifts with time rather than being
 * drawn afresh per datagram. For each direction of an IP pair it moves
 * linearly towards a new hashed target every 2 * jitter_us, so it changes by
 * at most half a microsecond per microsecond: a datagram never overtakes one
 * sent earlier between the same two IPs, as on a real path whose queues
 * vary but which does not reorder a flow. Datagrams from one sender to one
 * receiver still bunch together or spread out as the jitter moves.
 *
 * A datagram carries its sender's address as its source.
 *
 * Extra sockets: a host's extra sockets (sim/host.h) are endpoints of their
 * own at the host's IP and their ports, in the host's realm (so behind a
 * box each is mapped apart, as its own private ip:port). What arrives at
 * one goes to the host's node with that socket's handle; what the node
 * sends on one leaves from its address, through the host's uplink. They
 * count among the endpoints; their per-address stats (addr_stats) are
 * their own traffic, and the host's stats take all its sockets' traffic.
 * A closed socket leaves the table at once, so what was in flight to it
 * is blackholed; removing the host closes them all.
 *
 * NAT: an IP-wide endpoint (knit_sim_net_attach_ip) receives every datagram
 * to its IP whose exact ip:port nobody holds; a NAT box (sim/natbox.h)
 * holds its public IP so. A host may sit behind a box, its gateway: the
 * box's private side is a realm of its own, so private addresses may repeat
 * from one box to the next. Such a host's datagrams go up to its box (after
 * the box's LAN delay, never lost) and the box translates them and sends
 * them on, onto the Internet or up into an outer box (carrier-grade NAT,
 * the inner box's public IP being an IP-wide endpoint in the outer box's
 * realm). What a box lets in it sends down into its realm, again after its
 * LAN delay. A host's datagram to a private ip:port that a host of its own
 * realm holds (main address or extra socket) takes the LAN instead: it
 * arrives there after the box's LAN delay, untranslated, and the box never
 * sees it (sim/natbox.h says what that means for boxes behind boxes).
 * These private hops are datagrams like any other in the stats below, but
 * the tap sees only what arrives over the Internet.
 *
 * Determinism: the net draws loss from its own seeded generator, in send
 * order, and delay and jitter from hashes; with the engine's (time, seq)
 * order, the same seed and the same calls give the same deliveries at the
 * same times.
 *
 * Removal is always deferred: a removed endpoint leaves the table at once
 * (its address is free again, nothing more reaches it, its node's sends and
 * events are ignored) and is freed at the engine's next step. So any
 * callback may remove any host, its own included, even from inside that
 * host's event; the same holds for hosts behind a box. The net must be
 * freed before its engine and before every NAT box on it (the boxes then
 * after it, in any order), and not from inside one of its callbacks. */
#ifndef KNIT_SIM_NET_H
#define KNIT_SIM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "sim/engine.h"
#include "sim/host.h"
#include "transport/io.h"

struct knit_sim_net;
struct knit_sim_natbox;

/* Largest datagram the net carries (a UDP payload without jumbograms). */
#define KNIT_SIM_NET_MAX_PACKET 65535
/* Largest jitter_us accepted (one minute). */
#define KNIT_SIM_NET_MAX_JITTER_US 60000000ull
/* What a delay_fn's answer is capped at (one minute). */
#define KNIT_SIM_NET_MAX_DELAY_US 60000000ull

/* A pair's one-way delay in microseconds; a and b have port 0. */
typedef uint64_t (*knit_sim_net_delay_fn)(void *ctx,
                                          const struct knit_addr *a,
                                          const struct knit_addr *b);

struct knit_sim_net_config {
    uint64_t seed;
    uint64_t min_delay_us;   /* one-way delay of an IP pair, fixed per pair */
    uint64_t max_delay_us;   /* >= min_delay_us */
    uint64_t jitter_us;      /* drifting extra delay 0..jitter_us, see above */
    double loss;             /* probability a datagram is lost, 0..1 */
    /* Optional (NULL: the hashed uniform delay): the delay model, above. */
    knit_sim_net_delay_fn delay_fn;
    void *delay_ctx;
};

/* Every datagram sent ends up in exactly one of delivered, lost,
 * blackholed, dropped or queue_dropped, or is still in flight:
 * sent == delivered + lost + blackholed + dropped + queue_dropped
 *         + knit_sim_net_in_flight(). */
struct knit_sim_net_stats {
    uint64_t sent;            /* handed to the net */
    uint64_t delivered;
    uint64_t lost;            /* drawn as lost */
    uint64_t blackholed;      /* nobody at the destination, at send or
                                 arrival time */
    uint64_t dropped;         /* over KNIT_SIM_NET_MAX_PACKET, or no memory */
    uint64_t bytes_sent;
    uint64_t bytes_delivered;
    uint64_t queue_dropped;   /* its sender's uplink queue was full */
    uint64_t lan_delivered;   /* of delivered, from one host behind a box
                                 to another across its LAN (see NAT) */
};

/* Per endpoint, from its attachment on: what it sent (whatever became of
 * it; tx_queue_dropped of those found its uplink queue full) and what was
 * delivered to it. Gone with the endpoint. */
struct knit_sim_net_host_stats {
    uint64_t tx_packets, tx_bytes;
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_queue_dropped;
};

/* A raw endpoint's receive hook; pkt is valid only during the call. */
typedef void (*knit_sim_net_recv_fn)(void *ctx, const struct knit_addr *src,
                                     const struct knit_addr *dst,
                                     const uint8_t *pkt, size_t len);
/* Sees every delivery over the Internet (not the hops inside NAT boxes),
 * just before the receiver does (traces, metrics).
 * Called at the arrival time; sent_at is when the datagram was sent. */
typedef void (*knit_sim_net_tap_fn)(void *ctx, uint64_t sent_at,
                                    const struct knit_addr *src,
                                    const struct knit_addr *dst,
                                    const uint8_t *pkt, size_t len);

/* Returns 0, KNIT_E_INVAL (NULL argument, min_delay_us > max_delay_us,
 * jitter_us over KNIT_SIM_NET_MAX_JITTER_US, loss outside 0..1) or
 * KNIT_E_NOMEM. The net copies cfg. */
int knit_sim_net_new(struct knit_sim_net **out, struct knit_sim_engine *engine,
                     const struct knit_sim_net_config *cfg);
/* Frees every endpoint (hosts included, removed or not) and cancels and
 * frees the datagrams in flight. NULL is a no-op. */
void knit_sim_net_free(struct knit_sim_net *net);

/* Creates a host at cfg->addr and attaches it. The net installs its own send,
 * event, bind and unbind hooks (cfg->send, cfg->event, cfg->bind,
 * cfg->unbind and cfg->ctx are ignored) and
 * passes the node's events on to event(event_ctx, host, ev); event may be
 * NULL. Returns 0, KNIT_E_INVAL (NULL argument, address neither IPv4 nor
 * IPv6), KNIT_E_EXISTS (address taken), KNIT_E_NOMEM or what
 * knit_sim_host_new() returns. */
int knit_sim_net_add_host(struct knit_sim_net *net,
                          const struct knit_sim_host_config *cfg,
                          knit_sim_event_fn event, void *event_ctx,
                          struct knit_sim_host **out);
/* The same behind gateway, a box on this net (NULL: on the Internet, as
 * knit_sim_net_add_host): cfg->addr is then the host's private address,
 * unique within that box's realm only, and every datagram it sends goes
 * to the box. KNIT_E_INVAL also for a box of another net. */
int knit_sim_net_add_host_behind(struct knit_sim_net *net,
                                 const struct knit_sim_host_config *cfg,
                                 struct knit_sim_natbox *gateway,
                                 knit_sim_event_fn event, void *event_ctx,
                                 struct knit_sim_host **out);
/* Detaches host, on the Internet or behind a box, (see removal above) and frees it at the next step. The
 * caller must not call into it afterwards; datagrams already sent from it
 * still arrive. No-op for NULL, a host of another net, or one removed
 * earlier in this step (before that, it is still allocated). */
void knit_sim_net_remove_host(struct knit_sim_net *net,
                              struct knit_sim_host *host);

/* Attaches a raw endpoint at addr. Returns 0, KNIT_E_INVAL (NULL argument
 * or recv, bad family), KNIT_E_EXISTS or KNIT_E_NOMEM. */
int knit_sim_net_attach(struct knit_sim_net *net, const struct knit_addr *addr,
                        knit_sim_net_recv_fn recv, void *ctx);
/* Attaches an IP-wide endpoint at ip (its port is ignored): it receives
 * every datagram to that IP whose exact ip:port has no endpoint. One per IP;
 * it does not stop exact endpoints from attaching at that IP. Errors as
 * knit_sim_net_attach. */
int knit_sim_net_attach_ip(struct knit_sim_net *net,
                           const struct knit_addr *ip,
                           knit_sim_net_recv_fn recv, void *ctx);
/* The same inside gateway's realm (NULL: the Internet); for a box nested in
 * another. Detached only by freeing the net. */
int knit_sim_net_attach_ip_behind(struct knit_sim_net *net,
                                  struct knit_sim_natbox *gateway,
                                  const struct knit_addr *ip,
                                  knit_sim_net_recv_fn recv, void *ctx);
/* Detaches whatever endpoint on the Internet holds addr, host or raw (a host
 * is freed at the next step, as by knit_sim_net_remove_host). With port 0:
 * the exact endpoint at ip:0 if any, else the IP-wide one of that IP (so
 * an IP-wide endpoint is detached by its IP with port 0). KNIT_E_NOT_FOUND
 * if none. */
int knit_sim_net_detach(struct knit_sim_net *net,
                        const struct knit_addr *addr);
/* Sends a datagram from src, attached or not (a raw endpoint's sends, or a
 * forged source); counted like a host's. pkt may be NULL when len is 0. */
void knit_sim_net_send(struct knit_sim_net *net, const struct knit_addr *src,
                       const struct knit_addr *dst, const uint8_t *pkt,
                       size_t len);

/* From inside gateway's realm (NULL: knit_sim_net_send): a datagram from
 * src there, going out; it reaches the gateway after its LAN delay, even
 * when dst is a host of that realm (only hosts' own sends take the LAN). A
 * NAT box sends what it forwarded out so into its outer box. */
void knit_sim_net_send_from(struct knit_sim_net *net,
                            struct knit_sim_natbox *gateway,
                            const struct knit_addr *src,
                            const struct knit_addr *dst, const uint8_t *pkt,
                            size_t len);
/* Into gateway's realm: a datagram the box lets in (or hairpins) reaches
 * whatever holds dst there after the box's LAN delay, or is blackholed.
 * No-op for a NULL argument. */
void knit_sim_net_send_inside(struct knit_sim_net *net,
                              struct knit_sim_natbox *gateway,
                              const struct knit_addr *src,
                              const struct knit_addr *dst, const uint8_t *pkt,
                              size_t len);

/* Gives host (on the Internet or behind a box) an uplink of rate_bps bits
 * per second with a drop-tail queue of queue_bytes, see above; rate_bps 0
 * (the default) takes the limit off. A datagram already queued keeps its
 * leave time, and a later one never leaves before it. Returns 0,
 * KNIT_E_INVAL (NULL argument) or KNIT_E_NOT_FOUND (host not attached to
 * this net). */
int knit_sim_net_set_uplink(struct knit_sim_net *net,
                            const struct knit_sim_host *host,
                            uint64_t rate_bps, uint32_t queue_bytes);

/* The host attached at addr on the Internet, at its main address or one of
 * its extra sockets, or NULL (none, a raw endpoint; hosts behind boxes are
 * not found by address). */
struct knit_sim_host *knit_sim_net_find_host(const struct knit_sim_net *net,
                                             const struct knit_addr *addr);
/* Endpoints attached, hosts and raw, on the Internet or behind boxes. */
size_t knit_sim_net_count(const struct knit_sim_net *net);
/* NULL tap turns it off. */
void knit_sim_net_set_tap(struct knit_sim_net *net, knit_sim_net_tap_fn tap,
                          void *ctx);

/* The fixed one-way delay between the IPs of a and b, jitter and uplink
 * excluded (delay_fn's answer, capped, when there is one). */
uint64_t knit_sim_net_delay(const struct knit_sim_net *net,
                            const struct knit_addr *a,
                            const struct knit_addr *b);
void knit_sim_net_get_stats(const struct knit_sim_net *net,
                            struct knit_sim_net_stats *out);
/* KNIT_E_NOT_FOUND if host is not attached to this net. A removed host
 * may already be freed: ask by address (below) once it is gone. */
int knit_sim_net_host_stats(const struct knit_sim_net *net,
                            const struct knit_sim_host *host,
                            struct knit_sim_net_host_stats *out);
/* The same for whatever endpoint on the Internet holds addr (port 0: as
 * knit_sim_net_detach). */
int knit_sim_net_addr_stats(const struct knit_sim_net *net,
                            const struct knit_addr *addr,
                            struct knit_sim_net_host_stats *out);
/* Datagrams scheduled and not yet arrived. */
size_t knit_sim_net_in_flight(const struct knit_sim_net *net);

#endif
