/* Reaching a peer by its ID from the daemon (daemon side: libuv timer).
 *
 * A caller asks for a session with a peer and is told once, later, whether
 * it came up or why not. When the session is up already the answer comes
 * at once (from inside the call). Otherwise the peer's signed record is
 * looked up in the DHT and dialled (every direct address and up to two of
 * its relays, knit_node_connect_record); a failed lookup or dial is
 * retried (every 2 s) until the caller's deadline. Several callers may wait
 * for one peer; they share one lookup. Bounded: at most
 * KNIT_DAEMON_REACH_MAX waits at once. Owned by node/daemon.c, which feeds
 * it the node's events. */
#ifndef KNIT_DAEMON_REACH_H
#define KNIT_DAEMON_REACH_H

#include <stdint.h>

#include <uv.h>

#include "event.h"
#include "node.h"
#include "transport/uv_driver.h"

#define KNIT_DAEMON_REACH_MAX 256
/* The longest reason a failed reach reports (NUL included). */
#define KNIT_DAEMON_REACH_REASON_MAX 160

struct knit_daemon_reach;

/* Called exactly once per knit_daemon_reach_peer that returned KNIT_OK:
 * err 0, the session with peer is up; otherwise a negative KNIT_E_* code
 * (KNIT_E_TIMEOUT at the deadline, KNIT_E_CANCELED when the
 * daemon stops) and a one-line reason. */
typedef void (*knit_daemon_reach_cb)(void *ctx,
                                     const struct knit_peer_id *peer,
                                     int err, const char *reason);

int knit_daemon_reach_new(struct knit_daemon_reach **out, uv_loop_t *loop,
                          struct knit_node *node,
                          struct knit_uv_driver *drv);
/* Answers every wait with KNIT_E_CANCELED and closes the timer; memory is
 * released as the loop runs on. */
void knit_daemon_reach_close(struct knit_daemon_reach *r);

/* Starts reaching peer; cb(ctx, ...) follows once, within timeout_ms.
 * KNIT_E_INVAL for our own ID, KNIT_E_NOMEM when the table is full. */
int knit_daemon_reach_peer(struct knit_daemon_reach *r,
                           const struct knit_peer_id *peer,
                           uint32_t timeout_ms, knit_daemon_reach_cb cb,
                           void *ctx);
/* Drops every wait with this ctx without calling back (its owner goes). */
void knit_daemon_reach_cancel(struct knit_daemon_reach *r, void *ctx);

void knit_daemon_reach_on_event(struct knit_daemon_reach *r,
                                const struct knit_event *ev);

#endif
