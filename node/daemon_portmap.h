/* The daemon's port mapping: runs the gateway client (node/portmap.h) for
 * the node's main IPv4 socket and tells the node what the gateway mapped
 * (knit_node_set_mapped), so that peers get it as a hole-punching
 * candidate. Owned by node/daemon.c; `knit status` reads it.
 *
 * It runs only when asked to (`knit daemon --no-port-mapping` says no) and
 * when some bound socket is a non-loopback IPv4 address: a node on
 * 127.0.0.1 has nothing a gateway could forward to, and tests that run
 * daemons on loopback never talk to a real gateway. */
#ifndef KNIT_DAEMON_PORTMAP_H
#define KNIT_DAEMON_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "event.h"
#include "node.h"
#include "node/portmap.h"
#include "transport/io.h"
#include "transport/uv_driver.h"

/* What `knit status` shows of it. */
struct knit_daemon_portmap_info {
    uint8_t state;                 /* enum knit_control_portmap_state */
    char method[16];               /* "pcp", "nat-pmp", "upnp"; "" if none */
    struct knit_addr external;     /* family 0 when not mapped */
    uint32_t lease_left_s;         /* 0 when not mapped */
    uint32_t next_try_s;           /* waiting: seconds to the next search */
    char error[KNIT_PORTMAP_ERROR_MAX]; /* latest failure; "" if none */
};

struct knit_daemon_portmap;

/* The port to map: the first bound IPv4 socket that is not on loopback
 * (0.0.0.0 counts: it listens on every interface); 0 if there is none. */
uint16_t knit_daemon_portmap_port(const struct knit_addr *bound, size_t n);

/* Starts port mapping for bound's main IPv4 socket when enabled and there
 * is one (knit_daemon_portmap_port); otherwise the result reports "off".
 * Says on stdout which it is. A client that cannot start is reported off
 * with the reason, and the daemon runs on without it. KNIT_E_NOMEM only
 * when even that cannot be recorded (*out NULL: report off). */
int knit_daemon_portmap_start(struct knit_daemon_portmap **out,
                              uv_loop_t *loop, struct knit_node *node,
                              struct knit_uv_driver *drv,
                              const struct knit_addr *bound, size_t n,
                              bool enabled, enum knit_log_level log_level);

/* Stops the client, which deletes the mapping at the gateway, at most
 * KNIT_PORTMAP_STOP_MS later; no call reaches the node after this returns.
 * Memory goes as the loop runs on (keep running it until it returns by
 * itself: a gateway exchange in the thread pool may outlast the stop by
 * up to 2 s, node/portmap.h). NULL is fine. */
void knit_daemon_portmap_close(struct knit_daemon_portmap *dp);

/* A snapshot; dp NULL reports off. */
void knit_daemon_portmap_info(const struct knit_daemon_portmap *dp,
                              struct knit_daemon_portmap_info *out);

#endif
