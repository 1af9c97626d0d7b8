/* The simulator's discrete-event engine: virtual time and a queue of pending
 * callbacks.
 *
 * Everything in a simulated run happens in a callback the engine calls at its
 * virtual time: packet deliveries (sim/link.c), node timers, churn, workload.
 * Events run in order of (time, sequence number), the sequence number being
 * the order in which they were scheduled, so events due at the same time run
 * first-scheduled first and a seed gives the same run byte for byte. Time is
 * in microseconds and never goes backwards. The queue is a 4-ary heap sized
 * for millions of pending events; a cancelled event is dropped lazily when it
 * reaches the top, and the heap is compacted when cancelled entries come to
 * outnumber live ones. */
#ifndef KNIT_SIM_ENGINE_H
#define KNIT_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct knit_sim_engine;

typedef void (*knit_sim_fn)(void *ctx, uint64_t arg);

/* Returns 0, KNIT_E_INVAL (NULL out) or KNIT_E_NOMEM. The clock starts at 0. */
int knit_sim_engine_new(struct knit_sim_engine **out);
/* Pending events are discarded without being called. NULL is a no-op. */
void knit_sim_engine_free(struct knit_sim_engine *e);

uint64_t knit_sim_now(const struct knit_sim_engine *e);

/* Calls fn(ctx, arg) at virtual time at (a time in the past means now; it
 * then runs after the events already due now). Callbacks may schedule and
 * cancel events, including from inside a callback. Returns a nonzero handle
 * for knit_sim_cancel, or 0 if fn is NULL or memory ran out. A handle is not
 * reused until 2^32 more events have been scheduled. */
uint64_t knit_sim_schedule(struct knit_sim_engine *e, uint64_t at,
                           knit_sim_fn fn, void *ctx, uint64_t arg);
/* True if the event was pending and now will not run; false for 0, unknown
 * handles, and events that already ran or were cancelled. */
bool knit_sim_cancel(struct knit_sim_engine *e, uint64_t handle);

/* Advances the clock to the next event and runs it; false if none is left. */
bool knit_sim_step(struct knit_sim_engine *e);
/* Runs the events due at or before until, at most max_events of them, and
 * returns how many ran. When it stops because nothing else is due by until
 * (rather than at max_events), the clock moves on to until, so a run of
 * "the next second" ends one second later even if the network went quiet;
 * until = UINT64_MAX leaves the clock at the last event run. */
uint64_t knit_sim_run_until(struct knit_sim_engine *e, uint64_t until,
                            uint64_t max_events);

/* Events scheduled and neither run nor cancelled. */
size_t knit_sim_pending(const struct knit_sim_engine *e);
/* Time of the next event to run, or UINT64_MAX if none is pending. Not const:
 * it discards cancelled entries it finds on top of the queue. */
uint64_t knit_sim_next_time(struct knit_sim_engine *e);
/* Events run since the engine was created (for events-per-second figures). */
uint64_t knit_sim_events_run(const struct knit_sim_engine *e);

#endif
