/* Operations the daemon runs for its CLI (daemon side: libuv timers):
 * `knit find`, `knit ping` and `knit bench`. A bare peer ID is looked up
 * in the DHT first. Ping and bench connect to the peer if needed, open
 * a stream to the peer's built-in /knit/ping/1 or /knit/bench/1 service,
 * measure, and answer the waiting control client (node/control.h) as it
 * goes. Owned by node/daemon.c, which feeds it the node's events. */
#ifndef KNIT_DAEMON_OPS_H
#define KNIT_DAEMON_OPS_H

#include <uv.h>

#include "control.h"
#include "event.h"
#include "node.h"
#include "transport/uv_driver.h"

#define KNIT_DAEMON_MAX_OPS 16

struct knit_daemon_ops;

int knit_daemon_ops_new(struct knit_daemon_ops **out, uv_loop_t *loop,
                        struct knit_node *node, struct knit_uv_driver *drv);
/* Fails every pending operation and closes the timer; memory is released
 * as the loop runs on. */
void knit_daemon_ops_close(struct knit_daemon_ops *ops);

/* Start an operation from a decoded request body; errors are returned (and
 * sent to the client by the control server). */
int knit_daemon_ops_ping(struct knit_daemon_ops *ops,
                         struct knit_control_client *client,
                         const uint8_t *body, size_t len);
int knit_daemon_ops_bench(struct knit_daemon_ops *ops,
                          struct knit_control_client *client,
                          const uint8_t *body, size_t len);

/* `knit find`: a DHT lookup of the peer's record. */
int knit_daemon_ops_find(struct knit_daemon_ops *ops,
                         struct knit_control_client *client,
                         const uint8_t *body, size_t len);

void knit_daemon_ops_on_event(struct knit_daemon_ops *ops,
                              const struct knit_event *ev);
void knit_daemon_ops_client_closed(struct knit_daemon_ops *ops,
                                   struct knit_control_client *client);

#endif
