/* The node's sessions ordered by deadline: a binary min-heap of their
 * cached knit_session_next_deadline(), so the node's own deadline and the
 * sessions due at a timeout are found without asking every session.
 *
 * A DHT server (a bootstrap node above all) holds thousands of sessions,
 * and the driver asks for the node's deadline after every packet: a walk
 * over all of them per packet was the largest cost outside cryptography.
 * Sessions report when their deadline may have moved (the env's touched
 * hook); only those are recomputed, at the next refresh. Each session
 * keeps its heap position in its owner slot. */
#ifndef KNIT_SESSION_TIMERS_H
#define KNIT_SESSION_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/session.h"

struct session_timer {
    uint64_t at;
    struct knit_session *s;
};

struct session_timers {
    struct session_timer *heap;
    size_t count, cap;
    /* touched since the last refresh (a session may appear twice) */
    struct knit_session **stale;
    size_t stale_count, stale_cap;
    bool all_stale;                 /* the list overflowed: recompute all */
};

void session_timers_init(struct session_timers *t);
void session_timers_free(struct session_timers *t);
/* A new session (its deadline is stale from creation). KNIT_E_NOMEM. */
int session_timers_add(struct session_timers *t, struct knit_session *s);
/* Takes s out, before it is freed. */
void session_timers_remove(struct session_timers *t, struct knit_session *s);
/* The touched hook: s's deadline may have moved. Never fails: when the
 * list cannot grow, every session is recomputed at the next refresh. */
void session_timers_touched(struct session_timers *t, struct knit_session *s);
/* Recomputes the touched sessions' deadlines and restores the order. */
void session_timers_refresh(struct session_timers *t);
/* The earliest session deadline (KNIT_NO_DEADLINE if none); refresh first. */
uint64_t session_timers_next(const struct session_timers *t);
/* The sessions whose deadline is at or before now, in out (malloc'd, the
 * caller frees it); refresh first. Returns how many, 0 with *out NULL when
 * none or out of memory (then the caller may fall back to walking all). */
size_t session_timers_due(const struct session_timers *t, uint64_t now,
                          struct knit_session ***out);

#endif
