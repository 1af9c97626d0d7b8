/* What sim/metrics.c, sim/metrics_write.c, sim/metrics_json.c and
 * sim/plot.c share: the metrics object, the CSV headers, and the integer
 * arithmetic every figure is computed with (so output never depends on how
 * a machine rounds floating point). Not for other modules. */
#ifndef KNIT_SIM_METRICS_INTERNAL_H
#define KNIT_SIM_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/metrics.h"

/* Class names: 1..31 printable ASCII characters, unique (the scenario's NAT
 * type names are [A-Za-z0-9_-], at most 31). */
#define KNIT_SIM_CLASS_NAME_MAX 32

/* A lookup CDF over more successful lookups than this is written as
 * KNIT_SIM_CDF_QUANTILES evenly spaced quantiles instead of one row per
 * distinct latency, so the file stays small. */
#define KNIT_SIM_CDF_EXACT_MAX 2000
#define KNIT_SIM_CDF_QUANTILES 1000

/* The first line of each CSV file (knit-sim plot checks them). */
#define KNIT_SIM_CSV_LOOKUPS "at_ms,latency_ms,ok,hops,queries,target_class"
#define KNIT_SIM_CSV_LATENCY_CDF "latency_ms,fraction"
#define KNIT_SIM_CSV_HOPS "hops,count"
#define KNIT_SIM_CSV_CONNECTS \
    "at_ms,dialer_class,target_class,outcome,fail,first_byte_ms,direct_ms"
#define KNIT_SIM_CSV_NAT_MATRIX                                            \
    "dialer_index,target_index,dialer,target,attempts,direct,relayed,"     \
    "failed,connected_share,first_byte_ms_p50,direct_ms_p50"
#define KNIT_SIM_CSV_NODES                                                 \
    "index,class,bootstrap,joins,online_ms,tx_packets,tx_bytes,"           \
    "rx_packets,rx_bytes,handshakes,table_size,relay_circuits,relay_bytes"
#define KNIT_SIM_CSV_RELAYS "rank,index,class,circuits,bytes"

struct knit_sim_metrics {
    char class_name[KNIT_SIM_MAX_CLASSES][KNIT_SIM_CLASS_NAME_MAX];
    size_t classes;
    struct knit_sim_lookup_sample *lookup;
    size_t lookups, lookup_cap;
    struct knit_sim_connect_sample *connect;
    size_t connects, connect_cap;
    struct knit_sim_node_sample *node;
    size_t nodes, node_cap;
    struct knit_sim_run_info run;
};

/* Makes room for one more item in *items (len used of *cap, each size
 * bytes), doubling the capacity. Returns 0 or KNIT_E_NOMEM, also when the
 * new size would overflow size_t (nothing is allocated then). */
int knit_sim_grow(void **items, size_t *cap, size_t len, size_t size);

/* The 0-based index of the nearest-rank percentile num/den (0 < num <= den)
 * in n > 0 sorted values: rank ceil(n * num / den), at least 1. Exact for
 * den <= 10^6 and any n. */
size_t knit_sim_rank_index(size_t n, uint64_t num, uint64_t den);

/* round(a * scale / b) for a <= b, b > 0, scale <= 10^6, half up. Exact
 * while b <= UINT64_MAX / 10^6; beyond that (never with samples that fit in
 * memory) both are shifted down first. */
uint64_t knit_sim_round_ratio(uint64_t a, uint64_t b, uint64_t scale);

/* Rounded mean of running values: add each value, then read the mean. Kept
 * as a quotient and a remainder by n, so no sum can overflow. */
struct knit_sim_mean {
    uint64_t n, q, r;
};
void knit_sim_mean_init(struct knit_sim_mean *a, uint64_t n);
void knit_sim_mean_add(struct knit_sim_mean *a, uint64_t v);
uint64_t knit_sim_mean_get(const struct knit_sim_mean *a);

/* qsort comparator for uint64_t, ascending. */
int knit_sim_cmp_u64(const void *a, const void *b);

/* The successful lookups' latencies (or hops), sorted ascending, in a new
 * array the caller frees; *n is how many. Returns 0 or KNIT_E_NOMEM (none
 * is not an error: *out is NULL and *n 0). */
int knit_sim_sorted_ok_latencies(const struct knit_sim_metrics *m,
                                 uint64_t **out, size_t *n);
int knit_sim_sorted_ok_hops(const struct knit_sim_metrics *m, uint64_t **out,
                            size_t *n);

/* Writes us as milliseconds with exactly three decimals ("12.345"), or
 * none (nothing, "null", ...) when us is KNIT_SIM_NO_TIME. */
void knit_sim_put_ms(FILE *f, uint64_t us, const char *none);
/* Writes v / 10^6 with exactly six decimals ("0.750000"). */
void knit_sim_put_micro(FILE *f, uint64_t v);

/* One (dialer class, target class) cell of the NAT matrix. The medians are
 * nearest rank over the attempts that have that time, KNIT_SIM_NO_TIME when
 * none has. */
struct knit_sim_cell {
    uint64_t attempts, direct, relayed, failed;
    uint64_t first_byte_p50_us, direct_p50_us;
};
#define KNIT_SIM_CELLS (KNIT_SIM_MAX_CLASSES * KNIT_SIM_MAX_CLASSES)
/* Fills cell[dialer * classes + target] for every pair of m's classes.
 * Returns 0 or KNIT_E_NOMEM. */
int knit_sim_matrix(const struct knit_sim_metrics *m,
                    struct knit_sim_cell cell[KNIT_SIM_CELLS]);

/* The node samples that relayed at least one circuit, busiest first: most
 * bytes, then most circuits, then lowest node index, then the order they
 * were reported (relays.csv, summary.json's relays). A new array of
 * pointers into m the caller frees; *n is how many. Returns 0 or
 * KNIT_E_NOMEM (none is not an error: *out is NULL and *n 0). */
int knit_sim_relay_nodes(const struct knit_sim_metrics *m,
                         const struct knit_sim_node_sample ***out, size_t *n);

/* summary.json (sim/metrics_json.c). Returns 0 or KNIT_E_NOMEM; write
 * errors are left in f for the caller to find. */
int knit_sim_write_summary(const struct knit_sim_metrics *m, FILE *f);

#endif
