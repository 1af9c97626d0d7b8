/* A progress bar for long simulated runs, on a terminal:
 *
 *   [#########-----------]  45%  4m30s/10m00s sim  1.2M ev/s  ETA 1m12s
 *
 * redrawn in place (carriage return) at most every 200 ms of wall-clock
 * time, and ended with a newline by knit_sim_progress_finish. It writes
 * nothing at all when disabled or when the stream is not a terminal, so
 * piped and logged runs stay clean. The wall clock is read here only to
 * pace the redraws and estimate the time left; nothing here reaches the
 * simulation or its metrics. */
#ifndef KNIT_SIM_PROGRESS_H
#define KNIT_SIM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KNIT_SIM_PROGRESS_INTERVAL_NS 200000000ull   /* 200 ms */

struct knit_sim_progress {
    FILE *out;
    bool enabled;             /* as started */
    bool on;                  /* enabled, and out is a terminal (or forced) */
    bool drawn;               /* a line is on screen, not yet ended */
    uint64_t total_us;        /* virtual time the run ends */
    uint64_t interval_ns;     /* least wall time between redraws */
    uint64_t start_ns, last_draw_ns;
    uint64_t sim_us, events;  /* as last updated */
    uint64_t calls, events_at_check;
    size_t last_len;          /* of the line on screen, to blank its tail */
};

/* Starts a bar for a run ending at virtual time total_us. Draws nothing
 * unless enabled and out (which may be NULL when not enabled) is a
 * terminal. */
void knit_sim_progress_start(struct knit_sim_progress *p, FILE *out,
                             uint64_t total_us, bool enabled);
/* For tests: draw even though out is not a terminal, at every update. Has
 * no effect on a bar started disabled. */
void knit_sim_progress_force(struct knit_sim_progress *p);
/* The run reached virtual time sim_now_us after events engine events in
 * all. Cheap enough to call after every event: the wall clock is read only
 * every 8 calls or 4096 events, whichever comes first. */
void knit_sim_progress_update(struct knit_sim_progress *p, uint64_t sim_now_us,
                              uint64_t events);
/* Draws the final line (the virtual time last reached, which is short of
 * the total when a run ends early, and the wall time taken instead of the
 * ETA) and ends it, if anything was drawn. */
void knit_sim_progress_finish(struct knit_sim_progress *p);

/* The line for the given figures, without the leading "\r" (exposed for
 * tests): wall_ns is the wall time since the start, done whether the run
 * finished (shows "took" instead of "ETA"). Returns the length written
 * (truncated to cap - 1 like snprintf). */
size_t knit_sim_progress_format(char *buf, size_t cap, uint64_t sim_us,
                                uint64_t total_us, uint64_t events,
                                uint64_t wall_ns, bool done);

#endif
