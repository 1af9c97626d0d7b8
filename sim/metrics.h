/* What a simulated run measured, and the files it writes (docs/simulator.md).
 *
 * The runner (sim/run.c) reports each lookup, each connection attempt and,
 * at the end, each node; this module keeps them and writes them into an
 * output folder as CSV and JSON. Every number written is a function of what
 * was reported, formatted the same way on every machine, so the same seed
 * and scenario give byte-identical files (wall-clock figures never go into
 * them: the runner prints those on stderr).
 *
 * Files written by knit_sim_metrics_write (knit-sim plot reads them):
 *   summary.json           the run, lookups, connections, traffic, relays,
 *                          per class
 *   lookups.csv            one row per lookup
 *   lookup_latency_cdf.csv latency_ms,fraction of the successful lookups
 *   lookup_hops.csv        hops,count
 *   connects.csv           one row per connection attempt
 *   nat_matrix.csv         one row per (dialer class, target class) pair
 *   nodes.csv              one row per node: class, traffic, sessions,
 *                          relay load
 *   relays.csv             one row per node that relayed a circuit,
 *                          busiest first
 * Classes are "public" (index 0) and then the scenario's NAT type names in
 * order (index 1 + i). */
#ifndef KNIT_SIM_METRICS_H
#define KNIT_SIM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No such time: the attempt never got that far. */
#define KNIT_SIM_NO_TIME UINT64_MAX
#define KNIT_SIM_MAX_CLASSES 17      /* public + KNIT_SCN_MAX_NATS */

enum knit_sim_outcome {
    KNIT_SIM_OUTCOME_DIRECT = 0,     /* a session over a direct path */
    KNIT_SIM_OUTCOME_RELAYED = 1,    /* a session through a relay */
    KNIT_SIM_OUTCOME_FAILED = 2,
};

/* Why an attempt failed (KNIT_SIM_FAIL_NONE when it did not). */
enum knit_sim_fail {
    KNIT_SIM_FAIL_NONE = 0,
    KNIT_SIM_FAIL_NOT_FOUND,         /* the lookup found no record */
    KNIT_SIM_FAIL_NO_SESSION,        /* no session within the timeout */
    KNIT_SIM_FAIL_NO_DATA,           /* session up, no echo within it */
    KNIT_SIM_FAIL_WENT_AWAY,         /* dialer or target left (churn) */
};

struct knit_sim_lookup_sample {
    uint64_t at_us;          /* virtual time the lookup started */
    uint64_t latency_us;     /* until it ended, found or not */
    uint32_t queries;
    uint16_t hops;
    bool ok;                 /* the target's record was found */
    uint8_t target_class;
};

struct knit_sim_connect_sample {
    uint64_t at_us;            /* virtual time the attempt started */
    uint8_t dialer_class, target_class;
    uint8_t outcome;           /* enum knit_sim_outcome */
    uint8_t fail;              /* enum knit_sim_fail */
    uint64_t first_byte_us;    /* from at_us to the first echoed byte */
    uint64_t direct_us;        /* from at_us to a direct session */
};

struct knit_sim_node_sample {
    uint32_t index;            /* node number in the scenario, 0.. */
    uint8_t class_index;
    bool bootstrap;
    uint32_t joins;            /* times it came online */
    uint64_t online_us;        /* total virtual time online */
    uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
    uint64_t handshakes;       /* sessions it set up, both directions */
    uint32_t table_size;       /* DHT routing table at the end (0: off) */
    uint64_t relay_circuits;   /* circuits it carried as a relay */
    uint64_t relay_bytes;      /* circuit bytes it copied as a relay */
};

struct knit_sim_run_info {
    uint64_t seed;
    uint32_t nodes, public_nodes;
    uint64_t sim_end_us;        /* virtual time the run ended */
    uint64_t workload_start_us;
    uint64_t events;            /* engine events run */
    uint64_t net_sent, net_delivered, net_lost, net_blackholed;
    uint64_t nat_dropped;       /* all boxes: filtered, no mapping, no port */
};

struct knit_sim_metrics;

/* classes[0..n) are the class names ("public", then the NAT types). At
 * most KNIT_SIM_MAX_CLASSES. Returns 0, KNIT_E_INVAL or KNIT_E_NOMEM. */
int knit_sim_metrics_new(struct knit_sim_metrics **out,
                         const char *const *classes, size_t n);
void knit_sim_metrics_free(struct knit_sim_metrics *m);

/* Each returns 0 or KNIT_E_NOMEM (the sample is then not kept, and the
 * run should stop: its figures would be incomplete). Class indexes out of
 * range are KNIT_E_INVAL. */
int knit_sim_metrics_lookup(struct knit_sim_metrics *m,
                            const struct knit_sim_lookup_sample *s);
int knit_sim_metrics_connect(struct knit_sim_metrics *m,
                             const struct knit_sim_connect_sample *s);
int knit_sim_metrics_node(struct knit_sim_metrics *m,
                          const struct knit_sim_node_sample *s);
void knit_sim_metrics_set_run(struct knit_sim_metrics *m,
                              const struct knit_sim_run_info *info);

/* Percentile p (0..100) of the successful lookups' latency, by nearest
 * rank; KNIT_SIM_NO_TIME when none succeeded. */
uint64_t knit_sim_metrics_lookup_percentile(const struct knit_sim_metrics *m,
                                            double p);
/* Median hops of the successful lookups (0 when none). */
uint32_t knit_sim_metrics_median_hops(const struct knit_sim_metrics *m);
size_t knit_sim_metrics_lookups(const struct knit_sim_metrics *m,
                                size_t *ok);

/* Creates dir if needed (one level) and writes the files listed above.
 * Returns 0 or KNIT_E_IO / KNIT_E_NOMEM with err saying which file and
 * why (err may be NULL). */
int knit_sim_metrics_write(const struct knit_sim_metrics *m, const char *dir,
                           char *err, size_t errlen);

#endif
