/* A one-way datagram path between two simulated endpoints.
 *
 * The virtual network (and tests of the session and stream layers) sends a
 * packet into a link; the link decides, from its own seeded generator, whether
 * and when it comes out, and schedules the delivery on the engine. It models
 * a bottleneck (an optional rate limit with a bounded drop-tail queue)
 * followed by a wire with propagation delay, jitter, random loss and
 * duplication.
 *
 * Per packet, in this order: a packet that finds the bottleneck queue full
 * is dropped; otherwise it waits its turn and is serialised at rate_bps. Loss
 * is drawn next, so a lost packet has used the bottleneck, as if lost beyond
 * it. A surviving packet then takes delay_us plus a uniform 0..jitter_us.
 * Without reorder, no packet arrives before one sent earlier, so jitter only
 * delays; with reorder, jitter may swap packets. A duplicated packet arrives
 * once more, 1..KNIT_SIM_LINK_DUP_SPREAD_US after its original, without using
 * the bottleneck again and without holding back later packets: the copy may
 * land after packets sent after it, whatever reorder says.
 *
 * A link must be freed before its engine. */
#ifndef KNIT_SIM_LINK_H
#define KNIT_SIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct knit_sim_engine;
struct knit_sim_link;

struct knit_sim_link_config {
    uint64_t delay_us;      /* one-way propagation delay */
    uint64_t jitter_us;     /* uniform extra delay 0..jitter_us per packet */
    double loss;            /* probability a packet is lost, 0..1 */
    double duplicate;       /* probability a packet arrives twice, 0..1 */
    bool reorder;           /* may jitter reorder packets? */
    uint64_t rate_bps;      /* bottleneck in bytes per second, 0 = unlimited */
    uint64_t queue_bytes;   /* bottleneck queue, with the packet on the wire;
                               a packet that finds the link idle always
                               enters. Ignored when rate_bps is 0. */
};

struct knit_sim_link_stats {
    uint64_t sent;          /* packets handed to knit_sim_link_send */
    uint64_t delivered;     /* deliver calls, duplicates included */
    uint64_t lost;          /* drawn as lost */
    uint64_t duplicated;    /* extra copies scheduled */
    uint64_t queue_dropped; /* refused: queue full, too many in flight, over
                               KNIT_SIM_LINK_MAX_PACKET, or out of memory */
};

/* Most packets (copies included) one link holds scheduled and undelivered;
 * this bounds a link's memory whatever its configuration. */
#define KNIT_SIM_LINK_MAX_IN_FLIGHT 65536
/* Largest packet a link carries; no UDP datagram without jumbograms is
 * longer. */
#define KNIT_SIM_LINK_MAX_PACKET 65535
/* A duplicate trails its original by 1..this many microseconds. */
#define KNIT_SIM_LINK_DUP_SPREAD_US 100

typedef void (*knit_sim_deliver_fn)(void *ctx, const uint8_t *pkt,
                                    size_t len);

/* Returns 0, KNIT_E_INVAL (NULL out, engine, config or deliver; loss or
 * duplicate outside 0..1) or KNIT_E_NOMEM. The link copies config. deliver is
 * called from the engine with a buffer valid only during the call; it may
 * send on any link, and may free this one. */
int knit_sim_link_new(struct knit_sim_link **out,
                      struct knit_sim_engine *engine,
                      const struct knit_sim_link_config *config,
                      uint64_t seed, knit_sim_deliver_fn deliver, void *ctx);
/* Cancels and frees the packets still in flight. NULL is a no-op. */
void knit_sim_link_free(struct knit_sim_link *link);

/* Takes a copy of pkt (which may be NULL when len is 0); whatever becomes of
 * it is counted in the stats. */
void knit_sim_link_send(struct knit_sim_link *link, const uint8_t *pkt,
                        size_t len);

void knit_sim_link_get_stats(const struct knit_sim_link *link,
                             struct knit_sim_link_stats *out);
/* Packets scheduled for delivery and not yet delivered. */
size_t knit_sim_link_in_flight(const struct knit_sim_link *link);

#endif
