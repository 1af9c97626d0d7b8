/* The daemon's side of `knit mpyc` (daemon side: libuv timer, sockets).
 *
 * A control client asks for a session (KNIT_CTL_MPYC_REQUEST): a name, the
 * ordered party list and its own index. The daemon picks a free loopback
 * port for its own MPyC program's listener and exposes it to the other
 * parties as the service "mpyc/<session>/<index>" (node/forward.h); for
 * every other party j it binds (but does not yet open) a local forward
 * listener to j's service "mpyc/<session>/<j>", reaches j by its peer ID
 * (node/daemon_reach.h) and agrees on the run over /knit/mpyc/1
 * (node/party_msg.h): same session name, same ordered list. When every
 * party agreed, the client gets KNIT_CTL_MPYC_READY with the ports to give
 * MPyC, and MPYC_PARTY progress on the way.
 *
 * MPyC's party i dials every party j > i and retries a refused connection
 * every 0.1 s, but gives up on one that is accepted and then dropped. So a
 * local forward listener for party j opens only once j's daemon said that
 * j's MPyC program listens (a last HELLO with listening set, sent when a
 * bind probe of the own port finds the program's listener).
 *
 * While the run goes on, every other party is asked every
 * KNIT_MPYC_CHECK_MS whether it still runs the session; one that left (or
 * cannot be reached again) ends the session with an error naming it, and
 * `knit mpyc` stops its program, which would otherwise wait forever.
 *
 * Everything a session made goes when its client closes the connection
 * (knit_mpyc_sessions_client_closed), or fails with an error that names
 * the party: not reachable in time, not joining in time, another list.
 * Bounded: KNIT_MPYC_MAX_SESSIONS sessions, one per client, and
 * KNIT_MPYC_MAX_INCOMING incoming HELLO streams at once. Owned by
 * node/daemon.c, which feeds it the node's events. */
#ifndef KNIT_MPYC_SESSION_H
#define KNIT_MPYC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "control.h"
#include "daemon_reach.h"
#include "event.h"
#include "forward.h"
#include "node.h"
#include "transport/uv_driver.h"

#define KNIT_MPYC_MAX_SESSIONS 8
#define KNIT_MPYC_MAX_INCOMING 64
/* How often a party that has no such session yet is asked again, and how
 * often the own port is probed for the MPyC program's listener. */
#define KNIT_MPYC_RETRY_MS 1000
#define KNIT_MPYC_PROBE_MS 100
/* While the run goes on, how often every other party is asked whether it
 * still runs the session: MPyC waits forever for a party that has gone,
 * so the session ends (and `knit mpyc` stops its program) when one left. */
#define KNIT_MPYC_CHECK_MS 2000
/* While the command runs, a party whose daemon has not answered any check
 * for this long is taken as gone (its node died or is cut off: its session
 * would only time out after the idle timeout, 75 s by default). */
#define KNIT_MPYC_SILENT_MS 10000

struct knit_mpyc_sessions;

int knit_mpyc_sessions_new(struct knit_mpyc_sessions **out, uv_loop_t *loop,
                           struct knit_node *node, struct knit_uv_driver *drv,
                           struct knit_daemon_reach *reach,
                           struct knit_forwarder *fwd);
/* Fails every session ("the daemon is shutting down"), cancels its
 * reaches and closes the timer; memory is released as the loop runs on.
 * Call it before closing the reach and the forwarder. */
void knit_mpyc_sessions_close(struct knit_mpyc_sessions *m);

/* A KNIT_CTL_MPYC_REQUEST body from client. Errors are returned (and sent
 * to the client by the control server): KNIT_E_INVAL with the text already
 * sent for a list the daemon will not run (own ID not at the index, a
 * duplicate), KNIT_E_EXISTS for a second session of one client or a
 * session name in use here, KNIT_E_LIMIT when the table is full. */
int knit_mpyc_sessions_request(struct knit_mpyc_sessions *m,
                               struct knit_control_client *client,
                               const uint8_t *body, size_t len);

void knit_mpyc_sessions_on_event(struct knit_mpyc_sessions *m,
                                 const struct knit_event *ev);
/* Tears down the client's session: reaches, streams, forwards. */
void knit_mpyc_sessions_client_closed(struct knit_mpyc_sessions *m,
                                      struct knit_control_client *client);

#endif
