/* AutoNAT client verdicts: are we reachable from the Internet, and how does
 * our NAT filter unsolicited packets?
 *
 * Input: one answer per finished dial-back, knit_reach_add(server IP, kind,
 * arrived): whether the DIAL packet the server (kind 1: from another port
 * of its IP) or its helper (kind 2: from another IP) sent reached us before
 * the deadline that follows RESULT = sent. Refused requests are no answer
 * and are not added.
 *
 * Reachability. Only a packet from an IP we never sent to shows that anyone
 * can reach us, so kind-2 answers are the evidence. A small network (one
 * public peer, no helper) has none; there kind-1 answers stand in, and the
 * verdict's confidence is capped at 1: a kind-1 packet also passes an
 * address-dependent filter. Kind 1 stands in only while the kind-2 answers
 * have not settled a verdict.
 * Each kind feeds its own state machine (DESIGN.md §4: >= 3 agreeing
 * answers settle public or private; one failure must not flap it):
 *   - unknown until 3 agreeing answers in a row; from 3 distinct server IPs
 *     once 3 or more distinct servers have answered that kind, else repeated
 *     answers from the few there are (spacing them is the caller's job);
 *   - settling sets confidence 2 (three answers' worth); each agreeing
 *     answer raises it to at most 3, each contrary one lowers it, and a
 *     contrary answer at confidence 0 flips the verdict (libp2p's rule).
 *     The flip is itself a settling (it took at least 3 net contrary
 *     answers), so the new verdict starts at confidence 2 too and a single
 *     answer cannot flip it back;
 *   - with 3 or more distinct servers, a run of answers towards a new
 *     verdict (settling, or against the settled one) counts each server IP
 *     once (the run's last 3 are remembered), so one liar repeating itself
 *     can neither settle nor drag down a verdict; answers agreeing with a
 *     settled verdict always count.
 * Filtering (RFC 4787), over the live history (the last
 * KNIT_REACH_HISTORY answers no older than max_age):
 *   - a kind-2 packet arrived: endpoint-independent;
 *   - else a kind-1 packet arrived and >= 2 kind-2 failed: address-dependent;
 *   - else no packet arrived and >= 2 kind-1 failed:
 *     address-and-port-dependent;
 *   - else unknown.
 *   Confidence high when the answers behind the verdict come from 2 or more
 *   server IPs, low otherwise.
 * Server IPs are told apart as sources: an IPv4 address, an IPv6 /64. */
#ifndef KNIT_REACHABILITY_H
#define KNIT_REACHABILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/io.h"

#define KNIT_REACH_HISTORY 32
#define KNIT_REACH_DEFAULT_MAX_AGE (UINT64_C(60) * 60 * 1000000)  /* 1 h */
#define KNIT_REACH_SETTLE 3           /* agreeing answers that settle */
#define KNIT_REACH_MAX_CONFIDENCE 3

struct knit_reach_verdict {
    uint8_t reachability;          /* enum knit_reachability */
    uint8_t confidence;            /* 0..3 */
    uint8_t filtering;             /* enum knit_nat_filtering */
    uint8_t filtering_confidence;  /* 0 none, 1 low, 2 high */
    uint32_t servers;              /* distinct server IPs in the history */
};

/* Zero fields take the defaults. */
struct knit_reach_config {
    uint64_t max_age;              /* µs, for the filtering history */
};

struct knit_reach;

/* cfg NULL: defaults. KNIT_E_INVAL (NULL out), KNIT_E_NOMEM. */
int knit_reach_new(struct knit_reach **out,
                   const struct knit_reach_config *cfg);
void knit_reach_free(struct knit_reach *r);

/* One dial-back answer. KNIT_E_INVAL for a kind other than 1 or 2 or a
 * server address that is not IPv4/IPv6. */
int knit_reach_add(struct knit_reach *r, const struct knit_addr *server_ip,
                   uint8_t kind, bool arrived, uint64_t now);

/* The current verdict. KNIT_E_INVAL for NULL arguments. */
int knit_reach_get(const struct knit_reach *r, uint64_t now,
                   struct knit_reach_verdict *out);

#endif
