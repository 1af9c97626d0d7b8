/* Scenario files: what a simulated run builds and does (docs/simulator.md).
 *
 * A scenario is a text file of lines "key value...", '#' starting a comment,
 * blank lines ignored. It says how many nodes there are, which share is on
 * public addresses and which behind which kind of NAT, the bootstrap set,
 * the latency model, loss, churn and the workload. Every key but "nat" may
 * appear at most once; keys left out keep the defaults of
 * knit_scenario_defaults(). The parser checks every value and the whole
 * (shares summing to one, a bootstrap set the public nodes can fill, ...)
 * and names the line of the first problem. It reads the text only: no
 * file it names, no environment, so the same text gives the same scenario.
 *
 * Durations take a unit: us, ms, s, m or h ("250ms", "10m"). Rates are
 * events per second or per minute of virtual time, network-wide ("20/s",
 * "30/m"). Shares are decimals in [0, 1]. */
#ifndef KNIT_SIM_SCENARIO_H
#define KNIT_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/nat.h"

#define KNIT_SCN_MAX_NATS 16
#define KNIT_SCN_NAME_MAX 32          /* NAT type names, NUL included */
#define KNIT_SCN_MAX_NODES 1000000u
#define KNIT_SCN_MAX_LINE 1024
/* Largest scenario text accepted (a scenario is a page, not a data file). */
#define KNIT_SCN_MAX_TEXT (64u * 1024u)

/* A distribution of durations (churn). */
enum knit_scn_dist_kind {
    KNIT_SCN_DIST_NONE = 0,       /* "off" */
    KNIT_SCN_DIST_FIXED,          /* always scale_us */
    KNIT_SCN_DIST_EXP,            /* exponential with mean scale_us */
    KNIT_SCN_DIST_WEIBULL,        /* Weibull, shape k, scale lambda */
};

struct knit_scn_dist {
    enum knit_scn_dist_kind kind;
    double shape;                 /* Weibull only, > 0 */
    uint64_t scale_us;            /* > 0 unless kind is NONE */
};

/* One kind of NAT the private nodes sit behind:
 *   nat NAME SHARE mapping=eim|adm|apdm filtering=eif|adf|apdf
 *       [ports=preserve|sequential|random] [timeout=DURATION]
 *       [hairpin=on|off] [hosts=N] [cgn=N]
 * hosts: nodes behind one box (a household), default 1.
 * cgn: 0 (default) puts every box on the Internet; N > 0 puts N boxes of
 * this type behind one carrier-grade NAT (endpoint-independent mapping and
 * filtering, random ports, as RFC 6888 asks of a CGN). */
struct knit_scn_nat_type {
    char name[KNIT_SCN_NAME_MAX];  /* [A-Za-z0-9_-]+, unique, not "public" */
    double share;                  /* of the NATed nodes; all sum to 1 */
    uint8_t mapping;               /* KNIT_MAPPING_* (proto/record.h) */
    uint8_t filtering;             /* KNIT_FILTERING_* */
    uint8_t allocation;            /* enum knit_sim_port_allocation */
    uint64_t timeout_us;           /* mapping timeout, default 120 s */
    bool hairpin;                  /* default off */
    uint32_t hosts_per_box;        /* 1..254 */
    uint32_t cgn;                  /* 0 or boxes per carrier-grade NAT */
};

struct knit_scenario {
    /* nodes N: every node of the run, public and NATed (1..1 000 000). */
    uint32_t nodes;
    /* public SHARE: the share on public addresses; the rest are NATed. */
    double public_share;
    /* bootstrap N: the first N public nodes are the bootstrap set every
     * node joins through; they never churn. 1..64 and <= public nodes. */
    uint32_t bootstrap;
    /* seed N: the run's seed (knit-sim run --seed overrides it). */
    uint64_t seed;
    /* join DURATION: nodes start one after another, evenly spread over
     * this time from 0 (bootstrap nodes first, at 0). */
    uint64_t join_us;
    /* warmup DURATION: the workload starts this long after time 0
     * (>= join). duration DURATION: then it runs this long (> 0). */
    uint64_t warmup_us;
    uint64_t duration_us;
    /* latency access MIN MAX: each host's (each NAT box's) access delay,
     * uniform, fixed per host. latency core MIN MAX: one-way delay between
     * two regions, uniform, fixed per region pair; within a region it is
     * MIN. regions N (1..64): each host (each NAT box) is in one of them,
     * drawn from a hash of the seed and its IP. A packet's
     * one-way delay is access(a) + core(region a, region b) + access(b),
     * plus jitter. */
    uint64_t access_min_us, access_max_us;
    uint64_t core_min_us, core_max_us;
    uint32_t regions;
    /* jitter DURATION: the net's drifting jitter (never reorders). */
    uint64_t jitter_us;
    /* loss SHARE: every datagram over the Internet, independently. */
    double loss;
    /* bandwidth RATE QUEUE ("10mbit 64kb"; "off"): each host's uplink rate
     * in bits per second with a drop-tail queue of QUEUE bytes; 0 = none.
     * Rates take kbit, mbit or gbit; sizes b, kb or mb (powers of 1024). */
    uint64_t uplink_bps;
    uint32_t queue_bytes;
    /* nat ...: see struct knit_scn_nat_type; at least one when public < 1. */
    struct knit_scn_nat_type nat[KNIT_SCN_MAX_NATS];
    size_t nat_count;
    /* churn weibull SHAPE SCALE | exp MEAN | fixed DURATION | off: how
     * long a node stays online each time. offline exp MEAN | fixed
     * DURATION | weibull SHAPE SCALE | off: how long it is gone before it
     * comes back with the same identity (default exp 5m; off: it never
     * comes back). Churn starts at the node's join. */
    struct knit_scn_dist lifetime;
    struct knit_scn_dist offline;
    /* lookups RATE: a random online node finds a random other node's
     * record by peer ID. connects RATE: a random online node finds a
     * random other node and opens a session and a stream to it. Either
     * may be 0. At most 100 000 per second each. */
    double lookup_rate;
    double connect_rate;
};

/* The defaults: 100 nodes, all public, bootstrap 1, seed 1, join 30 s,
 * warmup 60 s, duration 5 m, access 1..10 ms, core 5..60 ms, 4 regions,
 * jitter 1 ms, no loss, no bandwidth limit, no NAT types, no churn,
 * offline exp 5 m, lookups 10/s, connects 0. */
void knit_scenario_defaults(struct knit_scenario *s);

/* Parses text (len bytes, need not be NUL-terminated) over the defaults.
 * Returns 0, or KNIT_E_INVAL with err holding one line such as
 * "line 7: public: 1.5 is not a share (0..1)" (or "line 0: ..." for the
 * whole file: too long, NAT shares not summing to 1). err may be NULL. On
 * error *out is unspecified. */
int knit_scenario_parse(const char *text, size_t len, struct knit_scenario *out,
                        char *err, size_t errlen);

/* Reads and parses the file at path; errors are "PATH:LINE: message", or
 * "PATH: <reason>" when it cannot be read (KNIT_E_IO) or is longer than
 * KNIT_SCN_MAX_TEXT (KNIT_E_INVAL). */
int knit_scenario_load(const char *path, struct knit_scenario *out, char *err,
                       size_t errlen);

/* How many of the nodes are public: round(nodes * public_share), at least
 * bootstrap. The rest are split over the NAT types by share, largest
 * remainders first (knit_scenario_nat_counts fills counts[nat_count]). */
uint32_t knit_scenario_public_nodes(const struct knit_scenario *s);
void knit_scenario_nat_counts(const struct knit_scenario *s, uint32_t *counts);

#endif
