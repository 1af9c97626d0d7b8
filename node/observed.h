/* The observed-address book: what other peers tell us our address is, and
 * what that says about the NAT in front of us.
 *
 * Each observation is (local socket, observer endpoint, observed address,
 * time): we sent from socket sock to the observer's IP:port, and the
 * observer saw the packet come from observed (identify's observed field,
 * AutoNAT's OBSERVED answer to a probe of the alternate port). The pair
 * (sock, observer endpoint) names one NAT mapping, so a newer report for it
 * replaces the older one.
 *
 * Bounded: at most max_observations entries (default 64); when full, an
 * expired entry is reused, else the one reported longest ago. One source
 * (an IPv4 address, an IPv6 /64) holds at most KNIT_OBSERVED_MAX_PER_SOURCE
 * entries, its oldest replaced first, so a host with many ports cannot push
 * everybody else out. Observations older than max_age (default 30 min: NAT
 * mappings and addresses change) are ignored and eventually reused.
 *
 * Trust. Our address as seen from outside is whatever a peer claims, so one
 * claim proves nothing: an address is trusted (confidence high) once at
 * least min_observers (default 3) distinct sources report it. Distinct
 * sources, not reports: an IPv6 /64 counts once, since one host gets a
 * whole /64. In a large network one or two liars can then never make us
 * advertise their address, and outvoting them takes a majority of the
 * sources we hear from.
 * A small deployment (an MPyC computation with one public peer, reached on
 * its main and its alternate port) never has 3 sources, yet must learn its
 * address. So while fewer than min_observers sources have reported any
 * address of the same scope (global or not) at all, an address reported by
 * every one of them (at least one) is trusted with confidence low, unless
 * some report contradicts it: an observation on a socket that reported the
 * address, of the same scope, with another IP. Port differences are not a
 * contradiction here; they are the mapping classifier's business (a node
 * must not advertise a port its NAT maps per destination). Scope keeps a
 * LAN peer, which sees our private address, from vetoing the public one.
 *
 * Mapping (RFC 4787), per local socket, from the observations of that
 * socket. Only observers with global IPs are used when there are any (a LAN
 * peer sees us without the NAT). Per observer IP, its reports over several
 * of its ports either agree (the mapping does not depend on the port) or
 * differ (it does); across IPs, the mapped endpoint most IPs report, T,
 * shared by c IPs out of n whose ports agree:
 *   - some observer IP saw different mappings for two of its ports, and no
 *     more IPs (c) agree across IPs than that: address-and-port-dependent,
 *     high (two ports of one IP mapping apart proves it);
 *   - no NAT: T is our local endpoint (local unspecified: T's port is our
 *     local port; a port-preserving NAT looks the same, so pass the
 *     interface address when it is known), held by a majority:
 *     endpoint-independent, nat false; high with 2 or more IPs, else low;
 *   - c >= 2 and a majority (2c > n): endpoint-independent; high when no IP
 *     disagrees or c >= min_observers, else low;
 *   - IPs disagree (no majority) and some IP's ports agree:
 *     address-dependent; high when every IP sees its own mapping, else low;
 *   - IPs disagree and no IP was seen on two ports: endpoint-dependent,
 *     reported as address-and-port-dependent (the harder case) with low
 *     confidence;
 *   - one IP only, two of its ports agree (the one-public-peer case: main
 *     and alternate port): endpoint-independent, low (address-dependent is
 *     not excluded);
 *   - otherwise (one report, say) unknown, confidence 0.
 * nat: T's IP differs from the local IP (local unspecified: T's port
 * differs from the local port); with no T at all, true.
 * sequential: taking the observations in the order their mappings appeared,
 * every step between successive mapped ports is 1..8 (at least one step):
 * the NAT hands out ports in sequence, so the next port can be predicted
 * when hole punching.
 *
 * Sans-IO: time comes in as now (µs). */
#ifndef KNIT_OBSERVED_H
#define KNIT_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_OBSERVED_DEFAULT_MAX 64
#define KNIT_OBSERVED_LIMIT 256             /* max_observations ceiling */
#define KNIT_OBSERVED_DEFAULT_MAX_AGE (UINT64_C(30) * 60 * 1000000)
#define KNIT_OBSERVED_DEFAULT_MIN_OBSERVERS 3
#define KNIT_OBSERVED_MAX_PER_SOURCE 4
/* Steps between successive mapped ports that count as sequential. */
#define KNIT_OBSERVED_SEQUENTIAL_MAX_STEP 8

enum knit_observed_confidence {
    KNIT_CONFIDENCE_NONE = 0,
    KNIT_CONFIDENCE_LOW = 1,
    KNIT_CONFIDENCE_HIGH = 2,
};

/* Zero fields take the defaults. */
struct knit_observed_config {
    uint32_t max_observations;   /* 1..KNIT_OBSERVED_LIMIT */
    uint64_t max_age;            /* µs */
    uint32_t min_observers;
};

struct knit_observed_entry {
    struct knit_addr addr;       /* our address as observed */
    uint32_t observers;          /* distinct sources reporting it */
    bool trusted;
    uint8_t confidence;          /* enum knit_observed_confidence */
};

struct knit_mapping_verdict {
    uint8_t mapping;             /* enum knit_nat_mapping (proto/record.h) */
    uint8_t confidence;          /* enum knit_observed_confidence */
    bool nat;                    /* our address is translated */
    bool sequential;             /* mapped ports step regularly */
    uint32_t observers;          /* distinct observer IPs used */
};

struct knit_observed;

/* cfg NULL: all defaults. KNIT_E_INVAL (NULL out, max_observations over
 * KNIT_OBSERVED_LIMIT), KNIT_E_NOMEM. */
int knit_observed_new(struct knit_observed **out,
                      const struct knit_observed_config *cfg);
void knit_observed_free(struct knit_observed *book);

/* Records that observer (the IP:port we sent to from socket sock) saw us at
 * observed. KNIT_E_INVAL for a negative sock or an address that is not an
 * IPv4/IPv6 endpoint with a port, or an unspecified observed IP. */
int knit_observed_add(struct knit_observed *book, int sock,
                      const struct knit_addr *observer,
                      const struct knit_addr *observed, uint64_t now);

/* The distinct observed addresses of the live observations, best first
 * (trusted before untrusted, then higher confidence, more sources, more
 * recent), at most cap of them; returns how many were written. */
size_t knit_observed_list(struct knit_observed *book, uint64_t now,
                          struct knit_observed_entry *out, size_t cap);

/* The observed address of the latest report still live: after a NAT
 * changed its mapping, the one most likely to be right now, however few
 * sources back it. KNIT_E_NOT_FOUND if there is none. */
int knit_observed_latest(const struct knit_observed *book, uint64_t now,
                         struct knit_addr *out);

/* Classifies the mapping of socket sock, bound to local (its address may be
 * unspecified), as the header comment says. A socket without live
 * observations gets unknown with confidence 0. KNIT_E_INVAL for NULL
 * arguments or a local address that is not IPv4/IPv6. */
int knit_observed_mapping(struct knit_observed *book, int sock,
                          const struct knit_addr *local, uint64_t now,
                          struct knit_mapping_verdict *out);

#endif
