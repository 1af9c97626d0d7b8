/* Runs a scenario (sim/scenario.h): builds the virtual Internet, its NAT
 * boxes and the nodes, lets them join, churn and do the workload, and hands
 * back what was measured (sim/metrics.h). docs/simulator.md describes the
 * model; this is the code that `knit-sim run` calls.
 *
 * Everything that happens is drawn from the seed: which node is public and
 * which sits behind which NAT, identities, delays, loss, churn and the
 * workload. The same scenario and seed give the same metrics, byte for
 * byte. Wall-clock figures (run time, events per second) come back in
 * struct knit_sim_run_report and never reach the metrics. */
#ifndef KNIT_SIM_RUN_H
#define KNIT_SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/metrics.h"
#include "sim/scenario.h"

struct knit_sim_run_options {
    /* Draw a progress bar on this stream when it is a terminal (NULL:
     * none). */
    FILE *progress;
    /* Leave out the connection attempts' echo (tests); normally false. */
    bool quiet;
    /* Every node keeps its own caches (its 4 KiB record cache, and no
     * table of converted keys) instead of the run-wide ones: for the test
     * that sharing them changes nothing. Normally false. */
    bool private_caches;
};

/* Wall-clock and size figures of the run, for stderr and benchmarks. */
struct knit_sim_run_report {
    double wall_s;              /* whole run, set-up and teardown included */
    uint64_t events;            /* engine events run */
    uint64_t peak_hosts;        /* most nodes online at once */
    uint64_t handshakes;        /* sessions established, all nodes */
    uint64_t lookups_abandoned; /* their node left before the answer */
    uint64_t connects_abandoned;
};

/* Runs s (already checked by the parser) and fills *metrics (a new object
 * the caller frees). Returns 0, KNIT_E_NOMEM, or another KNIT_E_* code with
 * err saying what failed (err may be NULL). */
int knit_sim_run(const struct knit_scenario *s,
                 const struct knit_sim_run_options *opts,
                 struct knit_sim_metrics **metrics,
                 struct knit_sim_run_report *report, char *err,
                 size_t errlen);

#endif
