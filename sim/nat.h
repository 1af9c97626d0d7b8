/* The simulator's NAT box (RFC 4787 behaviours), as a pure state machine.
 *
 * A NAT owns its translation table and nothing else: no engine, no net, no
 * clock. Whoever routes datagrams (the virtual network, later; the tests by
 * hand now) asks it what to do with each one, passing the virtual time, and
 * carries the datagram on as told. The NAT translates IPv4 to IPv4 (NAT44).
 *
 * Mapping behaviour (RFC 4787 section 4.1) decides when an outbound datagram
 * from private endpoint X:x to remote Y:y reuses a mapping:
 *   endpoint-independent (EIM): one public port per X:x, whatever Y:y;
 *   address-dependent (ADM): one per (X:x, Y);
 *   address-and-port-dependent (APDM): one per (X:x, Y:y).
 * Each mapping holds its own public port: no port serves two mappings at
 * once (an EIM mapping being a single mapping shared by every destination).
 *
 * Port assignment (section 4.2.1), within [port_min, port_max]:
 *   preserving: x itself when free (and in range), else the next free port
 *     above it, wrapping within the range;
 *   sequential: the next free port after the one last assigned, wrapping
 *     (the first is port_min);
 *   random: uniform over the free ports, from the NAT's own generator
 *     (sim/rng.h) seeded with seed, so a seed fixes the ports.
 * When the range or max_mappings is used up a new mapping cannot be made and
 * the datagram is dropped (dropped_no_port) until some mapping expires.
 *
 * Filtering behaviour (section 5), for an inbound datagram from Z:z to the
 * public port of a live mapping of X:x:
 *   endpoint-independent (EIF): admitted;
 *   address-dependent (ADF): admitted if X:x sent to Z (any port) through
 *     this mapping within the last mapping_timeout_us;
 *   address-and-port-dependent (APDF): admitted if it sent to Z:z so.
 * The remotes a mapping sent to are remembered at the filter's granularity
 * (nothing under EIF, IPs under ADF, IP and port under APDF), at most
 * KNIT_SIM_NAT_MAX_REMOTES per mapping: past that the one sent to longest
 * ago is forgotten, and its datagrams are then filtered.
 *
 * Timeouts (section 4.3): a mapping expires mapping_timeout_us after it was
 * last refreshed. Outbound datagrams through it refresh it (REQ-6); inbound
 * ones do too only with refresh_on_inbound. Expiry is checked on every call
 * that passes now (an expired mapping is gone for that datagram already);
 * knit_sim_nat_expire() reclaims without traffic and
 * knit_sim_nat_next_expiry() says when to call it next. Time never goes
 * backwards: a now earlier than one already seen counts as that one.
 *
 * Hairpinning (section 6): an outbound datagram to public_ip:p of this NAT
 * has its source translated as any other (creating or refreshing its
 * mapping), then, with hairpin on, is treated as an inbound datagram from
 * that translated source to p (same filtering, same counters) and handed
 * to the private endpoint behind p. With hairpin off it is dropped
 * untranslated (hairpin_refused), leaving no mapping behind.
 *
 * Carrier-grade NAT is composition: an outer NAT whose private side holds
 * the public addresses of inner NATs.
 *
 * Cost: lookups are O(1) on average (hash tables by private key and by
 * public port, at most half full, shrinking as mappings go); memory is
 * proportional to live mappings and the remotes they remember. */
#ifndef KNIT_SIM_NAT_H
#define KNIT_SIM_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

struct knit_sim_nat;

/* Remotes remembered per mapping for filtering; see above. */
#define KNIT_SIM_NAT_MAX_REMOTES 64

enum knit_sim_port_allocation {
    KNIT_SIM_PORT_PRESERVING = 0,
    KNIT_SIM_PORT_SEQUENTIAL = 1,
    KNIT_SIM_PORT_RANDOM = 2,
};

struct knit_sim_nat_config {
    struct knit_addr public_ip;     /* IPv4; the port is ignored */
    uint8_t mapping;                /* KNIT_MAPPING_* of proto/record.h */
    uint8_t filtering;              /* KNIT_FILTERING_* of proto/record.h */
    uint8_t allocation;             /* enum knit_sim_port_allocation */
    uint16_t port_min, port_max;    /* 0, 0 = 1024..65535 */
    uint64_t mapping_timeout_us;    /* 0 = 120 s */
    bool refresh_on_inbound;
    bool hairpin;
    uint32_t max_mappings;          /* 0 = 65536 */
    uint64_t seed;                  /* random port allocation */
};

enum knit_sim_nat_verdict {
    KNIT_SIM_NAT_FORWARD,
    KNIT_SIM_NAT_HAIRPIN,
    KNIT_SIM_NAT_DROP,
};

/* Every datagram handed to the NAT is counted once: outbound ones in
 * forwarded_out, hairpinned, hairpin_refused or a drop; inbound ones in
 * forwarded_in or a drop. */
struct knit_sim_nat_stats {
    uint64_t mappings_created;
    uint64_t mappings_expired;
    uint64_t live_mappings;
    uint64_t forwarded_out;
    uint64_t forwarded_in;
    uint64_t hairpinned;          /* delivered back inside */
    uint64_t hairpin_refused;     /* hairpin is off */
    uint64_t dropped_no_port;     /* no free port, max_mappings reached, or
                                     no memory for a new mapping */
    uint64_t dropped_no_mapping;  /* no live mapping at the public port */
    uint64_t dropped_filtered;    /* refused by the filtering behaviour */
    uint64_t dropped_invalid;     /* not IPv4, or inbound to another IP */
};

/* Returns 0, KNIT_E_INVAL (NULL argument, public_ip not IPv4, a mapping,
 * filtering or allocation value out of its enum, port_min 0 with port_max
 * nonzero or port_min > port_max) or KNIT_E_NOMEM. The NAT copies cfg. */
int knit_sim_nat_new(struct knit_sim_nat **out,
                     const struct knit_sim_nat_config *cfg);
/* NULL is a no-op. */
void knit_sim_nat_free(struct knit_sim_nat *nat);

/* A datagram from private src to dst leaving through the NAT. FORWARD:
 * send it from *out_src to *out_dst (= *dst). HAIRPIN: deliver it inside,
 * from *out_src to the private endpoint *out_dst. DROP: discard it; the
 * outputs are then unspecified. Every argument is required. */
enum knit_sim_nat_verdict
knit_sim_nat_outbound(struct knit_sim_nat *nat, uint64_t now,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      struct knit_addr *out_src, struct knit_addr *out_dst);
/* A datagram from src arriving at dst, an address of the NAT's public IP.
 * FORWARD: deliver it to the private endpoint *out_dst, source unchanged.
 * Otherwise DROP. Every argument is required. */
enum knit_sim_nat_verdict
knit_sim_nat_inbound(struct knit_sim_nat *nat, uint64_t now,
                     const struct knit_addr *src, const struct knit_addr *dst,
                     struct knit_addr *out_dst);

/* Drops every mapping at once, as a router that reboots or whose
 * connection-tracking table is flushed; returns how many. Later datagrams
 * get fresh mappings (fresh ports unless the allocation preserves them). */
size_t knit_sim_nat_flush(struct knit_sim_nat *nat);
/* Frees the mappings expired at now; returns how many. */
size_t knit_sim_nat_expire(struct knit_sim_nat *nat, uint64_t now);
/* When the oldest mapping held expires unless refreshed, or
 * KNIT_NO_DEADLINE if none is held. A time not after the latest now seen
 * means expired mappings await knit_sim_nat_expire(). */
uint64_t knit_sim_nat_next_expiry(const struct knit_sim_nat *nat);

void knit_sim_nat_get_stats(const struct knit_sim_nat *nat,
                            struct knit_sim_nat_stats *out);

#endif
